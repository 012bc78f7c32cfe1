//! A database per test, cloned from a migrated template database and dropped when the test ends.

use std::path::Path;

use sha2::{Digest as _, Sha256};
use tokio_postgres::NoTls;

use super::clean_up;

/// The server's administrative connection URL; the tests create and drop databases through it.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://app:app@127.0.0.1:5432/postgres".into())
}

fn url_for(database: &str) -> String {
    let admin = admin_url();
    let (server, _) = admin.rsplit_once('/').expect("TEST_DATABASE_URL ends with /<database>");
    format!("{server}/{database}")
}

async fn admin_client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&admin_url(), NoTls).await.unwrap_or_else(|err| {
        panic!("cannot reach PostgreSQL at TEST_DATABASE_URL ({err}); start it with scripts/services.sh")
    });
    tokio::spawn(connection);
    client
}

/// Changes whenever a migration file changes, so a stale template is never reused.
fn migrations_fingerprint() -> String {
    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("migrations directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else {
                files.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.strip_prefix(&root).expect("inside root").to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).expect("migration file"));
    }
    web::token::hex(&hasher.finalize()[..8])
}

/// A database of its own for one test, dropped when the test ends.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A database with every migration applied.
    pub async fn migrated() -> Self {
        let admin = admin_client().await;
        let template = format!("app_test_tmpl_{}", migrations_fingerprint());
        // One test process builds the template; the others wait on this lock, then find it.
        admin.execute("SELECT pg_advisory_lock(727274)", &[]).await.unwrap();
        let exists =
            admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template]).await.unwrap().is_some();
        if !exists {
            let building = format!("{template}_building");
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await.unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {building}")).await.unwrap();
            let url = url_for(&building);
            tokio::task::spawn_blocking(move || web::db::run_migrations(&url))
                .await
                .unwrap()
                .expect("migrating the template database");
            admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}")).await.unwrap();
        }
        admin.execute("SELECT pg_advisory_unlock(727274)", &[]).await.unwrap();
        Self::create(&admin, &format!("TEMPLATE {template}")).await
    }

    /// A database with nothing in it (for the migration and `check` tests).
    pub async fn empty() -> Self {
        let admin = admin_client().await;
        Self::create(&admin, "").await
    }

    async fn create(admin: &tokio_postgres::Client, options: &str) -> Self {
        let name = format!("app_test_{}", uuid::Uuid::new_v4().simple());
        admin.batch_execute(&format!("CREATE DATABASE {name} {options}")).await.unwrap();
        Self { url: url_for(&name), name }
    }

    /// A plain client on this database, for arranging and inspecting rows.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    pub async fn count(&self, table: &str) -> i64 {
        let client = self.client().await;
        client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap().get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        clean_up(async move {
            if let Ok((client, connection)) = tokio_postgres::connect(&admin_url(), NoTls).await {
                tokio::spawn(connection);
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
            }
        });
    }
}

/// A diesel connection to a test database, for enqueueing through the library as the application does.
pub async fn diesel_conn(url: &str) -> diesel_async::AsyncPgConnection {
    use diesel_async::AsyncConnection as _;
    diesel_async::AsyncPgConnection::establish(url).await.unwrap()
}
