//! The dashboard's actions on the real worker's tasks (cancel, retry every dead task a filter shows), its filters,
//! and the Prometheus `/metrics` of the dashboard and the web role.

use crate::common::{TestApp, TestBroker, TestDb, eventually, output_text, run_app};
use crate::dashboard::session_of;
use crate::tasks::start_worker;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn enqueue(app: &TestApp, broker: &TestBroker, payload: &str) -> uuid::Uuid {
    let env = [("DATABASE_URL", app.db.url.as_str()), ("AMQP_URL", broker.url.as_str())];
    let output = run_app(&["enqueue", "probe", payload], &env);
    assert!(output.status.success(), "{}", output_text(&output));
    String::from_utf8_lossy(&output.stdout).trim().parse().unwrap()
}

#[tokio::test]
async fn a_cancelled_task_is_skipped_and_every_dead_task_a_filter_shows_is_retried_until_it_succeeds() {
    let broker = TestBroker::new().await;
    let app = TestApp::spawn_dashboard_on(TestDb::migrated().await, &[("AMQP_URL", &broker.url)]);
    let staff = session_of(&app, "staff@example.com", true).await;
    let cookie = format!("session={}", staff.token);
    let db = app.db.client().await;
    let state = |id: uuid::Uuid| {
        let db = &db;
        async move { db.query_one("SELECT state FROM tasks WHERE task_id = $1", &[&id]).await.unwrap().get::<_, String>(0) }
    };
    let post = |path: String, form: Vec<(&'static str, String)>| {
        client().post(app.url(&path)).header("Cookie", cookie.clone()).header("Accept", "text/html").form(&form).send()
    };
    let csrf = || vec![("csrf_token", staff.csrf_token.clone())];

    // No worker yet: the task waits, and staff cancel it.
    let waiting = enqueue(&app, &broker, "{}");

    // Read-only staff (set by `app staff`) see it and cannot act on it.
    let reader = session_of(&app, "reader@example.com", true).await;
    let env = [("DATABASE_URL", app.db.url.as_str())];
    let output = run_app(&["staff", "--email", "reader@example.com", "--role", "read-only"], &env);
    assert!(output.status.success(), "{}", output_text(&output));
    let output = run_app(&["staff", "--email", "nobody@example.com", "--role", "admin"], &env);
    assert!(!output.status.success() && output_text(&output).contains("no account"), "{}", output_text(&output));
    let read = |path: String| {
        client().get(app.url(&path)).header("Cookie", format!("session={}", reader.token)).header("Accept", "text/html")
    };
    let html = read(format!("/monitor/tasks/{waiting}")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Read-only access") && !html.contains("/cancel"), "{html}");
    let refused = client()
        .post(app.url(&format!("/monitor/tasks/{waiting}/cancel")))
        .header("Cookie", format!("session={}", reader.token))
        .form(&[("csrf_token", reader.csrf_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "read-only staff cannot cancel");
    assert_eq!(state(waiting).await, "queued");
    assert_eq!(post(format!("/monitor/tasks/{waiting}/cancel"), vec![]).await.unwrap().status(), 403, "CSRF");
    let cancelled = post(format!("/monitor/tasks/{waiting}/cancel"), csrf()).await.unwrap();
    assert_eq!(cancelled.status(), 303);
    assert_eq!(state(waiting).await, "cancelled");
    let again = post(format!("/monitor/tasks/{waiting}/cancel"), csrf()).await.unwrap();
    assert_eq!(again.status(), 303, "a second cancel is answered, not an error");
    assert_eq!(state(waiting).await, "cancelled");

    // Two tasks that fail their three attempts, then the worker.
    let failing = [enqueue(&app, &broker, r#"{"fail_runs": 3}"#), enqueue(&app, &broker, r#"{"fail_runs": 3}"#)];
    let _worker = start_worker(&app.db.url, &broker, &[]);
    eventually(60, "both to be dead", || async {
        (state(failing[0]).await == "dead" && state(failing[1]).await == "dead").then_some(())
    })
    .await;
    let skipped = db
        .query_one("SELECT count(*) FROM task_runs WHERE task_id = $1 AND state = 'skipped'", &[&waiting])
        .await
        .unwrap();
    assert_eq!(skipped.get::<_, i64>(0), 1, "the worker received the cancelled task, skipped it and said so");
    assert_eq!(state(waiting).await, "cancelled");

    // Filters, through the JSON API.
    let worker: String = db.query_one("SELECT worker_id FROM workers", &[]).await.unwrap().get(0);
    let listed = |query: String| {
        let (url, cookie) = (app.url(&format!("/monitor/api/tasks?{query}")), cookie.clone());
        async move {
            let response = client().get(url).header("Cookie", cookie).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|t| t["task_id"].as_str().unwrap().to_string()).collect()
    };
    let (_, body) = listed(format!("worker={worker}&error=failed+so+far")).await;
    assert_eq!(ids(&body).len(), 2, "both failed on this worker with that error: {body}");
    let (_, body) = listed("error=50%25+off".into()).await;
    assert!(ids(&body).is_empty(), "wildcards in the error text are taken literally");
    let (_, body) = listed("state=cancelled&queue=default".into()).await;
    assert_eq!(ids(&body), vec![waiting.to_string()], "{body}");
    let (_, body) = listed("min_seconds=600".into()).await;
    assert!(ids(&body).is_empty(), "no attempt took ten minutes");
    let (_, body) = listed("since=2099-01-01T00:00".into()).await;
    assert!(ids(&body).is_empty());
    let (status, body) = listed("since=yesterday".into()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("since"), "the field is named: {body}");

    // Retry every dead task the filter shows: both, audited, their messages taken out of the dead-letter queue,
    // and this time they succeed.
    assert_eq!(broker.ready("tasks.dead").await, 2, "both dead-lettered");
    let mut form = csrf();
    form.push(("name", "probe".to_string()));
    let retried = post("/monitor/tasks/retry-dead".into(), form).await.unwrap();
    assert_eq!(retried.status(), 303);
    let location = retried.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, "/monitor/tasks?state=dead&name=probe", "back to the same listing");
    let audited = db
        .query_one("SELECT count(*) FROM dashboard_actions WHERE action = 'retry (all dead shown)'", &[])
        .await
        .unwrap();
    assert_eq!(audited.get::<_, i64>(0), 2);
    assert_eq!(broker.ready("tasks.dead").await, 0, "the retried tasks' messages are out of tasks.dead");
    eventually(30, "both retried tasks to succeed", || async {
        (state(failing[0]).await == "succeeded" && state(failing[1]).await == "succeeded").then_some(())
    })
    .await;

    // The same history as Prometheus figures.
    let metrics = client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = metrics.text().await.unwrap();
    for expected in [
        r#"task_runs_finished_total{task="probe",state="failed"} 6"#,
        r#"task_runs_finished_total{task="probe",state="succeeded"} 2"#,
        r#"task_runs_finished_total{task="probe",state="skipped"} 1"#,
        r#"tasks{task="probe",state="cancelled"} 1"#,
        "workers_online 1",
        "task_run_duration_seconds_count{task=\"probe\"} 9",
        "rabbitmq_management_up 1",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    let again = client().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(again.contains(r#"task_runs_finished_total{task="probe",state="failed"} 6"#), "counted once: {again}");
}

#[tokio::test]
async fn the_web_role_counts_its_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    let http = client();
    for _ in 0..3 {
        http.get(app.url("/healthz")).send().await.unwrap();
    }
    http.get(app.url("/no/such/page/1")).send().await.unwrap();
    http.get(app.url("/no/such/page/2")).send().await.unwrap();
    http.get(app.url(&format!("/api/notes/{}", uuid::Uuid::new_v4()))).send().await.unwrap();
    let text = http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="GET",route="/healthz",status="200"} 3"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 2"#,
        r#"http_requests_total{method="GET",route="/api/notes/{id}",status="401"} 1"#,
        r#"http_request_duration_seconds_count{method="GET",route="/healthz"} 3"#,
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(!text.contains("/no/such"), "raw paths never become labels");
}

#[tokio::test]
async fn a_paused_queue_keeps_its_tasks_waiting_until_it_is_resumed() {
    let broker = TestBroker::new().await;
    let app = TestApp::spawn_dashboard_on(TestDb::migrated().await, &[("AMQP_URL", &broker.url)]);
    let staff = session_of(&app, "staff@example.com", true).await;
    let mut worker = start_worker(&app.db.url, &broker, &[]);
    let db = app.db.client().await;
    let post = |path: &str| {
        client()
            .post(app.url(path))
            .header("Cookie", format!("session={}", staff.token))
            .form(&[("csrf_token", staff.csrf_token.as_str())])
            .send()
    };
    assert_eq!(post("/monitor/queues/no-such-queue/pause").await.unwrap().status(), 404);
    assert_eq!(post("/monitor/queues/default/pause").await.unwrap().status(), 303);
    worker.wait_for_line(|line| line["message"] == "queue paused: stopped consuming it" && line["queue"] == "default");
    let audited: i64 = db
        .query_one("SELECT count(*) FROM dashboard_actions WHERE action = 'pause queue default'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);

    let task = enqueue(&app, &broker, "{}");
    let state = || async {
        db.query_one("SELECT state FROM tasks WHERE task_id = $1", &[&task]).await.unwrap().get::<_, String>(0)
    };
    eventually(10, "the relay to publish it", || async {
        let published: bool = db
            .query_one("SELECT published_at IS NOT NULL FROM outbox WHERE task_id = $1", &[&task])
            .await
            .unwrap()
            .get(0);
        published.then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(state().await, "queued", "published, and nobody takes it while the queue is paused");
    let html = client()
        .get(app.url("/monitor/"))
        .header("Cookie", format!("session={}", staff.token))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("The queue default is paused (by staff@example.com"), "{html}");

    assert_eq!(post("/monitor/queues/default/resume").await.unwrap().status(), 303);
    eventually(15, "the task to run once resumed", || async { (state().await == "succeeded").then_some(()) }).await;
}
