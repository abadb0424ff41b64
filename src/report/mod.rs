//! Run reports: built from stored results, written as text, JSON, Markdown or JUnit. Pure
//! functions from data to text; nothing here prints.

pub mod diff;
pub mod evidence;
pub mod html;
pub(crate) mod render;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Outcome;
use crate::store::{ErrorKind, ResultRow, RunRow, SampleStatus};
use crate::suite::{OnSuspect, Thresholds};

pub use render::{junit, markdown, text};

/// Per-suite policy recorded with a run, so `llmops report` can judge it later.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SuitePolicy {
    /// Absolute bars.
    pub thresholds: Thresholds,
    /// Samples that must pass, as (k, n).
    pub min_pass: Option<(u32, u32)>,
    /// Samples per case.
    pub repeat: u32,
    /// What a SUSPECT case does to the suite.
    #[serde(default)]
    pub on_suspect: OnSuspect,
}

/// A case's status across its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    /// Every sample passed.
    Pass,
    /// Every sample failed.
    Fail,
    /// Some samples passed and some failed.
    Flaky,
    /// A sample could not be scored.
    Error,
    /// A model-graded assertion's output looks like an injection attempt aimed at the judge.
    Suspect,
}

impl CaseStatus {
    /// The word printed.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Pass => "pass",
            CaseStatus::Fail => "fail",
            CaseStatus::Flaky => "flaky",
            CaseStatus::Error => "error",
            CaseStatus::Suspect => "suspect",
        }
    }
}

/// One case across its samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// Description.
    pub description: Option<String>,
    /// Pass, fail, flaky or error.
    pub status: CaseStatus,
    /// Why it is ERROR: a provider failure when any sample's was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// Counts as passing (a flaky case that met `min_pass`).
    pub passed: bool,
    /// Samples that passed.
    pub passes: u32,
    /// Samples run.
    pub samples: u32,
    /// Mean score over samples that did not error.
    pub score: Option<f64>,
    /// Why it failed or errored: failed assertions' reasons, or the error.
    pub reasons: Vec<String>,
    /// The output of the first sample that failed (or the first sample).
    pub output: Option<String>,
    /// Mean latency over samples.
    pub latency_ms: Option<f64>,
    /// Critical assertions (by index and kind) that failed in any sample.
    pub critical_failures: Vec<String>,
    /// Per-metric mean score.
    pub metrics: BTreeMap<String, f64>,
    /// The case's variables (for the HTML report; not part of the JSON report; `null` in a
    /// report built without [`Builder::detail`]).
    #[serde(skip)]
    pub vars: serde_json::Value,
    /// Every assertion of the sample whose output is shown, with its reason (for the HTML
    /// report; not part of the JSON report; empty in a report built without
    /// [`Builder::detail`]).
    #[serde(skip)]
    pub assertions: Vec<crate::store::ScoreRow>,
}

/// A threshold check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    /// `pass_rate`, `score`, or a metric name.
    pub name: String,
    /// The bar.
    pub want: f64,
    /// What the run got.
    pub got: f64,
    /// Cleared.
    pub ok: bool,
    /// A ceiling (a budget) rather than a floor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub max: bool,
}

/// The budget checks of `t`: `total` is the model cost of the suite × variant in the run,
/// `worst_case` the highest cost per call of any case (mean over its samples). Unpriced
/// calls count as 0 (the run's report counts them).
pub fn budget_checks(t: &Thresholds, total: f64, worst_case: Option<f64>) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(want) = t.max_cost_usd {
        out.push(Check {
            name: "max_cost_usd".into(),
            want,
            got: total,
            ok: total <= want,
            max: true,
        });
    }
    if let (Some(want), Some(got)) = (t.max_case_cost_usd, worst_case) {
        out.push(Check {
            name: "max_case_cost_usd".into(),
            want,
            got,
            ok: got <= want,
            max: true,
        });
    }
    out
}

