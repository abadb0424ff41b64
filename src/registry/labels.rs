//! Labels: `.llmops/labels/NAME.yaml`, one file per label, mapping prompt -> version. One file
//! per label so branch protection can guard `production` alone; its git history is the
//! label's audit log.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_saphyr::Spanned;

use crate::error::{Diagnostic, Error, Result};

/// The directory holding label files, relative to the registry root.
pub const LABELS_DIR: &str = ".llmops/labels";

/// The word that names the working tree wherever a reference is expected.
pub const WORKTREE: &str = "worktree";

/// The registry-relative path of a label's file.
pub fn label_path(name: &str) -> String {
    format!("{LABELS_DIR}/{name}.yaml")
}

/// `v3` -> 3. Only this exact shape is a version reference.
pub fn parse_version(text: &str) -> Option<u32> {
    let digits = text.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// A version written as `v3` or `3`.
pub fn parse_version_arg(text: &str) -> Result<u32> {
    parse_version(text)
        .or_else(|| text.parse().ok().filter(|n| *n > 0))
        .ok_or_else(|| {
            Error::usage_help(
                format!("`{text}` is not a version"),
                "write a version as `v3` (or `3`)",
            )
        })
}

/// Check a label name: a valid prompt-style name that cannot be read as a version or as the
/// working tree.
pub fn check_label_name(name: &str) -> Result<()> {
    if !crate::paths::valid_name(name) {
        return Err(Error::usage_help(
            format!("invalid label name `{name}`"),
            "use lower-case letters, digits, `.`, `_` and `-`, for example `production`",
        ));
    }
    if parse_version(name).is_some() || name == WORKTREE {
        return Err(Error::usage(format!(
            "`{name}` cannot name a label: it already means a version or the working tree"
        )));
    }
    Ok(())
}

/// One label: which version of each prompt it points at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Label {
    /// The label's name (`production`).
    pub name: String,
    /// Prompt -> version number.
    pub targets: BTreeMap<String, u32>,
    /// Prompt -> the content hash of the version it points at, when the file pins it
    /// (`prompt: { version: 3, content: HASH }`, as `promote` and `rollback` write). A pin
    /// keeps a label's meaning when a merge renumbers versions.
    pub pins: BTreeMap<String, String>,
}

impl Label {
    /// Point `prompt` at version `n` whose content hash is `hash`.
    pub fn set(&mut self, prompt: &str, n: u32, hash: &str) {
        self.targets.insert(prompt.to_string(), n);
        self.pins.insert(prompt.to_string(), hash.to_string());
    }

    /// Parse a label file. Versions may be written `3`, `v3` or
    /// `{ version: 3, content: HASH }`.
    pub fn parse(name: &str, file: &str, text: &str) -> Result<Label, Diagnostic> {
        let text = text.replace("\r\n", "\n");
        super::merge::refuse_conflict(file, &text, super::merge::label_key)?;
        if let Some((targets, pins)) = fast(&text) {
            return Ok(Label {
                name: name.to_string(),
                targets,
                pins,
            });
        }
        let mut targets = BTreeMap::new();
        let mut pins = BTreeMap::new();
        let has_content = text
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if has_content {
            let map: BTreeMap<String, Spanned<Value>> = crate::yaml::parse(file, &text)?;
            for (prompt, v) in map {
                let line = v.referenced.line() as usize;
                let number = |v: &Value| match v {
                    Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                    Value::String(s) => parse_version(s),
                    _ => None,
                };
                let n = match &v.value {
                    Value::Object(m) if m.keys().all(|k| k == "version" || k == "content") => {
                        if let Some(Value::String(h)) = m.get("content") {
                            pins.insert(prompt.clone(), h.clone());
                        }
                        m.get("version").and_then(number)
                    }
                    other => number(other),
                }
                .filter(|n| *n > 0);
                match n {
                    Some(n) => {
                        targets.insert(prompt, n);
                    }
                    None => {
                        return Err(Diagnostic::error(
                            "label",
                            file,
                            format!("`{prompt}`: `{}` is not a version", v.value),
                        )
                        .at(line.max(1), None)
                        .help("write `PROMPT: 3` (the version number) or `PROMPT: { version: 3, content: HASH }`"))
                    }
                }
            }
        }
        Ok(Label {
            name: name.to_string(),
            targets,
            pins,
        })
    }

