//! The cron role.

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Vars};

/// The cron role.
#[derive(Debug, Clone)]
pub struct CronConfig {
    /// The schedule file (TOML).
    pub schedule: PathBuf,
    /// Where the per-job lock files live.
    pub lock_dir: PathBuf,
    /// After SIGTERM, how long running jobs may go on before they are killed.
    pub grace: Duration,
    /// Touched while the scheduler runs; `app healthcheck --file` checks its age.
    pub health_file: Option<PathBuf>,
}

impl CronConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            schedule: vars.or("CRON_SCHEDULE", PathBuf::from("cron/schedule.toml"))?,
            lock_dir: vars.or("CRON_LOCK_DIR", std::env::temp_dir())?,
            grace: Duration::from_secs(vars.or("CRON_GRACE_SECS", 300)?),
            health_file: vars.optional("HEALTH_FILE")?,
        })
    }
}
