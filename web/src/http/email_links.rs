//! Links that arrive by mail: e-mail verification and password reset as JSON endpoints (the pages the links open
//! are in `pages::auth`, on the same functions).

use actix_web::{HttpResponse, web};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};

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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenInput {
    /// The token of the mail's link.
    #[schema(value_type = String, required = true)]
    token: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResetRequest {
    #[schema(value_type = String, required = true)]
    email: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResetConfirm {
    /// The token of the reset mail's link.
    #[schema(value_type = String, required = true)]
    token: Option<String>,
    /// The new password.
    #[schema(value_type = String, required = true, format = Password)]
    password: Option<String>,
}

/// The answer of a verification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verified {
    pub verified: bool,
}

/// The answer of a reset request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Queued {
    pub status: &'static str,
}

fn invalid_token() -> AppError {
    AppError::invalid("token", "is invalid, expired or already used")
}

/// Marks the address verified; `None` when the token is not good.
pub(crate) async fn verify(state: &AppState, token: &str) -> AppResult<Option<uuid::Uuid>> {
    let mut conn = state.conn().await?;
    let verified = conn.transaction(async |conn| email_token::verify_email(conn, token).await).await?;
    Ok(verified)
}

/// POST /api/auth/verify-email `{"token"}`
#[utoipa::path(post, path = "/api/auth/verify-email", operation_id = "verify_email", tag = "auth", summary = "Verify an e-mail address",
    description = "With the token of the verification mail's link.",
    request_body = TokenInput,
    responses((status = 200, description = "The address is verified", body = Verified)))]
#[tracing::instrument(skip_all)]
pub async fn verify_email(state: web::Data<AppState>, input: ApiJson<TokenInput>) -> AppResult<HttpResponse> {
    let token =
        input.token.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| AppError::invalid("token", "is required"))?;
    match verify(&state, token).await? {
        Some(_) => Ok(HttpResponse::Ok().json(Verified { verified: true })),
        None => Err(invalid_token()),
    }
}

/// POST /api/auth/password-reset `{"email"}`: always 202, whether or not the address has an account, so the
/// answer reveals nothing. The mail goes out through the outbox.
#[utoipa::path(post, path = "/api/auth/password-reset", operation_id = "request_password_reset", tag = "auth", summary = "Ask for a password-reset mail",
    description = "Always 202, whether or not the address has an account.",
    request_body = ResetRequest,
    responses((status = 202, description = "If the address has an account, a mail is on its way", body = Queued)))]
#[tracing::instrument(skip_all)]
pub async fn request_reset(state: web::Data<AppState>, input: ApiJson<ResetRequest>) -> AppResult<HttpResponse> {
    request_reset_for(&state, input.email.as_deref().unwrap_or_default()).await?;
    Ok(HttpResponse::Accepted().json(Queued { status: "if the address has an account, a mail is on its way" }))
}

/// Queues the reset mail when `raw` is an account's address; an invalid address is a 422 on `email`. Shared by the
/// API and the "forgot password" page.
pub(crate) async fn request_reset_for(state: &AppState, raw: &str) -> AppResult<()> {
    let email = Email::parse(raw).map_err(|problem| AppError::invalid("email", problem))?;
    let mut conn = state.conn().await?;
    conn.transaction(async |conn| {
        if let Some(account) = user::find_by_email(conn, &email).await? {
            tasks::enqueue(conn, &SendEmail { user_id: account.id, kind: MailKind::PasswordReset }).await?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .await?;
    Ok(())
}

/// Sets the new password if the token is good: token used, password changed, sessions ended, all at once.
pub(crate) async fn reset(state: &AppState, token: Option<&str>, password: Option<&str>) -> AppResult<()> {
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
#[utoipa::path(post, path = "/api/auth/password-reset/confirm", operation_id = "confirm_password_reset", tag = "auth", summary = "Set a new password",
    description = "With the token of the reset mail's link; every session of the account ends.",
    request_body = ResetConfirm,
    responses((status = 204, description = "The password is changed")))]
#[tracing::instrument(skip_all)]
pub async fn confirm_reset(state: web::Data<AppState>, input: ApiJson<ResetConfirm>) -> AppResult<HttpResponse> {
    reset(&state, input.token.as_deref(), input.password.as_deref()).await?;
    Ok(HttpResponse::NoContent().finish())
}
