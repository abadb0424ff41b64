//! `llmops eval`: render every prompt over its dataset, call the providers concurrently,
//! score, store and report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::{Ctx, ReportFormat};
use crate::config::ProviderKind;
use crate::engine::{self, Event, Options, Stop};
use crate::error::{exit, Error, Result};
use crate::provider::replay::{self, Recording};
use crate::registry::Registry;
use crate::report::{self, SuitePolicy};
use crate::store::{writer::Op, Store, Writer};
use crate::ui::Progress;

/// Evaluate prompts over their suites.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each (prompt × case × sample) is one request, fingerprinted by provider, model, parameters,
rendered messages and sample index; cached answers are reused. Results go to the store
(`.llmops/cache/llmops.db`); `llmops runs` and `llmops report` show them again.

Exit codes: 0 every suite cleared its thresholds, 1 a suite missed one (or, with none set,
a case failed), 2 bad input, 3 a provider failed beyond retries, 4 nothing to evaluate,
130 interrupted (finished cases are kept; `--resume` continues).

Examples:
  llmops eval                              every suite
  llmops eval support-reply -j 16          one prompt's suites, 16 calls in flight
  llmops eval --dry-run                    calls, cache hits, tokens and cost; calls nothing
  llmops eval --repeat 3 --filter refund   three samples of the cases matching `refund`
  llmops eval --shard 2/4 --format junit --output junit.xml
  llmops eval --profile live --record      call the real provider and save recordings")]
pub struct Args {
    /// Prompt or suite names (default: every suite).
    #[arg(value_name = "PROMPT|SUITE")]
    targets: Vec<String>,
    /// Calls in flight per provider (overrides the config).
    #[arg(short = 'j', long, value_name = "N", value_parser = parse_concurrency)]
    concurrency: Option<usize>,
    /// Samples per case.
    #[arg(long, value_name = "K")]
    repeat: Option<u32>,
    /// Only cases whose id or description matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    filter: Option<String>,
    /// Use this provider for every prompt.
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
    /// Ignore cached responses (they are not read, and new ones are not written).
    #[arg(long)]
    no_cache: bool,
    /// Call the providers even when the cache has an answer, and replace it.
    #[arg(long, conflicts_with = "no_cache")]
    refresh: bool,
    /// Print the plan (calls, cache hits, estimated tokens and cost) and call nothing.
    #[arg(long)]
    dry_run: bool,
    /// Stop before spending more than this many US dollars.
    #[arg(long, value_name = "USD")]
    budget: Option<f64>,
    /// Run slice I of N (1-based), chosen by a hash of each case id.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(u32, u32)>,
    /// Continue the newest unfinished run of the same selection.
    #[arg(long)]
    resume: bool,
    /// Save every provider answer as a recording for the `replay` provider (into DIR, or the
    /// replay provider's `path`).
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "")]
    record: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
    /// Write the report to FILE instead of stdout (a summary still goes to stderr).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    no_progress: bool,
}

pub(crate) fn parse_concurrency(s: &str) -> std::result::Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| "expected a whole number".to_string())?;
    crate::config::check_concurrency(n)?;
    Ok(n)
}

pub(crate) fn parse_shard(s: &str) -> std::result::Result<(u32, u32), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, for example 2/4")?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| "I must be a whole number")?,
        n.trim().parse().map_err(|_| "N must be a whole number")?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(format!("shard {i}/{n}: need 1 <= I <= N"));
    }
    Ok((i, n))
}

fn record_dir(reg: &Registry, arg: &str) -> Result<PathBuf> {
    if !arg.is_empty() {
        return Ok(reg.root.join(arg));
    }
    let replays: Vec<&String> = reg
        .settings
        .providers
        .iter()
        .filter(|(_, p)| p.kind == ProviderKind::Replay)
        .filter_map(|(_, p)| p.path.as_ref())
        .collect();
    match replays.as_slice() {
        [one] => replay::confined(&reg.root, one),
        [] => Err(Error::usage_help(
            "--record needs a directory: no `replay` provider is configured",
            "pass `--record DIR` or add `providers: { replay: { type: replay, path: DIR } }`",
        )),
        _ => Err(Error::usage_help(
            "--record needs a directory: several `replay` providers are configured",
            "pass `--record DIR`",
        )),
    }
}

