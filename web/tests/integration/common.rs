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

/// The real `app` binary as a child process, logging JSON lines that the test can wait for.
pub struct AppProcess {
    pub child: std::process::Child,
    /// Filled in by callers that learn it from the log (the server).
    pub addr: SocketAddr,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line seen so far, for failure messages.
    pub seen: Vec<String>,
}

impl std::fmt::Debug for AppProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppProcess").field("pid", &self.child.id()).finish_non_exhaustive()
    }
}

impl AppProcess {
    /// Starts `app <args>` with only `env` (plus JSON logs unless `env` says otherwise).
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_app"))
            .args(args)
            .env_clear()
            .env("LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starting the app binary");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), lines, seen: Vec::new() }
    }

    /// The next log line matching `wanted` (within 30 s); every line must be a JSON object.
    pub fn wait_for_line(&mut self, wanted: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the expected log line did not come; seen:\n{}", self.seen.join("\n")));
            self.seen.push(line.clone());
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|err| panic!("log line is not JSON ({err}): {line}"));
            if wanted(&value) {
                return value;
            }
        }
    }

    /// Collects lines printed so far without waiting.
    pub fn drain_lines(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn wait_exit(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() >= deadline {
                self.drain_lines();
                panic!("process still running after {within:?}; log:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out after {seconds}s waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

const MANAGEMENT: &str = "http://127.0.0.1:15672/api";

fn management() -> reqwest::Client {
    reqwest::Client::new()
}

/// A RabbitMQ virtual host of its own for one test: its queues and connections are invisible to other tests.
/// Deleted (with everything in it) when the test ends.
#[derive(Debug)]
pub struct TestBroker {
    pub vhost: String,
    pub url: String,
}

impl TestBroker {
    pub async fn new() -> Self {
        let vhost = format!("test_{}", uuid::Uuid::new_v4().simple());
        let created = management()
            .put(format!("{MANAGEMENT}/vhosts/{vhost}"))
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .unwrap_or_else(|err| panic!("RabbitMQ management API unreachable ({err}); run scripts/services.sh"));
        assert!(created.status().is_success(), "creating vhost: {}", created.status());
        let granted = management()
            .put(format!("{MANAGEMENT}/permissions/{vhost}/guest"))
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({ "configure": ".*", "write": ".*", "read": ".*" }))
            .send()
            .await
            .unwrap();
        assert!(granted.status().is_success(), "granting vhost: {}", granted.status());
        Self { url: format!("amqp://guest:guest@127.0.0.1:5672/{vhost}"), vhost }
    }

    /// Ready messages in a queue of this vhost, asked of the broker itself (a passive declare; the management
    /// API's figures lag by seconds).
    pub async fn ready(&self, queue: &str) -> u32 {
        use amqprs::channel::QueueDeclareArguments;
        use amqprs::connection::{Connection, OpenConnectionArguments};
        let args = OpenConnectionArguments::new("127.0.0.1", 5672, "guest", "guest").virtual_host(&self.vhost).finish();
        let connection = Connection::open(&args).await.unwrap();
        let channel = connection.open_channel(None).await.unwrap();
        let declared = channel.queue_declare(QueueDeclareArguments::new(queue).passive(true).finish()).await.unwrap();
        let _ = connection.close().await;
        declared.expect("declare-ok").1
    }

    /// An outage as clients see a broker going down: the broker closes every connection of this vhost (waiting
    /// until `expected` of them are listed: the management API lags a little) and refuses new ones, until
    /// [`TestBroker::restore`].
    pub async fn take_down(&self, expected: usize) {
        self.set_connection_limit(0).await;
        let connections: Vec<serde_json::Value> = eventually(15, "the vhost's connections to be listed", || async {
            let listed: Vec<serde_json::Value> = management()
                .get(format!("{MANAGEMENT}/vhosts/{}/connections", self.vhost))
                .basic_auth("guest", Some("guest"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (listed.len() >= expected).then_some(listed)
        })
        .await;
        for connection in connections {
            let name = connection["name"].as_str().unwrap();
            let encoded: String = name
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            let closed = management()
                .delete(format!("{MANAGEMENT}/connections/{encoded}"))
                .basic_auth("guest", Some("guest"))
                .header("X-Reason", "test outage")
                .send()
                .await
                .unwrap();
            assert!(closed.status().is_success(), "closing {name}: {}", closed.status());
        }
    }

    pub async fn restore(&self) {
        let response = management()
            .delete(format!("{MANAGEMENT}/vhost-limits/{}/max-connections", self.vhost))
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "lifting the limit: {}", response.status());
    }

    async fn set_connection_limit(&self, limit: i64) {
        let response = management()
            .put(format!("{MANAGEMENT}/vhost-limits/{}/max-connections", self.vhost))
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({ "value": limit }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "setting the limit: {}", response.status());
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let vhost = self.vhost.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let _ = management()
                    .delete(format!("{MANAGEMENT}/vhosts/{vhost}"))
                    .basic_auth("guest", Some("guest"))
                    .send()
                    .await;
            });
        })
        .join();
    }
}

/// The Maildir the SMTP sink of `scripts/services.sh` writes to.
pub fn maildir() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("TEST_MAILDIR").unwrap_or_else(|_| "/var/tmp/app-mail".into())).join("new")
}

/// Undoes quoted-printable encoding (soft line breaks and `=XX`), enough to read links in captured mail.
pub fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Captured messages addressed to `to`, decoded, oldest first.
pub fn mail_to(to: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir()) else { return Vec::new() };
    let mut found: Vec<(std::time::SystemTime, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let raw = std::fs::read_to_string(entry.path()).ok()?;
            let headers_end = raw.find("\r\n\r\n").or_else(|| raw.find("\n\n")).unwrap_or(raw.len());
            let addressed =
                raw[..headers_end].lines().any(|line| line.to_lowercase().starts_with("to:") && line.contains(to));
            addressed.then(|| {
                (
                    entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH),
                    decode_quoted_printable(&raw),
                )
            })
        })
        .collect();
    found.sort_by_key(|(modified, _)| *modified);
    found.into_iter().map(|(_, text)| text).collect()
}

/// The first `http(s)://...` link in `text` containing `marker`.
pub fn link_in(text: &str, marker: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .find(|word| word.starts_with("http") && word.contains(marker))
        .map(|word| word.replace("&amp;", "&"))
}

/// A unique address for this test's mail.
pub fn unique_email(label: &str) -> String {
    format!("{label}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A TCP relay in front of a real server, which the test can cut (close every connection and refuse new ones)
/// and restore: a network outage between the application and that server.
#[derive(Debug)]
pub struct TcpProxy {
    pub port: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { break };
                if *watch.borrow() {
                    continue; // dropped: refused
                }
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watch.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut }
    }

    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

/// A diesel connection to a test database, for enqueueing through the library as the application does.
pub async fn diesel_conn(url: &str) -> diesel_async::AsyncPgConnection {
    use diesel_async::AsyncConnection as _;
    diesel_async::AsyncPgConnection::establish(url).await.unwrap()
}
