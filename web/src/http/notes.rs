//! The notes API, the example resource a generated project copies: list (paginated), get, create, update, delete,
//! each limited to the signed-in owner. Another user's note answers 404, exactly like a note that does not exist.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::AppState;
use crate::http::identity::{CurrentUser, SessionKey};
use crate::http::json::ApiJson;
use crate::models::keyset::{Keyset, Page};
use crate::models::note::{self, Body, Note, Title};

pub const PER_PAGE_DEFAULT: i64 = 20;
pub const PER_PAGE_MAX: i64 = 100;

/// Query string of the listing. Strings, so that a bad value is reported by field name.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `next` of the previous page.
    cursor: Option<String>,
    per_page: Option<String>,
    /// `true` adds `total` (a count over all the owner's notes).
    count: Option<String>,
    /// Offset pages are gone (their cost grew with the table): named here only to say so.
    page: Option<String>,
}

/// A new note.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NoteInput {
    /// 1 to 200 characters (trimmed).
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    title: Option<String>,
    /// At most 20,000 characters; empty when left out.
    #[schema(max_length = 20000)]
    body: Option<String>,
}

/// The fields of a note to change: at least one (said in the OpenAPI document by `http::openapi`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NotePatch {
    #[schema(min_length = 1, max_length = 200)]
    title: Option<String>,
    #[schema(max_length = 20000)]
    body: Option<String>,
}

fn bounded(raw: Option<&String>, field: &str, default: i64, max: i64, errors: &mut FieldErrors) -> i64 {
    let Some(raw) = raw else { return default };
    match raw.parse::<i64>() {
        Ok(value) if (1..=max).contains(&value) => value,
        _ => {
            errors.insert(field.to_string(), format!("must be a whole number from 1 to {max}"));
            default
        }
    }
}

/// A whole note's fields, as the API's create and the pages' forms take them (the same rules for both).
pub(crate) fn parse_note(title: Option<&str>, body: Option<&str>) -> Result<(Title, Body), FieldErrors> {
    let mut errors = FieldErrors::new();
    let title = match title {
        None => {
            errors.insert("title".into(), "is required".into());
            None
        }
        Some(raw) => Title::parse(raw).map_err(|problem| errors.insert("title".into(), problem)).ok(),
    };
    let body = Body::parse(body.unwrap_or_default()).map_err(|problem| errors.insert("body".into(), problem)).ok();
    match (title, body) {
        (Some(title), Some(body)) => Ok((title, body)),
        _ => Err(errors),
    }
}

/// An id from the path. Anything that is not a UUID cannot name a note: 404, not 400.
pub(crate) fn note_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

/// GET /api/notes?per_page=20&cursor=...&count=true
#[utoipa::path(get, path = "/api/notes", operation_id = "list_notes", tag = "notes", summary = "List your notes, newest first",
    description = "Pages are addressed by cursor: pass `next` of a page as `cursor` to get the following one.",
    security(("session" = [])),
    params(
        ("cursor" = Option<String>, Query, description = "`next` of the previous page"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Notes per page (20)"),
        ("count" = Option<bool>, Query, description = "Add `total`, a count of all your notes"),
    ),
    responses(
        (status = 200, description = "A page of notes", body = Page<Note>),
        (status = 422, description = "A parameter was refused", body = crate::error::Body),
    ))]
#[tracing::instrument(skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    session: SessionKey,
    query: web::Query<ListQuery>,
) -> AppResult<web::Json<Page<Note>>> {
    let mut errors = FieldErrors::new();
    let per_page = bounded(query.per_page.as_ref(), "per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX, &mut errors);
    let after = query.cursor.as_deref().filter(|raw| !raw.is_empty()).and_then(|raw| {
        let cursor = Keyset::decode(raw);
        if cursor.is_none() {
            errors.insert("cursor".into(), "is not a `next` value of this listing".into());
        }
        cursor
    });
    let count = match query.count.as_deref() {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => {
            errors.insert("count".into(), "must be true or false".into());
            false
        }
    };
    if query.page.is_some() {
        errors.insert(
            "page".into(),
            "pages are addressed by cursor: pass `next` of the previous page as `cursor`".into(),
        );
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut conn = state.conn().await?;
    let page = note::list_in_session(&mut conn, &session.0, after, per_page, count).await?;
    page.map(web::Json).ok_or(AppError::Unauthorized("not signed in"))
}

/// GET /api/notes/{id}
#[utoipa::path(get, path = "/api/notes/{id}", operation_id = "get_note", tag = "notes", summary = "One note",
    security(("session" = [])), params(("id" = String, Path, description = "The note's id (a UUID)")),
    responses((status = 200, description = "The note", body = Note)))]
