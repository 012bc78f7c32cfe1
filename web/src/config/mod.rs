//! Configuration, read from environment variables only.
//!
//! One small struct per concern. Every variable is documented in `.env.sample` at the repository root (a test
//! checks that [`VARIABLES`] and the sample agree). A missing or malformed variable is an error that names the
//! variable; nothing falls back silently to a default when a value was given but could not be parsed.

mod secret;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

pub use secret::Secret;

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
    "CRON_SCHEDULE",
    "CRON_LOCK_DIR",
    "CRON_GRACE_SECS",
    "STATIC_DIR",
    "STATIC_ROOT",
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

impl FromStr for Environment {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "local" => Ok(Self::Local),
            "dev" => Ok(Self::Dev),
            "prod" => Ok(Self::Prod),
            other => Err(format!("expected one of local, dev, prod; got {other:?}")),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Log output shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => Err(format!("expected json or pretty; got {other:?}")),
        }
    }
}

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
    /// The static files shipped with the application.
    pub static_dir: std::path::PathBuf,
    /// Where nginx serves `/static/` from: the server copies `static_dir` there on start (unset: no copy).
    pub static_root: Option<std::path::PathBuf>,
}

/// PostgreSQL.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub pool_size: usize,
    /// Bound on connecting and on waiting for a pooled connection.
    pub timeout: Duration,
}

/// Sessions and login throttling.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub session_ttl: Duration,
    /// Login attempts allowed per client address within one window.
    pub login_rate_limit: u32,
    pub login_rate_window: Duration,
}

/// RabbitMQ.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `amqp://user:password@host:port/vhost`
    pub url: Secret,
}

/// The worker role and the outbox relay it runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Tasks run at once by one worker process (also the RabbitMQ prefetch).
    pub concurrency: usize,
    /// Queues to consume; empty means every queue a registered task uses.
    pub queues: Vec<String>,
    /// After SIGTERM, how long running tasks may take before the worker exits anyway (they are redelivered).
    pub grace: Duration,
    /// Delay before the first retry; doubles with each attempt up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often the relay looks for unpublished outbox rows when it found none.
    pub outbox_poll: Duration,
    pub outbox_batch: i64,
    pub heartbeat: Duration,
    /// A task running longer than this fails (and is retried like any failure).
    pub task_timeout: Duration,
}

/// How mail leaves the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailBackend {
    Smtp,
    File,
    Memory,
}

impl FromStr for EmailBackend {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "smtp" => Ok(Self::Smtp),
            "file" => Ok(Self::File),
            "memory" => Ok(Self::Memory),
            other => Err(format!("expected smtp, file or memory; got {other:?}")),
        }
    }
}

/// Outgoing e-mail.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub backend: EmailBackend,
    /// `smtp://host:port` (plain), `smtp://host:port?tls=required` (STARTTLS) or `smtps://user:pass@host` (TLS).
    pub smtp_url: Secret,
    /// The From header, e.g. `Shop <noreply@shop.example>`.
    pub from: String,
    /// Where the file backend writes one `.eml` file per message.
    pub file_dir: std::path::PathBuf,
    pub verify_token_ttl: Duration,
    pub reset_token_ttl: Duration,
}

/// Where backups are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// Google Cloud Storage (the seed template's default).
    Gcs,
    /// Any S3-compatible service.
    S3,
    /// A directory (a mounted volume).
    Local,
}

impl FromStr for StorageKind {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "gcs" => Ok(Self::Gcs),
            "s3" => Ok(Self::S3),
            "local" => Ok(Self::Local),
            other => Err(format!("expected gcs, s3 or local; got {other:?}")),
        }
    }
}

/// Backups and their retention.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    pub storage: StorageKind,
    /// Bucket for gcs and s3.
    pub bucket: Option<String>,
    /// Folder inside the bucket or directory.
    pub prefix: String,
    pub local_dir: std::path::PathBuf,
    /// Service-account JSON for GCS (what `google_storage.sh -a` stores).
    pub gcs_service_account: Option<std::path::PathBuf>,
    /// Another GCS endpoint (emulators).
    pub gcs_base_url: Option<String>,
    /// Send unsigned GCS requests (emulators only).
    pub gcs_skip_signature: bool,
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_access_key_id: Option<Secret>,
    pub s3_secret_access_key: Option<Secret>,
    pub s3_allow_http: bool,
    pub keep_daily: usize,
    pub keep_weekly: usize,
    pub keep_monthly: usize,
}

