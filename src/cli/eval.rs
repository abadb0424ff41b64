//! `llmops eval`: render every prompt over its dataset, call the providers concurrently,
//! score, store and report.

use std::path::PathBuf;

use serde_json::json;

use super::output::emit_report;
use super::{Ctx, ReportFormat};
use crate::config::ProviderKind;
use crate::engine::{self, CachePolicy, Options, Recorder, Reporter, RunSpec, Selection, Stop};
use crate::error::{Error, Outcome, Result};
use crate::provider::replay;
use crate::registry::Registry;
use crate::report;
use crate::store::{RunStatus, Store};
use crate::ui::Progress;

/// Evaluate prompts over their suites.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each (prompt × case × sample) is one request, fingerprinted by provider, model, parameters,
rendered messages and sample index; cached answers are reused. Results go to the store
(`.llmops/cache/llmops.db`); `llmops runs` and `llmops report` show them again.

Exit codes: 0 every suite cleared its thresholds, 1 a suite missed one (or, without a
`pass_rate` or `score` threshold, a case failed), 2 bad input, 3 a provider failed beyond retries, 4 nothing to evaluate,
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
    #[arg(short = 'j', long, value_name = "N", value_parser = super::parse_concurrency)]
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
    #[arg(long, value_name = "I/N", value_parser = super::parse_shard)]
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
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let reg = ctx.registry_with(None, |o| o.concurrency = args.concurrency)?;
    let opts = Options {
        select: Selection {
            selectors: args.targets.clone(),
            filter: args.filter.clone(),
            repeat: args.repeat,
            shard: args.shard,
            provider: args.provider.clone(),
            skip_unfit: false,
        },
        cache: CachePolicy {
            enabled: reg.settings.cache_enabled && !args.no_cache,
            refresh: args.refresh,
        },
        budget: args.budget,
        record: args.record.is_some(),
        ..Options::default()
    };
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
    let spec = RunSpec {
        command: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        settings: json!({
            "concurrency": args.concurrency,
            "repeat": args.repeat,
            "filter": args.filter,
            "shard": args.shard,
            "budget": args.budget,
            "provider": args.provider,
            "profile": reg.settings.profile,
            "cache": opts.cache.enabled,
        }),
        resume: args.resume,
    };
    let mut progress = Progress::new(args.no_progress);
    let mut recorder = recording.map(|dir| Recorder::new(&reg, dir));
    let mut reporters: Vec<&mut dyn Reporter> = vec![&mut progress];
    if let Some(r) = recorder.as_mut() {
        reporters.push(r);
    }
    let x = engine::execute(&reg, planned, &opts, store, &spec, &mut reporters)?;
    if let Some(r) = &recorder {
        ctx.ui.note(&format!(
            "recorded {} response(s) in {}",
            r.written(),
            r.dir().display()
        ));
    }
    if x.status == RunStatus::Interrupted {
        let (rows, _) = x.store.hit_counts(x.run_id)?;
        ctx.ui.note(&format!("interrupted: run {} kept {rows} finished sample(s); `llmops eval --resume` continues it", x.run_id));
        return Ok(Outcome::Interrupted);
    }
    let x = x.into_result()?;
    if let Some(Stop::Budget { spent, budget }) = &x.stop {
        ctx.ui.note(&format!("stopped: the next calls would take spending past the budget (${spent:.4} spent of ${budget}); `--resume` continues with a larger --budget"));
    }
    let run = x
        .store
        .run(Some(x.run_id))?
        .ok_or_else(|| Error::Internal(format!("run {} is not in the store", x.run_id)))?;
    // Row by row: only one case's rows are held at a time, however large the run.
    // Only the HTML report shows each case's variables and assertions.
    let mut builder = report::Builder::new(run).detail(args.format == ReportFormat::Html);
    x.store
        .results_each(x.run_id, &mut |row| builder.push(row))?;
    if builder.is_empty() && x.status == RunStatus::Finished {
        return Err(Error::Nothing(
            "no case matched the selection (targets, `--filter`, `--shard`)".into(),
        ));
    }
    let report = builder.finish();
    emit_report(ctx, &report, args.format, args.output.as_deref())?;
    if x.status == RunStatus::StoppedBudget {
        return Ok(Outcome::QualityFailed.worst(report.outcome()));
    }
    Ok(report.outcome())
}

fn dry_run(
    ctx: &Ctx,
    reg: &Registry,
    planned: &[engine::Planned],
    opts: &Options,
    store: &Store,
    format: ReportFormat,
) -> Result<Outcome> {
    let lines = engine::estimate::estimate(reg, planned, opts, store)?;
    if format == ReportFormat::Json {
        ctx.ui.json(&lines)?;
    } else {
        ctx.ui.out(&report::dry_run_text(&lines, ctx.ui.layout()))?;
        for model in report::unpriced_models(&lines) {
            ctx.ui.note(&format!("warning: model `{model}` has no known price: its cost is unknown (not $0); add it under `pricing:` in llmops.yaml"));
        }
    }
    Ok(Outcome::Success)
}
