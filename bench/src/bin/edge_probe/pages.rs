//! `edge_probe pages`: every page's query parameters and form fields get hostile values, signed out, as a user and
//! as staff, through nginx. No answer may be a 5xx, every 4xx must be a page showing the error, and no redirect may
//! leave the site. Bounded: `--max-requests` and `--seconds`.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};

use crate::html::{self, Form};

/// Values an attacker types: controls and line breaks, what browsers drop from URLs, other sites, scripts, SQL,
/// template syntax, look-alikes, bidirectional overrides, numbers past every bound, and very long text.
pub fn hostile_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "",
        " ",
        "\t",
        "\0",
        "\r\nSet-Cookie: probe=1",
        "/\t/evil.example",
        "/%09/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "' OR '1'='1' --",
        "'; DROP TABLE users; --",
        "{{7*7}}",
        "${jndi:ldap://x}",
        "../../../../etc/passwd",
        "%00",
        "%ff%fe",
        "%C3%28",
        "\u{202e}fdp.exe",
        "\u{feff}\u{200b}",
        "ａｄｍｉｎ",
        "mixed.case@ｅｘａｍｐｌｅ.org",
        "-1",
        "0",
        "99999999999999999999999",
        "1e308",
        "NaN",
        "2026-13-45",
        "9999-12-31T23:59:60Z",
        "true",
        "null",
        "[]",
        "{\"a\":1}",
        "😀",
        "\u{10ffff}",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    values.push("a".repeat(5_000));
    // Past nginx's 8 KB for a request line (414) in a query; in a form, 210 KB of three-byte characters.
    values.push("b".repeat(9_000));
    values.push("€".repeat(70_000));
    values
}

/// Query parameters every page gets on top of its GET forms' fields (the ones pages read).
const PARAMS: &[&str] = &["next", "cursor", "token", "q"];

/// Raw query strings that no form encoder would make.
const RAW_QUERIES: &[&str] = &[
    "next=%",
    "next=%zz",
    "next=%C3%28",
    "next=%00",
    "next=%0d%0aSet-Cookie:%20x=y",
    "next=/%09/evil.example",
    "cursor=%FF%FE",
    "token=%E2%80%AE",
    "next=a&next=b",
    "a[]=1&a[x]=2",
];

/// Form actions that nginx limits to 2 a second per address: probed slower, every field hostile at once.
const LIMITED: &[&str] = &["/login", "/signup", "/forgot-password", "/reset-password"];

#[derive(Debug, Default)]
pub struct Tally {
    pub requests: u64,
    pub by_status: std::collections::BTreeMap<u16, u64>,
    pub failures: Vec<String>,
}

pub struct Prober {
    pub base: String,
    pub client: reqwest::Client,
    pub who: &'static str,
    pub deadline: Instant,
    pub max_requests: u64,
}

impl Prober {
    fn out_of_budget(&self, tally: &Tally) -> bool {
        tally.requests >= self.max_requests || Instant::now() >= self.deadline
    }

    /// Sends `request`, checks its answer, returns the body of a 200 page.
    async fn check(&self, tally: &mut Tally, what: &str, request: reqwest::RequestBuilder) -> Option<String> {
        tally.requests += 1;
        let response = match request.header(ACCEPT, "text/html").send().await {
            Ok(response) => response,
            Err(err) => {
                tally.failures.push(short(&format!("{}: {what}: no answer: {err}", self.who)));
                return None;
            }
        };
        let status = response.status().as_u16();
        *tally.by_status.entry(status).or_default() += 1;
        let location = response.headers().get(LOCATION).map(|v| v.to_str().unwrap_or("<not text>").to_string());
        let html = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let body = response.text().await.unwrap_or_default();
        let problem = if status >= 500 {
            Some(format!("answered {status}"))
        } else if (300..400).contains(&status) {
            location.filter(|l| !stays_on_site(l, &self.base)).map(|l| format!("redirected off the site to {l:?}"))
        } else if status >= 400 && !(html && html::shows_an_error(&body, status)) {
            Some(format!("answered {status} without a page showing the error (HTML: {html})"))
        } else {
            None
        };
        if let Some(problem) = problem {
            tally.failures.push(short(&format!("{}: {what}: {problem}", self.who)));
        }
        (status == 200 && html).then_some(body)
    }

