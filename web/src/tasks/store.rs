//! The task tables: `outbox`, `tasks`, `task_runs`, `workers`. Enqueueing lives here so it can only be done the
//! transactional way.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Integer, Jsonb, Text, Timestamptz, Uuid as SqlUuid};

use crate::schema::{outbox, task_runs, tasks, workers};
use crate::tasks::{Envelope, RunState, Task, TaskState};

// The task history (reads, prune) lives in `history`, staff actions (retry, cancel) in `actions`; their names stay
// reachable as `store::...`.
pub use super::actions::{ActionError, RETRY_BATCH, cancel, retry, retry_dead};
pub use super::history::{Pruned, RunRecord, TaskFilter, TaskRecord, get, list, list_query, prune, runs};

/// Enqueues `task`: a `tasks` row and an `outbox` row. Call it inside the transaction of the change that asks for
/// the task; the task then exists if and only if that change commits.
pub async fn enqueue<T: Task>(conn: &mut AsyncPgConnection, task: &T) -> QueryResult<Uuid> {
    let payload = serde_json::to_value(task).map_err(|err| diesel::result::Error::SerializationError(Box::new(err)))?;
    enqueue_value(conn, T::NAME, T::QUEUE, T::MAX_ATTEMPTS, payload).await
}

/// [`enqueue`] for a payload already checked against its task (the `enqueue` command).
pub async fn enqueue_value(
    conn: &mut AsyncPgConnection,
    name: &str,
    queue: &str,
    max_attempts: u32,
    payload: serde_json::Value,
) -> QueryResult<Uuid> {
    let task_id = Uuid::new_v4();
    let max_attempts = i32::try_from(max_attempts).unwrap_or(i32::MAX);
    // One statement writes both rows or neither, with no transaction or savepoint of its own to open and close.
    Enqueue { task_id, name, queue, payload: &payload, max_attempts }.execute(conn).await?;
    Ok(task_id)
}

/// The statement of [`enqueue_value`]: the `tasks` row and, from what it returns, the `outbox` row.
#[derive(Debug)]
struct Enqueue<'a> {
    task_id: Uuid,
    name: &'a str,
    queue: &'a str,
    payload: &'a serde_json::Value,
    max_attempts: i32,
}

impl QueryId for Enqueue<'_> {
    type QueryId = Enqueue<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for Enqueue<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH task AS (INSERT INTO tasks (task_id, task_name, queue, payload, max_attempts) VALUES (");
        out.push_bind_param::<SqlUuid, _>(&self.task_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.name)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.queue)?;
        out.push_sql(", ");
        out.push_bind_param::<Jsonb, _>(self.payload)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.max_attempts)?;
        out.push_sql(") RETURNING task_id, task_name, queue, payload) ");
        out.push_sql("INSERT INTO outbox (task_id, task_name, queue, payload, attempt) ");
        out.push_sql("SELECT task_id, task_name, queue, payload, 1 FROM task");
        Ok(())
    }
}

/// An outbox row claimed by a relay.
#[derive(Debug, Queryable)]
pub struct OutboxRow {
    pub id: i64,
    pub task_id: Uuid,
    pub task_name: String,
    pub queue: String,
    pub payload: serde_json::Value,
    pub attempt: i32,
}

impl OutboxRow {
    pub fn envelope(&self) -> Envelope {
        Envelope {
            task_id: self.task_id,
            task: self.task_name.clone(),
            attempt: u32::try_from(self.attempt).unwrap_or(1),
            payload: self.payload.clone(),
        }
    }
}

