//! `llmops gate`: evaluate the baseline and the candidate on the candidate's suites, pair
//! cases by id, and decide PASS / FAIL / INCONCLUSIVE / ERROR by statistics.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use super::output::emit_gate;
use super::{Ctx, ReportFormat};
use crate::engine::{self, CachePolicy, Executed, Options, Pairing, Planned, RunSpec, Selection};
use crate::error::{Error, Outcome, Result};
use crate::gate::{self, Policy};
use crate::registry::{Reference, Resolver};
use crate::store::{ResultRow, RunStatus, Store};
use crate::ui::Progress;

/// Compare a candidate with a baseline and fail on a real regression.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The baseline is read from the branch the change merges into, never from the change: the
`production` label as it stands at the merge base with the base branch (`--base-ref`, else
$GITHUB_BASE_REF / $CI_MERGE_REQUEST_TARGET_BRANCH_NAME, else the default branch), or that
merge base when there is no label. A change that moves `production` is gated as the newly
labelled version against the label's target at the base. The candidate defaults to the
working tree. Both sides run the candidate's suites,
datasets, assertions and judge, so only the prompts differ; cached answers are reused, and the
baseline is rendered straight from git objects.

Verdicts: ERROR (exit 3, as for `eval`) when errored samples exceed `gate.max_error_rate` on either side;
FAIL (exit 1) on a missed threshold, a `critical` assertion flipping pass -> fail, or a
significant regression; PASS (exit 0) when the candidate is shown no worse than the tolerance;
otherwise INCONCLUSIVE (exit 0 with a warning, 1 with --strict). With `gate.cost_tolerance`
or `gate.latency_tolerance` set, cost or latency shown above its tolerance fails too.

`--baseline run:ID` or `--baseline recorded` re-checks a release live: the candidate runs with
the cache bypassed and is compared with a stored run (or the run each prompt's version was
released with), which must be of the same prompt version, suite, dataset and requests.

Examples:
  llmops gate                                  working tree vs production (or the merge base)
  llmops gate --baseline main --format markdown --output gate.md
  llmops gate --baseline v3 --candidate HEAD --all --strict
  llmops gate --shard 1/4 --format json --output gate-1.json   then: llmops merge gate-*.json
  llmops gate --baseline recorded --candidate production      nightly live re-check")]
pub struct Args {
    /// Baseline: a label, a version (`v3`), a git revision, `worktree`, a stored run
    /// (`run:ID`, compared with a live run of the candidate), or `recorded` (the run the lock
    /// records for the candidate's released version).
    #[arg(long, value_name = "REF")]
    baseline: Option<String>,
    /// Candidate (default: the working tree).
    #[arg(long, value_name = "REF")]
    candidate: Option<String>,
    /// The branch this change merges into; labels and versions are read at the merge base
    /// with it (default: `$GITHUB_BASE_REF`, `$CI_MERGE_REQUEST_TARGET_BRANCH_NAME`, else the
    /// default branch).
    #[arg(long, value_name = "BRANCH")]
    base_ref: Option<String>,
    /// Gate every suite, not only those whose prompts, partials, datasets or assertions changed.
    #[arg(long)]
    all: bool,
    /// INCONCLUSIVE fails (exit 1).
    #[arg(long)]
    strict: bool,
    /// Largest mean score drop still called "no worse" (default: `gate.tolerance`).
    #[arg(long, value_name = "X")]
    tolerance: Option<f64>,
    /// One-sided significance level (default: `gate.alpha`).
    #[arg(long, value_name = "A")]
    alpha: Option<f64>,
    /// Calls in flight per provider.
    #[arg(short = 'j', long, value_name = "N", value_parser = super::parse_concurrency)]
    concurrency: Option<usize>,
    /// Samples per case on both sides.
    #[arg(long, value_name = "K")]
    repeat: Option<u32>,
    /// Run slice I of N of the cases (merge the JSON results with `llmops merge`).
    #[arg(long, value_name = "I/N", value_parser = super::parse_shard)]
    shard: Option<(u32, u32)>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// Run `llmops gate`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let open = ctx.with_flags(|o| o.concurrency = args.concurrency);
    let resolver = Resolver::new(&open)?;
    if let Some(stored) = args
        .baseline
        .as_deref()
        .map(gate::stored::parse)
        .transpose()?
        .flatten()
    {
        return run_stored(ctx, &args, &resolver, stored);
    }
    let base_branch = gate::baseline::base_ref(args.base_ref.as_deref(), |k| std::env::var(k).ok());
    let sides = gate::baseline::resolve(
        &resolver,
        args.baseline.as_deref(),
        args.candidate.as_deref(),
        base_branch.as_deref(),
    )?;
    for m in &sides.moved {
        let from = m.from.map_or("nothing".to_string(), |v| format!("v{v}"));
        ctx.ui.note(&format!(
            "this change moves label `{}` for `{}` from {from} to v{}: gating v{} against {}",
            m.label, m.prompt, m.to, m.to, sides.baseline_name
        ));
    }
    let (base_ref, cand_ref) = (&sides.baseline, &sides.candidate);
    let (base_name, cand_name) = (sides.baseline_name.clone(), sides.candidate_name.clone());
    let reg = resolver.registry_for(cand_ref)?;
    // Only used to see whether suite files changed; a baseline config that no longer parses
    // with today's environment (a provider added in this change) must not stop the gate.
    let base_reg = resolver.registry_for(base_ref).ok();
    let s = &reg.settings;
    let policy = policy(&args, s)?;
    let base_opts = Options {
        select: Selection {
            repeat: args.repeat,
            shard: args.shard,
            skip_unfit: true,
            ..Selection::default()
        },
        cache: CachePolicy {
            enabled: s.cache_enabled,
            refresh: false,
        },
        pairing: Pairing {
            baseline_outputs: None,
            pairwise_self: true,
        },
        ..Options::default()
    };
    let base_source = sides.baseline_source(&resolver);
    let cand_source = sides.candidate_source(&resolver);
    let cand_planned = engine::plan::select_with(&reg, &base_opts, Some(&cand_source))?;
    let base_planned =
        engine::plan::select_with(&reg, &base_opts, Some(&base_source)).or_else(|e| match e {
            Error::Nothing(_) => Ok(Vec::new()),
            other => Err(other),
        })?;

