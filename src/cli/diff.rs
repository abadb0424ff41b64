//! `llmops diff [PROMPT] A B`: what changed between two references, for code review.

use serde::Serialize;
use serde_json::Value;

use super::{evidence::Evidence, Ctx};
use crate::error::{Error, Result};
use crate::registry::{EvalSummary, Origin, PromptRef, Reference, Resolved, Resolver};
use crate::template::diff::{diff, FieldChange, PromptDiff, Status};
use crate::ui::Style;

/// Output format for `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum DiffFormat {
    /// For people; coloured on a terminal.
    #[default]
    Text,
    /// For a pull-request comment.
    Markdown,
    /// For programs.
    Json,
}

/// Compare prompts between two references
#[derive(Debug, clap::Args)]
#[command(
    override_usage = "llmops diff [OPTIONS] [PROMPT] <A> <B>",
    after_help = "\
A and B are any reference: `v3`, `PROMPT@v3`, a label (`production`), a git revision (`main`,
`HEAD~2`, a sha) or `worktree` (the files on disk). `vN` and label names are tried before git
revisions. With PROMPT (or `PROMPT@REF` on either side) one prompt is compared; without, every
prompt that differs between A and B.

Shows, per message, a unified diff of the template; model and parameter changes by key; input
changes marked breaking (new required input, removed input, type change, optional ->
required) or compatible (new optional input, default or description change); output schema
changes by JSON path; and eval deltas when evidence exists for both sides (`--eval` runs the
suites for a side that has none).

Examples:
  llmops diff support-reply v3 v4
  llmops diff support-reply@production worktree
  llmops diff main worktree --format markdown > comment.md
  llmops diff HEAD~1 HEAD --format json
  llmops diff support-reply production worktree --eval"
)]
pub struct Args {
    /// The prompt to compare; leave it out to compare every prompt (then this is A).
    #[arg(value_name = "PROMPT")]
    first: String,
    /// Reference A, the old side (B when PROMPT is left out).
    #[arg(value_name = "A")]
    second: String,
    /// Reference B, the new side.
    #[arg(value_name = "B")]
    third: Option<String>,
    /// Run the suites of each side that has no eval evidence yet (cached answers are reused),
    /// so the eval deltas are always shown.
    #[arg(long)]
    eval: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: DiffFormat,
}

