//! `llmops promote PROMPT VERSION --label NAME`: point a label at a version.

use super::Ctx;
use crate::error::{Error, Outcome, Result};
use crate::registry::parse_version_arg;

/// Point a label at a version of a prompt
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Moves one entry of `.llmops/labels/NAME.yaml` (created if needed) and commits it with the
trailers `Label`, `Promote-From` and `Promote-To`. The label file's git history is its audit
log. Refuses when the label file has uncommitted changes. Promoting to where the label already
points changes nothing.

`--require-pass` refuses (exit 1) unless the version has an eval summary recorded in
`.llmops/versions.lock`, that is, it was released with eval evidence.

Examples:
  llmops promote support-reply v4 --label staging
  llmops promote support-reply v4 --label production --require-pass")]
pub struct Args {
    /// The prompt's name.
    #[arg(value_name = "PROMPT")]
    prompt: String,
    /// The version: `v4` or `4`.
    #[arg(value_name = "VERSION")]
    version: String,
    /// The label to move (`production`, `staging`, any name).
    #[arg(long, value_name = "NAME")]
    label: String,
    /// Only promote a version whose recorded eval evidence exists.
    #[arg(long)]
    require_pass: bool,
}

/// Run `llmops promote`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let version = parse_version_arg(&args.version)?;
    let res = ctx.resolver()?;
    if args.require_pass {
        let has_eval = res
            .lock()?
            .get(&args.prompt, version)
            .is_some_and(|v| v.eval.is_some());
        if !has_eval && res.lock()?.get(&args.prompt, version).is_some() {
            ctx.ui.error(&Error::usage_help(
                format!(
                    "`{}@v{version}` has no eval summary in the lock, so `--require-pass` refuses it",
                    args.prompt
                ),
                "run the suite with `llmops eval` and release again, or promote without `--require-pass`",
            ));
            return Ok(Outcome::QualityFailed);
        }
    }
    let m = crate::registry::promote(&res, &args.prompt, version, &args.label)?;
    match &m.commit {
        None => ctx.ui.note(&format!(
            "label `{}` already points `{}` at v{}; nothing to do",
            m.label, m.prompt, m.to
        )),
        Some(c) => ctx.ui.out(&format!(
            "{}: {} {} -> v{} in commit {} on {}\n",
            m.label,
            m.prompt,
            m.from.map_or("none".to_string(), |v| format!("v{v}")),
            m.to,
            &c[..7],
            m.branch.as_deref().unwrap_or("")
        ))?,
    }
    if let Some(w) = crate::registry::behind_upstream_warning(&res) {
        ctx.ui.note(&w);
    }
    Ok(Outcome::Success)
}
