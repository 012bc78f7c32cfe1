//! PostgreSQL access: the async connection pool and the embedded migrations.
//!
//! diesel-async over tokio-postgres with a deadpool pool: no libpq anywhere, so the binary is self-contained and the
//! runtime image needs no PostgreSQL client library. Migrations are compiled into the binary and run only by the
//! `migrate` command, never implicitly at server start.

use std::time::Duration;

use anyhow::Context as _;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseConfig;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

/// Builds the pool. No connection is opened here: the server starts even while the database is down and
/// `/readyz` reports it.
pub fn pool(config: &DatabaseConfig) -> anyhow::Result<DbPool> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(config.url.expose());
    Pool::builder(manager)
        .max_size(config.pool_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(config.timeout))
        .create_timeout(Some(config.timeout))
        .recycle_timeout(Some(config.timeout))
        .build()
        .context("building the database pool")
}

/// Takes a connection from the pool, bounded by the pool's timeouts.
pub async fn conn(pool: &DbPool) -> anyhow::Result<DbConn> {
    pool.get().await.map_err(|err| anyhow::anyhow!("database connection unavailable: {err}"))
}

/// Round trip to the database (`SELECT 1`) within `timeout`.
pub async fn ping(pool: &DbPool, timeout: Duration) -> anyhow::Result<()> {
    use diesel_async::RunQueryDsl;
    let probe = async {
        let mut conn = conn(pool).await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await.context("SELECT 1")?;
        anyhow::Ok(())
    };
    tokio::time::timeout(timeout, probe).await.context("database did not answer in time")?
}

type SyncConn = AsyncConnectionWrapper<AsyncPgConnection>;

fn sync_connection(url: &str) -> anyhow::Result<SyncConn> {
    use diesel::Connection;
    // The error text of a failed connection may repeat the URL; do not chain it verbatim.
    SyncConn::establish(url)
        .map_err(|err| anyhow::anyhow!("cannot connect to the database: {}", redact(&err.to_string(), url)))
}

/// Applies every pending migration; returns the versions applied. Blocking: call it from `spawn_blocking`.
pub fn run_migrations(url: &str) -> anyhow::Result<Vec<String>> {
    let mut conn = sync_connection(url)?;
    let applied =
        conn.run_pending_migrations(MIGRATIONS).map_err(|err| anyhow::anyhow!("running migrations: {err}"))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

/// Versions of the migrations not yet applied. Blocking: call it from `spawn_blocking`.
pub fn pending_migrations(url: &str) -> anyhow::Result<Vec<String>> {
    let mut conn = sync_connection(url)?;
    let pending =
        conn.pending_migrations(MIGRATIONS).map_err(|err| anyhow::anyhow!("reading applied migrations: {err}"))?;
    Ok(pending.iter().map(|m| m.name().to_string()).collect())
}

/// Removes the password of `url` from `text`, for error messages that may quote the connection string.
pub fn redact(text: &str, url: &str) -> String {
    match url_password(url) {
        Some(password) if !password.is_empty() => text.replace(password, "[redacted]"),
        _ => text.to_string(),
    }
}

/// The password part of a `postgres://user:password@host/db` URL, if it has one.
pub fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    Some(userinfo.split_once(':')?.1)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_removes_the_password() {
        let url = "postgres://app:pa55word@db:5432/app";
        assert_eq!(redact("failed for postgres://app:pa55word@db", url), "failed for postgres://app:[redacted]@db");
        assert_eq!(redact("no secret here", "postgres://db/app"), "no secret here");
    }
}
