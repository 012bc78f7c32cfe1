//! The overview: what needs attention (alerts in red at the top), then tasks per minute over the last hour,
//! task counts, workers online, outbox lag, the newest backup and cron failures. Read from the tables the worker,
//! relay and cron write; nothing here is kept in memory between requests.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, Timelike as _, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::Staff;
use super::backups::BackupRow;
use super::chart::{self, Minute};
use super::queues::{self, Queue};
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::pages::{Layout, render};

/// A raw statement with its binds, as the pages run it and benchmarks explain it.
pub type Statement = diesel::query_builder::BoxedSqlQuery<'static, diesel::pg::Pg, diesel::query_builder::SqlQuery>;

/// Outbox rows older than this unpublished: the relay is stuck or the broker is down.
pub const OUTBOX_LAG_ALERT_SECS: f64 = 60.0;
/// The newest verified backup must be younger than this (a nightly job, with slack).
pub const BACKUP_AGE_ALERT_HOURS: i64 = 26;
/// A worker whose heartbeat is older than this is not counted as online.
pub const WORKER_ONLINE_SECS: i64 = 30;

#[derive(Debug, QueryableByName)]
struct MinuteRow {
    #[diesel(sql_type = Timestamptz)]
    minute: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    succeeded: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
}

#[derive(Debug, Default, QueryableByName, Serialize)]
pub struct Counts {
    #[diesel(sql_type = BigInt)]
    pub queued: i64,
    #[diesel(sql_type = BigInt)]
    pub running: i64,
    #[diesel(sql_type = BigInt)]
    pub retrying: i64,
    #[diesel(sql_type = BigInt)]
    pub dead: i64,
    #[diesel(sql_type = BigInt)]
    pub workers_online: i64,
    /// Seconds since the oldest unpublished outbox row was written; `None` when everything is published.
    #[diesel(sql_type = Nullable<Double>)]
    pub outbox_lag_secs: Option<f64>,
    #[diesel(sql_type = BigInt)]
    pub cron_failures_24h: i64,
}

#[derive(Debug, QueryableByName, Serialize)]
pub struct FailedJob {
    #[diesel(sql_type = Text)]
    pub job: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
}

/// Everything the overview shows, also the JSON of `/monitor/api/overview` once it exists.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub counts: Counts,
    /// The last 60 minutes, oldest first.
    pub minutes: Vec<Minute>,
    pub newest_backup: Option<BackupRow>,
    pub newest_verified_backup: Option<BackupRow>,
    /// Cron jobs whose last finished run failed or timed out.
    pub failed_jobs: Vec<FailedJob>,
    /// Task queues paused from the dashboard.
    pub paused: Vec<crate::tasks::pause::Paused>,
}

impl Overview {
    /// The statement of the counts at `now` (for benchmarks to explain, too).
    pub fn counts_query(now: DateTime<Utc>) -> Statement {
        diesel::sql_query(
            "SELECT
               (SELECT count(*) FROM tasks WHERE state = 'queued') AS queued,
               (SELECT count(*) FROM tasks WHERE state = 'running') AS running,
               (SELECT count(*) FROM tasks WHERE state = 'retrying') AS retrying,
               (SELECT count(*) FROM tasks WHERE state = 'dead') AS dead,
               (SELECT count(*) FROM workers
                 WHERE stopped_at IS NULL AND last_seen_at > $1 - make_interval(secs => $2)) AS workers_online,
               (SELECT extract(epoch FROM $1 - min(created_at))::float8 FROM outbox
                 WHERE published_at IS NULL) AS outbox_lag_secs,
               (SELECT count(*) FROM cron_runs
                 WHERE status IN ('failed', 'timed_out', 'interrupted') AND started_at > $1 - interval '24 hours') AS cron_failures_24h",
        )
        .into_boxed()
        .bind::<Timestamptz, _>(now)
        .bind::<Double, _>(WORKER_ONLINE_SECS as f64)
    }

    /// The statement of the chart: attempts finished per minute from `hour_ago`.
    pub fn minutes_query(hour_ago: DateTime<Utc>) -> Statement {
        diesel::sql_query(
            "SELECT date_trunc('minute', finished_at) AS minute,
                    count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
                    count(*) FILTER (WHERE state = 'failed') AS failed
               FROM task_runs
              WHERE started_at >= $1 - interval '1 hour' AND finished_at >= $1
              GROUP BY 1",
        )
        .into_boxed()
        .bind::<Timestamptz, _>(hour_ago)
    }

