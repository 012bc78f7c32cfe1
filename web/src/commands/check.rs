//! `app check`: validates the configuration and the connections the roles need, like Django's `check --deploy`.
//! Prints one line per check and exits 1 when any fails, so deploy scripts can gate on it.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use web::config::{Config, Environment};
use web::db;

#[derive(Debug, clap::Args)]
pub struct Opts {}

struct Report {
    failures: usize,
}

impl Report {
    fn ok(&self, what: &str) {
        println!("ok    {what}");
    }

    fn fail(&mut self, what: &str, problem: &str) {
        self.failures += 1;
        println!("FAIL  {what}: {problem}");
    }
}

/// Passwords that must never guard a database outside a developer's machine.
const WEAK_PASSWORDS: &[&str] = &["", "app", "postgres", "password", "changeme", "secret"];

pub async fn run(_opts: Opts) -> anyhow::Result<ExitCode> {
    let mut report = Report { failures: 0 };
    let config = match Config::from_env() {
        Ok(config) => {
            report.ok("configuration");
            config
        }
        Err(err) => {
            report.fail("configuration", &err.to_string());
            return Ok(ExitCode::FAILURE);
        }
    };
    if config.environment != Environment::Local {
        deployment_settings(&config, &mut report);
    }
    database(&config, &mut report).await?;
    broker(&config, &mut report).await;

    if report.failures == 0 {
        println!("All checks passed.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{} check(s) failed.", report.failures);
        Ok(ExitCode::FAILURE)
    }
}

/// Settings that are fine on a developer's machine and wrong anywhere else.
fn deployment_settings(config: &Config, report: &mut Report) {
    match db::url_password(config.database.url.expose()).unwrap_or_default() {
        password if WEAK_PASSWORDS.contains(&password) => {
            report.fail("database password", "DATABASE_URL uses a default or empty password");
        }
        _ => report.ok("database password"),
    }
    if config.http.bind_address.is_loopback() {
        report.fail("bind address", "BIND_ADDRESS is a loopback address; a proxy in another container cannot reach it");
    } else {
        report.ok("bind address");
    }
}

/// The database answers, and every migration is applied.
async fn database(config: &Config, report: &mut Report) -> anyhow::Result<()> {
    let pool = db::pool(&config.database)?;
    if let Err(err) = db::ping(&pool, config.database.timeout).await {
        report.fail("database reachable", &db::redact(&format!("{err:#}"), config.database.url.expose()));
        return Ok(());
    }
    report.ok("database reachable");
    let url = config.database.url.expose().to_string();
    match tokio::task::spawn_blocking(move || db::pending_migrations(&url)).await? {
        Ok(pending) if pending.is_empty() => report.ok("migrations applied"),
        Ok(pending) => report.fail(
            "migrations applied",
            &format!("{} pending ({}); run `app migrate`", pending.len(), pending.join(", ")),
        ),
        Err(err) => report.fail("migrations applied", &format!("{err:#}")),
    }
    Ok(())
}

async fn broker(config: &Config, report: &mut Report) {
    let connect = web::broker::Broker::connect(&config.broker, "app check");
    match tokio::time::timeout(config.database.timeout, connect).await {
        Ok(Ok(broker)) => {
            broker.close().await;
            report.ok("RabbitMQ reachable");
        }
        Ok(Err(err)) => report.fail("RabbitMQ reachable", &format!("{err:#}")),
        Err(_) => report.fail("RabbitMQ reachable", "no answer in time"),
    }
}
