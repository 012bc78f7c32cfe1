//! RabbitMQ through amqprs: connecting (with close notifications, since amqprs does not reconnect by itself), the
//! queue topology of the task system, and a publisher that waits for the broker's confirm of every message.
//!
//! Topology, declared idempotently by every worker and relay when it connects:
//! - exchange `tasks` (direct, durable); queue `tasks.<queue>` bound with routing key `<queue>`;
//! - retry queues `tasks.<queue>.retry.<n>` (n = 1, 2, ...) holding a failed message for `base * 2^(n-1)` (queue
//!   TTL), then dead-lettering it back to `tasks` with routing key `<queue>`: one queue per delay, so a long delay
//!   never holds up a short one;
//! - `tasks.dead`: messages whose last attempt failed, or that cannot be run at all. Nothing consumes it;
//!   `app tasks retry` takes a message back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use amqprs::callbacks::{ChannelCallback, ConnectionCallback};
use amqprs::channel::{
    BasicPublishArguments, Channel, ConfirmSelectArguments, ExchangeDeclareArguments, QueueBindArguments,
    QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{Ack, BasicProperties, Cancel, Close, CloseChannel, FieldTable, FieldValue, Nack, Return};
use anyhow::Context as _;
use tokio::sync::{Mutex, oneshot, watch};

use crate::config::BrokerConfig;

pub const EXCHANGE: &str = "tasks";
pub const DEAD_QUEUE: &str = "tasks.dead";

pub fn queue_name(queue: &str) -> String {
    format!("tasks.{queue}")
}

pub fn retry_queue_name(queue: &str, level: u32) -> String {
    format!("tasks.{queue}.retry.{level}")
}

/// How long a message waits in retry queue `level` (1-based): `base * 2^(level-1)`, at most `max`.
pub fn retry_delay(base: Duration, max: Duration, level: u32) -> Duration {
    let factor = 2u32.saturating_pow(level.saturating_sub(1));
    base.checked_mul(factor).unwrap_or(max).min(max)
}

/// An open connection and a way to learn that it closed.
pub struct Broker {
    pub connection: Connection,
    closed: watch::Receiver<bool>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("open", &self.connection.is_open()).finish()
    }
}

struct CloseWatch(watch::Sender<bool>);

#[async_trait::async_trait]
impl ConnectionCallback for CloseWatch {
    async fn close(&mut self, _: &Connection, close: Close) -> Result<(), amqprs::error::Error> {
        tracing::warn!(reason = %close, "RabbitMQ closed the connection");
        let _ = self.0.send(true);
        Ok(())
    }
    async fn blocked(&mut self, _: &Connection, reason: String) {
        tracing::warn!(%reason, "RabbitMQ blocked publishing (resource alarm)");
    }
    async fn unblocked(&mut self, _: &Connection) {
        tracing::info!("RabbitMQ unblocked publishing");
    }
    async fn secret_updated(&mut self, _: &Connection) {}
}

impl Broker {
    pub async fn connect(config: &BrokerConfig, name: &str) -> anyhow::Result<Self> {
        let mut args = OpenConnectionArguments::try_from(config.url.expose())
            .map_err(|err| anyhow::anyhow!("AMQP_URL is not a valid AMQP URI: {err}"))?;
        // amqprs takes the vhost path literally; the AMQP URI spec percent-encodes it (`%2f` is `/`).
        let vhost = percent_decode(args.get_virtual_host());
        args.virtual_host(&vhost).connection_name(name).heartbeat(30);
        let connection = tokio::time::timeout(Duration::from_secs(10), Connection::open(&args))
            .await
            .context("connecting to RabbitMQ timed out")?
            .map_err(|err| anyhow::anyhow!("connecting to RabbitMQ: {err}"))?;
        let (sender, closed) = watch::channel(false);
        connection
            .register_callback(CloseWatch(sender))
            .await
            .map_err(|err| anyhow::anyhow!("registering connection callback: {err}"))?;
        Ok(Self { connection, closed })
    }

    /// Resolves when the connection is gone: the broker closed it, or the network failed.
    pub async fn lost(&self) {
        let mut closed = self.closed.clone();
        tokio::select! {
            _ = self.connection.listen_network_io_failure() => {
                tracing::warn!("RabbitMQ connection failed");
            }
            _ = closed.wait_for(|closed| *closed) => {}
        }
    }

