//! The concurrent runner: plan -> run -> events. It never prints; the progress bar, the
//! store writer and the recorder subscribe to its events.

mod cross;
pub mod driver;
pub mod estimate;
pub mod plan;
mod score;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::judge::Judge;
use crate::provider::{pricing, Answered, Providers, RetryNote};
use crate::registry::Registry;
use crate::store::{ResultRow, Store};

pub use driver::{execute, Executed, Recorder, Reporter, RunSpec};
pub use plan::{CachePolicy, Job, Options, Pairing, Planned, Selection};

/// What the runner tells its subscribers.
#[derive(Debug)]
pub enum Event {
    /// How many samples the run will produce.
    Total(u64),
    /// A call is being retried.
    Retry(RetryNote),
    /// A provider answered (cache it, record it).
    Response(Box<Answered>),
    /// A sample is done.
    Finished(Box<ResultRow>),
    /// A finished sample's verdict changed after the variants of its case were compared
    /// (`select-best`, `max-score`): store it again; it is not a new sample.
    Rescored(Box<ResultRow>),
    /// Something worth a line on stderr.
    Warning(String),
    /// What the driver did (resumed a run), worth a line on stderr.
    Note(String),
}

/// Why a run stopped early.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Stop {
    /// Ctrl-C.
    Interrupted,
    /// `--budget` would have been exceeded.
    Budget {
        /// USD spent.
        spent: f64,
        /// The budget.
        budget: f64,
    },
}

/// Counters for the run summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Samples finished.
    pub samples: u64,
    /// Network provider calls made (not counting retries).
    pub calls: u64,
    /// Samples answered offline by `replay` or `echo`.
    pub offline: u64,
    /// Samples answered from the cache.
    pub cached: u64,
    /// Retries made.
    pub retries: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Seconds spent waiting before retries.
    pub retry_wait_s: f64,
    /// Wall seconds during which some call was held back by a rate limit (a 429's pause, the
    /// provider's announced pace, `rpm`/`tpm`).
    pub limited_s: f64,
    /// The configured ceiling on calls in flight per provider (`concurrency`, `-j`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_max: Option<u64>,
    /// The most calls in flight at once to one provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_peak: Option<u64>,
    /// The smallest the adaptive window got (it halves on a 429).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_low: Option<u64>,
    /// The adaptive window when the run ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_end: Option<u64>,
    /// Samples whose call failed beyond retries.
    pub provider_errors: u64,
    /// Judge calls made.
    pub judge_calls: u64,
    /// Judge answers from the cache.
    pub judge_cached: u64,
    /// Judge answers replayed offline.
    pub judge_offline: u64,
    /// USD spent on calls that were not cached (prompt + judge).
    pub spent_usd: f64,
    /// Wall time of the run in seconds.
    pub wall_s: f64,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Why it stopped early, if it did.
    pub stop: Option<Stop>,
    /// Counters.
    pub stats: Stats,
}

/// Reads an environment variable (API keys); injectable for tests.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the runner needs besides the plan.
pub struct RunEnv<'a> {
    /// The registry.
    pub reg: &'a Registry,
    /// Run id the results belong to.
    pub run_id: i64,
    /// Cases already finished (a resumed run).
    pub done: HashSet<(String, String, String, u32)>,
    /// The store, for cache lookups.
    pub store: Arc<Mutex<Store>>,
    /// Environment lookups for API keys.
    pub env: EnvLookup,
    /// Count the samples first (for a progress bar).
    pub want_total: bool,
    /// The store writer's health: once it has failed, no further call is made.
    pub store_health: Option<crate::store::writer::Health>,
}

struct Shared {
    providers: Arc<Providers>,
    judge: Judge,
    run_id: i64,
    // Shared with every scoring task without a copy per job.
    workdir: Arc<std::path::Path>,
    pricing: Arc<indexmap::IndexMap<String, crate::config::Price>>,
    baseline_outputs: Option<Arc<std::collections::HashMap<String, String>>>,
    pairwise_self: bool,
    redact_pii: bool,
    max_output: u64,
    record: bool,
    /// Checked again just before each call: a task already waiting for its provider must not
    /// pay for a call once the store has failed.
    store_health: Option<crate::store::writer::Health>,
}

