//! The git operations behind the lifecycle commands: blobs by id, dirty checks, commits that
//! touch only the files they mean to, the label history walk, trailer scans and push. Nothing
//! here checks anything out or rewrites history.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::{Commit, FileMode, ObjectType, Oid, Repository};

use super::labels::{label_path, parse_version, Label};
use crate::error::{Error, Result};

/// A git repository seen from a registry root.
pub struct GitRepo {
    repo: Repository,
    /// Set when a commit lost the race for its branch (the branch moved after it was read).
    moved: std::cell::Cell<bool>,
    /// The registry root inside the repository ("" at the top).
    prefix: String,
    workdir: PathBuf,
}

/// A commit that a lifecycle command made.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Full commit id.
    pub id: String,
    /// The branch it was made on (`main`).
    pub branch: String,
}

/// The commit a change is compared with: the merge base with its base branch.
#[derive(Debug, Clone)]
pub struct BaseCommit {
    /// Full commit id of the merge base.
    pub commit: String,
    /// The base branch as found (`origin/main`, `main`).
    pub branch: String,
}

/// Who and when, for a commit and for the lock.
#[derive(Clone)]
pub struct Author {
    /// `Name <email>`.
    pub display: String,
    /// RFC 3339 UTC.
    pub date: String,
    sig: git2::Signature<'static>,
}

/// One change of one prompt's entry in a label file, from the label's git history.
#[derive(Debug, Clone)]
pub struct LabelChange {
    /// The commit that made it.
    pub commit: String,
    /// Seconds since the epoch (committer time).
    pub time: i64,
    /// The version before (None: the prompt was not in the label).
    pub from: Option<u32>,
    /// The version after (None: the prompt was removed).
    pub to: Option<u32>,
    /// The commit's trailers, in order.
    pub trailers: Vec<(String, String)>,
    /// The commit's subject line.
    pub subject: String,
}

/// A commit on the first-parent history, for `llmops log --at`.
#[derive(Debug, Clone)]
pub struct FirstParent {
    /// Full commit id.
    pub commit: String,
    /// Committer time, seconds since the epoch: when it landed on the branch.
    pub time: i64,
}

impl LabelChange {
    /// The value of trailer `key`, if the commit has one.
    pub fn trailer(&self, key: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this change was a rollback away from `from` (its `Rollback-From` trailer
    /// names the version the prompt had before).
    pub fn is_rollback(&self) -> bool {
        match (
            self.trailer("Rollback-From").and_then(parse_version),
            self.from,
        ) {
            (Some(rb), Some(from)) => rb == from,
            _ => false,
        }
    }
}

/// The repository for `start`, as git finds it: `GIT_DIR` (with `GIT_WORK_TREE`) when set,
/// else the nearest repository at or above `start`.
pub(crate) fn open_repo(start: &Path) -> std::result::Result<Repository, git2::Error> {
    let Some(dir) = std::env::var_os("GIT_DIR").filter(|d| !d.is_empty()) else {
        return Repository::discover(start);
    };
    let repo = Repository::open(&dir)?;
    if let Some(tree) = std::env::var_os("GIT_WORK_TREE").filter(|d| !d.is_empty()) {
        repo.set_workdir(Path::new(&tree), false)?;
    }
    Ok(repo)
}

/// The repository holding the registry at `root`, its work tree, and the registry's path
/// inside it ("" at the top). `not_a_repo` is the error to give when there is none.
pub(crate) fn discover(
    root: &Path,
    not_a_repo: impl FnOnce() -> Error,
) -> Result<(Repository, PathBuf, String)> {
    let repo = open_repo(root).map_err(|_| not_a_repo())?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| Error::usage("a bare repository has no registry root"))?
        .canonicalize()
        .map_err(|e| Error::io("repository", e))?;
    let root = root
        .canonicalize()
        .map_err(|e| Error::io(root.display().to_string(), e))?;
    let prefix = root
        .strip_prefix(&workdir)
        .unwrap_or(Path::new(""))
        .to_string_lossy()
        .replace('\\', "/");
    Ok((repo, workdir, prefix))
}

impl GitRepo {
    /// Open the repository holding the registry at `root`.
    pub fn open(root: &Path) -> Result<GitRepo> {
        let (repo, workdir, prefix) = discover(root, || {
            Error::usage_help(
                format!("{} is not inside a git repository", root.display()),
                "versions and labels live in git: run `git init` and commit the registry",
            )
        })?;
        Ok(GitRepo {
            repo,
            moved: std::cell::Cell::new(false),
            prefix,
            workdir,
        })
    }

