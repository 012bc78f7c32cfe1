//! Backups with the real pg_dump and pg_restore (the same on every backend: `backup_storage` runs them on GCS, S3 and
//! a directory); and the cron role's locks, timeouts and records.

use std::time::{Duration, Instant};

use crate::common::{AppProcess, TestDb, output_text, run_app};

pub(crate) fn local_env(db: &TestDb, dir: &std::path::Path) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", db.url.as_str()),
        ("BACKUP_STORAGE", "local"),
        ("BACKUP_LOCAL_DIR", dir.to_str().unwrap()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub(crate) fn app(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_app(args, &env)
}

pub(crate) fn ok(args: &[&str], env: &[(String, String)]) -> String {
    let output = app(args, env);
    assert!(output.status.success(), "app {args:?} failed:\n{}", output_text(&output));
    output_text(&output)
}

pub(crate) fn urls(env: &[(String, String)]) -> Vec<String> {
    ok(&["backup", "list", "--json"], env)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["url"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) async fn seed(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "INSERT INTO users (id, email, password_hash) VALUES ('00000000-0000-4000-8000-000000000001', 'ada@example.com', 'x');
             INSERT INTO notes (owner_id, title, body) SELECT '00000000-0000-4000-8000-000000000001', 'note ' || n, repeat('y', n)
             FROM generate_series(1, 50) n;",
        )
        .await
        .unwrap();
}

pub(crate) async fn snapshot(db: &TestDb) -> Vec<String> {
    let client = db.client().await;
    let mut rows: Vec<String> = client
        .query("SELECT title || ':' || length(body) FROM notes ORDER BY title", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    rows.extend(
        client
            .query("SELECT email FROM users ORDER BY email", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<_, String>(0)),
    );
    rows
}

pub(crate) async fn damage(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "UPDATE notes SET title = 'changed' WHERE title = 'note 1'; DELETE FROM notes WHERE title LIKE 'note 2%';
             INSERT INTO users (email, password_hash) VALUES ('eve@example.com', 'x');",
        )
        .await
        .unwrap();
}

pub(crate) fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("app-backup-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn dump_path(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let file = url.rsplit('/').next().unwrap();
    dir.canonicalize().unwrap().join("backups").join(file)
}

#[tokio::test]
async fn corrupted_and_truncated_backups_are_refused() {
    let db = TestDb::migrated().await;
    let dir = tempdir();
    let env = local_env(&db, &dir);
    seed(&db).await;
    ok(&["backup", "create"], &env);
    let url = urls(&env).remove(0);
    let path = dump_path(&dir, &url);
    let original = std::fs::read(&path).unwrap();
    damage(&db).await;
    let damaged = snapshot(&db).await;

    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    for (label, bytes) in [("truncated", original[..original.len() / 2].to_vec()), ("flipped", flipped)] {
        std::fs::write(&path, &bytes).unwrap();
        let restore = app(&["backup", "restore", &url, "--yes"], &env);
        assert!(!restore.status.success(), "{label} backup restored");
        let text = output_text(&restore);
        assert!(text.contains("corrupted or truncated") && text.contains("was not changed"), "{label}: {text}");
        assert_eq!(snapshot(&db).await, damaged, "{label}: the database kept its data");

        let verify = app(&["backup", "verify", &url], &env);
        assert!(!verify.status.success(), "{label} backup verified");
        assert!(output_text(&verify).contains("FAILED"), "{}", output_text(&verify));
        assert!(ok(&["backup", "list"], &env).contains("VERIFY FAILED"));
    }
    let leftovers: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM pg_database WHERE datname LIKE $1", &[&format!("{}_%", db.name)])
        .await
        .unwrap()
        .get(0);
    assert_eq!(leftovers, 0, "no scratch or restore database is left behind");
    std::fs::remove_dir_all(dir).ok();
}

fn schedule_file(text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("schedule-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_slow_job_never_runs_twice_at_once_even_with_two_cron_processes() {
    let db = TestDb::migrated().await;
    let schedule = schedule_file(
        "[[job]]\nname = \"slow\"\nschedule = \"* * * * * *\"\nsteps = [[\"/bin/sleep\", \"2.5\"]]\ntimeout_secs = 30\n",
    );
    let (dir_a, dir_b) = (tempdir(), tempdir());
    let start = |lock_dir: &std::path::Path| {
        AppProcess::start(
            &["cron"],
            &[
                ("DATABASE_URL", db.url.as_str()),
                ("CRON_SCHEDULE", schedule.to_str().unwrap()),
                ("CRON_LOCK_DIR", lock_dir.to_str().unwrap()),
                ("RUST_LOG", "info"),
            ],
        )
    };
    // Two containers: separate lock directories, one database.
    let (mut a, mut b) = (start(&dir_a), start(&dir_b));
    a.wait_for_line(|line| line["message"] == "cron started (schedules are UTC)");
    b.wait_for_line(|line| line["message"] == "cron started (schedules are UTC)");
    tokio::time::sleep(Duration::from_secs(7)).await;
    a.signal("TERM");
    b.signal("TERM");
    assert_eq!(a.wait_exit(Duration::from_secs(15)).code(), Some(0));
    assert_eq!(b.wait_exit(Duration::from_secs(15)).code(), Some(0));

    let client = db.client().await;
    let runs = client
        .query("SELECT started_at, finished_at FROM cron_runs WHERE status = 'succeeded' ORDER BY started_at", &[])
        .await
        .unwrap();
    assert!(runs.len() >= 2, "the job ran: {} runs", runs.len());
    for pair in runs.windows(2) {
        let finished: chrono::DateTime<chrono::Utc> = pair[0].get(1);
        let next_started: chrono::DateTime<chrono::Utc> = pair[1].get(0);
        assert!(next_started >= finished, "runs overlapped: {finished} > {next_started}");
    }
    let notes: Vec<String> = client
        .query("SELECT DISTINCT note FROM cron_runs WHERE status = 'skipped'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(notes.iter().any(|n| n.contains("file lock")), "overlap in one process is skipped: {notes:?}");
    assert!(notes.iter().any(|n| n.contains("another cron process")), "overlap across processes is skipped: {notes:?}");
    let running: i64 =
        client.query_one("SELECT count(*) FROM cron_runs WHERE status = 'running'", &[]).await.unwrap().get(0);
    assert_eq!(running, 0, "SIGTERM waited for the running job");
}

#[tokio::test]
async fn a_job_over_its_timeout_is_killed_and_recorded() {
    let db = TestDb::migrated().await;
    let schedule = schedule_file(
        "[[job]]\nname = \"stuck\"\nschedule = \"0 0 3 * * *\"\nsteps = [[\"/bin/sleep\", \"30\"]]\ntimeout_secs = 1\n\n\
         [[job]]\nname = \"checkup\"\nschedule = \"0 0 4 * * *\"\nsteps = [[\"check\"]]\ntimeout_secs = 60\n",
    );
    let env = [("DATABASE_URL", db.url.as_str()), ("CRON_SCHEDULE", schedule.to_str().unwrap())];
    let started = Instant::now();
    let stuck = run_app(&["cron", "run", "stuck"], &env);
    assert!(!stuck.status.success());
    assert!(started.elapsed() < Duration::from_secs(10), "killed at its timeout");
    let checkup = run_app(&["cron", "run", "checkup"], &env);
    assert!(checkup.status.success(), "{}", output_text(&checkup));
    let unknown = run_app(&["cron", "run", "nope"], &env);
    assert!(!unknown.status.success());
    assert!(output_text(&unknown).contains("no job \"nope\""));

    let client = db.client().await;
    let rows = client.query("SELECT job, status, output_tail FROM cron_runs ORDER BY id", &[]).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].get::<_, String>(0), rows[0].get::<_, String>(1)), ("stuck".into(), "timed_out".into()));
    assert_eq!(rows[1].get::<_, String>(1), "succeeded");
    assert!(rows[1].get::<_, String>(2).contains("All checks passed"), "the output tail is kept");
}

