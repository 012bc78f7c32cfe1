//! Keyset (cursor) pagination: a page starts after the last row of the previous one, by the listing's order key
//! (a time, then a UUID to break ties), instead of skipping `OFFSET` rows. With an index in the same order a page
//! costs the same whether it is the first or the thousandth, and however many rows the table holds. Nothing counts
//! the whole listing unless asked to.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound as _, Utc};
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use serde::Serialize;
use uuid::Uuid;

/// The order key of a row: listings go newest first, `(at DESC, id DESC)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// `(at, id) < (cursor.at, cursor.id)`: "after `cursor`" for a listing ordered by `(at DESC, id DESC)`. A row
/// comparison, which PostgreSQL answers with one range scan of an index in that order. Written as a typed
/// expression rather than an SQL literal so that the query stays a cached prepared statement (diesel never caches
/// a query holding `sql()`).
#[derive(Debug, Clone, Copy, QueryId)]
pub struct Before<At, Id> {
    at: At,
    id: Id,
    cursor: Keyset,
}

/// [`Before`] for the columns `at` and `id`.
pub fn after<At, Id>(at: At, id: Id, cursor: Keyset) -> Before<At, Id> {
    Before { at, id, cursor }
}

impl<At, Id> Expression for Before<At, Id> {
    type SqlType = Bool;
}

impl<At: QueryFragment<Pg>, Id: QueryFragment<Pg>> QueryFragment<Pg> for Before<At, Id> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("(");
        self.at.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.id.walk_ast(out.reborrow())?;
        out.push_sql(") < (");
        out.push_bind_param::<Timestamptz, _>(&self.cursor.at)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.cursor.id)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<At: AppearsOnTable<QS>, Id: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for Before<At, Id> {}

impl<At: SelectableExpression<QS>, Id: SelectableExpression<QS>, QS> SelectableExpression<QS> for Before<At, Id> {}

impl<At: ValidGrouping<GB>, Id: ValidGrouping<GB>, GB> ValidGrouping<GB> for Before<At, Id> {
    type IsAggregate = At::IsAggregate;
}

/// Appends ` LIMIT n` with `n` written into the SQL as a number rather than bound as a parameter.
///
/// PostgreSQL plans a prepared statement with its values for the first five runs, then keeps one generic plan if
/// that plan's estimate is no dearer. For `LIMIT $n` the generic estimate assumes a tenth of the rows, many times
/// a 20-row page, so a page query with a bound limit is planned anew on every run; planning it cost PostgreSQL three
/// times as much as running it (pg_stat_statements, see bench/README.md). With the number in the text the generic
/// plan wins after five runs and is reused. The statement is then cached by its text, once per page size in use
/// (the size is checked against its maximum before it gets here), so a query using this has no static query id.
pub fn push_limit(out: &mut AstPass<'_, '_, Pg>, limit: i64) {
    out.push_sql(" LIMIT ");
    out.push_sql(&limit.to_string());
}

/// A query with a literal ` LIMIT n` appended (see [`push_limit`]): for keyset pages built with diesel's DSL, in
/// place of `.limit(n)`.
#[derive(Debug, Clone, Copy)]
pub struct Limited<Q> {
    query: Q,
    limit: i64,
}

/// `query` (ordered, without a limit of its own) limited to `limit` rows.
pub fn limited<Q>(query: Q, limit: i64) -> Limited<Q> {
    Limited { query, limit }
}

impl<Q> QueryId for Limited<Q> {
    // Keyed in the statement cache by its text, which holds the limit.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Limited<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Limited<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        push_limit(&mut out, self.limit);
        Ok(())
    }
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
