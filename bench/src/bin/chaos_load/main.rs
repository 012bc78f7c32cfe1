//! The load `scripts/chaos-test.sh` runs while it breaks the compose stack: bounded in time and rate, on loopback
//! only, and it stops by itself. Then it counts what was lost.
//!
//! For `--seconds`, at `--rate` operations a second, it cycles through: a note written through the API (nginx), a
//! `notes.create` task enqueued through the outbox (PostgreSQL, the stack's port published on loopback), a note read
//! back, the first page of the list; and one signup a second (under nginx's sign-up limit of 2 a second), whose
//! verification mail is a task too. Every answer is counted by status; an answer that does not come within
//! `--timeout` seconds is a hang.
//!
//! Then it waits (up to `--settle` seconds) for every accepted task to finish and checks each accepted write:
//! a note answered 201 is there exactly once; a task whose enqueue committed has succeeded and its note is there
//! exactly once; an account answered 201 is there, its mail task succeeded and the mail catcher holds its mail
//! (a second copy is reported apart: mail is at-least-once). It prints one line of JSON (the
//! chaos table's row) and exits 1 when anything accepted was lost or applied twice, a request hung, or a request
//! failed with a status the fault does not allow (`--allow`, and `--allow-post-failures` for writes cut off in
//! flight on a killed replica, which nginx must not replay).

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod checks;

use checks::{Verdict, check_in_database, check_through_api};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use serde_json::{Value, json};
use uuid::Uuid;
use web::tasks::{self, create_note::CreateNote, probe::Probe};

#[derive(Debug, Parser)]
struct Opts {
    /// The site through nginx, on loopback.
    #[arg(long)]
    base: String,
    /// The stack's PostgreSQL, published on loopback for the test: tasks are enqueued through its outbox and the
    /// checks read the tables. Without it (a prod stack keeps PostgreSQL off the host): no tasks, and the accepted
    /// notes are checked through the API.
    #[arg(long)]
    db: Option<String>,
    /// Accept the site's self-signed certificate (install_docker.sh makes one for dev and prod).
    #[arg(long)]
    insecure: bool,
    /// A label unique to this run (titles and addresses start with it).
    #[arg(long)]
    tag: String,
    /// How long the load runs at most.
    #[arg(long, default_value_t = 40)]
    seconds: u64,
    /// The load stops as soon as this file exists (a redeploy's end), or after --seconds.
    #[arg(long)]
    stop_file: Option<std::path::PathBuf>,
    /// Operations a second (signups come on top, one a second).
    #[arg(long, default_value_t = 40)]
    rate: u32,
    /// `probe` tasks that sleep 4 s, enqueued first (something for a killed worker to be in the middle of).
    #[arg(long, default_value_t = 0)]
    slow_tasks: u32,
    /// Statuses the fault may cause (for example 503 while the database restarts).
    #[arg(long, value_delimiter = ',')]
    allow: Vec<u16>,
    /// Writes may fail when their replica is killed under them (counted, and none may be lost once accepted).
    #[arg(long)]
    allow_post_failures: bool,
    /// An answer later than this is a hang (nginx gives up on the app after 60 s).
    #[arg(long, default_value_t = 65)]
    timeout: u64,
    /// How long to wait for the accepted tasks to finish after the load.
    #[arg(long, default_value_t = 240)]
    settle: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Signup,
    NoteWrite,
    NoteRead,
    List,
    Task,
}

impl Kind {
    fn writes(self) -> bool {
        matches!(self, Self::Signup | Self::NoteWrite | Self::Task)
    }
}

/// What happened to one kind of operation.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    ok: u64,
    /// Answers other than 2xx, by status (0: no answer: connection refused or reset).
    failed: BTreeMap<u16, u64>,
    hung: u64,
}

#[derive(Debug, Default)]
struct Record {
    tally: BTreeMap<Kind, Tally>,
    /// Accepted writes: title or address -> the id the answer (or the enqueue) gave.
    notes: HashMap<String, Uuid>,
    tasks: HashMap<String, Uuid>,
    probes: Vec<Uuid>,
    signups: HashMap<String, Uuid>,
    note_ids: Vec<Uuid>,
    /// Operations not sent because 64 requests were still waiting for their answers.
    skipped: u64,
}

struct Load {
    opts: Opts,
    client: reqwest::Client,
    csrf: String,
    owner: Uuid,
    db: tokio::sync::Mutex<Option<AsyncPgConnection>>,
    record: Mutex<Record>,
}

impl Load {
    fn count(&self, kind: Kind, outcome: Result<u16, bool>) {
        let mut record = self.record.lock().unwrap();
        let tally = record.tally.entry(kind).or_default();
        tally.sent += 1;
        match outcome {
            Ok(status) if (200..300).contains(&status) => tally.ok += 1,
            Ok(status) => *tally.failed.entry(status).or_default() += 1,
            Err(true) => tally.hung += 1,
            Err(false) => *tally.failed.entry(0).or_default() += 1,
        }
    }

