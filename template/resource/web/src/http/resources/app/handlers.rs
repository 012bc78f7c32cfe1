//! {{title}}, written by `template/resource`: the JSON API under `/api/{{url}}` and the pages under `/{{url}}`, each
//! limited to the signed-in owner. Another user's {{one}} answers 404, exactly like one that does not exist. The
//! model, its fields and its queries are in `models::app::{{crate_name}}`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::fields::{ListQuery, PER_PAGE_DEFAULT, form_values};
use crate::http::identity::CurrentUser;
use crate::http::json::ApiJson;
use crate::http::pages::resource::{self as pages, Names};
use crate::http::pages::{Flash, Layout, NoFields, PageUser, SignedForm, redirect};
use crate::http::{AppState, resource};
use crate::models::app::{{crate_name}}::{self as model, Changes, New{{camel}}, SPECS, {{camel}}};
use crate::models::keyset::Page;

/// How the pages name it; the header links every resource's list (`http::resources::app::NAV`).
pub const NAMES: Names = Names { path: "/{{url}}", one: "{{one}}", title: "{{title}}" };

/// The API and the pages; other methods answer 405.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/{{url}}").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            resource("/api/{{url}}/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(resource("/{{url}}").route(web::get().to(list_page)).route(web::post().to(create_form)))
        .service(resource("/{{url}}/new").route(web::get().to(new_page)))
        .service(resource("/{{url}}/{id}/edit").route(web::get().to(edit_page)).route(web::post().to(update_form)))
        .service(resource("/{{url}}/{id}/delete").route(web::post().to(delete_form)));
}

/// An id from the path. Anything that is not a UUID cannot name a {{one}}: 404, not 400.
fn record_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

/// GET /api/{{url}}?per_page=20&cursor=...
async fn list(
    state: web::Data<AppState>,
    current: CurrentUser,
    query: web::Query<ListQuery>,
) -> AppResult<web::Json<Page<{{camel}}>>> {
    let (after, per_page) = query.parse().map_err(AppError::Validation)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(model::list(&mut conn, current.0.user.id, after, per_page).await?))
}

/// GET /api/{{url}}/{id}
async fn get(state: web::Data<AppState>, current: CurrentUser, id: web::Path<String>) -> AppResult<web::Json<{{camel}}>> {
    let id = record_id(&id)?;
    let mut conn = state.conn().await?;
    model::find(&mut conn, current.0.user.id, id).await?.map(web::Json).ok_or(AppError::NotFound)
}

/// POST /api/{{url}}: every required field.
async fn create(
    state: web::Data<AppState>,
    current: CurrentUser,
    input: ApiJson<Map<String, Value>>,
) -> AppResult<HttpResponse> {
    let new = New{{camel}}::read(&input).map_err(AppError::Validation)?;
    let mut conn = state.conn().await?;
    let created = model::create(&mut conn, current.0.user.id, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, format!("/api/{{url}}/{}", created.id)))
        .json(created))
}

/// PATCH /api/{{url}}/{id}: changes the fields given (null clears an optional one).
async fn update(
    state: web::Data<AppState>,
    current: CurrentUser,
    id: web::Path<String>,
    input: ApiJson<Map<String, Value>>,
) -> AppResult<web::Json<{{camel}}>> {
    let id = record_id(&id)?;
    let changes = Changes::read(&input).map_err(AppError::Validation)?;
    let mut conn = state.conn().await?;
    model::update(&mut conn, current.0.user.id, id, changes).await?.map(web::Json).ok_or(AppError::NotFound)
}

/// DELETE /api/{{url}}/{id}
async fn delete(state: web::Data<AppState>, current: CurrentUser, id: web::Path<String>) -> AppResult<HttpResponse> {
    let id = record_id(&id)?;
    let mut conn = state.conn().await?;
    if model::delete(&mut conn, current.0.user.id, id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(AppError::NotFound)
    }
}

/// GET /{{url}}?cursor=...
async fn list_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: PageUser,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let (after, _) = query.parse().map_err(|_| AppError::BadRequest("not a page of this list".into()))?;
    let mut conn = state.conn().await?;
    let page = model::list(&mut conn, user.0.user.id, after, PER_PAGE_DEFAULT).await?;
    let layout = Layout::new(&req, &state, Some(&user.0));
    let records = page.items.iter().map(|record| (record.id.to_string(), record.texts())).collect();
    pages::list(&layout, &NAMES, SPECS, records, page.next.as_deref(), after.is_none())
}

/// GET /{{url}}/new
async fn new_page(req: HttpRequest, state: web::Data<AppState>, user: PageUser) -> AppResult<HttpResponse> {
    let layout = Layout::new(&req, &state, Some(&user.0));
    pages::form(&layout, &NAMES, SPECS, &Map::new(), &FieldErrors::new(), None)
}

/// POST /{{url}}: a refused form is shown again (422) with each error beside its field.
async fn create_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<BTreeMap<String, String>>,
) -> AppResult<HttpResponse> {
    let SignedForm { user, fields } = form;
    let values = form_values(fields);
    match New{{camel}}::read(&values) {
        Err(errors) => {
            let layout = Layout::new(&req, &state, Some(&user));
            pages::form(&layout, &NAMES, SPECS, &values, &errors, None)
        }
        Ok(new) => {
            let mut conn = state.conn().await?;
            model::create(&mut conn, user.user.id, new).await?;
            Ok(redirect(NAMES.path, Some(Flash::success("{{one | capitalize}} created."))))
        }
    }
}

/// GET /{{url}}/{id}/edit
async fn edit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: PageUser,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = record_id(&id)?;
    let mut conn = state.conn().await?;
    let found = model::find(&mut conn, user.0.user.id, id).await?.ok_or(AppError::NotFound)?;
    let layout = Layout::new(&req, &state, Some(&user.0));
    let values = pages::values(SPECS, found.texts());
    pages::form(&layout, &NAMES, SPECS, &values, &FieldErrors::new(), Some(&found.id.to_string()))
}

/// POST /{{url}}/{id}/edit
async fn update_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedForm<BTreeMap<String, String>>,
) -> AppResult<HttpResponse> {
    let SignedForm { user, fields } = form;
    let id = record_id(&id)?;
    let values = form_values(fields);
    match New{{camel}}::read(&values) {
        Err(errors) => {
            let layout = Layout::new(&req, &state, Some(&user));
            pages::form(&layout, &NAMES, SPECS, &values, &errors, Some(&id.to_string()))
        }
        Ok(all) => {
            let mut conn = state.conn().await?;
            model::update(&mut conn, user.user.id, id, all.into()).await?.ok_or(AppError::NotFound)?;
            Ok(redirect(NAMES.path, Some(Flash::success("{{one | capitalize}} saved."))))
        }
    }
}

/// POST /{{url}}/{id}/delete
async fn delete_form(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedForm<NoFields>,
) -> AppResult<HttpResponse> {
    let id = record_id(&id)?;
    let mut conn = state.conn().await?;
    if !model::delete(&mut conn, form.user.user.id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(redirect(NAMES.path, Some(Flash::info("{{one | capitalize}} deleted."))))
}
