//! What a backup is in storage: its three objects, the manifest that makes it exist, the verification record, the
//! listing that finds complete backups (and dumps never completed by a manifest), and the `backups` row the
//! dashboard reads.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use object_store::{ObjectStoreExt as _, PutPayload};
use serde::{Deserialize, Serialize};

use super::Storage;
use crate::db::{Database, quote_ident};

/// What `backup create` recorded about a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub database: String,
    pub created_at: DateTime<Utc>,
    /// Bytes of the `.dump` object.
    pub size: u64,
    pub sha256: String,
    pub format: String,
    /// Rows per table (`schema.table`) in the dumped snapshot.
    pub row_counts: BTreeMap<String, i64>,
    /// Applied migration versions in the dumped snapshot.
    pub migrations: Vec<String>,
    pub app_version: String,
    /// The uploaded files, when they are kept in a directory (`NAME.media.tar`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<super::MediaArchive>,
}

/// What `backup verify` found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    pub verified_at: DateTime<Utc>,
    pub ok: bool,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// A complete backup.
#[derive(Debug, Clone)]
pub struct Backup {
    pub manifest: Manifest,
    pub verification: Option<Verification>,
    pub url: String,
}

pub(super) fn dump_file(name: &str) -> String {
    format!("{name}.dump")
}
pub(super) fn manifest_file(name: &str) -> String {
    format!("{name}.manifest.json")
}
pub(super) fn verify_file(name: &str) -> String {
    format!("{name}.verify.json")
}

pub(super) async fn read_json<T: serde::de::DeserializeOwned>(
    storage: &Storage,
    file: &str,
) -> anyhow::Result<Option<T>> {
    match storage.store.get(&storage.path(file)).await {
        Ok(result) => {
            let bytes = result.bytes().await.with_context(|| format!("reading {file}"))?;
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("{file} is not valid"))?))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(err) => Err(anyhow::Error::from(err).context(format!("reading {file}"))),
    }
}

pub(super) async fn write_json<T: Serialize>(storage: &Storage, file: &str, value: &T) -> anyhow::Result<()> {
    let body = serde_json::to_vec_pretty(value)?;
    storage.store.put(&storage.path(file), PutPayload::from(body)).await.with_context(|| format!("writing {file}"))?;
    Ok(())
}

/// Every complete backup, newest first, and the names of dumps without a manifest (incomplete).
pub async fn list(storage: &Storage) -> anyhow::Result<(Vec<Backup>, Vec<(String, DateTime<Utc>)>)> {
    let mut files: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut listing = storage.store.list(Some(&storage.folder()));
    while let Some(meta) = listing.next().await {
        let meta = meta.with_context(|| format!("listing {}", storage.describe()))?;
        if let Some(file) = meta.location.filename() {
            files.insert(file.to_string(), meta.last_modified);
        }
    }
    let mut backups = Vec::new();
    let mut incomplete = Vec::new();
    for (file, modified) in &files {
        let Some(name) = file.strip_suffix(".dump") else { continue };
        if !files.contains_key(&manifest_file(name)) {
            incomplete.push((name.to_string(), *modified));
            continue;
        }
        let Some(manifest) = read_json::<Manifest>(storage, &manifest_file(name)).await? else { continue };
        let verification = if files.contains_key(&verify_file(name)) {
            read_json::<Verification>(storage, &verify_file(name)).await?
        } else {
            None
        };
        let url = storage.url(&storage.path(&dump_file(name)));
        backups.push(Backup { manifest, verification, url });
    }
    backups.sort_by_key(|backup| std::cmp::Reverse(backup.manifest.created_at));
    Ok((backups, incomplete))
}

/// Row counts and migrations as seen by `client`'s current transaction.
pub(super) async fn snapshot_facts(
    client: &tokio_postgres::Client,
) -> anyhow::Result<(BTreeMap<String, i64>, Vec<String>)> {
    let tables = client
        .query(
            "SELECT schemaname, tablename FROM pg_tables
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
            &[],
        )
        .await?;
    let mut counts = BTreeMap::new();
    for row in tables {
        let (schema, table): (String, String) = (row.get(0), row.get(1));
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}.{}", quote_ident(&schema), quote_ident(&table)), &[])
            .await?
            .get(0);
        counts.insert(format!("{schema}.{table}"), count);
    }
    let has_migrations: bool =
        client.query_one("SELECT to_regclass('public.__diesel_schema_migrations') IS NOT NULL", &[]).await?.get(0);
    let migrations = if has_migrations {
        client
            .query("SELECT version FROM __diesel_schema_migrations ORDER BY version", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect()
    } else {
        Vec::new()
    };
    Ok((counts, migrations))
}

/// The manifest of complete backup `name`; an error naming `backup list` when there is none.
pub(super) async fn manifest_of(storage: &Storage, name: &str) -> anyhow::Result<Manifest> {
    read_json(storage, &manifest_file(name))
        .await?
        .with_context(|| format!("no complete backup named {name} in {} (see backup list)", storage.describe()))
}

/// Best effort: the `backups` table the dashboard reads. Storage stays the source of truth.
pub(super) async fn record(database: &Database, manifest: &Manifest, url: &str, verification: Option<&Verification>) {
    let result = async {
        let client = database.connect().await?;
        client
            .execute(
                "INSERT INTO backups (name, url, size, sha256, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO NOTHING",
                &[
                    &manifest.name,
                    &url,
                    &i64::try_from(manifest.size).unwrap_or(i64::MAX),
                    &manifest.sha256,
                    &manifest.created_at,
                ],
            )
            .await?;
        if let Some(verification) = verification {
            client
                .execute(
                    "UPDATE backups SET verified_at = $2, verify_ok = $3, verify_error = $4 WHERE name = $1",
                    &[&manifest.name, &verification.verified_at, &verification.ok, &verification.error],
                )
                .await?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(err) = result {
        tracing::warn!(error = format!("{err:#}"), "could not record the backup in the database");
    }
}
