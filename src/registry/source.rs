//! Where registry files are read from: the working tree, or a git revision read straight from
//! the object database (nothing is checked out).

use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A directory entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// File or directory name.
    pub name: String,
    /// True for a directory.
    pub is_dir: bool,
}

/// A snapshot of the registry's files.
pub enum Source {
    /// Files on disk under `root` (the directory holding `llmops.yaml`).
    Worktree {
        /// The registry root.
        root: PathBuf,
    },
    /// Files in a commit's tree; `prefix` is the registry root inside the repository.
    Git {
        /// The repository. git2's handle is `Send` but not `Sync`; the lock lets the planner
        /// thread read while the main thread holds the registry.
        repo: std::sync::Mutex<git2::Repository>,
        /// The commit read.
        commit: git2::Oid,
        /// Directory listings already decoded, by repository path. libgit2 does not cache
        /// large trees, and a prompts directory of 500 files would be decoded on every read.
        dirs: std::sync::Mutex<std::collections::HashMap<String, Listing>>,
        /// The registry root's path inside the repository ("" at the top).
        prefix: String,
        /// What the user wrote (`HEAD~2`, `main`).
        rev: String,
    },
}

/// A decoded git tree: name -> (object id, is a directory).
pub type Listing = std::sync::Arc<std::collections::BTreeMap<String, (git2::Oid, bool)>>;

/// The listing of `path` (repository-relative, "" for the top) in `commit`, cached.
fn listing(
    repo: &git2::Repository,
    commit: git2::Oid,
    dirs: &std::sync::Mutex<std::collections::HashMap<String, Listing>>,
    path: &str,
) -> Result<Option<Listing>> {
    if let Some(l) = dirs.lock().expect("not poisoned").get(path) {
        return Ok(Some(l.clone()));
    }
    let tree_id = if path.is_empty() {
        repo.find_commit(commit)?.tree_id()
    } else {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let Some(up) = listing(repo, commit, dirs, parent)? else {
            return Ok(None);
        };
        match up.get(name) {
            Some((oid, true)) => *oid,
            _ => return Ok(None),
        }
    };
    let tree = repo.find_tree(tree_id)?;
    let entries: std::collections::BTreeMap<String, (git2::Oid, bool)> = tree
        .iter()
        .filter_map(|e| {
            Some((
                e.name()?.to_string(),
                (e.id(), e.kind() == Some(git2::ObjectType::Tree)),
            ))
        })
        .collect();
    let l: Listing = std::sync::Arc::new(entries);
    dirs.lock()
        .expect("not poisoned")
        .insert(path.to_string(), l.clone());
    Ok(Some(l))
}

impl Source {
    /// A human description: `working tree` or `HEAD~2 (abc1234)`.
    pub fn describe(&self) -> String {
        match self {
            Source::Worktree { .. } => "working tree".to_string(),
            Source::Git { commit, rev, .. } => {
                let short = &commit.to_string()[..7];
                if rev.starts_with(short) {
                    short.to_string()
                } else {
                    format!("{rev} ({short})")
                }
            }
        }
    }

    /// The commit read, if this is a git revision.
    pub fn commit(&self) -> Option<String> {
        match self {
            Source::Worktree { .. } => None,
            Source::Git { commit, .. } => Some(commit.to_string()),
        }
    }

    fn git_path(prefix: &str, rel: &str) -> String {
        if prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{prefix}/{rel}")
        }
    }

    fn worktree_path(root: &Path, rel: &str) -> Result<PathBuf> {
        let path = root.join(rel);
        // A symlink must not lead out of the registry. The root is already canonical
        // (`find_root`), and only a path with a symlink in it can resolve elsewhere.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
            || rel.split('/').count() > 1
        {
            let Ok(real) = path.canonicalize() else {
                return Ok(path);
            };
            if !real.starts_with(root) {
                return Err(Error::usage_help(
                    format!("{rel}: resolves outside the repository"),
                    "symlinks in the registry must point inside it",
                ));
            }
        }
        Ok(path)
    }

    /// The bytes of a registry-relative file, or `None` when there is no such file.
    pub fn read(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Source::Worktree { root } => {
                let path = Self::worktree_path(root, rel)?;
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(e)
                        if e.kind() == std::io::ErrorKind::NotFound
                            || e.kind() == std::io::ErrorKind::IsADirectory =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(Error::io(rel, e)),
                }
            }
            Source::Git {
                repo,
                commit,
                dirs,
                prefix,
                ..
            } => {
                let repo = repo.lock().expect("not poisoned");
                let full = Self::git_path(prefix, rel.trim_matches('/'));
                let (dir, name) = full.rsplit_once('/').unwrap_or(("", &full));
                let Some(l) = listing(&repo, *commit, dirs, dir)? else {
                    return Ok(None);
                };
                match l.get(name) {
                    Some((oid, false)) => Ok(Some(repo.find_blob(*oid)?.content().to_vec())),
                    _ => Ok(None),
                }
            }
        }
    }

    /// A buffered reader over a file, streamed from disk for the working tree.
    pub fn open(&self, rel: &str) -> Result<Option<Box<dyn BufRead>>> {
        match self {
            Source::Worktree { root } => {
                let path = Self::worktree_path(root, rel)?;
                match std::fs::File::open(&path) {
                    Ok(f) if f.metadata().map(|m| m.is_file()).unwrap_or(false) => {
                        Ok(Some(Box::new(BufReader::with_capacity(1 << 16, f))))
                    }
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io(rel, e)),
                }
            }
            Source::Git { .. } => Ok(self
                .read(rel)?
                .map(|b| Box::new(Cursor::new(b)) as Box<dyn BufRead>)),
        }
    }

    /// The entries of a registry-relative directory, sorted; empty when it does not exist.
    pub fn list(&self, rel_dir: &str) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        match self {
            Source::Worktree { root } => {
                let dir = root.join(rel_dir);
                let rd = match std::fs::read_dir(&dir) {
                    Ok(rd) => rd,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(Error::io(rel_dir, e)),
                };
                for entry in rd {
                    let entry = entry.map_err(|e| Error::io(rel_dir, e))?;
                    let Ok(name) = entry.file_name().into_string() else {
                        continue;
                    };
                    let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                    out.push(Entry { name, is_dir });
                }
            }
            Source::Git {
                repo,
                commit,
                dirs,
                prefix,
                ..
            } => {
                let repo = repo.lock().expect("not poisoned");
                let path = Self::git_path(prefix, rel_dir.trim_matches('/'));
                if let Some(l) = listing(&repo, *commit, dirs, path.trim_matches('/'))? {
                    out.extend(l.iter().map(|(name, (_, is_dir))| Entry {
                        name: name.clone(),
                        is_dir: *is_dir,
                    }));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every file under `rel_dir` (recursively) whose name ends with `suffix`, as
    /// registry-relative paths, sorted.
    pub fn walk(&self, rel_dir: &str, suffix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut stack = vec![rel_dir.trim_matches('/').to_string()];
        while let Some(dir) = stack.pop() {
            for e in self.list(&dir)? {
                if e.name.starts_with('.') {
                    continue;
                }
                let path = if dir.is_empty() {
                    e.name.clone()
                } else {
                    format!("{dir}/{}", e.name)
                };
                if e.is_dir {
                    stack.push(path);
                } else if e.name.ends_with(suffix) {
                    out.push(path);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

impl crate::paths::Files for Source {
    fn open(&self, rel: &str) -> Result<Option<Box<dyn BufRead>>> {
        Source::open(self, rel)
    }
}
