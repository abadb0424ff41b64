//! Every static check on a registry: schemas, templates, variables, datasets, references.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use serde::Serialize;

use crate::error::{Diagnostic, Error, Result, Severity};
use crate::registry::Registry;
use crate::suite::Suite;
use crate::template::{check_vars, Prompt, VarsError};

/// At most this many row problems are listed per suite; the rest are counted.
const MAX_ROW_DIAGNOSTICS: usize = 25;

/// What lint found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Problems, sorted by file and line.
    pub diagnostics: Vec<Diagnostic>,
    /// Prompt files checked.
    pub prompts: usize,
    /// Suite files checked.
    pub suites: usize,
    /// Cases checked.
    pub cases: usize,
}

impl Report {
    /// How many problems of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

fn push_error(out: &mut Vec<Diagnostic>, e: Error) {
    match e {
        Error::Invalid(d) => out.push(*d),
        Error::Many(ds) => out.extend(ds),
        other => out.push(Diagnostic::error("error", "", other.to_string())),
    }
}

/// Check everything in the registry snapshot.
pub fn lint(reg: &Registry) -> Result<Report> {
    let mut report = Report::default();
    let mut out = Vec::new();
    let dir = reg.settings.prompts_dir.clone();
    let mut prompts: BTreeMap<String, Prompt> = BTreeMap::new();
    // Prompts whose file exists but does not parse: already reported, so suites naming them
    // are not told the prompt is unknown.
    let mut broken = std::collections::BTreeSet::new();
    let files = match reg.prompt_files() {
        Ok(f) => f,
        Err(e) => {
            push_error(&mut out, e);
            BTreeMap::new()
        }
    };
    let loaded: Vec<_> = {
        use rayon::prelude::*;
        files
            .into_par_iter()
            .map(|(name, path)| {
                let p = load_prompt(reg, &path);
                (name, p)
            })
            .collect()
    };
    for (name, (p, problems)) in loaded {
        report.prompts += 1;
        out.extend(problems);
        match p {
            Some(p) => {
                check_prompt(reg, &p, &dir, &mut out);
                prompts.insert(name, p);
            }
            None => {
                broken.insert(name);
            }
        }
    }
    // Files committed to git are forever once pushed: personal data and secrets in them are
    // worth a word before they are.
    let allow = crate::redact::Allow::new(&reg.settings.redaction_allow);
    let mut scanned = std::collections::BTreeSet::new();
    for p in prompts.values() {
        if scanned.insert(p.path.clone()) {
            hygiene(reg, &p.path, &allow, &mut out);
        }
    }
    for path in reg.suite_files()? {
        report.suites += 1;
        if scanned.insert(path.clone()) {
            hygiene(reg, &path, &allow, &mut out);
        }
        match reg.load_suite(&path) {
            Ok(s) => {
                if let Some((data, _)) = &s.dataset {
                    if scanned.insert(data.clone()) {
                        hygiene(reg, data, &allow, &mut out);
                    }
                }
                report.cases += check_suite(reg, &s, &prompts, &broken, &mut out)
            }
            Err(e) => push_error(&mut out, e),
        }
    }
    for p in reg.settings.providers.values() {
        if p.kind != crate::config::ProviderKind::Replay {
            continue;
        }
        let Some(dir) = p.path.as_deref() else {
            continue;
        };
        let dir = dir.trim_end_matches('/');
        for e in reg.source.list(dir).unwrap_or_default() {
            let rel = format!("{dir}/{}", e.name);
            if !e.is_dir && e.name.ends_with(".jsonl") && scanned.insert(rel.clone()) {
                hygiene(reg, &rel, &allow, &mut out);
            }
        }
    }
    for p in prompts.values() {
        check_price(reg, p, &mut out);
    }
    out.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    out.dedup();
    report.diagnostics = out;
    Ok(report)
}

/// At most this many PII or secret findings are listed per file; the rest are counted.
const MAX_HYGIENE_DIAGNOSTICS: usize = 5;

/// Warn about personal data and secret-shaped strings in a committed file, naming the line
/// and what it looks like, never the value itself.
fn hygiene(reg: &Registry, rel: &str, allow: &crate::redact::Allow, out: &mut Vec<Diagnostic>) {
    // Streamed line by line: a 200 MB dataset is scanned in constant memory.
    let Ok(Some(mut reader)) = reg.source.open(rel) else {
        return;
    };
    let mut shown = 0usize;
    let mut more = 0usize;
    let mut buf = Vec::new();
    let mut i = 0usize;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        for f in crate::redact::findings(line, allow) {
            if shown == MAX_HYGIENE_DIAGNOSTICS {
                more += 1;
                continue;
            }
            shown += 1;
            let code = if f.mask == "secret" { "secret" } else { "pii" };
            out.push(
                Diagnostic::warning(
                    code,
                    rel,
                    format!("{} is committed here (git keeps it forever once pushed)", f.what),
                )
                .at(i + 1, Some(line[..f.start].chars().count() + 1))
                .help(if f.mask == "secret" {
                    "remove it and rotate the key; for a deliberate fake, add a pattern to `redaction.allow` in llmops.yaml"
                } else {
                    "use a fake value (e.g. ada@example.com), set `redaction.inputs: true` to mask it before requests leave, or add a pattern to `redaction.allow`"
                }),
            );
        }
        i += 1;
    }
    if more > 0 {
        out.push(Diagnostic::warning(
            "pii",
            rel,
            format!("… and {more} more PII- or secret-shaped string(s) in this file"),
        ));
    }
}

