//! `llmops runs`: past runs in the store.

use comfy_table::{presets::UTF8_BORDERS_ONLY, Table};

use super::{Ctx, Format};
use crate::error::{Outcome, Result};
use crate::store::Store;

/// List past runs, newest first.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  llmops runs\n  llmops runs --limit 50 --format json")]
pub struct Args {
    /// How many runs.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Run `llmops runs`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let reg = ctx.registry(None)?;
    let store = Store::open(&reg.root.join(&reg.settings.cache_path))?;
    let runs = store.runs(args.limit)?;
    if args.format == Format::Json {
        ctx.ui.json(&runs)?;
        return Ok(Outcome::Success);
    }
    if runs.is_empty() {
        ctx.ui.note("no runs yet: `llmops eval` makes one");
        return Ok(Outcome::Success);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header([
        "RUN",
        "STARTED (UTC)",
        "STATUS",
        "COMMIT",
        "SAMPLES",
        "CACHED",
        "CALLS",
        "SPENT",
        "COMMAND",
    ]);
    for r in &runs {
        let stat = |k: &str| {
            r.stats
                .as_ref()
                .and_then(|s| s.get(k))
                .and_then(serde_json::Value::as_f64)
        };
        let commit = r.git_commit.as_deref().map_or("-".to_string(), |c| {
            format!("{}{}", &c[..7.min(c.len())], if r.dirty { "+" } else { "" })
        });
        t.add_row([
            r.id.to_string(),
            r.started_at
                .get(..19)
                .unwrap_or(&r.started_at)
                .replace('T', " "),
            r.status.to_string(),
            commit,
            stat("samples").map_or("-".into(), |v| v.to_string()),
            stat("cached").map_or("-".into(), |v| v.to_string()),
            stat("calls").map_or("-".into(), |v| v.to_string()),
            stat("spent_usd").map_or("-".into(), |v| format!("${v:.4}")),
            r.command.clone(),
        ]);
    }
    ctx.ui.out(&format!("{t}\n"))?;
    Ok(Outcome::Success)
}
