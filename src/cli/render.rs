//! `llmops render PROMPT[@REF]`: the messages a provider would receive.

use serde_json::{json, Map, Value};

use super::{Ctx, Format};
use crate::error::{Diagnostic, Error, Outcome, Result};
use crate::registry::{PromptRef, Registry};
use crate::template::{check_vars, Prompt, VarsError};

/// Render a prompt's messages.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Variables come from, lowest first: input defaults, the prompt's `sample` (only when no other
source is given), `--case`, `--vars`, then `--var`. REF is any reference: `v3`, a label
(`production`), a git revision or `worktree`.

Examples:
  llmops render support-reply
  llmops render support-reply --var customer_name=Ada --var ticket='Where is my refund?'
  llmops render support-reply@production
  llmops render classify-ticket@HEAD~2 --case charged-after-cancel --format json")]
pub struct Args {
    /// The prompt, optionally at a reference: NAME or NAME@REF.
    #[arg(value_name = "PROMPT[@REF]")]
    prompt: String,
    /// Set a variable (repeatable); arrays and objects as JSON.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Read variables from a JSON or YAML file holding one object.
    #[arg(long = "vars", value_name = "FILE")]
    vars_file: Option<std::path::PathBuf>,
    /// Use the variables of this case id from the prompt's suites.
    #[arg(long = "case", value_name = "ID")]
    case: Option<String>,
    /// Read at this reference (NAME@REF wins when both are given).
    #[arg(long, value_name = "REF")]
    rev: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

fn case_vars(reg: &Registry, prompt: &str, id: &str) -> Result<Map<String, Value>> {
    let (suites, _) = reg.suites()?;
    let mut seen = Vec::new();
    for s in suites
        .iter()
        .filter(|s| s.variants.iter().any(|v| v.prompt == prompt))
    {
        for case in s.cases(&reg.source)? {
            let case = case?;
            if case.id == id {
                return Ok(case.vars);
            }
            if seen.len() < 10_000 {
                seen.push(case.id);
            }
        }
    }
    let help = crate::text::did_you_mean(id, seen.iter().map(String::as_str))
        .unwrap_or_else(|| format!("the suites of `{prompt}` have {} case(s)", seen.len()));
    Err(Error::usage_help(
        format!("no case `{id}` in the suites of `{prompt}`"),
        help,
    ))
}

fn file_vars(path: &std::path::Path) -> Result<Map<String, Value>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
    let text = crate::yaml::decode_utf8(&name, &bytes)?;
    let value: Value = if name.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| {
            Diagnostic::error("vars", &name, e.to_string()).at(e.line(), Some(e.column()))
        })?
    } else {
        crate::yaml::parse(&name, &text)?
    };
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(Diagnostic::error("vars", name, "expected an object of variables").into()),
    }
}

fn gather(reg: &Registry, p: &Prompt, args: &Args) -> Result<Map<String, Value>> {
    let mut vars = Map::new();
    let explicit = args.case.is_some() || args.vars_file.is_some() || !args.vars.is_empty();
    if !explicit {
        if let Some(sample) = &p.sample {
            vars.extend(sample.clone());
        }
    }
    if let Some(id) = &args.case {
        vars.extend(case_vars(reg, &p.name, id)?);
    }
    if let Some(path) = &args.vars_file {
        vars.extend(file_vars(path)?);
    }
    for kv in &args.vars {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(Error::usage_help(
                format!("`--var {kv}` has no `=`"),
                "write `--var NAME=VALUE`",
            ));
        };
        vars.insert(k.trim().to_string(), Value::String(v.to_string()));
    }
    check_vars(&p.inputs, &vars).map_err(|e| {
        let help = match &e {
            VarsError::Missing(_) if !explicit => "pass them with `--var NAME=VALUE`, `--vars FILE` or `--case ID`, or add a `sample:` to the prompt".to_string(),
            VarsError::Missing(_) => "pass them with `--var NAME=VALUE`".to_string(),
            _ => format!("`llmops show {}` lists its inputs", p.name),
        };
        Error::usage_help(format!("{}: {e}", p.name), help)
    })
}

/// Run `llmops render`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let r = PromptRef::parse(&args.prompt)?;
    let res = ctx.resolver()?;
    let found = res.resolve(&r.name, r.rev.as_deref().or(args.rev.as_deref()))?;
    let reg = found.registry;
    let p = found.prompt;
    let vars = gather(&reg, &p, &args)?;
    let messages = p.render(&reg.settings.prompts_dir, &vars)?;
    match args.format {
        Format::Json => ctx.ui.json(&json!({
            "prompt": p.name,
            "source": found.origin.describe,
            "commit": found.origin.commit,
            "version": found.origin.version,
            "content_hash": p.content_hash(),
            "provider": reg.settings.provider_for(&p.model),
            "model": reg.settings.model_for(&p.model),
            "parameters": p.model.parameters,
            "vars": vars,
            "messages": messages,
        }))?,
        Format::Text => {
            let text: Vec<String> = messages
                .iter()
                .map(|m| format!("{}:\n{}\n", m.role.as_str(), m.content))
                .collect();
            ctx.ui.out(&text.join("\n"))?;
        }
    }
    Ok(Outcome::Success)
}
