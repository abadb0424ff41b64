//! The gate: pair baseline and candidate cases by id, compare per-case scores with statistics
//! rather than noise, and decide PASS / FAIL / INCONCLUSIVE / ERROR. Pure functions over
//! data, so `llmops gate` and `llmops merge` decide the same way.

pub mod baseline;
pub mod dims;
pub mod html;
pub mod pair;
pub mod render;
pub mod stats;
pub mod stored;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::Check;
use stats::Paired;

/// The outcome for a suite or the whole gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Not worse beyond the tolerance.
    Pass,
    /// Neither shown: more data needed.
    Inconclusive,
    /// A significant regression, a missed threshold, or a critical flip.
    Fail,
    /// Too many errored calls to judge.
    Error,
}

impl Verdict {
    /// The word printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        }
    }
}

/// One case on one side, averaged over its samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Mean score over samples that did not error; `None` when every sample errored.
    pub score: Option<f64>,
    /// Counts as passing.
    pub passed: bool,
    /// Samples run.
    pub samples: u32,
    /// Samples that errored.
    pub errors: u32,
    /// Critical assertions (by kind and index) that passed in most samples.
    pub critical_ok: Vec<String>,
    /// The first sample's output.
    pub output: Option<String>,
    /// Why it failed, when it did.
    pub reasons: Vec<String>,
    /// Per-metric mean score.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Mean model cost (USD) over samples that answered, when every one was priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Mean latency (ms) over samples that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// One case id across both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// Suite.
    pub suite: String,
    /// Variant.
    pub variant: String,
    /// Case id.
    pub case: String,
    /// The value of the `cluster_by` metadata field, when configured.
    pub cluster: Option<String>,
    /// Baseline, when the case ran there.
    pub baseline: Option<Side>,
    /// Candidate, when the case ran there.
    pub candidate: Option<Side>,
}

/// The policy a decision applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// One-sided significance level.
    pub alpha: f64,
    /// Non-inferiority margin.
    pub tolerance: f64,
    /// Error-rate ceiling.
    pub max_error_rate: f64,
    /// INCONCLUSIVE fails.
    pub strict: bool,
    /// Seed for sampled permutations.
    pub seed: u64,
    /// Relative cost tolerance (`gate.cost_tolerance`); cost is not gated without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_tolerance: Option<f64>,
    /// Relative latency tolerance (`gate.latency_tolerance`); latency is not gated without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_tolerance: Option<f64>,
}

/// The decision for one suite × variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteGate {
    /// Suite.
    pub suite: String,
    /// Variant.
    pub variant: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, one line each.
    pub reasons: Vec<String>,
    /// Pairs compared (both sides scored).
    pub n: usize,
    /// Clusters compared, when clustering.
    pub clusters: Option<usize>,
    /// Mean baseline score over compared pairs.
    pub baseline_score: Option<f64>,
    /// Mean candidate score over compared pairs.
    pub candidate_score: Option<f64>,
    /// Baseline pass rate over every scored baseline case (counted as `eval` counts it).
    pub baseline_pass_rate: Option<f64>,
    /// Candidate pass rate over every scored candidate case, added ones included: the number
    /// the `pass_rate` threshold is checked against.
    pub candidate_pass_rate: Option<f64>,
    /// The statistics.
    pub stats: Option<Paired>,
    /// Share of samples that errored: (baseline, candidate).
    pub error_rates: (f64, f64),
    /// Absolute thresholds on the candidate.
    pub checks: Vec<Check>,
    /// Case ids only in the candidate.
    pub added: Vec<String>,
    /// Case ids only in the baseline.
    pub removed: Vec<String>,
    /// (case, assertion) whose critical assertion went pass -> fail.
    pub critical_flips: Vec<(String, String)>,
    /// More cases that would resolve an INCONCLUSIVE result, when estimable.
    pub cases_needed: Option<u64>,
    /// The worst regressed cases (most negative difference first).
    pub worst: Vec<Pair>,
    /// Cost and latency, when their tolerances are set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<dims::Dimension>,
}

/// The version of the gate report's JSON shape; docs/schemas/gate-report.schema.json
/// describes it. Bumped on any change a reader could trip over.
pub const SCHEMA: &str = "llmops.gate/1";

