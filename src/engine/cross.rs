//! The cross-variant step: `select-best` and `max-score` compare the outputs that every variant
//! of a suite gave for the same case and sample, so they are decided once all of them are
//! scored, at the end of a run.
//!
//! The step reads only stored results (this leg's, held in memory, and on `--resume` the
//! earlier legs' from the store) and recomputes each comparison from them, so it is
//! idempotent: a resumed run replaces the comparison's score rows instead of adding to them,
//! and a verdict the judge already gave comes from the judge cache. A variant with no usable
//! output (its provider call or one of its own assertions ERRORed) takes no part and stays as
//! it is; fewer than two usable variants make the comparison ERROR on the others, with the
//! reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::plan::{self, Options, Planned};
use super::Shared;
use crate::assert::cross::{self, Candidate, SET_ITEM};
use crate::assert::score::Verdict;
use crate::assert::{Assertion, Check, Kind};
use crate::error::Result;
use crate::judge::{Graded, PAIRWISE_SKIPPED};
use crate::provider::Answered;
use crate::registry::Registry;
use crate::store::{ErrorKind, ResultRow, SampleStatus, ScoreRow, Store};

/// (suite, variant, case, sample).
pub(super) type Key = (String, String, String, u32);

/// How many comparisons are judged at once.
const CONCURRENT: usize = 8;

/// One case × sample to compare across the suite's variants.
struct Group {
    suite: String,
    /// One per variant of the run, in suite order; `None` when the variant has no result.
    variants: Vec<String>,
    rows: Vec<Option<ResultRow>>,
    /// The case's cross-variant assertions, `select-best` first (promptfoo's order).
    assertions: Vec<Assertion>,
    vars: Map<String, Value>,
}

/// What the step produced: rows to store again, judge answers to cache, USD spent.
#[derive(Default)]
pub(super) struct Settled {
    pub rows: Vec<ResultRow>,
    pub answered: Vec<Answered>,
    pub spent_usd: f64,
}

/// Whether a stored kind is a cross-variant one.
fn is_cross(kind: &str) -> bool {
    kind == Kind::SelectBest.as_str() || kind == Kind::MaxScore.as_str()
}

/// A row's pass and score before any comparison, from its own score rows; `None` when it
/// has no usable output (a provider ERROR, or one of its own assertions ERRORed).
fn base_of(row: &ResultRow) -> Option<(bool, f64)> {
    row.output.as_ref()?;
    let own: Vec<&ScoreRow> = row.scores.iter().filter(|s| !is_cross(&s.kind)).collect();
    if own.iter().any(|s| s.error) {
        return None;
    }
    let (mut pass, mut weighted, mut weights) = (true, 0.0, 0.0);
    for s in own.iter().filter(|s| !s.kind.starts_with(SET_ITEM)) {
        pass &= s.pass;
        if s.weight > 0.0 && s.reason != PAIRWISE_SKIPPED {
            weighted += s.score * s.weight;
            weights += s.weight;
        }
    }
    let score = if weights > 0.0 {
        weighted / weights
    } else if pass {
        1.0
    } else {
        0.0
    };
    Some((pass, score))
}

/// A variant's other assertion scores for `max-score`: top-level assertions and the items of
/// an `assert-set` by their own type (the set's own row is left out, as in promptfoo).
fn candidate(row: &ResultRow) -> Vec<(String, f64)> {
    row.scores
        .iter()
        .filter(|s| !is_cross(&s.kind) && s.kind != Kind::AssertSet.as_str())
        .filter(|s| s.reason != PAIRWISE_SKIPPED)
        .map(|s| {
            (
                s.kind.strip_prefix(SET_ITEM).unwrap_or(&s.kind).to_string(),
                s.score,
            )
        })
        .collect()
}

