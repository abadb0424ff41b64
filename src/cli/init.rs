//! `llmops init [DIR]`: a new registry with a sample prompt, suite, dataset and config.

use std::path::{Path, PathBuf};

use super::Ctx;
use crate::config::CONFIG_FILE;
use crate::error::{Error, Outcome, Result};

/// Create a registry.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes llmops.yaml, prompts/welcome.prompty, evals/welcome.yaml, evals/data/welcome.jsonl and
.gitignore. When DIR is not inside a git repository it is made one, and the files become its
first commit. Refuses when DIR already has an llmops.yaml.

Examples:
  llmops init my-prompts
  cd existing-repo && llmops init")]
pub struct Args {
    /// Directory for the registry (created if missing).
    #[arg(default_value = ".", value_name = "DIR")]
    path: PathBuf,
}

const CONFIG: &str = r#"# llmops project config: docs/configuration.md
prompts_dir: prompts
evals_dir: evals

defaults:
  provider: echo          # offline: answers with the rendered prompt
  model: gpt-4o-mini
  concurrency: 8

providers:
  openai:
    type: openai
    api_key_env: OPENAI_API_KEY   # the variable's name; never the key itself
  echo:
    type: echo

gate:
  alpha: 0.05
  tolerance: 0.02

profiles:
  ci:
    defaults: { concurrency: 4 }
    gate: { strict: true }
"#;

const PROMPT: &str = r#"---
name: welcome
description: Welcome a new user to the product
owner: you@example.com
model:
  name: gpt-4o-mini
  parameters:
    temperature: 0.3
    max_tokens: 200
inputs:
  user_name:
    type: string
    description: The new user's first name
  product:
    type: string
    default: Acme Notes
sample:
  user_name: Ada
---
system:
You write short, warm welcome messages for {{ product }}. Two sentences at most.

user:
Welcome {{ user_name }}, who just signed up.
"#;

const SUITE: &str = r#"description: Welcome messages are short and use the user's name
prompt: welcome
dataset: data/welcome.jsonl
assert:
  - type: max-length
    value: 400
  - type: not-icontains
    value: as an ai
thresholds:
  pass_rate: 0.9
"#;

const DATASET: &str = r#"{"id": "ada", "vars": {"user_name": "Ada"}, "assert": [{"type": "contains", "value": "Ada"}]}
{"id": "grace", "vars": {"user_name": "Grace", "product": "Acme Tasks"}, "assert": [{"type": "contains", "value": "Grace"}]}
"#;

const GITIGNORE_LINE: &str = ".llmops/cache/";

fn write_new(path: &Path, text: &str) -> Result<()> {
    // Through the one door: beside, then rename, so an interrupted init leaves no half file.
    crate::fsio::write(path, text.as_bytes())
}

/// Run `llmops init`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let dir = if args.path.is_absolute() {
        args.path.clone()
    } else {
        ctx.open.dir.join(&args.path)
    };
    let files: [(&str, &str); 4] = [
        (CONFIG_FILE, CONFIG),
        ("prompts/welcome.prompty", PROMPT),
        ("evals/welcome.yaml", SUITE),
        ("evals/data/welcome.jsonl", DATASET),
    ];
    for (rel, _) in &files {
        if dir.join(rel).exists() {
            return Err(Error::usage_help(
                format!("{} already exists", dir.join(rel).display()),
                "llmops init only creates a new registry; it never overwrites files",
            ));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let new_repo = !crate::registry::in_git_repo(&dir);
    for (rel, text) in &files {
        write_new(&dir.join(rel), text)?;
    }
    let gitignore = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    if !existing.lines().any(|l| l.trim() == GITIGNORE_LINE) {
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(GITIGNORE_LINE);
        text.push('\n');
        write_new(&gitignore, &text)?;
    }
    let mut paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    paths.push(".gitignore");
    let shown = dir.display();
    if new_repo {
        let id = crate::registry::init_and_commit(&dir, &paths, "llmops: initialise the registry")?;
        ctx.ui.note(&format!(
            "created a git repository at {shown} with the registry as its first commit ({})",
            &id[..7]
        ));
    } else {
        ctx.ui.note(&format!("created the registry in {shown} (inside an existing git repository; commit it when ready)"));
    }
    ctx.ui.note(&format!(
        "next: `cd {shown}` then `llmops list`, `llmops render welcome`, `llmops lint`"
    ));
    Ok(Outcome::Success)
}