/// The whole gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateReport {
    /// The JSON shape's version, [`SCHEMA`] (empty when read from an older report).
    #[serde(default)]
    pub schema: String,
    /// Marks the JSON as a gate report (for `llmops merge`).
    pub kind: String,
    /// What the baseline was.
    pub baseline: String,
    /// What the candidate was.
    pub candidate: String,
    /// The policy applied.
    pub policy: Policy,
    /// The overall verdict: the worst suite's.
    pub verdict: Verdict,
    /// Per suite × variant.
    pub suites: Vec<SuiteGate>,
    /// Suites not gated because nothing they depend on changed.
    pub unchanged: Vec<String>,
    /// Every pair, so shard results can be merged and decided again.
    pub pairs: Vec<Pair>,
    /// Suite thresholds, by suite, for re-deciding merged shards.
    pub thresholds: BTreeMap<String, crate::suite::Thresholds>,
}

impl GateReport {
    /// How the gate ended, for the exit code (SPEC.md): PASS (and INCONCLUSIVE unless
    /// strict) succeed, FAIL is a quality failure, ERROR (too many errored calls) a provider
    /// failure, as it is for `eval`.
    pub fn outcome(&self) -> crate::error::Outcome {
        use crate::error::Outcome;
        match self.verdict {
            Verdict::Pass => Outcome::Success,
            Verdict::Inconclusive if self.policy.strict => Outcome::QualityFailed,
            Verdict::Inconclusive => Outcome::Success,
            Verdict::Fail => Outcome::QualityFailed,
            Verdict::Error => Outcome::ProviderFailed,
        }
    }
}

