//! Background tasks end to end: the real `app worker` process, a real RabbitMQ (a vhost per test), the real SMTP
//! sink, and the test's own database.

use std::time::Duration;

use serde_json::json;
use web::tasks::{self, create_note::CreateNote, probe::Probe};

use crate::common::{
    AppProcess, PASSWORD, TcpProxy, TestApp, TestBroker, TestDb, diesel_conn, error_code, eventually, link_in, mail_to,
    output_text, run_app, unique_email,
};

/// Starts `app worker` on `db_url` and `broker`, and waits until it consumes.
fn start_worker(db_url: &str, broker: &TestBroker, extra: &[(&str, &str)]) -> AppProcess {
    let mut env: Vec<(&str, &str)> = vec![
        ("DATABASE_URL", db_url),
        ("AMQP_URL", &broker.url),
        ("SMTP_URL", "smtp://127.0.0.1:1025"),
        ("RUST_LOG", "info"),
        ("OUTBOX_POLL_MS", "50"),
        ("TASK_RETRY_BASE_MS", "300"),
        ("HEARTBEAT_SECS", "1"),
        ("WORKER_GRACE_SECS", "20"),
        ("DATABASE_TIMEOUT_SECS", "2"),
    ];
    env.extend_from_slice(extra);
    let mut worker = AppProcess::start(&["worker"], &env);
    worker.wait_for_line(|line| line["message"] == "worker connected to RabbitMQ");
    worker
}

/// A user for tasks that need an owner.
async fn insert_owner(client: &tokio_postgres::Client) -> uuid::Uuid {
    client
        .query_one("INSERT INTO users (email, password_hash) VALUES ('owner@example.com', 'x') RETURNING id", &[])
        .await
        .unwrap()
        .get(0)
}

