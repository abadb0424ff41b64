//! Planning: which (suite × variant × case × sample) jobs to run, each with its rendered
//! request and fingerprint. Cases are streamed from the datasets, never held all at once.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::assert::{Assertion, Check};
use crate::error::{Diagnostic, Error, Result};
use crate::provider::{estimate_request_tokens, Request, Response};
use crate::registry::Registry;
use crate::suite::{Case, Suite, Variant};
use crate::template::{check_vars, ModelSpec, Parameters, Prompt};

/// What to evaluate and how, by concern.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Which suites, cases and samples.
    pub select: Selection,
    /// Whether cached answers are read and written.
    pub cache: CachePolicy,
    /// Stop before spending more than this many USD.
    pub budget: Option<f64>,
    /// The gate's two sides, for `pairwise` assertions.
    pub pairing: Pairing,
    /// Someone records answers (`--record`): cached answers are announced too.
    pub record: bool,
}

/// Which suites, cases and samples a run takes.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Prompt or suite names; empty means every suite.
    pub selectors: Vec<String>,
    /// Regular expression on case id and description.
    pub filter: Option<String>,
    /// Samples per case (overrides suites and config).
    pub repeat: Option<u32>,
    /// Run only slice `i` of `n` (1-based).
    pub shard: Option<(u32, u32)>,
    /// Use this provider for every prompt.
    pub provider: Option<String>,
    /// Skip cases whose variables do not fit the prompt instead of stopping (the gate's
    /// baseline, which may predate an input).
    pub skip_unfit: bool,
}

/// How a run uses the cache.
#[derive(Debug, Clone, Copy, Default)]
pub struct CachePolicy {
    /// Reuse cached responses.
    pub enabled: bool,
    /// Call the provider even on a cache hit, and overwrite the cache.
    pub refresh: bool,
}

impl CachePolicy {
    /// Cached answers are read.
    pub fn reads(self) -> bool {
        self.enabled && !self.refresh
    }

    /// New answers are written.
    pub fn writes(self) -> bool {
        self.enabled || self.refresh
    }
}

/// The gate's sides, for `pairwise` assertions.
#[derive(Debug, Clone, Default)]
pub struct Pairing {
    /// Outputs of the other side, by [`sample_key`].
    pub baseline_outputs: Option<Arc<std::collections::HashMap<String, String>>>,
    /// This run is the gate's baseline: `pairwise` compares it with itself (a tie).
    pub pairwise_self: bool,
}

/// The key pairing a sample across runs: suite, variant, case, sample.
pub fn sample_key(suite: &str, variant: &str, case: &str, sample: u32) -> String {
    format!("{suite}\u{0}{variant}\u{0}{case}\u{0}{sample}")
}

/// Where a plan gets each prompt: the registry's working copy, or (for the gate) the
/// prompt at another reference. `None` leaves the variant out.
pub type PromptSource<'a> = dyn Fn(&str) -> Result<Option<Arc<Prompt>>> + 'a;

/// A prompt as a variant sees it: the prompt with the variant's model overrides applied.
pub struct Target {
    /// Suite variant.
    pub variant: Variant,
    /// The prompt file.
    pub prompt: Arc<Prompt>,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Parameters after overrides.
    pub params: Parameters,
    /// The prompt's content hash.
    pub prompt_hash: String,
}

/// A suite with the prompts it evaluates.
pub struct Planned {
    /// The suite.
    pub suite: Suite,
    /// Hash of the suite file and its dataset path (identity for results).
    pub suite_hash: String,
    /// One per variant.
    pub targets: Vec<Target>,
    /// Samples per case.
    pub repeat: u32,
}

/// The case data shared by a case's jobs.
pub struct CaseData {
    /// Stable id.
    pub id: String,
    /// Description.
    pub description: Option<String>,
    /// Variables.
    pub vars: Map<String, Value>,
    /// Metadata.
    pub metadata: Map<String, Value>,
    /// Suite defaults plus the case's own.
    pub assertions: Vec<Assertion>,
    /// JSON of the case for `exec` and the judge.
    pub json: Value,
}

