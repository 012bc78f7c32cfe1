//! Configuration, read from environment variables only.
//!
//! One small struct per concern, one file per section (as crates.io's `src/config/`); [`vars`] holds the lookup
//! (with Docker's `NAME_FILE` secrets) and the typed reads. Every variable is documented in `.envs/host.env.sample`
//! (a test checks that [`VARIABLES`] and the sample agree). A missing or malformed variable is an error that names
//! the variable; nothing falls back silently to a default when a value was given but could not be parsed.

mod auth;
mod backup;
mod broker;
mod cron;
mod database;
mod http;
mod log;
mod mail;
mod media;
mod secret;
mod vars;
mod worker;

use std::fmt;

use vars::text_choice;

pub use auth::AuthConfig;
pub use backup::{BackupConfig, StorageKind};
pub use broker::BrokerConfig;
pub use cron::CronConfig;
pub use database::DatabaseConfig;
pub use http::HttpConfig;
pub use log::{LogConfig, LogFormat};
pub use mail::{EmailBackend, MailConfig};
pub use media::MediaConfig;
pub use secret::Secret;
pub use vars::{MapLookup, Vars, check_secret_files};
pub use worker::WorkerConfig;

/// Every environment variable the application reads.
pub const VARIABLES: &[&str] = &[
    "APP_ENV",
    "APP_NAME",
    "BIND_ADDRESS",
    "PORT",
    "WEB_WORKERS",
    "BODY_LIMIT_BYTES",
    "SHUTDOWN_TIMEOUT_SECS",
    "TRUST_PROXY_HEADERS",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "DATABASE_TIMEOUT_SECS",
    "SESSION_TTL_HOURS",
    "LOGIN_RATE_LIMIT",
    "LOGIN_RATE_WINDOW_SECS",
    "LOG_FORMAT",
    "RUST_LOG",
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "PUBLIC_URL",
    "AMQP_URL",
    "WORKER_CONCURRENCY",
    "WORKER_QUEUES",
    "WORKER_GRACE_SECS",
    "TASK_RETRY_BASE_MS",
    "TASK_RETRY_MAX_MS",
    "OUTBOX_POLL_MS",
    "OUTBOX_BATCH",
    "HEARTBEAT_SECS",
    "TASK_TIMEOUT_SECS",
    "TASK_RETENTION_DAYS",
    "EMAIL_BACKEND",
    "SMTP_URL",
    "EMAIL_FROM",
    "EMAIL_FILE_DIR",
    "VERIFY_TOKEN_TTL_HOURS",
    "RESET_TOKEN_TTL_MINUTES",
    "BACKUP_STORAGE",
    "BACKUP_BUCKET",
    "BACKUP_PREFIX",
    "BACKUP_LOCAL_DIR",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GCS_BASE_URL",
    "GCS_SKIP_SIGNATURE",
    "S3_ENDPOINT",
    "S3_REGION",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_ALLOW_HTTP",
    "BACKUP_KEEP_DAILY",
    "BACKUP_KEEP_WEEKLY",
    "BACKUP_KEEP_MONTHLY",
    "MEDIA_STORAGE",
    "MEDIA_BUCKET",
    "MEDIA_LOCAL_DIR",
    "MEDIA_MAX_BYTES",
    "MEDIA_ACCEL_REDIRECT",
    "CRON_SCHEDULE",
    "CRON_LOCK_DIR",
    "CRON_GRACE_SECS",
    "RABBITMQ_MANAGEMENT_URL",
    "STATIC_DIR",
    "STATIC_ROOT",
    "SERVE_STATIC",
    "HEALTH_FILE",
];

/// A variable that is missing or does not parse.
#[derive(Debug, thiserror::Error)]
#[error("configuration variable {name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

/// Where the application runs. Decides cookie security and the log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Local,
    Dev,
    Prod,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Dev => "dev",
            Self::Prod => "prod",
        }
    }

    /// Everything but a developer's own machine is served over HTTPS.
    pub fn is_local(self) -> bool {
        self == Self::Local
    }
}

