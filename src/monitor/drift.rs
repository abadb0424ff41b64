//! `llmops monitor`: production calls scored with a suite's reference-free assertions, cut
//! into windows per prompt version, and each window compared with a reference (the version's
//! release evidence, or the windows before it) by anytime-valid tests (see [`super::stats`]).
//!
//! Error control, for one prompt: window `j` (0-based among the windows that have a reference)
//! gets α/((j+1)(j+2)); within a window each of the `M` metrics gets that share divided by `M`
//! (Bonferroni), split evenly between the current window's confidence sequence and the
//! reference's fixed-sample interval. A metric drifts when the two intervals are disjoint. The union bound
//! over windows, metrics and the two sides bounds the chance of any false DRIFT, at any look,
//! by α.

use std::collections::BTreeMap;

use serde::Serialize;

use super::stats::{
    bernoulli_cs, clopper_pearson, disjoint, dkw, hoeffding, mean_cs, window_alpha,
};
use crate::assert::score::{score, Subject};
use crate::assert::{Assertion, Kind};
use crate::suite::Suite;

/// What a window is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reference {
    /// The eval run stored for the version's content (its release evidence).
    Evidence,
    /// The version's earlier windows, pooled.
    Previous,
}

/// `monitor` settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Window length in ms.
    pub window_ms: i64,
    /// What each window is compared with.
    pub reference: Reference,
    /// Only calls at or after this time (Unix ms).
    pub since_ms: i64,
    /// The family-wise false-alarm rate per prompt.
    pub alpha: f64,
    /// Fewer calls than this in the current window (and no drift) is INCONCLUSIVE.
    pub min_samples: u64,
}

/// A prompt's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Enough calls, nothing drifted.
    Ok,
    /// A metric moved away from its reference.
    Drift,
    /// Too few calls, or nothing to compare with.
    Inconclusive,
}

impl Verdict {
    /// The word printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Drift => "DRIFT",
            Verdict::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// The assertions production calls are scored with: the default assertions of every suite
/// that evaluates the prompt, except those that need a case's reference, a model or a program.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    assertions: Vec<Assertion>,
    group_of: Vec<usize>,
    /// Metric names (an assertion's `metric`, else its kind), in first-seen order.
    pub groups: Vec<String>,
    /// Assertions left out, and why.
    pub left_out: Vec<String>,
    /// Model-graded assertions the judge grades on sampled calls (`--judge-sample`).
    pub judged: Vec<Assertion>,
    judged_group_of: Vec<usize>,
    /// Their metric names, in first-seen order.
    pub judged_groups: Vec<String>,
}

/// Why `a` is not scored on ingested production calls, if it is not: those calls carry no
/// expected answer, tool calls or log-probabilities, and monitor runs no judge or program.
fn not_on_production(a: &crate::assert::Assertion, judge: bool) -> Option<&'static str> {
    if a.kind == Kind::Pairwise {
        return Some("compares with a baseline output, which production calls do not have");
    }
    if a.kind.is_model_graded() && a.kind.is_cross_variant() {
        return Some("compares a suite's variants");
    }
    if a.kind.is_model_graded() && judge {
        return None;
    }
    if a.kind.is_model_graded() {
        return Some("model-graded (judged only with `--judge-sample`)");
    }
    if a.kind.is_cross_variant() {
        return Some("compares a suite's variants");
    }
    match a.kind {
        Kind::Similar => Some("needs embeddings from a provider"),
        Kind::Exec | Kind::Python => Some("runs a program"),
        Kind::Equals
        | Kind::Levenshtein
        | Kind::Bleu
        | Kind::Gleu
        | Kind::RougeN
        | Kind::Meteor => Some("compares with one expected answer"),
        Kind::IsValidOpenaiToolsCall | Kind::IsValidFunctionCall | Kind::ToolCallF1 => {
            Some("needs the call's tool calls, which ingested records do not carry")
        }
        Kind::Perplexity | Kind::PerplexityScore => {
            Some("needs log-probabilities, which ingested records do not carry")
        }
        Kind::AssertSet => match &a.check {
            crate::assert::Check::Set(items) => items
                .iter()
                .find_map(|i| not_on_production(i, false))
                .or_else(|| {
                    crate::assert::cross::any(std::slice::from_ref(a), &|a| {
                        a.kind.is_model_graded()
                    })
                    .then_some("grades items with the judge inside a set")
                }),
            _ => None,
        },
        _ => None,
    }
}

