//! `app backup create|list|restore|verify|prune`: database backups in object storage (see `web::backup`).

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use chrono::Utc;
use web::backup::{self, Storage};
use web::config::{BackupConfig, DatabaseConfig, MediaConfig, StorageKind, Vars};
use web::db::Database;

#[derive(Debug, clap::Args)]
pub struct Opts {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Dump the database (pg_dump, custom format) straight into backup storage.
    Create,
    /// Complete backups, newest first, with size, age and verification state.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Replace the database with a backup (a URL from `backup list`, or its name).
    Restore {
        url: String,
        /// Required: the current data is replaced.
        #[arg(long)]
        yes: bool,
    },
    /// Restore a backup (default: the newest) into a scratch database and check it; exit 1 if it is not good.
    Verify { url: Option<String> },
    /// Delete backups outside the retention policy (never the newest verified one).
    Prune {
        /// Only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

fn human(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let value = bytes as f64;
    match bytes {
        0..1_024 => format!("{bytes} B"),
        1_024..1_048_576 => format!("{:.1} KiB", value / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", value / 1_048_576.0),
        _ => format!("{:.2} GiB", value / 1_073_741_824.0),
    }
}

fn age(at: chrono::DateTime<Utc>) -> String {
    let minutes = (Utc::now() - at).num_minutes().max(0);
    match minutes {
        0..60 => format!("{minutes}m"),
        60..2880 => format!("{}h", minutes / 60),
        _ => format!("{}d", minutes / 1440),
    }
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    let vars = Vars::from_env();
    let config = BackupConfig::from_vars(&vars)?;
    let mut storage = Storage::from_config(&config)?;
    // Files uploaded to a directory go into each backup with the database (docs/backups.md, "Media").
    let media = MediaConfig::from_vars(&vars)?;
    if media.storage == StorageKind::Local {
        storage.media_dir = Some(media.local_dir);
    }
    let database = || -> anyhow::Result<Database> { Database::from_url(&DatabaseConfig::from_vars(&vars)?.url) };
    match opts.command {
        Command::Create => create(&storage, &database()?).await,
        Command::List { json } => list(&storage, json).await,
        Command::Restore { url, yes } => restore(&storage, &database()?, &url, yes).await,
        Command::Verify { url } => verify(&storage, &database()?, url.as_deref()).await,
        Command::Prune { dry_run } => prune(&storage, &config, dry_run).await,
    }
}

async fn create(storage: &Storage, database: &Database) -> anyhow::Result<ExitCode> {
    let manifest = backup::create(storage, database).await?;
    let url = storage.url(&storage.path(&format!("{}.dump", manifest.name)));
    println!("Backed up {} ({}, sha256 {}) to {url}", manifest.database, human(manifest.size), manifest.sha256);
    if let Some(media) = &manifest.media {
        println!("With {} media files ({}, sha256 {}).", media.files, human(media.size), media.sha256);
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(storage: &Storage, json: bool) -> anyhow::Result<ExitCode> {
    let (backups, _) = backup::list(storage).await?;
    if backups.is_empty() && !json {
        println!("No backups in {}.", storage.describe());
    }
    for item in backups {
        if json {
            let value = serde_json::json!({
                "url": item.url, "name": item.manifest.name, "size": item.manifest.size,
                "created_at": item.manifest.created_at, "sha256": item.manifest.sha256,
                "verified": item.verification.as_ref().map(|v| v.ok),
            });
            println!("{value}");
            continue;
        }
        let state = match &item.verification {
            Some(v) if v.ok => format!("verified {} ago", age(v.verified_at)),
            Some(v) => format!("VERIFY FAILED {} ago: {}", age(v.verified_at), v.error.as_deref().unwrap_or("")),
            None => "not verified".to_string(),
        };
        println!("{}  {:>10}  {:>5} old  {state}", item.url, human(item.manifest.size), age(item.manifest.created_at));
    }
    Ok(ExitCode::SUCCESS)
}

async fn restore(storage: &Storage, database: &Database, url: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let name = storage.name_from(url)?;
    if !yes {
        anyhow::bail!(
            "restoring {name} replaces every row of database {}; run again with --yes to do it",
            database.name
        );
    }
    let manifest = backup::restore(storage, database, &name).await?;
    println!("Restored {} into database {} (backup taken {}).", manifest.name, database.name, manifest.created_at);
    if let Some(media) = &manifest.media {
        println!("Restored its {} media files.", media.files);
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(storage: &Storage, database: &Database, url: Option<&str>) -> anyhow::Result<ExitCode> {
    let name = url.map(|url| storage.name_from(url)).transpose()?;
    let (manifest, verification) = backup::verify(storage, database, name.as_deref()).await?;
    if !verification.ok {
        println!("Backup {} FAILED verification: {}", manifest.name, verification.error.unwrap_or_default());
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "Backup {} is good: restored and checked {} tables in {} ms.",
        manifest.name,
        manifest.row_counts.len(),
        verification.duration_ms
    );
    Ok(ExitCode::SUCCESS)
}

async fn prune(storage: &Storage, config: &BackupConfig, dry_run: bool) -> anyhow::Result<ExitCode> {
    let pruned = backup::prune(storage, config, dry_run).await?;
    let verb = if dry_run { "Would delete" } else { "Deleted" };
    for name in &pruned.deleted {
        println!("{verb} {name}");
    }
    for name in &pruned.incomplete_deleted {
        println!("{verb} incomplete upload {name}");
    }
    println!(
        "Kept {} backup(s), {} {} (retention {} daily, {} weekly, {} monthly).",
        pruned.kept.len(),
        verb.to_lowercase(),
        pruned.deleted.len(),
        config.keep_daily,
        config.keep_weekly,
        config.keep_monthly
    );
    Ok(ExitCode::SUCCESS)
}