/// One provider call to make (or to answer from the cache).
pub struct Job {
    /// Suite name.
    pub suite: Arc<str>,
    /// Suite hash.
    pub suite_hash: Arc<str>,
    /// Variant name.
    pub variant: Arc<str>,
    /// Prompt name.
    pub prompt: Arc<str>,
    /// Prompt content hash.
    pub prompt_hash: Arc<str>,
    /// Case.
    pub case: Arc<CaseData>,
    /// Sample index.
    pub sample: u32,
    /// Provider to call.
    pub provider: String,
    /// The request.
    pub request: Request,
    /// Identity of (provider, request): the cache key.
    pub fingerprint: String,
    /// Estimated prompt tokens.
    pub est_input_tokens: u64,
    /// A cached answer and its original latency, when the cache had one.
    pub cached: Option<(Response, f64)>,
}

impl Job {
    /// What the judge needs of this job.
    pub fn judge_input(&self) -> crate::judge::JudgeInput<'_> {
        crate::judge::JudgeInput {
            assertions: &self.case.assertions,
            messages: &self.request.messages,
            vars: &self.case.vars,
        }
    }
}

fn merge_params(base: &Parameters, over: &Parameters) -> Parameters {
    Parameters {
        temperature: over.temperature.or(base.temperature),
        top_p: over.top_p.or(base.top_p),
        max_tokens: over.max_tokens.or(base.max_tokens),
        seed: over.seed.or(base.seed),
        stop: over.stop.clone().or_else(|| base.stop.clone()),
        presence_penalty: over.presence_penalty.or(base.presence_penalty),
        frequency_penalty: over.frequency_penalty.or(base.frequency_penalty),
        response_format: over
            .response_format
            .clone()
            .or_else(|| base.response_format.clone()),
        tools: over.tools.clone().or_else(|| base.tools.clone()),
        logprobs: over.logprobs.or(base.logprobs),
    }
}

/// Pick the suites the selectors name (prompt or suite names), with their prompts loaded.
pub fn select(reg: &Registry, opts: &Options) -> Result<Vec<Planned>> {
    select_with(reg, opts, None)
}

/// [`select`], with prompts from `source` instead of the registry's files.
pub fn select_with(
    reg: &Registry,
    opts: &Options,
    source: Option<&PromptSource<'_>>,
) -> Result<Vec<Planned>> {
    let (suites, errors) = reg.suites()?;
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let prompt_files = reg.prompt_files()?;
    for s in &opts.select.selectors {
        if !suites.iter().any(|x| &x.name == s) && !prompt_files.contains_key(s) {
            let names: Vec<&str> = suites
                .iter()
                .map(|x| x.name.as_str())
                .chain(prompt_files.keys().map(String::as_str))
                .collect();
            return Err(Error::usage_help(
                format!("`{s}` is neither a suite nor a prompt"),
                crate::text::did_you_mean(s, names.iter().copied())
                    .unwrap_or_else(|| "`llmops list` shows the prompts and their suites".into()),
            ));
        }
    }
    let mut prompts: std::collections::HashMap<String, Arc<Prompt>> =
        std::collections::HashMap::new();
    let mut out = Vec::new();
    for suite in suites {
        let wanted = opts.select.selectors.is_empty()
            || opts
                .select
                .selectors
                .iter()
                .any(|s| *s == suite.name || suite.variants.iter().any(|v| &v.prompt == s));
        if !wanted {
            continue;
        }
        let mut targets = Vec::new();
        for v in &suite.variants {
            if !opts.select.selectors.is_empty()
                && !opts.select.selectors.contains(&suite.name)
                && !opts.select.selectors.contains(&v.prompt)
            {
                continue;
            }
            let prompt = match (prompts.get(&v.prompt), source) {
                (Some(p), _) => p.clone(),
                (None, Some(source)) => match source(&v.prompt)? {
                    Some(p) => {
                        prompts.insert(v.prompt.clone(), p.clone());
                        p
                    }
                    None => continue,
                },
                (None, None) => {
                    let p = Arc::new(reg.load_prompt(&v.prompt).map_err(|e| match e {
                        Error::Usage { message, help } => Error::Usage {
                            message: format!("{}:{}: {message}", suite.path, v.line),
                            help,
                        },
                        other => other,
                    })?);
                    prompts.insert(v.prompt.clone(), p.clone());
                    p
                }
            };
            let over = v.model.clone().unwrap_or_default();
            let base: &ModelSpec = &prompt.model;
            let provider = opts
                .select.provider
                .clone()
                .or(over.provider.clone())
                .or_else(|| reg.settings.provider_for(base))
                .ok_or_else(|| Error::usage_help(format!("prompt `{}` names no provider and llmops.yaml has no default", prompt.name), "set `defaults.provider` in llmops.yaml, `model.provider` in the prompt, or pass `--provider`"))?;
            if !reg.settings.has_provider(&provider) {
                return Err(Error::usage_help(
                    format!("prompt `{}`: unknown provider `{provider}`", prompt.name),
                    crate::text::did_you_mean(
                        &provider,
                        reg.settings.provider_names().iter().copied(),
                    )
                    .unwrap_or_else(|| "configure it under `providers:` in llmops.yaml".into()),
                ));
            }
            let model = over
                .name
                .clone()
                .or_else(|| reg.settings.model_for(base))
                .ok_or_else(|| {
                    Error::usage_help(
                        format!(
                            "prompt `{}` names no model and llmops.yaml has no default",
                            prompt.name
                        ),
                        "set `defaults.model` in llmops.yaml or `model.name` in the prompt",
                    )
                })?;
            targets.push(Target {
                variant: v.clone(),
                params: merge_params(&base.parameters, &over.parameters),
                prompt_hash: prompt.content_hash(),
                prompt,
                provider,
                model,
            });
        }
        let repeat = opts
            .select
            .repeat
            .or(suite.repeat)
            .unwrap_or(reg.settings.repeat)
            .max(1);
        out.push(Planned {
            suite_hash: suite_identity(reg, &suite)?.unwrap_or_default(),
            suite,
            targets,
            repeat,
        });
    }
    if out.is_empty() {
        return Err(Error::Nothing(if opts.select.selectors.is_empty() {
            format!("no suites in `{}`", reg.settings.evals_dir)
        } else {
            format!("no suite evaluates {}", opts.select.selectors.join(", "))
        }));
    }
    Ok(out)
}