enum Msg {
    Job(Box<Job>),
    Fatal(Error),
}

enum Internal {
    Event(Event),
    /// A finished row, its reserved cost, whether it was a call, and whether its case has a
    /// cross-variant assertion (the row is held for the comparison at the end).
    Done(Box<ResultRow>, f64, bool, bool),
}

fn estimate_cost(job: &Job, pricing: &indexmap::IndexMap<String, crate::config::Price>) -> f64 {
    let out = u64::from(job.request.params.max_tokens.unwrap_or(256));
    pricing::cost(&job.request.model, job.est_input_tokens, out, pricing).unwrap_or(0.0)
}

/// Run a plan to completion (or a stop), feeding every event to `sink` on this thread.
pub fn run(
    env: RunEnv<'_>,
    planned: Vec<Planned>,
    opts: &Options,
    sink: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    let reg = env.reg;
    let started = std::time::Instant::now();
    // Counting parses every dataset once more; only a visible progress bar needs it.
    let total = if env.want_total {
        plan::count(reg, &planned, opts)?
    } else {
        0
    };
    if env.want_total {
        sink(Event::Total(total.saturating_sub(env.done.len() as u64)));
    }

    let mut names: Vec<String> = planned
        .iter()
        .flat_map(|p| p.targets.iter().map(|t| t.provider.clone()))
        .collect();
    let judge_provider = reg.settings.judge_provider.clone();
    if let Some(j) = &judge_provider {
        names.push(j.clone());
    }
    names.extend(reg.settings.judge_panel.iter().map(|m| m.provider.clone()));
    let uses_judge = planned.iter().any(|p| {
        crate::assert::cross::any(&p.suite.assertions, &|a| {
            a.kind.is_model_graded()
                || matches!(
                    a.kind,
                    crate::assert::Kind::Similar | crate::assert::Kind::SelectBest
                )
        })
    });
    names.sort();
    names.dedup();
    let env_lookup = env.env.clone();
    let providers = Arc::new(Providers::build(&reg.settings, &reg.root, &names, &|k| {
        env_lookup(k)
    })?);
    let judge = Judge::new(&reg.settings, providers.clone(), env.store.clone())
        .with_cache(opts.cache.reads());
    if uses_judge {
        for p in &planned {
            for t in &p.targets {
                if judge.model() == Some(t.model.as_str()) {
                    sink(Event::Warning(format!(
                        "the judge model `{}` is the model under test in suite `{}`: a model grading itself is biased; set a different `judge.model`",
                        t.model, p.suite.name
                    )));
                }
            }
        }
    }
    let shared = Arc::new(Shared {
        providers: providers.clone(),
        judge,
        run_id: env.run_id,
        workdir: Arc::from(reg.root.as_path()),
        pricing: Arc::new(reg.settings.pricing.clone()),
        baseline_outputs: opts.pairing.baseline_outputs.clone(),
        pairwise_self: opts.pairing.pairwise_self,
        redact_pii: reg.settings.redact_pii,
        max_output: reg.settings.limit_output_bytes,
        record: opts.record,
        store_health: env.store_health.clone(),
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;

    // The planner renders and looks up the cache on its own thread, streaming jobs through a
    // bounded channel: memory stays flat however large the dataset.
    let window = names
        .iter()
        .filter_map(|n| providers.get(n))
        .map(|p| p.concurrency)
        .sum::<usize>()
        * 2
        + 64;
    let (job_tx, mut job_rx) = mpsc::channel::<Msg>(window);
    let stop_planning = Arc::new(AtomicBool::new(false));
    let store = env.store.clone();
    let stop = stop_planning.clone();
    let resumed = !env.done.is_empty();
    let done = env.done;
    let store_health = env.store_health.clone();
    let store_failed = move || {
        store_health.as_ref().and_then(|h| h.failure()).map(|why| {
            Error::usage_help(
                format!("{why}; the run stopped before making further provider calls and is marked failed"),
                "free disk space (or fix the store), then `llmops eval --resume` continues the run where it stopped",
            )
        })
    };
    let plan_opts = opts.clone();
    let plan_opts2 = opts.clone();
    let planned_ref = &planned;
    let store_cross = env.store.clone();
    let mut held: std::collections::HashMap<cross::Key, ResultRow> =
        std::collections::HashMap::new();
    let budget = opts.budget;
    let mut stats = Stats::default();
    let result: Result<Option<Stop>> = std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut lookup = |fp: &str| store.lock().expect("not poisoned").cached(fp);
            let mut emit = |job: Job| {
                !stop.load(Ordering::Relaxed)
                    && job_tx.blocking_send(Msg::Job(Box::new(job))).is_ok()
            };
            if let Err(e) = plan::plan(reg, planned_ref, &plan_opts, &done, &mut lookup, &mut emit)
            {
                let _ = job_tx.blocking_send(Msg::Fatal(e));
            }
        });
        runtime.block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel::<Internal>();
            let slots = Arc::new(tokio::sync::Semaphore::new(window));
            let mut tasks = tokio::task::JoinSet::new();
            let ctrl_c = tokio::signal::ctrl_c();
            tokio::pin!(ctrl_c);
            let mut planning = true;
            let mut in_flight = 0usize;
            let mut reserved = 0.0f64;
            let mut stop: Option<Stop> = None;
            let mut fatal: Option<Error> = None;
            let mut checked_keys: HashSet<String> = HashSet::new();
            loop {
                if !planning && in_flight == 0 {
                    break;
                }
                tokio::select! {
                    biased;
                    _ = &mut ctrl_c => {
                        stop = Some(Stop::Interrupted);
                        break;
                    }
                    Some(msg) = rx.recv() => match msg {
                        Internal::Event(e) => sink(e),
                        Internal::Done(row, est, was_call, compared) => {
                            in_flight -= 1;
                            if fatal.is_none() {
                                if let Some(e) = store_failed() {
                                    fatal = Some(e);
                                    sink(Event::Finished(row));
                                    break;
                                }
                            }
                            let live = shared.providers.get(&row.provider).is_some_and(|p| p.cacheable());
                            if was_call {
                                reserved -= est;
                                if live {
                                    stats.calls += 1;
                                } else {
                                    stats.offline += 1;
                                }
                            } else {
                                stats.cached += 1;
                            }
                            stats.samples += 1;
                            stats.retries += u64::from(row.retries);
                            if row.error_kind == Some(crate::store::ErrorKind::Provider) {
                                stats.provider_errors += 1;
                            }
                            if !row.cached && live {
                                stats.spent_usd += row.cost_usd.unwrap_or(0.0);
                            }
                            stats.spent_usd += row.judge_cost_usd;
                            if compared {
                                held.insert(
                                    (row.suite.clone(), row.variant.clone(), row.case_id.clone(), row.sample),
                                    (*row).clone(),
                                );
                            }
                            sink(Event::Finished(row));
                        }
                    },
                    Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                        // A panic is a bug, never a hang: a task that panicked sends no
                        // `Done`, so the run would wait for it forever.
                        if let Err(e) = joined {
                            if e.is_panic() {
                                fatal = Some(Error::usage_help(
                                    "internal error: a call or its scoring panicked; the run stopped",
                                    "this is a bug in llmops; finished samples are kept and `--resume` continues",
                                ));
                                break;
                            }
                        }
                    }
                    permit = slots.clone().acquire_owned(), if planning && stop.is_none() => {
                        let permit = permit.expect("never closed");
                        match job_rx.recv().await {
                            None => planning = false,
                            Some(Msg::Fatal(e)) => {
                                fatal = Some(e);
                                break;
                            }
                            Some(Msg::Job(job)) => {
                                if let Some(e) = store_failed() {
                                    fatal = Some(e);
                                    break;
                                }
                                let mut est = 0.0;
                                let is_call = job.cached.is_none();
                                if is_call {
                                    let p = shared.providers.get(&job.provider).expect("built");
                                    if checked_keys.insert(job.provider.clone()) {
                                        if let Some(e) = shared.providers.missing_key(&p.name) {
                                            fatal = Some(e);
                                            break;
                                        }
                                    }
                                    est = estimate_cost(&job, &shared.pricing);
                                    if let Some(b) = budget {
                                        if stats.spent_usd + reserved + est > b {
                                            stop = Some(Stop::Budget { spent: stats.spent_usd, budget: b });
                                            planning = false;
                                            stop_planning.store(true, Ordering::Relaxed);
                                            job_rx.close();
                                            continue;
                                        }
                                    }
                                    reserved += est;
                                }
                                in_flight += 1;
                                let shared = shared.clone();
                                let tx = tx.clone();
                                let compared = job.case.assertions.iter().any(|a| a.kind.is_cross_variant());
                                tasks.spawn(async move {
                                    let row = run_job(*job, &shared, &tx).await;
                                    let _ = tx.send(Internal::Done(Box::new(row), est, is_call, compared));
                                    drop(permit);
                                });
                            }
                        }
                    }
                }
            }
            if stop.is_none() && fatal.is_none() && (resumed || !held.is_empty()) {
                // Every variant of every case is scored: compare them.
                let held = std::mem::take(&mut held);
                let mut spent = 0.0;
                let mut on_done = |settled: cross::Settled| {
                    for a in settled.answered {
                        sink(Event::Response(Box::new(a)));
                    }
                    for r in settled.rows {
                        sink(Event::Rescored(Box::new(r)));
                    }
                    spent += settled.spent_usd;
                };
                let settling = cross::settle(reg, planned_ref, &plan_opts2, &shared, &store_cross, resumed, held, &mut on_done);
                tokio::select! {
                    biased;
                    _ = &mut ctrl_c => stop = Some(Stop::Interrupted),
                    done = settling => if let Err(e) = done {
                        fatal = Some(e);
                    },
                }
                stats.spent_usd += spent;
            }
            if stop == Some(Stop::Interrupted) || fatal.is_some() {
                // Keep what finished; drop what is still waiting on the network.
                stop_planning.store(true, Ordering::Relaxed);
                job_rx.close();
                tasks.abort_all();
                while let Ok(msg) = rx.try_recv() {
                    match msg {
                        Internal::Event(e) => sink(e),
                        Internal::Done(row, _, _, _) => sink(Event::Finished(row)),
                    }
                }
            }
            // Let the planner thread see the closed channel and end.
            drop(job_rx);
            match fatal {
                Some(e) => Err(e),
                None => Ok(stop),
            }
        })
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    let stop = result?;
    let p = shared.providers.stats();
    stats.rate_limited = p.rate_limited;
    stats.retry_wait_s = p.retry_wait_s;
    stats.limited_s = p.limited_s;
    if let Some(w) = p.window {
        stats.concurrency_max = Some(w.max as u64);
        stats.concurrency_peak = Some(w.peak as u64);
        stats.concurrency_low = Some(w.low as u64);
        stats.concurrency_end = Some(w.end as u64);
    }
    stats.judge_calls = shared.judge.calls();
    stats.judge_cached = shared.judge.cached();
    stats.judge_offline = shared.judge.offline();
    stats.wall_s = started.elapsed().as_secs_f64();
    Ok(Outcome { stop, stats })
}

