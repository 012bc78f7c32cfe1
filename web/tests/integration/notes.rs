//! The notes API: CRUD, ownership, pagination, validation.

use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, error_code};

async fn create(app: &TestApp, csrf: &str, title: &str) -> Value {
    let response = app.post("/api/notes", &json!({ "title": title, "body": "text" }), Some(csrf)).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn create_read_update_delete() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("ada@example.com").await;

    let response = app.post("/api/notes", &json!({ "title": "  Groceries ", "body": "milk" }), Some(&csrf)).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let note: Value = response.json().await.unwrap();
    assert_eq!(note["title"], "Groceries");
    assert_eq!(location, format!("/api/notes/{}", note["id"].as_str().unwrap()));

    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, note);

    let response = app
        .client
        .patch(app.url(&location))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({ "title": "Shopping" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["title"], "Shopping");
    assert_eq!(updated["body"], "milk", "fields not sent stay as they were");
    assert!(updated["updated_at"].as_str() > note["updated_at"].as_str());

    let listed: Value = app.get("/api/notes?count=true").await.json().await.unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["title"], "Shopping");

    let response = app.client.delete(app.url(&location)).header("X-CSRF-Token", &csrf).send().await.unwrap();
    assert_eq!(response.status(), 204);
    error_code(app.get(&location).await, 404).await;
    assert_eq!(app.db.count("notes").await, 0);
}

#[tokio::test]
async fn anonymous_requests_are_unauthorized() {
    let app = TestApp::spawn().await;
    error_code(app.get("/api/notes").await, 401).await;
    error_code(app.post("/api/notes", &json!({ "title": "x" }), None).await, 401).await;
    assert_eq!(app.db.count("notes").await, 0);
}

#[tokio::test]
async fn changes_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("ada@example.com").await;
    let body = error_code(app.post("/api/notes", &json!({ "title": "x" }), None).await, 403).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("X-CSRF-Token"));
    assert_eq!(app.db.count("notes").await, 0);

    let note = create(&app, &csrf, "keep me").await;
    let path = format!("/api/notes/{}", note["id"].as_str().unwrap());
    error_code(app.client.delete(app.url(&path)).send().await.unwrap(), 403).await;
    error_code(app.client.patch(app.url(&path)).json(&json!({ "title": "changed" })).send().await.unwrap(), 403).await;
    let still: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(still["title"], "keep me");
}

#[tokio::test]
async fn another_users_note_is_not_found() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("ada@example.com").await;
    let note = create(&app, &csrf, "private").await;
    let path = format!("/api/notes/{}", note["id"].as_str().unwrap());

    // A second browser signs up as somebody else.
    let other = app.other_client();
    let response = other
        .post(app.url("/api/auth/signup"))
        .json(&json!({ "email": "eve@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let other_csrf = response.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();

    error_code(other.get(app.url(&path)).send().await.unwrap(), 404).await;
    let patch = other
        .patch(app.url(&path))
        .header("X-CSRF-Token", &other_csrf)
        .json(&json!({ "title": "mine now" }))
        .send()
        .await
        .unwrap();
    error_code(patch, 404).await;
    let delete = other.delete(app.url(&path)).header("X-CSRF-Token", &other_csrf).send().await.unwrap();
    error_code(delete, 404).await;
    let listed: Value = other.get(app.url("/api/notes?count=true")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["total"], 0);

    let mine: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(mine["title"], "private");
}

#[tokio::test]
async fn listing_is_paginated_newest_first() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("ada@example.com").await;
    for n in 1..=25 {
        create(&app, &csrf, &format!("note {n}")).await;
    }
    let first: Value = app.get("/api/notes?per_page=10").await.json().await.unwrap();
    assert!(first.get("total").is_none(), "no count unless asked: {first}");
    assert_eq!(first["per_page"], 10);
    assert_eq!(first["items"].as_array().unwrap().len(), 10);
    assert_eq!(first["items"][0]["title"], "note 25");
    let next = first["next"].as_str().unwrap();
    let second: Value = app.get(&format!("/api/notes?per_page=10&cursor={next}")).await.json().await.unwrap();
    assert_eq!(second["items"][0]["title"], "note 15");
    let next = second["next"].as_str().unwrap();
    let third: Value = app.get(&format!("/api/notes?per_page=10&cursor={next}&count=true")).await.json().await.unwrap();
    let titles: Vec<&str> = third["items"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["note 5", "note 4", "note 3", "note 2", "note 1"]);
    assert!(third["next"].is_null(), "the last page has no next: {third}");
    assert_eq!(third["total"], 25);
    let default: Value = app.get("/api/notes").await.json().await.unwrap();
    assert_eq!(default["per_page"], 20);

    for (query, field) in [
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("cursor=abc", "cursor"),
        ("cursor=bm90LWEta2V5", "cursor"),
        ("count=maybe", "count"),
        ("page=2", "page"),
    ] {
        let body = error_code(app.get(&format!("/api/notes?{query}")).await, 422).await;
        assert!(body["error"]["fields"][field].is_string(), "{query}: {body}");
    }
}

/// Notes created in one transaction share their `created_at`: the id breaks the tie, so walking the pages by cursor
/// still returns every note exactly once.
#[tokio::test]
async fn cursor_pages_return_every_note_once_even_with_equal_times() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("grace@example.com").await;
    create(&app, &csrf, "first").await;
    let client = app.db.client().await;
    client
        .batch_execute(
            "INSERT INTO notes (owner_id, title) SELECT owner_id, 'same time ' || n FROM notes, generate_series(1, 37) n",
        )
        .await
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page: Value = app.get(&format!("/api/notes?per_page=5&cursor={cursor}")).await.json().await.unwrap();
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            assert!(seen.insert(item["id"].as_str().unwrap().to_string()), "{item} listed twice");
        }
        match page["next"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 38);
    assert_eq!(pages, 8);
}

