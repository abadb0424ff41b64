//! Which baseline the gate compares with. It is resolved from the branch the change merges
//! into, never from the change itself: a label is read as it stands at the merge base (its
//! file and the lock both), so a change that also moves `production` or edits the lock cannot
//! pick its own baseline. A change that moves the baseline label is gated as the newly
//! labelled version against the label's target at the base.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::registry::{check_label_name, read_label, BaseCommit, Reference, Resolver};
use crate::template::Prompt;

/// The environment variables CI systems set to the branch a pull or merge request targets,
/// tried in this order after `--base-ref`.
pub const BASE_REF_ENV: [&str; 2] = ["GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"];

/// The label the gate compares with when no `--baseline` is given.
pub const DEFAULT_LABEL: &str = "production";

/// The two sides the gate compares, as references.
pub struct Sides {
    /// The baseline (a label or version read at the merge base, the merge base itself, or
    /// what `--baseline` named).
    pub baseline: Reference,
    /// For people: `production at 1a2b3c4 (merge base with origin/main)`.
    pub baseline_name: String,
    /// The candidate (the working tree unless `--candidate` names another).
    pub candidate: Reference,
    /// For people.
    pub candidate_name: String,
    /// The merge base, when one was found.
    pub base: Option<BaseCommit>,
    /// Prompts whose baseline label this change moves, gated as the newly labelled version.
    pub moved: Vec<LabelMove>,
    /// Prompt -> the reference its candidate comes from, when not `candidate` (a moved label).
    candidate_for: BTreeMap<String, Reference>,
}

/// A prompt whose label target differs between the base and the candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMove {
    /// The prompt.
    pub prompt: String,
    /// The label.
    pub label: String,
    /// Its target at the base (None: the label did not name the prompt).
    pub from: Option<u32>,
    /// Its target in the candidate.
    pub to: u32,
}

/// The base branch: `--base-ref`, else the first of [`BASE_REF_ENV`] that is set; empty
/// counts as unset (GitHub sets `GITHUB_BASE_REF` to "" on push events, and recipes pass it
/// through as `--base-ref "$GITHUB_BASE_REF"`).
pub fn base_ref(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let flag = flag.filter(|f| !f.trim().is_empty());
    flag.map(str::to_string).or_else(|| {
        BASE_REF_ENV
            .iter()
            .filter_map(|k| env(k))
            .find(|v| !v.trim().is_empty())
    })
}

/// Resolve both sides. `baseline` and `candidate` are what the user wrote (if anything);
/// `base_ref` the branch the change merges into (None: the default branch).
pub fn resolve(
    res: &Resolver,
    baseline: Option<&str>,
    candidate: Option<&str>,
    base_ref: Option<&str>,
) -> Result<Sides> {
    let found = match res.git() {
        Ok(git) => git.merge_base_with(base_ref),
        Err(e) if base_ref.is_some() => Err(e),
        Err(_) => Ok(None),
    };
    // The error (a shallow clone, an unknown branch) matters only when a side needs the base.
    let (known, mut failed) = match found {
        Ok(b) => (b, None),
        Err(e) => (None, Some(e)),
    };
    let mut need = || -> Result<Option<BaseCommit>> {
        match failed.take() {
            Some(e) => Err(e),
            None => Ok(known.clone()),
        }
    };
    let candidate_ref = candidate.map_or(Reference::Worktree, |c| res.classify(c));
    let no_base = |why: &str| {
        Error::usage_help(
            format!("no baseline: {why}"),
            "pass `--base-ref BRANCH` (the branch this change merges into), or `--baseline REF` (a label, a version, or a git revision such as `main`)",
        )
    };
    let base_at =
        |b: &BaseCommit, inner: Reference| Reference::At(Box::new(inner), b.commit.clone());
    let baseline_ref = match baseline {
        // A label or version is read at the merge base, so the change cannot redefine it.
        Some(text) => match res.classify(text) {
            r @ (Reference::Label(_) | Reference::Version(_)) => match need()? {
                Some(b) => base_at(&b, r),
                // Without a base branch a version still means one thing (numbers are never
                // reused); a label would mean whatever the change made it.
                None if matches!(r, Reference::Version(_)) => r,
                None => return Err(no_base(&format!("`{text}` is read where the target branch has it, and there is no default branch to find it on"))),
            },
            Reference::Git(g) if check_label_name(text).is_ok() => match &known {
                // A label the change deleted is still the baseline at the base.
                Some(b) if label_at(res, b, text)? => base_at(b, Reference::Label(text.into())),
                _ => Reference::Git(g),
            },
            other => other,
        },
        None => match need()? {
            Some(b) if label_at(res, &b, DEFAULT_LABEL)? => {
                base_at(&b, Reference::Label(DEFAULT_LABEL.into()))
            }
            Some(b) => Reference::Git(b.commit.clone()),
            None => return Err(no_base("there is no default branch to take a merge base with")),
        },
    };
    let base = known.clone();
    // A side llmops chose is named for where it came from; a revision the user typed is shown
    // as typed, even when it happens to be the merge base.
    let describe = |r: &Reference, typed: bool| match (r, &base) {
        (Reference::Git(c), Some(b)) if &b.commit == c && !typed => {
            format!("merge base {} with {}", &c[..7], b.branch)
        }
        (Reference::At(..), Some(b)) => format!("{} (merge base with {})", r.display(), b.branch),
        _ => r.display(),
    };
    let mut sides = Sides {
        baseline_name: describe(&baseline_ref, baseline.is_some()),
        candidate_name: describe(&candidate_ref, candidate.is_some()),
        baseline: baseline_ref,
        candidate: candidate_ref,
        base,
        moved: Vec::new(),
        candidate_for: BTreeMap::new(),
    };
    if candidate.is_none() {
        moved_labels(res, &mut sides)?;
    }
    Ok(sides)
}

