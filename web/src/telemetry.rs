//! Structured logs with `tracing`: JSON lines outside local (one object per line, with the fields of the enclosing
//! spans, so each line of a request carries its `request_id`), readable text on a developer's machine.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber, writing to stdout. A second call is ignored (tests build several servers).
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
