//! The outbox relay: publishes `outbox` rows to RabbitMQ and marks them published, in batches.
//!
//! A batch is claimed with `FOR UPDATE SKIP LOCKED` inside a transaction that stays open until every message of the
//! batch is confirmed by the broker and the rows are marked: several relays (one per worker process) never publish
//! the same row at the same time, and a relay that dies mid-batch leaves its rows unmarked for the next one. The
//! worst case is a row published twice (broker confirmed, relay died before commit), which the worker's idempotency
//! absorbs.
//!
//! The relay sleeps between batches until `OUTBOX_POLL_MS` passes or PostgreSQL notifies channel `outbox`, so a
//! task usually leaves within milliseconds of its commit. A trigger on the table notifies only while some relay is
//! registered as idle in `outbox_idle_relays` (see [`Idle`]): a NOTIFY holds a database-wide lock through its
//! transaction's commit, so notifying on every insert made concurrent enqueueing transactions commit one at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::{ExpressionMethods as _, QueryDsl as _};
use diesel_async::{AsyncConnection as _, RunQueryDsl as _, SimpleAsyncConnection as _};
use futures_util::StreamExt as _;
use tokio::sync::{Notify, mpsc, watch};

use crate::broker::{self, Broker, Publisher};
use crate::config::Config;
use crate::db::{self, DbPool};
use crate::reconnect::{Backoff, pause};
use crate::schema::outbox_idle_relays;
use crate::tasks::{Registry, store};

/// Wakes `wake` on every notification of channel `outbox`, reconnecting as needed, until shutdown.
async fn listen(url: String, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Ok((client, mut connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
            let (sender, mut notifications) = mpsc::unbounded_channel();
            let driver = tokio::spawn(async move {
                let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                while let Some(Ok(message)) = messages.next().await {
                    if let tokio_postgres::AsyncMessage::Notification(_) = message
                        && sender.send(()).is_err()
                    {
                        break;
                    }
                }
            });
            if client.batch_execute("LISTEN outbox").await.is_ok() {
                loop {
                    tokio::select! {
                        received = notifications.recv() => match received {
                            Some(()) => wake.notify_one(),
                            None => break,
                        },
                        _ = shutdown.wait_for(|stop| *stop) => {
                            driver.abort();
                            return;
                        }
                    }
                }
            }
            driver.abort();
        }
        // Polling covers the gap; try to listen again shortly.
        if pause(Duration::from_secs(2), &mut shutdown).await {
            return;
        }
    }
}

/// How long a relay that published keeps polling every [`BUSY_POLL`] before it registers as idle.
const STAY_AWAKE: Duration = Duration::from_secs(1);
/// The polling interval of a busy relay: the most a task waits in the outbox under load, and the size of the
/// batches then (the tasks committed meanwhile).
const BUSY_POLL: Duration = Duration::from_millis(5);

/// Runs until `shutdown` turns true, reconnecting to RabbitMQ and PostgreSQL as needed.
pub async fn run(config: &Config, pool: &DbPool, registry: &Registry, mut shutdown: watch::Receiver<bool>) {
    let wake = Arc::new(Notify::new());
    let listener = tokio::spawn(listen(config.database.url.expose().to_string(), wake.clone(), shutdown.clone()));
    let mut backoff = Backoff::default();
    let mut idle = Idle::new();
    while !*shutdown.borrow() {
        match session(config, pool, registry, &wake, &mut shutdown, &mut backoff, &mut idle).await {
            Ok(()) => break,
            Err(err) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = format!("{err:#}"), retry_in_ms = delay.as_millis(), "outbox relay interrupted");
                if pause(delay, &mut shutdown).await {
                    break;
                }
            }
        }
    }
    listener.abort();
    if let Err(err) = idle.leave(pool).await {
        tracing::debug!(error = format!("{err:#}"), "could not unregister the idle relay");
    }
    tracing::info!("outbox relay stopped");
}

