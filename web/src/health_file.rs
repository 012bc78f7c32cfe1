//! The health file of the roles without an HTTP port.
//!
//! The worker and cron roles have no port to probe: while healthy they touch a file ([`touch`]) and
//! `app healthcheck --file` checks its age. The web role is probed over HTTP instead (`http/health.rs`).

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;

/// Marks the role healthy now by rewriting the file (its modification time is what counts).
pub fn touch(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, b"ok\n")
}

/// [`touch`] for a role's loop: a failure is logged (the probe will then report the role unhealthy), not returned.
pub fn report(path: &Path) {
    if let Err(err) = touch(path) {
        tracing::warn!(error = %err, path = %path.display(), "cannot touch the health file");
    }
}

/// How long ago the file was last touched; an error when it is missing.
pub fn age(path: &Path) -> anyhow::Result<Duration> {
    let modified = std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .with_context(|| format!("health file {} is missing: the role has not reported yet", path.display()))?;
    Ok(SystemTime::now().duration_since(modified).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_of_a_missing_file_is_an_error() {
        assert!(age(Path::new("/nonexistent/health")).is_err());
        let path = std::env::temp_dir().join(format!("health-{}", std::process::id()));
        touch(&path).unwrap();
        assert!(age(&path).unwrap() < Duration::from_secs(5));
        std::fs::remove_file(&path).unwrap();
    }
}
