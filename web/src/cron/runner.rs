//! Running one job: the two locks, the child processes, the timeout, and the `cron_runs` record.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufReadExt as _, AsyncRead};

use crate::cron::JobSpec;
use crate::db::Database;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed {
        exit_code: Option<i32>,
    },
    TimedOut,
    /// Not run: the named lock was held.
    Skipped(&'static str),
}

impl Outcome {
    fn status(&self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed { .. } => "failed",
            Self::TimedOut => "timed_out",
            Self::Skipped(_) => "skipped",
        }
    }
}

/// What every run needs.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub database: Database,
    pub lock_dir: PathBuf,
    /// The binary whose commands the steps are.
    pub program: PathBuf,
    pub host: String,
}

/// A stable 64-bit key for the job's advisory lock.
fn advisory_key(job: &str) -> i64 {
    let digest = Sha256::digest(format!("cron:{job}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"))
}

/// The last few kilobytes of a job's output.
#[derive(Debug, Default)]
struct Tail(String);

impl Tail {
    const LIMIT: usize = 4000;

    fn push(&mut self, line: &str) {
        self.0.push_str(line);
        self.0.push('\n');
        if self.0.len() > 2 * Self::LIMIT {
            let cut = self.0.floor_char_boundary(self.0.len() - Self::LIMIT);
            self.0.drain(..cut);
        }
    }

    fn text(&self) -> String {
        let cut = self.0.floor_char_boundary(self.0.len().saturating_sub(Self::LIMIT));
        self.0[cut..].to_string()
    }
}

fn forward(
    job: String,
    stream: impl AsyncRead + Unpin + Send + 'static,
    tail: Arc<Mutex<Tail>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(job = %job, output = %line, "job output");
            tail.lock().expect("tail lock").push(&line);
        }
    })
}

async fn record_start(client: &tokio_postgres::Client, job: &str, host: &str) -> anyhow::Result<i64> {
    Ok(client
        .query_one("INSERT INTO cron_runs (job, host, status) VALUES ($1, $2, 'running') RETURNING id", &[&job, &host])
        .await
        .context("recording the run")?
        .get(0))
}

/// The two locks a run holds: the file lock (one run of the job at a time in this container) and the session's
/// advisory lock (one at a time across cron processes sharing the database).
struct Locks {
    file: std::fs::File,
}

/// Takes both locks, or says which one another run holds.
async fn lock(
    job: &JobSpec,
    ctx: &RunContext,
    client: &tokio_postgres::Client,
) -> anyhow::Result<Result<Locks, &'static str>> {
    std::fs::create_dir_all(&ctx.lock_dir).with_context(|| format!("creating {}", ctx.lock_dir.display()))?;
    let lock_path = ctx.lock_dir.join(format!("cron-{}.lock", job.name));
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(Err("the previous run still holds the file lock")),
        Err(std::fs::TryLockError::Error(err)) => return Err(anyhow::Error::from(err).context("locking")),
    }
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&advisory_key(&job.name)])
        .await
        .context("advisory lock")?
        .get(0);
    if !locked {
        return Ok(Err("another cron process is running this job"));
    }
    Ok(Ok(Locks { file }))
}

/// With both locks held no process is running `job`: a run still recorded as `running` is one whose process was
/// killed (its container killed or stopped mid-job) before it could record its end. It becomes `interrupted`, which
/// the dashboard counts as a failure, instead of looking busy forever.
async fn close_interrupted(client: &tokio_postgres::Client, job: &str) -> anyhow::Result<()> {
    let closed = client
        .execute(
            "UPDATE cron_runs SET status = 'interrupted', finished_at = now(), \
             note = 'its process ended without recording an end (killed mid-run)' \
             WHERE job = $1 AND status = 'running'",
            &[&job],
        )
        .await
        .context("closing interrupted runs")?;
    if closed > 0 {
        tracing::warn!(job, runs = closed, "earlier runs were interrupted (killed mid-run)");
    }
    Ok(())
}

