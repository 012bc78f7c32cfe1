#![allow(clippy::print_stdout)]

//! Finds the scheduled management commands in `src/commands/scheduled/` (one file each, added by hand or by the
//! `template/cron-command` generator) and writes the code that makes each a subcommand of `app`, so adding one
//! needs no registration anywhere.

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

fn main() {
    // Read when the script runs (not when it is compiled): a build directory shared with a generated project may
    // hold this script compiled there.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest_dir).join("src/commands/scheduled");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut modules: Vec<(String, String, String)> = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/commands/scheduled exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_stem().and_then(|s| s.to_str()).expect("file name").to_string();
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{}: scheduled command files are snake_case names",
            path.display()
        );
        // The first `//!` line is the command's help text.
        let source = std::fs::read_to_string(&path).expect("readable source");
        let about = source
            .lines()
            .find_map(|line| line.strip_prefix("//!"))
            .map(|line| line.trim().replace('"', "'"))
            .unwrap_or_default();
        modules.push((name, path.display().to_string(), about));
    }
    modules.sort();
    let mut code = String::new();
    for (name, path, _) in &modules {
        writeln!(code, "#[path = {path:?}]\nmod {name};").unwrap();
    }
    code.push_str("\n/// Management commands from `src/commands/scheduled/`.\n#[derive(Debug, clap::Subcommand)]\npub enum Scheduled {\n");
    for (name, _, about) in &modules {
        writeln!(code, "    #[command(name = {name:?}, about = {about:?})]\n    {}({name}::Opts),", camel(name))
            .unwrap();
    }
    code.push_str("}\n\nimpl Scheduled {\n    pub async fn run(self) -> anyhow::Result<std::process::ExitCode> {\n        match self {\n");
    for (name, _, _) in &modules {
        writeln!(code, "            Self::{}(opts) => {name}::run(opts).await,", camel(name)).unwrap();
    }
    code.push_str("        }\n    }\n}\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("scheduled_commands.rs");
    std::fs::write(out, code).expect("writing the generated commands");
}
