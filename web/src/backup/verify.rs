//! `backup verify`: the proof that a backup restores. It goes into a scratch database, is compared with its
//! manifest, and the result is written next to the backup.

use std::time::Instant;

use anyhow::Context as _;
use chrono::Utc;

use super::Storage;
use super::manifest::{
    Manifest, Verification, dump_file, list, manifest_of, record, snapshot_facts, verify_file, write_json,
};
use super::restore::{restore_into, scratch_name};
use crate::db::{Database, quote_ident};

/// `backup verify`: restores backup `name` (default: the newest) into a scratch database, compares it with the
/// manifest, drops it, and records the result next to the backup. Returns the verification.
pub async fn verify(
    storage: &Storage,
    database: &Database,
    name: Option<&str>,
) -> anyhow::Result<(Manifest, Verification)> {
    let manifest = match name {
        Some(name) => manifest_of(storage, name).await?,
        None => list(storage)
            .await?
            .0
            .into_iter()
            .next()
            .map(|backup| backup.manifest)
            .context("there is no backup to verify")?,
    };
    let started = Instant::now();
    let admin_client = database.with_name("postgres").connect().await?;
    let scratch = database.with_name(&scratch_name(&database.name, "verify"));
    admin_client
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&scratch.name)))
        .await
        .context("creating the scratch database")?;
    let checked = async {
        if let Some(archive) = &manifest.media {
            super::media::check(storage, &manifest.name, archive).await?;
        }
        restore_into(storage, &manifest, &scratch).await?;
        let client = scratch.connect().await?;
        let (counts, migrations) = snapshot_facts(&client).await?;
        anyhow::ensure!(!migrations.is_empty(), "the restored database has no applied migrations");
        anyhow::ensure!(migrations == manifest.migrations, "migrations differ from the manifest");
        for (table, expected) in &manifest.row_counts {
            let found = counts.get(table).copied();
            anyhow::ensure!(
                found == Some(*expected),
                "table {table}: {expected} rows at backup time, {found:?} restored"
            );
        }
        anyhow::Ok(())
    }
    .await;
    let _ = admin_client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&scratch.name)))
        .await;
    let verification = Verification {
        verified_at: Utc::now(),
        ok: checked.is_ok(),
        error: checked.as_ref().err().map(|err| format!("{err:#}")),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    write_json(storage, &verify_file(&manifest.name), &verification).await?;
    record(database, &manifest, &storage.url(&storage.path(&dump_file(&manifest.name))), Some(&verification)).await;
    Ok((manifest, verification))
}
