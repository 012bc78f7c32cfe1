//! Workers from their heartbeats: online (seen within [`ONLINE_SECS`]), stale (silent longer, not stopped: killed
//! or cut off), offline (stopped cleanly). Rows silent for more than [`FORGET_HOURS`] leave the list (Flower keeps
//! dead workers forever); `app tasks prune` deletes them later.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::Staff;
use super::overview::{WORKER_ONLINE_SECS, age};
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::pages::{Layout, render};

/// A worker silent this long is no longer listed.
pub const FORGET_HOURS: i32 = 1;

#[derive(Debug, QueryableByName, Serialize)]
pub struct WorkerRow {
    #[diesel(sql_type = Text)]
    pub worker_id: String,
    #[diesel(sql_type = Text)]
    pub hostname: String,
    #[diesel(sql_type = Integer)]
    pub pid: i32,
    #[diesel(sql_type = Array<Text>)]
    pub queues: Vec<String>,
    #[diesel(sql_type = Integer)]
    pub concurrency: i32,
    #[diesel(sql_type = Integer)]
    pub in_flight: i32,
    #[diesel(sql_type = Text)]
    pub version: String,
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub last_seen_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub stopped_at: Option<DateTime<Utc>>,
    /// Attempts that succeeded in the last 24 hours.
    #[diesel(sql_type = BigInt)]
    pub succeeded: i64,
    /// Attempts that failed in the last 24 hours.
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
}

impl WorkerRow {
    /// `online`, `stale` or `offline` at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.stopped_at.is_some() {
            "offline"
        } else if (now - self.last_seen_at).num_seconds() <= WORKER_ONLINE_SECS {
            "online"
        } else {
            "stale"
        }
    }
}

/// The statement of [`load`] (for benchmarks to explain, too): the workers seen within [`FORGET_HOURS`], running
/// ones first, with their attempts of the last 24 hours.
pub fn load_query(now: DateTime<Utc>) -> super::overview::Statement {
    diesel::sql_query(
        "SELECT w.worker_id, w.hostname, w.pid, w.queues, w.concurrency, w.in_flight, w.version, w.started_at,
                w.last_seen_at, w.stopped_at, coalesce(r.succeeded, 0) AS succeeded, coalesce(r.failed, 0) AS failed
           FROM workers w
           LEFT JOIN (SELECT worker_id,
                             count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
                             count(*) FILTER (WHERE state = 'failed') AS failed
                        FROM task_runs WHERE started_at > $1 - interval '24 hours' GROUP BY worker_id) r
             USING (worker_id)
          WHERE w.last_seen_at > $1 - make_interval(hours => $2)
          ORDER BY w.stopped_at IS NOT NULL, w.last_seen_at DESC",
    )
    .into_boxed()
    .bind::<Timestamptz, _>(now)
    .bind::<Integer, _>(FORGET_HOURS)
}

pub async fn load(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> diesel::QueryResult<Vec<WorkerRow>> {
    load_query(now).load(conn).await
}

#[derive(Template)]
#[template(path = "monitor/workers.html")]
struct WorkersPage<'a> {
    layout: &'a Layout,
    workers: &'a [WorkerRow],
    now: DateTime<Utc>,
}

impl WorkersPage<'_> {
    fn seen(&self, worker: &WorkerRow) -> String {
        age(self.now - worker.last_seen_at)
    }
}

/// GET /monitor/workers
pub async fn page(req: HttpRequest, state: web::Data<AppState>, staff: Staff) -> AppResult<HttpResponse> {
    let now = Utc::now();
    let mut conn = state.conn().await?;
    let workers = load(&mut conn, now).await?;
    let layout = Layout::new(&req, &state, Some(&staff.0));
    render(&layout, StatusCode::OK, &WorkersPage { layout: &layout, workers: &workers, now })
}
