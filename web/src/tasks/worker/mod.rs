//! The worker: consumes task messages, runs each task in a database transaction, acknowledges only after commit,
//! retries failures through the delay queues, dead-letters what cannot succeed, records every attempt, and
//! writes a heartbeat. It reconnects to RabbitMQ and PostgreSQL by itself; on shutdown it stops consuming, lets
//! running tasks finish (up to `WORKER_GRACE_SECS`), acknowledges them, and returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use amqprs::channel::{BasicAckArguments, BasicNackArguments, Channel, ConsumerMessage};
use chrono::Utc;
use diesel_async::AsyncConnection as _;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::broker::{self, Publisher};
use crate::db::{self, DbPool};
use crate::reconnect::{Backoff, pause};
use crate::tasks::{Envelope, Registry, Services, TaskContext, TaskError, TaskKind, pause as paused, store};

mod subscription;
use subscription::Subscription;

/// What the worker shares with every task it runs.
struct Shared {
    services: Services,
    pool: DbPool,
    registry: Registry,
    worker_id: String,
    in_flight: AtomicUsize,
}

/// The queues to consume: those asked for (each must be used by a registered task), or all.
pub fn selected_queues(registry: &Registry, asked: &[String]) -> anyhow::Result<Vec<String>> {
    let known = registry.queues();
    if asked.is_empty() {
        return Ok(known.into_keys().collect());
    }
    for queue in asked {
        if !known.contains_key(queue) {
            let names: Vec<&String> = known.keys().collect();
            anyhow::bail!("WORKER_QUEUES names {queue:?}, which no task uses (known: {names:?})");
        }
    }
    Ok(asked.to_vec())
}

fn worker_id() -> String {
    format!("{}-{}-{}", crate::hostname(), std::process::id(), crate::token::random_hex(3))
}

/// Runs until `shutdown` turns true and running tasks are done (or the grace period is over).
pub async fn run(
    services: Services,
    pool: DbPool,
    registry: Registry,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let config = services.config.clone();
    let queues = selected_queues(&registry, &config.worker.queues)?;
    let shared = Arc::new(Shared { services, pool, registry, worker_id: worker_id(), in_flight: AtomicUsize::new(0) });
    tracing::info!(worker_id = %shared.worker_id, ?queues, concurrency = config.worker.concurrency, "worker starting");

    // The paused queues, read before consuming and then with every heartbeat.
    let initial = match db::conn(&shared.pool).await {
        Ok(mut conn) => paused::names(&mut conn).await.unwrap_or_default(),
        Err(_) => BTreeSet::new(),
    };
    let (pauses, mut paused_queues) = watch::channel(initial);
    let heartbeat = tokio::spawn(heartbeat_loop(shared.clone(), queues.clone(), pauses, shutdown.clone()));
    let mut running = JoinSet::new();
    let mut backoff = Backoff::default();
    let mut stop = shutdown.clone();
    while !*stop.borrow() {
        match consume(&shared, &queues, &mut running, &mut stop, &mut paused_queues, &mut backoff).await {
            Ok(()) => break,
            Err(err) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = format!("{err:#}"), retry_in_ms = delay.as_millis(), "worker disconnected");
                if pause(delay, &mut stop).await {
                    break;
                }
            }
        }
    }
    // Tasks still running from a lost connection: let them finish within the grace period too.
    drain(&mut running, config.worker.grace).await;
    heartbeat.abort();
    if let Ok(mut conn) = db::conn(&shared.pool).await
        && let Err(err) = store::worker_stopped(&mut conn, &shared.worker_id).await
    {
        tracing::warn!(error = %err, "could not record the worker's stop");
    }
    tracing::info!(worker_id = %shared.worker_id, "worker stopped");
    Ok(())
}