text_choice!(Environment { Local => "local", Dev => "dev", Prod => "prod" });

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the server role needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    /// Shown on pages and in mail; the project name by default.
    pub app_name: String,
    /// Where users reach the site (links in mail), without a trailing slash.
    pub public_url: String,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub broker: BrokerConfig,
    pub worker: WorkerConfig,
    pub mail: MailConfig,
    pub backup: BackupConfig,
    pub media: MediaConfig,
    pub cron: CronConfig,
    pub log: LogConfig,
}

impl Config {
    /// The whole configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let environment: Environment = vars.or("APP_ENV", Environment::Local)?;
        Ok(Self {
            environment,
            app_name: vars.or("APP_NAME", "rust-compose-template".to_string())?,
            public_url: public_url(vars)?,
            http: HttpConfig::from_vars(vars)?,
            database: DatabaseConfig::from_vars(vars)?,
            auth: AuthConfig::from_vars(vars)?,
            broker: BrokerConfig::from_vars(vars)?,
            worker: WorkerConfig::from_vars(vars)?,
            mail: MailConfig::from_vars(vars)?,
            backup: BackupConfig::from_vars(vars)?,
            media: MediaConfig::from_vars(vars)?,
            cron: CronConfig::from_vars(vars)?,
            log: LogConfig::from_vars(vars, environment)?,
        })
    }
}

fn public_url<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<String, ConfigError> {
    let url = vars.url_or("PUBLIC_URL", "http://127.0.0.1:8000", &["http", "https"])?;
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars<MapLookup> {
        Vars::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    const URL: (&str, &str) = ("DATABASE_URL", "postgres://app:s3cr3t-pw@db:5432/app");

    #[test]
    fn defaults_apply_when_only_the_database_is_given() {
        let config = Config::from_vars(&vars(&[URL])).unwrap();
        assert_eq!(config.environment, Environment::Local);
        assert_eq!(config.http.port, 8000);
        assert_eq!(config.log.format, LogFormat::Pretty);
        assert_eq!(config.auth.login_rate_limit, 10);
    }

    #[test]
    fn missing_database_url_is_named() {
        let err = Config::from_vars(&vars(&[])).unwrap_err();
        assert_eq!(err.name, "DATABASE_URL");
        assert!(err.to_string().contains("DATABASE_URL"));
    }

    #[test]
    fn malformed_values_are_named_not_defaulted() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("PORT", "70000"),
            ("APP_ENV", "production"),
            ("WEB_WORKERS", "0"),
            ("TRUST_PROXY_HEADERS", "maybe"),
            ("LOG_FORMAT", "xml"),
            ("BIND_ADDRESS", "localhost:80"),
            ("DATABASE_URL", "mysql://x"),
            ("AMQP_URL", "http://rabbit"),
            ("SMTP_URL", "mail.example.com"),
            ("EMAIL_FROM", "not a mailbox"),
            ("EMAIL_BACKEND", "pigeon"),
            ("WORKER_CONCURRENCY", "0"),
            ("PUBLIC_URL", "example.com"),
            ("BACKUP_STORAGE", "ftp"),
            ("S3_ENDPOINT", "minio:9000"),
            ("BACKUP_KEEP_DAILY", "many"),
        ] {
            let err = Config::from_vars(&vars(&[URL, (name, value)])).unwrap_err();
            assert_eq!(err.name, name, "{name}={value}");
        }
    }

    #[test]
    fn outside_local_logs_are_json() {
        let config = Config::from_vars(&vars(&[URL, ("APP_ENV", "prod")])).unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
    }

    #[test]
    fn debug_output_hides_every_secret() {
        let config = Config::from_vars(&vars(&[
            URL,
            ("AMQP_URL", "amqp://app:rabbit-pw@mq:5672/%2f"),
            ("SMTP_URL", "smtps://mailer:smtp-pw@mail.example.com"),
            ("S3_SECRET_ACCESS_KEY", "s3-secret-pw"),
        ]))
        .unwrap();
        let debug = format!("{config:?}");
        for secret in ["s3cr3t-pw", "rabbit-pw", "smtp-pw", "s3-secret-pw"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn every_variable_is_documented_in_the_sample() {
        let sample = include_str!("../../../.envs/host.env.sample");
        for name in VARIABLES {
            assert!(
                sample.lines().any(|line| line.trim_start_matches("# ").starts_with(&format!("{name}="))),
                "{name} is read by the application but not documented in .envs/host.env.sample"
            );
        }
    }
}
