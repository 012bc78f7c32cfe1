//! Mail sent by tasks: the signup verification and the password reset, followed as a person would.

use serde_json::json;

use super::{signup_as, start_worker};
use crate::common::{PASSWORD, TestApp, TestBroker, error_code, eventually, link_in, mail_to, unique_email};

#[tokio::test]
async fn signup_mail_link_verifies_the_address() {
    let broker = TestBroker::new().await;
    let app = TestApp::spawn().await;
    let public_url = format!("http://{}", app.addr);
    let _worker = start_worker(&app.db.url, &broker, &[("PUBLIC_URL", &public_url), ("APP_NAME", "Mail Test")]);

    let email = unique_email("verify");
    let response = app.post("/api/auth/signup", &json!({ "email": email, "password": PASSWORD }), None).await;
    assert_eq!(response.status(), 201);
    let mail = eventually(20, "the welcome mail", || async { mail_to(&email).pop() }).await;
    assert!(mail.contains("Subject: Welcome to Mail Test"), "{mail}");
    assert!(mail.contains("multipart/alternative"), "text and HTML parts: {mail}");
    let link = link_in(&mail, "/verify-email?token=").expect("a verification link");
    assert!(link.starts_with(&public_url), "{link}");

    let me: serde_json::Value = app.get("/api/auth/me").await.json().await.unwrap();
    assert!(me["user"]["email_verified_at"].is_null());
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Address confirmed"));
    let me: serde_json::Value = app.get("/api/auth/me").await.json().await.unwrap();
    assert!(me["user"]["email_verified_at"].is_string(), "{me}");

    // Single use.
    assert_eq!(reqwest::get(&link).await.unwrap().status(), 400);
    let token = link.split("token=").nth(1).unwrap();
    error_code(app.post("/api/auth/verify-email", &json!({ "token": token }), None).await, 422).await;
}

#[tokio::test]
async fn password_reset_by_mail() {
    let broker = TestBroker::new().await;
    let app = TestApp::spawn().await;
    let public_url = format!("http://{}", app.addr);
    let _worker = start_worker(&app.db.url, &broker, &[("PUBLIC_URL", &public_url)]);
    let email = unique_email("reset");
    assert_eq!(signup_as(&app, &email).await.status(), 201);

    // Unknown addresses get the same answer and no task.
    let unknown = app.post("/api/auth/password-reset", &json!({ "email": unique_email("nobody") }), None).await;
    assert_eq!(unknown.status(), 202);
    error_code(app.post("/api/auth/password-reset", &json!({ "email": "not-an-address" }), None).await, 422).await;
    let response = app.post("/api/auth/password-reset", &json!({ "email": email }), None).await;
    assert_eq!(response.status(), 202);

    let mail = eventually(20, "the reset mail", || async {
        mail_to(&email).into_iter().find(|mail| mail.contains("Subject: Reset your"))
    })
    .await;
    let link = link_in(&mail, "/reset-password?token=").expect("a reset link");
    let form = reqwest::get(&link).await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("name=\"password\""));
    let token = link.split("token=").nth(1).unwrap().to_string();

    let short =
        app.post("/api/auth/password-reset/confirm", &json!({ "token": token, "password": "short" }), None).await;
    error_code(short, 422).await;
    let new_password = "a brand new password";
    let done =
        app.post("/api/auth/password-reset/confirm", &json!({ "token": token, "password": new_password }), None).await;
    assert_eq!(done.status(), 204);
    let again =
        app.post("/api/auth/password-reset/confirm", &json!({ "token": token, "password": new_password }), None).await;
    let body = error_code(again, 422).await;
    assert!(body["error"]["fields"]["token"].is_string());

    let login = |password: &'static str| {
        app.other_client()
            .post(app.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    assert_eq!(login(new_password).await.unwrap().status(), 200);
    assert_eq!(login(PASSWORD).await.unwrap().status(), 401);
    let client = app.db.client().await;
    let mail_tasks: i64 =
        client.query_one("SELECT count(*) FROM tasks WHERE task_name = 'email.send'", &[]).await.unwrap().get(0);
    assert_eq!(mail_tasks, 2, "welcome and reset; nothing for the unknown address");
}
