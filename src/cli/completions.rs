//! `llmops completions SHELL` and `llmops man`: generated from the clap definitions, so they
//! cannot drift from the commands.

use clap::CommandFactory;

use super::{Cli, Ctx};
use crate::error::{Error, Outcome, Result};

/// Print a shell completion script.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples (the script goes to stdout; install it where your shell looks):
  bash        llmops completions bash > ~/.local/share/bash-completion/completions/llmops
  zsh         llmops completions zsh > ~/.zfunc/_llmops   (with `fpath+=~/.zfunc` before `compinit`)
  fish        llmops completions fish > ~/.config/fish/completions/llmops.fish
  powershell  llmops completions powershell >> $PROFILE")]
pub struct Args {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Run `llmops completions`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "llmops", &mut out);
    ctx.ui.out(&String::from_utf8_lossy(&out))?;
    Ok(Outcome::Success)
}

/// Print a man page (roff).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  llmops man > ~/.local/share/man/man1/llmops.1 && man llmops
  llmops man gate > ~/.local/share/man/man1/llmops-gate.1")]
pub struct ManArgs {
    /// The page of one command (`gate`, `cache clear`) instead of `llmops` itself.
    #[arg(value_name = "COMMAND", num_args = 0..)]
    command: Vec<String>,
}

/// Run `llmops man`.
pub fn man(ctx: &Ctx, args: ManArgs) -> Result<Outcome> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut page = cmd;
    let mut name = String::from("llmops");
    for word in &args.command {
        let Some(sub) = page.find_subcommand(word).cloned() else {
            let names: Vec<String> = page
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            let help = crate::text::did_you_mean(word, names.iter().map(String::as_str))
                .unwrap_or_else(|| format!("commands: {}", names.join(", ")));
            return Err(Error::Usage {
                message: format!("`{name}` has no command `{word}`"),
                help: Some(help),
            });
        };
        name = format!("{name}-{word}");
        page = sub.version(env!("CARGO_PKG_VERSION"));
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .title(name.to_uppercase())
        .render(&mut out)
        .map_err(|e| Error::io("stdout", e))?;
    ctx.ui.out(&String::from_utf8_lossy(&out))?;
    Ok(Outcome::Success)
}