/// Groups beyond this are not tested separately (they still count in the pass rate).
const MAX_GROUPS: usize = 16;

impl Checks {
    /// The checks for `prompt` from `suites`; with `judge`, model-graded assertions are kept
    /// apart for the judge (see [`Checks::judged`]).
    pub fn for_prompt(prompt: &str, suites: &[Suite], judge: bool) -> Checks {
        let mut c = Checks::default();
        for s in suites
            .iter()
            .filter(|s| s.variants.iter().any(|v| v.prompt == prompt))
        {
            for a in &s.assertions {
                let why = not_on_production(a, judge);
                if let Some(why) = why {
                    c.left_out
                        .push(format!("{}: `{}` {why}", s.path, a.display_kind()));
                    continue;
                }
                let name = a.metric.clone().unwrap_or_else(|| a.display_kind());
                if a.kind.is_model_graded() {
                    let name = format!("{name} (judge)");
                    let g = match c.judged_groups.iter().position(|g| *g == name) {
                        Some(g) => g,
                        None if c.judged_groups.len() < MAX_GROUPS => {
                            c.judged_groups.push(name);
                            c.judged_groups.len() - 1
                        }
                        None => usize::MAX,
                    };
                    c.judged.push(a.clone());
                    c.judged_group_of.push(g);
                    continue;
                }
                let g = match c.groups.iter().position(|g| *g == name) {
                    Some(g) => g,
                    None if c.groups.len() < MAX_GROUPS => {
                        c.groups.push(name);
                        c.groups.len() - 1
                    }
                    None => usize::MAX,
                };
                c.assertions.push(a.clone());
                c.group_of.push(g);
            }
        }
        c
    }

    /// Whether any assertion scores calls (else only refusals, length, tokens, cost and
    /// latency are compared).
    pub fn any(&self) -> bool {
        !self.assertions.is_empty()
    }

    /// How many metrics each window tests: fixed by the checks, never by the data.
    pub fn tests(&self) -> u64 {
        let base = 5; // refusal rate, output length, tokens, cost, p95 latency
        if self.any() {
            base + 2 + self.groups.len() as u64 + self.judged_groups.len() as u64
        } else {
            base + self.judged_groups.len() as u64
        }
    }

    /// Fold the judge's verdicts on one sampled call (aligned with [`Checks::judged`]; None:
    /// not graded, an ERROR or a stop) into its observation. A SUSPECT verdict does not pass.
    pub fn add_judged(&self, o: &mut Observation, verdicts: &[Option<bool>]) {
        let mut groups: Vec<Option<bool>> = vec![None; self.judged_groups.len()];
        for (v, g) in verdicts.iter().zip(&self.judged_group_of) {
            let (Some(v), Some(slot)) = (v, groups.get_mut(*g)) else {
                continue;
            };
            *slot = Some(slot.unwrap_or(true) && *v);
        }
        // A call whose every verdict was an ERROR is not a judged call.
        if groups.iter().any(Option::is_some) {
            o.judged = Some(groups);
        }
    }

    /// The judged metric group of `(display kind, metric)` as stored in an eval run's score
    /// rows, if the judge grades it here.
    pub fn judged_group(&self, kind: &str, metric: Option<&str>) -> Option<usize> {
        self.judged
            .iter()
            .zip(&self.judged_group_of)
            .find(|(a, _)| a.display_kind() == kind && a.metric.as_deref() == metric)
            .map(|(_, g)| *g)
            .filter(|g| *g < self.judged_groups.len())
    }

