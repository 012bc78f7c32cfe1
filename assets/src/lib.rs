//! The asset builder: `frontend/` in, content-hashed files plus `manifest.json` out.
//!
//! - `scss/NAME.scss` (not starting with `_`) → Sass by grass → lightningcss (minified, prefixed for [`TARGETS`]) →
//!   `css/NAME.HASH.css`;
//! - `js/NAME.js` (plain ES modules) → oxc's minifier → `js/NAME.HASH.js`, with the `./other.js` imports between
//!   them rewritten to the hashed names;
//! - `images/*` → `images/NAME.HASH.EXT`, unchanged;
//! - `public/*` → copied as they are, unhashed (robots.txt, favicon.ico: names the world asks for).
//!
//! `manifest.json` maps each source name (`css/site.css`) to its hashed file (`css/site.3f9a0c1e.css`). It is written
//! last, after every file it names, and every file goes through a temporary name and a rename, so a reader (nginx, the
//! web role) never sees a half-written file or a manifest naming a file not yet there. Older hashed files are kept:
//! pages already open in a browser may still ask for them.

mod css;
mod js;
pub mod watch;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sha2::Digest as _;

/// All CSS together, gzipped, stays under this (the frontend issue's budget).
pub const CSS_BUDGET_GZIP: usize = 15 * 1024;
/// All JavaScript together, gzipped, stays under this.
pub const JS_BUDGET_GZIP: usize = 10 * 1024;

/// Source name → hashed file name, both relative to the output directory.
pub type Manifest = BTreeMap<String, String>;

/// One built file.
#[derive(Debug, Clone)]
pub struct Built {
    pub name: String,
    pub file: String,
    pub bytes: usize,
    pub gzip_bytes: usize,
}

/// What a build wrote.
#[derive(Debug, Default)]
pub struct Report {
    pub files: Vec<Built>,
    pub copied: usize,
}

impl Report {
    fn total_gzip(&self, ext: &str) -> usize {
        self.files.iter().filter(|f| f.name.ends_with(ext)).map(|f| f.gzip_bytes).sum()
    }

    pub fn css_gzip(&self) -> usize {
        self.total_gzip(".css")
    }

    pub fn js_gzip(&self) -> usize {
        self.total_gzip(".js")
    }

    /// An error naming every budget that is exceeded.
    pub fn check_budgets(&self) -> anyhow::Result<()> {
        let mut over = Vec::new();
        if self.css_gzip() > CSS_BUDGET_GZIP {
            over.push(format!("CSS is {} bytes gzipped, over the budget of {CSS_BUDGET_GZIP}", self.css_gzip()));
        }
        if self.js_gzip() > JS_BUDGET_GZIP {
            over.push(format!("JavaScript is {} bytes gzipped, over the budget of {JS_BUDGET_GZIP}", self.js_gzip()));
        }
        if over.is_empty() { Ok(()) } else { bail!("{}", over.join("; ")) }
    }

    /// One line per file, then the totals against the budgets.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            out.push_str(&format!("  {:<40} {:>7} B  {:>6} B gzip\n", file.file, file.bytes, file.gzip_bytes));
        }
        out.push_str(&format!(
            "  CSS {} B gzip (budget {CSS_BUDGET_GZIP}), JS {} B gzip (budget {JS_BUDGET_GZIP}), {} public file(s) copied",
            self.css_gzip(),
            self.js_gzip(),
            self.copied
        ));
        out
    }
}

/// Builds everything under `src` into `out` and writes the manifest. Nothing is written when a source fails to
/// compile: the error names the file.
pub fn build(src: &Path, out: &Path) -> anyhow::Result<Report> {
    if !src.is_dir() {
        bail!("no frontend sources at {} (expected scss/, js/, images/, public/ there)", src.display());
    }
    // Compile everything first, write afterwards: a Sass error leaves the previous build in place.
    let mut outputs: Vec<(String, String, Vec<u8>)> = Vec::new();
    for path in entries(&src.join("scss"), "scss")? {
        let stem = file_stem(&path)?;
        if stem.starts_with('_') {
            continue;
        }
        let compiled = css::compile(&path)?;
        outputs.push((format!("css/{stem}.css"), "css".into(), compiled.into_bytes()));
    }
    let scripts = js::compile_all(&entries(&src.join("js"), "js")?)?;
    for image in entries(&src.join("images"), "")? {
        let name = format!("images/{}", file_name(&image)?);
        let bytes = std::fs::read(&image).with_context(|| format!("reading {}", image.display()))?;
        let ext = image.extension().and_then(|e| e.to_str()).unwrap_or("bin").to_string();
        outputs.push((name, ext, bytes));
    }

    let mut report = Report::default();
    let mut manifest = Manifest::new();
    for (name, ext, bytes) in outputs {
        let file = hashed_name(&name, &ext, &bytes);
        write_atomically(&out.join(&file), &bytes)?;
        report.files.push(Built {
            name: name.clone(),
            file: file.clone(),
            bytes: bytes.len(),
            gzip_bytes: gzip_len(&bytes),
        });
        manifest.insert(name, file);
    }
    for script in scripts {
        write_atomically(&out.join(&script.file), script.code.as_bytes())?;
        report.files.push(Built {
            name: script.name.clone(),
            file: script.file.clone(),
            bytes: script.code.len(),
            gzip_bytes: gzip_len(script.code.as_bytes()),
        });
        manifest.insert(script.name, script.file);
    }
    for public in entries(&src.join("public"), "")? {
        let bytes = std::fs::read(&public).with_context(|| format!("reading {}", public.display()))?;
        write_atomically(&out.join(file_name(&public)?), &bytes)?;
        report.copied += 1;
    }
    write_manifest(out, &manifest)?;
    Ok(report)
}

/// Writes `manifest.json` (atomically).
pub fn write_manifest(out: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(manifest).context("encoding the manifest")?;
    write_atomically(&out.join("manifest.json"), &json)
}

/// Reads a manifest written by [`build`].
pub fn read_manifest(out: &Path) -> anyhow::Result<Manifest> {
    let path = out.join("manifest.json");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// `css/site.css` with these bytes → `css/site.0123abcd.css` (the first 8 hex digits of the SHA-256).
pub(crate) fn hashed_name(name: &str, ext: &str, bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let stem = name.strip_suffix(&format!(".{ext}")).unwrap_or(name);
    format!("{stem}.{hash}.{ext}")
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory").len()
}

/// The files directly in `dir` ending in `.ext` (any file when `ext` is empty), sorted; none when `dir` is absent.
fn entries(dir: &Path, ext: &str) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry.with_context(|| format!("reading {}", dir.display()))?.path();
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden && (ext.is_empty() || path.extension().is_some_and(|e| e == ext)) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

fn file_name(path: &Path) -> anyhow::Result<String> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("no file name in {}", path.display()))
}

fn file_stem(path: &Path) -> anyhow::Result<String> {
    path.file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("no file name in {}", path.display()))
}

/// Writes through a temporary file in the same directory and a rename.
fn write_atomically(target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = target.parent().context("a target has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temporary = dir.join(format!(".{}.{}.tmp", file_name(target)?, std::process::id()));
    std::fs::write(&temporary, bytes).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, target).with_context(|| format!("renaming into {}", target.display()))
}

#[cfg(test)]
mod tests;
