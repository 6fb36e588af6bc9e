//! K-Series style adaptive throttling: a token bucket per (client, merchant). Lightspeed does
//! not publish K-Series numbers; the sandbox uses a burst of 20 and 5 requests per second,
//! with the refill rate multiplied by the time scale.

use std::time::Instant;

pub const K_BURST: f64 = 20.0;
pub const K_RATE_PER_SEC: f64 = 5.0;

pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(capacity: f64) -> Self {
        Bucket {
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// Requests that could go out now (as of the last take).
    pub fn available(&self) -> f64 {
        self.tokens
    }

    /// Takes one request from the bucket, or returns the seconds until one is available.
    pub fn take(&mut self, capacity: f64, rate: f64) -> Result<(), f64> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - self.tokens) / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_throttle() {
        let mut b = Bucket::new(3.0);
        for _ in 0..3 {
            assert!(b.take(3.0, 0.001).is_ok());
        }
        let wait = b.take(3.0, 0.001).unwrap_err();
        assert!(wait > 0.0);
    }
}