    /// Score one call.
    pub fn observe(&self, call: &Call<'_>) -> Observation {
        let case = serde_json::Value::Null;
        let subject = Subject {
            output: call.output,
            finish_reason: call.finish_reason,
            logprobs: None,
            latency_ms: call.latency_ms.unwrap_or(0.0),
            cost_usd: call.cost_usd,
            case: &case,
            workdir: std::path::Path::new("."),
            tool_calls: None,
            tools: None,
        };
        let mut groups = vec![true; self.groups.len()];
        let (mut weighted, mut weights, mut all) = (0.0, 0.0, true);
        for (a, g) in self.assertions.iter().zip(&self.group_of) {
            // An assertion that cannot be evaluated on this call (`cost` without a cost) does
            // not count for it.
            let Some(v) = score(a, &subject).filter(|v| !v.error) else {
                continue;
            };
            all &= v.pass;
            if let Some(slot) = groups.get_mut(*g) {
                *slot &= v.pass;
            }
            if a.weight > 0.0 {
                weighted += v.score * a.weight;
                weights += a.weight;
            }
        }
        let scored = self.any();
        Observation {
            pass: scored.then_some(all),
            score: (scored && weights > 0.0).then(|| (weighted / weights).clamp(0.0, 1.0)),
            groups: if scored { groups } else { Vec::new() },
            judged: None,
            refusal: crate::assert::refusal::is_refusal(call.output, call.finish_reason),
            length: call.output.chars().count() as f32,
            tokens: call.tokens.map(|t| t as f32),
            cost: call.cost_usd.map(|c| c as f32),
            latency: call.latency_ms.map(|l| l as f32),
        }
    }
}

/// What scoring needs of a call (a stored production call or an eval result).
pub struct Call<'a> {
    /// The output.
    pub output: &'a str,
    /// Normalised finish reason.
    pub finish_reason: Option<&'a str>,
    /// Latency in ms.
    pub latency_ms: Option<f64>,
    /// Cost in USD.
    pub cost_usd: Option<f64>,
    /// Input plus output tokens.
    pub tokens: Option<u64>,
}

/// One scored call.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Every assertion passed (None: no assertions, or one could not be evaluated).
    pub pass: Option<bool>,
    /// Weighted mean score.
    pub score: Option<f64>,
    /// Per metric group: every assertion in it passed.
    pub groups: Vec<bool>,
    /// Sampled for the judge: per judged metric group, every verdict in it passed (None: no
    /// verdict). None: not sampled.
    pub judged: Option<Vec<Option<bool>>>,
    /// The output is a refusal.
    pub refusal: bool,
    /// Output length in characters.
    pub length: f32,
    /// Input plus output tokens.
    pub tokens: Option<f32>,
    /// Cost in USD.
    pub cost: Option<f32>,
    /// Latency in ms.
    pub latency: Option<f32>,
}

/// Counts and values of one window (or a reference).
#[derive(Debug, Clone, Default)]
pub struct Agg {
    n: u64,
    pass: (u64, u64),
    score: (f64, u64),
    groups: Vec<(u64, u64)>,
    judged_n: u64,
    judged: Vec<(u64, u64)>,
    refusal: u64,
    length: Vec<f32>,
    tokens: Vec<f32>,
    cost: Vec<f32>,
    latency: Vec<f32>,
}

impl Agg {
    /// Add one call.
    pub fn add(&mut self, o: &Observation) {
        self.n += 1;
        if let Some(p) = o.pass {
            self.pass.0 += u64::from(p);
            self.pass.1 += 1;
        }
        if let Some(s) = o.score {
            self.score.0 += s;
            self.score.1 += 1;
        }
        if self.groups.len() < o.groups.len() {
            self.groups.resize(o.groups.len(), (0, 0));
        }
        for (slot, p) in self.groups.iter_mut().zip(&o.groups) {
            slot.0 += u64::from(*p);
            slot.1 += 1;
        }
        if let Some(j) = &o.judged {
            self.judged_n += 1;
            self.add_judged(j);
        }
        self.refusal += u64::from(o.refusal);
        self.length.push(o.length);
        self.tokens.extend(o.tokens);
        self.cost.extend(o.cost);
        self.latency.extend(o.latency);
    }