#[tokio::test]
async fn invalid_notes_are_refused_by_field() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("ada@example.com").await;
    let cases = [
        (json!({}), "title"),
        (json!({ "title": "   " }), "title"),
        (json!({ "title": "x".repeat(201) }), "title"),
        (json!({ "title": 5 }), "title"),
        (json!({ "title": "ok", "body": "x".repeat(20_001) }), "body"),
        (json!({ "title": "ok", "body": ["not", "text"] }), "body"),
    ];
    for (input, field) in cases {
        let body = error_code(app.post("/api/notes", &input, Some(&csrf)).await, 422).await;
        assert!(body["error"]["fields"][field].is_string(), "{input}: {body}");
    }
    assert_eq!(app.db.count("notes").await, 0);

    let note = create(&app, &csrf, "fine").await;
    let path = format!("/api/notes/{}", note["id"].as_str().unwrap());
    let patch = |input: Value| app.client.patch(app.url(&path)).header("X-CSRF-Token", &csrf).json(&input).send();
    error_code(patch(json!({})).await.unwrap(), 422).await;
    error_code(patch(json!({ "title": "" })).await.unwrap(), 422).await;
    let unchanged: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(unchanged["title"], "fine");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let app = TestApp::spawn().await;
    let csrf = app.signup("ada@example.com").await;
    error_code(app.get(&format!("/api/notes/{}", uuid::Uuid::new_v4())).await, 404).await;
    error_code(app.get("/api/notes/not-a-uuid").await, 404).await;
    let delete = app
        .client
        .delete(app.url(&format!("/api/notes/{}", uuid::Uuid::new_v4())))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    error_code(delete, 404).await;
}

/// Reads check the session inside their own query: the moment a session ends (logout here, on what could be
/// another replica), a replayed cookie reads nothing, by id or by list, and a missing cookie is 401 as before.
#[tokio::test]
async fn reads_refuse_a_session_the_moment_it_ends() {
    let app = TestApp::spawn().await;
    let response =
        app.post("/api/auth/signup", &json!({ "email": "ada@example.com", "password": PASSWORD }), None).await;
    let pair = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = response.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
    let note = create(&app, &csrf, "private").await;
    let path = format!("/api/notes/{}", note["id"].as_str().unwrap());
    let replay = |path: String| {
        let pair = pair.clone();
        let url = app.url(&path);
        async move { reqwest::Client::new().get(url).header("Cookie", pair).send().await.unwrap() }
    };
    assert_eq!(replay(path.clone()).await.status(), 200, "the copied cookie works while the session lives");
    assert_eq!(replay("/api/notes".into()).await.status(), 200);

    assert_eq!(app.post("/api/auth/logout", &json!({}), Some(&csrf)).await.status(), 204);
    error_code(replay(path.clone()).await, 401).await;
    error_code(replay("/api/notes".into()).await, 401).await;
    error_code(reqwest::Client::new().get(app.url(&path)).send().await.unwrap(), 401).await;
}
