//! Server-rendered pages (askama templates in `web/templates/`, checked at compile time). They work without
//! JavaScript; `frontend/js` only enhances them. Forms post back to the page that shows them: a refused form is
//! rendered again with each error beside its field and what was typed kept (passwords aside); an accepted one
//! redirects (303) with a flash message.
//!
//! Forms of a signed-in user carry the session's CSRF token in a hidden `csrf_token` field (or, from JavaScript, the
//! `X-CSRF-Token` header); the ones before sign-in (signup, login, password reset) are covered by the same-origin
//! check every state-changing request passes (`identity::same_origin`).

pub mod account;
pub mod api_docs;
/// The project's own pages: one file each in `src/http/pages/app/` (`template/page` adds one), routed by the build.
pub mod app {
    include!(concat!(env!("OUT_DIR"), "/app_pages.rs"));
}
pub mod auth;
pub mod errors;
pub mod note_files;
pub mod notes;
pub mod resource;

use std::collections::BTreeMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::AppState;
use crate::http::identity::{self, CSRF_HEADER};
use crate::models::session::ActiveSession;
use crate::token;

const FLASH_COOKIE: &str = "flash";

/// A one-time message shown on the next page (after a redirect).
#[derive(Debug, Clone)]
pub struct Flash {
    /// `success`, `error` or `info`: the alert's style.
    pub kind: &'static str,
    pub text: String,
}

impl Flash {
    pub fn success(text: impl Into<String>) -> Self {
        Self { kind: "success", text: text.into() }
    }

    pub fn info(text: impl Into<String>) -> Self {
        Self { kind: "info", text: text.into() }
    }

    fn from_cookie(value: &str) -> Option<Self> {
        let (kind, text) = value.split_once('.')?;
        let kind = ["success", "error", "info"].into_iter().find(|known| *known == kind)?;
        let text = percent_decode_str(text).decode_utf8().ok()?.into_owned();
        Some(Self { kind, text })
    }

    fn cookie(&self) -> Cookie<'static> {
        let value = format!("{}.{}", self.kind, utf8_percent_encode(&self.text, NON_ALPHANUMERIC));
        Cookie::build(FLASH_COOKIE, value).path("/").http_only(true).same_site(SameSite::Lax).finish()
    }
}

/// The signed-in person as the pages show them.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub email: String,
    pub is_staff: bool,
    pub verified: bool,
}

/// What every page's frame (base.html) shows: the header, the flash, asset URLs, the CSRF token for forms.
#[derive(Debug)]
pub struct Layout {
    pub app_name: String,
    pub environment: String,
    pub path: String,
    pub viewer: Option<Viewer>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub css: String,
    pub js: String,
    pub logo: String,
    /// The project's resources (`template/resource`), linked in the header when signed in.
    pub nav: &'static [resource::Names],
}

impl Layout {
    pub fn new(req: &HttpRequest, state: &AppState, session: Option<&ActiveSession>) -> Self {
        Self {
            path: req.path().to_string(),
            viewer: session.map(|s| Viewer {
                email: s.user.email.clone(),
                is_staff: s.user.is_staff,
                verified: s.user.email_verified_at.is_some(),
            }),
            csrf: session.map(|s| s.csrf_token.clone()).unwrap_or_default(),
            flash: req.cookie(FLASH_COOKIE).and_then(|c| Flash::from_cookie(c.value())),
            ..Self::detached(state)
        }
    }

    /// For a page rendered outside any request (the upstream-down page nginx serves).
    pub fn detached(state: &AppState) -> Self {
        let assets = &state.assets;
        Self {
            app_name: state.config.app_name.clone(),
            environment: state.config.environment.as_str().to_string(),
            path: String::new(),
            viewer: None,
            csrf: String::new(),
            flash: None,
            css: assets.url("css/site.css"),
            js: assets.url("js/app.js"),
            logo: assets.url("images/logo.svg"),
            nav: crate::http::resources::app::NAV,
        }
    }

    /// `aria-current="page"` for the navigation link to `href`.
    pub fn current(&self, href: &str) -> &'static str {
        let here = self.path == href || (href != "/" && self.path.starts_with(&format!("{href}/")));
        if here { "page" } else { "false" }
    }
}

/// The values and errors of a form being shown again.
#[derive(Debug, Default)]
pub struct FormState {
    values: BTreeMap<String, String>,
    errors: FieldErrors,
    /// An error about the whole form (wrong password, too many attempts).
    pub problem: Option<String>,
}

impl FormState {
    pub fn with(values: &[(&str, &str)]) -> Self {
        Self { values: values.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect(), ..Self::default() }
    }

    pub fn errors(mut self, errors: FieldErrors) -> Self {
        self.errors = errors;
        self
    }

    pub fn problem(mut self, problem: impl Into<String>) -> Self {
        self.problem = Some(problem.into());
        self
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    /// `"true"` for a field in error (its `aria-invalid`).
    pub fn invalid(&self, name: &str) -> &'static str {
        if self.errors.contains_key(name) { "true" } else { "false" }
    }
}

/// Renders a page; a flash the layout showed is spent (its cookie removed).
pub fn render(layout: &Layout, status: StatusCode, page: &impl Template) -> AppResult<HttpResponse> {
    let html = page.render().map_err(|err| anyhow::anyhow!("rendering a page: {err}"))?;
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8").insert_header((header::CACHE_CONTROL, "no-store"));
    if layout.flash.is_some() {
        let mut spent = Cookie::build(FLASH_COOKIE, "").path("/").finish();
        spent.make_removal();
        response.cookie(spent);
    }
    Ok(response.body(html))
}

