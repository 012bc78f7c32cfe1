//! Background tasks end to end: the real `app worker` process, a real RabbitMQ (a vhost per test), the real SMTP
//! sink, and the test's own database. One file per concern; the helpers they share are here.

/// The tests of the project's own tasks: one file each in `tasks/app/` (`template/task` adds one), compiled by the
/// build.
mod app {
    include!(concat!(env!("OUT_DIR"), "/app_task_tests.rs"));
}
mod duplicates;
mod failures;
mod history;
mod mail;
mod outages;
mod relay;

use serde_json::json;

use crate::common::{AppProcess, PASSWORD, TestApp, TestBroker, TestDb};

/// Starts `app worker` on `db_url` and `broker`, and waits until it consumes.
pub(crate) fn start_worker(db_url: &str, broker: &TestBroker, extra: &[(&str, &str)]) -> AppProcess {
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
