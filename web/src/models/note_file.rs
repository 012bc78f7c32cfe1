//! Files attached to notes (rows of `note_files`; the bytes are in media storage, see [`crate::media`]). Every query
//! takes the owner, as the notes' do: another user's file is simply not found.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::schema::{note_files, notes};

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = note_files)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct NoteFile {
    pub id: Uuid,
    pub note_id: Uuid,
    #[serde(skip)]
    pub key: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = note_files)]
pub struct NewNoteFile<'a> {
    pub note_id: Uuid,
    pub owner_id: Uuid,
    pub key: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: i64,
}

/// Whether `owner` has the note `note`.
pub async fn note_is_owned(conn: &mut AsyncPgConnection, owner: Uuid, note: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(notes::table.filter(notes::id.eq(note)).filter(notes::owner_id.eq(owner))))
        .get_result(conn)
        .await
}

/// Records an uploaded file; `None` when the note is not the owner's (any more).
pub async fn create(conn: &mut AsyncPgConnection, new: &NewNoteFile<'_>) -> QueryResult<Option<NoteFile>> {
    conn.transaction(async |conn| {
        // The note row is locked so that it cannot be deleted between the check and the insert.
        let owned: Option<Uuid> = notes::table
            .filter(notes::id.eq(new.note_id))
            .filter(notes::owner_id.eq(new.owner_id))
            .select(notes::id)
            .for_key_share()
            .get_result(conn)
            .await
            .optional()?;
        if owned.is_none() {
            return Ok(None);
        }
        diesel::insert_into(note_files::table)
            .values(new)
            .returning(NoteFile::as_returning())
            .get_result(conn)
            .await
            .map(Some)
    })
    .await
}

/// The note's files, oldest first.
pub async fn list(conn: &mut AsyncPgConnection, owner: Uuid, note: Uuid) -> QueryResult<Vec<NoteFile>> {
    note_files::table
        .filter(note_files::note_id.eq(note))
        .filter(note_files::owner_id.eq(owner))
        .order((note_files::created_at, note_files::id))
        .select(NoteFile::as_select())
        .load(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, owner: Uuid, note: Uuid, id: Uuid) -> QueryResult<Option<NoteFile>> {
    note_files::table
        .filter(note_files::id.eq(id))
        .filter(note_files::note_id.eq(note))
        .filter(note_files::owner_id.eq(owner))
        .select(NoteFile::as_select())
        .get_result(conn)
        .await
        .optional()
}

/// Deletes the row and returns it (its key names the object to delete).
pub async fn delete(conn: &mut AsyncPgConnection, owner: Uuid, note: Uuid, id: Uuid) -> QueryResult<Option<NoteFile>> {
    diesel::delete(
        note_files::table
            .filter(note_files::id.eq(id))
            .filter(note_files::note_id.eq(note))
            .filter(note_files::owner_id.eq(owner)),
    )
    .returning(NoteFile::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// The keys of a note's files.
pub async fn keys_of_note(conn: &mut AsyncPgConnection, owner: Uuid, note: Uuid) -> QueryResult<Vec<String>> {
    note_files::table
        .filter(note_files::note_id.eq(note))
        .filter(note_files::owner_id.eq(owner))
        .select(note_files::key)
        .load(conn)
        .await
}

/// Which of `keys` a row names.
pub async fn known_keys(conn: &mut AsyncPgConnection, keys: &[String]) -> QueryResult<HashSet<String>> {
    let found: Vec<String> =
        note_files::table.filter(note_files::key.eq_any(keys)).select(note_files::key).load(conn).await?;
    Ok(found.into_iter().collect())
}
