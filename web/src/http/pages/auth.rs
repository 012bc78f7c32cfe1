//! Signing up, in and out, and the pages the mailed links open (address confirmation, password reset).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Flash, FormState, Layout, NoFields, SignedForm, local_path, redirect, render};
use crate::error::{AppError, AppResult};
use crate::http::identity;
use crate::http::{AppState, email_links, login};
use crate::models::session as sessions;

#[derive(Template)]
#[template(path = "auth/signup.html")]
struct SignupPage<'a> {
    layout: &'a Layout,
    form: &'a FormState,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage<'a> {
    layout: &'a Layout,
    form: &'a FormState,
    next: &'a str,
}

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage<'a> {
    layout: &'a Layout,
    form: &'a FormState,
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage<'a> {
    layout: &'a Layout,
    form: &'a FormState,
    token: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct MessagePage<'a> {
    pub layout: &'a Layout,
    pub title: &'a str,
    pub message: &'a str,
    /// A link onwards: (href, text).
    pub next: Option<(&'a str, &'a str)>,
    /// The message tells of a failure (shown as an alert, for people and screen readers alike).
    pub failed: bool,
}

#[derive(Debug, Deserialize)]
pub struct CredentialsForm {
    email: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn anonymous(req: &HttpRequest, state: &AppState) -> Layout {
    Layout::new(req, state, None)
}

/// GET /signup
pub async fn signup_page(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    if identity::lookup(&req).await?.is_some() {
        return Ok(redirect("/notes", None));
    }
    let layout = anonymous(&req, &state);
    render(&layout, StatusCode::OK, &SignupPage { layout: &layout, form: &FormState::default() })
}

/// POST /signup
#[tracing::instrument(skip_all)]
pub async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CredentialsForm>,
) -> AppResult<HttpResponse> {
    match login::create_account(&state, form.email.as_ref(), form.password.as_ref()).await {
        Ok((user, new_session)) => {
            let flash = Flash::success(format!("Welcome! We sent a link to {} to confirm the address.", user.email));
            let mut response = redirect("/notes", Some(flash));
            response.add_cookie(&identity::cookie(&state.config, &new_session)).map_err(anyhow::Error::from)?;
            Ok(response)
        }
        Err(err) => {
            let (status, errors) = match err {
                AppError::Validation(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
                AppError::Conflict { field, message } => {
                    (StatusCode::CONFLICT, [(field.to_string(), message.to_string())].into())
                }
                other => return Err(other),
            };
            let values = FormState::with(&[("email", form.email.as_deref().unwrap_or_default())]).errors(errors);
            let layout = anonymous(&req, &state);
            render(&layout, status, &SignupPage { layout: &layout, form: &values })
        }
    }
}

/// GET /login?next=/notes
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> AppResult<HttpResponse> {
    let next = local_path(query.next.as_deref()).unwrap_or("/notes");
    if identity::lookup(&req).await?.is_some() {
        return Ok(redirect(next, None));
    }
    let layout = anonymous(&req, &state);
    render(&layout, StatusCode::OK, &LoginPage { layout: &layout, form: &FormState::default(), next })
}

/// POST /login
#[tracing::instrument(skip_all)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CredentialsForm>,
) -> AppResult<HttpResponse> {
    let next = local_path(form.next.as_deref()).unwrap_or("/notes");
    let refused = match login::authenticate(&req, &state, form.email.as_ref(), form.password.as_ref()).await {
        Ok((_, new_session)) => {
            let mut response = redirect(next, None);
            response.add_cookie(&identity::cookie(&state.config, &new_session)).map_err(anyhow::Error::from)?;
            return Ok(response);
        }
        Err(err) => err,
    };
    let values = FormState::with(&[("email", form.email.as_deref().unwrap_or_default())]);
    let mut retry_after = None;
    let (status, values) = match refused {
        AppError::Validation(errors) => (StatusCode::UNPROCESSABLE_ENTITY, values.errors(errors)),
        AppError::Unauthorized(_) => {
            (StatusCode::UNAUTHORIZED, values.problem("The e-mail address or the password is not right."))
        }
        AppError::TooManyRequests { retry_after: wait } => {
            retry_after = Some(wait.as_secs().max(1));
            (
                StatusCode::TOO_MANY_REQUESTS,
                values.problem(format!(
                    "Too many attempts from your address. Try again in {} minutes.",
                    wait.as_secs().div_ceil(60)
                )),
            )
        }
        other => return Err(other),
    };
    let layout = anonymous(&req, &state);
    let mut response = render(&layout, status, &LoginPage { layout: &layout, form: &values, next })?;
    if let Some(seconds) = retry_after {
        // As the API's 429 says it (RFC 9110): when to try again.
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    }
    Ok(response)
}

