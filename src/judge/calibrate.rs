//! `llmops judge calibrate`: run the judge over human-labelled examples and measure agreement,
//! Cohen's kappa (quadratic-weighted for 1-5 scales) and the confusion matrix, so a team knows
//! whether to trust its judge.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::assert::{Assertion, Kind, RawAssertion};
use crate::error::{Diagnostic, Result};

/// A human label: pass/fail, or a 1-5 rating for `g-eval`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Label {
    /// Pass or fail.
    Pass(bool),
    /// A rating.
    Scale(u8),
}

/// One labelled example.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// Stable id.
    pub id: String,
    /// The assertion the judge grades.
    pub assertion: RawAssertion,
    /// The output under test.
    pub output: String,
    /// The input it answered.
    #[serde(default)]
    pub question: String,
    /// Case variables, if the rubric uses them.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// What a person decided; `null` in a file `llmops judge label` wrote, until filled in.
    pub label: Option<Label>,
    /// The judge's verdict when the file was written (`llmops judge label`), for the person
    /// labelling; not used.
    #[serde(default)]
    pub judge: Option<Value>,
}

/// Read and validate a labels file (JSONL).
pub fn read_examples(file: &str, text: &str) -> Result<Vec<(Example, Assertion)>, Diagnostic> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ex: Example = serde_json::from_str(line).map_err(|e| {
            Diagnostic::error("labels", file, e.to_string()).at(i + 1, Some(e.column()))
        })?;
        let a = Assertion::from_raw(&ex.assertion).map_err(|e| {
            Diagnostic::error("labels", file, e.message)
                .at(i + 1, None)
                .help_opt(e.help)
        })?;
        if !a.kind.is_model_graded() || a.kind == Kind::Pairwise {
            return Err(Diagnostic::error(
                "labels",
                file,
                format!(
                    "`{}` is not graded by the judge (or needs a baseline)",
                    a.display_kind()
                ),
            )
            .at(i + 1, None));
        }
        match (&ex.label, a.kind) {
            (None, _) => return Err(Diagnostic::error(
                "labels",
                file,
                format!("example `{}` has no label yet", ex.id),
            )
            .at(i + 1, None)
            .help(
                "set `label` to true or false (or a 1-5 rating for `g-eval`), or delete the line",
            )),
            (Some(Label::Scale(s)), Kind::GEval) if (1..=5).contains(s) => {}
            (Some(Label::Scale(_)), _) => {
                return Err(Diagnostic::error(
                    "labels",
                    file,
                    "a 1-5 label goes with `g-eval`; other kinds take true or false",
                )
                .at(i + 1, None))
            }
            _ => {}
        }
        out.push((ex, a));
    }
    if out.is_empty() {
        return Err(Diagnostic::error("labels", file, "no labelled examples").at(1, None));
    }
    Ok(out)
}

/// Agreement statistics for one kind of label.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// `pass/fail` or `1-5`.
    pub scale: String,
    /// Examples compared (ERROR verdicts excluded).
    pub n: usize,
    /// Share where judge and person agree.
    pub agreement: f64,
    /// Cohen's kappa (quadratic-weighted for 1-5).
    pub kappa: Option<f64>,
    /// Category names, in matrix order.
    pub categories: Vec<String>,
    /// Rows: the person's label; columns: the judge's.
    pub confusion: Vec<Vec<u32>>,
}

/// Cohen's kappa of a square confusion matrix; with `weighted`, quadratic weights.
pub fn kappa(m: &[Vec<u32>], weighted: bool) -> Option<f64> {
    let k = m.len();
    let n: f64 = m.iter().flatten().map(|&x| f64::from(x)).sum();
    if n == 0.0 || k < 2 {
        return None;
    }
    let rows: Vec<f64> = m
        .iter()
        .map(|r| r.iter().map(|&x| f64::from(x)).sum())
        .collect();
    let cols: Vec<f64> = (0..k)
        .map(|j| m.iter().map(|r| f64::from(r[j])).sum())
        .collect();
    let w = |i: usize, j: usize| -> f64 {
        if weighted {
            ((i as f64 - j as f64) / (k as f64 - 1.0)).powi(2)
        } else if i == j {
            0.0
        } else {
            1.0
        }
    };
    let (mut observed, mut expected) = (0.0, 0.0);
    for i in 0..k {
        for j in 0..k {
            observed += w(i, j) * f64::from(m[i][j]) / n;
            expected += w(i, j) * rows[i] * cols[j] / (n * n);
        }
    }
    (expected > 0.0).then(|| 1.0 - observed / expected)
}

