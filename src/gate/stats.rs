//! The gate's statistics: Student's t, the paired t interval, an exact (or seeded Monte Carlo)
//! sign-flip permutation test, and the exact McNemar test. Reference values come from SciPy
//! (tests/reference/stats.py).

/// ln Γ(x) (Lanczos, g = 7, n = 9), good to ~15 digits for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction for the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b).
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_bt = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_bt.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_bt.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

/// P(T <= t) for Student's t with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let x = df / (df + t * t);
    let tail = 0.5 * inc_beta(df / 2.0, 0.5, x);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The standard normal p-quantile (Acklam's rational approximation, ~1e-9 relative).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

fn t_pdf(t: f64, df: f64) -> f64 {
    (ln_gamma((df + 1.0) / 2.0)
        - ln_gamma(df / 2.0)
        - 0.5 * (df * std::f64::consts::PI).ln()
        - (df + 1.0) / 2.0 * (1.0 + t * t / df).ln())
    .exp()
}

/// The p-quantile of Student's t: Newton's method from the normal quantile, guarded by a
/// bracket so it cannot wander (exact to ~1e-12).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    let (mut lo, mut hi) = (-1e4, 1e4);
    let mut x = normal_quantile(p);
    for _ in 0..100 {
        let f = t_cdf(x, df) - p;
        if f.abs() < 1e-15 {
            break;
        }
        if f < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let step = f / t_pdf(x, df);
        let next = x - step;
        x = if next.is_finite() && next > lo && next < hi {
            next
        } else {
            0.5 * (lo + hi)
        };
        if step.abs() < 1e-14 * x.abs().max(1.0) {
            break;
        }
    }
    x
}

/// Summary of paired differences.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Paired {
    /// Pairs.
    pub n: usize,
    /// Mean difference (candidate - baseline).
    pub mean: f64,
    /// Sample standard deviation of the differences (none with one pair).
    pub sd: Option<f64>,
    /// One-sided (1 - alpha) lower bound of the mean difference (none with one pair).
    pub lower: Option<f64>,
    /// One-sided (1 - alpha) upper bound of the mean difference (none with one pair).
    pub upper: Option<f64>,
    /// p-value of "the candidate is worse" (H0: mean >= 0).
    pub p_regression: f64,
    /// p-value of "the candidate is not worse by more than the tolerance" (H0: mean <= -tol).
    pub p_noninferior: f64,
    /// Which test produced the p-values: `t`, `sign-flip exact`, `sign-flip sampled`, `mcnemar`.
    pub method: String,
    /// Smallest true difference detectable with 80% power at this n and spread.
    pub mde: Option<f64>,
    /// The Monte Carlo standard error of the p-values, when they were sampled rather than
    /// enumerated (the larger of the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mc_error: Option<f64>,
}

fn mean_sd(d: &[f64]) -> (f64, f64) {
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    let var = if d.len() > 1 {
        d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        f64::NAN
    };
    (mean, var.sqrt())
}