impl Check {
    /// Why it was missed, for a report's reasons.
    pub fn missed(&self) -> String {
        if self.max {
            format!(
                "budget {} exceeded: ${:.6} > ${:.6}",
                self.name, self.got, self.want
            )
        } else {
            format!(
                "threshold {} missed: {:.3} < {:.3}",
                self.name, self.got, self.want
            )
        }
    }

    /// `pass_rate 0.920 >= 0.900`: the check, its value and its bar, for one line of a report.
    pub fn line(&self) -> String {
        if self.max {
            return format!(
                "{} ${:.6} {} ${:.6}",
                self.name,
                self.got,
                if self.ok { "<=" } else { ">" },
                self.want
            );
        }
        format!(
            "{} {:.3} {} {:.3}",
            self.name,
            self.got,
            if self.ok { ">=" } else { "<" },
            self.want
        )
    }
}

/// One suite × variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// Suite name.
    pub suite: String,
    /// Variant name.
    pub variant: String,
    /// Prompt name.
    pub prompt: String,
    /// Prompt content hash.
    pub prompt_hash: String,
    /// Model.
    pub model: String,
    /// Cases.
    pub cases: u32,
    /// Cases that passed (incl. flaky ones that met `min_pass`).
    pub passed: u32,
    /// Cases that failed.
    pub failed: u32,
    /// Cases that errored (not scored).
    pub errored: u32,
    /// Cases with mixed samples.
    pub flaky: u32,
    /// Cases SUSPECT of an injection attempt (counted apart, like errors).
    #[serde(default)]
    pub suspect: u32,
    /// What a SUSPECT case does to the suite.
    #[serde(default)]
    pub on_suspect: OnSuspect,
    /// With a judge panel: the share of panel verdicts on which every judge agreed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel_agreement: Option<f64>,
    /// With a judge panel: the verdicts the judges split on (`case#sample kind: votes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panel_disagreements: Vec<String>,
    /// passed / (cases - errored - suspect).
    pub pass_rate: Option<f64>,
    /// Mean case score over cases that did not error.
    pub score: Option<f64>,
    /// Per-metric means.
    pub metrics: BTreeMap<String, f64>,
    /// USD of the prompt's own calls (including cached ones, at their original cost).
    pub cost_usd: f64,
    /// USD of judge calls made in this run.
    pub judge_cost_usd: f64,
    /// Answers whose model has no known price (built in or under `pricing:`): their cost is
    /// unknown, not $0.
    #[serde(default)]
    pub unpriced: u32,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Median latency.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile latency.
    pub latency_p95_ms: Option<f64>,
    /// Threshold checks.
    pub checks: Vec<Check>,
    /// A `pass_rate` or `score` threshold is set: it, not "every case passes", is the bar for
    /// the cases (metric thresholds alone cover only their own assertions).
    #[serde(skip)]
    pub case_bar_set: bool,
    /// Every case.
    pub case_results: Vec<CaseResult>,
}

impl Group {
    /// Cleared every threshold, and had no failing case unless a `pass_rate` or `score`
    /// threshold says how many may fail.
    pub fn ok(&self) -> bool {
        // An ERROR case is never a success, whatever the thresholds say.
        self.errored == 0
            && (self.suspect == 0 || self.on_suspect == OnSuspect::Warn)
            && self.checks.iter().all(|c| c.ok)
            && (self.case_bar_set || self.failed == 0)
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// The JSON shape's version, [`SCHEMA`] (empty when read from an older report).
    #[serde(default)]
    pub schema: String,
    /// The run's row.
    pub run: RunRow,
    /// Per suite × variant.
    pub groups: Vec<Group>,
}

/// The version of the eval report's JSON shape; docs/schemas/eval-report.schema.json
/// describes it.
pub const SCHEMA: &str = "llmops.eval/1";

/// The q-quantile (0..1) of sorted values, by linear interpolation.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

fn mean(xs: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0u32);
    for x in xs {
        sum += x;
        n += 1;
    }
    (n > 0).then(|| sum / f64::from(n))
}

