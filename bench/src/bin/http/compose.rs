//! The HTTP benchmark through a running compose stack: wrk in a container on the stack's own network, addressed by
//! service name, so that the published port's userland proxy is not in the path.

use anyhow::Context as _;
use bench::Load;

use crate::load::signup;

/// The compose stack's nginx loaded from a wrk container on the stack's network: the static file (nginx's own
/// ceiling on that path), `/healthz`, one note and the first list page. Returns (name, load, ceiling rps).
pub async fn through_compose(project: &str, port: u16, seconds: u32) -> anyhow::Result<Vec<(String, Load, f64)>> {
    let base_image = if std::process::Command::new("docker")
        .args(["image", "inspect", "debian:bookworm-slim"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        "debian:bookworm-slim"
    } else {
        "local-base/debian:bookworm-slim"
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"));
    let built = tokio::process::Command::new("docker")
        .args(["build", "-q", "-t", "app-bench-wrk:local", "--build-arg", &format!("DEBIAN_IMAGE={base_image}")])
        .args(["-f", &format!("{dir}/wrk.Dockerfile"), dir])
        .output()
        .await
        .context("docker build of the wrk image")?;
    anyhow::ensure!(built.status.success(), "building the wrk image: {}", String::from_utf8_lossy(&built.stderr));

    let published = format!("http://127.0.0.1:{port}");
    let (cookie, csrf) = signup(&published).await.context("signing up through the stack's nginx")?;
    let note: serde_json::Value = reqwest::Client::new()
        .post(format!("{published}/api/notes"))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({ "title": "bench", "body": "a short body" }))
        .send()
        .await?
        .json()
        .await?;
    let id = note["id"].as_str().context("no note id")?;
    let network = format!("{project}_default");
    let wrk = |path: String, cookie: Option<String>| {
        let network = network.clone();
        async move {
            let mut command = tokio::process::Command::new("docker");
            command.args(["run", "--rm", "--network", &network, "app-bench-wrk:local"]);
            command.args(["-t", "2", "-c", "64", "-d", &format!("{seconds}s"), "--latency"]);
            if let Some(cookie) = cookie {
                command.args(["-H", &format!("Cookie: {cookie}")]);
            }
            let output = command.arg(format!("http://nginx:8080{path}")).output().await?;
            anyhow::ensure!(output.status.success(), "wrk in a container: {}", String::from_utf8_lossy(&output.stderr));
            bench::parse_wrk(&String::from_utf8_lossy(&output.stdout))
        }
    };
    let ceiling = wrk("/static/css/site.css".into(), None).await?;
    let mut rows = vec![("nginx static file (same path)".to_string(), ceiling, ceiling.rps)];
    for (name, path) in [
        ("GET /healthz", "/healthz".to_string()),
        ("GET /api/notes/{id}", format!("/api/notes/{id}")),
        ("GET /api/notes first page", "/api/notes?per_page=20".to_string()),
    ] {
        let load = wrk(path, Some(cookie.clone())).await?;
        rows.push((format!("{name} via nginx"), load, ceiling.rps));
    }
    Ok(rows)
}
