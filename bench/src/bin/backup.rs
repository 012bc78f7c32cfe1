//! Backup throughput and memory: `app backup create` (pg_dump custom format streamed into storage) to each backend,
//! a local directory, S3 (moto on 127.0.0.1:9000) and GCS (gcp-storage-emulator on 127.0.0.1:9023, both started by
//! scripts/services.sh), against the plain peer `pg_dump | gzip > /dev/null`, on databases of about 100 MB and
//! 1 GB. Prints MB/s (of database size) for each and the peak resident memory of the `app` process, which must stay
//! flat as the database grows (the upload holds a bounded number of parts).
//!
//! `cargo build --release --bin app --bin backup && target/release/backup [--sizes-mb 100,1000]`

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;

#[derive(Debug, Parser)]
struct Opts {
    /// Database sizes to measure, in MB.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1000])]
    sizes_mb: Vec<u64>,
    #[arg(long, env = "TEST_DATABASE_URL", default_value = "postgres://app:app@127.0.0.1:5432/postgres")]
    admin_url: String,
    /// The `app` binary (default: next to this one).
    #[arg(long)]
    app: Option<PathBuf>,
    /// Backends to measure: local, s3, gcs.
    #[arg(long, value_delimiter = ',', default_values_t = ["local".to_string(), "s3".to_string(), "gcs".to_string()])]
    storage: Vec<String>,
}

const S3: &str = "http://127.0.0.1:9000";
const GCS: &str = "http://127.0.0.1:9023";

/// A fresh bucket (or directory) on `storage`, and the variables that point `app backup` at it.
async fn target(storage: &str, name: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let http = reqwest::Client::new();
    Ok(match storage {
        "local" => vec![
            ("BACKUP_STORAGE", "local".into()),
            ("BACKUP_LOCAL_DIR", std::env::temp_dir().join(name).display().to_string()),
        ],
        "s3" => {
            http.put(format!("{S3}/{name}")).send().await?.error_for_status().context("creating an S3 bucket")?;
            vec![
                ("BACKUP_STORAGE", "s3".into()),
                ("BACKUP_BUCKET", name.into()),
                ("S3_ENDPOINT", S3.into()),
                ("S3_ALLOW_HTTP", "true".into()),
                ("S3_ACCESS_KEY_ID", "bench".into()),
                ("S3_SECRET_ACCESS_KEY", "bench".into()),
            ]
        }
        "gcs" => {
            http.post(format!("{GCS}/storage/v1/b?project=bench"))
                .json(&serde_json::json!({ "name": name }))
                .send()
                .await?
                .error_for_status()
                .context("creating a GCS bucket")?;
            vec![
                ("BACKUP_STORAGE", "gcs".into()),
                ("BACKUP_BUCKET", name.into()),
                ("GCS_BASE_URL", GCS.into()),
                ("GCS_SKIP_SIGNATURE", "true".into()),
            ]
        }
        other => anyhow::bail!("unknown storage {other} (local, s3, gcs)"),
    })
}

/// Deletes what the run stored (the servers keep objects in memory).
async fn clean(storage: &str, name: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    match storage {
        "local" => {
            let _ = std::fs::remove_dir_all(std::env::temp_dir().join(name));
        }
        "s3" => {
            let listing = http.get(format!("{S3}/{name}?list-type=2")).send().await?.text().await?;
            for key in listing.split("<Key>").skip(1).filter_map(|rest| rest.split("</Key>").next()) {
                http.delete(format!("{S3}/{name}/{key}")).send().await?;
            }
            http.delete(format!("{S3}/{name}")).send().await?;
        }
        _ => {
            let listing: serde_json::Value =
                http.get(format!("{GCS}/storage/v1/b/{name}/o")).send().await?.json().await?;
            for item in listing["items"].as_array().into_iter().flatten() {
                let object = item["name"].as_str().unwrap_or_default().replace('/', "%2F");
                http.delete(format!("{GCS}/storage/v1/b/{name}/o/{object}")).send().await?;
            }
        }
    }
    Ok(())
}