/// The paired t analysis: bounds, one-sided p-values and the minimum detectable effect.
pub fn paired_t(d: &[f64], alpha: f64, tol: f64) -> Paired {
    let n = d.len();
    let (mean, sd) = mean_sd(d);
    if n < 2 || !sd.is_finite() {
        return Paired {
            n,
            mean,
            sd: None,
            lower: None,
            upper: None,
            p_regression: 1.0,
            p_noninferior: 1.0,
            method: "t".into(),
            mde: None,
            mc_error: None,
        };
    }
    let df = (n - 1) as f64;
    let se = sd / (n as f64).sqrt();
    let tq = t_quantile(1.0 - alpha, df);
    if se == 0.0 {
        // Every difference is the same number: the data leave no doubt either way.
        return Paired {
            n,
            mean,
            sd: Some(sd),
            lower: Some(mean),
            upper: Some(mean),
            p_regression: if mean < 0.0 { 0.0 } else { 1.0 },
            p_noninferior: if mean > -tol { 0.0 } else { 1.0 },
            method: "t".into(),
            mde: Some(0.0),
            mc_error: None,
        };
    }
    Paired {
        n,
        mean,
        sd: Some(sd),
        lower: Some(mean - tq * se),
        upper: Some(mean + tq * se),
        p_regression: t_cdf(mean / se, df),
        p_noninferior: 1.0 - t_cdf((mean + tol) / se, df),
        method: "t".into(),
        mde: Some((tq + t_quantile(0.8, df)) * se),
        mc_error: None,
    }
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same report.
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Enumerate all 2^n sign flips up to this n; sample above it.
pub const EXACT_FLIPS_UP_TO: usize = 16;
/// Sign-flip samples when not exact.
pub const FLIP_SAMPLES: usize = 20_000;

/// One-sided sign-flip permutation p-values of the mean: (P(mean* <= observed), P(mean* >= observed)).
/// Exact below [`EXACT_FLIPS_UP_TO`] values; above, seeded Monte Carlo with the +1 correction.
pub fn sign_flip(d: &[f64], seed: u64) -> (f64, f64, bool) {
    let n = d.len();
    if n == 0 {
        return (1.0, 1.0, true);
    }
    let observed: f64 = d.iter().sum();
    let eps = 1e-12 * d.iter().map(|x| x.abs()).sum::<f64>().max(1.0);
    let (mut le, mut ge) = (0u64, 0u64);
    if n <= EXACT_FLIPS_UP_TO {
        let total = 1u64 << n;
        for mask in 0..total {
            let s: f64 = d
                .iter()
                .enumerate()
                .map(|(i, x)| if mask >> i & 1 == 1 { -x } else { *x })
                .sum();
            le += u64::from(s <= observed + eps);
            ge += u64::from(s >= observed - eps);
        }
        (le as f64 / total as f64, ge as f64 / total as f64, true)
    } else {
        let mut rng = SplitMix::new(seed);
        let mut bits = 0u64;
        let mut left = 0;
        for _ in 0..FLIP_SAMPLES {
            let mut s = 0.0;
            for x in d {
                if left == 0 {
                    bits = rng.next_u64();
                    left = 64;
                }
                s += if bits & 1 == 1 { -x } else { *x };
                bits >>= 1;
                left -= 1;
            }
            le += u64::from(s <= observed + eps);
            ge += u64::from(s >= observed - eps);
        }
        let m = FLIP_SAMPLES as f64 + 1.0;
        ((le as f64 + 1.0) / m, (ge as f64 + 1.0) / m, false)
    }
}

/// Exact one-sided McNemar test: with `b` pairs that went pass -> fail and `c` fail -> pass,
/// P(X >= b) for X ~ Binomial(b + c, 1/2): small when the candidate lost significantly.
pub fn mcnemar_regression(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    // Sum in log space so n = 10,000 does not overflow.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let ln_choose = |k: u64| {
        ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
    };
    let p: f64 = (b..=n).map(|k| (ln_choose(k) + ln_half_n).exp()).sum();
    p.min(1.0)
}

