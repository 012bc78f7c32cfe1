//! Headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`, started per test), with the
//! checks every page gets: screenshots at 1280 and 390 px wide, no horizontal scrolling at 390 px, a label for
//! every form field, one `<h1>`, a `lang`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub const WIDE: u32 = 1280;
pub const PHONE: u32 = 390;

/// A browser session and the chromedriver serving it (killed on drop).
pub struct Browser {
    pub client: Client,
    driver: Child,
    base: String,
    shots: PathBuf,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("base", &self.base).finish_non_exhaustive()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where screenshots go: `$CARGO_TARGET_DIR/screenshots/<suite>` (else the workspace's `target/`).
pub fn screenshot_dir(suite: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"), PathBuf::from);
    let dir = target.join("screenshots").join(suite);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Starts chromedriver and a headless Chromium whose pages are relative to `base` (`http://127.0.0.1:PORT`).
    pub async fn start(base: &str, suite: &str) -> Self {
        Self::start_with(base, suite, &[]).await
    }

    /// With extra Chromium flags (`--force-dark-mode`: the system's dark scheme).
    pub async fn start_with(base: &str, suite: &str, flags: &[&str]) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test.sh installs it)");
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-gpu".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={WIDE},900"),
        ];
        args.extend(flags.iter().map(ToString::to_string));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), json!({ "args": args }));
        let webdriver = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&webdriver).await {
                Ok(client) => {
                    return Self { client, driver, base: base.to_string(), shots: screenshot_dir(suite) };
                }
                Err(err) => last_error = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session from chromedriver: {last_error:?}");
    }

    pub async fn open(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    }

    /// Clicks a link to `path` and waits (up to 10 s) until the browser is there: until then, the old page's elements
    /// still answer `wait_text`.
    pub async fn follow(&self, css: &str, path: &str) {
        self.click(css).await;
        for _ in 0..100 {
            if self.path().await == path {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} did not lead to {path}: still on {}", self.path().await);
    }

    /// Waits (up to 10 s) for an element, and returns its text. An element found on a page that is being replaced
    /// goes away before its text is read (Chrome says "stale element" or "node does not belong to the document"):
    /// then it is looked for again, on the new page.
    pub async fn wait_text(&self, css: &str) -> String {
        let mut last_error = String::new();
        for _ in 0..20 {
            let found = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
            let found = match found {
                Ok(found) => found,
                Err(err) => panic!("{css} never appeared on {}: {err}\n{}", self.path().await, self.source().await),
            };
            match found.text().await {
                Ok(text) => return text,
                Err(err) => {
                    last_error = err.to_string();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        panic!("{css} on {}: its text could not be read: {last_error}", self.path().await)
    }

    pub async fn value(&self, css: &str) -> String {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.prop("value").await.unwrap().unwrap_or_default()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    pub async fn script(&self, code: &str) -> serde_json::Value {
        self.client.execute(code, vec![]).await.unwrap()
    }

    /// Screenshots at both widths, and the checks every page gets (see the module documentation).
    pub async fn page(&self, name: &str) {
        let problems = self
            .script(
                "const p = [];
                 if (!document.documentElement.lang) p.push('no lang on <html>');
                 if (document.querySelectorAll('h1').length !== 1) p.push('not exactly one <h1>');
                 if (!document.querySelector('main')) p.push('no <main> landmark');
                 for (const el of document.querySelectorAll('input, textarea, select')) {
                   if (el.type === 'hidden') continue;
                   if (el.labels.length === 0 && !el.getAttribute('aria-label')) p.push('no label: ' + (el.name || el.id));
                 }
                 return p;",
            )
            .await;
        assert_eq!(problems, json!([]), "{name}: {problems}");
        for width in [WIDE, PHONE] {
            self.client.set_window_size(width, 900).await.unwrap();
            let overflow = self
                .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                .await;
            assert!(overflow.as_i64().unwrap_or(1) <= 0, "{name} scrolls sideways by {overflow} px at {width} px");
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(self.shots.join(format!("{name}-{width}.png")), png).unwrap();
        }
        self.client.set_window_size(WIDE, 900).await.unwrap();
    }

    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
