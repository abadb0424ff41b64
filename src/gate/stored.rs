//! A stored run as the gate's baseline (`--baseline run:ID`, `--baseline recorded`): the live
//! re-check of a release. The candidate is run fresh against the provider and compared case
//! by case with answers the store kept from an earlier run, so a provider that changes the
//! model behind the same name shows up as a regression with nothing changed in git.
//!
//! What a stored run proves, and what it does not: a run id is only a pointer into the local
//! store (trusted data, as the cache is). Nothing about what it evaluated is taken on trust:
//! every compared sample must have been produced by the very request the candidate sends
//! now (same provider name, model, parameters and rendered messages: the request
//! fingerprint), for the same prompt content and the same suite file and dataset, and, when
//! it has model-graded assertions, graded by the same judge. A run that fails any of these is
//! refused, never compared.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::engine::{plan, Options, Planned};
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::store::{ResultRow, RunStatus, Store};

/// What `--baseline` named, when it names a stored run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// `run:ID`.
    Run(i64),
    /// `recorded`: for each prompt, the run recorded in the lock for the candidate's version.
    Recorded,
}

/// The word that means [`Stored::Recorded`].
pub const RECORDED: &str = "recorded";

/// `run:ID` or `recorded`; `None` for any other reference. A malformed `run:` id is an error.
pub fn parse(text: &str) -> Result<Option<Stored>> {
    if text == RECORDED {
        return Ok(Some(Stored::Recorded));
    }
    let Some(id) = text.strip_prefix("run:") else {
        return Ok(None);
    };
    match id.parse::<i64>() {
        Ok(n) if n > 0 => Ok(Some(Stored::Run(n))),
        _ => Err(Error::usage_help(
            format!("`--baseline {text}`: a run id is a positive number"),
            "`llmops runs` lists the stored runs with their ids; write e.g. `--baseline run:12`",
        )),
    }
}

/// One planned sample's identity.
struct Planned1 {
    fingerprint: String,
    prompt: String,
    prompt_hash: String,
    suite_hash: String,
    model: String,
}

type Key = (String, String, String, u32);

/// A (suite, variant) the stored run does not hold, with the run's id.
pub type NotInRun = (String, String, i64);

/// Every sample the candidate plan would run, by (suite, variant, case, sample), computed
/// without calling anything.
fn planned_samples(
    reg: &Registry,
    planned: &[Planned],
    opts: &Options,
) -> Result<BTreeMap<Key, Planned1>> {
    let mut out = BTreeMap::new();
    let mut lookup = |_: &str| Ok(None);
    let mut emit = |job: plan::Job| {
        out.insert(
            (
                job.suite.to_string(),
                job.variant.to_string(),
                job.case.id.clone(),
                job.sample,
            ),
            Planned1 {
                fingerprint: job.fingerprint.clone(),
                prompt: job.prompt.to_string(),
                prompt_hash: job.prompt_hash.to_string(),
                suite_hash: job.suite_hash.to_string(),
                model: job.request.model.clone(),
            },
        );
        true
    };
    plan::plan(reg, planned, opts, &HashSet::new(), &mut lookup, &mut emit)?;
    Ok(out)
}

