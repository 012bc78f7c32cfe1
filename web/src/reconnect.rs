//! Reconnecting after an outage: the delays between attempts, and a sleep that ends early on shutdown. Used by every
//! loop that holds a connection to RabbitMQ or PostgreSQL (the relay, the worker).

use std::time::Duration;

use tokio::sync::watch;

/// Reconnect delays: doubling from half a second up to thirty.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: Duration::from_millis(500) }
    }
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let current = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(30));
        current
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Waits `delay`, or less if shutdown is requested. True when shutting down.
pub async fn pause(delay: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = shutdown.wait_for(|stop| *stop) => return true,
    }
    *shutdown.borrow()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..9).map(|_| u64::try_from(backoff.next_delay().as_millis()).unwrap()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(500));
    }

    #[tokio::test]
    async fn pause_ends_early_on_shutdown() {
        let (sender, mut receiver) = watch::channel(false);
        let started = std::time::Instant::now();
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            sender.send(true).unwrap();
            sender
        });
        assert!(pause(Duration::from_secs(30), &mut receiver).await);
        assert!(started.elapsed() < Duration::from_secs(10));
        drop(stopper.await);
    }
}
