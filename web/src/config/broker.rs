//! RabbitMQ.

use super::{ConfigError, Secret, Vars};

/// RabbitMQ.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `amqp://user:password@host:port/vhost`
    pub url: Secret,
}

impl BrokerConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let url = vars.url_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f", &["amqp", "amqps"])?;
        Ok(Self { url: Secret::new(url) })
    }
}
