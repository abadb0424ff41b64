//! `llmops rollback PROMPT`: put the last known-good version back, offline, as a new commit.

use super::Ctx;
use crate::error::{Error, Outcome, Result};
use crate::registry::parse_version_arg;

/// Move a label back to its previous version (or restore old content)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
By default moves the label's entry for the prompt to its previous target, found in the label
file's own git history (newest first, skipping versions that were themselves rolled back
from), so repeated rollbacks walk back v4 -> v3 -> v2. Commits only the label file, with the
trailers `Rollback-From`, `Rollback-To` and `Reason`, on HEAD's branch: history is never
rewritten. Needs no network and no provider. Refuses (exit 2) when the label file has
uncommitted changes.

`--content` instead writes a version's content (prompt file and partials) back into the working
files and commits them, for applications that read the file directly; the default target is
the newest version older than the one the file is now. It refuses when those files have
uncommitted changes.

`--push REMOTE` pushes the branch afterwards (exit 3 if that fails; the commit stays).

Examples:
  llmops rollback support-reply --reason 'v4 leaks internal ticket ids'
  llmops rollback support-reply --label staging --to v2
  llmops rollback support-reply --content --reason 'app reads the file'
  llmops rollback support-reply --reason 'bad answers' --push origin")]
pub struct Args {
    /// The prompt's name.
    #[arg(value_name = "PROMPT")]
    prompt: String,
    /// The label to move [default: production].
    #[arg(long, value_name = "NAME", conflicts_with = "content")]
    label: Option<String>,
    /// Go to this version (`v2` or `2`) instead of the previous one.
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// Why, for the `Reason` trailer.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Restore the version's content into the prompt file and partials instead of moving a label.
    #[arg(long)]
    content: bool,
    /// Push the branch to this remote (a name, path or URL) after committing.
    #[arg(long, value_name = "REMOTE")]
    push: Option<String>,
}

/// Run `llmops rollback`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let to = args.to.as_deref().map(parse_version_arg).transpose()?;
    let reason = args.reason.as_deref().unwrap_or("no reason given");
    let res = ctx.resolver()?;
    let branch = if args.content {
        let r = crate::registry::rollback_content(&res, &args.prompt, to, reason)?;
        ctx.ui.out(&format!(
            "{}: content {} -> v{} in commit {} on {} ({})\n",
            r.prompt,
            r.from.map_or("unreleased".to_string(), |v| format!("v{v}")),
            r.to,
            &r.commit[..7],
            r.branch,
            r.files.join(", ")
        ))?;
        if !r.also_affected.is_empty() {
            ctx.ui.note(&format!(
                "note: restored partials are shared; these prompts changed too: {}",
                r.also_affected.join(", ")
            ));
        }
        r.branch
    } else {
        let label = args.label.as_deref().unwrap_or("production");
        let m = crate::registry::rollback_label(&res, &args.prompt, label, to, reason)?;
        let commit = m.commit.as_deref().unwrap_or_default();
        ctx.ui.out(&format!(
            "{}: {} v{} -> v{} in commit {} on {}\n",
            m.label,
            m.prompt,
            m.from.unwrap_or_default(),
            m.to,
            &commit[..7.min(commit.len())],
            m.branch.as_deref().unwrap_or_default()
        ))?;
        m.branch.unwrap_or_default()
    };
    if let Some(w) = crate::registry::behind_upstream_warning(&res) {
        ctx.ui.note(&w);
    }
    if let Some(remote) = &args.push {
        if let Err(e) = crate::registry::push(&res, remote, &branch) {
            ctx.ui.error(&e);
            ctx.ui.error(&Error::usage_help(
                format!("the rollback is committed on `{branch}` but was not pushed to `{remote}`"),
                crate::registry::push_help(&res, remote, &branch),
            ));
            return Ok(Outcome::ProviderFailed);
        }
        ctx.ui.note(&format!("pushed `{branch}` to `{remote}`"));
    }
    Ok(Outcome::Success)
}
