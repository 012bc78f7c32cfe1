//! The task history's filters as the dashboard takes them: from a page's query string, from the "retry every dead
//! task" form, and from `/monitor/api/tasks`. Each one that does not parse is refused by name.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::models::keyset::Keyset;
use crate::tasks::TaskState;
use crate::tasks::store::TaskFilter;

/// The filters, as text, exactly as sent: a page shows them back in its form and carries them to the next page.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ListQuery {
    pub state: String,
    pub name: String,
    pub queue: String,
    pub worker: String,
    /// Last activity from (UTC): `2026-11-24T08:00` as a browser's date-time field sends it, or RFC 3339.
    pub since: String,
    /// Last activity before (UTC).
    pub until: String,
    /// Some attempt took at least this many seconds.
    pub min_seconds: String,
    /// The last error contains this text.
    pub error: String,
    #[serde(skip_serializing)]
    pub cursor: String,
}

impl ListQuery {
    /// The filters, parsed.
    pub fn filter(&self) -> AppResult<TaskFilter> {
        let state = match given(&self.state) {
            None => None,
            Some(raw) => Some(raw.parse::<TaskState>().map_err(|_| {
                AppError::invalid(
                    "state",
                    format!("must be one of {}", TaskState::ALL.map(TaskState::as_str).join(", ")),
                )
            })?),
        };
        let min_duration = match given(&self.min_seconds) {
            None => None,
            Some(raw) => Some(
                raw.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
                    .map(|s| TimeDelta::microseconds((s * 1e6).round() as i64))
                    .ok_or_else(|| AppError::invalid("min_seconds", "must be a number of seconds, 0 or more"))?,
            ),
        };
        let since = given(&self.since).map(|raw| time("since", raw)).transpose()?;
        let until = given(&self.until).map(|raw| time("until", raw)).transpose()?;
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            return Err(AppError::invalid("until", "must be after since"));
        }
        Ok(TaskFilter {
            state,
            name: text("name", &self.name)?,
            queue: text("queue", &self.queue)?,
            worker: text("worker", &self.worker)?,
            since,
            until,
            min_duration,
            error: text("error", &self.error)?,
        })
    }

    /// The page after `cursor` (the listing's `next`); `None` for the first page.
    pub fn after(&self) -> AppResult<Option<Keyset>> {
        match given(&self.cursor) {
            None => Ok(None),
            Some(raw) => {
                Keyset::decode(raw).map(Some).ok_or_else(|| AppError::invalid("cursor", "is not a page of this list"))
            }
        }
    }

    /// The filters that are set, as `(name, value)` pairs: the hidden fields of a form that acts on this listing.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("state", &self.state),
            ("name", &self.name),
            ("queue", &self.queue),
            ("worker", &self.worker),
            ("since", &self.since),
            ("until", &self.until),
            ("min_seconds", &self.min_seconds),
            ("error", &self.error),
        ]
        .into_iter()
        .filter_map(|(name, value)| given(value).map(|value| (name, value)))
        .collect()
    }

    /// The query string of this listing, on the page after `cursor` when one is given.
    pub fn query_string(&self, cursor: Option<&str>) -> String {
        let encode = |v: &str| percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string();
        let mut parts: Vec<String> = self.pairs().into_iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        if let Some(cursor) = cursor {
            parts.push(format!("cursor={}", encode(cursor)));
        }
        parts.join("&")
    }

    /// Any filter set beyond the state: the form opens its extra fields.
    pub fn has_more_filters(&self) -> bool {
        self.pairs().iter().any(|(name, _)| !matches!(*name, "state" | "name"))
    }
}

fn given(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|v| !v.is_empty())
}

/// A text filter compared in SQL: PostgreSQL's text cannot hold NUL, so one is refused by name (it was a 500).
fn text(field: &str, raw: &str) -> AppResult<Option<String>> {
    if raw.contains('\0') {
        return Err(AppError::invalid(field, "may not contain a NUL character"));
    }
    Ok(given(raw).map(str::to_string))
}

/// A time in UTC: RFC 3339, or a date and time without an offset (`2026-11-24T08:00[:00]`, a space allowed for
/// the `T`).
fn time(field: &'static str, raw: &str) -> AppResult<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let raw = raw.replacen(' ', "T", 1);
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&raw, format).ok())
        .map(|naive| naive.and_utc())
        .ok_or_else(|| AppError::invalid(field, "must be a date and time in UTC, like 2026-11-24T08:00"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> ListQuery {
        actix_web::web::Query::<ListQuery>::from_query(raw).unwrap().into_inner()
    }

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        let encode = |v: &str| percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string();
        parse(&pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&"))
    }

    #[test]
    fn a_nul_in_a_text_filter_is_refused_by_name() {
        for field in ["name", "queue", "worker", "error"] {
            let refused = query(&[(field, "a\0b")]).filter().unwrap_err();
            assert!(
                matches!(&refused, AppError::Validation(fields) if fields.contains_key(field)),
                "{field}: {refused:?}"
            );
        }
        assert_eq!(query(&[("name", " email.send ")]).filter().unwrap().name.as_deref(), Some("email.send"));
    }

    #[test]
    fn every_filter_parses_and_round_trips() {
        let q = query(&[
            ("state", "dead"),
            ("name", "email.send"),
            ("queue", "tasks"),
            ("worker", "host-1-abc"),
            ("since", "2026-11-24T08:00"),
            ("until", "2026-11-24T09:30:00Z"),
            ("min_seconds", "1.5"),
            ("error", "50% off_"),
        ]);
        let filter = q.filter().unwrap();
        assert_eq!(filter.state, Some(TaskState::Dead));
        assert_eq!(filter.since.unwrap().to_rfc3339(), "2026-11-24T08:00:00+00:00");
        assert_eq!(filter.until.unwrap().to_rfc3339(), "2026-11-24T09:30:00+00:00");
        assert_eq!(filter.min_duration, Some(TimeDelta::milliseconds(1500)));
        assert_eq!(filter.error.as_deref(), Some("50% off_"));
        let again = parse(&q.query_string(Some("abc")));
        assert_eq!(again.pairs(), q.pairs());
        assert_eq!(again.cursor, "abc");
        assert!(q.has_more_filters());
    }

    #[test]
    fn blank_filters_are_no_filters() {
        let filter = query(&[("state", ""), ("name", "  "), ("since", "")]).filter().unwrap();
        assert!(filter.state.is_none() && filter.name.is_none() && filter.since.is_none());
        assert!(!query(&[("state", "dead")]).has_more_filters());
    }

    #[test]
    fn bad_filters_are_refused_by_name() {
        for (field, value) in
            [("state", "finished"), ("since", "yesterday"), ("min_seconds", "-1"), ("min_seconds", "NaN")]
        {
            let err = query(&[(field, value)]).filter().unwrap_err();
            assert!(format!("{err:?}").contains(field), "{field}={value}: {err:?}");
        }
        let err = query(&[("since", "2026-11-24T10:00"), ("until", "2026-11-24T09:00")]).filter().unwrap_err();
        assert!(format!("{err:?}").contains("until"));
        assert!(query(&[("cursor", "not-a-cursor")]).after().is_err());
    }
}
