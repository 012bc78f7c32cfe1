//! The built assets' manifest (`manifest.json`, written by the `assets` builder): source name → content-hashed file.
//! Templates ask for `css/site.css` and get `/static/css/site.0123abcd.css`.
//!
//! The manifest is read from the directory nginx serves (`STATIC_ROOT`, else `STATIC_DIR`) and read again when its
//! modification time changes (checked at most every 500 ms), so the local watcher's rebuilds show on the next page
//! load without a restart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

const RECHECK: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct Loaded {
    checked: Instant,
    modified: Option<SystemTime>,
    files: HashMap<String, String>,
}

/// The manifest of one static directory.
#[derive(Debug)]
pub struct Assets {
    path: PathBuf,
    loaded: RwLock<Loaded>,
}

impl Assets {
    /// The manifest in `dir`. A missing or unreadable one is not an error here: [`Self::check`] reports it at start.
    pub fn new(dir: &Path) -> Self {
        let path = dir.join("manifest.json");
        let (modified, files) = read(&path).unwrap_or_default();
        Self { path, loaded: RwLock::new(Loaded { checked: Instant::now(), modified, files }) }
    }

    /// An error naming the manifest when there is none or it names nothing.
    pub fn check(&self) -> anyhow::Result<()> {
        match read(&self.path) {
            Ok((_, files)) if !files.is_empty() => Ok(()),
            Ok(_) => anyhow::bail!("{} lists no files", self.path.display()),
            Err(err) => Err(err.context(format!(
                "no asset manifest at {} (build the assets: cargo run -p assets -- build --out {})",
                self.path.display(),
                self.path.parent().unwrap_or(Path::new(".")).display()
            ))),
        }
    }

    /// The URL of a built asset: `/static/` plus its hashed name, or plus `name` itself when the manifest lacks it.
    pub fn url(&self, name: &str) -> String {
        self.refresh();
        let loaded = self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        format!("/static/{}", loaded.files.get(name).map_or(name, String::as_str))
    }

    fn refresh(&self) {
        {
            let loaded = self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if loaded.checked.elapsed() < RECHECK {
                return;
            }
        }
        let mut loaded = self.loaded.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        loaded.checked = Instant::now();
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if modified != loaded.modified
            && let Ok((modified, files)) = read(&self.path)
        {
            tracing::debug!(path = %self.path.display(), files = files.len(), "asset manifest reloaded");
            loaded.modified = modified;
            loaded.files = files;
        }
    }
}

fn read(path: &Path) -> anyhow::Result<(Option<SystemTime>, HashMap<String, String>)> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let bytes = std::fs::read(path)?;
    Ok((modified, serde_json::from_slice(&bytes)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_and_reloads() {
        let dir = std::env::temp_dir().join(format!("assets-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let assets = Assets::new(&dir);
        assert!(assets.check().is_err());
        assert_eq!(assets.url("css/site.css"), "/static/css/site.css");

        std::fs::write(dir.join("manifest.json"), r#"{"css/site.css":"css/site.1.css"}"#).unwrap();
        std::thread::sleep(RECHECK + Duration::from_millis(50));
        assert_eq!(assets.url("css/site.css"), "/static/css/site.1.css");
        assert!(assets.check().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
