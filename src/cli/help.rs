//! `llmops help [TOPIC]`: the guides of docs/, embedded so they exist after `cargo install`,
//! and the help of any command.

use clap::CommandFactory;

use super::{Cli, Ctx};
use crate::error::{Error, Outcome, Result};

/// The guides, by topic: docs/<topic>.md, compiled into the binary.
pub const GUIDES: &[(&str, &str, &str)] = &[
    (
        "getting-started",
        "from an empty directory to a gated pull request",
        include_str!("../../docs/getting-started.md"),
    ),
    (
        "commands",
        "every command and flag",
        include_str!("../../docs/commands.md"),
    ),
    (
        "configuration",
        "llmops.yaml, profiles, environment variables",
        include_str!("../../docs/configuration.md"),
    ),
    (
        "prompt-format",
        "the .prompty file",
        include_str!("../../docs/prompt-format.md"),
    ),
    (
        "eval-suite-format",
        "suites, cases and datasets",
        include_str!("../../docs/eval-suite-format.md"),
    ),
    (
        "assertions",
        "every assertion kind",
        include_str!("../../docs/assertions.md"),
    ),
    (
        "eval",
        "running suites, the cache, reports",
        include_str!("../../docs/eval.md"),
    ),
    (
        "gate",
        "PASS / FAIL / INCONCLUSIVE against a baseline",
        include_str!("../../docs/gate.md"),
    ),
    (
        "judge",
        "model-graded assertions and their calibration",
        include_str!("../../docs/judge.md"),
    ),
    (
        "lifecycle",
        "versions, labels, release, promote, rollback",
        include_str!("../../docs/lifecycle.md"),
    ),
    (
        "production",
        "production calls: ingest, monitor, drift",
        include_str!("../../docs/production.md"),
    ),
    (
        "ci",
        "the GitHub Action and other CI recipes",
        include_str!("../../docs/ci.md"),
    ),
    (
        "yaml",
        "the YAML subset llmops reads",
        include_str!("../../docs/yaml.md"),
    ),
];

/// Print a guide, or the help of a command.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
A topic that is both a guide and a command (`gate`, `eval`) prints the guide; the command's
options are in `llmops gate --help`.

Examples:
  llmops help                 the list of guides
  llmops help gate            how the gate decides, what to do with each verdict
  llmops help cache clear     the help of a command")]
pub struct Args {
    /// A guide (`gate`, `ci`, `assertions`, ...) or a command (`cache clear`).
    #[arg(value_name = "TOPIC", num_args = 0..)]
    topic: Vec<String>,
}

/// Run `llmops help`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let mut cmd = Cli::command();
    cmd.build();
    let Some(first) = args.topic.first() else {
        let mut text = cmd.render_help().to_string();
        text.push_str("\nGuides (`llmops help TOPIC`):\n");
        for (name, what, _) in GUIDES {
            text.push_str(&format!("  {name:<20} {what}\n"));
        }
        ctx.ui.out(&text)?;
        return Ok(Outcome::Success);
    };
    if args.topic.len() == 1 {
        if let Some((_, _, text)) = GUIDES.iter().find(|(name, _, _)| name == first) {
            ctx.ui.out(text)?;
            return Ok(Outcome::Success);
        }
    }
    let mut page = cmd;
    for word in &args.topic {
        let Some(sub) = page.find_subcommand(word).cloned() else {
            let mut names: Vec<String> = page
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            if args.topic.len() == 1 {
                names.extend(GUIDES.iter().map(|(name, _, _)| name.to_string()));
            }
            let help = crate::text::did_you_mean(word, names.iter().map(String::as_str))
                .unwrap_or_else(|| {
                    "`llmops help` lists the guides, `llmops --help` the commands".to_string()
                });
            return Err(Error::Usage {
                message: format!("no guide or command `{}`", args.topic.join(" ")),
                help: Some(help),
            });
        };
        page = sub;
    }
    ctx.ui.out(&page.render_long_help().to_string())?;
    Ok(Outcome::Success)
}
