//! The load tools of the HTTP benchmark: an open-loop client, nginx serving a static file (the ceiling of the
//! loopback path), a resident-memory watcher, and signing a user up.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Samples the resident memory of `pid` until `stop`; the peak in MiB.
pub fn watch_rss(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<f64> {
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
pub async fn open_loop(url: &str, cookie: &str, rate: f64, seconds: u32) -> anyhow::Result<(f64, f64, u64)> {
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
pub struct StaticNginx {
    child: tokio::process::Child,
    dir: PathBuf,
    pub url: String,
}

impl StaticNginx {
    pub async fn start(body: &str) -> anyhow::Result<Self> {
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

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Signs a new user up; returns the `Cookie` header value of its session and its CSRF token.
pub async fn signup(base: &str) -> anyhow::Result<(String, String)> {
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

pub async fn session(base: &str) -> anyhow::Result<String> {
    Ok(signup(base).await?.0)
}
