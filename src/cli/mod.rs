//! Command-line definitions and the one dispatch `match`. Each command lives in its own file
//! with its `Args` and a `run(ctx, args)`.

mod cache;
mod completions;
mod diff;
mod eval;
mod export;
mod gate;
mod git_setup;
mod help;
mod import;
mod ingest;
mod init;
mod judge;
mod lint;
mod list;
mod lock;
mod log;
mod merge;
mod monitor;
mod output;
mod promote;
mod release;
mod render;
mod report;
mod rollback;
mod runs;
mod show;
mod show_config;
mod textconv;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Overrides;
use crate::error::{exit_code, Error, Outcome, Result};
use crate::registry::{OpenOptions, Registry, Resolver};
use crate::ui::Ui;

const ABOUT: &str =
    "A git repository of prompts and eval datasets as the source of truth for running LLMs.";

const AFTER_HELP: &str = "\
Examples:
  llmops list                        prompts, their models and suites
  llmops show support-reply@HEAD~3   a prompt as it was three commits ago
  llmops render support-reply --case refund-late   one case's messages
  llmops lint                        check prompts, suites and datasets
  llmops eval                        run every suite (cached answers reused)
  llmops report --format markdown    the last run again, for a pull request
  llmops gate --base-ref main        PASS / FAIL / INCONCLUSIVE against main
  llmops log support-reply           versions, labels and eval evidence
  llmops rollback support-reply      `production` back one version, offline
  llmops ingest calls.jsonl          production calls into the store
  llmops monitor                     DRIFT / OK / INCONCLUSIVE per prompt in production
  llmops config                      each setting and where its value came from
  llmops import promptfoo            a promptfoo project as prompts and suites

Exit codes: 0 ok, 1 quality failure, 2 bad input or configuration,
3 provider or network failure, 4 nothing to evaluate, 130 interrupted.
Guides: `llmops help` lists them; `llmops help gate` prints one.";

/// The `llmops` command line.
#[derive(Debug, Parser)]
#[command(
    name = "llmops",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    max_term_width = 100,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Run as if started in DIR.
    #[arg(
        short = 'C',
        long = "dir",
        global = true,
        value_name = "DIR",
        help_heading = "Global options"
    )]
    dir: Option<PathBuf>,
    /// Use this config file instead of the registry's `llmops.yaml`.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        help_heading = "Global options"
    )]
    config: Option<PathBuf>,
    /// Apply a profile from `llmops.yaml` (also `LLMOPS_PROFILE`).
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        help_heading = "Global options"
    )]
    profile: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Init(init::Args),
    List(list::Args),
    Show(show::Args),
    Render(render::Args),
    Lint(lint::Args),
    Eval(eval::Args),
    Gate(gate::Args),
    Merge(merge::Args),
    Runs(runs::Args),
    Report(report::Args),
    #[command(
        subcommand,
        after_help = "Examples:\n  llmops cache stats                     answers held, size, hit rate of recent runs\n  llmops cache explain refund-late       why this case missed the cache\n  llmops cache clear                     empty it; the next run calls again"
    )]
    Cache(cache::Command),
    #[command(
        subcommand,
        after_help = "Examples:\n  llmops judge calibrate --labels evals-example/judge-labels.jsonl"
    )]
    Judge(judge::Command),
    Release(release::Args),
    Promote(promote::Args),
    Rollback(rollback::Args),
    Log(log::Args),
    Ingest(ingest::Args),
    Monitor(monitor::Args),
    #[command(
        subcommand,
        after_help = "Examples:\n  llmops lock resolve                    finish a merge that conflicted in .llmops/versions.lock"
    )]
    Lock(lock::Command),
    Diff(diff::Args),
    Export(export::Args),
    GitSetup(git_setup::Args),
    Textconv(textconv::Args),
    #[command(
        subcommand,
        after_help = "Examples:\n  llmops import promptfoo                  promptfooconfig.yaml here -> prompts, suites, datasets\n  llmops import promptfoo path/to/promptfooconfig.yaml --dry-run"
    )]
    Import(import::Command),
    Config(show_config::Args),
    Completions(completions::Args),
    Man(completions::ManArgs),
    Help(help::Args),
}

/// Output format for commands whose output is data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For programs.
    Json,
}

/// Output format for run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    /// A table and the failing cases, for people.
    #[default]
    Text,
    /// Everything, for programs.
    Json,
    /// For a pull-request comment.
    Markdown,
    /// JUnit XML, for CI test views.
    Junit,
    /// One self-contained page to open in a browser.
    Html,
}

/// What every command gets.
pub struct Ctx {
    /// Terminal output.
    pub ui: Ui,
    /// How to open the registry.
    pub open: OpenOptions,
}

