//! `llmops monitor`'s report: the trend table per prompt in the terminal and in Markdown, and
//! the JSON document. Pure functions returning text.

use serde::Serialize;

use super::drift::{PromptReport, Reference, Test, Verdict, Window};
use crate::table::{col, render, Layout};

/// The whole report.
#[derive(Debug, Serialize)]
pub struct MonitorReport {
    /// Versioned schema name.
    pub schema: &'static str,
    /// Window length, as given (`7d`).
    pub window: String,
    /// What windows were compared with.
    pub reference: Reference,
    /// Calls from (RFC 3339), when `--since` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Family-wise false-alarm rate per prompt.
    pub alpha: f64,
    /// What the judge did (`--judge-sample`); absent when it was not asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeSummary>,
    /// Per prompt.
    pub prompts: Vec<PromptReport>,
}

/// The judge's part of a monitor run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JudgeSummary {
    /// Share of calls sampled (`--judge-sample`).
    pub sample_rate: f64,
    /// The sampling seed (`--judge-seed`).
    pub seed: u64,
    /// The spend cap, USD (`--judge-budget`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    /// The cap on judge calls (`--judge-max-calls`).
    pub max_calls: u64,
    /// Calls the sample picked.
    pub sampled: u64,
    /// Sampled calls graded (the rest were left when a cap stopped sampling).
    pub judged: u64,
    /// Requests sent to the judge.
    pub calls: u64,
    /// Verdicts taken from the judge cache.
    pub cached: u64,
    /// Verdicts replayed from recordings (an offline judge such as `replay`).
    pub offline: u64,
    /// Judge spend, USD.
    pub cost_usd: f64,
    /// Judged calls whose vars do not render their version's template: the judge saw no
    /// request (no QUESTION) for them.
    pub without_request: u64,
    /// Verdicts that were ERROR (not counted in the judged metrics).
    pub errors: u64,
    /// The first ERROR's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Verdicts marked SUSPECT (an injection attempt in the output): counted as failing.
    pub suspect: u64,
    /// Why sampling stopped before every sampled call was judged, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl JudgeSummary {
    /// One line for people.
    pub fn line(&self) -> String {
        let mut s = format!(
            "judge: {:.0}% sampled (seed {}): {} call(s) sampled, {} judged; {} judge request(s), {} cached, ${:.4}",
            self.sample_rate * 100.0,
            self.seed,
            self.sampled,
            self.judged,
            self.calls,
            self.cached,
            self.cost_usd
        );
        if let Some(b) = self.budget_usd {
            s.push_str(&format!(" of a ${b:.4} budget"));
        }
        if self.without_request > 0 {
            s.push_str(&format!(
                "; {} call(s) judged without their request (their vars do not render the template)",
                self.without_request
            ));
        }
        if self.offline > 0 {
            s.push_str(&format!("; {} replayed offline", self.offline));
        }
        if self.errors > 0 {
            s.push_str(&format!("; {} ERROR verdict(s) not counted", self.errors));
            if let Some(e) = &self.first_error {
                s.push_str(&format!(" (first: {e})"));
            }
        }
        if self.suspect > 0 {
            s.push_str(&format!(
                "; {} SUSPECT verdict(s) (injection attempt) counted as failing",
                self.suspect
            ));
        }
        if let Some(why) = &self.stopped {
            s.push_str(&format!(
                "; sampling stopped: {why}; {} sampled call(s) not judged",
                self.sampled - self.judged
            ));
        }
        s
    }
}

/// Per prompt: the judged calls and the judged metrics of the current window.
fn judged_line(p: &PromptReport) -> Option<String> {
    let judged: u64 = p
        .versions
        .iter()
        .flat_map(|v| &v.windows)
        .map(|w| w.judged)
        .sum();
    if p.judged_groups.is_empty() {
        return None;
    }
    let w = p
        .versions
        .iter()
        .find(|v| v.version == p.version)
        .and_then(|v| v.windows.last());
    let current: Vec<String> = w
        .map(|w| {
            w.judged_metrics
                .iter()
                .map(|(g, r)| format!("{g} {}", pct(Some(*r))))
                .collect()
        })
        .unwrap_or_default();
    Some(format!(
        "judged: {judged} call(s) with a verdict; current window: {}{}",
        w.map_or(0, |w| w.judged),
        if current.is_empty() {
            String::new()
        } else {
            format!(", {}", current.join(", "))
        }
    ))
}

/// The JSON schema name.
pub const SCHEMA: &str = "llmops.monitor/1";

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn cost(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| {
        if v < 0.01 {
            format!("${v:.5}")
        } else {
            format!("${v:.3}")
        }
    })
}

fn row(version: u32, w: &Window) -> Vec<String> {
    vec![
        format!("v{version}"),
        w.start[..10].to_string(),
        w.n.to_string(),
        pct(w.pass_rate),
        num(w.score, 2),
        pct(w.refusal_rate),
        num(w.output_length, 0),
        num(w.tokens, 0),
        cost(w.cost_usd),
        num(w.latency_p95_ms, 0),
        w.verdict.as_str().to_string(),
    ]
}

const HEADERS: [(&str, u8, bool); 11] = [
    ("VER", 0, false),
    ("WINDOW", 0, false),
    ("CALLS", 0, true),
    ("PASS", 1, true),
    ("SCORE", 4, true),
    ("REFUSAL", 1, true),
    ("LENGTH", 2, true),
    ("TOKENS", 5, true),
    ("COST", 3, true),
    ("P95 MS", 3, true),
    ("VERDICT", 0, false),
];

