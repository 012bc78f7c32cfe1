//! `GET /api/docs`: the API's operations for people, listed from the same OpenAPI document the API serves at
//! `/api/openapi.json` (so the page cannot drift from the contract).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::error::AppResult;
use crate::http::pages::{Layout, render};
use crate::http::{AppState, identity, openapi};

/// One operation as the page lists it.
#[derive(Debug)]
struct Row {
    method: String,
    path: String,
    summary: String,
}

/// The operations under one tag.
#[derive(Debug)]
struct Group {
    tag: String,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct ApiDocs<'a> {
    layout: &'a Layout,
    groups: Vec<Group>,
}

/// The operations grouped by their first tag, in the order the tags first appear by path.
fn groups() -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (method, path, summary, tag) in openapi::operations() {
        let row = Row { method, path, summary };
        match groups.iter_mut().find(|group| group.tag == tag) {
            Some(group) => group.rows.push(row),
            None => groups.push(Group { tag, rows: vec![row] }),
        }
    }
    groups
}

/// GET /api/docs
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let session = identity::lookup(&req).await?;
    let layout = Layout::new(&req, &state, session.as_ref());
    render(&layout, StatusCode::OK, &ApiDocs { layout: &layout, groups: groups() })
}

/// GET /api/openapi.json
pub async fn document(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(openapi::document(&state.config.app_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_listed_once_under_its_tag() {
        let groups = groups();
        let tags: Vec<&str> = groups.iter().map(|group| group.tag.as_str()).collect();
        assert!(tags.contains(&"notes") && tags.contains(&"auth"), "{tags:?}");
        let rows: usize = groups.iter().map(|group| group.rows.len()).sum();
        assert_eq!(rows, openapi::operations().len());
        let notes = groups.iter().find(|group| group.tag == "notes").unwrap();
        assert!(notes.rows.iter().any(|row| row.method == "PATCH" && row.path == "/api/notes/{id}"));
    }
}
