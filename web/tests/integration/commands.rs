//! Management commands run as the real binary: migrate, createsuperuser, check, and configuration errors.

use crate::common::{TestDb, output_text, run_app};

const ADMIN_PASSWORD: &str = "a long admin password";

#[tokio::test]
async fn migrate_applies_everything_once() {
    let db = TestDb::empty().await;
    let first = run_app(&["migrate"], &[("DATABASE_URL", &db.url)]);
    assert!(first.status.success(), "{}", output_text(&first));
    assert!(output_text(&first).contains("Applied migration"), "{}", output_text(&first));
    assert_eq!(db.count("users").await, 0);
    assert_eq!(db.count("notes").await, 0);

    let again = run_app(&["migrate"], &[("DATABASE_URL", &db.url)]);
    assert!(again.status.success());
    assert!(output_text(&again).contains("No pending migrations."), "{}", output_text(&again));
}

#[tokio::test]
async fn migrate_fails_clearly_without_a_database() {
    let missing = run_app(&["migrate"], &[]);
    assert!(!missing.status.success());
    assert!(output_text(&missing).contains("DATABASE_URL"), "{}", output_text(&missing));

    let unreachable = run_app(&["migrate"], &[("DATABASE_URL", "postgres://app:pw-XYZZY-secret@127.0.0.1:1/app")]);
    assert!(!unreachable.status.success());
    let text = output_text(&unreachable);
    assert!(text.contains("cannot connect"), "{text}");
    assert!(!text.contains("pw-XYZZY-secret"), "password leaked: {text}");
}

#[tokio::test]
async fn createsuperuser_is_idempotent() {
    let db = TestDb::migrated().await;
    let env =
        [("DATABASE_URL", db.url.as_str()), ("ADMIN_EMAIL", "Root@Example.com"), ("ADMIN_PASSWORD", ADMIN_PASSWORD)];
    let first = run_app(&["createsuperuser"], &env);
    assert!(first.status.success(), "{}", output_text(&first));
    assert!(output_text(&first).contains("Created staff user root@example.com"));

    let client = db.client().await;
    let row = client.query_one("SELECT is_staff, password_hash FROM users", &[]).await.unwrap();
    assert!(row.get::<_, bool>(0));
    let hash: String = row.get(1);

    // Again, even with another password from a flag: nothing changes, exit 0.
    let second = run_app(
        &["createsuperuser", "--email", "root@example.com", "--password", "a different password"],
        &[("DATABASE_URL", &db.url)],
    );
    assert!(second.status.success(), "{}", output_text(&second));
    assert!(output_text(&second).contains("already exists; nothing changed"));
    let after: String = client.query_one("SELECT password_hash FROM users", &[]).await.unwrap().get(0);
    assert_eq!(after, hash);
    assert_eq!(db.count("users").await, 1);
}

