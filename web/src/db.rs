//! PostgreSQL access: the async connection pool, the embedded migrations, and [`Database`], one database's URL for
//! the roles that work on whole databases (backups, cron's advisory locks, `clearsessions`).
//!
//! diesel-async over tokio-postgres with a deadpool pool: no libpq anywhere, so the binary is self-contained and the
//! runtime image needs no PostgreSQL client library (the cron image adds pg_dump and pg_restore for [`Database::tool`]).
//! Migrations are compiled into the binary and run only by the `migrate` command, never implicitly at server start.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use deadpool::managed::{Object, Pool};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError, PoolableConnection as _};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio_postgres::NoTls;

use crate::config::{DatabaseConfig, Secret};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<Manager>;
pub type DbConn = Object<Manager>;

/// A connection handed out again within this long of its last checkout is not pinged first.
const VERIFY_AFTER_IDLE: Duration = Duration::from_secs(1);

/// When this process last saw a query fail because its connection went away ([`connection_lost`]), in nanoseconds
/// after [`EPOCH`] plus one; 0 for never.
static LAST_LOSS: AtomicU64 = AtomicU64::new(0);
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(*EPOCH).as_nanos()).unwrap_or(u64::MAX - 1)
}

/// Records that a query failed because its connection was lost (a restart, a failover, a terminated backend): every
/// pooled connection checked out before now is verified before it is handed out again. The connection that failed
/// is among them, and its client may not have seen the socket close yet ([`AsyncPgConnection`]'s `is_broken`
/// would still say no); nor would the others that the same restart cut.
pub fn connection_lost() {
    LAST_LOSS.fetch_max(since_epoch(Instant::now()) + 1, Ordering::Relaxed);
}

/// Whether a connection loss was recorded at or after `at`.
fn lost_since(at: Instant) -> bool {
    let last = LAST_LOSS.load(Ordering::Relaxed);
    last != 0 && last > since_epoch(at)
}

/// diesel-async's pool manager, except that a connection in steady use is handed out without the `SELECT 1` its
/// default recycling sends first: under load that ping was one of every two round trips of a one-query request.
/// A connection idle for [`VERIFY_AFTER_IDLE`] is still verified, so one that died quietly (a database restart
/// while the site was idle) is replaced before a request gets it; so is every connection out when a query failed
/// for a lost connection ([`connection_lost`]): the request that met the loss answers 503, the next one gets a
/// connection that works.
#[derive(Debug)]
pub struct Manager(AsyncDieselConnectionManager<AsyncPgConnection>);

impl deadpool::managed::Manager for Manager {
    type Type = AsyncPgConnection;
    type Error = PoolError;

    async fn create(&self) -> Result<AsyncPgConnection, PoolError> {
        self.0.create().await
    }

    async fn recycle(
        &self,
        conn: &mut AsyncPgConnection,
        metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<PoolError> {
        let last_out = metrics.recycled.unwrap_or(metrics.created);
        if last_out.elapsed() < VERIFY_AFTER_IDLE
            && !lost_since(last_out)
            && !conn.is_broken()
            && !std::thread::panicking()
        {
            return Ok(());
        }
        self.0.recycle(conn, metrics).await
    }
}

/// Builds the pool. No connection is opened here: the server starts even while the database is down and
/// `/readyz` reports it.
pub fn pool(config: &DatabaseConfig) -> anyhow::Result<DbPool> {
    let manager = Manager(AsyncDieselConnectionManager::<AsyncPgConnection>::new(config.url.expose()));
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

/// The pieces of a `postgres://` URL the backup commands need.
#[derive(Debug, Clone)]
pub struct Database {
    url: Secret,
    pub name: String,
}

impl Database {
    pub fn from_url(url: &Secret) -> anyhow::Result<Self> {
        let raw = url.expose();
        let without_query = raw.split('?').next().unwrap_or(raw);
        let (_, name) = without_query.rsplit_once('/').context("DATABASE_URL has no database name")?;
        anyhow::ensure!(!name.is_empty() && !name.contains('@'), "DATABASE_URL has no database name");
        Ok(Self { url: url.clone(), name: name.to_string() })
    }

    /// The same server and credentials, another database.
    pub fn with_name(&self, name: &str) -> Self {
        let raw = self.url.expose();
        let (base, query) = match raw.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (raw, String::new()),
        };
        let (server, _) = base.rsplit_once('/').expect("checked in from_url");
        Self { url: Secret::new(format!("{server}/{name}{query}")), name: name.to_string() }
    }

    pub async fn connect(&self) -> anyhow::Result<tokio_postgres::Client> {
        let (client, connection) = tokio_postgres::connect(self.url.expose(), NoTls).await.map_err(|err| {
            anyhow::anyhow!("connecting to database {}: {}", self.name, redact(&err.to_string(), self.url.expose()))
        })?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// A PostgreSQL client tool (pg_dump, pg_restore) for this database; the password goes through the
    /// environment, never the command line.
    pub fn tool(&self, program: &str) -> tokio::process::Command {
        let raw = self.url.expose();
        let password = url_password(raw).unwrap_or_default().to_string();
        let without_password =
            if password.is_empty() { raw.to_string() } else { raw.replacen(&format!(":{password}@"), "@", 1) };
        let mut command = tokio::process::Command::new(program);
        command.arg("--dbname").arg(without_password).env("PGPASSWORD", password).kill_on_drop(true);
        command
    }
}

/// `name` as a quoted SQL identifier (database and table names built at run time).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of any diesel query, with its own bind values: one text row per line of the plan.
/// For benchmarks and investigations; it runs the query.
#[derive(Debug)]
pub struct Explain<Q>(pub Q);

impl<Q> diesel::query_builder::QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> diesel::query_builder::Query for Explain<Q> {
    type SqlType = diesel::sql_types::Text;
}

impl<Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>> diesel::query_builder::QueryFragment<diesel::pg::Pg>
    for Explain<Q>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql("EXPLAIN (ANALYZE, BUFFERS) ");
        self.0.walk_ast(out.reborrow())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_the_password() {
        let url = "postgres://app:pa55word@db:5432/app";
        assert_eq!(redact("failed for postgres://app:pa55word@db", url), "failed for postgres://app:[redacted]@db");
        assert_eq!(redact("no secret here", "postgres://db/app"), "no secret here");
    }

    #[test]
    fn database_urls_are_split_and_rebuilt() {
        let db = Database::from_url(&Secret::new("postgres://app:pw@db:5432/shop?sslmode=disable")).unwrap();
        assert_eq!(db.name, "shop");
        let other = db.with_name("postgres");
        assert_eq!(other.url.expose(), "postgres://app:pw@db:5432/postgres?sslmode=disable");
        assert!(Database::from_url(&Secret::new("postgres://app:pw@db:5432/")).is_err());
    }
}
