//! What the benchmarks share: finding the `app` binary and connecting to PostgreSQL.

use std::path::PathBuf;

use anyhow::Context as _;

/// The `app` binary: the one given, or the one next to the running benchmark (same build profile).
pub fn app_binary(given: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    let app = match given {
        Some(app) => app.clone(),
        None => std::env::current_exe()?.parent().context("binary directory")?.join("app"),
    };
    anyhow::ensure!(app.exists(), "{} not found: build it first (cargo build --release --bin app)", app.display());
    Ok(app)
}

pub async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    Ok(client)
}
