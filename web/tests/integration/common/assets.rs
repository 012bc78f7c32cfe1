//! The project's `frontend/` built once by the real asset builder, for servers started by the tests.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::Digest as _;

/// The project's `frontend/`. From the run-time `CARGO_MANIFEST_DIR` (cargo sets it for tests): a test binary in a
/// build directory shared with a generated project may have been compiled there.
fn sources() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../frontend")
}

/// A digest of every source file, so that test processes share one build per version of the sources.
fn sources_digest() -> String {
    let mut files = Vec::new();
    let mut pending = vec![sources()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "dist") {
                    pending.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = sha2::Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).unwrap());
    }
    hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The built assets (`manifest.json` and the hashed files): the web role's `STATIC_DIR` in tests.
pub fn built_assets() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join("app-test-assets").join(sources_digest());
        if !dir.join("manifest.json").is_file() {
            // Several test processes may build at once: every file, the manifest last, is written by a rename.
            assets::build(&sources(), &dir).expect("building frontend/");
        }
        dir
    })
}
