//! Anytime-valid confidence sequences for `llmops monitor`: intervals that hold at every
//! sample size at once, so checking every night does not raise the false-alarm rate.
//!
//! - Proportions: the beta-binomial mixture (Robbins' method of mixtures with a Jeffreys
//!   Beta(½, ½) prior). `M_n(p) = B(a+s, b+n−s) / B(a, b) / (pˢ (1−p)ⁿ⁻ˢ)` is a nonnegative
//!   martingale under `p`, so by Ville's inequality `P(∃n: M_n(p) ≥ 1/α) ≤ α`; the set
//!   `{p : M_n(p) < 1/α}` is a (1−α) confidence sequence. It narrows like `√(p(1−p)/n)` up to a
//!   log factor, so it stays tight for rare events such as refusals.
//! - Bounded means in [0, 1]: the two-sided normal mixture for ¼-sub-Gaussian increments:
//!   `|Sₙ − nμ| < √((nσ² + ρ) ln((nσ² + ρ) / (ρα²)))` for all n with probability 1−α.
//! - Quantile exceedance: the Dvoretzky–Kiefer–Wolfowitz inequality with Massart's constant,
//!   `sup_t |Fₘ(t) − F(t)| ≤ √(ln(2/α) / 2m)`, holds for every threshold at once, so a
//!   threshold read off the reference sample (its median, its p95) is still covered.
//!
//! A reference does not grow while it is used, so it gets fixed-sample intervals (exact
//! Clopper–Pearson, Hoeffding, DKW); the window under watch gets the confidence sequences.

use crate::gate::stats::{inc_beta, ln_gamma};

/// The prior of the beta-binomial mixture (Jeffreys).
const PRIOR: (f64, f64) = (0.5, 0.5);

/// Sub-Gaussian variance proxy of a variable in [0, 1].
const SIGMA2: f64 = 0.25;

/// Mixture width of the normal mixture: tightest near n = 4ρ samples.
const RHO: f64 = 25.0;

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln M_n(p): the log e-value against "the success probability is `p`" after `s` successes
/// in `n` trials.
pub fn bernoulli_log_e(s: u64, n: u64, p: f64) -> f64 {
    let (a, b) = PRIOR;
    let (s, f) = (s as f64, (n - s.min(n)) as f64);
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let ll = |k: f64, x: f64| if k == 0.0 { 0.0 } else { k * x.ln() };
    ln_beta(a + s, b + f) - ln_beta(a, b) - ll(s, p) - ll(f, 1.0 - p)
}

/// The (1−α) confidence sequence for a proportion after `s` successes in `n` trials.
pub fn bernoulli_cs(s: u64, n: u64, alpha: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let bar = (1.0 / alpha).ln();
    let mle = s as f64 / n as f64;
    // ln M is convex in ln-odds and smallest near the MLE: bisect each side.
    let inside = |p: f64| bernoulli_log_e(s, n, p) < bar;
    let edge = |mut inner: f64, mut outer: f64| {
        if inside(outer) {
            return outer;
        }
        if !inside(inner) {
            return inner;
        }
        for _ in 0..60 {
            let mid = 0.5 * (inner + outer);
            if inside(mid) {
                inner = mid;
            } else {
                outer = mid;
            }
        }
        inner
    };
    (edge(mle, 0.0), edge(mle, 1.0))
}

/// The (1−α) confidence sequence for the mean of a variable in [0, 1] after `n` values
/// summing to `sum`.
pub fn mean_cs(sum: f64, n: u64, alpha: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let v = n * SIGMA2 + RHO;
    let half = (v * (v / (RHO * alpha * alpha)).ln()).sqrt() / n;
    let mean = sum / n;
    ((mean - half).max(0.0), (mean + half).min(1.0))
}