async fn drain(running: &mut JoinSet<()>, grace: Duration) {
    if running.is_empty() {
        return;
    }
    tracing::info!(running = running.len(), grace_secs = grace.as_secs(), "waiting for running tasks");
    let finished = tokio::time::timeout(grace, async { while running.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        tracing::warn!(
            abandoned = running.len(),
            "grace period over; abandoning running tasks (their messages are redelivered)"
        );
        running.abort_all();
    }
}

/// One connection's worth of consuming. `Ok` means shutdown was requested and running tasks were drained.
async fn consume(
    shared: &Arc<Shared>,
    queues: &[String],
    running: &mut JoinSet<()>,
    shutdown: &mut watch::Receiver<bool>,
    paused_queues: &mut watch::Receiver<BTreeSet<String>>,
    backoff: &mut Backoff,
) -> anyhow::Result<()> {
    let paused_now = paused_queues.borrow_and_update().clone();
    let mut subscription = Subscription::open(shared, queues, &paused_now).await?;
    tracing::info!("worker connected to RabbitMQ");
    backoff.reset();
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => {
                subscription.close(running, shared.services.config.worker.grace).await;
                return Ok(());
            }
            () = subscription.broker.lost() => anyhow::bail!("RabbitMQ connection lost"),
            Ok(()) = paused_queues.changed() => {
                let paused_now = paused_queues.borrow_and_update().clone();
                subscription.follow(queues, &paused_now).await?;
            }
            delivery = subscription.deliveries.recv() => {
                let Some(message) = delivery else { anyhow::bail!("RabbitMQ stopped delivering (channel closed)") };
                let (shared, channel) = (shared.clone(), subscription.channel.clone());
                let publisher = subscription.publisher.clone();
                running.spawn(async move { handle(&shared, &channel, &publisher, message).await });
            }
            Some(joined) = running.join_next(), if !running.is_empty() => {
                if let Err(err) = joined
                    && err.is_panic()
                {
                    tracing::error!(error = %err, "a task panicked; its message will be redelivered");
                }
            }
        }
    }
}

/// What to tell the broker about a delivery.
#[derive(Debug)]
enum Verdict {
    Ack,
    /// Not processed (a dependency is down): back to the queue, attempts unchanged.
    Requeue(String),
}

async fn handle(shared: &Shared, channel: &Channel, publisher: &Publisher, message: ConsumerMessage) {
    let Some(deliver) = message.deliver else { return };
    let tag = deliver.delivery_tag();
    let body = message.content.unwrap_or_default();
    shared.in_flight.fetch_add(1, Ordering::Relaxed);
    let verdict = process(shared, publisher, &body).await;
    shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    let result = match verdict {
        Verdict::Ack => channel.basic_ack(BasicAckArguments::new(tag, false)).await,
        Verdict::Requeue(reason) => {
            tracing::warn!(%reason, "task not processed; requeueing after a pause");
            tokio::time::sleep(Duration::from_secs(1)).await;
            channel.basic_nack(BasicNackArguments::new(tag, false, true)).await
        }
    };
    if let Err(err) = result {
        // The channel is gone: the broker redelivers the message, and idempotency makes that safe.
        tracing::warn!(error = %err, "could not acknowledge; the message will be redelivered");
    }
}

async fn process(shared: &Shared, publisher: &Publisher, body: &[u8]) -> Verdict {
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(err) => {
            tracing::error!(error = %err, "message is not a task envelope; dead-lettering it");
            return dead_letter_raw(publisher, body.to_vec(), "malformed").await;
        }
    };
    let span =
        tracing::info_span!("task", task_id = %envelope.task_id, task = %envelope.task, attempt = envelope.attempt);
    async {
        let Some(kind) = shared.registry.get(&envelope.task).copied() else {
            let error = format!("unknown task {:?}", envelope.task);
            tracing::error!(%error, "dead-lettering");
            let verdict = dead_letter_raw(publisher, body.to_vec(), &envelope.task_id.to_string()).await;
            if let Ok(mut conn) = db::conn(&shared.pool).await {
                let _ = store::mark_failed(&mut conn, envelope.task_id, &error, true).await;
            }
            return verdict;
        };
        run_one(shared, publisher, &envelope, kind).await
    }
    .instrument(span)
    .await
}

