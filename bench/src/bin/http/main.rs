//! HTTP load against the application, next to the ceilings of this machine measured in the same run.
//!
//! Each table (one user's notes, 10,000 and 1,000,000 by default) gets a scratch database and an `app server`
//! (release build) of its own on loopback. wrk (2 threads, 64 connections) measures the peak of each request; then
//! an open-loop client sends the same request at half that peak, where the p99 matters. The ceilings: `pgbench -S`
//! (64 clients) for reads, measured again just before each request's runs, since PostgreSQL's speed on these shared
//! machines drifts within minutes; `pgbench -N` (8 clients) for commits; nginx serving a static file on the same
//! loopback path for `/healthz`. Every request runs on every table in each of `--rounds` rounds, the tables' order
//! reversed every other round, so that the big table's figures are compared with the small one's measured next to
//! them. Last, the servers' peak resident memory.
//!
//! Needs `scripts/services.sh`, wrk and nginx (`apt-get install wrk nginx-light`) and the release `app`:
//! `cargo build --release --bin app --bin http && target/release/http`.

#![allow(clippy::print_stdout)]

mod compose;
mod load;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bench::{Load, ScratchDb, Server};
use clap::Parser;
use load::{StaticNginx, open_loop, session, watch_rss};
use web::models::keyset::Keyset;

#[derive(Debug, Parser)]
struct Opts {
    /// Notes of the one user, per round.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 1_000_000])]
    notes: Vec<u64>,
    /// Notes per list page.
    #[arg(long, default_value_t = 20)]
    per_page: u32,
    /// Seconds of each wrk run (and of each pgbench and half-peak run).
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Rounds of every request on every table; the tables' order is reversed every other round.
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    /// Administrative PostgreSQL URL; scratch databases are created and dropped through it.
    #[arg(long, env = "TEST_DATABASE_URL", default_value = "postgres://app:app@127.0.0.1:5432/postgres")]
    admin_url: String,
    /// The `app` binary (default: next to this one).
    #[arg(long)]
    app: Option<PathBuf>,
    /// Also measure a running local compose stack (`./install_docker.sh`) of this project name through its nginx,
    /// from a wrk container on the stack's own network.
    #[arg(long)]
    compose_project: Option<String>,
    /// The stack's published HTTP port on 127.0.0.1, used only to sign in.
    #[arg(long, default_value_t = 8080)]
    compose_port: u16,
}

/// One user's notes in a database of their own. An `app server` is started on it for each measurement and stopped
/// after (two servers' pools and pgbench's 64 clients would not fit in PostgreSQL's 100 connections together).
struct Table {
    count: u64,
    db: ScratchDb,
    cookie: String,
    /// The newest note, and the cursor of page 101.
    id: uuid::Uuid,
    cursor: String,
}

impl Table {
    async fn seed(opts: &Opts, app: &PathBuf, count: u64) -> anyhow::Result<Self> {
        let db = ScratchDb::create(&opts.admin_url, "bench_http").await?;
        match Self::fill(opts, app, &db, count).await {
            Ok((cookie, id, cursor)) => Ok(Self { count, db, cookie, id, cursor }),
            Err(error) => {
                db.drop_now().await;
                Err(error)
            }
        }
    }

    async fn fill(
        opts: &Opts,
        app: &PathBuf,
        db: &ScratchDb,
        count: u64,
    ) -> anyhow::Result<(String, uuid::Uuid, String)> {
        let migrate_url = db.url.clone();
        tokio::task::spawn_blocking(move || web::db::run_migrations(&migrate_url)).await??;
        let server = Self::serve(app, db).await?;
        let cookie = session(&server.base).await;
        server.stop().await;
        let cookie = cookie?;
        let client = bench::connect(&db.url).await?;
        client
            .execute(
                "INSERT INTO notes (owner_id, title, body, created_at)
                 SELECT u.id, 'note ' || n, 'a short body', now() - n * interval '1 second'
                 FROM users u, generate_series(1, $1::bigint) n",
                &[&i64::try_from(count)?],
            )
            .await?;
        client.batch_execute("VACUUM ANALYZE notes").await?;
        let id = client.query_one("SELECT id FROM notes ORDER BY created_at DESC LIMIT 1", &[]).await?.get(0);
        let deep = client
            .query_one(
                "SELECT created_at, id FROM notes ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
                // The last note of page 100: the cursor of page 101.
                &[&(i64::from(opts.per_page) * 100 - 1)],
            )
            .await?;
        let cursor = Keyset { at: deep.get(0), id: deep.get(1) }.encode();
        Ok((cookie, id, cursor))
    }

