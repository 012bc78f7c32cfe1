//! Test harness, one module per real service the tests stand up (as crates.io's `tests/util/`): a database per
//! test ([`db`]), the real server on port 0 ([`app`]), the real binary as a child process ([`process`]), a RabbitMQ
//! vhost per test ([`broker`]), captured mail ([`mail`]) and a TCP relay that can cut a connection ([`proxy`]).

pub mod app;
pub mod assets;
pub mod broker;
pub mod db;
pub mod mail;
pub mod process;
pub mod proxy;

pub use app::{PASSWORD, TestApp, error_code};
pub use assets::built_assets;
pub use broker::TestBroker;
pub use db::{TestDb, diesel_conn};
pub use mail::{link_in, mail_to, unique_email};
pub use process::{AppProcess, output_text, run_app};
pub use proxy::TcpProxy;

/// Polls `check` every 100 ms until it returns `Some`, for at most `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out after {seconds}s waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Runs `cleanup` to its end on a thread with a runtime of its own: `Drop` may run where no runtime can be entered.
pub fn clean_up(cleanup: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(cleanup);
    })
    .join();
}