enum RunError {
    Database(diesel::result::Error),
    Task(TaskError),
    /// Another delivery of the same task committed first: this one's effect is rolled back.
    AlreadyDone,
}

impl From<diesel::result::Error> for RunError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Database(err)
    }
}

async fn run_one(shared: &Shared, publisher: &Publisher, envelope: &Envelope, kind: TaskKind) -> Verdict {
    let mut conn = match db::conn(&shared.pool).await {
        Ok(conn) => conn,
        Err(err) => return Verdict::Requeue(format!("{err:#}")),
    };
    let run_id = match store::start_run(&mut conn, envelope, kind.queue, kind.max_attempts, &shared.worker_id).await {
        Ok(store::Start::Run(id)) => id,
        Ok(store::Start::Succeeded) => {
            tracing::info!("already succeeded; acknowledging without running again");
            return Verdict::Ack;
        }
        Ok(store::Start::Cancelled) => {
            tracing::info!("cancelled; acknowledging without running it");
            return Verdict::Ack;
        }
        Err(err) => return Verdict::Requeue(format!("recording the run: {err}")),
    };
    let started = Instant::now();
    let result = execute(&mut conn, &shared.services, envelope, kind, run_id).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    drop(conn);
    let (error, dead) = match result {
        Ok(()) => {
            tracing::info!(elapsed_ms, "task succeeded");
            return Verdict::Ack;
        }
        Err(RunError::AlreadyDone) => {
            // A duplicate that started a run while the first delivery was still running: close its run.
            tracing::info!("a duplicate delivery found the task already succeeded; its effect is rolled back");
            record(shared, run_id, None, None).await;
            return Verdict::Ack;
        }
        Err(RunError::Task(TaskError::Payload(err))) => (format!("payload does not match the task: {err}"), true),
        Err(RunError::Task(TaskError::Failed(err))) => (format!("{err:#}"), envelope.attempt >= kind.max_attempts),
        Err(RunError::Database(err)) => (format!("database: {err}"), envelope.attempt >= kind.max_attempts),
    };
    let failure = Failure { run_id, error, dead, elapsed_ms };
    fail(shared, publisher, envelope, kind, failure).await
}

/// Runs the task in a transaction that also marks it and its run succeeded. A delivery whose task succeeded before
/// it started never gets here ([`store::start_run`]); of two deliveries running at once (the first one's broker
/// connection dropped mid-task), the second waits on the task row's lock in [`store::mark_succeeded`] until the
/// first commits, then finds the task succeeded and rolls its own effect back.
async fn execute(
    conn: &mut db::DbConn,
    services: &Services,
    envelope: &Envelope,
    kind: TaskKind,
    run_id: i64,
) -> Result<(), RunError> {
    conn.transaction(async |conn| {
        let mut ctx = TaskContext { conn: &mut *conn, task_id: envelope.task_id, attempt: envelope.attempt, services };
        let timeout = services.config.worker.task_timeout;
        match tokio::time::timeout(timeout, kind.run(envelope.payload.clone(), &mut ctx)).await {
            Ok(result) => result.map_err(RunError::Task)?,
            Err(_) => {
                let err = anyhow::anyhow!("timed out after {}s (TASK_TIMEOUT_SECS)", timeout.as_secs());
                return Err(RunError::Task(TaskError::Failed(err)));
            }
        }
        if !store::mark_succeeded(conn, envelope.task_id, run_id).await? {
            return Err(RunError::AlreadyDone);
        }
        Ok(())
    })
    .await
}

/// A failed attempt, as [`fail`] routes it.
struct Failure {
    run_id: i64,
    error: String,
    /// No attempt left (or retrying cannot help): dead-letter instead of retrying.
    dead: bool,
    elapsed_ms: f64,
}

