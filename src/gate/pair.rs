//! Pairing: which suites changed between the two sides, and each case's samples on both
//! sides folded into one [`Pair`].

use std::collections::{BTreeMap, HashMap};

use super::{Pair, Side};
use crate::engine::{plan, Planned};
use crate::error::Result;
use crate::registry::Registry;
use crate::store::{ResultRow, SampleStatus};

/// Suites split by whether the gate should run them.
#[derive(Debug, Default)]
pub struct Changes {
    /// Suites whose prompts, partials, datasets or assertions differ (or all, with `--all`).
    pub gated: Vec<String>,
    /// Suites with nothing changed.
    pub unchanged: Vec<String>,
}

/// Which of the candidate's suites changed: a variant's prompt content, or the suite file, its
/// dataset or a script its assertions run. `base_reg` is the registry at the baseline, when its config still loads.
pub fn changes(
    reg: &Registry,
    base_reg: Option<&Registry>,
    cand: &[Planned],
    base: &[Planned],
    all: bool,
) -> Result<Changes> {
    let mut out = Changes::default();
    for p in cand {
        let b = base.iter().find(|b| b.suite.name == p.suite.name);
        let prompt_changed = p.targets.iter().any(|t| {
            b.and_then(|b| b.targets.iter().find(|x| x.variant.name == t.variant.name))
                .is_none_or(|x| x.prompt_hash != t.prompt_hash)
        });
        let suite_changed = match base_reg {
            Some(b) => plan::suite_identity(b, &p.suite)? != plan::suite_identity(reg, &p.suite)?,
            None => true,
        };
        if all || prompt_changed || suite_changed {
            out.gated.push(p.suite.name.clone());
        } else {
            out.unchanged.push(p.suite.name.clone());
        }
    }
    Ok(out)
}

/// One case's samples on one side.
pub fn side_of(rows: &[&ResultRow], min_pass: Option<(u32, u32)>) -> Side {
    let c = crate::report::case_result(rows, min_pass);
    // A critical assertion "passes" for the case when it passed in most scored samples.
    let scored: Vec<&&ResultRow> = rows
        .iter()
        .filter(|r| r.status != SampleStatus::Error)
        .collect();
    let mut critical_ok = Vec::new();
    if let Some(first) = scored.first() {
        for (i, s) in first.scores.iter().enumerate().filter(|(_, s)| s.critical) {
            let passes = scored
                .iter()
                .filter(|r| r.scores.get(i).is_some_and(|x| x.pass))
                .count();
            if passes * 2 > scored.len() {
                critical_ok.push(format!("{i}:{}", s.kind));
            }
        }
    }
    Side {
        score: c.score,
        passed: c.passed,
        samples: c.samples,
        errors: rows
            .iter()
            .filter(|r| r.status == SampleStatus::Error)
            .count() as u32,
        critical_ok,
        output: c.output,
        reasons: c.reasons,
        metrics: c.metrics,
        cost_usd: per_sample(rows, |r| r.cost_usd),
        latency_ms: per_sample(rows, |r| r.latency_ms),
    }
}

/// The mean of `f` over the samples that answered; `None` when any answer lacks it (an
/// unpriced model), so a partial sum is never compared with a full one.
fn per_sample(rows: &[&ResultRow], f: fn(&ResultRow) -> Option<f64>) -> Option<f64> {
    let answered: Vec<&&ResultRow> = rows.iter().filter(|r| r.output.is_some()).collect();
    if answered.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for r in &answered {
        sum += f(r)?;
    }
    Some(sum / answered.len() as f64)
}

type CaseKey = (String, String, String);

/// Per (suite, variant, case): that case's rows.
fn by_case(rows: &[ResultRow]) -> BTreeMap<CaseKey, Vec<&ResultRow>> {
    let mut m: BTreeMap<CaseKey, Vec<&ResultRow>> = BTreeMap::new();
    for r in rows {
        m.entry((r.suite.clone(), r.variant.clone(), r.case_id.clone()))
            .or_default()
            .push(r);
    }
    m
}

/// Pair both runs' rows by (suite, variant, case id). `min_pass` is each suite's policy;
/// `cluster_by` names the metadata field that clusters cases, when configured.
pub fn pairs(
    base_rows: &[ResultRow],
    cand_rows: &[ResultRow],
    min_pass: &HashMap<String, Option<(u32, u32)>>,
    cluster_by: Option<&str>,
) -> Vec<Pair> {
    let (b, c) = (by_case(base_rows), by_case(cand_rows));
    let mut keys: Vec<&CaseKey> = b.keys().chain(c.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            let mp = min_pass.get(&k.0).copied().flatten();
            let meta = c
                .get(k)
                .or_else(|| b.get(k))
                .and_then(|rows| rows.first())
                .map(|r| &r.metadata);
            Pair {
                suite: k.0.clone(),
                variant: k.1.clone(),
                case: k.2.clone(),
                cluster: cluster_by.and_then(|f| {
                    meta?
                        .get(f)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                }),
                baseline: b.get(k).map(|rows| side_of(rows, mp)),
                candidate: c.get(k).map(|rows| side_of(rows, mp)),
            }
        })
        .collect()
}
