//! `llmops.yaml` + profile + `LLMOPS_*` environment + flags, resolved into plain settings.
//!
//! Precedence, lowest first: built-in defaults, the file, the selected profile, the environment,
//! command-line flags. Every key is optional; unknown keys are errors with a suggestion.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::error::{Diagnostic, Error, Result};

/// The file name the registry root is recognised by.
pub const CONFIG_FILE: &str = "llmops.yaml";

/// Provider names that exist without being configured.
pub const BUILTIN_PROVIDERS: &[&str] = &["echo"];

/// The whole `llmops.yaml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where prompt files live.
    pub prompts_dir: Option<String>,
    /// Where eval suites live.
    pub evals_dir: Option<String>,
    /// Fallbacks for prompts that name no provider or model.
    pub defaults: Option<Defaults>,
    /// Named providers.
    pub providers: Option<IndexMap<String, Spanned<ProviderConfig>>>,
    /// The LLM-as-judge model.
    pub judge: Option<Judge>,
    /// Per-model price overrides.
    pub pricing: Option<IndexMap<String, Spanned<Price>>>,
    /// The response cache.
    pub cache: Option<Cache>,
    /// Gate policy.
    pub gate: Option<Gate>,
    /// PII redaction in stored outputs and reports.
    pub redaction: Option<Redaction>,
    /// Size caps on rendered prompts, response bodies and stored outputs.
    pub limits: Option<Limits>,
    /// Named overlays selected with `--profile`.
    pub profiles: Option<IndexMap<String, Profile>>,
}

/// A profile: the same sections as the file, laid over it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// See [`ConfigFile::defaults`].
    pub defaults: Option<Defaults>,
    /// See [`ConfigFile::providers`]; an entry replaces the provider of the same name.
    pub providers: Option<IndexMap<String, Spanned<ProviderConfig>>>,
    /// See [`ConfigFile::judge`].
    pub judge: Option<Judge>,
    /// See [`ConfigFile::pricing`].
    pub pricing: Option<IndexMap<String, Spanned<Price>>>,
    /// See [`ConfigFile::cache`].
    pub cache: Option<Cache>,
    /// See [`ConfigFile::gate`].
    pub gate: Option<Gate>,
    /// See [`ConfigFile::redaction`].
    pub redaction: Option<Redaction>,
    /// See [`ConfigFile::limits`].
    pub limits: Option<Limits>,
}

/// `defaults:`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Provider for prompts that name none.
    pub provider: Option<Spanned<String>>,
    /// Model for prompts that name none.
    pub model: Option<String>,
    /// Max in-flight calls per provider.
    pub concurrency: Option<Spanned<usize>>,
    /// Per-request timeout in seconds.
    pub timeout_s: Option<Spanned<f64>>,
    /// Samples per case.
    pub repeat: Option<Spanned<u32>>,
}

/// The kinds of provider llmops can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI chat completions or any compatible server.
    Openai,
    /// Anthropic messages API.
    Anthropic,
    /// Returns the rendered prompt; offline.
    Echo,
    /// Answers from recorded responses; offline.
    Replay,
    /// Tries a chain of providers in order.
    Fallback,
}

impl ProviderKind {
    /// Answers without a network call (`echo`, `replay`): nothing to cache, record or pay.
    pub fn is_offline(self) -> bool {
        matches!(self, ProviderKind::Echo | ProviderKind::Replay)
    }
}

/// One entry of `providers:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Which client to use.
    #[serde(rename = "type")]
    pub kind: ProviderKind,
    /// API base URL.
    pub base_url: Option<String>,
    /// The name of the environment variable that holds the key (never the key itself).
    pub api_key_env: Option<String>,
    /// Max in-flight calls to this provider.
    pub concurrency: Option<usize>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u32>,
    /// Per-request timeout in seconds.
    pub timeout_s: Option<f64>,
    /// Retries after the first attempt.
    pub max_retries: Option<u32>,
    /// The longest one call may wait on rate limits (429s), in total, in seconds.
    pub max_wait_s: Option<f64>,
    /// Replay: directory of recordings.
    pub path: Option<String>,
    /// Fallback: provider names tried in order.
    pub chain: Option<Vec<String>>,
}

/// `judge:`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Judge {
    /// Judge provider name.
    pub provider: Option<Spanned<String>>,
    /// Judge model.
    pub model: Option<String>,
    /// Several judges whose verdicts are combined.
    pub panel: Option<Vec<Spanned<PanelMember>>>,
    /// How a panel's verdicts are combined.
    pub combine: Option<Combine>,
}

/// The most judges a panel may have: each is a call per graded sample.
pub const MAX_PANEL: usize = 9;

/// One judge of a panel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PanelMember {
    /// Provider name.
    pub provider: String,
    /// Model.
    pub model: String,
}

/// How a judge panel's verdicts become one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Combine {
    /// Passes when more than half the judges pass it; the score is the mean.
    #[default]
    Majority,
    /// The mean score, against the assertion's threshold.
    Mean,
}

/// A model's price in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input (prompt) tokens.
    pub input: f64,
    /// Output (completion) tokens.
    pub output: f64,
}

/// `cache:`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// SQLite file, relative to the registry root.
    pub path: Option<String>,
    /// Reuse cached responses.
    pub enabled: Option<bool>,
}

