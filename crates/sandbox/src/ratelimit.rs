//! K-Series style adaptive throttling: a token bucket per (client, merchant). Lightspeed does
//! not publish K-Series numbers; the sandbox uses a burst of 20 and 5 requests per second,
//! with the refill rate multiplied by the time scale.

use std::time::{Duration, Instant};

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

/// Requests a second the sandbox's limiter for `series` sustains once its burst is spent, for
/// a merchant with `registers` registers, at `time_scale`. `None` for an unknown series.
pub fn sustained_rate(series: &str, registers: usize, time_scale: f64) -> Option<f64> {
    let per_second = match series {
        "k" | "o" => K_RATE_PER_SEC,
        "x" => crate::xseries::limit_for(registers) as f64 / crate::xseries::WINDOW_SECS,
        "r" => crate::rseries::budget(registers).drip,
        _ => return None,
    };
    Some(per_second * time_scale)
}

/// The least time this sandbox's limiter for `series` (`k`, `x`, `r` or `o`) lets `requests`
/// requests of one client through, for a merchant with `registers` registers, at `time_scale`:
/// what goes beyond the burst, at the refill rate. `None` for an unknown series. Benchmarks set
/// a backfill's wall time against it.
pub fn least_time(
    series: &str,
    registers: usize,
    requests: u64,
    time_scale: f64,
) -> Option<Duration> {
    let n = requests as f64;
    let rate = sustained_rate(series, registers, time_scale)?;
    let secs = match series {
        "k" | "o" => (n - K_BURST).max(0.0) / rate,
        "x" => {
            // The k-th request (from 0) can go no earlier than ⌊k / limit⌋ windows in.
            let limit = crate::xseries::limit_for(registers) as u64;
            let windows = requests.saturating_sub(1) / limit.max(1);
            windows as f64 * crate::xseries::WINDOW_SECS / time_scale
        }
        "r" => {
            let bucket = (n - crate::rseries::budget(registers).size).max(0.0) / rate;
            // The burst limiter's one-second windows are not scaled.
            let burst = (requests.saturating_sub(1) / u64::from(crate::rseries::BURST)) as f64;
            bucket.max(burst)
        }
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_time_is_what_exceeds_the_burst_at_the_refill_rate() {
        let secs = |s, regs, n, scale| least_time(s, regs, n, scale).map(|d| d.as_secs_f64());
        // K and O: a burst of 20, then 5 a second.
        assert_eq!(secs("k", 1, 20, 1.0), Some(0.0));
        assert_eq!(secs("k", 1, 120, 1.0), Some(20.0));
        assert_eq!(secs("o", 1, 120, 4.0), Some(5.0));
        // X: 350 a window of 300 s for one register; the 351st waits a whole window.
        assert_eq!(secs("x", 1, 350, 1.0), Some(0.0));
        assert_eq!(secs("x", 1, 351, 1.0), Some(300.0));
        assert_eq!(secs("x", 2, 1301, 10.0), Some(60.0));
        // R: a bucket of 90 draining 1/s (one register), and 20 a second at most.
        assert_eq!(secs("r", 1, 190, 1.0), Some(100.0));
        assert_eq!(secs("r", 1, 190, 100.0), Some(9.0));
        assert_eq!(secs("c", 1, 10, 1.0), None);
        assert_eq!(sustained_rate("x", 1, 1.0), Some(350.0 / 300.0));
        assert_eq!(sustained_rate("r", 3, 2.0), Some(4.0));
    }

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
