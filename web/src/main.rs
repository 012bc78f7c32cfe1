//! `app`: the one binary. Each role (`server`, `worker`, `cron`) and each management command is a
//! subcommand in its own file under `src/commands/`.

mod commands;

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc instead of glibc's malloc: a request allocates and frees many small buffers (rows, strings, JSON), and
/// in the profile of the notes list glibc's malloc and free took about a tenth of the application's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    if let Err(problem) = web::config::check_secret_files() {
        return commands::fail(&anyhow::anyhow!("configuration: {problem}"));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return commands::fail(&anyhow::Error::from(err).context("starting the async runtime")),
    };
    match runtime.block_on(cli.run()) {
        Ok(code) => code,
        Err(err) => commands::fail(&err),
    }
}
