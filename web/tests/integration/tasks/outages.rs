//! Outages and stops: a killed worker, a broker or database outage, SIGTERM. No task is lost or run twice.

use std::time::Duration;

use web::tasks::{self, create_note::CreateNote, probe::Probe};

use super::{all_succeeded, insert_owner, signup_as, start_worker, task_states};
use crate::common::{TcpProxy, TestApp, TestBroker, TestDb, diesel_conn, eventually, mail_to, unique_email};

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
        tasks::enqueue(&mut conn, &Probe { sleep_ms: 150, ..Probe::default() }).await.unwrap();
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
        tasks::enqueue(&mut conn, &Probe { sleep_ms: 1500, ..Probe::default() }).await.unwrap();
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
