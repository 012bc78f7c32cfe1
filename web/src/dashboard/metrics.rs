//! The dashboard's `/metrics`: its own HTTP figures plus the state of the task system, read on each scrape:
//! tasks waiting, running or dead by name and state, finished attempts and their run time by task (counted from
//! `task_runs` since this process started, so that they are proper Prometheus counters), queue depths from the
//! management API, workers online, outbox lag, the age of the newest (verified) backup, and each cron job's last
//! result.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use super::overview::Overview;
use super::queues;
use crate::cron::Schedule;
use crate::error::AppResult;
use crate::http::AppState;

/// A run's `finished_at` is stamped before its transaction commits; runs are read again this far back so that one
/// committed late is still counted (once: ids already counted are remembered for this long).
const LATE_COMMIT: Duration = Duration::seconds(30);
/// At most this many finished runs are read per scrape; the rest wait for the next one.
const CATCH_UP_LIMIT: i64 = 100_000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskStateLabels {
    task: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Finished attempts, counted once each as they appear in `task_runs`. Lives as long as the process.
#[derive(Debug)]
pub struct RunCounters {
    runs: Family<TaskStateLabels, Counter>,
    seconds: Family<TaskLabels, Histogram, fn() -> Histogram>,
    watch: Mutex<Watch>,
}

#[derive(Debug)]
struct Watch {
    /// Runs finished from here on are still to be read (less [`LATE_COMMIT`]).
    since: DateTime<Utc>,
    /// Runs already counted that finished after `since - LATE_COMMIT`.
    counted: HashMap<i64, DateTime<Utc>>,
}

impl Default for RunCounters {
    fn default() -> Self {
        Self {
            runs: Family::default(),
            seconds: Family::new_with_constructor(crate::metrics::latency_histogram as fn() -> Histogram),
            watch: Mutex::new(Watch { since: Utc::now(), counted: HashMap::new() }),
        }
    }
}

#[derive(Debug, QueryableByName)]
struct FinishedRun {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    task_name: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Double)]
    seconds: f64,
    #[diesel(sql_type = Timestamptz)]
    finished_at: DateTime<Utc>,
}

impl RunCounters {
    /// Counts the runs finished since the last call.
    async fn catch_up(&self, conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
        let from = self.watch.lock().map(|w| w.since - LATE_COMMIT).unwrap_or_else(|_| Utc::now());
        let rows: Vec<FinishedRun> = diesel::sql_query(
            "SELECT id, task_name, state, extract(epoch FROM finished_at - started_at)::float8 AS seconds, finished_at
               FROM task_runs WHERE finished_at >= $1 AND state <> 'running'
              ORDER BY finished_at LIMIT $2",
        )
        .bind::<Timestamptz, _>(from)
        .bind::<BigInt, _>(CATCH_UP_LIMIT)
        .load(conn)
        .await?;
        let Ok(mut watch) = self.watch.lock() else { return Ok(()) };
        for run in rows {
            if watch.counted.insert(run.id, run.finished_at).is_some() {
                continue;
            }
            self.runs.get_or_create(&TaskStateLabels { task: run.task_name.clone(), state: run.state }).inc();
            self.seconds.get_or_create(&TaskLabels { task: run.task_name }).observe(run.seconds.max(0.0));
            watch.since = watch.since.max(run.finished_at);
        }
        let keep_from = watch.since - LATE_COMMIT;
        watch.counted.retain(|_, finished| *finished >= keep_from);
        Ok(())
    }
}

