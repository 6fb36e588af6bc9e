//! Client-side pacing, one pacer per connection.
//!
//! - Adaptive: each 429 widens the gap between requests (multiplicatively) and each success
//!   narrows it again (additively).
//! - Leaky bucket (R- and O-Series announce their level and drip rate): the level is estimated
//!   forward from the last announcement and a request waits only when it would overflow. Where
//!   the server announces nothing (K-Series), the bucket is assumed and this side counts the
//!   requests into it.
//! - Sliding window (X-Series: `X-RateLimit-Limit` requests per window): requests go out
//!   freely until the window is full, then wait for its oldest request to leave it. Requests
//!   are counted at completion, which is never earlier than the server counted them, so the
//!   budget is used fully without a 429.
//!
//! `Retry-After` is always honoured, in both its forms.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::time::sleep;

pub struct Pacer {
    state: Mutex<PacerState>,
    window: Option<Duration>,
}

struct PacerState {
    gap: Duration,
    next_at: Instant,
    /// Window limit as the server last announced it.
    limit: Option<usize>,
    /// Completion instants of requests inside the window.
    done: VecDeque<Instant>,
    in_flight: usize,
    /// The leaky bucket as last reported, or as assumed and counted here: (level, size, drip
    /// per second, when).
    bucket: Option<(f64, f64, f64, Instant)>,
    /// The server announces no bucket: each completed request is added to the assumed one.
    count_into_bucket: bool,
}

const MAX_GAP: Duration = Duration::from_secs(5);
const STEP_DOWN: Duration = Duration::from_millis(2);

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(None)
    }
}

/// A request's place in the budget; dropping it records the request as completed.
pub struct Slot<'a> {
    pacer: &'a Pacer,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut s = self.pacer.lock();
        let now = Instant::now();
        s.in_flight = s.in_flight.saturating_sub(1);
        if self.pacer.window.is_some() {
            s.done.push_back(now);
        }
        if s.count_into_bucket {
            if let Some((level, _, drip, at)) = s.bucket.as_mut() {
                *level = (*level - now.duration_since(*at).as_secs_f64() * *drip).max(0.0) + 1.0;
                *at = now;
            }
        }
    }
}

impl Pacer {
    /// A pacer that also keeps to a sliding window of `window` (X-Series: 5 minutes).
    pub fn new(window: Option<Duration>) -> Self {
        Pacer {
            state: Mutex::new(PacerState {
                gap: Duration::ZERO,
                next_at: Instant::now(),
                limit: None,
                done: VecDeque::new(),
                in_flight: 0,
                bucket: None,
                count_into_bucket: false,
            }),
            window,
        }
    }

