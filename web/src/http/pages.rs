//! Server-rendered pages (askama templates in `web/templates/`, checked at compile time).

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::error::AppResult;
use crate::http::AppState;
use crate::http::identity::MaybeUser;

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    app_name: &'a str,
    environment: &'a str,
    email: Option<&'a str>,
}

/// GET /
pub async fn home(state: web::Data<AppState>, user: MaybeUser) -> AppResult<HttpResponse> {
    let page = Home {
        app_name: &state.config.app_name,
        environment: state.config.environment.as_str(),
        email: user.0.as_ref().map(|session| session.user.email.as_str()),
    };
    let html = page.render().map_err(|err| anyhow::anyhow!("rendering home page: {err}"))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}