/// A p-value for people: four decimals, or `<0.0001`.
pub fn fmt_p(p: f64) -> String {
    if p < 0.0001 {
        "<0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Cases needed for the one-sided test at `alpha` with 80% power to resolve a mean
/// difference `effect` when differences have standard deviation `sd` (normal approximation).
fn cases_needed(sd: f64, effect: f64, alpha: f64) -> Option<u64> {
    if !(sd.is_finite() && sd > 0.0 && effect > 0.0) {
        return None;
    }
    let z = |p: f64| stats::t_quantile(p, 1e6);
    let n = ((z(1.0 - alpha) + z(0.8)) * sd / effect).powi(2);
    n.is_finite().then(|| n.min(1e9).ceil() as u64)
}

/// Decide one suite × variant from its pairs.
pub fn decide(pairs: &[Pair], thresholds: &crate::suite::Thresholds, policy: &Policy) -> SuiteGate {
    let first = &pairs[0];
    let mut g = SuiteGate {
        suite: first.suite.clone(),
        variant: first.variant.clone(),
        verdict: Verdict::Pass,
        reasons: Vec::new(),
        n: 0,
        clusters: None,
        baseline_score: None,
        candidate_score: None,
        baseline_pass_rate: None,
        candidate_pass_rate: None,
        stats: None,
        error_rates: (0.0, 0.0),
        checks: Vec::new(),
        added: pairs
            .iter()
            .filter(|p| p.baseline.is_none())
            .map(|p| p.case.clone())
            .collect(),
        removed: pairs
            .iter()
            .filter(|p| p.candidate.is_none())
            .map(|p| p.case.clone())
            .collect(),
        critical_flips: Vec::new(),
        cases_needed: None,
        worst: Vec::new(),
        dimensions: Vec::new(),
    };
    let rate = |side: fn(&Pair) -> Option<&Side>| {
        let (mut e, mut n) = (0u32, 0u32);
        for p in pairs {
            if let Some(s) = side(p) {
                e += s.errors;
                n += s.samples;
            }
        }
        if n == 0 {
            0.0
        } else {
            f64::from(e) / f64::from(n)
        }
    };
    g.error_rates = (
        rate(|p| p.baseline.as_ref()),
        rate(|p| p.candidate.as_ref()),
    );
    // Candidate thresholds over every candidate case (as eval reports them).
    let cand: Vec<&Side> = pairs
        .iter()
        .filter_map(|p| p.candidate.as_ref())
        .filter(|s| s.score.is_some())
        .collect();
    let cand_pass = (!cand.is_empty())
        .then(|| cand.iter().filter(|s| s.passed).count() as f64 / cand.len() as f64);
    let cand_score = mean(&cand.iter().filter_map(|s| s.score).collect::<Vec<_>>());
    if let Some(want) = thresholds.pass_rate {
        let got = cand_pass.unwrap_or(0.0);
        g.checks.push(Check {
            name: "pass_rate".into(),
            want,
            got,
            ok: got >= want,
            max: false,
        });
    }
    if let Some(want) = thresholds.score {
        let got = cand_score.unwrap_or(0.0);
        g.checks.push(Check {
            name: "score".into(),
            want,
            got,
            ok: got >= want,
            max: false,
        });
    }
    for (name, want) in &thresholds.metrics {
        let values: Vec<f64> = cand
            .iter()
            .filter_map(|s| s.metrics.get(name).copied())
            .collect();
        if let Some(got) = mean(&values) {
            g.checks.push(Check {
                name: name.clone(),
                want: *want,
                got,
                ok: got >= *want,
                max: false,
            });
        }
    }
    let priced = |s: &&Side| s.cost_usd.map(|c| (c, s.samples - s.errors));
    g.checks.extend(crate::report::budget_checks(
        thresholds,
        cand.iter()
            .filter_map(priced)
            .map(|(c, n)| c * f64::from(n))
            .sum(),
        cand.iter()
            .filter_map(priced)
            .map(|x| x.0)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x)))),
    ));
    // Paired cases, both sides scored.
    let both: Vec<(&Pair, f64, f64)> = pairs
        .iter()
        .filter_map(|p| Some((p, p.baseline.as_ref()?.score?, p.candidate.as_ref()?.score?)))
        .collect();
    g.n = both.len();
    if !both.is_empty() {
        g.baseline_score = mean(&both.iter().map(|x| x.1).collect::<Vec<_>>());
        g.candidate_score = mean(&both.iter().map(|x| x.2).collect::<Vec<_>>());
    }
    // Pass rates one way everywhere: passed over scored cases of that side, as `eval` reports
    // them and as the threshold is checked.
    let base: Vec<&Side> = pairs
        .iter()
        .filter_map(|p| p.baseline.as_ref())
        .filter(|s| s.score.is_some())
        .collect();
    g.baseline_pass_rate = (!base.is_empty())
        .then(|| base.iter().filter(|s| s.passed).count() as f64 / base.len() as f64);
    g.candidate_pass_rate = cand_pass;
    for (p, _, _) in &both {
        let (b, c) = (
            p.baseline.as_ref().expect("paired"),
            p.candidate.as_ref().expect("paired"),
        );
        for k in &b.critical_ok {
            if !c.critical_ok.contains(k) {
                g.critical_flips.push((
                    p.case.clone(),
                    k.split_once(':')
                        .map_or(k.clone(), |(_, kind)| kind.to_string()),
                ));
            }
        }
    }
    let mut worst: Vec<&(&Pair, f64, f64)> = both.iter().filter(|x| x.2 < x.1).collect();
    worst.sort_by(|a, b| {
        (a.2 - a.1)
            .total_cmp(&(b.2 - b.1))
            .then_with(|| a.0.case.cmp(&b.0.case))
    });
    g.worst = worst.iter().take(5).map(|x| x.0.clone()).collect();

    // Differences: per case, or per cluster when clustering.
    let clustered = both.iter().any(|x| x.0.cluster.is_some());
    let diffs: Vec<f64> = if clustered {
        let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (p, b, c) in &both {
            by.entry(p.cluster.clone().unwrap_or_default())
                .or_default()
                .push(c - b);
        }
        g.clusters = Some(by.len());
        by.values()
            .map(|v| v.iter().sum::<f64>() / v.len() as f64)
            .collect()
    } else {
        both.iter().map(|(_, b, c)| c - b).collect()
    };
    let binary = !clustered
        && both.iter().all(|(p, b, c)| {
            p.baseline.as_ref().is_some_and(|s| s.samples == 1)
                && p.candidate.as_ref().is_some_and(|s| s.samples == 1)
                && (*b == 0.0 || *b == 1.0)
                && (*c == 0.0 || *c == 1.0)
        });
    let st = stats::analyse(&diffs, binary, policy.alpha, policy.tolerance, policy.seed);

    // The decision, most severe first.
    let (eb, ec) = g.error_rates;
    if eb > policy.max_error_rate || ec > policy.max_error_rate {
        g.verdict = Verdict::Error;
        g.reasons.push(format!(
            "errored samples: baseline {:.1}%, candidate {:.1}% (limit {:.1}%)",
            eb * 100.0,
            ec * 100.0,
            policy.max_error_rate * 100.0
        ));
    } else {
        let mut fail = Vec::new();
        for c in g.checks.iter().filter(|c| !c.ok) {
            fail.push(c.missed());
        }
        if !g.critical_flips.is_empty() {
            fail.push(format!(
                "critical assertion went from pass to fail in {} case(s)",
                g.critical_flips.len()
            ));
        }
        if st.n > 0 && st.p_regression < policy.alpha {
            fail.push(format!(
                "significant regression: mean difference {:+.4}, p = {} ({})",
                st.mean,
                fmt_p(st.p_regression),
                st.method
            ));
        }
        if !fail.is_empty() {
            g.verdict = Verdict::Fail;
            g.reasons = fail;
        } else if st.n == 0 && g.removed.is_empty() && !g.added.is_empty() {
            // A new suite or prompt: nothing to compare with, so only the absolute
            // thresholds (checked above) can fail it.
            g.verdict = Verdict::Pass;
            g.reasons.push(format!(
                "new: {} case(s) with no baseline to compare; thresholds met",
                g.added.len()
            ));
        } else if st.n > 0 && st.p_noninferior < policy.alpha {
            g.verdict = Verdict::Pass;
            g.reasons.push(format!(
                "non-inferior: mean difference {:+.4}, no worse than -{} (p = {}, {})",
                st.mean,
                policy.tolerance,
                fmt_p(st.p_noninferior),
                st.method
            ));
        } else {
            g.verdict = Verdict::Inconclusive;
            g.reasons.push(if st.n == 0 {
                "no case scored on both sides".to_string()
            } else {
                format!(
                    "neither a regression nor non-inferiority is shown (mean difference {:+.4})",
                    st.mean
                )
            });
            // How many cases would settle it, from the observed spread: to show
            // non-inferiority if the effect is above -tolerance, else a regression.
            let target = if st.mean > -policy.tolerance {
                st.mean + policy.tolerance
            } else {
                -st.mean
            };
            // With no spread to go on (one pair, or every difference equal), plan for the
            // widest a difference of scores in [0, 1] can spread.
            let sd = st.sd.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(0.5);
            g.cases_needed =
                cases_needed(sd, target.max(1e-3), policy.alpha).map(|n| n.max(st.n as u64 + 1));
        }
    }
    g.stats = (st.n > 0).then_some(st);
    dimensions(&mut g, &both, policy);
    g
}