/// `openai/gpt-4o`, or the panel's judges, for an error message.
fn judge_name(j: &serde_json::Value) -> String {
    let panel: Vec<String> = j["panel"]
        .as_array()
        .map(|p| {
            p.iter()
                .map(|m| {
                    format!(
                        "{}/{}",
                        m[0].as_str().unwrap_or("?"),
                        m[1].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if !panel.is_empty() {
        return format!("panel {}", panel.join(", "));
    }
    format!(
        "`{}/{}`",
        j["provider"].as_str().unwrap_or("none"),
        j["model"].as_str().unwrap_or("none")
    )
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// The fix named by every refusal.
const FIX: &str = "compare with the run recorded for the candidate's own version (`--baseline recorded`, with `--candidate production` for a nightly re-check), pick a run of exactly this prompt, suite and model (`llmops runs` lists them), or re-run a baseline from git (`--baseline REF`)";

/// A stored run's rows that the candidate can be compared with, after checking they were
/// produced by the same requests for the same prompt content and suite. `runs` maps each
/// planned (suite, variant) to the run that is its baseline; a (suite, variant) with no rows
/// in its run is returned in the second list (not gated).
pub fn baseline_rows(
    reg: &Registry,
    planned: &[Planned],
    opts: &Options,
    store: &Store,
    runs: &BTreeMap<(String, String), i64>,
) -> Result<(Vec<ResultRow>, Vec<NotInRun>)> {
    let samples = planned_samples(reg, planned, opts)?;
    let mut loaded: BTreeMap<i64, Vec<ResultRow>> = BTreeMap::new();
    for id in runs.values().copied().collect::<BTreeSet<_>>() {
        let Some(run) = store.run(Some(id))? else {
            return Err(Error::usage_help(
                format!("no run {id} in the store `{}`", store.path().display()),
                "`llmops runs` lists the runs it holds; in CI, restore the cache that holds the release's run, or use `--baseline REF` to re-run a baseline from git",
            ));
        };
        if run.status != RunStatus::Finished {
            return Err(Error::usage_help(
                format!(
                    "run {id} did not finish (it is {}), so it is no complete baseline",
                    run.status.as_str()
                ),
                "pick a finished run (`llmops runs`), or finish it with `llmops eval --resume`",
            ));
        }
        let rows = store.results(id)?;
        let graded = rows
            .iter()
            .flat_map(|r| &r.scores)
            .any(|s| crate::assert::parse_kind(&s.kind).is_ok_and(|(k, _)| k.is_model_graded()));
        let today = crate::engine::driver::judge_identity(&reg.settings);
        match run.settings.get("judge") {
            Some(then) if graded && then != &today => {
                return Err(Error::usage_help(
                    format!(
                        "run {id} was graded by another judge ({} then, {} now): its model-graded scores are not comparable",
                        judge_name(then),
                        judge_name(&today)
                    ),
                    FIX,
                ));
            }
            None if graded => {
                return Err(Error::usage_help(
                    format!(
                        "run {id} does not record which judge graded it (it predates this check)"
                    ),
                    FIX,
                ));
            }
            _ => {}
        }
        loaded.insert(id, rows);
    }
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for ((suite, variant), id) in runs {
        let rows: Vec<&ResultRow> = loaded[id]
            .iter()
            .filter(|r| &r.suite == suite && &r.variant == variant)
            .collect();
        if rows.is_empty() {
            missing.push((suite.clone(), variant.clone(), *id));
            continue;
        }
        let mine: Vec<(&Key, &Planned1)> = samples
            .iter()
            .filter(|(k, _)| &k.0 == suite && &k.1 == variant)
            .collect();
        let Some((_, want)) = mine.first() else {
            continue;
        };
        let what = if suite == variant {
            format!("`{suite}`")
        } else {
            format!("`{suite}` / `{variant}`")
        };
        if let Some(r) = rows.iter().find(|r| r.prompt_hash != want.prompt_hash) {
            return Err(Error::usage_help(
                format!(
                    "run {id} evaluated {what} with prompt `{}` at content {}, but the candidate's `{}` is content {}: a stored run is compared only with the same prompt version",
                    r.prompt,
                    short(&r.prompt_hash),
                    want.prompt,
                    short(&want.prompt_hash)
                ),
                FIX,
            ));
        }
        if let Some(r) = rows.iter().find(|r| r.suite_hash != want.suite_hash) {
            return Err(Error::usage_help(
                format!(
                    "run {id} ran {what} with a different suite file or dataset (suite {} then, {} now): its cases and assertions are not today's",
                    short(&r.suite_hash),
                    short(&want.suite_hash)
                ),
                FIX,
            ));
        }
        let stored: BTreeMap<(&str, u32), &ResultRow> = rows
            .iter()
            .map(|r| ((r.case_id.as_str(), r.sample), *r))
            .collect();
        let stored_cases: BTreeSet<&str> = rows.iter().map(|r| r.case_id.as_str()).collect();
        let mut differ = Vec::new();
        for (k, p) in &mine {
            match stored.get(&(k.2.as_str(), k.3)) {
                Some(r) if r.fingerprint != p.fingerprint => differ.push((k, p, *r)),
                Some(_) => {}
                None if stored_cases.contains(k.2.as_str()) => {
                    let have = rows.iter().filter(|r| r.case_id == k.2).count();
                    return Err(Error::usage_help(
                        format!(
                            "run {id} has {have} sample(s) of case `{}` in {what}, the candidate plans sample {}: the repeat counts differ",
                            k.2,
                            k.3 + 1
                        ),
                        format!("pass `--repeat {have}` to sample as that run did; {FIX}"),
                    ));
                }
                None => {}
            }
        }
        if let Some((k, p, r)) = differ.first() {
            let model = if r.model != p.model {
                format!(" (model `{}` then, `{}` now)", r.model, p.model)
            } else {
                String::new()
            };
            return Err(Error::usage_help(
                format!(
                    "run {id} sent different requests for {} sample(s) of {what}, first case `{}`{model}: the provider, model, parameters or rendered messages differ, so its answers say nothing about today's",
                    differ.len(),
                    k.2
                ),
                FIX,
            ));
        }
        // Only samples the candidate plans (a stored run of more repeats or the whole suite
        // under `--shard` keeps to the slice compared).
        out.extend(
            rows.into_iter()
                .filter(|r| {
                    samples.contains_key(&(
                        suite.clone(),
                        variant.clone(),
                        r.case_id.clone(),
                        r.sample,
                    )) || !samples
                        .keys()
                        .any(|k| &k.0 == suite && &k.1 == variant && k.2 == r.case_id)
                })
                .cloned(),
        );
    }
    Ok((out, missing))
}
