//! `llmops report [RUN]`: print any stored run again, in any format.

use std::path::PathBuf;

use super::{output::emit_report, Ctx, ReportFormat};
use crate::error::{Error, Outcome, Result};
use crate::store::Store;

/// Re-print a stored run.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  llmops report                          the newest run\n  llmops report 12 --format markdown     run 12, for a pull request\n  llmops report --format junit --output junit.xml"
)]
pub struct Args {
    /// Run id (default: the newest).
    run: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Run `llmops report`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let reg = ctx.registry(None)?;
    let store = Store::open(&reg.root.join(&reg.settings.cache_path))?;
    let Some(run) = store.run(args.run)? else {
        return Err(match args.run {
            Some(id) => Error::usage_help(
                format!("no run {id} in the store"),
                "`llmops runs` lists the runs",
            ),
            None => Error::usage_help("no runs yet", "`llmops eval` makes one"),
        });
    };
    let rows = store.results(run.id)?;
    let report = crate::report::build(run, &rows);
    emit_report(ctx, &report, args.format, args.output.as_deref())?;
    Ok(report.outcome())
}
