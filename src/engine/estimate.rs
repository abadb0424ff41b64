//! What a run would do, without calling anything (`eval --dry-run`): calls, cache hits,
//! offline answers, estimated tokens and cost per suite and variant.

use std::collections::BTreeMap;

use super::{plan, Job, Options, Planned};
use crate::error::Result;
use crate::registry::Registry;
use crate::report::EstimateLine as Line;
use crate::store::Store;

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
