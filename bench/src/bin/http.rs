//! HTTP load against the application, next to the ceilings of this machine measured in the same run.
//!
//! The app (`app server`, release build) runs on loopback against a scratch database holding one user's notes
//! (10,000, then 1,000,000). wrk (2 threads, 64 connections) measures the peak of each request; then an open-loop
//! client sends the same request at half that peak, where the p99 matters. The ceilings: `pgbench -S` (64 clients)
//! for reads, `pgbench -N` (8 clients) for commits, and nginx serving a static file on the same loopback path. Each
//! request is printed with its ratio to its ceiling, and the server's peak resident memory.
//!
//! Needs `scripts/services.sh`, wrk and nginx (`apt-get install wrk nginx-light`) and the release `app`:
//! `cargo build --release --bin app --bin http && target/release/http`.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bench::{Load, ScratchDb, Server};
use clap::Parser;
use web::models::keyset::Keyset;

#[derive(Debug, Parser)]
struct Opts {
    /// Notes of the one user, per round.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 1_000_000])]
    notes: Vec<u64>,
    /// Notes per list page.
    #[arg(long, default_value_t = 20)]
    per_page: u32,
    /// Seconds of each wrk run.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
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

/// Samples the resident memory of `pid` until `stop`; the peak in MiB.
fn watch_rss(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<f64> {
    tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(bench::rss_mib(pid).unwrap_or_default());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    })
}