/// Runs `job` once, if neither lock is held elsewhere.
pub async fn run(job: &JobSpec, ctx: &RunContext) -> anyhow::Result<Outcome> {
    let client = ctx.database.connect().await?;
    let locks = match lock(job, ctx, &client).await? {
        Ok(locks) => locks,
        Err(why) => return skip(&client, job, ctx, why).await,
    };
    close_interrupted(&client, &job.name).await?;
    let run_id = record_start(&client, &job.name, &ctx.host).await?;
    tracing::info!(job = %job.name, run_id, "job started");
    let tail = Arc::new(Mutex::new(Tail::default()));
    let outcome = run_steps(job, ctx, &tail).await?;
    let exit_code = match outcome {
        Outcome::Failed { exit_code } => exit_code,
        Outcome::Succeeded => Some(0),
        _ => None,
    };
    let output = tail.lock().expect("tail lock").text();
    client
        .execute(
            "UPDATE cron_runs SET status = $2, finished_at = now(), exit_code = $3, output_tail = $4 WHERE id = $1",
            &[&run_id, &outcome.status(), &exit_code, &output],
        )
        .await
        .context("recording the end of the run")?;
    let _ = client.query_one("SELECT pg_advisory_unlock($1)", &[&advisory_key(&job.name)]).await;
    drop(locks.file);
    match &outcome {
        Outcome::Succeeded => tracing::info!(job = %job.name, run_id, "job succeeded"),
        other => tracing::error!(job = %job.name, run_id, status = other.status(), ?exit_code, "job did not succeed"),
    }
    Ok(outcome)
}

/// Runs the job's steps one after the other until one fails or the job's timeout passes.
async fn run_steps(job: &JobSpec, ctx: &RunContext, tail: &Arc<Mutex<Tail>>) -> anyhow::Result<Outcome> {
    let deadline = Instant::now() + job.timeout();
    for step in &job.steps {
        // `["backup", "create"]` is a command of this binary; `["/usr/local/bin/x", ...]` runs that program.
        let (program, args) = match step.split_first() {
            Some((first, rest)) if first.starts_with('/') => (PathBuf::from(first), rest),
            _ => (ctx.program.clone(), step.as_slice()),
        };
        let mut child = tokio::process::Command::new(&program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} {}", program.display(), args.join(" ")))?;
        let out = forward(job.name.clone(), child.stdout.take().expect("piped"), tail.clone());
        let err = forward(job.name.clone(), child.stderr.take().expect("piped"), tail.clone());
        let left = deadline.saturating_duration_since(Instant::now());
        let status = match tokio::time::timeout(left, child.wait()).await {
            Ok(status) => Some(status.context("waiting for the step")?),
            Err(_) => {
                let _ = child.kill().await;
                None
            }
        };
        let _ = tokio::join!(out, err);
        match status {
            None => {
                tail.lock().expect("tail lock").push(&format!("killed after {}s (timeout)", job.timeout_secs));
                return Ok(Outcome::TimedOut);
            }
            Some(status) if !status.success() => return Ok(Outcome::Failed { exit_code: status.code() }),
            Some(_) => {}
        }
    }
    Ok(Outcome::Succeeded)
}

async fn skip(
    client: &tokio_postgres::Client,
    job: &JobSpec,
    ctx: &RunContext,
    why: &'static str,
) -> anyhow::Result<Outcome> {
    tracing::warn!(job = %job.name, reason = why, "run skipped");
    client
        .execute(
            "INSERT INTO cron_runs (job, host, status, finished_at, note) VALUES ($1, $2, 'skipped', now(), $3)",
            &[&job.name, &ctx.host, &why],
        )
        .await
        .context("recording the skipped run")?;
    Ok(Outcome::Skipped(why))
}

/// Waits until `running` reaches zero or `grace` passes.
pub async fn wait_idle(running: &Arc<std::sync::atomic::AtomicUsize>, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    while running.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisory_keys_are_stable_and_distinct() {
        assert_eq!(advisory_key("nightly-backup"), advisory_key("nightly-backup"));
        assert_ne!(advisory_key("nightly-backup"), advisory_key("cleanup"));
    }

    #[test]
    fn the_tail_keeps_the_end() {
        let mut tail = Tail::default();
        for n in 0..5000 {
            tail.push(&format!("line {n}"));
        }
        let text = tail.text();
        assert!(text.len() <= Tail::LIMIT);
        assert!(text.ends_with("line 4999\n"));
    }
}
