//! The example resource: notes owned by a user. Every query takes the owner (or, for reads, the session, checked
//! in the same query), so a handler cannot forget the ownership check: another user's note is simply not found.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::models::keyset::{self, Keyset, Page};
use crate::schema::{notes, sessions};

pub const TITLE_MAX_CHARS: usize = 200;
pub const BODY_MAX_CHARS: usize = 20_000;
/// PostgreSQL's text cannot hold NUL: such input is refused by field (422) instead of failing the write (500).
const NUL: &str = "must not contain NUL characters";

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = notes)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Note {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    #[serde(serialize_with = "super::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "super::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl Note {
    /// The listing's order key.
    pub fn key(&self) -> Keyset {
        Keyset { at: self.created_at, id: self.id }
    }
}

/// A validated title: trimmed, 1 to [`TITLE_MAX_CHARS`] characters.
#[derive(Debug, Clone)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let title = raw.trim();
        if title.is_empty() {
            return Err("must not be empty".into());
        }
        if title.contains('\0') {
            return Err(NUL.into());
        }
        if title.chars().count() > TITLE_MAX_CHARS {
            return Err(format!("must be at most {TITLE_MAX_CHARS} characters"));
        }
        Ok(Self(title.to_string()))
    }
}

/// A validated body: at most [`BODY_MAX_CHARS`] characters, may be empty.
#[derive(Debug, Clone)]
pub struct Body(String);

impl Body {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > BODY_MAX_CHARS {
            return Err(format!("must be at most {BODY_MAX_CHARS} characters"));
        }
        if raw.contains('\0') {
            return Err(NUL.into());
        }
        Ok(Self(raw.to_string()))
    }
}

/// A page of the notes of the session whose token digest is `session`, newest first, starting after `after` (the
/// first page without). The session is checked in the same query, so an authenticated read is one round trip; a
/// session that is unknown, expired or logged out gives `None` at once, whichever replica served the logout.
/// `count` adds the owner's total (a count over all their notes: only when asked).
pub async fn list_in_session(
    conn: &mut AsyncPgConnection,
    session: &[u8],
    after: Option<Keyset>,
    per_page: i64,
    count: bool,
) -> QueryResult<Option<Page<Note>>> {
    let after = keyset::after(notes::created_at, notes::id, after.unwrap_or_else(Keyset::start));
    let query = SessionPage { session, after, limit: per_page + 1 };
    let rows: Vec<PageRow> = query.load(conn).await?;
    // No row at all: no session. A session with no (more) notes gives one row without a note.
    let Some(owner) = rows.as_slice().first().map(|row| row.0) else { return Ok(None) };
    let mut notes: Vec<Note> = rows
        .into_iter()
        .filter_map(|(_, id, title, body, created_at, updated_at)| {
            Some(Note { id: id?, title: title?, body: body?, created_at: created_at?, updated_at: updated_at? })
        })
        .collect();
    // The rows come in the subquery's order (one session row, a nested loop); sorting these few here rather than
    // with an outer ORDER BY spares PostgreSQL a sort node on every page (about a tenth of the query's cost).
    notes.sort_unstable_by_key(|note| std::cmp::Reverse(note.key()));
    let mut page = Page::from_rows(notes, per_page, Note::key);
    if count {
        page.total = Some(notes::table.filter(notes::owner_id.eq(owner)).count().get_result(conn).await?);
    }
    Ok(Some(page))
}

/// The session's user and one page of their notes (or one row of NULLs: a session without notes to show).
type PageRow = (Uuid, Option<Uuid>, Option<String>, Option<String>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The page query of [`list_in_session`]: SQL diesel's DSL cannot say (LATERAL), as a typed query so that it is a
/// cached prepared statement. LATERAL reads the page from the index in its order and stops at the limit before the
/// join; a plain left join would sort every note of the owner first.
///
/// The limit is written into the SQL as a number (see [`keyset::push_limit`]), so the statement is cached once per
/// page size, by its text.
#[derive(Debug)]
struct SessionPage<'a> {
    session: &'a [u8],
    after: keyset::Before<notes::created_at, notes::id>,
    limit: i64,
}

impl QueryId for SessionPage<'_> {
    // No static id: the statement cache keys this query by its text, which holds the page size.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for SessionPage<'_> {
    type SqlType =
        (SqlUuid, Nullable<SqlUuid>, Nullable<Text>, Nullable<Text>, Nullable<Timestamptz>, Nullable<Timestamptz>);
}

impl QueryFragment<Pg> for SessionPage<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT s.user_id, n.id, n.title, n.body, n.created_at, n.updated_at FROM sessions s \
             LEFT JOIN LATERAL (SELECT id, title, body, created_at, updated_at FROM notes \
             WHERE owner_id = s.user_id AND ",
        );
        self.after.walk_ast(out.reborrow())?;
        out.push_sql(" ORDER BY created_at DESC, id DESC");
        keyset::push_limit(&mut out, self.limit);
        out.push_sql(") n ON true WHERE s.token_hash = ");
        out.push_bind_param::<Bytea, _>(&self.session)?;
        out.push_sql(" AND s.expires_at > now()");
        Ok(())
    }
}

/// One note of the session whose token digest is `session`, in one query with the session check: `None` without a
/// valid session, `Some(None)` when the note does not exist or is someone else's.
pub async fn get_in_session(
    conn: &mut AsyncPgConnection,
    session: &[u8],
    id: Uuid,
) -> QueryResult<Option<Option<Note>>> {
    sessions::table
        .left_join(notes::table.on(notes::owner_id.eq(sessions::user_id).and(notes::id.eq(id))))
        .filter(sessions::token_hash.eq(session))
        .filter(sessions::expires_at.gt(Utc::now()))
        .select(Option::<Note>::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn create(conn: &mut AsyncPgConnection, owner: Uuid, title: Title, body: Body) -> QueryResult<Note> {
    diesel::insert_into(notes::table)
        .values((notes::owner_id.eq(owner), notes::title.eq(title.0), notes::body.eq(body.0)))
        .returning(Note::as_returning())
        .get_result(conn)
        .await
}

/// Changes the given fields; `None` when the note does not exist or belongs to someone else.
pub async fn update(
    conn: &mut AsyncPgConnection,
    owner: Uuid,
    id: Uuid,
    title: Option<Title>,
    body: Option<Body>,
) -> QueryResult<Option<Note>> {
    #[derive(AsChangeset)]
    #[diesel(table_name = notes)]
    struct Changes {
        title: Option<String>,
        body: Option<String>,
        updated_at: DateTime<Utc>,
    }
    diesel::update(notes::table.filter(notes::owner_id.eq(owner)).filter(notes::id.eq(id)))
        .set(Changes { title: title.map(|t| t.0), body: body.map(|b| b.0), updated_at: Utc::now() })
        .returning(Note::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// The note `id` if `owner` owns it.
pub async fn find_owned(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> QueryResult<Option<Note>> {
    notes::table
        .filter(notes::owner_id.eq(owner))
        .filter(notes::id.eq(id))
        .select(Note::as_select())
        .first(conn)
        .await
        .optional()
}

/// True when a note was deleted.
pub async fn delete(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> QueryResult<bool> {
    let deleted =
        diesel::delete(notes::table.filter(notes::owner_id.eq(owner)).filter(notes::id.eq(id))).execute(conn).await?;
    Ok(deleted > 0)
}
