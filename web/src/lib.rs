//! The application's library: configuration, database, domain models and the HTTP server. The `app` binary
//! (`src/main.rs`) exposes each role and management command as a subcommand on top of it.
//!
//! Error handling is described once, in [`error`].

pub mod backup;
pub mod broker;
pub mod config;
pub mod cron;
pub mod db;
pub mod error;
pub mod http;
pub mod mail;
pub mod models;
pub mod password;
pub mod schema;
pub mod tasks;
pub mod telemetry;
pub mod token;