/// Run `llmops eval`.
pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let reg = ctx.registry(None)?;
    let opts = Options {
        selectors: args.targets.clone(),
        filter: args.filter.clone(),
        repeat: args.repeat,
        use_cache: reg.settings.cache_enabled && !args.no_cache,
        refresh: args.refresh,
        budget: args.budget,
        shard: args.shard,
        provider: args.provider.clone(),
        concurrency: args.concurrency,
        record: args.record.is_some(),
        ..Options::default()
    };
    if args.concurrency == Some(0) {
        return Err(Error::usage("-j/--concurrency must be at least 1"));
    }
    if let Some(b) = args.budget {
        if !(b.is_finite() && b >= 0.0) {
            return Err(Error::usage(
                "--budget must be a number of US dollars, 0 or more",
            ));
        }
    }
    let recording = args
        .record
        .as_deref()
        .map(|a| record_dir(&reg, a))
        .transpose()?;
    if let Some(dir) = &recording {
        // Recordings are merged, never dropped: refuse before paying for calls when an existing
        // file cannot be read.
        replay::check_dir(dir)?;
    }
    let planned = engine::plan::select(&reg, &opts)?;
    let store = Store::open(&reg.root.join(&reg.settings.cache_path))?;
    if args.dry_run {
        return dry_run(ctx, &reg, &planned, &opts, &store, args.format);
    }
    let exec = Exec {
        command: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        settings: json!({
            "concurrency": args.concurrency,
            "repeat": args.repeat,
            "filter": args.filter,
            "shard": args.shard,
            "budget": args.budget,
            "provider": args.provider,
            "profile": reg.settings.profile,
            "cache": opts.use_cache,
        }),
        resume: args.resume,
        record: recording,
        no_progress: args.no_progress,
    };
    let Executed {
        run_id,
        status,
        fatal,
        store,
    } = execute(ctx, &reg, planned, &opts, store, &exec)?;
    match fatal {
        Some(Error::Interrupted) => {
            let (rows, _) = store.hit_counts(run_id)?;
            ctx.ui.note(&format!("interrupted: run {run_id} kept {rows} finished sample(s); `llmops eval --resume` continues it"));
            return Ok(exit::INTERRUPTED);
        }
        Some(e) if status == "failed" => return Err(e),
        _ => {}
    }
    let run = store.run(Some(run_id))?.expect("the run exists");
    let rows = store.results(run_id)?;
    if rows.is_empty() && status == "finished" {
        return Err(Error::Nothing(
            "no case matched the selection (targets, `--filter`, `--shard`)".into(),
        ));
    }
    let report = report::build(run, &rows);
    emit_report(ctx, &report, args.format, args.output.as_deref())?;
    if status == "stopped-budget" {
        return Ok(exit::QUALITY.max(report.exit_code()));
    }
    Ok(report.exit_code())
}

/// How to execute a plan: the command line to record, settings to store with the run, and
/// the run's options.
pub(crate) struct Exec {
    /// Recorded with the run.
    pub command: String,
    /// Stored with the run (suite policies are added).
    pub settings: serde_json::Value,
    /// Continue the newest unfinished run of the same selection.
    pub resume: bool,
    /// Save recordings here.
    pub record: Option<PathBuf>,
    /// Hide the progress bar.
    pub no_progress: bool,
}

/// What an execution left.
pub(crate) struct Executed {
    /// The run.
    pub run_id: i64,
    /// `finished`, `interrupted`, `stopped-budget`, `failed`.
    pub status: &'static str,
    /// Why it stopped, if not finished.
    pub fatal: Option<Error>,
    /// The store, writer flushed.
    pub store: Store,
}

