//! `.llmops/versions.lock`: every released version of every prompt.
//!
//! The file is written by `llmops release` in one fixed shape so that diffs stay small and
//! merges stay easy: a block per prompt sorted by name, versions ascending, one field per line.
//! Each prompt block is parsed on its own, so a lock with thousands of versions stays inside
//! the YAML budgets that protect every other file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Diagnostic, Result};

/// Where the lock lives, relative to the registry root.
pub const LOCK_FILE: &str = ".llmops/versions.lock";

const HEADER: &str = "\
# Every released version of every prompt, written by `llmops release`.
# Versions are immutable and their numbers are never reused. On a merge conflict run
# `llmops lock resolve`: it keeps both sides' versions and carries labels with their content.
";

/// The eval evidence recorded with a version. The eval store provides it (see
/// `report::evidence::Evidence`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSummary {
    /// Mean score over the cases, 0 to 1.
    pub score: f64,
    /// Share of cases that passed, 0 to 1.
    pub pass_rate: f64,
    /// Cases evaluated.
    pub n: u64,
    /// Total cost of the run in US dollars, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Median latency per call in milliseconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    /// The run the numbers come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// One released version of one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionEntry {
    /// The number, per prompt, never reused.
    pub version: u32,
    /// `Prompt::content_hash` of the released content.
    pub content_hash: String,
    /// The prompt file, relative to the registry root.
    pub file: String,
    /// The git blob id of the prompt file.
    pub blob: String,
    /// Partials the prompt includes: registry-relative path -> git blob id.
    #[serde(default)]
    pub partials: BTreeMap<String, String>,
    /// `Name <email>` of whoever released it.
    pub author: String,
    /// When, RFC 3339 UTC.
    pub date: String,
    /// Why.
    #[serde(default)]
    pub message: String,
    /// Who answers for the prompt (its `owner`, else its `authors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The eval evidence for this content, when the store had some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<EvalSummary>,
}

/// Every version of one prompt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptVersions {
    /// The next number to allocate; never lowered, so deleting a version frees nothing.
    #[serde(default)]
    pub next: u32,
    /// Ascending by number.
    #[serde(default)]
    pub versions: Vec<VersionEntry>,
}

impl PromptVersions {
    /// The version with number `n`.
    pub fn get(&self, n: u32) -> Option<&VersionEntry> {
        self.versions.iter().find(|v| v.version == n)
    }

    /// The highest-numbered version.
    pub fn latest(&self) -> Option<&VersionEntry> {
        self.versions.iter().max_by_key(|v| v.version)
    }

    /// The highest-numbered version with this content.
    pub fn by_hash(&self, hash: &str) -> Option<&VersionEntry> {
        self.versions
            .iter()
            .filter(|v| v.content_hash == hash)
            .max_by_key(|v| v.version)
    }

    /// The number `release` would allocate, given the highest number history shows was ever
    /// allocated (a release commit that was later reverted still counts).
    pub fn next_number(&self, seen_in_history: u32) -> u32 {
        let max = self.versions.iter().map(|v| v.version).max().unwrap_or(0);
        self.next.max(max + 1).max(seen_in_history + 1).max(1)
    }
}

/// The whole lock file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionsLock {
    /// Prompt name -> its versions.
    pub prompts: BTreeMap<String, PromptVersions>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Whole {
    #[serde(default)]
    format: Option<u32>,
    #[serde(default)]
    prompts: BTreeMap<String, PromptVersions>,
}

impl VersionsLock {
    /// Versions of `prompt` (empty when it was never released).
    pub fn prompt(&self, prompt: &str) -> Option<&PromptVersions> {
        self.prompts.get(prompt)
    }

    /// Version `n` of `prompt`.
    pub fn get(&self, prompt: &str, n: u32) -> Option<&VersionEntry> {
        self.prompts.get(prompt).and_then(|p| p.get(n))
    }

