//! Time as a dependency, so schedules and expiry can be tested without waiting.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Clock {
    offset: Arc<Mutex<Duration>>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    pub fn system() -> Self {
        Clock {
            offset: Arc::new(Mutex::new(Duration::zero())),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
            + self
                .offset
                .lock()
                .map(|o| *o)
                .unwrap_or_else(|_| Duration::zero())
    }

    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Moves this clock (and every clone of it) forward, for tests.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut o) = self.offset.lock() {
            *o += by;
        }
    }
}
