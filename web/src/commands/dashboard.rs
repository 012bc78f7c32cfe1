//! `app dashboard`: the monitoring dashboard role, `/monitor/` on PORT (the same session login as the site; staff
//! only). It never publishes static files: the `web` role does; it only reads the manifest of its STATIC_DIR.

use std::process::ExitCode;

use web::config::Config;
use web::http::Application;
use web::telemetry;

#[derive(Debug, clap::Args)]
pub struct Opts {}

pub async fn run(_opts: Opts) -> anyhow::Result<ExitCode> {
    let mut config = Config::from_env()?;
    telemetry::init(&config.log);
    // The web role owns the static volume; the dashboard must not write to it.
    config.http.static_root = None;
    let (environment, workers) = (config.environment, config.http.workers);
    let app = Application::build_dashboard(config)?;
    tracing::info!(addr = %app.addr(), %environment, workers, "dashboard listening");
    app.run().await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