    pub fn is_open(&self) -> bool {
        self.connection.is_open() && !*self.closed.borrow()
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let channel = self
            .connection
            .open_channel(None)
            .await
            .map_err(|err| anyhow::anyhow!("opening a RabbitMQ channel: {err}"))?;
        Ok(channel)
    }

    pub async fn close(self) {
        let _ = self.connection.close().await;
    }
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn table(entries: &[(&str, FieldValue)]) -> FieldTable {
    let mut table = FieldTable::new();
    for (key, value) in entries {
        let key = (*key).try_into().expect("short field name");
        table.insert(key, value.clone());
    }
    table
}

fn long_str(value: &str) -> FieldValue {
    FieldValue::S(value.try_into().expect("long string"))
}

/// Declares the exchange, the queues in `queues` with `levels` retry queues each, and the dead-letter queue.
pub async fn declare_topology(
    channel: &Channel,
    queues: &BTreeMap<String, u32>,
    retry_base: Duration,
    retry_max: Duration,
) -> anyhow::Result<()> {
    let fail = |what: String| move |err: amqprs::error::Error| anyhow::anyhow!("declaring {what}: {err}");
    channel
        .exchange_declare(ExchangeDeclareArguments::new(EXCHANGE, "direct").durable(true).finish())
        .await
        .map_err(fail(format!("exchange {EXCHANGE}")))?;
    channel
        .queue_declare(QueueDeclareArguments::durable_client_named(DEAD_QUEUE))
        .await
        .map_err(fail(DEAD_QUEUE.into()))?;
    for (queue, levels) in queues {
        let main = queue_name(queue);
        channel.queue_declare(QueueDeclareArguments::durable_client_named(&main)).await.map_err(fail(main.clone()))?;
        channel.queue_bind(QueueBindArguments::new(&main, EXCHANGE, queue)).await.map_err(fail(main.clone()))?;
        for level in 1..=*levels {
            let name = retry_queue_name(queue, level);
            let ttl = retry_delay(retry_base, retry_max, level).as_millis();
            let arguments = table(&[
                ("x-message-ttl", FieldValue::l(i64::try_from(ttl).unwrap_or(i64::MAX))),
                ("x-dead-letter-exchange", long_str(EXCHANGE)),
                ("x-dead-letter-routing-key", long_str(queue)),
            ]);
            let mut args = QueueDeclareArguments::durable_client_named(&name);
            args.arguments(arguments);
            // A retry queue declared earlier with another TTL cannot be redeclared: the error names it.
            channel.queue_declare(args).await.map_err(fail(name.clone()))?;
        }
    }
    Ok(())
}

/// Delivery tags awaiting the broker's confirm, each with the publisher waiting for it.
#[derive(Default)]
struct Pending {
    next_tag: u64,
    waiting: BTreeMap<u64, oneshot::Sender<bool>>,
}

impl Pending {
    fn settle(&mut self, tag: u64, multiple: bool, ok: bool) {
        let tags: Vec<u64> = if multiple { self.waiting.range(..=tag).map(|(t, _)| *t).collect() } else { vec![tag] };
        for tag in tags {
            if let Some(sender) = self.waiting.remove(&tag) {
                let _ = sender.send(ok);
            }
        }
    }
}

struct ConfirmCallback(Arc<std::sync::Mutex<Pending>>);

#[async_trait::async_trait]
impl ChannelCallback for ConfirmCallback {
    async fn close(&mut self, _: &Channel, close: CloseChannel) -> Result<(), amqprs::error::Error> {
        tracing::warn!(reason = %close, "RabbitMQ closed the publishing channel");
        // Dropping the senders fails every publish still waiting.
        self.0.lock().expect("pending lock").waiting.clear();
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        self.0.lock().expect("pending lock").settle(ack.delivery_tag(), ack.mutiple(), true);
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        self.0.lock().expect("pending lock").settle(nack.delivery_tag(), nack.multiple(), false);
    }
    async fn publish_return(&mut self, _: &Channel, ret: Return, _: BasicProperties, _: Vec<u8>) {
        tracing::error!(reason = %ret, "RabbitMQ returned an unroutable message");
    }
}

/// A channel in confirm mode. `publish` returns once the broker has taken responsibility for the message.
pub struct Publisher {
    channel: Channel,
    pending: Arc<std::sync::Mutex<Pending>>,
    /// Serializes publishes so delivery tags follow the order frames are sent in.
    order: Mutex<()>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

/// Task messages are JSON and persistent.
pub fn message_properties(message_id: &str) -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json")
        .with_persistence(true)
        .with_message_id(message_id)
        .finish()
}

impl Publisher {
    pub async fn open(broker: &Broker) -> anyhow::Result<Self> {
        let channel = broker.channel().await?;
        let pending = Arc::new(std::sync::Mutex::new(Pending { next_tag: 1, waiting: BTreeMap::new() }));
        channel
            .register_callback(ConfirmCallback(pending.clone()))
            .await
            .map_err(|err| anyhow::anyhow!("registering channel callback: {err}"))?;
        channel
            .confirm_select(ConfirmSelectArguments::default())
            .await
            .map_err(|err| anyhow::anyhow!("enabling publisher confirms: {err}"))?;
        Ok(Self { channel, pending, order: Mutex::new(()) })
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Sends without waiting; the returned receiver yields the broker's verdict.
    pub async fn send(
        &self,
        exchange: &str,
        routing_key: &str,
        properties: BasicProperties,
        body: Vec<u8>,
    ) -> anyhow::Result<oneshot::Receiver<bool>> {
        let _order = self.order.lock().await;
        let (sender, receiver) = oneshot::channel();
        let tag = {
            let mut pending = self.pending.lock().expect("pending lock");
            let tag = pending.next_tag;
            pending.next_tag += 1;
            pending.waiting.insert(tag, sender);
            tag
        };
        if let Err(err) =
            self.channel.basic_publish(properties, body, BasicPublishArguments::new(exchange, routing_key)).await
        {
            self.pending.lock().expect("pending lock").waiting.remove(&tag);
            anyhow::bail!("publishing to RabbitMQ: {err}");
        }
        Ok(receiver)
    }

    /// Publishes and waits for the confirm (bounded by `timeout`).
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        properties: BasicProperties,
        body: Vec<u8>,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let receiver = self.send(exchange, routing_key, properties, body).await?;
        self.confirmed(receiver, timeout).await
    }

