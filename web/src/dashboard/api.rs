//! The dashboard's data as JSON under `/monitor/api/`, for scripts: the same queries as the pages, the same staff
//! check (a request without a session gets the JSON 401, one from a user who is not staff the JSON 403).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Serialize;

use super::{Action, Staff};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::tasks::store::{self, RunRecord, TaskRecord};

#[derive(Debug, Serialize)]
struct OverviewAnswer {
    #[serde(flatten)]
    overview: super::overview::Overview,
    alerts: Vec<String>,
}

/// GET /monitor/api/overview
pub async fn overview(state: web::Data<AppState>, _staff: Staff) -> AppResult<HttpResponse> {
    let now = Utc::now();
    let queues = super::queues::fetch(&state.http, &state.config.broker).await;
    let mut conn = state.conn().await?;
    let overview = super::overview::Overview::load(&mut conn, now).await?;
    let mut alerts = overview.alerts(now);
    alerts.extend(super::overview::queue_alerts(&queues));
    Ok(HttpResponse::Ok().json(OverviewAnswer { overview, alerts }))
}

/// GET /monitor/api/tasks with the task page's filters (`state`, `name`, `queue`, `worker`, `since`, `until`,
/// `min_seconds`, `error`) and `cursor`: `{items, next, per_page}` like the notes API.
pub async fn tasks(
    state: web::Data<AppState>,
    _staff: Staff,
    query: web::Query<super::tasks::ListQuery>,
) -> AppResult<HttpResponse> {
    let (filter, after) = (query.filter()?, query.after()?);
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(store::list(&mut conn, &filter, after, super::tasks::PER_PAGE).await?))
}

#[derive(Debug, Serialize)]
struct TaskAnswer {
    task: TaskRecord,
    runs: Vec<RunRecord>,
    actions: Vec<Action>,
}

/// GET /monitor/api/tasks/{id}
pub async fn task(state: web::Data<AppState>, _staff: Staff, id: web::Path<String>) -> AppResult<HttpResponse> {
    let id = super::tasks::task_id(&id)?;
    let mut conn = state.conn().await?;
    let task = store::get(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let runs = store::runs(&mut conn, id).await?;
    let actions = super::actions_on(&mut conn, id).await?;
    Ok(HttpResponse::Ok().json(TaskAnswer { task, runs, actions }))
}

/// GET /monitor/api/workers
pub async fn workers(state: web::Data<AppState>, _staff: Staff) -> AppResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(super::workers::load(&mut conn, Utc::now()).await?))
}

/// GET /monitor/api/queues: 503 when the management API does not answer.
pub async fn queues(state: web::Data<AppState>, _staff: Staff) -> AppResult<HttpResponse> {
    match super::queues::fetch(&state.http, &state.config.broker).await {
        Ok(queues) => Ok(HttpResponse::Ok().json(queues)),
        Err(problem) => {
            tracing::warn!(%problem, "RabbitMQ's management API did not answer");
            Err(AppError::Unavailable)
        }
    }
}

/// GET /monitor/api/cron
pub async fn cron(state: web::Data<AppState>, _staff: Staff) -> AppResult<HttpResponse> {
    let schedule = crate::cron::Schedule::load(&state.config.cron.schedule)?;
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(super::cron::load(&mut conn, &schedule, Utc::now()).await?))
}

/// GET /monitor/api/backups
pub async fn backups(state: web::Data<AppState>, _staff: Staff) -> AppResult<HttpResponse> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(super::backups::load(&mut conn).await?))
}
