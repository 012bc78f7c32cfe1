//! The worker role and the outbox relay it runs.

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Vars};

/// The worker role and the outbox relay it runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Tasks run at once by one worker process (also the RabbitMQ prefetch). 32 by measurement (`bench/`): a worker
    /// waits on commits far more than on CPU; its pool grows to hold a connection for each.
    pub concurrency: usize,
    /// Queues to consume; empty means every queue a registered task uses.
    pub queues: Vec<String>,
    /// After SIGTERM, how long running tasks may take before the worker exits anyway (they are redelivered).
    pub grace: Duration,
    /// Delay before the first retry; doubles with each attempt up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often the relay looks for unpublished outbox rows when it found none.
    pub outbox_poll: Duration,
    pub outbox_batch: i64,
    pub heartbeat: Duration,
    /// A task running longer than this fails (and is retried like any failure).
    pub task_timeout: Duration,
    /// Touched with every recorded heartbeat; `app healthcheck --file` checks its age.
    pub health_file: Option<PathBuf>,
    /// How long `app tasks prune` keeps succeeded tasks (with their runs) and the rows of stopped workers.
    pub retention: Duration,
}

impl WorkerConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let queues = vars
            .raw("WORKER_QUEUES")
            .map(|raw| raw.split(',').map(str::trim).filter(|q| !q.is_empty()).map(String::from).collect())
            .unwrap_or_default();
        Ok(Self {
            concurrency: vars.positive("WORKER_CONCURRENCY", 32)?,
            queues,
            grace: Duration::from_secs(vars.or("WORKER_GRACE_SECS", 30)?),
            retry_base: Duration::from_millis(vars.positive("TASK_RETRY_BASE_MS", 2000)?),
            retry_max: Duration::from_millis(vars.positive("TASK_RETRY_MAX_MS", 3_600_000)?),
            outbox_poll: Duration::from_millis(vars.positive("OUTBOX_POLL_MS", 500)?),
            outbox_batch: vars.positive("OUTBOX_BATCH", 100)?,
            heartbeat: Duration::from_secs(vars.positive("HEARTBEAT_SECS", 5)?),
            task_timeout: Duration::from_secs(vars.positive("TASK_TIMEOUT_SECS", 900)?),
            health_file: vars.optional("HEALTH_FILE")?,
            retention: Duration::from_secs(86_400 * vars.positive("TASK_RETENTION_DAYS", 30)?),
        })
    }
}
