//! The task history as people and the dashboard read it: tasks and their attempts, listed by keyset pages,
//! retried when dead, pruned when old. The worker's own bookkeeping (claiming, starting, finishing) is in `store`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use super::store::insert_outbox;
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

/// Which tasks a history listing shows.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub state: Option<TaskState>,
    /// The task's registered name, exactly.
    pub name: Option<String>,
}

/// A page of the task history, latest activity first, as `filter` says, starting after `after`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &TaskFilter,
    after: Option<Keyset>,
    per_page: i64,
) -> QueryResult<Page<TaskRecord>> {
    let mut query = tasks::table
        .order((tasks::updated_at.desc(), tasks::task_id.desc()))
        .limit(per_page + 1)
        .select(TaskRecord::as_select())
        .into_boxed();
    if let Some(state) = filter.state {
        query = query.filter(tasks::state.eq(state));
    }
    if let Some(name) = &filter.name {
        query = query.filter(tasks::task_name.eq(name.clone()));
    }
    if let Some(cursor) = after {
        query = query.filter(keyset::after(tasks::updated_at, tasks::task_id, cursor));
    }
    Ok(Page::from_rows(query.load(conn).await?, per_page, TaskRecord::key))
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

/// Why a dead task cannot be retried.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no task with id {0}")]
    Unknown(Uuid),
    #[error("task {0} is {1}, not dead-lettered; only dead tasks can be retried")]
    NotDead(Uuid, TaskState),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Takes a dead task back: state `queued`, attempts from 1 again, a new outbox row. Its earlier runs stay in
/// `task_runs`.
pub async fn retry(conn: &mut AsyncPgConnection, task_id: Uuid) -> Result<TaskRecord, RetryError> {
    conn.transaction(async |conn| {
        let task: TaskRecord = tasks::table
            .find(task_id)
            .select(TaskRecord::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(RetryError::Unknown(task_id))?;
        if task.state != TaskState::Dead {
            return Err(RetryError::NotDead(task_id, task.state));
        }
        let task = diesel::update(tasks::table.find(task_id))
            .set((
                tasks::state.eq(TaskState::Queued),
                tasks::attempts.eq(0),
                tasks::updated_at.eq(Utc::now()),
                tasks::finished_at.eq(None::<DateTime<Utc>>),
            ))
            .returning(TaskRecord::as_returning())
            .get_result(conn)
            .await?;
        insert_outbox(conn, task.task_id, &task.task_name, &task.queue, &task.payload, 1).await?;
        Ok(task)
    })
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

/// Deletes succeeded tasks finished before `before` (their runs go with them) and the rows of workers silent since
/// before then (a stopped worker's last heartbeat precedes its stop). Dead tasks stay: they wait for
/// `app tasks retry`.
pub async fn prune(conn: &mut AsyncPgConnection, before: DateTime<Utc>, dry_run: bool) -> QueryResult<Pruned> {
    // For succeeded tasks `updated_at` is the finish time, and it is indexed with the state.
    let old_tasks = || tasks::table.filter(tasks::state.eq(TaskState::Succeeded)).filter(tasks::updated_at.lt(before));
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
