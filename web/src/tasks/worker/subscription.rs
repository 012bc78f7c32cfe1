//! The worker's connection to RabbitMQ: its publisher (retries, dead letters), and one consumer per selected task
//! queue that is not paused, their deliveries merged into one channel. A queue paused from the dashboard loses its
//! consumer; resumed, it gets one again, on the same connection.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use amqprs::channel::{BasicCancelArguments, BasicConsumeArguments, BasicQosArguments, Channel, ConsumerMessage};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Shared, drain};
use crate::broker::{self, Broker, Publisher};

pub(super) struct Subscription {
    pub(super) broker: Broker,
    pub(super) publisher: Arc<Publisher>,
    pub(super) channel: Channel,
    /// The queues consumed now, with their consumer tags.
    consumers: BTreeMap<String, String>,
    sender: mpsc::UnboundedSender<ConsumerMessage>,
    pub(super) deliveries: mpsc::UnboundedReceiver<ConsumerMessage>,
}

impl Subscription {
    pub(super) async fn open(shared: &Shared, queues: &[String], paused: &BTreeSet<String>) -> anyhow::Result<Self> {
        let config = &shared.services.config;
        let broker = Broker::connect(&config.broker, &format!("worker {}", shared.worker_id)).await?;
        let publisher = Arc::new(Publisher::open(&broker).await?);
        let channel = broker.channel().await?;
        let topology = shared.registry.queues();
        broker::declare_topology(&channel, &topology, config.worker.retry_base, config.worker.retry_max).await?;
        let prefetch = u16::try_from(config.worker.concurrency).unwrap_or(u16::MAX);
        channel
            .basic_qos(BasicQosArguments::new(0, prefetch, false))
            .await
            .map_err(|err| anyhow::anyhow!("setting prefetch: {err}"))?;
        let (sender, deliveries) = mpsc::unbounded_channel::<ConsumerMessage>();
        let mut subscription = Self { broker, publisher, channel, consumers: BTreeMap::new(), sender, deliveries };
        subscription.follow(queues, paused).await?;
        Ok(subscription)
    }

    /// Consumes each of `queues` that is not in `paused`, and stops consuming those that are. Messages already
    /// delivered from a queue just paused still run (at most the prefetch, `WORKER_CONCURRENCY`).
    pub(super) async fn follow(&mut self, queues: &[String], paused: &BTreeSet<String>) -> anyhow::Result<()> {
        for queue in queues {
            match (paused.contains(queue), self.consumers.contains_key(queue)) {
                (true, true) => {
                    if let Some(tag) = self.consumers.remove(queue) {
                        self.channel
                            .basic_cancel(BasicCancelArguments::new(&tag))
                            .await
                            .map_err(|err| anyhow::anyhow!("pausing {queue}: {err}"))?;
                    }
                    tracing::info!(%queue, "queue paused: stopped consuming it");
                }
                (false, false) => {
                    self.consume(queue).await?;
                    tracing::info!(%queue, "consuming queue");
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn consume(&mut self, queue: &str) -> anyhow::Result<()> {
        let args = BasicConsumeArguments::new(&broker::queue_name(queue), "").manual_ack(true).finish();
        let (tag, mut receiver) =
            self.channel.basic_consume_rx(args).await.map_err(|err| anyhow::anyhow!("consuming {queue}: {err}"))?;
        self.consumers.insert(queue.to_string(), tag);
        let sender = self.sender.clone();
        tokio::spawn(async move {
            while let Some(message) = receiver.recv().await {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        Ok(())
    }

    /// Stops the consumers, lets running tasks finish (their acks need this connection), then closes it. Unstarted
    /// deliveries are requeued by the broker on close.
    pub(super) async fn close(self, running: &mut JoinSet<()>, grace: Duration) {
        for tag in self.consumers.values() {
            let _ = self.channel.basic_cancel(BasicCancelArguments::new(tag)).await;
        }
        tracing::info!("stopped consuming; finishing running tasks");
        drain(running, grace).await;
        self.broker.close().await;
    }
}
