//! A TCP relay the test can cut: a network outage between the application and a real server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A TCP relay in front of a real server, which the test can cut (close every connection and refuse new ones)
/// and restore: a network outage between the application and that server. It counts the bytes sent upstream and
/// can cut the one connection that is carrying data when that count passes a mark (a connection lost mid-upload).
#[derive(Debug)]
pub struct TcpProxy {
    pub port: u16,
    cut: tokio::sync::watch::Sender<bool>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    /// Bytes relayed from clients to the server.
    upstream: AtomicU64,
    /// Cut the connection that takes `upstream` past this mark (0: never); reset after one cut.
    cut_at: AtomicU64,
    /// Connections cut that way.
    cuts: AtomicU64,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, watch) = tokio::sync::watch::channel(false);
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { break };
                if *watch.borrow() {
                    continue; // dropped: refused
                }
                let mut watch = watch.clone();
                let counters = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let up = async {
                        let mut buffer = vec![0u8; 64 * 1024];
                        loop {
                            let Ok(read) = client_read.read(&mut buffer).await else { return };
                            if read == 0 {
                                let _ = server_write.shutdown().await;
                                // Keep relaying the answer until the server closes.
                                std::future::pending::<()>().await;
                            }
                            let total = counters.upstream.fetch_add(read as u64, Ordering::SeqCst) + read as u64;
                            let mark = counters.cut_at.load(Ordering::SeqCst);
                            if mark != 0
                                && total >= mark
                                && counters.cut_at.compare_exchange(mark, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok()
                            {
                                counters.cuts.fetch_add(1, Ordering::SeqCst);
                                return; // both sockets dropped mid-request
                            }
                            if server_write.write_all(&buffer[..read]).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = tokio::io::copy(&mut server_read, &mut client_write) => {}
                        _ = watch.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut, counters }
    }

    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }

    /// Bytes relayed to the server so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.counters.upstream.load(Ordering::SeqCst)
    }

    /// Cuts the connection whose data takes the upstream count `bytes` past its current value, once.
    pub fn cut_once_after(&self, bytes: u64) {
        self.counters.cut_at.store(self.upstream_bytes() + bytes, Ordering::SeqCst);
    }

    /// Connections cut by [`Self::cut_once_after`].
    pub fn cuts(&self) -> u64 {
        self.counters.cuts.load(Ordering::SeqCst)
    }
}
