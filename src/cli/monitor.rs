//! `llmops monitor [PROMPT...]`: drift in production calls, per prompt version and window.

use std::path::PathBuf;

use clap::ValueEnum;

use super::Ctx;
use crate::error::{Error, Outcome, Result};
use std::sync::{Arc, Mutex};

use crate::judge::{Graded, Judge, JudgeInput};
use crate::monitor::drift::{
    Agg, Call, Checks, Monitor, Observation, Reference, Settings, Verdict,
};
use crate::monitor::render::{self, JudgeSummary, MonitorReport};
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

`--judge-sample RATE` also grades a share of the calls with the judge on the suites'
model-graded assertions (`llm-rubric`, `g-eval`, ...). The sample is a hash of each call's key
and `--judge-seed`, so every run picks the same calls and re-runs answer from the judge cache.
Judged metrics are compared on the sampled calls only. `--judge-budget USD` and
`--judge-max-calls N` stop sampling (newest calls first) before the judge's estimated spend or
its requests would pass them, and the report says so.

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
  llmops monitor --judge-sample 0.05 --judge-budget 2
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
    /// Only calls made from this date (`2026-03-01`, `2026-03-01 12:00` or an RFC 3339 time;
    /// UTC unless an offset is given).
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    since: Option<i64>,
    /// False-alarm rate per prompt, over every window and look.
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    alpha: f64,
    /// Fewer calls than this in the current window is INCONCLUSIVE (unless it drifted).
    #[arg(long, default_value_t = 30, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
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
    /// Grade this share of calls (above 0, at most 1) with the judge (`judge:` in
    /// llmops.yaml) on the suites' model-graded assertions [default: the judge is not run].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    judge_sample: Option<f64>,
    /// Stop sampling before the judge's estimated spend in this run would pass USD.
    #[arg(long, value_name = "USD", value_parser = parse_budget, requires = "judge_sample")]
    judge_budget: Option<f64>,
    /// Stop sampling before more than N requests go to the judge in this run.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = parse_max_calls, requires = "judge_sample")]
    judge_max_calls: u64,
    /// Seed of the sample: the same seed picks the same calls on every run.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "judge_sample")]
    judge_seed: u64,
}

fn parse_rate(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1.0 => Ok(r),
        _ => Err("expected a share above 0 and at most 1, such as 0.1 for 10% of calls".into()),
    }
}

fn parse_budget(s: &str) -> std::result::Result<f64, String> {
    match s.trim().trim_start_matches('$').parse::<f64>() {
        Ok(b) if b > 0.0 && b.is_finite() && b <= 1e6 => Ok(b),
        _ => Err("expected an amount in USD above 0, such as 0.50".into()),
    }
}

/// The most judge requests one monitor run may send.
const MAX_JUDGE_CALLS: u64 = 1_000_000;

fn parse_max_calls(s: &str) -> std::result::Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_JUDGE_CALLS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number from 1 to {MAX_JUDGE_CALLS}"
        )),
    }
}

