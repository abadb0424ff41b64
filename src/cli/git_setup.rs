//! `llmops git-setup`: make plain `git diff` show prompts in normalised form.

use super::Ctx;
use crate::error::{Error, Outcome, Result};
use crate::fsio;

const ATTRIBUTE: &str = "*.prompty diff=llmops";
/// Routes the lock to `llmops lock merge-driver`, at any depth (the registry may live in a
/// subdirectory).
const LOCK_ATTRIBUTE: &str = "**/.llmops/versions.lock merge=llmops-lock";

/// Install llmops as git's diff driver for prompt files
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Sets `diff.llmops.textconv` in the repository's `.git/config` to `llmops textconv` and adds
`*.prompty diff=llmops` to `.gitattributes` at the top of the work tree. Then `git diff`,
`git log -p` and `git show` print prompts one fact per line (model parameters, inputs and
output schema sorted by key, then each message), so reordered YAML shows no change and a
changed parameter shows as one line.

Also installs `llmops lock merge-driver` as git's merge driver for `.llmops/versions.lock`
(`merge.llmops-lock.driver`, and `**/.llmops/versions.lock merge=llmops-lock`): a merge of two
branches that released the same prompt then keeps both sides' versions and renumbers the
colliding ones itself; `llmops lock resolve` carries the labels. Commit `.gitattributes`;
each clone runs `llmops git-setup` once, since git config is not versioned.

Examples:
  llmops git-setup
  llmops git-setup --command /opt/llmops/bin/llmops")]
pub struct Args {
    /// The llmops git should run [default: `llmops` when it is on PATH, else this binary's path].
    #[arg(long, value_name = "PATH")]
    command: Option<String>,
}

fn default_command() -> String {
    let exe = std::env::current_exe().ok();
    let exe_real = exe.as_ref().and_then(|e| e.canonicalize().ok());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("llmops");
            if candidate.is_file() && candidate.canonicalize().ok() == exe_real {
                return "llmops".to_string();
            }
        }
    }
    match exe {
        Some(e) => shell_quote(&e.display().to_string()),
        None => "llmops".to_string(),
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Run `llmops git-setup`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    // The repository the command runs in (or `GIT_DIR`), not the registry a parent directory
    // may hold: inside a nested repository this configures the nested one.
    let git = crate::registry::GitRepo::open(&ctx.open.dir)?;
    let command = match &args.command {
        Some(c) => shell_quote(c),
        None => default_command(),
    };
    let textconv = format!("{command} textconv");
    git.set_local_config("diff.llmops.textconv", &textconv)?;
    let attributes = git.workdir().join(".gitattributes");
    let existing = match std::fs::read_to_string(&attributes) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(".gitattributes", e)),
    };
    if existing.lines().any(|l| l.trim() == ATTRIBUTE) {
        ctx.ui
            .note(".gitattributes already routes *.prompty to llmops");
    } else {
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(ATTRIBUTE);
        text.push('\n');
        fsio::write(&attributes, text.as_bytes())?;
        ctx.ui
            .note("added `*.prompty diff=llmops` to .gitattributes: commit it");
    }
    ctx.ui
        .out(&format!("git config diff.llmops.textconv \"{textconv}\"\n"))?;
    let driver = format!("{command} lock merge-driver %O %A %B");
    git.set_local_config("merge.llmops-lock.name", "llmops versions.lock merge")?;
    git.set_local_config("merge.llmops-lock.driver", &driver)?;
    let text = std::fs::read_to_string(&attributes).unwrap_or_default();
    if !text.lines().any(|l| l.trim() == LOCK_ATTRIBUTE) {
        let mut text = text;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(LOCK_ATTRIBUTE);
        text.push('\n');
        fsio::write(&attributes, text.as_bytes())?;
    }
    ctx.ui.out(&format!(
        "git config merge.llmops-lock.driver \"{driver}\"\n"
    ))?;
    Ok(Outcome::Success)
}
