//! The outbox relay's wake-ups: an idle relay is notified by the trigger (its polling is set to ten minutes here, so
//! only a notification can move a task), a busy one polls; a run records how long it took.

use std::time::Duration;

use web::tasks::{self, probe::Probe};

use super::start_worker;
use crate::common::{TestBroker, TestDb, diesel_conn, eventually};

async fn idle_relays(client: &tokio_postgres::Client) -> i64 {
    client.query_one("SELECT count(*) FROM outbox_idle_relays", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn an_idle_relay_is_notified_and_a_run_records_its_duration() {
    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let client = db.client().await;
    let mut worker = start_worker(&db.url, &broker, &[("OUTBOX_POLL_MS", "600000")]);
    let mut conn = diesel_conn(&db.url).await;

    for round in 1..=3_i64 {
        // Idle: registered, so the next enqueue notifies it.
        eventually(15, "the relay to register as idle", || async { (idle_relays(&client).await == 1).then_some(()) })
            .await;
        let task = tasks::enqueue(&mut conn, &Probe { sleep_ms: 300, ..Probe::default() }).await.unwrap();
        eventually(10, "the task to succeed without a poll", || async {
            let row = client.query_one("SELECT state FROM tasks WHERE task_id = $1", &[&task]).await.unwrap();
            (row.get::<_, String>(0) == "succeeded").then_some(())
        })
        .await;
        let ran: f64 = client
            .query_one(
                "SELECT extract(epoch FROM finished_at - started_at)::float8 FROM task_runs WHERE task_id = $1",
                &[&task],
            )
            .await
            .unwrap()
            .get(0);
        assert!(ran >= 0.3, "round {round}: the run slept 300 ms but recorded {ran} s");
    }

    // A burst while it is busy: no notification needed, all of them run.
    for _ in 0..50 {
        tasks::enqueue(&mut conn, &Probe::default()).await.unwrap();
    }
    eventually(20, "the burst to succeed", || async {
        let left: i64 =
            client.query_one("SELECT count(*) FROM tasks WHERE state <> 'succeeded'", &[]).await.unwrap().get(0);
        (left == 0).then_some(())
    })
    .await;

    // A worker that stops leaves the list.
    worker.signal("TERM");
    assert!(worker.wait_exit(Duration::from_secs(30)).success());
    assert_eq!(idle_relays(&client).await, 0, "the stopped relay unregistered");
}
