//! Text, Markdown and JUnit renderings of a run report.

use std::fmt::Write;

use crate::table::{col, render, Layout};

use super::{CaseStatus, Group, RunReport};
use crate::text::one_line;

/// How many failing cases each group lists.
const MAX_LISTED: usize = 10;

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn num(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3}"))
}

/// The cost of a group: `unknown` when no answer had a price, `≥ $x` when some had none.
fn group_usd(x: f64, unpriced: u32) -> String {
    if unpriced == 0 {
        usd(x)
    } else if x == 0.0 {
        "unknown".into()
    } else {
        format!("≥ {}", usd(x))
    }
}

fn usd(x: f64) -> String {
    if x == 0.0 {
        "$0".into()
    } else if x < 0.01 {
        format!("${x:.5}")
    } else {
        format!("${x:.3}")
    }
}

fn ms(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(v) if v >= 1000.0 => format!("{:.2}s", v / 1000.0),
        Some(v) => format!("{v:.0}ms"),
    }
}

fn tokens(n: u64) -> String {
    if n >= 10_000 {
        format!("{:.1}k", n as f64 / 1000.0)
    } else {
        n.to_string()
    }
}

/// `1 sample`, `2 samples`.
fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn header(r: &RunReport) -> String {
    let run = &r.run;
    let commit = run.git_commit.as_deref().map_or("no git".into(), |c| {
        format!(
            "{}{}",
            &c[..c.len().min(7)],
            if run.dirty { " (dirty)" } else { "" }
        )
    });
    let mut h = format!(
        "run {} · {} · {} · {}",
        run.id,
        run.started_at
            .get(..19)
            .unwrap_or(&run.started_at)
            .replace('T', " "),
        commit,
        run.status
    );
    if let Some(s) = &run.stats {
        let get = |k: &str| s.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
        // The counters are this session's; after `--resume` the run holds more samples.
        let total: u64 = r
            .groups
            .iter()
            .flat_map(|g| &g.case_results)
            .map(|c| u64::from(c.samples))
            .sum();
        let now = get("samples") as u64;
        let samples = if total > now {
            format!(
                "{} ({now} in this session, {} before `--resume`)",
                plural(total, "sample"),
                total - now
            )
        } else {
            plural(now, "sample")
        };
        let _ = write!(
            h,
            "\n{samples} · {} · {} cached",
            plural(get("calls") as u64, "call"),
            get("cached")
        );
        if get("offline") > 0.0 {
            let _ = write!(h, " · {} answered offline (replay/echo)", get("offline"));
        }
        if get("judge_calls") + get("judge_cached") + get("judge_offline") > 0.0 {
            let _ = write!(
                h,
                " · judge {} calls, {} cached, {} offline",
                get("judge_calls"),
                get("judge_cached"),
                get("judge_offline")
            );
        }
        if get("retries") > 0.0 {
            let _ = write!(
                h,
                " · {} retries ({} rate-limited, {:.1}s waited)",
                get("retries"),
                get("rate_limited"),
                get("retry_wait_s")
            );
        }
        // The window and the time limits cost, once a limit showed itself.
        let limited = get("limited_s") >= 0.05 || get("rate_limited") > 0.0;
        if s.get("concurrency_peak").is_some()
            && (limited || get("concurrency_low") < get("concurrency_max"))
        {
            let _ = write!(
                h,
                " · concurrency up to {} of {}, {} at the end",
                get("concurrency_peak"),
                get("concurrency_max"),
                get("concurrency_end")
            );
        }
        if limited {
            let _ = write!(h, " · {:.1}s held back by rate limits", get("limited_s"));
        }
        let _ = write!(
            h,
            " · spent {} · {:.2}s",
            usd(get("spent_usd")),
            get("wall_s")
        );
    }
    h
}