/// A suite's identity in a registry snapshot: its file plus its dataset's content and the
/// scripts its assertions run (`python` files, registry files an `exec` line names), or `None`
/// when the file is not there. An edit to a check script is a change to the suite: the gate
/// runs it, and a stored run made with the old script is not the same suite.
pub fn suite_identity(reg: &Registry, suite: &Suite) -> Result<Option<String>> {
    let suite_path = suite.path.as_str();
    let dataset = suite.dataset.as_ref().map(|(d, _)| d.as_str());
    // Line endings as git stores them, so a `core.autocrlf` checkout (CRLF on disk, LF in
    // the blobs) does not make every suite look changed.
    let lf = |b: Vec<u8>| -> Vec<u8> {
        let mut out = Vec::with_capacity(b.len());
        for (i, &c) in b.iter().enumerate() {
            if !(c == b'\r' && b.get(i + 1) == Some(&b'\n')) {
                out.push(c);
            }
        }
        out
    };
    let Some(bytes) = reg.source.read(suite_path)? else {
        return Ok(None);
    };
    let mut bytes = lf(bytes);
    if let Some(d) = dataset {
        if let Some(data) = reg.source.read(d)? {
            bytes.extend_from_slice(crate::text::sha256_hex(&lf(data)).as_bytes());
        }
    }
    for script in check_scripts(&suite.assertions) {
        // A word that names no file (a flag, `python3`, a path outside the registry) adds
        // nothing.
        if let Ok(Some(data)) = reg.source.read(&script) {
            bytes.extend_from_slice(script.as_bytes());
            bytes.extend_from_slice(crate::text::sha256_hex(&lf(data)).as_bytes());
        }
    }
    Ok(Some(crate::text::sha256_hex(&bytes)[..16].to_string()))
}

