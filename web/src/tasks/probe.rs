//! `probe`: a diagnostic task that changes nothing. It can wait and it can fail on purpose, which makes it the tool
//! to check a live system end to end (`app enqueue probe '{}'`), to watch retries and dead-lettering
//! (`app enqueue probe '{"fail": true}'`), and to measure throughput (`bench/`).

use serde::{Deserialize, Serialize};

use crate::tasks::{Task, TaskContext};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Sleep this long before finishing.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Fail every attempt (it ends in the dead-letter queue).
    #[serde(default)]
    pub fail: bool,
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
        Ok(())
    }
}
