//! The dead-letter queue (`tasks.dead`) after a retry: the retried tasks' last messages are taken out, so that the
//! queue holds only tasks that are still dead. Nothing consumes the queue, so this reads it with `basic.get`:
//! matching messages are acknowledged (gone), every other one is put back.

use std::collections::HashSet;

use amqprs::channel::{BasicAckArguments, BasicGetArguments, BasicNackArguments};
use uuid::Uuid;

use crate::broker::{self, Broker};
use crate::config::BrokerConfig;

/// Takes the messages of `task_ids` out of the dead-letter queue; how many were found. A message of another task,
/// or one taken by a concurrent reader meanwhile, is left in the queue.
pub async fn remove(config: &BrokerConfig, purpose: &str, task_ids: &HashSet<Uuid>) -> anyhow::Result<usize> {
    if task_ids.is_empty() {
        return Ok(0);
    }
    let wanted: HashSet<String> = task_ids.iter().map(Uuid::to_string).collect();
    let broker = Broker::connect(config, purpose).await?;
    let channel = broker.channel().await?;
    let mut others = Vec::new();
    let mut found = 0;
    while found < wanted.len() {
        let Some((get_ok, properties, _body)) = channel
            .basic_get(BasicGetArguments::new(broker::DEAD_QUEUE))
            .await
            .map_err(|err| anyhow::anyhow!("reading {}: {err}", broker::DEAD_QUEUE))?
        else {
            break;
        };
        let tag = get_ok.delivery_tag();
        if properties.message_id().is_some_and(|id| wanted.contains(id)) {
            channel.basic_ack(BasicAckArguments::new(tag, false)).await.map_err(|err| anyhow::anyhow!("{err}"))?;
            found += 1;
        } else {
            others.push(tag);
        }
    }
    for tag in others {
        channel.basic_nack(BasicNackArguments::new(tag, false, true)).await.map_err(|err| anyhow::anyhow!("{err}"))?;
    }
    broker.close().await;
    Ok(found)
}
