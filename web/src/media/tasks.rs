//! The media tasks: `media.delete` removes the objects of deleted files and notes (enqueued in the transaction that
//! deleted their rows), `media.sweep` removes objects that no row names (run nightly by cron).

use chrono::Utc;
use futures_util::TryStreamExt as _;
use object_store::ObjectStoreExt as _;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::{Media, check_key};
use crate::models::note_file;
use crate::tasks::{Task, TaskContext};

/// An object without a row is left alone this long: its upload may still be about to record it.
pub const ORPHAN_AGE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteFiles {
    pub keys: Vec<String>,
}

impl Task for DeleteFiles {
    const NAME: &'static str = "media.delete";

    async fn run(self, ctx: &mut TaskContext<'_>) -> anyhow::Result<()> {
        let media = Media::open(&ctx.services.config)?;
        for key in &self.keys {
            // A key of another shape is never a path to touch.
            let Some(path) = check_key(key) else {
                tracing::warn!(key, "media.delete: not a media key; skipped");
                continue;
            };
            // Deleting what is already gone succeeds: a retried task is harmless.
            match media.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        tracing::info!(files = self.keys.len(), "media files deleted");
        Ok(())
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Only report what would be deleted.
    #[serde(default)]
    pub dry_run: bool,
}

impl Task for Sweep {
    const NAME: &'static str = "media.sweep";
    const MAX_ATTEMPTS: u32 = 3;

    async fn run(self, ctx: &mut TaskContext<'_>) -> anyhow::Result<()> {
        let media = Media::open(&ctx.services.config)?;
        let swept = sweep(&media, ctx.conn, self.dry_run).await?;
        tracing::info!(orphans = swept.len(), dry_run = self.dry_run, "media swept");
        Ok(())
    }
}

/// Deletes (or, with `dry_run`, lists) the objects under `notes/` that no row names and that are older than
/// [`ORPHAN_AGE`]. Returns their keys.
pub async fn sweep(
    media: &Media,
    conn: &mut diesel_async::AsyncPgConnection,
    dry_run: bool,
) -> anyhow::Result<Vec<String>> {
    let cutoff = Utc::now() - ORPHAN_AGE;
    let mut listing = media.store.list(Some(&Path::from("notes")));
    let mut candidates = Vec::new();
    while let Some(meta) = listing.try_next().await? {
        let key = meta.location.to_string();
        if meta.last_modified < cutoff && check_key(&key).is_some() {
            candidates.push(key);
        }
    }
    let mut orphans = Vec::new();
    for batch in candidates.chunks(500) {
        let known = note_file::known_keys(conn, batch).await?;
        orphans.extend(batch.iter().filter(|key| !known.contains(*key)).cloned());
    }
    if !dry_run {
        for key in &orphans {
            let path = check_key(key).expect("checked above");
            match media.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(orphans)
}
