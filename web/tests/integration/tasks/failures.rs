//! Tasks that fail: bad input refused at enqueue, backoff and dead letters, unreadable payloads, redelivery and
//! timeouts.

use serde_json::json;
use web::tasks::{self, create_note::CreateNote, probe::Probe};

use super::{all_succeeded, insert_owner, start_worker};
use crate::common::{TestBroker, TestDb, diesel_conn, eventually, output_text, run_app};

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
    let task = tasks::enqueue(&mut conn, &Probe { sleep_ms: 5000, ..Probe::default() }).await.unwrap();
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
