//! The outbox relay's wake-ups: an idle relay is notified by the trigger (its polling is set to ten minutes here, so
//! only a notification can move a task), a busy one polls; a run records how long it took.

use std::time::Duration;

use web::tasks::{self, probe::Probe};

use super::start_worker;
use crate::common::{TcpProxy, TestBroker, TestDb, diesel_conn, eventually};

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

/// Every message of `queue`, taken off it: the task ids they carry.
async fn drain(broker: &TestBroker, queue: &str) -> Vec<String> {
    use amqprs::channel::BasicGetArguments;
    use amqprs::connection::{Connection, OpenConnectionArguments};
    let args = OpenConnectionArguments::new("127.0.0.1", 5672, "guest", "guest").virtual_host(&broker.vhost).finish();
    let connection = Connection::open(&args).await.unwrap();
    let channel = connection.open_channel(None).await.unwrap();
    let mut ids = Vec::new();
    while let Some((_, properties, _)) =
        channel.basic_get(BasicGetArguments::new(queue).no_ack(true).finish()).await.unwrap()
    {
        ids.push(properties.message_id().cloned().unwrap_or_default());
    }
    let _ = connection.close().await;
    ids
}

/// The relay's guard: outbox rows are marked published only once RabbitMQ confirmed every message of the batch. A
/// connection cut at the end of a batch (every message handed to the socket, the last ones never reaching the
/// broker, no confirm coming back) leaves the whole batch in the outbox, and the next session publishes it: every
/// task reaches its queue.
#[tokio::test]
async fn a_batch_cut_off_before_its_confirms_stays_in_the_outbox_and_is_published_again() {
    use web::broker::{self, Broker, Publisher};
    use web::config::{BrokerConfig, DatabaseConfig, Secret, Vars};

    let broker = TestBroker::new().await;
    let db = TestDb::migrated().await;
    let client = db.client().await;
    let mut conn = diesel_conn(&db.url).await;
    const TASKS: usize = 100;
    // Two batches: the first one measures how many bytes a batch sends, the second one is cut at its end.
    let mut enqueued = Vec::new();
    for _ in 0..2 * TASKS {
        enqueued.push(tasks::enqueue(&mut conn, &Probe::default()).await.unwrap().to_string());
    }
    let vars = Vars::from_map([("DATABASE_URL".to_string(), db.url.clone())].into());
    let pool = web::db::pool(&DatabaseConfig::from_vars(&vars).unwrap()).unwrap();
    let registry = tasks::registry();
    let queue = broker::queue_name(registry.get("probe").unwrap().queue);
    let connect = async |port: u16| {
        let url = format!("amqp://guest:guest@127.0.0.1:{port}/{}", broker.vhost);
        let config = BrokerConfig { url: Secret::new(url), management_url: Secret::new(String::new()) };
        let connection = Broker::connect(&config, "relay-test").await.unwrap();
        let publisher = Publisher::open(&connection).await.unwrap();
        let (base, max) = (Duration::from_millis(300), Duration::from_secs(5));
        broker::declare_topology(publisher.channel(), &registry.queues(), base, max).await.unwrap();
        (connection, publisher)
    };
    let unpublished = async || -> i64 {
        client.query_one("SELECT count(*) FROM outbox WHERE published_at IS NULL", &[]).await.unwrap().get(0)
    };
    let batch = TASKS as i64;

    let proxy = TcpProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let (_cut_connection, publisher) = connect(proxy.port).await;
    let before = proxy.upstream_bytes();
    assert_eq!(web::tasks::relay::publish_batch(&pool, &publisher, batch).await.unwrap(), TASKS);
    let batch_bytes = proxy.upstream_bytes() - before;
    let mut arrived = drain(&broker, &queue).await;
    assert_eq!(arrived.len(), TASKS, "the first batch, uncut");

    // The cut drops the read that carries the batch's last bytes: the last message never reaches the broker.
    proxy.cut_once_after(batch_bytes - 16);
    let cut = web::tasks::relay::publish_batch(&pool, &publisher, batch).await;
    assert_eq!(proxy.cuts(), 1, "the connection was cut at the end of the batch");
    assert!(cut.is_err(), "a batch whose confirms never came counts as failed");
    assert_eq!(unpublished().await, batch, "nothing of the cut batch is marked published");
    let partial = drain(&broker, &queue).await;
    assert!(partial.len() < TASKS, "the cut kept messages from the broker ({} of {TASKS} arrived)", partial.len());

    let (_connection, publisher) = connect(5672).await;
    assert_eq!(web::tasks::relay::publish_batch(&pool, &publisher, batch).await.unwrap(), TASKS);
    assert_eq!(unpublished().await, 0);
    arrived.extend(drain(&broker, &queue).await);
    arrived.sort_unstable();
    enqueued.sort_unstable();
    assert_eq!(arrived, enqueued, "every task reached its queue, once from a batch that was confirmed");
}