    /// Parse the lock's text. `file` names it in diagnostics.
    pub fn parse(file: &str, text: &str) -> Result<VersionsLock, Diagnostic> {
        let text = text.replace("\r\n", "\n");
        super::merge::refuse_conflict(file, &text, super::merge::lock_key)?;
        let mut lock = VersionsLock::default();
        match split_blocks(&text) {
            Some((head, blocks)) => {
                let whole: Whole = if head.trim().is_empty() {
                    Whole {
                        format: None,
                        prompts: BTreeMap::new(),
                    }
                } else {
                    crate::yaml::parse(file, head)?
                };
                check_format(file, whole.format)?;
                for (line, block) in blocks {
                    // The shape `release` writes takes a fast path; anything else (a hand edit,
                    // a merge resolution) goes through the YAML parser with its diagnostics.
                    let parsed: BTreeMap<String, PromptVersions> = match fast_block(block) {
                        Some((name, versions)) => [(name, versions)].into(),
                        None => {
                            crate::yaml::parse(file, block).map_err(|d| d.shift_lines(line - 1))?
                        }
                    };
                    for (name, versions) in parsed {
                        if lock.prompts.insert(name.clone(), versions).is_some() {
                            return Err(Diagnostic::error(
                                "lock",
                                file,
                                format!("prompt `{name}` appears twice"),
                            )
                            .at(line, None)
                            .help("merge the two blocks into one, keeping every version"));
                        }
                    }
                }
            }
            None => {
                // Not the shape `release` writes (reformatted by hand): parse it whole.
                let whole: Whole = crate::yaml::parse(file, &text)?;
                check_format(file, whole.format)?;
                lock.prompts = whole.prompts;
            }
        }
        for (name, p) in &mut lock.prompts {
            p.versions.sort_by_key(|v| v.version);
            if let Some(w) = p.versions.windows(2).find(|w| w[0].version == w[1].version) {
                return Err(Diagnostic::error(
                    "lock",
                    file,
                    format!("version {} of `{name}` appears twice", w[0].version),
                )
                .help("two branches released the same number: renumber the one that was never pushed, and raise `next`"));
            }
            if let Some(v) = p.versions.iter().find(|v| v.version == 0) {
                return Err(Diagnostic::error(
                    "lock",
                    file,
                    format!("`{name}` has version {}: numbers start at 1", v.version),
                ));
            }
        }
        Ok(lock)
    }

    /// The lock's text, in the one shape `release` writes.
    pub fn to_yaml(&self) -> String {
        let mut out = String::with_capacity(256 + self.prompts.len() * 512);
        out.push_str(HEADER);
        out.push_str("format: 1\n");
        if self.prompts.is_empty() {
            out.push_str("prompts: {}\n");
            return out;
        }
        out.push_str("prompts:\n");
        for (i, (name, p)) in self.prompts.iter().enumerate() {
            if i > 0 {
                // A blank line between prompts keeps git's merge hunks to one prompt each.
                out.push('\n');
            }
            out.push_str(&format!("  {}:\n", scalar(name)));
            out.push_str(&format!("    next: {}\n", p.next));
            if p.versions.is_empty() {
                out.push_str("    versions: []\n");
                continue;
            }
            out.push_str("    versions:\n");
            let mut versions: Vec<&VersionEntry> = p.versions.iter().collect();
            versions.sort_by_key(|v| v.version);
            for v in versions {
                write_entry(&mut out, v);
            }
        }
        out
    }
}

fn check_format(file: &str, format: Option<u32>) -> Result<(), Diagnostic> {
    match format {
        None | Some(1) => Ok(()),
        Some(n) => Err(Diagnostic::error(
            "lock",
            file,
            format!("lock format {n} is newer than this llmops understands (1)"),
        )
        .help("upgrade llmops")),
    }
}

fn write_entry(out: &mut String, v: &VersionEntry) {
    let ind = "        ";
    out.push_str(&format!("      - version: {}\n", v.version));
    out.push_str(&format!("{ind}content_hash: {}\n", scalar(&v.content_hash)));
    out.push_str(&format!("{ind}file: {}\n", scalar(&v.file)));
    out.push_str(&format!("{ind}blob: {}\n", scalar(&v.blob)));
    if !v.partials.is_empty() {
        out.push_str(&format!("{ind}partials:\n"));
        for (path, blob) in &v.partials {
            out.push_str(&format!("{ind}  {}: {}\n", scalar(path), scalar(blob)));
        }
    }
    out.push_str(&format!("{ind}author: {}\n", scalar(&v.author)));
    out.push_str(&format!("{ind}date: {}\n", scalar(&v.date)));
    out.push_str(&format!("{ind}message: {}\n", scalar(&v.message)));
    if let Some(owner) = &v.owner {
        out.push_str(&format!("{ind}owner: {}\n", scalar(owner)));
    }
    if let Some(e) = &v.eval {
        out.push_str(&format!("{ind}eval:\n"));
        out.push_str(&format!("{ind}  score: {}\n", float(e.score)));
        out.push_str(&format!("{ind}  pass_rate: {}\n", float(e.pass_rate)));
        out.push_str(&format!("{ind}  n: {}\n", e.n));
        if let Some(c) = e.cost_usd {
            out.push_str(&format!("{ind}  cost_usd: {}\n", float(c)));
        }
        if let Some(l) = e.latency_p50_ms {
            out.push_str(&format!("{ind}  latency_p50_ms: {}\n", float(l)));
        }
        if let Some(r) = &e.run_id {
            out.push_str(&format!("{ind}  run_id: {}\n", scalar(r)));
        }
    }
}

