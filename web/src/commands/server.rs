//! `app server`: the web role. Reads the whole configuration, binds, serves until SIGTERM/SIGINT, and exits 0 once
//! in-flight requests are done. It never runs migrations: that is `app migrate`'s job.

use std::process::ExitCode;

use anyhow::Context as _;

use web::config::Config;
use web::http::Application;
use web::telemetry;

#[derive(Debug, clap::Args)]
pub struct Opts {}

pub async fn run(_opts: Opts) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    telemetry::init(&config.log);
    if let Some(root) = &config.http.static_root {
        let copied = web::static_files::publish(&config.http.static_dir, root)
            .with_context(|| format!("publishing static files to STATIC_ROOT {}", root.display()))?;
        tracing::info!(files = copied, to = %root.display(), "static files published");
    }
    let (environment, workers) = (config.environment, config.http.workers);
    let app = Application::build(config)?;
    tracing::info!(addr = %app.addr(), %environment, workers, "listening");
    app.run().await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