/// Warn when a prompt's model is priced nowhere: its cost would read as unknown.
fn check_price(reg: &Registry, p: &Prompt, out: &mut Vec<Diagnostic>) {
    let (Some(provider), Some(model)) = (
        reg.settings.provider_for(&p.model),
        reg.settings.model_for(&p.model),
    ) else {
        return;
    };
    // Only a configured network provider bills; `ProviderKind::is_offline` decides which.
    match reg.settings.providers.get(&provider) {
        Some(c) if !c.kind.is_offline() => {}
        _ => return,
    }
    if crate::provider::pricing::price(&model, &reg.settings.pricing).is_none() {
        out.push(
            Diagnostic::warning(
                "unknown-price",
                &p.path,
                format!("model `{model}` has no known price: reports will show its cost as unknown, and `--budget` cannot count it"),
            )
            .at_opt(p.model_line)
            .help(format!("add `pricing: {{ {model}: {{ input: USD, output: USD }} }}` (per million tokens) to llmops.yaml")),
        );
    }
}

/// Read a prompt file as far as it can be read, with every problem found on the way: a name
/// mismatch or a missing include does not hide the template's own errors.
fn load_prompt(reg: &Registry, path: &str) -> (Option<Prompt>, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    let text = match reg.source.read(path) {
        Ok(Some(bytes)) => match crate::yaml::decode_utf8(path, &bytes) {
            Ok(t) => t,
            Err(d) => {
                problems.push(d);
                return (None, problems);
            }
        },
        Ok(None) => {
            problems.push(Diagnostic::error("error", path, "not found"));
            return (None, problems);
        }
        Err(e) => {
            push_error(&mut problems, e);
            return (None, problems);
        }
    };
    let mut prompt = match Prompt::parse_all(path, &text) {
        Ok((p, found)) => {
            problems.extend(found);
            p
        }
        Err(d) => {
            problems.push(d);
            return (None, problems);
        }
    };
    let read = |rel: &str| reg.source.read(rel);
    if let Err(e) = prompt.load_partials(&reg.settings.prompts_dir, &read) {
        // The partials read so far stay loaded; the messages can still be checked.
        push_error(&mut problems, e);
    }
    (Some(prompt), problems)
}

fn check_prompt(reg: &Registry, p: &Prompt, dir: &str, out: &mut Vec<Diagnostic>) {
    let syntax = p.check_syntax(dir);
    let broken = !syntax.is_empty();
    out.extend(syntax);
    if let Some(provider) = &p.model.provider {
        if !reg.settings.has_provider(provider) {
            let names = reg.settings.provider_names();
            out.push(
                Diagnostic::error(
                    "unknown-provider",
                    &p.path,
                    format!("model.provider: unknown provider `{provider}`"),
                )
                .at_opt(p.model_line)
                .help(
                    crate::text::did_you_mean(provider, names.iter().copied()).unwrap_or_else(
                        || format!("providers in llmops.yaml: {}", names.join(", ")),
                    ),
                ),
            );
        }
    }
    // Messages that compile are still checked for undeclared variables when another does not.
    let used = p.used_variables(dir);
    for (var, (file, line)) in &used {
        if !p.inputs.contains_key(var) {
            out.push(
                Diagnostic::error(
                    "undeclared-variable",
                    file,
                    format!("variable `{var}` is used but not declared under `inputs:`"),
                )
                .at(*line, None)
                .help(
                    crate::text::did_you_mean(var, p.inputs.keys().map(String::as_str))
                        .unwrap_or_else(|| {
                            format!(
                                "add `{var}: {{ type: string }}` under `inputs:` in {}",
                                p.path
                            )
                        }),
                ),
            );
        }
    }
    for name in p.inputs.keys() {
        // A message that does not compile may be the one that uses it.
        if !broken && !used.contains_key(name) {
            out.push(
                Diagnostic::warning(
                    "unused-input",
                    &p.path,
                    format!("input `{name}` is declared but the template never uses it"),
                )
                .at_opt(p.input_lines.get(name).copied())
                .help("remove it from `inputs:` or use it in a message"),
            );
        }
    }
    if let Some(sample) = &p.sample {
        if let Err(e) = check_vars(&p.inputs, sample) {
            out.push(
                Diagnostic::error("sample", &p.path, format!("sample: {e}")).at_opt(p.sample_line),
            );
        }
    }
}