async fn run_job(job: Job, shared: &Shared, tx: &mpsc::UnboundedSender<Internal>) -> ResultRow {
    let (result, latency_ms, retries, provider, cached) = match &job.cached {
        Some((resp, latency)) => {
            // Already cached (nothing to write), but a recorder still wants it. Only then: a
            // fully cached run should not clone every request for nobody.
            if shared.record {
                let _ = tx.send(Internal::Event(Event::Response(Box::new(Answered {
                    fingerprint: job.fingerprint.clone(),
                    provider: job.provider.clone(),
                    cacheable: false,
                    prompt: job.prompt.to_string(),
                    request: job.request.clone(),
                    response: resp.clone(),
                    latency_ms: *latency,
                }))));
            }
            (Ok(resp.clone()), *latency, 0, job.provider.clone(), true)
        }
        None => {
            let on_retry = |note: RetryNote| {
                let _ = tx.send(Internal::Event(Event::Retry(note)));
            };
            let store_failed = shared.store_health.as_ref().and_then(|h| h.failure());
            let outcome = match store_failed {
                Some(_) => crate::provider::CallOutcome {
                    result: Err(crate::provider::CallError::NotSent(
                        "the store cannot be written; the run is stopping".into(),
                    )),
                    provider: job.provider.clone(),
                    latency_ms: 0.0,
                    retries: 0,
                    retry_wait: Duration::ZERO,
                    rate_limited: 0,
                },
                None => {
                    shared
                        .providers
                        .call(&job.provider, &job.request, &on_retry)
                        .await
                }
            };
            if let Ok(resp) = &outcome.result {
                let cacheable = shared
                    .providers
                    .get(&outcome.provider)
                    .is_some_and(|p| p.cacheable());
                let _ = tx.send(Internal::Event(Event::Response(Box::new(Answered {
                    fingerprint: job.fingerprint.clone(),
                    provider: outcome.provider.clone(),
                    cacheable,
                    prompt: job.prompt.to_string(),
                    request: job.request.clone(),
                    response: resp.clone(),
                    latency_ms: outcome.latency_ms,
                }))));
            }
            (
                outcome.result,
                outcome.latency_ms,
                outcome.retries,
                outcome.provider,
                false,
            )
        }
    };
    let key = plan::sample_key(&job.suite, &job.variant, &job.case.id, job.sample);
    let baseline = shared
        .baseline_outputs
        .as_ref()
        .and_then(|m| m.get(&key))
        .map(String::as_str);
    let judged = match &result {
        Ok(resp) => {
            shared
                .judge
                .grade_all(
                    &job.judge_input(),
                    &resp.text,
                    baseline,
                    shared.pairwise_self,
                    |a| {
                        let _ = tx.send(Internal::Event(Event::Response(Box::new(a))));
                    },
                )
                .await
        }
        Err(_) => Vec::new(),
    };
    let input = score::Input {
        job,
        result,
        latency_ms,
        retries,
        provider,
        cached,
        judged,
    };
    let run_id = shared.run_id;
    let workdir = shared.workdir.clone();
    let pricing = shared.pricing.clone();
    let redact = shared.redact_pii;
    let max_output = shared.max_output;
    // A short answer checked by string tests costs microseconds: score it here, and spare two
    // thread hand-offs per call (and a pool thread spinning for the next job).
    if cheap_to_score(&input) {
        return score::row(run_id, input, &workdir, &pricing, redact, max_output);
    }
    // Scoring (JSON schema, exec, regexes) is CPU work: keep it off the async workers.
    let (otx, orx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = otx.send(score::row(
            run_id, input, &workdir, &pricing, redact, max_output,
        ));
    });
    orx.await.expect("the scorer always answers")
}

/// Outputs up to this size, checked only by string tests, are scored on the async worker.
const CHEAP_OUTPUT_BYTES: usize = 4096;

/// Whether scoring `input` is a few microseconds of work: a short answer (or an error) whose
/// assertions are all linear string tests. JSON schemas, edit distances, XML, exec programs and
/// the rest go to the scoring pool.
fn cheap_to_score(input: &score::Input) -> bool {
    let short = match &input.result {
        Ok(r) => r.text.len() <= CHEAP_OUTPUT_BYTES,
        Err(_) => true,
    };
    short && input.job.case.assertions.iter().all(|a| a.kind.is_cheap())
}
