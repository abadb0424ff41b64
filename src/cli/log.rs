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

With `--at DATE`, says which version each prompt's label pointed at at that moment instead
(what ran during an incident): from the label file's history on the first-parent history of
the current branch (a change merged from another branch counts from its merge commit), with
the version's content hash, the commit that set it and when. DATE is RFC 3339
(`2026-11-26T14:30:00Z`, `2026-11-26T15:30:00+01:00`), `YYYY-MM-DD` (00:00 that day) or
`YYYY-MM-DD HH:MM`; without `Z` or an offset it is UTC. Uncommitted changes are not history.

Examples:
  llmops log support-reply
  llmops log support-reply --format json
  llmops log --label production --at '2026-11-26 14:30'
  llmops log support-reply --label production --at 2026-11-26T15:30:00+01:00")]
pub struct Args {
    /// The prompt's name (with `--at`: every prompt in the label when left out).
    #[arg(value_name = "PROMPT", required_unless_present = "at")]
    prompt: Option<String>,
    /// With `--at`: the label to look up.
    #[arg(
        long,
        value_name = "NAME",
        requires = "at",
        default_value = "production"
    )]
    label: String,
    /// The moment to look at: RFC 3339, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM` (UTC unless an
    /// offset is given).
    #[arg(long, value_name = "DATE")]
    at: Option<String>,
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
    if let Some(at) = &args.at {
        return at_moment(ctx, &args, at);
    }
    let res = ctx.resolver()?;
    let Some(name) = args.prompt.as_deref() else {
        return Err(crate::error::Error::usage(
            "name a prompt: `llmops log PROMPT`",
        ));
    };
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

/// One prompt's entry in a label at a moment.
#[derive(serde::Serialize)]
struct LiveAt {
    prompt: String,
    version: u32,
    content_hash: Option<String>,
    set_by: Option<String>,
    set_at: Option<String>,
    subject: Option<String>,
}

/// `llmops log [PROMPT] --label NAME --at DATE`.
fn at_moment(ctx: &Ctx, args: &Args, at: &str) -> Result<Outcome> {
    use crate::error::Error;
    use crate::registry::{read_label, read_lock, rfc3339};
    let t = crate::text::parse_moment(at).map_err(Error::usage)?;
    let res = ctx.resolver()?;
    let git = res.git()?;
    let label = args.label.as_str();
    crate::registry::check_label_name(label)?;
    let (tip, created) = git.first_parent_at(t, label)?;
    let when = rfc3339(t);
    let Some(created) = created else {
        let known: Vec<String> = res.labels()?.iter().map(|l| l.name.clone()).collect();
        return Err(Error::usage_help(
            format!(
                "no label `{label}` in the history of this branch{}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (labels: {})", known.join(", "))
                }
            ),
            format!("name one of the labels with `--label NAME`, or create it with `llmops promote PROMPT VERSION --label {label}`"),
        ));
    };
    let before = || {
        Error::usage_help(
            format!(
                "label `{label}` did not exist yet at {when}: commit {} created it at {}",
                &created.commit[..7],
                rfc3339(created.time)
            ),
            format!(
                "ask about a moment from {} on: `llmops log --label {label} --at {}`",
                rfc3339(created.time),
                rfc3339(created.time)
            ),
        )
    };
    let Some(tip) = tip.filter(|c| c.time >= created.time) else {
        return Err(before());
    };
    let reg = res.registry_for(&Reference::Git(tip.commit.clone()))?;
    // A label deleted and created again: absent at this moment although created before it.
    let Some(found) = read_label(&reg, label)? else {
        return Err(before());
    };
    let lock = read_lock(&reg)?;
    let names: Vec<String> = match &args.prompt {
        Some(p) => {
            if !found.targets.contains_key(p) {
                return Err(Error::usage_help(
                    format!("label `{label}` did not name `{p}` at {when}"),
                    format!("`llmops log --label {label} --at {at}` lists what it named then"),
                ));
            }
            vec![p.clone()]
        }
        None => found.targets.keys().cloned().collect(),
    };
    let mut rows = Vec::new();
    for name in names {
        let version = found.targets[&name];
        let mut set = None;
        git.label_history_from(Some(&tip.commit), label, &name, |c| {
            set = Some(c.clone());
            false
        })?;
        rows.push(LiveAt {
            content_hash: lock.get(&name, version).map(|v| v.content_hash.clone()),
            set_by: set.as_ref().map(|c| c.commit.clone()),
            set_at: set.as_ref().map(|c| rfc3339(c.time)),
            subject: set.map(|c| c.subject),
            prompt: name,
            version,
        });
    }
    if args.format == Format::Json {
        ctx.ui.json(&json!({
            "label": label,
            "at": when,
            "commit": tip.commit,
            "prompts": rows,
        }))?;
        return Ok(Outcome::Success);
    }
    let mut out = format!(
        "label `{label}` at {when} (commit {}, first-parent history of this branch):\n",
        &tip.commit[..7]
    );
    for r in &rows {
        out.push_str(&format!(
            "\n{}  v{}  content {}\n    set by {} at {}{}\n",
            ctx.ui.paint(Style::Heading, &r.prompt),
            r.version,
            r.content_hash
                .as_deref()
                .map_or("unknown (not in the lock then)", |h| &h[..12.min(h.len())]),
            r.set_by.as_deref().map_or("-", |c| &c[..7]),
            r.set_at.as_deref().unwrap_or("-"),
            r.subject
                .as_deref()
                .map(|s| format!("  {s}"))
                .unwrap_or_default()
        ));
    }
    if rows.is_empty() {
        out.push_str("no prompt\n");
    }
    ctx.ui.out(&out)?;
    Ok(Outcome::Success)
}
