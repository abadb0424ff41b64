//! Merges of `.llmops/versions.lock` and label files: conflict markers reported as a merge
//! conflict naming the prompts, and `llmops lock resolve`, which keeps the versions of both
//! sides, renumbers colliding ones deterministically and carries each label entry with the
//! content it pinned.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::labels::{label_path, Label, LABELS_DIR};
use super::lock::{PromptVersions, VersionEntry, VersionsLock, LOCK_FILE};
use super::resolve::Resolver;
use crate::error::{Diagnostic, Error, Result};
use crate::fsio;

/// Which side of a merge an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The branch being merged into (`<<<<<<<`).
    Ours,
    /// The branch being merged (`>>>>>>>`).
    Theirs,
}

fn marker(line: &str) -> Option<u8> {
    for (m, k) in [
        ("<<<<<<<", b'<'),
        ("|||||||", b'|'),
        ("=======", b'='),
        (">>>>>>>", b'>'),
    ] {
        if line == m || line.strip_prefix(m).is_some_and(|r| r.starts_with(' ')) {
            return Some(k);
        }
    }
    None
}

/// A lock file's prompt key line (`  name:`).
pub fn lock_key(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("  ")?;
    if rest.starts_with(' ') {
        return None;
    }
    let key = rest.trim_end().strip_suffix(':')?;
    Some(key.trim_matches('"'))
}

/// A label file's prompt key (`name: ...`).
pub fn label_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '#']) {
        return None;
    }
    line.split_once(':').map(|(k, _)| k.trim_matches('"'))
}

/// An error when `text` holds git conflict markers, naming the prompts whose entries are in
/// conflict (the key above or inside each conflicted region).
pub fn refuse_conflict(
    file: &str,
    text: &str,
    key: fn(&str) -> Option<&str>,
) -> std::result::Result<(), Diagnostic> {
    let mut first = None;
    let mut prompts = BTreeSet::new();
    let mut current: Option<&str> = None;
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        match marker(line) {
            Some(b'<') => {
                first.get_or_insert(i + 1);
                inside = true;
                if let Some(c) = current {
                    prompts.insert(c.to_string());
                }
            }
            Some(b'>') => inside = false,
            Some(_) => {}
            None => {
                if let Some(k) = key(line) {
                    current = Some(k);
                    if inside {
                        prompts.insert(k.to_string());
                    }
                }
            }
        }
    }
    let Some(line) = first else { return Ok(()) };
    let names = if prompts.is_empty() {
        String::new()
    } else {
        format!(
            " for {}",
            prompts
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(Diagnostic::error(
        "merge-conflict",
        file,
        format!("merge conflict in {file}{names}: the file still holds git's conflict markers"),
    )
    .at(line, None)
    .help("run `llmops lock resolve`: it keeps the versions of both sides, renumbers colliding ones and carries labels with their content"))
}

/// The two sides of a file with conflict markers (clean parts go to both; a diff3 base
/// section is dropped). `None` when there are no markers.
pub fn split_sides(text: &str) -> Option<(String, String)> {
    let (mut ours, mut theirs) = (String::new(), String::new());
    let mut state = 0u8; // 0 clean, 1 ours, 2 base, 3 theirs
    let mut seen = false;
    for line in text.lines() {
        match (marker(line), state) {
            (Some(b'<'), 0) => {
                state = 1;
                seen = true;
            }
            (Some(b'|'), 1) => state = 2,
            (Some(b'='), 1 | 2) => state = 3,
            (Some(b'>'), 3) => state = 0,
            _ => {
                if state != 3 && state != 2 {
                    ours.push_str(line);
                    ours.push('\n');
                }
                if state != 1 && state != 2 {
                    theirs.push_str(line);
                    theirs.push('\n');
                }
            }
        }
    }
    seen.then_some((ours, theirs))
}

/// A version that `lock resolve` gave a new number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Renumbered {
    /// The prompt.
    pub prompt: String,
    /// The side(s) it came from.
    pub sides: Vec<Side>,
    /// Its number on that side.
    pub from: u32,
    /// Its number now.
    pub to: u32,
    /// Its content hash.
    pub content_hash: String,
}