fn check_suite(
    reg: &Registry,
    s: &Suite,
    prompts: &BTreeMap<String, Prompt>,
    broken: &std::collections::BTreeSet<String>,
    out: &mut Vec<Diagnostic>,
) -> usize {
    let mut variants = Vec::new();
    for v in &s.variants {
        match prompts.get(&v.prompt) {
            Some(p) => variants.push(p),
            None if broken.contains(&v.prompt) => {}
            None => {
                let help = crate::text::did_you_mean(&v.prompt, prompts.keys().map(String::as_str))
                    .unwrap_or_else(|| "`llmops list` shows the prompts".to_string());
                out.push(
                    Diagnostic::error(
                        "unknown-prompt",
                        &s.path,
                        format!("unknown prompt `{}`", v.prompt),
                    )
                    .at(v.line, None)
                    .help(help),
                );
            }
        }
        if let Some(provider) = v.model.as_ref().and_then(|m| m.provider.as_deref()) {
            if !reg.settings.has_provider(provider) {
                out.push(
                    Diagnostic::error(
                        "unknown-provider",
                        &s.path,
                        format!("unknown provider `{provider}`"),
                    )
                    .at(v.line, None),
                );
            }
        }
    }
    // Set once the cases' assertions are read (and the suite's, below).
    let mut judged = false;
    check_tool_assertions(reg, s, prompts, out);
    let cases = match s.cases(&reg.source) {
        Ok(c) => c,
        Err(e) => {
            push_error(out, e);
            return 0;
        }
    };
    let mut ids: HashMap<String, (String, usize)> = HashMap::new();
    let mut count = 0;
    let mut row_problems = 0usize;
    let mut unknown_seen = std::collections::HashSet::new();
    let mut repeated_unknown = 0usize;
    let mut note = |out: &mut Vec<Diagnostic>, d: Diagnostic| {
        row_problems += 1;
        if row_problems <= MAX_ROW_DIAGNOSTICS {
            out.push(d);
        }
    };
    for case in cases {
        let case = match case {
            Ok(c) => c,
            Err(d) => {
                note(out, d);
                continue;
            }
        };
        count += 1;
        if let Some((file, line)) = ids.get(&case.id) {
            note(
                out,
                Diagnostic::error(
                    "duplicate-case-id",
                    &case.file,
                    format!("duplicate case id `{}` (first at {file}:{line})", case.id),
                )
                .at(case.line, None)
                .help("case ids pair results across versions; each must be unique in its suite"),
            );
        } else {
            ids.insert(case.id.clone(), (case.file.clone(), case.line));
        }
        // Suite-level assertions are checked once, below; only the case's own here.
        for (i, a) in case.assert.iter().enumerate() {
            judged |= crate::assert::cross::any(std::slice::from_ref(a), &needs_judge);
            if i < s.assertions.len() {
                continue;
            }
            if let Some(provider) = &a.provider {
                if !reg.settings.has_provider(provider) {
                    note(
                        out,
                        Diagnostic::error(
                            "unknown-provider",
                            &case.file,
                            format!(
                                "assertion `{}`: unknown provider `{provider}`",
                                a.display_kind()
                            ),
                        )
                        .at(case.line, None),
                    );
                }
            }
        }
        for p in &variants {
            if let Err(e) = check_vars(&p.inputs, &case.vars) {
                // A misspelt dataset column is wrong in every row: say it once.
                if let VarsError::Unknown { name, .. } = &e {
                    let key = format!("{}\u{0}{name}", p.name);
                    if !unknown_seen.insert(key) {
                        repeated_unknown += 1;
                        continue;
                    }
                }
                let help = match &e {
                    VarsError::Missing(_) => Some(format!(
                        "`{}` requires it; add it to the case's vars",
                        p.name
                    )),
                    VarsError::Unknown { suggestion, .. } => suggestion.clone(),
                    VarsError::Type { .. } => None,
                };
                note(
                    out,
                    Diagnostic::error(
                        "case-vars",
                        &case.file,
                        format!("case `{}` for prompt `{}`: {e}", case.id, p.name),
                    )
                    .at(case.line, None)
                    .help_opt(help),
                );
            }
        }
    }
    if repeated_unknown > 0 {
        out.push(Diagnostic::error(
            "case-vars",
            &s.path,
            format!("… the same unknown variable(s) appear in {repeated_unknown} more case(s)"),
        ));
    }
    for a in &s.assertions {
        if let Some(provider) = &a.provider {
            if !reg.settings.has_provider(provider) {
                out.push(Diagnostic::error(
                    "unknown-provider",
                    &s.path,
                    format!(
                        "assertion `{}`: unknown provider `{provider}`",
                        a.display_kind()
                    ),
                ));
            }
        }
    }
    if row_problems > MAX_ROW_DIAGNOSTICS {
        out.push(Diagnostic::error(
            "more",
            &s.path,
            format!(
                "… and {} more problem(s) in this suite's cases",
                row_problems - MAX_ROW_DIAGNOSTICS
            ),
        ));
    }
    if count == 0 && row_problems == 0 {
        out.push(Diagnostic::error(
            "no-cases",
            &s.path,
            "the suite has no cases (the dataset is empty)",
        ));
    }
    judged |= crate::assert::cross::any(&s.assertions, &needs_judge);
    if judged && reg.settings.judge_provider.is_none() {
        out.push(
            Diagnostic::error(
                "no-judge",
                &s.path,
                "model-graded assertions need a judge, and llmops.yaml sets none",
            )
            .help("add `judge: { provider: NAME, model: MODEL }` to llmops.yaml"),
        );
    }
    count
}

