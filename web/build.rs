#![allow(clippy::print_stdout)]

//! Finds the scheduled management commands in `src/commands/scheduled/` (one file each, added by hand or by the
//! `template/cron-command` generator) and writes the code that makes each a subcommand of `app`; finds the tasks in
//! `src/tasks/app/` (the `template/task` generator) and their tests in `tests/integration/tasks/app/`, and writes
//! the code that registers each task and compiles each test; the same for the pages in `src/http/pages/app/` (the
//! `template/page` generator) and `tests/integration/pages_app/`; and the resources of `template/resource`.
//! Adding one needs no registration anywhere.

use std::fmt::Write as _;
use std::path::Path;

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The snake_case `.rs` files of `dir` (each one's name and path), sorted; the directory is watched.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_stem().and_then(|s| s.to_str()).expect("file name").to_string();
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{}: files here are snake_case names",
            path.display()
        );
        files.push((name, path.display().to_string()));
    }
    files.sort();
    files
}

/// A `#[path]` module declaration for each of `files` (`vis`: `"pub "` or `""`).
fn declare_modules(files: &[(String, String)], vis: &str) -> String {
    let mut code = String::new();
    for (name, path) in files {
        writeln!(code, "#[path = {path:?}]\n{vis}mod {name};").unwrap();
    }
    code
}

/// The integration tests in `dir`, as modules, into `OUT_DIR/file`.
fn test_modules(dir: &Path, out_dir: &Path, file: &str) {
    std::fs::write(out_dir.join(file), declare_modules(&rust_files(dir), "")).expect("writing the test modules");
}

/// `src/tasks/app/<name>.rs` defines the task type `<Name>` (CamelCase): a module each, and `register`.
fn app_tasks(manifest_dir: &Path, out_dir: &Path) {
    let tasks = rust_files(&manifest_dir.join("src/tasks/app"));
    let mut code = declare_modules(&tasks, "pub ");
    code.push_str("\n/// Registers every task of `src/tasks/app/`.\npub fn register(registry: super::Registry) -> super::Registry {\n    registry");
    for (name, _) in &tasks {
        write!(code, "\n        .register::<{name}::{}>()", camel(name)).unwrap();
    }
    code.push_str("\n}\n");
    std::fs::write(out_dir.join("app_tasks.rs"), code).expect("writing the task registrations");
    test_modules(&manifest_dir.join("tests/integration/tasks/app"), out_dir, "app_task_tests.rs");
}

/// `src/http/pages/app/<name>.rs` defines `PATH` and `show`: a module each, and `routes`; and their tests.
fn app_pages(manifest_dir: &Path, out_dir: &Path) {
    let pages = rust_files(&manifest_dir.join("src/http/pages/app"));
    let mut code = declare_modules(&pages, "pub ");
    code.push_str("\n/// Routes every page of `src/http/pages/app/` (GET; other methods 405).\n");
    code.push_str("pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {\n    let _ = &cfg;\n");
    for (name, _) in &pages {
        writeln!(code, "    cfg.service(crate::http::resource({name}::PATH).get({name}::show));").unwrap();
    }
    code.push_str("}\n");
    std::fs::write(out_dir.join("app_pages.rs"), code).expect("writing the page routes");
    test_modules(&manifest_dir.join("tests/integration/pages_app"), out_dir, "app_page_tests.rs");
}

/// The resources of `template/resource`: each one's model in `src/models/app/<name>.rs` (with its `table!` entry),
/// its handlers in `src/http/resources/app/<name>.rs` (with
/// `routes`), and its tests in `tests/integration/resources_app/`.
fn app_resources(manifest_dir: &Path, out_dir: &Path) {
    let models = rust_files(&manifest_dir.join("src/models/app"));
    std::fs::write(out_dir.join("app_models.rs"), declare_modules(&models, "pub "))
        .expect("writing the resource models");
    let resources = rust_files(&manifest_dir.join("src/http/resources/app"));
    let mut code = declare_modules(&resources, "pub ");
    code.push_str("\n/// Routes every resource of `src/http/resources/app/`.\n");
    code.push_str("pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {\n    let _ = &cfg;\n");
    for (name, _) in &resources {
        writeln!(code, "    cfg.configure({name}::routes);").unwrap();
    }
    code.push_str("}\n\n/// Every resource's list, for the header's navigation.\n");
    code.push_str("pub const NAV: &[crate::http::pages::resource::Names] = &[");
    for (name, _) in &resources {
        write!(code, "{name}::NAMES, ").unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("app_resources.rs"), code).expect("writing the resource routes");
    test_modules(&manifest_dir.join("tests/integration/resources_app"), out_dir, "app_resource_tests.rs");
}

fn main() {
    // Read when the script runs (not when it is compiled): a build directory shared with a generated project may
    // hold this script compiled there.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let files = rust_files(&Path::new(&manifest_dir).join("src/commands/scheduled"));
    let mut commands: Vec<(&str, String)> = Vec::new();
    for (name, path) in &files {
        // The first `//!` line is the command's help text.
        let source = std::fs::read_to_string(path).expect("readable source");
        let about = source
            .lines()
            .find_map(|line| line.strip_prefix("//!"))
            .map(|line| line.trim().replace('"', "'"))
            .unwrap_or_default();
        commands.push((name, about));
    }
    let mut code = declare_modules(&files, "");
    code.push_str("\n/// Management commands from `src/commands/scheduled/`.\n#[derive(Debug, clap::Subcommand)]\npub enum Scheduled {\n");
    for (name, about) in &commands {
        writeln!(code, "    #[command(name = {name:?}, about = {about:?})]\n    {}({name}::Opts),", camel(name))
            .unwrap();
    }
    code.push_str("}\n\nimpl Scheduled {\n    pub async fn run(self) -> anyhow::Result<std::process::ExitCode> {\n        match self {\n");
    for (name, _) in &commands {
        writeln!(code, "            Self::{}(opts) => {name}::run(opts).await,", camel(name)).unwrap();
    }
    code.push_str("        }\n    }\n}\n");
    let out_dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("scheduled_commands.rs"), code).expect("writing the generated commands");
    app_tasks(Path::new(&manifest_dir), Path::new(&out_dir));
    app_pages(Path::new(&manifest_dir), Path::new(&out_dir));
    app_resources(Path::new(&manifest_dir), Path::new(&out_dir));
    // The migrations are embedded in the binary (`db::MIGRATIONS`): a new one must rebuild it.
    println!("cargo:rerun-if-changed={}", Path::new(&manifest_dir).join("migrations").display());
}