/// Both sides' versions of every prompt. Where the two sides gave one number to different
/// content, the earlier release (by date, then content hash) keeps it and the others get new
/// numbers above every number either side used, in the same order: the same inputs always
/// give the same lock, whichever side is "ours".
pub fn merge_locks(ours: &VersionsLock, theirs: &VersionsLock) -> (VersionsLock, Vec<Renumbered>) {
    let mut out = VersionsLock::default();
    let mut renumbered = Vec::new();
    let names: BTreeSet<&String> = ours.prompts.keys().chain(theirs.prompts.keys()).collect();
    for name in names {
        let mut by_number: BTreeMap<u32, Vec<(Side, &VersionEntry)>> = BTreeMap::new();
        let mut next = 0;
        for (side, lock) in [(Side::Ours, ours), (Side::Theirs, theirs)] {
            if let Some(p) = lock.prompts.get(name) {
                next = next.max(p.next);
                for v in &p.versions {
                    by_number.entry(v.version).or_default().push((side, v));
                }
            }
        }
        let mut kept: Vec<VersionEntry> = Vec::new();
        let mut moved: Vec<(Vec<Side>, &VersionEntry)> = Vec::new();
        for (_, group) in by_number {
            // Distinct contents under this number, each with the sides that have it.
            let mut contents: Vec<(Vec<Side>, &VersionEntry)> = Vec::new();
            for (side, v) in group {
                match contents
                    .iter_mut()
                    .find(|(_, e)| e.content_hash == v.content_hash)
                {
                    Some((sides, _)) => sides.push(side),
                    None => contents.push((vec![side], v)),
                }
            }
            contents.sort_by(|a, b| {
                (&a.1.date, &a.1.content_hash).cmp(&(&b.1.date, &b.1.content_hash))
            });
            let mut it = contents.into_iter();
            if let Some((_, first)) = it.next() {
                kept.push(first.clone());
            }
            moved.extend(it);
        }
        let max = kept.iter().map(|v| v.version).max().unwrap_or(0);
        let mut n = next.max(max + 1);
        moved.sort_by(|a, b| (&a.1.date, &a.1.content_hash).cmp(&(&b.1.date, &b.1.content_hash)));
        for (sides, v) in moved {
            let mut e = v.clone();
            e.version = n;
            renumbered.push(Renumbered {
                prompt: name.clone(),
                sides,
                from: v.version,
                to: n,
                content_hash: v.content_hash.clone(),
            });
            kept.push(e);
            n += 1;
        }
        kept.sort_by_key(|v| v.version);
        out.prompts.insert(
            name.clone(),
            PromptVersions {
                next: n,
                versions: kept,
            },
        );
    }
    (out, renumbered)
}

/// Where a side's label entry points in the merged lock: the version holding the content it
/// pinned, else its number carried through the renumbering.
fn carried(
    lock: &VersionsLock,
    renumbered: &[Renumbered],
    side: Side,
    prompt: &str,
    n: u32,
    pin: Option<&String>,
) -> u32 {
    if let Some(v) = pin.and_then(|h| lock.prompt(prompt)?.by_hash(h)) {
        return v.version;
    }
    renumbered
        .iter()
        .find(|r| r.prompt == prompt && r.from == n && r.sides.contains(&side))
        .map_or(n, |r| r.to)
}

/// One label after a merge, and what people should know about it.
pub fn merge_label(
    name: &str,
    ours: &Label,
    theirs: &Label,
    lock: &VersionsLock,
    renumbered: &[Renumbered],
) -> (Label, Vec<String>) {
    let mut out = Label {
        name: name.to_string(),
        ..Label::default()
    };
    let mut notes = Vec::new();
    let prompts: BTreeSet<&String> = ours.targets.keys().chain(theirs.targets.keys()).collect();
    for p in prompts {
        let side = |s: Side, l: &Label| {
            l.targets
                .get(p)
                .map(|n| carried(lock, renumbered, s, p, *n, l.pins.get(p)))
        };
        let n = match (side(Side::Ours, ours), side(Side::Theirs, theirs)) {
            (Some(a), Some(b)) if a != b => {
                let (keep, other) = (a.max(b), a.min(b));
                notes.push(format!(
                    "label `{name}`: `{p}` was v{other} on one side and v{keep} on the other; kept v{keep}, the later release (point it back with `llmops promote {p} v{other} --label {name}`)"
                ));
                keep
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => continue,
        };
        match lock.get(p, n) {
            Some(e) => out.set(p, n, &e.content_hash),
            None => {
                out.targets.insert(p.clone(), n);
            }
        }
    }
    (out, notes)
}

/// What `lock resolve` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Resolution {
    /// Versions given new numbers.
    pub renumbered: Vec<Renumbered>,
    /// Files written (registry-relative).
    pub files: Vec<String>,
    /// Label entries moved to follow their content, and choices made between the sides.
    pub notes: Vec<String>,
}