    fn merge(&mut self, o: &Agg) {
        self.n += o.n;
        self.pass.0 += o.pass.0;
        self.pass.1 += o.pass.1;
        self.score.0 += o.score.0;
        self.score.1 += o.score.1;
        if self.groups.len() < o.groups.len() {
            self.groups.resize(o.groups.len(), (0, 0));
        }
        for (a, b) in self.groups.iter_mut().zip(&o.groups) {
            a.0 += b.0;
            a.1 += b.1;
        }
        self.judged_n += o.judged_n;
        if self.judged.len() < o.judged.len() {
            self.judged.resize(o.judged.len(), (0, 0));
        }
        for (a, b) in self.judged.iter_mut().zip(&o.judged) {
            a.0 += b.0;
            a.1 += b.1;
        }
        self.refusal += o.refusal;
        self.length.extend_from_slice(&o.length);
        self.tokens.extend_from_slice(&o.tokens);
        self.cost.extend_from_slice(&o.cost);
        self.latency.extend_from_slice(&o.latency);
    }

    /// Calls counted.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Count one judged call's verdicts per judged metric group (None: no verdict).
    pub fn add_judged(&mut self, groups: &[Option<bool>]) {
        if self.judged.len() < groups.len() {
            self.judged.resize(groups.len(), (0, 0));
        }
        for (slot, p) in self.judged.iter_mut().zip(groups) {
            if let Some(p) = p {
                slot.0 += u64::from(*p);
                slot.1 += 1;
            }
        }
    }

    /// Note one judged reference sample (an eval result with judge verdicts).
    pub fn count_judged(&mut self) {
        self.judged_n += 1;
    }
}

fn mean(v: &[f32]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64)
}

fn sorted(v: &[f32]) -> Vec<f32> {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    s
}

/// Nearest-rank quantile of sorted values.
fn quantile(sorted: &[f32], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(f64::from(sorted[rank - 1]))
}

fn ratio(s: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| s as f64 / n as f64)
}

/// One metric's comparison in one window.
#[derive(Debug, Clone, Serialize)]
pub struct Test {
    /// The metric.
    pub metric: String,
    /// How it is compared: `proportion`, `mean`, or `exceeds` (the share above the
    /// reference's quantile `threshold`).
    pub method: &'static str,
    /// The reference's quantile the window is compared at (`exceeds` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The window's estimate.
    pub current: Option<f64>,
    /// Its anytime-valid interval.
    pub current_interval: (f64, f64),
    /// The reference's estimate.
    pub reference: Option<f64>,
    /// Its interval.
    pub reference_interval: (f64, f64),
    /// The intervals are disjoint.
    pub drift: bool,
}

/// One window of one version.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// 0-based from the version's first window.
    pub index: i64,
    /// First day (UTC), RFC 3339.
    pub start: String,
    /// End (exclusive), RFC 3339.
    pub end: String,
    /// Calls.
    pub n: u64,
    /// Share of calls passing every assertion.
    pub pass_rate: Option<f64>,
    /// Mean score.
    pub score: Option<f64>,
    /// Per metric group, the share passing.
    pub metrics: BTreeMap<String, f64>,
    /// Sampled calls with at least one judge verdict (the n of the judged metrics).
    pub judged: u64,
    /// Per judged metric group, the share of sampled calls passing.
    pub judged_metrics: BTreeMap<String, f64>,
    /// Share of refusals.
    pub refusal_rate: Option<f64>,
    /// Mean output length (characters).
    pub output_length: Option<f64>,
    /// Mean tokens (input + output).
    pub tokens: Option<f64>,
    /// Mean cost per call (USD).
    pub cost_usd: Option<f64>,
    /// 95th percentile latency (ms).
    pub latency_p95_ms: Option<f64>,
    /// This window's share of α (none without a reference).
    pub alpha: Option<f64>,
    /// The comparisons (empty without a reference).
    pub tests: Vec<Test>,
    /// The window's verdict.
    pub verdict: Verdict,
    /// Why, in a phrase.
    pub why: String,
}

