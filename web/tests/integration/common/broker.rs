//! A RabbitMQ virtual host per test, and broker outages made through the management API.

use super::{clean_up, eventually};

const MANAGEMENT: &str = "http://127.0.0.1:15672/api";

fn management() -> reqwest::Client {
    reqwest::Client::new()
}

/// A RabbitMQ virtual host of its own for one test: its queues and connections are invisible to other tests.
/// Deleted (with everything in it) when the test ends.
#[derive(Debug)]
pub struct TestBroker {
    pub vhost: String,
    pub url: String,
}

impl TestBroker {
    pub async fn new() -> Self {
        let vhost = format!("test_{}", uuid::Uuid::new_v4().simple());
        let created = management()
            .put(format!("{MANAGEMENT}/vhosts/{vhost}"))
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .unwrap_or_else(|err| panic!("RabbitMQ management API unreachable ({err}); run scripts/services.sh"));
        assert!(created.status().is_success(), "creating vhost: {}", created.status());
        let granted = management()
            .put(format!("{MANAGEMENT}/permissions/{vhost}/guest"))
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({ "configure": ".*", "write": ".*", "read": ".*" }))
            .send()
            .await
            .unwrap();
        assert!(granted.status().is_success(), "granting vhost: {}", granted.status());
        Self { url: format!("amqp://guest:guest@127.0.0.1:5672/{vhost}"), vhost }
    }

    /// Ready messages in a queue of this vhost, asked of the broker itself (a passive declare; the management
    /// API's figures lag by seconds).
    pub async fn ready(&self, queue: &str) -> u32 {
        use amqprs::channel::QueueDeclareArguments;
        use amqprs::connection::{Connection, OpenConnectionArguments};
        let args = OpenConnectionArguments::new("127.0.0.1", 5672, "guest", "guest").virtual_host(&self.vhost).finish();
        let connection = Connection::open(&args).await.unwrap();
        let channel = connection.open_channel(None).await.unwrap();
        let declared = channel.queue_declare(QueueDeclareArguments::new(queue).passive(true).finish()).await.unwrap();
        let _ = connection.close().await;
        declared.expect("declare-ok").1
    }

    /// An outage as clients see a broker going down: the broker closes every connection of this vhost (waiting
    /// until `expected` of them are listed: the management API lags a little) and refuses new ones, until
    /// [`TestBroker::restore`].
    pub async fn take_down(&self, expected: usize) {
        self.set_connection_limit(0).await;
        let connections: Vec<serde_json::Value> = eventually(15, "the vhost's connections to be listed", || async {
            let listed: Vec<serde_json::Value> = management()
                .get(format!("{MANAGEMENT}/vhosts/{}/connections", self.vhost))
                .basic_auth("guest", Some("guest"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (listed.len() >= expected).then_some(listed)
        })
        .await;
        for connection in connections {
            let name = connection["name"].as_str().unwrap();
            let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
            let closed = management()
                .delete(format!("{MANAGEMENT}/connections/{encoded}"))
                .basic_auth("guest", Some("guest"))
                .header("X-Reason", "test outage")
                .send()
                .await
                .unwrap();
            assert!(closed.status().is_success(), "closing {name}: {}", closed.status());
        }
    }

    pub async fn restore(&self) {
        let response = management()
            .delete(format!("{MANAGEMENT}/vhost-limits/{}/max-connections", self.vhost))
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "lifting the limit: {}", response.status());
    }

    async fn set_connection_limit(&self, limit: i64) {
        let response = management()
            .put(format!("{MANAGEMENT}/vhost-limits/{}/max-connections", self.vhost))
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({ "value": limit }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "setting the limit: {}", response.status());
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let vhost = self.vhost.clone();
        clean_up(async move {
            let _ = management()
                .delete(format!("{MANAGEMENT}/vhosts/{vhost}"))
                .basic_auth("guest", Some("guest"))
                .send()
                .await;
        });
    }
}
