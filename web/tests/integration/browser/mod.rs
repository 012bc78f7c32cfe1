//! The site as a person uses it, in headless Chromium: sign up through the form, confirm the address from the mail,
//! sign out and in, write, edit and delete a note, see a bad form keep what was typed, reset the password by mail.
//! Screenshots of every page land under `target/screenshots/frontend/`.

mod driver;

pub use driver::Browser;

use crate::common::{TestApp, TestBroker, eventually, link_in, mail_to, unique_email};
use crate::tasks::start_worker;

const PASSWORD: &str = "a long browser password";
const NEW_PASSWORD: &str = "another long password";

async fn sign_in(browser: &Browser, email: &str, password: &str) {
    browser.open("/login").await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_text(".page-head h1").await;
}

#[tokio::test]
async fn a_person_signs_up_writes_notes_and_resets_the_password() {
    let broker = TestBroker::new().await;
    let app = TestApp::spawn().await;
    let base = format!("http://{}", app.addr);
    let _worker = start_worker(&app.db.url, &broker, &[("PUBLIC_URL", &base)]);
    let browser = Browser::start(&base, "frontend").await;
    let email = unique_email("browser");

    // Home, then a signup refused for bad input: the errors stand beside their fields, the address is kept.
    browser.open("/").await;
    browser.page("home-anonymous").await;
    browser.click("a.button-primary[href='/signup']").await;
    browser.fill("#email", "not-an-address").await;
    browser.fill("#password", "short").await;
    browser.click("#signup-form button[type=submit]").await;
    let error = browser.wait_text("#password-error").await;
    assert!(error.contains("at least 8"), "{error}");
    assert!(browser.wait_text("#email-error").await.contains("E-mail address"));
    assert_eq!(browser.value("#email").await, "not-an-address", "what was typed is kept");
    browser.page("signup-errors").await;

    // 1. Sign up for real.
    browser.fill("#email", &email).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#signup-form button[type=submit]").await;
    let flash = browser.wait_text("[data-flash]").await;
    assert!(flash.contains("Welcome"), "{flash}");
    assert_eq!(browser.path().await, "/notes");
    browser.page("notes-empty").await;

    // 2. The confirmation mail's link.
    let mail = eventually(30, "the welcome mail", || async { mail_to(&email).pop() }).await;
    let link = link_in(&mail, "/verify-email?token=").expect("a confirmation link");
    browser.client.goto(&link).await.unwrap();
    assert_eq!(browser.wait_text("h1").await, "Address confirmed");
    browser.page("verified").await;
    browser.open("/account").await;
    assert!(browser.wait_text("main").await.contains("Your address is confirmed."));
    browser.page("account").await;

    // 3. Sign out, sign in again.
    browser.click(".site-nav form button").await;
    assert!(browser.wait_text("[data-flash]").await.contains("signed out"));
    browser.open("/notes").await;
    assert!(browser.path().await.starts_with("/login?next="), "{}", browser.path().await);
    browser.page("login").await;
    browser.fill("#email", &email).await;
    browser.fill("#password", "wrong password!").await;
    browser.click("#login-form button[type=submit]").await;
    assert!(browser.wait_text("[role=alert]").await.contains("not right"));
    browser.fill("#password", PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_text(".page-head h1").await;
    assert_eq!(browser.path().await, "/notes", "back where the login started");

    // 4 and 5. A note: refused without a title (the text is kept), created, edited, deleted.
    browser.click("a[href='/notes/new']").await;
    browser.wait_text("#note-form").await;
    browser.fill("#body", "Milk, eggs, and a very long list of things to buy before Sunday.").await;
    browser.click("#note-form button[type=submit]").await;
    assert!(browser.wait_text("#title-error").await.contains("Title"));
    assert!(browser.value("#body").await.starts_with("Milk, eggs"), "the text is kept");
    browser.page("note-errors").await;
    browser.fill("#title", "Shopping").await;
    browser.click("#note-form button[type=submit]").await;
    assert!(browser.wait_text("[data-flash]").await.contains("Shopping"));
    browser.page("notes-one").await;
    browser.click(".note-list a").await;
    browser.wait_text("#note-form").await;
    browser.page("note-edit").await;
    browser.fill("#title", "Shopping for Sunday").await;
    browser.click("#note-form button[type=submit]").await;
    assert!(browser.wait_text("[data-flash]").await.contains("Shopping for Sunday"));
    assert!(browser.wait_text(".note-list").await.contains("Shopping for Sunday"));
    browser.click(".note-list a").await;
    browser.click("button[data-confirm]").await;
    browser.client.accept_alert().await.unwrap();
    assert!(browser.wait_text("[data-flash]").await.contains("deleted"));
    assert!(browser.wait_text("main").await.contains("No notes yet"));

    // A page that does not exist is a page too.
    browser.open("/notes/00000000-0000-0000-0000-000000000000/edit").await;
    assert_eq!(browser.wait_text(".error-page .code").await, "404");
    browser.page("not-found").await;

    // 6. Reset the password by mail, signed out.
    browser.click(".site-nav form button").await;
    browser.wait_text("[data-flash]").await;
    browser.open("/forgot-password").await;
    browser.page("forgot").await;
    browser.fill("#email", &email).await;
    browser.click("#forgot-form button[type=submit]").await;
    assert!(browser.wait_text("[data-flash]").await.contains("on its way"));
    let mail = eventually(30, "the reset mail", || async {
        mail_to(&email).into_iter().find(|m| m.contains("/reset-password?token="))
    })
    .await;
    let link = link_in(&mail, "/reset-password?token=").expect("a reset link");
    browser.client.goto(&link).await.unwrap();
    browser.wait_text("#reset-form").await;
    browser.page("reset").await;
    browser.fill("#password", NEW_PASSWORD).await;
    browser.click("#reset-form button[type=submit]").await;
    assert!(browser.wait_text("[data-flash]").await.contains("password is changed"));
    sign_in(&browser, &email, NEW_PASSWORD).await;
    assert_eq!(browser.path().await, "/notes");

    browser.close().await;
}

/// Files on a note's edit page: a photo attached through the form and listed; a page saved as `.png` and a file
/// over the limit refused with the reason under the field (nothing listed); the photo downloaded by its link as the
/// same bytes; then removed.
#[tokio::test]
async fn a_person_attaches_files_to_a_note() {
    let store = crate::backup_storage::Store::new(crate::backup_storage::Backend::Local).await;
    let mut env = store.media_env();
    env.push(("MEDIA_MAX_BYTES".into(), "100000".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::spawn_with(&env).await;
    let browser = Browser::start(&format!("http://{}", app.addr), "frontend").await;
    let files = store.dir.as_ref().unwrap().join("upload");
    std::fs::create_dir_all(&files).unwrap();
    let photo = files.join("harbour at dawn.png");
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..40_000u32).map(|i| (i % 251) as u8));
    std::fs::write(&photo, &bytes).unwrap();
    let page = files.join("invoice.png");
    std::fs::write(&page, "<html><script>alert(document.cookie)</script></html>").unwrap();
    let large = files.join("poster.png");
    std::fs::write(&large, [&bytes[..], &[0u8; 100_000][..]].concat()).unwrap();

    browser.open("/signup").await;
    browser.fill("#email", &unique_email("files")).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#signup-form button[type=submit]").await;
    browser.wait_text("[data-flash]").await;
    browser.open("/notes/new").await;
    browser.fill("#title", "Harbour photos").await;
    browser.click("#note-form button[type=submit]").await;
    browser.wait_text("[data-flash]").await;
    browser.click(".note-list a").await;
    assert!(browser.wait_text("#files").await.contains("No files attached yet"));
    assert!(browser.wait_text("#file-hint").await.contains("100 KB"));

    let attach = |path: std::path::PathBuf| {
        let browser = &browser;
        async move {
            let field = browser.client.find(fantoccini::Locator::Css("#file")).await.unwrap();
            field.send_keys(path.to_str().unwrap()).await.unwrap();
            browser.click("#file-form button[type=submit]").await;
        }
    };
    attach(photo.clone()).await;
    assert!(browser.wait_text("[data-flash]").await.contains("“harbour at dawn.png” attached"));
    let listed = browser.wait_text(".file-list").await;
    assert!(listed.contains("harbour at dawn.png") && listed.contains("image/png · 40 KB"), "{listed}");
    browser.page("note-files").await;

    attach(page).await;
    let refused = browser.wait_text("#file-error").await;
    assert!(refused.contains("Only PNG, JPEG, GIF, WebP or PDF files"), "{refused}");
    browser.page("note-file-refused").await;
    attach(large).await;
    assert!(browser.wait_text("#file-error").await.contains("larger than 100 KB"));
    assert_eq!(browser.client.find_all(fantoccini::Locator::Css(".file-list li")).await.unwrap().len(), 1);

    // The link gives the same bytes, as a PNG that the browser will not run.
    let fetched = browser
        .script(
            "const a = document.querySelector('.file-list a');
             return fetch(a.href).then((r) => r.arrayBuffer().then((data) => {
               const b = new Uint8Array(data);
               return [r.status, r.headers.get('content-type'), r.headers.get('x-content-type-options'), b.length,
                       b[0], b[40015]];
             }));",
        )
        .await;
    assert_eq!(fetched, serde_json::json!([200, "image/png", "nosniff", bytes.len(), 0x89, bytes[40_015]]));

    browser.click(".file-list button[data-confirm]").await;
    browser.client.accept_alert().await.unwrap();
    assert!(browser.wait_text("[data-flash]").await.contains("removed"));
    assert!(browser.wait_text("#files").await.contains("No files attached yet"));
    assert_eq!(app.db.count("note_files").await, 0);
    browser.close().await;
}

#[tokio::test]
async fn the_pages_follow_the_system_dark_scheme() {
    let app = TestApp::spawn().await;
    let browser = Browser::start_with(&format!("http://{}", app.addr), "frontend", &["--force-dark-mode"]).await;
    browser.open("/").await;
    let background = browser.script("return getComputedStyle(document.body).backgroundColor;").await;
    assert_eq!(background, "rgb(15, 20, 26)", "the dark scheme's background");
    browser.page("home-dark").await;
    browser.open("/signup").await;
    browser.fill("#email", &unique_email("dark")).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#signup-form button[type=submit]").await;
    browser.wait_text("[data-flash]").await;
    browser.page("notes-dark").await;
    browser.close().await;
}

/// The monitoring pages as staff see them, on a history the real worker makes: a task that dies after its three
/// attempts is filtered for, retried and seen to succeed (the page refreshes itself); a waiting task is cancelled;
/// a signed-in user who is not staff is refused.
#[tokio::test]
async fn the_dashboard_pages_for_staff() {
    let broker = TestBroker::new().await;
    let schedule = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cron/schedule.toml");
    let schedule = schedule.to_string_lossy().into_owned();
    let env = [("CRON_SCHEDULE", schedule.as_str()), ("AMQP_URL", broker.url.as_str())];
    let app = TestApp::spawn_dashboard_on(crate::common::TestDb::migrated().await, &env);
    let worker = start_worker(&app.db.url, &broker, &[]);
    let env = [("DATABASE_URL", app.db.url.as_str()), ("AMQP_URL", broker.url.as_str())];
    let enqueue = |payload: &str| {
        let output = crate::common::run_app(&["enqueue", "probe", payload], &env);
        assert!(output.status.success(), "{}", crate::common::output_text(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    enqueue("{}");
    enqueue(r#"{"fail_runs": 3}"#);
    let db = app.db.client().await;
    eventually(30, "one task dead", || async {
        let dead: i64 = db.query_one("SELECT count(*) FROM tasks WHERE state = 'dead'", &[]).await.unwrap().get(0);
        (dead == 1).then_some(())
    })
    .await;
    let someone = crate::dashboard::session_of(&app, "someone@example.com", false).await;
    // Staff made by the real command, who signs in on the site's login page (the web role, on another port of the
    // same host: the session cookie is the dashboard's too).
    let admin =
        [("DATABASE_URL", app.db.url.as_str()), ("ADMIN_EMAIL", "staff@example.com"), ("ADMIN_PASSWORD", PASSWORD)];
    let output = crate::common::run_app(&["createsuperuser"], &admin);
    assert!(output.status.success(), "{}", crate::common::output_text(&output));
    let env = [("DATABASE_URL", app.db.url.as_str()), ("PORT", "0"), ("WEB_WORKERS", "1"), ("SERVE_STATIC", "true")];
    let mut site = crate::common::AppProcess::start(&["server"], &env);
    let site_url =
        format!("http://{}", site.wait_for_line(|line| line["message"] == "listening")["addr"].as_str().unwrap());

    let browser = Browser::start(&format!("http://{}", app.addr), "dashboard").await;
    browser.open("/healthz").await;
    // A signed-in user who is not staff, by a session made above.
    browser.script(&format!("document.cookie = 'session={}; path=/'; return null;", someone.token)).await;
    browser.open("/monitor/").await;
    assert_eq!(browser.wait_text("h1").await, "Not allowed", "a signed-in user who is not staff");
    browser.page("refused").await;
    browser.client.delete_all_cookies().await.unwrap();
    browser.open("/monitor/").await;
    assert!(browser.path().await.starts_with("/login?next="), "signed out: sent to the login page");
    browser.client.goto(&format!("{site_url}/login?next=/notes")).await.unwrap();
    browser.fill("#email", "staff@example.com").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    eventually(10, "the notes page, signed in as staff, with its Monitor link", || async {
        (browser.path().await == "/notes" && browser.wait_text("header").await.contains("Monitor")).then_some(())
    })
    .await;
    browser.open("/monitor/").await;
    assert!(browser.wait_text("[role=alert]").await.contains("dead-lettered"));
    browser.page("overview").await;

    // The history, filtered by hand.
    browser.follow(".subnav a[href='/monitor/tasks']", "/monitor/tasks").await;
    browser.wait_text("tbody").await;
    browser.page("tasks").await;
    browser.script("document.querySelector('#state').value = 'dead'; return null;").await;
    browser.fill("#name", "probe").await;
    browser.click(".more-filters summary").await;
    browser.fill("#error", "failed so far").await;
    browser.click(".filters button[type=submit]").await;
    // The unfiltered page's table stands until the filtered page replaces it.
    eventually(10, "the filtered history", || async {
        browser.path().await.contains("error=failed+so+far").then_some(())
    })
    .await;
    assert_eq!(browser.wait_text("tbody").await.matches("probe").count(), 1, "only the dead probe");
    browser.page("tasks-filtered").await;
    browser.click("tbody a").await;
    browser.wait_text(".facts").await;
    browser.page("task-detail-dead").await;

    // Retried: the page says so, then shows it succeed without a reload (the live refresh).
    browser.click(".page-head form button").await;
    assert!(browser.wait_text("[data-flash]").await.contains("queued again"));
    eventually(30, "the retried task to show as succeeded", || async {
        browser.wait_text(".page-head h1").await.contains("succeeded").then_some(())
    })
    .await;
    assert!(browser.wait_text("[data-live-status]").await.contains("Live"), "the live line says what it does");
    browser.page("task-retried-succeeded").await;

    // A task waits (no worker now) and is cancelled.
    drop(worker);
    let waiting = enqueue(r#"{"sleep_ms": 1}"#);
    browser.open(&format!("/monitor/tasks/{waiting}")).await;
    assert!(browser.wait_text(".page-head h1").await.contains("queued"));
    browser.page("task-queued").await;
    browser.click("form[action$='/cancel'] button").await;
    browser.client.accept_alert().await.unwrap();
    assert!(browser.wait_text("[data-flash]").await.contains("cancelled"));
    assert!(browser.wait_text(".page-head h1").await.contains("cancelled"));
    browser.page("task-cancelled").await;
    let state: String =
        db.query_one("SELECT state FROM tasks WHERE task_id = $1::text::uuid", &[&waiting]).await.unwrap().get(0);
    assert_eq!(state, "cancelled");

    browser.follow(".subnav a[href='/monitor/workers']", "/monitor/workers").await;
    assert!(browser.wait_text("tbody").await.contains(env!("CARGO_PKG_VERSION")), "the worker that ran them");
    browser.page("workers").await;
    browser.follow(".subnav a[href='/monitor/backups']", "/monitor/backups").await;
    assert!(browser.wait_text("main").await.contains("No backup recorded yet"));
    browser.page("backups-none").await;
    browser.follow(".subnav a[href='/monitor/queues']", "/monitor/queues").await;
    assert!(browser.wait_text("tbody").await.contains("tasks.default"));
    browser.page("queues").await;
    browser.click("form[action='/monitor/queues/default/pause'] button").await;
    browser.client.accept_alert().await.unwrap();
    assert!(browser.wait_text("[data-flash]").await.contains("paused"));
    assert!(browser.wait_text("#pausing-title + p + .table-wrap").await.contains("paused by staff@example.com"));
    browser.page("queues-paused").await;
    browser.click("form[action='/monitor/queues/default/resume'] button").await;
    // The paused page's flash stands until the answer replaces the page.
    eventually(10, "the resumed flash", || async {
        browser.wait_text("[data-flash]").await.contains("resumed").then_some(())
    })
    .await;
    // A backup whose process was killed mid-run, closed by the next run of its job as `interrupted`.
    db.batch_execute(
        "INSERT INTO cron_runs (job, host, status, started_at, finished_at, note) VALUES ('nightly-backup', 'cron-1', \
         'interrupted', now() - interval '2 minutes', now() - interval '1 minute', 'the process ended mid-run')",
    )
    .await
    .unwrap();
    browser.follow(".subnav a[href='/monitor/cron']", "/monitor/cron").await;
    assert!(browser.wait_text("tbody").await.contains("nightly-backup"));
    let badge = browser.wait_text(".badge-interrupted").await;
    assert_eq!(badge, "interrupted", "the interrupted run has its own badge");
    let background =
        browser.script("return getComputedStyle(document.querySelector('.badge-interrupted')).backgroundColor;").await;
    assert_ne!(background, "rgba(0, 0, 0, 0)", "the interrupted badge has the style of a failure, not none");
    browser.page("cron").await;
    browser.close().await;
}

/// The API page, reached from the home page's link: every operation of the OpenAPI document under its tag, and the
/// link to the document itself, which parses as OpenAPI 3.1.
#[tokio::test]
async fn a_person_reads_the_api_page() {
    let app = TestApp::spawn().await;
    let browser = Browser::start(&format!("http://{}", app.addr), "frontend").await;
    browser.open("/").await;
    browser.follow("a[href='/api/docs']", "/api/docs").await;
    assert_eq!(browser.wait_text(".page-head h1").await, "API");
    let tags = browser.script("return [...document.querySelectorAll('h2.api-tag')].map(h => h.textContent);").await;
    // The template's own tags, then one per generated resource (`template/resource`), in the order of their paths.
    let operations = web::http::openapi::operations();
    let mut expected: Vec<String> = Vec::new();
    for (_, _, _, tag) in &operations {
        if !expected.contains(tag) {
            expected.push(tag.clone());
        }
    }
    assert_eq!(tags, serde_json::json!(expected));
    for tag in ["auth", "notes", "files", "health"] {
        assert!(expected.iter().any(|t| t == tag), "{tag} is listed");
    }
    let rows = browser.script("return document.querySelectorAll('table.table tbody tr').length;").await;
    assert_eq!(rows, serde_json::json!(operations.len()), "one row per operation");
    assert!(operations.len() >= 18, "the template's 18 operations at least");
    let patch = browser.script(
        "return [...document.querySelectorAll('tbody tr')].some(r => r.textContent.includes('PATCH') \
         && r.textContent.includes('/api/notes/{id}'));",
    );
    assert_eq!(patch.await, serde_json::json!(true));
    browser.page("api-docs").await;
    browser.follow("a[href='/api/openapi.json']", "/api/openapi.json").await;
    let text = browser.script("return document.body.innerText;").await;
    let document: serde_json::Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    browser.close().await;
}
