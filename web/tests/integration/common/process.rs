//! The real `app` binary as a child process: one-shot commands and long-running roles.

use std::net::SocketAddr;

/// Runs the real `app` binary with only the given environment (nothing leaks in from the developer's shell).
pub fn run_app(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_app"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("running the app binary")
}

/// stdout and stderr of a finished command, as one text for assertions.
pub fn output_text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The real `app` binary as a child process, logging JSON lines that the test can wait for.
pub struct AppProcess {
    pub child: std::process::Child,
    /// Filled in by callers that learn it from the log (the server).
    pub addr: SocketAddr,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line seen so far, for failure messages.
    pub seen: Vec<String>,
}

impl std::fmt::Debug for AppProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppProcess").field("pid", &self.child.id()).finish_non_exhaustive()
    }
}

impl AppProcess {
    /// Starts `app <args>` with only `env` (plus JSON logs unless `env` says otherwise).
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_app"))
            .args(args)
            .env_clear()
            .env("LOG_FORMAT", "json")
            .env("STATIC_DIR", super::built_assets())
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starting the app binary");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), lines, seen: Vec::new() }
    }

    /// The next log line matching `wanted` (within 30 s); every line must be a JSON object.
    pub fn wait_for_line(&mut self, wanted: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the expected log line did not come; seen:\n{}", self.seen.join("\n")));
            self.seen.push(line.clone());
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|err| panic!("log line is not JSON ({err}): {line}"));
            if wanted(&value) {
                return value;
            }
        }
    }

    /// Collects lines printed so far without waiting.
    pub fn drain_lines(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn wait_exit(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() >= deadline {
                self.drain_lines();
                panic!("process still running after {within:?}; log:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
