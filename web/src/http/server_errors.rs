//! One log line for every 5xx the application answers: at error level, inside the request's span (so it carries the
//! request id), with the cause: the error chain of the error the response was made from (`AppError::Internal`'s
//! context chain, or actix's own error, such as a header value it refused), or the [`Cause`] a handler that builds
//! its 5xx by hand attaches. Handlers and [`crate::error::AppError`] do not log these themselves: this is the one place.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

/// Why a handler answered a 5xx it built itself (a readiness probe's 503): attach it with [`with_cause`].
#[derive(Debug, Clone)]
pub struct Cause(pub String);

/// `response` with `cause` attached, for the log line of [`middleware`].
pub fn with_cause(mut response: HttpResponse, cause: String) -> HttpResponse {
    response.extensions_mut().insert(Cause(cause));
    response
}

/// The cause of a 5xx response, as one text.
fn cause_of<B>(response: &HttpResponse<B>) -> String {
    if let Some(error) = response.error() {
        // `{:#}`: anyhow prints its whole context chain (AppError::Internal is transparent).
        return format!("{error:#}");
    }
    response.extensions().get::<Cause>().map_or_else(|| "no cause was attached to the response".into(), |c| c.0.clone())
}

/// Middleware (the innermost, so it sees the response its handler made, before error pages replace bodies).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let result = next.call(req).await;
    match &result {
        Ok(response) if response.status().is_server_error() => {
            tracing::error!(status = response.status().as_u16(), error = cause_of(response.response()), "server error");
        }
        Err(error) if error.as_response_error().status_code().is_server_error() => {
            let status = error.as_response_error().status_code().as_u16();
            tracing::error!(status, error = format!("{error:#}"), "server error");
        }
        _ => {}
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;
    use actix_web::ResponseError as _;

    #[test]
    fn the_cause_is_the_whole_chain() {
        let error = anyhow::anyhow!("relation \"notes\" does not exist").context("listing notes");
        let response = HttpResponse::from_error(AppError::Internal(error));
        assert_eq!(cause_of(&response), "listing notes: relation \"notes\" does not exist");
        let response = with_cause(HttpResponse::ServiceUnavailable().finish(), "database: timed out".into());
        assert_eq!(cause_of(&response), "database: timed out");
        assert_eq!(cause_of(&AppError::Unavailable.error_response()), "no cause was attached to the response");
    }
}