/// Registry paths the assertions' programs may read: `python` files and the words of `exec`
/// lines that look like paths, `assert-set` items included, sorted and without repeats.
fn check_scripts(assertions: &[Assertion]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for a in assertions {
        match &a.check {
            Check::Python(p) => {
                if let crate::assert::python::Source::File { path, .. } = &p.source {
                    out.insert(path.clone());
                }
            }
            Check::Exec(cmd) => out.extend(
                cmd.words()
                    .into_iter()
                    .filter(|w| !w.starts_with('-') && (w.contains('/') || w.contains('.')))
                    .map(|w| w.trim_start_matches("./").to_string()),
            ),
            Check::Set(items) => out.extend(check_scripts(items)),
            _ => {}
        }
    }
    out
}

fn shard_of(suite: &str, case_id: &str, n: u32) -> u32 {
    let h = crate::text::sha256_hex(format!("{suite}\u{0}{case_id}").as_bytes());
    (u64::from_str_radix(&h[..15], 16).expect("hex") % u64::from(n)) as u32
}

/// Whether a case is in this run's slice and filter.
pub fn selected(opts: &Options, filter: Option<&regex::Regex>, suite: &str, case: &Case) -> bool {
    if let Some((i, n)) = opts.select.shard {
        if shard_of(suite, &case.id, n) != i - 1 {
            return false;
        }
    }
    match filter {
        None => true,
        Some(re) => {
            re.is_match(&case.id) || case.description.as_deref().is_some_and(|d| re.is_match(d))
        }
    }
}

/// Compile `--filter`.
pub fn filter_regex(opts: &Options) -> Result<Option<regex::Regex>> {
    opts.select
        .filter
        .as_deref()
        .map(|f| {
            regex::RegexBuilder::new(f)
                .case_insensitive(true)
                .build()
                .map_err(|e| Error::usage(format!("--filter: invalid regular expression: {e}")))
        })
        .transpose()
}

/// The cases in this run's slice whose variables do not fit their prompt, as
/// `file:line: case `id` for prompt `p`: why` (at most `limit`, plus how many more).
pub fn unfit_cases(
    reg: &Registry,
    planned: &[Planned],
    opts: &Options,
    limit: usize,
) -> Result<(Vec<String>, usize)> {
    let filter = filter_regex(opts)?;
    let (mut shown, mut total) = (Vec::new(), 0);
    for p in planned {
        for case in p.suite.cases(&reg.source)? {
            let case = case?;
            if !selected(opts, filter.as_ref(), &p.suite.name, &case) {
                continue;
            }
            for t in &p.targets {
                if let Err(e) = check_vars(&t.prompt.inputs, &case.vars) {
                    total += 1;
                    if shown.len() < limit {
                        shown.push(format!(
                            "{}:{}: case `{}` for prompt `{}`: {e}",
                            case.file, case.line, case.id, t.prompt.name
                        ));
                    }
                }
            }
        }
    }
    Ok((shown, total))
}

/// Count the jobs a plan will produce (parses the datasets but renders nothing).
pub fn count(reg: &Registry, planned: &[Planned], opts: &Options) -> Result<u64> {
    let filter = filter_regex(opts)?;
    let mut n = 0u64;
    for p in planned {
        for case in p.suite.cases(&reg.source)? {
            let case = case?;
            if selected(opts, filter.as_ref(), &p.suite.name, &case) {
                n += p.targets.len() as u64 * u64::from(p.repeat);
            }
        }
    }
    Ok(n)
}

/// A cache lookup: a fingerprint to the cached answer and its original latency.
pub type Lookup<'a> = dyn FnMut(&str) -> Result<Option<(Response, f64)>> + 'a;