/// 303 to `location`, with a flash for the next page.
pub fn redirect(location: &str, flash: Option<Flash>) -> HttpResponse {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, location.to_string()));
    if let Some(flash) = flash {
        response.cookie(flash.cookie());
    }
    response.finish()
}

/// A local path to return to after signing in (`next=`); anything else is ignored. Accepted only when it is provably
/// a path on this site whatever a browser does to it: it starts with one `/` not followed by `/` or `\\`, and holds
/// only visible ASCII without `\\`. A browser removes tabs and line breaks from a URL and reads `\\` as `/`, so
/// `/<TAB>/evil.example` would become `//evil.example`, another site; with none of those characters there is nothing
/// left to normalise, and the value is always a valid `Location` header (no 500 for CR, LF or NUL either).
pub fn local_path(next: Option<&str>) -> Option<&str> {
    next.filter(|path| {
        let mut bytes = path.bytes();
        bytes.next() == Some(b'/')
            && !matches!(bytes.next(), Some(b'/' | b'\\'))
            && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    })
}

/// The fields of a form and the CSRF token that comes with it.
#[derive(Debug, serde::Deserialize)]
struct WithCsrf<T> {
    csrf_token: Option<String>,
    #[serde(flatten)]
    fields: T,
}

/// A form with no fields of its own (sign out, delete, resend): only the CSRF token.
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

/// A signed-in user's form post: the session (without one, 401, which [`errors::html_errors`] turns into the login
/// page) and the form's fields, accepted only with the session's CSRF token, in the form's `csrf_token` field or
/// the `X-CSRF-Token` header (else 403).
#[derive(Debug)]
pub struct SignedForm<T> {
    pub user: ActiveSession,
    pub fields: T,
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for SignedForm<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<WithCsrf<T>>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let user = identity::lookup(&req).await?.ok_or(AppError::Unauthorized("not signed in"))?;
            let web::Form(WithCsrf { csrf_token, fields }) = form.await?;
            let header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            let sent = csrf_token.as_deref().filter(|t| !t.is_empty()).or(header);
            if !sent.is_some_and(|sent| token::constant_time_eq(sent, &user.csrf_token)) {
                return Err(
                    AppError::Forbidden("the form's CSRF token is missing or out of date; reload the page").into()
                );
            }
            Ok(Self { user, fields })
        })
    }
}

/// The signed-in user of a page. Without a session, extraction fails with 401, which [`errors::html_errors`] turns
/// into a redirect to the login page. For pages only: a form post takes [`SignedForm`], which checks CSRF.
#[derive(Debug)]
pub struct PageUser(pub ActiveSession);

impl FromRequest for PageUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { identity::lookup(&req).await?.map(Self).ok_or(AppError::Unauthorized("not signed in")) })
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    layout: &'a Layout,
}

/// GET /
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let session = identity::lookup(&req).await?;
    let layout = Layout::new(&req, &state, session.as_ref());
    render(&layout, StatusCode::OK, &Home { layout: &layout })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_cookie_round_trip_and_unknown_kinds() {
        let flash = Flash::success("Saved: \"a; b\" ✓");
        let cookie = flash.cookie();
        let back = Flash::from_cookie(cookie.value()).unwrap();
        assert_eq!((back.kind, back.text.as_str()), ("success", "Saved: \"a; b\" ✓"));
        assert!(Flash::from_cookie("evil.text").is_none());
        assert!(Flash::from_cookie("no-separator").is_none());
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/notes?cursor=x")), Some("/notes?cursor=x"));
        assert_eq!(local_path(Some("/")), Some("/"));
        assert_eq!(local_path(Some("/notes/%2F%2Fx")), Some("/notes/%2F%2Fx"));
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "notes",
            "",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie: a=b",
            "/notes\0",
            " /notes",
            "/ /evil.example",
            "/notes\\..\\x",
            "/\u{3000}/evil.example",
            "/ｎotes",
            "/\u{7f}",
        ] {
            assert_eq!(local_path(Some(bad)), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        /// Whatever comes in `next=`, what is followed is a valid header value that a browser resolves to a path of
        /// this site: no character it would drop or rewrite, no scheme, no authority.
        #[test]
        fn a_followed_next_stays_on_this_site(next in crate::hostile::text()) {
            if let Some(path) = local_path(Some(&next)) {
                proptest::prop_assert!(actix_web::http::header::HeaderValue::from_str(path).is_ok());
                proptest::prop_assert!(crate::hostile::browser_keeps_on_site(path), "{path:?}");
            }
        }

        /// A flash message of any text is one valid cookie, and reads back as it was written.
        #[test]
        fn any_flash_text_makes_a_valid_cookie(text in crate::hostile::text()) {
            let cookie = Flash::info(text.clone()).cookie();
            proptest::prop_assert!(crate::hostile::safe_header_text(cookie.value()));
            proptest::prop_assert!(actix_web::http::header::HeaderValue::from_str(&cookie.to_string()).is_ok());
            let back = Flash::from_cookie(cookie.value()).unwrap();
            proptest::prop_assert_eq!(back.text, text);
        }

        /// The redirect is built for every accepted value (the header never fails, so never a 500).
        #[test]
        fn a_redirect_to_an_accepted_next_is_a_303(next in crate::hostile::text()) {
            if let Some(path) = local_path(Some(&next)) {
                let response = redirect(path, None);
                proptest::prop_assert_eq!(response.status(), StatusCode::SEE_OTHER);
                proptest::prop_assert_eq!(response.headers().get(header::LOCATION).unwrap().to_str().unwrap(), path);
            }
        }
    }
}
