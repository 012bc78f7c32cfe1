//! The HTTP server role.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Vars};

/// The HTTP server.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub bind_address: IpAddr,
    /// 0 asks the operating system for a free port (the tests do).
    pub port: u16,
    pub workers: usize,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// How long in-flight requests may run after SIGTERM before the server exits anyway.
    pub shutdown_timeout: Duration,
    /// Take the client address from `X-Real-IP` (set by our nginx) instead of the TCP peer.
    pub trust_proxy_headers: bool,
    /// The built assets shipped with the application (`manifest.json` and the hashed files it names).
    pub static_dir: PathBuf,
    /// Where nginx serves `/static/` from: the server copies `static_dir` there on start (unset: no copy).
    pub static_root: Option<PathBuf>,
    /// Serve `/static/` from the application too: for runs with no nginx in front (host runs, tests).
    pub serve_static: bool,
}

impl HttpConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Self {
            bind_address: vars.or("BIND_ADDRESS", IpAddr::from([127, 0, 0, 1]))?,
            port: vars.or("PORT", 8000)?,
            workers: vars.positive("WEB_WORKERS", cpus)?,
            body_limit: vars.positive("BODY_LIMIT_BYTES", 256 * 1024)?,
            shutdown_timeout: Duration::from_secs(vars.or("SHUTDOWN_TIMEOUT_SECS", 30)?),
            trust_proxy_headers: vars.bool_or("TRUST_PROXY_HEADERS", false)?,
            static_dir: vars.or("STATIC_DIR", PathBuf::from("frontend/dist"))?,
            static_root: vars.optional("STATIC_ROOT")?,
            serve_static: vars.bool_or("SERVE_STATIC", false)?,
        })
    }
}