/// Fold one case's samples into a case result.
pub fn case_result(samples: &[&ResultRow], min_pass: Option<(u32, u32)>) -> CaseResult {
    case_result_with(samples, min_pass, true)
}

/// [`case_result`], keeping the variables and assertions only when `detail`.
fn case_result_with(
    samples: &[&ResultRow],
    min_pass: Option<(u32, u32)>,
    detail: bool,
) -> CaseResult {
    let first = samples[0];
    let n = samples.len() as u32;
    let passes = samples
        .iter()
        .filter(|r| r.status == SampleStatus::Pass)
        .count() as u32;
    let errors: Vec<&&ResultRow> = samples
        .iter()
        .filter(|r| r.status == SampleStatus::Error)
        .collect();
    let error_kind = errors
        .iter()
        .filter_map(|r| r.error_kind)
        .find(|k| k.is_provider_failure())
        .or_else(|| errors.iter().find_map(|r| r.error_kind));
    let need = min_pass
        .map_or(n, |(k, of)| {
            ((u64::from(k) * u64::from(n)).div_ceil(u64::from(of.max(1)))) as u32
        })
        .max(1);
    let suspect = samples
        .iter()
        .flat_map(|r| &r.scores)
        .any(|s| s.suspect.is_some());
    let (status, passed) = if !errors.is_empty() {
        (CaseStatus::Error, false)
    } else if suspect {
        (CaseStatus::Suspect, false)
    } else if passes == n {
        (CaseStatus::Pass, true)
    } else if passes == 0 {
        (CaseStatus::Fail, false)
    } else {
        (CaseStatus::Flaky, passes >= need)
    };
    let mut reasons = Vec::new();
    for e in &errors {
        if let Some(msg) = &e.error {
            if !reasons.contains(msg) {
                reasons.push(msg.clone());
            }
        }
    }
    for s in samples.iter().flat_map(|r| &r.scores) {
        if let Some(why) = &s.suspect {
            let line = format!("{}: SUSPECT: {why}", s.kind);
            if !reasons.contains(&line) {
                reasons.push(line);
            }
        }
    }
    let mut critical = Vec::new();
    for r in samples.iter().filter(|r| r.status == SampleStatus::Fail) {
        for (i, s) in r.scores.iter().enumerate() {
            if !s.pass && s.suspect.is_none() {
                let line = format!("{}: {}", s.kind, s.reason);
                // An `assert-set`'s reason already names its failed items.
                let item = s.kind.starts_with(crate::assert::cross::SET_ITEM);
                if !item && !reasons.contains(&line) {
                    reasons.push(line);
                }
                let c = format!("{i}:{}", s.kind);
                if s.critical && !critical.contains(&c) {
                    critical.push(c);
                }
            }
        }
    }
    let scored: Vec<&&ResultRow> = samples
        .iter()
        .filter(|r| r.status != SampleStatus::Error)
        .collect();
    let mut metrics: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &scored {
        for s in &r.scores {
            if let Some(m) = &s.metric {
                metrics.entry(m.clone()).or_default().push(s.score);
            }
        }
    }
    let shown = samples
        .iter()
        .find(|r| r.status != SampleStatus::Pass)
        .or(samples.first());
    let output = shown.and_then(|r| r.output.clone());
    CaseResult {
        id: first.case_id.clone(),
        description: first.description.clone(),
        status,
        error_kind,
        passed,
        passes,
        samples: n,
        score: mean(scored.iter().filter_map(|r| r.score)),
        reasons,
        output,
        latency_ms: mean(samples.iter().filter_map(|r| r.latency_ms)),
        critical_failures: critical,
        metrics: metrics
            .into_iter()
            .filter_map(|(k, v)| mean(v).map(|m| (k, m)))
            .collect(),
        vars: if detail {
            first.vars.clone()
        } else {
            serde_json::Value::Null
        },
        assertions: match shown {
            Some(r) if detail => r.scores.clone(),
            _ => Vec::new(),
        },
    }
}

