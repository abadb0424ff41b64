//! `llmops gate`: evaluate the baseline and the candidate on the candidate's suites, pair
//! cases by id, and decide PASS / FAIL / INCONCLUSIVE / ERROR by statistics.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use super::eval::{execute, Exec, Executed};
use super::{Ctx, ReportFormat};
use crate::engine::{self, Options, Planned};
use crate::error::{exit, Error, Result};
use crate::gate::{self, Pair, Policy, Side};
use crate::registry::Resolver;
use crate::store::{ResultRow, Store};

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

Verdicts: ERROR (exit 2) when errored samples exceed `gate.max_error_rate` on either side;
FAIL (exit 1) on a missed threshold, a `critical` assertion flipping pass -> fail, or a
significant regression; PASS (exit 0) when the candidate is shown no worse than the tolerance;
otherwise INCONCLUSIVE (exit 0 with a warning, 1 with --strict).

Examples:
  llmops gate                                  working tree vs production (or the merge base)
  llmops gate --baseline main --format markdown --output gate.md
  llmops gate --baseline v3 --candidate HEAD --all --strict
  llmops gate --shard 1/4 --format json --output gate-1.json   then: llmops merge gate-*.json")]
pub struct Args {
    /// Baseline: a label, a version (`v3`), a git revision, or `worktree`.
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
    #[arg(short = 'j', long, value_name = "N")]
    concurrency: Option<usize>,
    /// Samples per case on both sides.
    #[arg(long, value_name = "K")]
    repeat: Option<u32>,
    /// Run slice I of N of the cases (merge the JSON results with `llmops merge`).
    #[arg(long, value_name = "I/N", value_parser = super::eval::parse_shard)]
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

fn side_of(rows: &[&ResultRow], min_pass: Option<(u32, u32)>) -> Side {
    let c = crate::report::case_result(rows, min_pass);
    // A critical assertion "passes" for the case when it passed in most scored samples.
    let scored: Vec<&&ResultRow> = rows.iter().filter(|r| r.status != "error").collect();
    let mut critical_ok = Vec::new();
    if let Some(first) = scored.first() {
        for (i, s) in first.scores.iter().enumerate().filter(|(_, s)| s.critical) {
            let passes = scored
                .iter()
                .filter(|r| r.scores.get(i).is_some_and(|x| x.pass))
                .count();
            if passes * 2 > scored.len() {
                critical_ok.push(format!("{i}:{}", s.kind));
            }
        }
    }
    Side {
        score: c.score,
        passed: c.passed,
        samples: c.samples,
        errors: rows.iter().filter(|r| r.status == "error").count() as u32,
        critical_ok,
        output: c.output,
        reasons: c.reasons,
        metrics: c.metrics,
    }
}

/// Per (suite, variant, case): that case's rows.
fn by_case(rows: &[ResultRow]) -> BTreeMap<(String, String, String), Vec<&ResultRow>> {
    let mut m: BTreeMap<(String, String, String), Vec<&ResultRow>> = BTreeMap::new();
    for r in rows {
        m.entry((r.suite.clone(), r.variant.clone(), r.case_id.clone()))
            .or_default()
            .push(r);
    }
    m
}

/// Run `llmops gate`.
pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let resolver = Resolver::new(&ctx.open)?;
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
    let policy = Policy {
        alpha: args.alpha.unwrap_or(s.gate_alpha),
        tolerance: args.tolerance.unwrap_or(s.gate_tolerance),
        max_error_rate: s.gate_max_error_rate,
        strict: args.strict || s.gate_strict,
        seed: 0x6c6c_6d6f_7073,
    };
    if !(policy.alpha > 0.0 && policy.alpha < 0.5 && (0.0..1.0).contains(&policy.tolerance)) {
        return Err(Error::usage(
            "--alpha must be in (0, 0.5) and --tolerance in [0, 1)",
        ));
    }
    let base_opts = Options {
        repeat: args.repeat,
        use_cache: s.cache_enabled,
        shard: args.shard,
        concurrency: args.concurrency,
        skip_unfit: true,
        pairwise_self: true,
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

    // What changed: a variant's prompt content, or the suite file or its dataset.
    let mut unchanged = Vec::new();
    let mut gated: Vec<String> = Vec::new();
    for p in &cand_planned {
        let base = base_planned.iter().find(|b| b.suite.name == p.suite.name);
        let prompt_changed = p.targets.iter().any(|t| {
            base.and_then(|b| b.targets.iter().find(|x| x.variant.name == t.variant.name))
                .is_none_or(|x| x.prompt_hash != t.prompt_hash)
        });
        let dataset = p.suite.dataset.as_ref().map(|(d, _)| d.as_str());
        let suite_changed = match &base_reg {
            Some(b) => {
                engine::plan::suite_identity(b, &p.suite.path, dataset)?
                    != engine::plan::suite_identity(&reg, &p.suite.path, dataset)?
            }
            None => true,
        };
        if args.all || prompt_changed || suite_changed {
            gated.push(p.suite.name.clone());
        } else {
            unchanged.push(p.suite.name.clone());
        }
    }
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
        emit(ctx, &report, args.format, args.output.as_deref())?;
        return Ok(exit::OK);
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
    let exec = |side: &str, r: &str| Exec {
        command: format!("gate {side} {r}"),
        settings: json!({ "gate": side, "reference": r, "repeat": args.repeat, "shard": args.shard }),
        resume: false,
        record: None,
        no_progress: args.no_progress,
    };
    let finish = |x: Executed, side: &str| -> Result<(Store, i64)> {
        match x.fatal {
            Some(Error::Interrupted) => Err(Error::Interrupted),
            Some(e) if x.status == "failed" => Err(e),
            _ if x.status == "stopped-budget" => {
                Err(Error::usage(format!("the {side} run stopped early")))
            }
            _ => Ok((x.store, x.run_id)),
        }
    };
    let base_rows = if base_planned.is_empty() {
        Vec::new()
    } else {
        let x = execute(
            ctx,
            &reg,
            base_planned,
            &base_opts,
            Store::open(&path)?,
            &exec("baseline", &base_name),
        )?;
        let (store, id) = finish(x, "baseline")?;
        store.results(id)?
    };
    let outputs: HashMap<String, String> = base_rows
        .iter()
        .filter_map(|r| {
            Some((
                engine::plan::sample_key(&r.suite, &r.variant, &r.case_id, r.sample),
                r.output.clone()?,
            ))
        })
        .collect();
    let cand_opts = Options {
        pairwise_self: false,
        skip_unfit: true,
        baseline_outputs: Some(Arc::new(outputs)),
        ..base_opts.clone()
    };
    let x = execute(
        ctx,
        &reg,
        cand_planned,
        &cand_opts,
        Store::open(&path)?,
        &exec("candidate", &cand_name),
    )?;
    let (store, cand_run) = finish(x, "candidate")?;
    let cand_rows = store.results(cand_run)?;

    let (b, c) = (by_case(&base_rows), by_case(&cand_rows));
    let mut keys: Vec<&(String, String, String)> = b.keys().chain(c.keys()).collect();
    keys.sort();
    keys.dedup();
    let cluster_by = s.gate_cluster_by.clone();
    let pairs: Vec<Pair> = keys
        .into_iter()
        .map(|k| {
            let mp = min_pass.get(&k.0).copied().flatten();
            let meta = c
                .get(k)
                .or_else(|| b.get(k))
                .and_then(|rows| rows.first())
                .map(|r| r.metadata.clone());
            Pair {
                suite: k.0.clone(),
                variant: k.1.clone(),
                case: k.2.clone(),
                cluster: cluster_by.as_ref().and_then(|f| {
                    meta.as_ref()?
                        .get(f)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                }),
                baseline: b.get(k).map(|rows| side_of(rows, mp)),
                candidate: c.get(k).map(|rows| side_of(rows, mp)),
            }
        })
        .collect();
    let report = gate::decide_all(base_name, cand_name, pairs, thresholds, unchanged, policy);
    emit(ctx, &report, args.format, args.output.as_deref())?;
    Ok(report.exit_code())
}

/// Write the gate report, and the Markdown summary to `$GITHUB_STEP_SUMMARY` when set.
pub(crate) fn emit(
    ctx: &Ctx,
    report: &gate::GateReport,
    format: ReportFormat,
    output: Option<&std::path::Path>,
) -> Result<()> {
    let text = match format {
        ReportFormat::Text => gate::render::text(report),
        ReportFormat::Json => serde_json::to_string_pretty(report).expect("serialisable") + "\n",
        ReportFormat::Markdown => gate::render::markdown(report),
        ReportFormat::Junit => gate::render::junit(report),
    };
    match output {
        None => ctx.ui.out(&text)?,
        Some(path) => {
            crate::registry::write_atomic(path, text.as_bytes())?;
            ctx.ui.note(&format!(
                "gate {}: report written to {}",
                report.verdict.as_str(),
                path.display()
            ));
        }
    }
    if let Ok(summary) = std::env::var("GITHUB_STEP_SUMMARY") {
        if !summary.is_empty() {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&summary)
                .map_err(|e| Error::io(&summary, e))?;
            f.write_all(gate::render::markdown(report).as_bytes())
                .map_err(|e| Error::io(&summary, e))?;
        }
    }
    if report.verdict == gate::Verdict::Inconclusive {
        ctx.ui.note(if report.policy.strict { "gate INCONCLUSIVE: failing because of --strict" } else { "warning: gate INCONCLUSIVE: passing, but the data do not show the candidate is no worse" });
    }
    Ok(())
}