#[tracing::instrument(skip_all)]
pub async fn get(state: web::Data<AppState>, session: SessionKey, id: web::Path<String>) -> AppResult<web::Json<Note>> {
    let mut conn = state.conn().await?;
    // A malformed id names no note; the session still decides between 401 and 404.
    let id = Uuid::parse_str(&id).unwrap_or(Uuid::nil());
    match note::get_in_session(&mut conn, &session.0, id).await? {
        None => Err(AppError::Unauthorized("not signed in")),
        Some(found) => found.map(web::Json).ok_or(AppError::NotFound),
    }
}

/// POST /api/notes
#[utoipa::path(post, path = "/api/notes", operation_id = "create_note", tag = "notes", summary = "Create a note",
    security(("session" = [], "csrf" = [])), request_body = NoteInput,
    responses((status = 201, description = "Created", body = Note,
        headers(("Location" = String, description = "The note's URL")))))]
#[tracing::instrument(skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    current: CurrentUser,
    input: ApiJson<NoteInput>,
) -> AppResult<HttpResponse> {
    let (title, body) = parse_note(input.title.as_deref(), input.body.as_deref()).map_err(AppError::Validation)?;
    let mut conn = state.conn().await?;
    let created = note::create(&mut conn, current.0.user.id, title, body).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, format!("/api/notes/{}", created.id)))
        .json(created))
}

/// PATCH /api/notes/{id}: changes the fields present in the body.
#[utoipa::path(patch, path = "/api/notes/{id}", operation_id = "update_note", tag = "notes", summary = "Change a note's title, body or both",
    security(("session" = [], "csrf" = [])), params(("id" = String, Path, description = "The note's id (a UUID)")), request_body = NotePatch,
    responses((status = 200, description = "The changed note", body = Note)))]
#[tracing::instrument(skip_all)]
pub async fn update(
    state: web::Data<AppState>,
    current: CurrentUser,
    id: web::Path<String>,
    input: ApiJson<NotePatch>,
) -> AppResult<web::Json<Note>> {
    let id = note_id(&id)?;
    let mut errors = FieldErrors::new();
    let title = input
        .title
        .as_deref()
        .and_then(|raw| Title::parse(raw).map_err(|problem| errors.insert("title".into(), problem)).ok());
    let body = input
        .body
        .as_deref()
        .and_then(|raw| Body::parse(raw).map_err(|problem| errors.insert("body".into(), problem)).ok());
    if input.title.is_none() && input.body.is_none() {
        errors.insert("title".into(), "give title, body or both".into());
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut conn = state.conn().await?;
    let updated = note::update(&mut conn, current.0.user.id, id, title, body).await?;
    updated.map(web::Json).ok_or(AppError::NotFound)
}

/// DELETE /api/notes/{id}
#[utoipa::path(delete, path = "/api/notes/{id}", operation_id = "delete_note", tag = "notes", summary = "Delete a note and its files",
    security(("session" = [], "csrf" = [])), params(("id" = String, Path, description = "The note's id (a UUID)")),
    responses((status = 204, description = "Deleted")))]
#[tracing::instrument(skip_all)]
pub async fn delete(
    state: web::Data<AppState>,
    current: CurrentUser,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = note_id(&id)?;
    let mut conn = state.conn().await?;
    if crate::media::delete_note(&mut conn, current.0.user.id, id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(AppError::NotFound)
    }
}
