//! Token buckets for requests-per-minute and tokens-per-minute limits.

use std::sync::Mutex;
use std::time::Duration;

// tokio's clock, so tests can run with paused time.
use tokio::time::Instant;

/// A token bucket: `capacity` tokens, refilled continuously at `rate` per second.
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A bucket allowing `per_minute` units a minute, with a burst of ten seconds' worth (at
    /// least one unit): providers count in minute windows, so a short burst is allowed, and a
    /// long run still never outpaces the limit.
    pub fn per_minute(per_minute: f64) -> TokenBucket {
        let rate = (per_minute / 60.0).max(1e-6);
        let capacity = (rate * 10.0).max(1.0);
        TokenBucket {
            capacity,
            rate,
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Take `n` units, waiting as long as the limit requires. A request larger than the
    /// bucket waits until the bucket is full and then takes it all (it cannot be split).
    pub async fn acquire(&self, n: f64) {
        loop {
            let wait = {
                let mut s = self.state.lock().expect("not poisoned");
                let now = Instant::now();
                s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.capacity);
                s.1 = now;
                let need = n.min(self.capacity);
                if s.0 >= need {
                    s.0 -= need;
                    return;
                }
                Duration::from_secs_f64((need - s.0) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limits_the_rate() {
        let b = TokenBucket::per_minute(600.0); // 10 a second
        let start = tokio::time::Instant::now();
        for _ in 0..121 {
            b.acquire(1.0).await;
        }
        let took = start.elapsed().as_secs_f64();
        // A ten-second burst of 100, then 21 more at 10 a second.
        assert!((2.0..2.2).contains(&took), "{took}");
    }
}
