//! Sessions and login throttling.

use std::time::Duration;

use super::{ConfigError, Vars};

/// Sessions and login throttling.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub session_ttl: Duration,
    /// Login attempts allowed per client address within one window.
    pub login_rate_limit: u32,
    pub login_rate_window: Duration,
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