/// The cron role.
#[derive(Debug, Clone)]
pub struct CronConfig {
    /// The schedule file (TOML).
    pub schedule: std::path::PathBuf,
    /// Where the per-job lock files live.
    pub lock_dir: std::path::PathBuf,
    /// After SIGTERM, how long running jobs may go on before they are killed.
    pub grace: Duration,
}

/// Logging.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive such as `info` or `web=debug,info`.
    pub filter: String,
    /// Touched by the worker and cron roles while they are healthy; `app healthcheck --file` checks its age.
    pub health_file: Option<std::path::PathBuf>,
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
    pub cron: CronConfig,
    pub log: LogConfig,
}

/// Reads variables from a lookup function, so tests can configure without touching the process environment.
pub struct Vars<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> fmt::Debug for Vars<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vars")
    }
}

impl Vars<fn(&str) -> Option<String>> {
    /// The process environment. A variable set to the empty string counts as unset. When `NAME` is unset and
    /// `NAME_FILE` names a file (a Docker secret such as `/run/secrets/database_url`), the file's content without
    /// its trailing newline is the value (a missing file leaves the variable unset); [`check_secret_files`] reports an
    /// unreadable one at start-up.
    pub fn from_env() -> Self {
        fn lookup(name: &str) -> Option<String> {
            std::env::var(name).ok().filter(|value| !value.is_empty()).or_else(|| read_secret_file(name).ok().flatten())
        }
        Vars { lookup }
    }
}

/// The path `NAME_FILE` names, when it is set and not empty.
fn secret_file_path(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(format!("{name}_FILE")).filter(|path| !path.is_empty())
}

/// The value of `NAME` from the file `NAME_FILE` names; `Ok(None)` when `NAME_FILE` is unset.
fn read_secret_file(name: &str) -> Result<Option<String>, String> {
    let Some(path) = secret_file_path(name) else {
        return Ok(None);
    };
    if !std::path::Path::new(&path).exists() {
        // Not there (yet): the variable counts as unset, and "is required but not set" names the file.
        return Ok(None);
    }
    let content = std::fs::read_to_string(&path)
        .map_err(|err| format!("{name}_FILE: cannot read {}: {err}", std::path::Path::new(&path).display()))?;
    let value = content.strip_suffix('\n').unwrap_or(&content);
    let value = value.strip_suffix('\r').unwrap_or(value);
    Ok(Some(value.to_string()))
}

/// "is required but not set", naming the file `NAME_FILE` points at when that is set but missing.
fn not_set(name: &str) -> String {
    match secret_file_path(name) {
        Some(path) => format!("is required but not set ({name}_FILE names {}, which does not exist)", path.display()),
        None => "is required but not set".into(),
    }
}

/// Fails when any `NAME_FILE` of [`VARIABLES`] names a file that exists but cannot be read, or is set together
/// with `NAME`.
pub fn check_secret_files() -> Result<(), String> {
    for name in VARIABLES {
        if secret_file_path(name).is_some() && std::env::var_os(name).is_some_and(|value| !value.is_empty()) {
            return Err(format!("both {name} and {name}_FILE are set; keep one"));
        }
        read_secret_file(name)?;
    }
    Ok(())
}

