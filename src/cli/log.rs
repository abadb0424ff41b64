//! `llmops log PROMPT`: a prompt's versions, newest first, with the labels on each.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Ctx, Format};
use crate::error::{Outcome, Result};
use crate::registry::{EvalSummary, Reference};
use crate::ui::Style;

/// Show a prompt's versions, labels and eval evidence
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Lists the versions in `.llmops/versions.lock`, newest first: date, author, message, the labels
that point at each, content hash and eval summary. The first line says whether the working
file is a released version or has unreleased changes.

Examples:
  llmops log support-reply
  llmops log support-reply --format json")]
pub struct Args {
    /// The prompt's name.
    #[arg(value_name = "PROMPT")]
    prompt: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn eval_line(e: &EvalSummary) -> String {
    let mut s = format!(
        "score {:.3}  pass {:.1}% of {}",
        e.score,
        e.pass_rate * 100.0,
        e.n
    );
    if let Some(c) = e.cost_usd {
        s.push_str(&format!("  cost ${c:.4}"));
    }
    if let Some(l) = e.latency_p50_ms {
        s.push_str(&format!("  p50 {l:.0} ms"));
    }
    if let Some(r) = &e.run_id {
        s.push_str(&format!("  run {r}"));
    }
    s
}

/// Run `llmops log`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let res = ctx.resolver()?;
    let name = args.prompt.as_str();
    let lock = res.lock()?;
    let versions = lock.prompt(name);
    let working = res.try_resolve(name, &Reference::Worktree)?;
    if versions.is_none() && working.is_none() {
        return Err(res.absent(name, &Reference::Worktree));
    }
    let mut labels_on: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut labels = BTreeMap::new();
    for l in res.labels()? {
        if let Some(v) = l.targets.get(name) {
            labels_on.entry(*v).or_default().push(l.name.clone());
            labels.insert(l.name.clone(), *v);
        }
    }
    let list: Vec<_> = versions
        .map(|p| p.versions.iter().rev().collect())
        .unwrap_or_default();
    let work_hash = working.as_ref().map(|w| w.prompt.content_hash());
    let work_version = working.as_ref().and_then(|w| w.origin.version);
    if args.format == Format::Json {
        let rows: Vec<_> = list
            .iter()
            .map(|v| {
                let mut row = serde_json::to_value(v).unwrap_or_default();
                row["labels"] = json!(labels_on.get(&v.version).cloned().unwrap_or_default());
                row
            })
            .collect();
        ctx.ui.json(&json!({
            "prompt": name,
            "next": versions.map(|p| p.next),
            "worktree": working.as_ref().map(|w| json!({
                "file": w.prompt.path,
                "content_hash": work_hash,
                "version": work_version,
            })),
            "labels": labels,
            "versions": rows,
        }))?;
        return Ok(Outcome::Success);
    }
    let mut out = String::new();
    match (&working, work_version) {
        (Some(w), Some(v)) => out.push_str(&format!(
            "{}: {} is v{v}\n",
            ctx.ui.paint(Style::Heading, name),
            w.prompt.path
        )),
        (Some(w), None) => out.push_str(&format!(
            "{}: {} has unreleased changes (content {}); `llmops release {name}` records them\n",
            ctx.ui.paint(Style::Heading, name),
            w.prompt.path,
            &work_hash.as_deref().unwrap_or("")[..12]
        )),
        (None, _) => out.push_str(&format!(
            "{}: no longer in the working tree\n",
            ctx.ui.paint(Style::Heading, name)
        )),
    }
    if list.is_empty() {
        out.push_str("no released versions\n");
    }
    for v in &list {
        let on = labels_on
            .get(&v.version)
            .map(|l| format!("  [{}]", l.join(", ")))
            .unwrap_or_default();
        out.push_str(&format!(
            "\n{}  {}  {}{}\n",
            ctx.ui.paint(Style::Heading, &format!("v{}", v.version)),
            v.date,
            v.author,
            ctx.ui.paint(Style::Added, &on)
        ));
        out.push_str(&format!(
            "    content {}",
            &v.content_hash[..12.min(v.content_hash.len())]
        ));
        if let Some(o) = &v.owner {
            out.push_str(&format!("  owner {o}"));
        }
        out.push('\n');
        match &v.eval {
            Some(e) => out.push_str(&format!("    eval    {}\n", eval_line(e))),
            None => out.push_str("    eval    none recorded\n"),
        }
        for line in v.message.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    ctx.ui.out(&out)?;
    Ok(Outcome::Success)
}
