//! `llmops runs`: past runs in the store.

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
    use crate::table::col;
    let columns = [
        col("RUN", 0, true),
        col("STARTED (UTC)", 0, false),
        col("STATUS", 0, false),
        col("COMMIT", 2, false),
        col("SAMPLES", 3, true),
        col("CACHED", 3, true),
        col("CALLS", 3, true),
        col("SPENT", 1, true),
        col("COMMAND", 4, false),
    ];
    let mut rows = Vec::new();
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
        rows.push(vec![
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
    ctx.ui
        .out(&crate::table::render(&columns, &rows, ctx.ui.layout()))?;
    Ok(Outcome::Success)
}
