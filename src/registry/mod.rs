//! The git-backed registry: finding it, reading its config, prompts and suites from the working
//! tree or any revision. The only module that touches git2.

mod git;
mod git_binary;
mod labels;
mod lifecycle;
mod lock;
mod merge;
mod resolve;
mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::paths::join_within;
pub use git::{Author, BaseCommit, Committed, FirstParent, GitRepo, LabelChange};
pub use labels::{
    check_label_name, label_path, parse_version, parse_version_arg, Label, LABELS_DIR, WORKTREE,
};
pub use lifecycle::{
    behind_upstream_warning, previous_target, promote, push, push_help, release, rollback_content,
    rollback_label, ContentRestored, Moved, Released,
};
pub use lock::{rfc3339, EvalSummary, PromptVersions, VersionEntry, VersionsLock, LOCK_FILE};
pub use merge::{
    check_labels, merge_lock_files, resolve as resolve_lock, Renumbered, Resolution, Side,
};
pub use resolve::{
    load_version_with, read_label, read_lock, Origin, Reference, Resolved, Resolver,
};
pub use source::{Entry, Source};

use crate::config::{self, Overrides, Settings, CONFIG_FILE};
use crate::error::{Diagnostic, Error, Result};
use crate::suite::Suite;
use crate::template::Prompt;

impl From<git2::Error> for Error {
    fn from(e: git2::Error) -> Self {
        Error::git(e.message().to_string(), e)
    }
}

/// How to open a registry: where to start looking, which config, which environment.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Directory to start from (`-C`), default the current one.
    pub dir: PathBuf,
    /// An explicit config file (`--config`), read from disk even for revisions.
    pub config: Option<PathBuf>,
    /// Flags that override config and environment.
    pub overrides: Overrides,
    /// The `LLMOPS_*` environment, captured once.
    pub env: BTreeMap<String, String>,
}

/// An opened registry snapshot.
pub struct Registry {
    /// The registry root on disk (holds `llmops.yaml`).
    pub root: PathBuf,
    /// Where files are read from.
    pub source: Source,
    /// Resolved settings.
    pub settings: Settings,
}

/// A prompt reference `NAME[@REF]` split in two; REF is any reference [`Resolver`] accepts
/// (`v3`, a label, a git revision, `worktree`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    /// The prompt's name.
    pub name: String,
    /// The reference after `@`, if any.
    pub rev: Option<String>,
}

impl PromptRef {
    /// Split at the first `@` (prompt names never contain one; revisions like `HEAD@{1}` may).
    pub fn parse(text: &str) -> Result<PromptRef> {
        let (name, rev) = match text.split_once('@') {
            Some((n, r)) => (n, Some(r.to_string())),
            None => (text, None),
        };
        if name.is_empty() || rev.as_deref() == Some("") {
            return Err(Error::usage_help(
                format!("invalid prompt reference `{text}`"),
                "write NAME or NAME@REF, for example `support-reply@v3` or `support-reply@HEAD~1`",
            ));
        }
        Ok(PromptRef {
            name: name.to_string(),
            rev,
        })
    }
}

