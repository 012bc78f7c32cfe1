//! The real server in the test process, on port 0, against the test's own database.

use std::collections::HashMap;
use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use web::config::{Config, Vars};
use web::http::Application;

use super::TestDb;

pub const PASSWORD: &str = "correct horse battery";

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
        Self::start(db, extra, Application::build)
    }

    /// The dashboard role (`/monitor/`) instead of the site.
    pub fn spawn_dashboard_on(db: TestDb, extra: &[(&str, &str)]) -> Self {
        Self::start(db, extra, Application::build_dashboard)
    }

    fn start(db: TestDb, extra: &[(&str, &str)], build: fn(Config) -> anyhow::Result<Application>) -> Self {
        let static_dir = super::built_assets().to_string_lossy().into_owned();
        let mut vars: HashMap<String, String> = [
            ("STATIC_DIR", static_dir.as_str()),
            ("SERVE_STATIC", "true"),
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
        let app = build(config).expect("building the application");
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
