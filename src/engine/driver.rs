//! The run driver: one run row, the runner, and its subscribers. `eval`, `gate` and `diff --eval`
//! all drive runs through [`execute`]; the CLI only chooses the reporters (progress bar,
//! recorder) and renders what comes back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{plan, Event, Options, Planned, Stats, Stop};
use crate::error::{Error, Result};
use crate::provider::replay::{self, Recording};
use crate::registry::Registry;
use crate::report::SuitePolicy;
use crate::store::{writer::Op, RunStatus, Store, Writer};

/// A subscriber to a run's events (nextest's runner -> events -> reporters). Reporters see
/// each event by reference, in order, on the driver's thread; the store writer, which keeps
/// results, receives it last and by value.
pub trait Reporter {
    /// One event.
    fn event(&mut self, event: &Event);
    /// Whether this reporter shows a total (counting costs one more pass over the datasets).
    fn wants_total(&self) -> bool {
        false
    }
    /// The run ended; called once after the last event.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What to record with a run, besides its plan.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The command line, stored with the run.
    pub command: String,
    /// Settings stored with the run (suite policies are added).
    pub settings: serde_json::Value,
    /// Continue the newest unfinished run of the same selection.
    pub resume: bool,
}

/// How an execution ended.
pub struct Executed {
    /// The run.
    pub run_id: i64,
    /// Its final status.
    pub status: RunStatus,
    /// Why it stopped early, if it did.
    pub stop: Option<Stop>,
    /// The error that ended it, when its status is `failed`.
    pub fatal: Option<Error>,
    /// Counters.
    pub stats: Stats,
    /// A resumed run, and the samples it had already finished.
    pub resumed: Option<u64>,
    /// The store, writer flushed.
    pub store: Store,
}

impl Executed {
    /// The run as a command's result: `Err` when it failed or was interrupted; `Ok` with the
    /// store otherwise (a budget stop included: the caller decides what it means).
    pub fn into_result(self) -> Result<Executed> {
        match (&self.status, self.fatal) {
            (RunStatus::Interrupted, _) => Err(Error::Interrupted),
            (RunStatus::Failed, Some(e)) => Err(e),
            (RunStatus::Failed, None) => {
                Err(Error::Internal("a run failed without an error".into()))
            }
            (_, _) => Ok(Executed {
                fatal: None,
                ..self
            }),
        }
    }
}

/// Which judge grades a run's model-graded assertions, as stored with the run: a stored run
/// is a gate baseline only when today's judge is the same (`gate::stored`).
pub fn judge_identity(s: &crate::config::Settings) -> serde_json::Value {
    serde_json::json!({
        "provider": s.judge_provider,
        "model": s.judge_model,
        "panel": s.judge_panel.iter().map(|m| [&m.provider, &m.model]).collect::<Vec<_>>(),
    })
}

