//! The task history as people and the dashboard read it: tasks and their attempts, filtered, listed by keyset
//! pages, pruned when old. What staff do to tasks (retry, cancel) is in `actions`. The worker's own bookkeeping (claiming, starting, finishing) is in `store`.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::data_types::PgInterval;
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Interval, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::models::keyset::{self, Keyset, Page};
use crate::schema::{task_runs, tasks, workers};
use crate::tasks::{RunState, TaskState};

/// A task as `app tasks list` and the dashboard show it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = tasks)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct TaskRecord {
    pub task_id: Uuid,
    pub task_name: String,
    pub queue: String,
    pub payload: serde_json::Value,
    pub state: TaskState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl TaskRecord {
    /// The history's order key: latest activity first.
    pub fn key(&self) -> Keyset {
        Keyset { at: self.updated_at, id: self.task_id }
    }
}

/// Which tasks a history listing shows. Every filter set must hold.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub state: Option<TaskState>,
    /// The task's registered name, exactly.
    pub name: Option<String>,
    /// The queue, exactly.
    pub queue: Option<String>,
    /// Some attempt ran on this worker (its id, as the workers page shows it).
    pub worker: Option<String>,
    /// Last activity at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Last activity before this time.
    pub until: Option<DateTime<Utc>>,
    /// Some attempt took at least this long.
    pub min_duration: Option<TimeDelta>,
    /// The last error contains this text (any case).
    pub error: Option<String>,
}

impl TaskFilter {
    /// The tasks this filter shows, as a query to order, page or update.
    pub fn query(&self) -> tasks::BoxedQuery<'static, Pg> {
        let mut query = tasks::table.into_boxed();
        if let Some(state) = self.state {
            query = query.filter(tasks::state.eq(state));
        }
        if let Some(name) = &self.name {
            query = query.filter(tasks::task_name.eq(name.clone()));
        }
        if let Some(queue) = &self.queue {
            query = query.filter(tasks::queue.eq(queue.clone()));
        }
        if let Some(since) = self.since {
            query = query.filter(tasks::updated_at.ge(since));
        }
        if let Some(until) = self.until {
            query = query.filter(tasks::updated_at.lt(until));
        }
        if let Some(text) = &self.error {
            query = query.filter(tasks::last_error.is_not_null()).filter(tasks::last_error.ilike(contains(text)));
        }
        // Correlated EXISTS over the task's attempts: diesel's DSL cannot name the outer table inside a subquery.
        if let Some(worker) = &self.worker {
            query = query.filter(
                sql::<Bool>("EXISTS (SELECT 1 FROM task_runs r WHERE r.task_id = tasks.task_id AND r.worker_id = ")
                    .bind::<Text, _>(worker.clone())
                    .sql(")"),
            );
        }
        if let Some(min) = self.min_duration {
            let interval = PgInterval::from_microseconds(min.num_microseconds().unwrap_or(i64::MAX));
            query = query.filter(
                sql::<Bool>(
                    "EXISTS (SELECT 1 FROM task_runs r WHERE r.task_id = tasks.task_id \
                     AND r.finished_at - r.started_at >= ",
                )
                .bind::<Interval, _>(interval)
                .sql(")"),
            );
        }
        query
    }
}

/// A LIKE pattern matching `text` anywhere, its wildcards taken literally.
fn contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A page of the task history, latest activity first, as `filter` says, starting after `after`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &TaskFilter,
    after: Option<Keyset>,
    per_page: i64,
) -> QueryResult<Page<TaskRecord>> {
    let rows = list_query(filter, after, per_page).load(conn).await?;
    Ok(Page::from_rows(rows, per_page, TaskRecord::key))
}

/// The statement of [`list`] (one row more than a page, to know whether another follows), for benchmarks to
/// explain.
pub fn list_query(
    filter: &TaskFilter,
    after: Option<Keyset>,
    per_page: i64,
) -> diesel::dsl::Select<tasks::BoxedQuery<'static, Pg>, diesel::dsl::AsSelect<TaskRecord, Pg>> {
    let mut query = filter.query().order((tasks::updated_at.desc(), tasks::task_id.desc())).limit(per_page + 1);
    if let Some(cursor) = after {
        query = query.filter(keyset::after(tasks::updated_at, tasks::task_id, cursor));
    }
    query.select(TaskRecord::as_select())
}

pub async fn get(conn: &mut AsyncPgConnection, task_id: Uuid) -> QueryResult<Option<TaskRecord>> {
    tasks::table.find(task_id).select(TaskRecord::as_select()).first(conn).await.optional()
}

/// One attempt of a task, as the dashboard's task detail shows it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = task_runs)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct RunRecord {
    pub attempt: i32,
    pub state: RunState,
    pub worker_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// Every attempt of a task, first to last.
pub async fn runs(conn: &mut AsyncPgConnection, task_id: Uuid) -> QueryResult<Vec<RunRecord>> {
    task_runs::table
        .filter(task_runs::task_id.eq(task_id))
        .order(task_runs::id.asc())
        .select(RunRecord::as_select())
        .load(conn)
        .await
}

/// What [`prune`] deleted (or, in a dry run, would delete).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub tasks: usize,
    pub workers: usize,
}

/// Rows deleted per statement, so that a large prune never holds long locks.
const PRUNE_BATCH: i64 = 5_000;

/// Deletes succeeded and cancelled tasks finished before `before` (their runs go with them) and the rows of workers silent since
/// before then (a stopped worker's last heartbeat precedes its stop). Dead tasks stay: they wait for
/// `app tasks retry`.
pub async fn prune(conn: &mut AsyncPgConnection, before: DateTime<Utc>, dry_run: bool) -> QueryResult<Pruned> {
    // For succeeded and cancelled tasks `updated_at` is the finish time, and it is indexed with the state.
    let old_tasks = || {
        tasks::table
            .filter(tasks::state.eq_any([TaskState::Succeeded, TaskState::Cancelled]))
            .filter(tasks::updated_at.lt(before))
    };
    let gone_workers = || workers::table.filter(workers::last_seen_at.lt(before));
    if dry_run {
        let tasks = old_tasks().count().get_result::<i64>(conn).await?;
        let workers = gone_workers().count().get_result::<i64>(conn).await?;
        return Ok(Pruned {
            tasks: usize::try_from(tasks).unwrap_or_default(),
            workers: usize::try_from(workers).unwrap_or_default(),
        });
    }
    let mut pruned = Pruned::default();
    loop {
        let batch: Vec<Uuid> = old_tasks().select(tasks::task_id).limit(PRUNE_BATCH).load(conn).await?;
        if batch.is_empty() {
            break;
        }
        pruned.tasks += diesel::delete(tasks::table.filter(tasks::task_id.eq_any(&batch))).execute(conn).await?;
    }
    pruned.workers = diesel::delete(gone_workers()).execute(conn).await?;
    Ok(pruned)
}