    /// The commit a change targets: the merge base of HEAD with the base branch `base` (a
    /// branch name such as `main`, looked up as `origin/main` first, or any revision), or,
    /// with no `base`, with the default branch (`origin/HEAD`, else `main`/`master`). `None`
    /// when there is no commit or no default branch. A shallow clone that lacks the history
    /// to find it is an error that says how to fetch it.
    pub fn merge_base_with(&self, base: Option<&str>) -> Result<Option<BaseCommit>> {
        let Ok(head) = self.repo.head().and_then(|h| h.peel_to_commit()) else {
            return Ok(None);
        };
        let shallow = self.repo.is_shallow();
        let shallow_help = "fetch the full history: `git fetch --unshallow origin` (GitHub Actions: `actions/checkout` with `fetch-depth: 0`; GitLab: `GIT_DEPTH: 0`)";
        let candidates: Vec<(String, String)> = match base {
            Some(b) => {
                let b = b.strip_prefix("refs/heads/").unwrap_or(b);
                let mut c = vec![
                    (format!("refs/remotes/origin/{b}"), format!("origin/{b}")),
                    (format!("refs/heads/{b}"), b.to_string()),
                ];
                if let Ok(obj) = self.repo.revparse_single(b) {
                    if let Ok(commit) = obj.peel_to_commit() {
                        c.push((commit.id().to_string(), b.to_string()));
                    }
                }
                c
            }
            None => [
                "refs/remotes/origin/HEAD",
                "refs/heads/main",
                "refs/heads/master",
                "refs/remotes/origin/main",
                "refs/remotes/origin/master",
            ]
            .iter()
            .map(|n| (n.to_string(), String::new()))
            .collect(),
        };
        for (name, shown) in candidates {
            let target = match Oid::from_str(&name) {
                Ok(id) if name.len() == 40 => self.repo.find_commit(id).ok(),
                _ => self
                    .repo
                    .find_reference(&name)
                    .ok()
                    .and_then(|r| r.resolve().ok()?.peel_to_commit().ok()),
            };
            let Some(target) = target else { continue };
            let shown = if shown.is_empty() {
                // `refs/remotes/origin/HEAD` -> the branch it points at.
                let full = self
                    .repo
                    .find_reference(&name)
                    .ok()
                    .and_then(|r| r.symbolic_target().map(str::to_string))
                    .unwrap_or(name.clone());
                full.trim_start_matches("refs/remotes/")
                    .trim_start_matches("refs/heads/")
                    .to_string()
            } else {
                shown
            };
            return match self.repo.merge_base(head.id(), target.id()) {
                Ok(id) => Ok(Some(BaseCommit {
                    commit: id.to_string(),
                    branch: shown,
                })),
                Err(_) if shallow => Err(Error::usage_help(
                    format!(
                        "this clone is shallow, so HEAD and `{shown}` have no merge base in it"
                    ),
                    shallow_help,
                )),
                Err(_) => Err(Error::usage_help(
                    format!("HEAD and `{shown}` share no history, so there is no merge base"),
                    "pass `--base-ref BRANCH` naming the branch this change merges into",
                )),
            };
        }
        match base {
            Some(b) => Err(Error::usage_help(
                format!(
                    "the base branch `{b}` is not in this clone (neither `origin/{b}` nor `{b}`)"
                ),
                if shallow {
                    shallow_help.to_string()
                } else {
                    format!("fetch it first: `git fetch origin {b}`")
                },
            )),
            None if shallow => Err(Error::usage_help(
                "this clone is shallow and has no default branch to take a merge base with",
                shallow_help,
            )),
            None => Ok(None),
        }
    }