/// Sends `rate` requests per second for `seconds`, each due at its own time whatever the others do (an open
/// loop, so a slow answer cannot hide the queue behind it): 64 connections take the requests in turn, and each
/// latency counts from the time the request was due. Returns p50 and p99 in ms, and the failures.
async fn open_loop(url: &str, cookie: &str, rate: f64, seconds: u32) -> anyhow::Result<(f64, f64, u64)> {
    const CONNECTIONS: usize = 64;
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build()?;
    let total = (rate * f64::from(seconds)) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut connections = tokio::task::JoinSet::new();
    for first in 0..CONNECTIONS {
        let (client, url, cookie) = (client.clone(), url.to_string(), cookie.to_string());
        connections.spawn(async move {
            let (mut latencies, mut failed) = (Vec::new(), 0u64);
            for n in (first..total).step_by(CONNECTIONS) {
                let due = start + interval.mul_f64(n as f64);
                tokio::time::sleep_until(due).await;
                let ok = match client.get(&url).header("Cookie", &cookie).send().await {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                latencies.push(due.elapsed().as_secs_f64() * 1000.0);
                failed += u64::from(!ok);
            }
            (latencies, failed)
        });
    }
    let (mut latencies, mut failed) = (Vec::with_capacity(total), 0);
    while let Some(done) = connections.join_next().await {
        let (part, part_failed) = done?;
        latencies.extend(part);
        failed += part_failed;
    }
    anyhow::ensure!(!latencies.is_empty(), "no request was sent");
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    Ok((at(0.5), at(0.99), failed))
}

/// nginx (Debian's) serving one static file on a free loopback port, until dropped.
struct StaticNginx {
    child: tokio::process::Child,
    dir: PathBuf,
    url: String,
}

impl StaticNginx {
    async fn start(body: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("bench-nginx-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("root"))?;
        std::fs::write(dir.join("root/note.json"), body)?;
        let port = bench::free_port()?;
        let conf = format!(
            "daemon off; worker_processes 2; pid {dir}/nginx.pid; error_log {dir}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};\n\
             uwsgi_temp_path {dir}; scgi_temp_path {dir}; keepalive_requests 100000;\n\
             server {{ listen 127.0.0.1:{port}; root {dir}/root; }} }}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let child = tokio::process::Command::new("nginx")
            .args(["-c", &dir.join("nginx.conf").display().to_string(), "-p", &dir.display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting nginx (apt-get install nginx-light)")?;
        let url = format!("http://127.0.0.1:{port}/note.json");
        let deadline = Instant::now() + Duration::from_secs(10);
        while reqwest::get(&url).await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "nginx did not start (see {}/error.log)", dir.display());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { child, dir, url })
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Signs a new user up; returns the `Cookie` header value of its session and its CSRF token.
async fn signup(base: &str) -> anyhow::Result<(String, String)> {
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let response = reqwest::Client::new()
        .post(format!("{base}/api/auth/signup"))
        .json(&serde_json::json!({ "email": email, "password": "correct horse battery staple" }))
        .send()
        .await?;
    anyhow::ensure!(response.status() == 201, "signup: {}", response.status());
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("session="))
        .context("no session cookie")?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let body: serde_json::Value = response.json().await?;
    let csrf = body["csrf_token"].as_str().context("no csrf_token")?.to_string();
    Ok((cookie, csrf))
}

async fn session(base: &str) -> anyhow::Result<String> {
    Ok(signup(base).await?.0)
}

/// The compose stack's nginx loaded from a wrk container on the stack's network: the static file (nginx's own
/// ceiling on that path), `/healthz`, one note and the first list page. Returns (name, load, ceiling rps).
async fn through_compose(project: &str, port: u16, seconds: u32) -> anyhow::Result<Vec<(String, Load, f64)>> {
    let base_image = if std::process::Command::new("docker")
        .args(["image", "inspect", "debian:bookworm-slim"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        "debian:bookworm-slim"
    } else {
        "local-base/debian:bookworm-slim"
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"));
    let built = tokio::process::Command::new("docker")
        .args(["build", "-q", "-t", "app-bench-wrk:local", "--build-arg", &format!("DEBIAN_IMAGE={base_image}")])
        .args(["-f", &format!("{dir}/wrk.Dockerfile"), dir])
        .output()
        .await
        .context("docker build of the wrk image")?;
    anyhow::ensure!(built.status.success(), "building the wrk image: {}", String::from_utf8_lossy(&built.stderr));

    let published = format!("http://127.0.0.1:{port}");
    let (cookie, csrf) = signup(&published).await.context("signing up through the stack's nginx")?;
    let note: serde_json::Value = reqwest::Client::new()
        .post(format!("{published}/api/notes"))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({ "title": "bench", "body": "a short body" }))
        .send()
        .await?
        .json()
        .await?;
    let id = note["id"].as_str().context("no note id")?;
    let network = format!("{project}_default");
    let wrk = |path: String, cookie: Option<String>| {
        let network = network.clone();
        async move {
            let mut command = tokio::process::Command::new("docker");
            command.args(["run", "--rm", "--network", &network, "app-bench-wrk:local"]);
            command.args(["-t", "2", "-c", "64", "-d", &format!("{seconds}s"), "--latency"]);
            if let Some(cookie) = cookie {
                command.args(["-H", &format!("Cookie: {cookie}")]);
            }
            let output = command.arg(format!("http://nginx:8080{path}")).output().await?;
            anyhow::ensure!(output.status.success(), "wrk in a container: {}", String::from_utf8_lossy(&output.stderr));
            bench::parse_wrk(&String::from_utf8_lossy(&output.stdout))
        }
    };
    let ceiling = wrk("/static/css/site.css".into(), None).await?;
    let mut rows = vec![("nginx static file (same path)".to_string(), ceiling, ceiling.rps)];
    for (name, path) in [
        ("GET /healthz", "/healthz".to_string()),
        ("GET /api/notes/{id}", format!("/api/notes/{id}")),
        ("GET /api/notes first page", "/api/notes?per_page=20".to_string()),
    ] {
        let load = wrk(path, Some(cookie.clone())).await?;
        rows.push((format!("{name} via nginx"), load, ceiling.rps));
    }
    Ok(rows)
}

struct Row {
    name: String,
    load: Load,
    /// p50, p99 and failures at half the peak rate; `None` where not measured.
    half: Option<(f64, f64, u64)>,
    ceiling: &'static str,
    ceiling_rps: f64,
}

async fn measure(
    name: String,
    url: &str,
    cookie: &str,
    seconds: u32,
    ceiling: (&'static str, f64),
    at_half: bool,
) -> anyhow::Result<Row> {
    let load = bench::wrk(url, &[format!("Cookie: {cookie}")], 64, seconds).await?;
    let half =
        if at_half { Some(open_loop(url, cookie, (load.rps / 2.0).max(1.0), seconds.min(10)).await?) } else { None };
    Ok(Row { name, load, half, ceiling: ceiling.0, ceiling_rps: ceiling.1 })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let app = bench::app_binary(opts.app.as_ref())?;
    println!("HTTP benchmark: wrk 2 threads x 64 connections, {} s per run; app {}", opts.seconds, app.display());

    // Ceilings, measured now on this machine.
    let select_tps = bench::pgbench_tps(&opts.admin_url, "-S", 64, opts.seconds).await?;
    let commit_tps = bench::pgbench_tps(&opts.admin_url, "-N", 8, opts.seconds).await?;
    let nginx = StaticNginx::start(
        &serde_json::json!({ "id": uuid::Uuid::new_v4(), "title": "note", "body": "body" }).to_string(),
    )
    .await?;
    let static_load = bench::wrk(&nginx.url, &[], 64, opts.seconds).await?;
    nginx.stop().await;
    println!(
        "ceilings: pgbench -S 64 clients {select_tps:.0} tps; pgbench -N 8 clients {commit_tps:.0} tps; nginx static file {:.0} rps",
        static_load.rps
    );

    let mut rows = Vec::new();
    let mut peak_rss: f64 = 0.0;
    for &count in &opts.notes {
        let db = ScratchDb::create(&opts.admin_url, "bench_http").await?;
        let result = async {
            let migrate_url = db.url.clone();
            tokio::task::spawn_blocking(move || web::db::run_migrations(&migrate_url)).await??;
            let server = Server::start(&app, &db.url, &[("DATABASE_POOL_SIZE", "32")]).await?;
            let cookie = session(&server.base).await?;
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
            let id: uuid::Uuid =
                client.query_one("SELECT id FROM notes ORDER BY created_at DESC LIMIT 1", &[]).await?.get(0);
            let deep = client
                .query_one(
                    "SELECT created_at, id FROM notes ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
                    // The last note of page 100: the cursor of page 101.
                    &[&(i64::from(opts.per_page) * 100 - 1)],
                )
                .await?;
            let cursor = Keyset { at: deep.get(0), id: deep.get(1) }.encode();

            let stop = Arc::new(AtomicBool::new(false));
            let rss = watch_rss(server.pid(), stop.clone());
            let base = &server.base;
            let requests = [
                (format!("GET /api/notes/{{id}} ({count} notes)"), format!("{base}/api/notes/{id}")),
                (
                    format!("GET /api/notes first page ({count})"),
                    format!("{base}/api/notes?per_page={}", opts.per_page),
                ),
                (
                    format!("GET /api/notes page 101 by cursor ({count})"),
                    format!("{base}/api/notes?per_page={}&cursor={cursor}", opts.per_page),
                ),
            ];
            let mut local = Vec::new();
            for (name, url) in requests {
                local.push(measure(name, &url, &cookie, opts.seconds, ("pgbench -S", select_tps), true).await?);
            }
            if count == opts.notes[0] {
                local.insert(
                    0,
                    measure(
                        "GET /healthz (no I/O)".into(),
                        &format!("{base}/healthz"),
                        &cookie,
                        opts.seconds,
                        ("nginx static", static_load.rps),
                        false,
                    )
                    .await?,
                );
            }
            stop.store(true, Ordering::Relaxed);
            anyhow::Ok((local, rss.await?))
        }
        .await;
        db.drop_now().await;
        let (local, rss) = result?;
        rows.extend(local);
        peak_rss = peak_rss.max(rss);
    }

    println!();
    println!(
        "{:<44} {:>9} {:>8} {:>8} {:>7} | {:>9} {:>8} {:>8} {:>5} | {:<12} {:>6}",
        "request", "peak rps", "p50 ms", "p99 ms", "errors", "half rps", "p50 ms", "p99 ms", "fail", "ceiling", "ratio"
    );
    for row in &rows {
        let half = match row.half {
            Some((p50, p99, failed)) => {
                format!("{:>9.0} {p50:>8.2} {p99:>8.2} {failed:>5}", row.load.rps / 2.0)
            }
            None => format!("{:>9} {:>8} {:>8} {:>5}", "-", "-", "-", "-"),
        };
        println!(
            "{:<44} {:>9.0} {:>8.2} {:>8.2} {:>7} | {half} | {:<12} {:>6.2}",
            row.name,
            row.load.rps,
            row.load.p50_ms,
            row.load.p99_ms,
            row.load.errors,
            row.ceiling,
            row.load.rps / row.ceiling_rps
        );
    }
    println!("web role peak resident memory under this load: {peak_rss:.1} MiB");

    if let Some(project) = &opts.compose_project {
        println!();
        println!(
            "through the compose stack {project:?}: wrk in a container on {project}_default, to http://nginx:8080"
        );
        println!("{:<44} {:>9} {:>8} {:>8} {:>7} | {:>6}", "request", "rps", "p50 ms", "p99 ms", "errors", "ratio");
        for (name, load, ceiling) in through_compose(project, opts.compose_port, opts.seconds).await? {
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
