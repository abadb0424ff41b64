//! What a run would do, without calling anything (`eval --dry-run`): calls, cache hits,
//! offline answers, estimated tokens and cost per suite and variant.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::{plan, Job, Options, Planned};
use crate::assert::{Assertion, Check, Kind};
use crate::error::Result;
use crate::registry::Registry;
use crate::report::EstimateLine as Line;
use crate::store::Store;

/// Add the judge calls a fresh answer to `job` would need: one per model-graded assertion
/// and judge (a panel asks each of its judges), priced by the judge's model, with the judge
/// request's prompt estimated from its text and the answer's `max_tokens`, and the verdict at
/// its `max_tokens`. A cached answer's verdicts are cached with it and are not counted; a
/// `pairwise` assertion has no other side in `eval` and costs no call. `assert-set` items count
/// as their own assertions. A `select-best` asks each judge twice (both orders) once per case
/// and sample, with every variant's answer in the request: it is counted on the first of the
/// case's jobs seen (`compared` remembers them), `variants` answers long.
fn judge_estimate(
    reg: &Registry,
    job: &Job,
    variants: u64,
    compared: &mut HashSet<(Arc<str>, String, u32)>,
    l: &mut Line,
) {
    let s = &reg.settings;
    let question = job
        .request
        .messages
        .last()
        .map_or("", |m| m.content.as_str());
    let answer = u64::from(job.request.params.max_tokens.unwrap_or(256));
    let mut graded: Vec<(&Assertion, u64, u64)> = Vec::new();
    for a in &job.case.assertions {
        let items: &[Assertion] = match &a.check {
            Check::Set(items) => items,
            _ => std::slice::from_ref(a),
        };
        for a in items {
            if a.kind == Kind::SelectBest {
                let key = (job.suite.clone(), job.case.id.clone(), job.sample);
                if compared.insert(key) {
                    graded.push((a, 2, answer * variants.max(1)));
                }
            } else if a.kind.is_model_graded() && a.kind != Kind::Pairwise {
                graded.push((a, 1, answer));
            }
        }
    }
    for (a, asks, answer) in graded {
        let judges = crate::judge::judges_for(
            a,
            &s.judge_panel,
            s.judge_provider.as_ref(),
            s.judge_model.as_ref(),
        );
        let input = crate::judge::estimate_input_tokens(a, question, &job.case.vars, answer);
        for _ in 0..asks {
            judge_calls(s, &judges, input, l);
        }
    }
}

/// Count one judge request to each of `judges`, priced at `input` tokens in.
fn judge_calls(
    s: &crate::config::Settings,
    judges: &[(Option<String>, Option<String>)],
    input: u64,
    l: &mut Line,
) {
    for (provider, model) in judges {
        if provider
            .as_deref()
            .is_some_and(|p| s.provider_is_offline(p))
        {
            l.judge_offline += 1;
            continue;
        }
        l.judge_calls += 1;
        let out = crate::judge::MAX_VERDICT_TOKENS;
        match model
            .as_deref()
            .and_then(|m| crate::provider::pricing::cost(m, input, out, &s.pricing))
        {
            Some(c) => {
                l.est_judge_cost_usd += c;
                l.judge_priced = l.judge_calls == 1 || l.judge_priced;
            }
            None => l.judge_priced = false,
        }
    }
}

/// Plan `planned` and count, per suite and variant, what running it would take.
pub fn estimate(
    reg: &Registry,
    planned: &[Planned],
    opts: &Options,
    store: &Store,
) -> Result<Vec<Line>> {
    let mut lines: BTreeMap<(String, String), Line> = BTreeMap::new();
    let variants: BTreeMap<&str, u64> = planned
        .iter()
        .map(|p| (p.suite.name.as_str(), p.suite.variants.len() as u64))
        .collect();
    let mut compared = HashSet::new();
    let mut lookup = |fp: &str| store.cached(fp);
    let mut emit = |job: Job| {
        let l = lines
            .entry((job.suite.to_string(), job.variant.to_string()))
            .or_default();
        l.suite = job.suite.to_string();
        l.variant = job.variant.to_string();
        l.provider = job.provider.clone();
        l.model = job.request.model.clone();
        l.samples += 1;
        let offline = reg.settings.provider_is_offline(&job.provider);
        if job.cached.is_none() {
            let n = variants.get(&*job.suite).copied().unwrap_or(1);
            judge_estimate(reg, &job, n, &mut compared, l);
        }
        if job.cached.is_some() {
            l.cache_hits += 1;
        } else if offline {
            l.offline += 1;
        } else {
            l.calls += 1;
            let out = u64::from(job.request.params.max_tokens.unwrap_or(256));
            l.est_input_tokens += job.est_input_tokens;
            l.est_output_tokens += out;
            match crate::provider::pricing::cost(
                &job.request.model,
                job.est_input_tokens,
                out,
                &reg.settings.pricing,
            ) {
                Some(c) => {
                    l.est_cost_usd += c;
                    l.priced = l.calls == 1 || l.priced;
                }
                None => l.priced = false,
            }
        }
        true
    };
    plan::plan(
        reg,
        planned,
        opts,
        &Default::default(),
        &mut lookup,
        &mut emit,
    )?;
    Ok(lines.into_values().collect())
}
