//! The HTML report: one self-contained page (inline CSS and script, no network, works from
//! `file://`) with a summary per suite and a case table to filter, sort and open. Pure
//! functions from data to text.
//!
//! Every string from a run (model output, variables, reasons) travels as JSON data inside a
//! `<script type="application/json">` block with `<` escaped, and the page's script puts it
//! on screen with `textContent` only, so no output can become markup. A Content-Security-Policy
//! allows only the page's own script and style (by hash) and no connection at all.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::diff::Report as DiffReport;
use super::{CaseStatus, RunReport};

const SCRIPT: &str = include_str!("html.js");
const STYLE: &str = include_str!("html.css");

/// Longest text (in bytes, either side) that gets a word diff; longer pairs are shown side by
/// side without one, so a huge output cannot make the report slow to write or to open.
pub const WORD_DIFF_MAX: usize = 20_000;

/// What the page shows: built by the run, gate and diff renderers, drawn by the page script.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Page {
    /// `run`, `gate` or `diff`.
    pub kind: String,
    /// The heading.
    pub title: String,
    /// One line under the heading.
    pub subtitle: String,
    /// The overall status word (`ok`, `failed`, `PASS`, ...), coloured by `tone`.
    pub status: String,
    /// `good`, `bad`, `warn` or `none`.
    pub tone: String,
    /// One card per suite (or prompt).
    pub cards: Vec<Card>,
    /// The table's columns.
    pub columns: Vec<Column>,
    /// Metric names, for the metric filter.
    pub metrics: Vec<String>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// A summary card.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Card {
    /// Suite (or prompt) name.
    pub title: String,
    /// Status word.
    pub status: String,
    /// `good`, `bad`, `warn` or `none`.
    pub tone: String,
    /// Label and value pairs.
    pub fields: Vec<(String, String)>,
    /// Lines under the fields (threshold checks, reasons).
    pub notes: Vec<String>,
}

/// A table column; row cells line up with the page's columns.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// Header.
    pub label: String,
    /// `text`, `status`, `score` (0..1, three decimals), `delta` (signed), `ms`.
    pub format: String,
}

impl Column {
    fn new(label: &str, format: &str) -> Column {
        Column {
            label: label.into(),
            format: format.into(),
        }
    }
}

/// One assertion's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Assertion {
    /// Kind as written.
    pub kind: String,
    /// Named metric.
    pub metric: Option<String>,
    /// Passed.
    pub pass: bool,
    /// Could not be evaluated.
    pub error: bool,
    /// Gate-critical.
    pub critical: bool,
    /// 0..1.
    pub score: f64,
    /// Why (a judge's reasoning for model-graded assertions).
    pub reason: String,
}

/// Two texts side by side with the word diff between them.
#[derive(Debug, Clone, Serialize)]
pub struct Compare {
    /// What is compared (`output`, `message 2 (user)`).
    pub title: String,
    /// Left heading.
    pub a_label: String,
    /// Right heading.
    pub b_label: String,
    /// Left text (absent: that side has none).
    pub a: Option<String>,
    /// Right text.
    pub b: Option<String>,
    /// Word diff: (-1 removed, 0 same, 1 added, text); empty when too long to diff.
    pub diff: Vec<(i8, String)>,
}

/// One row of the case table and what opens under it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Row {
    /// Case (or prompt) id.
    pub id: String,
    /// Status word, used by the status filter.
    pub status: String,
    /// Cells, one per column.
    pub cells: Vec<Value>,
    /// Per-metric score.
    pub metrics: BTreeMap<String, f64>,
    /// Description.
    pub description: Option<String>,
    /// Labelled facts (sample counts, latency, scores of both sides).
    pub facts: Vec<(String, String)>,
    /// Case variables.
    pub vars: Value,
    /// The output shown.
    pub output: Option<String>,
    /// Every assertion.
    pub assertions: Vec<Assertion>,
    /// Why it failed or errored.
    pub reasons: Vec<String>,
    /// Side-by-side comparisons.
    pub compare: Vec<Compare>,
}

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The words of `a` and `b` that differ, as (-1 removed, 0 same, 1 added, text) runs; empty
/// when either text is longer than [`WORD_DIFF_MAX`].
pub fn word_diff(a: &str, b: &str) -> Vec<(i8, String)> {
    if a.len() > WORD_DIFF_MAX || b.len() > WORD_DIFF_MAX {
        return Vec::new();
    }
    let diff = similar::TextDiff::from_words(a, b);
    let mut out: Vec<(i8, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        let tag = match change.tag() {
            similar::ChangeTag::Delete => -1,
            similar::ChangeTag::Equal => 0,
            similar::ChangeTag::Insert => 1,
        };
        match out.last_mut() {
            Some((t, text)) if *t == tag => text.push_str(change.value()),
            _ => out.push((tag, change.value().to_string())),
        }
    }
    out
}

