//! `llmops diff [PROMPT] A B`: what changed between two references, for code review.

use super::Ctx;
use crate::error::{Error, Outcome, Result};
use crate::registry::{EvalSummary, PromptRef, Reference, Resolved, Resolver};
use crate::report::diff::{delta, markdown, text, Entry, Report};
use crate::template::diff::{diff, Status};

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
    /// One self-contained page to open in a browser.
    Html,
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
  llmops diff support-reply v3 v4 --format html > diff.html
  llmops diff support-reply production worktree --eval"
)]
pub struct Args {
    /// The prompt to compare, then A and B; with two arguments, A (and every prompt is compared).
    #[arg(value_name = "PROMPT|A")]
    first: String,
    /// Reference A, the old side; B when PROMPT is left out.
    #[arg(value_name = "A|B")]
    second: Option<String>,
    /// Reference B, the new side, after PROMPT and A.
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
        select: crate::engine::Selection {
            selectors: vec![name.to_string()],
            skip_unfit: true,
            ..Default::default()
        },
        cache: crate::engine::CachePolicy {
            enabled: reg.settings.cache_enabled,
            refresh: false,
        },
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
    let spec = crate::engine::RunSpec {
        command: format!("diff --eval {name} ({})", &prompt.content_hash()[..12]),
        settings: serde_json::json!({ "diff": name }),
        resume: false,
    };
    let mut progress = crate::ui::Progress::new(false);
    crate::engine::execute(&reg, planned, &opts, store, &spec, &mut [&mut progress])?
        .into_result()?;
    Ok(())
}

struct Side {
    prompt: Option<String>,
    reference: String,
}

fn side(text: &str) -> Result<Side> {
    // `NAME@REF` when NAME is a valid prompt name; `HEAD@{1}` and friends stay revisions.
    if let Some((name, rest)) = text.split_once('@') {
        if crate::paths::valid_name(name) && !rest.is_empty() {
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
    ev: &crate::report::evidence::Evidence,
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

/// Run `llmops diff`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let Some(second) = args.second.as_deref() else {
        return Err(Error::usage_help(
            "`llmops diff` needs two references to compare, A and B",
            format!(
                "`llmops diff A B` compares every prompt that differs (`llmops diff {} worktree`: \
                 with the files on disk); `llmops diff PROMPT A B` compares one prompt",
                args.first
            ),
        ));
    };
    let (fixed, a_text, b_text) = match &args.third {
        Some(b) => (Some(args.first.clone()), second, b.as_str()),
        None => (None, args.first.as_str(), second),
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
    let mut ev = ctx.evidence()?;
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
                        ev = ctx.evidence()?;
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
        DiffFormat::Html => ctx.ui.out(&crate::report::html::diff(&report))?,
        DiffFormat::Markdown => ctx.ui.out(&markdown(&report))?,
        DiffFormat::Text => ctx.ui.out(&text(&report, &|st, t| ctx.ui.paint(st, t)))?,
    }
    Ok(Outcome::Success)
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
