//! References: everything a user may write where a version is expected, and how each becomes
//! a prompt.
//!
//! | written                    | means                                                  |
//! |----------------------------|--------------------------------------------------------|
//! | `worktree` (or nothing)    | the files on disk                                      |
//! | `v3`                       | version 3 from `.llmops/versions.lock`, read by blob id |
//! | `production`               | the version the label's file names                     |
//! | `main`, `HEAD~2`, a sha    | the files in that commit                               |
//!
//! Ambiguity rule: `worktree`, then `vN`, then label names are tried before git revisions,
//! so a label called `main` hides the branch `main` (write `refs/heads/main` for the branch).
//! Versions and labels are read from the working tree's lock and label files: versions are
//! immutable, and a label means where it points now.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::rc::Rc;

use super::git::GitRepo;
use super::labels::{check_label_name, label_path, parse_version, Label, LABELS_DIR, WORKTREE};
use super::lock::{VersionEntry, VersionsLock, LOCK_FILE};
use super::{find_root, OpenOptions, Registry};
use crate::error::{Error, Result};
use crate::template::Prompt;

/// What a reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// The files on disk.
    Worktree,
    /// A released version of the prompt in question.
    Version(u32),
    /// A label; each prompt at the version it points at.
    Label(String),
    /// A git revision.
    Git(String),
    /// A label or version as the label and lock files stand at a commit (the gate's
    /// baseline: read at the merge base, so the change under test cannot move it).
    At(Box<Reference>, String),
}

impl Reference {
    /// How it is written back to the user.
    pub fn display(&self) -> String {
        match self {
            Reference::Worktree => WORKTREE.to_string(),
            Reference::Version(n) => format!("v{n}"),
            Reference::Label(l) | Reference::Git(l) => l.clone(),
            Reference::At(inner, rev) => format!("{} at {}", inner.display(), short(rev)),
        }
    }
}

/// An error when label `label` pins content for `name` other than what version `n` holds: a
/// merge renumbered the versions under it, and following the number would serve other
/// content.
fn check_pin(
    label: &str,
    name: &str,
    n: u32,
    pin: Option<&str>,
    entry: &VersionEntry,
) -> Result<()> {
    match pin {
        Some(p) if p != entry.content_hash => Err(Error::usage_help(
            format!(
                "label `{label}` points `{name}` at v{n} but pins content {}, and v{n} in {LOCK_FILE} is {}: a merge renumbered the versions",
                &p[..p.len().min(12)],
                &entry.content_hash[..entry.content_hash.len().min(12)]
            ),
            "run `llmops lock resolve` to carry the label with its content, then commit",
        )),
        _ => Ok(()),
    }
}

/// A commit id cut to seven characters; anything else as written.
fn short(rev: &str) -> &str {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        &rev[..7]
    } else {
        rev
    }
}

/// Where a resolved prompt came from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Origin {
    /// The reference as written (`v3`, `production`, `HEAD~2`, `worktree`).
    pub reference: String,
    /// For people: `greet@v3`, `production (greet@v3)`, `HEAD~2 (abc1234)`, `working tree`.
    pub describe: String,
    /// The released version this content is, when the lock has one with the same content.
    pub version: Option<u32>,
    /// The label the reference went through.
    pub label: Option<String>,
    /// The commit read, for a git revision.
    pub commit: Option<String>,
    /// The prompt's content hash (for a version, the one the lock recorded).
    pub content_hash: String,
}

/// A prompt at a reference, with the registry snapshot that goes with it (its suites and
/// datasets: the revision's for a git revision, the working tree's otherwise).
pub struct Resolved {
    /// The prompt.
    pub prompt: Prompt,
    /// Where it came from.
    pub origin: Origin,
    /// The registry snapshot for everything around the prompt.
    pub registry: Rc<Registry>,
}

