//! Adaptive concurrency and pacing for one provider: the window of calls in flight grows by
//! one per window of answers and halves on a 429 (AIMD, as TCP and inspect_ai do), shrinks a
//! little when latency climbs, and a provider's own rate-limit headers pace the calls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::ratelimit::Bucket;

/// What a provider's answer said about its limits (any header may be missing).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hints {
    /// `retry-after-ms`, `Retry-After` (seconds or HTTP date) or `llm_provider-retry-after`.
    pub retry_after: Option<Duration>,
    /// `x-ratelimit-limit-requests`: requests a minute.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-remaining-requests`.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-reset-requests`.
    pub reset_requests: Option<Duration>,
    /// `x-ratelimit-limit-tokens`: tokens a minute.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-tokens`.
    pub remaining_tokens: Option<u64>,
    /// `x-ratelimit-reset-tokens`.
    pub reset_tokens: Option<Duration>,
}

impl Hints {
    /// How long a 429 (or a 503 with hints) asks us to wait: an explicit retry-after, else
    /// the reset of a limit that has run out.
    pub fn wait(&self) -> Option<Duration> {
        self.retry_after.or_else(|| {
            let req = (self.remaining_requests == Some(0))
                .then_some(self.reset_requests)
                .flatten();
            let tok = (self.remaining_tokens == Some(0))
                .then_some(self.reset_tokens)
                .flatten();
            req.max(tok)
        })
    }
}

/// Parse a rate-limit duration: OpenAI's Go-style `1s`, `6m0s`, `20ms`, `1h2m3.5s`, or plain
/// seconds (`0.5`). Anything else (negative, not finite, unknown units) is `None`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        let n: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * scale;
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total.min(86_400.0)))
}

/// Wall time during which at least one call waits on a rate limit: the time the limits cost
/// the run, however many calls wait at once.
#[derive(Default)]
pub struct HeldClock {
    state: Mutex<(usize, Option<tokio::time::Instant>, Duration)>,
}

impl HeldClock {
    /// A call starts waiting on a limit.
    pub fn hold(&self) -> Held<'_> {
        let mut s = self.state.lock().expect("not poisoned");
        if s.0 == 0 {
            s.1 = Some(tokio::time::Instant::now());
        }
        s.0 += 1;
        Held(self)
    }

    /// Wall time so far with some call waiting.
    pub fn total(&self) -> Duration {
        let s = self.state.lock().expect("not poisoned");
        s.2 + s
            .1
            .filter(|_| s.0 > 0)
            .map_or(Duration::ZERO, |t| t.elapsed())
    }
}

/// One call waiting on a limit; the clock stops when the last one is done (or dropped).
pub struct Held<'a>(&'a HeldClock);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().expect("not poisoned");
        s.0 -= 1;
        if s.0 == 0 {
            if let Some(t) = s.1.take() {
                s.2 += t.elapsed();
            }
        }
    }
}

/// How an attempt ended, for the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Answered, after this long.
    Ok(Duration),
    /// 429 (or 503 with hints).
    Limited,
    /// Any other failure: says nothing about the limit.
    Failed,
}

/// One call admitted to the provider. Its place in the window is given back by
/// [`Limiter::release`], or, if the call is dropped first (a cancelled run, an aborted task),
/// when it is dropped: a cancelled call never shrinks the window for good.
pub struct Admitted<'a> {
    limiter: &'a Limiter,
    sent: Instant,
    /// Time spent held back by a limit (a pause a 429 asked for, or header pacing).
    pub paced: Duration,
    released: bool,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if !self.released {
            let mut s = self.limiter.state.lock().expect("not poisoned");
            s.in_flight = s.in_flight.saturating_sub(1);
            drop(s);
            self.limiter.notify.notify_one();
        }
    }
}

