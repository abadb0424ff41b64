//! Gate reports as text, Markdown (for a pull-request comment) and JUnit. Deterministic:
//! the same inputs give byte-identical reports (no times, no run ids).

use std::fmt::Write;

use super::{GateReport, Pair, SuiteGate, Verdict};
use crate::text::one_line;

fn f3(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3}"))
}

fn signed(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:+.3}"))
}

fn p(x: f64) -> String {
    super::fmt_p(x)
}

fn interval(g: &SuiteGate) -> String {
    match &g.stats {
        Some(s) => match (s.lower, s.upper) {
            (Some(lo), Some(hi)) => format!("[{lo:+.3}, {hi:+.3}]"),
            _ => "-".into(),
        },
        None => "-".into(),
    }
}

fn name(g: &SuiteGate) -> String {
    if g.variant == g.suite {
        g.suite.clone()
    } else {
        format!("{} / {}", g.suite, g.variant)
    }
}

fn side_line(label: &str, p: &Pair, cand: bool, room: usize) -> String {
    let s = if cand {
        p.candidate.as_ref()
    } else {
        p.baseline.as_ref()
    };
    match s {
        Some(s) => format!(
            "{label} {}: {}",
            f3(s.score),
            one_line(s.output.as_deref().unwrap_or(""), room)
        ),
        None => format!("{label}: not run"),
    }
}

/// How many critically flipped cases a report names; the JSON report lists every one.
pub const NAMED_FLIPS: usize = 5;
/// How many added or removed case ids a report names.
const NAMED_CASES: usize = 10;

/// `ids` joined, the first `max` of them, with how many more there are.
fn some_of(ids: &[String], max: usize) -> String {
    let mut s = ids.iter().take(max).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > max {
        s.push_str(&format!(" … and {} more", ids.len() - max));
    }
    s
}

fn explain(out: &mut String, g: &SuiteGate, bullet: &str) {
    for r in &g.reasons {
        let _ = writeln!(out, "{bullet}{r}");
    }
    if let Some(s) = &g.stats {
        if let Some(mde) = s.mde {
            let _ = writeln!(
                out,
                "{bullet}minimum detectable effect at this size: {mde:.3} (80% power)"
            );
        }
        if let Some(e) = s.mc_error {
            let _ = writeln!(
                out,
                "{bullet}p-values sampled from 20,000 seeded sign flips: Monte Carlo error ±{e:.1e}"
            );
        }
    }
    if let Some(n) = g.cases_needed {
        let _ = writeln!(
            out,
            "{bullet}about {n} paired cases (or more repeats per case) would settle it"
        );
    }
    for (case, kind) in g.critical_flips.iter().take(NAMED_FLIPS) {
        let _ = writeln!(
            out,
            "{bullet}critical `{kind}` flipped pass -> fail in `{case}`"
        );
    }
    if g.critical_flips.len() > NAMED_FLIPS {
        let _ = writeln!(
            out,
            "{bullet}… and {} more critical flips (`--format json` or `html` lists every one)",
            g.critical_flips.len() - NAMED_FLIPS
        );
    }
    if !g.added.is_empty() {
        let _ = writeln!(
            out,
            "{bullet}only in the candidate (not gated): {}",
            some_of(&g.added, NAMED_CASES)
        );
    }
    if !g.removed.is_empty() {
        let _ = writeln!(
            out,
            "{bullet}only in the baseline (not gated): {}",
            some_of(&g.removed, NAMED_CASES)
        );
    }
}

