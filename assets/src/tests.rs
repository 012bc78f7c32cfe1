use std::path::{Path, PathBuf};

use super::*;

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("assets-{label}-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

fn write(root: &Path, name: &str, text: &str) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The project's `frontend/`. From the run-time `CARGO_MANIFEST_DIR` (cargo sets it for tests): a test binary in a
/// build directory shared with a generated project may have been compiled there.
fn frontend() -> PathBuf {
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.join("../frontend")
}

#[test]
fn the_project_frontend_builds_within_budget() {
    let out = scratch("project");
    let report = build(&frontend(), &out).unwrap();
    report.check_budgets().unwrap();
    let manifest = read_manifest(&out).unwrap();
    for name in ["css/site.css", "js/app.js", "js/forms.js", "js/flash.js", "images/logo.svg"] {
        let file = manifest.get(name).unwrap_or_else(|| panic!("{name} missing from {manifest:?}"));
        assert!(out.join(file).is_file(), "{file}");
    }
    assert!(out.join("robots.txt").is_file());
    let css = std::fs::read_to_string(out.join(&manifest["css/site.css"])).unwrap();
    assert!(css.contains("prefers-color-scheme:dark"), "dark scheme kept: {css}");
    assert!(!css.contains("\n  "), "minified");
    let app = std::fs::read_to_string(out.join(&manifest["js/app.js"])).unwrap();
    let forms = manifest["js/forms.js"].trim_start_matches("js/");
    assert!(app.contains(&format!("./{forms}")), "imports point at hashed siblings: {app}");
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn names_carry_the_content_hash() {
    assert_eq!(hashed_name("css/site.css", "css", b"a"), "css/site.ca978112.css");
    assert_ne!(hashed_name("js/a.js", "js", b"1"), hashed_name("js/a.js", "js", b"2"));
}

#[test]
fn a_changed_import_changes_the_importer_hash() {
    let src = scratch("imports");
    write(&src, "js/lib.js", "export const answer = 41;\n");
    write(&src, "js/main.js", "import { answer } from \"./lib.js\";\nconsole.log(answer);\n");
    let first = build(&src, &src.join("out")).map(|_| read_manifest(&src.join("out")).unwrap()).unwrap();
    write(&src, "js/lib.js", "export const answer = 42;\n");
    let second = build(&src, &src.join("out")).map(|_| read_manifest(&src.join("out")).unwrap()).unwrap();
    assert_ne!(first["js/main.js"], second["js/main.js"]);
    std::fs::remove_dir_all(src).unwrap();
}

#[test]
fn a_sass_error_names_the_file_and_keeps_the_previous_build() {
    let src = scratch("sass-error");
    let out = src.join("out");
    write(&src, "scss/site.scss", "$c: red;\nbody { color: $c; }\n");
    build(&src, &out).unwrap();
    let before = read_manifest(&out).unwrap();
    write(&src, "scss/site.scss", "body { color: $undefined; }\n");
    let err = format!("{:#}", build(&src, &out).unwrap_err());
    assert!(err.contains("site.scss"), "{err}");
    assert_eq!(read_manifest(&out).unwrap(), before);
    std::fs::remove_dir_all(src).unwrap();
}

#[test]
fn bad_javascript_and_missing_imports_are_refused() {
    let src = scratch("js-error");
    write(&src, "js/broken.js", "export function (\n");
    let err = format!("{:#}", build(&src, &src.join("out")).unwrap_err());
    assert!(err.contains("broken.js"), "{err}");
    write(&src, "js/broken.js", "import { x } from \"./nowhere.js\";\nconsole.log(x);\n");
    let err = format!("{:#}", build(&src, &src.join("out")).unwrap_err());
    assert!(err.contains("./nowhere.js"), "{err}");
    write(&src, "js/broken.js", "import { y } from \"./other.js\";\nexport const x = y;\n");
    write(&src, "js/other.js", "import { x } from \"./broken.js\";\nexport const y = x;\n");
    let err = format!("{:#}", build(&src, &src.join("out")).unwrap_err());
    assert!(err.contains("cycle"), "{err}");
    std::fs::remove_dir_all(src).unwrap();
}

#[test]
fn budgets_are_enforced() {
    let report = Report {
        files: vec![Built {
            name: "css/a.css".into(),
            file: "css/a.1.css".into(),
            bytes: 1,
            gzip_bytes: CSS_BUDGET_GZIP + 1,
        }],
        copied: 0,
    };
    let err = report.check_budgets().unwrap_err().to_string();
    assert!(err.contains("CSS"), "{err}");
}

#[test]
fn a_missing_source_directory_is_an_error() {
    let err = build(Path::new("/nonexistent/frontend"), &std::env::temp_dir()).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/frontend"), "{err}");
}
