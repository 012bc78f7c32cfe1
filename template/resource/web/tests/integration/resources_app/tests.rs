//! {{title}} (written by `template/resource`): the API and the pages, each limited to the owner, every field
//! checked and refused by name.

use serde_json::{Value, json};
use web::models::app::{{crate_name}}::SPECS;

use crate::common::{PASSWORD, TestApp, error_code};

const HTML: &str = "text/html,application/xhtml+xml";
const API: &str = "/api/{{url}}";

/// A whole {{one}}, as the API takes it and gives it back.
fn sample() -> Value {
    json!({ {{sample}} })
}

/// Fields that must be given.
const REQUIRED: &[&str] = &[{{required_names}}];

async fn create(app: &TestApp, csrf: &str) -> Value {
    let response = app.post(API, &sample(), Some(csrf)).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn patch(client: &reqwest::Client, app: &TestApp, path: &str, csrf: &str, body: &Value) -> reqwest::Response {
    client.patch(app.url(path)).header("X-CSRF-Token", csrf).json(body).send().await.unwrap()
}

#[tokio::test]
async fn {{plural}}_api_create_read_update_delete() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("{{crate_name}}-owner@example.com").await;

    let response = app.post(API, &sample(), Some(&csrf)).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let created: Value = response.json().await.unwrap();
    for (name, value) in sample().as_object().unwrap() {
        assert_eq!(&created[name], value, "{name}");
    }
    assert_eq!(location, format!("{API}/{}", created["id"].as_str().unwrap()));
    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, created);

    let changed = json!({ {{changed}} });
    let response = patch(&app.client, &app, &location, &csrf, &changed).await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    for (name, value) in changed.as_object().unwrap() {
        assert_eq!(&updated[name], value, "{name}");
    }
    for spec in SPECS.iter().filter(|spec| spec.optional) {
        let response = patch(&app.client, &app, &location, &csrf, &json!({ spec.name: null })).await;
        assert_eq!(response.status(), 200, "{}", spec.name);
        let cleared: Value = response.json().await.unwrap();
        assert!(cleared[spec.name].is_null(), "{} is cleared by null: {cleared}", spec.name);
    }

    let listed: Value = app.get(API).await.json().await.unwrap();
    assert_eq!(listed["items"][0]["id"], created["id"]);

    let response = app.client.delete(app.url(&location)).header("X-CSRF-Token", &csrf).send().await.unwrap();
    assert_eq!(response.status(), 204);
    error_code(app.get(&location).await, 404).await;
    assert_eq!(app.db.count("{{plural}}").await, 0);
}

#[tokio::test]
async fn {{plural}}_api_refuses_bad_values_by_name() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("{{crate_name}}-checks@example.com").await;
    let cases: Vec<(&str, Value)> = vec![
{{bad_cases}}    ];
    for (name, bad) in cases {
        let mut body = sample();
        body[name] = bad;
        let refused = error_code(app.post(API, &body, Some(&csrf)).await, 422).await;
        assert!(refused["error"]["fields"][name].is_string(), "{name}: {refused}");
    }
    for name in REQUIRED {
        let mut body = sample();
        body.as_object_mut().unwrap().remove(*name);
        let refused = error_code(app.post(API, &body, Some(&csrf)).await, 422).await;
        assert_eq!(refused["error"]["fields"][name], "is required", "{refused}");
    }
    let mut body = sample();
    body["no_such_field"] = json!(1);
    let refused = error_code(app.post(API, &body, Some(&csrf)).await, 422).await;
    assert!(refused["error"]["fields"]["no_such_field"].is_string(), "{refused}");
    error_code(app.post(API, &json!([1, 2]), Some(&csrf)).await, 422).await;
    error_code(app.post(API, &sample(), None).await, 403).await;

    let created = create(&app, &csrf).await;
    let location = format!("{API}/{}", created["id"].as_str().unwrap());
    error_code(patch(&app.client, &app, &location, &csrf, &json!({})).await, 422).await;
    for name in REQUIRED {
        let refused = error_code(patch(&app.client, &app, &location, &csrf, &json!({ *name: null })).await, 422).await;
        assert_eq!(refused["error"]["fields"][name], "is required", "{refused}");
    }
    let unchanged: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(unchanged, created, "a refused change changes nothing");
    assert_eq!(app.db.count("{{plural}}").await, 1);
}