/// Run a plan into the store: one run row, the progress bar, the writer, the recorder. Shared
/// by `eval` and `gate`.
pub(crate) fn execute(
    ctx: &Ctx,
    reg: &Registry,
    planned: Vec<engine::Planned>,
    opts: &Options,
    store: Store,
    exec: &Exec,
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
                },
            )
        })
        .collect();
    let plan_key = engine::plan::plan_key(&planned, opts);
    let mut settings = exec.settings.clone();
    settings["suites"] = serde_json::to_value(&policies).expect("serialisable");
    let command = exec.command.clone();
    let resumed = if exec.resume {
        store.resumable(&plan_key)?
    } else {
        None
    };
    let run_id = match resumed {
        Some(id) => {
            store.reopen_run(id)?;
            ctx.ui.note(&format!("resuming run {id}"));
            id
        }
        None => {
            if exec.resume {
                ctx.ui
                    .note("nothing to resume for this selection: starting a new run");
            }
            store.begin_run(
                &command,
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
    // The counters of the legs before this one: a resumed run reports the whole run.
    let done_count = done.len() as u64;
    let earlier_stats = match resumed {
        Some(id) => store.run(Some(id))?.and_then(|r| r.stats),
        None => None,
    };
    let writer = Writer::start_for(&store, Some(run_id))?;
    let store_health = writer.health();
    let store = Arc::new(Mutex::new(store));
    let progress = Progress::new(exec.no_progress);
    let mut recordings: BTreeMap<String, Vec<Recording>> = BTreeMap::new();
    let mut retries = 0u64;
    let write_cache = opts.use_cache || opts.refresh;
    let mut sink = |e: Event| match e {
        Event::Total(n) => progress.total(n),
        Event::Retry(note) => {
            retries += 1;
            progress.message(format!(
                "{retries} retries (last: {} {})",
                note.provider, note.error
            ));
        }
        Event::Response {
            fingerprint,
            provider,
            cacheable,
            prompt,
            request,
            response,
            latency_ms,
        } => {
            if exec.record.is_some() {
                let kind = reg.settings.providers.get(&provider).map(|p| p.kind);
                if !matches!(kind, Some(ProviderKind::Replay) | Some(ProviderKind::Echo))
                    && provider != "echo"
                {
                    recordings.entry(prompt).or_default().push(Recording {
                        key: replay::request_key(&request),
                        request: *request.clone(),
                        response: *response.clone(),
                    });
                }
            }
            if cacheable && write_cache {
                writer.send(Op::Response {
                    fingerprint,
                    model: request.model.clone(),
                    provider,
                    request: serde_json::to_string(&request).expect("serialisable"),
                    response: serde_json::to_string(&response).expect("serialisable"),
                    latency_ms,
                });
            }
        }
        Event::Finished(row) => {
            progress.inc();
            writer.send(Op::Result(row));
        }
        Event::Warning(w) => progress.note(&format!("warning: {w}")),
    };
    let env_lookup: engine::EnvLookup = Arc::new(|k: &str| std::env::var(k).ok());
    let env = engine::RunEnv {
        reg,
        run_id,
        done,
        store: store.clone(),
        env: env_lookup,
        want_total: progress.visible(),
        store_health: Some(store_health.clone()),
    };
    let outcome = engine::run(env, planned, opts, &mut sink);
    progress.finish();
    let (status, stats, fatal): (&'static str, serde_json::Value, Option<Error>) = match outcome {
        Ok(o) => {
            let status = match &o.stop {
                None => "finished",
                Some(Stop::Interrupted) => "interrupted",
                Some(Stop::Budget { .. }) => "stopped-budget",
            };
            if let Some(Stop::Budget { spent, budget }) = &o.stop {
                ctx.ui.note(&format!("stopped: the next calls would take spending past the budget (${spent:.4} spent of ${budget}); `--resume` continues with a larger --budget"));
            }
            (
                status,
                serde_json::to_value(&o.stats).expect("serialisable"),
                o.stop.map(|s| match s {
                    Stop::Interrupted => Error::Interrupted,
                    Stop::Budget { .. } => Error::usage("budget reached"),
                }),
            )
        }
        Err(e) => ("failed", json!({}), Some(e)),
    };
    let mut stats = merge_stats(earlier_stats.as_ref(), stats);
    if resumed.is_some() {
        // Samples of the whole run: those stored before this leg (a killed leg left no
        // counters) plus this leg's.
        let this_leg = stats.get("samples").and_then(serde_json::Value::as_u64);
        let before_leg = earlier_stats
            .as_ref()
            .and_then(|s| s.get("samples"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if let Some(n) = this_leg {
            stats["samples"] = json!(n - before_leg.min(n) + done_count);
        }
    }
    writer.send(Op::Finish {
        run_id,
        status: status.into(),
        stats,
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
    if let Some(dir) = &exec.record {
        let mut n = 0;
        for (group, recs) in recordings {
            n += replay::write(dir, &group, recs)?;
        }
        ctx.ui
            .note(&format!("recorded {n} response(s) in {}", dir.display()));
    }
    let store = Arc::try_unwrap(store)
        .map_err(|_| Error::usage("store still in use"))?
        .into_inner()
        .expect("not poisoned");
    Ok(Executed {
        run_id,
        status,
        fatal,
        store,
    })
}

/// The counters of a resumed run: the earlier legs' plus this one's, so the header describes
/// the whole run ("100 samples", not the last leg's 64).
fn merge_stats(earlier: Option<&serde_json::Value>, now: serde_json::Value) -> serde_json::Value {
    let (Some(serde_json::Value::Object(before)), serde_json::Value::Object(mut after)) =
        (earlier, now.clone())
    else {
        return now;
    };
    for (k, v) in before {
        let (Some(a), Some(b)) = (v.as_f64(), after.get(k).and_then(serde_json::Value::as_f64))
        else {
            continue;
        };
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
    let legs = before
        .get("legs")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(1);
    after.insert("legs".into(), json!(legs + 1));
    serde_json::Value::Object(after)
}

/// Write a report in `format` to stdout or `output` (through [`crate::fsio`]; `-` is stdout), with a short summary
/// on stderr when the report goes to a file.
pub(crate) fn emit_report(
    ctx: &Ctx,
    report: &report::RunReport,
    format: ReportFormat,
    output: Option<&std::path::Path>,
) -> Result<()> {
    let text = match format {
        ReportFormat::Text => report::text(report),
        ReportFormat::Json => serde_json::to_string_pretty(report).expect("serialisable") + "\n",
        ReportFormat::Markdown => report::markdown(report),
        ReportFormat::Junit => report::junit(report),
    };
    let text = crate::redact::scrub(&text);
    match output.filter(|p| !crate::fsio::is_stdout(p)) {
        None => ctx.ui.out(&text),
        Some(path) => {
            let shown = path.display().to_string();
            crate::fsio::write(path, text.as_bytes())?;
            let summary: Vec<String> = report
                .groups
                .iter()
                .map(|g| {
                    format!(
                        "{}: {}/{} passed{}",
                        g.suite,
                        g.passed,
                        g.cases,
                        if g.ok() { "" } else { " (FAILED)" }
                    )
                })
                .collect();
            ctx.ui.note(&format!(
                "run {}: {}; report written to {shown}",
                report.run.id,
                summary.join(", ")
            ));
            Ok(())
        }
    }
}

fn dry_run(
    ctx: &Ctx,
    reg: &Registry,
    planned: &[engine::Planned],
    opts: &Options,
    store: &Store,
    format: ReportFormat,
) -> Result<u8> {
    #[derive(Default, serde::Serialize)]
    struct Line {
        suite: String,
        variant: String,
        provider: String,
        model: String,
        samples: u64,
        calls: u64,
        offline: u64,
        cache_hits: u64,
        est_input_tokens: u64,
        est_output_tokens: u64,
        est_cost_usd: f64,
        priced: bool,
    }
    let mut lines: BTreeMap<(String, String), Line> = BTreeMap::new();
    let mut lookup = |fp: &str| store.cached(fp);
    let mut emit = |job: engine::Job| {
        let l = lines
            .entry((job.suite.to_string(), job.variant.to_string()))
            .or_default();
        l.suite = job.suite.to_string();
        l.variant = job.variant.to_string();
        l.provider = job.provider.clone();
        l.model = job.request.model.clone();
        l.samples += 1;
        let offline = job.provider == "echo"
            || matches!(
                reg.settings.providers.get(&job.provider).map(|p| p.kind),
                Some(ProviderKind::Replay | ProviderKind::Echo)
            );
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
    engine::plan::plan(
        reg,
        planned,
        opts,
        &Default::default(),
        &mut lookup,
        &mut emit,
    )?;
    let lines: Vec<Line> = lines.into_values().collect();
    if format == ReportFormat::Json {
        ctx.ui.json(&lines)?;
        return Ok(exit::OK);
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_header([
            "SUITE",
            "VARIANT",
            "PROVIDER",
            "MODEL",
            "SAMPLES",
            "CALLS",
            "OFFLINE",
            "CACHED",
            "EST. TOKENS IN/OUT",
            "EST. COST",
        ]);
    for l in &lines {
        t.add_row([
            l.suite.clone(),
            l.variant.clone(),
            l.provider.clone(),
            l.model.clone(),
            l.samples.to_string(),
            l.calls.to_string(),
            l.offline.to_string(),
            l.cache_hits.to_string(),
            format!("{}/{} (at most)", l.est_input_tokens, l.est_output_tokens),
            if l.calls == 0 {
                "$0".into()
            } else if l.priced {
                format!("≤ ${:.4}", l.est_cost_usd)
            } else {
                "no price".into()
            },
        ]);
    }
    let calls: u64 = lines.iter().map(|l| l.calls).sum();
    let hits: u64 = lines.iter().map(|l| l.cache_hits).sum();
    let offline: u64 = lines.iter().map(|l| l.offline).sum();
    let cost: f64 = lines.iter().map(|l| l.est_cost_usd).sum();
    let offline = if offline > 0 {
        format!(", {offline} answered offline (replay/echo)")
    } else {
        String::new()
    };
    let mut unpriced: Vec<&str> = lines
        .iter()
        .filter(|l| l.calls > 0 && !l.priced)
        .map(|l| l.model.as_str())
        .collect();
    unpriced.sort();
    unpriced.dedup();
    let unknown = if unpriced.is_empty() {
        String::new()
    } else {
        " plus calls of unknown cost".to_string()
    };
    ctx.ui.out(&format!("{t}\ndry run: {calls} call(s) to make, {hits} answered from the cache{offline}, at most ${cost:.4}{unknown} (judge calls not estimated); nothing was called\n"))?;
    for model in unpriced {
        ctx.ui.note(&format!("warning: model `{model}` has no known price: its cost is unknown (not $0); add it under `pricing:` in llmops.yaml"));
    }
    Ok(exit::OK)
}
