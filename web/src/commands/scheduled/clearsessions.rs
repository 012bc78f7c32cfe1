//! Delete expired sessions, spent mail tokens, old login counters and outbox rows published a week ago.
//!
//! Scheduled nightly by `cron/schedule.toml`. Files in this folder become `app` subcommands by themselves (see
//! `web/build.rs`); `template/cron-command` generates new ones.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use web::db::Database;
use web::config::{DatabaseConfig, Vars};

#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Login-attempt counters older than this many hours are deleted.
    #[arg(long, default_value_t = 24)]
    attempts_older_than_hours: i32,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    let database = Database::from_url(&DatabaseConfig::from_vars(&Vars::from_env())?.url)?;
    let client = database.connect().await?;
    let sessions = client.execute("DELETE FROM sessions WHERE expires_at < now()", &[]).await?;
    let tokens =
        client.execute("DELETE FROM email_tokens WHERE used_at IS NOT NULL OR expires_at < now()", &[]).await?;
    let attempts = client
        .execute(
            "DELETE FROM login_attempts WHERE window_start < now() - make_interval(hours => $1)",
            &[&opts.attempts_older_than_hours],
        )
        .await?;
    // Published rows only: an unpublished row is a task still on its way.
    let outbox =
        client.execute("DELETE FROM outbox WHERE published_at < now() - interval '7 days'", &[]).await?;
    println!(
        "Deleted {sessions} expired session(s), {tokens} spent mail token(s), {attempts} old login counter(s), \
         {outbox} published outbox row(s)."
    );
    Ok(ExitCode::SUCCESS)
}
