//! `backup restore`: the dump streamed into a new database with its checksum checked over the same bytes, then
//! swapped in place of the old one; a failed restore leaves the old data untouched.

use std::process::Stdio;

use anyhow::Context as _;
use object_store::ObjectStoreExt as _;

use super::manifest::{Manifest, dump_file, manifest_of};
use super::{Storage, feed, stderr_tail};
use crate::db::{Database, quote_ident};

/// Streams backup `name` into the empty database `target`, checking size and checksum over the same bytes.
pub(super) async fn restore_into(storage: &Storage, manifest: &Manifest, target: &Database) -> anyhow::Result<()> {
    let name = &manifest.name;
    let object = storage.store.get(&storage.path(&dump_file(name))).await.with_context(|| format!("opening {name}"))?;
    let mut child = target
        .tool("pg_restore")
        .args(["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting pg_restore (is the PostgreSQL client installed?)")?;
    let stderr = tokio::spawn(stderr_tail(child.stderr.take().expect("piped")));
    // If pg_restore gives up, the download goes on to report the checksum.
    let (size, digest) =
        feed(object.into_stream(), child.stdin.take()).await.with_context(|| format!("reading {name}"))?;
    let status = child.wait().await.context("waiting for pg_restore")?;
    let errors = stderr.await.unwrap_or_default();
    anyhow::ensure!(
        size == manifest.size && digest == manifest.sha256,
        "backup {name} is corrupted or truncated: expected {} bytes with SHA-256 {}, found {size} bytes with {digest}",
        manifest.size,
        manifest.sha256
    );
    anyhow::ensure!(status.success(), "pg_restore failed ({status}): {errors}");
    Ok(())
}

/// A new database name next to `base`, for a restore or a verification.
pub(super) fn scratch_name(base: &str, kind: &str) -> String {
    let base: String = base.chars().take(40).collect();
    format!("{base}_{kind}_{}", crate::token::random_hex(4))
}

/// `backup restore`: replaces `database` with backup `name`.
pub async fn restore(storage: &Storage, database: &Database, name: &str) -> anyhow::Result<Manifest> {
    let manifest = manifest_of(storage, name).await?;
    // The files first: they are only added, so a failure here or below leaves what is in use as it was.
    if let Some(archive) = &manifest.media {
        super::media::restore(storage, name, archive).await?;
    }
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
                // Client sessions only: an autovacuum worker (a superuser process, which a non-superuser role may
                // not end) is stopped by PostgreSQL itself when the database is renamed.
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
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
