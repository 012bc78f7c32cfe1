//! Signup, login, logout, "who am I", session cookies, CSRF and login throttling.

use serde_json::json;

use crate::common::{PASSWORD, TestApp, error_code};

fn set_cookie(response: &reqwest::Response) -> String {
    response.headers().get("set-cookie").expect("a Set-Cookie header").to_str().unwrap().to_string()
}

#[tokio::test]
async fn signup_creates_an_account_and_signs_it_in() {
    let app = TestApp::spawn().await;
    let response =
        app.post("/api/auth/signup", &json!({ "email": "  Ada@Example.com ", "password": PASSWORD }), None).await;
    assert_eq!(response.status(), 201);
    let cookie = set_cookie(&response);
    assert!(cookie.starts_with("session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "local cookies work over plain HTTP: {cookie}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["is_staff"], false);
    assert!(body["user"].get("password_hash").is_none(), "hash leaked: {body}");

    let me: serde_json::Value = app.get("/api/auth/me").await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert_eq!(me["csrf_token"], body["csrf_token"]);

    // The stored password is an Argon2id hash, never the password.
    let db = app.db.client().await;
    let row = db.query_one("SELECT password_hash FROM users", &[]).await.unwrap();
    let hash: String = row.get(0);
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
}

#[tokio::test]
async fn session_cookie_is_secure_outside_local() {
    let app = TestApp::spawn_with(&[("APP_ENV", "prod")]).await;
    let response =
        app.post("/api/auth/signup", &json!({ "email": "ada@example.com", "password": PASSWORD }), None).await;
    assert_eq!(response.status(), 201);
    let cookie = set_cookie(&response);
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn signup_validation_names_every_bad_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let body = error_code(app.post("/api/auth/signup", &json!({}), None).await, 422).await;
    assert_eq!(body["error"]["code"], "validation_failed");
    assert!(body["error"]["fields"]["email"].is_string() && body["error"]["fields"]["password"].is_string());

    let body = error_code(
        app.post("/api/auth/signup", &json!({ "email": "not-an-email", "password": "short" }), None).await,
        422,
    )
    .await;
    assert!(body["error"]["fields"]["email"].as_str().unwrap().contains("valid"));
    assert!(body["error"]["fields"]["password"].as_str().unwrap().contains("at least 8"));

    let body =
        error_code(app.post("/api/auth/signup", &json!({ "email": 42, "password": PASSWORD }), None).await, 422).await;
    assert!(body["error"]["fields"]["email"].is_string(), "{body}");
    assert_eq!(app.db.count("users").await, 0);
}

#[tokio::test]
async fn duplicate_email_is_a_conflict_regardless_of_case() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    let response = app
        .other_client()
        .post(app.url("/api/auth/signup"))
        .json(&json!({ "email": "ADA@example.com", "password": "another password" }))
        .send()
        .await
        .unwrap();
    let body = error_code(response, 409).await;
    assert_eq!(body["error"]["code"], "conflict");
    assert!(body["error"]["fields"]["email"].is_string());
    assert_eq!(app.db.count("users").await, 1);
    assert_eq!(app.db.count("sessions").await, 1, "the failed signup left no session behind");
}

