//! `edge_probe headers`: every `location` of the nginx configuration is asked through the running stack, and each
//! answer must carry the baseline security headers (nginx drops a level's headers in any location that adds its
//! own, which is how files attached to notes once lost their frame protection). A location of the files with no
//! probe here fails the check, so a new one cannot go untested. Also asked: the answers nginx makes itself (413, 429,
//! a request without Host) and that a Range of several parts gets the whole file.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use reqwest::header::{HeaderMap, RANGE};
use serde_json::json;

/// One answer that was checked: what was asked, its status and headers.
pub struct Answer {
    pub what: String,
    pub status: u16,
    pub headers: HeaderMap,
}

/// The locations of the configuration files, as written after `location` (e.g. `= /metrics`, `/media/`).
pub fn locations(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for line in text.lines() {
            if let Some(spec) = line.trim().strip_prefix("location ") {
                found.push(spec.trim_end_matches('{').trim().to_string());
            }
        }
    }
    Ok(found)
}

/// What the baseline misses in `headers` (`hsts`: prod's Strict-Transport-Security too).
pub fn missing(headers: &HeaderMap, hsts: bool) -> Vec<&'static str> {
    let has = |name: &str, value: Option<&str>| {
        headers
            .get_all(name)
            .iter()
            .any(|v| value.is_none_or(|want| v.to_str().is_ok_and(|v| v.eq_ignore_ascii_case(want))))
    };
    let mut missing = Vec::new();
    if !has("x-content-type-options", Some("nosniff")) {
        missing.push("X-Content-Type-Options: nosniff");
    }
    if !has("x-frame-options", Some("DENY")) {
        missing.push("X-Frame-Options: DENY");
    }
    if !has("referrer-policy", Some("strict-origin-when-cross-origin")) {
        missing.push("Referrer-Policy");
    }
    if !has("permissions-policy", None) {
        missing.push("Permissions-Policy");
    }
    if hsts && !has("strict-transport-security", None) {
        missing.push("Strict-Transport-Security");
    }
    missing
}

pub struct Site {
    pub base: String,
    pub client: reqwest::Client,
    /// A signed-in client and its CSRF token (for the private media).
    pub user: reqwest::Client,
    pub csrf: String,
}

impl Site {
    async fn ask(&self, what: &str, request: reqwest::RequestBuilder) -> anyhow::Result<Answer> {
        let response = request.send().await.with_context(|| what.to_string())?;
        Ok(Answer { what: what.to_string(), status: response.status().as_u16(), headers: response.headers().clone() })
    }