/// Resolves references for one command, opening the repository, the lock and each revision
/// once.
pub struct Resolver<'o> {
    opts: &'o OpenOptions,
    root: PathBuf,
    work: OnceCell<Rc<Registry>>,
    git: OnceCell<GitRepo>,
    lock: OnceCell<VersionsLock>,
    labels: RefCell<HashMap<String, Option<Rc<Label>>>>,
    revs: RefCell<HashMap<String, Rc<Registry>>>,
}

impl<'o> Resolver<'o> {
    /// A resolver for the registry `opts` finds.
    pub fn new(opts: &'o OpenOptions) -> Result<Resolver<'o>> {
        Ok(Resolver {
            opts,
            root: find_root(&opts.dir)?,
            work: OnceCell::new(),
            git: OnceCell::new(),
            lock: OnceCell::new(),
            labels: RefCell::new(HashMap::new()),
            revs: RefCell::new(HashMap::new()),
        })
    }

    /// A resolver for the same registry that has read nothing yet (to re-read after another
    /// process changed the files).
    pub fn fresh(&self) -> Result<Resolver<'o>> {
        Resolver::new(self.opts)
    }

    /// The registry root on disk.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The working tree's registry.
    pub fn worktree(&self) -> Result<Rc<Registry>> {
        if let Some(r) = self.work.get() {
            return Ok(r.clone());
        }
        let r = Rc::new(Registry::open(self.opts, None)?);
        Ok(self.work.get_or_init(|| r).clone())
    }

    /// The git repository (an error outside one).
    pub fn git(&self) -> Result<&GitRepo> {
        if let Some(g) = self.git.get() {
            return Ok(g);
        }
        let g = GitRepo::open(&self.root)?;
        Ok(self.git.get_or_init(|| g))
    }

    /// The working tree's `.llmops/versions.lock` (empty when there is none).
    pub fn lock(&self) -> Result<&VersionsLock> {
        if let Some(l) = self.lock.get() {
            return Ok(l);
        }
        let l = read_lock(&*self.worktree()?)?;
        Ok(self.lock.get_or_init(|| l))
    }

    /// Label `name` as the working tree has it, or `None` when there is no such label.
    pub fn label(&self, name: &str) -> Result<Option<Rc<Label>>> {
        if let Some(l) = self.labels.borrow().get(name) {
            return Ok(l.clone());
        }
        let l = read_label(&*self.worktree()?, name)?.map(Rc::new);
        self.labels.borrow_mut().insert(name.to_string(), l.clone());
        Ok(l)
    }

