//! `app migrate`: applies the migrations embedded in the binary. Safe to run again: applied ones are skipped.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use anyhow::Context as _;
use web::config::{DatabaseConfig, Vars};
use web::db;

#[derive(Debug, clap::Args)]
pub struct Opts {}

pub async fn run(_opts: Opts) -> anyhow::Result<ExitCode> {
    let database = DatabaseConfig::from_vars(&Vars::from_env())?;
    let url = database.url.expose().to_string();
    let applied = tokio::task::spawn_blocking(move || db::run_migrations(&url)).await.context("migration task")??;
    if applied.is_empty() {
        println!("No pending migrations.");
    }
    for version in applied {
        println!("Applied migration {version}");
    }
    Ok(ExitCode::SUCCESS)
}
