//! What staff do to tasks, from `app tasks retry` and the dashboard: retry a dead task, retry every dead task a
//! filter shows, cancel a task that is still waiting. Each one is a single transaction; a retried task gets a new
//! outbox row in it, so it is published exactly when the change commits.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::history::{TaskFilter, TaskRecord};
use crate::schema::{outbox, tasks};
use crate::tasks::TaskState;

/// Why a task could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no task with id {0}")]
    Unknown(Uuid),
    /// The task is not in a state the action applies to (it is in the second field).
    #[error("task {0} is {1}")]
    WrongState(Uuid, TaskState),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Takes a dead task back: state `queued`, attempts from 1 again, a new outbox row. Its earlier runs stay in
/// `task_runs`.
pub async fn retry(conn: &mut AsyncPgConnection, task_id: Uuid) -> Result<TaskRecord, ActionError> {
    conn.transaction(async |conn| match requeue(conn, &[task_id]).await?.pop() {
        Some(task) => Ok(task),
        None => Err(why_not(conn, task_id).await),
    })
    .await
}

/// At most this many tasks per "retry every dead task" action: one transaction of bounded size. The page says
/// when more remain.
pub const RETRY_BATCH: i64 = 1_000;

/// Retries the dead tasks `filter` shows (its state is ignored: only dead tasks are taken), latest first, at most
/// `limit` of them, in one transaction.
pub async fn retry_dead(conn: &mut AsyncPgConnection, filter: &TaskFilter, limit: i64) -> QueryResult<Vec<TaskRecord>> {
    let filter = TaskFilter { state: Some(TaskState::Dead), ..filter.clone() };
    conn.transaction(async |conn| {
        let ids: Vec<Uuid> = filter
            .query()
            .order((tasks::updated_at.desc(), tasks::task_id.desc()))
            .limit(limit)
            .select(tasks::task_id)
            .load(conn)
            .await?;
        requeue(conn, &ids).await
    })
    .await
}

/// Queues the dead tasks among `ids` again, each with a new outbox row; call inside a transaction. The state is
/// checked in the UPDATE itself, so a task retried meanwhile by someone else is left alone.
async fn requeue(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<TaskRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let requeued: Vec<TaskRecord> =
        diesel::update(tasks::table.filter(tasks::task_id.eq_any(ids)).filter(tasks::state.eq(TaskState::Dead)))
            .set((
                tasks::state.eq(TaskState::Queued),
                tasks::attempts.eq(0),
                tasks::updated_at.eq(Utc::now()),
                tasks::finished_at.eq(None::<DateTime<Utc>>),
            ))
            .returning(TaskRecord::as_returning())
            .get_results(conn)
            .await?;
    let rows: Vec<_> = requeued
        .iter()
        .map(|task| {
            (
                outbox::task_id.eq(task.task_id),
                outbox::task_name.eq(&task.task_name),
                outbox::queue.eq(&task.queue),
                outbox::payload.eq(&task.payload),
                outbox::attempt.eq(1),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(outbox::table).values(&rows).execute(conn).await?;
    }
    Ok(requeued)
}

/// Cancels a task that is still waiting (`queued` or `retrying`): it becomes `cancelled`, and the worker that
/// receives its message records a `skipped` run instead of running it. A running task cannot be cancelled.
pub async fn cancel(conn: &mut AsyncPgConnection, task_id: Uuid) -> Result<TaskRecord, ActionError> {
    let now = Utc::now();
    let cancelled = diesel::update(tasks::table.find(task_id))
        .filter(tasks::state.eq_any([TaskState::Queued, TaskState::Retrying]))
        .set((
            tasks::state.eq(TaskState::Cancelled),
            tasks::updated_at.eq(now),
            tasks::finished_at.eq(Some::<DateTime<Utc>>(now)),
        ))
        .returning(TaskRecord::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match cancelled {
        Some(task) => Ok(task),
        None => Err(why_not(conn, task_id).await),
    }
}

/// Why an action's UPDATE matched nothing: no such task, or its state.
async fn why_not(conn: &mut AsyncPgConnection, task_id: Uuid) -> ActionError {
    match tasks::table.find(task_id).select(tasks::state).first(conn).await.optional() {
        Ok(Some(state)) => ActionError::WrongState(task_id, state),
        Ok(None) => ActionError::Unknown(task_id),
        Err(err) => err.into(),
    }
}
