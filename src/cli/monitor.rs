//! `llmops monitor [PROMPT...]`: drift in production calls, per prompt version and window.

use std::path::PathBuf;

use clap::ValueEnum;

use super::Ctx;
use crate::error::{Error, Outcome, Result};
use crate::monitor::drift::{Agg, Call, Checks, Monitor, Reference, Settings, Verdict};
use crate::monitor::render::{self, MonitorReport};
use crate::store::{SampleStatus, Store};

/// What windows are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RefArg {
    /// The eval run stored for the version's content: its release evidence.
    Evidence,
    /// The version's earlier windows, pooled.
    Previous,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
enum MonitorFormat {
    /// The trend table, for people.
    #[default]
    Text,
    /// Everything, for programs.
    Json,
    /// For an issue or a chat message.
    Markdown,
}

/// What to do when a prompt drifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnDrift {
    /// Move the label back to its previous version, as `llmops rollback` does.
    Rollback,
}

/// Detect drift in ingested production calls
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Scores the calls `llmops ingest` stored with the default assertions of the suites that
evaluate each prompt (those that need no reference answer, no judge and no program), cuts them
into windows per prompt version, and compares every window with the version's release evidence
(the eval run stored for its content) or with the version's earlier windows: pass rate, mean
score, per-metric pass rates, refusal rate, output length, tokens, cost and p95 latency.

The tests are anytime-valid confidence sequences with the false-alarm rate split over windows
and metrics, so checking every night does not raise the chance of a false DRIFT above
`--alpha` for a prompt. The verdict is the current window's: DRIFT (exit 1), OK, or
INCONCLUSIVE (too few calls, or nothing to compare with). Method: `llmops help production`.

`--on-drift rollback` moves the label (default `production`) of each drifting prompt back to
its previous version in a commit, as `llmops rollback` does, when the label points at the
version that drifted; it pushes only with `--push REMOTE`.

Examples:
  llmops monitor
  llmops monitor support-reply --window 1d --reference previous
  llmops monitor --since 2026-03-01 --format markdown --output drift.md
  llmops monitor --on-drift rollback --push origin")]
pub struct Args {
    /// Prompts to check [default: every prompt with calls].
    #[arg(value_name = "PROMPT")]
    prompts: Vec<String>,
    /// Window length: `7d`, `1d`, `12h`.
    #[arg(long, default_value = "7d", value_name = "DURATION", value_parser = parse_window)]
    window: i64,
    /// What each window is compared with.
    #[arg(long, value_enum, default_value = "evidence")]
    reference: RefArg,
    /// Only calls made from this date (`2026-03-01` or an RFC 3339 time).
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    since: Option<i64>,
    /// False-alarm rate per prompt, over every window and look.
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    alpha: f64,
    /// Fewer calls than this in the current window is INCONCLUSIVE (unless it drifted).
    #[arg(long, default_value_t = 30, value_name = "N")]
    min_samples: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: MonitorFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Act on DRIFT.
    #[arg(long, value_enum, value_name = "ACTION")]
    on_drift: Option<OnDrift>,
    /// The label `--on-drift rollback` moves.
    #[arg(long, default_value = "production", value_name = "NAME")]
    label: String,
    /// Push the rollback commit to this remote.
    #[arg(long, value_name = "REMOTE", requires = "on_drift")]
    push: Option<String>,
}

const MAX_WINDOW_MS: i64 = 366 * 86_400_000;

fn parse_window(s: &str) -> std::result::Result<i64, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = digits
        .parse()
        .map_err(|_| "expected a length such as `7d`, `1d` or `12h`".to_string())?;
    let ms = match unit {
        "d" => n.checked_mul(86_400_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err("expected a length such as `7d`, `1d` or `12h`".into()),
    };
    match ms {
        Some(ms) if ms > 0 && ms <= MAX_WINDOW_MS => Ok(ms),
        _ => Err("a window is between 1h and 366d".into()),
    }
}

fn parse_since(s: &str) -> std::result::Result<i64, String> {
    let s = s.trim();
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    crate::monitor::ingest::parse_rfc3339(&full)
        .ok_or_else(|| "expected a date such as `2026-03-01` or an RFC 3339 time".into())
}

fn parse_alpha(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(a) if a > 0.0 && a < 0.5 => Ok(a),
        _ => Err("expected a number above 0 and below 0.5, such as 0.05".into()),
    }
}

fn window_text(ms: i64) -> String {
    if ms % 86_400_000 == 0 {
        format!("{}d", ms / 86_400_000)
    } else {
        format!("{}h", ms / 3_600_000)
    }
}

