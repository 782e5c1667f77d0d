//! Time is injected so tests can jump 30 minutes at once; nothing reads the system clock
//! (or the database's `now()`) directly.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to — or, made with `following_wall`, runs with the
/// wall clock and can still be pushed forward (for tests of the real worker loop that
/// also skip minutes).
pub struct ManualClock {
    base: AtomicI64,
    running: Option<std::time::Instant>,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock {
            base: AtomicI64::new(start_ms),
            running: None,
        }
    }

    pub fn following_wall() -> ManualClock {
        ManualClock {
            base: AtomicI64::new(SystemClock.now_ms()),
            running: Some(std::time::Instant::now()),
        }
    }

    fn elapsed(&self) -> i64 {
        self.running
            .map(|s| s.elapsed().as_millis() as i64)
            .unwrap_or(0)
    }

    pub fn advance(&self, by: Duration) {
        self.base.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    pub fn set(&self, ms: i64) {
        self.base.store(ms - self.elapsed(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.base.load(Ordering::SeqCst) + self.elapsed()
    }
}
