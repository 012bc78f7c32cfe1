//! Backups on each backend, on real servers: Google Cloud Storage (gcp-storage-emulator, the JSON API), S3 (moto)
//! and a directory, all started by scripts/services.sh. The same round trip on each (create, list, verify, prune,
//! restore over changed data); on the two network stores, a backup killed mid-upload leaves nothing listed, and one
//! whose connection is cut mid-upload through a TCP relay still completes and restores.

use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::time::{Duration, Instant};

use crate::backups::{app, damage, local_env, ok, seed, snapshot, tempdir, urls};
use crate::common::{AppProcess, TcpProxy, TestDb, output_text};

const S3: &str = "127.0.0.1:9000";
const GCS: &str = "127.0.0.1:9023";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Gcs,
    S3,
    Local,
}

/// A bucket (or directory) of a test's own, and the environment that points `app backup` at it, through `server`
/// (the storage server's address or a relay in front of it).
#[derive(Debug)]
pub(crate) struct Store {
    backend: Backend,
    pub(crate) bucket: String,
    pub(crate) dir: Option<std::path::PathBuf>,
}

impl Store {
    pub(crate) async fn new(backend: Backend) -> Self {
        let bucket = format!("test-{}", uuid::Uuid::new_v4().simple());
        let http = reqwest::Client::new();
        let created = match backend {
            Backend::Gcs => Some(
                http.post(format!("http://{GCS}/storage/v1/b?project=test"))
                    .json(&serde_json::json!({ "name": bucket }))
                    .send()
                    .await,
            ),
            Backend::S3 => Some(http.put(format!("http://{S3}/{bucket}")).send().await),
            Backend::Local => None,
        };
        if let Some(created) = created {
            let response =
                created.unwrap_or_else(|err| panic!("{backend:?} server unreachable ({err}); run scripts/services.sh"));
            assert!(response.status().is_success(), "creating a {backend:?} bucket: {}", response.status());
        }
        let dir = (backend == Backend::Local).then(tempdir);
        Self { backend, bucket, dir }
    }

    fn server(&self) -> &'static str {
        match self.backend {
            Backend::Gcs => GCS,
            Backend::S3 => S3,
            Backend::Local => unreachable!("a directory has no server"),
        }
    }

    /// The environment with the store reached directly.
    fn env(&self, db: &TestDb) -> Vec<(String, String)> {
        if self.dir.is_some() { self.env_through(db, "") } else { self.env_through(db, self.server()) }
    }

    /// The environment with the store reached at `address` (host:port).
    fn env_through(&self, db: &TestDb, address: &str) -> Vec<(String, String)> {
        if let Some(dir) = &self.dir {
            return local_env(db, dir);
        }
        let endpoint = format!("http://{address}");
        let vars: Vec<(&str, &str)> = match self.backend {
            Backend::Gcs => {
                vec![("BACKUP_STORAGE", "gcs"), ("GCS_BASE_URL", &endpoint), ("GCS_SKIP_SIGNATURE", "true")]
            }
            Backend::S3 => vec![
                ("BACKUP_STORAGE", "s3"),
                ("S3_ENDPOINT", &endpoint),
                ("S3_ALLOW_HTTP", "true"),
                ("S3_ACCESS_KEY_ID", "test"),
                ("S3_SECRET_ACCESS_KEY", "test"),
            ],
            Backend::Local => unreachable!(),
        };
        [("DATABASE_URL", db.url.as_str()), ("BACKUP_BUCKET", &self.bucket), ("PATH", "/usr/local/bin:/usr/bin:/bin")]
            .into_iter()
            .chain(vars)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The environment that keeps uploaded files (media) in this store.
    pub(crate) fn media_env(&self) -> Vec<(String, String)> {
        let bucket = self.bucket.as_str();
        let vars: Vec<(&str, &str)> = match (self.backend, &self.dir) {
            (Backend::Local, Some(dir)) => {
                vec![("MEDIA_STORAGE", "local"), ("MEDIA_LOCAL_DIR", dir.to_str().expect("a UTF-8 path"))]
            }
            (Backend::Gcs, _) => vec![
                ("MEDIA_STORAGE", "gcs"),
                ("MEDIA_BUCKET", bucket),
                ("GCS_BASE_URL", concat!("http://", "127.0.0.1:9023")),
                ("GCS_SKIP_SIGNATURE", "true"),
            ],
            (Backend::S3, _) => vec![
                ("MEDIA_STORAGE", "s3"),
                ("MEDIA_BUCKET", bucket),
                ("S3_ENDPOINT", concat!("http://", "127.0.0.1:9000")),
                ("S3_ALLOW_HTTP", "true"),
                ("S3_ACCESS_KEY_ID", "test"),
                ("S3_SECRET_ACCESS_KEY", "test"),
            ],
            (Backend::Local, None) => unreachable!("a local store has a directory"),
        };
        vars.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The names of every object in the bucket, as the server lists them (complete objects only).
    pub(crate) async fn objects(&self) -> String {
        if let Some(dir) = &self.dir {
            return walk(dir).join("\n");
        }
        let url = match self.backend {
            Backend::Gcs => format!("http://{GCS}/storage/v1/b/{}/o", self.bucket),
            Backend::S3 => format!("http://{S3}/{}?list-type=2", self.bucket),
            Backend::Local => unreachable!(),
        };
        reqwest::get(url).await.unwrap().text().await.unwrap()
    }
}

/// The files under `dir`, as paths relative to it.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            std::fs::remove_dir_all(dir).ok();
        }
    }
}