/// Settle every comparison of this run. `held` holds this leg's rows of cases with a
/// cross-variant assertion; on a resumed run the earlier legs' rows come from the store.
#[allow(clippy::too_many_arguments)]
pub(super) async fn settle(
    reg: &Registry,
    planned: &[Planned],
    opts: &Options,
    shared: &Arc<Shared>,
    store: &Arc<Mutex<Store>>,
    resumed: bool,
    mut held: HashMap<Key, ResultRow>,
    on_done: &mut dyn FnMut(Settled),
) -> Result<()> {
    let suites: Vec<&Planned> = planned
        .iter()
        .filter(|p| resumed || held.keys().any(|k| k.0 == p.suite.name))
        .collect();
    if suites.is_empty() {
        return Ok(());
    }
    if resumed {
        let stored = {
            let s = store.lock().expect("not poisoned");
            s.results(shared.run_id)?
        };
        for r in stored {
            if suites.iter().any(|p| p.suite.name == r.suite) {
                let key = (
                    r.suite.clone(),
                    r.variant.clone(),
                    r.case_id.clone(),
                    r.sample,
                );
                held.entry(key).or_insert(r);
            }
        }
    }
    let filter = plan::filter_regex(opts)?;
    let allow = reg
        .settings
        .redact_inputs
        .then(|| crate::redact::Allow::new(&reg.settings.redaction_allow));
    let mut groups = Vec::new();
    for p in suites {
        for case in p.suite.cases(&reg.source)? {
            let case = case?;
            if !plan::selected(opts, filter.as_ref(), &p.suite.name, &case) {
                continue;
            }
            let mut assertions: Vec<Assertion> = case
                .assert
                .iter()
                .filter(|a| a.kind.is_cross_variant())
                .cloned()
                .collect();
            if assertions.is_empty() {
                continue;
            }
            assertions.sort_by_key(|a| a.kind != Kind::SelectBest);
            let mut vars = case.vars.clone();
            if let Some(allow) = &allow {
                // As the planner does: the judge sees what the provider saw.
                for v in vars.values_mut() {
                    crate::redact::mask_value(v, allow);
                }
            }
            for sample in 0..p.repeat {
                let variants: Vec<String> =
                    p.targets.iter().map(|t| t.variant.name.clone()).collect();
                let rows = variants
                    .iter()
                    .map(|v| {
                        held.remove(&(p.suite.name.clone(), v.clone(), case.id.clone(), sample))
                    })
                    .collect();
                groups.push(Group {
                    suite: p.suite.name.clone(),
                    variants,
                    rows,
                    assertions: assertions.clone(),
                    vars: vars.clone(),
                });
            }
        }
    }
    // Each comparison is handed over as soon as it is decided, so an interrupted step keeps
    // (and caches) the verdicts it already has.
    let mut tasks = tokio::task::JoinSet::new();
    let mut pending = groups.into_iter();
    loop {
        while tasks.len() < CONCURRENT {
            let Some(g) = pending.next() else { break };
            let shared = shared.clone();
            tasks.spawn(async move { settle_group(g, &shared).await });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        on_done(joined.map_err(|_| {
            crate::error::Error::Internal("a cross-variant comparison panicked".into())
        })?);
    }
    Ok(())
}

async fn settle_group(g: Group, shared: &Shared) -> Settled {
    let bases: Vec<Option<(bool, f64)>> = g
        .rows
        .iter()
        .map(|r| r.as_ref().and_then(base_of))
        .collect();
    let usable: Vec<usize> = (0..g.rows.len()).filter(|&i| bases[i].is_some()).collect();
    let answered = Mutex::new(Vec::new());
    let emit = |a: Answered| answered.lock().expect("not poisoned").push(a);
    let mut verdicts: Vec<Vec<Option<Graded>>> = Vec::new();
    for a in &g.assertions {
        let name = a.kind.as_str();
        let missing = |why: String| -> Vec<Option<Graded>> {
            (0..g.rows.len())
                .map(|i| bases[i].map(|_| Graded::free_error(why.clone())))
                .collect()
        };
        if g.variants.len() < 2 {
            verdicts.push(missing(format!(
                "`{name}` compares the suite's variants, and this run has only variant `{}`: run the whole suite with `llmops eval {}`",
                g.variants.first().map_or("", String::as_str),
                g.suite
            )));
            continue;
        }
        if usable.len() < 2 {
            let broken: Vec<String> = (0..g.rows.len())
                .filter(|i| bases[*i].is_none())
                .map(|i| {
                    let why = g.rows[i]
                        .as_ref()
                        .and_then(|r| r.error.as_deref())
                        .map_or("no result in this run", |e| e.lines().next().unwrap_or(e));
                    format!("`{}` ({why})", g.variants[i])
                })
                .collect();
            verdicts.push(missing(format!(
                "`{name}` needs two or more variants with an output to compare, and {} of {} have none: {}; fix that variant, then run `llmops eval {}` again (answers already given come from the cache)",
                broken.len(),
                g.variants.len(),
                broken.join(", "),
                g.suite
            )));
            continue;
        }
        match (&a.check, a.kind) {
            (_, Kind::SelectBest) => {
                let outputs: Vec<&str> = usable
                    .iter()
                    .map(|&i| {
                        g.rows[i]
                            .as_ref()
                            .and_then(|r| r.output.as_deref())
                            .unwrap_or("")
                    })
                    .collect();
                let graded = shared.judge.select_best(a, &outputs, &g.vars, &emit).await;
                let mut v: Vec<Option<Graded>> = vec![None; g.rows.len()];
                for (&i, gr) in usable.iter().zip(graded) {
                    v[i] = Some(gr);
                }
                verdicts.push(v);
            }
            (Check::MaxScore(opts), _) => {
                let cands: Vec<Candidate> = (0..g.rows.len())
                    .map(|i| bases[i].and_then(|_| g.rows[i].as_ref()).map(candidate))
                    .collect();
                if let Some(i) = cands
                    .iter()
                    .position(|c| c.as_ref().is_some_and(Vec::is_empty))
                {
                    verdicts.push(missing(format!(
                        "`max-score` has nothing to add up for variant `{}`: it needs at least one other assertion (besides `max-score` and `select-best`)",
                        g.variants[i]
                    )));
                    continue;
                }
                verdicts.push(
                    cross::max_score(opts, &cands)
                        .into_iter()
                        .map(|v| v.map(Graded::free_verdict))
                        .collect(),
                );
            }
            _ => verdicts.push(missing(format!("`{name}`: malformed options"))),
        }
    }
    let mut out = Settled::default();
    for (i, row) in g.rows.into_iter().enumerate() {
        let (Some(mut row), Some((mut pass, mut score))) = (row, bases[i]) else {
            continue;
        };
        row.scores.retain(|s| !is_cross(&s.kind));
        let mut error: Option<(String, ErrorKind)> = None;
        for (a, vs) in g.assertions.iter().zip(&verdicts) {
            let Some(gr) = vs[i].as_ref() else { continue };
            row.judge_input_tokens += gr.input_tokens;
            row.judge_output_tokens += gr.output_tokens;
            row.judge_cost_usd += gr.cost_usd;
            out.spent_usd += gr.cost_usd;
            let v: &Verdict = &gr.verdict;
            if v.error {
                if error.is_none() {
                    error = Some((
                        format!("assertion `{}`: {}", a.display_kind(), v.reason),
                        if gr.call_failed {
                            ErrorKind::Judge
                        } else {
                            ErrorKind::Assertion
                        },
                    ));
                }
            } else {
                (pass, score) = cross::apply(pass, score, v);
            }
            row.scores.push(ScoreRow {
                kind: a.display_kind(),
                metric: a.metric.clone(),
                pass: v.pass,
                score: v.score,
                weight: 0.0,
                critical: a.critical,
                error: v.error,
                reason: v.reason.clone(),
                suspect: gr.suspect.clone(),
                panel: gr.panel.clone(),
            });
        }
        match error {
            Some((e, kind)) => {
                row.status = SampleStatus::Error;
                row.score = None;
                row.error = Some(e);
                row.error_kind = Some(kind);
            }
            None => {
                row.status = if pass {
                    SampleStatus::Pass
                } else {
                    SampleStatus::Fail
                };
                row.score = Some(score);
                row.error = None;
                row.error_kind = None;
            }
        }
        out.rows.push(row);
    }
    out.answered = answered.into_inner().expect("not poisoned");
    out
}