/// Build the agreement table from (human, judge) category indexes.
pub fn agreement(
    scale: &str,
    categories: Vec<String>,
    pairs: &[(usize, usize)],
    weighted: bool,
) -> Agreement {
    let k = categories.len();
    let mut m = vec![vec![0u32; k]; k];
    for &(h, j) in pairs {
        m[h][j] += 1;
    }
    let agree = pairs.iter().filter(|(h, j)| h == j).count();
    Agreement {
        scale: scale.into(),
        n: pairs.len(),
        agreement: if pairs.is_empty() {
            0.0
        } else {
            agree as f64 / pairs.len() as f64
        },
        kappa: kappa(&m, weighted),
        categories,
        confusion: m,
    }
}

/// The whole calibration report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Judge provider.
    pub provider: String,
    /// Judge model.
    pub model: String,
    /// Per label scale.
    pub tables: Vec<Agreement>,
    /// Examples whose verdict was ERROR.
    pub errors: Vec<String>,
    /// Examples where judge and person disagree: (id, person, judge, judge's reason).
    pub disagreements: Vec<(String, String, String, String)>,
    /// Per assertion kind: (n, agreement).
    pub by_kind: BTreeMap<String, (usize, f64)>,
    /// Per rubric (an assertion kind and its value): agreement, kappa and whether the kappa is
    /// below the bar.
    pub by_rubric: Vec<RubricAgreement>,
    /// The kappa a rubric needs not to be flagged.
    pub min_kappa: f64,
}

/// Agreement on one rubric.
#[derive(Debug, Clone, Serialize)]
pub struct RubricAgreement {
    /// The kind and the rubric text, on one line.
    pub rubric: String,
    /// Examples compared.
    pub n: usize,
    /// Share where judge and person agree.
    pub agreement: f64,
    /// Cohen's kappa (quadratic-weighted for 1-5); undefined when one category only.
    pub kappa: Option<f64>,
    /// The kappa is below `min_kappa`: do not trust the gate with this rubric yet.
    pub flagged: bool,
}

impl Report {
    /// Rubrics whose kappa is below the bar.
    pub fn flagged(&self) -> usize {
        self.by_rubric.iter().filter(|r| r.flagged).count()
    }
}

/// (person, judge) category indexes.
type Pairs = Vec<(usize, usize)>;

