//! Errors as pages. Handlers return [`AppError`], whose response is JSON (the API's contract); for a browser asking
//! for a page (`Accept: text/html`, outside `/api/`) [`html_errors`] swaps that body for a styled page with the same
//! status, and turns "not signed in" into a redirect to the login page. [`write_upstream_page`] renders the page
//! nginx shows when the web role cannot answer at all (502, 503, 504).

use std::path::Path;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse};
use anyhow::Context as _;
use askama::Template;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::{Layout, redirect};
use crate::http::{AppState, identity};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: &'a Layout,
    code: u16,
    title: &'a str,
    message: &'a str,
}

fn wording(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("Bad request", "The request could not be understood. Check the address and try again."),
        403 => ("Not allowed", "You are not allowed to do that. If you sent a form, reload the page and try again."),
        404 => ("Page not found", "There is nothing at this address. It may have moved, or never existed."),
        405 => ("Not allowed", "This address does not take that kind of request."),
        413 => ("Too large", "What you sent is larger than this site accepts."),
        429 => ("Slow down", "Too many requests from your address. Wait a few minutes and try again."),
        502..=504 => ("Back in a moment", "The site cannot answer right now. Try again in a minute."),
        code if code >= 500 => ("Something went wrong", "An error on our side stopped this page. It has been logged."),
        _ => ("Request refused", "The request could not be completed."),
    }
}

/// Whether a request is a browser's page request (so errors should be pages, not JSON).
fn wants_page(req: &HttpRequest) -> bool {
    let path = req.path();
    let api = path.starts_with("/api/") || path == "/healthz" || path == "/readyz";
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    !api && accept.contains("text/html")
}

async fn error_response(req: &HttpRequest, status: StatusCode) -> HttpResponse {
    if status == StatusCode::UNAUTHORIZED {
        let target = if req.method() == actix_web::http::Method::GET {
            let here = req.uri().path_and_query().map_or("/", |p| p.as_str());
            format!("/login?next={}", utf8_percent_encode(here, NON_ALPHANUMERIC))
        } else {
            "/login".to_string()
        };
        return redirect(&target, None);
    }
    let state = AppState::of(req);
    let session = identity::lookup(req).await.ok().flatten();
    let layout = Layout::new(req, &state, session.as_ref());
    let (title, message) = wording(status);
    let page = ErrorPage { layout: &layout, code: status.as_u16(), title, message };
    match super::render(&layout, status, &page) {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "rendering an error page");
            HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(title)
        }
    }
}

/// Middleware: JSON error bodies become pages for browsers (see the module documentation).
pub async fn html_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let page = wants_page(req.request());
    let response = next.call(req).await?;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(page && json && (status.is_client_error() || status.is_server_error())) {
        return Ok(response.map_into_left_body());
    }
    let replacement = error_response(response.request(), status).await;
    Ok(response.into_response(replacement).map_into_right_body())
}

/// Writes `errors/50x.html` under `static_root` (nginx serves it when the web role is down), styled with the
/// current assets.
pub fn write_upstream_page(state: &AppState, static_root: &Path) -> anyhow::Result<()> {
    let layout = Layout::detached(state);
    let (title, message) = wording(StatusCode::SERVICE_UNAVAILABLE);
    let html = ErrorPage { layout: &layout, code: 503, title, message }.render().context("rendering 50x.html")?;
    crate::static_files::write_atomically(&static_root.join("errors/50x.html"), html.as_bytes())
}
