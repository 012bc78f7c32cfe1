//! The command line: one subcommand per role and per management command.

mod check;
mod createsuperuser;
mod enqueue;
mod migrate;
mod server;
mod tasks;
mod worker;

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
    /// Apply pending database migrations.
    Migrate(migrate::Opts),
    /// Create a staff user; does nothing when the e-mail already exists.
    Createsuperuser(createsuperuser::Opts),
    /// Check configuration and connectivity; exits non-zero on any problem.
    Check(check::Opts),
    /// Run background tasks and the outbox relay (the `worker` role).
    Worker(worker::Opts),
    /// Queue a task by name with a JSON payload.
    Enqueue(enqueue::Opts),
    /// List, inspect and retry background tasks.
    Tasks(tasks::Opts),
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Server(opts) => server::run(opts).await,
            Command::Migrate(opts) => migrate::run(opts).await,
            Command::Createsuperuser(opts) => createsuperuser::run(opts).await,
            Command::Check(opts) => check::run(opts).await,
            Command::Worker(opts) => worker::run(opts).await,
            Command::Enqueue(opts) => enqueue::run(opts).await,
            Command::Tasks(opts) => tasks::run(opts).await,
        }
    }
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