/// Whether the call `key` of `prompt` is in the judge's sample: a hash of the seed and the
/// call's key below `rate` of the hash space. The same calls on every run, so re-running
/// asks the judge the same questions and its verdicts come from the cache.
pub fn sampled(seed: u64, prompt: &str, key: &str, rate: f64) -> bool {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(prompt.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    // 53 bits: exact in an f64.
    ((u64::from_be_bytes(b) >> 11) as f64) < rate * (1u64 << 53) as f64
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
    // The dates `llmops log --at` takes, read the same way (UTC unless an offset is given).
    crate::text::parse_moment(s)
        .map(|secs| secs.saturating_mul(1000))
        .map_err(|_| {
            "expected a date such as `2026-03-01`, `2026-03-01 12:00` or an RFC 3339 time (UTC unless an offset is given)".into()
        })
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
    let store = Arc::new(Mutex::new(Store::open(&db)?));
    let lock_store = || {
        store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let names = if args.prompts.is_empty() {
        lock_store().call_prompts()?
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
    let judging = args.judge_sample.is_some();
    let all_checks: Vec<Checks> = names
        .iter()
        .map(|n| Checks::for_prompt(n, &suites, judging))
        .collect();
    let mut sampler = match args.judge_sample {
        Some(rate) if all_checks.iter().any(|c| !c.judged.is_empty()) => {
            Some(Sampler::new(&reg, store.clone(), &all_checks, rate, &args)?)
        }
        _ => None,
    };
    let mut summary = args.judge_sample.map(|rate| JudgeSummary {
        sample_rate: rate,
        seed: args.judge_seed,
        budget_usd: args.judge_budget,
        max_calls: args.judge_max_calls,
        ..JudgeSummary::default()
    });
    let mut prompts = Vec::new();
    for (name, checks) in names.iter().zip(&all_checks) {
        let mut m = Monitor::new(settings.clone(), checks);
        let judge_here = sampler.as_ref().filter(|_| !checks.judged.is_empty());
        // With the judge, a sampled call's observation waits (with its output and vars) until
        // the sample is graded, newest first so a cap spends on the current window first; the
        // other calls stream through.
        let mut kept: Vec<(i64, u32, Observation)> = Vec::new();
        let mut pending: Vec<(usize, String, serde_json::Value)> = Vec::new();
        lock_store().visit_calls(name, settings.since_ms, |c| {
            let tokens = match (c.input_tokens, c.output_tokens) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            };
            let call = Call {
                output: &c.output,
                finish_reason: c.finish_reason.as_deref(),
                latency_ms: c.latency_ms,
                cost_usd: c.cost_usd,
                tokens,
            };
            match judge_here {
                Some(j)
                    if c.ts_ms >= settings.since_ms && sampled(j.seed, name, &c.key, j.rate) =>
                {
                    let o = checks.observe(&call);
                    // The version's windows start at its first call, sampled or not.
                    m.start_version(c.ts_ms, c.version);
                    pending.push((kept.len(), c.output, c.vars));
                    kept.push((c.ts_ms, c.version, o));
                }
                _ => m.add(c.ts_ms, c.version, &call),
            }
            Ok(())
        })?;
        if let (Some(j), Some(sum)) = (sampler.as_mut(), summary.as_mut()) {
            sum.sampled += pending.len() as u64;
            // Newest first, in waves of concurrent requests, each call's worst case reserved
            // against the caps before it is sent.
            let mut queue = pending.into_iter().rev().peekable();
            // Each version's template, to show the judge the request the call answered.
            let mut templates: std::collections::HashMap<u32, Option<crate::template::Prompt>> =
                std::collections::HashMap::new();
            while sum.stopped.is_none() {
                let mut wave = Vec::new();
                let (mut requests, mut usd) = (0, 0.0);
                while wave.len() < WAVE {
                    let Some((_, output, vars)) = queue.peek() else {
                        break;
                    };
                    let vars = vars.as_object().cloned().unwrap_or_default();
                    let (r, u) = j.estimate(checks, output, &vars);
                    if let Err(why) = j.fits(requests + r, usd + u, sum) {
                        if wave.is_empty() {
                            sum.stopped = Some(why);
                        }
                        break;
                    }
                    requests += r;
                    usd += u;
                    let (i, output, _) = queue.next().expect("peeked");
                    let version = kept[i].1;
                    let template = templates.entry(version).or_insert_with(|| {
                        lock.get(name, version)
                            .and_then(|e| res.load_version(e).ok())
                    });
                    // Calls whose vars do not render the template go without the request.
                    let messages = template
                        .as_ref()
                        .and_then(|t| {
                            let full = crate::template::check_vars(&t.inputs, &vars).ok()?;
                            t.render(&reg.settings.prompts_dir, &full).ok()
                        })
                        .unwrap_or_default();
                    sum.without_request += u64::from(messages.is_empty());
                    wave.push((i, output, vars, messages));
                }
                if wave.is_empty() {
                    break;
                }
                for (i, verdicts) in j.grade_wave(checks, wave, sum) {
                    sum.judged += 1;
                    checks.add_judged(&mut kept[i].2, &verdicts);
                }
            }
        }
        for (ts, version, o) in &kept {
            m.add_observation(*ts, *version, o);
        }
        drop(kept);
        let mut failure = None;
        let report = m.finish(name, |version| {
            let entry = lock.get(name, version)?;
            let evidence = (|| -> Result<Option<(Agg, i64)>> {
                let store = lock_store();
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
                    let mut o = checks.observe(&Call {
                        output: out,
                        finish_reason: r.finish_reason.as_deref(),
                        latency_ms: r.latency_ms.filter(|_| !offline),
                        cost_usd: r.cost_usd,
                        tokens: Some(r.input_tokens + r.output_tokens),
                    });
                    if judging {
                        // The evidence run's own judge verdicts, by assertion and metric.
                        let mut groups = vec![None; checks.judged_groups.len()];
                        for sc in r.scores.iter().filter(|sc| !sc.error) {
                            if let Some(slot) = checks
                                .judged_group(&sc.kind, sc.metric.as_deref())
                                .and_then(|g| groups.get_mut(g))
                            {
                                *slot = Some(slot.unwrap_or(true) && sc.pass);
                            }
                        }
                        if groups.iter().any(Option::is_some) {
                            o.judged = Some(groups);
                        }
                    }
                    agg.add(&o);
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
    if let Some(j) = sampler.take() {
        if let Some(sum) = summary.as_mut() {
            sum.calls = j.judge.calls();
            sum.cached = j.judge.cached();
            sum.offline = j.judge.offline();
        }
        let writer = Arc::try_unwrap(j.writer)
            .map_err(|_| Error::Internal("the judge's cache writer is still shared".into()))?;
        writer
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .finish()?;
    }
    let report = MonitorReport {
        schema: render::SCHEMA,
        window: window_text(args.window),
        reference,
        since: args
            .since
            .map(|ms| crate::store::rfc3339(ms.div_euclid(1000), 0)),
        alpha: args.alpha,
        judge: summary,
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

/// The judge on sampled production calls, within a budget and a cap on requests.
struct Sampler {
    judge: Arc<Judge>,
    runtime: tokio::runtime::Runtime,
    rate: f64,
    seed: u64,
    budget: Option<f64>,
    max_calls: u64,
    /// (model, priced) of each judge that grades an assertion (a panel has several).
    models: Vec<String>,
    pricing: indexmap::IndexMap<String, crate::config::Price>,
    /// Writes the judge's answers to the cache, as `eval` does.
    writer: Arc<Mutex<crate::store::writer::Writer>>,
}

impl Sampler {
    fn new(
        reg: &crate::registry::Registry,
        store: Arc<Mutex<Store>>,
        checks: &[Checks],
        rate: f64,
        args: &Args,
    ) -> Result<Sampler> {
        let s = &reg.settings;
        let fix = "set `judge: { provider, model }` in llmops.yaml (docs/assertions.md)";
        let mut names: Vec<String> = s.judge_panel.iter().map(|m| m.provider.clone()).collect();
        if s.judge_panel.is_empty() {
            match (&s.judge_provider, &s.judge_model) {
                (Some(p), Some(_)) => names.push(p.clone()),
                _ => {
                    return Err(Error::usage_help(
                        "`--judge-sample` needs a judge, and none is configured",
                        fix,
                    ))
                }
            }
        }
        names.extend(
            checks
                .iter()
                .flat_map(|c| &c.judged)
                .filter_map(|a| a.provider.clone()),
        );
        names.sort();
        names.dedup();
        let env = |k: &str| std::env::var(k).ok();
        let providers = Arc::new(crate::provider::Providers::build(
            s, &reg.root, &names, &env,
        )?);
        for n in &names {
            if let Some(e) = providers.missing_key(n) {
                return Err(e);
            }
        }
        let models: Vec<String> = if s.judge_panel.is_empty() {
            s.judge_model.iter().cloned().collect()
        } else {
            s.judge_panel.iter().map(|m| m.model.clone()).collect()
        };
        if args.judge_budget.is_some() {
            if let Some(m) = models
                .iter()
                .find(|m| crate::provider::pricing::price(m, &s.pricing).is_none())
            {
                return Err(Error::usage_help(
                    format!("`--judge-budget` needs the judge model's price, and `{m}` has none"),
                    format!("add `pricing: {{ {m}: {{ input: USD, output: USD }} }}` (per million tokens) to llmops.yaml"),
                ));
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        let writer = crate::store::writer::Writer::start(
            &store
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )?;
        Ok(Sampler {
            writer: Arc::new(Mutex::new(writer)),
            judge: Arc::new(Judge::new(s, providers, store)),
            runtime,
            rate,
            seed: args.judge_seed,
            budget: args.judge_budget,
            max_calls: args.judge_max_calls,
            models,
            pricing: s.pricing.clone(),
        })
    }

    /// Requests and the most they may cost for one call: per judged assertion and judge,
    /// the verdict request and its one repair request, each priced with a token per byte of
    /// the judge prompt and the output (a token is never shorter than a byte) and a full
    /// verdict. An upper bound, so the budget is never passed; only the last call's slack
    /// goes unspent, as spend is counted from what each call really cost.
    fn estimate(
        &self,
        checks: &Checks,
        output: &str,
        vars: &serde_json::Map<String, serde_json::Value>,
    ) -> (u64, f64) {
        let mut requests = 0;
        let mut usd = 0.0;
        for a in &checks.judged {
            // `estimate_input_tokens` is the prompt's characters / 4 plus the answer.
            let prompt_bytes = crate::judge::estimate_input_tokens(a, "", vars, 0) * 4 + 4;
            // A rubric template can hold any var: count them all.
            let vars_bytes = serde_json::Value::Object(vars.clone()).to_string().len() as u64;
            let input = prompt_bytes + vars_bytes + output.len() as u64 + 64;
            for m in &self.models {
                requests += 1;
                let one = crate::provider::pricing::cost(
                    m,
                    input,
                    crate::judge::MAX_VERDICT_TOKENS,
                    &self.pricing,
                )
                .unwrap_or(0.0);
                // The repair request carries the first answer too.
                let repair = crate::provider::pricing::cost(
                    m,
                    input + crate::judge::MAX_VERDICT_TOKENS + 256,
                    crate::judge::MAX_VERDICT_TOKENS,
                    &self.pricing,
                )
                .unwrap_or(0.0);
                usd += one + repair;
            }
        }
        (requests, usd)
    }

    /// Whether `requests` more judge requests costing at most `usd` stay within the caps;
    /// else why not.
    fn fits(&self, requests: u64, usd: f64, sum: &JudgeSummary) -> std::result::Result<(), String> {
        if self.judge.calls() + requests > self.max_calls {
            return Err(format!(
                "the next call would pass {} judge request(s) (`--judge-max-calls`)",
                self.max_calls
            ));
        }
        match self.budget {
            Some(b) if sum.cost_usd + usd > b => Err(format!(
                "the next call (up to ${usd:.4}) would pass the ${b:.4} budget (`--judge-budget`), ${:.4} spent",
                sum.cost_usd
            )),
            _ => Ok(()),
        }
    }

    /// Grade sampled calls concurrently: per call, per judged assertion, pass (a SUSPECT
    /// verdict fails) or None (ERROR).
    fn grade_wave(
        &self,
        checks: &Checks,
        wave: Vec<Sampled>,
        sum: &mut JudgeSummary,
    ) -> Vec<(usize, Vec<Option<bool>>)> {
        let assertions = Arc::new(checks.judged.clone());
        let graded = self.runtime.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (k, (i, output, vars, messages)) in wave.into_iter().enumerate() {
                let (judge, writer, assertions) =
                    (self.judge.clone(), self.writer.clone(), assertions.clone());
                set.spawn(async move {
                    let input = JudgeInput {
                        assertions: &assertions,
                        messages: &messages,
                        vars: &vars,
                    };
                    let emit = |a: crate::provider::Answered| {
                        if a.cacheable {
                            writer
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .send(crate::store::writer::Op::cache(&a));
                        }
                    };
                    (
                        k,
                        i,
                        judge.grade_all(&input, &output, None, false, emit).await,
                    )
                });
            }
            let mut out = Vec::new();
            while let Some(r) = set.join_next().await {
                if let Ok(r) = r {
                    out.push(r);
                }
            }
            // In the order asked, so the report's first ERROR is the newest call's.
            out.sort_by_key(|(k, _, _)| *k);
            out
        });
        let mut all = Vec::with_capacity(graded.len());
        for (_, i, graded) in graded {
            let mut out = Vec::with_capacity(graded.len());
            for g in &graded {
                let Some(g) = g else {
                    out.push(None);
                    continue;
                };
                sum.cost_usd += cost_of(g);
                if g.suspect.is_some() {
                    sum.suspect += 1;
                }
                if g.verdict.error {
                    sum.errors += 1;
                    if sum.first_error.is_none() {
                        sum.first_error = Some(g.verdict.reason.clone());
                    }
                    out.push(None);
                } else {
                    out.push(Some(g.verdict.pass));
                }
            }
            all.push((i, out));
        }
        all
    }
}

/// A sampled call to grade: its index among the prompt's calls, output, vars and request.
type Sampled = (
    usize,
    String,
    serde_json::Map<String, serde_json::Value>,
    Vec<crate::template::Message>,
);

/// Sampled calls graded at once (the judge provider's own `concurrency` and rate limits
/// still apply to the requests).
const WAVE: usize = 16;

fn cost_of(g: &Graded) -> f64 {
    g.cost_usd + g.children.iter().flatten().map(cost_of).sum::<f64>()
}