/// `gate:`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// One-sided significance level.
    pub alpha: Option<f64>,
    /// Non-inferiority margin on the mean score difference.
    pub tolerance: Option<f64>,
    /// Error rate above which the gate says ERROR.
    pub max_error_rate: Option<f64>,
    /// Treat INCONCLUSIVE as a failure.
    pub strict: Option<bool>,
    /// Case metadata field to cluster on.
    pub cluster_by: Option<String>,
    /// Relative cost increase per case allowed (0.10 = +10%); cost is not gated without it.
    pub cost_tolerance: Option<f64>,
    /// Relative latency increase per case allowed (0.10 = +10%); not gated without it.
    pub latency_tolerance: Option<f64>,
}

/// `redaction:`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// Mask e-mail addresses, phone numbers and card numbers in stored outputs and reports.
    pub pii: Option<bool>,
    /// Mask the same in a case's variables before the request leaves the machine.
    pub inputs: Option<bool>,
    /// Regular expressions for deliberate fixtures: a PII- or secret-shaped string that
    /// matches one whole is not reported by lint (and not masked by `inputs`).
    pub allow: Option<Vec<String>>,
}

/// `limits:` size caps, each in bytes.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The largest rendered prompt (all messages together).
    pub rendered_bytes: Option<Spanned<u64>>,
    /// The largest response body read from a provider; a larger one is an ERROR for the case.
    pub response_bytes: Option<Spanned<u64>>,
    /// The largest output stored per sample (longer outputs are cut, and the cut is marked).
    pub output_bytes: Option<Spanned<u64>>,
}

/// Default `limits.rendered_bytes`: 1 MiB.
pub const DEFAULT_RENDERED_BYTES: u64 = 1 << 20;
/// Default `limits.response_bytes`: 32 MiB.
pub const DEFAULT_RESPONSE_BYTES: u64 = 32 << 20;
/// Default `limits.output_bytes`: 1 MiB.
pub const DEFAULT_OUTPUT_BYTES: u64 = 1 << 20;
/// The smallest value a limit may take.
pub const MIN_LIMIT_BYTES: u64 = 1024;
/// The largest value a limit may take: 1 GiB.
pub const MAX_LIMIT_BYTES: u64 = 1 << 30;

/// Resolved settings: what the rest of the program reads.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Where prompt files live, relative to the registry root.
    pub prompts_dir: String,
    /// Where eval suites live, relative to the registry root.
    pub evals_dir: String,
    /// The profile in force, if any.
    pub profile: Option<String>,
    /// Provider for prompts that name none.
    pub default_provider: Option<String>,
    /// Model for prompts that name none.
    pub default_model: Option<String>,
    /// Max in-flight calls per provider.
    pub concurrency: usize,
    /// Per-request timeout in seconds.
    pub timeout_s: f64,
    /// Samples per case.
    pub repeat: u32,
    /// Configured providers by name.
    pub providers: IndexMap<String, ProviderConfig>,
    /// Judge provider.
    pub judge_provider: Option<String>,
    /// Judge model.
    pub judge_model: Option<String>,
    /// A judge panel (empty: the single judge).
    pub judge_panel: Vec<PanelMember>,
    /// How the panel's verdicts are combined.
    pub judge_combine: Combine,
    /// Price overrides by model.
    pub pricing: IndexMap<String, Price>,
    /// Cache file, relative to the registry root.
    pub cache_path: String,
    /// Reuse cached responses.
    pub cache_enabled: bool,
    /// Gate significance level.
    pub gate_alpha: f64,
    /// Gate non-inferiority margin.
    pub gate_tolerance: f64,
    /// Gate error-rate ceiling.
    pub gate_max_error_rate: f64,
    /// INCONCLUSIVE fails.
    pub gate_strict: bool,
    /// Case field to cluster on.
    pub gate_cluster_by: Option<String>,
    /// Relative cost tolerance, when cost is gated.
    pub gate_cost_tolerance: Option<f64>,
    /// Relative latency tolerance, when latency is gated.
    pub gate_latency_tolerance: Option<f64>,
    /// Redact PII.
    pub redact_pii: bool,
    /// Mask PII in variables before requests are sent.
    pub redact_inputs: bool,
    /// Allow-list of deliberate PII/secret-shaped fixtures (regular expressions).
    pub redaction_allow: Vec<String>,
    /// `limits.rendered_bytes`.
    pub limit_rendered_bytes: u64,
    /// `limits.response_bytes`.
    pub limit_response_bytes: u64,
    /// `limits.output_bytes`.
    pub limit_output_bytes: u64,
    /// Where each value that is not a built-in default came from, by config key
    /// (`defaults.concurrency`, `providers.openai`); for `llmops config`.
    #[serde(skip)]
    pub origins: IndexMap<String, Origin>,
}

/// Where a resolved value came from, like `git config --show-origin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Origin {
    /// The config file, by name.
    File(String),
    /// A profile of the config file, by profile name.
    Profile(String),
    /// An environment variable, by name.
    Env(String),
    /// A command-line flag, by spelling.
    Flag(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(name) => write!(f, "file:{name}"),
            Origin::Profile(name) => write!(f, "profile:{name}"),
            Origin::Env(name) => write!(f, "env:{name}"),
            Origin::Flag(name) => write!(f, "flag:{name}"),
        }
    }
}

