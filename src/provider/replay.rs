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
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Recordings {
                    dir: shown.to_string(),
                    by_key,
                })
            }
            Err(e) => return Err(Error::io(shown, e)),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        for path in files {
            let name = format!(
                "{shown}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&name, e))?;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let rec: Recording = serde_json::from_str(line).map_err(|e| {
                    Diagnostic::error("recording", &name, format!("unreadable recording: {e}"))
                        .at(i + 1, Some(e.column()))
                })?;
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

/// Merge `new` recordings into `<dir>/<group>.jsonl` (write-then-rename; sorted by key).
pub fn write(dir: &Path, group: &str, new: Vec<Recording>) -> Result<usize> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let path = dir.join(format!("{group}.jsonl"));
    let shown = path.display().to_string();
    let mut all: BTreeMap<String, Recording> = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Ok(rec) = serde_json::from_str::<Recording>(line) {
                all.insert(rec.key.clone(), rec);
            }
        }
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
    let tmp = path.with_extension("jsonl.tmp");
    std::fs::write(&tmp, out).map_err(|e| Error::io(&shown, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&shown, e))?;
    Ok(added)
}