    /// The site's pages this identity reaches from `start` by links (one per path shape), up to `limit`.
    pub async fn crawl(&self, tally: &mut Tally, start: &[&str], limit: usize) -> Vec<(String, String)> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<String> = start.iter().map(|s| s.to_string()).collect();
        let mut pages = Vec::new();
        while let Some(path) = queue.pop_front() {
            if pages.len() >= limit || self.out_of_budget(tally) {
                break;
            }
            let skip = ["/static/", "/media/", "/api/", "/mail/", "/logout"].iter().any(|p| path.starts_with(p))
                || path.contains("/download");
            if skip || !seen.insert(shape(&path)) {
                continue;
            }
            let request = self.client.get(format!("{}{path}", self.base));
            if let Some(body) = self.check(tally, &format!("GET {path}"), request).await {
                queue.extend(html::links(&body));
                pages.push((path, body));
            }
        }
        pages
    }

    /// Every query parameter of `path` (its GET forms' fields and [`PARAMS`]) with each hostile value, then the raw
    /// query strings.
    pub async fn fuzz_queries(&self, tally: &mut Tally, path: &str, body: &str, values: &[String]) {
        let bare = path.split('?').next().unwrap_or(path);
        let mut params: BTreeSet<String> = PARAMS.iter().map(|p| p.to_string()).collect();
        for form in html::forms(body, bare).iter().filter(|f| f.method == "get") {
            params.extend(form.fields.iter().map(|(name, _)| name.clone()));
        }
        for param in &params {
            // A URL has room for 64 KB at most in the client: longer values go into forms only.
            for value in values.iter().filter(|v| v.len() < 60_000) {
                if self.out_of_budget(tally) {
                    return;
                }
                let request = self.client.get(format!("{}{bare}", self.base)).query(&[(param, value)]);
                self.check(tally, &format!("GET {bare}?{param}={value:?}"), request).await;
            }
        }
        for raw in RAW_QUERIES {
            let request = self.client.get(format!("{}{bare}?{raw}", self.base));
            self.check(tally, &format!("GET {bare}?{raw}"), request).await;
        }
    }

    /// Each field of each POST form of a page with each hostile value, the others as the page gave them (a form nginx
    /// limits: every field at once, paced under the limit); then bodies no browser sends.
    pub async fn fuzz_forms(&self, tally: &mut Tally, path: &str, body: &str, values: &[String]) {
        let bare = path.split('?').next().unwrap_or(path);
        for form in html::forms(body, bare).into_iter().filter(|f| f.method == "post" && f.action != "/logout") {
            if LIMITED.contains(&form.action.split('?').next().unwrap_or_default()) {
                for value in values.iter().take(24) {
                    if self.out_of_budget(tally) {
                        return;
                    }
                    let fields: Vec<_> = form.fields.iter().map(|(n, _)| (n.clone(), value.clone())).collect();
                    self.post(tally, &form, fields, &format!("all fields {value:?}")).await;
                    tokio::time::sleep(Duration::from_millis(520)).await;
                }
                continue;
            }
            for (index, (name, _)) in form.fields.iter().enumerate() {
                for value in values {
                    if self.out_of_budget(tally) {
                        return;
                    }
                    let mut fields = form.fields.clone();
                    fields[index].1.clone_from(value);
                    self.post(tally, &form, fields, &format!("{name}={value:?}")).await;
                }
            }
            for (kind, raw) in [("an empty body", &b""[..]), ("bytes that are not UTF-8", b"title=%FF%FE&\xff\xfe=1")] {
                let request = self
                    .client
                    .post(format!("{}{}", self.base, form.action))
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(raw.to_vec());
                self.check(tally, &format!("POST {} with {kind}", form.action), request).await;
            }
        }
    }

    async fn post(&self, tally: &mut Tally, form: &Form, fields: Vec<(String, String)>, what: &str) {
        let url = format!("{}{}", self.base, form.action);
        let request = if form.multipart {
            let (content_type, body) = multipart(&fields);
            self.client.post(url).header(CONTENT_TYPE, content_type).body(body)
        } else {
            self.client.post(url).form(&fields)
        };
        self.check(tally, &format!("POST {} {what}", form.action), request).await;
    }
}

/// A multipart body of `fields`; a file field (`<file>`, or a field named `file`) is sent as a file whose name is
/// its value.
fn multipart(fields: &[(String, String)]) -> (String, Vec<u8>) {
    let boundary = "edgeprobe7d41a9c2";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        if name == "file" {
            let filename = if value == "<file>" { "probe.png" } else { value.as_str() };
            let filename = filename.replace(['"', '\r', '\n'], "_");
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: image/png\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(b"\x89PNG\r\n\x1a\n not really a picture");
        } else {
            body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
            body.extend_from_slice(value.as_bytes());
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A failure's text, long values cut in the middle (so that a report stays readable).
fn short(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 400 {
        return text.to_string();
    }
    let head: String = chars[..200].iter().collect();
    let tail: String = chars[chars.len() - 150..].iter().collect();
    format!("{head}…({} characters)…{tail}", chars.len() - 350)
}

/// A path with its ids (UUIDs, numbers) as placeholders: pages of one shape are crawled once.
fn shape(path: &str) -> String {
    let bare = path.split('?').next().unwrap_or(path);
    bare.split('/')
        .map(|part| {
            let id = part.len() >= 32 && part.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
            if id || (!part.is_empty() && part.chars().all(|c| c.is_ascii_digit())) { "{id}" } else { part }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a `Location` keeps the browser on this site, after what a browser does to it (controls and spaces
/// trimmed, tabs and line breaks removed, `\` read as `/`).
fn stays_on_site(location: &str, base: &str) -> bool {
    let seen: String = location
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    (seen.starts_with('/') && !seen.starts_with("//")) || seen == base || seen.starts_with(&format!("{base}/"))
}

/// Signs up a fresh account through the API; the client keeps its session.
pub async fn sign_up(base: &str, client: &reqwest::Client, email: &str, password: &str) -> anyhow::Result<()> {
    let response = client
        .post(format!("{base}/api/auth/signup"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .context("signing up")?;
    anyhow::ensure!(response.status() == 201, "signing up {email} answered {}", response.status());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_judged_as_a_browser_reads_them() {
        let base = "http://127.0.0.1:8080";
        for good in ["/notes", "/", "http://127.0.0.1:8080/notes"] {
            assert!(stays_on_site(good, base), "{good}");
        }
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "http://127.0.0.1:8080.evil",
        ] {
            assert!(!stays_on_site(bad, base), "{bad}");
        }
        assert_eq!(shape("/notes/3f1c9a7e-1b2c-4d5e-8f90-123456789abc/edit?x=1"), "/notes/{id}/edit");
    }
}