/// Evaluate `prompt` (a version of `name`) over the working tree's suites for it, so the
/// store has evidence for its exact content.
fn run_missing_eval(ctx: &Ctx, name: &str, prompt: &crate::template::Prompt) -> Result<()> {
    let reg = ctx.registry(None)?;
    let opts = crate::engine::Options {
        selectors: vec![name.to_string()],
        use_cache: reg.settings.cache_enabled,
        skip_unfit: true,
        ..Default::default()
    };
    let prompt = std::sync::Arc::new(prompt.clone());
    let source = |n: &str| -> Result<Option<std::sync::Arc<crate::template::Prompt>>> {
        Ok((n == name).then(|| prompt.clone()))
    };
    let planned = match crate::engine::plan::select_with(&reg, &opts, Some(&source)) {
        Ok(p) => p,
        Err(Error::Nothing(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let store = crate::store::Store::open(&reg.root.join(&reg.settings.cache_path))?;
    let exec = super::eval::Exec {
        command: format!("diff --eval {name} ({})", &prompt.content_hash()[..12]),
        settings: serde_json::json!({ "diff": name }),
        resume: false,
        record: None,
        no_progress: false,
    };
    let done = super::eval::execute(ctx, &reg, planned, &opts, store, &exec)?;
    match done.fatal {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The eval evidence on both sides and its deltas (B minus A).
#[derive(Debug, Clone, Serialize)]
struct EvalDelta {
    a: Option<EvalSummary>,
    b: Option<EvalSummary>,
    score: Option<f64>,
    pass_rate: Option<f64>,
    cost_usd: Option<f64>,
    latency_p50_ms: Option<f64>,
}

#[derive(Serialize)]
struct Entry {
    #[serde(flatten)]
    diff: PromptDiff,
    a: Option<Origin>,
    b: Option<Origin>,
    eval: Option<EvalDelta>,
}

#[derive(Serialize)]
struct Report {
    a: String,
    b: String,
    prompts: Vec<Entry>,
}

struct Side {
    prompt: Option<String>,
    reference: String,
}

fn side(text: &str) -> Result<Side> {
    // `NAME@REF` when NAME is a valid prompt name; `HEAD@{1}` and friends stay revisions.
    if let Some((name, rest)) = text.split_once('@') {
        if crate::template::valid_name(name) && !rest.is_empty() {
            let r = PromptRef::parse(text)?;
            return Ok(Side {
                prompt: Some(r.name),
                reference: r.rev.unwrap_or_default(),
            });
        }
    }
    Ok(Side {
        prompt: None,
        reference: text.to_string(),
    })
}

fn evidence(
    ev: &Evidence,
    res: &Resolver,
    name: &str,
    found: Option<&Resolved>,
) -> Result<Option<EvalSummary>> {
    let Some(found) = found else { return Ok(None) };
    let hash = found.prompt.content_hash();
    if let Some(e) = ev.summary_for(&found.prompt, &hash)? {
        return Ok(Some(e));
    }
    // The evidence recorded at release, for content that is a released version.
    Ok(res
        .lock()?
        .prompt(name)
        .and_then(|p| p.by_hash(&hash))
        .and_then(|v| v.eval.clone()))
}

fn delta(a: Option<EvalSummary>, b: Option<EvalSummary>) -> Option<EvalDelta> {
    if a.is_none() && b.is_none() {
        return None;
    }
    let d = |f: fn(&EvalSummary) -> Option<f64>| match (&a, &b) {
        (Some(x), Some(y)) => Some(f(y)? - f(x)?),
        _ => None,
    };
    Some(EvalDelta {
        score: d(|e| Some(e.score)),
        pass_rate: d(|e| Some(e.pass_rate)),
        cost_usd: d(|e| e.cost_usd),
        latency_p50_ms: d(|e| e.latency_p50_ms),
        a,
        b,
    })
}

/// Run `llmops diff`.
pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let (fixed, a_text, b_text) = match &args.third {
        Some(b) => (Some(args.first.clone()), args.second.as_str(), b.as_str()),
        None => (None, args.first.as_str(), args.second.as_str()),
    };
    let (sa, sb) = (side(a_text)?, side(b_text)?);
    let res = ctx.resolver()?;
    let ra = res.classify(&sa.reference);
    let rb = res.classify(&sb.reference);
    let pair = match (&fixed, &sa.prompt, &sb.prompt) {
        (Some(p), _, _) => Some((
            sa.prompt.clone().unwrap_or(p.clone()),
            sb.prompt.clone().unwrap_or(p.clone()),
        )),
        (None, Some(a), Some(b)) => Some((a.clone(), b.clone())),
        (None, Some(a), None) => Some((a.clone(), a.clone())),
        (None, None, Some(b)) => Some((b.clone(), b.clone())),
        (None, None, None) => None,
    };
    let pairs: Vec<(String, String)> = match &pair {
        Some(p) => vec![p.clone()],
        None => {
            for (r, text) in [(&ra, a_text), (&rb, b_text)] {
                if let Reference::Version(_) = r {
                    continue;
                }
                if let Err(e) = res.names(r) {
                    return Err(hint_prompt(&res, text, e));
                }
            }
            // `v3` alone means each prompt's own v3: compare the prompts that have one.
            let sides: Vec<&Reference> = match (&ra, &rb) {
                (Reference::Version(_), Reference::Version(_)) => vec![&ra, &rb],
                (Reference::Version(_), _) => vec![&ra],
                (_, Reference::Version(_)) => vec![&rb],
                _ => vec![&ra, &rb],
            };
            let mut names = std::collections::BTreeSet::new();
            for r in sides {
                names.extend(res.names(r)?);
            }
            names.into_iter().map(|n| (n.clone(), n)).collect()
        }
    };
    let mut ev = Evidence::open(ctx)?;
    let mut entries = Vec::new();
    for (na, nb) in &pairs {
        let fa = res.try_resolve(na, &ra)?;
        let fb = res.try_resolve(nb, &rb)?;
        if pair.is_some() && fa.is_none() && fb.is_none() {
            return Err(res.absent(na, &ra));
        }
        let label_a = format!("{na}@{}", ra.display());
        let label_b = format!("{nb}@{}", rb.display());
        let d = diff(
            nb,
            fa.as_ref().map(|f| &f.prompt),
            fb.as_ref().map(|f| &f.prompt),
            &label_a,
            &label_b,
        );
        if pair.is_none() && d.status == Status::Unchanged {
            continue;
        }
        if args.eval {
            for (n, found) in [(na, fa.as_ref()), (nb, fb.as_ref())] {
                if let Some(f) = found {
                    if ev
                        .summary_for(&f.prompt, &f.prompt.content_hash())?
                        .is_none()
                    {
                        run_missing_eval(ctx, n, &f.prompt)?;
                        // The run may have created the store.
                        ev = Evidence::open(ctx)?;
                    }
                }
            }
        }
        let eval = delta(
            evidence(&ev, &res, na, fa.as_ref())?,
            evidence(&ev, &res, nb, fb.as_ref())?,
        );
        entries.push(Entry {
            diff: d,
            a: fa.map(|f| f.origin),
            b: fb.map(|f| f.origin),
            eval,
        });
    }
    let report = Report {
        a: a_text.to_string(),
        b: b_text.to_string(),
        prompts: entries,
    };
    match args.format {
        DiffFormat::Json => ctx.ui.json(&report)?,
        DiffFormat::Markdown => ctx.ui.out(&markdown(&report))?,
        DiffFormat::Text => ctx.ui.out(&text(ctx, &report))?,
    }
    Ok(0)
}

/// `llmops diff support-reply v3` reads as two references; say how to compare one prompt.
fn hint_prompt(res: &Resolver, text: &str, e: Error) -> Error {
    let is_prompt = res
        .worktree()
        .and_then(|w| w.prompt_files())
        .map(|f| f.contains_key(text))
        .unwrap_or(false);
    if is_prompt {
        Error::usage_help(
            format!("`{text}` is a prompt, not a reference"),
            format!("compare one prompt with `llmops diff {text} A B` or `llmops diff {text}@A {text}@B`"),
        )
    } else {
        e
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

fn side_name(o: &Option<Origin>) -> String {
    o.as_ref()
        .map_or("(absent)".to_string(), |o| match o.version {
            Some(v) if !o.describe.contains(&format!("@v{v}")) => {
                format!("{} = v{v}", o.describe)
            }
            _ => o.describe.clone(),
        })
}

fn status_word(d: &PromptDiff) -> &'static str {
    match d.status {
        Status::Added => "added",
        Status::Removed => "removed",
        Status::Changed => "changed",
        Status::Unchanged => "unchanged",
    }
}

fn text(ctx: &Ctx, r: &Report) -> String {
    let ui = &ctx.ui;
    let mut out = String::new();
    if r.prompts.is_empty() {
        return format!("no prompt differs between `{}` and `{}`\n", r.a, r.b);
    }
    for (i, e) in r.prompts.iter().enumerate() {
        let d = &e.diff;
        if i > 0 {
            out.push('\n');
        }
        let breaking = if d.breaking {
            format!(", {}", ui.paint(Style::Alert, "BREAKING"))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{}: {} -> {} ({}{breaking})\n",
            ui.paint(Style::Heading, &d.prompt),
            side_name(&e.a),
            side_name(&e.b),
            status_word(d)
        ));
        if d.status == Status::Unchanged {
            out.push_str("  same content\n");
            continue;
        }
        let fields = |out: &mut String, title: &str, list: &[FieldChange]| {
            if list.is_empty() {
                return;
            }
            out.push_str(&format!("  {title}\n"));
            for c in list {
                out.push_str(&format!(
                    "    {}: {} -> {}\n",
                    c.key,
                    show(&c.from),
                    show(&c.to)
                ));
            }
        };
        fields(&mut out, "model", &d.model);
        if !d.inputs.is_empty() {
            out.push_str("  inputs\n");
            for c in &d.inputs {
                let tag = if c.breaking {
                    ui.paint(Style::Alert, "breaking  ")
                } else {
                    "compatible".to_string()
                };
                out.push_str(&format!(
                    "    {tag}  {}: {}\n",
                    c.name,
                    c.reasons.join(", ")
                ));
            }
        }
        fields(&mut out, "outputs", &d.outputs);
        fields(&mut out, "metadata", &d.metadata);
        if let Some(ev) = &e.eval {
            out.push_str("  eval\n");
            for line in eval_rows(ev) {
                out.push_str(&format!(
                    "    {:<10} {:>10} -> {:<10} {}\n",
                    line.0, line.1, line.2, line.3
                ));
            }
        }
        for m in &d.messages {
            push_unified(ui, &mut out, &m.unified);
        }
        for p in &d.partials {
            push_unified(ui, &mut out, &p.unified);
        }
    }
    out
}

fn push_unified(ui: &crate::ui::Ui, out: &mut String, unified: &str) {
    for line in unified.lines() {
        let style = if line.starts_with("+++") || line.starts_with("---") {
            Style::Heading
        } else if line.starts_with('+') {
            Style::Added
        } else if line.starts_with('-') {
            Style::Removed
        } else if line.starts_with("@@") {
            Style::Hunk
        } else {
            out.push_str(&format!("  {line}\n"));
            continue;
        };
        out.push_str(&format!("  {}\n", ui.paint(style, line)));
    }
}

/// (metric, A, B, delta) rows.
fn eval_rows(ev: &EvalDelta) -> Vec<(&'static str, String, String, String)> {
    let f =
        |e: &Option<EvalSummary>, g: fn(&EvalSummary) -> Option<f64>, fmt: fn(f64) -> String| {
            e.as_ref().and_then(g).map_or("-".to_string(), fmt)
        };
    let sign = |d: Option<f64>, fmt: fn(f64) -> String| {
        d.map_or(String::new(), |d| {
            if d >= 0.0 {
                format!("(+{})", fmt(d))
            } else {
                format!("(-{})", fmt(-d))
            }
        })
    };
    let score: fn(f64) -> String = |x| format!("{x:.3}");
    let pct: fn(f64) -> String = |x| format!("{:.1}%", x * 100.0);
    let usd: fn(f64) -> String = |x| format!("${x:.4}");
    let ms: fn(f64) -> String = |x| format!("{x:.0} ms");
    let n: fn(f64) -> String = |x| format!("{x:.0}");
    vec![
        // The deltas are only as good as the cases behind them (a gate shard's slice has few).
        (
            "cases (n)",
            f(&ev.a, |e| Some(e.n as f64), n),
            f(&ev.b, |e| Some(e.n as f64), n),
            String::new(),
        ),
        (
            "score",
            f(&ev.a, |e| Some(e.score), score),
            f(&ev.b, |e| Some(e.score), score),
            sign(ev.score, score),
        ),
        (
            "pass rate",
            f(&ev.a, |e| Some(e.pass_rate), pct),
            f(&ev.b, |e| Some(e.pass_rate), pct),
            sign(ev.pass_rate, pct),
        ),
        (
            "cost",
            f(&ev.a, |e| e.cost_usd, usd),
            f(&ev.b, |e| e.cost_usd, usd),
            sign(ev.cost_usd, usd),
        ),
        (
            "latency",
            f(&ev.a, |e| e.latency_p50_ms, ms),
            f(&ev.b, |e| e.latency_p50_ms, ms),
            sign(ev.latency_p50_ms, ms),
        ),
    ]
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(r: &Report) -> String {
    let mut out = format!("## llmops diff `{}` → `{}`\n\n", cell(&r.a), cell(&r.b));
    if r.prompts.is_empty() {
        out.push_str("No prompt differs.\n");
        return out;
    }
    let breaking: Vec<&str> = r
        .prompts
        .iter()
        .filter(|e| e.diff.breaking)
        .map(|e| e.diff.prompt.as_str())
        .collect();
    if !breaking.is_empty() {
        out.push_str(&format!(
            "**Breaking input changes** in {}.\n\n",
            breaking
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for e in &r.prompts {
        let d = &e.diff;
        out.push_str(&format!(
            "### `{}` ({}{})\n\n",
            d.prompt,
            status_word(d),
            if d.breaking { ", **breaking**" } else { "" }
        ));
        out.push_str(&format!(
            "| | A | B |\n|---|---|---|\n| reference | {} | {} |\n| content | `{}` | `{}` |\n\n",
            cell(&side_name(&e.a)),
            cell(&side_name(&e.b)),
            d.content_a.as_deref().map_or("-", |h| &h[..12]),
            d.content_b.as_deref().map_or("-", |h| &h[..12]),
        ));
        if !d.inputs.is_empty() {
            out.push_str("**Inputs**\n\n| input | change | breaking |\n|---|---|---|\n");
            for c in &d.inputs {
                out.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    cell(&c.name),
                    cell(&c.reasons.join(", ")),
                    if c.breaking { "**yes**" } else { "no" }
                ));
            }
            out.push('\n');
        }
        for (title, list) in [
            ("Model", &d.model),
            ("Output schema", &d.outputs),
            ("Metadata", &d.metadata),
        ] {
            if list.is_empty() {
                continue;
            }
            out.push_str(&format!("**{title}**\n\n| key | A | B |\n|---|---|---|\n"));
            for c in list {
                out.push_str(&format!(
                    "| `{}` | `{}` | `{}` |\n",
                    cell(&c.key),
                    cell(&show(&c.from)),
                    cell(&show(&c.to))
                ));
            }
            out.push('\n');
        }
        if let Some(ev) = &e.eval {
            out.push_str("**Eval**\n\n| metric | A | B | change |\n|---|---|---|---|\n");
            for (m, a, b, dd) in eval_rows(ev) {
                out.push_str(&format!("| {m} | {a} | {b} | {dd} |\n"));
            }
            out.push('\n');
        }
        if !d.messages.is_empty() || !d.partials.is_empty() {
            out.push_str("<details><summary>Template diff</summary>\n\n```diff\n");
            for m in &d.messages {
                out.push_str(&m.unified);
            }
            for p in &d.partials {
                out.push_str(&p.unified);
            }
            out.push_str("```\n\n</details>\n\n");
        }
    }
    out
}
