//! Backups that are proven: `pg_dump` streamed to object storage, restored into a scratch database every night to
//! check it, pruned by a retention policy, and restorable with one command.
//!
//! Each backup `NAME` is three objects under `BACKUP_PREFIX`:
//! - `NAME.dump`: `pg_dump --format=custom`, uploaded as a multipart upload straight from pg_dump's output with
//!   bounded memory. Object stores make a multipart upload visible only when it completes, so a killed upload never
//!   shows a partial dump;
//! - `NAME.manifest.json`: size, SHA-256, row counts and applied migrations, taken in the very snapshot pg_dump
//!   dumped (`pg_export_snapshot`). Written last: **a backup exists when its manifest does**;
//! - `NAME.verify.json`: the result of the last `backup verify`.
//!
//! Restores go into a new database first; the checksum is checked over the same stream; only when both the restore
//! and the checksum are good is the new database swapped in (connections to the old one are refused and
//! terminated), so a failed restore leaves the old data untouched.

pub mod storage;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, Utc};
use futures_util::StreamExt as _;
use object_store::{ObjectStoreExt as _, PutPayload, WriteMultipart};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_postgres::NoTls;

pub use storage::Storage;

use crate::config::{BackupConfig, Secret};

/// Upload part size. Memory in use is about this times `UPLOAD_CONCURRENCY`, whatever the database size.
const PART_SIZE: usize = 8 * 1024 * 1024;
const UPLOAD_CONCURRENCY: usize = 2;

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

/// The pieces of a `postgres://` URL the backup commands need.
#[derive(Debug, Clone)]
pub struct Database {
    url: Secret,
    pub name: String,
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Database {
    pub fn from_url(url: &Secret) -> anyhow::Result<Self> {
        let raw = url.expose();
        let without_query = raw.split('?').next().unwrap_or(raw);
        let (_, name) = without_query.rsplit_once('/').context("DATABASE_URL has no database name")?;
        anyhow::ensure!(!name.is_empty() && !name.contains('@'), "DATABASE_URL has no database name");
        Ok(Self { url: url.clone(), name: name.to_string() })
    }

    /// The same server and credentials, another database.
    pub fn with_name(&self, name: &str) -> Self {
        let raw = self.url.expose();
        let (base, query) = match raw.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (raw, String::new()),
        };
        let (server, _) = base.rsplit_once('/').expect("checked in from_url");
        Self { url: Secret::new(format!("{server}/{name}{query}")), name: name.to_string() }
    }

    pub async fn connect(&self) -> anyhow::Result<tokio_postgres::Client> {
        let (client, connection) = tokio_postgres::connect(self.url.expose(), NoTls).await.map_err(|err| {
            anyhow::anyhow!(
                "connecting to database {}: {}",
                self.name,
                crate::db::redact(&err.to_string(), self.url.expose())
            )
        })?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// A PostgreSQL client tool (pg_dump, pg_restore) for this database; the password goes through the
    /// environment, never the command line.
    fn tool(&self, program: &str) -> tokio::process::Command {
        let raw = self.url.expose();
        let password = crate::db::url_password(raw).unwrap_or_default().to_string();
        let without_password =
            if password.is_empty() { raw.to_string() } else { raw.replacen(&format!(":{password}@"), "@", 1) };
        let mut command = tokio::process::Command::new(program);
        command.arg("--dbname").arg(without_password).env("PGPASSWORD", password).kill_on_drop(true);
        command
    }
}

fn dump_file(name: &str) -> String {
    format!("{name}.dump")
}
fn manifest_file(name: &str) -> String {
    format!("{name}.manifest.json")
}
fn verify_file(name: &str) -> String {
    format!("{name}.verify.json")
}

async fn read_json<T: serde::de::DeserializeOwned>(storage: &Storage, file: &str) -> anyhow::Result<Option<T>> {
    match storage.store.get(&storage.path(file)).await {
        Ok(result) => {
            let bytes = result.bytes().await.with_context(|| format!("reading {file}"))?;
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("{file} is not valid"))?))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(err) => Err(anyhow::Error::from(err).context(format!("reading {file}"))),
    }
}