/// ln C(n, k).
fn ln_choose(n: u64, k: u64) -> f64 {
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

/// P(X = k) for X ~ Binomial(n, 1/2), k = 0..=n.
fn half_binomial(n: u64) -> Vec<f64> {
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    (0..=n)
        .map(|k| (ln_choose(n, k) + ln_half_n).exp())
        .collect()
}

/// The sign-flip null distribution of the differences, from which both one-sided p-values
/// at any shift `delta` follow: H0 "mean <= delta" (non-inferiority at margin -delta) and H0
/// "mean >= delta" (a regression when delta = 0). Inverting the same p-values gives the
/// interval, so the interval and the decision cannot disagree.
enum Null {
    /// Differences in {-1, 0, +1} (single-sample pass/fail): counts of each. Exact at every
    /// n; at delta = 0 it is the exact McNemar test.
    Ternary {
        /// P(X = k) for the flips among the -1s.
        p1: Vec<f64>,
        /// P(X <= k - 1) for the flips among the 0s, k = 0..=zeros + 1.
        cdf2: Vec<f64>,
        /// P(X = k) for the flips among the +1s.
        p3: Vec<f64>,
        /// How many 0s.
        zero: u64,
    },
    /// Every sign vector (exact) or a seeded sample of them: (s . d, sum of s).
    Flips {
        flips: Vec<(f64, f64)>,
        sum: f64,
        n: f64,
        exact: bool,
        eps: f64,
    },
}

impl Null {
    fn ternary(d: &[f64]) -> Null {
        let count = |f: fn(f64) -> bool| d.iter().filter(|x| f(**x)).count() as u64;
        let zero = count(|x| x == 0.0);
        let p2 = half_binomial(zero);
        let mut cdf2 = vec![0.0; p2.len() + 1];
        for (k, q) in p2.iter().enumerate() {
            cdf2[k + 1] = cdf2[k] + q;
        }
        Null::Ternary {
            p1: half_binomial(count(|x| x < 0.0)),
            cdf2,
            p3: half_binomial(count(|x| x > 0.0)),
            zero,
        }
    }

    fn flips(d: &[f64], seed: u64) -> Null {
        let n = d.len();
        let eps = 1e-12 * d.iter().map(|x| x.abs()).sum::<f64>().max(1.0);
        let sum: f64 = d.iter().sum();
        let exact = n <= EXACT_FLIPS_UP_TO;
        let mut flips = Vec::with_capacity(if exact { 1 << n } else { FLIP_SAMPLES });
        if exact {
            for mask in 0..(1u64 << n) {
                let (mut a, mut b) = (0.0, 0.0);
                for (i, x) in d.iter().enumerate() {
                    let s = if mask >> i & 1 == 1 { -1.0 } else { 1.0 };
                    a += s * x;
                    b += s;
                }
                flips.push((a, b));
            }
        } else {
            let mut rng = SplitMix::new(seed);
            let (mut bits, mut left) = (0u64, 0);
            for _ in 0..FLIP_SAMPLES {
                let (mut a, mut b) = (0.0, 0.0);
                for x in d {
                    if left == 0 {
                        bits = rng.next_u64();
                        left = 64;
                    }
                    let s = if bits & 1 == 1 { -1.0 } else { 1.0 };
                    a += s * x;
                    b += s;
                    bits >>= 1;
                    left -= 1;
                }
                flips.push((a, b));
            }
        }
        Null::Flips {
            flips,
            sum,
            n: n as f64,
            exact,
            eps,
        }
    }

    fn exact(&self) -> bool {
        match self {
            Null::Ternary { .. } => true,
            Null::Flips { exact, .. } => *exact,
        }
    }

    /// (P(S* >= S), P(S* <= S)) for the differences shifted by `-delta`.
    fn p(&self, delta: f64) -> (f64, f64) {
        match self {
            Null::Flips {
                flips,
                sum,
                n,
                exact,
                eps,
            } => {
                let observed = sum - n * delta;
                let (mut ge, mut le) = (0u64, 0u64);
                for (a, b) in flips {
                    let s = a - delta * b;
                    ge += u64::from(s >= observed - eps);
                    le += u64::from(s <= observed + eps);
                }
                if *exact {
                    let m = flips.len() as f64;
                    (ge as f64 / m, le as f64 / m)
                } else {
                    // The +1 correction keeps a sampled p-value valid.
                    let m = flips.len() as f64 + 1.0;
                    ((ge as f64 + 1.0) / m, (le as f64 + 1.0) / m)
                }
            }
            Null::Ternary { p1, cdf2, p3, zero } => {
                // Shifted values v = -1-delta, -delta, 1-delta (the -1s, 0s and +1s).
                // Flipping X of a group's k signs moves the sum by -2 v X, so
                // S* >= S  <=>  sum(v X) <= 0  and  S* <= S  <=>  sum(v X) >= 0.
                let (v1, v2, v3) = (-1.0 - delta, -delta, 1.0 - delta);
                let cdf = |k: f64| -> f64 {
                    // P(X2 <= k) for a real k.
                    if k < 0.0 {
                        0.0
                    } else if k >= *zero as f64 {
                        1.0
                    } else {
                        cdf2[k.floor() as usize + 1]
                    }
                };
                let eps = 1e-9;
                let (mut ge, mut le) = (0.0, 0.0);
                for (x1, q1) in p1.iter().enumerate() {
                    for (x3, q3) in p3.iter().enumerate() {
                        let rest = v1 * x1 as f64 + v3 * x3 as f64;
                        let q = q1 * q3;
                        // P(rest + v2 X2 <= 0) and P(rest + v2 X2 >= 0).
                        let (a, b) = if v2.abs() < eps {
                            (
                                if rest <= eps { 1.0 } else { 0.0 },
                                if rest >= -eps { 1.0 } else { 0.0 },
                            )
                        } else if v2 > 0.0 {
                            let bound = (-rest) / v2;
                            (cdf(bound + eps), 1.0 - cdf((bound - eps).ceil() - 1.0))
                        } else {
                            let bound = (-rest) / v2;
                            (1.0 - cdf((bound - eps).ceil() - 1.0), cdf(bound + eps))
                        };
                        ge += q * a;
                        le += q * b;
                    }
                }
                (ge.min(1.0), le.min(1.0))
            }
        }
    }
}

/// The one-sided (1 - alpha) bounds obtained by inverting the test: the lower bound is the
/// largest shift that "mean <= shift" is still rejected at, the upper the smallest that
/// "mean >= shift" is. `None` when no shift is rejected (too few cases).
fn invert(null: &Null, d: &[f64], alpha: f64) -> (Option<f64>, Option<f64>) {
    if let Null::Flips {
        flips,
        sum,
        n,
        exact,
        eps,
    } = null
    {
        // Each sign vector s counts towards P(S* >= S) from one shift on (its threshold) and
        // towards P(S* <= S) up to one: the bounds are order statistics of those thresholds.
        let corr = if *exact { 0.0 } else { 1.0 };
        let m = flips.len() as f64 + corr;
        let need = alpha * m - corr;
        let (mut always, mut ge_from, mut le_to) = (0.0, Vec::new(), Vec::new());
        for (a, b) in flips {
            let (big_a, big_b) = (a - sum, b - n);
            if big_b == 0.0 {
                always += 1.0;
            } else {
                ge_from.push((big_a + eps) / big_b);
                le_to.push((big_a - eps) / big_b);
            }
        }
        let pick = |mut t: Vec<f64>, descending: bool| -> Option<f64> {
            if always >= need {
                return None;
            }
            let j = (need - always).ceil() as usize - 1;
            t.sort_by(|x, y| {
                if descending {
                    y.total_cmp(x)
                } else {
                    x.total_cmp(y)
                }
            });
            t.get(j).copied()
        };
        return (pick(ge_from, false), pick(le_to, true));
    }
    let lo = d.iter().copied().fold(f64::INFINITY, f64::min) - 1.0;
    let hi = d.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 1.0;
    let bisect = |rejected: &dyn Fn(f64) -> bool, mut yes: f64, mut no: f64| {
        if !rejected(yes) {
            return None;
        }
        for _ in 0..64 {
            let mid = 0.5 * (yes + no);
            if rejected(mid) {
                yes = mid;
            } else {
                no = mid;
            }
        }
        Some(yes)
    };
    let lower = bisect(&|x| null.p(x).0 < alpha, lo, hi);
    let upper = bisect(&|x| null.p(x).1 < alpha, hi, lo);
    (lower, upper)
}

/// The full analysis the gate decides on. One decision rule: the p-values and the interval
/// come from the same test (exact McNemar / sign-flip for single-sample pass/fail scores at
/// every n, the sign-flip test below 30 pairs, the paired t test otherwise), and the interval
/// is that test inverted, so "upper bound below 0" holds exactly when the regression test
/// rejects and "lower bound at least -tolerance" exactly when the non-inferiority test does.
pub fn analyse(d: &[f64], binary: bool, alpha: f64, tol: f64, seed: u64) -> Paired {
    let mut p = paired_t(d, alpha, tol);
    if d.is_empty() {
        return p;
    }
    let null = if binary {
        Some(Null::ternary(d))
    } else if d.len() < 30 {
        Some(Null::flips(d, seed))
    } else {
        None
    };
    if let Some(null) = null {
        p.p_noninferior = null.p(-tol).0;
        p.p_regression = null.p(0.0).1;
        (p.lower, p.upper) = invert(&null, d, alpha);
        p.method = match (binary, null.exact()) {
            (true, _) => "mcnemar (exact)",
            (false, true) => "sign-flip (exact)",
            (false, false) => "sign-flip (seeded sampling)",
        }
        .into();
        if !null.exact() {
            let m = FLIP_SAMPLES as f64;
            let se = |q: f64| (q * (1.0 - q) / m).sqrt();
            p.mc_error = Some(se(p.p_noninferior).max(se(p.p_regression)));
        }
    }
    agree(&mut p, alpha, tol);
    p
}

/// Make the printed bounds say exactly what the p-values decided, whatever the rounding at
/// the boundary: lower >= -tol iff non-inferiority is shown, upper < 0 iff a regression is.
fn agree(p: &mut Paired, alpha: f64, tol: f64) {
    let ni = p.p_noninferior < alpha;
    p.lower = match p.lower {
        Some(l) if ni => Some(l.max(-tol)),
        Some(l) if l >= -tol => Some((-tol).next_down()),
        None if ni => Some(-tol),
        other => other,
    };
    let reg = p.p_regression < alpha;
    p.upper = match p.upper {
        Some(u) if reg => Some(u.min(0.0_f64.next_down())),
        Some(u) if u < 0.0 => Some(0.0),
        None if reg => Some(0.0_f64.next_down()),
        other => other,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    // Generated by tests/reference/stats.py (SciPy); paste its output here when it changes.
    const T_PPF: &[(f64, f64, f64)] = &[
        (0.95, 1.0, 6.313751514675037),
        (0.95, 2.0, 2.9199855803537242),
        (0.95, 9.0, 1.833112932656237),
        (0.95, 29.0, 1.6991270265334972),
        (0.975, 4.0, 2.7764451051977934),
        (0.8, 9.0, 0.8834038596855346),
        (0.99, 100.0, 2.3642173662384813),
        (0.95, 9999.0, 1.6450060333112988),
        (0.05, 5.0, -2.015048373333024),
    ];
    const T_CDF: &[(f64, f64, f64)] = &[
        (0.0, 3.0, 0.5),
        (1.5, 3.0, 0.8847080673775886),
        (-2.1, 10.0, 0.031038622101109265),
        (2.5, 29.0, 0.9908373278307869),
        (-0.3, 1.0, 0.4072264209222577),
        (4.0, 2.0, 0.9714045207910317),
        (1.96, 9999.0, 0.9749882384973949),
    ];
    const PAIRED: &[(&str, f64, f64, f64, f64, f64)] = &[
        (
            "small",
            0.04285714285714286,
            -0.07787901744511155,
            0.16359330315939727,
            0.7419396415790768,
            0.1753743160925347,
        ),
        (
            "regress",
            -0.2375,
            -0.3014232297358981,
            -0.1735767702641019,
            0.0001021725770597537,
            0.9998242585512518,
        ),
        (
            "big",
            -0.012463577,
            -0.015734918613949583,
            -0.009192235386050419,
            1.9118897640512478e-10,
            7.585203052237111e-05,
        ),
    ];
    const SIGN_FLIP_LESS: &[(&[f64], f64)] = &[
        (&[0.1, -0.2, 0.05, 0.3, -0.1, 0.0, 0.15], 0.78125),
        (&[-0.3, -0.2, -0.25, -0.1, -0.4, -0.2], 0.015625),
        (&[-0.5], 0.5),
        (&[0.0, 0.0, 0.0, 0.0], 1.0),
    ];
    const MCNEMAR: &[(u64, u64, f64)] = &[
        (0, 0, 1.0),
        (5, 1, 0.109375),
        (10, 2, 0.019287109375),
        (3, 3, 0.65625),
        (1, 8, 0.998046875),
        (520, 480, 0.10872414660207075),
        (5000, 4800, 0.022202074399923156),
    ];

    #[test]
    fn t_distribution_matches_scipy() {
        for &(p, df, want) in T_PPF {
            assert!(
                close(t_quantile(p, df), want, 1e-8),
                "ppf({p}, {df}) = {} want {want}",
                t_quantile(p, df)
            );
        }
        for &(t, df, want) in T_CDF {
            assert!(
                close(t_cdf(t, df), want, 1e-10),
                "cdf({t}, {df}) = {} want {want}",
                t_cdf(t, df)
            );
        }
    }

    #[test]
    fn paired_t_matches_scipy() {
        let big: Vec<f64> = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/reference/diffs_10000.txt"
        ))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
        assert_eq!(big.len(), 10_000);
        let small = [0.1, -0.2, 0.05, 0.3, -0.1, 0.0, 0.15];
        let regress = [-0.3, -0.2, -0.25, -0.1, -0.4, -0.2, -0.15, -0.3];
        for &(name, mean, lo, hi, p_reg, p_ni) in PAIRED {
            let d: &[f64] = match name {
                "small" => &small,
                "regress" => &regress,
                _ => &big,
            };
            let p = paired_t(d, 0.05, 0.02);
            assert!(close(p.mean, mean, 1e-12), "{name} mean");
            assert!(
                close(p.lower.unwrap(), lo, 1e-9) && close(p.upper.unwrap(), hi, 1e-9),
                "{name} bounds {p:?}"
            );
            assert!(
                close(p.p_regression, p_reg, 1e-9 * p_reg.max(1e-3)),
                "{name} p_reg {} want {p_reg}",
                p.p_regression
            );
            assert!(
                close(p.p_noninferior, p_ni, 1e-9 * p_ni.max(1e-3)),
                "{name} p_ni {} want {p_ni}",
                p.p_noninferior
            );
        }
    }

    #[test]
    fn sign_flip_matches_scipy_exactly() {
        for &(d, want) in SIGN_FLIP_LESS {
            let (le, _, exact) = sign_flip(d, 7);
            assert!(exact);
            assert!(close(le, want, 1e-12), "{d:?}: {le} want {want}");
        }
        // Sampled above 16 values: seeded, so the same input gives the same p-value, and
        // close to the exact answer for a clear shift.
        let d: Vec<f64> = (0..24).map(|i| -0.05 - 0.01 * f64::from(i % 3)).collect();
        let (a, _, exact) = sign_flip(&d, 42);
        assert!(!exact);
        assert_eq!(a, sign_flip(&d, 42).0);
        assert!(a < 0.001, "{a}");
    }

    #[test]
    fn mcnemar_matches_scipy() {
        for &(b, c, want) in MCNEMAR {
            let got = mcnemar_regression(b, c);
            assert!(
                close(got, want, 1e-9 * want.max(1e-6)),
                "b={b} c={c}: {got} want {want}"
            );
        }
    }

    #[test]
    fn the_pass_fail_test_is_exact_at_every_n_and_mcnemar_at_zero() {
        // Identical sides, n = 40, alpha = 1e-5: a sampled p-value could never go below
        // 1/20001; the exact one is 2^-40.
        let d = vec![0.0; 40];
        let p = analyse(&d, true, 1e-5, 0.02, 1);
        assert!(p.p_noninferior < 1e-11, "{p:?}");
        assert_eq!(p.p_regression, 1.0);
        assert!(p.lower.unwrap() >= -0.02 && p.mc_error.is_none(), "{p:?}");
        // At a shift of 0 the test is the exact McNemar test.
        for &(b, c, want) in MCNEMAR.iter().take(5) {
            let mut d = vec![-1.0; b as usize];
            d.extend(vec![1.0; c as usize]);
            d.extend(vec![0.0; 7]);
            let got = Null::ternary(&d).p(0.0).1;
            assert!(close(got, want, 1e-9), "b={b} c={c}: {got} want {want}");
        }
        // It matches the enumerated sign-flip distribution at a non-zero shift.
        let d = [
            -1.0, -1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, -1.0, 0.0,
        ];
        for delta in [-0.02, -0.3, 0.0, 0.25] {
            let (a, b) = (Null::ternary(&d).p(delta), Null::flips(&d, 1).p(delta));
            assert!(
                close(a.0, b.0, 1e-12) && close(a.1, b.1, 1e-12),
                "{delta}: {a:?} {b:?}"
            );
        }
    }

    #[test]
    fn the_interval_and_the_decision_always_agree() {
        let mut rng = SplitMix::new(5);
        for case in 0..120 {
            let n = 2 + (rng.next_u64() % 45) as usize;
            let binary = case % 3 == 0;
            let shift = (rng.next_u64() % 100) as f64 / 500.0 - 0.1;
            let d: Vec<f64> = (0..n)
                .map(|_| {
                    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    if binary {
                        [-1.0, 0.0, 0.0, 1.0][(rng.next_u64() % 4) as usize]
                    } else {
                        (u - 0.5) * 0.6 + shift
                    }
                })
                .collect();
            for alpha in [0.05, 0.01, 1e-5] {
                let p = analyse(&d, binary, alpha, 0.02, 9);
                let ni = p.lower.is_some_and(|l| l >= -0.02);
                let reg = p.upper.is_some_and(|u| u < 0.0);
                assert_eq!(ni, p.p_noninferior < alpha, "case {case} {p:?}");
                assert_eq!(reg, p.p_regression < alpha, "case {case} {p:?}");
            }
        }
    }

    #[test]
    fn sampled_p_values_report_their_monte_carlo_error() {
        let d: Vec<f64> = (0..20).map(|i| 0.01 * f64::from(i % 7) - 0.02).collect();
        let p = analyse(&d, false, 0.05, 0.02, 3);
        assert_eq!(p.method, "sign-flip (seeded sampling)");
        let e = p.mc_error.unwrap();
        assert!(e > 0.0 && e < 0.004, "{e}");
        assert!(analyse(&d[..10], false, 0.05, 0.02, 3).mc_error.is_none());
    }

    #[test]
    fn degenerate_inputs() {
        // n = 1: nothing can be shown.
        let p = analyse(&[-0.5], false, 0.05, 0.02, 1);
        assert_eq!(p.n, 1);
        assert!(p.p_regression >= 0.5 && p.p_noninferior >= 0.5);
        // All equal and zero: no regression; non-inferior within the tolerance.
        let p = analyse(&[0.0; 12], false, 0.05, 0.02, 1);
        assert_eq!(p.p_regression, 1.0);
        assert!(p.p_noninferior < 0.05);
        // All equal and negative beyond the tolerance: a regression.
        let p = paired_t(&[-0.1; 40], 0.05, 0.02);
        assert_eq!((p.p_regression, p.p_noninferior), (0.0, 1.0));
    }
}