/// One version's windows.
#[derive(Debug, Clone, Serialize)]
pub struct VersionReport {
    /// The version.
    pub version: u32,
    /// Calls in the period.
    pub calls: u64,
    /// The reference's calls (evidence samples, or none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_samples: Option<u64>,
    /// The eval run the evidence came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_run: Option<i64>,
    /// Oldest first.
    pub windows: Vec<Window>,
}

/// One prompt's result.
#[derive(Debug, Clone, Serialize)]
pub struct PromptReport {
    /// The prompt.
    pub prompt: String,
    /// The verdict of the current window of the version that served the newest call.
    pub verdict: Verdict,
    /// That version.
    pub version: u32,
    /// Why.
    pub why: String,
    /// Metric groups tested beyond the fixed ones.
    pub metric_groups: Vec<String>,
    /// Metric groups the judge grades on sampled calls (`--judge-sample`).
    pub judged_groups: Vec<String>,
    /// Assertions left out of scoring, and why.
    pub left_out: Vec<String>,
    /// Every version with calls in the period.
    pub versions: Vec<VersionReport>,
}

/// Collects one prompt's calls (in time order) and judges them.
pub struct Monitor<'c> {
    settings: Settings,
    checks: &'c Checks,
    versions: BTreeMap<u32, (i64, BTreeMap<i64, Agg>)>,
    newest: Option<(i64, u32)>,
}

const DAY_MS: i64 = 86_400_000;