/// Cost and latency, each against its tolerance when one is set, folded into the verdict:
/// shown above the tolerance fails, not shown within it makes a PASS inconclusive.
fn dimensions(g: &mut SuiteGate, both: &[(&Pair, f64, f64)], policy: &Policy) {
    let side = |p: &Pair, f: fn(&Side) -> Option<f64>| {
        (
            p.baseline.as_ref().and_then(f),
            p.candidate.as_ref().and_then(f),
        )
    };
    for (kind, tol, f) in [
        (
            dims::Kind::Cost,
            policy.cost_tolerance,
            (|s: &Side| s.cost_usd) as fn(&Side) -> Option<f64>,
        ),
        (dims::Kind::Latency, policy.latency_tolerance, |s: &Side| {
            s.latency_ms
        }),
    ] {
        let Some(tol) = tol else { continue };
        let values: Vec<_> = both.iter().map(|(p, _, _)| side(p, f)).collect();
        if values.is_empty() {
            continue;
        }
        let d = dims::analyse(kind, &values, tol, policy.alpha, policy.seed);
        if g.verdict != Verdict::Error {
            match d.verdict {
                Some(Verdict::Fail) => {
                    if g.verdict != Verdict::Fail {
                        g.reasons.clear();
                        g.cases_needed = None;
                    }
                    g.verdict = Verdict::Fail;
                    g.reasons.push(d.reason());
                }
                Some(Verdict::Inconclusive) if g.verdict == Verdict::Pass => {
                    g.verdict = Verdict::Inconclusive;
                    g.reasons.push(d.reason());
                }
                _ if g.verdict != Verdict::Fail => g.reasons.push(d.reason()),
                _ => {}
            }
        }
        g.dimensions.push(d);
    }
}

