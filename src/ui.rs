//! The only module that writes to the terminal. Everything else returns data.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, IsTerminal, Write};

use crate::error::{Diagnostic, Error, Result, Severity};

/// Standard output and error, with colour decided once.
pub struct Ui {
    colour_err: bool,
    colour_out: bool,
}

pub use crate::text::Style;

impl Default for Ui {
    fn default() -> Self {
        Self::new()
    }
}

impl Ui {
    /// Colour on stderr only when it is a terminal and `NO_COLOR` is unset.
    pub fn new() -> Ui {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ui {
            colour_err: !no_colour && io::stderr().is_terminal(),
            colour_out: !no_colour && io::stdout().is_terminal(),
        }
    }

    /// `text` in `style` when stdout is a terminal and `NO_COLOR` is unset; as is otherwise.
    pub fn paint(&self, style: Style, text: &str) -> String {
        if !self.colour_out || text.is_empty() {
            return text.to_string();
        }
        let code = match style {
            Style::Added => "\x1b[32m",
            Style::Removed => "\x1b[31m",
            Style::Hunk => "\x1b[36m",
            Style::Heading => "\x1b[1m",
            Style::Alert => "\x1b[1;31m",
        };
        format!("{code}{text}\x1b[0m")
    }

    /// How tables are laid out on stdout: to `COLUMNS` or the terminal's width, or plain when
    /// piped.
    pub fn layout(&self) -> crate::table::Layout {
        crate::table::Layout::detect(io::stdout().is_terminal())
    }

    /// Write `text` to stdout. A closed pipe (`llmops list | head`) ends the command quietly.
    pub fn out(&self, text: &str) -> Result<()> {
        let text = crate::redact::scrub(text);
        let mut stdout = io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|_| stdout.flush())
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Error::BrokenPipe),
            Err(e) => Err(Error::io("stdout", e)),
        }
    }

    /// Write a JSON value, pretty, to stdout.
    pub fn json<T: serde::Serialize>(&self, value: &T) -> Result<()> {
        let mut text = serde_json::to_string_pretty(value).expect("serialisable");
        text.push('\n');
        self.out(&text)
    }

    /// A line on stderr (notes, progress, summaries that are not data).
    pub fn note(&self, text: &str) {
        let _ = writeln!(io::stderr().lock(), "{}", crate::redact::scrub(text));
    }

    /// A diagnostic on stderr.
    pub fn diagnostic(&self, d: &Diagnostic) {
        let text = d.to_string();
        let text = if self.colour_err {
            let (word, colour) = match d.severity {
                Severity::Error => ("error:", "\x1b[1;31m"),
                Severity::Warning => ("warning:", "\x1b[1;33m"),
            };
            text.replacen(word, &format!("{colour}{word}\x1b[0m"), 1)
                .replacen("help:", "\x1b[1;36mhelp:\x1b[0m", 1)
        } else {
            text
        };
        self.note(&text);
    }

    /// An error that ends the command, with its hint.
    pub fn error(&self, e: &Error) {
        match e {
            Error::BrokenPipe => {}
            Error::Invalid(d) => self.diagnostic(d),
            Error::Many(ds) => ds.iter().for_each(|d| self.diagnostic(d)),
            Error::Usage { message, help } => {
                let d = Diagnostic {
                    help: help.clone(),
                    ..Diagnostic::error("usage", "", message.clone())
                };
                self.diagnostic(&d);
            }
            other => self.diagnostic(&Diagnostic {
                help: other.help().map(str::to_string),
                ..Diagnostic::error("error", "", other.to_string())
            }),
        }
    }
}

/// The eval progress bar: on stderr, hidden when stderr is not a terminal.
pub struct Progress {
    bar: indicatif::ProgressBar,
    retries: u64,
}

impl Progress {
    /// A bar, hidden when `hidden` or when stderr is not a terminal.
    pub fn new(hidden: bool) -> Progress {
        let bar = if hidden || !io::stderr().is_terminal() {
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        };
        Progress { bar, retries: 0 }
    }

    /// Whether the bar is drawn.
    pub fn visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Set the total.
    pub fn total(&self, n: u64) {
        self.bar.set_length(n);
    }

    /// One more done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// A short status after the counter (`3 retries`).
    pub fn message(&self, msg: String) {
        self.bar.set_message(crate::redact::scrub_string(msg));
    }

    /// Print a line above the bar.
    pub fn note(&self, text: &str) {
        let text = crate::redact::scrub(text);
        if self.bar.is_hidden() {
            let _ = writeln!(io::stderr().lock(), "{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl crate::engine::Reporter for Progress {
    fn event(&mut self, event: &crate::engine::Event) {
        use crate::engine::Event;
        match event {
            Event::Total(n) => self.total(*n),
            Event::Retry(note) => {
                self.retries += 1;
                self.message(format!(
                    "{} retries (last: {} {})",
                    self.retries, note.provider, note.error
                ));
            }
            Event::Finished(_) => self.inc(),
            Event::Warning(w) => self.note(&format!("warning: {w}")),
            Event::Note(n) => self.note(n),
            Event::Response { .. } | Event::Rescored(_) => {}
        }
    }

    fn wants_total(&self) -> bool {
        self.visible()
    }

    fn finish(&mut self) -> Result<()> {
        self.bar.finish_and_clear();
        Ok(())
    }
}