    /// Waits for the confirm of one [`Publisher::send`], at most `timeout`. A connection that fails (the network,
    /// not the broker: no close arrives) ends the wait as soon as amqprs sees it, instead of after `timeout`.
    pub async fn confirmed(&self, receiver: oneshot::Receiver<bool>, timeout: Duration) -> anyhow::Result<()> {
        let lost = async {
            while self.channel.is_connection_open() && self.channel.is_open() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let verdict = tokio::select! {
            verdict = tokio::time::timeout(timeout, receiver) => verdict,
            () = lost => anyhow::bail!("the connection to RabbitMQ closed before it confirmed the message"),
        };
        match verdict {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => anyhow::bail!("RabbitMQ refused the message (nack)"),
            Ok(Err(_)) => anyhow::bail!("the channel closed before RabbitMQ confirmed the message"),
            Err(_) => anyhow::bail!("RabbitMQ did not confirm the message within {timeout:?}"),
        }
    }
}

/// How long a publish may wait for its confirm before it counts as failed.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vhosts_are_percent_decoded() {
        assert_eq!(percent_decode("%2f"), "/");
        assert_eq!(percent_decode("%2Fshop"), "/shop");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let (base, max) = (Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(retry_delay(base, max, 1), Duration::from_secs(2));
        assert_eq!(retry_delay(base, max, 2), Duration::from_secs(4));
        assert_eq!(retry_delay(base, max, 4), Duration::from_secs(16));
        assert_eq!(retry_delay(base, max, 10), max);
        assert_eq!(retry_delay(base, max, 100), max);
    }

    #[test]
    fn multiple_acks_settle_every_earlier_tag() {
        let mut pending = Pending { next_tag: 4, waiting: BTreeMap::new() };
        let mut receivers = Vec::new();
        for tag in 1..=3 {
            let (sender, receiver) = oneshot::channel();
            pending.waiting.insert(tag, sender);
            receivers.push(receiver);
        }
        pending.settle(2, true, true);
        assert_eq!(pending.waiting.len(), 1);
        assert_eq!(receivers[0].try_recv(), Ok(true));
        assert_eq!(receivers[1].try_recv(), Ok(true));
        pending.settle(3, false, false);
        assert_eq!(receivers[2].try_recv(), Ok(false));
    }
}
