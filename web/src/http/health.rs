//! Probes for orchestrators: `/healthz` says the process serves requests (no I/O, so a slow database never gets a
//! healthy process restarted); `/readyz` says it can do useful work (the database answers), 503 otherwise.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db;
use crate::http::AppState;

/// The answer of `/healthz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// `ok`
    pub status: &'static str,
}

/// The answer of `/readyz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ok` or `unavailable`
    pub status: &'static str,
    /// `ok` or `unreachable`
    pub database: &'static str,
}

/// GET /healthz
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "health", summary = "The process serves requests (no I/O)",
    responses((status = 200, description = "Serving", body = Status)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// GET /readyz
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "health", summary = "The process can do useful work (the database answers)",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database does not answer", body = Readiness),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match db::ping(&state.pool, state.config.database.timeout).await {
        Ok(()) => HttpResponse::Ok().json(Readiness { status: "ok", database: "ok" }),
        Err(err) => crate::http::server_errors::with_cause(
            HttpResponse::ServiceUnavailable().json(Readiness { status: "unavailable", database: "unreachable" }),
            format!("readiness check failed: {err:#}"),
        ),
    }
}
