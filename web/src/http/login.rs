//! The login endpoints: signup, login, logout, and "who am I" (the links that arrive by mail are in `email_links`).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::AppState;
use crate::http::identity::{self, CurrentUser};
use crate::http::json::ApiJson;
use crate::models::login_attempt::{self, Verdict};
use crate::models::session as sessions;
use crate::models::user::{self, Email, NewPassword, User};
use crate::password;
use crate::tasks::{
    self,
    send_email::{MailKind, SendEmail},
};

/// Body of signup and login. Fields are optional here so that a missing one is reported by name (422).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    #[schema(value_type = String, required = true, examples("ada@example.com"))]
    email: Option<String>,
    #[schema(value_type = String, required = true, format = Password)]
    password: Option<String>,
}

/// What signup, login and `me` return.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    user: User,
    /// Echo this in the `X-CSRF-Token` header of every state-changing request.
    csrf_token: String,
}

fn required<'a>(value: Option<&'a String>, field: &str, errors: &mut FieldErrors) -> Option<&'a String> {
    if value.is_none_or(|v| v.is_empty()) {
        errors.insert(field.to_string(), "is required".into());
        return None;
    }
    value
}

/// Creates an account with its first session and the verification mail task, all in one transaction. Shared by
/// the API and the signup page, so both validate alike.
pub(crate) async fn create_account(
    state: &AppState,
    email: Option<&String>,
    password: Option<&String>,
) -> AppResult<(User, sessions::NewSession)> {
    let mut errors = FieldErrors::new();
    let email = required(email, "email", &mut errors)
        .and_then(|raw| Email::parse(raw).map_err(|problem| errors.insert("email".into(), problem.into())).ok());
    let password = required(password, "password", &mut errors)
        .and_then(|raw| NewPassword::parse(raw).map_err(|problem| errors.insert("password".into(), problem)).ok());
    let (Some(email), Some(password)) = (email, password) else {
        return Err(AppError::Validation(errors));
    };
    let hash = password::hash(password.into_secret()).await?;
    let ttl = state.config.auth.session_ttl;
    let mut conn = state.conn().await?;
    // User, session and welcome mail task are created together or not at all.
    let result = conn
        .transaction(async |conn| {
            let user = user::create(conn, &email, &hash, false).await?;
            let new_session = sessions::create(conn, user.id, ttl).await?;
            tasks::enqueue(conn, &SendEmail { user_id: user.id, kind: MailKind::VerifyEmail }).await?;
            Ok::<_, diesel::result::Error>((user, new_session))
        })
        .await;
    match result {
        Ok(created) => {
            tracing::info!(user_id = %created.0.id, "account created");
            Ok(created)
        }
        Err(err) if user::is_duplicate_email(&err) => {
            Err(AppError::Conflict { field: "email", message: "is already registered" })
        }
        Err(err) => Err(err.into()),
    }
}

/// POST /api/auth/signup: creates an account and signs it in.
#[utoipa::path(post, path = "/api/auth/signup", operation_id = "signup", tag = "auth", summary = "Create an account and sign in",
    description = "Sets the `session` cookie and queues the verification mail.",
    request_body = Credentials,
    responses(
        (status = 201, description = "Signed up and signed in", body = SessionInfo),
        (status = 409, description = "The e-mail address has an account", body = crate::error::Body),
    ))]
#[tracing::instrument(skip_all)]
pub async fn signup(state: web::Data<AppState>, body: ApiJson<Credentials>) -> AppResult<HttpResponse> {
    let (user, new_session) = create_account(&state, body.email.as_ref(), body.password.as_ref()).await?;
    Ok(HttpResponse::Created()
        .cookie(identity::cookie(&state.config, &new_session))
        .json(SessionInfo { user, csrf_token: new_session.csrf_token }))
}

/// Checks e-mail and password (rate-limited per client address) and opens a session. Shared by the API and the
/// login page.
pub(crate) async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    email: Option<&String>,
    password: Option<&String>,
) -> AppResult<(User, sessions::NewSession)> {
    let mut errors = FieldErrors::new();
    let email = required(email, "email", &mut errors).cloned();
    let password = required(password, "password", &mut errors).cloned();
    let (Some(email), Some(password)) = (email, password) else {
        return Err(AppError::Validation(errors));
    };
    let auth = &state.config.auth;
    let client = identity::client_address(req, state.config.http.trust_proxy_headers);
    let mut conn = state.conn().await?;
    if let Verdict::Limited(retry_after) =
        login_attempt::record(&mut conn, &client, auth.login_rate_limit, auth.login_rate_window, Utc::now()).await?
    {
        tracing::warn!(%client, "login rate limit reached");
        return Err(AppError::TooManyRequests { retry_after });
    }
    let account = match Email::parse(&email) {
        Ok(email) => user::find_by_email(&mut conn, &email).await?,
        Err(_) => None,
    };
    // Verify against a dummy hash when the account is unknown, so both cases take the same time.
    let stored = match &account {
        Some(account) => account.password_hash.clone(),
        None => password::dummy_hash().await.to_string(),
    };
    let matches = password::verify(Secret::new(password), stored).await?;
    let Some(account) = account.filter(|_| matches) else {
        return Err(AppError::Unauthorized("invalid e-mail or password"));
    };
    let new_session = sessions::create(&mut conn, account.id, auth.session_ttl).await?;
    tracing::info!(user_id = %account.id, "signed in");
    Ok((account, new_session))
}

/// POST /api/auth/login
#[utoipa::path(post, path = "/api/auth/login", operation_id = "login", tag = "auth", summary = "Sign in",
    description = "Sets the `session` cookie. Attempts are limited per client address.",
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = SessionInfo),
        (status = 401, description = "Wrong e-mail or password", body = crate::error::Body),
        (status = 429, description = "Too many attempts from this address", body = crate::error::Body,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
#[tracing::instrument(skip_all)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<Credentials>,
) -> AppResult<HttpResponse> {
    let (account, new_session) = authenticate(&req, &state, body.email.as_ref(), body.password.as_ref()).await?;
    Ok(HttpResponse::Ok()
        .cookie(identity::cookie(&state.config, &new_session))
        .json(SessionInfo { user: account, csrf_token: new_session.csrf_token }))
}

/// POST /api/auth/logout: ends the current session.
#[utoipa::path(post, path = "/api/auth/logout", operation_id = "logout", tag = "auth", summary = "Sign out (ends this session)",
    security(("session" = [], "csrf" = [])),
    responses((status = 204, description = "Signed out; the cookie is removed")))]
#[tracing::instrument(skip_all)]
pub async fn logout(state: web::Data<AppState>, current: CurrentUser) -> AppResult<HttpResponse> {
    let mut conn = state.conn().await?;
    sessions::delete(&mut conn, current.0.id).await?;
    Ok(HttpResponse::NoContent().cookie(identity::removal_cookie(&state.config)).finish())
}

/// GET /api/auth/me
#[utoipa::path(get, path = "/api/auth/me", operation_id = "me", tag = "auth", summary = "Who is signed in",
    security(("session" = [])),
    responses((status = 200, description = "The signed-in user and the session's CSRF token", body = SessionInfo)))]
pub async fn me(current: CurrentUser) -> web::Json<SessionInfo> {
    let CurrentUser(session) = current;
    web::Json(SessionInfo { user: session.user, csrf_token: session.csrf_token })
}