/// Whether label `name` exists at the merge base.
fn label_at(res: &Resolver, b: &BaseCommit, name: &str) -> Result<bool> {
    let reg = res.registry_for(&Reference::Git(b.commit.clone()))?;
    Ok(read_label(&reg, name)?.is_some())
}

/// When the baseline is a label at the merge base and the working tree's copy of that label
/// points a prompt elsewhere, the change moves it: gate the newly labelled version. A change
/// that both moves the label and edits the prompt to other content is refused, since one run
/// cannot gate both.
fn moved_labels(res: &Resolver, sides: &mut Sides) -> Result<()> {
    let Reference::At(inner, commit) = &sides.baseline else {
        return Ok(());
    };
    let Reference::Label(label) = &**inner else {
        return Ok(());
    };
    let base_reg = res.registry_for(&Reference::Git(commit.clone()))?;
    let at_base = read_label(&base_reg, label)?.unwrap_or_default();
    let Some(now) = res.label(label)? else {
        return Ok(());
    };
    for (prompt, &to) in &now.targets {
        let from = at_base.targets.get(prompt).copied();
        if from == Some(to) {
            continue;
        }
        let version = res.resolve(prompt, Some(&format!("v{to}")))?;
        let worktree = res.try_resolve(prompt, &Reference::Worktree)?;
        let at_merge_base = res.try_resolve(prompt, &Reference::Git(commit.clone()))?;
        let hash = |r: &Option<crate::registry::Resolved>| {
            r.as_ref().map(|x| x.origin.content_hash.clone())
        };
        let (work, merge_base) = (hash(&worktree), hash(&at_merge_base));
        let labelled = Some(version.origin.content_hash.clone());
        if work != labelled && work != merge_base {
            return Err(Error::usage_help(
                format!(
                    "this change moves label `{label}` for `{prompt}` to v{to} and also edits `{prompt}` to content that is not v{to}, so one gate cannot check both"
                ),
                format!("release the edit and point `{label}` at it (`llmops release {prompt}`, then `llmops promote {prompt} vN --label {label}`), or move the label in a change of its own"),
            ));
        }
        sides.moved.push(LabelMove {
            prompt: prompt.clone(),
            label: label.clone(),
            from,
            to,
        });
        sides
            .candidate_for
            .insert(prompt.clone(), Reference::Version(to));
    }
    Ok(())
}

impl Sides {
    /// Where the plan reads each baseline prompt: the baseline reference, and for a prompt a
    /// baseline label does not name, the prompt at the merge base (so an unlabelled prompt's
    /// edit is still gated).
    pub fn baseline_source<'a>(
        &'a self,
        res: &'a Resolver<'_>,
    ) -> impl Fn(&str) -> Result<Option<Arc<Prompt>>> + 'a {
        move |name: &str| {
            if let Some(found) = res.try_resolve(name, &self.baseline)? {
                return Ok(Some(Arc::new(found.prompt)));
            }
            match &self.baseline {
                Reference::At(_, commit) => Ok(res
                    .try_resolve(name, &Reference::Git(commit.clone()))?
                    .map(|x| Arc::new(x.prompt))),
                _ => Ok(None),
            }
        }
    }

    /// Where the plan reads each candidate prompt: the candidate reference, or the newly
    /// labelled version for a prompt whose label this change moves.
    pub fn candidate_source<'a>(
        &'a self,
        res: &'a Resolver<'_>,
    ) -> impl Fn(&str) -> Result<Option<Arc<Prompt>>> + 'a {
        move |name: &str| {
            let r = self.candidate_for.get(name).unwrap_or(&self.candidate);
            Ok(res.try_resolve(name, r)?.map(|x| Arc::new(x.prompt)))
        }
    }
}