struct State {
    window: f64,
    /// Below this the window doubles each round (slow start); above it, it grows by one.
    threshold: f64,
    in_flight: usize,
    peak: usize,
    low: f64,
    last_decrease: Instant,
    blocked_until: Instant,
    srtt: Option<f64>,
    base_rtt: Option<f64>,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
}

/// Pace a provider's buckets a little under the rate it announces: clocks and the network
/// differ, and a 429 costs more than 3% of throughput.
const PACE: f64 = 0.97;

/// The window a provider starts with: before its first answer llmops knows nothing of its
/// limits, so it sends a few calls and grows from there, doubling each round trip up to the
/// ceiling (16 → 64 takes two round trips), as TCP's slow start does.
const INITIAL_WINDOW: f64 = 16.0;

/// The adaptive window of one provider.
pub struct Limiter {
    max: usize,
    held: Arc<HeldClock>,
    state: Mutex<State>,
    notify: Notify,
}

/// What the run summary shows about one provider's window.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowStats {
    /// Configured ceiling.
    pub max: usize,
    /// Most calls in flight at once.
    pub peak: usize,
    /// The smallest the window got.
    pub low: usize,
    /// The window at the end.
    pub end: usize,
}

impl Limiter {
    /// A window starting at (and never above) `max`.
    pub fn new(max: usize, held: Arc<HeldClock>) -> Limiter {
        let now = Instant::now();
        Limiter {
            max: max.max(1),
            held,
            state: Mutex::new(State {
                window: (max.max(1) as f64).min(INITIAL_WINDOW),
                threshold: max.max(1) as f64,
                in_flight: 0,
                peak: 0,
                low: (max.max(1) as f64).min(INITIAL_WINDOW),
                last_decrease: now,
                blocked_until: now,
                srtt: None,
                base_rtt: None,
                requests: None,
                tokens: None,
            }),
            notify: Notify::new(),
        }
    }

    /// Window counters.
    pub fn stats(&self) -> WindowStats {
        let s = self.state.lock().expect("not poisoned");
        WindowStats {
            max: self.max,
            peak: s.peak,
            low: s.low.floor() as usize,
            end: s.window.floor() as usize,
        }
    }