/// Walk up from `start` to the directory holding `llmops.yaml`.
pub fn find_root(start: &Path) -> Result<PathBuf> {
    let start = start
        .canonicalize()
        .map_err(|e| Error::io(start.display().to_string(), e))?;
    let mut dir = start.as_path();
    loop {
        if dir.join(CONFIG_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
        // A repository's top is as far as a registry reaches: a repository nested inside
        // another must not act on the outer one's registry.
        if dir.join(".git").exists() {
            return Err(Error::usage_help(
                format!(
                    "no {CONFIG_FILE} in {} or any parent directory up to its repository's top ({})",
                    start.display(),
                    dir.display()
                ),
                "run `llmops init` to create a registry, or pass `-C DIR`",
            ));
        }
        match dir.parent() {
            Some(p) => dir = p,
            None => {
                return Err(Error::usage_help(
                    format!(
                        "no {CONFIG_FILE} in {} or any parent directory",
                        start.display()
                    ),
                    "run `llmops init` to create a registry, or pass `-C DIR`",
                ))
            }
        }
    }
}

impl Registry {
    /// Open the registry at the working tree (`rev` = None) or at a git revision.
    pub fn open(opts: &OpenOptions, rev: Option<&str>) -> Result<Registry> {
        let root = find_root(&opts.dir)?;
        let source = match rev {
            None => Source::Worktree { root: root.clone() },
            Some(rev) => git_source(&root, rev)?,
        };
        let (config_name, text) = match &opts.config {
            Some(path) => {
                let bytes =
                    std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
                (path.display().to_string(), bytes)
            }
            None => {
                let bytes = source.read(CONFIG_FILE)?.ok_or_else(|| {
                    Error::usage(format!(
                        "{CONFIG_FILE} does not exist at {}",
                        source.describe()
                    ))
                })?;
                (CONFIG_FILE.to_string(), bytes)
            }
        };
        let text = crate::yaml::decode_utf8(&config_name, &text)?;
        let file = config::parse(&config_name, &text)?;
        let env = |k: &str| opts.env.get(k).cloned();
        let settings = config::resolve(&config_name, file, &env, &opts.overrides)?;
        for (field, dir) in [
            ("prompts_dir", &settings.prompts_dir),
            ("evals_dir", &settings.evals_dir),
        ] {
            if join_within("", "", dir).is_none() {
                return Err(Diagnostic::error(
                    "config",
                    config_name,
                    format!("{field} `{dir}` leaves the repository"),
                )
                .into());
            }
        }
        // Every registry a command opens (eval's with flags, the gate's at two revisions)
        // teaches the redactor its providers' keys before anything is stored or printed, and
        // sets the render cap its prompts are held to.
        settings.learn_keys(&|k| std::env::var(k).ok());
        crate::memcap::set_rendered_limit(settings.limit_rendered_bytes);
        Ok(Registry {
            root,
            source,
            settings,
        })
    }

    /// Registry-relative paths of every prompt file, by prompt name.
    pub fn prompt_files(&self) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for path in self.source.walk(&self.settings.prompts_dir, ".prompty")? {
            let stem = path
                .rsplit('/')
                .next()
                .unwrap_or(&path)
                .trim_end_matches(".prompty")
                .to_string();
            if let Some(first) = out.insert(stem.clone(), path.clone()) {
                return Err(Diagnostic::error(
                    "duplicate-prompt",
                    path,
                    format!("a second prompt named `{stem}` (the first is {first})"),
                )
                .help("prompt names are file stems and must be unique")
                .into());
            }
        }
        Ok(out)
    }

    /// Parse one prompt file and load its partials.
    pub fn load_prompt_file(&self, path: &str) -> Result<Prompt> {
        let bytes = self.source.read(path)?.ok_or_else(|| {
            Error::usage(format!("{path}: not found at {}", self.source.describe()))
        })?;
        let text = crate::yaml::decode_utf8(path, &bytes)?;
        let mut prompt = Prompt::parse(path, &text)?;
        let read = |rel: &str| self.source.read(rel);
        prompt.load_partials(&self.settings.prompts_dir, &read)?;
        Ok(prompt)
    }

    /// Load a prompt by name.
    pub fn load_prompt(&self, name: &str) -> Result<Prompt> {
        let files = self.prompt_files()?;
        match files.get(name) {
            Some(path) => self.load_prompt_file(path),
            None => {
                let help = crate::text::did_you_mean(name, files.keys().map(String::as_str))
                    .unwrap_or_else(|| "`llmops list` shows the prompts".to_string());
                Err(Error::usage_help(
                    format!(
                        "no prompt named `{name}` in {} at {}",
                        self.settings.prompts_dir,
                        self.source.describe()
                    ),
                    help,
                ))
            }
        }
    }

    /// Registry-relative paths of every suite file.
    pub fn suite_files(&self) -> Result<Vec<String>> {
        let mut out = self.source.walk(&self.settings.evals_dir, ".yaml")?;
        out.extend(self.source.walk(&self.settings.evals_dir, ".yml")?);
        // Datasets and recordings live under the evals directory too; suites are YAML files
        // outside `data/` and `recordings/`.
        out.retain(|p| {
            let rel = p
                .strip_prefix(&self.settings.evals_dir)
                .unwrap_or(p)
                .trim_start_matches('/');
            !rel.starts_with("data/") && !rel.starts_with("recordings/")
        });
        out.sort();
        Ok(out)
    }

    /// Parse one suite file.
    pub fn load_suite(&self, path: &str) -> Result<Suite> {
        let bytes = self
            .source
            .read(path)?
            .ok_or_else(|| Error::usage(format!("{path}: not found")))?;
        let text = crate::yaml::decode_utf8(path, &bytes)?;
        Ok(Suite::parse(path, &text)?)
    }

    /// Every suite that parses, with the prompts each evaluates. Parse errors are returned
    /// alongside so callers can decide whether they matter.
    pub fn suites(&self) -> Result<(Vec<Suite>, Vec<Error>)> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for path in self.suite_files()? {
            match self.load_suite(&path) {
                Ok(s) => ok.push(s),
                Err(e) => bad.push(e),
            }
        }
        Ok((ok, bad))
    }
}

