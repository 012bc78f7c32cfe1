//! The dashboard's bar: with 1,000,000 tasks of history (and their attempts) and 20 workers' heartbeats, every page
//! and API answer under 100 ms at p95, and the process under 50 MB resident. Prints each address's p50/p95/max
//! (sequential requests on loopback: an upper bound on server time), the dashboard's peak RSS, and the slowest
//! statement with its plan (`EXPLAIN (ANALYZE, BUFFERS)` of the statements the pages run, with their binds).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use web::tasks::TaskState;
use web::tasks::store::{TaskFilter, list_query};

const P95_BUDGET_MS: f64 = 100.0;
const RSS_BUDGET_MIB: f64 = 50.0;

#[derive(Debug, Parser)]
#[command(about = "Dashboard pages and API over a million tasks, against the 100 ms p95 and 50 MB budgets")]
struct Opts {
    /// Administrative connection; a scratch database is created and dropped.
    #[arg(long, env = "TEST_DATABASE_URL", default_value = "postgres://app:app@127.0.0.1:5432/postgres")]
    admin_url: String,
    /// The `app` binary (default: next to this one).
    #[arg(long)]
    app: Option<PathBuf>,
    /// Tasks of history.
    #[arg(long, default_value_t = 1_000_000)]
    tasks: i64,
    /// Sequential requests per address, after 5 to warm up.
    #[arg(long, default_value_t = 60)]
    requests: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let app = bench::app_binary(opts.app.as_ref())?;
    let db = bench::ScratchDb::create(&opts.admin_url, "bench_dashboard").await?;
    let result = run(&opts, &app, &db.url).await;
    db.drop_now().await;
    result
}

/// A month of history: 96 % succeeded, 2 % dead (three failed attempts each), 1 % retrying, the rest queued or
/// cancelled; six task names on two queues; attempts spread over 20 workers.
const SEED: &str = "
INSERT INTO tasks (task_id, task_name, queue, payload, state, attempts, max_attempts, last_error, created_at,
                   updated_at, finished_at)
SELECT gen_random_uuid(), (ARRAY['email.send','note.create','report.build','image.resize','cleanup','probe'])[1 + i % 6],
       CASE WHEN i % 6 = 3 THEN 'media' ELSE 'tasks' END, jsonb_build_object('n', i),
       CASE WHEN i % 100 < 96 THEN 'succeeded' WHEN i % 100 < 98 THEN 'dead' WHEN i % 100 = 98 THEN 'retrying'
            WHEN i % 200 = 99 THEN 'queued' ELSE 'cancelled' END,
       CASE WHEN i % 100 BETWEEN 96 AND 97 THEN 3 ELSE 1 END, 3,
       CASE WHEN i % 100 BETWEEN 96 AND 98 THEN 'upstream timed out after 30s (request ' || i || ')' END,
       t, t + interval '2 seconds', CASE WHEN i % 100 < 98 THEN t + interval '2 seconds' END
  FROM generate_series(1, $1::bigint) AS i, LATERAL (SELECT now() - (i * interval '30 days') / $1::bigint AS t) at;
INSERT INTO task_runs (task_id, task_name, attempt, state, worker_id, started_at, finished_at, error)
SELECT task_id, task_name, 1, CASE WHEN state = 'succeeded' THEN 'succeeded' ELSE 'failed' END,
       'worker-' || (abs(hashtext(task_id::text)) % 20), created_at, updated_at, last_error
  FROM tasks WHERE state IN ('succeeded', 'dead', 'retrying');
INSERT INTO task_runs (task_id, task_name, attempt, state, worker_id, started_at, finished_at, error)
SELECT task_id, task_name, a, 'failed', 'worker-' || a, created_at, updated_at, last_error
  FROM tasks, generate_series(2, 3) AS a WHERE state = 'dead';
INSERT INTO workers (worker_id, hostname, pid, queues, concurrency, in_flight, started_at, last_seen_at, version)
SELECT 'worker-' || w, 'host-' || (w % 4), 1000 + w, ARRAY['tasks', 'media'], 8, w % 3, now() - interval '3 hours',
       now() - (w % 3) * interval '5 seconds', '0.1.0'
  FROM generate_series(0, 19) AS w;
INSERT INTO cron_runs (job, host, status, started_at, finished_at, exit_code, output_tail)
SELECT (ARRAY['backup','clearsessions','prune-tasks'])[1 + d % 3], 'cron-1', 'succeeded',
       now() - d * interval '8 hours', now() - d * interval '8 hours' + interval '40 seconds', 0, 'done'
  FROM generate_series(1, 90) AS d;