    /// The file's text: a comment, then one `prompt: version` line per prompt, sorted.
    pub fn to_yaml(&self) -> String {
        let mut out = format!(
            "# Label `{}`: the version of each prompt it points at. Moved by `llmops promote`\n# and `llmops rollback`; this file's git history is the label's audit log.\n",
            self.name
        );
        if self.targets.is_empty() {
            out.push_str("{}\n");
        }
        for (prompt, n) in &self.targets {
            match self.pins.get(prompt) {
                Some(h) => out.push_str(&format!(
                    "{}: {{ version: {n}, content: {} }}\n",
                    super::lock::scalar(prompt),
                    serde_json::to_string(h).expect("a string serialises")
                )),
                None => out.push_str(&format!("{}: {n}\n", super::lock::scalar(prompt))),
            }
        }
        out
    }
}

/// Prompt -> version, and prompt -> pinned content hash.
type Targets = (BTreeMap<String, u32>, BTreeMap<String, String>);

/// The shape `to_yaml` writes (`prompt: 3` and `prompt: { version: 3, content: HASH }` lines
/// and comments), without a YAML parser: the rollback walk reads every version of the label
/// file. `None` for anything else.
fn fast(text: &str) -> Option<Targets> {
    let (mut out, mut pins) = (BTreeMap::new(), BTreeMap::new());
    for line in text.lines() {
        let t = line.trim_end();
        if t.is_empty() || t.starts_with('#') || t == "{}" {
            continue;
        }
        let (k, v) = t.split_once(": ")?;
        if !crate::paths::valid_name(k) {
            return None;
        }
        let v = match v
            .strip_prefix("{ version: ")
            .and_then(|r| r.strip_suffix(" }"))
        {
            Some(inner) => {
                let (n, h) = inner.split_once(", content: ")?;
                let h = h.trim_matches('"');
                if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                pins.insert(k.to_string(), h.to_string());
                n
            }
            None => v,
        };
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u32 = v.parse().ok().filter(|n| *n > 0)?;
        if out.insert(k.to_string(), n).is_some() {
            return None;
        }
    }
    Some((out, pins))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_v_numbers() {
        let l = Label::parse("production", "f", "# c\nsupport-reply: 3\nsummarize: v2\n").unwrap();
        assert_eq!(l.targets["support-reply"], 3);
        assert_eq!(l.targets["summarize"], 2);
        assert_eq!(
            Label::parse("p", "f", &l.to_yaml()).unwrap().targets,
            l.targets
        );
        let e = Label::parse("p", "f", "a: 1\nb: latest\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(Label::parse("p", "f", "# empty\n")
            .unwrap()
            .targets
            .is_empty());
        assert!(Label::parse("p", "f", "{}\n").unwrap().targets.is_empty());
        // Duplicates and odd shapes leave the fast path for the parser and its errors.
        assert!(fast("a: 1\na: 2\n").is_none());
        assert!(fast("a: v1\n").is_none());
        // A pinned entry round-trips through both paths.
        let mut l = Label::default();
        l.set("support-reply", 2, "ab12");
        l.targets.insert("summarize".into(), 1);
        let text = l.to_yaml();
        assert!(
            text.contains("support-reply: { version: 2, content: \"ab12\" }"),
            "{text}"
        );
        let back = Label::parse("", "f", &text).unwrap();
        assert_eq!(
            (back.targets.clone(), back.pins.clone()),
            (l.targets.clone(), l.pins.clone())
        );
        let slow = Label::parse(
            "",
            "f",
            "support-reply: {content: ab12, version: 2}\nsummarize: 1\n",
        )
        .unwrap();
        assert_eq!((slow.targets, slow.pins), (l.targets, l.pins));
        assert!(Label::parse("p", "f", "a: 1\na: 2\n").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(parse_version("v12"), Some(12));
        assert_eq!(parse_version("v"), None);
        assert_eq!(parse_version("v0"), None);
        assert_eq!(parse_version("vx"), None);
        assert!(check_label_name("production").is_ok());
        assert!(check_label_name("v3").is_err());
        assert!(check_label_name("worktree").is_err());
        assert!(check_label_name("Prod").is_err());
        assert_eq!(parse_version_arg("4").unwrap(), 4);
        assert_eq!(parse_version_arg("v4").unwrap(), 4);
    }
}
