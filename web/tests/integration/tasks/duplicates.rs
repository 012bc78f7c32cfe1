//! Two deliveries of one task running at once (a worker's broker connection dropped mid-task and RabbitMQ handed the
//! message to another): the second waits on the task row's lock when it marks success, finds the task succeeded and
//! rolls its own effect back.

use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
use web::tasks::{self, Envelope, probe::Probe, store};

use super::start_worker;
use crate::common::{TestBroker, TestDb, diesel_conn, eventually};

/// An effect of the task, inside its transaction: a note.
async fn effect(conn: &mut diesel_async::AsyncPgConnection, owner: uuid::Uuid) {
    diesel::sql_query("INSERT INTO notes (owner_id, title, body) VALUES ($1, 'effect', '')")
        .bind::<diesel::sql_types::Uuid, _>(owner)
        .execute(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_second_of_two_concurrent_runs_rolls_its_effect_back() {
    let db = TestDb::migrated().await;
    let client = db.client().await;
    let owner = super::insert_owner(&client).await;
    let mut conn = diesel_conn(&db.url).await;
    let task_id = tasks::enqueue(&mut conn, &Probe::default()).await.unwrap();
    let envelope = Envelope { task_id, task: "probe".into(), attempt: 1, payload: serde_json::json!({}) };
    let mut first = diesel_conn(&db.url).await;
    let mut second = diesel_conn(&db.url).await;
    let store::Start::Run(first_run) = store::start_run(&mut first, &envelope, "default", 3, "a").await.unwrap() else {
        panic!("the first delivery starts")
    };
    let store::Start::Run(second_run) = store::start_run(&mut second, &envelope, "default", 3, "b").await.unwrap()
    else {
        panic!("the second delivery starts too: the task has not succeeded yet")
    };

    // The first marks success and holds the row's lock a moment before committing.
    let (locked, locked_seen) = tokio::sync::oneshot::channel();
    let first_done = tokio::spawn(async move {
        first
            .transaction(async |conn| {
                effect(conn, owner).await;
                assert!(store::mark_succeeded(conn, task_id, first_run).await?);
                let _ = locked.send(());
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                Ok::<_, diesel::result::Error>(())
            })
            .await
            .unwrap();
    });
    locked_seen.await.unwrap();
    let marked = second
        .transaction(async |conn| {
            effect(conn, owner).await;
            let marked = store::mark_succeeded(conn, task_id, second_run).await?;
            // What the worker does when it finds the task succeeded: roll back.
            if marked { Ok(true) } else { Err(diesel::result::Error::RollbackTransaction) }
        })
        .await;
    first_done.await.unwrap();
    assert!(matches!(marked, Err(diesel::result::Error::RollbackTransaction)), "the second finds it succeeded");
    assert_eq!(db.count("notes").await, 1, "the effect applied once");

    // A failure recorded by the second delivery does not turn the task back.
    store::mark_failed(&mut second, task_id, "late failure", false).await.unwrap();
    let state: String =
        client.query_one("SELECT state FROM tasks WHERE task_id = $1", &[&task_id]).await.unwrap().get(0);
    assert_eq!(state, "succeeded");
}

#[tokio::test]
async fn a_worker_given_two_deliveries_at_once_runs_the_task_once() {
    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let client = db.client().await;
    let mut worker = start_worker(&db.url, &broker, &[]);
    // The task and a second outbox row for it, published together: both deliveries start before either ends.
    client
        .batch_execute(
            "BEGIN;
             INSERT INTO tasks (task_id, task_name, queue, payload, max_attempts)
             VALUES ('00000000-0000-4000-8000-000000000001', 'probe', 'default', '{\"sleep_ms\": 1000}', 3);
             INSERT INTO outbox (task_id, task_name, queue, payload)
             SELECT task_id, task_name, queue, payload FROM tasks, generate_series(1, 2);
             COMMIT;",
        )
        .await
        .unwrap();
    worker.wait_for_line(|line| {
        line["message"] == "a duplicate delivery found the task already succeeded; its effect is rolled back"
    });
    let runs: Vec<(String, String)> = eventually(10, "both runs closed", || async {
        let rows = client.query("SELECT state, worker_id FROM task_runs", &[]).await.unwrap();
        let runs: Vec<(String, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        (runs.len() == 2 && runs.iter().all(|(state, _)| state == "succeeded")).then_some(runs)
    })
    .await;
    assert_eq!(runs.len(), 2);
    let state: String = client.query_one("SELECT state FROM tasks", &[]).await.unwrap().get(0);
    assert_eq!(state, "succeeded");
}