    let gate::pair::Changes { gated, unchanged } = gate::pair::changes(
        &reg,
        base_reg.as_deref(),
        &cand_planned,
        &base_planned,
        args.all,
    )?;
    if gated.is_empty() {
        ctx.ui.note(&format!(
            "nothing to gate: no suite's prompts, partials, datasets or assertions differ between {base_name} and {cand_name} ({} suite(s) unchanged; `--all` gates them anyway)",
            unchanged.len()
        ));
        // Still write the (empty, passing) report: CI steps and `merge` expect the file.
        let report = gate::decide_all(
            base_name,
            cand_name,
            Vec::new(),
            BTreeMap::new(),
            unchanged,
            policy,
        );
        emit_gate(ctx, &report, args.format, args.output.as_deref())?;
        return Ok(Outcome::Success);
    }
    let keep = |v: Vec<Planned>| -> Vec<Planned> {
        v.into_iter()
            .filter(|p| gated.contains(&p.suite.name))
            .collect()
    };
    let thresholds: BTreeMap<String, crate::suite::Thresholds> = cand_planned
        .iter()
        .map(|p| (p.suite.name.clone(), p.suite.thresholds.clone()))
        .collect();
    let min_pass: HashMap<String, Option<(u32, u32)>> = cand_planned
        .iter()
        .map(|p| (p.suite.name.clone(), p.suite.min_pass))
        .collect();
    let (cand_planned, base_planned) = (keep(cand_planned), keep(base_planned));
    gate::candidate_renders(&reg, &cand_planned, &base_opts, &cand_name)?;

    let path = reg.root.join(&s.cache_path);
    let spec = |side: &str, r: &str| RunSpec {
        command: format!("gate {side} {r}"),
        settings: json!({ "gate": side, "reference": r, "repeat": args.repeat, "shard": args.shard }),
        resume: false,
    };
    // A side that stopped early (a budget) has no complete evidence to decide on.
    let finish = |x: Executed, side: &str| -> Result<Vec<ResultRow>> {
        let x = x.into_result()?;
        if x.status == RunStatus::StoppedBudget {
            return Err(Error::usage(format!("the {side} run stopped early")));
        }
        x.store.results(x.run_id)
    };
    let mut progress = Progress::new(args.no_progress);
    let base_rows = if base_planned.is_empty() {
        Vec::new()
    } else {
        let x = engine::execute(
            &reg,
            base_planned,
            &base_opts,
            Store::open(&path)?,
            &spec("baseline", &base_name),
            &mut [&mut progress],
        )?;
        finish(x, "baseline")?
    };
    let outputs = baseline_outputs(&base_rows);
    let cand_opts = Options {
        pairing: Pairing {
            baseline_outputs: Some(Arc::new(outputs)),
            pairwise_self: false,
        },
        ..base_opts.clone()
    };
    let mut progress = Progress::new(args.no_progress);
    let x = engine::execute(
        &reg,
        cand_planned,
        &cand_opts,
        Store::open(&path)?,
        &spec("candidate", &cand_name),
        &mut [&mut progress],
    )?;
    let cand_rows = finish(x, "candidate")?;
    let pairs = gate::pair::pairs(
        &base_rows,
        &cand_rows,
        &min_pass,
        s.gate_cluster_by.as_deref(),
    );
    let report = gate::decide_all(base_name, cand_name, pairs, thresholds, unchanged, policy);
    emit_gate(ctx, &report, args.format, args.output.as_deref())?;
    Ok(report.outcome())
}

