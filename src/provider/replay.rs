//! Recorded responses: what `llmops eval --record` writes and the `replay` provider answers
//! from. One JSONL file per prompt in a directory, sorted by request key so diffs stay small.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{CallError, Request, Response};
use crate::error::{Diagnostic, Error, Result};

/// One recording.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recording {
    /// [`request_key`] of the request.
    pub key: String,
    /// The request as sent (for people reading the file, and `cache explain`).
    pub request: Request,
    /// What came back.
    pub response: Response,
}

/// The identity of a request for replay: model, parameters, messages and sample index, but
/// not the provider, so a recording made against one provider replays anywhere.
pub fn request_key(req: &Request) -> String {
    let v = serde_json::to_value(req).expect("serialisable");
    crate::text::sha256_hex(crate::text::canonical_json(&v).as_bytes())[..24].to_string()
}

/// Every recording in a directory.
pub struct Recordings {
    dir: String,
    by_key: HashMap<String, Response>,
}

impl Recordings {
    /// Load `dir` (shown to users as `shown`); a missing directory holds no recordings.
    pub fn load(dir: &Path, shown: &str) -> Result<Recordings> {
        let mut by_key = HashMap::new();
        for path in jsonl_files(dir, shown)? {
            let name = format!(
                "{shown}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            for rec in read_file(&path, &name)? {
                by_key.insert(rec.key, rec.response);
            }
        }
        Ok(Recordings {
            dir: shown.to_string(),
            by_key,
        })
    }

    /// How many recordings were loaded.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The recorded answer to `req`.
    pub fn answer(&self, req: &Request) -> std::result::Result<Response, CallError> {
        let key = request_key(req);
        self.by_key.get(&key).cloned().ok_or(CallError::ReplayMiss {
            key,
            dir: self.dir.clone(),
        })
    }
}

/// `root/rel` for a recordings directory from the config, refused when it resolves (through a
/// symlink) outside the repository. `rel` itself was checked at load (no `..`, not absolute).
pub fn confined(root: &Path, rel: &str) -> Result<PathBuf> {
    let path = root.join(rel);
    // The nearest existing ancestor decides where the path really leads.
    let mut probe = path.as_path();
    while !probe.exists() {
        match probe.parent() {
            Some(p) => probe = p,
            None => return Ok(path),
        }
    }
    let (Ok(real), Ok(real_root)) = (probe.canonicalize(), root.canonicalize()) else {
        return Ok(path);
    };
    if !real.starts_with(&real_root) {
        return Err(Error::usage_help(
            format!("recordings directory `{rel}` resolves outside the repository"),
            "a symlink in the path leads out of the registry; recordings must live inside it",
        ));
    }
    Ok(path)
}

/// Every recording in one file, in order, or an error naming the file and line of the first
/// one that cannot be read (a bad byte, a line that is not a recording). A missing file holds
/// none.
pub fn read_file(path: &Path, shown: &str) -> Result<Vec<Recording>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(shown, e)),
    };
    let mut out = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = std::str::from_utf8(line).map_err(|e| {
            Diagnostic::error(
                "recording",
                shown,
                format!(
                    "unreadable recording: not UTF-8 at byte {}",
                    e.valid_up_to() + 1
                ),
            )
            .at(i + 1, None)
            .help("fix or delete the line; llmops never drops recordings it cannot read")
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: Recording = serde_json::from_str(line).map_err(|e| {
            Diagnostic::error("recording", shown, format!("unreadable recording: {e}"))
                .at(i + 1, Some(e.column()))
                .help("fix or delete the line; llmops never drops recordings it cannot read")
        })?;
        out.push(rec);
    }
    Ok(out)
}

/// Check that `<dir>/<group>.jsonl` files can be merged into before any call is paid for.
pub fn check_dir(dir: &Path) -> Result<()> {
    for path in jsonl_files(dir, &dir.display().to_string())? {
        read_file(&path, &path.display().to_string())?;
    }
    Ok(())
}

/// The `.jsonl` files of a recordings directory, sorted; none when it does not exist yet.
fn jsonl_files(dir: &Path, shown: &str) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(shown, e)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    Ok(files)
}

/// Merge `new` recordings into `<dir>/<group>.jsonl` (sorted by key, through
/// [`crate::fsio::write`]). Existing recordings are kept; a file that cannot be read is an
/// error naming its line, and nothing is written over it.
pub fn write(dir: &Path, group: &str, new: Vec<Recording>) -> Result<usize> {
    let path = dir.join(format!("{group}.jsonl"));
    let shown = path.display().to_string();
    let mut all: BTreeMap<String, Recording> = BTreeMap::new();
    for rec in read_file(&path, &shown)? {
        all.insert(rec.key.clone(), rec);
    }
    let added = new.len();
    for rec in new {
        all.insert(rec.key.clone(), rec);
    }
    let mut out = String::new();
    for rec in all.values() {
        out.push_str(&serde_json::to_string(rec).expect("serialisable"));
        out.push('\n');
    }
    // Recordings are committed to git: no key or configured secret may reach them.
    let out = crate::redact::scrub(&out);
    crate::fsio::write(&path, out.as_bytes())?;
    Ok(added)
}
