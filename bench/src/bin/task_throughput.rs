//! Task throughput: enqueue K `probe` tasks through the outbox (one transaction each, as request handlers do) and
//! measure, with 1 and then 2 `app worker` processes, tasks per second until all are done and the latency from
//! enqueue to done (median and 95th percentile), read from the `tasks` table's own timestamps. A second figure,
//! backlog tasks/s, is the rate at which the workers drain K tasks enqueued before they start: what the workers
//! can do when enqueueing is not the limit. Both are printed as a ratio to PostgreSQL's commit ceiling on this
//! machine, `pgbench -N` with 8 clients, measured in the same run.
//!
//! Needs PostgreSQL and RabbitMQ (`scripts/services.sh`) and the `app` binary built with the same profile:
//! `cargo build --release --bin app && cargo run --release -p bench --bin task_throughput`.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use diesel_async::AsyncConnection as _;
use tokio::io::AsyncBufReadExt as _;
use web::tasks::{self, probe::Probe};

#[derive(Debug, Parser)]
struct Opts {
    /// Tasks per run.
    #[arg(long, default_value_t = 2000)]
    tasks: usize,
    /// Worker process counts to compare.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
    workers: Vec<usize>,
    /// Tasks each worker runs at once (the worker's default).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Connections enqueueing at once, each task in its own transaction.
    #[arg(long, default_value_t = 8)]
    enqueuers: usize,
    /// Administrative PostgreSQL URL; a scratch database is created and dropped through it.
    #[arg(long, env = "TEST_DATABASE_URL", default_value = "postgres://app:app@127.0.0.1:5432/postgres")]
    admin_url: String,
    /// The `app` binary (default: next to this one).
    #[arg(long)]
    app: Option<PathBuf>,
}

const MANAGEMENT: &str = "http://127.0.0.1:15672/api";

async fn vhost(method: reqwest::Method, name: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let response = client
        .request(method.clone(), format!("{MANAGEMENT}/vhosts/{name}"))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .context("RabbitMQ management API")?;
    anyhow::ensure!(response.status().is_success(), "vhost {method}: {}", response.status());
    if method == reqwest::Method::PUT {
        client
            .put(format!("{MANAGEMENT}/permissions/{name}/guest"))
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({ "configure": ".*", "write": ".*", "read": ".*" }))
            .send()
            .await?;
    }
    Ok(())
}

/// Starts `count` workers and waits until each consumes.
async fn start_workers(
    app: &PathBuf,
    count: usize,
    env: &[(&str, String)],
) -> anyhow::Result<Vec<tokio::process::Child>> {
    let mut children = Vec::new();
    for _ in 0..count {
        let mut child = tokio::process::Command::new(app)
            .arg("worker")
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", app.display()))?;
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = tokio::time::timeout_at(deadline.into(), lines.next_line()).await.context("worker start")??;
            let Some(line) = line else { anyhow::bail!("worker exited while starting") };
            if line.contains("worker connected to RabbitMQ") {
                break;
            }
        }
        // Keep reading so the worker never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        children.push(child);
    }
    Ok(children)
}

struct Figures {
    tasks_per_sec: f64,
    backlog_per_sec: f64,
    enqueue_per_sec: f64,
    median_ms: f64,
    p95_ms: f64,
}

