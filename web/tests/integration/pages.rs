//! The pages over plain HTTP forms (no JavaScript): the same rules as the API, CSRF on every signed-in form,
//! errors as pages for browsers and as JSON for the API, assets named by their content.

use crate::common::{TestApp, unique_email};

const HTML: &str = "text/html,application/xhtml+xml";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn form(client: &reqwest::Client, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    client.post(app.url(path)).header("Accept", HTML).form(fields).send().await.unwrap()
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let response = client.get(app.url(path)).header("Accept", HTML).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The hidden CSRF field of a page.
fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf_token\" value=\"").expect("a CSRF field") + 25;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn signup_and_notes_through_forms() {
    let app = TestApp::spawn().await;
    let client = no_redirects();
    let email = unique_email("forms");

    let refused = form(&client, &app, "/signup", &[("email", &email), ("password", "short")]).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"password-error\""), "{html}");
    assert!(html.contains(&format!("value=\"{email}\"")), "the address is kept");
    assert!(!html.contains("value=\"short\""), "a password is never echoed");

    let created = form(&client, &app, "/signup", &[("email", &email), ("password", "long enough password")]).await;
    assert_eq!(created.status(), 303);
    assert_eq!(created.headers()["location"], "/notes");
    let (status, html) = page(&client, &app, "/notes").await;
    assert_eq!(status, 200);
    assert!(html.contains("Welcome!"), "the flash shows once: {html}");
    let (_, html) = page(&client, &app, "/notes").await;
    assert!(!html.contains("Welcome!"), "and only once");
    let again = form(&client, &app, "/signup", &[("email", &email), ("password", "long enough password")]).await;
    assert_eq!(again.status(), 409, "the address is taken, said beside the field");
    assert!(again.text().await.unwrap().contains("id=\"email-error\""));
    let csrf = csrf_in(&html);

    let forged = form(&client, &app, "/notes", &[("title", "Forged"), ("csrf_token", "wrong")]).await;
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.unwrap().contains("Not allowed"), "a styled page");
    let empty = form(&client, &app, "/notes", &[("title", " "), ("body", "kept text"), ("csrf_token", &csrf)]).await;
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains(">kept text</textarea>"));
    let made = form(&client, &app, "/notes", &[("title", "First"), ("body", "x"), ("csrf_token", &csrf)]).await;
    assert_eq!(made.status(), 303);
    assert_eq!(app.db.count("notes").await, 1);

    let (_, html) = page(&client, &app, "/notes").await;
    let id = html.split("href=\"/notes/").filter_map(|rest| rest.split_once("/edit\"")).next().unwrap().0.to_string();
    let id = id.as_str();
    let saved =
        form(&client, &app, &format!("/notes/{id}/edit"), &[("title", "Renamed"), ("body", ""), ("csrf_token", &csrf)])
            .await;
    assert_eq!(saved.status(), 303);
    let (_, html) = page(&client, &app, "/notes").await;
    assert!(html.contains("Renamed"));

    // Another account sees a 404 page for it, like the API.
    let stranger = no_redirects();
    form(&stranger, &app, "/signup", &[("email", &unique_email("stranger")), ("password", "long enough password")])
        .await;
    let (status, html) = page(&stranger, &app, &format!("/notes/{id}/edit")).await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found"));

    let deleted = form(&client, &app, &format!("/notes/{id}/delete"), &[("csrf_token", &csrf)]).await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(app.db.count("notes").await, 0);
}

#[tokio::test]
async fn signed_out_pages_lead_to_the_login_and_back() {
    let app = TestApp::spawn().await;
    let client = no_redirects();
    let response = client.get(app.url("/notes?cursor=")).header("Accept", HTML).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login?next=%2Fnotes%3Fcursor%3D");
    // The API keeps its JSON 401.
    let api = client.get(app.url("/api/notes")).header("Accept", HTML).send().await.unwrap();
    assert_eq!(api.status(), 401);
    assert!(api.headers()["content-type"].to_str().unwrap().starts_with("application/json"));

    let email = unique_email("next");
    form(&client, &app, "/signup", &[("email", &email), ("password", "long enough password")]).await;
    let client = no_redirects();
    let wrong = form(&client, &app, "/login", &[("email", &email), ("password", "not the password")]).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("not right"));
    let next = [("email", email.as_str()), ("password", "long enough password"), ("next", "/account")];
    let signed_in = form(&client, &app, "/login", &next).await;
    assert_eq!(signed_in.headers()["location"], "/account");
    let elsewhere = [("email", email.as_str()), ("password", "long enough password"), ("next", "//evil.example/")];
    assert_eq!(form(&client, &app, "/login", &elsewhere).await.headers()["location"], "/notes");
}

#[tokio::test]
async fn account_password_change_and_deletion() {
    let app = TestApp::spawn().await;
    let client = no_redirects();
    let other_device = no_redirects();
    let email = unique_email("account");
    form(&client, &app, "/signup", &[("email", &email), ("password", "first long password")]).await;
    form(&other_device, &app, "/login", &[("email", &email), ("password", "first long password")]).await;
    let (_, html) = page(&client, &app, "/account").await;
    let csrf = csrf_in(&html);

    let wrong = [("current_password", "nope"), ("new_password", "second long password"), ("csrf_token", &csrf)];
    assert_eq!(form(&client, &app, "/account/password", &wrong).await.status(), 422);
    let right =
        [("current_password", "first long password"), ("new_password", "second long password"), ("csrf_token", &csrf)];
    assert_eq!(form(&client, &app, "/account/password", &right).await.status(), 303);
    let (status, _) = page(&client, &app, "/account").await;
    assert_eq!(status, 200, "this browser stays signed in");
    let (status, _) = page(&other_device, &app, "/account").await;
    assert_eq!(status, 303, "the other device is signed out");

    let (_, html) = page(&client, &app, "/account/delete").await;
    let csrf = csrf_in(&html);
    let refused =
        form(&client, &app, "/account/delete", &[("password", "first long password"), ("csrf_token", &csrf)]).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(app.db.count("users").await, 1);
    let gone =
        form(&client, &app, "/account/delete", &[("password", "second long password"), ("csrf_token", &csrf)]).await;
    assert_eq!(gone.status(), 303);
    assert_eq!(app.db.count("users").await, 0);
    assert_eq!(app.db.count("sessions").await, 0);
}

#[tokio::test]
async fn pages_link_hashed_assets_and_errors_are_pages_only_for_browsers() {
    let app = TestApp::spawn().await;
    let (status, html) = page(&app.client, &app, "/").await;
    assert_eq!(status, 200);
    let css = html.split("href=\"/static/css/").nth(1).unwrap().split('"').next().unwrap();
    assert!(css.starts_with("site.") && css.len() == "site.01234567.css".len(), "{css}");
    assert!(html.contains("<html lang=\"en\">"));

    let (status, html) = page(&app.client, &app, "/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found"));
    let asset = app.get(&format!("/static/css/{css}")).await;
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
    let json = app.get("/no/such/page").await;
    assert_eq!(json.status(), 404);
    assert!(json.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
}