/// A comparison of two optional texts, with their word diff.
pub fn compare(
    title: &str,
    a_label: &str,
    b_label: &str,
    a: Option<&str>,
    b: Option<&str>,
) -> Compare {
    Compare {
        title: title.into(),
        a_label: a_label.into(),
        b_label: b_label.into(),
        a: a.map(str::to_string),
        b: b.map(str::to_string),
        diff: word_diff(a.unwrap_or(""), b.unwrap_or("")),
    }
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64(&Sha256::digest(text.as_bytes())))
}

/// The whole page for `page`.
pub fn render(page: &Page) -> String {
    // The redactor first: once `&` is `\u0026`, a `?a=1&token=…` in an output no longer looks
    // like a URL credential to it.
    let data = crate::redact::scrub_string(serde_json::to_string(page).expect("serialisable"))
        // JSON has `<`, `>` and `&` only inside strings, where the escapes mean the same; this
        // keeps `</script>` and `<!--` in an output from ending the data block.
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src {script_hash}; style-src {style_hash}; img-src data:\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"generator\" content=\"llmops {version}\">\n\
<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
<noscript><p>This report needs JavaScript to show its tables.</p></noscript>\n\
<main id=\"app\"></main>\n\
<script type=\"application/json\" id=\"llmops-data\">{data}</script>\n\
<script>{SCRIPT}</script>\n</body>\n</html>\n",
        script_hash = csp_hash(SCRIPT),
        style_hash = csp_hash(STYLE),
        version = env!("CARGO_PKG_VERSION"),
        title = escape(&page.title),
    )
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn num(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3}"))
}

fn ms(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.0} ms"))
}

