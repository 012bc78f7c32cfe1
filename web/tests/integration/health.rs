//! Probes, the home page and request ids.

use crate::common::{TestApp, TestDb, error_code};

#[tokio::test]
async fn probes_answer_when_the_database_is_up() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["database"], "ok");
}

#[tokio::test]
async fn readyz_is_503_while_the_database_is_unreachable() {
    let db = TestDb::empty().await;
    // Nothing listens on port 1: every connection attempt is refused.
    let app = TestApp::spawn_on(
        db,
        &[("DATABASE_URL", "postgres://app:app@127.0.0.1:1/app"), ("DATABASE_TIMEOUT_SECS", "2")],
    );
    assert_eq!(app.get("/healthz").await.status(), 200, "liveness does no I/O");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    // Requests that need the database are refused as unavailable, not as a crash.
    let signup = app
        .post(
            "/api/auth/signup",
            &serde_json::json!({ "email": "ada@example.com", "password": crate::common::PASSWORD }),
            None,
        )
        .await;
    error_code(signup, 503).await;
}

#[tokio::test]
async fn home_page_renders() {
    let app = TestApp::spawn().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Harness Test App</h1>"), "{html}");
    assert!(html.contains("Create an account"), "{html}");

    app.signup("ada@example.com").await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("Signed in as <strong>ada@example.com</strong>"), "{html}");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let generated = app.get("/healthz").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);

    let echoed = app.client.get(app.url("/healthz")).header("X-Request-Id", "edge-42.abc").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "edge-42.abc");

    let unsafe_id = app.client.get(app.url("/healthz")).header("X-Request-Id", "a b<script>").send().await.unwrap();
    assert_ne!(unsafe_id.headers()["x-request-id"], "a b<script>");

    let error = app.get("/nowhere").await;
    assert!(error.headers().contains_key("x-request-id"), "errors carry it too");
}

#[tokio::test]
async fn the_web_recovers_from_a_database_outage_by_itself() {
    let db = TestDb::migrated().await;
    let proxy = crate::common::TcpProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let via_proxy = db.url.replace(":5432/", &format!(":{}/", proxy.port));
    let app = TestApp::spawn_on(db, &[("DATABASE_URL", &via_proxy), ("DATABASE_TIMEOUT_SECS", "2")]);
    let signup = |email: &'static str| {
        app.other_client()
            .post(app.url("/api/auth/signup"))
            .json(&serde_json::json!({ "email": email, "password": crate::common::PASSWORD }))
            .send()
    };
    assert_eq!(signup("before@example.com").await.unwrap().status(), 201);

    proxy.cut();
    assert_eq!(app.get("/readyz").await.status(), 503);
    error_code(signup("during@example.com").await.unwrap(), 503).await;
    assert_eq!(app.get("/healthz").await.status(), 200);

    proxy.restore();
    // Pooled connections broken by the outage are checked and replaced, not handed out.
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(signup("after@example.com").await.unwrap().status(), 201);
    assert_eq!(app.db.count("users").await, 2);
}
