//! Publishing the application's static files into the volume nginx serves `/static/` from, and serving them from
//! the application itself where no nginx stands in front (`SERVE_STATIC=true`: host runs and tests).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Writes `bytes` to `target` through a temporary file in the same directory and a rename, so that a reader (nginx,
/// another replica) sees the old file or the new one, never half of one. Creates the directory.
pub fn write_atomically(target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = target.parent().context("a target has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = target.file_name().context("a target has a file name")?.to_string_lossy();
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, target).with_context(|| format!("renaming into {}", target.display()))
}

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
            let bytes = std::fs::read(entry.path()).with_context(|| format!("reading {}", entry.path().display()))?;
            write_atomically(&to.join(&name), &bytes)?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// Whether a file name carries a content hash (`site.0123abcd.css`): such a file never changes.
pub fn is_hashed(name: &str) -> bool {
    let mut parts = name.rsplit('.');
    let (_ext, hash) = (parts.next(), parts.next());
    parts.next().is_some() && hash.is_some_and(|h| h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The file at `relative` under `root`, if `relative` names one without leaving `root` (no `..`, no hidden names).
pub fn resolve(root: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    let plain = relative.components().all(|part| match part {
        std::path::Component::Normal(name) => !name.to_string_lossy().starts_with('.'),
        _ => false,
    });
    let path = root.join(relative);
    (plain && !relative.as_os_str().is_empty() && path.is_file()).then_some(path)
}

/// GET /static/{path}: what nginx does in the stacks, for runs without it. Hashed files are cached for a year,
/// others revalidated.
pub async fn serve(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::HttpResponse;
    use actix_web::http::header;
    let state = crate::http::AppState::of(&req);
    let root = state.config.http.static_root.as_ref().unwrap_or(&state.config.http.static_dir);
    let relative = req.match_info().query("path");
    let found = if state.config.http.serve_static { resolve(root, relative) } else { None };
    let Some(path) = found else {
        return HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("not found");
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let hashed = path.file_name().is_some_and(|name| is_hashed(&name.to_string_lossy()));
            let cache = if hashed { "public, max-age=31536000, immutable" } else { "no-cache" };
            HttpResponse::Ok()
                .content_type(content_type(&path))
                .insert_header((header::CACHE_CONTROL, cache))
                .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .body(bytes)
        }
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "reading a static file");
            HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("not found")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_and_safe_paths() {
        assert!(is_hashed("site.0123abcd.css"));
        assert!(!is_hashed("site.css"));
        assert!(!is_hashed("0123abcd.css"));
        assert!(!is_hashed("site.0123abcx.css"));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert!(resolve(root, "Cargo.toml").is_some());
        for bad in ["../Cargo.toml", "/etc/passwd", "src/../Cargo.toml", ".hidden", "", "src"] {
            assert!(resolve(root, bad).is_none(), "{bad}");
        }
    }

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