    /// Sends one request; the answer's status and JSON body, or Err(hung).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value), bool> {
        match tokio::time::timeout(Duration::from_secs(self.opts.timeout), request.send()).await {
            Err(_) => Err(true),
            Ok(Err(err)) => Err(err.is_timeout()),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                Ok((status, response.json().await.unwrap_or(Value::Null)))
            }
        }
    }

    async fn note_write(&self, n: u64) {
        let title = format!("{}-n-{n}", self.opts.tag);
        let request = self
            .client
            .post(format!("{}/api/notes", self.opts.base))
            .header("X-CSRF-Token", &self.csrf)
            .json(&json!({ "title": title, "body": "written under chaos" }));
        let answer = self.send(request).await;
        if let Ok((201, body)) = &answer
            && let Some(id) = body["id"].as_str().and_then(|id| id.parse().ok())
        {
            let mut record = self.record.lock().unwrap();
            record.notes.insert(title, id);
            record.note_ids.push(id);
        }
        self.count(Kind::NoteWrite, answer.map(|(status, _)| status));
    }

    async fn signup(&self, n: u64) {
        let email = format!("{}-s-{n}@example.com", self.opts.tag);
        // Its own client: the load's session stays signed in.
        let request = client_builder(self.opts.insecure)
            .build()
            .unwrap_or_default()
            .post(format!("{}/api/auth/signup", self.opts.base))
            .json(&json!({ "email": email, "password": "chaos is a ladder, they say" }));
        let answer = self.send(request).await;
        if let Ok((201, body)) = &answer
            && let Some(id) = body["user"]["id"].as_str().and_then(|id| id.parse().ok())
        {
            self.record.lock().unwrap().signups.insert(email, id);
        }
        self.count(Kind::Signup, answer.map(|(status, _)| status));
    }

    async fn read(&self, n: u64) {
        let id = {
            let record = self.record.lock().unwrap();
            if record.note_ids.is_empty() {
                return;
            }
            record.note_ids[usize::try_from(n).unwrap_or(0) % record.note_ids.len()]
        };
        let request = self.client.get(format!("{}/api/notes/{id}", self.opts.base));
        let answer = self.send(request).await;
        self.count(Kind::NoteRead, answer.map(|(status, _)| status));
    }

    async fn list(&self) {
        let request = self.client.get(format!("{}/api/notes?per_page=20", self.opts.base));
        let answer = self.send(request).await;
        self.count(Kind::List, answer.map(|(status, _)| status));
    }

    /// Enqueues through the outbox, as a request handler does. Accepted when the insert committed; an error (the
    /// database is down) is a refusal, and a connection lost while committing is an unknown outcome, counted as a
    /// refusal too (the task may still run: it is then not counted as lost, nor as a duplicate).
    async fn task(&self, n: u64) -> Option<Uuid> {
        let title = format!("{}-t-{n}", self.opts.tag);
        let task = CreateNote { owner_id: self.owner, title: title.clone(), body: "enqueued under chaos".into() };
        let outcome = self.enqueue(async |conn| tasks::enqueue(conn, &task).await).await;
        if let Some(id) = outcome {
            self.record.lock().unwrap().tasks.insert(title, id);
        }
        outcome
    }

    async fn enqueue(
        &self,
        insert: impl AsyncFnOnce(&mut AsyncPgConnection) -> diesel::QueryResult<Uuid>,
    ) -> Option<Uuid> {
        let url = self.opts.db.as_deref()?;
        let mut slot = self.db.lock().await;
        if slot.is_none() {
            let connecting = AsyncPgConnection::establish(url);
            match tokio::time::timeout(Duration::from_secs(5), connecting).await {
                Ok(Ok(conn)) => *slot = Some(conn),
                _ => {
                    self.count(Kind::Task, Ok(503));
                    return None;
                }
            }
        }
        let conn = slot.as_mut()?;
        match tokio::time::timeout(Duration::from_secs(10), insert(conn)).await {
            Ok(Ok(id)) => {
                self.count(Kind::Task, Ok(201));
                Some(id)
            }
            _ => {
                *slot = None;
                self.count(Kind::Task, Ok(503));
                None
            }
        }
    }

    async fn run(self: Arc<Self>) {
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1) / self.opts.rate.max(1));
        let mut running = tokio::task::JoinSet::new();
        let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
        let mut n: u64 = 0;
        let mut signups: u64 = 0;
        let stopped = || self.opts.stop_file.as_ref().is_some_and(|file| file.exists());
        while started.elapsed() < Duration::from_secs(self.opts.seconds) && !stopped() {
            tick.tick().await;
            n += 1;
            // One signup a second, below nginx's limit of 2 a second per address.
            if started.elapsed() >= Duration::from_secs(signups) {
                signups += 1;
                let load = Arc::clone(&self);
                running.spawn(async move { load.signup(signups).await });
            }
            let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
                // 64 requests waiting: the stack is stalled; do not pile up more, but say so.
                self.record.lock().unwrap().skipped += 1;
                continue;
            };
            let load = Arc::clone(&self);
            running.spawn(async move {
                match (n % 4, load.opts.db.is_some()) {
                    (0, _) => load.note_write(n).await,
                    (1, true) => drop(load.task(n).await),
                    (1 | 2, _) => load.read(n).await,
                    _ => load.list().await,
                }
                drop(permit);
            });
        }
        while running.join_next().await.is_some() {}
    }
}

