//! The example resource: notes owned by a user. Every query takes the owner, so a handler cannot forget the
//! ownership check: another user's note is simply not found.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::schema::notes;

pub const TITLE_MAX_CHARS: usize = 200;
pub const BODY_MAX_CHARS: usize = 20_000;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = notes)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Note {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
        Ok(Self(raw.to_string()))
    }
}

/// One page of a listing.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// Newest first; `page` counts from 1.
pub async fn list(conn: &mut AsyncPgConnection, owner: Uuid, page: i64, per_page: i64) -> QueryResult<Page<Note>> {
    let total = notes::table.filter(notes::owner_id.eq(owner)).count().get_result(conn).await?;
    let items = notes::table
        .filter(notes::owner_id.eq(owner))
        .order((notes::created_at.desc(), notes::id.desc()))
        .limit(per_page)
        .offset((page - 1).saturating_mul(per_page))
        .select(Note::as_select())
        .load(conn)
        .await?;
    Ok(Page { items, page, per_page, total })
}

pub async fn get(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> QueryResult<Option<Note>> {
    notes::table
        .filter(notes::owner_id.eq(owner))
        .filter(notes::id.eq(id))
        .select(Note::as_select())
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

/// True when a note was deleted.
pub async fn delete(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> QueryResult<bool> {
    let deleted =
        diesel::delete(notes::table.filter(notes::owner_id.eq(owner)).filter(notes::id.eq(id))).execute(conn).await?;
    Ok(deleted > 0)
}