/// Build a report from a run's stored rows (ordered by suite, variant, case, sample).
pub fn build(run: RunRow, rows: &[ResultRow]) -> RunReport {
    let mut b = Builder::new(run);
    let mut k = 0;
    while k < rows.len() {
        let mut m = k;
        while m < rows.len()
            && rows[m].case_id == rows[k].case_id
            && rows[m].suite == rows[k].suite
            && rows[m].variant == rows[k].variant
        {
            m += 1;
        }
        b.case(&rows[k..m]);
        k = m;
    }
    b.finish()
}

/// A report built case by case from rows in report order (suite, variant, case, sample): only
/// one case's rows are held at a time, so a run of 100,000 cases is reported without loading
/// it whole. [`build`] is the same over a slice.
pub struct Builder {
    run: RunRow,
    policies: BTreeMap<String, SuitePolicy>,
    groups: Vec<Group>,
    current: Option<GroupAcc>,
    pending: Vec<ResultRow>,
    /// Keep each case's variables and assertions (only the HTML report shows them).
    detail: bool,
}

/// The sums of one suite × variant so far.
struct GroupAcc {
    suite: String,
    variant: String,
    prompt: String,
    prompt_hash: String,
    model: String,
    policy: SuitePolicy,
    cases: Vec<CaseResult>,
    panel_n: u32,
    panel_unanimous: u32,
    panel_split: Vec<String>,
    lat: Vec<f64>,
    cost_usd: f64,
    judge_cost_usd: f64,
    unpriced: u32,
    input_tokens: u64,
    output_tokens: u64,
    /// The highest cost per answered call of any case so far (for `max_case_cost_usd`).
    worst_case: Option<f64>,
}

impl Builder {
    /// A report of `run`, with no rows yet.
    pub fn new(run: RunRow) -> Builder {
        let policies: BTreeMap<String, SuitePolicy> = run
            .settings
            .get("suites")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        Builder {
            run,
            policies,
            groups: Vec::new(),
            current: None,
            pending: Vec::new(),
            detail: true,
        }
    }

    /// Whether each case keeps its variables and the assertions of its shown sample (the
    /// default). Only the HTML report shows them; the text, JSON, Markdown and JUnit reports
    /// of a 100,000-case run are built in a fraction of the memory without.
    pub fn detail(mut self, keep: bool) -> Builder {
        self.detail = keep;
        self
    }

    /// The next row.
    pub fn push(&mut self, row: ResultRow) {
        if let Some(last) = self.pending.last() {
            if last.case_id != row.case_id || last.suite != row.suite || last.variant != row.variant
            {
                let rows = std::mem::take(&mut self.pending);
                self.case(&rows);
            }
        }
        self.pending.push(row);
    }

