//! The notes resource as pages: a list (keyset pages, like the API), create, edit and delete, with the same
//! validation as the JSON API (`http::notes::parse_note`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Flash, FormState, Layout, NoFields, PageUser, SignedForm, redirect, render};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::identity::COOKIE;
use crate::http::notes::{PER_PAGE_DEFAULT, note_id, parse_note};
use crate::models::keyset::Keyset;
use crate::models::note::{self, Note};
use crate::token;

#[derive(Template)]
#[template(path = "notes/list.html")]
struct ListPage<'a> {
    layout: &'a Layout,
    notes: &'a [Note],
    next: Option<&'a str>,
    first_page: bool,
}

#[derive(Template)]
#[template(path = "notes/form.html")]
pub(super) struct FormPage<'a> {
    pub(super) layout: &'a Layout,
    pub(super) form: &'a FormState,
    /// `None` for a new note.
    pub(super) id: Option<String>,
    /// The note's files (an existing note only), with why the last upload was refused.
    pub(super) files: super::note_files::FilesView,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

/// GET /notes?cursor=...
#[tracing::instrument(skip_all)]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: PageUser,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty());
    let after = match cursor {
        None => None,
        Some(raw) => Some(Keyset::decode(raw).ok_or(AppError::BadRequest("not a page of this list".into()))?),
    };
    let digest = token::digest(req.cookie(COOKIE).map(|c| c.value().to_string()).unwrap_or_default().as_str());
    let mut conn = state.conn().await?;
    let page = note::list_in_session(&mut conn, &digest, after, PER_PAGE_DEFAULT, false)
        .await?
        .ok_or(AppError::Unauthorized("not signed in"))?;
    let layout = Layout::new(&req, &state, Some(&user.0));
    let view =
        ListPage { layout: &layout, notes: &page.items, next: page.next.as_deref(), first_page: cursor.is_none() };
    render(&layout, StatusCode::OK, &view)
}

/// GET /notes/new
pub async fn new(req: HttpRequest, state: web::Data<AppState>, user: PageUser) -> AppResult<HttpResponse> {
    let layout = Layout::new(&req, &state, Some(&user.0));
    render(
        &layout,
        StatusCode::OK,
        &FormPage { layout: &layout, form: &FormState::default(), id: None, files: Default::default() },
    )
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    title: Option<String>,
    body: Option<String>,
}

impl NoteForm {
    fn state(&self) -> FormState {
        FormState::with(&[
            ("title", self.title.as_deref().unwrap_or_default()),
            ("body", self.body.as_deref().unwrap_or_default()),
        ])
    }
}

/// POST /notes
#[tracing::instrument(skip_all)]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<NoteForm>,
) -> AppResult<HttpResponse> {
    let SignedForm { user, fields: form } = form;
    let (title, body) = match parse_note(form.title.as_deref(), form.body.as_deref()) {
        Ok(fields) => fields,
        Err(errors) => {
            let layout = Layout::new(&req, &state, Some(&user));
            let view =
                FormPage { layout: &layout, form: &form.state().errors(errors), id: None, files: Default::default() };
            return render(&layout, StatusCode::UNPROCESSABLE_ENTITY, &view);
        }
    };
    let mut conn = state.conn().await?;
    let created = note::create(&mut conn, user.user.id, title, body).await?;
    Ok(redirect("/notes", Some(Flash::success(format!("Note “{}” created.", created.title)))))
}

/// GET /notes/{id}/edit
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: PageUser,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = note_id(&id)?;
    let mut conn = state.conn().await?;
    let found = note::find_owned(&mut conn, user.0.user.id, id).await?.ok_or(AppError::NotFound)?;
    let files = super::note_files::FilesView::of_note(&state, &mut conn, user.0.user.id, id, None).await?;
    let layout = Layout::new(&req, &state, Some(&user.0));
    let form = FormState::with(&[("title", &found.title), ("body", &found.body)]);
    render(&layout, StatusCode::OK, &FormPage { layout: &layout, form: &form, id: Some(found.id.to_string()), files })
}

/// POST /notes/{id}/edit
#[tracing::instrument(skip_all)]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedForm<NoteForm>,
) -> AppResult<HttpResponse> {
    let SignedForm { user, fields: form } = form;
    let id = note_id(&id)?;
    let (title, body) = match parse_note(form.title.as_deref(), form.body.as_deref()) {
        Ok(fields) => fields,
        Err(errors) => {
            let mut conn = state.conn().await?;
            let files = super::note_files::FilesView::of_note(&state, &mut conn, user.user.id, id, None).await?;
            let layout = Layout::new(&req, &state, Some(&user));
            let view =
                FormPage { layout: &layout, form: &form.state().errors(errors), id: Some(id.to_string()), files };
            return render(&layout, StatusCode::UNPROCESSABLE_ENTITY, &view);
        }
    };
    let mut conn = state.conn().await?;
    let updated =
        note::update(&mut conn, user.user.id, id, Some(title), Some(body)).await?.ok_or(AppError::NotFound)?;
    Ok(redirect("/notes", Some(Flash::success(format!("Note “{}” saved.", updated.title)))))
}

/// POST /notes/{id}/delete
#[tracing::instrument(skip_all)]
pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedForm<NoFields>,
) -> AppResult<HttpResponse> {
    let id = note_id(&id)?;
    let mut conn = state.conn().await?;
    if !crate::media::delete_note(&mut conn, form.user.user.id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(redirect("/notes", Some(Flash::info("Note deleted."))))
}
