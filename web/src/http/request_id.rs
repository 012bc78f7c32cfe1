//! Request ids: every request gets one (taken from a well-formed `X-Request-Id` header, e.g. set by nginx, or made
//! here), it is returned in the response header, and every log line written while serving the request carries it
//! because the request runs inside a span holding it.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};
use tracing::Instrument as _;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, for handlers that want to mention it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `/healthz` and `/readyz`, the orchestrators' probes.
fn is_probe<B>(response: &ServiceResponse<B>) -> bool {
    matches!(response.request().path(), "/healthz" | "/readyz")
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| acceptable(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let _entered = span.enter();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(mut response) => {
            let status = response.status();
            if status.is_success() && is_probe(&response) {
                // Container health checks ask every few seconds: keep them out of the info log.
                tracing::debug!(status = status.as_u16(), elapsed_ms, "request finished");
            } else {
                tracing::info!(status = status.as_u16(), elapsed_ms, "request finished");
            }
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(HEADER, value);
            }
            Ok(response)
        }
        Err(err) => {
            tracing::warn!(error = %err, elapsed_ms, "request failed");
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn incoming_ids_are_bounded() {
        assert!(acceptable("3f1c9a7e-1b2c-4d5e-8f90-123456789abc"));
        assert!(!acceptable(""));
        assert!(!acceptable(&"a".repeat(65)));
        assert!(!acceptable("evil\nheader"));
        assert!(!acceptable("with space"));
    }

    proptest::proptest! {
        /// An id taken from a request goes back out in a header and into every log line: one short visible token.
        #[test]
        fn an_accepted_id_is_a_plain_token(id in crate::hostile::text()) {
            if acceptable(&id) {
                proptest::prop_assert!(crate::hostile::safe_header_text(&id) && !id.contains(' ') && id.len() <= 64);
                proptest::prop_assert!(actix_web::http::header::HeaderValue::from_str(&id).is_ok());
            }
        }
    }
}
