//! The monitoring dashboard (the `dashboard` role, `app dashboard`): our Flower, on the history that is already in
//! PostgreSQL. Server-rendered pages under `/monitor/`, staff only, with the site's session login, layout and
//! design system. Every state-changing action is written to `dashboard_actions` in the same transaction.

pub mod api;
pub mod backups;
pub mod chart;
pub mod cron;
pub mod filter;
pub mod metrics;
pub mod overview;
pub mod queues;
pub mod tasks;
pub mod workers;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::error::AppError;
use crate::http::pages::PageUser;
use crate::models::session::ActiveSession;
use crate::schema::dashboard_actions;

/// Every route of the dashboard role.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/monitor").route(web::get().to(|| async {
        actix_web::HttpResponse::PermanentRedirect().insert_header(("Location", "/monitor/")).finish()
    })))
    .service(
        web::scope("/monitor")
            .service(web::resource("/").route(web::get().to(overview::page)))
            .service(web::resource("/tasks").route(web::get().to(tasks::list)))
            .service(web::resource("/tasks/retry-dead").route(web::post().to(tasks::retry_dead)))
            .service(web::resource("/tasks/{id}").route(web::get().to(tasks::detail)))
            .service(web::resource("/tasks/{id}/retry").route(web::post().to(tasks::retry)))
            .service(web::resource("/tasks/{id}/cancel").route(web::post().to(tasks::cancel)))
            .service(web::resource("/workers").route(web::get().to(workers::page)))
            .service(web::resource("/queues").route(web::get().to(queues::page)))
            .service(web::resource("/queues/{queue}/pause").route(web::post().to(queues::pause_queue)))
            .service(web::resource("/queues/{queue}/resume").route(web::post().to(queues::resume_queue)))
            .service(web::resource("/backups").route(web::get().to(backups::page)))
            .service(web::resource("/cron").route(web::get().to(cron::page)))
            .service(web::resource("/api/overview").route(web::get().to(api::overview)))
            .service(web::resource("/api/tasks").route(web::get().to(api::tasks)))
            .service(web::resource("/api/tasks/{id}").route(web::get().to(api::task)))
            .service(web::resource("/api/workers").route(web::get().to(api::workers)))
            .service(web::resource("/api/queues").route(web::get().to(api::queues)))
            .service(web::resource("/api/cron").route(web::get().to(api::cron)))
            .service(web::resource("/api/backups").route(web::get().to(api::backups))),
    )
    .service(web::resource("/static/{path:.*}").route(web::get().to(crate::static_files::serve)))
    .service(web::resource("/metrics").route(web::get().to(metrics::page)))
    .service(web::resource("/healthz").route(web::get().to(crate::http::health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(crate::http::health::readyz)));
}

/// A signed-in staff user. Signed out: 401 (for a browser, the login page); signed in without `is_staff`: 403.
#[derive(Debug)]
pub struct Staff(pub ActiveSession);

impl Staff {
    /// The staff check on a session already found.
    pub fn check(session: ActiveSession) -> Result<Self, AppError> {
        if session.user.is_staff { Ok(Self(session)) } else { Err(AppError::Forbidden("staff only")) }
    }

    /// The check of an action (form posts, which take `SignedForm` for their CSRF check): staff who are admins
    /// (`is_superuser`). Read-only staff get 403.
    pub fn admin(session: ActiveSession) -> Result<Self, AppError> {
        let staff = Self::check(session)?;
        if staff.can_act() {
            Ok(staff)
        } else {
            Err(AppError::Forbidden("read-only staff: an admin (app staff --role admin) can retry or cancel tasks"))
        }
    }

    /// May act (retry, cancel), not only read.
    pub fn can_act(&self) -> bool {
        self.0.user.is_superuser
    }
}

impl FromRequest for Staff {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = PageUser::from_request(req, payload);
        Box::pin(async move { Self::check(signed_in.await?.0) })
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = dashboard_actions)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Action {
    pub user_email: String,
    pub action: String,
    pub task_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Records `action` by `staff` (on `task_id`); call it inside the transaction that makes the change.
pub async fn audit(
    conn: &mut AsyncPgConnection,
    staff: &Staff,
    action: &str,
    task_id: Option<Uuid>,
) -> QueryResult<()> {
    audit_each(conn, staff, action, &[task_id]).await
}

/// Records `action` by `staff` once for each of `task_ids`, in one statement.
pub async fn audit_each(
    conn: &mut AsyncPgConnection,
    staff: &Staff,
    action: &str,
    task_ids: &[Option<Uuid>],
) -> QueryResult<()> {
    let rows: Vec<_> = task_ids
        .iter()
        .map(|task_id| {
            (
                dashboard_actions::user_id.eq(staff.0.user.id),
                dashboard_actions::user_email.eq(&staff.0.user.email),
                dashboard_actions::action.eq(action),
                dashboard_actions::task_id.eq(*task_id),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(dashboard_actions::table).values(&rows).execute(conn).await?;
    }
    Ok(())
}

/// The latest actions on one task, newest first.
pub async fn actions_on(conn: &mut AsyncPgConnection, task_id: Uuid) -> QueryResult<Vec<Action>> {
    dashboard_actions::table
        .filter(dashboard_actions::task_id.eq(task_id))
        .order(dashboard_actions::created_at.desc())
        .limit(50)
        .select(Action::as_select())
        .load(conn)
        .await
}
