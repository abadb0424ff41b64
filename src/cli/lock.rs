//! `llmops lock resolve`: finish a merge of `.llmops/versions.lock` and the label files.

use super::{Ctx, Format};
use crate::error::{Outcome, Result};

/// Work on `.llmops/versions.lock`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Resolve a merge conflict in the lock and the label files.
    #[command(after_help = "\
Keeps every version of both sides. Where both sides released the same number with different
content, the earlier release (by date, then content hash) keeps the number and the other gets
the next free one, so the result is the same whichever side you merged from. Every label entry
follows the content it pinned to its new number; where the two sides point a label at
different content, the later release is kept and the command says how to point it back. The
resolved files are written and staged; review them and commit the merge.

Example:
  git merge feature        # CONFLICT (content): Merge conflict in .llmops/versions.lock
  llmops lock resolve
  git commit")]
    Resolve {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Git's merge driver for the lock (installed by `llmops git-setup`): merge OURS and
    /// THEIRS into OURS.
    #[command(hide = true)]
    MergeDriver {
        /// The common ancestor's version (%O; unused: both sides' versions are kept).
        base: std::path::PathBuf,
        /// Ours (%A); the result is written here.
        ours: std::path::PathBuf,
        /// Theirs (%B).
        theirs: std::path::PathBuf,
    },
}

/// Run `llmops lock ...`.
pub fn run(ctx: &Ctx, cmd: Command) -> Result<Outcome> {
    match cmd {
        Command::MergeDriver { ours, theirs, .. } => {
            let renumbered = crate::registry::merge_lock_files(&ours, &theirs)?;
            for n in &renumbered {
                ctx.ui.note(&format!(
                    "llmops: {}: v{} (content {}) renumbered to v{}; run `llmops lock resolve` to carry labels",
                    n.prompt,
                    n.from,
                    &n.content_hash[..n.content_hash.len().min(12)],
                    n.to
                ));
            }
            Ok(Outcome::Success)
        }
        Command::Resolve { format } => {
            let res = ctx.resolver()?;
            let r = crate::registry::resolve_lock(&res)?;
            if format == Format::Json {
                ctx.ui.json(&r)?;
                return Ok(Outcome::Success);
            }
            let mut out = String::new();
            for n in &r.renumbered {
                out.push_str(&format!(
                    "{}: v{} (content {}) renumbered to v{}\n",
                    n.prompt,
                    n.from,
                    &n.content_hash[..n.content_hash.len().min(12)],
                    n.to
                ));
            }
            for note in &r.notes {
                out.push_str(note);
                out.push('\n');
            }
            if r.files.is_empty() {
                out.push_str("nothing to resolve: the lock and the labels agree\n");
            } else {
                out.push_str(&format!(
                    "wrote and staged {}; review them and commit\n",
                    r.files.join(", ")
                ));
            }
            ctx.ui.out(&out)?;
            Ok(Outcome::Success)
        }
    }
}