/// Signs the load's user up and returns the client holding its session, its CSRF token and its id.
async fn sign_up(opts: &Opts) -> anyhow::Result<(reqwest::Client, String, Uuid)> {
    let client = client_builder(opts.insecure).cookie_store(true).build()?;
    let response = client
        .post(format!("{}/api/auth/signup", opts.base))
        .json(&json!({ "email": format!("{}-owner@example.com", opts.tag), "password": "chaos is a ladder, they say" }))
        .send()
        .await
        .context("signing the load's user up")?;
    anyhow::ensure!(response.status() == 201, "signup of the load's user: {}", response.status());
    let body: Value = response.json().await?;
    let csrf = body["csrf_token"].as_str().context("csrf_token")?.to_string();
    let id = body["user"]["id"].as_str().context("user.id")?.parse()?;
    Ok((client, csrf, id))
}

/// A client that closes its idle connections (30 s) before nginx does (`keepalive_timeout 65s`), as browsers do,
/// so that no request is sent on a connection nginx is closing.
fn client_builder(insecure: bool) -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_danger_accept_invalid_certs(insecure).pool_idle_timeout(Duration::from_secs(30))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let (client, csrf, owner) = sign_up(&opts).await?;
    let load =
        Arc::new(Load { opts, client, csrf, owner, db: tokio::sync::Mutex::new(None), record: Mutex::default() });
    for _ in 0..load.opts.slow_tasks {
        if let Some(id) =
            load.enqueue(async |conn| tasks::enqueue(conn, &Probe { sleep_ms: 4000, ..Probe::default() }).await).await
        {
            load.record.lock().unwrap().probes.push(id);
        }
    }
    let load_started = Instant::now();
    Arc::clone(&load).run().await;
    let load_seconds = load_started.elapsed().as_secs();
    let load = Arc::into_inner(load).context("the load's requests are done")?;
    let record = load.record.into_inner().unwrap();
    let opts = load.opts;

    let settle_started = Instant::now();
    let verdict = match &opts.db {
        Some(url) => check_in_database(&opts, url, owner, &record).await?,
        None => check_through_api(&opts, &load.client, &record).await?,
    };
    let Verdict { accepted, completed, lost, duplicated, mails_twice } = verdict;

    let (mut sent, mut failed, mut hung) = (0u64, 0u64, 0u64);
    let mut refused = Vec::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for (kind, tally) in &record.tally {
        sent += tally.sent;
        hung += tally.hung;
        for (status, count) in &tally.failed {
            failed += count;
            *statuses.entry(if *status == 0 { "no answer".into() } else { status.to_string() }).or_default() += count;
            let allowed = opts.allow.contains(status) || (opts.allow_post_failures && kind.writes());
            if !allowed {
                refused.push(format!("{count} {kind:?} answered {status}"));
            }
        }
    }
    let row = json!({
        "tag": opts.tag, "seconds": load_seconds, "requests": sent, "accepted": accepted, "completed": completed,
        "lost": lost.len(), "duplicated": duplicated.len(), "failed": failed, "failed_by_status": statuses,
        "hung": hung, "mails_twice": mails_twice, "skipped": record.skipped, "settled_in_secs": settle_started.elapsed().as_secs(),
        "by_kind": record.tally.iter().map(|(kind, t)| (format!("{kind:?}"), json!({"sent": t.sent, "ok": t.ok, "failed": t.failed, "hung": t.hung}))).collect::<BTreeMap<_, _>>(),
    });
    println!("{row}");
    let mut problems = Vec::new();
    if !lost.is_empty() {
        problems.push(format!("lost {}: {}", lost.len(), lost.iter().take(5).cloned().collect::<Vec<_>>().join("; ")));
    }
    if !duplicated.is_empty() {
        problems.push(format!(
            "applied twice {}: {}",
            duplicated.len(),
            duplicated.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        ));
    }
    if hung > 0 {
        problems.push(format!("{hung} requests got no answer within {} s", opts.timeout));
    }
    if !refused.is_empty() {
        problems.push(format!("failures the fault does not allow: {}", refused.join(", ")));
    }
    if accepted == 0 {
        problems.push("nothing was accepted".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        for problem in &problems {
            eprintln!("chaos_load {}: {problem}", opts.tag);
        }
        std::process::exit(1)
    }
}