fn float(x: f64) -> String {
    if x.is_nan() {
        ".nan".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { ".inf" } else { "-.inf" }.to_string()
    } else {
        serde_json::Number::from_f64(x)
            .map(|n| n.to_string())
            .unwrap_or_else(|| "0".to_string())
    }
}

/// A YAML scalar: plain when that cannot be misread (as a number, boolean, null, or syntax),
/// otherwise double-quoted with JSON escapes, which YAML reads the same way.
pub(crate) fn scalar(s: &str) -> String {
    let plain_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@' | '+' | ' ');
    // Starting with a letter rules out numbers (`1e5`, `0x1f`) and YAML indicators.
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/');
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
    );
    let timestamp = s.len() == 20
        && s.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | 'Z'));
    if timestamp || (first_ok && !reserved && s.trim_end() == s && s.chars().all(plain_char)) {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serialises")
    }
}

/// Split the text `release` writes into its head (`format:` and comments) and one block of
/// lines per prompt, each with its first line number. `None` when the text has another shape.
fn split_blocks(text: &str) -> Option<(&str, Vec<(usize, &str)>)> {
    let mut offset = 0;
    let mut head_end = None;
    let mut blocks: Vec<(usize, usize, usize)> = Vec::new(); // (line, start, end)
    let mut in_prompts = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_end();
        if !in_prompts {
            if trimmed == "prompts:" {
                head_end = Some(start);
                in_prompts = true;
            } else if trimmed.starts_with("prompts:") {
                return None;
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.trim_start().starts_with('#') {
            if let Some(b) = blocks.last_mut() {
                b.2 = offset;
            }
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent == 0 {
            return None; // another top-level key after `prompts:`
        }
        if indent == 2 {
            if !trimmed.ends_with(':') || trimmed[2..].starts_with(['-', '"', '\'', '{', '[']) {
                return None;
            }
            blocks.push((i + 1, start, offset));
        } else if indent > 2 {
            match blocks.last_mut() {
                Some(b) => b.2 = offset,
                None => return None,
            }
        } else {
            return None;
        }
    }
    let head = &text[..head_end.unwrap_or(text.len())];
    if head_end.is_none() {
        return Some((head, Vec::new()));
    }
    Some((
        head,
        blocks
            .into_iter()
            .map(|(line, s, e)| (line, &text[s..e]))
            .collect(),
    ))
}

/// Parse one prompt block in exactly the shape [`VersionsLock::to_yaml`] writes, without a
/// YAML parser: the lock is read by every command that resolves a version, and a long-lived
/// registry's lock runs to megabytes. `None` for anything else, which then takes the full
/// parser.
fn fast_block(block: &str) -> Option<(String, PromptVersions)> {
    fn value(text: &str) -> Option<String> {
        if text.starts_with('"') {
            serde_json::from_str(text).ok()
        } else if text.is_empty()
            || text.starts_with(['\'', '{', '[', '&', '*', '!', '|', '>', '%', '@', '`', '#'])
            || text.contains(" #")
            || text.contains(": ")
        {
            None
        } else {
            Some(text.to_string())
        }
    }
    fn number<T: std::str::FromStr>(text: &str) -> Option<T> {
        if text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'e' | b'E' | b'+'))
        {
            text.parse().ok()
        } else {
            None
        }
    }
    let mut lines = block
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let name = lines.next()?.strip_prefix("  ")?.strip_suffix(':')?;
    let name = value(name)?;
    let mut p = PromptVersions::default();
    let mut saw_next = false;
    let mut saw_versions = false;
    // Where the current entry is: in its fields, its partials, or its eval.
    #[derive(PartialEq)]
    enum In {
        Entry,
        Partials,
        Eval,
    }
    let mut at = In::Entry;
    let mut eval: BTreeMap<String, String> = BTreeMap::new();
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut partials: BTreeMap<String, String> = BTreeMap::new();
    let mut open = false;
    let finish = |fields: &mut BTreeMap<String, String>,
                  partials: &mut BTreeMap<String, String>,
                  eval: &mut BTreeMap<String, String>|
     -> Option<VersionEntry> {
        let mut take = |k: &str| fields.remove(k);
        let e = if eval.is_empty() {
            None
        } else {
            let summary = EvalSummary {
                score: number(&eval.remove("score")?)?,
                pass_rate: number(&eval.remove("pass_rate")?)?,
                n: number(&eval.remove("n")?)?,
                cost_usd: match eval.remove("cost_usd") {
                    Some(v) => Some(number(&v)?),
                    None => None,
                },
                latency_p50_ms: match eval.remove("latency_p50_ms") {
                    Some(v) => Some(number(&v)?),
                    None => None,
                },
                run_id: match eval.remove("run_id") {
                    Some(v) => Some(value(&v)?),
                    None => None,
                },
            };
            if !eval.is_empty() {
                return None;
            }
            Some(summary)
        };
        let entry = VersionEntry {
            version: number(&take("version")?)?,
            content_hash: value(&take("content_hash")?)?,
            file: value(&take("file")?)?,
            blob: value(&take("blob")?)?,
            partials: std::mem::take(partials),
            author: value(&take("author")?)?,
            date: value(&take("date")?)?,
            message: match take("message") {
                Some(m) => value(&m)?,
                None => String::new(),
            },
            owner: match take("owner") {
                Some(o) => Some(value(&o)?),
                None => None,
            },
            eval: e,
        };
        if !fields.is_empty() {
            return None;
        }
        Some(entry)
    };
    for line in lines {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let text = &line[indent..];
        match indent {
            4 => {
                let (k, v) = text.split_once(':')?;
                let v = v.trim();
                match k {
                    "next" if !saw_next => {
                        p.next = number(v)?;
                        saw_next = true;
                    }
                    "versions" if !saw_versions && (v.is_empty() || v == "[]") => {
                        saw_versions = true;
                    }
                    _ => return None,
                }
            }
            6 => {
                let rest = text.strip_prefix("- ")?;
                if open {
                    p.versions
                        .push(finish(&mut fields, &mut partials, &mut eval)?);
                }
                open = true;
                at = In::Entry;
                let (k, v) = rest.split_once(':')?;
                if k != "version" {
                    return None;
                }
                fields.insert(k.to_string(), v.trim().to_string());
            }
            8 if open => {
                let (k, v) = text.split_once(':')?;
                let v = v.trim();
                match (k, v.is_empty()) {
                    ("partials", true) => at = In::Partials,
                    ("eval", true) => at = In::Eval,
                    (_, false) => {
                        at = In::Entry;
                        if fields.insert(k.to_string(), v.to_string()).is_some() {
                            return None;
                        }
                    }
                    _ => return None,
                }
            }
            10 if open && at == In::Partials => {
                // `path: blob`, the path plain or quoted.
                let (k, v) = if let Some(rest) = text.strip_prefix('"') {
                    let end = rest.find("\": ")?;
                    (value(&text[..end + 2])?, text[end + 3..].trim())
                } else {
                    let (k, v) = text.split_once(": ")?;
                    (value(k)?, v.trim())
                };
                partials.insert(k, value(v)?);
            }
            10 if open && at == In::Eval => {
                let (k, v) = text.split_once(':')?;
                eval.insert(k.to_string(), v.trim().to_string());
            }
            _ => return None,
        }
    }
    if open {
        p.versions
            .push(finish(&mut fields, &mut partials, &mut eval)?);
    }
    (saw_next || saw_versions).then_some((name, p))
}