/// Windows shown per prompt in the table (the newest); JSON has them all.
pub const SHOWN_WINDOWS: usize = 12;

fn rows(p: &PromptReport) -> Vec<Vec<String>> {
    let mut all: Vec<(String, Vec<String>)> = p
        .versions
        .iter()
        .flat_map(|v| {
            v.windows
                .iter()
                .map(move |w| (w.start.clone(), row(v.version, w)))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let skip = all.len().saturating_sub(SHOWN_WINDOWS);
    all.into_iter().skip(skip).map(|(_, r)| r).collect()
}

fn interval(t: &Test, v: Option<f64>, (lo, hi): (f64, f64)) -> String {
    match t.method {
        "mean" => format!("{} [{lo:.2}, {hi:.2}]", num(v, 2)),
        _ => format!("{} [{:.1}%, {:.1}%]", pct(v), lo * 100.0, hi * 100.0),
    }
}

fn drifted(p: &PromptReport) -> Vec<String> {
    let Some(w) = p
        .versions
        .iter()
        .find(|v| v.version == p.version)
        .and_then(|v| v.windows.last())
    else {
        return Vec::new();
    };
    w.tests
        .iter()
        .filter(|t| t.drift)
        .map(|t| {
            let what = match (t.method, t.threshold) {
                ("exceeds", Some(th)) => {
                    format!("{} (share above the reference's {th:.4})", t.metric)
                }
                _ => t.metric.clone(),
            };
            format!(
                "{what}: {} vs reference {}",
                interval(t, t.current, t.current_interval),
                interval(t, t.reference, t.reference_interval)
            )
        })
        .collect()
}

/// The terminal report.
pub fn text(r: &MonitorReport, layout: Layout) -> String {
    let columns: Vec<_> = HEADERS
        .iter()
        .map(|(h, p, right)| col(h, *p, *right))
        .collect();
    let mut out = String::new();
    for p in &r.prompts {
        let head = format!("{}: {} ({})", p.prompt, p.verdict.as_str(), p.why);
        out.push_str(&layout.wrap(&head, "  "));
        out.push('\n');
        let rs = rows(p);
        if !rs.is_empty() {
            out.push_str(&render(&columns, &rs, layout));
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        for d in drifted(p) {
            out.push_str(&layout.wrap(&format!("  drift: {d}"), "    "));
            out.push('\n');
        }
        if let Some(j) = judged_line(p) {
            out.push_str(&layout.wrap(&format!("  {j}"), "    "));
            out.push('\n');
        }
        for l in &p.left_out {
            out.push_str(&layout.wrap(&format!("  not scored: {l}"), "    "));
            out.push('\n');
        }
        out.push('\n');
    }
    if let Some(j) = &r.judge {
        out.push_str(&layout.wrap(&j.line(), "  "));
        out.push('\n');
    }
    out.push_str(&layout.wrap(summary(r).trim_end(), "  "));
    out.push('\n');
    out
}

fn summary(r: &MonitorReport) -> String {
    let count = |v: Verdict| r.prompts.iter().filter(|p| p.verdict == v).count();
    format!(
        "{} prompt(s): {} OK, {} DRIFT, {} INCONCLUSIVE (windows of {}, reference: {}, alpha {})\n",
        r.prompts.len(),
        count(Verdict::Ok),
        count(Verdict::Drift),
        count(Verdict::Inconclusive),
        r.window,
        match r.reference {
            Reference::Evidence => "release evidence",
            Reference::Previous => "previous windows",
        },
        r.alpha
    )
}

/// Cells quote judge reasons, which may quote model output: HTML in them is shown as text.
fn md_cell(s: &str) -> String {
    crate::report::render::md_escape(s)
}

/// The Markdown report (for an issue, a chat message or a job summary).
pub fn markdown(r: &MonitorReport) -> String {
    let mut out = String::from("# llmops monitor\n\n");
    for p in &r.prompts {
        out.push_str(&format!(
            "## {} — {}\n\n{}\n\n",
            md_cell(&p.prompt),
            p.verdict.as_str(),
            md_cell(&p.why)
        ));
        let rs = rows(p);
        if !rs.is_empty() {
            let heads: Vec<&str> = HEADERS.iter().map(|h| h.0).collect();
            out.push_str(&format!("| {} |\n", heads.join(" | ")));
            let aligns: Vec<&str> = HEADERS
                .iter()
                .map(|h| if h.2 { "---:" } else { "---" })
                .collect();
            out.push_str(&format!("|{}|\n", aligns.join("|")));
            for row in rs {
                let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
            out.push('\n');
        }
        for d in drifted(p) {
            out.push_str(&format!("- drift: {}\n", md_cell(&d)));
        }
        if let Some(j) = judged_line(p) {
            out.push_str(&format!("- {}\n", md_cell(&j)));
        }
        for l in &p.left_out {
            out.push_str(&format!("- not scored: {}\n", md_cell(l)));
        }
        out.push('\n');
    }
    if let Some(j) = &r.judge {
        out.push_str(&format!("{}\n\n", md_cell(&j.line())));
    }
    out.push_str(&summary(r));
    out
}
