//! {{title}} (the `{{plural}}` table), written by `template/resource`: owned by a user, and every query here takes
//! the owner, so another user's {{one}} is simply not found. The fields and their rules are [`SPECS`]; the rules
//! themselves live in `http::fields`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::FieldErrors;
use crate::http::fields::{Check, FieldType as _, Kind, Spec};
use crate::models::keyset::{self, Keyset, Page};
use crate::schema::{sessions, users};

// What `diesel print-schema` would write for the migration `{{migration}}`.
diesel::table! {
    {{plural}} (id) {
        id -> Uuid,
        owner_id -> Uuid,
{{table_columns}}        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!({{plural}} -> users (owner_id));
// Each pair once: `users` and `sessions` are already allowed together in `crate::schema`.
diesel::allow_tables_to_appear_in_same_query!({{plural}}, users);
diesel::allow_tables_to_appear_in_same_query!({{plural}}, sessions);

/// The fields, in the order the pages show them.
pub const SPECS: &[Spec] = &[
{{specs}}];

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = {{plural}})]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct {{camel}} {
    pub id: Uuid,
{{struct_fields}}    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl {{camel}} {
    /// The listing's order key.
    pub fn key(&self) -> Keyset {
        Keyset { at: self.created_at, id: self.id }
    }

    /// The fields' values as text, in the order of [`SPECS`].
    pub fn texts(&self) -> Vec<String> {
        vec![{{texts}}]
    }
}

/// A new {{one}}, every field checked.
#[derive(Debug, Insertable)]
#[diesel(table_name = {{plural}})]
pub struct New{{camel}} {
{{new_fields}}}

impl New{{camel}} {
    /// Every field from submitted values (the API's JSON object or a page's form).
    pub fn read(values: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut check = Check::new(SPECS, values);
        let new = Self {
{{read_new}}        };
        check.finish().map(|()| new)
    }
}

/// What a change sets: `None` leaves a field as it is.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = {{plural}})]
pub struct Changes {
{{change_fields}}    pub updated_at: DateTime<Utc>,
}

impl Changes {
    /// The fields given (a PATCH), at least one.
    pub fn read(values: &Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut check = Check::new(SPECS, values);
        let changes = Self {
{{read_change}}            updated_at: Utc::now(),
        };
        check.finish_change().map(|()| changes)
    }
}

impl From<New{{camel}}> for Changes {
    /// Every field (a form sends them all).
    fn from(new: New{{camel}}) -> Self {
        Self {
{{from_new}}            updated_at: Utc::now(),
        }
    }
}

/// A page of the owner's {{title | downcase}}, newest first, starting after `after` (the first page without).
pub async fn list(
    conn: &mut AsyncPgConnection,
    owner: Uuid,
    after: Option<Keyset>,
    per_page: i64,
) -> QueryResult<Page<{{camel}}>> {
    let rows = {{plural}}::table
        .filter({{plural}}::owner_id.eq(owner))
        .filter(keyset::after({{plural}}::created_at, {{plural}}::id, after.unwrap_or_else(Keyset::start)))
        .order(({{plural}}::created_at.desc(), {{plural}}::id.desc()))
        .limit(per_page + 1)
        .select({{camel}}::as_select())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, per_page, {{camel}}::key))
}

/// The {{one}} `id` if `owner` owns it.
pub async fn find(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> QueryResult<Option<{{camel}}>> {
    {{plural}}::table
        .filter({{plural}}::owner_id.eq(owner))
        .filter({{plural}}::id.eq(id))
        .select({{camel}}::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn create(conn: &mut AsyncPgConnection, owner: Uuid, new: New{{camel}}) -> QueryResult<{{camel}}> {
    diesel::insert_into({{plural}}::table)
        .values(({{plural}}::owner_id.eq(owner), new))
        .returning({{camel}}::as_returning())
        .get_result(conn)
        .await
}

/// `None` when the {{one}} does not exist or belongs to someone else.
pub async fn update(
    conn: &mut AsyncPgConnection,
    owner: Uuid,
    id: Uuid,
    changes: Changes,
) -> QueryResult<Option<{{camel}}>> {
    diesel::update({{plural}}::table.filter({{plural}}::owner_id.eq(owner)).filter({{plural}}::id.eq(id)))
        .set(changes)
        .returning({{camel}}::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// True when a {{one}} was deleted.
pub async fn delete(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> QueryResult<bool> {
    let deleted = diesel::delete({{plural}}::table.filter({{plural}}::owner_id.eq(owner)).filter({{plural}}::id.eq(id)))
        .execute(conn)
        .await?;
    Ok(deleted > 0)
}
