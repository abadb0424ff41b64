//! `llmops cache stats|explain|clear`: what the response cache holds and why a lookup missed.

use serde_json::{json, Value};

use super::{Ctx, Format};
use crate::engine::{self, Options};
use crate::error::{Error, Outcome, Result};
use crate::store::Store;

/// Inspect or clear the response cache.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Cached responses by provider and model, and hit rates of recent runs.
    #[command(after_help = "Examples:\n  llmops cache stats\n  llmops cache stats --format json")]
    Stats {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Why a case's lookup hits or misses: which part of the fingerprint changed.
    #[command(
        after_help = "Compares each request the case would send now with the request of its newest stored\nresult, part by part: provider, model, parameters, messages, sample.\n\nExample:\n  llmops cache explain refund-late"
    )]
    Explain {
        /// The case id.
        case: String,
        /// Only in this suite or prompt.
        #[arg(long, value_name = "NAME")]
        suite: Option<String>,
    },
    /// Delete every cached response (runs and results stay).
    #[command(
        after_help = "Example:\n  llmops cache clear            the next `llmops eval` calls the providers again"
    )]
    Clear,
}

/// Run `llmops cache ...`.
pub fn run(ctx: &Ctx, cmd: Command) -> Result<Outcome> {
    let reg = ctx.registry(None)?;
    let store = Store::open(&reg.root.join(&reg.settings.cache_path))?;
    match cmd {
        Command::Stats { format } => {
            let s = store.cache_stats()?;
            let mut recent = Vec::new();
            for r in store.runs(10)? {
                let (n, cached) = store.hit_counts(r.id)?;
                recent.push(json!({"run": r.id, "samples": n, "cached": cached, "hit_rate": if n > 0 { cached as f64 / n as f64 } else { 0.0 }}));
            }
            if format == Format::Json {
                ctx.ui.json(&json!({"stats": s, "recent_runs": recent}))?;
                return Ok(Outcome::Success);
            }
            let mut out = format!(
                "{}: {} cached response(s), {:.1} KiB of JSON, file {:.1} KiB\n",
                store.path().display(),
                s.responses,
                s.bytes as f64 / 1024.0,
                s.file_bytes as f64 / 1024.0
            );
            for (p, m, n) in &s.by_model {
                out.push_str(&format!("  {p:<16} {m:<28} {n}\n"));
            }
            if !recent.is_empty() {
                out.push_str("recent runs (hit rate = samples answered from the cache):\n");
                for r in &recent {
                    out.push_str(&format!(
                        "  run {:<5} {:>6} samples  {:>5.1}%\n",
                        r["run"],
                        r["samples"],
                        r["hit_rate"].as_f64().unwrap_or(0.0) * 100.0
                    ));
                }
            }
            ctx.ui.out(&out)?;
            Ok(Outcome::Success)
        }
        Command::Clear => {
            let n = store.clear_cache(None)?;
            ctx.ui.note(&format!("deleted {n} cached response(s)"));
            Ok(Outcome::Success)
        }
        Command::Explain { case, suite } => explain(ctx, &reg, &store, &case, suite),
    }
}

fn diff_parts(now: &Value, then: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if now["model"] != then["model"] {
        out.push(format!("model: {} -> {}", then["model"], now["model"]));
    }
    if now["sample"] != then["sample"] {
        out.push(format!("sample: {} -> {}", then["sample"], now["sample"]));
    }
    let (pn, pt) = (
        now["params"].as_object().cloned().unwrap_or_default(),
        then["params"].as_object().cloned().unwrap_or_default(),
    );
    let mut keys: Vec<&String> = pn.keys().chain(pt.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if pn.get(k) != pt.get(k) {
            out.push(format!(
                "parameter {k}: {} -> {}",
                pt.get(k).map_or("unset".into(), Value::to_string),
                pn.get(k).map_or("unset".into(), Value::to_string)
            ));
        }
    }
    let (mn, mt) = (
        now["messages"].as_array().cloned().unwrap_or_default(),
        then["messages"].as_array().cloned().unwrap_or_default(),
    );
    if mn.len() != mt.len() {
        out.push(format!("messages: {} -> {} messages", mt.len(), mn.len()));
    }
    for (i, (a, b)) in mn.iter().zip(&mt).enumerate() {
        if a != b {
            let (ta, tb) = (
                a["content"].as_str().unwrap_or(""),
                b["content"].as_str().unwrap_or(""),
            );
            let line = ta
                .lines()
                .zip(tb.lines())
                .position(|(x, y)| x != y)
                .unwrap_or_else(|| ta.lines().count().min(tb.lines().count()));
            out.push(format!(
                "message {} ({}): text differs from line {}: `{}` was `{}`",
                i + 1,
                a["role"].as_str().unwrap_or("?"),
                line + 1,
                crate::text::one_line(ta.lines().nth(line).unwrap_or(""), 60),
                crate::text::one_line(tb.lines().nth(line).unwrap_or(""), 60)
            ));
        }
    }
    out
}

fn explain(
    ctx: &Ctx,
    reg: &crate::registry::Registry,
    store: &Store,
    case: &str,
    suite: Option<String>,
) -> Result<Outcome> {
    let opts = Options {
        select: engine::Selection {
            selectors: suite.into_iter().collect(),
            filter: Some(format!("^{}$", regex::escape(case))),
            ..Default::default()
        },
        cache: engine::CachePolicy {
            enabled: true,
            refresh: false,
        },
        ..Options::default()
    };
    let planned = engine::plan::select(reg, &opts)?;
    let mut lines = Vec::new();
    let mut found = false;
    let mut lookup = |fp: &str| store.cached(fp);
    let mut jobs = Vec::new();
    engine::plan::plan(
        reg,
        &planned,
        &opts,
        &Default::default(),
        &mut lookup,
        &mut |j| {
            if j.case.id == case {
                jobs.push(j);
            }
            true
        },
    )?;
    for j in jobs {
        found = true;
        let head = format!(
            "{} / {} / {} sample {} ({} {})",
            j.suite, j.variant, j.case.id, j.sample, j.provider, j.request.model
        );
        if j.cached.is_some() {
            lines.push(format!(
                "HIT   {head}\n      fingerprint {}",
                &j.fingerprint[..16]
            ));
            continue;
        }
        let now = serde_json::to_value(&j.request).expect("serialisable");
        let why = match store.latest_result(&j.suite, &j.variant, &j.case.id, j.sample)? {
            None => vec!["never run before".to_string()],
            Some((run, fp)) => match store.cached_request(&fp)? {
                None => vec![format!("run {run} answered it, but that answer is not cached (an error, the `echo`/`replay` provider, `--no-cache`, or `cache clear`)")],
                Some(then) => {
                    let parts = diff_parts(&now, &then);
                    if parts.is_empty() {
                        vec![format!("the request is the same as in run {run}, but the provider differs (fingerprints include the provider name)")]
                    } else {
                        let mut v = vec![format!("differs from run {run}:")];
                        v.extend(parts.into_iter().map(|p| format!("  {p}")));
                        v
                    }
                }
            },
        };
        lines.push(format!("MISS  {head}\n      {}", why.join("\n      ")));
    }
    if !found {
        return Err(Error::usage_help(
            format!("no case `{case}` in the selected suites"),
            "`llmops render PROMPT --case ID` takes the same ids",
        ));
    }
    ctx.ui.out(&(lines.join("\n") + "\n"))?;
    Ok(Outcome::Success)
}