async fn write_json<T: Serialize>(storage: &Storage, file: &str, value: &T) -> anyhow::Result<()> {
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
async fn snapshot_facts(client: &tokio_postgres::Client) -> anyhow::Result<(BTreeMap<String, i64>, Vec<String>)> {
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

fn new_name(database: &str) -> String {
    let mut random = [0u8; 3];
    let _ = getrandom::fill(&mut random);
    format!("{database}-{}-{}", Utc::now().format("%Y%m%dT%H%M%SZ"), hex(&random))
}

async fn tail(mut stderr: tokio::process::ChildStderr) -> String {
    let mut text = String::new();
    let _ = stderr.read_to_string(&mut text).await;
    let start = text.len().saturating_sub(2000);
    text[text.floor_char_boundary(start)..].trim().to_string()
}

/// `backup create`: dumps `database` into a new backup and returns its manifest.
pub async fn create(storage: &Storage, database: &Database) -> anyhow::Result<Manifest> {
    let name = new_name(&database.name);
    let client = database.connect().await?;
    // One snapshot for the counts and for pg_dump, so the manifest describes exactly what was dumped.
    client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    let snapshot: String = client.query_one("SELECT pg_export_snapshot()", &[]).await?.get(0);
    let (row_counts, migrations) = snapshot_facts(&client).await.context("counting rows")?;

    let mut child = database
        .tool("pg_dump")
        .args(["--format=custom", "--no-owner", "--no-privileges", "--snapshot", &snapshot])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting pg_dump (is the PostgreSQL client installed?)")?;
    let mut stdout = child.stdout.take().expect("piped");
    let stderr = tokio::spawn(tail(child.stderr.take().expect("piped")));

    let dump_path = storage.path(&dump_file(&name));
    let upload = storage
        .store
        .put_multipart(&dump_path)
        .await
        .with_context(|| format!("starting upload to {}", storage.describe()))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buffer = vec![0u8; 256 * 1024];
    let streamed: anyhow::Result<()> = async {
        loop {
            let read = stdout.read(&mut buffer).await.context("reading pg_dump output")?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            size += read as u64;
            writer.wait_for_capacity(UPLOAD_CONCURRENCY).await.context("uploading")?;
            writer.write(&buffer[..read]);
        }
        Ok(())
    }
    .await;
    let status = child.wait().await.context("waiting for pg_dump")?;
    let errors = stderr.await.unwrap_or_default();
    if let Err(err) = streamed {
        let _ = writer.abort().await;
        return Err(err);
    }
    if !status.success() {
        let _ = writer.abort().await;
        anyhow::bail!("pg_dump failed ({status}): {errors}");
    }
    writer.finish().await.context("completing the upload")?;
    client.batch_execute("COMMIT").await?;

    let manifest = Manifest {
        name: name.clone(),
        database: database.name.clone(),
        created_at: Utc::now(),
        size,
        sha256: hex(&hasher.finalize()),
        format: "pg_dump-custom".into(),
        row_counts,
        migrations,
        app_version: env!("CARGO_PKG_VERSION").into(),
    };
    // The manifest makes the backup exist.
    write_json(storage, &manifest_file(&name), &manifest).await?;
    record(database, &manifest, &storage.url(&dump_path), None).await;
    Ok(manifest)
}

/// Best effort: the `backups` table the dashboard reads. Storage stays the source of truth.
async fn record(database: &Database, manifest: &Manifest, url: &str, verification: Option<&Verification>) {
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

/// Streams backup `name` into the empty database `target`, checking size and checksum over the same bytes.
async fn restore_into(storage: &Storage, manifest: &Manifest, target: &Database) -> anyhow::Result<()> {
    let name = &manifest.name;
    let object = storage.store.get(&storage.path(&dump_file(name))).await.with_context(|| format!("opening {name}"))?;
    let mut stream = object.into_stream();
    let mut child = target
        .tool("pg_restore")
        .args(["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting pg_restore (is the PostgreSQL client installed?)")?;
    let mut stdin = child.stdin.take();
    let stderr = tokio::spawn(tail(child.stderr.take().expect("piped")));
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("downloading {name}"))?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        // If pg_restore gave up, keep reading to report the checksum.
        if let Some(pipe) = stdin.as_mut()
            && pipe.write_all(&chunk).await.is_err()
        {
            stdin = None;
        }
    }
    drop(stdin);
    let status = child.wait().await.context("waiting for pg_restore")?;
    let errors = stderr.await.unwrap_or_default();
    let digest = hex(&hasher.finalize());
    anyhow::ensure!(
        size == manifest.size && digest == manifest.sha256,
        "backup {name} is corrupted or truncated: expected {} bytes with SHA-256 {}, found {size} bytes with {digest}",
        manifest.size,
        manifest.sha256
    );
    anyhow::ensure!(status.success(), "pg_restore failed ({status}): {errors}");
    Ok(())
}

async fn manifest_of(storage: &Storage, name: &str) -> anyhow::Result<Manifest> {
    read_json(storage, &manifest_file(name))
        .await?
        .with_context(|| format!("no complete backup named {name} in {} (see backup list)", storage.describe()))
}

fn scratch_name(base: &str, kind: &str) -> String {
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    let base: String = base.chars().take(40).collect();
    format!("{base}_{kind}_{}", hex(&random))
}

/// `backup restore`: replaces `database` with backup `name`.
pub async fn restore(storage: &Storage, database: &Database, name: &str) -> anyhow::Result<Manifest> {
    let manifest = manifest_of(storage, name).await?;
    let admin = database.with_name("postgres");
    let admin_client = admin.connect().await?;
    let incoming = database.with_name(&scratch_name(&database.name, "restore"));
    admin_client
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&incoming.name)))
        .await
        .context("creating the restore database")?;
    if let Err(err) = restore_into(storage, &manifest, &incoming).await {
        let _ = admin_client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&incoming.name)))
            .await;
        return Err(err.context(format!("database {} was not changed", database.name)));
    }
    swap(&admin_client, &database.name, &incoming.name).await?;
    Ok(manifest)
}