async fn task_states(db: &TestDb) -> Vec<(String, String)> {
    let client = db.client().await;
    client
        .query("SELECT task_name, state FROM tasks ORDER BY created_at", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

async fn all_succeeded(db: &TestDb, expected: usize) -> Option<()> {
    let states = task_states(db).await;
    (states.len() == expected && states.iter().all(|(_, state)| state == "succeeded")).then_some(())
}

async fn signup_as(app: &TestApp, email: &str) -> reqwest::Response {
    app.other_client()
        .post(app.url("/api/auth/signup"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
}

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

#[tokio::test]
async fn enqueue_command_refuses_bad_input_and_writes_nothing() {
    let db = TestDb::migrated().await;
    let env = [("DATABASE_URL", db.url.as_str())];
    for (args, expected) in [
        (vec!["enqueue", "no.such.task", "{}"], "unknown task"),
        (vec!["enqueue", "probe", "{not json"], "not JSON"),
        (vec!["enqueue", "probe", r#"{"sleep_ms": "soon"}"#], "does not fit"),
        (vec!["enqueue", "probe", r#"{"colour": "red"}"#], "does not fit"),
    ] {
        let output = run_app(&args, &env);
        assert!(!output.status.success(), "{args:?} accepted");
        assert!(output_text(&output).contains(expected), "{args:?}: {}", output_text(&output));
    }
    assert_eq!(db.count("tasks").await, 0);
    assert_eq!(db.count("outbox").await, 0);

    let output = run_app(&["enqueue", "probe", r#"{"sleep_ms": 1}"#], &env);
    assert!(output.status.success(), "{}", output_text(&output));
    let task_id = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(uuid::Uuid::parse_str(&task_id).is_ok(), "{task_id}");
    assert_eq!(db.count("outbox").await, 1);
    let names = run_app(&["tasks", "names"], &[]);
    assert!(output_text(&names).contains("notes.create"));
}

#[tokio::test]
async fn worker_killed_mid_task_loses_nothing_and_repeats_nothing() {
    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let client = db.client().await;
    let owner = insert_owner(&client).await;
    const NOTES: usize = 30;
    let mut conn = diesel_conn(&db.url).await;
    for n in 0..NOTES {
        tasks::enqueue(&mut conn, &CreateNote { owner_id: owner, title: format!("note {n}"), body: String::new() })
            .await
            .unwrap();
        // Slow tasks in between keep the worker busy when it is killed.
        tasks::enqueue(&mut conn, &Probe { sleep_ms: 150, fail: false }).await.unwrap();
    }

    let mut worker = start_worker(&db.url, &broker, &[("WORKER_CONCURRENCY", "4")]);
    eventually(30, "some notes", || async { (db.count("notes").await >= 5).then_some(()) }).await;
    worker.signal("KILL");
    worker.wait_exit(Duration::from_secs(5));
    let interrupted: i64 =
        client.query_one("SELECT count(*) FROM task_runs WHERE state = 'running'", &[]).await.unwrap().get(0);
    assert!(interrupted > 0, "the kill should land while tasks run");

    let _restarted = start_worker(&db.url, &broker, &[("WORKER_CONCURRENCY", "4")]);
    eventually(60, "every task to succeed", || all_succeeded(&db, 2 * NOTES)).await;
    let row = client.query_one("SELECT count(*), count(DISTINCT title) FROM notes", &[]).await.unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (NOTES as i64, NOTES as i64), "each note exactly once");
    let rerun: i64 = client
        .query_one("SELECT count(*) FROM (SELECT task_id FROM task_runs GROUP BY task_id HAVING count(*) > 1) t", &[])
        .await
        .unwrap()
        .get(0);
    assert!(rerun > 0, "interrupted tasks were delivered again");
}

#[tokio::test]
async fn broker_outage_delays_tasks_and_loses_none() {
    let broker = TestBroker::new().await;
    let app = TestApp::spawn().await;
    let mut worker = start_worker(&app.db.url, &broker, &[]);
    assert_eq!(signup_as(&app, &unique_email("before")).await.status(), 201);
    eventually(30, "the first mail task", || all_succeeded(&app.db, 1)).await;

    broker.take_down(2).await;
    worker.wait_for_line(|line| {
        line["message"] == "worker disconnected" || line["message"] == "outbox relay interrupted"
    });
    const SIGNUPS: usize = 8;
    let mut addresses = Vec::new();
    for n in 0..SIGNUPS {
        let email = unique_email(&format!("outage{n}"));
        assert_eq!(signup_as(&app, &email).await.status(), 201, "the web accepts work while RabbitMQ is down");
        addresses.push(email);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting: i64 = app
        .db
        .client()
        .await
        .query_one("SELECT count(*) FROM outbox WHERE published_at IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(waiting, SIGNUPS as i64, "the outbox holds the tasks during the outage");

    broker.restore().await;
    eventually(60, "every task after the outage", || all_succeeded(&app.db, SIGNUPS + 1)).await;
    for email in addresses {
        eventually(20, "each mail", || async { (!mail_to(&email).is_empty()).then_some(()) }).await;
    }
    assert!(worker.child.try_wait().unwrap().is_none(), "the worker survived the outage");
}

#[tokio::test]
async fn failing_task_backs_off_dead_letters_and_comes_back_with_retry() {
    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let _worker = start_worker(&db.url, &broker, &[]);
    let env = [("DATABASE_URL", db.url.as_str()), ("AMQP_URL", broker.url.as_str())];
    let output = run_app(&["enqueue", "probe", r#"{"fail": true}"#], &env);
    assert!(output.status.success(), "{}", output_text(&output));
    let task_id: uuid::Uuid = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap();
    let client = db.client().await;
    let state = || async {
        client.query_one("SELECT state FROM tasks WHERE task_id = $1", &[&task_id]).await.unwrap().get::<_, String>(0)
    };
    eventually(30, "the task to be dead", || async { (state().await == "dead").then_some(()) }).await;
    assert_eq!(broker.ready("tasks.dead").await, 1, "the dead-letter queue holds it");

    // Three attempts, each failed, the waits between them growing (300 ms, then 600 ms).
    let runs = client
        .query(
            "SELECT attempt, state, error, started_at, finished_at, retry_at FROM task_runs WHERE task_id = $1 ORDER BY attempt",
            &[&task_id],
        )
        .await
        .unwrap();
    assert_eq!(runs.len(), 3);
    for (n, run) in runs.iter().enumerate() {
        assert_eq!(run.get::<_, i32>(0), n as i32 + 1);
        assert_eq!(run.get::<_, String>(1), "failed");
        assert!(run.get::<_, String>(2).contains("probe asked to fail"));
    }
    // Start to start: the delay queue's TTL starts after the attempt started, so this can only be longer.
    let gap = |a: usize| {
        let started: chrono::DateTime<chrono::Utc> = runs[a].get(3);
        let next: chrono::DateTime<chrono::Utc> = runs[a + 1].get(3);
        (next - started).num_milliseconds()
    };
    assert!(gap(0) >= 300, "first backoff {} ms", gap(0));
    assert!(gap(1) >= 600, "second backoff {} ms", gap(1));
    for run in &runs[..2] {
        let retry_at: Option<chrono::DateTime<chrono::Utc>> = run.get(5);
        assert!(retry_at.is_some(), "failed attempts that will be retried say when");
    }
    assert!(runs[2].get::<_, Option<chrono::DateTime<chrono::Utc>>>(5).is_none(), "no retry after the last");

    let listed = run_app(&["tasks", "list", "--state", "dead"], &env);
    assert!(output_text(&listed).contains(&task_id.to_string()));
    let retry_running = run_app(&["tasks", "retry", &uuid::Uuid::new_v4().to_string()], &env);
    assert!(!retry_running.status.success());
    assert!(output_text(&retry_running).contains("no task with id"));

    let retried = run_app(&["tasks", "retry", &task_id.to_string()], &env);
    assert!(retried.status.success(), "{}", output_text(&retried));
    assert!(output_text(&retried).contains("Removed its message from tasks.dead"), "{}", output_text(&retried));
    assert_eq!(broker.ready("tasks.dead").await, 0);
    let again = run_app(&["tasks", "retry", &task_id.to_string()], &env);
    assert!(!again.status.success(), "a queued task cannot be retried again");
    // It runs its three attempts again and ends dead again.
    eventually(30, "three more runs", || async {
        let runs: i64 =
            client.query_one("SELECT count(*) FROM task_runs WHERE task_id = $1", &[&task_id]).await.unwrap().get(0);
        (runs == 6 && state().await == "dead").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_payload_the_task_cannot_read_is_dead_lettered_at_once() {
    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let client = db.client().await;
    let task_id = uuid::Uuid::new_v4();
    // As if an older version had queued it with another shape.
    let payload = json!({ "sleep_ms": "soon" });
    client
        .execute(
            "INSERT INTO tasks (task_id, task_name, queue, payload, max_attempts) VALUES ($1, 'probe', 'default', $2, 3)",
            &[&task_id, &payload],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO outbox (task_id, task_name, queue, payload) VALUES ($1, 'probe', 'default', $2)",
            &[&task_id, &payload],
        )
        .await
        .unwrap();
    let _worker = start_worker(&db.url, &broker, &[]);
    eventually(30, "the task to be dead", || async {
        let row =
            client.query_one("SELECT state, last_error FROM tasks WHERE task_id = $1", &[&task_id]).await.unwrap();
        (row.get::<_, String>(0) == "dead").then(|| row.get::<_, String>(1))
    })
    .await
    .contains("payload does not match")
    .then_some(())
    .expect("the error names the payload");
    let runs: i64 =
        client.query_one("SELECT count(*) FROM task_runs WHERE task_id = $1", &[&task_id]).await.unwrap().get(0);
    assert_eq!(runs, 1, "no retries for a payload that cannot change");
}

#[tokio::test]
async fn worker_reconnects_after_a_database_outage() {
    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let via_proxy = db.url.replace(":5432/", &format!(":{}/", proxy.port));
    let mut worker = start_worker(&via_proxy, &broker, &[]);
    let mut conn = diesel_conn(&db.url).await;
    for _ in 0..3 {
        tasks::enqueue(&mut conn, &Probe::default()).await.unwrap();
    }
    eventually(30, "the first tasks", || all_succeeded(&db, 3)).await;

    proxy.cut();
    for _ in 0..3 {
        tasks::enqueue(&mut conn, &Probe::default()).await.unwrap();
    }
    worker.wait_for_line(|line| line["level"] == "WARN");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(all_succeeded(&db, 6).await.is_none(), "nothing can run while the database is unreachable");
    assert!(worker.child.try_wait().unwrap().is_none(), "the worker waits the outage out");

    proxy.restore();
    eventually(60, "the tasks queued during the outage", || all_succeeded(&db, 6)).await;
}

#[tokio::test]
async fn sigterm_lets_running_tasks_finish_then_exits_zero() {
    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let mut worker = start_worker(&db.url, &broker, &[]);
    let mut conn = diesel_conn(&db.url).await;
    for _ in 0..2 {
        tasks::enqueue(&mut conn, &Probe { sleep_ms: 1500, fail: false }).await.unwrap();
    }
    let client = db.client().await;
    eventually(30, "both tasks running", || async {
        let running: i64 =
            client.query_one("SELECT count(*) FROM task_runs WHERE state = 'running'", &[]).await.unwrap().get(0);
        (running == 2).then_some(())
    })
    .await;
    let heartbeat: i64 = client.query_one("SELECT count(*) FROM workers", &[]).await.unwrap().get(0);
    assert_eq!(heartbeat, 1, "the worker announced itself");

    worker.signal("TERM");
    let status = worker.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));
    assert!(
        all_succeeded(&db, 2).await.is_some(),
        "running tasks finished before the exit: {:?}",
        task_states(&db).await
    );
    assert_eq!(broker.ready("tasks.default").await, 0, "and were acknowledged, not requeued");
    let stopped: bool = client.query_one("SELECT stopped_at IS NOT NULL FROM workers", &[]).await.unwrap().get(0);
    assert!(stopped);
}

#[tokio::test]
async fn a_redelivered_task_is_acknowledged_without_running_again() {
    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let client = db.client().await;
    let owner = insert_owner(&client).await;
    let mut worker = start_worker(&db.url, &broker, &[]);
    let mut conn = diesel_conn(&db.url).await;
    let task = tasks::enqueue(&mut conn, &CreateNote { owner_id: owner, title: "once".into(), body: String::new() })
        .await
        .unwrap();
    eventually(30, "the task to succeed", || all_succeeded(&db, 1)).await;

    // The same message a second time, as RabbitMQ does when a worker dies between commit and ack.
    client
        .execute(
            "INSERT INTO outbox (task_id, task_name, queue, payload) SELECT task_id, task_name, queue, payload FROM tasks WHERE task_id = $1",
            &[&task],
        )
        .await
        .unwrap();
    worker.wait_for_line(|line| line["message"] == "already succeeded; acknowledging without running again");
    assert_eq!(db.count("notes").await, 1);
    let runs: i64 = client.query_one("SELECT count(*) FROM task_runs", &[]).await.unwrap().get(0);
    assert_eq!(runs, 1);
}

#[tokio::test]
async fn a_task_over_its_timeout_fails_and_changes_nothing() {
    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let _worker = start_worker(&db.url, &broker, &[("TASK_TIMEOUT_SECS", "1"), ("TASK_RETRY_BASE_MS", "100")]);
    let mut conn = diesel_conn(&db.url).await;
    let task = tasks::enqueue(&mut conn, &Probe { sleep_ms: 5000, fail: false }).await.unwrap();
    let client = db.client().await;
    let error: String = eventually(30, "the task to be dead", || async {
        let row = client.query_one("SELECT state, last_error FROM tasks WHERE task_id = $1", &[&task]).await.unwrap();
        (row.get::<_, String>(0) == "dead").then(|| row.get(1))
    })
    .await;
    assert!(error.contains("timed out after 1s"), "{error}");
    let runs: i64 =
        client.query_one("SELECT count(*) FROM task_runs WHERE task_id = $1", &[&task]).await.unwrap().get(0);
    assert_eq!(runs, 3, "each attempt timed out and was retried");
}

/// `app tasks prune` deletes succeeded tasks (with their runs) and stopped workers older than the retention; dead
/// tasks and recent history stay, and `--dry-run` only counts.
#[tokio::test]
async fn prune_keeps_recent_history_and_dead_tasks() {
    let db = TestDb::migrated().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO tasks (task_id, task_name, queue, payload, state, max_attempts, updated_at, finished_at)
             SELECT gen_random_uuid(), 'probe', 'default', '{}', 'succeeded', 5, at, at
             FROM (VALUES (now() - interval '40 days'), (now() - interval '31 days'), (now() - interval '2 days')) v(at);
             INSERT INTO tasks (task_id, task_name, queue, payload, state, max_attempts, updated_at, finished_at)
             VALUES (gen_random_uuid(), 'probe', 'default', '{}', 'dead', 5, now() - interval '90 days', now() - interval '90 days');
             INSERT INTO task_runs (task_id, task_name, attempt, state, worker_id)
             SELECT task_id, task_name, 1, 'succeeded', 'w' FROM tasks;
             INSERT INTO workers (worker_id, hostname, pid, queues, concurrency, last_seen_at, stopped_at) VALUES
             ('old', 'h', 1, '{default}', 4, now() - interval '45 days', now() - interval '45 days'),
             ('live', 'h', 2, '{default}', 4, now(), NULL);",
        )
        .await
        .unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];

    let dry = run_app(&["tasks", "prune", "--dry-run"], &env);
    assert!(dry.status.success(), "{}", output_text(&dry));
    assert!(output_text(&dry).contains("Would delete 2 succeeded task(s)"), "{}", output_text(&dry));
    assert_eq!(db.count("tasks").await, 4, "a dry run deletes nothing");

    let pruned = run_app(&["tasks", "prune"], &env);
    assert!(pruned.status.success(), "{}", output_text(&pruned));
    assert!(output_text(&pruned).contains("Deleted 2 succeeded task(s) with their runs and 1 stopped worker(s)"));
    let states = task_states(&db).await;
    assert_eq!(states.len(), 2, "the recent succeeded task and the old dead one stay: {states:?}");
    assert!(states.iter().any(|(_, state)| state == "dead"));
    assert_eq!(db.count("task_runs").await, 2, "the runs of pruned tasks went with them");
    assert_eq!(db.count("workers").await, 1);

    let shorter = run_app(&["tasks", "prune", "--older-than-days", "1"], &env);
    assert!(output_text(&shorter).contains("Deleted 1 succeeded task(s)"), "{}", output_text(&shorter));
    let refused = run_app(&["tasks", "prune", "--older-than-days", "0"], &env);
    assert!(!refused.status.success(), "0 days is refused");
}
