//! `app cron`: the cron role. Runs the jobs of `CRON_SCHEDULE` (default `cron/schedule.toml`) on their schedule,
//! each under a file lock and a PostgreSQL advisory lock (see `web::cron`). `app cron run <job>` runs one job now,
//! under the same locks. SIGTERM: no new runs; running jobs get `CRON_GRACE_SECS` to finish.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use tokio_cron_scheduler::{Job, JobScheduler};
use web::config::Config;
use web::cron::Schedule;
use web::cron::runner::{self, Outcome, RunContext};
use web::db::Database;
use web::telemetry;

#[derive(Debug, clap::Args)]
pub struct Opts {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run one job now, under the same locks, and wait for it.
    Run { job: String },
    /// Print the jobs of the schedule.
    List,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    let cron_config = web::config::CronConfig::from_vars(&web::config::Vars::from_env())?;
    let schedule = Schedule::load(&cron_config.schedule)?;
    // `list` needs no database; the others do.
    let job = match opts.command {
        Some(Command::List) => {
            list(&schedule);
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Run { job }) => Some(job),
        None => None,
    };
    let config = Config::from_env()?;
    telemetry::init(&config.log);
    let ctx = RunContext {
        database: Database::from_url(&config.database.url)?,
        lock_dir: config.cron.lock_dir.clone(),
        program: std::env::current_exe().context("locating this binary")?,
        host: format!("{}-{}", web::hostname(), std::process::id()),
    };
    match job {
        Some(job) => run_now(&config, &schedule, &job, &ctx).await,
        None => scheduler(&config, schedule, ctx).await,
    }
}

fn list(schedule: &Schedule) {
    for job in &schedule.jobs {
        let steps: Vec<String> = job.steps.iter().map(|step| step.join(" ")).collect();
        println!("{:<20} {:<16} timeout {:>6}s  {}", job.name, job.schedule, job.timeout_secs, steps.join(" && "));
    }
}

async fn run_now(config: &Config, schedule: &Schedule, job: &str, ctx: &RunContext) -> anyhow::Result<ExitCode> {
    let spec = schedule.jobs.iter().find(|spec| spec.name == job).with_context(|| {
        let names: Vec<&str> = schedule.jobs.iter().map(|spec| spec.name.as_str()).collect();
        format!("no job {job:?} in {} (jobs: {})", config.cron.schedule.display(), names.join(", "))
    })?;
    let outcome = runner::run(spec, ctx).await?;
    println!("{job}: {outcome:?}");
    Ok(if outcome == Outcome::Succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn scheduler(config: &Config, schedule: Schedule, ctx: RunContext) -> anyhow::Result<ExitCode> {
    let mut shutdown = super::shutdown_signal()?;
    let running = Arc::new(AtomicUsize::new(0));
    let ctx = Arc::new(ctx);
    let mut scheduler = JobScheduler::new().await.map_err(|err| anyhow::anyhow!("starting the scheduler: {err}"))?;
    for spec in schedule.jobs {
        let spec = Arc::new(spec);
        let (ctx, running) = (ctx.clone(), running.clone());
        let (name, expression) = (spec.name.clone(), spec.schedule.clone());
        let job = Job::new_async(expression.as_str(), move |_, _| {
            let (spec, ctx, running) = (spec.clone(), ctx.clone(), running.clone());
            Box::pin(async move {
                running.fetch_add(1, Ordering::SeqCst);
                if let Err(err) = runner::run(&spec, &ctx).await {
                    tracing::error!(job = %spec.name, error = format!("{err:#}"), "job could not run");
                }
                running.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .map_err(|err| anyhow::anyhow!("job {name}: {err}"))?;
        scheduler.add(job).await.map_err(|err| anyhow::anyhow!("adding job {name}: {err}"))?;
        tracing::info!(job = %name, "job scheduled");
    }
    scheduler.start().await.map_err(|err| anyhow::anyhow!("starting the scheduler: {err}"))?;
    tracing::info!(schedule = %config.cron.schedule.display(), "cron started (schedules are UTC)");
    if let Some(path) = config.cron.health_file.clone() {
        // The scheduler runs as long as this process does; the file tells the container probe so.
        tokio::spawn(async move {
            loop {
                web::health_file::report(&path);
                tokio::time::sleep(std::time::Duration::from_secs(15)).await;
            }
        });
    }
    let _ = shutdown.wait_for(|stop| *stop).await;
    let _ = scheduler.shutdown().await;
    if !runner::wait_idle(&running, config.cron.grace).await {
        tracing::warn!("grace period over; stopping running jobs");
    }
    tracing::info!("cron stopped");
    Ok(ExitCode::SUCCESS)
}