/// `llmops lock resolve`: resolve conflict markers in the lock and the label files, carry
/// every pinned label entry to the version that now holds its content, write the files and
/// stage them.
pub fn resolve(res: &Resolver) -> Result<Resolution> {
    let root = res.root().to_path_buf();
    let read = |rel: &str| -> Result<Option<String>> {
        match std::fs::read(root.join(rel)) {
            Ok(b) => Ok(Some(
                crate::yaml::decode_utf8(rel, &b)?.replace("\r\n", "\n"),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(rel, e)),
        }
    };
    let mut out = Resolution::default();
    let mut writes: Vec<(String, String)> = Vec::new();
    let lock_text = read(LOCK_FILE)?.unwrap_or_default();
    let lock = match split_sides(&lock_text) {
        Some((ours, theirs)) => {
            let ours = VersionsLock::parse(&format!("{LOCK_FILE} (ours)"), &ours)?;
            let theirs = VersionsLock::parse(&format!("{LOCK_FILE} (theirs)"), &theirs)?;
            let (lock, renumbered) = merge_locks(&ours, &theirs);
            out.renumbered = renumbered;
            writes.push((LOCK_FILE.to_string(), lock.to_yaml()));
            lock
        }
        None => VersionsLock::parse(LOCK_FILE, &lock_text)?,
    };
    let mut names: Vec<String> = match std::fs::read_dir(root.join(LABELS_DIR)) {
        Ok(d) => d
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".yaml")
                    .map(str::to_string)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    for name in names {
        let path = label_path(&name);
        let Some(text) = read(&path)? else { continue };
        let label = match split_sides(&text) {
            Some((ours, theirs)) => {
                let ours = Label::parse(&name, &format!("{path} (ours)"), &ours)?;
                let theirs = Label::parse(&name, &format!("{path} (theirs)"), &theirs)?;
                let (l, notes) = merge_label(&name, &ours, &theirs, &lock, &out.renumbered);
                out.notes.extend(notes);
                l
            }
            None => {
                let l = Label::parse(&name, &path, &text)?;
                let (carried, notes) = merge_label(&name, &l, &l, &lock, &out.renumbered);
                out.notes.extend(notes);
                for (p, n) in &carried.targets {
                    if l.targets.get(p) != Some(n) {
                        out.notes.push(format!(
                            "label `{name}`: `{p}` moved from v{} to v{n}, the version that now holds the content it pinned",
                            l.targets[p]
                        ));
                    } else if !l.pins.contains_key(p)
                        && out
                            .renumbered
                            .iter()
                            .any(|r| &r.prompt == p && r.from == *n)
                    {
                        out.notes.push(format!(
                            "label `{name}`: `{p}` names v{n} without a content pin, and a v{n} was renumbered: check it with `llmops log {p}`"
                        ));
                    }
                }
                if carried.targets == l.targets {
                    continue;
                }
                carried
            }
        };
        writes.push((path, label.to_yaml()));
    }
    for (rel, text) in &writes {
        fsio::write(&root.join(rel), text.as_bytes())?;
        out.files.push(rel.clone());
    }
    if !out.files.is_empty() {
        res.git()?.stage(&out.files)?;
    }
    Ok(out)
}

/// Git's merge driver for the lock: both sides' versions merged into `ours` (the file git
/// keeps as the result).
pub fn merge_lock_files(
    ours: &std::path::Path,
    theirs: &std::path::Path,
) -> Result<Vec<Renumbered>> {
    let read = |p: &std::path::Path| -> Result<VersionsLock> {
        let shown = p.display().to_string();
        let bytes = std::fs::read(p).map_err(|e| Error::io(&shown, e))?;
        Ok(VersionsLock::parse(
            LOCK_FILE,
            &crate::yaml::decode_utf8(&shown, &bytes)?,
        )?)
    };
    let (merged, renumbered) = merge_locks(&read(ours)?, &read(theirs)?);
    fsio::write(ours, merged.to_yaml().as_bytes())?;
    Ok(renumbered)
}

/// Every label in `res`'s working tree checked against the lock: each entry must name a
/// version the lock has, with the content it pins. Errors, plus a warning for entries with
/// no pin (files written before pins; `llmops promote` pins them).
pub fn check_labels(res: &Resolver) -> Result<Vec<Diagnostic>> {
    let lock = res.lock()?;
    let mut out = Vec::new();
    let mut unpinned: HashMap<String, Vec<String>> = HashMap::new();
    for label in res.labels()? {
        let path = label_path(&label.name);
        for (p, &n) in &label.targets {
            match (lock.get(p, n), label.pins.get(p)) {
                (None, _) => out.push(
                    Diagnostic::error(
                        "label",
                        &path,
                        format!("label `{}` points `{p}` at v{n}, which {LOCK_FILE} does not have", label.name),
                    )
                    .help(format!("`llmops log {p}` lists its versions; move the label with `llmops promote {p} VERSION --label {}`", label.name)),
                ),
                (Some(e), Some(pin)) if &e.content_hash != pin => {
                    let now = lock
                        .prompt(p)
                        .and_then(|v| v.by_hash(pin))
                        .map_or("no version".to_string(), |v| format!("v{}", v.version));
                    out.push(
                        Diagnostic::error(
                            "label",
                            &path,
                            format!(
                                "label `{}` points `{p}` at v{n}, but pins content {} which is {now} in {LOCK_FILE} (v{n} is {}): a merge renumbered the versions",
                                label.name,
                                &pin[..pin.len().min(12)],
                                &e.content_hash[..e.content_hash.len().min(12)]
                            ),
                        )
                        .help("run `llmops lock resolve` to carry the label with its content"),
                    )
                }
                (Some(_), None) => unpinned.entry(path.clone()).or_default().push(p.clone()),
                _ => {}
            }
        }
    }
    let mut unpinned: Vec<_> = unpinned.into_iter().collect();
    unpinned.sort();
    for (path, prompts) in unpinned {
        out.push(
            Diagnostic::warning(
                "label-unpinned",
                &path,
                format!(
                    "{} name a version without its content hash, so a merge that renumbers versions cannot be detected",
                    prompts.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                ),
            )
            .help("`llmops promote PROMPT VERSION --label NAME` writes the pin"),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32, hash: &str, date: &str) -> VersionEntry {
        VersionEntry {
            version: n,
            content_hash: hash.into(),
            file: "p/a.prompty".into(),
            blob: "00".into(),
            partials: BTreeMap::new(),
            author: "a".into(),
            date: date.into(),
            message: String::new(),
            owner: None,
            eval: None,
        }
    }

    fn lock(entries: Vec<VersionEntry>) -> VersionsLock {
        let next = entries.iter().map(|e| e.version).max().unwrap_or(0) + 1;
        VersionsLock {
            prompts: [(
                "a".to_string(),
                PromptVersions {
                    next,
                    versions: entries,
                },
            )]
            .into(),
        }
    }

    #[test]
    fn colliding_versions_renumber_the_later_release_whichever_side_is_ours() {
        let base = entry(1, "h1", "2026-01-01T00:00:00Z");
        let ours = lock(vec![base.clone(), entry(2, "hb", "2026-01-03T00:00:00Z")]);
        let theirs = lock(vec![base, entry(2, "ha", "2026-01-02T00:00:00Z")]);
        let (m, r) = merge_locks(&ours, &theirs);
        let (m2, _) = merge_locks(&theirs, &ours);
        assert_eq!(m, m2);
        let p = &m.prompts["a"];
        assert_eq!(p.get(2).unwrap().content_hash, "ha");
        assert_eq!(p.get(3).unwrap().content_hash, "hb");
        assert_eq!(p.next, 4);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].from, r[0].to, r[0].sides.clone()),
            (2, 3, vec![Side::Ours])
        );
        // Labels follow their pinned content.
        let mut lo = Label::default();
        lo.set("a", 2, "hb");
        let mut lt = Label::default();
        lt.set("a", 2, "ha");
        let (l, notes) = merge_label("production", &lo, &lt, &m, &r);
        assert_eq!(l.targets["a"], 3);
        assert_eq!(l.pins["a"], "hb");
        assert_eq!(notes.len(), 1, "{notes:?}");
        let (l, notes) = merge_label("production", &lo, &lo, &m, &r);
        assert_eq!((l.targets["a"], notes.len()), (3, 0));
    }

    #[test]
    fn markers_split_into_sides_and_name_the_prompts() {
        let text = "format: 1\nprompts:\n  a:\n<<<<<<< HEAD\n    next: 3\n||||||| base\n    next: 2\n=======\n    next: 4\n>>>>>>> other\n  b:\n    next: 1\n";
        let (o, t) = split_sides(text).unwrap();
        assert_eq!(
            o,
            "format: 1\nprompts:\n  a:\n    next: 3\n  b:\n    next: 1\n"
        );
        assert_eq!(
            t,
            "format: 1\nprompts:\n  a:\n    next: 4\n  b:\n    next: 1\n"
        );
        let e = refuse_conflict("f", text, lock_key).unwrap_err();
        assert!(e.message.contains("merge conflict in f for `a`"), "{e}");
        assert_eq!(e.line, Some(4));
        assert!(refuse_conflict("f", "a: 1\n", label_key).is_ok());
    }
}
