//! `app tasks list|show|retry|names|prune`: look at background tasks, take dead-lettered ones back, and keep the
//! history to its retention.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use uuid::Uuid;
use web::broker;
use web::config::{BrokerConfig, DatabaseConfig, Vars, WorkerConfig};
use web::db;
use web::models::keyset::Keyset;
use web::tasks::{self, TaskState, store};

#[derive(Debug, clap::Args)]
pub struct Opts {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Recent tasks, newest first.
    List {
        /// Only tasks in this state.
        #[arg(long, value_parser = state_parser())]
        state: Option<TaskState>,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
        /// Continue after this cursor (printed at the end of the previous listing).
        #[arg(long, value_parser = cursor_parser)]
        after: Option<Keyset>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One task with every attempt.
    Show { task_id: Uuid },
    /// Takes a dead-lettered task back: queued again from its first attempt.
    Retry { task_id: Uuid },
    /// The registered task names with their queue and attempts.
    Names,
    /// Deletes succeeded tasks (with their runs) and stopped workers older than TASK_RETENTION_DAYS (default 30);
    /// dead tasks stay until retried. Scheduled nightly in cron/schedule.toml.
    Prune {
        /// Keep this many days instead of TASK_RETENTION_DAYS.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36_500))]
        older_than_days: Option<u32>,
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    let vars = Vars::from_env();
    // `names` needs no database; the others do.
    let connect =
        async || -> anyhow::Result<db::DbConn> { db::conn(&db::pool(&DatabaseConfig::from_vars(&vars)?)?).await };
    match opts.command {
        Command::Names => names(),
        Command::List { state, limit, after, json } => list(&mut connect().await?, state, after, limit, json).await?,
        Command::Show { task_id } => show(&mut connect().await?, task_id).await?,
        Command::Retry { task_id } => retry(&mut connect().await?, &vars, task_id).await?,
        Command::Prune { older_than_days, dry_run } => {
            let retention = match older_than_days {
                Some(days) => std::time::Duration::from_secs(86_400 * u64::from(days)),
                None => WorkerConfig::from_vars(&vars)?.retention,
            };
            prune(&mut connect().await?, retention, dry_run).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn names() {
    for kind in tasks::registry().kinds() {
        println!("{:<24} queue {:<10} max attempts {}", kind.name, kind.queue, kind.max_attempts);
    }
}

async fn list(
    conn: &mut db::DbConn,
    state: Option<TaskState>,
    after: Option<Keyset>,
    limit: i64,
    json: bool,
) -> anyhow::Result<()> {
    let page = store::list(conn, &store::TaskFilter { state, ..Default::default() }, after, limit).await?;
    for task in &page.items {
        if json {
            println!("{}", serde_json::to_string(&task)?);
        } else {
            println!(
                "{}  {:<9}  {:<20}  attempt {}/{}  {}  {}",
                task.task_id,
                task.state,
                task.task_name,
                task.attempts,
                task.max_attempts,
                task.updated_at.format("%Y-%m-%d %H:%M:%S"),
                task.last_error.as_deref().unwrap_or("")
            );
        }
    }
    if let Some(next) = page.next {
        eprintln!("more: app tasks list --after {next}");
    }
    Ok(())
}

fn cursor_parser(raw: &str) -> Result<Keyset, String> {
    Keyset::decode(raw).ok_or_else(|| "not a cursor printed by `app tasks list`".to_string())
}

async fn show(conn: &mut db::DbConn, task_id: Uuid) -> anyhow::Result<()> {
    let Some(task) = store::get(conn, task_id).await? else {
        anyhow::bail!("no task with id {task_id}");
    };
    println!("{}", serde_json::to_string_pretty(&task)?);
    Ok(())
}

async fn retry<F: Fn(&str) -> Option<String>>(
    conn: &mut db::DbConn,
    vars: &Vars<F>,
    task_id: Uuid,
) -> anyhow::Result<()> {
    let task = store::retry(conn, task_id).await?;
    println!("Task {} ({}) is queued again.", task.task_id, task.task_name);
    // The dead-letter queue still holds its last message; remove it so the queue shows only dead tasks.
    let ids = std::collections::HashSet::from([task_id]);
    let outcome = match tasks::dead_letters::remove(&BrokerConfig::from_vars(vars)?, "tasks retry", &ids).await {
        Ok(1) => format!("Removed its message from {}.", broker::DEAD_QUEUE),
        Ok(_) => format!("Its message was no longer in {}.", broker::DEAD_QUEUE),
        Err(err) => format!("Note: could not clean {} ({err:#}); the task is queued anyway.", broker::DEAD_QUEUE),
    };
    println!("{outcome}");
    Ok(())
}

async fn prune(conn: &mut db::DbConn, retention: std::time::Duration, dry_run: bool) -> anyhow::Result<()> {
    let before = chrono::Utc::now() - chrono::Duration::from_std(retention)?;
    let pruned = store::prune(conn, before, dry_run).await?;
    let verb = if dry_run { "Would delete" } else { "Deleted" };
    println!(
        "{verb} {} succeeded task(s) with their runs and {} stopped worker(s), older than {} day(s) (before {}).",
        pruned.tasks,
        pruned.workers,
        retention.as_secs() / 86_400,
        before.format("%Y-%m-%d %H:%M UTC")
    );
    Ok(())
}

/// `--state`: the known states, listed in `--help`.
fn state_parser() -> impl clap::builder::TypedValueParser<Value = TaskState> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(TaskState::ALL.map(TaskState::as_str))
        .map(|state| state.parse::<TaskState>().expect("one of the possible values"))
}
