//! Client-side pacing. K-Series publishes no numbers, so the pacer adapts: each 429 widens the
//! gap between requests (multiplicatively) and each success narrows it again (additively),
//! and `Retry-After` is always honoured in both its forms.

use chrono::{DateTime, Utc};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::time::sleep;

pub struct Pacer {
    state: Mutex<PacerState>,
}

struct PacerState {
    gap: Duration,
    next_at: Instant,
}

const MAX_GAP: Duration = Duration::from_secs(5);
const STEP_DOWN: Duration = Duration::from_millis(2);

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            state: Mutex::new(PacerState {
                gap: Duration::ZERO,
                next_at: Instant::now(),
            }),
        }
    }
}

impl Pacer {
    /// Waits until the next request may go out.
    pub async fn ready(&self) {
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let at = s.next_at.max(now);
            s.next_at = at + s.gap;
            at - now
        };
        if !wait.is_zero() {
            sleep(wait).await;
        }
    }

    pub fn on_success(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.gap = s.gap.saturating_sub(STEP_DOWN);
    }

    /// Records a 429 and holds every request until `retry_after` has passed.
    pub fn on_throttled(&self, retry_after: Option<Duration>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.gap = (s.gap * 2).max(Duration::from_millis(50)).min(MAX_GAP);
        let hold = Instant::now() + retry_after.unwrap_or(s.gap);
        s.next_at = s.next_at.max(hold);
    }

    pub fn current_gap(&self) -> Duration {
        self.state.lock().map(|s| s.gap).unwrap_or_default()
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_in_both_forms() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 30).unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn throttling_widens_and_success_narrows() {
        let p = Pacer::default();
        p.on_throttled(Some(Duration::ZERO));
        let wide = p.current_gap();
        assert!(wide >= Duration::from_millis(50));
        p.on_success();
        assert!(p.current_gap() < wide);
    }
}
