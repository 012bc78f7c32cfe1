//! The server as a process: it does not migrate by itself, logs JSON lines carrying the request id, and on SIGTERM
//! stops accepting, finishes the request in flight and exits 0.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{AppProcess, TestDb};

fn start_server(database_url: &str) -> AppProcess {
    let mut server = AppProcess::start(
        &["server"],
        &[
            ("DATABASE_URL", database_url),
            ("PORT", "0"),
            ("WEB_WORKERS", "1"),
            ("RUST_LOG", "info"),
            ("SHUTDOWN_TIMEOUT_SECS", "20"),
        ],
    );
    let listening = server.wait_for_line(|line| line["message"] == "listening");
    server.addr = listening["addr"].as_str().unwrap().parse().unwrap();
    server
}

#[tokio::test]
async fn the_server_never_migrates_by_itself() {
    let db = TestDb::empty().await;
    let server = start_server(&db.url);
    let response = reqwest::get(format!("http://{}/readyz", server.addr)).await.unwrap();
    assert_eq!(response.status(), 200, "the database is reachable, just empty");
    let tables: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);
}

#[tokio::test]
async fn logs_are_json_with_the_request_id() {
    let db = TestDb::migrated().await;
    let mut server = start_server(&db.url);
    let client = reqwest::Client::new();
    // Health probes come every few seconds from the container engine: they stay out of the info log.
    for probe in ["healthz", "readyz"] {
        let response = client
            .get(format!("http://{}/{probe}", server.addr))
            .header("X-Request-Id", "probe-quiet")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let response =
        client.get(format!("http://{}/", server.addr)).header("X-Request-Id", "trace-me-4711").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let line = server.wait_for_line(|line| line["message"] == "request finished");
    assert_eq!(line["status"], 200);
    assert!(line["spans"].to_string().contains("trace-me-4711"), "the probes were logged first: {line}");
    assert!(!line.to_string().contains("postgres://"), "configuration leaked into logs: {line}");
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_zero() {
    let db = TestDb::migrated().await;
    let mut server = start_server(&db.url);
    let body = br#"{"email": "nobody@example.com", "password": "wrong password"}"#;
    let (head, tail) = body.split_at(20);

    // A request whose body is still arriving when the signal comes.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /api/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        body.len()
    )
    .unwrap();
    stream.write_all(head).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    server.signal("TERM");
    // New connections are refused once the listener is closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(server.addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting connections after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Dawdle longer than actix's one-second shutdown tick: only a real grace period keeps the request alive.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(server.child.try_wait().unwrap().is_none(), "exited with a request in flight");

    stream.write_all(tail).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.contains("invalid e-mail or password"), "{response}");

    let status = server.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
}

#[tokio::test]
async fn a_server_error_is_logged_once_with_its_cause_and_request_id() {
    let db = TestDb::migrated().await;
    let mut server = start_server(&db.url);
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let signup = client
        .post(format!("http://{}/api/auth/signup", server.addr))
        .json(&serde_json::json!({ "email": "cause@example.org", "password": "long enough password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    // A table the request needs is gone: the query fails, and the client gets a bare 500.
    db.client().await.batch_execute("DROP TABLE note_files, notes CASCADE").await.unwrap();
    let response = client
        .get(format!("http://{}/api/notes", server.addr))
        .header("X-Request-Id", "cause-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(!body.contains("notes\" does not exist"), "the cause reached the client: {body}");
    let mine = |line: &serde_json::Value| line["spans"].to_string().contains("cause-4711");
    let logged = server.wait_for_line(|line| mine(line) && line["level"] == "ERROR");
    assert_eq!(logged["message"], "server error", "{logged}");
    assert_eq!(logged["status"], 500);
    let cause = logged["error"].as_str().unwrap();
    assert!(cause.contains("relation \"notes\" does not exist"), "the cause is not in the log line: {logged}");
    // Exactly one error line for the request: the request's closing line comes after it.
    let finished = server.wait_for_line(|line| mine(line) && line["message"] == "request finished");
    assert_eq!(finished["status"], 500);
    let errors = server
        .seen
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| mine(line) && line["level"] == "ERROR")
        .count();
    assert_eq!(errors, 1, "one error line per 5xx:\n{}", server.seen.join("\n"));
}