    /// The repository's work tree.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// A registry-relative path as a repository-relative one.
    pub fn repo_path(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    fn head_commit(&self) -> Result<Option<Commit<'_>>> {
        match self.repo.head() {
            Ok(h) => Ok(Some(h.peel_to_commit()?)),
            Err(e)
                if e.code() == git2::ErrorCode::UnbornBranch
                    || e.code() == git2::ErrorCode::NotFound =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The branch HEAD is on (`refs/heads/main`); a detached HEAD is refused, since a commit
    /// there would be lost.
    pub fn branch_ref(&self) -> Result<String> {
        if self.repo.head_detached().unwrap_or(false) {
            return Err(Error::usage_help(
                "HEAD is detached, so a new commit would be on no branch",
                "check out the branch to commit on (`git switch main`) and run the command again",
            ));
        }
        let head = self.repo.find_reference("HEAD")?;
        match head.symbolic_target() {
            Some(t) => Ok(t.to_string()),
            None => Err(Error::usage("HEAD does not point at a branch")),
        }
    }

    /// A file's blob id and bytes at HEAD (registry-relative path).
    pub fn head_file(&self, rel: &str) -> Result<Option<(String, Vec<u8>)>> {
        let Some(commit) = self.head_commit()? else {
            return Ok(None);
        };
        let tree = commit.tree()?;
        let entry = match tree.get_path(Path::new(&self.repo_path(rel))) {
            Ok(e) => e,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match entry.to_object(&self.repo)?.into_blob() {
            Ok(b) => Ok(Some((b.id().to_string(), b.content().to_vec()))),
            Err(_) => Ok(None),
        }
    }

    /// A blob's bytes by id; `what` says which file it is, for the error.
    pub fn read_blob(&self, id: &str, what: &str) -> Result<Vec<u8>> {
        let missing = || {
            Error::usage_help(
                format!("blob {id} ({what}) is not in this repository"),
                "fetch the history that holds it (`git fetch --unshallow`), or check the lock file",
            )
        };
        let oid = Oid::from_str(id).map_err(|_| missing())?;
        let blob = self.repo.find_blob(oid).map_err(|_| missing())?;
        Ok(blob.content().to_vec())
    }

    /// The blob id git would give `bytes`.
    pub fn blob_id(bytes: &[u8]) -> Result<String> {
        Ok(Oid::hash_object(ObjectType::Blob, bytes)?.to_string())
    }

    /// The blob id git would store for a working-tree file (registry-relative), after its
    /// clean filters (`core.autocrlf`, `.gitattributes` `eol`/`text`), and store it.
    pub fn worktree_blob(&self, rel: &str) -> Result<String> {
        let path = self.workdir.join(self.repo_path(rel));
        Ok(self.repo.blob_path(&path)?.to_string())
    }

    /// Whether a file differs between HEAD, the index and the working tree (any of the three),
    /// or is unmerged, seen as `git status` sees it (line-ending normalisation and filters
    /// applied). A file that exists in none of them is clean.
    pub fn is_dirty(&self, rel: &str) -> Result<bool> {
        let full = self.repo_path(rel);
        match self.repo.status_file(Path::new(&full)) {
            Ok(s) => return Ok(!(s.is_empty() || s == git2::Status::IGNORED)),
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(false),
            // Ambiguous (a directory) and the like: compare the blobs below.
            Err(_) => {}
        }
        let head = match self.head_commit()? {
            Some(c) => match c.tree()?.get_path(Path::new(&full)) {
                Ok(e) => Some(e.id()),
                Err(_) => None,
            },
            None => None,
        };
        let index = self.repo.index()?;
        if index.has_conflicts()
            && index.conflicts()?.any(|c| {
                c.ok()
                    .and_then(|c| c.our.or(c.their).or(c.ancestor))
                    .is_some_and(|e| e.path == full.as_bytes())
            })
        {
            return Ok(true);
        }
        let staged = index.get_path(Path::new(&full), 0).map(|e| e.id);
        let path = self.workdir.join(&full);
        let disk = if path.is_file() {
            Some(Oid::hash_file(ObjectType::Blob, &path)?)
        } else {
            None
        };
        Ok(!(head == staged && staged == disk))
    }

    /// Who is committing, from `GIT_AUTHOR_NAME`/`GIT_AUTHOR_EMAIL` or git config, and now.
    pub fn author(&self) -> Result<Author> {
        let sig = super::signature(&self.repo)?;
        let display = format!(
            "{} <{}>",
            sig.name().unwrap_or("unknown"),
            sig.email().unwrap_or("")
        );
        Ok(Author {
            display,
            date: super::lock::rfc3339(sig.when().seconds()),
            sig,
        })
    }

    /// Commit exactly `changes` (registry-relative path -> new bytes) on top of HEAD's tree,
    /// on HEAD's branch, and stage the same content so `git status` stays clean. Other staged
    /// or unstaged work is left alone. The files must already hold these bytes on disk.
    pub fn commit(
        &self,
        changes: &[(String, Vec<u8>)],
        message: &str,
        author: &Author,
    ) -> Result<Committed> {
        let branch = self.branch_ref()?;
        let parent = self.head_commit()?;
        let base = match &parent {
            Some(c) => c.tree()?,
            None => {
                let empty = self.repo.treebuilder(None)?.write()?;
                self.repo.find_tree(empty)?
            }
        };
        let mut update = git2::build::TreeUpdateBuilder::new();
        for (rel, bytes) in changes {
            let full = self.repo_path(rel);
            let mode = match base.get_path(Path::new(&full)) {
                Ok(e) if e.filemode() == i32::from(FileMode::BlobExecutable) => {
                    FileMode::BlobExecutable
                }
                _ => FileMode::Blob,
            };
            // The file on disk holds `bytes`; store it through git's clean filters, as
            // `git add` would, so a CRLF checkout commits what a LF one does.
            let path = self.workdir.join(&full);
            let oid = match std::fs::read(&path) {
                Ok(disk) if &disk == bytes => self.repo.blob_path(&path)?,
                _ => self.repo.blob(bytes)?,
            };
            update.upsert(full.as_str(), oid, mode);
        }
        let tree_id = update.create_updated(&self.repo, &base)?;
        let tree = self.repo.find_tree(tree_id)?;
        let parents: Vec<&Commit> = parent.iter().collect();
        if let Some(why) = super::git_binary::needed(&self.repo, &self.workdir)? {
            let id = super::git_binary::commit(
                &self.repo,
                &self.workdir,
                &why,
                tree_id,
                parent.as_ref().map(|p| p.id()),
                &branch,
                message,
                &author.sig,
                &self.moved,
            )?;
            return self.stage_committed(changes, id, &branch);
        }
        let id = self
            .repo
            .commit(None, &author.sig, &author.sig, message, &tree, &parents)?;
        // Compare-and-swap: move the branch only if it still points at the parent read above,
        // so a commit that landed meanwhile (another llmops, `git commit`) is never dropped.
        let subject = message.lines().next().unwrap_or("");
        let log = format!("commit: {subject}");
        let swapped = match &parent {
            Some(p) => self
                .repo
                .reference_matching(&branch, id, true, p.id(), &log)
                .map(|_| ()),
            None => self.repo.reference(&branch, id, false, &log).map(|_| ()),
        };
        if swapped.is_err() {
            self.moved.set(true);
            return Err(Error::git_msg(format!(
                "{branch} moved while this commit was being made (another commit landed first); nothing was committed"
            )));
        }
        self.stage_committed(changes, id, &branch)
    }

    /// After a commit: stage the committed files so `git status` stays clean.
    fn stage_committed(
        &self,
        changes: &[(String, Vec<u8>)],
        id: Oid,
        branch: &str,
    ) -> Result<Committed> {
        let mut index = self.repo.index()?;
        for (rel, _) in changes {
            index.add_path(Path::new(&self.repo_path(rel)))?;
        }
        index.write()?;
        Ok(Committed {
            id: id.to_string(),
            branch: branch
                .strip_prefix("refs/heads/")
                .unwrap_or(branch)
                .to_string(),
        })
    }

    /// The highest version of `prompt` any commit reachable from HEAD says it released
    /// (`Prompt-Version: NAME@vN`), so a release that was reverted still holds its number.
    pub fn max_released_in_history(&self, prompt: &str) -> Result<u32> {
        if self.head_commit()?.is_none() {
            return Ok(0);
        }
        let needle = format!("Prompt-Version: {prompt}@v");
        let mut walk = self.repo.revwalk()?;
        walk.push_head()?;
        let mut max = 0;
        for oid in walk {
            let commit = self.repo.find_commit(oid?)?;
            let msg = String::from_utf8_lossy(commit.message_raw_bytes());
            for line in msg.lines() {
                if let Some(rest) = line.trim_end().strip_prefix(&needle) {
                    if let Ok(n) = rest.parse::<u32>() {
                        max = max.max(n);
                    }
                }
            }
        }
        Ok(max)
    }

    /// Walk the first-parent history of label `label`'s file from HEAD, newest first, calling
    /// `visit` for every commit that changed `prompt`'s entry, until `visit` returns false or
    /// the commit that created the file. Only commits whose tree differs along the file's path
    /// are read further than their root tree, so the walk costs one tree per commit.
    pub fn label_history(
        &self,
        label: &str,
        prompt: &str,
        visit: impl FnMut(&LabelChange) -> bool,
    ) -> Result<()> {
        self.label_history_from(None, label, prompt, visit)
    }

    /// [`GitRepo::label_history`] from commit `start` (None: HEAD) instead of HEAD.
    pub fn label_history_from(
        &self,
        start: Option<&str>,
        label: &str,
        prompt: &str,
        mut visit: impl FnMut(&LabelChange) -> bool,
    ) -> Result<()> {
        let path = self.repo_path(&label_path(label));
        let parts: Vec<&str> = path.split('/').collect();
        let start = match start {
            Some(id) => Some(self.repo.find_commit(Oid::from_str(id)?)?),
            None => self.head_commit()?,
        };
        let Some(mut commit) = start else {
            return Ok(());
        };
        let memo = RefCell::new(HashMap::new());
        let mut values: HashMap<Oid, Option<u32>> = HashMap::new();
        let mut value_of = |blob: Option<Oid>| -> Option<u32> {
            let blob = blob?;
            *values.entry(blob).or_insert_with(|| {
                let b = self.repo.find_blob(blob).ok()?;
                let text = std::str::from_utf8(b.content()).ok()?;
                Label::parse(label, &path, text)
                    .ok()?
                    .targets
                    .get(prompt)
                    .copied()
            })
        };
        let mut here = self.lookup(commit.tree_id(), &parts, &memo)?;
        loop {
            let parent = if commit.parent_count() > 0 {
                Some(commit.parent(0)?)
            } else {
                None
            };
            let before = match &parent {
                Some(p) => self.lookup(p.tree_id(), &parts, &memo)?,
                None => None,
            };
            if here != before {
                let to = value_of(here);
                let from = value_of(before);
                if to != from {
                    let msg = String::from_utf8_lossy(commit.message_raw_bytes()).into_owned();
                    let trailers = git2::message_trailers_strs(&msg)
                        .map(|t| {
                            t.iter()
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    let change = LabelChange {
                        commit: commit.id().to_string(),
                        time: commit.time().seconds(),
                        from,
                        to,
                        trailers,
                        subject: commit.summary().unwrap_or("").to_string(),
                    };
                    if !visit(&change) {
                        return Ok(());
                    }
                }
            }
            match (parent, before) {
                (Some(p), Some(_)) => {
                    commit = p;
                    here = before;
                }
                // The file starts here: nothing older is the label's history.
                _ => return Ok(()),
            }
        }
    }

    /// The blob at `parts` in tree `tree`, reading one tree per call when the first
    /// component's subtree was seen before.
    fn lookup(
        &self,
        tree: Oid,
        parts: &[&str],
        memo: &RefCell<HashMap<Oid, Option<Oid>>>,
    ) -> Result<Option<Oid>> {
        let root = self.repo.find_tree(tree)?;
        let Some(first) = root.get_name(parts[0]) else {
            return Ok(None);
        };
        let first_id = first.id();
        if parts.len() == 1 {
            return Ok((first.kind() == Some(ObjectType::Blob)).then_some(first_id));
        }
        if let Some(hit) = memo.borrow().get(&first_id) {
            return Ok(*hit);
        }
        let found = match self.repo.find_tree(first_id) {
            Ok(sub) => match sub.get_path(Path::new(&parts[1..].join("/"))) {
                Ok(e) if e.kind() == Some(ObjectType::Blob) => Some(e.id()),
                _ => None,
            },
            Err(_) => None,
        };
        memo.borrow_mut().insert(first_id, found);
        Ok(found)
    }

    /// The first-parent history of HEAD at moment `t` (seconds since the epoch): the newest
    /// commit that had landed by then, judged by committer time, and the oldest commit on
    /// that history where label `label`'s file exists with its parent lacking it (when the
    /// label was created, as the branch saw it). Walks the whole first-parent history once.
    pub fn first_parent_at(
        &self,
        t: i64,
        label: &str,
    ) -> Result<(Option<FirstParent>, Option<FirstParent>)> {
        let path = self.repo_path(&label_path(label));
        let parts: Vec<&str> = path.split('/').collect();
        let memo = RefCell::new(HashMap::new());
        let Some(mut commit) = self.head_commit()? else {
            return Ok((None, None));
        };
        let (mut at, mut created) = (None, None);
        let mut here = self.lookup(commit.tree_id(), &parts, &memo)?;
        loop {
            let me = FirstParent {
                commit: commit.id().to_string(),
                time: commit.time().seconds(),
            };
            if at.is_none() && me.time <= t {
                at = Some(me.clone());
            }
            let parent = if commit.parent_count() > 0 {
                Some(commit.parent(0)?)
            } else {
                None
            };
            let before = match &parent {
                Some(p) => self.lookup(p.tree_id(), &parts, &memo)?,
                None => None,
            };
            if here.is_some() && before.is_none() {
                created = Some(me);
            }
            match parent {
                Some(p) => {
                    commit = p;
                    here = before;
                }
                None => return Ok((at, created)),
            }
        }
    }

    /// Whether this clone is shallow (history cut off by `--depth`).
    pub fn is_shallow(&self) -> bool {
        self.repo.is_shallow()
    }

    /// When HEAD's branch has an upstream with commits HEAD lacks: the upstream's name and
    /// how many. Only what the last fetch saw.
    pub fn behind_upstream(&self) -> Option<(String, usize)> {
        let head = self.repo.head().ok()?;
        let name = head.shorthand()?.to_string();
        let branch = self.repo.find_branch(&name, git2::BranchType::Local).ok()?;
        let upstream = branch.upstream().ok()?;
        let up_name = upstream.name().ok().flatten()?.to_string();
        let (local, remote) = (head.target()?, upstream.get().target()?);
        let (_, behind) = self.repo.graph_ahead_behind(local, remote).ok()?;
        (behind > 0).then_some((up_name, behind))
    }

    /// Whether `remote`'s `branch` has commits the local branch lacks (so a push would be
    /// rejected as non-fast-forward). Asks the remote; `None` when it cannot be reached.
    pub fn remote_is_ahead(&self, remote: &str, branch: &str) -> Option<bool> {
        let mut r = match self.repo.find_remote(remote) {
            Ok(r) => r,
            Err(_) => self.repo.remote_anonymous(remote).ok()?,
        };
        r.connect(git2::Direction::Fetch).ok()?;
        let want = format!("refs/heads/{branch}");
        let theirs = r.list().ok()?.iter().find(|h| h.name() == want)?.oid();
        let ours = self.repo.refname_to_id(&want).ok()?;
        if ours == theirs {
            return Some(false);
        }
        // A commit we do not have, or one that is not in our history, is ahead of us.
        Some(!self.repo.graph_descendant_of(ours, theirs).unwrap_or(false))
    }

    /// Push `branch` to `remote` (a configured remote's name, or a URL or path).
    pub fn push(&self, remote: &str, branch: &str) -> Result<()> {
        let mut r = match self.repo.find_remote(remote) {
            Ok(r) => r,
            Err(_) => self.repo.remote_anonymous(remote)?,
        };
        let rejected: RefCell<Option<String>> = RefCell::new(None);
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.push_update_reference(|name, status| {
            if let Some(s) = status {
                *rejected.borrow_mut() = Some(format!("{name}: {s}"));
            }
            Ok(())
        });
        let mut opts = git2::PushOptions::new();
        opts.remote_callbacks(callbacks);
        let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
        r.push(&[spec.as_str()], Some(&mut opts))?;
        drop(opts);
        if let Some(why) = rejected.into_inner() {
            return Err(Error::Git {
                message: format!("the remote rejected {why}"),
                source: None,
            });
        }
        Ok(())
    }

    /// Whether a commit by this handle lost the race for its branch.
    pub fn lost_race(&self) -> bool {
        self.moved.get()
    }

    /// An exclusive lock that lifecycle commands hold from reading the lock and label files
    /// to committing them, so parallel commands take turns instead of overwriting each
    /// other's updates. Released when the file is dropped (or the process exits).
    pub fn lifecycle_lock(&self) -> Result<std::fs::File> {
        let path = self.repo.commondir().join("llmops-lifecycle.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed().as_secs() < 120 => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::usage_help(
                        format!(
                            "another llmops command has held {} for two minutes",
                            path.display()
                        ),
                        "wait for it to finish, or stop it, and run the command again",
                    ))
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::io(path.display().to_string(), e))
                }
            }
        }
    }

    /// Stage registry-relative files as they are on disk (resolving a conflict on them).
    pub fn stage(&self, files: &[String]) -> Result<()> {
        let mut index = self.repo.index()?;
        for rel in files {
            let full = self.repo_path(rel);
            index.add_path(Path::new(&full))?;
        }
        index.write()?;
        Ok(())
    }

    /// Set a key in the repository's own config (`.git/config`).
    pub fn set_local_config(&self, key: &str, value: &str) -> Result<()> {
        let mut cfg = self.repo.config()?.open_level(git2::ConfigLevel::Local)?;
        cfg.set_str(key, value)?;
        Ok(())
    }
}
