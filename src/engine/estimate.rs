//! What a run would do, without calling anything (`eval --dry-run`): calls, cache hits,
//! offline answers, estimated tokens and cost per suite and variant.

use std::collections::BTreeMap;

use super::{plan, Job, Options, Planned};
use crate::error::Result;
use crate::registry::Registry;
use crate::store::Store;

/// One suite and variant of a dry run.
#[derive(Debug, Default, serde::Serialize)]
pub struct Line {
    /// Suite.
    pub suite: String,
    /// Variant.
    pub variant: String,
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Samples planned.
    pub samples: u64,
    /// Network calls to make.
    pub calls: u64,
    /// Samples answered offline (replay, echo).
    pub offline: u64,
    /// Samples answered from the cache.
    pub cache_hits: u64,
    /// Estimated prompt tokens of the calls.
    pub est_input_tokens: u64,
    /// At most this many completion tokens (`max_tokens`, else 256 a call).
    pub est_output_tokens: u64,
    /// Estimated USD, at most.
    pub est_cost_usd: f64,
    /// Every call's model has a price.
    pub priced: bool,
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
                    l.priced = true;
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
