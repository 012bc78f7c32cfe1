//! The pages' budgets: server time per page (median and p95 of sequential requests on loopback, next to
//! `/healthz`, which renders nothing) and the home page's weight (HTML plus every asset it loads, gzipped).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

/// The frontend issue's budgets.
const RENDER_BUDGET_MS: f64 = 2.0;
const HOME_BUDGET_BYTES: usize = 60 * 1024;

#[derive(Debug, Parser)]
#[command(about = "Page render time and page weight against their budgets")]
struct Opts {
    /// Administrative connection; a scratch database is created and dropped.
    #[arg(long, env = "TEST_DATABASE_URL", default_value = "postgres://app:app@127.0.0.1:5432/postgres")]
    admin_url: String,
    /// The `app` binary (default: next to this one).
    #[arg(long)]
    app: Option<PathBuf>,
    /// Sequential requests per page (after 200 to warm up).
    #[arg(long, default_value_t = 2000)]
    requests: usize,
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(5));
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory").len()
}

/// Median and p95 in milliseconds of `n` sequential GETs (keep-alive), after 200 to warm up.
async fn timings(client: &reqwest::Client, url: &str, n: usize) -> anyhow::Result<(f64, f64)> {
    let samples = bench::sequential_ms(client, url, 200, n).await?;
    Ok((bench::percentile(&samples, 50), bench::percentile(&samples, 95)))
}

/// Every `"/static/..."` or `"./x.js"` reference in a text.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for quote in text.split('"').skip(1).step_by(2) {
        if quote.starts_with("/static/") || (quote.starts_with("./") && quote.ends_with(".js")) {
            found.push(quote.to_string());
        }
    }
    found
}

/// The home page and everything it loads (stylesheet, script and the modules it imports, images), gzipped.
async fn home_weight(base: &str) -> anyhow::Result<Vec<(String, usize)>> {
    let client = reqwest::Client::new();
    let html = client.get(format!("{base}/")).send().await?.text().await?;
    let mut parts = vec![("/ (HTML)".to_string(), gzip_len(html.as_bytes()))];
    let mut pending = references(&html);
    let mut seen = std::collections::BTreeSet::new();
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let body = client.get(format!("{base}{path}")).send().await?.bytes().await?;
        if path.ends_with(".js") {
            let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir).to_string();
            let text = String::from_utf8_lossy(&body);
            pending.extend(references(&text).into_iter().map(|r| format!("{dir}/{}", r.trim_start_matches("./"))));
        }
        parts.push((path, gzip_len(&body)));
    }
    Ok(parts)
}

#[tokio::main]
#[allow(clippy::print_stdout)]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let app = bench::app_binary(opts.app.as_ref())?;
    let db = bench::ScratchDb::create(&opts.admin_url, "bench_pages").await?;
    let result = run(&opts, &app, &db.url).await;
    db.drop_now().await;
    result
}

#[allow(clippy::print_stdout)]
async fn run(opts: &Opts, app: &PathBuf, url: &str) -> anyhow::Result<()> {
    let migrate_url = url.to_string();
    tokio::task::spawn_blocking(move || web::db::run_migrations(&migrate_url)).await??;
    let server = bench::Server::start(app, url, &[("SERVE_STATIC", "true")]).await?;
    let base = server.base.clone();
    let anonymous = reqwest::Client::new();

    // A signed-in person with a full first page of notes, made through the forms.
    let person = reqwest::Client::builder().cookie_store(true).build()?;
    let email = format!("pages-{}@example.com", uuid::Uuid::new_v4().simple());
    let signup = [("email", email.as_str()), ("password", "a long bench password")];
    person.post(format!("{base}/signup")).form(&signup).send().await?.error_for_status()?;
    let page = person.get(format!("{base}/notes")).send().await?.text().await?;
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no CSRF field on /notes")?
        .to_string();
    for n in 0..20 {
        let note = [
            ("title", format!("Note {n}")),
            ("body", "Something to remember. ".repeat(8)),
            ("csrf_token", csrf.clone()),
        ];
        person.post(format!("{base}/notes")).form(&note).send().await?.error_for_status()?;
    }

    println!(
        "Page render time: {} sequential requests each on loopback (one connection), after 200 to warm up",
        opts.requests
    );
    let (floor, floor_p95) = timings(&anonymous, &format!("{base}/healthz"), opts.requests).await?;
    println!("{:<44} {:>9} {:>8} {:>14}", "page", "p50 ms", "p95 ms", "p50 - healthz");
    println!("{:<44} {floor:>9.3} {floor_p95:>8.3} {:>14}", "GET /healthz (renders nothing: the floor)", "-");
    let pages = [
        ("GET / (signed out)", &anonymous, "/"),
        ("GET /login", &anonymous, "/login"),
        ("GET /signup", &anonymous, "/signup"),
        ("GET / (signed in)", &person, "/"),
        ("GET /notes (20 notes, signed in)", &person, "/notes"),
        ("GET /account (signed in)", &person, "/account"),
    ];
    let mut slowest: f64 = 0.0;
    for (name, client, path) in pages {
        let (p50, p95) = timings(client, &format!("{base}{path}"), opts.requests).await?;
        slowest = slowest.max(p50);
        println!("{name:<44} {p50:>9.3} {p95:>8.3} {:>14.3}", p50 - floor);
    }
    println!(
        "slowest median {slowest:.3} ms (client-side, so an upper bound of the server time): budget {RENDER_BUDGET_MS} ms: {}",
        if slowest < RENDER_BUDGET_MS { "met" } else { "NOT met" }
    );

    println!();
    println!("Home page weight, gzipped (level 5, as nginx sends it):");
    let parts = home_weight(&base).await?;
    for (path, bytes) in &parts {
        println!("  {path:<48} {bytes:>7} B");
    }
    let total: usize = parts.iter().map(|(_, bytes)| bytes).sum();
    println!(
        "  total {total} B: budget {HOME_BUDGET_BYTES} B: {}",
        if total < HOME_BUDGET_BYTES { "met" } else { "NOT met" }
    );
    Ok(())
}