/// Peak resident memory (VmHWM) of a running process, in MiB.
fn peak_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs `command`, sampling the child's peak memory until it exits. Returns (seconds, peak MiB).
async fn measure(mut command: tokio::process::Command) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let mut child = command.kill_on_drop(true).spawn()?;
    let pid = child.id().context("child pid")?;
    let mut peak: f64 = 0.0;
    let status = loop {
        if let Some(mib) = peak_mib(pid) {
            peak = peak.max(mib);
        }
        tokio::select! {
            status = child.wait() => break status?,
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    anyhow::ensure!(status.success(), "{command:?} failed: {status}");
    Ok((started.elapsed().as_secs_f64(), peak))
}

async fn fill(client: &tokio_postgres::Client, target_mb: u64) -> anyhow::Result<f64> {
    client.batch_execute("CREATE TABLE bench_rows (id bigserial PRIMARY KEY, payload text NOT NULL)").await?;
    loop {
        let size: i64 = client.query_one("SELECT pg_database_size(current_database())", &[]).await?.get(0);
        #[allow(clippy::cast_precision_loss)]
        let mb = size as f64 / 1_000_000.0;
        #[allow(clippy::cast_precision_loss)]
        if mb >= target_mb as f64 {
            return Ok(mb);
        }
        // About 25 MB of hard-to-compress text per round.
        client
            .batch_execute(
                "INSERT INTO bench_rows (payload)
                 SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 50000) n, generate_series(1, 12) k GROUP BY n",
            )
            .await?;
    }
}

async fn run_size(opts: &Opts, app: &Path, target_mb: u64) -> anyhow::Result<()> {
    let name = format!("bench_backup_{}", uuid::Uuid::new_v4().simple());
    let admin = bench::connect(&opts.admin_url).await?;
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await?;
    let (server, _) = opts.admin_url.rsplit_once('/').context("admin URL ends with /<database>")?;
    let url = format!("{server}/{name}");
    let result = async {
        let mb = fill(&bench::connect(&url).await?, target_mb).await?;
        let password = web::db::url_password(&url).unwrap_or_default().to_string();
        let mut peer = tokio::process::Command::new("sh");
        peer.arg("-c")
            .arg("pg_dump --dbname \"$BENCH_URL\" | gzip > /dev/null")
            .env("BENCH_URL", url.replacen(&format!(":{password}@"), "@", 1))
            .env("PGPASSWORD", &password);
        let (peer_secs, _) = measure(peer).await?;
        for storage in &opts.storage {
            let bucket = format!("bench-{}", uuid::Uuid::new_v4().simple());
            let vars = target(storage, &bucket).await?;
            let mut ours = tokio::process::Command::new(app);
            ours.args(["backup", "create"])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DATABASE_URL", &url)
                .envs(vars)
                .stdout(std::process::Stdio::null());
            let measured = measure(ours).await;
            clean(storage, &bucket).await?;
            let (ours_secs, ours_peak) = measured?;
            println!(
                "{mb:>10.0} {storage:>8} {:>14.1} {:>14.1} {:>10.2} {:>16.1}",
                mb / ours_secs,
                mb / peer_secs,
                (mb / ours_secs) / (mb / peer_secs),
                ours_peak
            );
        }
        anyhow::Ok(())
    }
    .await;
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    result
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let app = bench::app_binary(opts.app.as_ref())?;
    println!("backup create (to each storage) vs pg_dump | gzip > /dev/null");
    println!(
        "{:>10} {:>8} {:>14} {:>14} {:>10} {:>16}",
        "db MB", "storage", "ours MB/s", "peer MB/s", "ratio", "ours peak MiB"
    );
    for &size in &opts.sizes_mb {
        run_size(&opts, &app, size).await?;
    }
    Ok(())
}