/// The exact (Clopper–Pearson) two-sided (1−α) interval for a proportion from a fixed sample:
/// for a reference that does not grow while it is used.
pub fn clopper_pearson(s: u64, n: u64, alpha: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (s, f) = (s as f64, (n - s.min(n)) as f64);
    // The x with I_x(a, b) = q, by bisection (I is increasing in x).
    let quantile = |a: f64, b: f64, q: f64| {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if inc_beta(a, b, mid) < q {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let lo = if s == 0.0 {
        0.0
    } else {
        quantile(s, f + 1.0, alpha / 2.0)
    };
    let hi = if f == 0.0 {
        1.0
    } else {
        quantile(s + 1.0, f, 1.0 - alpha / 2.0)
    };
    (lo, hi)
}

/// Hoeffding's two-sided (1−α) interval for the mean of `n` fixed values in [0, 1].
pub fn hoeffding(sum: f64, n: u64, alpha: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let half = ((2.0 / alpha).ln() / (2.0 * n as f64)).sqrt();
    let mean = sum / n as f64;
    ((mean - half).max(0.0), (mean + half).min(1.0))
}

/// The DKW band half-width for an empirical distribution of `m` values at level α.
pub fn dkw(m: u64, alpha: f64) -> f64 {
    if m == 0 {
        return 1.0;
    }
    ((2.0 / alpha).ln() / (2.0 * m as f64)).sqrt()
}

/// Two intervals share no point.
pub fn disjoint(a: (f64, f64), b: (f64, f64)) -> bool {
    a.1 < b.0 || b.1 < a.0
}

/// The share of α the `j`-th tested window (0-based) gets: α / ((j+1)(j+2)), which sums to
/// α over all windows, so an alarm in any window ever is controlled at α.
pub fn window_alpha(alpha: f64, j: u64) -> f64 {
    let j = j as f64;
    alpha / ((j + 1.0) * (j + 2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bernoulli_cs_covers_the_mle_and_narrows() {
        let (lo, hi) = bernoulli_cs(20, 1000, 0.05);
        assert!(lo < 0.02 && 0.02 < hi, "{lo} {hi}");
        let (lo2, hi2) = bernoulli_cs(200, 10_000, 0.05);
        assert!(hi2 - lo2 < hi - lo);
        assert_eq!(bernoulli_cs(0, 0, 0.05), (0.0, 1.0));
        let (lo0, hi0) = bernoulli_cs(0, 500, 0.05);
        assert!(lo0 == 0.0 && hi0 > 0.0 && hi0 < 0.03, "{hi0}");
        let (lo1, hi1) = bernoulli_cs(500, 500, 0.05);
        assert!(hi1 == 1.0 && lo1 > 0.97, "{lo1}");
    }

    #[test]
    fn bernoulli_cs_is_wider_than_a_fixed_n_interval() {
        // Wald 95% at n = 1000, p = 0.5 is ±0.031; an anytime interval must be wider.
        let (lo, hi) = bernoulli_cs(500, 1000, 0.05);
        assert!(hi - lo > 0.062, "{lo} {hi}");
        assert!(hi - lo < 0.2, "{lo} {hi}");
    }

    #[test]
    fn mean_cs_is_clipped_and_narrows() {
        let (lo, hi) = mean_cs(50.0, 100, 0.05);
        assert!(lo > 0.0 && hi < 1.0 && lo < 0.5 && hi > 0.5);
        let (lo2, hi2) = mean_cs(5000.0, 10_000, 0.05);
        assert!(hi2 - lo2 < hi - lo);
        assert_eq!(mean_cs(0.0, 0, 0.05), (0.0, 1.0));
    }

    #[test]
    fn clopper_pearson_matches_scipy() {
        // scipy.stats.binomtest(3, 20).proportion_ci(0.95, "exact") = (0.0321, 0.3789)
        let (lo, hi) = clopper_pearson(3, 20, 0.05);
        assert!(
            (lo - 0.032_071).abs() < 1e-4 && (hi - 0.378_927).abs() < 1e-4,
            "{lo} {hi}"
        );
        let (lo, hi) = clopper_pearson(0, 10, 0.05);
        assert!(lo == 0.0 && (hi - 0.308_5).abs() < 1e-3, "{hi}");
        assert_eq!(clopper_pearson(0, 0, 0.05), (0.0, 1.0));
    }

    #[test]
    fn window_alphas_sum_to_alpha() {
        let total: f64 = (0..100_000).map(|j| window_alpha(0.05, j)).sum();
        assert!((total - 0.05).abs() < 1e-6, "{total}");
    }

    /// A seeded simulation: under the null, the fraction of paths on which the 95% sequence
    /// ever misses the true p over 2,000 looks stays below 5%.
    #[test]
    fn bernoulli_cs_holds_at_every_look() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let p = 0.1;
        let paths = 200;
        let mut missed = 0;
        for _ in 0..paths {
            let mut s = 0;
            for n in 1..=2000u64 {
                s += u64::from(next() < p);
                if n % 10 == 0 {
                    let (lo, hi) = bernoulli_cs(s, n, 0.05);
                    if p < lo || p > hi {
                        missed += 1;
                        break;
                    }
                }
            }
        }
        assert!(missed <= paths * 5 / 100, "{missed} of {paths}");
    }
}
