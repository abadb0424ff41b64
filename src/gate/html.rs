//! The gate report as one HTML page: a card per suite with the decision and its statistics,
//! and every paired case with both outputs side by side and the word diff between them.
//! Deterministic, like the other gate renderings.

use serde_json::Value;

use super::{GateReport, Pair, Side, SuiteGate, Verdict};
use crate::report::html::{compare, render, Card, Column, Page, Row};

fn f3(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3}"))
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn tone(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "good",
        Verdict::Inconclusive => "warn",
        Verdict::Fail | Verdict::Error => "bad",
    }
}

fn name(suite: &str, variant: &str) -> String {
    if variant == suite || variant.is_empty() {
        suite.to_string()
    } else {
        format!("{suite} / {variant}")
    }
}

fn card(g: &SuiteGate) -> Card {
    let mut fields = vec![
        ("pairs".to_string(), g.n.to_string()),
        (
            "score".to_string(),
            format!("{} -> {}", f3(g.baseline_score), f3(g.candidate_score)),
        ),
        (
            "pass rate".to_string(),
            format!(
                "{} -> {}",
                pct(g.baseline_pass_rate),
                pct(g.candidate_pass_rate)
            ),
        ),
        (
            "error rate".to_string(),
            format!(
                "{:.1}% / {:.1}%",
                g.error_rates.0 * 100.0,
                g.error_rates.1 * 100.0
            ),
        ),
    ];
    if let Some(c) = g.clusters {
        fields.push(("clusters".into(), c.to_string()));
    }
    if let Some(s) = &g.stats {
        fields.push(("mean difference".into(), format!("{:+.3}", s.mean)));
        if let (Some(lo), Some(hi)) = (s.lower, s.upper) {
            fields.push(("interval".into(), format!("[{lo:+.3}, {hi:+.3}]")));
        }
        fields.push(("p (regression)".into(), super::fmt_p(s.p_regression)));
        fields.push(("p (non-inferior)".into(), super::fmt_p(s.p_noninferior)));
        fields.push(("test".into(), s.method.clone()));
        if let Some(mde) = s.mde {
            fields.push(("detectable effect".into(), format!("{mde:.3} (80% power)")));
        }
    }
    if let Some(n) = g.cases_needed {
        fields.push(("cases to settle".into(), format!("about {n}")));
    }
    for d in &g.dimensions {
        use super::dims::times;
        fields.push((
            format!(
                "{} (+{}%)",
                d.kind.as_str(),
                super::dims::tolerance_pct(d.tolerance)
            ),
            match d.verdict {
                Some(v) => format!(
                    "{} -> {}: {} [{}, {}] {}",
                    d.amount(d.baseline_mean),
                    d.amount(d.candidate_mean),
                    times(d.ratio),
                    times(d.lower),
                    times(d.upper),
                    v.as_str()
                ),
                None => "not gated".into(),
            },
        ));
    }
    let mut notes: Vec<String> = g.reasons.clone();
    for c in &g.checks {
        notes.push(format!(
            "{}: {}",
            c.line(),
            if c.ok { "ok" } else { "MISSED" }
        ));
    }
    // The table lists every flipped case (status `regressed`); the card names a few.
    const NAMED: usize = super::render::NAMED_FLIPS;
    for (case, kind) in g.critical_flips.iter().take(NAMED) {
        notes.push(format!(
            "critical `{kind}` flipped pass -> fail in `{case}`"
        ));
    }
    if g.critical_flips.len() > NAMED {
        notes.push(format!(
            "… and {} more critical flips (filter the cases by `regressed`)",
            g.critical_flips.len() - NAMED
        ));
    }
    if !g.added.is_empty() {
        notes.push(format!("{} case(s) only in the candidate", g.added.len()));
    }
    if !g.removed.is_empty() {
        notes.push(format!("{} case(s) only in the baseline", g.removed.len()));
    }
    Card {
        title: name(&g.suite, &g.variant),
        status: g.verdict.as_str().into(),
        tone: tone(g.verdict).into(),
        fields,
        notes,
    }
}

fn errored(s: &Side) -> bool {
    s.score.is_none() || s.errors > 0
}

