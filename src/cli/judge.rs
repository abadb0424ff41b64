//! `llmops judge calibrate`: how far to trust the judge.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{Ctx, Format};
use crate::error::{Error, Outcome, Result};
use crate::judge::calibrate;
use crate::provider::Answered;
use crate::store::{writer::Op, Store, Writer};

/// The LLM-as-judge.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Grade human-labelled examples with the judge and report agreement, Cohen's kappa and the
    /// confusion matrix.
    #[command(after_help = "\
The labels file is JSONL, one example a line:
  {\"id\": \"r1\", \"assertion\": {\"type\": \"llm-rubric\", \"value\": \"Apologises once\"},
   \"question\": \"...\", \"output\": \"...\", \"label\": true}
`label` is true/false, or a 1-5 rating for `g-eval` (scored with quadratic-weighted kappa).
Verdicts are cached like eval's, so a second run makes no judge calls.

Example:
  llmops judge calibrate --labels evals-example/judge-labels.jsonl")]
    Calibrate {
        /// The labelled examples (JSONL).
        #[arg(long, value_name = "FILE")]
        labels: PathBuf,
        /// Flag a rubric whose kappa with the labels is below this (0 to 1); a flagged rubric
        /// makes the exit code 1.
        #[arg(long, value_name = "KAPPA", default_value_t = 0.6)]
        min_kappa: f64,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Write a labels file from a run, one line per model-graded verdict with the judge's
    /// verdict alongside and `"label": null`, for a person to fill in.
    #[command(after_help = "\
Each line holds the assertion, the question, the output, the case's variables and the judge's
verdict (`judge`, for reference). Replace each `\"label\": null` with what a person decides
(true/false, or 1-5 for `g-eval`), delete the lines nobody checked, then run
`llmops judge calibrate --labels FILE`.

Example:
  llmops eval && llmops judge label > labels.jsonl")]
    Label {
        /// Run id (default: the newest).
        #[arg(long, value_name = "ID")]
        run: Option<i64>,
    },
}

/// Run `llmops judge ...`.
pub fn run(ctx: &Ctx, cmd: Command) -> Result<Outcome> {
    let (labels, min_kappa, format) = match cmd {
        Command::Calibrate {
            labels,
            min_kappa,
            format,
        } => (labels, min_kappa, format),
        Command::Label { run } => return label(ctx, run),
    };
    if !(0.0..=1.0).contains(&min_kappa) {
        return Err(Error::usage_help(
            format!("--min-kappa {min_kappa} is out of range"),
            "give a kappa from 0 to 1, e.g. `--min-kappa 0.6`",
        ));
    }
    let reg = ctx.registry(None)?;
    let shown = labels.display().to_string();
    let path = if labels.is_absolute() {
        labels.clone()
    } else {
        ctx.open.dir.join(&labels)
    };
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&shown, e))?;
    let text = crate::yaml::decode_utf8(&shown, &bytes)?;
    let examples = calibrate::read_examples(&shown, &text)?;
    let store = Store::open(&reg.root.join(&reg.settings.cache_path))?;
    let writer = Writer::start(&store)?;
    let store = Arc::new(Mutex::new(store));
    let tx = Mutex::new(writer);
    let emit = |a: Answered| {
        if a.cacheable {
            tx.lock().expect("not poisoned").send(Op::cache(&a));
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    let report = calibrate::run(
        &reg.settings,
        &reg.root,
        examples,
        store,
        min_kappa,
        &env,
        &emit,
    )?;
    tx.into_inner().expect("not poisoned").finish()?;
    match format {
        Format::Json => ctx.ui.json(&report)?,
        Format::Text => ctx.ui.out(&calibrate::text(&report))?,
    }
    Ok(if !report.errors.is_empty() {
        Outcome::ProviderFailed
    } else if report.flagged() > 0 {
        Outcome::QualityFailed
    } else {
        Outcome::Success
    })
}

/// `llmops judge label`: the labels file, on stdout.
fn label(ctx: &Ctx, run: Option<i64>) -> Result<Outcome> {
    let reg = ctx.registry(None)?;
    let store = Store::open(&reg.root.join(&reg.settings.cache_path))?;
    let (id, lines) = crate::judge::label::template(&reg, &store, run)?;
    if lines.is_empty() {
        return Err(Error::Nothing(format!(
            "run {id} has no model-graded verdicts to label"
        )));
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    ctx.ui.out(&text)?;
    ctx.ui.note(&format!(
        "{} verdict(s) of run {id}: fill in each `label`, then `llmops judge calibrate --labels FILE`",
        lines.len()
    ));
    Ok(Outcome::Success)
}