/// A cron container killed in the middle of a job leaves its run recorded as `running`; the next run of that job
/// (holding both locks, so nothing else runs it) closes it as `interrupted`, which the dashboard counts as a failure.
#[tokio::test]
async fn a_run_killed_mid_job_is_closed_as_interrupted_by_the_next_run() {
    let db = TestDb::migrated().await;
    let schedule = schedule_file(
        "[[job]]\nname = \"long\"\nschedule = \"0 0 3 * * *\"\n\
         steps = [[\"/bin/sh\", \"-c\", \"sleep ${SLEEP_FOR:-0}\"]]\ntimeout_secs = 60\n",
    );
    let lock_dir = tempdir();
    let env = |sleep: &'static str| {
        vec![
            ("DATABASE_URL", db.url.clone()),
            ("CRON_SCHEDULE", schedule.to_str().unwrap().to_string()),
            ("CRON_LOCK_DIR", lock_dir.to_str().unwrap().to_string()),
            ("SLEEP_FOR", sleep.to_string()),
        ]
    };
    let client = db.client().await;
    let first_env = env("30");
    let first_env: Vec<(&str, &str)> = first_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut first = AppProcess::start(&["cron", "run", "long"], &first_env);
    crate::common::eventually(15, "the first run is recorded as running", || async {
        let running: i64 =
            client.query_one("SELECT count(*) FROM cron_runs WHERE status = 'running'", &[]).await.unwrap().get(0);
        (running == 1).then_some(())
    })
    .await;
    first.signal("KILL");
    first.wait_exit(Duration::from_secs(10));
    let second_env = env("0");
    let second_env: Vec<(&str, &str)> = second_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let second = run_app(&["cron", "run", "long"], &second_env);
    assert!(second.status.success(), "{}", output_text(&second));
    let rows = client.query("SELECT status, finished_at IS NOT NULL FROM cron_runs ORDER BY id", &[]).await.unwrap();
    let states: Vec<(String, bool)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(states, [("interrupted".to_string(), true), ("succeeded".to_string(), true)]);
    std::fs::remove_dir_all(lock_dir).ok();
}