/// Run `llmops monitor`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let reg = ctx.registry(None)?;
    let db = reg.root.join(&reg.settings.cache_path);
    if !db.exists() {
        return Err(Error::Nothing(
            "no production calls stored; read some with `llmops ingest FILE`".into(),
        ));
    }
    let store = Store::open(&db)?;
    let names = if args.prompts.is_empty() {
        store.call_prompts()?
    } else {
        args.prompts.clone()
    };
    if names.is_empty() {
        return Err(Error::Nothing(
            "no production calls stored; read some with `llmops ingest FILE`".into(),
        ));
    }
    for n in &names {
        if !crate::paths::valid_name(n) {
            return Err(Error::usage(format!("`{n}` is not a prompt name")));
        }
    }
    let (suites, broken) = reg.suites()?;
    for e in &broken {
        ctx.ui.error(e);
    }
    let res = ctx.resolver()?;
    let lock = res.lock()?;
    let reference = match args.reference {
        RefArg::Evidence => Reference::Evidence,
        RefArg::Previous => Reference::Previous,
    };
    let settings = Settings {
        window_ms: args.window,
        reference,
        since_ms: args.since.unwrap_or(i64::MIN),
        alpha: args.alpha,
        min_samples: args.min_samples,
    };
    let mut prompts = Vec::new();
    for name in &names {
        let checks = Checks::for_prompt(name, &suites);
        let mut m = Monitor::new(settings.clone(), &checks);
        store.visit_calls(name, settings.since_ms, |c| {
            let tokens = match (c.input_tokens, c.output_tokens) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            };
            m.add(
                c.ts_ms,
                c.version,
                &Call {
                    output: &c.output,
                    finish_reason: c.finish_reason.as_deref(),
                    latency_ms: c.latency_ms,
                    cost_usd: c.cost_usd,
                    tokens,
                },
            );
            Ok(())
        })?;
        let mut failure = None;
        let report = m.finish(name, |version| {
            let entry = lock.get(name, version)?;
            let evidence = (|| -> Result<Option<(Agg, i64)>> {
                let Some(run) = store.latest_run_for_prompt(name, &entry.content_hash)? else {
                    return Ok(None);
                };
                let mut agg = Agg::default();
                for r in store.results(run)? {
                    if r.prompt != *name
                        || r.prompt_hash != entry.content_hash
                        || r.status == SampleStatus::Error
                    {
                        continue;
                    }
                    let Some(out) = &r.output else { continue };
                    // A replayed or echoed answer took no time: its latency says nothing
                    // about production.
                    let offline = reg.settings.providers.get(&r.provider).is_some_and(|p| {
                        matches!(
                            p.kind,
                            crate::config::ProviderKind::Replay | crate::config::ProviderKind::Echo
                        )
                    });
                    agg.add(&checks.observe(&Call {
                        output: out,
                        finish_reason: r.finish_reason.as_deref(),
                        latency_ms: r.latency_ms.filter(|_| !offline),
                        cost_usd: r.cost_usd,
                        tokens: Some(r.input_tokens + r.output_tokens),
                    }));
                }
                Ok((agg.n() > 0).then_some((agg, run)))
            })();
            match evidence {
                Ok(e) => e,
                Err(e) => {
                    failure = Some(e);
                    None
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        prompts.push(report);
    }
    let report = MonitorReport {
        schema: render::SCHEMA,
        window: window_text(args.window),
        reference,
        since: args
            .since
            .map(|ms| crate::store::rfc3339(ms.div_euclid(1000), 0)),
        alpha: args.alpha,
        prompts,
    };
    let text = match args.format {
        MonitorFormat::Text => render::text(&report, ctx.ui.layout()),
        MonitorFormat::Markdown => render::markdown(&report),
        MonitorFormat::Json => serde_json::to_string_pretty(&report).expect("serialisable") + "\n",
    };
    match args
        .output
        .as_deref()
        .filter(|p| !crate::fsio::is_stdout(p))
    {
        None => ctx.ui.out(&text)?,
        Some(path) => {
            crate::fsio::write(path, crate::redact::scrub(&text).as_bytes())?;
            ctx.ui
                .note(&format!("report written to {}", path.display()));
        }
    }
    let drifting: Vec<_> = report
        .prompts
        .iter()
        .filter(|p| p.verdict == Verdict::Drift)
        .collect();
    if drifting.is_empty() {
        return Ok(Outcome::Success);
    }
    if args.on_drift == Some(OnDrift::Rollback) {
        let mut outcome = Outcome::QualityFailed;
        for p in &drifting {
            let current = res
                .label(&args.label)?
                .and_then(|l| l.targets.get(&p.prompt).copied());
            if current != Some(p.version) {
                ctx.ui.note(&format!(
                    "{}: not rolled back: label `{}` points at {}, not at v{} which drifted",
                    p.prompt,
                    args.label,
                    current.map_or("no version".to_string(), |v| format!("v{v}")),
                    p.version
                ));
                continue;
            }
            let reason = format!("llmops monitor: {}", p.why);
            let moved =
                crate::registry::rollback_label(&res, &p.prompt, &args.label, None, &reason)?;
            let commit = moved.commit.as_deref().unwrap_or_default();
            ctx.ui.note(&format!(
                "{}: rolled back: {} v{} -> v{} in commit {} on {}",
                p.prompt,
                moved.label,
                moved.from.unwrap_or_default(),
                moved.to,
                &commit[..7.min(commit.len())],
                moved.branch.as_deref().unwrap_or_default()
            ));
            if let Some(remote) = &args.push {
                let branch = moved.branch.clone().unwrap_or_default();
                if let Err(e) = crate::registry::push(&res, remote, &branch) {
                    ctx.ui.error(&e);
                    ctx.ui.error(&Error::usage_help(
                        format!("the rollback is committed on `{branch}` but was not pushed to `{remote}`"),
                        crate::registry::push_help(&res, remote, &branch),
                    ));
                    outcome = Outcome::ProviderFailed;
                } else {
                    ctx.ui.note(&format!("pushed `{branch}` to `{remote}`"));
                }
            }
        }
        return Ok(outcome);
    }
    Ok(Outcome::QualityFailed)
}
