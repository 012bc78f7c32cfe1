//! Files attached to notes, on each media store (a directory, S3 on moto, GCS on gcp-storage-emulator): upload,
//! list, download (whole and by range), refusals that store nothing, other users kept out, keys that are not the
//! application's never followed; deleting a file or its note removes the object; the sweep removes old orphans.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::backup_storage::{Backend, Store};
use crate::common::{PASSWORD, TestApp, TestBroker, error_code, eventually, output_text, run_app};
use crate::tasks::start_worker;

/// The largest file the test servers accept.
const MAX_BYTES: usize = 200_000;

/// A file that starts like a PNG image (the type is judged by the first bytes), `size` bytes long.
fn png(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..size.saturating_sub(bytes.len())).map(|i| u8::try_from(i * 7 % 251).unwrap()));
    bytes
}

/// A multipart/form-data body with the given fields (name, file name, bytes), in order.
fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("----test{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, filename, bytes) in fields {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(filename) = filename {
            body.extend_from_slice(format!("; filename=\"{filename}\"\r\nContent-Type: image/png").as_bytes());
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    client: &reqwest::Client,
    app: &TestApp,
    csrf: Option<&str>,
    note: &str,
    name: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let (content_type, body) = multipart(&[("file", Some(name), bytes)]);
    let mut request =
        client.post(app.url(&format!("/api/notes/{note}/files"))).header("Content-Type", content_type).body(body);
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    request.send().await.unwrap()
}

async fn new_note(app: &TestApp, csrf: &str) -> String {
    let response = app.post("/api/notes", &json!({ "title": "Trip", "body": "photos" }), Some(csrf)).await;
    assert_eq!(response.status(), 201);
    let note: Value = response.json().await.unwrap();
    note["id"].as_str().unwrap().to_string()
}