/// Run a plan into the store: one run row (new, or a resumed one), the runner, the store
/// writer, and `reporters`.
pub fn execute(
    reg: &Registry,
    planned: Vec<Planned>,
    opts: &Options,
    store: Store,
    spec: &RunSpec,
    reporters: &mut [&mut dyn Reporter],
) -> Result<Executed> {
    let policies: BTreeMap<String, SuitePolicy> = planned
        .iter()
        .map(|p| {
            (
                p.suite.name.clone(),
                SuitePolicy {
                    thresholds: p.suite.thresholds.clone(),
                    min_pass: p.suite.min_pass,
                    repeat: p.repeat,
                    on_suspect: p.suite.on_suspect,
                },
            )
        })
        .collect();
    let plan_key = plan::plan_key(&planned, opts);
    let mut settings = spec.settings.clone();
    settings["suites"] = serde_json::to_value(&policies).expect("serialisable");
    settings["judge"] = judge_identity(&reg.settings);
    let resumed = if spec.resume {
        store.resumable(&plan_key)?
    } else {
        None
    };
    let tell = |reporters: &mut [&mut dyn Reporter], e: Event| {
        for r in reporters.iter_mut() {
            r.event(&e);
        }
    };
    let run_id = match resumed {
        Some(id) => {
            store.reopen_run(id)?;
            tell(reporters, Event::Note(format!("resuming run {id}")));
            id
        }
        None => {
            if spec.resume {
                tell(
                    reporters,
                    Event::Note("nothing to resume for this selection: starting a new run".into()),
                );
            }
            store.begin_run(
                &spec.command,
                &settings,
                &plan_key,
                crate::registry::head_state(&reg.root),
            )?
        }
    };
    let done = match resumed {
        Some(id) => store.done_keys(id)?,
        None => Default::default(),
    };
    let already = resumed.map(|_| done.len() as u64);
    // The counters of the legs before this one: a resumed run reports the whole run.
    let earlier_stats = match resumed {
        Some(id) => store.run(Some(id))?.and_then(|r| r.stats),
        None => None,
    };
    let writer = Writer::start_for(&store, Some(run_id))?;
    let store_health = writer.health();
    let store = Arc::new(Mutex::new(store));
    let mut sink = StoreSink {
        writer: &writer,
        write_cache: opts.cache.writes(),
        max_cached: reg.settings.limit_output_bytes,
        uncached: 0,
    };
    let want_total = reporters.iter().any(|r| r.wants_total());
    let env_lookup: super::EnvLookup = Arc::new(|k: &str| std::env::var(k).ok());
    let env = super::RunEnv {
        reg,
        run_id,
        done,
        store: store.clone(),
        env: env_lookup,
        want_total,
        store_health: Some(store_health.clone()),
    };
    let outcome = super::run(env, planned, opts, &mut |e: Event| {
        for r in reporters.iter_mut() {
            r.event(&e);
        }
        sink.take(e);
    });
    if sink.uncached > 0 {
        tell(
            reporters,
            Event::Note(format!(
                "warning: {} answer(s) larger than `limits.output_bytes` ({} bytes) were stored cut and not cached",
                sink.uncached, reg.settings.limit_output_bytes
            )),
        );
    }
    let (status, stop, stats, fatal) = match outcome {
        Ok(o) => {
            let status = match &o.stop {
                None => RunStatus::Finished,
                Some(Stop::Interrupted) => RunStatus::Interrupted,
                Some(Stop::Budget { .. }) => RunStatus::StoppedBudget,
            };
            (status, o.stop, o.stats, None)
        }
        Err(e) => (RunStatus::Failed, None, Stats::default(), Some(e)),
    };
    let mut stored = merge_stats(
        earlier_stats.as_ref(),
        serde_json::to_value(&stats).expect("serialisable"),
    );
    if let Some(done_count) = already {
        // Samples of the whole run: those stored before this leg (a killed leg left no
        // counters) plus this leg's.
        let before_leg = earlier_stats
            .as_ref()
            .and_then(|s| s.get("samples"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if let Some(n) = stored.get("samples").and_then(serde_json::Value::as_u64) {
            stored["samples"] = serde_json::json!(n - before_leg.min(n) + done_count);
        }
    }
    writer.send(Op::Finish {
        run_id,
        status,
        stats: stored,
    });
    if let Err(e) = writer.finish() {
        // The writer could not save results: say so, and mark the run failed if the database
        // still takes that one small update.
        if let Ok(s) = store.lock() {
            let _ = s.mark_failed(run_id);
        }
        return Err(match fatal {
            Some(f) if store_health.failure().is_some() => f,
            _ => e,
        });
    }
    for r in reporters.iter_mut() {
        r.finish()?;
    }
    let store = Arc::try_unwrap(store)
        .map_err(|_| Error::Internal("the store is still in use after the run".into()))?
        .into_inner()
        .map_err(|_| Error::Internal("a runner thread panicked holding the store".into()))?;
    Ok(Executed {
        run_id,
        status,
        stop,
        fatal,
        stats,
        resumed: already,
        store,
    })
}

/// The counters of a resumed run: the earlier legs' plus this one's, so the header describes
/// the whole run ("100 samples", not the last leg's 64).
fn merge_stats(earlier: Option<&serde_json::Value>, now: serde_json::Value) -> serde_json::Value {
    use serde_json::{json, Value};
    let (Some(Value::Object(before)), Value::Object(mut after)) = (earlier, now.clone()) else {
        return now;
    };
    for (k, v) in before {
        let (Some(a), Some(b)) = (v.as_f64(), after.get(k).and_then(Value::as_f64)) else {
            continue;
        };
        if k.starts_with("concurrency_") {
            // Windows are not sums: the whole run's peak is the larger, its low the smaller.
            let keep = match k.as_str() {
                "concurrency_peak" | "concurrency_max" => a.max(b),
                "concurrency_low" => a.min(b),
                _ => b,
            };
            after.insert(k.clone(), json!(keep as u64));
            continue;
        }
        let sum = a + b;
        after.insert(
            k.clone(),
            if v.is_u64() && after[k].is_u64() {
                json!(sum as u64)
            } else {
                json!(sum)
            },
        );
    }
    let legs = before.get("legs").and_then(Value::as_u64).unwrap_or(1);
    after.insert("legs".into(), json!(legs + 1));
    Value::Object(after)
}

/// The store writer as the run's last subscriber: results and cacheable answers.
struct StoreSink<'a> {
    writer: &'a Writer,
    write_cache: bool,
    /// `limits.output_bytes`: a larger answer is not cached, so the store stays bounded by the
    /// limits whatever a provider sends.
    max_cached: u64,
    /// Answers left out of the cache for their size.
    uncached: usize,
}

impl StoreSink<'_> {
    fn take(&mut self, e: Event) {
        match e {
            Event::Response(a) if a.cacheable && self.write_cache => {
                if a.response.text.len() as u64 > self.max_cached {
                    self.uncached += 1;
                } else {
                    self.writer.send(Op::cache(&a));
                }
            }
            Event::Finished(row) | Event::Rescored(row) => self.writer.send(Op::Result(row)),
            _ => {}
        }
    }
}

/// Saves every answer from a network provider as a recording for the `replay` provider
/// (`eval --record`); files are merged and written when the run ends.
pub struct Recorder<'a> {
    reg: &'a Registry,
    dir: PathBuf,
    recordings: BTreeMap<String, Vec<Recording>>,
    written: usize,
}

impl<'a> Recorder<'a> {
    /// A recorder writing into `dir`.
    pub fn new(reg: &'a Registry, dir: PathBuf) -> Recorder<'a> {
        Recorder {
            reg,
            dir,
            recordings: BTreeMap::new(),
            written: 0,
        }
    }

    /// Recordings written, after the run.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Where they go.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Reporter for Recorder<'_> {
    fn event(&mut self, event: &Event) {
        if let Event::Response(a) = event {
            if !self.reg.settings.provider_is_offline(&a.provider) {
                self.recordings
                    .entry(a.prompt.clone())
                    .or_default()
                    .push(Recording {
                        key: replay::request_key(&a.request),
                        request: a.request.clone(),
                        response: a.response.clone(),
                    });
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        for (group, recs) in std::mem::take(&mut self.recordings) {
            self.written += replay::write(&self.dir, &group, recs)?;
        }
        Ok(())
    }
}
