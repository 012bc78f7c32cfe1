//! `assets build` and `assets watch`: see the library's documentation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "assets",
    about = "Builds frontend/ (Sass, ES modules, images) into content-hashed files and a manifest"
)]
struct Cli {
    /// The sources: scss/, js/, images/, public/.
    #[arg(long, env = "ASSETS_SRC", default_value = "frontend", global = true)]
    src: PathBuf,
    /// Where the built files and manifest.json go (the web role's STATIC_DIR, or the volume nginx serves).
    #[arg(long, env = "ASSETS_OUT", default_value = "frontend/dist", global = true)]
    out: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Builds once, prints each file's size and fails when the CSS or JavaScript budget is exceeded.
    Build,
    /// Builds, then rebuilds on every change under --src until stopped (the local `frontend` service).
    Watch {
        /// Poll for changes every 500 ms instead of using inotify (file systems that send no events).
        #[arg(long, env = "ASSETS_POLL")]
        poll: bool,
        /// Touched every two seconds while watching (the container's health check reads it).
        #[arg(long)]
        health_file: Option<PathBuf>,
    },
    /// Exits 0 when FILE was touched within MAX_AGE seconds (the watcher's container health check).
    Alive {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value_t = 30)]
        max_age: u64,
    },
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build => assets::build(&cli.src, &cli.out).and_then(|report| {
            println!("assets: built {} into {}\n{}", cli.src.display(), cli.out.display(), report.summary());
            report.check_budgets()
        }),
        Command::Watch { poll, health_file } => assets::watch::run(&cli.src, &cli.out, poll, health_file.as_deref()),
        Command::Alive { file, max_age } => assets::watch::alive(&file, std::time::Duration::from_secs(max_age)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("assets: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
