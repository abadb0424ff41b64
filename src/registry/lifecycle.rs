//! Release, promote and rollback: each changes one or two files, writes them with
//! write-then-rename, and makes one new commit on HEAD's branch that holds only those files,
//! with trailers that say what happened. History is never rewritten.

use std::collections::HashMap;

use super::git::{Committed, GitRepo};
use super::labels::{check_label_name, label_path, Label};
use super::lock::{EvalSummary, VersionEntry, LOCK_FILE};
use super::resolve::Resolver;
use crate::error::{Error, Result};
use crate::fsio;
use crate::template::Prompt;

/// What `release` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Released {
    /// The prompt.
    pub prompt: String,
    /// The number allocated.
    pub version: u32,
    /// The content hash recorded.
    pub content_hash: String,
    /// An older version with the same content, when the prompt went back to it.
    pub same_content_as: Option<u32>,
    /// Prompt files and partials that had uncommitted changes and went into the commit.
    pub committed_files: Vec<String>,
    /// The commit.
    pub commit: String,
    /// Its branch.
    pub branch: String,
}

/// What `promote` or a label `rollback` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Moved {
    /// The prompt.
    pub prompt: String,
    /// The label.
    pub label: String,
    /// Where it pointed before.
    pub from: Option<u32>,
    /// Where it points now.
    pub to: u32,
    /// The commit; `None` when the label already pointed there.
    pub commit: Option<String>,
    /// Its branch.
    pub branch: Option<String>,
}

/// What `rollback --content` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContentRestored {
    /// The prompt.
    pub prompt: String,
    /// The version the working content was (None: unreleased content).
    pub from: Option<u32>,
    /// The version whose content is now in the files.
    pub to: u32,
    /// The files written.
    pub files: Vec<String>,
    /// Other prompts that include a restored partial, and so changed too.
    pub also_affected: Vec<String>,
    /// The commit.
    pub commit: String,
    /// Its branch.
    pub branch: String,
}