    /// One case's rows (all its samples).
    fn case(&mut self, rows: &[ResultRow]) {
        let Some(first) = rows.first() else { return };
        let same = self
            .current
            .as_ref()
            .is_some_and(|g| g.suite == first.suite && g.variant == first.variant);
        if !same {
            if let Some(g) = self.current.take() {
                self.groups.push(g.finish());
            }
            self.current = Some(GroupAcc {
                suite: first.suite.clone(),
                variant: first.variant.clone(),
                prompt: first.prompt.clone(),
                prompt_hash: first.prompt_hash.clone(),
                model: first.model.clone(),
                policy: self.policies.get(&first.suite).cloned().unwrap_or_default(),
                cases: Vec::new(),
                panel_n: 0,
                panel_unanimous: 0,
                panel_split: Vec::new(),
                lat: Vec::new(),
                cost_usd: 0.0,
                judge_cost_usd: 0.0,
                unpriced: 0,
                input_tokens: 0,
                output_tokens: 0,
                worst_case: None,
            });
        }
        let g = self.current.as_mut().expect("set above");
        let samples: Vec<&ResultRow> = rows.iter().collect();
        g.cases
            .push(case_result_with(&samples, g.policy.min_pass, self.detail));
        let (n, unanimous, split) = panel_counts(rows);
        g.panel_n += n;
        g.panel_unanimous += unanimous;
        g.panel_split.extend(split);
        // Latency of answers only: a sample that errored before an answer came has no latency.
        g.lat.extend(
            rows.iter()
                .filter(|r| r.output.is_some())
                .filter_map(|r| r.latency_ms),
        );
        for r in rows {
            if let Some(c) = r.cost_usd {
                g.cost_usd += c;
            }
            g.judge_cost_usd += r.judge_cost_usd;
            if r.output.is_some() && r.cost_usd.is_none() {
                g.unpriced += 1;
            }
            g.input_tokens += r.input_tokens;
            g.output_tokens += r.output_tokens;
        }
        let answered: Vec<f64> = rows
            .iter()
            .filter(|r| r.output.is_some())
            .map(|r| r.cost_usd.unwrap_or(0.0))
            .collect();
        if !answered.is_empty() {
            let per_call = answered.iter().sum::<f64>() / answered.len() as f64;
            g.worst_case = Some(g.worst_case.map_or(per_call, |w| w.max(per_call)));
        }
    }

    /// The id of the run reported.
    pub fn run_id(&self) -> i64 {
        self.run.id
    }

    /// Whether no row came.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.current.is_none() && self.pending.is_empty()
    }

    /// The report.
    pub fn finish(mut self) -> RunReport {
        let rows = std::mem::take(&mut self.pending);
        self.case(&rows);
        if let Some(g) = self.current.take() {
            self.groups.push(g.finish());
        }
        RunReport {
            schema: SCHEMA.into(),
            run: self.run,
            groups: self.groups,
        }
    }
}

impl GroupAcc {
    fn finish(self) -> Group {
        let acc = self;
        let cases = acc.cases;
        let policy = &acc.policy;
        let errored = cases
            .iter()
            .filter(|c| c.status == CaseStatus::Error)
            .count() as u32;
        let passed = cases.iter().filter(|c| c.passed).count() as u32;
        let flaky = cases
            .iter()
            .filter(|c| c.status == CaseStatus::Flaky)
            .count() as u32;
        let suspect = cases
            .iter()
            .filter(|c| c.status == CaseStatus::Suspect)
            .count() as u32;
        let n = cases.len() as u32;
        let failed = n - errored - suspect - passed;
        let scored = n - errored - suspect;
        let pass_rate = (scored > 0).then(|| f64::from(passed) / f64::from(scored));
        let score = mean(
            cases
                .iter()
                .filter(|c| c.status != CaseStatus::Suspect)
                .filter_map(|c| c.score),
        );
        let mut metric_values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for c in &cases {
            for (m, v) in &c.metrics {
                metric_values.entry(m.clone()).or_default().push(*v);
            }
        }
        let metrics: BTreeMap<String, f64> = metric_values
            .into_iter()
            .filter_map(|(k, v)| mean(v).map(|m| (k, m)))
            .collect();
        let panel_agreement =
            (acc.panel_n > 0).then(|| f64::from(acc.panel_unanimous) / f64::from(acc.panel_n));
        let panel_disagreements = acc.panel_split;
        let mut lat = acc.lat;
        lat.sort_by(f64::total_cmp);
        let mut checks = Vec::new();
        let t = &policy.thresholds;
        if let Some(want) = t.pass_rate {
            let got = pass_rate.unwrap_or(0.0);
            checks.push(Check {
                name: "pass_rate".into(),
                want,
                got,
                ok: got >= want,
                max: false,
            });
        }
        if let Some(want) = t.score {
            let got = score.unwrap_or(0.0);
            checks.push(Check {
                name: "score".into(),
                want,
                got,
                ok: got >= want,
                max: false,
            });
        }
        for (name, want) in &t.metrics {
            // A slice (`--shard`, `--filter`) may hold no case with this metric: nothing to check.
            if let Some(&got) = metrics.get(name) {
                checks.push(Check {
                    name: name.clone(),
                    want: *want,
                    got,
                    ok: got >= *want,
                    max: false,
                });
            }
        }
        checks.extend(budget_checks(t, acc.cost_usd, acc.worst_case));
        Group {
            suite: acc.suite,
            variant: acc.variant,
            prompt: acc.prompt,
            prompt_hash: acc.prompt_hash,
            model: acc.model,
            cases: n,
            passed,
            failed,
            errored,
            flaky,
            suspect,
            on_suspect: policy.on_suspect,
            panel_agreement,
            panel_disagreements,
            pass_rate,
            score,
            metrics,
            cost_usd: acc.cost_usd,
            judge_cost_usd: acc.judge_cost_usd,
            unpriced: acc.unpriced,
            input_tokens: acc.input_tokens,
            output_tokens: acc.output_tokens,
            latency_p50_ms: quantile(&lat, 0.5),
            latency_p95_ms: quantile(&lat, 0.95),
            checks,
            case_bar_set: t.pass_rate.is_some() || t.score.is_some(),
            case_results: cases,
        }
    }
}

