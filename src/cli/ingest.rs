//! `llmops ingest FILE...`: production calls into the store.

use std::path::PathBuf;

use super::{Ctx, Format};
use crate::error::{Error, Outcome, Result, Severity};
use crate::monitor::ingest::{ingest_file, FileReport, Settings, Versions};
use crate::store::Store;

/// Read production calls (JSONL records or OTLP/JSON spans) into the store
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each line of a file is either one call as a JSON record (`ts`, `prompt`, one of `version`,
`label` or `hash`, `vars`, `output`, and optionally `id`, `model`, `usage`, `latency_ms`,
`cost_usd`, `finish_reason`, `metadata`), or one OTLP/JSON `ExportTraceServiceRequest` as the
OpenTelemetry Collector's file exporter writes it, whose GenAI spans carry `llmops.prompt` and
`llmops.version` (or `llmops.label`, `llmops.hash`). A `label` is resolved to the version it
pointed at when the call was made, from the label file's git history.

Reading a file again adds nothing: a call's key is its `id` (OTLP: trace and span id), else a
hash of the record. Secrets are always masked, and with `redaction.pii: true` e-mail addresses,
phone and card numbers too, before anything is stored. A bad line is reported with its file,
line and field and skipped; `--strict` stores nothing from a file with a bad line (exit 2).
Format and method: `llmops help production`.

Examples:
  llmops ingest logs/2026-03-01.jsonl
  llmops ingest otel/traces.json --strict
  zcat calls.jsonl.gz | llmops ingest -")]
pub struct Args {
    /// Files to read (`-` for standard input).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// A file with a bad line is not stored at all, and the exit code is 2.
    #[arg(long)]
    strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(serde::Serialize)]
struct Summary<'a> {
    schema: &'static str,
    files: &'a [FileReport],
    stored: u64,
}

/// Run `llmops ingest`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let reg = ctx.registry(None)?;
    let res = ctx.resolver()?;
    let lock = res.lock()?;
    let git = res.git().ok();
    let settings = Settings {
        strict: args.strict,
        redact_pii: reg.settings.redact_pii,
        allow: crate::redact::Allow::new(&reg.settings.redaction_allow),
        max_output: reg.settings.limit_output_bytes,
    };
    let mut store = Store::open(&reg.root.join(&reg.settings.cache_path))?;
    let mut versions = Versions::new(lock, git);
    let mut reports = Vec::new();
    for file in &args.files {
        let display = file.display().to_string();
        if display != "-" && !file.is_file() {
            return Err(Error::usage_help(
                format!("{display}: no such file"),
                "give the path of a JSONL or OTLP/JSON file, or `-` for standard input",
            ));
        }
        reports.push(ingest_file(
            file,
            &display,
            &mut store,
            &mut versions,
            &settings,
        )?);
    }
    let refused = reports.iter().any(|r| r.refused);
    if args.format == Format::Json {
        ctx.ui.json(&Summary {
            schema: "llmops.ingest/1",
            files: &reports,
            stored: store.call_count()?,
        })?;
    } else {
        for r in &reports {
            for d in &r.problems {
                let mut d = d.clone();
                if !args.strict {
                    d.severity = Severity::Warning;
                }
                ctx.ui.diagnostic(&d);
            }
            if r.bad > r.problems.len() as u64 {
                ctx.ui.note(&format!(
                    "{}: … and {} more bad line(s)",
                    r.file,
                    r.bad - r.problems.len() as u64
                ));
            }
            let mut line = if r.refused {
                format!(
                    "{}: not stored: {} bad line(s) under --strict; fix them, or drop --strict to store the good lines",
                    r.file, r.bad
                )
            } else {
                format!(
                    "{}: {} call(s) read, {} new, {} already stored",
                    r.file, r.read, r.added, r.already
                )
            };
            if !r.refused && r.bad > 0 {
                line.push_str(&format!(", {} bad line(s) skipped", r.bad));
            }
            if r.skipped_spans > 0 {
                line.push_str(&format!(
                    ", {} span(s) without `llmops.prompt` ignored",
                    r.skipped_spans
                ));
            }
            ctx.ui.out(&format!("{line}\n"))?;
        }
    }
    Ok(if refused {
        Outcome::InputRejected
    } else {
        Outcome::Success
    })
}
