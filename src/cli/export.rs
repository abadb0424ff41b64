//! `llmops export`: resolved prompts as one JSON bundle an application loads without git.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{json, Value};

use super::Ctx;
use crate::error::{Error, Outcome, Result};
use crate::fsio;
use crate::registry::Reference;
use crate::template::{InputSpec, Role};

/// Export resolved prompts as one JSON bundle
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The bundle holds, per prompt: its version (when the content is a released version), content
hash, provider, model and parameters, input schema, output schema, and each message's Jinja
template, with every partial it includes under `partials` (keyed by the name the template
includes it by). Render a message with strict undefined variables, loading includes from
`partials`, and trim the result: that is exactly what `llmops render` prints.

Without `--label` or `--rev`, the working tree is exported. The output has no timestamps, so
the same prompts give the same bytes.

Examples:
  llmops export --label production --output prompts.json
  llmops export --rev v1.4.0 > bundle.json")]
pub struct Args {
    /// Export every prompt the label points at, at its version.
    #[arg(long, value_name = "NAME", conflicts_with = "rev")]
    label: Option<String>,
    /// Export every prompt at this git revision.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// Write the bundle here (write-then-rename) instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Serialize)]
struct Bundle {
    format: &'static str,
    generator: String,
    source: Value,
    render: &'static str,
    prompts: BTreeMap<String, BundlePrompt>,
}

#[derive(Serialize)]
struct BundleMessage {
    role: Role,
    template: String,
}

#[derive(Serialize)]
struct BundlePrompt {
    name: String,
    version: Option<u32>,
    content_hash: String,
    file: String,
    description: Option<String>,
    owner: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    parameters: crate::template::Parameters,
    inputs: indexmap::IndexMap<String, InputSpec>,
    outputs: Option<Value>,
    messages: Vec<BundleMessage>,
    partials: BTreeMap<String, String>,
}

/// Run `llmops export`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let res = ctx.resolver()?;
    let (reference, source) = match (&args.label, &args.rev) {
        (Some(l), _) => {
            crate::registry::check_label_name(l)?;
            if res.label(l)?.is_none() {
                return Err(Error::usage_help(
                    format!(
                        "there is no label `{l}` ({} does not exist)",
                        crate::registry::label_path(l)
                    ),
                    "create it with `llmops promote PROMPT VERSION --label NAME`",
                ));
            }
            (Reference::Label(l.clone()), json!({ "label": l }))
        }
        (None, Some(rev)) if rev == crate::registry::WORKTREE => {
            (Reference::Worktree, json!({ "worktree": true }))
        }
        (None, Some(rev)) => {
            let reg = res.registry_for(&Reference::Git(rev.clone()))?;
            (
                Reference::Git(rev.clone()),
                json!({ "rev": rev, "commit": reg.source.commit() }),
            )
        }
        (None, None) => (Reference::Worktree, json!({ "worktree": true })),
    };
    let mut prompts = BTreeMap::new();
    let names: Vec<String> = res.names(&reference)?.into_iter().collect();
    for found in res.resolve_all(&names, &reference)? {
        let name = found.prompt.name.clone();
        let reg = &found.registry;
        let p = found.prompt;
        let dir = reg.settings.prompts_dir.trim_matches('/');
        let partials = p
            .partials
            .iter()
            .map(|(rel, src)| {
                let key = rel
                    .strip_prefix(dir)
                    .map(|r| r.trim_start_matches('/'))
                    .filter(|_| !dir.is_empty())
                    .unwrap_or(rel);
                (key.to_string(), src.clone())
            })
            .collect();
        prompts.insert(
            name.clone(),
            BundlePrompt {
                version: found.origin.version,
                content_hash: found.origin.content_hash.clone(),
                file: p.path.clone(),
                description: p.description.clone(),
                owner: p.owner.clone(),
                provider: reg.settings.provider_for(&p.model),
                model: reg.settings.model_for(&p.model),
                parameters: p.model.parameters.clone(),
                inputs: p.inputs.clone(),
                outputs: p.outputs.clone(),
                messages: p
                    .messages
                    .iter()
                    .map(|m| BundleMessage {
                        role: m.role,
                        template: m.source.clone(),
                    })
                    .collect(),
                partials,
                name,
            },
        );
    }
    let count = prompts.len();
    let bundle = Bundle {
        format: "llmops-bundle/1",
        generator: format!("llmops {}", env!("CARGO_PKG_VERSION")),
        source,
        render: "Jinja templates; undefined variables are errors; includes load from `partials`; trim each rendered message",
        prompts,
    };
    let mut text = serde_json::to_string_pretty(&bundle).expect("serialisable");
    text.push('\n');
    match args.output.as_ref().filter(|p| !crate::fsio::is_stdout(p)) {
        Some(path) => {
            let path = if path.is_absolute() {
                path.clone()
            } else {
                ctx.open.dir.join(path)
            };
            fsio::write(&path, text.as_bytes())?;
            ctx.ui
                .note(&format!("wrote {count} prompt(s) to {}", path.display()));
        }
        None => ctx.ui.out(&text)?,
    }
    Ok(Outcome::Success)
}