/// Inter-judge agreement of a judge panel over rows: how many panel verdicts, how many were
/// unanimous, and the split ones.
fn panel_counts(rows: &[ResultRow]) -> (u32, u32, Vec<String>) {
    let (mut n, mut unanimous, mut split) = (0u32, 0u32, Vec::new());
    for r in rows {
        for s in &r.scores {
            let Some(votes) = &s.panel else { continue };
            n += 1;
            if votes.windows(2).all(|w| w[0] == w[1]) {
                unanimous += 1;
            } else {
                let v: Vec<&str> = votes
                    .iter()
                    .map(|p| if *p { "pass" } else { "fail" })
                    .collect();
                split.push(format!(
                    "{}#{} {}: {}",
                    r.case_id,
                    r.sample,
                    s.kind,
                    v.join(", ")
                ));
            }
        }
    }
    (n, unanimous, split)
}

impl RunReport {
    /// How the run ended for the exit code: a provider failure when a case is ERROR because
    /// a provider or judge call failed beyond retries; a quality failure when a suite missed a
    /// threshold (or, without a `pass_rate` or `score` threshold, had a failing case) or a case is ERROR for another reason.
    pub fn outcome(&self) -> Outcome {
        let cases = || self.groups.iter().flat_map(|g| &g.case_results);
        let provider_failed = cases().any(|c| {
            c.status == CaseStatus::Error
                && c.error_kind.is_some_and(ErrorKind::is_provider_failure)
        });
        let errored = self.groups.iter().any(|g| g.errored > 0);
        if provider_failed {
            Outcome::ProviderFailed
        } else if errored || self.groups.iter().any(|g| !g.ok()) {
            // An ERROR (an assertion that could not be evaluated) is never a success.
            Outcome::QualityFailed
        } else {
            Outcome::Success
        }
    }
}

/// One suite and variant of a dry run.
#[derive(Debug, Default, serde::Serialize)]
pub struct EstimateLine {
    /// Suite.
    pub suite: String,
    /// Variant.
    pub variant: String,
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Samples planned.
    pub samples: u64,
    /// Network calls to make.
    pub calls: u64,
    /// Samples answered offline (replay, echo).
    pub offline: u64,
    /// Samples answered from the cache.
    pub cache_hits: u64,
    /// Estimated prompt tokens of the calls.
    pub est_input_tokens: u64,
    /// At most this many completion tokens (`max_tokens`, else 256 a call).
    pub est_output_tokens: u64,
    /// Estimated USD, at most.
    pub est_cost_usd: f64,
    /// Every call's model has a price.
    pub priced: bool,
    /// Judge calls the answers would need (model-graded assertions × judges), not counting
    /// judges answered offline.
    #[serde(default)]
    pub judge_calls: u64,
    /// Judge calls answered offline (a `replay` or `echo` judge).
    #[serde(default)]
    pub judge_offline: u64,
    /// Estimated USD of the judge calls, at most.
    #[serde(default)]
    pub est_judge_cost_usd: f64,
    /// Every judge call's model has a price.
    #[serde(default)]
    pub judge_priced: bool,
}