/// Seconds since the epoch as RFC 3339 in UTC (`2025-03-01T12:00:00Z`).
pub fn rfc3339(secs: i64) -> String {
    let (y, m, d, h, mi, s) = crate::text::utc_parts(secs);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32) -> VersionEntry {
        VersionEntry {
            version: n,
            content_hash: format!("{n}abc"),
            file: "prompts/greet.prompty".into(),
            blob: "0123456789abcdef0123456789abcdef01234567".into(),
            partials: [(
                "prompts/partials/tone.jinja".to_string(),
                "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0".to_string(),
            )]
            .into(),
            author: "Ada Lovelace <ada@example.com>".into(),
            date: rfc3339(1_700_000_000),
            message: "fix: no refunds\nsecond line: \"quoted\" # not a comment".into(),
            owner: Some("support".into()),
            eval: (n == 2).then(|| EvalSummary {
                score: 0.91,
                pass_rate: 1.0,
                n: 40,
                cost_usd: Some(0.0123),
                latency_p50_ms: Some(850.0),
                run_id: Some("run-7".into()),
            }),
        }
    }

    #[test]
    fn round_trips_in_one_stable_shape() {
        let mut lock = VersionsLock::default();
        lock.prompts.insert(
            "greet".into(),
            PromptVersions {
                next: 3,
                versions: vec![entry(1), entry(2)],
            },
        );
        lock.prompts.insert(
            "bye".into(),
            PromptVersions {
                next: 2,
                versions: vec![entry(1)],
            },
        );
        let text = lock.to_yaml();
        let back = VersionsLock::parse("lock", &text).unwrap();
        assert_eq!(back, lock);
        assert_eq!(back.to_yaml(), text);
        assert!(text.find("  bye:").unwrap() < text.find("  greet:").unwrap());
        assert!(
            text.contains("        date: 2023-11-14T22:13:20Z\n"),
            "{text}"
        );
        assert!(text.contains("        file: prompts/greet.prompty\n"));
        assert!(text.contains("        content_hash: \"1abc\"\n"));
    }

    #[test]
    fn the_fast_path_reads_what_the_yaml_parser_reads() {
        let mut lock = VersionsLock::default();
        let mut odd = entry(2);
        odd.file = "prompts/with space: and colon.prompty".into();
        odd.partials
            .insert("prompts/\"quoted\".jinja".into(), "abc".into());
        odd.owner = None;
        odd.message = String::new();
        lock.prompts.insert(
            "greet".into(),
            PromptVersions {
                next: 4,
                versions: vec![entry(1), odd],
            },
        );
        lock.prompts.insert(
            "empty".into(),
            PromptVersions {
                next: 2,
                versions: vec![],
            },
        );
        let text = lock.to_yaml();
        let (_, blocks) = split_blocks(&text).unwrap();
        for (line, block) in blocks {
            let slow: BTreeMap<String, PromptVersions> = crate::yaml::parse("l", block)
                .map_err(|d| d.shift_lines(line - 1))
                .unwrap();
            let (name, fast) = fast_block(block).unwrap_or_else(|| panic!("fast path: {block}"));
            assert_eq!(slow[&name], fast, "{block}");
        }
        // A hand edit in another style falls back to the parser.
        assert!(
            fast_block("  greet:\n    next: 2\n    versions:\n      - {version: 1}\n").is_none()
        );
    }

    #[test]
    fn numbers_are_never_reused() {
        let p = PromptVersions {
            next: 5,
            versions: vec![entry(1), entry(2)],
        };
        assert_eq!(p.next_number(0), 5);
        assert_eq!(p.next_number(7), 8);
        assert_eq!(PromptVersions::default().next_number(0), 1);
    }

    #[test]
    fn duplicates_are_errors_with_lines() {
        let text = "format: 1\nprompts:\n  greet:\n    next: 2\n    versions:\n      - version: 1\n        content_hash: a\n        file: f\n        blob: b\n        author: x\n        date: d\n      - version: 1\n        content_hash: a\n        file: f\n        blob: b\n        author: x\n        date: d\n";
        let e = VersionsLock::parse("l", text).unwrap_err();
        assert!(e.message.contains("appears twice"), "{e}");
        let bad = "format: 1\nprompts:\n  greet:\n    next: 2\n    versions:\n      - version: 1\n        bogus: 1\n";
        let e = VersionsLock::parse("l", bad).unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
    }

    #[test]
    fn plain_or_quoted() {
        assert_eq!(scalar("greet"), "greet");
        assert_eq!(scalar("123abc"), "\"123abc\"");
        assert_eq!(scalar("1e5"), "\"1e5\"");
        assert_eq!(scalar("no"), "\"no\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("Warmer greeting"), "Warmer greeting");
        assert_eq!(scalar("trailing "), "\"trailing \"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
