//! `llmops lint`: every static check, for editors and CI.

use serde_json::json;

use super::{Ctx, Format};
use crate::error::{Outcome, Result, Severity};

/// Check prompts, suites and datasets.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Checks: schemas and unknown fields; template syntax; variables used but not declared (error)
and declared but unused (warning); dataset rows missing required inputs or carrying unknown
ones; unknown providers and prompts; duplicate case ids; includes and datasets that leave
their directory; unknown assertion types.

With `--locked`, also an error for every prompt whose content (template, partials, model,
inputs) has no version in `.llmops/versions.lock`: it changed without `llmops release`; and
an error for every label entry naming a version the lock does not have, or pinning content
that version does not hold (a merge renumbered it: `llmops lock resolve`).

Exit code 2 when there is an error (or, with `--strict`, a warning).

Examples:
  llmops lint
  llmops lint --locked
  llmops lint --rev origin/main --format json")]
pub struct Args {
    /// Read the registry at this git revision instead of the working tree.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// Fail on warnings too.
    #[arg(long)]
    strict: bool,
    /// Also fail when a prompt's content has no released version.
    #[arg(long)]
    locked: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Run `llmops lint`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let reg = ctx.registry(args.rev.as_deref())?;
    let mut report = crate::lint::lint(&reg)?;
    if args.locked {
        report.diagnostics.extend(crate::lint::locked(&reg)?);
        if args.rev.is_none() {
            report
                .diagnostics
                .extend(crate::registry::check_labels(&ctx.resolver()?)?);
        }
        report
            .diagnostics
            .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    }
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    let failed = errors > 0 || (args.strict && warnings > 0);
    match args.format {
        Format::Json => ctx.ui.json(&json!({
            "ok": !failed,
            "errors": errors,
            "warnings": warnings,
            "prompts": report.prompts,
            "suites": report.suites,
            "cases": report.cases,
            "diagnostics": report.diagnostics,
        }))?,
        Format::Text => {
            for d in &report.diagnostics {
                ctx.ui.diagnostic(d);
            }
            let summary = format!(
                "{} prompt(s), {} suite(s), {} case(s) at {}: {errors} error(s), {warnings} warning(s)",
                report.prompts,
                report.suites,
                report.cases,
                reg.source.describe()
            );
            ctx.ui.note(&summary);
        }
    }
    Ok(if failed {
        Outcome::InputRejected
    } else {
        Outcome::Success
    })
}
