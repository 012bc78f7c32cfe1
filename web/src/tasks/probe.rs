//! `probe`: a diagnostic task that changes nothing. It can wait and it can fail on purpose, which makes it the tool
//! to check a live system end to end (`app enqueue probe '{}'`), to watch retries and dead-lettering
//! (`app enqueue probe '{"fail": true}'`), to see a retried task recover (`{"fail_runs": 3}`), and to measure
//! throughput (`bench/`).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use crate::schema::task_runs;
use crate::tasks::{RunState, Task, TaskContext};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Sleep this long before finishing.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Fail every attempt (it ends in the dead-letter queue).
    #[serde(default)]
    pub fail: bool,
    /// Fail until this many of its attempts have failed, counted across retries: `3` dies after its three
    /// attempts and succeeds once retried.
    #[serde(default)]
    pub fail_runs: u32,
}

impl Task for Probe {
    const NAME: &'static str = "probe";
    const MAX_ATTEMPTS: u32 = 3;

    async fn run(self, ctx: &mut TaskContext<'_>) -> anyhow::Result<()> {
        if self.sleep_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(self.sleep_ms)).await;
        }
        if self.fail {
            anyhow::bail!("probe asked to fail (attempt {})", ctx.attempt);
        }
        if self.fail_runs > 0 {
            let failed: i64 = task_runs::table
                .filter(task_runs::task_id.eq(ctx.task_id))
                .filter(task_runs::state.eq(RunState::Failed))
                .count()
                .get_result(&mut *ctx.conn)
                .await?;
            if failed < i64::from(self.fail_runs) {
                anyhow::bail!("probe asked to fail {} runs ({} failed so far)", self.fail_runs, failed + 1);
            }
        }
        Ok(())
    }
}
