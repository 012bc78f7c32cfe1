//! The cron role: runs the binary's own management commands on a schedule read from `cron/schedule.toml`.
//!
//! Each run of a job is guarded twice. A non-blocking `flock` on a file in `CRON_LOCK_DIR`: if the previous run of
//! the job still holds it, this run is skipped and recorded as such. A PostgreSQL advisory lock per job: a mistaken
//! second cron container never runs the same job at the same time. A run over its timeout is killed and recorded
//! as `timed_out`. Every run is a row in `cron_runs` with the tail of its output.
//!
//! Schedules are six-field cron expressions, seconds first, **in UTC** (`0 0 3 * * *` is 03:00 UTC). UTC is
//! deliberate: a local-time schedule would run twice or not at all on daylight-saving nights, and
//! tokio-cron-scheduler fixes a time zone's offset when the job is created, so it would drift by an hour after the
//! change until the next restart.

pub mod runner;

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

/// The schedule file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    #[serde(rename = "job", default)]
    pub jobs: Vec<JobSpec>,
}

/// One scheduled job: management commands run in order, stopping at the first that fails.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub name: String,
    /// Six fields, seconds first, UTC.
    pub schedule: String,
    /// Each step is the argument list of one `app` command, e.g. `["backup", "create"]`, or, when it starts with an
    /// absolute path, a program and its arguments.
    pub steps: Vec<Vec<String>>,
    /// The whole job is killed after this long.
    pub timeout_secs: u64,
}

impl JobSpec {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

impl Schedule {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let schedule: Self = toml::from_str(text).context("the schedule is not valid TOML for a schedule")?;
        for job in &schedule.jobs {
            anyhow::ensure!(
                !job.name.is_empty() && job.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "job name {:?}: use letters, digits, - and _",
                job.name
            );
            anyhow::ensure!(
                job.schedule.split_whitespace().count() == 6,
                "job {}: schedule {:?} must have six fields (seconds first)",
                job.name,
                job.schedule
            );
            tokio_cron_scheduler::Job::new_async(job.schedule.as_str(), |_, _| Box::pin(async {}))
                .map_err(|err| anyhow::anyhow!("job {}: schedule {:?}: {err}", job.name, job.schedule))?;
            anyhow::ensure!(
                !job.steps.is_empty() && job.steps.iter().all(|step| !step.is_empty()),
                "job {}: steps must not be empty",
                job.name
            );
            anyhow::ensure!(job.timeout_secs > 0, "job {}: timeout_secs must be greater than zero", job.name);
        }
        schedule.ensure_unique_names()?;
        Ok(schedule)
    }

    fn ensure_unique_names(&self) -> anyhow::Result<()> {
        let mut names = std::collections::BTreeSet::new();
        for job in &self.jobs {
            anyhow::ensure!(names.insert(&job.name), "job {} is defined twice", job.name);
        }
        Ok(())
    }

    /// Reads `path` and then every `*.toml` of the `schedule.d` folder beside it (jobs added by generators).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading the schedule {}", path.display()))?;
        let mut schedule = Self::parse(&text).with_context(|| format!("in {}", path.display()))?;
        let extra_dir = path.with_file_name("schedule.d");
        if extra_dir.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(&extra_dir)
                .with_context(|| format!("reading {}", extra_dir.display()))?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
                .collect();
            files.sort();
            for file in files {
                let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                let extra = Self::parse(&text).with_context(|| format!("in {}", file.display()))?;
                schedule.jobs.extend(extra.jobs);
            }
            // Names must stay unique across all files.
            schedule.ensure_unique_names().with_context(|| format!("with {}", extra_dir.display()))?;
        }
        Ok(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::Schedule;

    #[test]
    fn the_shipped_schedule_is_valid() {
        let schedule = Schedule::parse(include_str!("../../../cron/schedule.toml")).unwrap();
        let nightly = schedule.jobs.iter().find(|job| job.name == "nightly-backup").expect("nightly backup job");
        assert_eq!(nightly.schedule, "0 0 3 * * *");
        assert_eq!(nightly.steps, [["backup", "create"], ["backup", "verify"], ["backup", "prune"]]);
    }

    #[test]
    fn bad_schedules_are_refused_with_the_job_named() {
        for (text, expected) in [
            ("[[job]]\nname = \"x\"\nschedule = \"0 3 * * *\"\nsteps = [[\"check\"]]\ntimeout_secs = 5", "six fields"),
            ("[[job]]\nname = \"x\"\nschedule = \"0 0 25 * * *\"\nsteps = [[\"check\"]]\ntimeout_secs = 5", "job x"),
            ("[[job]]\nname = \"x\"\nschedule = \"0 0 3 * * *\"\nsteps = []\ntimeout_secs = 5", "steps"),
            (
                "[[job]]\nname = \"x\"\nschedule = \"0 0 3 * * *\"\nsteps = [[\"check\"]]\ntimeout_secs = 5\n\
                 [[job]]\nname = \"x\"\nschedule = \"0 0 4 * * *\"\nsteps = [[\"check\"]]\ntimeout_secs = 5",
                "defined twice",
            ),
            (
                "[[job]]\nname = \"a b\"\nschedule = \"0 0 3 * * *\"\nsteps = [[\"check\"]]\ntimeout_secs = 5",
                "job name",
            ),
            (
                "[[job]]\nname = \"x\"\nschedule = \"0 0 3 * * *\"\nsteps = [[\"check\"]]\ntimeout_secs = 5\ncolour = 1",
                "TOML",
            ),
        ] {
            let err = format!("{:#}", Schedule::parse(text).unwrap_err());
            assert!(err.contains(expected), "{err}");
        }
    }
}