impl<'c> Monitor<'c> {
    /// An empty monitor.
    pub fn new(settings: Settings, checks: &'c Checks) -> Monitor<'c> {
        Monitor {
            settings,
            checks,
            versions: BTreeMap::new(),
            newest: None,
        }
    }

    /// Add one call made at `ts_ms` by `version`.
    pub fn add(&mut self, ts_ms: i64, version: u32, call: &Call<'_>) {
        if ts_ms < self.settings.since_ms {
            return;
        }
        let o = self.checks.observe(call);
        self.add_observation(ts_ms, version, &o);
    }

    /// Note a call of `version` at `ts_ms` whose observation is added later (after the
    /// judge): the version's windows start at its first call, whatever order calls are added.
    pub fn start_version(&mut self, ts_ms: i64, version: u32) {
        if ts_ms < self.settings.since_ms {
            return;
        }
        let since = self.settings.since_ms;
        self.versions.entry(version).or_insert_with(|| {
            (
                ts_ms.max(since).div_euclid(DAY_MS) * DAY_MS,
                BTreeMap::new(),
            )
        });
    }

    /// Add one call already scored with this monitor's checks.
    pub fn add_observation(&mut self, ts_ms: i64, version: u32, o: &Observation) {
        if ts_ms < self.settings.since_ms {
            return;
        }
        self.start_version(ts_ms, version);
        let (origin, windows) = self.versions.get_mut(&version).expect("started");
        let k = (ts_ms - *origin).div_euclid(self.settings.window_ms);
        windows.entry(k).or_default().add(o);
        if self.newest.is_none_or(|(t, _)| ts_ms >= t) {
            self.newest = Some((ts_ms, version));
        }
    }

    /// Judge every window. `evidence` gives a version's release evidence (scored with the same
    /// checks) and its run id.
    pub fn finish(
        &self,
        prompt: &str,
        mut evidence: impl FnMut(u32) -> Option<(Agg, i64)>,
    ) -> PromptReport {
        let s = &self.settings;
        let m = self.checks.tests();
        let mut versions = Vec::new();
        for (version, (origin, windows)) in &self.versions {
            let ev = match s.reference {
                Reference::Evidence => evidence(*version),
                Reference::Previous => None,
            };
            let last = windows.keys().next_back().copied().unwrap_or(0);
            let mut pooled = Agg::default();
            let mut out = Vec::new();
            let empty = Agg::default();
            for k in 0..=last {
                let cur = windows.get(&k).unwrap_or(&empty);
                let (reference, j) = match s.reference {
                    Reference::Evidence => (ev.as_ref().map(|(a, _)| a), k as u64),
                    Reference::Previous => (
                        (k > 0 && pooled.n > 0).then_some(&pooled),
                        (k.max(1) - 1) as u64,
                    ),
                };
                let start = origin + k * s.window_ms;
                let mut w = describe(k, start, start + s.window_ms, cur, self.checks);
                match reference {
                    None => {
                        w.why = match s.reference {
                            Reference::Evidence => {
                                "no release evidence: `llmops eval` this version, or use `--reference previous`".into()
                            }
                            Reference::Previous => "no earlier window to compare with".into(),
                        };
                    }
                    Some(r) => {
                        let a = window_alpha(s.alpha, j);
                        w.alpha = Some(a);
                        w.tests = compare(cur, r, a / m as f64, self.checks);
                        let drifted: Vec<&str> = w
                            .tests
                            .iter()
                            .filter(|t| t.drift)
                            .map(|t| t.metric.as_str())
                            .collect();
                        if !drifted.is_empty() {
                            w.verdict = Verdict::Drift;
                            w.why = format!("drifted: {}", drifted.join(", "));
                        } else if cur.n < s.min_samples {
                            w.why = format!(
                                "{} call(s), fewer than {} (`--min-samples`)",
                                cur.n, s.min_samples
                            );
                        } else {
                            w.verdict = Verdict::Ok;
                            w.why = "no metric moved".into();
                        }
                    }
                }
                out.push(w);
                if cur.n > 0 {
                    pooled.merge(cur);
                }
            }
            versions.push(VersionReport {
                version: *version,
                calls: windows.values().map(|a| a.n).sum(),
                evidence_samples: ev.as_ref().map(|(a, _)| a.n),
                evidence_run: ev.as_ref().map(|(_, id)| *id),
                windows: out,
            });
        }
        let (verdict, version, why) = match self.newest {
            Some((_, v)) => {
                let w = versions
                    .iter()
                    .find(|r| r.version == v)
                    .and_then(|r| r.windows.last());
                match w {
                    Some(w) => (
                        w.verdict,
                        v,
                        format!("v{v}, window from {}: {}", &w.start[..10], w.why),
                    ),
                    None => (Verdict::Inconclusive, v, "no calls".into()),
                }
            }
            None => (Verdict::Inconclusive, 0, "no calls in the period".into()),
        };
        PromptReport {
            prompt: prompt.to_string(),
            verdict,
            version,
            why,
            metric_groups: self.checks.groups.clone(),
            judged_groups: self.checks.judged_groups.clone(),
            left_out: self.checks.left_out.clone(),
            versions,
        }
    }
}

fn describe(k: i64, start: i64, end: i64, a: &Agg, checks: &Checks) -> Window {
    let groups = &checks.groups;
    let time = |ms: i64| crate::store::rfc3339(ms.div_euclid(1000), 0);
    Window {
        index: k,
        start: time(start),
        end: time(end),
        n: a.n,
        pass_rate: ratio(a.pass.0, a.pass.1),
        score: (a.score.1 > 0).then(|| a.score.0 / a.score.1 as f64),
        metrics: groups
            .iter()
            .zip(&a.groups)
            .filter_map(|(g, (s, n))| Some((g.clone(), ratio(*s, *n)?)))
            .collect(),
        judged: a.judged_n,
        judged_metrics: checks
            .judged_groups
            .iter()
            .zip(&a.judged)
            .filter_map(|(g, (s, n))| Some((g.clone(), ratio(*s, *n)?)))
            .collect(),
        refusal_rate: ratio(a.refusal, a.n),
        output_length: mean(&a.length),
        tokens: mean(&a.tokens),
        cost_usd: mean(&a.cost),
        latency_p95_ms: quantile(&sorted(&a.latency), 0.95),
        alpha: None,
        tests: Vec::new(),
        verdict: Verdict::Inconclusive,
        why: String::new(),
    }
}

fn proportion(metric: &str, cur: (u64, u64), reference: (u64, u64), a: f64) -> Test {
    let ci = bernoulli_cs(cur.0, cur.1, a / 2.0);
    let ri = clopper_pearson(reference.0, reference.1, a / 2.0);
    Test {
        metric: metric.to_string(),
        method: "proportion",
        threshold: None,
        current: ratio(cur.0, cur.1),
        current_interval: ci,
        reference: ratio(reference.0, reference.1),
        reference_interval: ri,
        drift: cur.1 > 0 && reference.1 > 0 && disjoint(ci, ri),
    }
}

/// The share of `cur` above the reference's `q` quantile, against the reference's own share
/// with a DKW band (valid for a threshold read off the reference itself).
fn exceeds(metric: &str, cur: &[f32], reference: &[f32], q: f64, a: f64) -> Test {
    let rs = sorted(reference);
    let t = quantile(&rs, q);
    let (mut ci, mut ri, mut cur_share, mut ref_share) = ((0.0, 1.0), (0.0, 1.0), None, None);
    let mut drift = false;
    if let Some(t) = t {
        let over = rs.iter().filter(|x| f64::from(**x) > t).count() as u64;
        let p = over as f64 / rs.len() as f64;
        let eps = dkw(rs.len() as u64, a / 2.0);
        ri = ((p - eps).max(0.0), (p + eps).min(1.0));
        ref_share = Some(p);
        let c = cur.iter().filter(|x| f64::from(**x) > t).count() as u64;
        ci = bernoulli_cs(c, cur.len() as u64, a / 2.0);
        cur_share = ratio(c, cur.len() as u64);
        drift = !cur.is_empty() && disjoint(ci, ri);
    }
    Test {
        metric: metric.to_string(),
        method: "exceeds",
        threshold: t,
        current: cur_share,
        current_interval: ci,
        reference: ref_share,
        reference_interval: ri,
        drift,
    }
}

fn compare(cur: &Agg, r: &Agg, a: f64, checks: &Checks) -> Vec<Test> {
    let groups = &checks.groups;
    let mut tests = Vec::new();
    if r.pass.1 > 0 || cur.pass.1 > 0 {
        tests.push(proportion("pass rate", cur.pass, r.pass, a));
        let ci = mean_cs(cur.score.0, cur.score.1, a / 2.0);
        let ri = hoeffding(r.score.0, r.score.1, a / 2.0);
        tests.push(Test {
            metric: "score".into(),
            method: "mean",
            threshold: None,
            current: (cur.score.1 > 0).then(|| cur.score.0 / cur.score.1 as f64),
            current_interval: ci,
            reference: (r.score.1 > 0).then(|| r.score.0 / r.score.1 as f64),
            reference_interval: ri,
            drift: cur.score.1 > 0 && r.score.1 > 0 && disjoint(ci, ri),
        });
        for (i, g) in groups.iter().enumerate() {
            let c = cur.groups.get(i).copied().unwrap_or((0, 0));
            let rr = r.groups.get(i).copied().unwrap_or((0, 0));
            tests.push(proportion(&format!("metric {g}"), c, rr, a));
        }
    }
    // Judged metrics: on the sampled calls only (n is the number judged, never every call).
    for (i, g) in checks.judged_groups.iter().enumerate() {
        let c = cur.judged.get(i).copied().unwrap_or((0, 0));
        let rr = r.judged.get(i).copied().unwrap_or((0, 0));
        tests.push(proportion(&format!("metric {g}"), c, rr, a));
    }
    tests.push(proportion(
        "refusal rate",
        (cur.refusal, cur.n),
        (r.refusal, r.n),
        a,
    ));
    tests.push(exceeds("output length", &cur.length, &r.length, 0.5, a));
    tests.push(exceeds("tokens", &cur.tokens, &r.tokens, 0.5, a));
    tests.push(exceeds("cost", &cur.cost, &r.cost, 0.5, a));
    tests.push(exceeds("latency p95", &cur.latency, &r.latency, 0.95, a));
    tests
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(reference: Reference) -> Settings {
        Settings {
            window_ms: 7 * DAY_MS,
            reference,
            since_ms: 0,
            alpha: 0.05,
            min_samples: 30,
        }
    }

    fn call(output: &str) -> Call<'_> {
        Call {
            output,
            finish_reason: Some("stop"),
            latency_ms: Some(100.0),
            cost_usd: Some(0.001),
            tokens: Some(100),
        }
    }