#[tokio::test]
async fn {{plural}}_belong_to_their_owner() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("{{crate_name}}-mine@example.com").await;
    let created = create(&app, &csrf).await;
    let location = format!("{API}/{}", created["id"].as_str().unwrap());

    let other = app.other_client();
    let signup = json!({ "email": "{{crate_name}}-theirs@example.com", "password": PASSWORD });
    let response = other.post(app.url("/api/auth/signup")).json(&signup).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let their_csrf = response.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
    error_code(other.get(app.url(&location)).send().await.unwrap(), 404).await;
    error_code(patch(&other, &app, &location, &their_csrf, &sample()).await, 404).await;
    let response = other.delete(app.url(&location)).header("X-CSRF-Token", &their_csrf).send().await.unwrap();
    error_code(response, 404).await;
    let theirs: Value = other.get(app.url(API)).send().await.unwrap().json().await.unwrap();
    assert_eq!(theirs["items"], json!([]));
    let page = other.get(app.url(&format!("/{{url}}/{}/edit", created["id"].as_str().unwrap())));
    assert_eq!(page.header("Accept", HTML).send().await.unwrap().status(), 404);

    error_code(reqwest::Client::new().get(app.url(API)).send().await.unwrap(), 401).await;
    error_code(app.get(&format!("{API}/not-a-uuid")).await, 404).await;
    let mine: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(mine, created, "untouched by the other user");
}

#[tokio::test]
async fn {{plural}}_are_paged_by_cursor() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("{{crate_name}}-pages@example.com").await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(create(&app, &csrf).await["id"].clone());
    }
    let first: Value = app.get(&format!("{API}?per_page=2")).await.json().await.unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().expect("a next page");
    let second: Value = app.get(&format!("{API}?per_page=2&cursor={next}")).await.json().await.unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next"].is_null());
    let mut seen: Vec<Value> =
        first["items"].as_array().unwrap().iter().chain(second["items"].as_array().unwrap()).map(|i| i["id"].clone()).collect();
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");
    seen.dedup();
    assert_eq!(seen.len(), 3);
    let refused = error_code(app.get(&format!("{API}?per_page=0&cursor=junk")).await, 422).await;
    assert!(refused["error"]["fields"]["cursor"].is_string() && refused["error"]["fields"]["per_page"].is_string());
}

/// The hidden CSRF field of a page.
fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf_token\" value=\"").expect("a CSRF field") + 25;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.client.get(app.url(path)).header("Accept", HTML).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn post_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = app.client.post(app.url(path)).header("Accept", HTML).form(fields).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn {{plural}}_pages_create_edit_and_delete() {
    let app = TestApp::spawn().await;
    app.signup("{{crate_name}}-pages@example.com").await;
    let (status, html) = page(&app, "/{{url}}").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>{{title}}</h1>"), "{html}");
    assert!(html.contains("<a href=\"/{{url}}\" aria-current=\"page\">{{title}}</a>"), "linked in the header: {html}");
    let (status, html) = page(&app, "/{{url}}/new").await;
    assert_eq!(status, 200);
    for spec in SPECS {
        assert!(html.contains(&format!("<label for=\"{}\">{}", spec.name, spec.label)), "{}: {html}", spec.name);
    }
    let csrf = csrf_in(&html);

    if !REQUIRED.is_empty() {
        let (status, html) = post_form(&app, "/{{url}}", &[("csrf_token", &csrf)]).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("is required"), "{html}");
    }
    let (status, _) = post_form(&app, "/{{url}}", &[{{form_sample}}, ("csrf_token", "forged")]).await;
    assert_eq!(status, 403);
    assert_eq!(app.db.count("{{plural}}").await, 0);

    let (status, html) = post_form(&app, "/{{url}}", &[{{form_sample}}, ("csrf_token", &csrf)]).await;
    assert_eq!(status, 200, "followed to the list: {html}");
    assert!(html.contains("{{one | capitalize}} created."), "{html}");
    let listed: Value = app.get(API).await.json().await.unwrap();
    let id = listed["items"][0]["id"].as_str().unwrap().to_string();
    for (name, value) in sample().as_object().unwrap() {
        assert_eq!(&listed["items"][0][name], value, "the form stored {name} as the API would");
    }
    assert!(html.contains(&format!("/{{url}}/{id}/edit")), "{html}");

    let (status, html) = page(&app, &format!("/{{url}}/{id}/edit")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Delete the {{one}}"), "{html}");
    let path = format!("/{{url}}/{id}/edit");
    let (status, html) = post_form(&app, &path, &[{{form_sample}}, ("csrf_token", &csrf)]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("{{one | capitalize}} saved."), "{html}");

    let (status, html) = post_form(&app, &format!("/{{url}}/{id}/delete"), &[("csrf_token", &csrf)]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("{{one | capitalize}} deleted."), "{html}");
    assert_eq!(app.db.count("{{plural}}").await, 0);
    let (status, _) = page(&app, &format!("/{{url}}/{id}/edit")).await;
    assert_eq!(status, 404);
}
