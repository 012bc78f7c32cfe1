//! Probes for orchestrators: `/healthz` says the process serves requests (no I/O, so a slow database never gets a
//! healthy process restarted); `/readyz` says it can do useful work (the database answers), 503 otherwise.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::db;
use crate::http::AppState;

/// GET /healthz
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// GET /readyz
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match db::ping(&state.pool, state.config.database.timeout).await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok" })),
        Err(err) => {
            tracing::warn!(error = format!("{err:#}"), "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable", "database": "unreachable" }))
        }
    }
}