/// The `eval --dry-run` table, laid out for `layout`, and its total line.
pub fn dry_run_text(lines: &[EstimateLine], layout: crate::table::Layout) -> String {
    use crate::table::col;
    let columns = [
        col("SUITE", 0, false),
        col("VARIANT", 2, false),
        col("PROVIDER", 3, false),
        col("MODEL", 3, false),
        col("SAMPLES", 1, true),
        col("CALLS", 0, true),
        col("OFFLINE", 2, true),
        col("CACHED", 0, true),
        col("EST. TOKENS IN/OUT", 4, true),
        col("EST. COST", 0, true),
    ];
    let mut rows = Vec::new();
    for l in lines {
        rows.push(vec![
            l.suite.clone(),
            l.variant.clone(),
            l.provider.clone(),
            l.model.clone(),
            l.samples.to_string(),
            l.calls.to_string(),
            l.offline.to_string(),
            l.cache_hits.to_string(),
            format!("{}/{} (at most)", l.est_input_tokens, l.est_output_tokens),
            if l.calls == 0 {
                "$0".into()
            } else if l.priced {
                format!("≤ ${:.4}", l.est_cost_usd)
            } else {
                "no price".into()
            },
        ]);
    }
    let t = crate::table::render(&columns, &rows, layout);
    let calls: u64 = lines.iter().map(|l| l.calls).sum();
    let hits: u64 = lines.iter().map(|l| l.cache_hits).sum();
    let offline: u64 = lines.iter().map(|l| l.offline).sum();
    let cost: f64 = lines.iter().map(|l| l.est_cost_usd).sum();
    let offline = if offline > 0 {
        format!(", {offline} answered offline (replay/echo)")
    } else {
        String::new()
    };
    let unknown = if unpriced_models(lines).is_empty() {
        String::new()
    } else {
        " plus calls of unknown cost".to_string()
    };
    let jcalls: u64 = lines.iter().map(|l| l.judge_calls).sum();
    let joffline: u64 = lines.iter().map(|l| l.judge_offline).sum();
    let jcost: f64 = lines.iter().map(|l| l.est_judge_cost_usd).sum();
    let judge = if jcalls + joffline == 0 {
        "; no judge calls".to_string()
    } else {
        let off = if joffline > 0 {
            format!(", {joffline} answered offline")
        } else {
            String::new()
        };
        let unknown = if lines.iter().any(|l| l.judge_calls > 0 && !l.judge_priced) {
            " plus calls of unknown cost"
        } else {
            ""
        };
        format!("; judge: {jcalls} call(s) to make{off}, at most ${jcost:.4}{unknown}")
    };
    let total = format!("dry run: {calls} call(s) to make, {hits} answered from the cache{offline}, at most ${cost:.4}{unknown}{judge}; nothing was called");
    format!("{t}{}\n", layout.wrap(&total, "  "))
}

/// Models a dry run would call that have no known price, sorted, each once.
pub fn unpriced_models(lines: &[EstimateLine]) -> Vec<&str> {
    let mut unpriced: Vec<&str> = lines
        .iter()
        .filter(|l| l.calls > 0 && !l.priced)
        .map(|l| l.model.as_str())
        .collect();
    unpriced.sort();
    unpriced.dedup();
    unpriced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[5.0], 0.95), Some(5.0));
    }
}