async fn spawn(store: &Store) -> TestApp {
    let mut env = store.media_env();
    env.push(("MEDIA_MAX_BYTES".into(), MAX_BYTES.to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestApp::spawn_with(&env).await
}

/// How many files under `notes/` the store lists (each listing names an object's key in several fields).
async fn stored(store: &Store) -> usize {
    let listing = store.objects().await;
    let keys: std::collections::HashSet<&str> = listing
        .split(|c: char| !(c.is_ascii_alphanumeric() || "-/.".contains(c)))
        .filter(|token| token.starts_with("notes/"))
        .collect();
    keys.len()
}

async fn files_on(backend: Backend) {
    let store = Store::new(backend).await;
    let app = spawn(&store).await;
    let csrf = app.signup("ada@example.com").await;
    let note = new_note(&app, &csrf).await;

    let photo = png(150_000);
    let response = upload(&app.client, &app, Some(&csrf), &note, "../../holiday photo.png", &photo).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let file: Value = response.json().await.unwrap();
    assert_eq!(file["filename"], "holiday photo.png", "the name shown is the last part of the one given");
    assert_eq!(file["content_type"], "image/png");
    assert_eq!(file["size"], 150_000);
    assert_eq!(file["url"], location.as_str());
    assert!(file.get("key").is_none(), "the storage key stays inside");
    let key: String = app.db.client().await.query_one("SELECT key FROM note_files", &[]).await.unwrap().get(0);
    assert!(key.starts_with(&format!("notes/{note}/")) && key.ends_with(".png"), "{key}");
    assert!(store.objects().await.contains(&key), "the object is in the store under its key");

    let listed: Value = app.get(&format!("/api/notes/{note}/files")).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], file["id"]);

    let whole = app.get(&location).await;
    assert_eq!(whole.status(), 200);
    for (name, value) in [
        ("content-type", "image/png"),
        ("x-content-type-options", "nosniff"),
        ("content-security-policy", "default-src 'none'; sandbox"),
        ("accept-ranges", "bytes"),
        ("content-disposition", "inline; filename*=UTF-8''holiday%20photo%2Epng"),
    ] {
        assert_eq!(whole.headers()[name], value, "{name}");
    }
    assert_eq!(whole.bytes().await.unwrap(), photo);
    let part = app.client.get(app.url(&location)).header("Range", "bytes=1000-1999").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 1000-1999/150000");
    assert_eq!(part.bytes().await.unwrap(), photo[1000..2000]);
    let tail = app.client.get(app.url(&location)).header("Range", "bytes=-10").send().await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), photo[photo.len() - 10..]);
    let outside = app.client.get(app.url(&location)).header("Range", "bytes=150000-").send().await.unwrap();
    assert_eq!(outside.headers()["content-range"], "bytes */150000");
    assert_eq!(error_code(outside, 416).await["error"]["code"], "range_not_satisfiable");

    // Refused uploads store nothing and record nothing.
    let page = b"<html><script>alert(document.cookie)</script></html>";
    let refused = upload(&app.client, &app, Some(&csrf), &note, "cat.png", page).await;
    assert!(error_code(refused, 415).await["error"]["message"].as_str().unwrap().contains("PNG"));
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    error_code(upload(&app.client, &app, Some(&csrf), &note, "logo.svg", svg).await, 415).await;
    let large = upload(&app.client, &app, Some(&csrf), &note, "large.png", &png(MAX_BYTES + 1)).await;
    error_code(large, 413).await;
    error_code(upload(&app.client, &app, Some(&csrf), &note, "empty.png", b"").await, 422).await;
    error_code(upload(&app.client, &app, None, &note, "photo.png", &photo).await, 403).await;
    let (content_type, body) = multipart(&[("comment", None, b"no file")]);
    let missing = app
        .client
        .post(app.url(&format!("/api/notes/{note}/files")))
        .header("X-CSRF-Token", &csrf)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    error_code(missing, 422).await;
    let not_multipart = app.post(&format!("/api/notes/{note}/files"), &json!({ "file": "x" }), Some(&csrf)).await;
    error_code(not_multipart, 400).await;
    assert_eq!(app.db.count("note_files").await, 1);
    assert_eq!(stored(&store).await, 1, "{}", store.objects().await);

    // Another user finds nothing, and changes nothing.
    let other = app.other_client();
    let signup = other
        .post(app.url("/api/auth/signup"))
        .json(&json!({ "email": "eve@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let other_csrf = signup.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
    error_code(other.get(app.url(&location)).send().await.unwrap(), 404).await;
    error_code(other.get(app.url(&format!("/api/notes/{note}/files"))).send().await.unwrap(), 404).await;
    let theft = other.delete(app.url(&location)).header("X-CSRF-Token", &other_csrf).send().await.unwrap();
    error_code(theft, 404).await;
    error_code(upload(&other, &app, Some(&other_csrf), &note, "mine.png", &photo).await, 404).await;
    assert_eq!(stored(&store).await, 1);

    let deleted = app.client.delete(app.url(&location)).header("X-CSRF-Token", &csrf).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    error_code(app.get(&location).await, 404).await;
    assert_eq!(app.get(&format!("/api/notes/{note}/files")).await.json::<Value>().await.unwrap(), json!([]));
    assert!(!store.objects().await.contains(&key), "the object is deleted with its row");
}

#[tokio::test]
async fn files_on_gcs() {
    files_on(Backend::Gcs).await;
}

#[tokio::test]
async fn files_on_s3() {
    files_on(Backend::S3).await;
}

#[tokio::test]
async fn files_in_a_directory() {
    files_on(Backend::Local).await;
}

/// Behind the stack's nginx (`MEDIA_ACCEL_REDIRECT`), a local file is handed to nginx after the owner check: no
/// bytes from the application, the describing headers, and the internal location of the checked key.
#[tokio::test]
async fn local_files_are_handed_to_nginx_when_asked() {
    let store = Store::new(Backend::Local).await;
    let mut env = store.media_env();
    env.push(("MEDIA_ACCEL_REDIRECT".into(), "true".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::spawn_with(&env).await;
    let csrf = app.signup("ada@example.com").await;
    let note = new_note(&app, &csrf).await;
    let response = upload(&app.client, &app, Some(&csrf), &note, "scan.pdf", b"%PDF-1.7\n%\xe2\xe3\n").await;
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let key: String = app.db.client().await.query_one("SELECT key FROM note_files", &[]).await.unwrap().get(0);
    let handed = app.get(&location).await;
    assert_eq!(handed.status(), 200);
    assert_eq!(handed.headers()["x-accel-redirect"], format!("/media/{key}").as_str());
    assert_eq!(handed.headers()["content-type"], "application/pdf");
    assert_eq!(handed.headers()["content-disposition"], "attachment; filename*=UTF-8''scan%2Epdf");
    assert!(handed.bytes().await.unwrap().is_empty());
    let other = app.other_client();
    error_code(other.get(app.url(&location)).send().await.unwrap(), 401).await;
}

/// A row whose key is not one the application makes (written by hand, or by an attacker with database access) is
/// never followed into storage: its download is not found, and its deletion leaves the store alone.
#[tokio::test]
async fn keys_of_another_shape_are_never_followed() {
    let store = Store::new(Backend::Local).await;
    let secret = format!("secret-{}.png", uuid::Uuid::new_v4().simple());
    let outside = store.dir.as_ref().unwrap().join(format!("../{secret}"));
    std::fs::write(&outside, png(100)).unwrap();
    let app = spawn(&store).await;
    let csrf = app.signup("ada@example.com").await;
    let note = new_note(&app, &csrf).await;
    let db = app.db.client().await;
    for key in [format!("../{secret}"), format!("notes/{note}/../../../{secret}"), "/etc/passwd".to_string()] {
        let id: uuid::Uuid = db
            .query_one(
                "INSERT INTO note_files (note_id, owner_id, key, filename, content_type, size)
                 SELECT id, owner_id, $1, 'secret.png', 'image/png', 100 FROM notes RETURNING id",
                &[&key],
            )
            .await
            .unwrap()
            .get(0);
        let url = format!("/api/notes/{note}/files/{id}");
        error_code(app.get(&url).await, 404).await;
        let response = app.client.delete(app.url(&url)).header("X-CSRF-Token", &csrf).send().await.unwrap();
        assert_eq!(response.status(), 204, "the row goes");
    }
    assert!(outside.exists(), "the file outside the store is untouched");
    std::fs::remove_file(outside).unwrap();
}

/// Deleting a note deletes its files' objects through the `media.delete` task (enqueued with the deletion, run by
/// the real worker); the nightly `media.sweep` removes objects no row names once they are an hour old, and only
/// those.
#[tokio::test]
async fn note_deletion_and_the_sweep_remove_objects() {
    let store = Store::new(Backend::Local).await;
    let dir = store.dir.clone().unwrap();
    let app = spawn(&store).await;
    let csrf = app.signup("ada@example.com").await;
    let gone = new_note(&app, &csrf).await;
    let kept = new_note(&app, &csrf).await;
    for note in [&gone, &gone, &kept] {
        assert_eq!(upload(&app.client, &app, Some(&csrf), note, "a.png", &png(5000)).await.status(), 201);
    }
    let db = app.db.client().await;
    let kept_key: String = db
        .query_one("SELECT key FROM note_files WHERE note_id = $1", &[&uuid::Uuid::parse_str(&kept).unwrap()])
        .await
        .unwrap()
        .get(0);
    let response = app.client.delete(app.url(&format!("/api/notes/{gone}"))).header("X-CSRF-Token", &csrf).send();
    assert_eq!(response.await.unwrap().status(), 204);
    assert_eq!(app.db.count("note_files").await, 1, "the rows went with the note");
    assert_eq!(stored(&store).await, 3, "the objects wait for the task");

    let broker = TestBroker::new().await;
    let mut env: Vec<(String, String)> = store.media_env();
    env.push(("DATABASE_URL".into(), app.db.url.clone()));
    env.push(("AMQP_URL".into(), broker.url.clone()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let _worker = start_worker(&app.db.url, &broker, &env);
    eventually(30, "the note's objects deleted", || async { (stored(&store).await == 1).then_some(()) }).await;

    // Orphans: one an hour and a half old, one just written; the recorded file is made old too.
    let hours_ago = SystemTime::now() - Duration::from_secs(5400);
    let orphan = |name: &str| dir.join(format!("notes/{kept}/{name}.png"));
    let (old, fresh) = (orphan(&"a".repeat(32)), orphan(&"b".repeat(32)));
    for path in [&old, &fresh] {
        std::fs::write(path, png(100)).unwrap();
    }
    for path in [&old, &dir.join(&kept_key)] {
        std::fs::File::options().write(true).open(path).unwrap().set_modified(hours_ago).unwrap();
    }

    let refused = run_app(&["enqueue", "media.sweep", r#"{"dry_run": "yes"}"#], &env);
    assert!(!refused.status.success(), "a payload that does not fit is refused");
    let enqueued = run_app(&["enqueue", "media.sweep"], &env);
    assert!(enqueued.status.success(), "{}", output_text(&enqueued));
    eventually(30, "the sweep ran", || async {
        let done: i64 = db
            .query_one("SELECT count(*) FROM tasks WHERE task_name = 'media.sweep' AND state = 'succeeded'", &[])
            .await
            .unwrap()
            .get(0);
        (done == 1).then_some(())
    })
    .await;
    assert!(!old.exists(), "the old orphan is swept");
    assert!(fresh.exists(), "a recent object may still be about to be recorded: kept");
    assert!(dir.join(&kept_key).exists(), "a recorded file is kept, however old");
}

/// Files kept in a directory go into each backup (`NAME.media.tar`) and come back with a restore; a damaged archive
/// fails the verification and the restore, and that restore changes neither the database nor the files.
#[tokio::test]
async fn local_media_is_backed_up_and_restored_with_the_database() {
    let media = Store::new(Backend::Local).await;
    let backups = crate::backups::tempdir();
    let app = spawn(&media).await;
    let csrf = app.signup("ada@example.com").await;
    let note = new_note(&app, &csrf).await;
    let photo = png(30_000);
    let response = upload(&app.client, &app, Some(&csrf), &note, "photo.png", &photo).await;
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let db = app.db.client().await;
    let key: String = db.query_one("SELECT key FROM note_files", &[]).await.unwrap().get(0);
    let mut env = crate::backups::local_env(&app.db, &backups);
    env.extend(media.media_env());

    let created = crate::backups::ok(&["backup", "create"], &env);
    assert!(created.contains("With 1 media files"), "{created}");
    let url = crate::backups::urls(&env).pop().unwrap();
    assert!(crate::backups::ok(&["backup", "verify"], &env).contains("is good"));

    // The file is removed (row and object); the restore brings both back.
    let removed = app.client.delete(app.url(&location)).header("X-CSRF-Token", &csrf).send().await.unwrap();
    assert_eq!(removed.status(), 204);
    let stored = media.dir.as_ref().unwrap().join(&key);
    assert!(!stored.exists());
    drop(db);
    let restored = crate::backups::ok(&["backup", "restore", &url, "--yes"], &env);
    assert!(restored.contains("Restored its 1 media files"), "{restored}");
    assert_eq!(std::fs::read(&stored).unwrap(), photo, "the same bytes, under the same key");
    let db = app.db.client().await;
    assert_eq!(db.query_one("SELECT count(*) FROM note_files", &[]).await.unwrap().get::<_, i64>(0), 1);
    let leftovers: Vec<_> = std::fs::read_dir(media.dir.as_ref().unwrap()).unwrap().flatten().collect();
    assert_eq!(leftovers.len(), 1, "only notes/ (no staging directory left): {leftovers:?}");

    // A damaged archive: verification fails, and so does the restore, before anything changes.
    let archive = std::fs::read_dir(backups.join("backups"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.to_string_lossy().ends_with(".media.tar"))
        .expect("the media archive next to the dump");
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    let verified = crate::backups::app(&["backup", "verify"], &env);
    assert!(!verified.status.success());
    assert!(output_text(&verified).contains("corrupted or truncated"), "{}", output_text(&verified));
    db.batch_execute("DELETE FROM note_files").await.unwrap();
    std::fs::remove_file(&stored).unwrap();
    let refused = crate::backups::app(&["backup", "restore", &url, "--yes"], &env);
    assert!(!refused.status.success());
    assert!(output_text(&refused).contains("corrupted or truncated"), "{}", output_text(&refused));
    assert_eq!(db.query_one("SELECT count(*) FROM note_files", &[]).await.unwrap().get::<_, i64>(0), 0);
    assert!(!stored.exists(), "no file from the damaged archive");
    std::fs::remove_dir_all(&backups).ok();
}