#[tokio::test]
async fn the_shipped_nightly_job_creates_verifies_and_prunes() {
    let db = TestDb::migrated().await;
    seed(&db).await;
    let dir = tempdir();
    let mut env = local_env(&db, &dir);
    env.push(("CRON_SCHEDULE".into(), concat!(env!("CARGO_MANIFEST_DIR"), "/../cron/schedule.toml").into()));
    ok(&["cron", "run", "nightly-backup"], &env);
    let listed = ok(&["backup", "list"], &env);
    assert!(listed.contains("verified"), "{listed}");
    let status: String = db.client().await.query_one("SELECT status FROM cron_runs", &[]).await.unwrap().get(0);
    assert_eq!(status, "succeeded");
    let recorded: bool = db.client().await.query_one("SELECT verify_ok FROM backups", &[]).await.unwrap().get(0);
    assert!(recorded, "the dashboard's backups table knows it is verified");
    std::fs::remove_dir_all(dir).ok();
}

/// google_storage.sh (with the `scripts/lib.sh` it sources) in a folder of its own, next to a compose file whose
/// stack is not running.
fn google_storage(args: &[&str]) -> (std::process::Output, std::path::PathBuf) {
    let dir = tempdir();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::fs::copy(format!("{root}/google_storage.sh"), dir.join("google_storage.sh")).unwrap();
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::copy(format!("{root}/scripts/lib.sh"), dir.join("scripts/lib.sh")).unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        format!("version: \"3.7\"\nservices:\n  cron:\n    image: not-built-{}\n", uuid::Uuid::new_v4().simple()),
    )
    .unwrap();
    let output = std::process::Command::new("bash")
        .arg(dir.join("google_storage.sh"))
        .args(args)
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (output, dir)
}

#[test]
fn google_storage_script_explains_what_is_wrong() {
    let (help, _) = google_storage(&["--help"]);
    assert!(help.status.success());
    for action in ["-a FILE", "-l", "-r URL", "-b"] {
        assert!(output_text(&help).contains(action), "--help documents {action}");
    }
    for (args, expected) in [
        (vec![], "Usage"),
        (vec!["-x"], "unknown argument"),
        (vec!["-r"], "needs an argument"),
        (vec!["-l"], "the stack is not running"),
        (vec!["-b"], "the stack is not running"),
        (vec!["-a", "/nonexistent/key.json"], "not found"),
    ] {
        let (output, dir) = google_storage(&args);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(output_text(&output).contains(expected), "{args:?}: {}", output_text(&output));
        std::fs::remove_dir_all(dir).ok();
    }
    let junk = std::env::temp_dir().join(format!("junk-{}.txt", uuid::Uuid::new_v4().simple()));
    std::fs::write(&junk, "hello").unwrap();
    let (output, _) = google_storage(&["-a", junk.to_str().unwrap()]);
    assert!(output_text(&output).contains("neither a service-account JSON key"), "{}", output_text(&output));

    let key = std::env::temp_dir().join(format!("key-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &key,
        r#"{"type": "service_account", "client_email": "b@p.iam.gserviceaccount.com", "private_key": "k"}"#,
    )
    .unwrap();
    let (output, dir) = google_storage(&["-a", key.to_str().unwrap()]);
    assert!(!output.status.success(), "unproven credentials are not reported as working");
    let text = output_text(&output);
    assert!(
        text.contains("kept a copy of the service-account key") && text.contains("the stack is not running"),
        "{text}"
    );
    let stored = dir.join("cron/credentials/gcs.json");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::remove_dir_all(dir).ok();
}
