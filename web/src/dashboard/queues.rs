//! Queues: depth, unacknowledged messages and consumers from RabbitMQ's management API (through reqwest, with a
//! short timeout, so a broker that does not answer costs the page a few seconds at most and is said in red), next
//! to the tasks each queue finished in the last 10 minutes, from PostgreSQL (the broker gives no rates without
//! its statistics plugin).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use super::Staff;
use crate::config::BrokerConfig;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::pages::{Layout, render};

const TIMEOUT: Duration = Duration::from_secs(3);

/// One queue as the management API reports it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Queue {
    pub name: String,
    #[serde(default)]
    pub messages_ready: i64,
    #[serde(default)]
    pub messages_unacknowledged: i64,
    #[serde(default)]
    pub consumers: i64,
}

impl Queue {
    /// Messages wait and nobody takes them. Delay (retry) queues have no consumer by design: their messages
    /// come back through dead-lettering when their time is up. The dead-letter queue waits for a person.
    pub fn stuck(&self) -> bool {
        self.messages_ready > 0
            && self.consumers == 0
            && !self.name.contains(".retry.")
            && !self.name.ends_with(".dead")
    }
}

/// The queues of AMQP_URL's virtual host, by name.
pub async fn fetch(broker: &BrokerConfig) -> Result<Vec<Queue>, String> {
    let base = broker.management_url.expose().trim_end_matches('/').to_string();
    let (scheme, rest) = base.split_once("://").ok_or("RABBITMQ_MANAGEMENT_URL has no scheme")?;
    let (credentials, host) = rest.rsplit_once('@').map_or((None, rest), |(c, h)| (Some(c), h));
    let url = format!(
        "{scheme}://{host}/api/queues/{}?columns=name,messages_ready,messages_unacknowledged,consumers",
        broker.vhost()
    );
    let client = reqwest::Client::builder().timeout(TIMEOUT).build().map_err(|err| err.to_string())?;
    let mut request = client.get(&url);
    if let Some((user, password)) = credentials.and_then(|c| c.split_once(':')) {
        let decode = |v: &str| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned();
        request = request.basic_auth(decode(user), Some(decode(password)));
    }
    let response = request.send().await.map_err(|err| format!("{scheme}://{host}: {err}"))?;
    if !response.status().is_success() {
        return Err(format!("{scheme}://{host} answered {}", response.status()));
    }
    let mut queues: Vec<Queue> = response.json().await.map_err(|err| format!("reading the queue list: {err}"))?;
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(queues)
}

#[derive(Debug, QueryableByName, Serialize)]
pub struct Throughput {
    #[diesel(sql_type = Text)]
    pub queue: String,
    #[diesel(sql_type = BigInt)]
    pub succeeded: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
}

/// Attempts finished per task queue in the last 10 minutes.
pub async fn throughput(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<Throughput>> {
    diesel::sql_query(
        "SELECT t.queue,
                count(*) FILTER (WHERE r.state = 'succeeded') AS succeeded,
                count(*) FILTER (WHERE r.state = 'failed') AS failed
           FROM task_runs r JOIN tasks t USING (task_id)
          WHERE r.started_at > now() - interval '10 minutes' AND r.finished_at IS NOT NULL
          GROUP BY t.queue",
    )
    .load(conn)
    .await
}

#[derive(Template)]
#[template(path = "monitor/queues.html")]
struct QueuesPage<'a> {
    layout: &'a Layout,
    queues: &'a [Queue],
    problem: Option<String>,
    throughput: &'a [Throughput],
}

impl QueuesPage<'_> {
    /// Tasks of a queue (`tasks.default` carries the task queue `default`) finished in 10 minutes, per minute.
    fn rate(&self, queue: &Queue) -> String {
        let task_queue = queue.name.strip_prefix("tasks.").unwrap_or(&queue.name);
        self.throughput.iter().find(|t| t.queue == task_queue).map_or_else(
            || "-".to_string(),
            |t| format!("{:.1} / min ({} failed)", (t.succeeded + t.failed) as f64 / 10.0, t.failed),
        )
    }
}

/// GET /monitor/queues
pub async fn page(req: HttpRequest, state: web::Data<AppState>, staff: Staff) -> AppResult<HttpResponse> {
    let (queues, problem) = match fetch(&state.config.broker).await {
        Ok(queues) => (queues, None),
        Err(problem) => (Vec::new(), Some(problem)),
    };
    let mut conn = state.conn().await?;
    let throughput = throughput(&mut conn).await?;
    let layout = Layout::new(&req, &state, Some(&staff.0));
    render(&layout, StatusCode::OK, &QueuesPage { layout: &layout, queues: &queues, problem, throughput: &throughput })
}