    async fn serve(app: &PathBuf, db: &ScratchDb) -> anyhow::Result<Server> {
        Server::start(app, &db.url, &[("DATABASE_POOL_SIZE", "32")]).await
    }

    fn url(&self, base: &str, request: Request, per_page: u32) -> String {
        match request {
            Request::ById => format!("{base}/api/notes/{}", self.id),
            Request::FirstPage => format!("{base}/api/notes?per_page={per_page}"),
            Request::DeepPage => format!("{base}/api/notes?per_page={per_page}&cursor={}", self.cursor),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    ById,
    FirstPage,
    DeepPage,
}

impl Request {
    const ALL: [Self; 3] = [Self::ById, Self::FirstPage, Self::DeepPage];

    fn name(self) -> &'static str {
        match self {
            Self::ById => "GET /api/notes/{id}",
            Self::FirstPage => "GET /api/notes first page",
            Self::DeepPage => "GET /api/notes page 101 by cursor",
        }
    }
}

/// One measurement of one request on one table, with the `pgbench -S` ceiling measured just before it.
struct Sample {
    request: Request,
    count: u64,
    load: Load,
    /// p50, p99 and failures at half the peak rate.
    half: (f64, f64, u64),
    ceiling: f64,
}

impl Sample {
    fn ratio(&self) -> f64 {
        self.load.rps / self.ceiling
    }
}

fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| (low.min(v), high.max(v)))
}

fn print_samples(samples: &[Sample], counts: &[u64]) {
    println!();
    println!(
        "{:<34} {:>9} | {:>9} {:>7} {:>8} {:>8} {:>6} | {:>9} {:>8} {:>5} | {:>7}",
        "request", "notes", "ceiling", "ratio", "peak rps", "p99 ms", "errors", "half rps", "p99 ms", "fail", "rounds"
    );
    for request in Request::ALL {
        for &count in counts {
            let mine: Vec<&Sample> = samples.iter().filter(|s| s.request == request && s.count == count).collect();
            if mine.is_empty() {
                continue;
            }
            let (ceiling_low, ceiling_high) = span(mine.iter().map(|s| s.ceiling));
            let (ratio_low, ratio_high) = span(mine.iter().map(|s| s.ratio()));
            let (rps_low, rps_high) = span(mine.iter().map(|s| s.load.rps));
            let (_, p99_high) = span(mine.iter().map(|s| s.load.p99_ms));
            let (_, half_p99_high) = span(mine.iter().map(|s| s.half.1));
            let errors: u64 = mine.iter().map(|s| s.load.errors).sum();
            let failed: u64 = mine.iter().map(|s| s.half.2).sum();
            println!(
                "{:<34} {count:>9} | {:>9} {:>7} {:>8} {p99_high:>8.1} {errors:>6} | {:>9} {half_p99_high:>8.1} {failed:>5} | {:>7}",
                request.name(),
                format!("{ceiling_low:.0}-{ceiling_high:.0}"),
                format!("{ratio_low:.2}-{ratio_high:.2}"),
                format!("{rps_low:.0}-{rps_high:.0}"),
                format!("{:.0}", rps_low / 2.0),
                mine.len()
            );
        }
    }
    println!(
        "(ranges over the rounds; ratio: peak rps over the pgbench -S tps measured just before; p99 ms: the worst round)"
    );
    if let [small, .., big] = counts {
        println!();
        for request in Request::ALL {
            let pairs: Vec<String> = samples
                .iter()
                .filter(|s| s.request == request && s.count == *big)
                .zip(samples.iter().filter(|s| s.request == request && s.count == *small))
                .map(|(b, s)| format!("{:.2}", b.load.rps / s.load.rps))
                .collect();
            println!("{:<34} {big} notes over {small}, by round: {}", request.name(), pairs.join(", "));
        }
    }
}