    /// Wait for a place in the window, a pause a 429 asked for, and the provider's announced
    /// pace; `tokens` is the call's estimated size. Waiters are spread with jitter, never
    /// released in one instant. A pause that would take the time held back past `budget` is
    /// not slept: `Err` carries how long it would have been in all.
    pub async fn admit(&self, tokens: f64, budget: Duration) -> Result<Admitted<'_>, Duration> {
        let mut paced = Duration::ZERO;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut s = self.state.lock().expect("not poisoned");
                let now = Instant::now();
                if now < s.blocked_until {
                    let left = s.blocked_until - now;
                    // Spread the release over a quarter of the pause (5 ms to 1 s).
                    let spread = (left / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    Some(left + spread.mul_f64(super::jitter()))
                } else if s.in_flight >= s.window.floor() as usize {
                    None
                } else {
                    let r = s.requests.as_mut().and_then(|b| b.take(1.0, now));
                    let t = match r {
                        Some(_) => None,
                        None => s.tokens.as_mut().and_then(|b| b.take(tokens, now)),
                    };
                    if t.is_some() {
                        // Give back the request token: this call is not sent yet.
                        if let Some(b) = s.requests.as_mut() {
                            b.tokens = (b.tokens + 1.0).min(b.capacity);
                        }
                    }
                    match r.or(t) {
                        Some(w) => Some(w + Duration::from_millis(1).mul_f64(super::jitter())),
                        None => {
                            s.in_flight += 1;
                            s.peak = s.peak.max(s.in_flight);
                            return Ok(Admitted {
                                limiter: self,
                                sent: now,
                                paced,
                                released: false,
                            });
                        }
                    }
                }
            };
            match wait {
                Some(d) if paced.saturating_add(d) > budget => return Err(paced.saturating_add(d)),
                Some(d) => {
                    let _held = self.held.hold();
                    tokio::time::sleep(d).await;
                    paced += d;
                }
                None => notified.await,
            }
        }
    }

    /// The call is over: adjust the window from how it went and what the headers said.
    pub fn release(&self, mut admitted: Admitted<'_>, outcome: Outcome, hints: &Hints) {
        admitted.released = true;
        let mut s = self.state.lock().expect("not poisoned");
        let now = Instant::now();
        let full = s.in_flight >= s.window.floor() as usize;
        s.in_flight = s.in_flight.saturating_sub(1);
        let before = s.window.floor();
        match outcome {
            Outcome::Ok(latency) => {
                let ms = latency.as_secs_f64() * 1000.0;
                let srtt = s.srtt.map_or(ms, |x| x + (ms - x) / 8.0);
                s.srtt = Some(srtt);
                // The baseline follows the smoothed latency down at once, up slowly.
                let base = s.base_rtt.map_or(srtt, |b| {
                    if srtt < b {
                        srtt
                    } else {
                        b + (srtt - b) / 100.0
                    }
                });
                s.base_rtt = Some(base);
                let rising = srtt > 2.0 * base && srtt - base > 100.0;
                if rising && admitted.sent >= s.last_decrease {
                    s.window = (s.window * 0.9).max(1.0);
                    s.threshold = s.window;
                    s.last_decrease = now;
                } else if full && !rising {
                    let step = if s.window < s.threshold {
                        1.0
                    } else {
                        1.0 / s.window
                    };
                    s.window = (s.window + step).min(self.max as f64);
                }
            }
            Outcome::Limited => {
                // One decrease per window: the 429s of calls sent before the last decrease
                // answer for the old window.
                if admitted.sent >= s.last_decrease {
                    s.window = (s.window / 2.0).max(1.0);
                    s.threshold = s.window;
                    s.last_decrease = now;
                }
                if let Some(w) = hints.wait() {
                    s.blocked_until = s.blocked_until.max(now + w.min(Duration::from_secs(60)));
                }
            }
            Outcome::Failed => {}
        }
        s.low = s.low.min(s.window);
        learn(&mut s, hints, now);
        let grew = s.window.floor() > before;
        drop(s);
        self.notify.notify_one();
        if grew {
            self.notify.notify_one();
        }
    }
}

