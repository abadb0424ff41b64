//! `llmops diff` reports: the template, model, input and output changes of each prompt
//! between two references, with the eval deltas, as text or Markdown. Pure functions.

use serde::Serialize;
use serde_json::Value;

use crate::registry::{EvalSummary, Origin};
use crate::template::diff::{FieldChange, PromptDiff, Status};
use crate::text::Style;

/// The eval evidence on both sides and its deltas (B minus A).
#[derive(Debug, Clone, Serialize)]
pub struct EvalDelta {
    /// Side A.
    pub a: Option<EvalSummary>,
    /// Side B.
    pub b: Option<EvalSummary>,
    /// Score change.
    pub score: Option<f64>,
    /// Pass-rate change.
    pub pass_rate: Option<f64>,
    /// Cost change.
    pub cost_usd: Option<f64>,
    /// Median latency change.
    pub latency_p50_ms: Option<f64>,
}

/// One prompt's changes.
#[derive(Serialize)]
pub struct Entry {
    /// What changed.
    #[serde(flatten)]
    pub diff: PromptDiff,
    /// Side A.
    pub a: Option<Origin>,
    /// Side B.
    pub b: Option<Origin>,
    /// Eval evidence and deltas.
    pub eval: Option<EvalDelta>,
}

/// A whole diff.
#[derive(Serialize)]
pub struct Report {
    /// Side A.
    pub a: String,
    /// Side B.
    pub b: String,
    /// One entry per prompt that differs.
    pub prompts: Vec<Entry>,
}

/// Deltas B minus A, when either side has evidence.
pub fn delta(a: Option<EvalSummary>, b: Option<EvalSummary>) -> Option<EvalDelta> {
    if a.is_none() && b.is_none() {
        return None;
    }
    let d = |f: fn(&EvalSummary) -> Option<f64>| match (&a, &b) {
        (Some(x), Some(y)) => Some(f(y)? - f(x)?),
        _ => None,
    };
    Some(EvalDelta {
        score: d(|e| Some(e.score)),
        pass_rate: d(|e| Some(e.pass_rate)),
        cost_usd: d(|e| e.cost_usd),
        latency_p50_ms: d(|e| e.latency_p50_ms),
        a,
        b,
    })
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

fn side_name(o: &Option<Origin>) -> String {
    o.as_ref()
        .map_or("(absent)".to_string(), |o| match o.version {
            Some(v) if !o.describe.contains(&format!("@v{v}")) => {
                format!("{} = v{v}", o.describe)
            }
            _ => o.describe.clone(),
        })
}

fn status_word(d: &PromptDiff) -> &'static str {
    match d.status {
        Status::Added => "added",
        Status::Removed => "removed",
        Status::Changed => "changed",
        Status::Unchanged => "unchanged",
    }
}

/// The report for a terminal; `paint` colours a styled span (or leaves it plain).
pub fn text(r: &Report, paint: &dyn Fn(Style, &str) -> String) -> String {
    let mut out = String::new();
    if r.prompts.is_empty() {
        return format!("no prompt differs between `{}` and `{}`\n", r.a, r.b);
    }
    for (i, e) in r.prompts.iter().enumerate() {
        let d = &e.diff;
        if i > 0 {
            out.push('\n');
        }
        let breaking = if d.breaking {
            format!(", {}", paint(Style::Alert, "BREAKING"))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{}: {} -> {} ({}{breaking})\n",
            paint(Style::Heading, &d.prompt),
            side_name(&e.a),
            side_name(&e.b),
            status_word(d)
        ));
        if d.status == Status::Unchanged {
            out.push_str("  same content\n");
            continue;
        }
        let fields = |out: &mut String, title: &str, list: &[FieldChange]| {
            if list.is_empty() {
                return;
            }
            out.push_str(&format!("  {title}\n"));
            for c in list {
                out.push_str(&format!(
                    "    {}: {} -> {}\n",
                    c.key,
                    show(&c.from),
                    show(&c.to)
                ));
            }
        };
        fields(&mut out, "model", &d.model);
        if !d.inputs.is_empty() {
            out.push_str("  inputs\n");
            for c in &d.inputs {
                let tag = if c.breaking {
                    paint(Style::Alert, "breaking  ")
                } else {
                    "compatible".to_string()
                };
                out.push_str(&format!(
                    "    {tag}  {}: {}\n",
                    c.name,
                    c.reasons.join(", ")
                ));
            }
        }
        fields(&mut out, "outputs", &d.outputs);
        fields(&mut out, "metadata", &d.metadata);
        if let Some(ev) = &e.eval {
            out.push_str("  eval\n");
            for line in eval_rows(ev) {
                out.push_str(&format!(
                    "    {:<10} {:>10} -> {:<10} {}\n",
                    line.0, line.1, line.2, line.3
                ));
            }
        }
        for m in &d.messages {
            push_unified(paint, &mut out, &m.unified);
        }
        for p in &d.partials {
            push_unified(paint, &mut out, &p.unified);
        }
    }
    out
}