/// Create three backups, verify the oldest, prune to one a day (the verified one stays), restore the oldest over
/// changed data with a connection left open, verify the newest.
async fn round_trip(backend: Backend) {
    let db = TestDb::migrated().await;
    let store = Store::new(backend).await;
    let env = store.env(&db);
    seed(&db).await;
    let before = snapshot(&db).await;
    for _ in 0..3 {
        ok(&["backup", "create"], &env);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let all = urls(&env);
    assert_eq!(all.len(), 3, "newest first: {all:?}");
    let scheme = match backend {
        Backend::Gcs => "gs://",
        Backend::S3 => "s3://",
        Backend::Local => "file://",
    };
    assert!(all.iter().all(|url| url.starts_with(scheme)), "{all:?}");
    ok(&["backup", "verify", &all[2]], &env);
    let mut keep_one_day = env.clone();
    keep_one_day.extend(
        [("BACKUP_KEEP_DAILY", "1"), ("BACKUP_KEEP_WEEKLY", "0"), ("BACKUP_KEEP_MONTHLY", "0")]
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let dry = ok(&["backup", "prune", "--dry-run"], &keep_one_day);
    assert!(dry.contains("Would delete"), "{dry}");
    assert_eq!(urls(&env).len(), 3, "a dry run deletes nothing");
    ok(&["backup", "prune"], &keep_one_day);
    assert_eq!(urls(&env), vec![all[0].clone(), all[2].clone()]);
    if backend != Backend::Local {
        let objects = store.objects().await;
        let pruned = all[1].rsplit('/').next().unwrap().trim_end_matches(".dump");
        assert!(!objects.contains(pruned), "every object of the pruned backup is deleted: {objects}");
    }

    damage(&db).await;
    // A connection left open on the database (a web process) must not block the restore.
    let lingering = db.client().await;
    lingering.query_one("SELECT 1", &[]).await.unwrap();
    let refused = app(&["backup", "restore", &all[2]], &env);
    assert!(!refused.status.success());
    assert!(output_text(&refused).contains("--yes"), "{}", output_text(&refused));
    let restored = ok(&["backup", "restore", &all[2], "--yes"], &env);
    assert!(restored.contains("Restored"), "{restored}");
    assert_eq!(snapshot(&db).await, before);
    assert!(lingering.query_one("SELECT 1", &[]).await.is_err(), "the old session was ended");

    let verified = ok(&["backup", "verify"], &env);
    assert!(verified.contains("is good"), "{verified}");
    assert!(ok(&["backup", "list"], &env).contains("verified"));
}

#[tokio::test]
async fn gcs_round_trip() {
    round_trip(Backend::Gcs).await;
}

#[tokio::test]
async fn s3_round_trip() {
    round_trip(Backend::S3).await;
}

#[tokio::test]
async fn local_directory_round_trip() {
    round_trip(Backend::Local).await;
}

/// About 11 MB of hard-to-compress data in the dump: more than one 8 MiB upload part.
async fn seed_large(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "INSERT INTO users (id, email, password_hash) VALUES ('00000000-0000-4000-8000-000000000001', 'ada@example.com', 'x');
             INSERT INTO notes (owner_id, title, body)
             SELECT '00000000-0000-4000-8000-000000000001', 'n' || n,
                    (SELECT string_agg(md5(random()::text || n || k), '') FROM generate_series(1, 12) k)
             FROM generate_series(1, 60000) n;",
        )
        .await
        .unwrap();
}

fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Runs `backup create` with `env` (its storage reached through `relay`) and kills it with SIGKILL once `bytes` have
/// gone upstream; `what` names that upload in the messages.
async fn kill_backup_after(env: &[(String, String)], relay: &TcpProxy, bytes: u64, what: &str) {
    let mut create = AppProcess::start(&["backup", "create"], &refs(env));
    let deadline = Instant::now() + Duration::from_secs(60);
    while relay.upstream_bytes() < bytes {
        assert!(create.child.try_wait().unwrap().is_none(), "backup finished before it could be killed");
        assert!(Instant::now() < deadline, "no {what} started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    create.signal("KILL");
    // The relay runs on this test's runtime: close its connections now (a killed process's sockets close), and
    // keep the runtime free while waiting, or the server would wait for the rest of the body.
    relay.cut();
    let status = tokio::task::spawn_blocking(move || create.wait_exit(Duration::from_secs(10))).await.unwrap();
    assert_eq!(status.signal(), Some(9), "killed mid-{what}");
}

async fn killed_mid_upload(backend: Backend) {
    let db = TestDb::migrated().await;
    let store = Store::new(backend).await;
    seed_large(&db).await;
    let relay = TcpProxy::start(store.server().parse().unwrap()).await;
    let env = store.env_through(&db, &format!("127.0.0.1:{}", relay.port));
    // Kill it once a megabyte of the dump has gone out.
    kill_backup_after(&env, &relay, 1024 * 1024, "upload").await;
    let env = store.env(&db);
    let listing_env = env.clone();
    assert!(tokio::task::spawn_blocking(move || urls(&listing_env)).await.unwrap().is_empty(), "no backup listed");
    let objects = store.objects().await;
    assert!(!objects.contains(".dump"), "no dump object visible: {objects}");
    // The next backup works.
    ok(&["backup", "create"], &env);
    assert_eq!(urls(&env).len(), 1);
}

#[tokio::test]
async fn gcs_backup_killed_mid_upload_leaves_nothing_listed() {
    killed_mid_upload(Backend::Gcs).await;
}

#[tokio::test]
async fn s3_backup_killed_mid_upload_leaves_nothing_listed() {
    killed_mid_upload(Backend::S3).await;
}

/// The manifest is written last: a backup killed after its dump was complete, while its media archive was going
/// up, is not listed (its dump alone would restore rows naming files it does not hold).
#[tokio::test]
async fn s3_backup_killed_while_archiving_media_leaves_nothing_listed() {
    let db = TestDb::migrated().await;
    let store = Store::new(Backend::S3).await;
    // 24 MiB of files that no compression shrinks; the dump of an empty database is a few kilobytes.
    let media = tempdir();
    let mut noise = std::fs::File::open("/dev/urandom").unwrap();
    for n in 0..3 {
        let dir = media.join("notes").join(uuid::Uuid::new_v4().to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let mut file = std::fs::File::create(dir.join(format!("file-{n}.bin"))).unwrap();
        std::io::copy(&mut noise.by_ref().take(8 * 1024 * 1024), &mut file).unwrap();
    }
    let relay = TcpProxy::start(store.server().parse().unwrap()).await;
    let mut env = store.env_through(&db, &format!("127.0.0.1:{}", relay.port));
    env.push(("MEDIA_STORAGE".into(), "local".into()));
    env.push(("MEDIA_LOCAL_DIR".into(), media.to_str().unwrap().into()));
    kill_backup_after(&env, &relay, 4 * 1024 * 1024, "media upload").await;
    let objects = store.objects().await;
    assert!(objects.contains(".dump"), "the dump was complete when the kill came: {objects}");
    assert!(!objects.contains(".media.tar"), "no media archive visible: {objects}");
    let listing_env = store.env(&db);
    assert!(tokio::task::spawn_blocking(move || urls(&listing_env)).await.unwrap().is_empty(), "no backup listed");
    std::fs::remove_dir_all(&media).unwrap();
}

/// The connection carrying the dump is cut after 3 MiB (inside the first part): the upload resumes and the backup
/// restores to exactly the seeded data.
async fn cut_mid_upload(backend: Backend) {
    let db = TestDb::migrated().await;
    let store = Store::new(backend).await;
    seed_large(&db).await;
    let before = snapshot(&db).await;
    let relay = TcpProxy::start(store.server().parse().unwrap()).await;
    relay.cut_once_after(3 * 1024 * 1024);
    let env = store.env_through(&db, &format!("127.0.0.1:{}", relay.port));
    // The relay runs on this test's runtime: the app runs on a blocking thread meanwhile.
    let blocking_env = env.clone();
    let created = tokio::task::spawn_blocking(move || app(&["backup", "create"], &blocking_env)).await.unwrap();
    assert_eq!(relay.cuts(), 1, "the relay cut the upload's connection once");
    assert!(created.status.success(), "the cut part was sent again:\n{}", output_text(&created));
    let env = store.env(&db);
    let listed = urls(&env);
    assert_eq!(listed.len(), 1);
    damage(&db).await;
    ok(&["backup", "restore", &listed[0], "--yes"], &env);
    assert_eq!(snapshot(&db).await, before, "the backup holds every byte, once");
}

#[tokio::test]
async fn gcs_upload_survives_a_cut_connection() {
    cut_mid_upload(Backend::Gcs).await;
}

#[tokio::test]
async fn s3_upload_survives_a_cut_connection() {
    cut_mid_upload(Backend::S3).await;
}
