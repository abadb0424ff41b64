//! Commits through the `git` program, for repositories whose commits must be signed
//! (`commit.gpgsign`) or pass hooks (`pre-commit`, `commit-msg`, ...): libgit2 does neither,
//! so a lifecycle commit made with it would skip both. The tree is built with git2 as usual;
//! `git commit` runs on a temporary index holding exactly that tree, so other staged work is
//! left alone, and the result is checked to sit on the parent the tree was built on.

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use git2::{Oid, Repository};

use crate::error::{Error, Result};

/// The hooks `git commit` runs.
const HOOKS: [&str; 4] = [
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
];

/// Why commits must go through `git`: the setting or hook that asks for it, or `None`.
pub fn needed(repo: &Repository, workdir: &Path) -> Result<Option<String>> {
    let cfg = repo.config()?;
    if cfg.get_bool("commit.gpgsign").unwrap_or(false) {
        return Ok(Some("`commit.gpgsign` is true".into()));
    }
    let hooks: PathBuf = match cfg.get_path("core.hooksPath") {
        Ok(p) if p.is_absolute() => p,
        Ok(p) => workdir.join(p),
        Err(_) => repo.commondir().join("hooks"),
    };
    for h in HOOKS {
        if executable(&hooks.join(h)) {
            return Ok(Some(format!("the repository has a `{h}` hook")));
        }
    }
    Ok(None)
}

fn executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Run `git` in `workdir` with `index` as its index; stdin from `input`.
fn git(
    workdir: &Path,
    index: &Path,
    args: &[&str],
    env: &[(&str, String)],
    input: Option<&str>,
) -> Result<std::process::Output> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(workdir)
        .env("GIT_INDEX_FILE", index)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::usage_help(
            format!("llmops commits through the `git` program here, and could not run it: {e}"),
            "install git and put it on PATH",
        )
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        if let Some(text) = input {
            match stdin.write_all(text.as_bytes()) {
                // git stopped before reading its input (a failing `pre-commit` hook): its exit
                // status and stderr say why, not the closed pipe.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.map_err(|e| Error::io("git", e))?,
            }
        }
    }
    child.wait_with_output().map_err(|e| Error::io("git", e))
}

/// Commit `tree` on `branch` through `git commit`, so signing and hooks apply. `moved` is set
/// when the branch moved under the commit (it is then undone and nothing is committed).
#[allow(clippy::too_many_arguments)]
pub fn commit(
    repo: &Repository,
    workdir: &Path,
    why: &str,
    tree: Oid,
    parent: Option<Oid>,
    branch: &str,
    message: &str,
    author: &git2::Signature<'_>,
    moved: &Cell<bool>,
) -> Result<Oid> {
    let index = repo
        .path()
        .join(format!("llmops-index-{}", std::process::id()));
    let result = (|| {
        let t = tree.to_string();
        let run = git(workdir, &index, &["read-tree", &t], &[], None)?;
        if !run.status.success() {
            return Err(Error::git_msg(format!(
                "`git read-tree` failed: {}",
                String::from_utf8_lossy(&run.stderr).trim()
            )));
        }
        let when = author.when();
        let date = format!("@{} {}", when.seconds(), offset(when.offset_minutes()));
        let name = author.name().unwrap_or("llmops").to_string();
        let email = author.email().unwrap_or("").to_string();
        let mut env = vec![
            ("GIT_AUTHOR_NAME", name.clone()),
            ("GIT_AUTHOR_EMAIL", email.clone()),
            ("GIT_AUTHOR_DATE", date),
        ];
        if std::env::var_os("GIT_COMMITTER_NAME").is_none()
            && repo.config()?.get_string("user.name").is_err()
        {
            env.push(("GIT_COMMITTER_NAME", name));
            env.push(("GIT_COMMITTER_EMAIL", email));
        }
        let run = git(
            workdir,
            &index,
            &["commit", "--quiet", "--cleanup=whitespace", "--file=-"],
            &env,
            Some(message),
        )?;
        if !run.status.success() {
            let said = String::from_utf8_lossy(&run.stderr);
            let said = said.trim();
            return Err(Error::usage_help(
                format!(
                    "`git commit` refused the commit ({why}), so nothing was committed{}{said}",
                    if said.is_empty() { "" } else { ":\n" }
                ),
                "fix what the hook or the signing setup reports (`git commit` shows the same), then run the command again",
            ));
        }
        let head = repo.refname_to_id(branch)?;
        let made = repo.find_commit(head)?;
        if made.parent_ids().next() != parent {
            // Another commit landed between building the tree and `git commit` reading HEAD:
            // this commit would undo it. Put the branch back and let the caller retry.
            if let Some(other) = made.parent_ids().next() {
                repo.reference_matching(
                    branch,
                    other,
                    true,
                    head,
                    "llmops: undo a commit that lost the race",
                )?;
            }
            moved.set(true);
            return Err(Error::git_msg(format!(
                "{branch} moved while this commit was being made (another commit landed first); nothing was committed"
            )));
        }
        Ok(head)
    })();
    let _ = std::fs::remove_file(&index);
    result
}

fn offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}
