//! `llmops merge`: join `--shard i/n` results so a CI matrix gates (or reports) once.

use std::path::PathBuf;

use super::{Ctx, ReportFormat};
use crate::error::{Diagnostic, Error, Outcome, Result};
use crate::gate::{self, GateReport};

/// Join shard results from `llmops gate --shard I/N --format json`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each file is the JSON a shard wrote with `llmops gate --shard I/N --format json --output FILE`.
The pairs are pooled and the statistics computed again over all of them, so the merged verdict
is the one a single run would give.

Example:
  llmops merge gate-1.json gate-2.json gate-3.json gate-4.json --format markdown")]
pub struct Args {
    /// Shard result files.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Run `llmops merge`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let mut merged: Option<GateReport> = None;
    for f in &args.files {
        let shown = f.display().to_string();
        let text = std::fs::read_to_string(f).map_err(|e| Error::io(&shown, e))?;
        let r: GateReport = serde_json::from_str(&text).map_err(|e| {
            Diagnostic::error("merge", &shown, format!("not a gate result: {e}")).at(e.line(), Some(e.column())).help("write shard results with `llmops gate --shard I/N --format json --output FILE`")
        })?;
        if r.kind != "gate" {
            return Err(Diagnostic::error("merge", &shown, "not a gate result").into());
        }
        if r.schema != crate::gate::SCHEMA {
            return Err(Diagnostic::error(
                "merge",
                &shown,
                format!(
                    "a gate result in schema `{}`, and this llmops reads `{}`",
                    r.schema,
                    crate::gate::SCHEMA
                ),
            )
            .help("merge shards written by the same llmops version")
            .into());
        }
        match &mut merged {
            None => merged = Some(r),
            Some(m) => {
                if m.policy != r.policy || m.baseline != r.baseline || m.candidate != r.candidate {
                    return Err(Error::usage_help(
                        format!(
                            "{shown} compares different refs or uses another policy than {}",
                            args.files[0].display()
                        ),
                        "merge shards of one gate run",
                    ));
                }
                m.pairs.extend(r.pairs);
                m.thresholds.extend(r.thresholds);
                for u in r.unchanged {
                    if !m.unchanged.contains(&u) {
                        m.unchanged.push(u);
                    }
                }
            }
        }
    }
    let m = merged.expect("at least one file");
    let report = gate::decide_all(
        m.baseline,
        m.candidate,
        m.pairs,
        m.thresholds,
        m.unchanged,
        m.policy,
    );
    super::output::emit_gate(ctx, &report, args.format, args.output.as_deref())?;
    Ok(report.outcome())
}