impl Ctx {
    /// Open the registry at the working tree or `rev`.
    pub fn registry(&self, rev: Option<&str>) -> Result<Registry> {
        Registry::open(&self.open, rev)
    }

    /// Open the registry with flags (`-j`) applied to its settings.
    pub fn registry_with(
        &self,
        rev: Option<&str>,
        flags: impl FnOnce(&mut Overrides),
    ) -> Result<Registry> {
        Registry::open(&self.with_flags(flags), rev)
    }

    /// The open options with flags applied, for commands that resolve several references.
    pub fn with_flags(&self, flags: impl FnOnce(&mut Overrides)) -> OpenOptions {
        let mut open = self.open.clone();
        flags(&mut open.overrides);
        open
    }

    /// The eval evidence in the registry's store (none before the first `llmops eval`).
    pub fn evidence(&self) -> Result<crate::report::evidence::Evidence> {
        let reg = self.registry(None)?;
        crate::report::evidence::Evidence::open(&reg.root.join(&reg.settings.cache_path))
    }

    /// A resolver for references (`v3`, labels, git revisions, `worktree`).
    pub fn resolver(&self) -> Result<Resolver<'_>> {
        Resolver::new(&self.open)
    }
}

/// Parse the command line, run the command, and return the exit code.
pub fn run() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` succeed; anything else clap rejects is bad input.
            let outcome = if e.use_stderr() {
                Outcome::InputRejected
            } else {
                Outcome::Success
            };
            let _ = e.print();
            return exit_code(&Ok(outcome));
        }
    };
    let ui = Ui::new();
    let dir = match cli.dir {
        Some(d) => d,
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    let env = std::env::vars()
        .filter(|(k, _)| k.starts_with("LLMOPS_"))
        .collect();
    let ctx = Ctx {
        ui,
        open: OpenOptions {
            dir,
            config: cli.config,
            overrides: Overrides {
                profile: cli.profile,
                ..Overrides::default()
            },
            env,
        },
    };
    let result = match cli.command {
        Command::Init(args) => init::run(&ctx, args),
        Command::List(args) => list::run(&ctx, args),
        Command::Show(args) => show::run(&ctx, args),
        Command::Render(args) => render::run(&ctx, args),
        Command::Lint(args) => lint::run(&ctx, args),
        Command::Eval(args) => eval::run(&ctx, args),
        Command::Gate(args) => gate::run(&ctx, args),
        Command::Merge(args) => merge::run(&ctx, args),
        Command::Runs(args) => runs::run(&ctx, args),
        Command::Report(args) => report::run(&ctx, args),
        Command::Cache(cmd) => cache::run(&ctx, cmd),
        Command::Judge(cmd) => judge::run(&ctx, cmd),
        Command::Release(args) => release::run(&ctx, args),
        Command::Promote(args) => promote::run(&ctx, args),
        Command::Rollback(args) => rollback::run(&ctx, args),
        Command::Log(args) => log::run(&ctx, args),
        Command::Ingest(args) => ingest::run(&ctx, args),
        Command::Monitor(args) => monitor::run(&ctx, args),
        Command::Lock(cmd) => lock::run(&ctx, cmd),
        Command::Diff(args) => diff::run(&ctx, args),
        Command::Export(args) => export::run(&ctx, args),
        Command::GitSetup(args) => git_setup::run(&ctx, args),
        Command::Textconv(args) => textconv::run(&ctx, args),
        Command::Import(cmd) => import::run(&ctx, cmd),
        Command::Config(args) => show_config::run(&ctx, args),
        Command::Completions(args) => completions::run(&ctx, args),
        Command::Man(args) => completions::man(&ctx, args),
        Command::Help(args) => help::run(&ctx, args),
    };
    if let Err(e) = &result {
        ctx.ui.error(e);
    }
    exit_code(&result)
}

/// `-j N`: a whole number in the range the config accepts.
pub(crate) fn parse_concurrency(s: &str) -> std::result::Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| "expected a whole number".to_string())?;
    crate::config::check_concurrency(n)?;
    Ok(n)
}

/// `--shard I/N`: slice I of N, 1-based.
pub(crate) fn parse_shard(s: &str) -> std::result::Result<(u32, u32), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, for example 2/4")?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| "I must be a whole number")?,
        n.trim().parse().map_err(|_| "N must be a whole number")?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(format!("shard {i}/{n}: need 1 <= I <= N"));
    }
    Ok((i, n))
}

/// Turn `Err` for a failed check into the exit code after printing it; used by commands that
/// report several problems and still want to print what they could.
pub(crate) fn report_errors(ui: &Ui, errors: &[Error]) -> Outcome {
    for e in errors {
        ui.error(e);
    }
    if errors.is_empty() {
        Outcome::Success
    } else {
        Outcome::InputRejected
    }
}
