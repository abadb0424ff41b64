//! Eval evidence for the lifecycle commands, from the store `llmops eval` writes: `release`
//! records it with the version, and `diff` shows deltas between two sides.

use std::path::Path;

use crate::error::Result;
use crate::registry::EvalSummary;
use crate::store::Store;
use crate::template::Prompt;

/// The store, opened once per command (a `diff` of every prompt asks once per side of each).
pub struct Evidence {
    store: Option<Store>,
}

impl Evidence {
    /// Open the store at `path`, if `llmops eval` has made one; never creates it.
    pub fn open(path: &Path) -> Result<Evidence> {
        Ok(Evidence {
            store: if path.exists() {
                Some(Store::open(path)?)
            } else {
                None
            },
        })
    }

    /// See [`eval_summary_for`].
    pub fn summary_for(&self, prompt: &Prompt, content_hash: &str) -> Result<Option<EvalSummary>> {
        match &self.store {
            Some(store) => summary(store, prompt, content_hash),
            None => Ok(None),
        }
    }
}

/// The newest finished run that evaluated `prompt` at exactly `content_hash`, summarised over
/// every suite that evaluates it: score, pass rate, cases, cost, median latency and the run.
/// `None` when the store has no such run.
fn summary(store: &Store, prompt: &Prompt, content_hash: &str) -> Result<Option<EvalSummary>> {
    let Some(run_id) = store.latest_run_for_prompt(&prompt.name, content_hash)? else {
        return Ok(None);
    };
    let Some(run) = store.run(Some(run_id))? else {
        return Ok(None);
    };
    // Only this prompt's rows: the run may hold thousands of other cases.
    let mut rows = store.results(run_id)?;
    rows.retain(|r| r.prompt == prompt.name && r.prompt_hash == content_hash);
    let report = super::build(run, &rows);
    let groups: Vec<_> = report
        .groups
        .iter()
        .filter(|g| g.prompt == prompt.name && g.prompt_hash == content_hash)
        .collect();
    let scored: u32 = groups.iter().map(|g| g.cases - g.errored).sum();
    if groups.is_empty() || scored == 0 {
        return Ok(None);
    }
    let weight = |g: &&super::Group| f64::from(g.cases - g.errored);
    let mean = |f: &dyn Fn(&super::Group) -> Option<f64>| {
        groups
            .iter()
            .filter_map(|g| f(g).map(|v| v * weight(g)))
            .sum::<f64>()
            / f64::from(scored)
    };
    let mut latencies: Vec<f64> = rows
        .iter()
        .filter(|r| r.prompt == prompt.name && r.prompt_hash == content_hash)
        .filter_map(|r| r.latency_ms)
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(Some(EvalSummary {
        score: mean(&|g| g.score),
        pass_rate: mean(&|g| g.pass_rate),
        n: u64::from(groups.iter().map(|g| g.cases).sum::<u32>()),
        cost_usd: Some(groups.iter().map(|g| g.cost_usd).sum()),
        latency_p50_ms: super::quantile(&latencies, 0.5),
        run_id: Some(run_id.to_string()),
    }))
}
