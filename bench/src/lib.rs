//! What the benchmarks share: finding the `app` binary and connecting to PostgreSQL.

use std::path::PathBuf;

use anyhow::Context as _;

/// The `app` binary: the one given, or the one next to the running benchmark (same build profile).
pub fn app_binary(given: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    let app = match given {
        Some(app) => app.clone(),
        None => std::env::current_exe()?.parent().context("binary directory")?.join("app"),
    };
    anyhow::ensure!(app.exists(), "{} not found: build it first (cargo build --release --bin app)", app.display());
    Ok(app)
}

/// The project's `frontend/` built by the real asset builder into a scratch directory: the `STATIC_DIR` of the
/// servers the benchmarks start (the server refuses to start without a manifest).
pub fn built_assets() -> anyhow::Result<PathBuf> {
    let out = std::env::temp_dir().join(format!("bench-assets-{}", std::process::id()));
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend");
    assets::build(&src, &out).context("building frontend/")?;
    Ok(out)
}

pub async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    Ok(client)
}

/// A scratch database on the server of `admin_url`, dropped by [`ScratchDb::drop_now`].
#[derive(Debug)]
pub struct ScratchDb {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl ScratchDb {
    pub async fn create(admin_url: &str, prefix: &str) -> anyhow::Result<Self> {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        connect(admin_url).await?.batch_execute(&format!("CREATE DATABASE {name}")).await?;
        let (server, _) = admin_url.rsplit_once('/').context("admin URL ends with /<database>")?;
        Ok(Self { url: format!("{server}/{name}"), name, admin_url: admin_url.to_string() })
    }

    pub async fn drop_now(self) {
        if let Ok(client) = connect(&self.admin_url).await {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await;
        }
    }
}

/// The pgbench of the PostgreSQL client packages.
fn pgbench_binary() -> PathBuf {
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin/pgbench");
    if debian.exists() { debian } else { PathBuf::from("pgbench") }
}

/// PostgreSQL's own ceiling on this machine, measured now: `pgbench` with `mode` (`-S` select-only, `-N` simple
/// update) and `clients` connections for `seconds`, on a scratch database of scale 10. Returns transactions per
/// second (without the connection time).
pub async fn pgbench_tps(admin_url: &str, mode: &str, clients: u32, seconds: u32) -> anyhow::Result<f64> {
    let db = Pgbench::init(admin_url).await?;
    let result = db.tps(mode, clients, seconds).await;
    db.drop_now().await;
    result
}

/// A pgbench database (scale 10) initialised once, so that the ceiling can be measured again next to each
/// measurement of a run: on these shared machines PostgreSQL's speed drifts within minutes.
#[derive(Debug)]
pub struct Pgbench {
    db: ScratchDb,
}

impl Pgbench {
    pub async fn init(admin_url: &str) -> anyhow::Result<Self> {
        let db = ScratchDb::create(admin_url, "pgbench").await?;
        let init = tokio::process::Command::new(pgbench_binary())
            .args(["-i", "-q", "-s", "10", &db.url])
            .output()
            .await
            .context("running pgbench (apt-get install postgresql-contrib)");
        match init {
            Ok(init) if init.status.success() => Ok(Self { db }),
            Ok(init) => {
                db.drop_now().await;
                anyhow::bail!("pgbench -i: {}", String::from_utf8_lossy(&init.stderr))
            }
            Err(error) => {
                db.drop_now().await;
                Err(error)
            }
        }
    }

