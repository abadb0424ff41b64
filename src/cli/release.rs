//! `llmops release PROMPT [-m MSG]`: record the prompt's working content as its next version.

use super::{Ctx, Format};
use crate::error::{Outcome, Result};

/// Record the next version of a prompt
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Allocates the next number for the prompt's current content (template, partials, model and
inputs), records it in `.llmops/versions.lock` with the blob ids that restore it, who, when,
why, the owner and the latest eval summary for that content, and commits the lock (plus the
prompt file and partials when they have uncommitted changes). Numbers are never reused, even
after a revert. Refuses (exit 2) when nothing changed since the last version.

Examples:
  llmops release support-reply -m 'Shorter replies, no refund promises'
  llmops release classify-ticket --format json")]
pub struct Args {
    /// The prompt's name.
    #[arg(value_name = "PROMPT")]
    prompt: String,
    /// Why this version exists (the commit body and the lock's `message`).
    #[arg(short, long, value_name = "MSG")]
    message: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Run `llmops release`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let res = ctx.resolver()?;
    let found = res.resolve(&args.prompt, None)?;
    let hash = found.prompt.content_hash();
    let eval = ctx.evidence()?.summary_for(&found.prompt, &hash)?;
    let r = crate::registry::release(
        &res,
        &found.prompt,
        args.message.as_deref().unwrap_or(""),
        eval,
    )?;
    match args.format {
        Format::Json => ctx.ui.json(&r)?,
        Format::Text => {
            ctx.ui.out(&format!(
                "released {}@v{} (content {}) in commit {} on {}\n",
                r.prompt,
                r.version,
                &r.content_hash[..12],
                &r.commit[..7],
                r.branch
            ))?;
            if let Some(old) = r.same_content_as {
                ctx.ui.note(&format!(
                    "note: v{} has the same content as v{old}",
                    r.version
                ));
            }
            if !r.committed_files.is_empty() {
                ctx.ui.note(&format!(
                    "committed with it: {}",
                    r.committed_files.join(", ")
                ));
            }
        }
    }
    if let Some(w) = crate::registry::behind_upstream_warning(&res) {
        ctx.ui.note(&w);
    }
    Ok(Outcome::Success)
}