/// The terminal report; the table laid out for `layout`.
pub fn text(r: &GateReport, layout: crate::table::Layout) -> String {
    let mut out = layout.wrap(
        &format!(
            "gate: candidate {} vs baseline {} · alpha {} · tolerance {}{}",
            r.candidate,
            r.baseline,
            r.policy.alpha,
            r.policy.tolerance,
            tolerances(r)
        ),
        "  ",
    );
    out.push_str("\n\n");
    use crate::table::col;
    let columns = [
        col("SUITE", 0, false),
        col("PAIRS", 2, true),
        col("BASELINE", 2, true),
        col("CANDIDATE", 1, true),
        col("DELTA", 0, true),
        col("ONE-SIDED BOUNDS", 3, false),
        col("P(WORSE)", 1, true),
        col("P(NO WORSE)", 1, true),
        col("TEST", 4, false),
        col("VERDICT", 0, false),
    ];
    let mut rows = Vec::new();
    for g in &r.suites {
        let (pw, pn, m) = g
            .stats
            .as_ref()
            .map_or(("-".into(), "-".into(), "-".into()), |s| {
                (p(s.p_regression), p(s.p_noninferior), s.method.clone())
            });
        rows.push(vec![
            name(g),
            g.clusters
                .map_or(g.n.to_string(), |c| format!("{} ({c} clusters)", g.n)),
            f3(g.baseline_score),
            f3(g.candidate_score),
            signed(g.stats.as_ref().map(|s| s.mean)),
            interval(g),
            pw,
            pn,
            m,
            g.verdict.as_str().to_string(),
        ]);
    }
    out.push_str(&crate::table::render(&columns, &rows, layout));
    let dims = dimension_rows(r, false);
    if !dims.is_empty() {
        out.push_str("\ncost and latency (candidate / baseline per case):\n");
        let columns = [
            col("SUITE", 0, false),
            col("DIMENSION", 5, false),
            col("PAIRS", 2, true),
            col("BASELINE", 2, true),
            col("CANDIDATE", 1, true),
            col("RATIO", 0, true),
            col("ONE-SIDED BOUNDS", 3, false),
            col("P(OVER)", 1, true),
            col("P(WITHIN)", 1, true),
            col("VERDICT", 0, false),
        ];
        out.push_str(&crate::table::render(&columns, &dims, layout));
    }
    for g in &r.suites {
        let _ = writeln!(out, "\n{}: {}", name(g), g.verdict.as_str());
        let mut why = String::new();
        explain(&mut why, g, "  - ");
        for line in why.lines() {
            let _ = writeln!(out, "{}", layout.wrap(line, "    "));
        }
        if !g.worst.is_empty() && g.verdict != Verdict::Pass {
            let _ = writeln!(out, "  worst regressed cases:");
            for w in &g.worst {
                let _ = writeln!(out, "    {}", w.case);
                let _ = writeln!(
                    out,
                    "      {}",
                    side_line("baseline ", w, false, layout.room(24, 140))
                );
                let _ = writeln!(
                    out,
                    "      {}",
                    side_line("candidate", w, true, layout.room(24, 140))
                );
                if let Some(c) = &w.candidate {
                    for reason in c.reasons.iter().take(2) {
                        let _ = writeln!(
                            out,
                            "        why: {}",
                            one_line(reason, layout.room(13, 140))
                        );
                    }
                }
            }
        }
    }
    if !r.unchanged.is_empty() {
        let line = format!("unchanged, not gated: {}", r.unchanged.join(", "));
        let _ = writeln!(out, "\n{}", layout.wrap(&line, "  "));
    }
    let _ = writeln!(
        out,
        "\nverdict: {} (exit {})",
        r.verdict.as_str(),
        crate::error::exit_code(&Ok(r.outcome()))
    );
    out
}

/// The `gate:` tolerances in effect beyond the score's, for the report's first line.
fn tolerances(r: &GateReport) -> String {
    let mut s = String::new();
    for (what, t) in [
        ("cost", r.policy.cost_tolerance),
        ("latency", r.policy.latency_tolerance),
    ] {
        if let Some(t) = t {
            let _ = write!(s, " · {what} tolerance +{}%", super::dims::tolerance_pct(t));
        }
    }
    s
}

/// One row per suite and gated dimension: name, dimension (with its tolerance), pairs,
/// means, ratio, bounds, p-values, verdict.
fn dimension_rows(r: &GateReport, markdown: bool) -> Vec<Vec<String>> {
    use super::dims::times;
    let mut rows = Vec::new();
    for g in &r.suites {
        for d in &g.dimensions {
            let verdict = match d.verdict {
                Some(v) if markdown => format!("{} {}", icon(v), v.as_str()),
                Some(v) => v.as_str().to_string(),
                None => "not gated".into(),
            };
            let bounds = match (d.lower, d.upper) {
                (Some(lo), Some(hi)) => format!("[{}, {}]", times(Some(lo)), times(Some(hi))),
                _ => "-".into(),
            };
            let name = if markdown { md(&name(g)) } else { name(g) };
            rows.push(vec![
                name,
                format!(
                    "{} (+{}%)",
                    d.kind.as_str(),
                    super::dims::tolerance_pct(d.tolerance)
                ),
                if d.skipped > 0 {
                    format!("{} ({} skipped)", d.n, d.skipped)
                } else {
                    d.n.to_string()
                },
                d.amount(d.baseline_mean),
                d.amount(d.candidate_mean),
                times(d.ratio),
                bounds,
                if d.verdict.is_some() {
                    p(d.p_over)
                } else {
                    "-".into()
                },
                if d.verdict.is_some() {
                    p(d.p_within)
                } else {
                    "-".into()
                },
                verdict,
            ]);
        }
    }
    rows
}

fn icon(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅",
        Verdict::Inconclusive => "⚠️",
        Verdict::Fail => "❌",
        Verdict::Error => "🛑",
    }
}

