//! What a run would do, without calling anything (`eval --dry-run`): calls, cache hits,
//! offline answers, estimated tokens and cost per suite and variant.

use std::collections::BTreeMap;

use super::{plan, Job, Options, Planned};
use crate::error::Result;
use crate::registry::Registry;
use crate::report::EstimateLine as Line;
use crate::store::Store;

/// Add the judge calls a fresh answer to `job` would need: one per model-graded assertion
/// and judge (a panel asks each of its judges), priced by the judge's model, with the judge
/// request's prompt estimated from its text and the answer's `max_tokens`, and the verdict at
/// its `max_tokens`. A cached answer's verdicts are cached with it and are not counted; a
/// `pairwise` assertion has no other side in `eval` and costs no call.
fn judge_estimate(reg: &Registry, job: &Job, l: &mut Line) {
    let s = &reg.settings;
    let judges: Vec<(Option<String>, Option<String>)> = if s.judge_panel.is_empty() {
        vec![(s.judge_provider.clone(), s.judge_model.clone())]
    } else {
        s.judge_panel
            .iter()
            .map(|m| (Some(m.provider.clone()), Some(m.model.clone())))
            .collect()
    };
    let question = job
        .request
        .messages
        .last()
        .map_or("", |m| m.content.as_str());
    let answer = u64::from(job.request.params.max_tokens.unwrap_or(256));
    for a in &job.case.assertions {
        if !a.kind.is_model_graded() || a.kind == crate::assert::Kind::Pairwise {
            continue;
        }
        let input = crate::judge::estimate_input_tokens(a, question, &job.case.vars, answer);
        for (provider, model) in &judges {
            let provider = a.provider.as_ref().or(provider.as_ref());
            if provider.is_some_and(|p| s.provider_is_offline(p)) {
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
}

/// Plan `planned` and count, per suite and variant, what running it would take.
pub fn estimate(
    reg: &Registry,
    planned: &[Planned],
    opts: &Options,
    store: &Store,
) -> Result<Vec<Line>> {
    let mut lines: BTreeMap<(String, String), Line> = BTreeMap::new();
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
            judge_estimate(reg, &job, l);
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