/// Refuse a candidate that cannot render some of its cases (a required input the dataset
/// lacks): comparing only the cases it can render would hide the breakage as "removed".
pub fn candidate_renders(
    reg: &crate::registry::Registry,
    planned: &[crate::engine::Planned],
    opts: &crate::engine::Options,
    candidate: &str,
) -> crate::error::Result<()> {
    let (rows, total) = crate::engine::plan::unfit_cases(reg, planned, opts, 10)?;
    if total == 0 {
        return Ok(());
    }
    let more = if total > rows.len() {
        format!("\n  ... and {} more", total - rows.len())
    } else {
        String::new()
    };
    Err(crate::error::Error::usage_help(
        format!(
            "gate ERROR: the candidate ({candidate}) cannot render {total} case(s):\n  {}{more}",
            rows.join("\n  ")
        ),
        "give the cases the inputs the prompt requires (or a default in the prompt's `inputs`); `llmops lint` lists every such problem",
    ))
}

/// Decide every suite and the whole gate from pairs (any order).
pub fn decide_all(
    baseline: String,
    candidate: String,
    mut pairs: Vec<Pair>,
    thresholds: BTreeMap<String, crate::suite::Thresholds>,
    unchanged: Vec<String>,
    policy: Policy,
) -> GateReport {
    pairs.sort_by(|a, b| (&a.suite, &a.variant, &a.case).cmp(&(&b.suite, &b.variant, &b.case)));
    pairs.dedup_by(|a, b| a.suite == b.suite && a.variant == b.variant && a.case == b.case);
    let mut suites = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len()
            && pairs[j].suite == pairs[i].suite
            && pairs[j].variant == pairs[i].variant
        {
            j += 1;
        }
        let t = thresholds.get(&pairs[i].suite).cloned().unwrap_or_default();
        suites.push(decide(&pairs[i..j], &t, &policy));
        i = j;
    }
    let verdict = suites
        .iter()
        .map(|s| s.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    GateReport {
        schema: SCHEMA.into(),
        kind: "gate".into(),
        baseline,
        candidate,
        policy,
        verdict,
        suites,
        unchanged,
        pairs,
        thresholds,
    }
}

/// The kind of noise a false-fail simulation draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// Continuous scores: latent case quality plus Gaussian output noise on each side.
    Scores,
    /// Single-sample pass/fail: each side passes with the case's latent probability.
    PassFail,
}