/// A trailer value on one line.
fn trailer_value(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn refuse_dirty(git: &GitRepo, rel: &str, what: &str) -> Result<()> {
    if git.is_dirty(rel)? {
        return Err(Error::usage_help(
            format!("{rel} has uncommitted changes, so {what} would mix them into its commit"),
            format!("commit or restore them first (`git status -- {rel}`)"),
        ));
    }
    Ok(())
}

/// Write `changes` (registry-relative) under `root` and commit them; if the commit fails, put
/// the old bytes back so the working tree is as it was.
fn write_and_commit(
    res: &Resolver,
    changes: Vec<(String, Vec<u8>)>,
    message: &str,
) -> Result<Committed> {
    let git = res.git()?;
    let author = git.author()?;
    commit_with(res, git, changes, message, &author)
}

fn commit_with(
    res: &Resolver,
    git: &GitRepo,
    changes: Vec<(String, Vec<u8>)>,
    message: &str,
    author: &super::git::Author,
) -> Result<Committed> {
    let root = res.root();
    // Refuse before touching anything.
    git.branch_ref()?;
    let mut old: Vec<(std::path::PathBuf, Option<Vec<u8>>)> = Vec::new();
    for (rel, bytes) in &changes {
        let path = root.join(rel);
        old.push((path.clone(), std::fs::read(&path).ok()));
        if let Err(e) = fsio::write(&path, bytes) {
            restore(&old);
            return Err(e);
        }
    }
    match git.commit(&changes, message, author) {
        Ok(c) => Ok(c),
        Err(e) => {
            restore(&old);
            Err(e)
        }
    }
}

fn restore(old: &[(std::path::PathBuf, Option<Vec<u8>>)]) {
    for (path, bytes) in old {
        let _ = match bytes {
            Some(b) => fsio::write(path, b),
            None => std::fs::remove_file(path).map_err(|e| Error::io("", e)),
        };
    }
}

/// Allocate the next version of `prompt` (the working tree's content) and commit the lock,
/// plus the prompt file and its partials when they have uncommitted changes, so the recorded
/// blobs exist in history.
pub fn release(
    res: &Resolver,
    prompt: &Prompt,
    message: &str,
    eval: Option<EvalSummary>,
) -> Result<Released> {
    serialised(res, |r| release_once(r, prompt, message, eval.clone()))
}

/// Run a lifecycle command holding the repository's lifecycle lock, reading everything afresh
/// once the lock is held, and again (a few times) when its commit lost the race for the
/// branch to a commit made outside llmops.
fn serialised<T>(res: &Resolver, op: impl Fn(&Resolver) -> Result<T>) -> Result<T> {
    let _held = res.git()?.lifecycle_lock()?;
    let mut attempt = 0;
    loop {
        let fresh = res.fresh()?;
        match op(&fresh) {
            Err(_) if attempt < 4 && fresh.git().is_ok_and(GitRepo::lost_race) => attempt += 1,
            other => return other,
        }
    }
}

fn release_once(
    res: &Resolver,
    prompt: &Prompt,
    message: &str,
    eval: Option<EvalSummary>,
) -> Result<Released> {
    let git = res.git()?;
    let name = prompt.name.clone();
    refuse_dirty(git, LOCK_FILE, "a release")?;
    let hash = prompt.content_hash();
    let mut lock = res.lock()?.clone();
    let versions = lock.prompts.entry(name.clone()).or_default();
    if let Some(last) = versions.latest() {
        if last.content_hash == hash {
            return Err(Error::usage_help(
                format!(
                    "`{name}` is unchanged since v{} (content {})",
                    last.version,
                    &hash[..12]
                ),
                "edit the prompt, its model or its partials first; a version is new content",
            ));
        }
    }
    let same_content_as = versions.by_hash(&hash).map(|v| v.version);
    let number = versions.next_number(git.max_released_in_history(&name)?);

    let root = res.root();
    let read = |rel: &str| -> Result<Vec<u8>> {
        std::fs::read(root.join(rel)).map_err(|e| Error::io(rel, e))
    };
    let mut files: Vec<(String, Vec<u8>)> = vec![(prompt.path.clone(), read(&prompt.path)?)];
    for rel in prompt.partials.keys() {
        files.push((rel.clone(), read(rel)?));
    }
    let mut committed_files = Vec::new();
    for (rel, _) in &files {
        if git.is_dirty(rel)? {
            committed_files.push(rel.clone());
        }
    }
    let author = git.author()?;
    // Blob ids as git stores the files (after `core.autocrlf` and other clean filters), so
    // they name the blobs the commit holds.
    let blob = git.worktree_blob(&files[0].0)?;
    let mut partials = std::collections::BTreeMap::new();
    for (rel, _) in &files[1..] {
        partials.insert(rel.clone(), git.worktree_blob(rel)?);
    }
    let owner = prompt
        .owner
        .clone()
        .or_else(|| (!prompt.authors.is_empty()).then(|| prompt.authors.join(", ")));
    versions.versions.push(VersionEntry {
        version: number,
        content_hash: hash.clone(),
        file: prompt.path.clone(),
        blob,
        partials,
        author: author.display.clone(),
        date: author.date.clone(),
        message: message.trim().to_string(),
        owner,
        eval,
    });
    versions.next = number + 1;

    let mut text = format!("release {name}@v{number}\n\n");
    if !message.trim().is_empty() {
        text.push_str(message.trim());
        text.push_str("\n\n");
    }
    text.push_str(&format!("Prompt-Version: {name}@v{number}\n"));
    let mut changes = vec![(LOCK_FILE.to_string(), lock.to_yaml().into_bytes())];
    changes.extend(
        files
            .into_iter()
            .filter(|(rel, _)| committed_files.contains(rel)),
    );
    let c = commit_with(res, git, changes, &text, &author)?;
    Ok(Released {
        prompt: name,
        version: number,
        content_hash: hash,
        same_content_as,
        committed_files,
        commit: c.id,
        branch: c.branch,
    })
}

/// Point `label` at version `version` of `prompt` and commit the label file.
pub fn promote(res: &Resolver, prompt: &str, version: u32, label: &str) -> Result<Moved> {
    serialised(res, |r| promote_once(r, prompt, version, label))
}

fn promote_once(res: &Resolver, prompt: &str, version: u32, label: &str) -> Result<Moved> {
    check_label_name(label)?;
    let git = res.git()?;
    if res.lock()?.get(prompt, version).is_none() {
        return Err(Error::usage_help(
            format!("`{prompt}` has no version v{version}"),
            format!(
                "`llmops log {prompt}` lists its versions; `llmops release {prompt}` makes one"
            ),
        ));
    }
    let path = label_path(label);
    refuse_dirty(git, &path, "promote")?;
    let mut l = res.label(label)?.map(|l| (*l).clone()).unwrap_or(Label {
        name: label.to_string(),
        ..Label::default()
    });
    let hash = res
        .lock()?
        .get(prompt, version)
        .map(|e| e.content_hash.clone())
        .unwrap_or_default();
    let from = l.targets.get(prompt).copied();
    if from == Some(version) && l.pins.get(prompt) == Some(&hash) {
        return Ok(Moved {
            prompt: prompt.to_string(),
            label: label.to_string(),
            from,
            to: version,
            commit: None,
            branch: None,
        });
    }
    l.set(prompt, version, &hash);
    let from_text = from.map_or("none".to_string(), |v| format!("v{v}"));
    let message = format!(
        "promote {prompt}@v{version} to {label}\n\nPrompt: {prompt}\nLabel: {label}\nPromote-From: {from_text}\nPromote-To: v{version}\n"
    );
    let c = write_and_commit(res, vec![(path, l.to_yaml().into_bytes())], &message)?;
    Ok(Moved {
        prompt: prompt.to_string(),
        label: label.to_string(),
        from,
        to: version,
        commit: Some(c.id),
        branch: Some(c.branch),
    })
}

/// Where a label rollback goes by default: walking the label file's history newest first, the
/// most recent earlier target of `prompt` that is not the current one and was not itself
/// rolled back from (unless it was promoted again after that rollback).
pub fn previous_target(
    git: &GitRepo,
    label: &str,
    prompt: &str,
    current: u32,
) -> Result<Option<u32>> {
    // Version -> whether its latest event (seen first, walking newest first) was a rollback
    // away from it.
    let mut bad: HashMap<u32, bool> = HashMap::new();
    let mut found = None;
    git.label_history(label, prompt, |change| {
        if let (true, Some(from)) = (change.is_rollback(), change.from) {
            bad.entry(from).or_insert(true);
        }
        if let Some(to) = change.to {
            bad.entry(to).or_insert(false);
        }
        match change.from {
            Some(from) if from != current && !bad.get(&from).copied().unwrap_or(false) => {
                found = Some(from);
                false
            }
            _ => true,
        }
    })?;
    Ok(found)
}

/// Move `label`'s entry for `prompt` back: to `to`, or to its previous target from the label
/// file's history. Refuses when the label file has uncommitted changes.
pub fn rollback_label(
    res: &Resolver,
    prompt: &str,
    label: &str,
    to: Option<u32>,
    reason: &str,
) -> Result<Moved> {
    serialised(res, |r| rollback_label_once(r, prompt, label, to, reason))
}

fn rollback_label_once(
    res: &Resolver,
    prompt: &str,
    label: &str,
    to: Option<u32>,
    reason: &str,
) -> Result<Moved> {
    check_label_name(label)?;
    let git = res.git()?;
    let path = label_path(label);
    refuse_dirty(git, &path, "rollback")?;
    let Some((_, bytes)) = git.head_file(&path)? else {
        return Err(Error::usage_help(
            format!("there is no label `{label}` ({path} is not committed)"),
            format!("create it with `llmops promote {prompt} VERSION --label {label}`"),
        ));
    };
    let text = crate::yaml::decode_utf8(&path, &bytes)?;
    let mut l = Label::parse(label, &path, &text)?;
    let Some(current) = l.targets.get(prompt).copied() else {
        return Err(Error::usage_help(
            format!("label `{label}` has no version of `{prompt}`"),
            format!("`llmops log {prompt}` shows its versions and labels"),
        ));
    };
    let target = match to {
        Some(t) => {
            if res.lock()?.get(prompt, t).is_none() {
                return Err(Error::usage_help(
                    format!("`{prompt}` has no version v{t}"),
                    format!("`llmops log {prompt}` lists its versions"),
                ));
            }
            if t == current {
                return Err(Error::usage(format!(
                    "label `{label}` already points `{prompt}` at v{t}"
                )));
            }
            t
        }
        None => previous_target(git, label, prompt, current)?.ok_or_else(|| {
            if git.is_shallow() {
                return Error::usage_help(
                    format!("label `{label}` has no earlier version of `{prompt}` in this clone's history (it is at v{current}), but the clone is shallow, so older history is missing"),
                    "fetch the full history (`git fetch --unshallow`; GitHub Actions: `fetch-depth: 0`), or name the version with `--to VERSION`",
                );
            }
            Error::usage_help(
                format!("label `{label}` has no earlier version of `{prompt}` to go back to (it is at v{current})"),
                format!("name one with `--to VERSION`; `llmops log {prompt}` lists them"),
            )
        })?,
    };
    let hash = res
        .lock()?
        .get(prompt, target)
        .map(|e| e.content_hash.clone())
        .unwrap_or_default();
    l.set(prompt, target, &hash);
    let message = format!(
        "rollback {prompt} on {label}: v{current} -> v{target}\n\nPrompt: {prompt}\nLabel: {label}\nRollback-From: v{current}\nRollback-To: v{target}\nReason: {}\n",
        trailer_value(reason)
    );
    let c = write_and_commit(res, vec![(path, l.to_yaml().into_bytes())], &message)?;
    Ok(Moved {
        prompt: prompt.to_string(),
        label: label.to_string(),
        from: Some(current),
        to: target,
        commit: Some(c.id),
        branch: Some(c.branch),
    })
}

/// Write version `to` (default: the newest version older than the one the working file is,
/// with different content) back into the prompt file and its partials, and commit them.
pub fn rollback_content(
    res: &Resolver,
    prompt: &str,
    to: Option<u32>,
    reason: &str,
) -> Result<ContentRestored> {
    serialised(res, |r| rollback_content_once(r, prompt, to, reason))
}

fn rollback_content_once(
    res: &Resolver,
    prompt: &str,
    to: Option<u32>,
    reason: &str,
) -> Result<ContentRestored> {
    let git = res.git()?;
    let work = res.worktree()?;
    let current = work.load_prompt(prompt)?;
    let hash = current.content_hash();
    let lock = res.lock()?;
    let Some(versions) = lock.prompt(prompt).filter(|p| !p.versions.is_empty()) else {
        return Err(Error::usage_help(
            format!("`{prompt}` has no released versions to go back to"),
            format!("`llmops release {prompt}` records one"),
        ));
    };
    let from = versions.by_hash(&hash).map(|v| v.version);
    let target: &VersionEntry = match to {
        Some(t) => versions.get(t).ok_or_else(|| {
            Error::usage_help(
                format!("`{prompt}` has no version v{t}"),
                format!("`llmops log {prompt}` lists its versions"),
            )
        })?,
        None => {
            let Some(from) = from else {
                return Err(Error::usage_help(
                    format!("the working `{prompt}` is not a released version, so there is no previous one"),
                    "name the version to restore with `--to VERSION`",
                ));
            };
            versions
                .versions
                .iter()
                .rev()
                .find(|v| v.version < from && v.content_hash != hash)
                .ok_or_else(|| {
                    Error::usage_help(
                        format!("`{prompt}` has no version older than v{from} with other content"),
                        "name the version to restore with `--to VERSION`",
                    )
                })?
        }
    };
    if target.content_hash == hash {
        return Err(Error::usage(format!(
            "the working `{prompt}` already has the content of v{}",
            target.version
        )));
    }
    // The prompt file keeps its current path if it moved since.
    let mut writes: Vec<(String, String)> = vec![(current.path.clone(), target.blob.clone())];
    for (rel, blob) in &target.partials {
        writes.push((rel.clone(), blob.clone()));
    }
    for rel in writes
        .iter()
        .map(|(r, _)| r.as_str())
        .chain(current.partials.keys().map(String::as_str))
    {
        refuse_dirty(git, rel, "rollback --content")?;
    }
    let mut changes = Vec::new();
    for (rel, blob) in &writes {
        changes.push((rel.clone(), git.read_blob(blob, rel)?));
    }
    // Restoring a shared partial changes every prompt that includes it: say which.
    let mut also_affected = Vec::new();
    let changed_partials: Vec<&String> = target
        .partials
        .iter()
        .filter(|(rel, blob)| git.worktree_blob(rel).ok().as_deref() != Some(blob.as_str()))
        .map(|(rel, _)| rel)
        .collect();
    if !changed_partials.is_empty() {
        for (name, path) in work.prompt_files()? {
            if name == prompt {
                continue;
            }
            if let Ok(p) = work.load_prompt_file(&path) {
                if changed_partials.iter().any(|r| p.partials.contains_key(*r)) {
                    also_affected.push(name);
                }
            }
        }
    }
    let from_text = from.map_or("unreleased".to_string(), |v| format!("v{v}"));
    let message = format!(
        "rollback {prompt} content: {from_text} -> v{}\n\nPrompt: {prompt}\nRollback-From: {from_text}\nRollback-To: v{}\nReason: {}\n",
        target.version,
        target.version,
        trailer_value(reason)
    );
    let files = changes.iter().map(|(r, _)| r.clone()).collect();
    let to = target.version;
    let c = write_and_commit(res, changes, &message)?;
    Ok(ContentRestored {
        prompt: prompt.to_string(),
        from,
        to,
        files,
        also_affected,
        commit: c.id,
        branch: c.branch,
    })
}

/// A warning when HEAD's branch is behind its upstream (as of the last fetch): the commit just
/// made will need the upstream's commits before it can be pushed.
pub fn behind_upstream_warning(res: &Resolver) -> Option<String> {
    let (upstream, n) = res.git().ok()?.behind_upstream()?;
    Some(format!(
        "warning: this branch is {n} commit(s) behind `{upstream}`; bring them in before pushing (`git pull --rebase`)"
    ))
}

/// The help for a failed push of `branch` to `remote`: when the remote has commits the branch
/// lacks, pushing again would be rejected too, so say how to bring them in first.
pub fn push_help(res: &Resolver, remote: &str, branch: &str) -> String {
    match res.git().ok().and_then(|g| g.remote_is_ahead(remote, branch)) {
        Some(true) => format!(
            "`{remote}` has commits `{branch}` lacks: `git pull --rebase {remote} {branch}`, then `git push {remote} {branch}`"
        ),
        _ => format!("push it with `git push {remote} {branch}`"),
    }
}

/// Push HEAD's branch to `remote` with git2 (no `git` binary needed).
pub fn push(res: &Resolver, remote: &str, branch: &str) -> Result<()> {
    res.git()?.push(remote, branch)
}
