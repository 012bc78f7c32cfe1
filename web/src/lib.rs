//! The application's library: configuration, database, domain models and the HTTP server. The `app` binary
//! (`src/main.rs`) exposes each role and management command as a subcommand on top of it.
//!
//! Error handling is described once, in [`error`].

pub mod assets;
pub mod backup;
pub mod broker;
pub mod config;
pub mod cron;
pub mod dashboard;
pub mod db;
pub mod error;
pub mod gcs;
pub mod health_file;
#[cfg(test)]
mod hostile;
pub mod http;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod models;
pub mod password;
pub mod reconnect;
pub mod schema;
pub mod static_files;
pub mod tasks;
pub mod telemetry;
pub mod token;

/// This machine's (or container's) name, for worker ids and cron run records.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
