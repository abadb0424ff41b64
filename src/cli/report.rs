//! `llmops report [RUN]`: print any stored run again, in any format.

use std::path::PathBuf;

use super::{output::emit_report, Ctx, ReportFormat};
use crate::error::{Error, Outcome, Result};
use crate::store::Store;

/// Re-print a stored run.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  llmops report                          the newest run\n  llmops report 12 --format markdown     run 12, for a pull request\n  llmops report --format junit --output junit.xml\n  llmops report --open                   the newest run as a page in your browser\n  llmops report 12 --format html --output run-12.html\n\n`--open` writes the HTML report (to `--output`, else `.llmops/cache/reports/run-N.html`)\nand opens it with `$BROWSER`, else the system's opener (`xdg-open`, `open`, `start`)."
)]
pub struct Args {
    /// Run id (default: the newest).
    run: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write the HTML report and open it in a browser.
    #[arg(long)]
    open: bool,
}

/// Run `llmops report`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let reg = ctx.registry(None)?;
    let store = Store::open(&reg.root.join(&reg.settings.cache_path))?;
    let Some(run) = store.run(args.run)? else {
        return Err(match args.run {
            Some(id) => Error::usage_help(
                format!("no run {id} in the store"),
                "`llmops runs` lists the runs",
            ),
            None => Error::usage_help("no runs yet", "`llmops eval` makes one"),
        });
    };
    // Row by row: one case's rows at a time; only the HTML report keeps each case's variables
    // and assertions.
    let html = args.open || args.format == ReportFormat::Html;
    let mut builder = crate::report::Builder::new(run).detail(html);
    store.results_each(builder.run_id(), &mut |row| builder.push(row))?;
    let report = builder.finish();
    if args.open {
        if !matches!(args.format, ReportFormat::Text | ReportFormat::Html) {
            return Err(Error::usage_help(
                "`--open` shows the HTML report",
                "leave out `--format`, or use `--format html`",
            ));
        }
        let path = match args.output {
            Some(p) => p,
            None => {
                let db = reg.root.join(&reg.settings.cache_path);
                let dir = db.parent().unwrap_or(&reg.root).join("reports");
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(dir.display().to_string(), e))?;
                dir.join(format!("run-{}.html", report.run.id))
            }
        };
        emit_report(ctx, &report, ReportFormat::Html, Some(&path))?;
        open_in_browser(ctx, &path);
        return Ok(report.outcome());
    }
    emit_report(ctx, &report, args.format, args.output.as_deref())?;
    Ok(report.outcome())
}

/// Hand `path` to `$BROWSER`, else the system's opener. A missing opener is not an error: the
/// report is written and its path printed.
fn open_in_browser(ctx: &Ctx, path: &std::path::Path) {
    use std::process::{Command, Stdio};
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut cmd = match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => Command::new(b.trim()),
        _ if cfg!(target_os = "macos") => Command::new("open"),
        _ if cfg!(windows) => {
            let mut c = Command::new("cmd");
            c.args(["/C", "start", ""]);
            c
        }
        _ => Command::new("xdg-open"),
    };
    cmd.arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Not waited for: a browser started by `$BROWSER` may run until it is closed.
    if let Err(e) = cmd.spawn() {
        ctx.ui.note(&format!(
            "could not start a browser ({e}); open {} yourself",
            path.display()
        ));
    }
}