#[tokio::test]
async fn login_with_right_and_wrong_credentials() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    let browser = app.other_client();
    let login = |email: &'static str, password: &'static str| {
        browser.post(app.url("/api/auth/login")).json(&json!({ "email": email, "password": password })).send()
    };

    let body = error_code(login("ada@example.com", "wrong password").await.unwrap(), 401).await;
    assert_eq!(body["error"]["code"], "unauthorized");
    error_code(login("nobody@example.com", PASSWORD).await.unwrap(), 401).await;
    let me = browser.get(app.url("/api/auth/me")).send().await.unwrap();
    error_code(me, 401).await;

    let response = login("ADA@example.com", PASSWORD).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(set_cookie(&response).contains("HttpOnly"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    let me: serde_json::Value = browser.get(app.url("/api/auth/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@example.com");

    let body = error_code(app.post("/api/auth/login", &json!({ "email": "ada@example.com" }), None).await, 422).await;
    assert!(body["error"]["fields"]["password"].is_string());
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_ends_the_session() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("ada@example.com").await;

    let body = error_code(app.post("/api/auth/logout", &json!({}), None).await, 403).await;
    assert_eq!(body["error"]["code"], "forbidden");
    error_code(app.post("/api/auth/logout", &json!({}), Some("not-the-token")).await, 403).await;
    assert_eq!(app.get("/api/auth/me").await.status(), 200, "a refused logout keeps the session");

    let response = app.post("/api/auth/logout", &json!({}), Some(&csrf)).await;
    assert_eq!(response.status(), 204);
    assert!(set_cookie(&response).contains("Max-Age=0"));
    error_code(app.get("/api/auth/me").await, 401).await;
    assert_eq!(app.db.count("sessions").await, 0);
}

#[tokio::test]
async fn stolen_cookie_does_not_outlive_logout() {
    let app = TestApp::spawn().await;
    let response =
        app.post("/api/auth/signup", &json!({ "email": "ada@example.com", "password": PASSWORD }), None).await;
    let cookie = set_cookie(&response);
    let pair = cookie.split(';').next().unwrap().to_string();
    let csrf: serde_json::Value = response.json().await.unwrap();
    app.post("/api/auth/logout", &json!({}), csrf["csrf_token"].as_str()).await;
    let replay = reqwest::Client::new().get(app.url("/api/auth/me")).header("Cookie", pair).send().await.unwrap();
    error_code(replay, 401).await;
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let app = TestApp::spawn().await;
    let signup = |origin: String| {
        app.client
            .post(app.url("/api/auth/signup"))
            .header("Origin", origin)
            .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
            .send()
    };
    error_code(signup("https://evil.example".into()).await.unwrap(), 403).await;
    error_code(signup("null".into()).await.unwrap(), 403).await;
    assert_eq!(app.db.count("users").await, 0);
    let fetch_site = app
        .client
        .post(app.url("/api/auth/login"))
        .header("Sec-Fetch-Site", "cross-site")
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    error_code(fetch_site, 403).await;
    assert_eq!(signup(format!("http://{}", app.addr)).await.unwrap().status(), 201);
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_client() {
    let app = TestApp::spawn_with(&[("LOGIN_RATE_LIMIT", "3"), ("LOGIN_RATE_WINDOW_SECS", "600")]).await;
    app.signup("ada@example.com").await;
    let attempt = |password: &'static str, real_ip: Option<&'static str>| {
        let mut request = app
            .other_client()
            .post(app.url("/api/auth/login"))
            .json(&json!({ "email": "ada@example.com", "password": password }));
        if let Some(ip) = real_ip {
            request = request.header("X-Real-IP", ip);
        }
        request.send()
    };
    for _ in 0..3 {
        assert_eq!(attempt("wrong password", None).await.unwrap().status(), 401);
    }
    let limited = attempt(PASSWORD, None).await.unwrap();
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry_after), "Retry-After {retry_after}");
    let body = error_code(limited, 429).await;
    assert_eq!(body["error"]["code"], "too_many_requests");
    // Without a trusted proxy the header is the client's own claim and changes nothing.
    assert_eq!(attempt(PASSWORD, Some("203.0.113.9")).await.unwrap().status(), 429);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_limit_follows_x_real_ip() {
    let app = TestApp::spawn_with(&[("LOGIN_RATE_LIMIT", "2"), ("TRUST_PROXY_HEADERS", "true")]).await;
    app.signup("ada@example.com").await;
    let attempt = |ip: &'static str| {
        app.other_client()
            .post(app.url("/api/auth/login"))
            .header("X-Real-IP", ip)
            .json(&json!({ "email": "ada@example.com", "password": "wrong password" }))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(attempt("203.0.113.1").await.unwrap().status(), 401);
    }
    assert_eq!(attempt("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(attempt("203.0.113.2").await.unwrap().status(), 401, "another client has its own budget");
}