/// Stream every job to `emit` (which returns false to stop). `lookup` answers cache hits;
/// `done` holds (suite, variant, case, sample) already finished by a resumed run.
pub fn plan(
    reg: &Registry,
    planned: &[Planned],
    opts: &Options,
    done: &HashSet<(String, String, String, u32)>,
    lookup: &mut Lookup<'_>,
    emit: &mut dyn FnMut(Job) -> bool,
) -> Result<()> {
    let filter = filter_regex(opts)?;
    let dir = &reg.settings.prompts_dir;
    let mask_inputs = reg
        .settings
        .redact_inputs
        .then(|| crate::redact::Allow::new(&reg.settings.redaction_allow));
    let max_rendered = reg.settings.limit_rendered_bytes;
    for p in planned {
        let suite_name: Arc<str> = Arc::from(p.suite.name.as_str());
        let suite_hash: Arc<str> = Arc::from(p.suite_hash.as_str());
        let names: Vec<(Arc<str>, Arc<str>, Arc<str>)> = p
            .targets
            .iter()
            .map(|t| {
                (
                    Arc::from(t.variant.name.as_str()),
                    Arc::from(t.prompt.name.as_str()),
                    Arc::from(t.prompt_hash.as_str()),
                )
            })
            .collect();
        for case in p.suite.cases(&reg.source)? {
            let mut case = case?;
            if !selected(opts, filter.as_ref(), &p.suite.name, &case) {
                continue;
            }
            if let Some(allow) = &mask_inputs {
                // `redaction.inputs`: personal data and secrets never leave the machine (nor
                // reach the store); stable placeholders keep one fingerprint per value.
                for v in case.vars.values_mut() {
                    crate::redact::mask_value(v, allow);
                }
            }
            let data = Arc::new(CaseData {
                json: json!({ "id": case.id, "vars": case.vars, "metadata": case.metadata, "description": case.description, "suite": p.suite.name }),
                id: case.id.clone(),
                description: case.description.clone(),
                vars: case.vars.clone(),
                metadata: case.metadata.clone(),
                assertions: case.assert.clone(),
            });
            for (t, (variant, prompt_name, prompt_hash)) in p.targets.iter().zip(&names) {
                let vars = match check_vars(&t.prompt.inputs, &case.vars) {
                    Ok(v) => v,
                    Err(_) if opts.select.skip_unfit => continue,
                    Err(e) => {
                        return Err(Diagnostic::error(
                            "case-vars",
                            &case.file,
                            format!("case `{}` for prompt `{}`: {e}", case.id, t.prompt.name),
                        )
                        .at(case.line, None)
                        .help("`llmops lint` lists every such problem")
                        .into())
                    }
                };
                let messages = t.prompt.render(dir, &vars)?;
                let size: usize = messages.iter().map(|m| m.content.len()).sum();
                if size as u64 > max_rendered {
                    return Err(Diagnostic::error(
                        "rendered-size",
                        &case.file,
                        format!(
                            "case `{}` renders prompt `{}` to {size} bytes, over `limits.rendered_bytes` ({max_rendered})",
                            case.id, t.prompt.name
                        ),
                    )
                    .at(case.line, None)
                    .help("shorten the case's variables, or raise `limits.rendered_bytes` in llmops.yaml")
                    .into());
                }
                for sample in 0..p.repeat {
                    if done.contains(&(
                        p.suite.name.clone(),
                        t.variant.name.clone(),
                        case.id.clone(),
                        sample,
                    )) {
                        continue;
                    }
                    let request = Request {
                        model: t.model.clone(),
                        messages: messages.clone(),
                        params: t.params.clone(),
                        sample,
                        embed: false,
                    };
                    let fingerprint = crate::provider::fingerprint(&t.provider, &request);
                    let cached = if opts.cache.reads() {
                        lookup(&fingerprint)?
                    } else {
                        None
                    };
                    let job = Job {
                        suite: suite_name.clone(),
                        suite_hash: suite_hash.clone(),
                        variant: variant.clone(),
                        prompt: prompt_name.clone(),
                        prompt_hash: prompt_hash.clone(),
                        case: data.clone(),
                        sample,
                        provider: t.provider.clone(),
                        est_input_tokens: estimate_request_tokens(&request),
                        request,
                        fingerprint,
                        cached,
                    };
                    if !emit(job) {
                        return Ok(());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Identity of a selection, so `--resume` finds the run it continues.
pub fn plan_key(planned: &[Planned], opts: &Options) -> String {
    let parts: Vec<Value> = planned
        .iter()
        .map(|p| json!({ "suite": p.suite.name, "hash": p.suite_hash, "repeat": p.repeat, "targets": p.targets.iter().map(|t| json!([t.variant.name, t.prompt_hash, t.provider, t.model])).collect::<Vec<_>>() }))
        .collect();
    let v = json!({ "suites": parts, "filter": opts.select.filter, "shard": opts.select.shard });
    crate::text::sha256_hex(crate::text::canonical_json(&v).as_bytes())[..16].to_string()
}
