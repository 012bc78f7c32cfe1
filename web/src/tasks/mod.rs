//! Background tasks, as Celery does them for Django, built so that no task is ever lost.
//!
//! - A task is a serde type implementing [`Task`]: a static name, a queue, a maximum number of attempts, and `run`.
//!   Adding one is a file in this folder plus one line in [`registry`].
//! - [`enqueue`] writes the task into the `outbox` table **in the caller's transaction**, next to the business change
//!   that asked for it; [`relay`] publishes outbox rows to RabbitMQ with publisher confirms. A broker outage delays
//!   tasks and loses none.
//! - The [`worker`] runs a task inside a database transaction that also marks it succeeded, and acknowledges the
//!   message only after that commit. A message delivered again after its effect was committed (the worker died
//!   between commit and ack) is acknowledged without running: every task id has its effect at most once, and, since
//!   unacknowledged messages are redelivered, at least once. Effects outside PostgreSQL (an e-mail) are at least
//!   once: they may repeat if the worker dies between sending and committing.
//! - Failures are retried with exponential backoff through delay queues; after the last attempt the message goes to
//!   the dead-letter queue (`app tasks retry` takes it back). Every attempt is a row in `task_runs`.

mod actions;
/// The project's own tasks: one file each in `src/tasks/app/` (`template/task` adds one), registered by the build.
pub mod app {
    include!(concat!(env!("OUT_DIR"), "/app_tasks.rs"));
}
pub mod create_note;
pub mod dead_letters;
mod history;
pub mod pause;
pub mod probe;
pub mod relay;
pub mod send_email;
mod state;
pub mod store;
pub mod worker;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::mail::Mailer;

pub use state::{RunState, TaskState};
pub use store::{enqueue, enqueue_value};

/// Every task type the worker can run. One line per task.
pub fn registry() -> Registry {
    app::register(
        Registry::default()
            .register::<probe::Probe>()
            .register::<send_email::SendEmail>()
            .register::<create_note::CreateNote>()
            .register::<crate::media::tasks::DeleteFiles>()
            .register::<crate::media::tasks::Sweep>(),
    )
}

/// A kind of background work.
pub trait Task: Serialize + DeserializeOwned + Send + 'static {
    /// Stable name stored with every message; renaming it orphans queued tasks.
    const NAME: &'static str;
    /// RabbitMQ queue (`tasks.<QUEUE>`); workers can be started for some queues only.
    const QUEUE: &'static str = "default";
    /// Attempts before the task is dead-lettered.
    const MAX_ATTEMPTS: u32 = 5;

    /// Does the work. Database changes go through `ctx.conn`, inside the transaction that also records the task as
    /// succeeded, so they commit exactly once. An error is retried (with backoff) until `MAX_ATTEMPTS`.
    fn run(self, ctx: &mut TaskContext<'_>) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// What a running task may use.
pub struct TaskContext<'a> {
    /// A connection inside the task's transaction.
    pub conn: &'a mut AsyncPgConnection,
    pub task_id: Uuid,
    pub attempt: u32,
    pub services: &'a Services,
}

impl std::fmt::Debug for TaskContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext").field("task_id", &self.task_id).field("attempt", &self.attempt).finish()
    }
}

/// Long-lived resources shared by every task a worker runs.
#[derive(Debug, Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub mailer: Mailer,
}

/// Why a task did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The payload does not fit the task: retrying cannot help, so it is dead-lettered at once.
    #[error("payload does not match the task: {0}")]
    Payload(serde_json::Error),
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

type Runner = for<'a, 'b> fn(serde_json::Value, &'a mut TaskContext<'b>) -> BoxFuture<'a, Result<(), TaskError>>;

fn run_task<'a, 'b, T: Task>(
    payload: serde_json::Value,
    ctx: &'a mut TaskContext<'b>,
) -> BoxFuture<'a, Result<(), TaskError>> {
    Box::pin(async move {
        let task: T = serde_json::from_value(payload).map_err(TaskError::Payload)?;
        task.run(ctx).await.map_err(TaskError::Failed)
    })
}

fn check_payload<T: Task>(payload: &serde_json::Value) -> Result<(), serde_json::Error> {
    T::deserialize(payload).map(drop)
}

/// A registered task type, usable without knowing its Rust type.
#[derive(Clone, Copy)]
pub struct TaskKind {
    pub name: &'static str,
    pub queue: &'static str,
    pub max_attempts: u32,
    check: fn(&serde_json::Value) -> Result<(), serde_json::Error>,
    run: Runner,
}

impl std::fmt::Debug for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskKind")
            .field("name", &self.name)
            .field("queue", &self.queue)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

impl TaskKind {
    /// Whether `payload` deserializes into this task.
    pub fn check(&self, payload: &serde_json::Value) -> Result<(), serde_json::Error> {
        (self.check)(payload)
    }

    pub fn run<'a, 'b>(
        &self,
        payload: serde_json::Value,
        ctx: &'a mut TaskContext<'b>,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        (self.run)(payload, ctx)
    }
}

/// Task types by name.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    kinds: BTreeMap<&'static str, TaskKind>,
}

impl Registry {
    /// Adds `T`. Two tasks with one name is a programming error caught by the tests.
    pub fn register<T: Task>(mut self) -> Self {
        let previous = self.kinds.insert(
            T::NAME,
            TaskKind {
                name: T::NAME,
                queue: T::QUEUE,
                max_attempts: T::MAX_ATTEMPTS.max(1),
                check: check_payload::<T>,
                run: run_task::<T>,
            },
        );
        assert!(previous.is_none(), "task name {} registered twice", T::NAME);
        self
    }

    pub fn get(&self, name: &str) -> Option<&TaskKind> {
        self.kinds.get(name)
    }

    pub fn kinds(&self) -> impl Iterator<Item = &TaskKind> {
        self.kinds.values()
    }

    /// Every queue with the number of retry levels it needs (the largest `max_attempts - 1` of its tasks).
    pub fn queues(&self) -> BTreeMap<String, u32> {
        let mut queues = BTreeMap::new();
        for kind in self.kinds.values() {
            let levels = queues.entry(kind.queue.to_string()).or_insert(0);
            *levels = (*levels).max(kind.max_attempts - 1);
        }
        queues
    }
}

/// The message body on RabbitMQ.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub task_id: Uuid,
    pub task: String,
    /// 1 for the first run.
    pub attempt: u32,
    pub payload: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_knows_every_task_and_its_queue() {
        let registry = registry();
        let probe = registry.get(probe::Probe::NAME).expect("probe registered");
        assert_eq!(probe.queue, "default");
        assert!(probe.check(&serde_json::json!({})).is_ok());
        assert!(probe.check(&serde_json::json!({ "sleep_ms": "soon" })).is_err());
        assert!(registry.get("no.such.task").is_none());
        assert!(registry.queues().contains_key("default"));
    }
}
