//! Who is asking: the session cookie (the rows behind it are `models::session`), CSRF protection and the client
//! address used for throttling.
//!
//! CSRF defence has two layers. [`same_origin`] refuses any state-changing request whose `Origin` (or
//! `Sec-Fetch-Site`) says it came from another site, which also covers login and signup. [`CurrentUser`] additionally
//! requires state-changing requests authenticated by the cookie to carry the session's CSRF token in the
//! `X-CSRF-Token` header (the token is returned by login, signup and `GET /api/auth/me`).

use std::net::IpAddr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpRequest, ResponseError as _};
use futures_util::future::LocalBoxFuture;

use crate::config::Config;
use crate::error::AppError;
use crate::http::AppState;
use crate::models::session::{self, ActiveSession, NewSession};
use crate::token;

pub const COOKIE: &str = "session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in user of a request. Extracting it fails with 401 without a valid session, and with 403 when a
/// state-changing request lacks the session's CSRF token.
#[derive(Debug)]
pub struct CurrentUser(pub ActiveSession);

/// The session cookie's token digest, for reads that check the session inside their own query (one round trip
/// instead of a session lookup and then the query; see `models::note::get_in_session`). No database access here:
/// only a missing cookie is refused (401). Safe methods only: a change needs [`CurrentUser`] and its CSRF check.
#[derive(Debug)]
pub struct SessionKey(pub Vec<u8>);

impl FromRequest for SessionKey {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = match req.cookie(COOKIE) {
            Some(_) if !req.method().is_safe() => Err(AppError::Forbidden("a change needs the session's CSRF check")),
            Some(cookie) => Ok(Self(token::digest(cookie.value()))),
            None => Err(AppError::Unauthorized("not signed in")),
        };
        std::future::ready(key)
    }
}

/// The signed-in user if there is one (pages that look different when signed in).
#[derive(Debug)]
pub struct MaybeUser(pub Option<ActiveSession>);

/// The session of the request's cookie, if it is valid.
pub async fn lookup(req: &HttpRequest) -> Result<Option<ActiveSession>, AppError> {
    let Some(cookie) = req.cookie(COOKIE) else {
        return Ok(None);
    };
    let state = AppState::of(req);
    let mut conn = state.conn().await?;
    Ok(session::find(&mut conn, cookie.value()).await?)
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = lookup(&req).await?.ok_or(AppError::Unauthorized("not signed in"))?;
            if !req.method().is_safe() {
                let sent = req.headers().get(CSRF_HEADER).and_then(|value| value.to_str().ok());
                if !sent.is_some_and(|sent| token::constant_time_eq(sent, &session.csrf_token)) {
                    return Err(AppError::Forbidden("missing or wrong X-CSRF-Token header"));
                }
            }
            Ok(Self(session))
        })
    }
}

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Self(lookup(&req).await?)) })
    }
}

/// The session cookie for a new session.
pub fn cookie(config: &Config, new: &NewSession) -> Cookie<'static> {
    let max_age = i64::try_from(config.auth.session_ttl.as_secs()).unwrap_or(i64::MAX);
    Cookie::build(COOKIE, new.token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(!config.environment.is_local())
        .max_age(actix_web::cookie::time::Duration::seconds(max_age))
        .finish()
}

/// A cookie that makes the browser forget the session.
pub fn removal_cookie(config: &Config) -> Cookie<'static> {
    let mut cookie = Cookie::build(COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(!config.environment.is_local())
        .finish();
    cookie.make_removal();
    cookie
}

/// The address login attempts are counted against: the TCP peer, or nginx's `X-Real-IP` when the deployment says
/// the proxy is trusted (only then, since anyone can send that header).
pub fn client_address(req: &HttpRequest, trust_proxy_headers: bool) -> String {
    if trust_proxy_headers
        && let Some(ip) = req
            .headers()
            .get("x-real-ip")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<IpAddr>().ok())
    {
        return ip.to_string();
    }
    req.peer_addr().map_or_else(|| "unknown".to_string(), |addr| addr.ip().to_string())
}

fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Whether a state-changing request may have been sent by a page of another site.
fn cross_site(req: &ServiceRequest) -> bool {
    if req.method().is_safe() {
        return false;
    }
    let headers = req.headers();
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin.to_str().ok().and_then(origin_host), host) {
        (Some(origin), Some(host)) => !origin.eq_ignore_ascii_case(host),
        // "Origin: null" (sandboxed frames, some redirects) or no Host at all: refuse.
        _ => true,
    }
}

/// Middleware refusing cross-site state-changing requests with 403.
pub async fn same_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if cross_site(&req) {
        let response = AppError::Forbidden("cross-site request refused").error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::origin_host;

    #[test]
    fn origin_host_strips_scheme() {
        assert_eq!(origin_host("https://example.com"), Some("example.com"));
        assert_eq!(origin_host("http://127.0.0.1:8000"), Some("127.0.0.1:8000"));
        assert_eq!(origin_host("null"), None);
    }
}