/// The decision policy: flags over `gate:` settings, checked.
fn policy(args: &Args, s: &crate::config::Settings) -> Result<Policy> {
    let policy = Policy {
        alpha: args.alpha.unwrap_or(s.gate_alpha),
        tolerance: args.tolerance.unwrap_or(s.gate_tolerance),
        max_error_rate: s.gate_max_error_rate,
        strict: args.strict || s.gate_strict,
        seed: 0x6c6c_6d6f_7073,
        cost_tolerance: s.gate_cost_tolerance,
        latency_tolerance: s.gate_latency_tolerance,
    };
    if !(policy.alpha > 0.0 && policy.alpha < 0.5 && (0.0..1.0).contains(&policy.tolerance)) {
        return Err(Error::usage(
            "--alpha must be in (0, 0.5) and --tolerance in [0, 1)",
        ));
    }
    Ok(policy)
}

/// `--baseline run:ID` / `--baseline recorded`: run the candidate live (the cache is
/// bypassed, so a changed model behind the same name answers) and compare it with the
/// stored run, after `gate::stored` has checked the run is of the same requests.
fn run_stored(
    ctx: &Ctx,
    args: &Args,
    resolver: &Resolver,
    stored: gate::stored::Stored,
) -> Result<Outcome> {
    use gate::stored::Stored;
    if args.shard.is_some() {
        return Err(Error::usage_help(
            "--shard does not apply to a stored baseline",
            "drop `--shard`: a live re-check runs every case of the stored run",
        ));
    }
    let cand_ref = args
        .candidate
        .as_deref()
        .map_or(Reference::Worktree, |c| resolver.classify(c));
    let cand_name = cand_ref.display();
    let reg = resolver.registry_for(&cand_ref)?;
    let s = &reg.settings;
    let policy = policy(args, s)?;
    let opts = Options {
        select: Selection {
            repeat: args.repeat,
            skip_unfit: true,
            ..Selection::default()
        },
        // Live: a cached answer would only repeat what the provider said before.
        cache: CachePolicy {
            enabled: s.cache_enabled,
            refresh: true,
        },
        ..Options::default()
    };
    let source = |name: &str| -> Result<Option<Arc<crate::template::Prompt>>> {
        Ok(resolver
            .try_resolve(name, &cand_ref)?
            .map(|x| Arc::new(x.prompt)))
    };
    let planned = engine::plan::select_with(&reg, &opts, Some(&source))?;
    let path = reg.root.join(&s.cache_path);
    if !path.exists() {
        return Err(Error::usage_help(
            format!(
                "no store at `{}`, so there is no stored run to compare with",
                s.cache_path
            ),
            "run `llmops eval` (and `llmops release`) first, or in CI restore the cache directory that holds the release's run",
        ));
    }
    let store = Store::open(&path)?;
    let mut runs: BTreeMap<(String, String), i64> = BTreeMap::new();
    let baseline_name = match stored {
        Stored::Run(id) => {
            for p in &planned {
                for t in &p.targets {
                    runs.insert((p.suite.name.clone(), t.variant.name.clone()), id);
                }
            }
            format!("run {id}")
        }
        Stored::Recorded => {
            // The lock as the base branch has it, so a change cannot point its own prompt
            // at another run (the run's identity is checked either way).
            let base =
                gate::baseline::base_ref(args.base_ref.as_deref(), |k| std::env::var(k).ok());
            let lock_reg = match resolver
                .git()
                .ok()
                .map(|g| g.merge_base_with(base.as_deref()))
                .transpose()?
                .flatten()
            {
                Some(b) => resolver.registry_for(&Reference::Git(b.commit))?,
                None => resolver.worktree()?,
            };
            let lock = crate::registry::read_lock(&lock_reg)?;
            let mut named = Vec::new();
            for p in &planned {
                for t in &p.targets {
                    let name = &t.prompt.name;
                    let Some(v) = lock.prompt(name).and_then(|v| v.by_hash(&t.prompt_hash)) else {
                        return Err(Error::usage_help(
                            format!(
                                "the candidate's `{name}` ({cand_name}) is not a released version, so it has no recorded run"
                            ),
                            format!("re-check a released version: `--candidate production` (or `--candidate v3`); release this content first with `llmops release {name}`"),
                        ));
                    };
                    let Some(id) = v
                        .eval
                        .as_ref()
                        .and_then(|e| e.run_id.as_deref())
                        .and_then(|r| r.parse::<i64>().ok())
                    else {
                        return Err(Error::usage_help(
                            format!("`{name}@v{}` was released with no eval run recorded", v.version),
                            format!("pass a stored run of it with `--baseline run:ID` (`llmops runs` lists them), or release again after `llmops eval {name}` so the lock records one"),
                        ));
                    };
                    let label = format!("{name}@v{} run {id}", v.version);
                    if !named.contains(&label) {
                        named.push(label);
                    }
                    runs.insert((p.suite.name.clone(), t.variant.name.clone()), id);
                }
            }
            format!("recorded ({})", named.join(", "))
        }
    };
    let (base_rows, missing) = gate::stored::baseline_rows(&reg, &planned, &opts, &store, &runs)?;
    for (suite, variant, id) in &missing {
        let what = if suite == variant {
            suite.clone()
        } else {
            format!("{suite} / {variant}")
        };
        ctx.ui
            .note(&format!("`{what}` is not in run {id}: not gated"));
    }
    drop(store);
    let gated: Vec<Planned> = planned
        .into_iter()
        .filter(|p| {
            p.targets.iter().any(|t| {
                !missing
                    .iter()
                    .any(|m| m.0 == p.suite.name && m.1 == t.variant.name)
            })
        })
        .collect();
    if gated.is_empty() {
        return Err(Error::usage_help(
            format!("{baseline_name} evaluated none of the candidate's suites"),
            "`llmops runs` lists the stored runs; pick one that ran these suites",
        ));
    }
    let thresholds: BTreeMap<String, crate::suite::Thresholds> = gated
        .iter()
        .map(|p| (p.suite.name.clone(), p.suite.thresholds.clone()))
        .collect();
    let min_pass: HashMap<String, Option<(u32, u32)>> = gated
        .iter()
        .map(|p| (p.suite.name.clone(), p.suite.min_pass))
        .collect();
    gate::candidate_renders(&reg, &gated, &opts, &cand_name)?;
    let outputs = baseline_outputs(&base_rows);
    let cand_opts = Options {
        pairing: Pairing {
            baseline_outputs: Some(Arc::new(outputs)),
            pairwise_self: false,
        },
        ..opts
    };
    let mut progress = Progress::new(args.no_progress);
    let x = engine::execute(
        &reg,
        gated,
        &cand_opts,
        Store::open(&path)?,
        &RunSpec {
            command: format!("gate candidate {cand_name} (live, against {baseline_name})"),
            settings: json!({ "gate": "candidate", "reference": cand_name, "baseline": baseline_name, "repeat": args.repeat, "live": true }),
            resume: false,
        },
        &mut [&mut progress],
    )?
    .into_result()?;
    if x.status == RunStatus::StoppedBudget {
        return Err(Error::usage("the candidate run stopped early"));
    }
    let cand_rows = x.store.results(x.run_id)?;
    let pairs = gate::pair::pairs(
        &base_rows,
        &cand_rows,
        &min_pass,
        s.gate_cluster_by.as_deref(),
    );
    let report = gate::decide_all(
        baseline_name,
        format!("{cand_name} (live)"),
        pairs,
        thresholds,
        // Suites the run lacks were noted above; `unchanged` would misname them.
        Vec::new(),
        policy,
    );
    emit_gate(ctx, &report, args.format, args.output.as_deref())?;
    Ok(report.outcome())
}

/// The baseline's answers by sample key, for pairwise assertions on the candidate's side.
fn baseline_outputs(rows: &[crate::store::ResultRow]) -> HashMap<String, String> {
    rows.iter()
        .filter_map(|r| {
            Some((
                engine::plan::sample_key(&r.suite, &r.variant, &r.case_id, r.sample),
                r.output.clone()?,
            ))
        })
        .collect()
}
