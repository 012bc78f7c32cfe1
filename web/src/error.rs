//! The error policy, written once.
//!
//! - Outside the request path (commands, start-up) errors are `anyhow::Error` with context, printed once by `main`.
//! - Model functions return diesel's `QueryResult`; handlers turn the few database errors a client can cause (a unique
//!   violation) into [`AppError`] variants and let every other one become [`AppError::Internal`].
//! - Every HTTP error has a JSON body `{"error": {"code", "message", "fields"?}}`. A client mistake is always a 4xx
//!   naming what was wrong; an internal failure shows the client only a generic message, and its full cause is logged
//!   once, with the request id, by [`crate::http::server_errors`] (the one place every 5xx is logged).

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Field name to what is wrong with it.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request cannot be understood (malformed JSON, unreadable body).
    #[error("{0}")]
    BadRequest(String),
    /// No valid session, or wrong credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated but refused (missing CSRF token, foreign origin).
    #[error("{0}")]
    Forbidden(&'static str),
    /// Unknown route or id, and also someone else's resource: its existence is not revealed.
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A unique value already taken.
    #[error("{message}")]
    Conflict { field: &'static str, message: &'static str },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// An uploaded file of a type the site does not take.
    #[error("{0}")]
    UnsupportedFile(String),
    /// Well-formed input with invalid values.
    #[error("invalid input")]
    Validation(FieldErrors),
    #[error("too many attempts; retry later")]
    TooManyRequests { retry_after: Duration },
    /// A dependency (the database) is down; the client may retry.
    #[error("service temporarily unavailable")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The body of every error answer (`Error` in the OpenAPI document).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub(crate) struct Detail<'a> {
    /// What went wrong, for programs: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `unsupported_media_type`, `validation_failed`,
    /// `too_many_requests`, `unavailable`, `internal_error`.
    #[schema(value_type = String)]
    code: &'a str,
    /// What went wrong, for people.
    message: String,
    /// The fields that were refused, each with its problem (422, 409).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    fields: Option<&'a FieldErrors>,
}

impl AppError {
    /// One invalid field.
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::from([(field.to_string(), problem.into())]))
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict { .. } => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType | Self::UnsupportedFile(_) => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable => "unavailable",
            Self::Internal(cause) if lost_in(cause) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        match err {
            diesel::result::Error::NotFound => Self::NotFound,
            other if connection_lost(&other) => {
                crate::db::connection_lost();
                tracing::warn!(error = %other, "database connection lost during the request");
                Self::Unavailable
            }
            other => Self::Internal(other.into()),
        }
    }
}

/// Whether a connection loss is somewhere in the chain of `cause` (a database error that went through `anyhow`).
fn lost_in(cause: &anyhow::Error) -> bool {
    cause.chain().any(|err| err.downcast_ref::<diesel::result::Error>().is_some_and(connection_lost))
}

/// Whether `err` says the connection to PostgreSQL went away (a restart, a failover, a terminated backend) rather
/// than that the query was wrong: the client gets a 503 it may retry, as when no connection can be had at all.
/// diesel-async reports a connection that fails with no SQLSTATE as `UnableToSendCommand` and keeps the rest of
/// PostgreSQL's codes to itself (`Unknown`), so the server's own FATAL messages for class 57P (operator
/// intervention: "terminating connection due to administrator command", "... the database system is shutting
/// down") are recognised by their text.
pub(crate) fn connection_lost(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            message.starts_with("terminating connection") || message.contains("database system is shutting down")
        }
        Error::RollbackErrorOnCommit { commit_error, .. } => connection_lost(commit_error),
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType | Self::UnsupportedFile(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(cause) if lost_in(cause) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            // The cause is logged once, with the request id, by `http::server_errors`; the client sees none of it.
            Self::Internal(cause) if lost_in(cause) => {
                crate::db::connection_lost();
                Self::Unavailable.to_string()
            }
            Self::Internal(_) => "internal server error".to_string(),
            other => other.to_string(),
        };
        let conflict;
        let fields = match self {
            Self::Validation(fields) => Some(fields),
            Self::Conflict { field, message } => {
                conflict = FieldErrors::from([(field.to_string(), message.to_string())]);
                Some(&conflict)
            }
            _ => None,
        };
        let mut response =
            HttpResponse::build(self.status_code()).json(Body { error: Detail { code: self.code(), message, fields } });
        if let Self::TooManyRequests { retry_after } = self {
            let seconds = retry_after.as_secs().max(1);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