/// The terminal report; the table laid out for `layout`.
pub fn text(r: &RunReport, layout: Layout) -> String {
    let mut out = layout.wrap(&header(r), "  ");
    out.push_str("\n\n");
    // Priority 0 is always shown; on a narrow terminal the highest numbers go first. The
    // variant tells rows apart only when a suite compares several prompts.
    let compares = r.groups.iter().any(|g| g.variant != g.suite);
    let columns = [
        col("SUITE", 0, false),
        col("VARIANT", if compares { 0 } else { 3 }, false),
        col("MODEL", 4, false),
        col("CASES", 1, true),
        col("PASS", 1, true),
        col("FAIL", 1, true),
        col("ERROR", 2, true),
        col("FLAKY", 3, true),
        col("PASS RATE", 0, true),
        col("SCORE", 0, true),
        col("COST", 3, true),
        col("TOKENS IN/OUT", 5, true),
        col("P50", 4, true),
        col("P95", 5, true),
        col("", 0, false),
    ];
    let mut rows = Vec::new();
    for g in &r.groups {
        let variant = if g.variant == g.prompt {
            g.prompt.clone()
        } else {
            format!("{} ({})", g.variant, g.prompt)
        };
        let cost = if g.judge_cost_usd > 0.0 {
            format!(
                "{} +{} judge",
                group_usd(g.cost_usd, g.unpriced),
                usd(g.judge_cost_usd)
            )
        } else {
            group_usd(g.cost_usd, g.unpriced)
        };
        let cells = [
            g.suite.clone(),
            variant,
            g.model.clone(),
            g.cases.to_string(),
            g.passed.to_string(),
            g.failed.to_string(),
            g.errored.to_string(),
            g.flaky.to_string(),
            pct(g.pass_rate),
            num(g.score),
            cost,
            format!("{}/{}", tokens(g.input_tokens), tokens(g.output_tokens)),
            ms(g.latency_p50_ms),
            ms(g.latency_p95_ms),
            if g.ok() { "ok".into() } else { "FAILED".into() },
        ];
        rows.push(cells.to_vec());
    }
    out.push_str(&render(&columns, &rows, layout));
    for g in &r.groups {
        if !g.checks.is_empty() {
            let checks: Vec<String> = g
                .checks
                .iter()
                .map(|c| {
                    // With every case ERROR there is no pass rate or score to compare: the
                    // table shows `-`, and so does this line.
                    let unscored = match c.name.as_str() {
                        "pass_rate" => g.pass_rate.is_none(),
                        "score" => g.score.is_none(),
                        _ => false,
                    };
                    if unscored {
                        return format!(
                            "{} - (every case is ERROR; wanted {:.3})  MISSED",
                            c.name, c.want
                        );
                    }
                    format!("{}{}", c.line(), if c.ok { "" } else { "  MISSED" })
                })
                .collect();
            let line = format!("{} thresholds: {}", label(g), checks.join(", "));
            let _ = writeln!(out, "{}", layout.wrap(&line, "  "));
        }
    }
    for g in &r.groups {
        if let Some(line) = suspect_line(g) {
            let _ = writeln!(out, "{line}");
        }
        if let Some(line) = panel_line(g) {
            let _ = writeln!(out, "{line}");
            for d in g.panel_disagreements.iter().take(MAX_LISTED) {
                let _ = writeln!(out, "  - {d}");
            }
        }
    }
    for g in &r.groups {
        let bad: Vec<_> = g.case_results.iter().filter(|c| !c.passed).collect();
        if bad.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}: {} case(s) not passing", label(g), bad.len());
        for c in bad.iter().take(MAX_LISTED) {
            let samples = if c.samples > 1 {
                format!(" {}/{} samples passed", c.passes, c.samples)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {} {}{}{}",
                c.status.as_str().to_uppercase(),
                c.id,
                c.score
                    .map(|s| format!(" score {s:.2}"))
                    .unwrap_or_default(),
                samples
            );
            for reason in c.reasons.iter().take(4) {
                let _ = writeln!(out, "    - {}", one_line(reason, layout.room(6, 160)));
            }
            if c.status != CaseStatus::Error {
                if let Some(o) = &c.output {
                    let _ = writeln!(out, "    output: {}", one_line(o, layout.room(12, 160)));
                }
            }
        }
        if bad.len() > MAX_LISTED {
            let _ = writeln!(
                out,
                "  … and {} more (`llmops report {} --format json` has them all)",
                bad.len() - MAX_LISTED,
                r.run.id
            );
        }
    }
    out
}

