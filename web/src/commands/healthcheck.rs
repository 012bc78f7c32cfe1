//! `app healthcheck`: the container health probe, so images need no curl or shell. Without options it asks the web
//! role's `/healthz` on this container's port; with `--file` it checks that the worker or cron role touched its
//! health file (HEALTH_FILE) recently. Exit 0 healthy, 1 not.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use web::config::{HttpConfig, Vars};

#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Check this health file's age instead of HTTP (the worker and cron roles write HEALTH_FILE).
    #[arg(long, env = "HEALTH_FILE")]
    file: Option<PathBuf>,
    /// Largest accepted age of the health file, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    max_age: u64,
    /// Give up on the HTTP probe after this many seconds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    if let Some(file) = opts.file {
        let age = web::health_file::age(&file)?;
        if age > Duration::from_secs(opts.max_age) {
            anyhow::bail!(
                "health file {} was last touched {}s ago (limit {}s)",
                file.display(),
                age.as_secs(),
                opts.max_age
            );
        }
        println!("healthy: {} touched {}s ago", file.display(), age.as_secs());
        return Ok(ExitCode::SUCCESS);
    }
    let http = HttpConfig::from_vars(&Vars::from_env())?;
    let status = tokio::time::timeout(Duration::from_secs(opts.timeout), probe(http.port))
        .await
        .map_err(|_| anyhow::anyhow!("GET /healthz on port {} did not answer within {}s", http.port, opts.timeout))??;
    if status != 200 {
        anyhow::bail!("GET /healthz on port {} answered {status}", http.port);
    }
    println!("healthy: /healthz answered 200");
    Ok(ExitCode::SUCCESS)
}

/// One HTTP/1.0 request to `/healthz` on loopback; returns the status code.
async fn probe(port: u16) -> anyhow::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\nUser-Agent: app-healthcheck\r\n\r\n").await?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|pair| pair == b"\r\n") {
        let read = stream.read(&mut buf).await?;
        if read == 0 || head.len() > 4096 {
            break;
        }
        head.extend_from_slice(&buf[..read]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line.split_whitespace().nth(1).and_then(|code| code.parse().ok());
    status.with_context(|| format!("not an HTTP answer: {:?}", line.lines().next().unwrap_or_default()))
}