    /// Every label in the working tree, by name.
    pub fn labels(&self) -> Result<Vec<Rc<Label>>> {
        let work = self.worktree()?;
        let mut out = Vec::new();
        for e in work.source.list(LABELS_DIR)? {
            if e.is_dir || !e.name.ends_with(".yaml") {
                continue;
            }
            let name = e.name.trim_end_matches(".yaml");
            if check_label_name(name).is_err() {
                continue;
            }
            if let Some(l) = self.label(name)? {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// What `text` names, by the ambiguity rule in this module's docs.
    pub fn classify(&self, text: &str) -> Reference {
        if text == WORKTREE {
            return Reference::Worktree;
        }
        if let Some(n) = parse_version(text) {
            return Reference::Version(n);
        }
        if check_label_name(text).is_ok() && self.root.join(label_path(text)).is_file() {
            return Reference::Label(text.to_string());
        }
        Reference::Git(text.to_string())
    }

    /// The registry snapshot that goes with a reference.
    pub fn registry_for(&self, r: &Reference) -> Result<Rc<Registry>> {
        match r {
            Reference::At(_, rev) => self.registry_for(&Reference::Git(rev.clone())),
            Reference::Git(rev) => {
                if let Some(reg) = self.revs.borrow().get(rev) {
                    return Ok(reg.clone());
                }
                let reg = Rc::new(Registry::open(self.opts, Some(rev))?);
                self.revs.borrow_mut().insert(rev.clone(), reg.clone());
                Ok(reg)
            }
            _ => self.worktree(),
        }
    }

    /// The prompt `name` at `reference` (None: the working tree). An error when it does not
    /// exist there.
    pub fn resolve(&self, name: &str, reference: Option<&str>) -> Result<Resolved> {
        let r = match reference {
            Some(text) => self.classify(text),
            None => Reference::Worktree,
        };
        match self.try_resolve(name, &r)? {
            Some(found) => Ok(found),
            None => Err(self.absent(name, &r)),
        }
    }

    /// The prompt `name` at `r`, or `None` when it does not exist there.
    pub fn try_resolve(&self, name: &str, r: &Reference) -> Result<Option<Resolved>> {
        match r {
            Reference::Worktree | Reference::Git(_) => {
                let reg = self.registry_for(r)?;
                let files = reg.prompt_files()?;
                let Some(path) = files.get(name) else {
                    return Ok(None);
                };
                let prompt = reg.load_prompt_file(path)?;
                let content_hash = prompt.content_hash();
                let version = self.version_of(name, &content_hash);
                let origin = Origin {
                    reference: r.display(),
                    describe: reg.source.describe(),
                    version,
                    label: None,
                    commit: reg.source.commit(),
                    content_hash,
                };
                Ok(Some(Resolved {
                    prompt,
                    origin,
                    registry: reg,
                }))
            }
            Reference::Version(_) | Reference::Label(_) | Reference::At(..) => {
                let Some((entry, origin)) = self.version_entry(name, r)? else {
                    return Ok(None);
                };
                let registry = self.registry_for(r)?;
                let prompt =
                    load_version_with(self.git()?, &registry.settings.prompts_dir, &entry)?;
                Ok(Some(Resolved {
                    prompt,
                    origin,
                    registry,
                }))
            }
        }
    }

    /// The lock entry a version or label reference names for `name`, with its origin.
    fn version_entry(&self, name: &str, r: &Reference) -> Result<Option<(VersionEntry, Origin)>> {
        if let Reference::At(inner, rev) = r {
            return self.version_entry_at(name, inner, rev);
        }
        let (n, label) = match r {
            Reference::Version(n) => (*n, None),
            Reference::Label(l) => {
                let Some(label) = self.label(l)? else {
                    return Ok(None);
                };
                let Some(n) = label.targets.get(name).copied() else {
                    return Ok(None);
                };
                (n, Some(l.clone()))
            }
            _ => return Ok(None),
        };
        let entry = match (self.lock()?.get(name, n).cloned(), &label) {
            (Some(e), Some(l)) => {
                let pinned = self.label(l)?.and_then(|x| x.pins.get(name).cloned());
                check_pin(l, name, n, pinned.as_deref(), &e)?;
                e
            }
            (Some(e), _) => e,
            (None, None) => return Ok(None),
            (None, Some(l)) => {
                return Err(Error::usage_help(
                    format!("label `{l}` points `{name}` at v{n}, which {LOCK_FILE} does not have"),
                    format!(
                    "`llmops log {name}` lists its versions; move the label with `llmops promote`"
                ),
                ))
            }
        };
        let describe = match &label {
            Some(l) => format!("{l} ({name}@v{n})"),
            None => format!("{name}@v{n}"),
        };
        let origin = Origin {
            reference: r.display(),
            describe,
            version: Some(n),
            label,
            commit: None,
            content_hash: entry.content_hash.clone(),
        };
        Ok(Some((entry, origin)))
    }

    /// [`Self::version_entry`] with the label and lock files read at commit `rev`.
    fn version_entry_at(
        &self,
        name: &str,
        inner: &Reference,
        rev: &str,
    ) -> Result<Option<(VersionEntry, Origin)>> {
        let reg = self.registry_for(&Reference::Git(rev.to_string()))?;
        let (n, label, pin) = match inner {
            Reference::Version(n) => (*n, None, None),
            Reference::Label(l) => match read_label(&reg, l)? {
                Some(x) => match x.targets.get(name).copied() {
                    Some(n) => (n, Some(l.clone()), x.pins.get(name).cloned()),
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        let Some(entry) = read_lock(&reg)?.get(name, n).cloned() else {
            return match &label {
                None => Ok(None),
                Some(l) => Err(Error::usage_help(
                    format!("at {}, label `{l}` points `{name}` at v{n}, which {LOCK_FILE} there does not have", short(rev)),
                    "repair the lock on the base branch (`llmops lint --locked` shows it)",
                )),
            };
        };
        if let Some(l) = &label {
            check_pin(l, name, n, pin.as_deref(), &entry)?;
        }
        let describe = match &label {
            Some(l) => format!("{l} ({name}@v{n}) at {}", short(rev)),
            None => format!("{name}@v{n} at {}", short(rev)),
        };
        let origin = Origin {
            reference: format!("{} at {}", inner.display(), short(rev)),
            describe,
            version: Some(n),
            label,
            commit: Some(rev.to_string()),
            content_hash: entry.content_hash.clone(),
        };
        Ok(Some((entry, origin)))
    }

    /// Every prompt in `names` at `r` (an error for one that is not there). Released versions
    /// are read from their blobs on every core: `export --label` reads hundreds.
    pub fn resolve_all(&self, names: &[String], r: &Reference) -> Result<Vec<Resolved>> {
        if !matches!(r, Reference::Version(_) | Reference::Label(_)) {
            return names
                .iter()
                .map(|n| self.try_resolve(n, r)?.ok_or_else(|| self.absent(n, r)))
                .collect();
        }
        let mut entries = Vec::with_capacity(names.len());
        let mut origins = Vec::with_capacity(names.len());
        for n in names {
            let (entry, origin) = self.version_entry(n, r)?.ok_or_else(|| self.absent(n, r))?;
            entries.push(entry);
            origins.push(origin);
        }
        let work = self.worktree()?;
        let prompts = load_parallel(&self.root, &work.settings.prompts_dir, &entries)?;
        Ok(prompts
            .into_iter()
            .zip(origins)
            .map(|(prompt, origin)| Resolved {
                prompt,
                origin,
                registry: work.clone(),
            })
            .collect())
    }

    /// The error for a prompt that `r` does not have.
    pub fn absent(&self, name: &str, r: &Reference) -> Error {
        match r {
            Reference::At(inner, rev) => Error::usage(format!(
                "{} has no version of `{name}` at {}",
                inner.display(),
                short(rev)
            )),
            Reference::Version(n) => Error::usage_help(
                format!("`{name}` has no version v{n}"),
                format!("`llmops log {name}` lists its versions"),
            ),
            Reference::Label(l) => Error::usage_help(
                format!("label `{l}` has no version of `{name}`"),
                format!("point it at one with `llmops promote {name} VERSION --label {l}`"),
            ),
            _ => {
                let known: Vec<String> = self
                    .registry_for(r)
                    .and_then(|reg| reg.prompt_files())
                    .map(|f| f.into_keys().collect())
                    .unwrap_or_default();
                let help = crate::text::did_you_mean(name, known.iter().map(String::as_str))
                    .unwrap_or_else(|| "`llmops list` shows the prompts".to_string());
                let at = match r {
                    Reference::Git(rev) => format!(" at `{rev}`"),
                    _ => " in the working tree".to_string(),
                };
                Error::usage_help(format!("no prompt named `{name}`{at}"), help)
            }
        }
    }

    /// The prompts that exist at `r`.
    pub fn names(&self, r: &Reference) -> Result<BTreeSet<String>> {
        Ok(match r {
            Reference::Worktree | Reference::Git(_) => {
                self.registry_for(r)?.prompt_files()?.into_keys().collect()
            }
            Reference::Version(n) => self
                .lock()?
                .prompts
                .iter()
                .filter(|(_, p)| p.get(*n).is_some())
                .map(|(k, _)| k.clone())
                .collect(),
            Reference::Label(l) => match self.label(l)? {
                Some(label) => label.targets.keys().cloned().collect(),
                None => BTreeSet::new(),
            },
            Reference::At(inner, rev) => {
                let reg = self.registry_for(&Reference::Git(rev.clone()))?;
                match &**inner {
                    Reference::Label(l) => read_label(&reg, l)?
                        .map(|x| x.targets.into_keys().collect())
                        .unwrap_or_default(),
                    Reference::Version(n) => read_lock(&reg)?
                        .prompts
                        .iter()
                        .filter(|(_, p)| p.get(*n).is_some())
                        .map(|(k, _)| k.clone())
                        .collect(),
                    _ => BTreeSet::new(),
                }
            }
        })
    }

    /// The released version whose content is `hash`, if any.
    pub fn version_of(&self, name: &str, hash: &str) -> Option<u32> {
        self.lock()
            .ok()?
            .prompt(name)?
            .by_hash(hash)
            .map(|v| v.version)
    }

    /// A released version's prompt, read from its recorded blobs (no checkout, no commit).
    pub fn load_version(&self, entry: &VersionEntry) -> Result<Prompt> {
        let git = self.git()?;
        let work = self.worktree()?;
        load_version_with(git, &work.settings.prompts_dir, entry)
    }
}

/// Load versions from their blobs, split across the machine's cores, each thread with its own
/// repository handle (libgit2 handles are not shared between threads).
fn load_parallel(
    root: &std::path::Path,
    prompts_dir: &str,
    entries: &[VersionEntry],
) -> Result<Vec<Prompt>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads <= 1 || entries.len() < 64 {
        let git = GitRepo::open(root)?;
        return entries
            .iter()
            .map(|e| load_version_with(&git, prompts_dir, e))
            .collect();
    }
    let chunk = entries.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<Vec<Prompt>> {
                    let git = GitRepo::open(root)?;
                    part.iter()
                        .map(|e| load_version_with(&git, prompts_dir, e))
                        .collect()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for h in handles {
            out.extend(h.join().expect("a loader thread panicked")?);
        }
        Ok(out)
    })
}

/// A version's prompt from its blobs.
pub fn load_version_with(git: &GitRepo, prompts_dir: &str, entry: &VersionEntry) -> Result<Prompt> {
    let bytes = git.read_blob(&entry.blob, &entry.file)?;
    let text = crate::yaml::decode_utf8(&entry.file, &bytes)?;
    let mut prompt = Prompt::parse(&entry.file, &text)?;
    let read = |rel: &str| -> Result<Option<Vec<u8>>> {
        match entry.partials.get(rel) {
            Some(id) => git.read_blob(id, rel).map(Some),
            None => Ok(None),
        }
    };
    prompt.load_partials(prompts_dir, &read)?;
    Ok(prompt)
}

/// The lock file in a registry snapshot (empty when there is none).
pub fn read_lock(reg: &Registry) -> Result<VersionsLock> {
    match reg.source.read(LOCK_FILE)? {
        Some(bytes) => {
            let text = crate::yaml::decode_utf8(LOCK_FILE, &bytes)?;
            Ok(VersionsLock::parse(LOCK_FILE, &text)?)
        }
        None => Ok(VersionsLock::default()),
    }
}

/// A label file in a registry snapshot, or `None` when there is no such label.
pub fn read_label(reg: &Registry, name: &str) -> Result<Option<Label>> {
    let path = label_path(name);
    match reg.source.read(&path)? {
        Some(bytes) => {
            let text = crate::yaml::decode_utf8(&path, &bytes)?;
            Ok(Some(Label::parse(name, &path, &text)?))
        }
        None => Ok(None),
    }
}