/// Mirror the provider's own buckets from its headers: its announced rate (`limit` a minute),
/// never more tokens than it says remain. Without a limit, an exhausted bucket pauses the
/// provider until its reset.
fn learn(s: &mut State, h: &Hints, now: Instant) {
    for (slot, limit, remaining, reset) in [
        (0, h.limit_requests, h.remaining_requests, h.reset_requests),
        (1, h.limit_tokens, h.remaining_tokens, h.reset_tokens),
    ] {
        let Some(rem) = remaining else { continue };
        match limit.filter(|l| *l > 0) {
            Some(l) => {
                let rate = l as f64 / 60.0 * PACE;
                let bucket = if slot == 0 {
                    &mut s.requests
                } else {
                    &mut s.tokens
                };
                let b = bucket.get_or_insert_with(|| {
                    let mut b = Bucket::new(rem as f64, rate, now);
                    b.tokens = rem as f64;
                    b
                });
                b.refill(now);
                b.rate = rate;
                b.capacity = b.capacity.max(rem as f64).max(1.0);
                b.tokens = b.tokens.min(rem as f64);
            }
            None => {
                if rem == 0 {
                    if let Some(r) = reset {
                        s.blocked_until = s.blocked_until.max(now + r.min(Duration::from_secs(60)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s| parse_duration(s);
        assert_eq!(d("1s"), Some(Duration::from_secs(1)));
        assert_eq!(d("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(d("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(d("1h2m3.5s"), Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(d("0.25"), Some(Duration::from_millis(250)));
        for bad in ["", "-1s", "1x", "s", "inf", "NaN", "-3"] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_dropped_call_gives_its_place_back() {
        let l = Limiter::new(2, Arc::default());
        let a = l.admit(1.0, Duration::MAX).await.unwrap();
        let _b = l.admit(1.0, Duration::MAX).await.unwrap();
        // Cancelled before its answer (Ctrl-C, an aborted task): no `release`.
        drop(a);
        tokio::time::timeout(Duration::from_secs(5), l.admit(1.0, Duration::MAX))
            .await
            .expect("the dropped call's place is free again")
            .unwrap();
        assert_eq!(l.stats().peak, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_halves_the_window_once_and_answers_grow_it() {
        let l = Limiter::new(8, Arc::default());
        let mut admitted = Vec::new();
        for _ in 0..8 {
            admitted.push(l.admit(1.0, Duration::MAX).await.unwrap());
        }
        tokio::time::advance(Duration::from_millis(1)).await;
        // Eight 429s from the same window: one decrease.
        for a in admitted {
            l.release(a, Outcome::Limited, &Hints::default());
        }
        assert_eq!(l.stats().end, 4);
        for _ in 0..40 {
            let batch: Vec<_> = fill(&l).await;
            for a in batch {
                l.release(a, Outcome::Ok(Duration::from_millis(50)), &Hints::default());
            }
        }
        let s = l.stats();
        assert_eq!((s.low, s.end, s.peak), (4, 8, 8), "{s:?}");
    }

    /// Admit as many calls as the window holds.
    async fn fill(l: &Limiter) -> Vec<Admitted<'_>> {
        let mut v = Vec::new();
        for _ in 0..l.stats().end {
            v.push(l.admit(1.0, Duration::MAX).await.unwrap());
        }
        v
    }

    #[tokio::test(start_paused = true)]
    async fn rising_latency_shrinks_the_window() {
        let l = Limiter::new(10, Arc::default());
        for ms in [100u64, 100, 100, 100] {
            let a = l.admit(1.0, Duration::MAX).await.unwrap();
            l.release(a, Outcome::Ok(Duration::from_millis(ms)), &Hints::default());
        }
        for _ in 0..20 {
            tokio::time::advance(Duration::from_millis(10)).await;
            let a = l.admit(1.0, Duration::MAX).await.unwrap();
            l.release(
                a,
                Outcome::Ok(Duration::from_millis(2000)),
                &Hints::default(),
            );
        }
        assert!(l.stats().end < 10, "{:?}", l.stats());
    }

    #[tokio::test(start_paused = true)]
    async fn headers_pace_at_the_announced_rate() {
        let l = Limiter::new(64, Arc::default());
        let h = Hints {
            limit_requests: Some(600), // 10 a second
            remaining_requests: Some(2),
            ..Hints::default()
        };
        let a = l.admit(1.0, Duration::MAX).await.unwrap();
        l.release(a, Outcome::Ok(Duration::from_millis(1)), &h);
        let start = Instant::now();
        for _ in 0..12 {
            let a = l.admit(1.0, Duration::MAX).await.unwrap();
            l.release(a, Outcome::Ok(Duration::from_millis(1)), &Hints::default());
        }
        // Two left in the bucket, then ten more at 9.7 a second.
        let took = start.elapsed().as_secs_f64();
        assert!((0.95..1.2).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_limit_without_a_rate_pauses_until_reset() {
        let l = Limiter::new(4, Arc::default());
        let h = Hints {
            remaining_requests: Some(0),
            reset_requests: parse_duration("300ms"),
            ..Hints::default()
        };
        let a = l.admit(1.0, Duration::MAX).await.unwrap();
        l.release(a, Outcome::Ok(Duration::from_millis(1)), &h);
        let start = Instant::now();
        let _b = l.admit(1.0, Duration::MAX).await.unwrap();
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(400),
            "{took:?}"
        );
    }
}