/// Puts `incoming` in place of `target`: refuse and end connections to `target`, rename both, drop the old one.
async fn swap(admin: &tokio_postgres::Client, target: &str, incoming: &str) -> anyhow::Result<()> {
    let (target_q, incoming_q) = (quote_ident(target), quote_ident(incoming));
    let old = scratch_name(target, "old");
    let old_q = quote_ident(&old);
    admin
        .batch_execute(&format!("ALTER DATABASE {target_q} ALLOW_CONNECTIONS false"))
        .await
        .context("refusing new connections")?;
    let swapped = async {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&target],
            )
            .await?;
        admin.batch_execute(&format!("ALTER DATABASE {target_q} RENAME TO {old_q}")).await?;
        if let Err(err) = admin.batch_execute(&format!("ALTER DATABASE {incoming_q} RENAME TO {target_q}")).await {
            admin.batch_execute(&format!("ALTER DATABASE {old_q} RENAME TO {target_q}")).await?;
            return Err(err.into());
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(err) = swapped {
        let _ = admin.batch_execute(&format!("ALTER DATABASE {target_q} ALLOW_CONNECTIONS true")).await;
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {incoming_q} WITH (FORCE)")).await;
        return Err(err.context(format!("swapping the restored database in; {target} was not changed")));
    }
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {old_q} WITH (FORCE)"))
        .await
        .context("dropping the replaced database")?;
    Ok(())
}

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

/// Which backups the retention policy keeps: the newest of each of the last `daily` days, `weekly` ISO weeks and
/// `monthly` months that have backups, and always the newest successfully verified one.
pub fn retained(backups: &[Backup], config: &BackupConfig) -> BTreeSet<String> {
    let mut keep = BTreeSet::new();
    // Newest first: the first backup seen in a period is that period's newest.
    let mut per_period = |period: &dyn Fn(&DateTime<Utc>) -> (i32, u32), limit: usize| {
        let mut seen = BTreeSet::new();
        for backup in backups {
            let key = period(&backup.manifest.created_at);
            if seen.len() < limit && seen.insert(key) {
                keep.insert(backup.manifest.name.clone());
            }
        }
    };
    per_period(&|at| (at.year(), at.ordinal()), config.keep_daily);
    per_period(&|at| (at.iso_week().year(), at.iso_week().week()), config.keep_weekly);
    per_period(&|at| (at.year(), at.month()), config.keep_monthly);
    if let Some(verified) = backups.iter().find(|b| b.verification.as_ref().is_some_and(|v| v.ok)) {
        keep.insert(verified.manifest.name.clone());
    }
    keep
}

