//! What the load's accepted writes became: checked in the tables and the mail catcher, or through the API.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use uuid::Uuid;

use crate::{Opts, Record};

/// Reconnects until the database answers (it may be restarting), up to `within`.
async fn verify_client(url: &str, within: Duration) -> anyhow::Result<tokio_postgres::Client> {
    let deadline = Instant::now() + within;
    loop {
        match bench::connect(url).await {
            Ok(client) => return Ok(client),
            Err(err) if Instant::now() > deadline => return Err(err),
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// What became of the accepted writes.
pub(crate) struct Verdict {
    pub(crate) accepted: u64,
    pub(crate) completed: u64,
    pub(crate) lost: Vec<String>,
    pub(crate) duplicated: Vec<String>,
    /// Accounts whose verification mail arrived more than once (mail is at-least-once; docs/app.md).
    pub(crate) mails_twice: u64,
}

impl Verdict {
    fn new() -> Self {
        Self { accepted: 0, completed: 0, lost: Vec::new(), duplicated: Vec::new(), mails_twice: 0 }
    }

    /// One accepted write: `found` copies of its effect, `done` whether its task (if any) succeeded.
    fn check(&mut self, what: String, found: i64, done: bool) {
        self.accepted += 1;
        if found >= 1 && done {
            self.completed += 1;
        } else {
            self.lost.push(what.clone());
        }
        if found > 1 {
            self.duplicated.push(what);
        }
    }
}

/// The accepted notes, read back through the API (every page of the list, by cursor): each there exactly once.
pub(crate) async fn check_through_api(
    opts: &Opts,
    client: &reqwest::Client,
    record: &Record,
) -> anyhow::Result<Verdict> {
    let mut titles: HashMap<String, i64> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/api/notes?per_page=100", opts.base);
        if let Some(next) = &cursor {
            url.push_str(&format!("&cursor={next}"));
        }
        let page: Value = client.get(&url).send().await?.error_for_status()?.json().await?;
        for item in page["items"].as_array().context("items")? {
            *titles.entry(item["title"].as_str().unwrap_or_default().to_string()).or_default() += 1;
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut verdict = Verdict::new();
    for title in record.notes.keys() {
        verdict.check(format!("note {title}"), titles.get(title).copied().unwrap_or(0), true);
    }
    Ok(verdict)
}

/// Waits (up to --settle) for every accepted task to finish, then checks every accepted write in the tables and the
/// mail catcher.
pub(crate) async fn check_in_database(opts: &Opts, url: &str, owner: Uuid, record: &Record) -> anyhow::Result<Verdict> {
    // Every accepted task finished (succeeded or dead), within --settle.
    let db = verify_client(url, Duration::from_secs(60)).await?;
    let mut waiting: Vec<Uuid> = record.tasks.values().chain(&record.probes).copied().collect();
    let settle_started = Instant::now();
    let mail_tasks = loop {
        let mail_tasks: Vec<Uuid> = db
            .query(
                "SELECT task_id FROM tasks WHERE task_name = 'email.send' AND (payload->>'user_id')::uuid = ANY($1)",
                &[&record.signups.values().copied().collect::<Vec<_>>()],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let all: Vec<Uuid> = waiting.iter().chain(&mail_tasks).copied().collect();
        let unfinished: i64 = db
            .query_one(
                "SELECT count(*) FROM tasks WHERE task_id = ANY($1) AND state NOT IN ('succeeded', 'dead', 'cancelled')",
                &[&all],
            )
            .await?
            .get(0);
        if unfinished == 0 || settle_started.elapsed() > Duration::from_secs(opts.settle) {
            break mail_tasks;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    waiting.extend(&mail_tasks);
    let succeeded: HashSet<Uuid> = db
        .query("SELECT task_id FROM tasks WHERE task_id = ANY($1) AND state = 'succeeded'", &[&waiting])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let titles: HashMap<String, i64> = db
        .query(
            "SELECT title, count(*) FROM notes WHERE owner_id = $1 AND title LIKE $2 GROUP BY title",
            &[&owner, &format!("{}-%", opts.tag)],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let accounts: HashSet<Uuid> = db
        .query("SELECT id FROM users WHERE id = ANY($1)", &[&record.signups.values().copied().collect::<Vec<_>>()])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mail_done: HashSet<Uuid> = db
        .query(
            "SELECT (payload->>'user_id')::uuid FROM tasks WHERE task_id = ANY($1) AND state = 'succeeded'",
            &[&mail_tasks],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();

    let mut mails: HashMap<String, i64> = HashMap::new();
    let caught: Value = reqwest::get(format!("{}/mail/api/messages", opts.base)).await?.json().await?;
    for message in caught.as_array().context("the mail catcher's messages")? {
        for to in message["to"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            *mails.entry(to.to_string()).or_default() += 1;
        }
    }
    let mut verdict = Verdict::new();
    for title in record.notes.keys() {
        verdict.check(format!("note {title}"), titles.get(title).copied().unwrap_or(0), true);
    }
    for (title, id) in &record.tasks {
        verdict.check(format!("task {title} ({id})"), titles.get(title).copied().unwrap_or(0), succeeded.contains(id));
    }
    for id in &record.probes {
        verdict.check(format!("probe task {id}"), 1, succeeded.contains(id));
    }
    for (email, id) in &record.signups {
        // The mail itself, as the mail catcher received it. A mail is the one effect outside the database: it is
        // sent at least once (a worker killed between the SMTP answer and its commit sends it again), so a second
        // copy is counted apart, not as a task applied twice.
        let copies = mails.get(email).copied().unwrap_or(0);
        if copies > 1 {
            verdict.mails_twice += 1;
        }
        let found = i64::from(accounts.contains(id) && copies >= 1);
        verdict.check(format!("account {email} and its mail"), found, mail_done.contains(id));
    }
    Ok(verdict)
}
