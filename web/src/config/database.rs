//! PostgreSQL.

use std::time::Duration;

use super::{ConfigError, Secret, Vars, vars::scheme};

/// PostgreSQL.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub pool_size: usize,
    /// Bound on connecting and on waiting for a pooled connection.
    pub timeout: Duration,
}

impl DatabaseConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let url = vars.secret("DATABASE_URL")?;
        scheme("DATABASE_URL", url.expose(), &["postgres", "postgresql"])?;
        Ok(Self {
            url,
            pool_size: vars.positive("DATABASE_POOL_SIZE", 10)?,
            timeout: Duration::from_secs(vars.positive("DATABASE_TIMEOUT_SECS", 5)?),
        })
    }
}