fn push_unified(paint: &dyn Fn(Style, &str) -> String, out: &mut String, unified: &str) {
    for line in unified.lines() {
        let style = if line.starts_with("+++") || line.starts_with("---") {
            Style::Heading
        } else if line.starts_with('+') {
            Style::Added
        } else if line.starts_with('-') {
            Style::Removed
        } else if line.starts_with("@@") {
            Style::Hunk
        } else {
            out.push_str(&format!("  {line}\n"));
            continue;
        };
        out.push_str(&format!("  {}\n", paint(style, line)));
    }
}

/// (metric, A, B, delta) rows.
fn eval_rows(ev: &EvalDelta) -> Vec<(&'static str, String, String, String)> {
    let f =
        |e: &Option<EvalSummary>, g: fn(&EvalSummary) -> Option<f64>, fmt: fn(f64) -> String| {
            e.as_ref().and_then(g).map_or("-".to_string(), fmt)
        };
    let sign = |d: Option<f64>, fmt: fn(f64) -> String| {
        d.map_or(String::new(), |d| {
            if d >= 0.0 {
                format!("(+{})", fmt(d))
            } else {
                format!("(-{})", fmt(-d))
            }
        })
    };
    let score: fn(f64) -> String = |x| format!("{x:.3}");
    let pct: fn(f64) -> String = |x| format!("{:.1}%", x * 100.0);
    let usd: fn(f64) -> String = |x| format!("${x:.4}");
    let ms: fn(f64) -> String = |x| format!("{x:.0} ms");
    let n: fn(f64) -> String = |x| format!("{x:.0}");
    vec![
        // The deltas are only as good as the cases behind them (a gate shard's slice has few).
        (
            "cases (n)",
            f(&ev.a, |e| Some(e.n as f64), n),
            f(&ev.b, |e| Some(e.n as f64), n),
            String::new(),
        ),
        (
            "score",
            f(&ev.a, |e| Some(e.score), score),
            f(&ev.b, |e| Some(e.score), score),
            sign(ev.score, score),
        ),
        (
            "pass rate",
            f(&ev.a, |e| Some(e.pass_rate), pct),
            f(&ev.b, |e| Some(e.pass_rate), pct),
            sign(ev.pass_rate, pct),
        ),
        (
            "cost",
            f(&ev.a, |e| e.cost_usd, usd),
            f(&ev.b, |e| e.cost_usd, usd),
            sign(ev.cost_usd, usd),
        ),
        (
            "latency",
            f(&ev.a, |e| e.latency_p50_ms, ms),
            f(&ev.b, |e| e.latency_p50_ms, ms),
            sign(ev.latency_p50_ms, ms),
        ),
    ]
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report for a pull-request comment.
pub fn markdown(r: &Report) -> String {
    let mut out = format!("## llmops diff `{}` → `{}`\n\n", cell(&r.a), cell(&r.b));
    if r.prompts.is_empty() {
        out.push_str("No prompt differs.\n");
        return out;
    }
    let breaking: Vec<&str> = r
        .prompts
        .iter()
        .filter(|e| e.diff.breaking)
        .map(|e| e.diff.prompt.as_str())
        .collect();
    if !breaking.is_empty() {
        out.push_str(&format!(
            "**Breaking input changes** in {}.\n\n",
            breaking
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for e in &r.prompts {
        let d = &e.diff;
        out.push_str(&format!(
            "### `{}` ({}{})\n\n",
            d.prompt,
            status_word(d),
            if d.breaking { ", **breaking**" } else { "" }
        ));
        out.push_str(&format!(
            "| | A | B |\n|---|---|---|\n| reference | {} | {} |\n| content | `{}` | `{}` |\n\n",
            cell(&side_name(&e.a)),
            cell(&side_name(&e.b)),
            d.content_a.as_deref().map_or("-", |h| &h[..12]),
            d.content_b.as_deref().map_or("-", |h| &h[..12]),
        ));
        if !d.inputs.is_empty() {
            out.push_str("**Inputs**\n\n| input | change | breaking |\n|---|---|---|\n");
            for c in &d.inputs {
                out.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    cell(&c.name),
                    cell(&c.reasons.join(", ")),
                    if c.breaking { "**yes**" } else { "no" }
                ));
            }
            out.push('\n');
        }
        for (title, list) in [
            ("Model", &d.model),
            ("Output schema", &d.outputs),
            ("Metadata", &d.metadata),
        ] {
            if list.is_empty() {
                continue;
            }
            out.push_str(&format!("**{title}**\n\n| key | A | B |\n|---|---|---|\n"));
            for c in list {
                out.push_str(&format!(
                    "| `{}` | `{}` | `{}` |\n",
                    cell(&c.key),
                    cell(&show(&c.from)),
                    cell(&show(&c.to))
                ));
            }
            out.push('\n');
        }
        if let Some(ev) = &e.eval {
            out.push_str("**Eval**\n\n| metric | A | B | change |\n|---|---|---|---|\n");
            for (m, a, b, dd) in eval_rows(ev) {
                out.push_str(&format!("| {m} | {a} | {b} | {dd} |\n"));
            }
            out.push('\n');
        }
        if !d.messages.is_empty() || !d.partials.is_empty() {
            out.push_str("<details><summary>Template diff</summary>\n\n```diff\n");
            for m in &d.messages {
                out.push_str(&m.unified);
            }
            for p in &d.partials {
                out.push_str(&p.unified);
            }
            out.push_str("```\n\n</details>\n\n");
        }
    }
    out
}
