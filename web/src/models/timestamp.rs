//! Timestamps in JSON exactly as chrono writes them (RFC 3339 in UTC with `Z`, the fraction only as long as it
//! needs: none, 3, 6 or 9 digits), but formatted into a buffer on the stack and handed to the serializer in one
//! piece. chrono's own `Serialize` writes through `collect_str`, one character at a time, each through
//! serde_json's escaping: in the profile of the notes list (40 timestamps a page) that was one of the largest costs
//! of the application. Use it as `#[serde(serialize_with = "crate::models::timestamp::serialize")]`.

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use serde::{Serialize as _, Serializer};

/// The longest form: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const LONGEST: usize = 30;

/// Writes `at` into `buf`; the length written, or `None` for a year outside 0..=9999 (chrono's own form then).
fn format(at: &DateTime<Utc>, buf: &mut [u8; LONGEST]) -> Option<usize> {
    let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
    let (mut seconds, mut nanos) = (at.second(), at.nanosecond());
    if nanos >= 1_000_000_000 {
        // A leap second, as chrono prints it.
        seconds += 1;
        nanos -= 1_000_000_000;
    }
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut value = value;
        for slot in buf[at..at + digits].iter_mut().rev() {
            *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
            value /= 10;
        }
    };
    put(0, year, 4);
    put(5, at.month(), 2);
    put(8, at.day(), 2);
    put(11, at.hour(), 2);
    put(14, at.minute(), 2);
    put(17, seconds, 2);
    let fraction = match nanos {
        0 => 0,
        n if n % 1_000_000 == 0 => {
            put(20, n / 1_000_000, 3);
            3
        }
        n if n % 1_000 == 0 => {
            put(20, n / 1_000, 6);
            6
        }
        n => {
            put(20, n, 9);
            9
        }
    };
    for (index, byte) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        buf[index] = byte;
    }
    let mut end = 19;
    if fraction > 0 {
        buf[19] = b'.';
        end = 20 + fraction;
    }
    buf[end] = b'Z';
    Some(end + 1)
}

/// Serializes `at` as chrono would, in one `serialize_str`.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0; LONGEST];
    match format(at, &mut buf).and_then(|len| std::str::from_utf8(&buf[..len]).ok()) {
        Some(text) => serializer.serialize_str(text),
        None => at.serialize(serializer),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone as _};

    use super::*;

    #[derive(serde::Serialize)]
    struct Ours(#[serde(serialize_with = "serialize")] DateTime<Utc>);

    #[test]
    fn the_text_is_chronos_own() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let mut times = vec![Utc::now(), DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC, DateTime::UNIX_EPOCH];
        for nanos in [0, 1, 999, 1_000, 120_000, 123_456_000, 500_000_000, 999_999_999, 1_000_000_000, 1_999_999_999] {
            let time = day.and_hms_nano_opt(23, 59, 59, nanos).unwrap();
            times.push(Utc.from_utc_datetime(&time));
        }
        for year in [0, 9, 99, 999, 1970, 9999, 10_000, -1] {
            times.push(Utc.with_ymd_and_hms(year, 1, 2, 3, 4, 5).unwrap());
        }
        // A spread of ordinary instants, with every fraction length.
        let mut micros: i64 = 1_764_000_000_123_457;
        for _ in 0..2_000 {
            micros = micros.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1) % 300_000_000_000_000_000;
            times.push(DateTime::from_timestamp_micros(micros.abs()).unwrap());
        }
        for at in times {
            assert_eq!(serde_json::to_string(&Ours(at)).unwrap(), serde_json::to_string(&at).unwrap(), "{at:?}");
        }
    }
}
