//! Publishing the application's static files into the volume nginx serves `/static/` from.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Copies every file under `from` to the same relative path under `to` (the volume nginx serves `/static/` from),
/// each through a temporary name and a rename, so nginx never serves a half-written file and several web replicas
/// may publish at once. Files already in `to` but not in `from` are left alone (pages still open in browsers may
/// ask for the previous release's assets). Returns how many files were copied.
pub fn publish(from: &Path, to: &Path) -> anyhow::Result<usize> {
    let mut copied = 0;
    let mut pending: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = from.join(&relative);
        let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        std::fs::create_dir_all(to.join(&relative))
            .with_context(|| format!("creating {}", to.join(&relative).display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let name = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(name);
                continue;
            }
            let target = to.join(&name);
            let temporary =
                to.join(&relative).join(format!(".{}.{}.tmp", entry.file_name().to_string_lossy(), std::process::id()));
            std::fs::copy(entry.path(), &temporary)
                .with_context(|| format!("copying {} to {}", entry.path().display(), temporary.display()))?;
            std::fs::rename(&temporary, &target).with_context(|| format!("renaming into {}", target.display()))?;
            copied += 1;
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_nested_files_and_keeps_older_ones() {
        let base = std::env::temp_dir().join(format!("publish-static-{}", std::process::id()));
        let (from, to) = (base.join("from"), base.join("to"));
        std::fs::create_dir_all(from.join("css/deep")).unwrap();
        std::fs::write(from.join("robots.txt"), "User-agent: *\n").unwrap();
        std::fs::write(from.join("css/deep/site.css"), "body{}").unwrap();
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(to.join("old.js"), "1").unwrap();

        assert_eq!(publish(&from, &to).unwrap(), 2);
        assert_eq!(std::fs::read_to_string(to.join("css/deep/site.css")).unwrap(), "body{}");
        assert_eq!(std::fs::read_to_string(to.join("robots.txt")).unwrap(), "User-agent: *\n");
        assert!(to.join("old.js").exists());
        let leftovers = std::fs::read_dir(to.join("css/deep")).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file remains");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_missing_source_is_an_error_naming_it() {
        let err = publish(Path::new("/nonexistent/static"), &std::env::temp_dir()).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/static"), "{err:#}");
    }
}
