//! The command line: one subcommand per role and per management command.

mod backup;
mod check;
mod createsuperuser;
mod cron;
mod dashboard;
mod enqueue;
mod healthcheck;
mod migrate;
mod server;
mod staff;
mod tasks;
mod worker;

// The scheduled management commands of `src/commands/scheduled/`, found by `build.rs`.
mod scheduled {
    include!(concat!(env!("OUT_DIR"), "/scheduled_commands.rs"));
}

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "app", version, about = "The application: its roles and management commands")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (the `web` role).
    Server(server::Opts),
    /// Serve the monitoring dashboard under /monitor/ (the `dashboard` role; staff only).
    Dashboard(dashboard::Opts),
    /// Apply pending database migrations.
    Migrate(migrate::Opts),
    /// Create a staff user who is also an admin of the dashboard; does nothing when the e-mail already exists.
    Createsuperuser(createsuperuser::Opts),
    /// Set an account's dashboard role: admin, read-only or none.
    Staff(staff::Opts),
    /// Check configuration and connectivity; exits non-zero on any problem.
    Check(check::Opts),
    /// Run background tasks and the outbox relay (the `worker` role).
    Worker(worker::Opts),
    /// Queue a task by name with a JSON payload.
    Enqueue(enqueue::Opts),
    /// List, inspect and retry background tasks.
    Tasks(tasks::Opts),
    /// Back up, list, restore, verify and prune database backups.
    Backup(backup::Opts),
    /// Container health probe: the web role's /healthz, or the age of a worker or cron health file.
    Healthcheck(healthcheck::Opts),
    /// Run the scheduled jobs of cron/schedule.toml (the `cron` role), or one job now.
    Cron(cron::Opts),
    #[command(flatten)]
    Scheduled(scheduled::Scheduled),
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Server(opts) => server::run(opts).await,
            Command::Dashboard(opts) => dashboard::run(opts).await,
            Command::Migrate(opts) => migrate::run(opts).await,
            Command::Createsuperuser(opts) => createsuperuser::run(opts).await,
            Command::Staff(opts) => staff::run(opts).await,
            Command::Check(opts) => check::run(opts).await,
            Command::Worker(opts) => worker::run(opts).await,
            Command::Enqueue(opts) => enqueue::run(opts).await,
            Command::Tasks(opts) => tasks::run(opts).await,
            Command::Backup(opts) => backup::run(opts).await,
            Command::Cron(opts) => cron::run(opts).await,
            Command::Healthcheck(opts) => healthcheck::run(opts).await,
            Command::Scheduled(command) => command.run().await,
        }
    }
}

/// A channel that turns true on SIGTERM or SIGINT.
pub fn shutdown_signal() -> anyhow::Result<tokio::sync::watch::Receiver<bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (sender, receiver) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
            _ = int.recv() => tracing::info!("SIGINT received; shutting down"),
        }
        let _ = sender.send(true);
    });
    Ok(receiver)
}

/// Prints an error with its whole context chain and returns the failure exit code.
#[allow(clippy::print_stderr)]
pub fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
