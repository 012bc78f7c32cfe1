//! The outbox relay: publishes `outbox` rows to RabbitMQ and marks them published, in batches.
//!
//! A batch is claimed with `FOR UPDATE SKIP LOCKED` inside a transaction that stays open until every message of the
//! batch is confirmed by the broker and the rows are marked: several relays (one per worker process) never publish
//! the same row at the same time, and a relay that dies mid-batch leaves its rows unmarked for the next one. The
//! worst case is a row published twice (broker confirmed, relay died before commit), which the worker's idempotency
//! absorbs.
//!
//! The relay sleeps between batches until `OUTBOX_POLL_MS` passes or PostgreSQL notifies channel `outbox` (a
//! trigger on the table does, on every insert), so a task usually leaves within milliseconds of its commit.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection as _;
use futures_util::StreamExt as _;
use tokio::sync::{Notify, mpsc, watch};

use crate::broker::{self, Broker, Publisher};
use crate::config::Config;
use crate::db::{self, DbPool};
use crate::reconnect::{Backoff, pause};
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

/// Runs until `shutdown` turns true, reconnecting to RabbitMQ and PostgreSQL as needed.
pub async fn run(config: &Config, pool: &DbPool, registry: &Registry, mut shutdown: watch::Receiver<bool>) {
    let wake = Arc::new(Notify::new());
    let listener = tokio::spawn(listen(config.database.url.expose().to_string(), wake.clone(), shutdown.clone()));
    let mut backoff = Backoff::default();
    while !*shutdown.borrow() {
        match session(config, pool, registry, &wake, &mut shutdown, &mut backoff).await {
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
    tracing::info!("outbox relay stopped");
}

async fn session(
    config: &Config,
    pool: &DbPool,
    registry: &Registry,
    wake: &Notify,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
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
            broker::confirmed(confirm, broker::CONFIRM_TIMEOUT).await?;
        }
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        store::mark_published(conn, &ids).await?;
        Ok::<_, anyhow::Error>(rows.len())
    })
    .await
}