/// The name a rubric is reported under: its kind and its text.
fn rubric_name(a: &Assertion) -> String {
    let value = match &a.value {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    if value.is_empty() {
        a.display_kind()
    } else {
        format!(
            "{}: {}",
            a.display_kind(),
            crate::text::one_line(&value, 80)
        )
    }
}

/// Grade every example with the configured judge and compare with the labels.
pub fn run(
    settings: &crate::config::Settings,
    root: &std::path::Path,
    examples: Vec<(Example, Assertion)>,
    store: std::sync::Arc<std::sync::Mutex<crate::store::Store>>,
    min_kappa: f64,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    emit: &(dyn Fn(crate::provider::Answered) + Sync),
) -> Result<Report> {
    let provider = settings.judge_provider.clone().ok_or_else(|| {
        crate::error::Error::usage_help(
            "no judge configured",
            "set `judge: { provider, model }` in llmops.yaml",
        )
    })?;
    let model = settings.judge_model.clone().unwrap_or_default();
    let mut names = vec![provider.clone()];
    names.extend(examples.iter().filter_map(|(_, a)| a.provider.clone()));
    names.sort();
    names.dedup();
    let providers = std::sync::Arc::new(crate::provider::Providers::build(
        settings, root, &names, env,
    )?);
    for n in &names {
        if let Some(e) = providers.missing_key(n) {
            return Err(e);
        }
    }
    let judge = super::Judge::new(settings, providers, store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::error::Error::io("tokio runtime", e))?;
    let graded: Vec<super::Graded> = runtime.block_on(async {
        let mut out = Vec::new();
        for (ex, a) in &examples {
            out.push(
                judge
                    .grade(a, &ex.output, &ex.question, &ex.vars, None, emit)
                    .await,
            );
        }
        out
    });
    let mut binary = Vec::new();
    let mut scale = Vec::new();
    let mut errors = Vec::new();
    let mut disagreements = Vec::new();
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    // Per rubric, in file order: (pass/fail pairs, 1-5 pairs).
    let mut by_rubric: indexmap::IndexMap<String, (Pairs, Pairs)> = indexmap::IndexMap::new();
    for ((ex, a), g) in examples.iter().zip(&graded) {
        if g.verdict.error {
            errors.push(format!("{}: {}", ex.id, g.verdict.reason));
            continue;
        }
        let Some(label) = &ex.label else { continue };
        let (human, judged, agree) = match *label {
            Label::Pass(p) => {
                binary.push((usize::from(p), usize::from(g.verdict.pass)));
                by_rubric
                    .entry(rubric_name(a))
                    .or_default()
                    .0
                    .push((usize::from(p), usize::from(g.verdict.pass)));
                (
                    if p { "pass" } else { "fail" }.to_string(),
                    if g.verdict.pass { "pass" } else { "fail" }.to_string(),
                    p == g.verdict.pass,
                )
            }
            Label::Scale(s) => {
                let j = (g.verdict.score * 4.0 + 1.0).round().clamp(1.0, 5.0) as usize;
                scale.push((usize::from(s) - 1, j - 1));
                by_rubric
                    .entry(rubric_name(a))
                    .or_default()
                    .1
                    .push((usize::from(s) - 1, j - 1));
                (s.to_string(), j.to_string(), usize::from(s) == j)
            }
        };
        let e = by_kind.entry(a.display_kind()).or_default();
        e.0 += 1;
        e.1 += usize::from(agree);
        if !agree {
            disagreements.push((
                ex.id.clone(),
                human,
                judged,
                crate::text::one_line(&g.verdict.reason, 160),
            ));
        }
    }
    let mut tables = Vec::new();
    if !binary.is_empty() {
        tables.push(agreement(
            "pass/fail",
            vec!["fail".into(), "pass".into()],
            &binary,
            false,
        ));
    }
    if !scale.is_empty() {
        tables.push(agreement(
            "1-5",
            (1..=5).map(|i| i.to_string()).collect(),
            &scale,
            true,
        ));
    }
    let by_rubric = by_rubric
        .into_iter()
        .flat_map(|(rubric, (binary, scale))| {
            let tables = [
                (!binary.is_empty()).then(|| {
                    agreement(
                        "pass/fail",
                        vec!["fail".into(), "pass".into()],
                        &binary,
                        false,
                    )
                }),
                (!scale.is_empty()).then(|| {
                    agreement(
                        "1-5",
                        (1..=5).map(|i| i.to_string()).collect(),
                        &scale,
                        true,
                    )
                }),
            ];
            tables.into_iter().flatten().map(move |t| RubricAgreement {
                rubric: rubric.clone(),
                n: t.n,
                agreement: t.agreement,
                kappa: t.kappa,
                flagged: t.kappa.is_some_and(|k| k < min_kappa),
            })
        })
        .collect();
    Ok(Report {
        provider,
        model,
        tables,
        errors,
        disagreements,
        by_rubric,
        min_kappa,
        by_kind: by_kind
            .into_iter()
            .map(|(k, (n, a))| (k, (n, a as f64 / n.max(1) as f64)))
            .collect(),
    })
}

/// The report as text.
pub fn text(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = format!("judge {} / {}\n", r.provider, r.model);
    for t in &r.tables {
        let _ = writeln!(
            out,
            "\n{} labels: n = {}, agreement {:.1}%, {} {}",
            t.scale,
            t.n,
            t.agreement * 100.0,
            if t.scale == "1-5" {
                "quadratic-weighted kappa"
            } else {
                "Cohen's kappa"
            },
            t.kappa
                .map_or("undefined (one category only)".into(), |k| format!(
                    "{k:.3}"
                ))
        );
        let _ = writeln!(out, "  confusion (rows: person, columns: judge)");
        let _ = writeln!(
            out,
            "  {:>8} {}",
            "",
            t.categories
                .iter()
                .map(|c| format!("{c:>6}"))
                .collect::<String>()
        );
        for (c, row) in t.categories.iter().zip(&t.confusion) {
            let _ = writeln!(
                out,
                "  {c:>8} {}",
                row.iter().map(|v| format!("{v:>6}")).collect::<String>()
            );
        }
    }
    if !r.by_kind.is_empty() {
        let _ = writeln!(out, "\nby assertion type:");
        for (k, (n, a)) in &r.by_kind {
            let _ = writeln!(out, "  {k:<24} n = {n:<4} agreement {:.1}%", a * 100.0);
        }
    }
    if !r.by_rubric.is_empty() {
        let _ = writeln!(out, "\nby rubric (flagged below kappa {}):", r.min_kappa);
        for x in &r.by_rubric {
            let _ = writeln!(
                out,
                "  {} n = {:<4} agreement {:>5.1}%  kappa {:>9}  {}",
                if x.flagged { "FLAGGED" } else { "ok     " },
                x.n,
                x.agreement * 100.0,
                x.kappa.map_or("undefined".into(), |k| format!("{k:.3}")),
                x.rubric
            );
        }
    }
    if !r.disagreements.is_empty() {
        let _ = writeln!(out, "\ndisagreements:");
        for (id, h, j, why) in &r.disagreements {
            let _ = writeln!(out, "  {id}: person {h}, judge {j}: {why}");
        }
    }
    if !r.errors.is_empty() {
        let _ = writeln!(out, "\nERROR verdicts (not counted):");
        for e in &r.errors {
            let _ = writeln!(out, "  {e}");
        }
    }
    let _ = writeln!(out, "\nRule of thumb: kappa above 0.8 is strong agreement, 0.6-0.8 substantial, below 0.4 weak.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From tests/reference/kappa.py (scikit-learn).
    const KAPPA_QUADRATIC_REF: f64 = 0.881_355_932_203_389_8;

    #[test]
    fn kappa_matches_reference_values() {
        // Cohen (1960)-style example: po = 0.7, pe = 0.5 -> kappa 0.4.
        assert!((kappa(&[vec![20, 5], vec![10, 15]], false).unwrap() - 0.4).abs() < 1e-12);
        // Perfect agreement.
        assert_eq!(kappa(&[vec![3, 0], vec![0, 7]], false), Some(1.0));
        // Quadratic weights, checked against scikit-learn (tests/reference/kappa.py):
        // cohen_kappa_score([1,2,3,4,5,1,2], [1,2,3,5,4,2,2], weights="quadratic").
        let h = [1, 2, 3, 4, 5, 1, 2];
        let j = [1, 2, 3, 5, 4, 2, 2];
        let mut m = vec![vec![0u32; 5]; 5];
        for (a, b) in h.iter().zip(j) {
            m[a - 1][b - 1] += 1;
        }
        assert!(
            (kappa(&m, true).unwrap() - KAPPA_QUADRATIC_REF).abs() < 1e-9,
            "{:?}",
            kappa(&m, true)
        );
        // Everyone in one category: kappa undefined.
        assert_eq!(kappa(&[vec![5, 0], vec![0, 0]], false), None);
    }
}