/// Hands a failed attempt to its retry queue (or the dead-letter queue) and records it. The message is
/// acknowledged only once the broker has confirmed the hand-over.
async fn fail(
    shared: &Shared,
    publisher: &Publisher,
    envelope: &Envelope,
    kind: TaskKind,
    failure: Failure,
) -> Verdict {
    let Failure { run_id, error, dead, elapsed_ms } = failure;
    let config = &shared.services.config.worker;
    let next = Envelope { attempt: envelope.attempt + 1, ..envelope.clone() };
    let (routing_key, retry_at) = if dead {
        (broker::DEAD_QUEUE.to_string(), None)
    } else {
        let delay = broker::retry_delay(config.retry_base, config.retry_max, envelope.attempt);
        let retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        (broker::retry_queue_name(kind.queue, envelope.attempt), Some(retry_at))
    };
    let body = if dead { serde_json::to_vec(envelope) } else { serde_json::to_vec(&next) }.unwrap_or_default();
    let properties = broker::message_properties(&envelope.task_id.to_string());
    // The default exchange routes by queue name.
    if let Err(err) = publisher.publish("", &routing_key, properties, body, broker::CONFIRM_TIMEOUT).await {
        return Verdict::Requeue(format!("could not hand the failed task to {routing_key}: {err:#}"));
    }
    if dead {
        tracing::error!(%error, elapsed_ms, "task failed for the last time; dead-lettered");
    } else {
        tracing::warn!(%error, elapsed_ms, retry_at = ?retry_at, "task failed; will retry");
    }
    record(shared, run_id, Some(&error), retry_at).await;
    if let Ok(mut conn) = db::conn(&shared.pool).await
        && let Err(err) = store::mark_failed(&mut conn, envelope.task_id, &error, dead).await
    {
        tracing::warn!(error = %err, "could not record the task's failure");
    }
    Verdict::Ack
}

/// Closes the run's row; a database hiccup here loses only bookkeeping, never the task.
async fn record(shared: &Shared, run_id: i64, error: Option<&str>, retry_at: Option<chrono::DateTime<Utc>>) {
    match db::conn(&shared.pool).await {
        Ok(mut conn) => {
            if let Err(err) = store::finish_run(&mut conn, run_id, error, retry_at).await {
                tracing::warn!(error = %err, run_id, "could not record the end of the run");
            }
        }
        Err(err) => tracing::warn!(error = format!("{err:#}"), run_id, "could not record the end of the run"),
    }
}

async fn dead_letter_raw(publisher: &Publisher, body: Vec<u8>, message_id: &str) -> Verdict {
    let properties = broker::message_properties(message_id);
    match publisher.publish("", broker::DEAD_QUEUE, properties, body, broker::CONFIRM_TIMEOUT).await {
        Ok(()) => Verdict::Ack,
        Err(err) => Verdict::Requeue(format!("could not dead-letter: {err:#}")),
    }
}

/// Records the heartbeat every `HEARTBEAT_SECS`, and reads the paused queues with it.
async fn heartbeat_loop(
    shared: Arc<Shared>,
    queues: Vec<String>,
    pauses: watch::Sender<BTreeSet<String>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let interval = shared.services.config.worker.heartbeat;
    let concurrency = shared.services.config.worker.concurrency;
    let host = crate::hostname();
    let mut failing = false;
    loop {
        let beat = async {
            let mut conn = db::conn(&shared.pool).await?;
            let in_flight = shared.in_flight.load(Ordering::Relaxed);
            store::heartbeat(&mut conn, &shared.worker_id, &host, &queues, concurrency, in_flight).await?;
            let now = paused::names(&mut conn).await?;
            pauses.send_if_modified(|current| {
                let changed = *current != now;
                *current = now;
                changed
            });
            anyhow::Ok(())
        };
        let result = beat.await;
        if result.is_ok()
            && let Some(path) = &shared.services.config.worker.health_file
        {
            crate::health_file::report(path);
        }
        match result {
            Ok(()) if failing => {
                tracing::info!("heartbeat recorded again");
                failing = false;
            }
            Ok(()) => {}
            Err(err) if !failing => {
                tracing::warn!(error = format!("{err:#}"), "cannot record the heartbeat");
                failing = true;
            }
            Err(_) => {}
        }
        if pause(interval, &mut shutdown).await {
            return;
        }
    }
}
