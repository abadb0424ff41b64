//! Errors, diagnostics and the exit-code contract from SPEC.md.

use std::fmt;

/// Exit codes are a public contract (SPEC.md, "Exit codes").
pub mod exit {
    /// Success, or the gate passed.
    pub const OK: u8 = 0;
    /// An eval or gate failed on quality.
    pub const QUALITY: u8 = 1;
    /// Bad input or configuration.
    pub const BAD_INPUT: u8 = 2;
    /// A provider or network failure beyond retries.
    pub const PROVIDER: u8 = 3;
    /// Nothing to evaluate.
    pub const NOTHING: u8 = 4;
    /// Interrupted (Ctrl-C).
    pub const INTERRUPTED: u8 = 130;
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth fixing, but nothing is wrong enough to stop.
    Warning,
    /// The input cannot be used as written.
    Error,
}

/// One problem found in one file, with where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A short stable code for the check (`yaml`, `unknown-field`, `undeclared-variable`, ...).
    pub code: &'static str,
    /// The file, relative to the registry root where possible.
    pub file: String,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error in `file` with no position yet.
    pub fn error(code: &'static str, file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            help: None,
        }
    }

    /// A warning in `file` with no position yet.
    pub fn warning(
        code: &'static str,
        file: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::error(code, file, message)
        }
    }

    /// Set the line (and optionally the column).
    pub fn at(mut self, line: usize, column: Option<usize>) -> Self {
        self.line = Some(line);
        self.column = column;
        self
    }

    /// Set the line only when one is known and none is set yet.
    pub fn at_opt(mut self, line: Option<usize>) -> Self {
        if self.line.is_none() {
            self.line = line;
        }
        self
    }

    /// Add a hint.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Add a hint when there is one.
    pub fn help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Shift the line by `offset` (a YAML block that starts inside a bigger file).
    pub fn shift_lines(mut self, offset: usize) -> Self {
        self.line = self.line.map(|l| l + offset);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An error about no file starts `error:`, as clap's usage errors do.
        if !self.file.is_empty() {
            write!(f, "{}", self.file)?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(col) = self.column {
                    write!(f, ":{col}")?;
                }
            }
            write!(f, ": ")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Every error a command can end with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file is malformed or inconsistent.
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
    /// Several problems, reported together (lint).
    #[error("{} problem(s) found", .0.len())]
    Many(Vec<Diagnostic>),
    /// The command line or environment asked for something impossible.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do about it.
        help: Option<String>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Git could not do what was asked.
    #[error("git: {message}")]
    Git {
        /// What failed, in words.
        message: String,
        /// The git library's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The SQLite store failed (a damaged file, a full disk, a lock held too long).
    #[error("{path}: database error: {source}")]
    Database {
        /// The database file.
        path: String,
        /// The database library's error.
        #[source]
        source: BoxError,
        /// What to do about it.
        help: Option<String>,
    },
    /// A provider failed beyond retries, or answered something unusable.
    #[error("{message}")]
    Provider {
        /// What failed.
        message: String,
        /// What to do about it.
        help: Option<String>,
    },
    /// A bug: an invariant of llmops itself did not hold.
    #[error("internal error: {0} (please report this as a bug)")]
    Internal(String),
    /// Nothing matched: no suites, or no cases after filtering.
    #[error("nothing to evaluate: {0}")]
    Nothing(String),
    /// The run was interrupted (Ctrl-C); finished work is kept.
    #[error("interrupted")]
    Interrupted,
    /// The stdout reader went away (`llmops list | head`): not an error for the user.
    #[error("broken pipe")]
    BrokenPipe,
}

impl Error {
    /// A usage error with no hint.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            help: None,
        }
    }

    /// A usage error with a hint.
    pub fn usage_help(message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            help: Some(help.into()),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A git error with the library's error kept as its source.
    pub fn git(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Git {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A git error with no library error behind it (a rejected push, a failed `git` command).
    pub fn git_msg(message: impl Into<String>) -> Self {
        Error::Git {
            message: message.into(),
            source: None,
        }
    }

    /// A database error on `path`, with the library's error kept as its source.
    pub fn database(path: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Database {
            path: path.into(),
            source: source.into(),
            help: None,
        }
    }

    /// A provider failure beyond retries.
    pub fn provider(message: impl Into<String>) -> Self {
        Error::Provider {
            message: message.into(),
            help: None,
        }
    }

    /// The hint printed under the message, when the error carries one.
    pub fn help(&self) -> Option<&str> {
        match self {
            Error::Usage { help, .. }
            | Error::Database { help, .. }
            | Error::Provider { help, .. } => help.as_deref(),
            _ => None,
        }
    }
}

/// A boxed source error (git2's, rusqlite's) kept behind our own kinds, so that only
/// `registry` and `store` name those libraries.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a command ended when it did not end with an [`Error`]. The exit code is computed
/// from it, and from errors, in one place: [`exit_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done and passed.
    Success,
    /// An eval or gate ran and failed on quality (a missed threshold, a failing case, a
    /// regression, an INCONCLUSIVE gate under `--strict`).
    QualityFailed,
    /// Problems in the input were found and already reported (lint).
    InputRejected,
    /// A provider or the network failed beyond retries (calls, judge calls, a push).
    ProviderFailed,
    /// Ctrl-C; finished work was kept.
    Interrupted,
}

impl Outcome {
    /// The worse of two outcomes, in the order of the exit-code contract's severity.
    pub fn worst(self, other: Outcome) -> Outcome {
        fn rank(o: Outcome) -> u8 {
            match o {
                Outcome::Success => 0,
                Outcome::QualityFailed => 1,
                Outcome::InputRejected => 2,
                Outcome::ProviderFailed => 3,
                Outcome::Interrupted => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// The one place that turns how a command ended into its exit code (SPEC.md, "Exit codes").
pub fn exit_code(result: &Result<Outcome>) -> u8 {
    match result {
        Ok(Outcome::Success) => exit::OK,
        Ok(Outcome::QualityFailed) => exit::QUALITY,
        Ok(Outcome::InputRejected) => exit::BAD_INPUT,
        Ok(Outcome::ProviderFailed) => exit::PROVIDER,
        Ok(Outcome::Interrupted) => exit::INTERRUPTED,
        Err(e) => match e {
            Error::BrokenPipe => exit::OK,
            Error::Nothing(_) => exit::NOTHING,
            Error::Interrupted => exit::INTERRUPTED,
            Error::Provider { .. } => exit::PROVIDER,
            Error::Invalid(_)
            | Error::Many(_)
            | Error::Usage { .. }
            | Error::Io { .. }
            | Error::Git { .. }
            | Error::Database { .. }
            | Error::Internal(_) => exit::BAD_INPUT,
        },
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Self {
        Error::Invalid(Box::new(d))
    }
}

/// The crate-wide result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
