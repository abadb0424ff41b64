//! `llmops show PROMPT[@REF]`: one prompt's metadata, model, inputs and templates.

use serde_json::json;

use super::{Ctx, Format};
use crate::error::{Outcome, Result};
use crate::registry::PromptRef;

/// Show a prompt.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "REF is any reference: `v3`, a label (`production`), a git revision (`main`, `HEAD~3`,\na sha) or `worktree`; versions and labels are tried before git revisions.\n\nExamples:\n  llmops show support-reply\n  llmops show support-reply@v3\n  llmops show support-reply@production\n  llmops show support-reply@HEAD~3 --format json"
)]
pub struct Args {
    /// The prompt, optionally at a reference: NAME or NAME@REF.
    #[arg(value_name = "PROMPT[@REF]")]
    prompt: String,
    /// Read at this reference (NAME@REF wins when both are given).
    #[arg(long, value_name = "REF")]
    rev: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Run `llmops show`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let r = PromptRef::parse(&args.prompt)?;
    let res = ctx.resolver()?;
    let found = res.resolve(&r.name, r.rev.as_deref().or(args.rev.as_deref()))?;
    let reg = found.registry;
    let origin = found.origin;
    let p = found.prompt;
    let (suites, _) = reg.suites()?;
    let suites: Vec<&str> = suites
        .iter()
        .filter(|s| s.variants.iter().any(|v| v.prompt == p.name))
        .map(|s| s.path.as_str())
        .collect();
    let provider = reg.settings.provider_for(&p.model);
    let model = reg.settings.model_for(&p.model);
    let hash = p.content_hash();
    if args.format == Format::Json {
        return ctx.ui.json(&json!({
            "name": p.name,
            "path": p.path,
            "source": origin.describe,
            "commit": origin.commit,
            "version": origin.version,
            "label": origin.label,
            "description": p.description,
            "owner": p.owner,
            "authors": p.authors,
            "tags": p.tags,
            "provider": provider,
            "model": model,
            "parameters": p.model.parameters,
            "inputs": p.inputs,
            "outputs": p.outputs,
            "sample": p.sample,
            "messages": p.messages.iter().map(|m| json!({"role": m.role, "template": m.source.trim(), "line": m.line})).collect::<Vec<_>>(),
            "partials": p.partials.keys().collect::<Vec<_>>(),
            "suites": suites,
            "content_hash": hash,
        }))
        .map(|()| Outcome::Success);
    }
    let mut out = String::new();
    let mut line = |k: &str, v: &str| {
        if !v.is_empty() {
            out.push_str(&format!("{k:<12} {v}\n"));
        }
    };
    line("prompt", &p.name);
    line("file", &format!("{} ({})", p.path, origin.describe));
    line(
        "version",
        &origin.version.map(|v| format!("v{v}")).unwrap_or_default(),
    );
    line("description", p.description.as_deref().unwrap_or(""));
    line("owner", p.owner.as_deref().unwrap_or(""));
    line("authors", &p.authors.join(", "));
    line("tags", &p.tags.join(", "));
    line("provider", provider.as_deref().unwrap_or("-"));
    line("model", model.as_deref().unwrap_or("-"));
    let params = serde_json::to_value(&p.model.parameters).unwrap_or_default();
    if let Some(obj) = params.as_object().filter(|o| !o.is_empty()) {
        let text: Vec<String> = obj.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line("parameters", &text.join(" "));
    }
    line("suites", &suites.join(", "));
    line(
        "partials",
        &p.partials.keys().cloned().collect::<Vec<_>>().join(", "),
    );
    line("content", &hash[..16]);
    if !p.inputs.is_empty() {
        out.push_str("\ninputs\n");
        for (name, spec) in &p.inputs {
            let mut d = format!("  {name:<18} {:<8}", spec.kind.as_str());
            if spec.is_required() {
                d.push_str(" required");
            } else if let Some(def) = &spec.default {
                d.push_str(&format!(" default {def}"));
            } else {
                d.push_str(" optional");
            }
            if let Some(desc) = &spec.description {
                d.push_str(&format!("  {desc}"));
            }
            out.push_str(d.trim_end());
            out.push('\n');
        }
    }
    if let Some(o) = &p.outputs {
        out.push_str(&format!("\noutputs (JSON schema)\n  {}\n", o));
    }
    for m in &p.messages {
        out.push_str(&format!(
            "\n{}:\n{}\n",
            m.role.as_str(),
            m.source.trim_end()
        ));
    }
    ctx.ui.out(&out)?;
    Ok(Outcome::Success)
}
