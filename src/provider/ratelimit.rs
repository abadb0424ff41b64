//! Token buckets for requests-per-minute and tokens-per-minute limits.

use std::sync::Mutex;
use std::time::Duration;

// tokio's clock, so tests can run with paused time.
use tokio::time::Instant;

/// The arithmetic of a token bucket, without a lock: `capacity` tokens, refilled continuously
/// at `rate` per second. Shared by the configured `rpm`/`tpm` caps and the pacing llmops learns
/// from a provider's rate-limit headers.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Most tokens held.
    pub capacity: f64,
    /// Refill per second.
    pub rate: f64,
    /// Tokens now (as of `at`).
    pub tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(capacity: f64, rate: f64, now: Instant) -> Bucket {
        let capacity = capacity.max(1.0);
        Bucket {
            capacity,
            rate: rate.max(1e-6),
            tokens: capacity,
            at: now,
        }
    }

    /// Refill up to `now`.
    pub fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        self.at = now;
    }

    /// Take `n` tokens now, or say how long until they are there. A request larger than the
    /// bucket waits until the bucket is full and then takes it all (it cannot be split).
    pub fn take(&mut self, n: f64, now: Instant) -> Option<Duration> {
        self.refill(now);
        let need = n.min(self.capacity);
        if self.tokens >= need {
            self.tokens -= need;
            None
        } else {
            Some(Duration::from_secs_f64(
                ((need - self.tokens) / self.rate).min(3600.0),
            ))
        }
    }
}

/// A token bucket with a lock, for a configured hard cap.
pub struct TokenBucket {
    state: Mutex<Bucket>,
}

impl TokenBucket {
    /// A bucket allowing `per_minute` units a minute, with a burst of one second's worth (at
    /// least one unit). A small burst keeps llmops under a provider's own bucket, which usually
    /// allows little more than that: a burst of ten seconds' worth drew 429s at once.
    pub fn per_minute(per_minute: f64) -> TokenBucket {
        let rate = (per_minute / 60.0).max(1e-6);
        TokenBucket {
            state: Mutex::new(Bucket::new(rate, rate, Instant::now())),
        }
    }

    /// Take `n` units, waiting as long as the limit requires; returns the time waited.
    pub async fn acquire(&self, n: f64) -> Duration {
        let start = Instant::now();
        loop {
            let wait = {
                let mut s = self.state.lock().expect("not poisoned");
                match s.take(n, Instant::now()) {
                    None => return start.elapsed(),
                    Some(w) => w,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limits_the_rate_with_a_one_second_burst() {
        let b = TokenBucket::per_minute(600.0); // 10 a second
        let start = tokio::time::Instant::now();
        for _ in 0..10 {
            b.acquire(1.0).await;
        }
        assert!(start.elapsed() < Duration::from_millis(1), "the burst");
        for _ in 0..20 {
            b.acquire(1.0).await;
        }
        let took = start.elapsed().as_secs_f64();
        // A burst of 10, then 20 more at 10 a second.
        assert!((1.95..2.1).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_limit_has_a_burst_of_one() {
        let b = TokenBucket::per_minute(60.0);
        let start = tokio::time::Instant::now();
        b.acquire(1.0).await;
        b.acquire(1.0).await;
        let took = start.elapsed().as_secs_f64();
        assert!((0.95..1.1).contains(&took), "{took}");
    }
}