/// Locks up to `limit` unpublished rows, skipping rows another relay holds. Call inside a transaction.
pub async fn claim_outbox(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<OutboxRow>> {
    outbox::table
        .filter(outbox::published_at.is_null())
        .order(outbox::id)
        .limit(limit)
        .select((outbox::id, outbox::task_id, outbox::task_name, outbox::queue, outbox::payload, outbox::attempt))
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

pub async fn mark_published(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set(outbox::published_at.eq(Utc::now()))
        .execute(conn)
        .await
}

/// Locks the task's row for the rest of the transaction and returns its state.
pub async fn lock_state(conn: &mut AsyncPgConnection, task_id: Uuid) -> QueryResult<Option<TaskState>> {
    tasks::table.find(task_id).select(tasks::state).for_update().first(conn).await.optional()
}

/// What [`start_run`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The attempt is recorded as this `task_runs` row: run the task.
    Run(i64),
    /// The task succeeded already (a redelivered message): nothing recorded, it must not run again.
    Succeeded,
    /// The task was cancelled: a `skipped` run records that this worker received it and did not run it.
    Cancelled,
}

/// Records the start of an attempt in one statement (one commit): the task is `running` and a `task_runs` row
/// exists. A task that succeeded or was cancelled does not start (see [`Start`]). A message whose `tasks` row is
/// missing (published by hand) gets one.
///
/// That commit does not wait for the WAL flush (`synchronous_commit` off for its transaction alone): the task's own
/// transaction, which commits synchronously before the message is acknowledged, flushes it with everything before
/// it. Only a PostgreSQL crash between the two can lose the record, and then the message, not acknowledged, is
/// delivered again and the attempt recorded anew; what it costs is that crash's attempt not being counted.
pub async fn start_run(
    conn: &mut AsyncPgConnection,
    envelope: &Envelope,
    queue: &str,
    max_attempts: u32,
    worker_id: &str,
) -> QueryResult<Start> {
    let attempt = i32::try_from(envelope.attempt).unwrap_or(i32::MAX);
    let query = StartRun { task_id: envelope.task_id, attempt, task_name: &envelope.task, worker_id };
    let started: Option<i64> = query.get_result(conn).await.optional()?;
    if let Some(run_id) = started {
        return Ok(Start::Run(run_id));
    }
    // Succeeded or cancelled already, or no `tasks` row at all (a message published by hand): the rare path.
    conn.transaction(async |conn| {
        let inserted = diesel::insert_into(tasks::table)
            .values((
                tasks::task_id.eq(envelope.task_id),
                tasks::task_name.eq(&envelope.task),
                tasks::queue.eq(queue),
                tasks::payload.eq(&envelope.payload),
                tasks::state.eq(TaskState::Running),
                tasks::attempts.eq(attempt),
                tasks::max_attempts.eq(i32::try_from(max_attempts).unwrap_or(i32::MAX)),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 0 {
            if lock_state(conn, envelope.task_id).await? != Some(TaskState::Cancelled) {
                return Ok(Start::Succeeded);
            }
            diesel::insert_into(task_runs::table)
                .values((
                    task_runs::task_id.eq(envelope.task_id),
                    task_runs::task_name.eq(&envelope.task),
                    task_runs::attempt.eq(attempt),
                    task_runs::state.eq(RunState::Skipped),
                    task_runs::worker_id.eq(worker_id),
                    task_runs::finished_at.eq(Utc::now()),
                    task_runs::error.eq("cancelled before it ran"),
                ))
                .execute(conn)
                .await?;
            return Ok(Start::Cancelled);
        }
        diesel::insert_into(task_runs::table)
            .values((
                task_runs::task_id.eq(envelope.task_id),
                task_runs::task_name.eq(&envelope.task),
                task_runs::attempt.eq(attempt),
                task_runs::state.eq(RunState::Running),
                task_runs::worker_id.eq(worker_id),
            ))
            .returning(task_runs::id)
            .get_result(conn)
            .await
            .map(Start::Run)
    })
    .await
}

/// Inside the task's transaction, after its effect: the task and its run `run_id` succeeded, in one statement that
/// takes the task row's lock. Committed with the task's effect, so a successful attempt costs one commit beyond
/// [`start_run`]. False when the task had succeeded already (another delivery committed first): the caller rolls
/// back.
pub async fn mark_succeeded(conn: &mut AsyncPgConnection, task_id: Uuid, run_id: i64) -> QueryResult<bool> {
    // The clock now, after the task ran: `now()` would be the transaction's start, before it.
    let marked = MarkSucceeded { task_id, run_id, finished_at: Utc::now() }.execute(conn).await?;
    Ok(marked == 1)
}

/// The statement of [`start_run`]: the task becomes `running` (unless it succeeded or was cancelled) and, only then,
/// its run row is inserted. A typed query rather than `sql_query`, so that it is a cached prepared statement.
#[derive(Debug)]
struct StartRun<'a> {
    task_id: Uuid,
    attempt: i32,
    task_name: &'a str,
    worker_id: &'a str,
}

impl QueryId for StartRun<'_> {
    type QueryId = StartRun<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for StartRun<'_> {
    type SqlType = BigInt;
}

impl QueryFragment<Pg> for StartRun<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH task AS (UPDATE tasks SET state = ");
        out.push_bind_param::<Text, _>(&TaskState::Running)?;
        out.push_sql(", attempts = ");
        out.push_bind_param::<Integer, _>(&self.attempt)?;
        out.push_sql(", updated_at = now() WHERE task_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.task_id)?;
        out.push_sql(" AND state <> ");
        out.push_bind_param::<Text, _>(&TaskState::Succeeded)?;
        out.push_sql(" AND state <> ");
        out.push_bind_param::<Text, _>(&TaskState::Cancelled)?;
        out.push_sql(" RETURNING task_id), ");
        // This statement's implicit transaction commits without waiting for the WAL flush (see `start_run`).
        out.push_sql("no_flush AS (SELECT set_config('synchronous_commit', 'off', true)) ");
        out.push_sql("INSERT INTO task_runs (task_id, task_name, attempt, state, worker_id) SELECT task_id, ");
        out.push_bind_param::<Text, _>(&self.task_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.attempt)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&RunState::Running)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.worker_id)?;
        out.push_sql(" FROM task, no_flush RETURNING id");
        Ok(())
    }
}