    pub async fn load(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> diesel::QueryResult<Self> {
        let counts = Self::counts_query(now).get_result::<Counts>(conn).await?;
        let hour_ago = minute_of(now) - Duration::minutes(59);
        let rows = Self::minutes_query(hour_ago).load::<MinuteRow>(conn).await?;
        let mut minutes = vec![Minute::default(); 60];
        for row in rows {
            let index = (row.minute - hour_ago).num_minutes();
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| minutes.get_mut(i)) {
                *slot = Minute { succeeded: row.succeeded, failed: row.failed };
            }
        }
        let newest = |verified: bool| {
            diesel::sql_query(format!(
                "SELECT name, url, size, sha256, created_at, verified_at, verify_ok, verify_error FROM backups {}
                  ORDER BY created_at DESC LIMIT 1",
                if verified { "WHERE verify_ok" } else { "" }
            ))
        };
        let newest_backup = newest(false).get_result::<BackupRow>(conn).await.optional_row()?;
        let newest_verified_backup = newest(true).get_result::<BackupRow>(conn).await.optional_row()?;
        let failed_jobs = diesel::sql_query(
            "SELECT job, status, started_at FROM (
               SELECT DISTINCT ON (job) job, status, started_at FROM cron_runs
                WHERE status NOT IN ('running', 'skipped') ORDER BY job, started_at DESC) last
              WHERE status IN ('failed', 'timed_out', 'interrupted') ORDER BY job",
        )
        .load::<FailedJob>(conn)
        .await?;
        let paused = crate::tasks::pause::list(conn).await?;
        Ok(Self { counts, minutes, newest_backup, newest_verified_backup, failed_jobs, paused })
    }

    /// What needs a person, most urgent first.
    pub fn alerts(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut alerts = Vec::new();
        if self.counts.workers_online == 0 {
            alerts.push("No worker is online: queued tasks are not running.".to_string());
        }
        if let Some(lag) = self.counts.outbox_lag_secs.filter(|lag| *lag > OUTBOX_LAG_ALERT_SECS) {
            alerts.push(format!(
                "The outbox is {lag:.0} s behind: tasks are not reaching RabbitMQ (is the relay or the broker down?)."
            ));
        }
        if self.counts.dead > 0 {
            alerts.push(format!("{} dead-lettered task(s) wait for a retry.", self.counts.dead));
        }
        match &self.newest_verified_backup {
            None => alerts.push("No verified backup yet.".to_string()),
            Some(backup) if now - backup.created_at > Duration::hours(BACKUP_AGE_ALERT_HOURS) => alerts.push(format!(
                "The newest verified backup is {} hours old (more than {BACKUP_AGE_ALERT_HOURS}).",
                (now - backup.created_at).num_hours()
            )),
            Some(_) => {}
        }
        for pause in &self.paused {
            alerts.push(format!(
                "The queue {} is paused (by {}, {}): its tasks wait until it is resumed on the queues page.",
                pause.queue,
                pause.paused_by,
                pause.paused_at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        for job in &self.failed_jobs {
            alerts.push(format!("The cron job {} {} on its last run.", job.job, job.status.replace('_', " ")));
        }
        alerts
    }
}

fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(at)
}

/// `get_result` on a query that may find no row.
trait OptionalRow<T> {
    fn optional_row(self) -> diesel::QueryResult<Option<T>>;
}

impl<T> OptionalRow<T> for diesel::QueryResult<T> {
    fn optional_row(self) -> diesel::QueryResult<Option<T>> {
        match self {
            Ok(row) => Ok(Some(row)),
            Err(diesel::result::Error::NotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

#[derive(Template)]
#[template(path = "monitor/overview.html")]
struct OverviewPage<'a> {
    layout: &'a Layout,
    overview: &'a Overview,
    alerts: &'a [String],
    chart: String,
    backup_age: Option<String>,
    /// Messages ready in the task queues (retry queues aside); `None` when the broker did not answer.
    ready: Option<i64>,
}

/// Alerts from the broker: a queue whose messages nobody takes, or no answer at all.
pub fn queue_alerts(queues: &Result<Vec<Queue>, String>) -> Vec<String> {
    match queues {
        Err(problem) => vec![format!("RabbitMQ's management API did not answer: {problem}")],
        Ok(queues) => queues
            .iter()
            .filter(|queue| queue.stuck())
            .map(|queue| {
                format!("The queue {} has {} ready message(s) and no consumer.", queue.name, queue.messages_ready)
            })
            .collect(),
    }
}

/// GET /monitor/
pub async fn page(req: HttpRequest, state: web::Data<AppState>, staff: Staff) -> AppResult<HttpResponse> {
    let now = Utc::now();
    let queues = queues::fetch(&state.http, &state.config.broker).await;
    let mut conn = state.conn().await?;
    let overview = Overview::load(&mut conn, now).await?;
    let mut alerts = overview.alerts(now);
    alerts.extend(queue_alerts(&queues));
    let ready = queues
        .as_ref()
        .ok()
        .map(|qs| qs.iter().filter(|q| !q.name.contains(".retry.")).map(|q| q.messages_ready).sum::<i64>());
    let layout = Layout::new(&req, &state, Some(&staff.0));
    let backup_age = overview.newest_backup.as_ref().map(|b| age(now - b.created_at));
    let chart = chart::bars(&overview.minutes);
    render(
        &layout,
        StatusCode::OK,
        &OverviewPage { layout: &layout, overview: &overview, alerts: &alerts, chart, backup_age, ready },
    )
}

/// "3 h 12 min", "45 s".
pub fn age(elapsed: Duration) -> String {
    let secs = elapsed.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}