INSERT INTO backups (name, url, size, sha256, created_at, verified_at, verify_ok)
SELECT 'db-' || d || '.dump', 'file:///backups/db-' || d || '.dump', 50000000 + d, md5(d::text), now() - d * interval '1 day',
       now() - d * interval '1 day' + interval '5 minutes', true
  FROM generate_series(1, 30) AS d;
";

#[allow(clippy::print_stdout)]
async fn run(opts: &Opts, app: &PathBuf, url: &str) -> anyhow::Result<()> {
    let migrate_url = url.to_string();
    tokio::task::spawn_blocking(move || web::db::run_migrations(&migrate_url)).await??;
    let client = bench::connect(url).await?;
    let seeding = Instant::now();
    for statement in SEED.split(";\n").filter(|s| !s.trim().is_empty()) {
        let count: &(dyn tokio_postgres::types::ToSql + Sync) = &opts.tasks;
        let params = if statement.contains("$1") { vec![count] } else { Vec::new() };
        client.execute(statement, &params).await.with_context(|| format!("seeding: {}", &statement[..60]))?;
    }
    println!("(seeded in {:.0} s)", seeding.elapsed().as_secs_f64());
    client.batch_execute("VACUUM ANALYZE").await?;
    let counts = client.query_one("SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM task_runs)", &[]).await?;
    let (tasks, runs): (i64, i64) = (counts.get(0), counts.get(1));
    println!("history: {tasks} tasks, {runs} attempts, 20 workers' heartbeats (vacuumed and analyzed)");

    // Staff, made by the real command; signed in on the web role, whose session the dashboard shares.
    let email = "staff@example.com";
    let status = tokio::process::Command::new(app)
        .arg("createsuperuser")
        .env("DATABASE_URL", url)
        .env("ADMIN_EMAIL", email)
        .env("ADMIN_PASSWORD", "a long bench password")
        .stdout(std::process::Stdio::null())
        .status()
        .await?;
    anyhow::ensure!(status.success(), "app createsuperuser failed");
    let site = bench::Server::start(app, url, &[("SERVE_STATIC", "true")]).await?;
    let dashboard = bench::Server::start_role(app, "dashboard", url, &[("SERVE_STATIC", "true")]).await?;
    let staff = reqwest::Client::builder().cookie_store(true).build()?;
    let login = serde_json::json!({ "email": email, "password": "a long bench password" });
    staff.post(format!("{}/api/auth/login", site.base)).json(&login).send().await?.error_for_status()?;

    let sample = client.query_one("SELECT task_id::text FROM tasks WHERE state = 'dead' LIMIT 1", &[]).await?;
    let dead: String = sample.get(0);
    let first = staff.get(format!("{}/monitor/api/tasks", dashboard.base)).send().await?.error_for_status()?;
    let next = first.json::<serde_json::Value>().await?["next"].as_str().context("no second page")?.to_string();
    let addresses = [
        "/monitor/".to_string(),
        "/monitor/tasks".to_string(),
        format!("/monitor/tasks?cursor={next}"),
        "/monitor/tasks?state=dead".to_string(),
        "/monitor/tasks?state=queued".to_string(),
        "/monitor/tasks?name=report.build".to_string(),
        "/monitor/tasks?queue=media".to_string(),
        "/monitor/tasks?worker=worker-7".to_string(),
        "/monitor/tasks?min_seconds=1.5".to_string(),
        "/monitor/tasks?error=timed+out".to_string(),
        "/monitor/tasks?since=2026-01-01T00:00&until=2099-01-01T00:00&state=dead".to_string(),
        format!("/monitor/tasks/{dead}"),
        "/monitor/workers".to_string(),
        "/monitor/queues".to_string(),
        "/monitor/cron".to_string(),
        "/monitor/backups".to_string(),
        "/monitor/api/overview".to_string(),
        "/monitor/api/tasks?state=dead".to_string(),
        format!("/monitor/api/tasks/{dead}"),
        "/monitor/api/workers".to_string(),
        "/monitor/api/queues".to_string(),
        "/monitor/api/cron".to_string(),
        "/monitor/api/backups".to_string(),
        "/metrics".to_string(),
    ];
    println!("\n{:<74} {:>8} {:>8} {:>8}", "address", "p50 ms", "p95 ms", "max ms");
    let mut worst = (0.0_f64, String::new());
    for address in &addresses {
        let (p50, p95, max) = timings(&staff, &format!("{}{address}", dashboard.base), opts.requests).await?;
        let mark = if p95 <= P95_BUDGET_MS { "" } else { "  OVER BUDGET" };
        let shown =
            address.split_once("cursor=").map_or(address.clone(), |(start, _)| format!("{start}cursor=(page 2)"));
        println!("{shown:<74} {p50:>8.1} {p95:>8.1} {max:>8.1}{mark}");
        if p95 > worst.0 {
            worst = (p95, address.clone());
        }
    }
    let rss = bench::rss_mib(dashboard.pid()).unwrap_or(f64::NAN);
    let peak = bench::peak_rss_mib(dashboard.pid()).unwrap_or(f64::NAN);
    println!("\nslowest address at p95: {} ({:.1} ms; budget {P95_BUDGET_MS} ms)", worst.1, worst.0);
    println!("dashboard resident memory: {rss:.1} MiB now, {peak:.1} MiB peak (budget {RSS_BUDGET_MIB} MiB)");
    explain_statements(url).await?;
    drop((site, dashboard));
    Ok(())
}