/// Inter-judge agreement of a judge panel, when the suite had one.
fn panel_line(g: &Group) -> Option<String> {
    g.panel_agreement.map(|a| {
        format!(
            "{}: judge panel agreement {:.1}%, {} split verdict(s) (judges in `judge.panel` order)",
            label(g),
            a * 100.0,
            g.panel_disagreements.len()
        )
    })
}

/// The count of SUSPECT cases, apart from the table's, and what they do to the suite.
fn suspect_line(g: &Group) -> Option<String> {
    (g.suspect > 0).then(|| {
        format!(
            "{}: {} case(s) SUSPECT of an injection attempt aimed at the judge ({})",
            label(g),
            g.suspect,
            match g.on_suspect {
                crate::suite::OnSuspect::Fail =>
                    "they fail the suite; `on_suspect: warn` reports them only",
                crate::suite::OnSuspect::Warn => "`on_suspect: warn`: reported, not failing",
            }
        )
    })
}

fn label(g: &Group) -> String {
    if g.variant == g.prompt {
        g.suite.clone()
    } else {
        format!("{} / {}", g.suite, g.variant)
    }
}

/// A Markdown table cell: `|` and line breaks escaped, and HTML shown as text.
pub(crate) fn md_escape(s: &str) -> String {
    // Reasons quote model output: HTML in it is shown as text, never rendered.
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('\n', " ")
}

