//! `llmops import promptfoo [CONFIG]`: bring a promptfoo project into the registry.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Ctx, Format};
use crate::error::{Error, Outcome, Result};
use crate::import::{FileKind, Layout, Plan};

/// Import from another tool.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Promptfoo(Args),
}

/// Turn a promptfoo project into prompts, a suite, a dataset and providers.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads CONFIG (default `promptfooconfig.yaml`) and the files it names: prompts (inline, files,
chat JSON, `file://` globs), providers, `defaultTest`, tests (inline, `file://` CSV, JSON,
JSONL, YAML, globs), `file://` vars, and assertions with `threshold`, `weight` and `metric`.
Writes `prompts/*.prompty`, `evals/NAME.yaml`, `evals/data/NAME.jsonl`, `llmops.yaml` (when
there is none) and `import-report.md`, which lists everything not carried over with file and
line. A test is never dropped: when an assertion cannot be carried over (`javascript`, a
`transform`), the case stays without it and the report says so.

Existing files are not overwritten without `--force`.

Examples:
  llmops import promptfoo --dry-run
  llmops import promptfoo path/to/promptfooconfig.yaml
  llmops import promptfoo && llmops lint")]
pub struct Args {
    /// The promptfoo config file.
    // Not `config`: that id is the global `--config` flag.
    #[arg(
        id = "project",
        value_name = "CONFIG",
        default_value = "promptfooconfig.yaml"
    )]
    project: PathBuf,
    /// Where to write, relative to `-C DIR` (default: that directory, or the current one).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the plan and the report; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Overwrite files that exist.
    #[arg(long)]
    force: bool,
    /// Output format of the plan.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Run `llmops import`.
pub fn run(ctx: &Ctx, cmd: Command) -> Result<Outcome> {
    let Command::Promptfoo(args) = cmd;
    let out = match &args.out {
        Some(o) => ctx.open.dir.join(o),
        None => ctx.open.dir.clone(),
    };
    let config = if args.project.is_absolute() {
        args.project.clone()
    } else {
        ctx.open.dir.join(&args.project)
    };
    if !config.is_file() {
        return Err(Error::usage_help(
            format!("{} does not exist", config.display()),
            "name the promptfoo config: `llmops import promptfoo path/to/promptfooconfig.yaml`",
        ));
    }
    let layout = layout(ctx, &out)?;
    let plan = crate::import::promptfoo(&config, &layout)?;
    let existing: Vec<&str> = plan
        .files
        .iter()
        .map(|(p, _, _)| p.as_str())
        .filter(|p| out.join(p).exists())
        .collect();
    if !args.dry_run && !args.force && !existing.is_empty() {
        return Err(Error::usage_help(
            format!("would overwrite {}", existing.join(", ")),
            "pass `--force` to overwrite, or `--out DIR` to write elsewhere",
        ));
    }
    if !args.dry_run {
        for (rel, kind, content) in &plan.files {
            write(&out.join(rel), *kind, content)?;
        }
    }
    render(ctx, &plan, args.dry_run, args.format)?;
    Ok(Outcome::Success)
}

/// The one place an import writes a file.
fn write(path: &Path, _kind: FileKind, content: &str) -> Result<()> {
    crate::fsio::write(path, content.as_bytes())
}

fn layout(ctx: &Ctx, out: &Path) -> Result<Layout> {
    if out.join(crate::config::CONFIG_FILE).is_file() {
        let mut open = ctx.open.clone();
        open.dir = out.to_path_buf();
        let reg = crate::registry::Registry::open(&open, None)?;
        return Ok(Layout {
            prompts_dir: reg.settings.prompts_dir.clone(),
            evals_dir: reg.settings.evals_dir.clone(),
            have_config: true,
        });
    }
    Ok(Layout {
        prompts_dir: "prompts".into(),
        evals_dir: "evals".into(),
        have_config: false,
    })
}

fn render(ctx: &Ctx, plan: &Plan, dry_run: bool, format: Format) -> Result<()> {
    match format {
        Format::Json => ctx.ui.json(&json!({
            "dry_run": dry_run,
            "prompts": plan.prompts,
            "tests": plan.tests,
            "cases": plan.cases,
            "files": plan.files.iter().map(|(p, k, c)| json!({"path": p, "kind": k, "bytes": c.len()})).collect::<Vec<_>>(),
            "not_carried_over": plan.notes,
        })),
        Format::Text => {
            let verb = if dry_run { "would write" } else { "wrote" };
            let mut text = String::new();
            for (p, _, c) in &plan.files {
                text.push_str(&format!("{verb} {p} ({} bytes)\n", c.len()));
            }
            text.push_str(&format!(
                "{} prompt(s), {} promptfoo test(s) -> {} case(s); {} item(s) not carried over\n",
                plan.prompts,
                plan.tests,
                plan.cases,
                plan.notes.len()
            ));
            for n in &plan.notes {
                text.push_str(&format!("  {n}\n"));
            }
            ctx.ui.out(&text)
        }
    }
}