fn json_num(x: Option<f64>) -> Value {
    x.and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn assertions(scores: &[crate::store::ScoreRow]) -> Vec<Assertion> {
    scores
        .iter()
        .map(|s| Assertion {
            kind: s.kind.clone(),
            metric: s.metric.clone(),
            pass: s.pass,
            error: s.error,
            critical: s.critical,
            score: s.score,
            reason: s.reason.clone(),
        })
        .collect()
}

/// The page for a run report.
pub fn run_page(r: &RunReport) -> Page {
    let run = &r.run;
    let mut metrics = std::collections::BTreeSet::new();
    let mut cards = Vec::new();
    let mut rows = Vec::new();
    for g in &r.groups {
        let name = if g.variant == g.prompt || g.variant.is_empty() {
            g.suite.clone()
        } else {
            format!("{} / {}", g.suite, g.variant)
        };
        let mut fields = vec![
            ("prompt".to_string(), g.prompt.clone()),
            ("model".to_string(), g.model.clone()),
            (
                "cases".to_string(),
                format!(
                    "{} · {} passed · {} failed · {} error · {} flaky",
                    g.cases, g.passed, g.failed, g.errored, g.flaky
                ),
            ),
            ("pass rate".to_string(), pct(g.pass_rate)),
            ("score".to_string(), num(g.score)),
        ];
        for (m, v) in &g.metrics {
            fields.push((format!("metric {m}"), num(Some(*v))));
        }
        fields.push((
            "cost".to_string(),
            format!("${:.5} (judge ${:.5})", g.cost_usd, g.judge_cost_usd),
        ));
        fields.push((
            "tokens in/out".to_string(),
            format!("{} / {}", g.input_tokens, g.output_tokens),
        ));
        fields.push((
            "latency p50 / p95".to_string(),
            format!("{} / {}", ms(g.latency_p50_ms), ms(g.latency_p95_ms)),
        ));
        let notes = g
            .checks
            .iter()
            .map(|c| format!("{}: {}", c.line(), if c.ok { "ok" } else { "MISSED" }))
            .collect();
        let ok = g.ok();
        cards.push(Card {
            title: name.clone(),
            status: if ok { "ok" } else { "failed" }.into(),
            tone: if ok { "good" } else { "bad" }.into(),
            fields,
            notes,
        });
        for c in &g.case_results {
            metrics.extend(c.metrics.keys().cloned());
            let mut facts = vec![(
                "samples".to_string(),
                format!("{} of {} passed", c.passes, c.samples),
            )];
            if let Some(k) = c.error_kind {
                facts.push(("error".to_string(), k.as_str().to_string()));
            }
            if !c.critical_failures.is_empty() {
                facts.push((
                    "critical failures".to_string(),
                    c.critical_failures.join(", "),
                ));
            }
            rows.push(Row {
                id: c.id.clone(),
                status: c.status.as_str().into(),
                cells: vec![
                    Value::from(c.status.as_str()),
                    Value::from(name.clone()),
                    Value::from(c.id.clone()),
                    json_num(c.score),
                    json_num(c.latency_ms),
                ],
                metrics: c.metrics.clone(),
                description: c.description.clone(),
                facts,
                vars: c.vars.clone(),
                output: c.output.clone(),
                assertions: assertions(&c.assertions),
                reasons: c.reasons.clone(),
                compare: Vec::new(),
            });
        }
    }
    let failed = r.groups.iter().any(|g| !g.ok())
        || r.groups
            .iter()
            .flat_map(|g| &g.case_results)
            .any(|c| c.status == CaseStatus::Error);
    Page {
        kind: "run".into(),
        title: format!("llmops run {}", run.id),
        subtitle: format!(
            "{} · {} · {}{}",
            run.started_at
                .get(..19)
                .unwrap_or(&run.started_at)
                .replace('T', " "),
            run.command,
            run.git_commit
                .as_deref()
                .map_or("no git".into(), |c| c[..c.len().min(7)].to_string()),
            if run.dirty { " (dirty)" } else { "" }
        ),
        status: if failed { "failed" } else { "ok" }.into(),
        tone: if failed { "bad" } else { "good" }.into(),
        cards,
        columns: vec![
            Column::new("status", "status"),
            Column::new("suite", "text"),
            Column::new("case", "text"),
            Column::new("score", "score"),
            Column::new("latency", "ms"),
        ],
        metrics: metrics.into_iter().collect(),
        rows,
    }
}

/// A run report as one HTML page.
pub fn run(r: &RunReport) -> String {
    render(&run_page(r))
}

/// Split a unified diff into its two sides (context lines on both), hunk headers dropped.
fn sides_of_unified(unified: &str) -> (String, String) {
    let (mut a, mut b) = (String::new(), String::new());
    for line in unified.lines() {
        if line.starts_with("---") || line.starts_with("+++") || line.starts_with("@@") {
            continue;
        }
        if let Some(rest) = line.strip_prefix('-') {
            a.push_str(rest);
            a.push('\n');
        } else if let Some(rest) = line.strip_prefix('+') {
            b.push_str(rest);
            b.push('\n');
        } else {
            let rest = line.strip_prefix(' ').unwrap_or(line);
            a.push_str(rest);
            a.push('\n');
            b.push_str(rest);
            b.push('\n');
        }
    }
    (a, b)
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

/// The page for a `diff` report: a row per prompt; its template changes side by side with
/// a word diff, model, input and output changes, and the eval deltas.
pub fn diff_page(r: &DiffReport) -> Page {
    let mut cards = Vec::new();
    let mut rows = Vec::new();
    for e in &r.prompts {
        let d = &e.diff;
        let side = |o: &Option<crate::registry::Origin>| {
            o.as_ref()
                .map_or("(absent)".to_string(), |o| o.describe.clone())
        };
        let (la, lb) = (side(&e.a), side(&e.b));
        let status = serde_json::to_value(d.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut fields = vec![("A".to_string(), la.clone()), ("B".to_string(), lb.clone())];
        if let Some(ev) = &e.eval {
            let s = |x: &Option<crate::registry::EvalSummary>| {
                x.as_ref().map_or("no evidence".to_string(), |x| {
                    format!(
                        "score {:.3} · pass rate {:.1}% · n {}",
                        x.score,
                        x.pass_rate * 100.0,
                        x.n
                    )
                })
            };
            fields.push(("eval A".into(), s(&ev.a)));
            fields.push(("eval B".into(), s(&ev.b)));
            let signed = |x: Option<f64>, scale: f64, unit: &str| {
                x.map_or("-".into(), |v| format!("{:+.3}{unit}", v * scale))
            };
            fields.push(("Δ score".into(), signed(ev.score, 1.0, "")));
            fields.push(("Δ pass rate".into(), signed(ev.pass_rate, 100.0, " pt")));
            fields.push(("Δ cost".into(), signed(ev.cost_usd, 1.0, " USD")));
            fields.push((
                "Δ latency p50".into(),
                signed(ev.latency_p50_ms, 1.0, " ms"),
            ));
        }
        let mut notes = Vec::new();
        let mut facts = Vec::new();
        for (what, list) in [
            ("model", &d.model),
            ("output", &d.outputs),
            ("metadata", &d.metadata),
        ] {
            for f in list {
                let line = format!(
                    "{what} {}: {} -> {}",
                    f.key,
                    show_value(&f.from),
                    show_value(&f.to)
                );
                notes.push(line.clone());
                facts.push((what.to_string(), line));
            }
        }
        for i in &d.inputs {
            let line = format!(
                "input `{}` {}{}",
                i.name,
                i.reasons.join(", "),
                if i.breaking { " (breaking)" } else { "" }
            );
            notes.push(line.clone());
            facts.push(("input".to_string(), line));
        }
        let mut compares = Vec::new();
        for m in &d.messages {
            let (a, b) = sides_of_unified(&m.unified);
            let role = m.role_b.or(m.role_a).unwrap_or("message");
            compares.push(compare(
                &format!("message {} ({role})", m.index),
                &la,
                &lb,
                m.role_a.map(|_| a.as_str()),
                m.role_b.map(|_| b.as_str()),
            ));
        }
        for p in &d.partials {
            let (a, b) = sides_of_unified(&p.unified);
            compares.push(compare(
                &format!("partial {}", p.path),
                &la,
                &lb,
                Some(&a),
                Some(&b),
            ));
        }
        let tone = if d.breaking { "bad" } else { "warn" };
        cards.push(Card {
            title: d.prompt.clone(),
            status: if d.breaking {
                format!("{status}, breaking")
            } else {
                status.clone()
            },
            tone: tone.into(),
            fields,
            notes,
        });
        rows.push(Row {
            id: d.prompt.clone(),
            status: status.clone(),
            cells: vec![
                Value::from(status),
                Value::from(d.prompt.clone()),
                Value::from(if d.breaking { "yes" } else { "no" }),
                json_num(e.eval.as_ref().and_then(|v| v.score)),
            ],
            facts,
            compare: compares,
            ..Row::default()
        });
    }
    Page {
        kind: "diff".into(),
        title: format!("llmops diff {} {}", r.a, r.b),
        subtitle: format!("{} prompt(s) differ", r.prompts.len()),
        status: if r.prompts.is_empty() {
            "no change"
        } else {
            "changed"
        }
        .into(),
        tone: "none".into(),
        cards,
        columns: vec![
            Column::new("status", "status"),
            Column::new("prompt", "text"),
            Column::new("breaking", "text"),
            Column::new("Δ score", "delta"),
        ],
        metrics: Vec::new(),
        rows,
    }
}

/// A diff report as one HTML page.
pub fn diff(r: &DiffReport) -> String {
    render(&diff_page(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>'a' & \"b\"</details>"),
            "&lt;script&gt;&#39;a&#39; &amp; &quot;b&quot;&lt;/details&gt;"
        );
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn word_diff_marks_changed_words_only() {
        let d = word_diff("the cat sat", "the dog sat");
        assert_eq!(
            d,
            vec![
                (0, "the ".to_string()),
                (-1, "cat".to_string()),
                (1, "dog".to_string()),
                (0, " sat".to_string())
            ]
        );
        assert!(word_diff(&"a ".repeat(WORD_DIFF_MAX), "b").is_empty());
    }

    #[test]
    fn hostile_text_cannot_leave_the_data_block() {
        let page = Page {
            title: "</title><script>alert(1)</script>".into(),
            rows: vec![Row {
                output: Some("</script><script>alert(2)</script></details><!--".into()),
                ..Row::default()
            }],
            ..Page::default()
        };
        let html = render(&page);
        // The only script tags are the page's two; the title is text.
        assert_eq!(html.matches("<script").count(), 2);
        assert_eq!(html.matches("</script>").count(), 2);
        assert!(!html.contains("<!--"));
        assert!(html.contains("<title>&lt;/title&gt;&lt;script&gt;"));
        assert!(html.contains("\\u003c/details\\u003e"));
    }

    #[test]
    fn the_policy_names_the_inline_script_by_hash() {
        let html = render(&Page::default());
        assert!(html.contains(&csp_hash(SCRIPT)));
        assert!(html.contains("default-src 'none'"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn unified_diff_splits_into_sides() {
        let (a, b) = sides_of_unified("--- a\n+++ b\n@@ -1,2 +1,2 @@\n same\n-old\n+new\n");
        assert_eq!(a, "same\nold\n");
        assert_eq!(b, "same\nnew\n");
    }
}