/// Environment variables that set a key: (variable, key, applied only when non-empty).
const ENV_KEYS: &[(&str, &str, bool)] = &[
    ("LLMOPS_PROVIDER", "defaults.provider", true),
    ("LLMOPS_MODEL", "defaults.model", true),
    ("LLMOPS_CONCURRENCY", "defaults.concurrency", false),
    ("LLMOPS_TIMEOUT_S", "defaults.timeout_s", false),
    ("LLMOPS_JUDGE_PROVIDER", "judge.provider", true),
    ("LLMOPS_JUDGE_MODEL", "judge.model", true),
    ("LLMOPS_CACHE_PATH", "cache.path", true),
    ("LLMOPS_CACHE_ENABLED", "cache.enabled", false),
    ("LLMOPS_GATE_ALPHA", "gate.alpha", false),
    ("LLMOPS_GATE_TOLERANCE", "gate.tolerance", false),
    ("LLMOPS_GATE_MAX_ERROR_RATE", "gate.max_error_rate", false),
    ("LLMOPS_GATE_STRICT", "gate.strict", false),
    ("LLMOPS_PROMPTS_DIR", "prompts_dir", true),
    ("LLMOPS_EVALS_DIR", "evals_dir", true),
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prompts_dir: "prompts".into(),
            evals_dir: "evals".into(),
            profile: None,
            default_provider: None,
            default_model: None,
            concurrency: 8,
            timeout_s: 60.0,
            repeat: 1,
            providers: IndexMap::new(),
            judge_provider: None,
            judge_model: None,
            judge_panel: Vec::new(),
            judge_combine: Combine::Majority,
            pricing: IndexMap::new(),
            cache_path: ".llmops/cache/llmops.db".into(),
            cache_enabled: true,
            gate_alpha: 0.05,
            gate_tolerance: 0.02,
            gate_max_error_rate: 0.05,
            gate_strict: false,
            gate_cluster_by: None,
            gate_cost_tolerance: None,
            gate_latency_tolerance: None,
            redact_pii: false,
            redact_inputs: false,
            redaction_allow: Vec::new(),
            limit_rendered_bytes: DEFAULT_RENDERED_BYTES,
            limit_response_bytes: DEFAULT_RESPONSE_BYTES,
            limit_output_bytes: DEFAULT_OUTPUT_BYTES,
            origins: IndexMap::new(),
        }
    }
}

/// Flags that override everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--provider`.
    pub provider: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `-j/--concurrency`.
    pub concurrency: Option<usize>,
}

impl Settings {
    /// Whether `name` is a provider this configuration can use.
    pub fn has_provider(&self, name: &str) -> bool {
        self.providers.contains_key(name) || BUILTIN_PROVIDERS.contains(&name)
    }

    /// Teach the redactor every key the configured providers name, as the environment holds
    /// them.
    pub fn learn_keys(&self, env: &dyn Fn(&str) -> Option<String>) {
        for p in self.providers.values() {
            if let Some(key) = p.api_key_env.as_deref().and_then(env) {
                crate::redact::add_secret(&key);
            }
        }
    }

    /// Whether the named provider answers offline (a configured `echo`/`replay`, or the
    /// built-in `echo`). The one place that decides it.
    pub fn provider_is_offline(&self, name: &str) -> bool {
        match self.providers.get(name) {
            Some(p) => p.kind.is_offline(),
            None => name == "echo",
        }
    }

    /// The provider a model block resolves to: its own, else `defaults.provider`.
    pub fn provider_for(&self, model: &crate::template::ModelSpec) -> Option<String> {
        model
            .provider
            .clone()
            .or_else(|| self.default_provider.clone())
    }

    /// The model a model block resolves to: its own, else `defaults.model`.
    pub fn model_for(&self, model: &crate::template::ModelSpec) -> Option<String> {
        model.name.clone().or_else(|| self.default_model.clone())
    }

    /// Every provider name usable here, for suggestions.
    pub fn provider_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.providers.keys().map(String::as_str).collect();
        for b in BUILTIN_PROVIDERS {
            if !names.contains(b) {
                names.push(b);
            }
        }
        names
    }
}

/// Parse the file's text.
pub fn parse(file: &str, text: &str) -> Result<ConfigFile, Diagnostic> {
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    crate::yaml::parse(file, text)
}