/// The ceilings, then `--rounds` rounds of every request on every table, each request's tables in turn (the order
/// reversed every other round, so that neither table is always measured second) after a fresh `pgbench -S`.
async fn run(opts: &Opts, app: &PathBuf, pgbench: &bench::Pgbench, tables: &[Table]) -> anyhow::Result<()> {
    let commit_tps = pgbench.tps("-N", 8, opts.seconds).await?;
    let nginx = StaticNginx::start(
        &serde_json::json!({ "id": uuid::Uuid::new_v4(), "title": "note", "body": "body" }).to_string(),
    )
    .await?;
    let static_load = bench::wrk(&nginx.url, &[], 64, opts.seconds).await?;
    nginx.stop().await;
    let server = Table::serve(app, &tables[0].db).await?;
    let health = bench::wrk(&format!("{}/healthz", server.base), &[], 64, opts.seconds).await;
    server.stop().await;
    let health = health?;
    println!(
        "ceilings: pgbench -N 8 clients {commit_tps:.0} tps; nginx static file {:.0} rps (p50 {:.2} ms, p99 {:.2} ms)",
        static_load.rps, static_load.p50_ms, static_load.p99_ms
    );
    println!(
        "GET /healthz (no I/O): {:.0} rps, p50 {:.2} ms, p99 {:.2} ms, {} errors; ratio to nginx static {:.2}",
        health.rps,
        health.p50_ms,
        health.p99_ms,
        health.errors,
        health.rps / static_load.rps
    );

    let mut samples = Vec::new();
    let mut peak_rss: f64 = 0.0;
    for round in 0..opts.rounds {
        let mut order: Vec<&Table> = tables.iter().collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for request in Request::ALL {
            let ceiling = pgbench.tps("-S", 64, opts.seconds).await?;
            for table in &order {
                let server = Table::serve(app, &table.db).await?;
                let stop = Arc::new(AtomicBool::new(false));
                let rss = watch_rss(server.pid(), stop.clone());
                let url = table.url(&server.base, request, opts.per_page);
                let measured = async {
                    let cookie = [format!("Cookie: {}", table.cookie)];
                    // Unmeasured: the pool's connections opened and their statements prepared and planned.
                    bench::wrk(&url, &cookie, 64, 1).await?;
                    let load = bench::wrk(&url, &cookie, 64, opts.seconds).await?;
                    let half = open_loop(&url, &table.cookie, (load.rps / 2.0).max(1.0), opts.seconds).await?;
                    anyhow::Ok((load, half))
                }
                .await;
                stop.store(true, Ordering::Relaxed);
                peak_rss = peak_rss.max(rss.await?);
                server.stop().await;
                let (load, half) = measured?;
                let sample = Sample { request, count: table.count, load, half, ceiling };
                println!(
                    "round {} {:<34} {:>9} notes: pgbench -S {ceiling:.0} tps, {:.0} rps ({:.2}), p50 {:.2} p99 {:.2} ms; at half p50 {:.2} p99 {:.2} ms",
                    round + 1,
                    request.name(),
                    table.count,
                    load.rps,
                    sample.ratio(),
                    load.p50_ms,
                    load.p99_ms,
                    half.0,
                    half.1
                );
                samples.push(sample);
            }
        }
    }
    print_samples(&samples, &opts.notes);
    println!("web role peak resident memory under this load: {peak_rss:.1} MiB");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let app = bench::app_binary(opts.app.as_ref())?;
    anyhow::ensure!(opts.rounds > 0 && !opts.notes.is_empty(), "--rounds and --notes must not be empty");
    println!(
        "HTTP benchmark: wrk 2 threads x 64 connections, {} s per run, {} rounds; app {}",
        opts.seconds,
        opts.rounds,
        app.display()
    );

    let pgbench = bench::Pgbench::init(&opts.admin_url).await?;
    let mut tables = Vec::new();
    let result = async {
        for &count in &opts.notes {
            tables.push(Table::seed(&opts, &app, count).await?);
            println!("seeded {count} notes");
        }
        run(&opts, &app, &pgbench, &tables).await
    }
    .await;
    for table in tables {
        table.db.drop_now().await;
    }
    pgbench.drop_now().await;
    result?;
    if let Some(project) = &opts.compose_project {
        println!();
        println!(
            "through the compose stack {project:?}: wrk in a container on {project}_default, to http://nginx:8080"
        );
        println!("{:<44} {:>9} {:>8} {:>8} {:>7} | {:>6}", "request", "rps", "p50 ms", "p99 ms", "errors", "ratio");
        for (name, load, ceiling) in compose::through_compose(project, opts.compose_port, opts.seconds).await? {
            println!(
                "{name:<44} {:>9.0} {:>8.2} {:>8.2} {:>7} | {:>6.2}",
                load.rps,
                load.p50_ms,
                load.p99_ms,
                load.errors,
                load.rps / ceiling
            );
        }
    }
    Ok(())
}
