//! The monitoring dashboard role: staff only, the overview's alerts and figures from the real tables, the task
//! history made by the real worker, and a retry that is audited.

use web::models::session::{self, NewSession};
use web::models::user::{self, Email};

use crate::common::{TestApp, TestBroker, TestDb, diesel_conn, eventually, output_text, run_app};
use crate::tasks::start_worker;

const HTML: &str = "text/html";

/// A user (staff or not) with a session on `app`'s database; its cookie and CSRF token.
pub(crate) async fn session_of(app: &TestApp, email: &str, staff: bool) -> NewSession {
    let mut conn = diesel_conn(&app.db.url).await;
    let account = user::create(&mut conn, &Email::parse(email).unwrap(), "not a hash", staff).await.unwrap();
    session::create(&mut conn, account.id, std::time::Duration::from_secs(3600)).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn get(app: &TestApp, path: &str, who: Option<&NewSession>) -> (u16, String, reqwest::header::HeaderMap) {
    let mut request = client().get(app.url(path)).header("Accept", HTML);
    if let Some(who) = who {
        request = request.header("Cookie", format!("session={}", who.token));
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, response.text().await.unwrap(), headers)
}

#[tokio::test]
async fn the_dashboard_is_for_staff_only() {
    let schedule = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cron/schedule.toml");
    let schedule = schedule.to_string_lossy().into_owned();
    let broker = TestBroker::new().await;
    let env = [("CRON_SCHEDULE", schedule.as_str()), ("AMQP_URL", broker.url.as_str())];
    let app = TestApp::spawn_dashboard_on(TestDb::migrated().await, &env);
    let (status, _, headers) = get(&app, "/monitor/", None).await;
    assert_eq!(status, 303, "a browser is sent to the login page");
    assert_eq!(headers["location"], "/login?next=%2Fmonitor%2F");
    let api = client().get(app.url("/monitor/")).send().await.unwrap();
    assert_eq!(api.status(), 401, "a script gets the JSON 401");
    let api = client().get(app.url("/monitor/api/overview")).send().await.unwrap();
    assert_eq!(api.status(), 401);
    assert!(api.headers()["content-type"].to_str().unwrap().starts_with("application/json"));

    let visitor = session_of(&app, "visitor@example.com", false).await;
    let (status, html, _) = get(&app, "/monitor/", Some(&visitor)).await;
    assert_eq!(status, 403, "signed in without is_staff");
    assert!(html.contains("Not allowed"));

    let staff = session_of(&app, "staff@example.com", true).await;
    let (status, html, _) = get(&app, "/monitor/", Some(&staff)).await;
    assert_eq!(status, 200);
    assert!(html.contains("No worker is online"), "no worker runs in this test: {html}");
    assert!(html.contains("No verified backup yet"));
    assert!(html.contains("<svg class=\"chart\""));
    let (status, _, _) = get(&app, "/monitor/tasks?state=sleeping", Some(&staff)).await;
    assert_eq!(status, 422, "an unknown state is refused by name");

    // Workers: one stopped ten minutes ago is listed as offline; one silent for two hours has left the list.
    let db = app.db.client().await;
    db.batch_execute(
        "INSERT INTO workers (worker_id, hostname, pid, queues, concurrency, last_seen_at, stopped_at) VALUES
           ('gone-1', 'old-host', 1, '{default}', 4, now() - interval '2 hours', NULL),
           ('stopped-1', 'quiet-host', 2, '{default}', 4, now() - interval '10 minutes', now() - interval '10 minutes')",
    )
    .await
    .unwrap();
    let (status, html, _) = get(&app, "/monitor/workers", Some(&staff)).await;
    assert_eq!(status, 200);
    assert!(html.contains("quiet-host") && html.contains("badge-offline"), "{html}");
    assert!(!html.contains("old-host"), "a worker silent for two hours is no longer listed");

    // Backups as the cron role records them, with the line that restores each.
    db.batch_execute(
        "INSERT INTO backups (name, url, size, sha256, created_at, verified_at, verify_ok) VALUES
           ('app-20261122', 'file:///backups/app-20261122', 12345678, 'abc123', now() - interval '30 hours',
            now() - interval '29 hours', true)",
    )
    .await
    .unwrap();
    let (status, html, _) = get(&app, "/monitor/backups", Some(&staff)).await;
    assert_eq!(status, 200);
    assert!(html.contains("./google_storage.sh -r file:///backups/app-20261122"), "{html}");
    assert!(html.contains("12.3 MB") && html.contains("badge-verified"));
    let (_, html, _) = get(&app, "/monitor/", Some(&staff)).await;
    assert!(html.contains("The newest verified backup is 30 hours old"), "{html}");

    // Cron: the schedule's jobs with their next run, the last run's result and output, skips.
    db.batch_execute(
        "INSERT INTO cron_runs (job, host, status, started_at, finished_at, exit_code, output_tail) VALUES
           ('nightly-backup', 'cron-1', 'failed', now() - interval '20 hours', now() - interval '20 hours', 1,
            'backup: the bucket refused the upload'),
           ('clearsessions', 'cron-1', 'skipped', now() - interval '3 hours', now() - interval '3 hours', NULL, NULL),
           ('clearsessions', 'cron-1', 'succeeded', now() - interval '4 hours', now() - interval '4 hours', 0, '')",
    )
    .await
    .unwrap();
    // A queue whose message nobody takes, made through the management API of the test's own vhost.
    let management = reqwest::Client::new();
    let api = "http://127.0.0.1:15672/api";
    let made = management
        .put(format!("{api}/queues/{}/tasks.orphan", broker.vhost))
        .basic_auth("guest", Some("guest"))
        .json(&serde_json::json!({ "durable": true }))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.status());
    let published = management
        .post(format!("{api}/exchanges/{}/amq.default/publish", broker.vhost))
        .basic_auth("guest", Some("guest"))
        .json(&serde_json::json!({ "properties": {}, "routing_key": "tasks.orphan", "payload": "{}", "payload_encoding": "string" }))
        .send()
        .await
        .unwrap();
    assert!(published.status().is_success(), "{}", published.status());
    // The management API refreshes its figures every few seconds.
    eventually(15, "the alert for a queue nobody consumes", || async {
        let (_, html, _) = get(&app, "/monitor/", Some(&staff)).await;
        html.contains("The queue tasks.orphan has 1 ready message(s) and no consumer.").then_some(())
    })
    .await;
    let (status, html, _) = get(&app, "/monitor/queues", Some(&staff)).await;
    assert_eq!(status, 200);
    assert!(html.contains("tasks.orphan") && html.contains("no consumer"), "{html}");

    let (status, html, _) = get(&app, "/monitor/cron", Some(&staff)).await;
    assert_eq!(status, 200);
    for job in ["nightly-backup", "clearsessions", "tasks-prune"] {
        assert!(html.contains(job), "{job} listed: {html}");
    }
    assert!(html.contains("0 0 3 * * *") && html.contains(" 03:00:00"), "the schedule and its next run");
    assert!(html.contains("backup: the bucket refused the upload"), "the output tail of the failed run");
    assert!(html.contains("<td>1</td>"), "one skipped clearsessions run in 24 h");
    let (_, html, _) = get(&app, "/monitor/", Some(&staff)).await;
    assert!(html.contains("The cron job nightly-backup failed on its last run."), "{html}");
}