    /// For APIs that announce no budget but are taken to keep a leaky bucket of `size`
    /// requests draining at `per_second`: the bucket is kept here, each completed request added
    /// to it, with the same unit of headroom as an announced one. A 429 still widens the gap
    /// between requests.
    pub fn with_assumed_bucket(self, size: f64, per_second: f64) -> Self {
        {
            let mut s = self.lock();
            s.bucket = Some((0.0, size, per_second, Instant::now()));
            s.count_into_bucket = true;
        }
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PacerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the next request may go out and reserves its place.
    pub async fn ready(&self) -> Slot<'_> {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                let mut window_wait = Duration::ZERO;
                if let (Some(window), Some(limit)) = (self.window, s.limit) {
                    while s
                        .done
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= window)
                    {
                        s.done.pop_front();
                    }
                    if s.done.len() + s.in_flight >= limit {
                        window_wait = match s.done.front() {
                            Some(oldest) => (*oldest + window)
                                .saturating_duration_since(now)
                                .max(Duration::from_millis(1)),
                            None => Duration::from_millis(10),
                        };
                    }
                }
                if let Some((level, size, drip, at)) = s.bucket {
                    // Each request costs at least 1; keep one unit of headroom for rounding.
                    let estimated = (level - now.duration_since(at).as_secs_f64() * drip).max(0.0)
                        + s.in_flight as f64;
                    let over = estimated + 1.0 - (size - 1.0);
                    if over > 0.0 && drip > 0.0 {
                        window_wait = window_wait.max(Duration::from_secs_f64(over / drip));
                    }
                }
                let adaptive_wait = s.next_at.saturating_duration_since(now);
                if window_wait.is_zero() && adaptive_wait.is_zero() {
                    s.next_at = now + s.gap;
                    s.in_flight += 1;
                    return Slot { pacer: self };
                }
                window_wait.max(adaptive_wait)
            };
            sleep(wait).await;
        }
    }

    /// Reads the budget the server announces: X-Series `X-RateLimit-Limit`, R-Series
    /// `X-LS-API-Bucket-Level` and `X-LS-API-Drip-Rate`.
    pub fn observe(&self, headers: &HeaderMap) {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        // X-Series announces its window's limit and what remains of it; R-Series its one-second
        // burst limiter as `used/limit`.
        let burst = text("x-ls-api-burst-level")
            .and_then(|v| v.split_once('/'))
            .and_then(|(u, l)| {
                Some((
                    u.trim().parse::<usize>().ok()?,
                    l.trim().parse::<usize>().ok()?,
                ))
            });
        let x_limit = text("x-ratelimit-limit").and_then(|v| v.parse::<usize>().ok());
        let x_used = x_limit.and_then(|l| {
            text("x-ratelimit-remaining")
                .and_then(|v| v.parse::<usize>().ok())
                .map(|r| l.saturating_sub(r))
        });
        if let Some(limit) = x_limit.or(burst.map(|(_, l)| l)) {
            self.lock().limit = Some(limit);
        }
        // The server counts requests this pacer did not send (another client of the same
        // account, or one made before this pacer existed): count them too.
        if let (Some(window), Some(used)) = (self.window, x_used.or(burst.map(|(u, _)| u))) {
            let now = Instant::now();
            let mut s = self.lock();
            while s
                .done
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                s.done.pop_front();
            }
            let known = s.done.len() + s.in_flight;
            for _ in known..used {
                s.done.push_back(now);
            }
        }
        let bucket = text("x-ls-api-bucket-level")
            .and_then(|v| v.split_once('/'))
            .and_then(|(l, s)| {
                Some((l.trim().parse::<f64>().ok()?, s.trim().parse::<f64>().ok()?))
            });
        let drip = text("x-ls-api-drip-rate").and_then(|v| v.parse::<f64>().ok());
        if let (Some((level, size)), Some(drip)) = (bucket, drip) {
            self.lock().bucket = Some((level, size, drip, Instant::now()));
        }
    }

    pub fn on_success(&self) {
        let mut s = self.lock();
        // Narrow by an eighth (and a step) per success: after a storm the pace recovers in a few
        // dozen requests, not thousands.
        s.gap = (s.gap - s.gap / 8).saturating_sub(STEP_DOWN);
    }

    /// Records a 429 and holds every request until `retry_after` has passed.
    pub fn on_throttled(&self, retry_after: Option<Duration>) {
        let mut s = self.lock();
        s.gap = (s.gap * 2).max(Duration::from_millis(50)).min(MAX_GAP);
        let hold = Instant::now() + retry_after.unwrap_or(s.gap);
        s.next_at = s.next_at.max(hold);
    }

    pub fn current_gap(&self) -> Duration {
        self.lock().gap
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
    fn requests_the_server_counted_but_this_pacer_did_not_send_fill_the_window() {
        let pacer = Pacer::new(Some(Duration::from_secs(1)));
        let mut headers = HeaderMap::new();
        headers.insert("x-ls-api-burst-level", "15/20".parse().unwrap());
        pacer.observe(&headers);
        let state = |p: &Pacer| {
            let s = p.lock();
            (s.limit, s.done.len())
        };
        assert_eq!(state(&pacer), (Some(20), 15));
        // A lower count later adds nothing: what this pacer knows already covers it.
        headers.insert("x-ls-api-burst-level", "3/20".parse().unwrap());
        pacer.observe(&headers);
        assert_eq!(state(&pacer), (Some(20), 15));
        let x = Pacer::new(Some(Duration::from_secs(300)));
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", "350".parse().unwrap());
        headers.insert("x-ratelimit-remaining", "340".parse().unwrap());
        x.observe(&headers);
        assert_eq!(state(&x), (Some(350), 10));
    }

    #[test]
    fn throttling_widens_and_success_narrows() {
        let p = Pacer::default();
        p.on_throttled(Some(Duration::ZERO));
        let wide = p.current_gap();
        assert!(wide >= Duration::from_millis(50));
        p.on_success();
        assert!(p.current_gap() < wide);
        // From the widest gap back to none within a few dozen successes.
        let k = Pacer::default();
        for _ in 0..10 {
            k.on_throttled(None);
        }
        assert_eq!(k.current_gap(), MAX_GAP);
        for _ in 0..45 {
            k.on_success();
        }
        assert_eq!(k.current_gap(), Duration::ZERO);
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;

    #[tokio::test]
    async fn a_full_window_waits_for_its_oldest_request() {
        let p = Pacer::new(Some(Duration::from_millis(200)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", "3".parse().unwrap());
        p.observe(&h);
        let start = Instant::now();
        for _ in 0..3 {
            drop(p.ready().await);
        }
        assert!(
            start.elapsed() < Duration::from_millis(150),
            "the first three go at once"
        );
        drop(p.ready().await);
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "the fourth waits for the window"
        );
    }
}

#[cfg(test)]
mod bucket_tests {
    use super::*;

    #[tokio::test]
    async fn a_nearly_full_bucket_waits_for_it_to_drain() {
        let p = Pacer::default();
        let mut h = HeaderMap::new();
        h.insert("x-ls-api-bucket-level", "88.5/90".parse().unwrap());
        h.insert("x-ls-api-drip-rate", "10".parse().unwrap());
        p.observe(&h);
        let start = Instant::now();
        drop(p.ready().await);
        // 88.5 + 1 must drop to 89 at 10/s: about 50 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(40),
            "{:?}",
            start.elapsed()
        );
        h.insert("x-ls-api-bucket-level", "3.25/90".parse().unwrap());
        p.observe(&h);
        let start = Instant::now();
        drop(p.ready().await);
        assert!(
            start.elapsed() < Duration::from_millis(30),
            "an empty bucket does not wait"
        );
    }
}

#[cfg(test)]
mod assumed_bucket_tests {
    use super::*;

    #[tokio::test]
    async fn an_assumed_bucket_lets_its_burst_go_then_paces_at_its_refill_rate() {
        // A bucket of 4 lets 3 go at once: one unit is kept as headroom.
        let p = Pacer::default().with_assumed_bucket(4.0, 20.0);
        let start = Instant::now();
        for _ in 0..3 {
            drop(p.ready().await);
        }
        let burst = start.elapsed();
        for _ in 0..4 {
            drop(p.ready().await);
        }
        let paced = start.elapsed();
        // The burst goes at once; each of the next four waits for a refill of 50 ms.
        assert!(burst < Duration::from_millis(50), "burst took {burst:?}");
        assert!(paced >= Duration::from_millis(190), "paced took {paced:?}");
    }
}
