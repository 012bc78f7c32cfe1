//! RabbitMQ.

use super::{ConfigError, Secret, Vars};

/// RabbitMQ.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `amqp://user:password@host:port/vhost`
    pub url: Secret,
    /// The management API (`http://user:password@host:15672`), for the dashboard's queue figures; by default
    /// AMQP_URL's host and credentials on port 15672.
    pub management_url: Secret,
}

/// AMQP_URL's `user:password@host` on the management port, over HTTP (HTTPS for `amqps`).
fn management_of(amqp: &str) -> String {
    let (scheme, rest) = amqp.split_once("://").unwrap_or(("amqp", amqp));
    let authority = rest.split('/').next().unwrap_or(rest);
    let (credentials, host_port) = authority.rsplit_once('@').map_or(("", authority), |(c, h)| (c, h));
    let host = host_port.rsplit_once(':').map_or(host_port, |(host, _)| host);
    let http = if scheme == "amqps" { "https" } else { "http" };
    let at = if credentials.is_empty() { String::new() } else { format!("{credentials}@") };
    format!("{http}://{at}{host}:15672")
}

impl BrokerConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let url = vars.url_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f", &["amqp", "amqps"])?;
        let management_url =
            vars.optional_url("RABBITMQ_MANAGEMENT_URL", &["http", "https"])?.unwrap_or_else(|| management_of(&url));
        Ok(Self { url: Secret::new(url), management_url: Secret::new(management_url) })
    }

    /// The virtual host of AMQP_URL, still percent-encoded (`%2f` for `/`), as the management API's paths take it.
    pub fn vhost(&self) -> String {
        let url = self.url.expose();
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        rest.split_once('/')
            .map(|(_, vhost)| vhost.split('?').next().unwrap_or(vhost))
            .filter(|v| !v.is_empty())
            .unwrap_or("%2f")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::management_of;

    #[test]
    fn the_management_api_is_found_beside_the_broker() {
        assert_eq!(management_of("amqp://app:s3cret@rabbitmq:5672/%2f"), "http://app:s3cret@rabbitmq:15672");
        assert_eq!(management_of("amqps://u:p@mq.example.com/prod"), "https://u:p@mq.example.com:15672");
        assert_eq!(management_of("amqp://127.0.0.1"), "http://127.0.0.1:15672");
    }
}