#[tokio::test]
async fn createsuperuser_refuses_bad_input() {
    let db = TestDb::migrated().await;
    let no_email = run_app(&["createsuperuser"], &[("DATABASE_URL", &db.url), ("ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    assert!(!no_email.status.success());
    assert!(output_text(&no_email).contains("--email"), "{}", output_text(&no_email));

    let bad =
        run_app(&["createsuperuser", "--email", "nope", "--password", ADMIN_PASSWORD], &[("DATABASE_URL", &db.url)]);
    assert!(!bad.status.success());
    assert!(output_text(&bad).contains("ADMIN_EMAIL"), "{}", output_text(&bad));

    let short =
        run_app(&["createsuperuser", "--email", "a@b.example", "--password", "short"], &[("DATABASE_URL", &db.url)]);
    assert!(!short.status.success());
    assert!(output_text(&short).contains("at least 8"), "{}", output_text(&short));
    assert_eq!(db.count("users").await, 0);
}

#[tokio::test]
async fn check_passes_on_a_migrated_database() {
    let db = TestDb::migrated().await;
    let output = run_app(&["check"], &[("DATABASE_URL", &db.url)]);
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(output_text(&output).contains("All checks passed."));
}

#[tokio::test]
async fn check_reports_each_problem_and_fails() {
    let empty = TestDb::empty().await;
    let pending = run_app(&["check"], &[("DATABASE_URL", &empty.url)]);
    assert!(!pending.status.success());
    assert!(output_text(&pending).contains("pending"), "{}", output_text(&pending));

    let unreachable = run_app(
        &["check"],
        &[("DATABASE_URL", "postgres://app:pw-XYZZY-secret@127.0.0.1:1/app"), ("DATABASE_TIMEOUT_SECS", "2")],
    );
    assert!(!unreachable.status.success());
    let text = output_text(&unreachable);
    assert!(text.contains("FAIL  database reachable"), "{text}");
    assert!(!text.contains("pw-XYZZY-secret"), "password leaked: {text}");

    let migrated = TestDb::migrated().await;
    let prod = run_app(&["check"], &[("DATABASE_URL", &migrated.url), ("APP_ENV", "prod")]);
    assert!(!prod.status.success());
    let text = output_text(&prod);
    assert!(text.contains("FAIL  database password"), "{text}");
    assert!(text.contains("FAIL  bind address"), "{text}");

    let no_broker = run_app(
        &["check"],
        &[("DATABASE_URL", &migrated.url), ("AMQP_URL", "amqp://guest:rabbit-XYZZY@127.0.0.1:1/%2f")],
    );
    assert!(!no_broker.status.success());
    let text = output_text(&no_broker);
    assert!(text.contains("ok    database reachable") && text.contains("FAIL  RabbitMQ reachable"), "{text}");
    assert!(!text.contains("rabbit-XYZZY"), "password leaked: {text}");

    let malformed = run_app(&["check"], &[("DATABASE_URL", &migrated.url), ("PORT", "http")]);
    assert!(!malformed.status.success());
    assert!(output_text(&malformed).contains("PORT"), "{}", output_text(&malformed));
}

#[test]
fn server_refuses_to_start_with_bad_configuration() {
    let missing = run_app(&["server"], &[]);
    assert!(!missing.status.success());
    assert!(output_text(&missing).contains("DATABASE_URL: is required"), "{}", output_text(&missing));

    for (name, value) in [("PORT", "eighty"), ("APP_ENV", "production"), ("LOGIN_RATE_LIMIT", "-1"), ("RUST_LOG", "=[")]
    {
        let output =
            run_app(&["server"], &[("DATABASE_URL", "postgres://app:pw-XYZZY-secret@127.0.0.1/app"), (name, value)]);
        assert!(!output.status.success(), "{name}={value} was accepted");
        let text = output_text(&output);
        assert!(text.contains(name), "{name}: {text}");
        assert!(!text.contains("pw-XYZZY-secret"), "password leaked: {text}");
    }
}

#[test]
fn server_refuses_to_start_without_built_assets() {
    let output = run_app(
        &["server"],
        &[("DATABASE_URL", "postgres://app:app@127.0.0.1/app"), ("PORT", "0"), ("STATIC_DIR", "/nonexistent/dist")],
    );
    assert!(!output.status.success());
    let text = output_text(&output);
    assert!(text.contains("no asset manifest at /nonexistent/dist/manifest.json"), "{text}");
    assert!(text.contains("cargo run -p assets -- build"), "says how to build them: {text}");
}

#[tokio::test]
async fn clearsessions_deletes_only_what_is_spent() {
    let db = TestDb::migrated().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO users (id, email, password_hash) VALUES ('00000000-0000-4000-8000-000000000001', 'a@example.com', 'x');
             INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) VALUES
               ('\\x01', '00000000-0000-4000-8000-000000000001', 'c', now() - interval '1 hour'),
               ('\\x02', '00000000-0000-4000-8000-000000000001', 'c', now() + interval '1 hour');
             INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, used_at) VALUES
               ('\\x03', '00000000-0000-4000-8000-000000000001', 'verify_email', now() + interval '1 hour', now()),
               ('\\x04', '00000000-0000-4000-8000-000000000001', 'password_reset', now() - interval '1 minute', NULL),
               ('\\x05', '00000000-0000-4000-8000-000000000001', 'password_reset', now() + interval '1 hour', NULL);
             INSERT INTO login_attempts (client, window_start, attempts) VALUES
               ('1.2.3.4', now() - interval '2 days', 3), ('1.2.3.4', now(), 1);
             INSERT INTO outbox (task_id, task_name, queue, payload, published_at) VALUES
               (gen_random_uuid(), 'probe', 'default', '{}', now() - interval '8 days'),
               (gen_random_uuid(), 'probe', 'default', '{}', now() - interval '1 day'),
               (gen_random_uuid(), 'probe', 'default', '{}', NULL);",
        )
        .await
        .unwrap();
    let output = run_app(&["clearsessions"], &[("DATABASE_URL", &db.url)]);
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(
        output_text(&output).contains(
            "Deleted 1 expired session(s), 2 spent mail token(s), 1 old login counter(s), 1 published outbox row(s)."
        ),
        "{}",
        output_text(&output)
    );
    assert_eq!(
        (db.count("sessions").await, db.count("email_tokens").await, db.count("login_attempts").await),
        (1, 1, 1)
    );
    assert_eq!(db.count("outbox").await, 2, "recent and unpublished outbox rows stay");
}