/// The statement of [`mark_succeeded`].
#[derive(Debug, QueryId)]
struct MarkSucceeded {
    task_id: Uuid,
    run_id: i64,
    finished_at: DateTime<Utc>,
}

impl QueryFragment<Pg> for MarkSucceeded {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH task AS (UPDATE tasks SET state = ");
        out.push_bind_param::<Text, _>(&TaskState::Succeeded)?;
        out.push_sql(", last_error = NULL, updated_at = ");
        out.push_bind_param::<Timestamptz, _>(&self.finished_at)?;
        out.push_sql(", finished_at = ");
        out.push_bind_param::<Timestamptz, _>(&self.finished_at)?;
        out.push_sql(" WHERE task_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.task_id)?;
        out.push_sql(" AND state <> ");
        out.push_bind_param::<Text, _>(&TaskState::Succeeded)?;
        out.push_sql(" RETURNING task_id) UPDATE task_runs SET state = ");
        out.push_bind_param::<Text, _>(&RunState::Succeeded)?;
        out.push_sql(", finished_at = ");
        out.push_bind_param::<Timestamptz, _>(&self.finished_at)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.run_id)?;
        out.push_sql(" AND EXISTS (SELECT 1 FROM task)");
        Ok(())
    }
}

/// Closes a `task_runs` row.
pub async fn finish_run(
    conn: &mut AsyncPgConnection,
    run_id: i64,
    error: Option<&str>,
    retry_at: Option<DateTime<Utc>>,
) -> QueryResult<()> {
    diesel::update(task_runs::table.find(run_id))
        .set((
            task_runs::state.eq(if error.is_some() { RunState::Failed } else { RunState::Succeeded }),
            task_runs::finished_at.eq(Utc::now()),
            task_runs::error.eq(error),
            task_runs::retry_at.eq(retry_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A failed attempt: `retrying`, or `dead` after the last one. A task that succeeded meanwhile (another delivery of
/// it) stays succeeded.
pub async fn mark_failed(conn: &mut AsyncPgConnection, task_id: Uuid, error: &str, dead: bool) -> QueryResult<()> {
    let now = Utc::now();
    diesel::update(tasks::table.find(task_id).filter(tasks::state.ne(TaskState::Succeeded)))
        .set((
            tasks::state.eq(if dead { TaskState::Dead } else { TaskState::Retrying }),
            tasks::last_error.eq(error),
            tasks::updated_at.eq(now),
            tasks::finished_at.eq(dead.then_some(now)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A worker's heartbeat.
pub async fn heartbeat(
    conn: &mut AsyncPgConnection,
    worker_id: &str,
    hostname: &str,
    queues: &[String],
    concurrency: usize,
    in_flight: usize,
) -> QueryResult<()> {
    let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let concurrency = i32::try_from(concurrency).unwrap_or(i32::MAX);
    let in_flight = i32::try_from(in_flight).unwrap_or(i32::MAX);
    let now = Utc::now();
    diesel::insert_into(workers::table)
        .values((
            workers::worker_id.eq(worker_id),
            workers::hostname.eq(hostname),
            workers::pid.eq(pid),
            workers::queues.eq(queues),
            workers::concurrency.eq(concurrency),
            workers::in_flight.eq(in_flight),
            workers::last_seen_at.eq(now),
            workers::version.eq(env!("CARGO_PKG_VERSION")),
        ))
        .on_conflict(workers::worker_id)
        .do_update()
        .set((workers::in_flight.eq(in_flight), workers::last_seen_at.eq(now)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn worker_stopped(conn: &mut AsyncPgConnection, worker_id: &str) -> QueryResult<()> {
    diesel::update(workers::table.find(worker_id))
        .set((workers::stopped_at.eq(Utc::now()), workers::in_flight.eq(0)))
        .execute(conn)
        .await?;
    Ok(())
}
