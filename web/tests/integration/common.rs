//! Test harness: a database per test, cloned from a migrated template database, and the real server on port 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use actix_web::dev::ServerHandle;
use sha2::{Digest as _, Sha256};
use tokio_postgres::NoTls;
use web::config::{Config, Vars};
use web::http::Application;

pub const PASSWORD: &str = "correct horse battery";

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
    hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
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
        // Drop runs outside any runtime guarantee: use a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                if let Ok((client, connection)) = tokio_postgres::connect(&admin_url(), NoTls).await {
                    tokio::spawn(connection);
                    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}

/// The real server, serving on an OS-chosen port of 127.0.0.1 against the test's own database.
#[derive(Debug)]
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDb,
    /// Keeps cookies, like a browser.
    pub client: reqwest::Client,
    handle: ServerHandle,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// With extra configuration variables (they override the defaults below).
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        Self::spawn_on(TestDb::migrated().await, extra)
    }

    pub fn spawn_on(db: TestDb, extra: &[(&str, &str)]) -> Self {
        let mut vars: HashMap<String, String> = [
            ("DATABASE_URL", db.url.as_str()),
            ("PORT", "0"),
            ("WEB_WORKERS", "2"),
            ("LOG_FORMAT", "pretty"),
            ("RUST_LOG", "warn"),
            ("APP_NAME", "Harness Test App"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_vars(&Vars::from_map(vars)).expect("test configuration");
        web::telemetry::init(&config.log);
        let app = Application::build(config).expect("building the application");
        let addr = app.addr();
        let handle = app.handle();
        tokio::spawn(app.run());
        let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
        Self { addr, db, client, handle }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POST a JSON body, with a CSRF token when given.
    pub async fn post(&self, path: &str, body: &serde_json::Value, csrf: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = csrf {
            request = request.header("X-CSRF-Token", token);
        }
        request.send().await.unwrap()
    }

    /// Signs up a fresh account on this app's client and returns its CSRF token.
    pub async fn signup(&self, email: &str) -> String {
        let response =
            self.post("/api/auth/signup", &serde_json::json!({ "email": email, "password": PASSWORD }), None).await;
        assert_eq!(response.status(), 201, "signup of {email}");
        let body: serde_json::Value = response.json().await.unwrap();
        body["csrf_token"].as_str().unwrap().to_string()
    }

    /// Another browser: a client without this one's cookies.
    pub fn other_client(&self) -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).build().unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop at once; the database is dropped right after (WITH FORCE closes leftover connections).
        drop(self.handle.stop(false));
    }
}

/// The JSON error body's `code`, after checking the status and content type.
pub async fn error_code(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status(), status, "unexpected status");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"]["code"].is_string(), "error body {body}");
    assert!(body["error"]["message"].is_string(), "error body {body}");
    body
}

/// Runs the real `app` binary with only the given environment (nothing leaks in from the developer's shell).
pub fn run_app(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_app"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("running the app binary")
}

/// stdout and stderr of a finished command, as one text for assertions.
pub fn output_text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