/// Resolve `file` + profile + environment + flags into settings, checking cross references.
pub fn resolve(
    file_name: &str,
    file: ConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<Settings> {
    let mut s = Settings::default();
    let from_file = Origin::File(file_name.to_string());
    if let Some(d) = file.prompts_dir.clone() {
        s.prompts_dir = d;
        s.origins.insert("prompts_dir".into(), from_file.clone());
    }
    if let Some(d) = file.evals_dir.clone() {
        s.evals_dir = d;
        s.origins.insert("evals_dir".into(), from_file.clone());
    }
    let mut spans: Vec<(Spanned<String>, &'static str)> = Vec::new();
    let base = Profile {
        defaults: file.defaults,
        providers: file.providers,
        judge: file.judge,
        pricing: file.pricing,
        cache: file.cache,
        gate: file.gate,
        redaction: file.redaction,
        limits: file.limits,
    };
    let mut provider_spans = IndexMap::new();
    let mut number_lines = IndexMap::new();
    apply(
        &mut s,
        base,
        &from_file,
        &mut spans,
        &mut provider_spans,
        &mut number_lines,
    );

    let profile_origin = if flags.profile.is_some() {
        Origin::Flag("--profile".into())
    } else {
        Origin::Env("LLMOPS_PROFILE".into())
    };
    let profile_name = flags.profile.clone().or_else(|| env("LLMOPS_PROFILE"));
    if let Some(name) = profile_name {
        let mut profiles = file.profiles.unwrap_or_default();
        let Some(profile) = profiles.shift_remove(&name) else {
            let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
            let mut help = crate::text::did_you_mean(&name, known.iter().copied());
            if help.is_none() {
                help = Some(if known.is_empty() {
                    format!("{file_name} defines no profiles")
                } else {
                    format!("profiles in {file_name}: {}", known.join(", "))
                });
            }
            return Err(Error::Usage {
                message: format!("unknown profile `{name}`"),
                help,
            });
        };
        let origin = Origin::Profile(name.clone());
        apply(
            &mut s,
            profile,
            &origin,
            &mut spans,
            &mut provider_spans,
            &mut number_lines,
        );
        s.origins.insert("profile".into(), profile_origin);
        s.profile = Some(name);
    }

    apply_env(&mut s, env)?;
    for (var, key, text_only) in ENV_KEYS {
        // apply_env succeeded, so every variable that is set (non-empty for text) was applied.
        if env(var).is_some_and(|v| !text_only || !v.is_empty()) {
            s.origins
                .insert(key.to_string(), Origin::Env(var.to_string()));
        }
    }
    if env("LLMOPS_TIMEOUT_S").is_some() {
        check_timeout(s.timeout_s)
            .map_err(|m| Error::usage(format!("environment variable LLMOPS_TIMEOUT_S: {m}")))?;
    }
    if env("LLMOPS_CONCURRENCY").is_some() {
        check_concurrency(s.concurrency)
            .map_err(|m| Error::usage(format!("environment variable LLMOPS_CONCURRENCY: {m}")))?;
    }
    if let Some(p) = &flags.provider {
        s.default_provider = Some(p.clone());
        s.origins.insert(
            "defaults.provider".into(),
            Origin::Flag("--provider".into()),
        );
    }
    if let Some(m) = &flags.model {
        s.default_model = Some(m.clone());
        s.origins
            .insert("defaults.model".into(), Origin::Flag("--model".into()));
    }
    if let Some(c) = flags.concurrency {
        check_concurrency(c).map_err(|m| Error::usage(format!("-j/--concurrency: {m}")))?;
        // The flag means "this many in flight per provider", whatever each provider says.
        s.concurrency = c;
        s.origins.insert(
            "defaults.concurrency".into(),
            Origin::Flag("-j/--concurrency".into()),
        );
        for p in s.providers.values_mut() {
            p.concurrency = None;
        }
    }
    validate(file_name, &s, &spans, &provider_spans, &number_lines)?;
    Ok(s)
}

fn span_line<T>(s: &Spanned<T>) -> usize {
    s.referenced.line() as usize
}

fn apply(
    s: &mut Settings,
    layer: Profile,
    origin: &Origin,
    spans: &mut Vec<(Spanned<String>, &'static str)>,
    provider_spans: &mut IndexMap<String, usize>,
    number_lines: &mut IndexMap<String, usize>,
) {
    let mut seen = layer_keys(&layer);
    seen.extend(
        layer
            .providers
            .iter()
            .flatten()
            .map(|(name, _)| format!("providers.{name}")),
    );
    seen.extend(
        layer
            .pricing
            .iter()
            .flatten()
            .map(|(model, _)| format!("pricing.{model}")),
    );
    for key in seen {
        s.origins.insert(key, origin.clone());
    }
    if let Some(d) = layer.defaults {
        if let Some(p) = d.provider {
            s.default_provider = Some(p.value.clone());
            spans.push((p, "defaults.provider"));
        }
        set(&mut s.default_model, d.model);
        for (field, line) in [
            (
                "defaults.concurrency",
                d.concurrency.as_ref().map(span_line),
            ),
            ("defaults.timeout_s", d.timeout_s.as_ref().map(span_line)),
            ("defaults.repeat", d.repeat.as_ref().map(span_line)),
        ] {
            if let Some(line) = line {
                number_lines.insert(field.to_string(), line);
            }
        }
        overlay(&mut s.concurrency, d.concurrency.map(|v| v.value));
        overlay(&mut s.timeout_s, d.timeout_s.map(|v| v.value));
        overlay(&mut s.repeat, d.repeat.map(|v| v.value));
    }
    for (name, p) in layer.providers.unwrap_or_default() {
        provider_spans.insert(name.clone(), p.referenced.line() as usize);
        s.providers.insert(name, p.value);
    }
    if let Some(j) = layer.judge {
        if let Some(p) = j.provider {
            s.judge_provider = Some(p.value.clone());
            spans.push((p, "judge.provider"));
        }
        set(&mut s.judge_model, j.model);
        if let Some(panel) = j.panel {
            s.judge_panel.clear();
            if let Some(first) = panel.first() {
                number_lines.insert("judge.panel".to_string(), span_line(first));
            }
            for m in panel {
                s.judge_panel.push(m.value.clone());
                let name = Spanned {
                    value: m.value.provider.clone(),
                    referenced: m.referenced,
                    defined: m.defined,
                };
                spans.push((name, "judge.panel"));
            }
        }
        if let Some(c) = j.combine {
            s.judge_combine = c;
        }
    }
    for (model, price) in layer.pricing.unwrap_or_default() {
        number_lines.insert(format!("pricing.{model}"), span_line(&price));
        s.pricing.insert(model, price.value);
    }
    if let Some(c) = layer.cache {
        overlay(&mut s.cache_path, c.path);
        overlay(&mut s.cache_enabled, c.enabled);
    }
    if let Some(g) = layer.gate {
        overlay(&mut s.gate_alpha, g.alpha);
        overlay(&mut s.gate_tolerance, g.tolerance);
        overlay(&mut s.gate_max_error_rate, g.max_error_rate);
        overlay(&mut s.gate_strict, g.strict);
        set(&mut s.gate_cluster_by, g.cluster_by);
        set(&mut s.gate_cost_tolerance, g.cost_tolerance);
        set(&mut s.gate_latency_tolerance, g.latency_tolerance);
    }
    if let Some(r) = layer.redaction {
        overlay(&mut s.redact_pii, r.pii);
        overlay(&mut s.redact_inputs, r.inputs);
        overlay(&mut s.redaction_allow, r.allow);
    }
    if let Some(l) = layer.limits {
        for (field, slot, v) in [
            (
                "limits.rendered_bytes",
                &mut s.limit_rendered_bytes,
                l.rendered_bytes,
            ),
            (
                "limits.response_bytes",
                &mut s.limit_response_bytes,
                l.response_bytes,
            ),
            (
                "limits.output_bytes",
                &mut s.limit_output_bytes,
                l.output_bytes,
            ),
        ] {
            if let Some(v) = v {
                number_lines.insert(field.to_string(), span_line(&v));
                *slot = v.value;
            }
        }
    }
}

/// The scalar keys a layer sets, named as in the file.
fn layer_keys(layer: &Profile) -> Vec<String> {
    let mut keys = Vec::new();
    let mut note = |key: &str, present: bool| {
        if present {
            keys.push(key.to_string());
        }
    };
    if let Some(d) = &layer.defaults {
        note("defaults.provider", d.provider.is_some());
        note("defaults.model", d.model.is_some());
        note("defaults.concurrency", d.concurrency.is_some());
        note("defaults.timeout_s", d.timeout_s.is_some());
        note("defaults.repeat", d.repeat.is_some());
    }
    if let Some(j) = &layer.judge {
        note("judge.provider", j.provider.is_some());
        note("judge.model", j.model.is_some());
        note("judge.panel", j.panel.is_some());
        note("judge.combine", j.combine.is_some());
    }
    if let Some(c) = &layer.cache {
        note("cache.path", c.path.is_some());
        note("cache.enabled", c.enabled.is_some());
    }
    if let Some(g) = &layer.gate {
        note("gate.alpha", g.alpha.is_some());
        note("gate.tolerance", g.tolerance.is_some());
        note("gate.max_error_rate", g.max_error_rate.is_some());
        note("gate.strict", g.strict.is_some());
        note("gate.cluster_by", g.cluster_by.is_some());
        note("gate.cost_tolerance", g.cost_tolerance.is_some());
        note("gate.latency_tolerance", g.latency_tolerance.is_some());
    }
    if let Some(r) = &layer.redaction {
        note("redaction.pii", r.pii.is_some());
        note("redaction.inputs", r.inputs.is_some());
        note("redaction.allow", r.allow.is_some());
    }
    if let Some(l) = &layer.limits {
        note("limits.rendered_bytes", l.rendered_bytes.is_some());
        note("limits.response_bytes", l.response_bytes.is_some());
        note("limits.output_bytes", l.output_bytes.is_some());
    }
    keys
}

fn overlay<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

fn apply_env(s: &mut Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    fn parsed<T: std::str::FromStr>(
        env: &dyn Fn(&str) -> Option<String>,
        key: &str,
        what: &str,
    ) -> Result<Option<T>> {
        match env(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                Error::usage(format!(
                    "environment variable {key}: expected {what}, got `{v}`"
                ))
            }),
        }
    }
    let text = |key: &str| env(key).filter(|v| !v.is_empty());
    set(&mut s.default_provider, text("LLMOPS_PROVIDER"));
    set(&mut s.default_model, text("LLMOPS_MODEL"));
    overlay(
        &mut s.concurrency,
        parsed(env, "LLMOPS_CONCURRENCY", "a whole number")?,
    );
    overlay(
        &mut s.timeout_s,
        parsed(env, "LLMOPS_TIMEOUT_S", "seconds")?,
    );
    set(&mut s.judge_provider, text("LLMOPS_JUDGE_PROVIDER"));
    set(&mut s.judge_model, text("LLMOPS_JUDGE_MODEL"));
    overlay(&mut s.cache_path, text("LLMOPS_CACHE_PATH"));
    overlay(
        &mut s.cache_enabled,
        parsed(env, "LLMOPS_CACHE_ENABLED", "true or false")?,
    );
    overlay(
        &mut s.gate_alpha,
        parsed(env, "LLMOPS_GATE_ALPHA", "a number")?,
    );
    overlay(
        &mut s.gate_tolerance,
        parsed(env, "LLMOPS_GATE_TOLERANCE", "a number")?,
    );
    overlay(
        &mut s.gate_max_error_rate,
        parsed(env, "LLMOPS_GATE_MAX_ERROR_RATE", "a number")?,
    );
    overlay(
        &mut s.gate_strict,
        parsed(env, "LLMOPS_GATE_STRICT", "true or false")?,
    );
    overlay(&mut s.prompts_dir, text("LLMOPS_PROMPTS_DIR"));
    overlay(&mut s.evals_dir, text("LLMOPS_EVALS_DIR"));
    Ok(())
}

/// The longest per-request timeout a config may ask for: one day.
pub const MAX_TIMEOUT_S: f64 = 86_400.0;
/// The most calls in flight per provider a config or `-j` may ask for.
pub const MAX_CONCURRENCY: usize = 4096;

/// `providers.*.max_wait_s` when unset: ten minutes of waiting on rate limits per call.
pub const DEFAULT_MAX_WAIT_S: f64 = 600.0;
/// The most retries after a first attempt.
pub const MAX_RETRIES: u32 = 100;
/// The most samples per case.
pub const MAX_REPEAT: u32 = 10_000;

/// `Err(why)` unless `c` calls in flight is a usable number.
pub fn check_concurrency(c: usize) -> std::result::Result<(), String> {
    if c == 0 || c > MAX_CONCURRENCY {
        return Err(format!("must be from 1 to {MAX_CONCURRENCY}, got {c}"));
    }
    Ok(())
}

/// `Err(why)` unless `t` seconds is a usable timeout: finite, above 0, at most a day.
pub fn check_timeout(t: f64) -> std::result::Result<(), String> {
    if !(t.is_finite() && t > 0.0 && t <= MAX_TIMEOUT_S) {
        return Err(format!(
            "must be a number of seconds above 0 and at most {MAX_TIMEOUT_S}, got {t}"
        ));
    }
    Ok(())
}

/// Whether `name` is a plausible environment variable name and not a key pasted in its place.
pub fn is_env_var_name(name: &str) -> bool {
    let ident = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    ident && !crate::redact::looks_like_key(name)
}

fn validate(
    file: &str,
    s: &Settings,
    spans: &[(Spanned<String>, &'static str)],
    provider_spans: &IndexMap<String, usize>,
    number_lines: &IndexMap<String, usize>,
) -> Result<()> {
    let range = |field: &'static str, msg: String| -> Error {
        Diagnostic::error("range", file, format!("{field} {msg}"))
            .at_opt(number_lines.get(field).copied())
            .into()
    };
    check_concurrency(s.concurrency).map_err(|m| range("defaults.concurrency", m))?;
    if !s.judge_panel.is_empty() {
        let n = s.judge_panel.len();
        if !(2..=MAX_PANEL).contains(&n) {
            return Err(range(
                "judge.panel",
                format!("has {n} judge(s); a panel has 2 to {MAX_PANEL} (for one judge, set `judge.provider` and `judge.model`)"),
            ));
        }
        for (i, m) in s.judge_panel.iter().enumerate() {
            if s.judge_panel[..i].contains(m) {
                // Identical requests share one call: a repeated judge would vote twice for free.
                return Err(range(
                    "judge.panel",
                    format!(
                        "names `{}/{}` twice; each judge votes once",
                        m.provider, m.model
                    ),
                ));
            }
        }
    }
    for (field, v) in [
        ("limits.rendered_bytes", s.limit_rendered_bytes),
        ("limits.response_bytes", s.limit_response_bytes),
        ("limits.output_bytes", s.limit_output_bytes),
    ] {
        if !(MIN_LIMIT_BYTES..=MAX_LIMIT_BYTES).contains(&v) {
            return Err(range(
                field,
                format!("must be from {MIN_LIMIT_BYTES} to {MAX_LIMIT_BYTES} bytes, got {v}"),
            ));
        }
    }
    for a in &s.redaction_allow {
        if let Err(e) = regex::Regex::new(a) {
            return Err(Diagnostic::error(
                "redaction",
                file,
                format!("redaction.allow: `{a}` is not a regular expression: {e}"),
            )
            .into());
        }
    }
    check_timeout(s.timeout_s).map_err(|m| range("defaults.timeout_s", m))?;
    if s.repeat == 0 || s.repeat > MAX_REPEAT {
        return Err(range(
            "defaults.repeat",
            format!("must be from 1 to {MAX_REPEAT}, got {}", s.repeat),
        ));
    }
    for (model, p) in &s.pricing {
        for (what, v) in [("input", p.input), ("output", p.output)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Diagnostic::error(
                    "range",
                    file,
                    format!("pricing.{model}.{what} must be a price in USD per million tokens, 0 or more, got {v}"),
                )
                .at_opt(number_lines.get(&format!("pricing.{model}")).copied())
                .into());
            }
        }
    }
    for (field, value) in [
        ("prompts_dir", Some(&s.prompts_dir)),
        ("evals_dir", Some(&s.evals_dir)),
    ] {
        if let Some(v) = value {
            if crate::paths::join_within("", "", v).is_none_or(|j| j.is_empty()) {
                return Err(Diagnostic::error(
                    "path-escape",
                    file,
                    format!("{field} `{v}` leaves the repository"),
                )
                .help("paths in llmops.yaml are relative to the repository and stay inside it")
                .into());
            }
        }
    }
    let names = s.provider_names();
    let unknown = |name: &str| {
        crate::text::did_you_mean(name, names.iter().copied())
            .unwrap_or_else(|| format!("configured providers: {}", names.join(", ")))
    };
    for (span, field) in spans {
        // Only the value that won counts: a profile may fix a bad base value.
        let current = match *field {
            "defaults.provider" => s.default_provider.as_deref(),
            "judge.panel" => s
                .judge_panel
                .iter()
                .find(|m| m.provider == span.value)
                .map(|m| m.provider.as_str()),
            _ => s.judge_provider.as_deref(),
        };
        if current == Some(span.value.as_str()) && !s.has_provider(&span.value) {
            return Err(Diagnostic::error(
                "unknown-provider",
                file,
                format!("{field}: unknown provider `{}`", span.value),
            )
            .at(
                span.referenced.line() as usize,
                Some(span.referenced.column() as usize),
            )
            .help(unknown(&span.value))
            .into());
        }
    }
    for (key, value) in [
        ("LLMOPS_PROVIDER", &s.default_provider),
        ("LLMOPS_JUDGE_PROVIDER", &s.judge_provider),
    ] {
        if let Some(v) = value {
            if !s.has_provider(v) {
                return Err(Error::Usage {
                    message: format!("unknown provider `{v}` (from flags or {key})"),
                    help: Some(unknown(v)),
                });
            }
        }
    }
    for (name, p) in &s.providers {
        let line = provider_spans.get(name).copied();
        let bad =
            |msg: String| -> Error { Diagnostic::error("provider", file, msg).at_opt(line).into() };
        match p.kind {
            ProviderKind::Fallback => {
                let chain = p.chain.as_deref().unwrap_or_default();
                if chain.is_empty() {
                    return Err(bad(format!(
                        "providers.{name}: a fallback provider needs `chain: [a, b]`"
                    )));
                }
                for c in chain {
                    if !s.has_provider(c) || c == name {
                        return Err(bad(format!(
                            "providers.{name}.chain: unknown provider `{c}`"
                        )));
                    }
                }
            }
            ProviderKind::Replay if p.path.is_none() => {
                return Err(bad(format!(
                    "providers.{name}: a replay provider needs `path:` (a directory of recordings)"
                )));
            }
            _ => {}
        }
        if let Some(path) = &p.path {
            if crate::paths::join_within("", "", path).is_none_or(|j| j.is_empty()) {
                return Err(Diagnostic::error(
                    "path-escape",
                    file,
                    format!("providers.{name}.path `{path}` leaves the repository"),
                )
                .at_opt(line)
                .help("recordings live inside the repository, e.g. `path: recordings`")
                .into());
            }
        }
        if let Some(url) = &p.base_url {
            if let Err(why) = check_base_url(url) {
                return Err(Diagnostic::error(
                    "base-url",
                    file,
                    format!(
                        "providers.{name}.base_url `{}` is not usable: {why}",
                        crate::redact::scrub(url)
                    ),
                )
                .at_opt(line)
                .help("write an http(s) address such as `https://api.openai.com/v1`; keep keys in `api_key_env`")
                .into());
            }
        }
        let field = |f: &str| format!("providers.{name}.{f}");
        if let Some(c) = p.concurrency {
            check_concurrency(c).map_err(|m| bad(format!("{} {m}", field("concurrency"))))?;
        }
        if let Some(t) = p.timeout_s {
            check_timeout(t).map_err(|m| bad(format!("{} {m}", field("timeout_s"))))?;
        }
        if let Some(t) = p.max_wait_s {
            check_timeout(t).map_err(|m| bad(format!("{} {m}", field("max_wait_s"))))?;
        }
        for (f, v) in [("rpm", p.rpm), ("tpm", p.tpm)] {
            if v == Some(0) {
                return Err(bad(format!(
                    "{} must be at least 1 (0 would wait forever); leave it out for no limit",
                    field(f)
                )));
            }
        }
        if let Some(r) = p.max_retries {
            if r > MAX_RETRIES {
                return Err(bad(format!(
                    "{} must be at most {MAX_RETRIES}, got {r}",
                    field("max_retries")
                )));
            }
        }
        if let Some(env_name) = &p.api_key_env {
            if !is_env_var_name(env_name) {
                return Err(Diagnostic::error(
                    "secret-in-config",
                    file,
                    format!("providers.{name}.api_key_env must name an environment variable, not hold a key"),
                )
                .at_opt(line)
                .help("write `api_key_env: OPENAI_API_KEY` and export the key in your shell or CI secrets")
                .into());
            }
        }
    }
    let checks: [(&str, f64, f64, f64); 3] = [
        ("gate.alpha", s.gate_alpha, 0.0, 0.5),
        ("gate.tolerance", s.gate_tolerance, 0.0, 1.0),
        ("gate.max_error_rate", s.gate_max_error_rate, 0.0, 1.0),
    ];
    for (field, v, lo, hi) in checks {
        if !(v > lo || (v == lo && field != "gate.alpha")) || v > hi {
            return Err(Diagnostic::error(
                "range",
                file,
                format!("{field} must be within ({lo}, {hi}], got {v}"),
            )
            .into());
        }
    }
    for (field, v) in [
        ("gate.cost_tolerance", s.gate_cost_tolerance),
        ("gate.latency_tolerance", s.gate_latency_tolerance),
    ] {
        if let Some(v) =
            v.filter(|v| !(v.is_finite() && (0.0..=MAX_RELATIVE_TOLERANCE).contains(v)))
        {
            return Err(Diagnostic::error(
                "range",
                file,
                format!("{field} must be a relative increase between 0 and {MAX_RELATIVE_TOLERANCE} (0.10 allows +10%), got {v}"),
            )
            .help(format!("write `{field}: 0.10` under `gate:` in llmops.yaml to allow the candidate 10% more per case"))
            .into());
        }
    }
    Ok(())
}

