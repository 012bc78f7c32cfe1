//! The cron page: every job of the schedule (`CRON_SCHEDULE` and its `schedule.d`) with its next run, its last
//! finished run (status, duration, output tail), the runs skipped in 24 h because a lock was held, and whether its
//! latest due run is missing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::Staff;
use crate::cron::Schedule;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::pages::{Layout, render};

/// A due run not started within this long of its time counts as missed.
const SLACK: i64 = 2;

#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct LastRun {
    #[diesel(sql_type = Text)]
    pub job: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub finished_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub output_tail: Option<String>,
}

#[derive(Debug, QueryableByName)]
struct Skips {
    #[diesel(sql_type = Text)]
    job: String,
    #[diesel(sql_type = BigInt)]
    skipped: i64,
}

#[derive(Debug, QueryableByName)]
struct Oldest {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

/// One job as the page shows it.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub name: String,
    pub schedule: String,
    pub steps: String,
    pub next: Option<DateTime<Utc>>,
    pub last: Option<LastRun>,
    pub skipped_24h: i64,
    /// The latest due run (before now, minus slack) has no run recorded, though cron was recording runs by then.
    pub missed: bool,
}

fn cron_of(expression: &str) -> Option<croner::Cron> {
    croner::parser::CronParser::builder().seconds(croner::parser::Seconds::Required).build().parse(expression).ok()
}

/// The jobs of `schedule` with what `cron_runs` says of them.
pub async fn load(
    conn: &mut AsyncPgConnection,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<JobView>> {
    let last_runs: Vec<LastRun> = diesel::sql_query(
        "SELECT DISTINCT ON (job) job, status, started_at, finished_at, output_tail FROM cron_runs
          WHERE status NOT IN ('running', 'skipped') ORDER BY job, started_at DESC",
    )
    .load(conn)
    .await?;
    let skips: Vec<Skips> = diesel::sql_query(
        "SELECT job, count(*) AS skipped FROM cron_runs
          WHERE status = 'skipped' AND started_at > $1 - interval '24 hours' GROUP BY job",
    )
    .bind::<Timestamptz, _>(now)
    .load(conn)
    .await?;
    let oldest: Oldest = diesel::sql_query("SELECT min(started_at) AS at FROM cron_runs").get_result(conn).await?;
    let latest_start: Vec<LastRun> = diesel::sql_query(
        "SELECT DISTINCT ON (job) job, status, started_at, finished_at, output_tail FROM cron_runs
          ORDER BY job, started_at DESC",
    )
    .load(conn)
    .await?;
    Ok(schedule
        .jobs
        .iter()
        .map(|job| {
            let cron = cron_of(&job.schedule);
            let next = cron.as_ref().and_then(|c| c.find_next_occurrence(&now, false).ok());
            let due =
                cron.as_ref().and_then(|c| c.find_previous_occurrence(&(now - Duration::minutes(SLACK)), true).ok());
            let started = latest_start.iter().find(|run| run.job == job.name).map(|run| run.started_at);
            let missed = match (due, oldest.at) {
                (Some(due), Some(oldest)) if due > oldest => started.is_none_or(|at| at < due - Duration::minutes(1)),
                _ => false,
            };
            JobView {
                name: job.name.clone(),
                schedule: job.schedule.clone(),
                steps: job.steps.iter().map(|step| step.join(" ")).collect::<Vec<_>>().join(" && "),
                next,
                last: last_runs.iter().find(|run| run.job == job.name).cloned(),
                skipped_24h: skips.iter().find(|s| s.job == job.name).map_or(0, |s| s.skipped),
                missed,
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "monitor/cron.html")]
struct CronPage<'a> {
    layout: &'a Layout,
    jobs: &'a [JobView],
    /// The schedule could not be read: why.
    problem: Option<String>,
}

impl CronPage<'_> {
    fn took(&self, run: &LastRun) -> String {
        run.finished_at.map_or_else(
            || "-".to_string(),
            |end| format!("{:.1} s", (end - run.started_at).num_milliseconds() as f64 / 1000.0),
        )
    }
}

/// GET /monitor/cron
pub async fn page(req: HttpRequest, state: web::Data<AppState>, staff: Staff) -> AppResult<HttpResponse> {
    let now = Utc::now();
    let path = state.config.cron.schedule.clone();
    let (schedule, problem) = match Schedule::load(&path) {
        Ok(schedule) => (schedule, None),
        Err(err) => (Schedule { jobs: Vec::new() }, Some(format!("{err:#}"))),
    };
    let mut conn = state.conn().await?;
    let jobs = load(&mut conn, &schedule, now).await?;
    let layout = Layout::new(&req, &state, Some(&staff.0));
    render(&layout, StatusCode::OK, &CronPage { layout: &layout, jobs: &jobs, problem })
}