/// POST /logout
#[tracing::instrument(skip_all)]
pub async fn logout(state: web::Data<AppState>, form: SignedForm<NoFields>) -> AppResult<HttpResponse> {
    let mut conn = state.conn().await?;
    sessions::delete(&mut conn, form.user.id).await?;
    let mut response = redirect("/", Some(Flash::info("You are signed out.")));
    response.add_cookie(&identity::removal_cookie(&state.config)).map_err(anyhow::Error::from)?;
    Ok(response)
}

/// GET /forgot-password
pub async fn forgot_page(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let layout = anonymous(&req, &state);
    render(&layout, StatusCode::OK, &ForgotPage { layout: &layout, form: &FormState::default() })
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    email: Option<String>,
}

/// POST /forgot-password: the same answer whether or not the address has an account.
#[tracing::instrument(skip_all)]
pub async fn forgot(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ForgotForm>,
) -> AppResult<HttpResponse> {
    let email = form.email.as_deref().unwrap_or_default();
    match email_links::request_reset_for(&state, email).await {
        Ok(()) => Ok(redirect(
            "/login",
            Some(Flash::info(format!("If {email} has an account, a link to choose a new password is on its way."))),
        )),
        Err(AppError::Validation(errors)) => {
            let layout = anonymous(&req, &state);
            let values = FormState::with(&[("email", email)]).errors(errors);
            render(&layout, StatusCode::UNPROCESSABLE_ENTITY, &ForgotPage { layout: &layout, form: &values })
        }
        Err(other) => Err(other),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// GET /reset-password?token=... (the link in the reset mail)
pub async fn reset_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> AppResult<HttpResponse> {
    let layout = anonymous(&req, &state);
    let token = query.token.as_deref().unwrap_or_default();
    render(&layout, StatusCode::OK, &ResetPage { layout: &layout, form: &FormState::default(), token })
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    token: Option<String>,
    password: Option<String>,
}

/// POST /reset-password: the new password ends every session of the account.
#[tracing::instrument(skip_all)]
pub async fn reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ResetForm>,
) -> AppResult<HttpResponse> {
    let token = form.token.as_deref().unwrap_or_default();
    match email_links::reset(&state, form.token.as_deref(), form.password.as_deref()).await {
        Ok(()) => Ok(redirect("/login", Some(Flash::success("Your password is changed. Sign in with the new one.")))),
        Err(AppError::Validation(mut errors)) => {
            let layout = anonymous(&req, &state);
            // The token is not a field a person can fix: say so about the whole form.
            let problem = errors.remove("token").map(|_| "This link is invalid, has expired or was already used.");
            let mut values = FormState::default().errors(errors);
            if let Some(problem) = problem {
                values = values.problem(problem);
            }
            render(&layout, StatusCode::UNPROCESSABLE_ENTITY, &ResetPage { layout: &layout, form: &values, token })
        }
        Err(other) => Err(other),
    }
}

/// GET /verify-email?token=... (the link in the welcome mail)
#[tracing::instrument(skip_all)]
pub async fn verify_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> AppResult<HttpResponse> {
    let verified = match query.token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => email_links::verify(&state, token).await?.is_some(),
        None => false,
    };
    let session = identity::lookup(&req).await?;
    let layout = Layout::new(&req, &state, session.as_ref());
    let onwards = if session.is_some() { ("/notes", "Go to your notes") } else { ("/login", "Sign in") };
    let (status, title, message) = if verified {
        (StatusCode::OK, "Address confirmed", "Thank you: your e-mail address is confirmed.")
    } else {
        (StatusCode::BAD_REQUEST, "Link not valid", "This link is invalid, has expired or was already used.")
    };
    let page = MessagePage { layout: &layout, title, message, next: Some(onwards), failed: !verified };
    render(&layout, status, &page)
}
