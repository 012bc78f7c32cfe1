//! `backup create`: pg_dump streamed into a multipart upload with bounded memory, hashed on the way, and made to
//! exist by writing its manifest last.

use std::process::Stdio;

use anyhow::Context as _;
use chrono::Utc;
use object_store::{ObjectStoreExt as _, WriteMultipart};

use super::manifest::{Manifest, dump_file, manifest_file, record, snapshot_facts, write_json};
use super::{Storage, pump, stderr_tail};
use crate::db::Database;

/// Upload part size. Memory in use is about this times `UPLOAD_CONCURRENCY`, whatever the database size.
const PART_SIZE: usize = 8 * 1024 * 1024;
const UPLOAD_CONCURRENCY: usize = 2;

fn new_name(database: &str) -> String {
    format!("{database}-{}-{}", Utc::now().format("%Y%m%dT%H%M%SZ"), crate::token::random_hex(3))
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
    let stderr = tokio::spawn(stderr_tail(child.stderr.take().expect("piped")));

    let dump_path = storage.path(&dump_file(&name));
    let upload = storage
        .store
        .put_multipart(&dump_path)
        .await
        .with_context(|| format!("starting upload to {}", storage.describe()))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let streamed = pump(&mut stdout, &mut writer, UPLOAD_CONCURRENCY).await.context("streaming pg_dump's output");
    let status = child.wait().await.context("waiting for pg_dump")?;
    let errors = stderr.await.unwrap_or_default();
    let (size, sha256) = match streamed {
        Ok(done) => done,
        Err(err) => {
            let _ = writer.abort().await;
            return Err(err);
        }
    };
    if !status.success() {
        let _ = writer.abort().await;
        anyhow::bail!("pg_dump failed ({status}): {errors}");
    }
    writer.finish().await.context("completing the upload")?;
    client.batch_execute("COMMIT").await?;
    // After the dump: every row in it names a file that was complete before the row was written.
    let media = super::media::archive(storage, &name).await?;

    let manifest = Manifest {
        name: name.clone(),
        database: database.name.clone(),
        created_at: Utc::now(),
        size,
        sha256,
        format: "pg_dump-custom".into(),
        row_counts,
        migrations,
        app_version: env!("CARGO_PKG_VERSION").into(),
        media,
    };
    // The manifest makes the backup exist.
    write_json(storage, &manifest_file(&name), &manifest).await?;
    record(database, &manifest, &storage.url(&dump_path), None).await;
    Ok(manifest)
}