/// Variables from a fixed map, see [`Vars::from_map`].
pub type MapLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl Vars<MapLookup> {
    /// A fixed set of variables (tests).
    pub fn from_map(map: HashMap<String, String>) -> Self {
        Vars { lookup: Box::new(move |name| map.get(name).cloned()) }
    }
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    pub fn required<T>(&self, name: &'static str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.optional(name)? {
            Some(value) => Ok(value),
            None => Err(ConfigError { name, problem: not_set(name) }),
        }
    }

    pub fn optional<T>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        raw.trim().parse().map(Some).map_err(|err: T::Err| ConfigError {
            name,
            // The value itself is not echoed: it may be a secret.
            problem: format!("cannot be parsed: {err}"),
        })
    }

    pub fn or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        Ok(self.optional(name)?.unwrap_or(default))
    }

    pub fn secret(&self, name: &'static str) -> Result<Secret, ConfigError> {
        self.raw(name).map(Secret::new).ok_or_else(|| ConfigError { name, problem: not_set(name) })
    }

    fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).as_deref().map(str::trim) {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError { name, problem: format!("expected true or false; got {other:?}") }),
        }
    }

    fn positive<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Default,
        T::Err: fmt::Display,
    {
        let value = self.or(name, default)?;
        if value > T::default() {
            Ok(value)
        } else {
            Err(ConfigError { name, problem: "must be greater than zero".into() })
        }
    }
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
            cron: CronConfig::from_vars(vars)?,
            log: LogConfig::from_vars(vars, environment)?,
        })
    }
}

fn public_url<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<String, ConfigError> {
    let url: String = vars.or("PUBLIC_URL", "http://127.0.0.1:8000".to_string())?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError { name: "PUBLIC_URL", problem: "must start with http:// or https://".into() });
    }
    Ok(url.trim_end_matches('/').to_string())
}

impl BrokerConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let url = vars.raw("AMQP_URL").unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            return Err(ConfigError { name: "AMQP_URL", problem: "must start with amqp:// or amqps://".into() });
        }
        Ok(Self { url: Secret::new(url) })
    }
}

impl WorkerConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let queues = vars
            .raw("WORKER_QUEUES")
            .map(|raw| raw.split(',').map(str::trim).filter(|q| !q.is_empty()).map(String::from).collect())
            .unwrap_or_default();
        Ok(Self {
            concurrency: vars.positive("WORKER_CONCURRENCY", 4)?,
            queues,
            grace: Duration::from_secs(vars.or("WORKER_GRACE_SECS", 30)?),
            retry_base: Duration::from_millis(vars.positive("TASK_RETRY_BASE_MS", 2000)?),
            retry_max: Duration::from_millis(vars.positive("TASK_RETRY_MAX_MS", 3_600_000)?),
            outbox_poll: Duration::from_millis(vars.positive("OUTBOX_POLL_MS", 500)?),
            outbox_batch: vars.positive("OUTBOX_BATCH", 100)?,
            heartbeat: Duration::from_secs(vars.positive("HEARTBEAT_SECS", 5)?),
            task_timeout: Duration::from_secs(vars.positive("TASK_TIMEOUT_SECS", 900)?),
        })
    }
}

impl MailConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let smtp_url = vars.raw("SMTP_URL").unwrap_or_else(|| "smtp://127.0.0.1:1025".into());
        if !(smtp_url.starts_with("smtp://") || smtp_url.starts_with("smtps://")) {
            return Err(ConfigError { name: "SMTP_URL", problem: "must start with smtp:// or smtps://".into() });
        }
        let from: String = vars.or("EMAIL_FROM", "rust-compose-template <noreply@localhost>".to_string())?;
        if let Err(err) = from.parse::<lettre::message::Mailbox>() {
            return Err(ConfigError { name: "EMAIL_FROM", problem: format!("is not a mailbox: {err}") });
        }
        Ok(Self {
            backend: vars.or("EMAIL_BACKEND", EmailBackend::Smtp)?,
            smtp_url: Secret::new(smtp_url),
            from,
            file_dir: vars.or("EMAIL_FILE_DIR", std::path::PathBuf::from("mail"))?,
            verify_token_ttl: Duration::from_secs(3600 * vars.positive("VERIFY_TOKEN_TTL_HOURS", 48)?),
            reset_token_ttl: Duration::from_secs(60 * vars.positive("RESET_TOKEN_TTL_MINUTES", 60)?),
        })
    }
}

