//! The watcher of the local stack: build, then rebuild after every change under the sources.
//!
//! Events are gathered for 100 ms after the first one (an editor's save is several events), then one build runs. A
//! build that fails (a Sass syntax error) prints the error and leaves the previous files in place; the next save
//! tries again. Every two seconds the manifest on disk is compared with the last one built: the web role publishes
//! the image's own assets when it restarts, and the watcher puts the manifest of the sources back.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};

const SETTLE: Duration = Duration::from_millis(100);
const RECHECK: Duration = Duration::from_secs(2);

#[allow(clippy::print_stdout)]
fn build_and_report(src: &Path, out: &Path) -> Option<crate::Manifest> {
    let started = Instant::now();
    match crate::build(src, out) {
        Ok(report) => {
            println!("assets: built in {} ms\n{}", started.elapsed().as_millis(), report.summary());
            if let Err(err) = report.check_budgets() {
                println!("assets: warning: {err:#}");
            }
            crate::read_manifest(out).ok()
        }
        Err(err) => {
            println!("assets: build failed, previous files kept: {err:#}");
            None
        }
    }
}

/// Builds now, then after every change, until the process is stopped.
#[allow(clippy::print_stdout)]
pub fn run(src: &Path, out: &Path, poll: bool, health_file: Option<&Path>) -> anyhow::Result<()> {
    let (sender, events) = mpsc::channel();
    let mut watcher: Box<dyn Watcher> = if poll {
        let config = notify::Config::default().with_poll_interval(Duration::from_millis(500));
        Box::new(PollWatcher::new(sender, config).context("starting the polling watcher")?)
    } else {
        Box::new(RecommendedWatcher::new(sender, notify::Config::default()).context("starting the watcher")?)
    };
    watcher.watch(src, RecursiveMode::Recursive).with_context(|| format!("watching {}", src.display()))?;
    println!("assets: watching {} → {}", src.display(), out.display());
    let mut built = build_and_report(src, out);
    loop {
        if let Some(file) = health_file {
            std::fs::write(file, b"").with_context(|| format!("touching {}", file.display()))?;
        }
        match events.recv_timeout(RECHECK) {
            Ok(event) => {
                let relevant = |event: &notify::Result<notify::Event>| {
                    event.as_ref().map_or(true, |event| !event.kind.is_access())
                };
                let mut changed = relevant(&event);
                let deadline = Instant::now() + SETTLE;
                while let Ok(more) = events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    changed |= relevant(&more);
                }
                if changed {
                    built = build_and_report(src, out).or(built);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(manifest) = &built
                    && crate::read_manifest(out).ok().as_ref() != Some(manifest)
                {
                    println!("assets: the manifest was replaced (web restarted?): writing the sources' one back");
                    crate::write_manifest(out, manifest)?;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => anyhow::bail!("the file watcher stopped"),
        }
    }
}

/// Ok when `file` was modified within `max_age`.
pub fn alive(file: &Path, max_age: Duration) -> anyhow::Result<()> {
    let modified =
        std::fs::metadata(file).and_then(|m| m.modified()).with_context(|| format!("reading {}", file.display()))?;
    let age = modified.elapsed().unwrap_or_default();
    anyhow::ensure!(
        age <= max_age,
        "{} is {} s old (more than {} s): the watcher is stuck",
        file.display(),
        age.as_secs(),
        max_age.as_secs()
    );
    Ok(())
}
