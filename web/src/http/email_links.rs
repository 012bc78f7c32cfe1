//! Links that arrive by mail: e-mail verification and password reset, each as a JSON endpoint and as the page the
//! link opens.

use actix_web::{HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;

use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::AppState;
use crate::http::json::ApiJson;
use crate::models::email_token::{self, Purpose};
use crate::models::user::{self, Email, NewPassword};
use crate::password;
use crate::tasks::{
    self,
    send_email::{MailKind, SendEmail},
};

#[derive(Debug, Deserialize)]
pub struct TokenInput {
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResetRequest {
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResetConfirm {
    token: Option<String>,
    password: Option<String>,
}

fn invalid_token() -> AppError {
    AppError::invalid("token", "is invalid, expired or already used")
}

/// Marks the address verified; `None` when the token is not good.
async fn verify(state: &AppState, token: &str) -> AppResult<Option<uuid::Uuid>> {
    let mut conn = state.conn().await?;
    let verified = conn.transaction(async |conn| email_token::verify_email(conn, token).await).await?;
    Ok(verified)
}

/// POST /api/auth/verify-email `{"token"}`
#[tracing::instrument(skip_all)]
pub async fn verify_email(state: web::Data<AppState>, input: ApiJson<TokenInput>) -> AppResult<HttpResponse> {
    let token =
        input.token.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| AppError::invalid("token", "is required"))?;
    match verify(&state, token).await? {
        Some(_) => Ok(HttpResponse::Ok().json(serde_json::json!({ "verified": true }))),
        None => Err(invalid_token()),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    app_name: &'a str,
    environment: &'a str,
    title: &'a str,
    message: &'a str,
}

fn message_page(
    state: &AppState,
    status: actix_web::http::StatusCode,
    title: &str,
    message: &str,
) -> AppResult<HttpResponse> {
    let html = MessagePage {
        app_name: &state.config.app_name,
        environment: state.config.environment.as_str(),
        title,
        message,
    }
    .render()
    .map_err(|err| anyhow::anyhow!("rendering page: {err}"))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(html))
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// GET /verify-email?token=... (the link in the welcome mail)
#[tracing::instrument(skip_all)]
pub async fn verify_email_page(state: web::Data<AppState>, query: web::Query<TokenQuery>) -> AppResult<HttpResponse> {
    use actix_web::http::StatusCode;
    let verified = match query.token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => verify(&state, token).await?.is_some(),
        None => false,
    };
    if verified {
        message_page(&state, StatusCode::OK, "Address confirmed", "Thank you: your e-mail address is confirmed.")
    } else {
        message_page(
            &state,
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "This link is invalid, has expired or was already used.",
        )
    }
}

/// POST /api/auth/password-reset `{"email"}`: always 202, whether or not the address has an account, so the
/// answer reveals nothing. The mail goes out through the outbox.
#[tracing::instrument(skip_all)]
pub async fn request_reset(state: web::Data<AppState>, input: ApiJson<ResetRequest>) -> AppResult<HttpResponse> {
    let raw = input.email.as_deref().unwrap_or_default();
    let email = Email::parse(raw).map_err(|problem| AppError::invalid("email", problem))?;
    let mut conn = state.conn().await?;
    conn.transaction(async |conn| {
        if let Some(account) = user::find_by_email(conn, &email).await? {
            tasks::enqueue(conn, &SendEmail { user_id: account.id, kind: MailKind::PasswordReset }).await?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .await?;
    Ok(HttpResponse::Accepted()
        .json(serde_json::json!({ "status": "if the address has an account, a mail is on its way" })))
}

/// Sets the new password if the token is good: token used, password changed, sessions ended, all at once.
async fn reset(state: &AppState, token: Option<&str>, password: Option<&str>) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    let token = token.filter(|t| !t.is_empty());
    if token.is_none() {
        errors.insert("token".into(), "is required".into());
    }
    let password = match password.map(NewPassword::parse) {
        None => {
            errors.insert("password".into(), "is required".into());
            None
        }
        Some(Err(problem)) => {
            errors.insert("password".into(), problem);
            None
        }
        Some(Ok(password)) => Some(password),
    };
    let (Some(token), Some(password)) = (token, password) else {
        return Err(AppError::Validation(errors));
    };
    let hash = password::hash(password.into_secret()).await?;
    let mut conn = state.conn().await?;
    let changed = conn
        .transaction(async |conn| {
            let Some(user_id) = email_token::consume(conn, token, Purpose::PasswordReset).await? else {
                return Ok::<_, diesel::result::Error>(false);
            };
            user::set_password(conn, user_id, &hash).await?;
            Ok(true)
        })
        .await?;
    if changed { Ok(()) } else { Err(invalid_token()) }
}

/// POST /api/auth/password-reset/confirm `{"token", "password"}`
#[tracing::instrument(skip_all)]
pub async fn confirm_reset(state: web::Data<AppState>, input: ApiJson<ResetConfirm>) -> AppResult<HttpResponse> {
    reset(&state, input.token.as_deref(), input.password.as_deref()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage<'a> {
    app_name: &'a str,
    environment: &'a str,
    token: &'a str,
    error: Option<&'a str>,
}

fn reset_form(
    state: &AppState,
    status: actix_web::http::StatusCode,
    token: &str,
    error: Option<&str>,
) -> AppResult<HttpResponse> {
    let html =
        ResetPage { app_name: &state.config.app_name, environment: state.config.environment.as_str(), token, error }
            .render()
            .map_err(|err| anyhow::anyhow!("rendering page: {err}"))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(html))
}

/// GET /reset-password?token=... (the link in the reset mail): a form for the new password.
pub async fn reset_page(state: web::Data<AppState>, query: web::Query<TokenQuery>) -> AppResult<HttpResponse> {
    reset_form(&state, actix_web::http::StatusCode::OK, query.token.as_deref().unwrap_or_default(), None)
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    token: Option<String>,
    password: Option<String>,
}

/// POST /reset-password (the form above).
#[tracing::instrument(skip_all)]
pub async fn reset_submit(state: web::Data<AppState>, form: web::Form<ResetForm>) -> AppResult<HttpResponse> {
    use actix_web::http::StatusCode;
    let token = form.token.as_deref().unwrap_or_default();
    match reset(&state, form.token.as_deref(), form.password.as_deref()).await {
        Ok(()) => {
            message_page(&state, StatusCode::OK, "Password changed", "Your password is changed. Sign in with it.")
        }
        Err(AppError::Validation(fields)) => {
            let problem: Vec<String> = fields.iter().map(|(field, problem)| format!("{field} {problem}")).collect();
            reset_form(&state, StatusCode::UNPROCESSABLE_ENTITY, token, Some(&problem.join("; ")))
        }
        Err(other) => Err(other),
    }
}
