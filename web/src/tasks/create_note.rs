//! `notes.create`: the example of a task with a database effect. The note is inserted through `ctx.conn`, in the
//! transaction that marks the task succeeded, so a redelivered message never creates it twice. Copy this file for
//! your own tasks.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::models::note::{self, Body, Title};
use crate::tasks::{Task, TaskContext};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    pub owner_id: Uuid,
    pub title: String,
    #[serde(default)]
    pub body: String,
}

impl Task for CreateNote {
    const NAME: &'static str = "notes.create";

    async fn run(self, ctx: &mut TaskContext<'_>) -> anyhow::Result<()> {
        let title = Title::parse(&self.title).map_err(|problem| anyhow::anyhow!("title {problem}"))?;
        let body = Body::parse(&self.body).map_err(|problem| anyhow::anyhow!("body {problem}"))?;
        let created = note::create(ctx.conn, self.owner_id, title, body).await?;
        tracing::info!(note_id = %created.id, "note created by task");
        Ok(())
    }
}
