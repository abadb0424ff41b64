"""Reference values for llmops's gate statistics (src/gate/stats.rs), computed with SciPy.

Run: python3 tests/reference/stats.py   (needs scipy and numpy). It prints Rust constants that
are pasted into the tests of src/gate/stats.rs.
"""
import numpy as np
from scipy import stats

print("const T_PPF: &[(f64, f64, f64)] = &[")
for p, df in [(0.95, 1), (0.95, 2), (0.95, 9), (0.95, 29), (0.975, 4), (0.8, 9), (0.99, 100), (0.95, 9999), (0.05, 5)]:
    print(f"    ({p}, {df}.0, {float(stats.t.ppf(p, df))!r}),")
print("];")
print("const T_CDF: &[(f64, f64, f64)] = &[")
for t, df in [(0.0, 3), (1.5, 3), (-2.1, 10), (2.5, 29), (-0.3, 1), (4.0, 2), (1.96, 9999)]:
    print(f"    ({t}, {df}.0, {float(stats.t.cdf(t, df))!r}),")
print("];")

# Paired t: one-sided p-values and bounds at alpha = 0.05, tolerance 0.02.
def paired(d, alpha=0.05, tol=0.02):
    d = np.asarray(d, dtype=float)
    n = len(d)
    m = d.mean()
    se = d.std(ddof=1) / np.sqrt(n)
    tq = stats.t.ppf(1 - alpha, n - 1)
    p_reg = stats.ttest_1samp(d, 0.0, alternative="less").pvalue
    p_ni = stats.ttest_1samp(d + tol, 0.0, alternative="greater").pvalue
    return m, m - tq * se, m + tq * se, p_reg, p_ni

rng = np.random.default_rng(7)
big = np.round(rng.normal(-0.01, 0.2, 10_000), 6)
np.savetxt("tests/reference/diffs_10000.txt", big, fmt="%.6f")
print("const PAIRED: &[(&str, f64, f64, f64, f64, f64)] = &[")
for name, d in [("small", [0.1, -0.2, 0.05, 0.3, -0.1, 0.0, 0.15]), ("regress", [-0.3, -0.2, -0.25, -0.1, -0.4, -0.2, -0.15, -0.3]), ("big", big)]:
    m, lo, hi, pr, pn = paired(d)
    print(f"    (\"{name}\", {float(m)!r}, {float(lo)!r}, {float(hi)!r}, {float(pr)!r}, {float(pn)!r}),")
print("];")

# Exact sign-flip permutation (one-sample, H1: mean < 0), as scipy.stats.permutation_test.
def flip_less(d):
    d = np.asarray(d, dtype=float)
    if len(d) == 1:
        # SciPy needs two observations; with one, the two flips are enumerated by hand.
        return float(np.mean([-d[0] <= d[0], d[0] <= d[0]]))
    r = stats.permutation_test((d,), np.mean, permutation_type="samples", alternative="less", n_resamples=np.inf)
    return r.pvalue
print("const SIGN_FLIP_LESS: &[(&[f64], f64)] = &[")
for d in [[0.1, -0.2, 0.05, 0.3, -0.1, 0.0, 0.15], [-0.3, -0.2, -0.25, -0.1, -0.4, -0.2], [-0.5], [0.0, 0.0, 0.0, 0.0]]:
    print(f"    (&{d!r}, {float(flip_less(d))!r}),")
print("];")

# Exact McNemar, one-sided: P(X >= b), X ~ Binomial(b + c, 0.5).
print("const MCNEMAR: &[(u64, u64, f64)] = &[")
for b, c in [(0, 0), (5, 1), (10, 2), (3, 3), (1, 8), (520, 480), (5000, 4800)]:
    p = stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0
    print(f"    ({b}, {c}, {float(p)!r}),")
print("];")