/// Text for a Markdown table cell or summary: model output and case data are untrusted, so
/// HTML in them (`</details><h1>...`) is shown as text, never rendered.
fn md(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('\n', " ")
}

/// Text inside a Markdown code span: HTML is inert there, but a backtick would end the span
/// and a pipe the table cell.
fn code(s: &str) -> String {
    s.replace('`', "'").replace('|', "\\|").replace('\n', " ")
}

/// Markdown shaped for a pull-request comment.
pub fn markdown(r: &GateReport) -> String {
    let mut out = format!(
        "## {} llmops gate: {}\n\n",
        icon(r.verdict),
        r.verdict.as_str()
    );
    let _ = writeln!(
        out,
        "Candidate `{}` against baseline `{}` (alpha {}, tolerance {}{}).\n",
        code(&r.candidate),
        code(&r.baseline),
        r.policy.alpha,
        r.policy.tolerance,
        tolerances(r).replace(" · ", ", ")
    );
    out.push_str("| suite | pairs | baseline | candidate | delta | one-sided bounds | p(worse) | p(no worse) | verdict |\n|---|--:|--:|--:|--:|---|--:|--:|---|\n");
    for g in &r.suites {
        let (pw, pn) = g.stats.as_ref().map_or(("-".into(), "-".into()), |s| {
            (p(s.p_regression), p(s.p_noninferior))
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} {} |",
            md(&name(g)),
            g.n,
            f3(g.baseline_score),
            f3(g.candidate_score),
            signed(g.stats.as_ref().map(|s| s.mean)),
            interval(g),
            pw,
            pn,
            icon(g.verdict),
            g.verdict.as_str()
        );
    }
    let dims = dimension_rows(r, true);
    if !dims.is_empty() {
        out.push_str("\n**Cost and latency** (candidate / baseline per case, geometric mean):\n\n| suite | dimension | pairs | baseline | candidate | ratio | one-sided bounds | p(over) | p(within) | verdict |\n|---|---|--:|--:|--:|--:|---|--:|--:|---|\n");
        for row in dims {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
    }
    for g in &r.suites {
        let _ = writeln!(
            out,
            "\n<details><summary>{} {}: {}</summary>\n",
            icon(g.verdict),
            md(&name(g)),
            g.verdict.as_str()
        );
        explain(&mut out, g, "- ");
        if !g.worst.is_empty() {
            out.push_str(
                "\n| case | baseline | candidate | candidate output |\n|---|--:|--:|---|\n",
            );
            for w in &g.worst {
                let cand = w.candidate.as_ref();
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} |",
                    code(&w.case),
                    f3(w.baseline.as_ref().and_then(|s| s.score)),
                    f3(cand.and_then(|s| s.score)),
                    md(&one_line(
                        cand.and_then(|s| s.output.as_deref()).unwrap_or(""),
                        120
                    ))
                );
            }
        }
        out.push_str("\n</details>\n");
    }
    if !r.unchanged.is_empty() {
        let _ = writeln!(out, "\nUnchanged, not gated: {}.", r.unchanged.join(", "));
    }
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit: one test case per suite × variant.
pub fn junit(r: &GateReport) -> String {
    let failures = r
        .suites
        .iter()
        .filter(|g| {
            g.verdict == Verdict::Fail || (g.verdict == Verdict::Inconclusive && r.policy.strict)
        })
        .count();
    let errors = r
        .suites
        .iter()
        .filter(|g| g.verdict == Verdict::Error)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"llmops gate\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">", r.suites.len());
    let _ = writeln!(out, "  <testsuite name=\"gate {} vs {}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">", xml(&r.candidate), xml(&r.baseline), r.suites.len());
    for g in &r.suites {
        let mut body = String::new();
        explain(&mut body, g, "");
        let _ = write!(
            out,
            "    <testcase classname=\"llmops.gate\" name=\"{}\"",
            xml(&name(g))
        );
        match g.verdict {
            Verdict::Fail => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"FAIL\">{}</failure>\n    </testcase>",
                    xml(&body)
                );
            }
            Verdict::Error => {
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"ERROR\">{}</error>\n    </testcase>",
                    xml(&body)
                );
            }
            Verdict::Inconclusive if r.policy.strict => {
                let _ = writeln!(out, ">\n      <failure message=\"INCONCLUSIVE (strict)\">{}</failure>\n    </testcase>", xml(&body));
            }
            Verdict::Inconclusive => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>INCONCLUSIVE\n{}</system-out>\n    </testcase>",
                    xml(&body)
                );
            }
            Verdict::Pass => {
                let _ = writeln!(out, "/>");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