/// Tool-call assertions need tools declared by every prompt they check, and a `python` file
/// must exist: both are reported here rather than as an ERROR on every sample.
fn check_tool_assertions(
    reg: &Registry,
    s: &Suite,
    prompts: &BTreeMap<String, Prompt>,
    out: &mut Vec<Diagnostic>,
) {
    use crate::assert::{Check, Kind};
    let needs_tools = s.assertions.iter().find(|a| {
        matches!(
            a.kind,
            Kind::IsValidOpenaiToolsCall | Kind::IsValidFunctionCall
        )
    });
    if let Some(a) = needs_tools {
        for v in &s.variants {
            let Some(p) = prompts.get(&v.prompt) else {
                continue;
            };
            let tools = v
                .model
                .as_ref()
                .and_then(|m| m.parameters.tools.as_ref())
                .or(p.model.parameters.tools.as_ref());
            let problem = match tools {
                None => Some(format!(
                    "assertion `{}`: prompt `{}` declares no tools",
                    a.display_kind(),
                    p.name
                )),
                Some(t) => crate::assert::tools::declared(t)
                    .err()
                    .map(|e| format!("assertion `{}`: {e}", a.display_kind())),
            };
            if let Some(message) = problem {
                out.push(
                    Diagnostic::error("tools", &s.path, message)
                        .at(v.line, None)
                        .help("declare them under `model.parameters.tools` in the prompt (see docs/assertions.md, Tool calls)"),
                );
            }
        }
    }
    for a in &s.assertions {
        if let Check::Python(py) = &a.check {
            if let crate::assert::python::Source::File { path, .. } = &py.source {
                if matches!(reg.source.read(path), Ok(None)) {
                    out.push(
                        Diagnostic::error(
                            "python-file",
                            &s.path,
                            format!("assertion `python`: `{path}` does not exist"),
                        )
                        .help("paths are relative to the repository root"),
                    );
                }
            }
        }
    }
}

/// `lint --locked`: an error for every prompt whose current content has no version in
/// `.llmops/versions.lock` (changed without `llmops release`). Prompts that do not parse are
/// left to the other checks.
pub fn locked(reg: &Registry) -> Result<Vec<Diagnostic>> {
    let lock = crate::registry::read_lock(reg)?;
    let mut out = Vec::new();
    let files = match reg.prompt_files() {
        Ok(f) => f,
        Err(_) => return Ok(out),
    };
    for (name, path) in files {
        let Ok(p) = reg.load_prompt_file(&path) else {
            continue;
        };
        let hash = p.content_hash();
        let versions = lock.prompt(&name);
        if versions.and_then(|v| v.by_hash(&hash)).is_some() {
            continue;
        }
        let message = match versions.and_then(|v| v.latest()) {
            Some(last) => format!(
                "prompt `{name}` changed since its last version v{} and has no version for content {}",
                last.version,
                &hash[..12]
            ),
            None => format!("prompt `{name}` has no released version"),
        };
        out.push(
            Diagnostic::error("unreleased", &path, message)
                .at(1, None)
                .help(format!(
                    "run `llmops release {name} -m \"what changed\"` and commit {}",
                    crate::registry::LOCK_FILE
                )),
        );
    }
    Ok(out)
}

/// `select-best` and an `assert-set`'s model-graded items need the judge too.
fn needs_judge(a: &crate::assert::Assertion) -> bool {
    a.kind.is_model_graded() || a.kind == crate::assert::Kind::SelectBest
}