#[tokio::test]
async fn a_dead_task_from_the_real_worker_is_shown_and_retried_with_an_audit_record() {
    let broker = TestBroker::new().await;
    let app = TestApp::spawn_dashboard_on(TestDb::migrated().await, &[("AMQP_URL", &broker.url)]);
    let _worker = start_worker(&app.db.url, &broker, &[]);
    let env = [("DATABASE_URL", app.db.url.as_str()), ("AMQP_URL", broker.url.as_str())];
    let output = run_app(&["enqueue", "probe", r#"{"fail": true}"#], &env);
    assert!(output.status.success(), "{}", output_text(&output));
    let task_id: uuid::Uuid = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap();
    let db = app.db.client().await;
    let state = || async {
        db.query_one("SELECT state FROM tasks WHERE task_id = $1", &[&task_id]).await.unwrap().get::<_, String>(0)
    };
    eventually(30, "the task to be dead", || async { (state().await == "dead").then_some(()) }).await;

    let staff = session_of(&app, "staff@example.com", true).await;
    let (_, html, _) = get(&app, "/monitor/", Some(&staff)).await;
    assert!(html.contains("1 dead-lettered task(s) wait for a retry."), "{html}");
    assert!(!html.contains("No worker is online"), "the worker's heartbeat counts it online");
    assert!(html.contains("3 failed"), "the chart counts the three failed attempts: {html}");

    let (_, html, _) = get(&app, "/monitor/workers", Some(&staff)).await;
    assert!(html.contains("badge-online"), "the real worker, online: {html}");
    assert!(html.contains("0 / 3"), "its attempts of the last 24 hours: none succeeded, three failed");
    assert!(html.contains(env!("CARGO_PKG_VERSION")), "the version it runs");

    let (_, html, _) = get(&app, "/monitor/queues", Some(&staff)).await;
    assert!(html.contains("tasks.default") && html.contains("0.3 / min (3 failed)"), "the worker's queue: {html}");

    // The same data as JSON, for scripts.
    let json = |path: &'static str| {
        let cookie = format!("session={}", staff.token);
        let url = app.url(path);
        async move {
            let response = client().get(url).header("Cookie", cookie).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let overview = json("/monitor/api/overview").await;
    assert_eq!(overview["counts"]["dead"], 1, "{overview}");
    assert_eq!(overview["minutes"].as_array().unwrap().len(), 60);
    let dead = json("/monitor/api/tasks?state=dead").await;
    assert_eq!(dead["items"][0]["task_id"], task_id.to_string(), "{dead}");
    let workers = json("/monitor/api/workers").await;
    assert_eq!(workers[0]["failed"], 3, "{workers}");
    let queues = json("/monitor/api/queues").await;
    assert!(queues.as_array().unwrap().iter().any(|q| q["name"] == "tasks.default"), "{queues}");

    let (_, html, _) = get(&app, "/monitor/tasks?state=dead&name=probe", Some(&staff)).await;
    assert!(html.contains(&task_id.to_string()), "the filter finds it");
    let (_, html, _) = get(&app, "/monitor/tasks?state=succeeded", Some(&staff)).await;
    assert!(!html.contains(&task_id.to_string()), "and another filter does not");
    let (status, html, _) = get(&app, &format!("/monitor/tasks/{task_id}"), Some(&staff)).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("probe asked to fail").count(), 4, "the last error and each of three attempts");
    assert!(html.contains("&#34;fail&#34;: true"), "the whole payload, escaped: {html}");

    let retry = |token: &str| {
        client()
            .post(app.url(&format!("/monitor/tasks/{task_id}/retry")))
            .header("Cookie", format!("session={}", staff.token))
            .header("Accept", HTML)
            .form(&[("csrf_token", token)])
            .send()
    };
    assert_eq!(retry("wrong").await.unwrap().status(), 403, "CSRF is checked");
    assert_eq!(db.query_one("SELECT count(*) FROM dashboard_actions", &[]).await.unwrap().get::<_, i64>(0), 0);
    let retried = retry(&staff.csrf_token).await.unwrap();
    assert_eq!(retried.status(), 303);
    let audit = db.query_one("SELECT user_email, action, task_id FROM dashboard_actions", &[]).await.unwrap();
    assert_eq!(audit.get::<_, String>(0), "staff@example.com");
    assert_eq!(audit.get::<_, String>(1), "retry");
    assert_eq!(audit.get::<_, Option<uuid::Uuid>>(2), Some(task_id));
    // The worker runs it again (and, as it always fails, dead-letters it again after three more attempts).
    eventually(30, "three more attempts", || async {
        let runs: i64 =
            db.query_one("SELECT count(*) FROM task_runs WHERE task_id = $1", &[&task_id]).await.unwrap().get(0);
        (runs == 6 && state().await == "dead").then_some(())
    })
    .await;
    let (_, html, _) = get(&app, &format!("/monitor/tasks/{task_id}"), Some(&staff)).await;
    assert!(html.contains("retry by staff@example.com"), "the detail shows the audit trail");
    let detail: serde_json::Value = client()
        .get(app.url(&format!("/monitor/api/tasks/{task_id}")))
        .header("Cookie", format!("session={}", staff.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["runs"].as_array().unwrap().len(), 6, "{detail}");
    assert_eq!(detail["actions"][0]["action"], "retry");
}

#[tokio::test]
async fn a_broker_that_does_not_answer_is_said_not_hidden() {
    let env = [("RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:9")];
    let app = TestApp::spawn_dashboard_on(TestDb::migrated().await, &env);
    let staff = session_of(&app, "staff@example.com", true).await;
    let (status, html, _) = get(&app, "/monitor/queues", Some(&staff)).await;
    assert_eq!(status, 200, "the page still answers");
    assert!(
        html.contains("RabbitMQ&#39;s management API did not answer") || html.contains("management API did not answer"),
        "{html}"
    );
    assert!(!html.contains("guest:guest"), "no credentials in the page");
    let (_, html, _) = get(&app, "/monitor/", Some(&staff)).await;
    assert!(html.contains("management API did not answer"), "an alert on the overview: {html}");
}
