//! Checks of the site as an attacker meets it, through nginx (`scripts/compose-test/24-edges.sh` runs them on the
//! local stack): bounded in requests and time, on loopback only, and they stop by themselves.
//!
//! - `pages`: every page a visitor, a signed-in user and staff reach by links gets hostile values in each query
//!   parameter and each form field (see `pages.rs`): no 5xx, every 4xx a page showing the error, no redirect off
//!   the site.
//! - `headers`: every `location` of the nginx configuration answers with the baseline security headers (see
//!   `headers.rs`); `--upstream-down` asks the page nginx shows while the web role is stopped.
//!
//! Prints one line of JSON with the counts; exits 1 with every failure listed when anything did not hold.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod headers;
mod html;
mod pages;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;

#[derive(Debug, Parser)]
enum Command {
    /// Hostile values in every page's query parameters and form fields.
    Pages {
        /// The site through nginx, on loopback.
        #[arg(long)]
        base: String,
        /// A staff member's session cookie (the local stack's admin), for the dashboard's pages.
        #[arg(long)]
        staff_session: Option<String>,
        /// A label unique to this run (the probe's account starts with it).
        #[arg(long)]
        tag: String,
        /// Requests at most, over all identities.
        #[arg(long, default_value_t = 12_000)]
        max_requests: u64,
        /// Seconds at most.
        #[arg(long, default_value_t = 300)]
        seconds: u64,
    },
    /// The baseline security headers on an answer from every nginx location.
    Headers {
        #[arg(long)]
        base: String,
        /// The configuration files whose `location`s are asked (locations.conf and the site's file).
        #[arg(long, required_unless_present = "upstream_down", num_args = 1..)]
        conf: Vec<PathBuf>,
        /// A label unique to this run.
        #[arg(long)]
        tag: String,
        /// Ask only the page nginx shows while the web role is down (stop it first).
        #[arg(long)]
        upstream_down: bool,
        /// Strict-Transport-Security is part of the baseline (prod).
        #[arg(long)]
        hsts: bool,
    },
}

fn client(session: Option<(&str, &str)>) -> anyhow::Result<reqwest::Client> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    if let Some((base, value)) = session {
        jar.add_cookie_str(&format!("session={value}; Path=/"), &base.parse().context("--base")?);
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

async fn run_pages(
    base: String,
    staff: Option<String>,
    tag: &str,
    max_requests: u64,
    seconds: u64,
) -> anyhow::Result<Vec<String>> {
    let values = pages::hostile_values();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let user = client(None)?;
    pages::sign_up(&base, &user, &format!("{tag}-pages@example.org"), "a fair password for probing").await?;
    let account = user.get(format!("{base}/account")).header("Accept", "text/html").send().await?.status();
    anyhow::ensure!(account == 200, "the probe's new account is not signed in: GET /account answered {account}");
    let mut identities = vec![
        (
            "signed out",
            client(None)?,
            vec!["/", "/login", "/signup", "/forgot-password", "/reset-password?token=x", "/verify-email?token=x"],
        ),
        ("user", user, vec!["/", "/notes", "/notes/new", "/account"]),
    ];
    if let Some(session) = &staff {
        identities.push(("staff", client(Some((&base, session)))?, vec!["/monitor/"]));
    }
    let mut tally = pages::Tally::default();
    let mut crawled = Vec::new();
    for (who, http, start) in identities {
        // Create a note first, so that the user's crawl finds a note's pages.
        if who == "user" {
            let new = http.get(format!("{base}/notes/new")).send().await?.text().await?;
            if let Some(form) =
                html::forms(&new, "/notes").into_iter().find(|f| f.method == "post" && f.action == "/notes")
            {
                let mut fields = form.fields.clone();
                fields.iter_mut().filter(|(n, _)| n == "title").for_each(|(_, v)| *v = format!("{tag} probe note"));
                http.post(format!("{base}{}", form.action)).form(&fields).send().await?;
            }
        }
        let prober = pages::Prober { base: base.clone(), client: http, who, deadline, max_requests };
        let found = prober.crawl(&mut tally, &start, 40).await;
        crawled.push(format!("{who}: {}", found.len()));
        for (path, body) in &found {
            prober.fuzz_queries(&mut tally, path, body, &values).await;
            prober.fuzz_forms(&mut tally, path, body, &values).await;
        }
    }
    println!(
        "{}",
        serde_json::json!({ "check": "pages", "pages": crawled, "requests": tally.requests, "by_status": tally.by_status, "failures": tally.failures.len(), "budget_left_s": deadline.saturating_duration_since(Instant::now()).as_secs() })
    );
    Ok(tally.failures)
}

async fn run_headers(
    base: String,
    conf: &[PathBuf],
    tag: &str,
    upstream_down: bool,
    hsts: bool,
) -> anyhow::Result<Vec<String>> {
    let user = client(None)?;
    let mut csrf = String::new();
    if !upstream_down {
        let email = format!("{tag}-headers@example.org");
        let body = serde_json::json!({ "email": email, "password": "a fair password for probing" });
        let response = user.post(format!("{base}/api/auth/signup")).json(&body).send().await?;
        anyhow::ensure!(response.status() == 201, "signing up {email}: {}", response.status());
        let answer: serde_json::Value = response.json().await?;
        csrf = answer["csrf_token"].as_str().context("csrf_token")?.to_string();
    }
    let site = headers::Site { base, client: client(None)?, user, csrf };
    let mut answers = Vec::new();
    let mut failures = Vec::new();
    if upstream_down {
        answers.push(site.upstream_down().await?);
    } else {
        let locations = headers::locations(conf)?;
        for location in &locations {
            match site.probe(location).await {
                Ok(found) => answers.extend(found),
                Err(err) => failures.push(format!("location {location}: {err:#}")),
            }
        }
        match site.without_host().await {
            Ok(answer) => answers.push(answer),
            Err(err) => failures.push(format!("{err:#}")),
        }
        println!("{}", serde_json::json!({ "check": "headers", "locations": locations.len() }));
    }
    for answer in &answers {
        let missing = headers::missing(&answer.headers, hsts);
        if !missing.is_empty() {
            failures.push(format!("{} ({}): lacks {}", answer.what, answer.status, missing.join(", ")));
        }
    }
    println!("{}", serde_json::json!({ "check": "headers", "answers": answers.len(), "failures": failures.len() }));
    Ok(failures)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Command::parse() {
        Command::Pages { base, staff_session, tag, max_requests, seconds } => {
            run_pages(base, staff_session, &tag, max_requests, seconds).await
        }
        Command::Headers { base, conf, tag, upstream_down, hsts } => {
            run_headers(base, &conf, &tag, upstream_down, hsts).await
        }
    };
    match result {
        Ok(failures) if failures.is_empty() => std::process::ExitCode::SUCCESS,
        Ok(failures) => {
            for failure in &failures {
                eprintln!("edge_probe: {failure}");
            }
            std::process::ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("edge_probe: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
