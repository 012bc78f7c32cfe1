//! What an attacker tried from outside (issue 30), one test each, failing without its fix: the return path after
//! sign-in cannot leave the site nor break the answer, one mailbox has one account, and the login page's 429 says
//! when to try again.

use serde_json::json;

use crate::common::{PASSWORD, TestApp, unique_email};

const HTML: &str = "text/html,application/xhtml+xml";

fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Escapes a browser would turn into another site, and characters no header may hold.
const HOSTILE_NEXT: &[&str] = &[
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\nSet-Cookie: stolen=1",
    "/notes\0",
    "\\\\evil.example",
    "/\\evil.example",
    "/\u{3000}/evil.example",
    " //evil.example",
];

#[tokio::test]
async fn the_page_after_sign_in_stays_on_this_site() {
    let app = TestApp::spawn().await;
    let email = unique_email("next");
    let client = browser();
    let signup = client
        .post(app.url("/signup"))
        .header("Accept", HTML)
        .form(&[("email", email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 303);
    for next in HOSTILE_NEXT {
        // Signed in: the login page sends the visitor on at once.
        let response =
            client.get(app.url("/login")).query(&[("next", next)]).header("Accept", HTML).send().await.unwrap();
        assert_eq!(response.status(), 303, "GET /login?next={next:?}");
        assert_eq!(response.headers()["location"], "/notes", "GET /login?next={next:?}");
        // Signing in with it: the session is opened and the answer is the same redirect, never a 500.
        let fresh = browser();
        let response = fresh
            .post(app.url("/login"))
            .header("Accept", HTML)
            .form(&[("email", email.as_str()), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "POST /login next={next:?}");
        assert_eq!(response.headers()["location"], "/notes", "POST /login next={next:?}");
        assert!(response.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().contains("stolen")));
    }
    // A real path on this site is still followed.
    let response =
        client.get(app.url("/login")).query(&[("next", "/account?tab=1")]).header("Accept", HTML).send().await.unwrap();
    assert_eq!(response.headers()["location"], "/account?tab=1");
}

#[tokio::test]
async fn one_mailbox_has_one_account() {
    let app = TestApp::spawn().await;
    app.signup("Mixed.Case@Example.org").await;
    for same in ["mixed.case@\u{ff45}\u{ff58}\u{ff41}\u{ff4d}\u{ff50}\u{ff4c}\u{ff45}.org", "MIXED.CASE@example.ORG"] {
        let response = app
            .other_client()
            .post(app.url("/api/auth/signup"))
            .json(&json!({ "email": same, "password": "another long password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 409, "{same:?} made a second account");
    }
    // Either form signs in to the one account.
    let response = app
        .other_client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "MIXED.case@\u{ff25}xample.org", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let me: serde_json::Value = response.json().await.unwrap();
    assert_eq!(me["user"]["email"], "mixed.case@example.org");
    // A local part in another script is refused, with the reason.
    let response = app
        .other_client()
        .post(app.url("/api/auth/signup"))
        .json(&json!({ "email": "mixed.c\u{430}se@example.org", "password": "another long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"]["fields"]["email"].as_str().unwrap().contains("ASCII"), "{body}");
    assert_eq!(app.db.count("users").await, 1);
}

#[tokio::test]
async fn the_login_page_says_when_to_try_again() {
    let app = TestApp::spawn_with(&[("LOGIN_RATE_LIMIT", "2"), ("LOGIN_RATE_WINDOW_SECS", "600")]).await;
    let client = browser();
    let attempt = || {
        client
            .post(app.url("/login"))
            .header("Accept", HTML)
            .form(&[("email", "nobody@example.org"), ("password", "not the password")])
            .send()
    };
    for _ in 0..2 {
        assert_eq!(attempt().await.unwrap().status(), 401);
    }
    let limited = attempt().await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry_after), "Retry-After {retry_after}");
    assert!(limited.text().await.unwrap().contains("Too many attempts"));
}
