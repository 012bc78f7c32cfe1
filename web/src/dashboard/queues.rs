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

use super::{Staff, audit};
use crate::config::BrokerConfig;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::pages::{Flash, Layout, NoFields, SignedForm, redirect, render};
use crate::tasks::pause::{self, Paused};

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

/// The queues of AMQP_URL's virtual host, by name, through the role's one HTTP client (its connections kept).
pub async fn fetch(client: &reqwest::Client, broker: &BrokerConfig) -> Result<Vec<Queue>, String> {
    let base = broker.management_url.expose().trim_end_matches('/').to_string();
    let (scheme, rest) = base.split_once("://").ok_or("RABBITMQ_MANAGEMENT_URL has no scheme")?;
    let (credentials, host) = rest.rsplit_once('@').map_or((None, rest), |(c, h)| (Some(c), h));
    let url = format!(
        "{scheme}://{host}/api/queues/{}?columns=name,messages_ready,messages_unacknowledged,consumers",
        broker.vhost()
    );
    let mut request = client.get(&url).timeout(TIMEOUT);
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
    /// Every task queue of the registry, each with its pause when it is paused.
    task_queues: Vec<(String, Option<Paused>)>,
    can_act: bool,
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
    let (queues, problem) = match fetch(&state.http, &state.config.broker).await {
        Ok(queues) => (queues, None),
        Err(problem) => (Vec::new(), Some(problem)),
    };
    let mut conn = state.conn().await?;
    let throughput = throughput(&mut conn).await?;
    let paused = pause::list(&mut conn).await?;
    let task_queues = crate::tasks::registry()
        .queues()
        .into_keys()
        .map(|queue| {
            let pause = paused.iter().find(|p| p.queue == queue).cloned();
            (queue, pause)
        })
        .collect();
    let layout = Layout::new(&req, &state, Some(&staff.0));
    let view = QueuesPage {
        layout: &layout,
        queues: &queues,
        problem,
        throughput: &throughput,
        task_queues,
        can_act: staff.can_act(),
    };
    render(&layout, StatusCode::OK, &view)
}

/// POST /monitor/queues/{queue}/pause: every worker stops consuming the task queue within a heartbeat; its
/// messages wait in RabbitMQ. Audited.
pub async fn pause_queue(
    state: web::Data<AppState>,
    queue: web::Path<String>,
    form: SignedForm<NoFields>,
) -> AppResult<HttpResponse> {
    set_paused(&state, &queue, form, true).await
}

/// POST /monitor/queues/{queue}/resume: workers consume the task queue again. Audited.
pub async fn resume_queue(
    state: web::Data<AppState>,
    queue: web::Path<String>,
    form: SignedForm<NoFields>,
) -> AppResult<HttpResponse> {
    set_paused(&state, &queue, form, false).await
}

async fn set_paused(
    state: &AppState,
    queue: &str,
    form: SignedForm<NoFields>,
    paused: bool,
) -> AppResult<HttpResponse> {
    use diesel_async::AsyncConnection as _;
    let staff = Staff::admin(form.user)?;
    if !crate::tasks::registry().queues().contains_key(queue) {
        return Err(AppError::NotFound);
    }
    let mut conn = state.conn().await?;
    let changed = conn
        .transaction(async |conn| {
            let changed = if paused {
                pause::pause(conn, queue, &staff.0.user.email).await?
            } else {
                pause::resume(conn, queue).await?
            };
            if changed {
                let action = format!("{} queue {queue}", if paused { "pause" } else { "resume" });
                audit(conn, &staff, &action, None).await?;
            }
            diesel::QueryResult::Ok(changed)
        })
        .await?;
    tracing::info!(%queue, paused, changed, by = %staff.0.user.email, "queue pause changed from the dashboard");
    let text = match (paused, changed) {
        (true, true) => format!("Queue {queue} paused: workers stop taking its tasks within a heartbeat."),
        (false, true) => format!("Queue {queue} resumed: workers take its tasks again."),
        (true, false) => format!("Queue {queue} was already paused."),
        (false, false) => format!("Queue {queue} was not paused."),
    };
    Ok(redirect("/monitor/queues", Some(Flash::success(text))))
}