/// The status word of a pair: `added`, `removed`, `error`, `regressed` (pass -> fail),
/// `fixed` (fail -> pass), `pass` or `fail`.
pub fn pair_status(p: &Pair) -> &'static str {
    match (&p.baseline, &p.candidate) {
        (None, _) => "added",
        (_, None) => "removed",
        (Some(b), Some(c)) if errored(b) || errored(c) => "error",
        (Some(b), Some(c)) => match (b.passed, c.passed) {
            (true, false) => "regressed",
            (false, true) => "fixed",
            (true, true) => "pass",
            (false, false) => "fail",
        },
    }
}

fn row(r: &GateReport, p: &Pair) -> Row {
    let score = |s: &Option<Side>| s.as_ref().and_then(|s| s.score);
    let (b, c) = (score(&p.baseline), score(&p.candidate));
    let delta = match (b, c) {
        (Some(b), Some(c)) => Some(c - b),
        _ => None,
    };
    let num = |x: Option<f64>| {
        x.and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number)
    };
    let status = pair_status(p);
    let mut facts = Vec::new();
    let mut reasons = Vec::new();
    let mut metrics = std::collections::BTreeMap::new();
    for (label, side) in [("baseline", &p.baseline), ("candidate", &p.candidate)] {
        match side {
            Some(s) => {
                facts.push((
                    label.to_string(),
                    format!(
                        "score {} · {} · {} sample(s), {} errored",
                        f3(s.score),
                        if s.passed { "passed" } else { "failed" },
                        s.samples,
                        s.errors
                    ),
                ));
                reasons.extend(s.reasons.iter().map(|x| format!("{label}: {x}")));
            }
            None => facts.push((label.to_string(), "not run".into())),
        }
    }
    if let Some(c) = &p.candidate {
        metrics.clone_from(&c.metrics);
    }
    if let Some(cl) = &p.cluster {
        facts.push(("cluster".into(), cl.clone()));
    }
    let out = |s: &Option<Side>| s.as_ref().and_then(|s| s.output.clone());
    let (bo, co) = (out(&p.baseline), out(&p.candidate));
    Row {
        id: p.case.clone(),
        status: status.into(),
        cells: vec![
            Value::from(status),
            Value::from(name(&p.suite, &p.variant)),
            Value::from(p.case.clone()),
            num(b),
            num(c),
            num(delta),
        ],
        metrics,
        facts,
        reasons,
        compare: vec![compare(
            "output",
            &format!("baseline: {}", r.baseline),
            &format!("candidate: {}", r.candidate),
            bo.as_deref(),
            co.as_deref(),
        )],
        ..Row::default()
    }
}

/// The page for a gate report.
pub fn page(r: &GateReport) -> Page {
    let mut metrics = std::collections::BTreeSet::new();
    for p in &r.pairs {
        if let Some(c) = &p.candidate {
            metrics.extend(c.metrics.keys().cloned());
        }
    }
    let mut cards: Vec<Card> = r.suites.iter().map(card).collect();
    if !r.unchanged.is_empty() {
        cards.push(Card {
            title: "not gated".into(),
            status: r.unchanged.len().to_string(),
            tone: "none".into(),
            notes: vec![format!(
                "{}: nothing they depend on changed (`--all` gates them too)",
                r.unchanged.join(", ")
            )],
            ..Card::default()
        });
    }
    Page {
        kind: "gate".into(),
        title: format!("llmops gate {}", r.verdict.as_str()),
        subtitle: format!(
            "baseline {} · candidate {} · alpha {} · tolerance {} · max error rate {}",
            r.baseline, r.candidate, r.policy.alpha, r.policy.tolerance, r.policy.max_error_rate
        ),
        status: r.verdict.as_str().into(),
        tone: tone(r.verdict).into(),
        cards,
        columns: vec![
            Column {
                label: "status".into(),
                format: "status".into(),
            },
            Column {
                label: "suite".into(),
                format: "text".into(),
            },
            Column {
                label: "case".into(),
                format: "text".into(),
            },
            Column {
                label: "baseline".into(),
                format: "score".into(),
            },
            Column {
                label: "candidate".into(),
                format: "score".into(),
            },
            Column {
                label: "Δ".into(),
                format: "delta".into(),
            },
        ],
        metrics: metrics.into_iter().collect(),
        rows: r.pairs.iter().map(|p| row(r, p)).collect(),
    }
}

/// A gate report as one HTML page.
pub fn html(r: &GateReport) -> String {
    render(&page(r))
}
