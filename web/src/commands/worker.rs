//! `app worker`: the background role (what a Celery worker is to Django). Consumes task queues and runs the outbox
//! relay beside them. SIGTERM or SIGINT: stop consuming, finish running tasks within `WORKER_GRACE_SECS`, exit 0.

use std::process::ExitCode;
use std::sync::Arc;

use web::config::Config;
use web::mail::Mailer;
use web::tasks::{self, Services};
use web::{db, telemetry};

#[derive(Debug, clap::Args)]
pub struct Opts {}

pub async fn run(_opts: Opts) -> anyhow::Result<ExitCode> {
    let config = Arc::new(Config::from_env()?);
    telemetry::init(&config.log);
    // Every running task holds a connection for its transaction; the relay and the heartbeat need one more each.
    let mut database = config.database.clone();
    database.pool_size = database.pool_size.max(config.worker.concurrency + 2);
    let pool = db::pool(&database)?;
    let services = Services { mailer: Mailer::from_config(&config.mail)?, config: config.clone() };
    let registry = tasks::registry();
    let shutdown = super::shutdown_signal()?;

    let relay = {
        let (config, pool, registry, shutdown) = (config.clone(), pool.clone(), registry.clone(), shutdown.clone());
        tokio::spawn(async move { tasks::relay::run(&config, &pool, &registry, shutdown).await })
    };
    tasks::worker::run(services, pool, registry, shutdown).await?;
    relay.await?;
    Ok(ExitCode::SUCCESS)
}