impl BackupConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let storage: StorageKind = vars.or("BACKUP_STORAGE", StorageKind::Gcs)?;
        let endpoint_ok = |name: &'static str, url: Option<String>| match url {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                Err(ConfigError { name, problem: "must start with http:// or https://".into() })
            }
            other => Ok(other),
        };
        Ok(Self {
            storage,
            bucket: vars.raw("BACKUP_BUCKET"),
            prefix: vars.or("BACKUP_PREFIX", "backups".to_string())?.trim_matches('/').to_string(),
            local_dir: vars.or("BACKUP_LOCAL_DIR", std::path::PathBuf::from("/var/backups/app"))?,
            gcs_service_account: vars.optional("GOOGLE_SERVICE_ACCOUNT_PATH")?,
            gcs_base_url: endpoint_ok("GCS_BASE_URL", vars.raw("GCS_BASE_URL"))?,
            gcs_skip_signature: vars.bool_or("GCS_SKIP_SIGNATURE", false)?,
            s3_endpoint: endpoint_ok("S3_ENDPOINT", vars.raw("S3_ENDPOINT"))?,
            s3_region: vars.or("S3_REGION", "us-east-1".to_string())?,
            s3_access_key_id: vars.raw("S3_ACCESS_KEY_ID").map(Secret::new),
            s3_secret_access_key: vars.raw("S3_SECRET_ACCESS_KEY").map(Secret::new),
            s3_allow_http: vars.bool_or("S3_ALLOW_HTTP", false)?,
            keep_daily: vars.or("BACKUP_KEEP_DAILY", 7)?,
            keep_weekly: vars.or("BACKUP_KEEP_WEEKLY", 4)?,
            keep_monthly: vars.or("BACKUP_KEEP_MONTHLY", 6)?,
        })
    }
}

impl CronConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            schedule: vars.or("CRON_SCHEDULE", std::path::PathBuf::from("cron/schedule.toml"))?,
            lock_dir: vars.or("CRON_LOCK_DIR", std::env::temp_dir())?,
            grace: Duration::from_secs(vars.or("CRON_GRACE_SECS", 300)?),
        })
    }
}

impl HttpConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Self {
            bind_address: vars.or("BIND_ADDRESS", IpAddr::from([127, 0, 0, 1]))?,
            port: vars.or("PORT", 8000)?,
            workers: vars.positive("WEB_WORKERS", cpus)?,
            body_limit: vars.positive("BODY_LIMIT_BYTES", 64 * 1024)?,
            shutdown_timeout: Duration::from_secs(vars.or("SHUTDOWN_TIMEOUT_SECS", 30)?),
            trust_proxy_headers: vars.bool_or("TRUST_PROXY_HEADERS", false)?,
            static_dir: vars.or("STATIC_DIR", std::path::PathBuf::from("web/static"))?,
            static_root: vars.optional("STATIC_ROOT")?,
        })
    }
}

impl DatabaseConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let url = vars.secret("DATABASE_URL")?;
        if !(url.expose().starts_with("postgres://") || url.expose().starts_with("postgresql://")) {
            return Err(ConfigError {
                name: "DATABASE_URL",
                problem: "must start with postgres:// or postgresql://".into(),
            });
        }
        Ok(Self {
            url,
            pool_size: vars.positive("DATABASE_POOL_SIZE", 10)?,
            timeout: Duration::from_secs(vars.positive("DATABASE_TIMEOUT_SECS", 5)?),
        })
    }
}

impl AuthConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            session_ttl: Duration::from_secs(3600 * vars.positive("SESSION_TTL_HOURS", 24 * 14)?),
            login_rate_limit: vars.positive("LOGIN_RATE_LIMIT", 10)?,
            login_rate_window: Duration::from_secs(vars.positive("LOGIN_RATE_WINDOW_SECS", 300)?),
        })
    }
}

impl LogConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(
        vars: &Vars<F>,
        environment: Environment,
    ) -> Result<Self, ConfigError> {
        let default_format = if environment.is_local() { LogFormat::Pretty } else { LogFormat::Json };
        let filter: String = vars.or("RUST_LOG", "info".to_string())?;
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&filter) {
            return Err(ConfigError { name: "RUST_LOG", problem: format!("is not a valid filter: {err}") });
        }
        Ok(Self { format: vars.or("LOG_FORMAT", default_format)?, filter, health_file: vars.optional("HEALTH_FILE")? })
    }
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
        let sample = include_str!("../../../.env.sample");
        for name in VARIABLES {
            assert!(
                sample.lines().any(|line| line.trim_start_matches("# ").starts_with(&format!("{name}="))),
                "{name} is read by the application but not documented in .env.sample"
            );
        }
    }
}
