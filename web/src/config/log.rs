//! Logging.

use super::vars::text_choice;
use super::{ConfigError, Environment, Vars};

/// Log output shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

text_choice!(LogFormat { Json => "json", Pretty => "pretty" });

/// Logging.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive such as `info` or `web=debug,info`.
    pub filter: String,
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
        Ok(Self { format: vars.or("LOG_FORMAT", default_format)?, filter })
    }
}