    async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.ask(&format!("GET {path}"), self.client.get(format!("{}{path}", self.base))).await
    }

    /// A burst of POSTs to `path` (`json`: the API's shape, else a form) until nginx answers 429; that answer.
    async fn limited(&self, path: &str, json: bool) -> anyhow::Result<Answer> {
        for _ in 0..40 {
            let request = self.client.post(format!("{}{path}", self.base));
            let request = if json {
                request.json(&json!({ "email": "nobody@example.org", "password": "not the password" }))
            } else {
                request.form(&[("email", "nobody@example.org"), ("password", "not the password")])
            };
            let answer = self.ask(&format!("POST {path} (a burst past nginx's limit)"), request).await?;
            if answer.status == 429
                && answer.headers.contains_key("retry-after")
                && answer.headers.contains_key("server")
            {
                // Let the limit (2 a second, bursts of 10) drain before the next probe.
                tokio::time::sleep(Duration::from_secs(6)).await;
                return Ok(answer);
            }
        }
        bail!("POST {path}: 40 requests at once got no 429 with Retry-After from nginx")
    }

    /// A file attached to a new note of the signed-in user, fetched back (nginx sends it from /media/notes/).
    async fn private_file(&self) -> anyhow::Result<Answer> {
        let note: serde_json::Value = self
            .user
            .post(format!("{}/api/notes", self.base))
            .header("X-CSRF-Token", &self.csrf)
            .json(&json!({ "title": "headers probe", "body": "a note with a file" }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = note["id"].as_str().context("the new note's id")?;
        let boundary = "edgeprobeheaders";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"probe.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89");
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let file: serde_json::Value = self
            .user
            .post(format!("{}/api/notes/{id}/files", self.base))
            .header("X-CSRF-Token", &self.csrf)
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let file = file["id"].as_str().context("the new file's id")?;
        let path = format!("/api/notes/{id}/files/{file}");
        let answer = self
            .ask(&format!("GET {path} (the file, from /media/notes/)"), self.user.get(format!("{}{path}", self.base)))
            .await?;
        ensure!(answer.status == 200, "GET {path} answered {}", answer.status);
        Ok(answer)
    }

    /// The answers that reach `location`, or an error naming a location this check does not know.
    pub async fn probe(&self, location: &str) -> anyhow::Result<Vec<Answer>> {
        Ok(match location {
            "= /nginx-health" => vec![self.get("/nginx-health").await?],
            spec if spec.starts_with("~ \"^/static/") => {
                let home = self.client.get(format!("{}/", self.base)).send().await?.text().await?;
                let at = home.find("/static/css/site.").context("the home page links no hashed stylesheet")?;
                let path: String = home[at..].chars().take_while(|c| *c != '"').collect();
                let whole = self.get(&path).await?;
                ensure!(whole.status == 200, "GET {path} answered {}", whole.status);
                let ranges = self
                    .ask(
                        &format!("GET {path} with two ranges"),
                        self.client.get(format!("{}{path}", self.base)).header(RANGE, "bytes=0-0,2-2,4-4"),
                    )
                    .await?;
                ensure!(
                    ranges.status == 200,
                    "a Range of three parts got {} (nginx must send the whole file: max_ranges 1)",
                    ranges.status
                );
                let one = self
                    .ask(
                        &format!("GET {path} with one range"),
                        self.client.get(format!("{}{path}", self.base)).header(RANGE, "bytes=0-9"),
                    )
                    .await?;
                ensure!(one.status == 206, "a Range of one part got {}", one.status);
                vec![whole, ranges, one]
            }
            "/static/" => vec![self.get("/static/no-such-file.txt").await?],
            "= /_errors/50x.html" => vec![], // asked with --web-down (the web role stopped)
            "@method_not_allowed" => {
                let answer =
                    self.ask("TRACE /", self.client.request(reqwest::Method::TRACE, format!("{}/", self.base))).await?;
                ensure!(answer.status == 405, "TRACE / answered {}", answer.status);
                vec![answer]
            }
            "/media/notes/" => vec![self.private_file().await?],
            "/media/" => vec![self.get("/media/no-such-file.png").await?],
            "/monitor/" => vec![self.get("/monitor/").await?],
            "= /metrics" => vec![self.get("/metrics").await?],
            spec if spec.starts_with("~ ^/api/auth/") => {
                let request = self
                    .client
                    .post(format!("{}/api/auth/login", self.base))
                    .json(&json!({ "email": "a@example.org", "password": "wrong password" }));
                vec![self.ask("POST /api/auth/login", request).await?]
            }
            spec if spec.starts_with("~ ^/(?:login") => vec![self.get("/login").await?],
            "@auth_limited_api" => vec![self.limited("/api/auth/login", true).await?],
            "@auth_limited_page" => vec![self.limited("/login", false).await?],
            "/" => vec![self.get("/").await?, self.get("/no-such-page").await?, self.too_large().await?],
            "/mail/" => vec![self.get("/mail/").await?],
            other => bail!("the nginx location `{other}` has no probe in edge_probe headers: add one"),
        })
    }

    /// The web role's own error page, which nginx serves while the web role is down.
    pub async fn upstream_down(&self) -> anyhow::Result<Answer> {
        let answer = self.get("/").await?;
        ensure!((502..=504).contains(&answer.status), "with the web role stopped, GET / answered {}", answer.status);
        Ok(answer)
    }

    /// A request written by hand (`head`: its request line and headers, without the blank line) on a new
    /// connection, for what no client library sends; the answer's status and headers.
    async fn raw(&self, what: &str, head: &str) -> anyhow::Result<Answer> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let address =
            self.base.strip_prefix("http://").context("--base must be http:// for requests written by hand")?;
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream.write_all(format!("{head}\r\n\r\n").as_bytes()).await?;
        let mut raw = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            let mut chunk = [0u8; 4096];
            // Up to the end of the header block: nginx may keep the connection open.
            while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&chunk[..n]);
            }
            anyhow::Ok(())
        });
        read.await.context("no answer within 10 s")??;
        let text = String::from_utf8_lossy(&raw);
        let (head, _) = text.split_once("\r\n\r\n").context("no header block in the answer")?;
        let mut lines = head.lines();
        let status: u16 =
            lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).context("status line")?;
        let mut headers = HeaderMap::new();
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::try_from(name.trim()),
                reqwest::header::HeaderValue::from_str(value.trim()),
            ) {
                headers.append(name, value);
            }
        }
        Ok(Answer { what: what.to_string(), status, headers })
    }

    /// An HTTP/1.0 request without Host: nginx must refuse it itself.
    pub async fn without_host(&self) -> anyhow::Result<Answer> {
        let answer = self.raw("GET /notes over HTTP/1.0 without Host", "GET /notes HTTP/1.0").await?;
        ensure!(
            answer.status == 400,
            "GET /notes over HTTP/1.0 without Host answered {}, not nginx's 400",
            answer.status
        );
        ensure!(!answer.headers.contains_key("x-request-id"), "the request without Host reached the application");
        Ok(answer)
    }

    /// A body past nginx's `client_max_body_size` (announced, not sent): its 413.
    async fn too_large(&self) -> anyhow::Result<Answer> {
        let host = self.base.trim_start_matches("http://");
        let head = format!(
            "POST /api/notes HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close",
            11 << 20
        );
        let answer = self.raw("POST /api/notes of 11 MB (nginx's 413)", &head).await?;
        ensure!(answer.status == 413, "11 MB answered {}", answer.status);
        Ok(answer)
    }
}