#[derive(Debug, QueryableByName)]
struct StateCount {
    #[diesel(sql_type = Text)]
    task_name: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// The statement of the `tasks` gauge (for benchmarks to explain, too).
pub fn state_counts_query() -> super::overview::Statement {
    diesel::sql_query(
        "SELECT task_name, state, count(*) AS count FROM tasks
          WHERE state IN ('queued', 'running', 'retrying', 'dead', 'cancelled') GROUP BY 1, 2",
    )
    .into_boxed()
}

fn gauge(value: f64) -> FloatGauge {
    let gauge = FloatGauge::default();
    gauge.set(value);
    gauge
}

/// GET /metrics on the dashboard role (its own port; nginx does not publish it).
pub async fn page(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let now = Utc::now();
    let broker = queues::fetch(&state.http, &state.config.broker).await;
    let mut conn = state.conn().await?;
    state.run_counters.catch_up(&mut conn).await?;
    // Tasks not finished well: a bitmap scan of the small states, however long the succeeded history is.
    let counts: Vec<StateCount> = state_counts_query().load(&mut conn).await?;
    let overview = Overview::load(&mut conn, now).await?;
    let schedule = Schedule::load(&state.config.cron.schedule).unwrap_or(Schedule { jobs: Vec::new() });
    let jobs = super::cron::load(&mut conn, &schedule, now).await?;
    drop(conn);

    let mut registry = Registry::default();
    state.metrics.register(&mut registry);
    let tasks = Family::<TaskStateLabels, Gauge>::default();
    for row in counts {
        tasks.get_or_create(&TaskStateLabels { task: row.task_name, state: row.state }).set(row.count);
    }
    registry.register("tasks", "Tasks now queued, running, retrying, dead or cancelled, by task and state", tasks);
    registry.register(
        "task_runs_finished",
        "Attempts finished since this dashboard started, by task and result",
        state.run_counters.runs.clone(),
    );
    registry.register(
        "task_run_duration_seconds",
        "Run time of the attempts finished since this dashboard started, by task",
        state.run_counters.seconds.clone(),
    );
    let up = Gauge::<i64>::default();
    up.set(i64::from(broker.is_ok()));
    registry.register("rabbitmq_management_up", "1 when RabbitMQ's management API answered this scrape", up);
    let ready = Family::<QueueLabels, Gauge>::default();
    let unacked = Family::<QueueLabels, Gauge>::default();
    let consumers = Family::<QueueLabels, Gauge>::default();
    for queue in broker.iter().flatten() {
        let labels = QueueLabels { queue: queue.name.clone() };
        ready.get_or_create(&labels).set(queue.messages_ready);
        unacked.get_or_create(&labels).set(queue.messages_unacknowledged);
        consumers.get_or_create(&labels).set(queue.consumers);
    }
    registry.register("rabbitmq_queue_messages_ready", "Messages ready in each queue", ready);
    registry.register("rabbitmq_queue_messages_unacknowledged", "Messages delivered, not yet acknowledged", unacked);
    registry.register("rabbitmq_queue_consumers", "Consumers of each queue", consumers);
    registry.register(
        "workers_online",
        "Workers whose heartbeat is recent",
        gauge(overview.counts.workers_online as f64),
    );
    registry.register(
        "outbox_lag_seconds",
        "Age of the oldest unpublished outbox row (0 when all are published)",
        gauge(overview.counts.outbox_lag_secs.unwrap_or(0.0)),
    );
    let age = |backup: &Option<super::backups::BackupRow>| {
        backup.as_ref().map_or(f64::INFINITY, |b| (now - b.created_at).num_milliseconds() as f64 / 1000.0)
    };
    registry.register(
        "backup_newest_age_seconds",
        "Age of the newest backup (+Inf when there is none)",
        gauge(age(&overview.newest_backup)),
    );
    registry.register(
        "backup_newest_verified_age_seconds",
        "Age of the newest verified backup (+Inf when there is none)",
        gauge(age(&overview.newest_verified_backup)),
    );
    let last_ok = Family::<JobLabels, Gauge>::default();
    for job in &jobs {
        if let Some(last) = &job.last {
            last_ok.get_or_create(&JobLabels { job: job.name.clone() }).set(i64::from(last.status == "succeeded"));
        }
    }
    registry.register("cron_last_run_ok", "1 when the job's last finished run succeeded, 0 when it did not", last_ok);
    Ok(crate::metrics::respond(&registry))
}