/// Median, p95 and maximum in milliseconds of `n` sequential GETs, after 5 to warm up.
async fn timings(client: &reqwest::Client, url: &str, n: usize) -> anyhow::Result<(f64, f64, f64)> {
    let samples = bench::sequential_ms(client, url, 5, n).await?;
    Ok((bench::percentile(&samples, 50), bench::percentile(&samples, 95), bench::percentile(&samples, 100)))
}

/// Runs every statement of the dashboard that reads the big tables under `EXPLAIN (ANALYZE, BUFFERS)` (the task
/// history's for each filter the pages offer, the overview's counts and chart, the workers' page, the metrics'
/// counts), three times each, and prints the slowest one's plan.
#[allow(clippy::print_stdout)]
async fn explain_statements(url: &str) -> anyhow::Result<()> {
    use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
    use web::dashboard::{metrics, overview::Overview, workers};
    use web::db::Explain;
    let mut conn = AsyncPgConnection::establish(url).await?;
    let filters = [
        ("no filter", TaskFilter::default()),
        ("state=dead", TaskFilter { state: Some(TaskState::Dead), ..Default::default() }),
        ("name=report.build", TaskFilter { name: Some("report.build".into()), ..Default::default() }),
        ("queue=media", TaskFilter { queue: Some("media".into()), ..Default::default() }),
        ("worker=worker-7", TaskFilter { worker: Some("worker-7".into()), ..Default::default() }),
        (
            "min_seconds=1.5",
            TaskFilter { min_duration: Some(chrono::TimeDelta::milliseconds(1500)), ..Default::default() },
        ),
        ("error=timed out", TaskFilter { error: Some("timed out".into()), ..Default::default() }),
    ];
    let now = chrono::Utc::now();
    let mut timed: Vec<(f64, String, Vec<String>)> = Vec::new();
    for _ in 0..3 {
        let mut round: Vec<(String, Vec<String>, f64)> = Vec::new();
        for (label, filter) in &filters {
            let started = Instant::now();
            let plan = Explain(list_query(filter, None, 50)).load::<String>(&mut conn).await?;
            round.push((format!("task history, {label}"), plan, started.elapsed().as_secs_f64() * 1000.0));
        }
        let statements = [
            ("overview counts", Overview::counts_query(now)),
            ("overview chart", Overview::minutes_query(now - chrono::TimeDelta::minutes(59))),
            ("workers page", workers::load_query(now)),
            ("metrics task counts", metrics::state_counts_query()),
        ];
        for (label, statement) in statements {
            let started = Instant::now();
            let plan = Explain(statement).load::<String>(&mut conn).await?;
            round.push((label.to_string(), plan, started.elapsed().as_secs_f64() * 1000.0));
        }
        for (label, plan, ms) in round {
            match timed.iter_mut().find(|(_, l, _)| *l == label) {
                Some(entry) if ms < entry.0 => *entry = (ms, label, plan),
                Some(_) => {}
                None => timed.push((ms, label, plan)),
            }
        }
    }
    timed.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("\nstatements, best of three with EXPLAIN ANALYZE:");
    for (ms, label, _) in &timed {
        println!("  {label:<40} {ms:>7.1} ms");
    }
    if let Some((ms, label, plan)) = <[_]>::first(&timed) {
        println!("\nslowest statement: {label} ({ms:.1} ms); its plan:");
        for line in plan {
            println!("  {line}");
        }
    }
    Ok(())
}
