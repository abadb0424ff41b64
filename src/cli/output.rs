//! Writing run and gate reports: the format chosen, to stdout or a file, with a one-line
//! summary on stderr. Shared by `eval`, `report`, `gate` and `merge`.

use super::{Ctx, ReportFormat};
use crate::error::Result;
use crate::{gate, report};

/// Write a report in `format` to stdout or `output` (through [`crate::fsio`]; `-` is stdout), with a short summary
/// on stderr when the report goes to a file.
pub(crate) fn emit_report(
    ctx: &Ctx,
    report: &report::RunReport,
    format: ReportFormat,
    output: Option<&std::path::Path>,
) -> Result<()> {
    let text = match format {
        ReportFormat::Text => report::text(report, ctx.ui.layout()),
        ReportFormat::Json => serde_json::to_string_pretty(report).expect("serialisable") + "\n",
        ReportFormat::Markdown => report::markdown(report),
        ReportFormat::Junit => report::junit(report),
        ReportFormat::Html => report::html::run(report),
    };
    // `ui.out` redacts what goes to stdout; a file is redacted here.
    match output.filter(|p| !crate::fsio::is_stdout(p)) {
        None => ctx.ui.out(&text),
        Some(path) => {
            let shown = path.display().to_string();
            crate::fsio::write(path, crate::redact::scrub(&text).as_bytes())?;
            let summary: Vec<String> = report
                .groups
                .iter()
                .map(|g| {
                    format!(
                        "{}: {}/{} passed{}",
                        g.suite,
                        g.passed,
                        g.cases,
                        if g.ok() { "" } else { " (FAILED)" }
                    )
                })
                .collect();
            ctx.ui.note(&format!(
                "run {}: {}; report written to {shown}",
                report.run.id,
                summary.join(", ")
            ));
            Ok(())
        }
    }
}

/// Write the gate report, and the Markdown summary to `$GITHUB_STEP_SUMMARY` when set.
pub(crate) fn emit_gate(
    ctx: &Ctx,
    report: &gate::GateReport,
    format: ReportFormat,
    output: Option<&std::path::Path>,
) -> Result<()> {
    let text = match format {
        ReportFormat::Text => gate::render::text(report, ctx.ui.layout()),
        ReportFormat::Json => serde_json::to_string_pretty(report).expect("serialisable") + "\n",
        ReportFormat::Markdown => gate::render::markdown(report),
        ReportFormat::Junit => gate::render::junit(report),
        ReportFormat::Html => gate::html::html(report),
    };
    // `ui.out` redacts what goes to stdout; a file is redacted here.
    match output.filter(|p| !crate::fsio::is_stdout(p)) {
        None => ctx.ui.out(&text)?,
        Some(path) => {
            crate::fsio::write(path, crate::redact::scrub(&text).as_bytes())?;
            ctx.ui.note(&format!(
                "gate {}: report written to {}",
                report.verdict.as_str(),
                path.display()
            ));
        }
    }
    if let Ok(summary) = std::env::var("GITHUB_STEP_SUMMARY") {
        if !summary.is_empty() {
            let text = crate::redact::scrub_string(gate::render::markdown(report));
            crate::fsio::append(std::path::Path::new(&summary), text.as_bytes())?;
        }
    }
    if report.verdict == gate::Verdict::Inconclusive {
        ctx.ui.note(if report.policy.strict { "gate INCONCLUSIVE: failing because of --strict" } else { "warning: gate INCONCLUSIVE: passing, but the data do not show the candidate is no worse" });
    }
    Ok(())
}
