//! Registry-relative paths and names, below both the registry and the templates: joining a
//! path without leaving a directory, the name rule for prompts and labels, and the one thing
//! a suite needs from wherever its files live.

use std::io::BufRead;

use crate::error::Result;

/// Where registry-relative files are read from: the working tree or a git revision
/// (`registry::Source`), or a plain directory.
pub trait Files {
    /// A buffered reader over a file; `None` when it does not exist.
    fn open(&self, rel: &str) -> Result<Option<Box<dyn BufRead>>>;
}

/// Files under a plain directory on disk.
pub struct Dir(pub std::path::PathBuf);

impl Files for Dir {
    fn open(&self, rel: &str) -> Result<Option<Box<dyn BufRead>>> {
        match std::fs::File::open(self.0.join(rel)) {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => {
                Ok(Some(Box::new(std::io::BufReader::new(f))))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(crate::error::Error::io(rel, e)),
        }
    }
}

/// Join `rel` onto `base` (both registry-relative, `/`-separated) and normalise `.` and `..`.
/// Returns `None` when the result would leave `base`'s `within` directory.
pub fn join_within(within: &str, base: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') || rel.starts_with('\\') || rel.contains(':') || rel.contains('\\') {
        return None;
    }
    let mut parts: Vec<&str> = base
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    let within = within.trim_matches('/');
    if within.is_empty() || joined == within || joined.starts_with(&format!("{within}/")) {
        Some(joined)
    } else {
        None
    }
}

/// Check a prompt name: lower-case letters, digits, `.`, `_`, `-`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::join_within;

    #[test]
    fn joins_stay_inside() {
        assert_eq!(
            join_within("prompts", "prompts", "partials/a.jinja").as_deref(),
            Some("prompts/partials/a.jinja")
        );
        assert_eq!(
            join_within("prompts", "prompts/x", "../b.jinja").as_deref(),
            Some("prompts/b.jinja")
        );
        assert_eq!(join_within("prompts", "prompts", "../../etc/passwd"), None);
        assert_eq!(join_within("prompts", "prompts", "../secrets.jinja"), None);
        assert_eq!(join_within("prompts", "prompts", "/etc/passwd"), None);
        assert_eq!(join_within("", "evals", "../../x"), None);
        assert_eq!(
            join_within("", "evals", "data/a.jsonl").as_deref(),
            Some("evals/data/a.jsonl")
        );
    }
}