    #[test]
    fn the_first_window_has_nothing_to_compare_with() {
        let checks = Checks::default();
        let mut m = Monitor::new(settings(Reference::Previous), &checks);
        for i in 0..100 {
            m.add(i * 60_000, 1, &call("Hello there, here is your answer."));
        }
        let r = m.finish("p", |_| None);
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.why.contains("no earlier window"), "{}", r.why);
    }

    #[test]
    fn a_jump_in_refusals_is_drift_and_steady_traffic_is_ok() {
        let checks = Checks::default();
        for (later, want) in [
            ("Sure, here is how to reset it.", Verdict::Ok),
            ("I'm sorry, but I can't help with that.", Verdict::Drift),
        ] {
            let mut m = Monitor::new(settings(Reference::Previous), &checks);
            for i in 0..1400 {
                m.add(
                    i * 7 * DAY_MS / 1400,
                    1,
                    &call("Sure, here is how to reset it."),
                );
            }
            for i in 0..700 {
                let text = if i % 2 == 0 {
                    later
                } else {
                    "Sure, here is how to reset it."
                };
                m.add(7 * DAY_MS + i * DAY_MS / 700, 1, &call(text));
            }
            let r = m.finish("p", |_| None);
            assert_eq!(r.verdict, want, "{}", r.why);
        }
    }

    #[test]
    fn a_judged_metric_is_tested_on_the_sampled_calls_only() {
        let rubric = Assertion::from_raw(&crate::assert::RawAssertion {
            kind: "llm-rubric".into(),
            value: Some(serde_json::json!("polite")),
            metric: Some("tone".into()),
            ..crate::assert::RawAssertion::default()
        })
        .expect("valid");
        let checks = Checks {
            judged: vec![rubric],
            judged_group_of: vec![0],
            judged_groups: vec!["tone (judge)".into()],
            ..Checks::default()
        };
        assert_eq!(checks.tests(), 6, "five fixed metrics and the judged one");
        let mut m = Monitor::new(settings(Reference::Previous), &checks);
        // 1400 calls a week; one in ten judged: passing in week one, failing in week two.
        for week in 0..2 {
            for i in 0..1400 {
                let mut o = checks.observe(&call("Sure, here is how to reset it."));
                if i % 10 == 0 {
                    checks.add_judged(&mut o, &[Some(week == 0)]);
                }
                m.add_observation(week * 7 * DAY_MS + i * 7 * DAY_MS / 1400, 1, &o);
            }
        }
        let r = m.finish("p", |_| None);
        let w = &r.versions[0].windows[1];
        assert_eq!(w.n, 1400);
        assert_eq!(w.judged, 140);
        assert_eq!(w.judged_metrics["tone (judge)"], 0.0);
        let t = w
            .tests
            .iter()
            .find(|t| t.metric == "metric tone (judge)")
            .unwrap();
        assert!(t.drift);
        // The interval is that of 140 calls, not 1400: wider than 1400 would give.
        let n140 = bernoulli_cs(0, 140, w.alpha.unwrap() / 6.0 / 2.0);
        assert!((t.current_interval.1 - n140.1).abs() < 1e-12, "{t:?}");
        assert_eq!(r.verdict, Verdict::Drift);
    }
}
