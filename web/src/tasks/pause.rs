//! Paused task queues (`paused_queues`): staff pause a queue from the dashboard and every worker stops consuming it
//! within a heartbeat; its messages wait in RabbitMQ until it is resumed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::schema::paused_queues;

/// A paused queue, as the dashboard shows it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = paused_queues)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Paused {
    pub queue: String,
    pub paused_by: String,
    pub paused_at: DateTime<Utc>,
}

/// Every paused queue.
pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Paused>> {
    paused_queues::table.order(paused_queues::queue).select(Paused::as_select()).load(conn).await
}

/// The names of the paused queues (what the worker needs).
pub async fn names(conn: &mut AsyncPgConnection) -> QueryResult<BTreeSet<String>> {
    Ok(paused_queues::table.select(paused_queues::queue).load::<String>(conn).await?.into_iter().collect())
}

/// Pauses `queue`; `false` when it was paused already.
pub async fn pause(conn: &mut AsyncPgConnection, queue: &str, by: &str) -> QueryResult<bool> {
    let inserted = diesel::insert_into(paused_queues::table)
        .values((paused_queues::queue.eq(queue), paused_queues::paused_by.eq(by)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Resumes `queue`; `false` when it was not paused.
pub async fn resume(conn: &mut AsyncPgConnection, queue: &str) -> QueryResult<bool> {
    Ok(diesel::delete(paused_queues::table.find(queue)).execute(conn).await? == 1)
}