/// The largest `gate.cost_tolerance` / `gate.latency_tolerance`: ×11 per case. Anything
/// looser is no gate at all.
pub const MAX_RELATIVE_TOLERANCE: f64 = 10.0;

/// `Err(why)` unless `url` is an absolute http(s) address without credentials in it.
pub fn check_base_url(url: &str) -> std::result::Result<(), &'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("not an absolute URL (no `https://`)");
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err("only http and https are supported");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err("no host");
    }
    if url.contains(char::is_whitespace) {
        return Err("it contains white space");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_str(text: &str, env: &[(&str, &str)], flags: Overrides) -> Result<Settings> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let file = parse("llmops.yaml", text)?;
        resolve("llmops.yaml", file, &|k| env.get(k).cloned(), &flags)
    }

    #[test]
    fn a_panel_has_two_to_nine_distinct_judges() {
        let panel = |members: &str| {
            resolve_str(
                &format!("judge:\n  panel:\n{members}"),
                &[],
                Overrides::default(),
            )
        };
        let a = "    - { provider: echo, model: a }\n";
        let b = "    - { provider: echo, model: b }\n";
        assert!(panel(&format!("{a}{b}")).is_ok());
        let one = panel(a).unwrap_err().to_string();
        assert!(
            one.contains("llmops.yaml:3") && one.contains("2 to 9"),
            "{one}"
        );
        let twice = panel(&format!("{a}{a}")).unwrap_err().to_string();
        assert!(twice.contains("twice"), "{twice}");
        let ten: String = (0..10)
            .map(|i| format!("    - {{ provider: echo, model: m{i} }}\n"))
            .collect();
        assert!(panel(&ten).is_err());
    }

    const FILE: &str = "\
defaults: { provider: echo, concurrency: 8 }
providers:
  openai: { type: openai, api_key_env: OPENAI_API_KEY }