/// Markdown, shaped for a pull-request comment.
pub fn markdown(r: &RunReport) -> String {
    let mut out = String::new();
    let ok = r.groups.iter().all(Group::ok);
    let _ = writeln!(
        out,
        "## llmops eval: {}\n",
        if ok {
            "all suites passed"
        } else {
            "some suites failed"
        }
    );
    let _ = writeln!(out, "{}\n", header(r).replace('\n', "  \n"));
    out.push_str("| suite | variant | model | cases | pass | fail | error | flaky | pass rate | score | cost | p50 | p95 | |\n");
    out.push_str("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
    for g in &r.groups {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md_escape(&g.suite),
            md_escape(&g.variant),
            md_escape(&g.model),
            g.cases,
            g.passed,
            g.failed,
            g.errored,
            g.flaky,
            pct(g.pass_rate),
            num(g.score),
            group_usd(g.cost_usd + g.judge_cost_usd, g.unpriced),
            ms(g.latency_p50_ms),
            ms(g.latency_p95_ms),
            if g.ok() { "✅" } else { "❌" }
        );
    }
    for g in &r.groups {
        let bad: Vec<_> = g.case_results.iter().filter(|c| !c.passed).collect();
        if bad.is_empty() && g.checks.iter().all(|c| c.ok) {
            continue;
        }
        if let Some(line) = suspect_line(g) {
            let _ = writeln!(out, "\n⚠️ {}", md_escape(&line));
        }
        if let Some(line) = panel_line(g) {
            let _ = writeln!(out, "\n{}", md_escape(&line));
            for d in g.panel_disagreements.iter().take(MAX_LISTED) {
                let _ = writeln!(out, "- {}", md_escape(d));
            }
        }
        let _ = writeln!(
            out,
            "\n<details><summary>{}: {} case(s) not passing</summary>\n",
            md_escape(&label(g)),
            bad.len()
        );
        for c in &g.checks {
            let _ = writeln!(
                out,
                "- threshold `{}`: {:.3} (bar {:.3}) {}",
                c.name,
                c.got,
                c.want,
                if c.ok { "✅" } else { "❌" }
            );
        }
        for c in bad.iter().take(MAX_LISTED) {
            let _ = writeln!(
                out,
                "- **{}** `{}`{}",
                c.status.as_str().to_uppercase(),
                c.id,
                c.score
                    .map(|s| format!(" (score {s:.2})"))
                    .unwrap_or_default()
            );
            for reason in c.reasons.iter().take(4) {
                let _ = writeln!(out, "  - {}", md_escape(&one_line(reason, 200)));
            }
        }
        out.push_str("\n</details>\n");
    }
    out
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 forbids most control characters.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: a test suite per suite × variant, a test case per case.
pub fn junit(r: &RunReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: u32 = r.groups.iter().map(|g| g.cases).sum();
    let failures: u32 = r.groups.iter().map(|g| g.failed).sum();
    let errors: u32 = r.groups.iter().map(|g| g.errored).sum();
    let _ = writeln!(out, "<testsuites name=\"llmops run {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">", r.run.id);
    for g in &r.groups {
        let time = g
            .case_results
            .iter()
            .filter_map(|c| c.latency_ms)
            .sum::<f64>()
            / 1000.0;
        let _ = writeln!(out, "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{time:.3}\">", xml(&label(g)), g.cases, g.failed, g.errored);
        for c in &g.case_results {
            let t = c.latency_ms.unwrap_or(0.0) / 1000.0;
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{t:.3}\"",
                xml(&label(g)),
                xml(&c.id)
            );
            let body = c
                .reasons
                .iter()
                .map(|r| xml(r))
                .collect::<Vec<_>>()
                .join("\n");
            match (c.status, c.passed) {
                (CaseStatus::Error, _) => {
                    let _ = writeln!(
                        out,
                        ">\n      <error message=\"{}\">{body}</error>\n    </testcase>",
                        xml(&one_line(
                            c.reasons.first().map_or("error", String::as_str),
                            200
                        ))
                    );
                }
                (_, false) => {
                    let _ = writeln!(out, ">\n      <failure message=\"{} (score {})\">{body}</failure>\n    </testcase>", xml(c.status.as_str()), num(c.score));
                }
                _ => {
                    let _ = writeln!(out, "/>");
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ResultRow, RunRow, RunStatus, SampleStatus};

    fn row(case: &str, status: SampleStatus) -> ResultRow {
        ResultRow {
            run_id: 1,
            suite: "s".into(),
            variant: "s".into(),
            prompt: "s".into(),
            prompt_hash: String::new(),
            suite_hash: String::new(),
            case_id: case.into(),
            sample: 0,
            status,
            score: (status != SampleStatus::Error).then_some(1.0),
            output: Some("out".into()),
            error: (status == SampleStatus::Error).then(|| "boom".to_string()),
            error_kind: None,
            finish_reason: None,
            provider: "echo".into(),
            model: "m".into(),
            fingerprint: String::new(),
            latency_ms: None,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: None,
            judge_input_tokens: 0,
            judge_output_tokens: 0,
            judge_cost_usd: 0.0,
            cached: false,
            retries: 0,
            vars: serde_json::json!({}),
            metadata: serde_json::json!({}),
            description: None,
            scores: Vec::new(),
        }
    }

    fn report(
        rows: &[ResultRow],
        stats: serde_json::Value,
        settings: serde_json::Value,
    ) -> RunReport {
        let run = RunRow {
            id: 1,
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: None,
            status: RunStatus::Finished,
            git_commit: None,
            dirty: false,
            command: "eval".into(),
            settings,
            plan_key: String::new(),
            stats: Some(stats),
        };
        super::super::build(run, rows)
    }

    #[test]
    fn a_report_without_detail_has_the_same_text_json_markdown_and_junit() {
        let score = |pass: bool| crate::store::ScoreRow {
            kind: "contains".into(),
            metric: Some("m".into()),
            pass,
            score: if pass { 1.0 } else { 0.0 },
            weight: 1.0,
            critical: true,
            error: false,
            reason: if pass {
                "ok".into()
            } else {
                "missing `x`".into()
            },
            suspect: None,
            panel: None,
        };
        let mut rows = vec![
            row("a", SampleStatus::Pass),
            row("b", SampleStatus::Fail),
            row("c", SampleStatus::Error),
        ];
        for (r, pass) in rows.iter_mut().zip([true, false, false]) {
            r.vars = serde_json::json!({ "question": r.case_id.clone() });
            r.scores = vec![score(pass)];
        }
        let run = report(
            &rows,
            serde_json::json!({ "samples": 3 }),
            serde_json::json!({}),
        )
        .run;
        let build = |detail: bool| {
            let mut b = crate::report::Builder::new(run.clone()).detail(detail);
            for r in &rows {
                b.push(r.clone());
            }
            b.finish()
        };
        let (full, lean) = (build(true), build(false));
        assert_eq!(full.groups[0].case_results[1].assertions.len(), 1);
        assert_eq!(full.groups[0].case_results[1].vars["question"], "b");
        assert!(lean.groups[0]
            .case_results
            .iter()
            .all(|c| c.assertions.is_empty() && c.vars.is_null()));
        assert_eq!(
            serde_json::to_string_pretty(&full).unwrap(),
            serde_json::to_string_pretty(&lean).unwrap()
        );
        assert_eq!(text(&full, Layout::Plain), text(&lean, Layout::Plain));
        assert_eq!(markdown(&full), markdown(&lean));
        assert_eq!(junit(&full), junit(&lean));
        assert_eq!(full.outcome(), lean.outcome());
    }

    #[test]
    fn one_sample_is_singular() {
        let r = report(
            &[row("a", SampleStatus::Pass)],
            serde_json::json!({ "samples": 1, "calls": 1 }),
            serde_json::json!({}),
        );
        let t = text(&r, Layout::Plain);
        assert!(t.contains("\n1 sample · 1 call · 0 cached"), "{t}");
    }

    #[test]
    fn a_resumed_run_counts_every_sample_it_holds() {
        let rows = [
            row("a", SampleStatus::Pass),
            row("b", SampleStatus::Pass),
            row("c", SampleStatus::Pass),
        ];
        let r = report(
            &rows,
            serde_json::json!({ "samples": 1 }),
            serde_json::json!({}),
        );
        let t = text(&r, Layout::Plain);
        assert!(
            t.contains("3 samples (1 in this session, 2 before `--resume`)"),
            "{t}"
        );
    }

    #[test]
    fn an_all_error_suite_does_not_claim_a_pass_rate_of_zero() {
        let rows = [row("a", SampleStatus::Error), row("b", SampleStatus::Error)];
        let settings = serde_json::json!({ "suites": { "s": {
            "thresholds": { "pass_rate": 0.9 }, "min_pass": null, "repeat": 1 } } });
        let r = report(&rows, serde_json::json!({ "samples": 2 }), settings);
        let t = text(&r, Layout::Plain);
        assert!(
            t.contains("pass_rate - (every case is ERROR; wanted 0.900)  MISSED"),
            "{t}"
        );
        assert!(!t.contains("0.000 < 0.900"), "{t}");
    }

    #[test]
    fn metric_thresholds_alone_do_not_excuse_failing_cases() {
        let mut failing = row("a", SampleStatus::Fail);
        failing.score = Some(0.5);
        let rows = [failing, row("b", SampleStatus::Pass)];
        let metric_only = serde_json::json!({ "suites": { "s": {
            "thresholds": { "metrics": { "tone": 0.5 } }, "min_pass": null, "repeat": 1 } } });
        let r = report(&rows, serde_json::json!({ "samples": 2 }), metric_only);
        assert!(!r.groups[0].ok());
        assert_eq!(r.outcome(), crate::error::Outcome::QualityFailed);
        assert!(text(&r, Layout::Plain).contains("FAILED"));
        // A pass-rate bar says how many cases may fail.
        let with_rate = serde_json::json!({ "suites": { "s": {
            "thresholds": { "pass_rate": 0.5 }, "min_pass": null, "repeat": 1 } } });
        let r = report(&rows, serde_json::json!({ "samples": 2 }), with_rate);
        assert!(r.groups[0].ok());
        assert_eq!(r.outcome(), crate::error::Outcome::Success);
    }
}