fn git_source(root: &Path, rev: &str) -> Result<Source> {
    let (repo, _, prefix) = git::discover(root, || {
        Error::usage_help(
            format!(
                "{} is not inside a git repository, so `{rev}` cannot be read",
                root.display()
            ),
            "run `git init` and commit, or drop the revision to read the working tree",
        )
    })?;
    let commit = {
        let object = repo.revparse_single(rev).map_err(|_| {
            Error::usage_help(
                format!("unknown revision `{rev}`"),
                "use a branch, tag, commit id or an expression like `HEAD~2`",
            )
        })?;
        object
            .peel_to_commit()
            .map_err(|_| Error::usage(format!("`{rev}` does not name a commit")))?
            .id()
    };
    Ok(Source::Git {
        repo: std::sync::Mutex::new(repo),
        dirs: Default::default(),
        commit,
        prefix,
        rev: rev.to_string(),
    })
}

/// Who a commit is by: `GIT_AUTHOR_NAME`/`GIT_AUTHOR_EMAIL`, then git config, then a default.
fn signature(repo: &git2::Repository) -> Result<git2::Signature<'static>> {
    let name = std::env::var("GIT_AUTHOR_NAME").ok();
    let email = std::env::var("GIT_AUTHOR_EMAIL").ok();
    if let (Some(n), Some(e)) = (&name, &email) {
        return Ok(git2::Signature::now(n, e)?);
    }
    match repo.signature() {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Ok(git2::Signature::now(
            name.as_deref().unwrap_or("llmops"),
            email.as_deref().unwrap_or("llmops@localhost"),
        )?),
    }
}

/// Whether `dir` is inside a git work tree.
pub fn in_git_repo(dir: &Path) -> bool {
    git::open_repo(dir).is_ok()
}

/// `git init` a new repository at `dir`, stage `files` (relative to `dir`) and make the first
/// commit. Returns the commit id.
pub fn init_and_commit(dir: &Path, files: &[&str], message: &str) -> Result<String> {
    let repo = git2::Repository::init(dir)?;
    let mut index = repo.index()?;
    for f in files {
        index.add_path(Path::new(f))?;
    }
    index.write()?;
    let tree_id = index.write_tree()?;
    let tree = repo.find_tree(tree_id)?;
    let sig = signature(&repo)?;
    let id = repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[])?;
    Ok(id.to_string())
}

/// HEAD's commit and whether the registry has uncommitted changes (ignored files aside), or
/// `None` outside a git repository.
pub fn head_state(root: &Path) -> Option<(String, bool)> {
    let repo = git::open_repo(root).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?.id().to_string();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let workdir = repo.workdir()?.canonicalize().ok()?;
    if let Ok(rel) = root.strip_prefix(&workdir) {
        if !rel.as_os_str().is_empty() {
            opts.pathspec(rel);
        }
    }
    let dirty = repo
        .statuses(Some(&mut opts))
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    Some((commit, dirty))
}