/// How often the gate says FAIL when baseline and candidate are the same prompt and only the
/// output noise differs: `sims` seeded simulations of `n` cases. SPEC.md's bar: at most alpha.
pub fn false_fail_rate(sims: u32, n: usize, noise: Noise, policy: &Policy, seed: u64) -> f64 {
    let mut rng = stats::SplitMix::new(seed);
    let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut fails = 0;
    for _ in 0..sims {
        let mut pairs = Vec::with_capacity(n);
        for i in 0..n {
            let q = 0.3 + 0.65 * uniform();
            let mut draw = || match noise {
                Noise::Scores => {
                    // Box-Muller.
                    let z = (-2.0 * uniform().max(1e-300).ln()).sqrt()
                        * (2.0 * std::f64::consts::PI * uniform()).cos();
                    (q + 0.1 * z).clamp(0.0, 1.0)
                }
                Noise::PassFail => f64::from(u8::from(uniform() < q)),
            };
            let (b, c) = (draw(), draw());
            let side = |x: f64| Side {
                score: Some(x),
                passed: x >= 0.5,
                samples: 1,
                errors: 0,
                critical_ok: vec![],
                output: None,
                reasons: vec![],
                metrics: BTreeMap::new(),
                cost_usd: None,
                latency_ms: None,
            };
            pairs.push(Pair {
                suite: "s".into(),
                variant: "s".into(),
                case: format!("c{i}"),
                cluster: None,
                baseline: Some(side(b)),
                candidate: Some(side(c)),
            });
        }
        if decide(&pairs, &Default::default(), policy).verdict == Verdict::Fail {
            fails += 1;
        }
    }
    f64::from(fails) / f64::from(sims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(score: f64) -> Side {
        Side {
            score: Some(score),
            passed: score >= 0.5,
            samples: 1,
            errors: 0,
            critical_ok: vec![],
            output: None,
            reasons: vec![],
            metrics: BTreeMap::new(),
            cost_usd: None,
            latency_ms: None,
        }
    }

    fn pairs(b: &[f64], c: &[f64]) -> Vec<Pair> {
        b.iter()
            .zip(c)
            .enumerate()
            .map(|(i, (x, y))| Pair {
                suite: "s".into(),
                variant: "v".into(),
                case: format!("c{i:03}"),
                cluster: None,
                baseline: Some(side(*x)),
                candidate: Some(side(*y)),
            })
            .collect()
    }

    fn policy() -> Policy {
        Policy {
            alpha: 0.05,
            tolerance: 0.02,
            max_error_rate: 0.05,
            strict: false,
            seed: 1,
            cost_tolerance: None,
            latency_tolerance: None,
        }
    }

    #[test]
    fn clear_regression_fails_and_improvement_passes() {
        let base: Vec<f64> = (0..40).map(|i| 0.8 + 0.005 * f64::from(i % 5)).collect();
        let worse: Vec<f64> = base.iter().map(|x| x - 0.2).collect();
        let better: Vec<f64> = base.iter().map(|x| x + 0.05).collect();
        assert_eq!(
            decide(&pairs(&base, &worse), &Default::default(), &policy()).verdict,
            Verdict::Fail
        );
        assert_eq!(
            decide(&pairs(&base, &better), &Default::default(), &policy()).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn noise_is_inconclusive_and_says_how_many_cases_would_settle_it() {
        let base = [0.5, 0.9, 0.2, 0.7, 0.4, 0.6];
        let cand = [0.6, 0.7, 0.3, 0.5, 0.5, 0.6];
        let g = decide(&pairs(&base, &cand), &Default::default(), &policy());
        assert_eq!(g.verdict, Verdict::Inconclusive, "{g:?}");
        assert!(g.cases_needed.is_some_and(|n| n > 6), "{g:?}");
    }

    #[test]
    fn one_case_and_all_ties() {
        let g = decide(&pairs(&[0.5], &[0.5]), &Default::default(), &policy());
        assert_eq!(g.verdict, Verdict::Inconclusive);
        let ties = vec![1.0; 12];
        let g = decide(&pairs(&ties, &ties), &Default::default(), &policy());
        assert_eq!(
            g.verdict,
            Verdict::Pass,
            "identical scores are non-inferior: {g:?}"
        );
    }

    #[test]
    fn identical_pass_fail_sides_pass_at_alpha_1e_5_with_40_cases() {
        let same = vec![1.0; 40];
        let mut mixed = same.clone();
        for x in mixed.iter_mut().step_by(3) {
            *x = 0.0;
        }
        let strict = Policy {
            alpha: 1e-5,
            ..policy()
        };
        for sides in [&same, &mixed] {
            let g = decide(&pairs(sides, sides), &Default::default(), &strict);
            assert_eq!(g.verdict, Verdict::Pass, "{g:?}");
            let st = g.stats.unwrap();
            assert_eq!(st.method, "mcnemar (exact)");
            assert!(
                st.p_noninferior < 1e-11 && st.lower.unwrap() >= -0.02,
                "{st:?}"
            );
        }
    }

    #[test]
    fn critical_flip_fails_even_when_the_mean_improves() {
        let mut p = pairs(&[0.5; 30], &[0.9; 30]);
        p[3].baseline.as_mut().unwrap().critical_ok = vec!["2:no-pii".into()];
        let g = decide(&p, &Default::default(), &policy());
        assert_eq!(g.verdict, Verdict::Fail);
        assert_eq!(
            g.critical_flips,
            vec![("c003".to_string(), "no-pii".to_string())]
        );
    }

    #[test]
    fn errors_and_one_sided_cases() {
        let mut p = pairs(&[0.9; 10], &[0.9; 10]);
        p[0].candidate = Some(Side {
            score: None,
            passed: false,
            samples: 1,
            errors: 1,
            critical_ok: vec![],
            output: None,
            reasons: vec![],
            metrics: BTreeMap::new(),
            cost_usd: None,
            latency_ms: None,
        });
        assert_eq!(
            decide(&p, &Default::default(), &policy()).verdict,
            Verdict::Error
        );
        let mut p = pairs(&[0.9; 10], &[0.9; 10]);
        p[1].baseline = None;
        let g = decide(&p, &Default::default(), &policy());
        assert_eq!(g.added, vec!["c001".to_string()]);
        assert_eq!(g.n, 9);
    }

    #[test]
    fn false_fail_rate_is_at_most_alpha() {
        // 1,000 seeded simulations each; the binomial standard error at 5% is ~0.7%.
        for (n, noise) in [
            (40, Noise::Scores),
            (12, Noise::Scores),
            (60, Noise::PassFail),
        ] {
            let rate = false_fail_rate(1000, n, noise, &policy(), 20_261_123);
            assert!(
                rate <= 0.05 + 0.015,
                "n = {n}, {noise:?}: false-fail rate {rate}"
            );
        }
    }
}
