//! Prometheus metrics in the OpenMetrics text format (the `prometheus-client` crate): every HTTP role counts its
//! requests by route and status and times them in a histogram; the dashboard adds the task, queue, worker, backup
//! and cron figures (see `dashboard::metrics`). Served at `/metrics` on each role's own port, for a scraper on the
//! backend network; nginx answers `/metrics` with 404, so it is never published.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::http::AppState;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's pattern (`/api/notes/{id}`), never the raw path, so that the label set stays small.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 0.5 ms to about 8 s, doubling.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// A role's HTTP figures. Cheap to clone: the families share their counters.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<RouteLabels>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
        }
    }
}

impl HttpMetrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_string(), route.to_string());
        self.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
        self.latency.get_or_create(&RouteLabels { method, route }).observe(seconds);
    }

    /// Adds the HTTP families to `registry` (a registry built for one scrape).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            self.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response, by method and route",
            self.latency.clone(),
        );
    }
}

/// Middleware: times every request and counts it under its route's pattern. Requests that match no route count
/// as `unmatched`, so that scanning for paths cannot grow the label set.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<AppState>>().map(|state| state.metrics.clone());
    let method = req.method().as_str().to_string();
    let response = next.call(req).await?;
    if let Some(metrics) = metrics {
        let request = response.request();
        let route = match request.app_data::<crate::http::route::RoutePattern>() {
            Some(pattern) => std::borrow::Cow::Borrowed(pattern.0.as_str()),
            None => request.match_pattern().map_or(std::borrow::Cow::Borrowed("unmatched"), std::borrow::Cow::Owned),
        };
        metrics.observe(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    }
    Ok(response)
}

/// Encodes `registry` as the body of a `/metrics` answer.
pub fn respond(registry: &Registry) -> HttpResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, registry) {
        Ok(()) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(body),
        Err(err) => crate::http::server_errors::with_cause(
            HttpResponse::InternalServerError().finish(),
            format!("encoding the metrics: {err}"),
        ),
    }
}

/// GET /metrics on the web role: its HTTP figures.
pub async fn web_metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut registry = Registry::default();
    state.metrics.register(&mut registry);
    respond(&registry)
}
