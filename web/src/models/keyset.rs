//! Keyset (cursor) pagination: a page starts after the last row of the previous one, by the listing's order key
//! (a time, then a UUID to break ties), instead of skipping `OFFSET` rows. With an index in the same order a page
//! costs the same whether it is the first or the thousandth, and however many rows the table holds. Nothing counts
//! the whole listing unless asked to.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound as _, Utc};
use diesel::dsl::sql;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use serde::Serialize;
use uuid::Uuid;

/// The order key of a row: listings go newest first, `(at DESC, id DESC)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyset {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Keyset {
    /// Before every row: the key a first page starts "after", so that every page is the same query. Whole
    /// microseconds, as PostgreSQL keeps them.
    pub fn start() -> Self {
        Self { at: DateTime::<Utc>::MAX_UTC.trunc_subsecs(6), id: Uuid::max() }
    }

    /// The opaque form handed to clients as `next`: URL-safe base64 of `micros.uuid`. PostgreSQL keeps times to the
    /// microsecond, so the key round-trips exactly.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.at.timestamp_micros(), self.id.simple()))
    }

    /// A cursor from [`Keyset::encode`]; `None` for anything else.
    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (micros, id) = text.split_once('.')?;
        Some(Self { at: DateTime::from_timestamp_micros(micros.parse().ok()?)?, id: Uuid::try_parse(id).ok()? })
    }
}

/// One page of a listing.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last one.
    pub next: Option<String>,
    pub per_page: i64,
    /// Rows in the whole listing, only when asked for (it costs a count over all of them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

impl<T> Page<T> {
    /// A page from up to `per_page + 1` rows in listing order: the extra row only says that another page follows.
    pub fn from_rows(mut rows: Vec<T>, per_page: i64, key: impl Fn(&T) -> Keyset) -> Self {
        let limit = usize::try_from(per_page).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(|row| key(row).encode()) } else { None };
        Self { items: rows, next, per_page, total: None }
    }
}

type Literal<T> = diesel::expression::SqlLiteral<Bool, T>;
type Bind<Q, T, ST> = diesel::expression::UncheckedBind<Q, diesel::dsl::AsExprOf<T, ST>>;
/// The expression [`after`] builds: usable in `WHERE` and in a join's `ON`.
pub type After =
    Literal<Bind<Literal<Bind<diesel::expression::SqlLiteral<Bool>, DateTime<Utc>, Timestamptz>>, Uuid, SqlUuid>>;

/// The SQL condition "after `cursor`" for a listing ordered by `(at_column DESC, id_column DESC)`: a row comparison,
/// which PostgreSQL answers with one range scan of an index in that order. The column names are the caller's
/// constants, never input.
pub fn after(at_column: &'static str, id_column: &'static str, cursor: Keyset) -> After {
    sql::<Bool>(&format!("({at_column}, {id_column}) < ("))
        .bind::<Timestamptz, _>(cursor.at)
        .sql(", ")
        .bind::<SqlUuid, _>(cursor.id)
        .sql(")")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let key = Keyset { at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(), id: Uuid::new_v4() };
        assert_eq!(Keyset::decode(&key.encode()), Some(key));
        for junk in ["", "abc", "!!!", &URL_SAFE_NO_PAD.encode("12.not-a-uuid"), &URL_SAFE_NO_PAD.encode("x.y")] {
            assert_eq!(Keyset::decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn start_round_trips_too() {
        assert_eq!(Keyset::decode(&Keyset::start().encode()), Some(Keyset::start()));
    }

    #[test]
    fn the_extra_row_makes_a_next_cursor() {
        let at = Utc::now().trunc_subsecs(6);
        let rows: Vec<Keyset> = (0..3).map(|_| Keyset { at, id: Uuid::new_v4() }).collect();
        let page = Page::from_rows(rows.clone(), 2, |row| *row);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next.as_deref().and_then(Keyset::decode), Some(rows[1]));
        let last = Page::from_rows(rows, 3, |row| *row);
        assert!(last.next.is_none());
    }
}
