//! `llmops textconv FILE`: a prompt file in normalised form, for git's diff driver.

use std::path::PathBuf;

use super::Ctx;
use crate::error::{Error, Outcome, Result};
use crate::template::Prompt;

/// Print a prompt file in normalised form (git runs this; see `git-setup`)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints the prompt one fact per line: name and metadata, each model parameter, each input, each
output-schema leaf and sample value, sorted by key, then each message after its role. A file
that does not parse is printed unchanged, so `git diff` never fails because of it.

Example:
  llmops textconv prompts/support-reply.prompty")]
pub struct Args {
    /// The prompt file (git passes a temporary copy for old revisions).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn front_matter_name(text: &str) -> Option<String> {
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    for line in lines {
        if line.trim_end() == "---" {
            return None;
        }
        if let Some(rest) = line.strip_prefix("name:") {
            let name = rest.split('#').next()?.trim().trim_matches(['"', '\'']);
            return crate::paths::valid_name(name).then(|| name.to_string());
        }
    }
    None
}

/// Run `llmops textconv`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let path = if args.file.is_absolute() {
        args.file.clone()
    } else {
        ctx.open.dir.join(&args.file)
    };
    let bytes = std::fs::read(&path).map_err(|e| Error::io(args.file.display().to_string(), e))?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // git hands over temporary files with other names: parse under the prompt's own name.
    let parsed = front_matter_name(text)
        .and_then(|name| Prompt::parse(&format!("{name}.prompty"), text).ok());
    match parsed {
        Some(p) => ctx.ui.out(&crate::template::diff::normalised(&p))?,
        None => ctx.ui.out(text)?,
    }
    Ok(Outcome::Success)
}