gate: { tolerance: 0.02 }
profiles:
  ci:
    defaults: { concurrency: 2 }
    gate: { strict: true }
";

    #[test]
    fn precedence_file_profile_env_flags() {
        let s = resolve_str(FILE, &[], Overrides::default()).unwrap();
        assert_eq!((s.concurrency, s.gate_strict), (8, false));
        let ci = Overrides {
            profile: Some("ci".into()),
            ..Overrides::default()
        };
        let s = resolve_str(FILE, &[], ci.clone()).unwrap();
        assert_eq!((s.concurrency, s.gate_strict), (2, true));
        let s = resolve_str(FILE, &[("LLMOPS_CONCURRENCY", "5")], ci.clone()).unwrap();
        assert_eq!(s.concurrency, 5);
        let flags = Overrides {
            concurrency: Some(3),
            ..ci
        };
        let s = resolve_str(FILE, &[("LLMOPS_CONCURRENCY", "5")], flags).unwrap();
        assert_eq!(s.concurrency, 3);
        let s = resolve_str(FILE, &[("LLMOPS_PROFILE", "ci")], Overrides::default()).unwrap();
        assert_eq!(s.profile.as_deref(), Some("ci"));
    }

    #[test]
    fn origins_follow_precedence() {
        let origin = |s: &Settings, key: &str| s.origins.get(key).map(|o| o.to_string());
        let s = resolve_str(FILE, &[], Overrides::default()).unwrap();
        assert_eq!(
            origin(&s, "defaults.concurrency").as_deref(),
            Some("file:llmops.yaml")
        );
        assert_eq!(
            origin(&s, "providers.openai").as_deref(),
            Some("file:llmops.yaml")
        );
        assert_eq!(origin(&s, "gate.alpha"), None, "a default has no origin");
        let ci = Overrides {
            profile: Some("ci".into()),
            ..Overrides::default()
        };
        let env = [("LLMOPS_GATE_ALPHA", "0.1"), ("LLMOPS_MODEL", "")];
        let s = resolve_str(FILE, &env, ci.clone()).unwrap();
        assert_eq!(
            origin(&s, "defaults.concurrency").as_deref(),
            Some("profile:ci")
        );
        assert_eq!(origin(&s, "profile").as_deref(), Some("flag:--profile"));
        assert_eq!(
            origin(&s, "gate.alpha").as_deref(),
            Some("env:LLMOPS_GATE_ALPHA")
        );
        assert_eq!(
            origin(&s, "defaults.model"),
            None,
            "an empty variable sets nothing"
        );
        assert_eq!(
            origin(&s, "gate.tolerance").as_deref(),
            Some("file:llmops.yaml")
        );
        let flags = Overrides {
            concurrency: Some(3),
            ..ci
        };
        let s = resolve_str(FILE, &[], flags).unwrap();
        assert_eq!(
            origin(&s, "defaults.concurrency").as_deref(),
            Some("flag:-j/--concurrency")
        );
    }

    #[test]
    fn unknown_profile_and_provider() {
        let flags = Overrides {
            profile: Some("cj".into()),
            ..Overrides::default()
        };
        let e = resolve_str(FILE, &[], flags).unwrap_err();
        assert!(
            matches!(e, Error::Usage { ref help, .. } if help.as_deref() == Some("did you mean `ci`?"))
        );
        let e = resolve_str(
            "defaults: { provider: opnai }\nproviders: { openai: { type: openai } }\n",
            &[],
            Overrides::default(),
        )
        .unwrap_err();
        let Error::Invalid(d) = e else { panic!() };
        assert_eq!(d.line, Some(1));
        assert_eq!(d.help.as_deref(), Some("did you mean `openai`?"));
        let e = resolve_str(
            FILE,
            &[("LLMOPS_CONCURRENCY", "many")],
            Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("LLMOPS_CONCURRENCY"));
    }

    #[test]
    fn key_in_config_is_refused() {
        let e = resolve_str(
            "providers: { openai: { type: openai, api_key_env: sk-abcdef } }\n",
            &[],
            Overrides::default(),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("sk-abcdef"));
    }
}
