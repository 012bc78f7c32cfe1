//! `app enqueue <task> <json>`: queues a task by name, through the outbox like any other. An unknown task or a
//! payload that does not fit it is refused and nothing is written.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use web::config::{DatabaseConfig, Vars};
use web::db;
use web::tasks;

#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Task name, e.g. `probe` (see `app tasks names`).
    task: String,
    /// The task's payload as JSON, e.g. '{"sleep_ms": 100}'.
    #[arg(default_value = "{}")]
    payload: String,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    let registry = tasks::registry();
    let Some(kind) = registry.get(&opts.task) else {
        let names: Vec<&str> = registry.kinds().map(|kind| kind.name).collect();
        anyhow::bail!("unknown task {:?}; known tasks: {}", opts.task, names.join(", "));
    };
    let payload: serde_json::Value =
        serde_json::from_str(&opts.payload).map_err(|err| anyhow::anyhow!("payload is not JSON: {err}"))?;
    kind.check(&payload).map_err(|err| anyhow::anyhow!("payload does not fit task {}: {err}", kind.name))?;
    let database = DatabaseConfig::from_vars(&Vars::from_env())?;
    let pool = db::pool(&database)?;
    let mut conn = db::conn(&pool).await?;
    let task_id = tasks::enqueue_value(&mut conn, kind.name, kind.queue, kind.max_attempts, payload).await?;
    println!("{task_id}");
    Ok(ExitCode::SUCCESS)
}
