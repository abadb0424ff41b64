//! `llmops list`: every prompt with its description, owner, model, inputs and suites.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{report_errors, Ctx, Format};
use crate::error::{Outcome, Result};

/// List prompts.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  llmops list\n  llmops list --rev main~5 --format json")]
pub struct Args {
    /// Read the registry at this git revision instead of the working tree.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Serialize)]
struct Row {
    name: String,
    path: String,
    description: Option<String>,
    owner: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    inputs: Vec<String>,
    suites: Vec<String>,
}

/// Run `llmops list`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let reg = ctx.registry(args.rev.as_deref())?;
    let (suites, mut errors) = reg.suites()?;
    let mut by_prompt: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in &suites {
        for v in &s.variants {
            let list = by_prompt.entry(v.prompt.as_str()).or_default();
            if !list.contains(&s.name) {
                list.push(s.name.clone());
            }
        }
    }
    let mut rows = Vec::new();
    // Parsing front matter dominates on large registries; two cores halve it.
    let files: Vec<(String, String)> = reg.prompt_files()?.into_iter().collect();
    let loaded: Vec<_> = {
        use rayon::prelude::*;
        files
            .into_par_iter()
            .map(|(name, path)| {
                let p = reg.load_prompt_file(&path);
                (name, path, p)
            })
            .collect()
    };
    for (name, path, p) in loaded {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        rows.push(Row {
            suites: by_prompt.get(name.as_str()).cloned().unwrap_or_default(),
            name,
            path,
            description: p.description.clone(),
            owner: p
                .owner
                .clone()
                .or_else(|| (!p.authors.is_empty()).then(|| p.authors.join(", "))),
            provider: reg.settings.provider_for(&p.model),
            model: reg.settings.model_for(&p.model),
            inputs: p
                .inputs
                .iter()
                .map(|(n, s)| {
                    if s.is_required() {
                        n.clone()
                    } else {
                        format!("{n}?")
                    }
                })
                .collect(),
        });
    }
    match args.format {
        Format::Json => ctx.ui.json(&rows)?,
        Format::Text => {
            if rows.is_empty() {
                ctx.ui.note(&format!(
                    "no prompts in `{}` at {}",
                    reg.settings.prompts_dir,
                    reg.source.describe()
                ));
            } else {
                use crate::table::col;
                let columns = [
                    col("PROMPT", 0, false),
                    col("DESCRIPTION", 4, false),
                    col("OWNER", 3, false),
                    col("MODEL", 1, false),
                    col("INPUTS", 5, false),
                    col("SUITES", 2, false),
                ];
                let mut cells = Vec::new();
                for r in &rows {
                    cells.push(vec![
                        r.name.clone(),
                        r.description.clone().unwrap_or_default(),
                        r.owner.clone().unwrap_or_default(),
                        r.model.clone().unwrap_or_else(|| "-".into()),
                        r.inputs.join(", "),
                        r.suites.join(", "),
                    ]);
                }
                ctx.ui
                    .out(&crate::table::render(&columns, &cells, ctx.ui.layout()))?;
            }
        }
    }
    Ok(report_errors(&ctx.ui, &errors))
}