async fn session(
    config: &Config,
    pool: &DbPool,
    registry: &Registry,
    wake: &Notify,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
    idle: &mut Idle,
) -> anyhow::Result<()> {
    let broker = Broker::connect(&config.broker, "outbox-relay").await?;
    let publisher = Publisher::open(&broker).await?;
    broker::declare_topology(
        publisher.channel(),
        &registry.queues(),
        config.worker.retry_base,
        config.worker.retry_max,
    )
    .await?;
    tracing::info!("outbox relay connected to RabbitMQ");
    let mut connected = true;
    let mut last_published = Instant::now() - STAY_AWAKE;
    loop {
        if *shutdown.borrow() {
            broker.close().await;
            return Ok(());
        }
        if !broker.is_open() {
            anyhow::bail!("RabbitMQ connection lost");
        }
        let published = publish_batch(pool, &publisher, config.worker.outbox_batch).await?;
        if connected {
            // Only a working round trip to both services counts as recovered.
            backoff.reset();
            connected = false;
        }
        if published > 0 {
            tracing::debug!(published, "outbox batch published");
            idle.leave(pool).await?;
            last_published = Instant::now();
            continue;
        }
        // Busy lately: poll a few milliseconds apart (enqueuers do not notify); only then register as idle, and look
        // once more a moment later for the rows whose transactions read the table before the registration.
        if last_published.elapsed() < STAY_AWAKE || idle.register(pool).await? {
            // A shutdown is seen at the top of the loop.
            let _stopping = pause(BUSY_POLL, shutdown).await;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(config.worker.outbox_poll) => {}
            () = wake.notified() => {}
            _ = shutdown.wait_for(|stop| *stop) => {}
            () = broker.lost() => anyhow::bail!("RabbitMQ connection lost"),
        }
    }
}

/// This relay's row in `outbox_idle_relays`, present while it found nothing to publish: enqueueing transactions
/// notify only while some relay is registered. An insert that read the table just before a registration committed
/// and commits after the relay's last look waits for the next poll (`OUTBOX_POLL_MS`), never longer.
struct Idle {
    relay_id: String,
    /// When this relay last wrote its row; `None` while it is not registered.
    registered: Option<Instant>,
}

impl Idle {
    /// A registration counts for a minute (the trigger's window); an idle relay renews it well before then.
    const RENEW: Duration = Duration::from_secs(15);

    fn new() -> Self {
        let relay_id = format!("{}-{}-{}", crate::hostname(), std::process::id(), crate::token::random_hex(3));
        Self { relay_id, registered: None }
    }

    /// Registers (or renews) this relay as idle. True when it was not registered: the caller looks again.
    async fn register(&mut self, pool: &DbPool) -> anyhow::Result<bool> {
        let renew = match self.registered {
            None => false,
            Some(at) if at.elapsed() >= Self::RENEW => true,
            Some(_) => return Ok(false),
        };
        let mut conn = db::conn(pool).await?;
        let now = chrono::Utc::now();
        if !renew {
            // Relays that died while idle: their rows stopped counting after a minute.
            diesel::delete(
                outbox_idle_relays::table.filter(outbox_idle_relays::since.lt(now - Duration::from_secs(60))),
            )
            .execute(&mut conn)
            .await?;
        }
        diesel::insert_into(outbox_idle_relays::table)
            .values((outbox_idle_relays::relay_id.eq(&self.relay_id), outbox_idle_relays::since.eq(now)))
            .on_conflict(outbox_idle_relays::relay_id)
            .do_update()
            .set(outbox_idle_relays::since.eq(now))
            .execute(&mut conn)
            .await?;
        self.registered = Some(Instant::now());
        Ok(!renew)
    }

    /// Removes the registration, if any.
    async fn leave(&mut self, pool: &DbPool) -> anyhow::Result<()> {
        if self.registered.is_none() {
            return Ok(());
        }
        let mut conn = db::conn(pool).await?;
        diesel::delete(outbox_idle_relays::table.find(&self.relay_id)).execute(&mut conn).await?;
        self.registered = None;
        Ok(())
    }
}

/// Publishes one batch; returns how many rows it published.
pub async fn publish_batch(pool: &DbPool, publisher: &Publisher, limit: i64) -> anyhow::Result<usize> {
    let mut conn = db::conn(pool).await?;
    conn.transaction(async |conn| {
        let rows = store::claim_outbox(conn, limit).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut confirms = Vec::with_capacity(rows.len());
        for row in &rows {
            let body = serde_json::to_vec(&row.envelope())?;
            let properties = broker::message_properties(&row.task_id.to_string());
            confirms.push(publisher.send(broker::EXCHANGE, &row.queue, properties, body).await?);
        }
        for confirm in confirms {
            publisher.confirmed(confirm, broker::CONFIRM_TIMEOUT).await?;
        }
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        // No wait for the WAL flush: a mark that a PostgreSQL crash loses publishes the batch again, the worst case
        // above, which the worker absorbs.
        conn.batch_execute("SET LOCAL synchronous_commit = off").await?;
        store::mark_published(conn, &ids).await?;
        Ok::<_, anyhow::Error>(rows.len())
    })
    .await
}