/// Outcome of a prune.
#[derive(Debug, Default)]
pub struct Pruned {
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
    /// Dumps never completed by a manifest, older than a day.
    pub incomplete_deleted: Vec<String>,
}

/// `backup prune`: deletes what the retention policy does not keep.
pub async fn prune(storage: &Storage, config: &BackupConfig, dry_run: bool) -> anyhow::Result<Pruned> {
    let (backups, incomplete) = list(storage).await?;
    let keep = retained(&backups, config);
    let mut pruned = Pruned::default();
    for backup in &backups {
        let name = &backup.manifest.name;
        if keep.contains(name) {
            pruned.kept.push(name.clone());
            continue;
        }
        if !dry_run {
            // Manifest first: the backup stops existing before its dump goes.
            for file in [manifest_file(name), verify_file(name), dump_file(name)] {
                match storage.store.delete(&storage.path(&file)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(err) => return Err(anyhow::Error::from(err).context(format!("deleting {file}"))),
                }
            }
        }
        pruned.deleted.push(name.clone());
    }
    let day_ago = Utc::now() - chrono::Duration::days(1);
    for (name, modified) in incomplete {
        if modified < day_ago {
            if !dry_run {
                storage.store.delete(&storage.path(&dump_file(&name))).await.ok();
            }
            pruned.incomplete_deleted.push(name);
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn backup(name: &str, at: DateTime<Utc>, verified: Option<bool>) -> Backup {
        Backup {
            manifest: Manifest {
                name: name.into(),
                database: "app".into(),
                created_at: at,
                size: 1,
                sha256: String::new(),
                format: "pg_dump-custom".into(),
                row_counts: BTreeMap::new(),
                migrations: Vec::new(),
                app_version: String::new(),
            },
            verification: verified.map(|ok| Verification { verified_at: at, ok, error: None, duration_ms: 0 }),
            url: String::new(),
        }
    }

    fn config(daily: usize, weekly: usize, monthly: usize) -> BackupConfig {
        let mut config = BackupConfig::from_vars(&crate::config::Vars::from_map(Default::default())).unwrap();
        (config.keep_daily, config.keep_weekly, config.keep_monthly) = (daily, weekly, monthly);
        config
    }

    #[test]
    fn retention_keeps_the_newest_per_period() {
        // Two backups a day (15:00 and 03:00) for 100 days, newest first.
        let start = Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap();
        let backups: Vec<Backup> =
            (0..200).map(|i| backup(&format!("b{i:03}"), start - chrono::Duration::hours(12 * i), None)).collect();
        let keep = retained(&backups, &config(7, 4, 6));
        // 7 daily (the newest of each of 7 days: b000, b002, ... b012), weekly and monthly add older ones.
        for i in (0..14).step_by(2) {
            assert!(keep.contains(&format!("b{i:03}")), "day {i}");
        }
        assert!(!keep.contains("b001"), "the older backup of a kept day goes");
        assert!(keep.len() <= 7 + 4 + 6);
        assert!(keep.len() >= 10);
    }

    #[test]
    fn the_newest_verified_backup_is_always_kept() {
        let start = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
        let backups = vec![
            backup("new-failed", start, Some(false)),
            backup("new-unverified", start - chrono::Duration::hours(1), None),
            backup("old-verified", start - chrono::Duration::days(40), Some(true)),
        ];
        let keep = retained(&backups, &config(1, 0, 0));
        assert!(keep.contains("new-failed"));
        assert!(keep.contains("old-verified"));
        assert!(!keep.contains("new-unverified"));
    }

    #[test]
    fn database_urls_are_split_and_rebuilt() {
        let db = Database::from_url(&Secret::new("postgres://app:pw@db:5432/shop?sslmode=disable")).unwrap();
        assert_eq!(db.name, "shop");
        let other = db.with_name("postgres");
        assert_eq!(other.url.expose(), "postgres://app:pw@db:5432/postgres?sslmode=disable");
        assert!(Database::from_url(&Secret::new("postgres://app:pw@db:5432/")).is_err());
    }
}
