//! Client mistakes get a 4xx JSON answer and change nothing; a real failure is a 500 with a generic message.

use serde_json::{Value, json};

use crate::common::{TestApp, error_code};

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let app = TestApp::spawn().await;
    for body in ["{\"email\": ", "not json", "{} {}"] {
        let response = app
            .client
            .post(app.url("/api/auth/signup"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let error = error_code(response, 400).await;
        assert_eq!(error["error"]["code"], "bad_request", "{body}");
    }
    assert_eq!(app.db.count("users").await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_unsupported() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("email=a%40b.c&password=secret123")
        .send()
        .await
        .unwrap();
    error_code(response, 415).await;
    assert_eq!(app.db.count("users").await, 0);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let app = TestApp::spawn_with(&[("BODY_LIMIT_BYTES", "1024")]).await;
    let csrf = app.signup("ada@example.com").await;
    let big = json!({ "title": "big", "body": "x".repeat(4000) });
    let body = error_code(app.post("/api/notes", &big, Some(&csrf)).await, 413).await;
    assert_eq!(body["error"]["code"], "payload_too_large");

    // Chunked, without a Content-Length to check up front.
    let stream = futures_util::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(json!({ "title": "y".repeat(300) }).to_string())),
    );
    let response = app
        .client
        .post(app.url("/api/notes"))
        .header("Content-Type", "application/json")
        .header("X-CSRF-Token", &csrf)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    error_code(response, 413).await;
    assert_eq!(app.db.count("notes").await, 0);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = TestApp::spawn().await;
    let body = error_code(app.get("/no/such/page").await, 404).await;
    assert_eq!(body["error"]["code"], "not_found");
    let response = app.client.delete(app.url("/api/auth/me")).send().await.unwrap();
    let body = error_code(response, 405).await;
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn an_internal_failure_is_a_generic_500() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    // Break the database under the running server.
    app.db.client().await.batch_execute("DROP TABLE notes CASCADE").await.unwrap();
    let response = app.get("/api/notes").await;
    let body: Value = error_code(response, 500).await;
    assert_eq!(body["error"]["code"], "internal_error");
    assert_eq!(body["error"]["message"], "internal server error");
    assert!(!body.to_string().contains("notes"), "internals leaked: {body}");
}

/// A query cut off by the database (a restart, a failover: here its backend is terminated while the request waits
/// on a lock) answers 503 with the JSON error, which a client may retry, not a 500; then a fresh connection serves.
#[tokio::test]
async fn a_connection_lost_mid_request_is_a_503() {
    let app = TestApp::spawn_with(&[("DATABASE_POOL_SIZE", "1")]).await;
    app.signup(&crate::common::unique_email("lost-connection")).await;
    let mut admin = app.db.client().await;
    let lock = admin.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let waiting = tokio::spawn(app.client.get(app.url("/api/notes")).send());
    let mut terminated = false;
    for _ in 0..100 {
        let rows = lock
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        if !rows.is_empty() {
            terminated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(terminated, "the request never waited on the lock");
    let error = error_code(waiting.await.unwrap().unwrap(), 503).await;
    assert_eq!(error["error"]["code"], "unavailable");
    lock.rollback().await.unwrap();
    // The pool (one connection) verifies the connection the lost query ran on before handing it out again: the very
    // next request gets a new one, even when the client has not yet seen the socket close.
    assert_eq!(app.get("/api/notes").await.status(), 200, "the request after the lost connection");
}