    /// `pgbench mode -c clients -j 2 -T seconds`: transactions per second.
    pub async fn tps(&self, mode: &str, clients: u32, seconds: u32) -> anyhow::Result<f64> {
        let run = tokio::process::Command::new(pgbench_binary())
            .args([mode, "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), &self.db.url])
            .output()
            .await?;
        anyhow::ensure!(run.status.success(), "pgbench {mode}: {}", String::from_utf8_lossy(&run.stderr));
        let text = String::from_utf8_lossy(&run.stdout);
        text.lines()
            .find_map(|line| line.strip_prefix("tps = ")?.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no tps in pgbench's output: {text}"))
    }

    pub async fn drop_now(self) {
        self.db.drop_now().await;
    }
}

/// What wrk measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Non-2xx/3xx answers plus socket errors.
    pub errors: u64,
}

fn wrk_millis(value: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = value.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (value, 1.0)
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// Reads wrk's `--latency` report.
pub fn parse_wrk(text: &str) -> anyhow::Result<Load> {
    let field = |prefix: &str| {
        text.lines().find_map(|line| line.trim().strip_prefix(prefix).map(|rest| rest.trim().to_string()))
    };
    let rps = field("Requests/sec:").and_then(|v| v.parse().ok()).with_context(|| format!("wrk: {text}"))?;
    let p50 = field("50%").and_then(|v| wrk_millis(&v)).context("wrk: no 50% latency")?;
    let p99 = field("99%").and_then(|v| wrk_millis(&v)).context("wrk: no 99% latency")?;
    let mut errors = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    if let Some(socket) = field("Socket errors:") {
        errors += socket.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
    }
    Ok(Load { rps, p50_ms: p50, p99_ms: p99, errors })
}

/// Runs wrk (Debian's `wrk`) against `url` with `connections` connections on 2 threads for `seconds`.
pub async fn wrk(url: &str, headers: &[String], connections: u32, seconds: u32) -> anyhow::Result<Load> {
    let mut command = tokio::process::Command::new("wrk");
    command.args(["-t", "2", "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency"]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command.arg(url).output().await.context("running wrk (apt-get install wrk)")?;
    anyhow::ensure!(output.status.success(), "wrk: {}", String::from_utf8_lossy(&output.stderr));
    parse_wrk(&String::from_utf8_lossy(&output.stdout))
}

/// Resident memory of a process, in MiB (from /proc).
pub fn rss_mib(pid: u32) -> Option<f64> {
    proc_status_mib(pid, "VmRSS:")
}

/// The peak resident memory of a process (`VmHWM`), in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    proc_status_mib(pid, "VmHWM:")
}

fn proc_status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status.lines().find_map(|line| line.strip_prefix(field))?.split_whitespace().next()?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `n` sequential GETs of a page (`Accept: text/html`, keep-alive) after `warmup` unmeasured ones, each required
/// to succeed: their times in milliseconds, sorted.
pub async fn sequential_ms(client: &reqwest::Client, url: &str, warmup: usize, n: usize) -> anyhow::Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..warmup + n {
        let started = std::time::Instant::now();
        let response = client.get(url).header("Accept", "text/html").send().await?;
        anyhow::ensure!(response.status().is_success(), "{url}: {}", response.status());
        response.bytes().await?;
        if i >= warmup {
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples)
}

/// The `p`-th percentile (0-100) of sorted samples.
pub fn percentile(sorted: &[f64], p: usize) -> f64 {
    sorted.get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1))).copied().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_reports_are_read() {
        let report = "Running 2s test @ http://127.0.0.1:1/\n  2 threads and 8 connections\n  Latency Distribution\n     50%  412.00us\n     75%    1.20ms\n     90%    2.00ms\n     99%   15.31ms\n  1000 requests in 2.00s, 1.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 4\nRequests/sec:   5000.50\nTransfer/sec:      1.00MB\n";
        let load = parse_wrk(report).unwrap();
        assert!((load.rps - 5000.5).abs() < 1e-9);
        assert!((load.p50_ms - 0.412).abs() < 1e-9);
        assert!((load.p99_ms - 15.31).abs() < 1e-9);
        assert_eq!(load.errors, 7);
    }
}

/// A free port on loopback.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `app server` on a free port, against `url`, serving the built `frontend/`, until dropped.
#[derive(Debug)]
pub struct Server {
    child: tokio::process::Child,
    pub base: String,
}

impl Server {
    /// Starts it with `extra` variables and waits until `/readyz` answers.
    pub async fn start(app: &PathBuf, url: &str, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_role(app, "server", url, extra).await
    }

    /// [`Server::start`] for another HTTP role (`dashboard`).
    pub async fn start_role(app: &PathBuf, role: &str, url: &str, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = tokio::process::Command::new(app)
            .arg(role)
            .env_clear()
            .env("STATIC_DIR", built_assets()?)
            .envs([("DATABASE_URL", url), ("PORT", &port.to_string()), ("LOG_FORMAT", "json"), ("RUST_LOG", "warn")])
            .envs(extra.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", app.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while client.get(format!("{base}/readyz")).send().await.map(|r| r.status().is_success()).ok() != Some(true) {
            anyhow::ensure!(std::time::Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok(Self { child, base })
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }

    /// Kills it and waits for it to exit (its database connections are closed when this returns).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