async fn wait_done(client: &tokio_postgres::Client, expected: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done: i64 = client.query_one("SELECT count(*) FROM tasks WHERE state = 'succeeded'", &[]).await?.get(0);
        if usize::try_from(done)? == expected {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "only {done} of {expected} tasks done after 10 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run_once(opts: &Opts, app: &PathBuf, workers: usize) -> anyhow::Result<Figures> {
    let database = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let admin_client = bench::connect(&opts.admin_url).await?;
    admin_client.batch_execute(&format!("CREATE DATABASE {database}")).await?;
    let (server, _) = opts.admin_url.rsplit_once('/').context("admin URL ends with /<database>")?;
    let url = format!("{server}/{database}");
    let result = async {
        let migrate_url = url.clone();
        tokio::task::spawn_blocking(move || web::db::run_migrations(&migrate_url)).await??;
        vhost(reqwest::Method::PUT, &database).await?;
        let env = [
            ("DATABASE_URL", url.clone()),
            ("AMQP_URL", format!("amqp://guest:guest@127.0.0.1:5672/{database}")),
            ("WORKER_CONCURRENCY", opts.concurrency.to_string()),
            ("LOG_FORMAT", "json".into()),
            ("RUST_LOG", "info".into()),
        ];
        let mut conn = diesel_async::AsyncPgConnection::establish(&url).await?;
        let client = bench::connect(&url).await?;

        // Backlog: everything enqueued first, then the workers start.
        for _ in 0..opts.tasks {
            tasks::enqueue(&mut conn, &Probe::default()).await?;
        }
        let mut children = start_workers(app, workers, &env).await?;
        wait_done(&client, opts.tasks).await?;
        let backlog_span: f64 = client
            .query_one(
                "SELECT extract(epoch FROM max(t.finished_at) - min(r.started_at))::float8
                 FROM tasks t JOIN task_runs r USING (task_id)",
                &[],
            )
            .await?
            .get(0);
        client.batch_execute("TRUNCATE tasks, task_runs, outbox").await?;

        let started = Instant::now();
        let mut enqueuers = tokio::task::JoinSet::new();
        for share in 0..opts.enqueuers {
            let count = opts.tasks / opts.enqueuers + usize::from(share < opts.tasks % opts.enqueuers);
            let url = url.clone();
            enqueuers.spawn(async move {
                let mut conn = diesel_async::AsyncPgConnection::establish(&url).await?;
                for _ in 0..count {
                    // One transaction per task, as a request handler would.
                    tasks::enqueue(&mut conn, &Probe::default()).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = enqueuers.join_next().await {
            done??;
        }
        let enqueue_secs = started.elapsed().as_secs_f64();
        wait_done(&client, opts.tasks).await?;
        let row = client
            .query_one(
                "SELECT extract(epoch FROM max(finished_at) - min(created_at))::float8,
                        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))::float8,
                        percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))::float8
                 FROM tasks",
                &[],
            )
            .await?;
        for child in &mut children {
            let _ = child.kill().await;
        }
        let span: f64 = row.get(0);
        #[allow(clippy::cast_precision_loss)]
        let count = opts.tasks as f64;
        anyhow::Ok(Figures {
            tasks_per_sec: count / span,
            backlog_per_sec: count / backlog_span,
            enqueue_per_sec: count / enqueue_secs,
            median_ms: row.get::<_, f64>(1) * 1000.0,
            p95_ms: row.get::<_, f64>(2) * 1000.0,
        })
    }
    .await;
    let _ = vhost(reqwest::Method::DELETE, &database).await;
    let _ = admin_client.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await;
    result
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let app = bench::app_binary(opts.app.as_ref())?;
    anyhow::ensure!(opts.enqueuers > 0, "--enqueuers must be at least 1");
    println!(
        "task throughput: {} probe tasks, concurrency {} per worker, {} enqueuers, app {}",
        opts.tasks,
        opts.concurrency,
        opts.enqueuers,
        app.display()
    );
    let ceiling = bench::pgbench_tps(&opts.admin_url, "-N", 8, 10).await?;
    println!("ceiling: pgbench -N, 8 clients: {ceiling:.0} tps (commits/s)");
    println!(
        "{:>8} {:>12} {:>14} {:>12} {:>10} {:>16}",
        "workers", "tasks/s", "enqueue/s", "median ms", "p95 ms", "backlog tasks/s"
    );
    let mut first: Option<f64> = None;
    for &workers in &opts.workers {
        let figures = run_once(&opts, &app, workers).await?;
        println!(
            "{workers:>8} {:>12.0} {:>14.0} {:>12.1} {:>10.1} {:>16.0}",
            figures.tasks_per_sec, figures.enqueue_per_sec, figures.median_ms, figures.p95_ms, figures.backlog_per_sec
        );
        println!(
            "{:>8} ratio to pgbench -N: end to end {:.2}, backlog {:.2}",
            "",
            figures.tasks_per_sec / ceiling,
            figures.backlog_per_sec / ceiling
        );
        match first {
            None => first = Some(figures.backlog_per_sec),
            Some(base) => println!("{:>8} backlog ratio to the first row: {:.2}", "", figures.backlog_per_sec / base),
        }
    }
    Ok(())
}
