//! The account page: change the password, send the confirmation mail again, delete the account.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;

use super::{Flash, FormState, Layout, NoFields, PageUser, SignedForm, redirect, render};
use crate::config::Secret;
use crate::error::{AppResult, FieldErrors};
use crate::http::{AppState, identity};
use crate::models::session as sessions;
use crate::models::session::ActiveSession;
use crate::models::user::{self, NewPassword};
use crate::password;
use crate::tasks::{
    self,
    send_email::{MailKind, SendEmail},
};

#[derive(Template)]
#[template(path = "account/index.html")]
struct AccountPage<'a> {
    layout: &'a Layout,
    form: &'a FormState,
    member_since: String,
}

#[derive(Template)]
#[template(path = "account/delete.html")]
struct DeletePage<'a> {
    layout: &'a Layout,
    form: &'a FormState,
}

fn account_page(
    req: &HttpRequest,
    state: &AppState,
    user: &ActiveSession,
    status: StatusCode,
    form: &FormState,
) -> AppResult<HttpResponse> {
    let layout = Layout::new(req, state, Some(user));
    let member_since = user.user.created_at.format("%-d %B %Y").to_string();
    render(&layout, status, &AccountPage { layout: &layout, form, member_since })
}

/// GET /account
pub async fn show(req: HttpRequest, state: web::Data<AppState>, user: PageUser) -> AppResult<HttpResponse> {
    account_page(&req, &state, &user.0, StatusCode::OK, &FormState::default())
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// Whether `given` is the account's password (argon2, off the async threads).
async fn password_matches(user: &ActiveSession, given: Option<&String>) -> AppResult<bool> {
    let Some(given) = given.filter(|g| !g.is_empty()) else { return Ok(false) };
    Ok(password::verify(Secret::new(given.clone()), user.user.password_hash.clone()).await?)
}

/// POST /account/password: every other session of the account ends; this browser gets a fresh one.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<PasswordForm>,
) -> AppResult<HttpResponse> {
    let SignedForm { user, fields: form } = form;
    let mut errors = FieldErrors::new();
    if !password_matches(&user, form.current_password.as_ref()).await? {
        errors.insert("current_password".into(), "is not your current password".into());
    }
    let new = match NewPassword::parse(form.new_password.as_deref().unwrap_or_default()) {
        Ok(new) => Some(new),
        Err(problem) => {
            errors.insert("new_password".into(), problem);
            None
        }
    };
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return account_page(
            &req,
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &FormState::default().errors(errors),
        );
    };
    let hash = password::hash(new.into_secret()).await?;
    let (id, ttl) = (user.user.id, state.config.auth.session_ttl);
    let mut conn = state.conn().await?;
    let fresh = conn
        .transaction(async |conn| {
            user::set_password(conn, id, &hash).await?;
            sessions::create(conn, id, ttl).await
        })
        .await?;
    tracing::info!(user_id = %id, "password changed");
    let mut response =
        redirect("/account", Some(Flash::success("Your password is changed. Other devices are signed out.")));
    response.add_cookie(&identity::cookie(&state.config, &fresh)).map_err(anyhow::Error::from)?;
    Ok(response)
}

/// POST /account/verification: the confirmation mail again (through the outbox, like the first one).
#[tracing::instrument(skip_all)]
pub async fn resend_verification(state: web::Data<AppState>, form: SignedForm<NoFields>) -> AppResult<HttpResponse> {
    let user = form.user;
    if user.user.email_verified_at.is_some() {
        return Ok(redirect("/account", Some(Flash::info("Your address is already confirmed."))));
    }
    let mut conn = state.conn().await?;
    tasks::enqueue(&mut conn, &SendEmail { user_id: user.user.id, kind: MailKind::VerifyEmail }).await?;
    let text = format!("A new confirmation link is on its way to {}.", user.user.email);
    Ok(redirect("/account", Some(Flash::success(text))))
}

/// GET /account/delete: asks for the password before anything is deleted.
pub async fn delete_page(req: HttpRequest, state: web::Data<AppState>, user: PageUser) -> AppResult<HttpResponse> {
    let layout = Layout::new(&req, &state, Some(&user.0));
    render(&layout, StatusCode::OK, &DeletePage { layout: &layout, form: &FormState::default() })
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    password: Option<String>,
}

/// POST /account/delete: the account, its sessions and its notes, at once.
#[tracing::instrument(skip_all)]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<DeleteForm>,
) -> AppResult<HttpResponse> {
    let SignedForm { user, fields: form } = form;
    if !password_matches(&user, form.password.as_ref()).await? {
        let layout = Layout::new(&req, &state, Some(&user));
        let errors = FieldErrors::from([("password".to_string(), "is not your password".to_string())]);
        let form = FormState::default().errors(errors);
        return render(&layout, StatusCode::UNPROCESSABLE_ENTITY, &DeletePage { layout: &layout, form: &form });
    }
    let mut conn = state.conn().await?;
    user::delete(&mut conn, user.user.id).await?;
    tracing::info!(user_id = %user.user.id, "account deleted");
    let mut response = redirect("/", Some(Flash::info("Your account and its notes are deleted.")));
    response.add_cookie(&identity::removal_cookie(&state.config)).map_err(anyhow::Error::from)?;
    Ok(response)
}
