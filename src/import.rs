//! `llmops import promptfoo`: a promptfoo project (`promptfooconfig.yaml` and the files it
//! names) turned into `.prompty` prompts, one suite, a dataset and `llmops.yaml` providers.
//!
//! The conversion is pure: it reads the project and returns a [`Plan`] (files to write and a
//! report of everything it could not carry over). The command writes the plan, or prints it
//! with `--dry-run`. A test is never dropped: when part of it cannot be carried over, the case
//! stays and the report says what is missing, with file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::error::{Diagnostic, Error, Result};
use crate::template::json_type;

/// One thing the import could not carry over, or changed on the way.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Note {
    /// The promptfoo file, relative to the project directory.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What was not carried over and what to do.
    pub message: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What `llmops import promptfoo` will write.
#[derive(Debug, Default)]
pub struct Plan {
    /// Files to write, relative to the output directory, with their content.
    pub files: Vec<(String, FileKind, String)>,
    /// Everything not carried over.
    pub notes: Vec<Note>,
    /// Prompts created.
    pub prompts: usize,
    /// Cases created (one per promptfoo test, after `vars` lists are expanded).
    pub cases: usize,
    /// promptfoo tests read.
    pub tests: usize,
}

/// The kinds of file an import writes (each is written at one place in the command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// `llmops.yaml`.
    Config,
    /// A `.prompty` file.
    Prompt,
    /// A suite.
    Suite,
    /// A JSONL dataset.
    Dataset,
    /// The import report (Markdown).
    Report,
}

/// Where the import writes, relative to the output directory.
pub struct Layout {
    /// The prompts directory.
    pub prompts_dir: String,
    /// The evals directory.
    pub evals_dir: String,
    /// Whether `llmops.yaml` exists already (then it is left alone).
    pub have_config: bool,
}

/// A promptfoo test, normalised.
struct Test {
    file: String,
    line: Option<usize>,
    description: Option<String>,
    vars: Map<String, Value>,
    assert: Vec<(Value, Option<usize>)>,
    metadata: Option<Value>,
}

/// Chat messages: (role, content).
type Messages = Vec<(String, String)>;

/// A prompt, normalised: its messages, and where it came from.
struct PromptSrc {
    name: String,
    messages: Vec<(String, String)>,
    file: String,
    line: Option<usize>,
}

struct ProviderSrc {
    /// The llmops provider name (`openai`, `anthropic`, `echo`).
    provider: String,
    model: Option<String>,
    label: String,
    parameters: Map<String, Value>,
}

/// The largest file an import reads (a prompt, a dataset, a vars file).
const MAX_FILE_BYTES: u64 = 64 << 20;
/// The most cases one test's list-valued vars may expand into.
const MAX_EXPANDED_CASES: usize = 10_000;

/// Convert the promptfoo project whose config is `config`.
pub fn promptfoo(config: &Path, layout: &Layout) -> Result<Plan> {
    let dir = config.parent().unwrap_or(Path::new(".")).to_path_buf();
    let cfg_name = config
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(config).map_err(|e| Error::io(config.display().to_string(), e))?;
    let text = crate::yaml::decode_utf8(&cfg_name, &bytes)?;
    let root: Value = crate::yaml::parse(&cfg_name, &text)?;
    let Some(root) = root.as_object() else {
        return Err(Diagnostic::error(
            "import",
            &cfg_name,
            "a promptfoo config must be a map (prompts, providers, tests)",
        )
        .into());
    };
    let mut cx = Cx {
        dir,
        cfg: cfg_name.clone(),
        text: text.clone(),
        notes: Vec::new(),
        templates: root
            .get("assertionTemplates")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    };
    for (key, _) in root {
        if !KNOWN_TOP.contains(&key.as_str()) {
            let line = key_line(&text, key);
            cx.note(&cfg_name, line, format!("`{key}` is not carried over"));
        }
    }
    let stem = suite_name(root, config);
    let prompts = cx.prompts(root.get("prompts"), &stem)?;
    let providers = cx.providers(root.get("providers"));
    let default_test = root.get("defaultTest");
    let (default_vars, suite_assert) = cx.default_test(default_test);
    let grader = default_test
        .and_then(|d| d.get("options"))
        .and_then(|o| o.get("provider"))
        .and_then(|p| p.as_str().or_else(|| p.get("id").and_then(Value::as_str)))
        .map(str::to_string);
    let mut tests = cx.tests(root.get("tests"))?;
    if root.get("scenarios").is_some() {
        cx.note(
            &cfg_name,
            key_line(&text, "scenarios"),
            "`scenarios` are not carried over: write their cases into the suite",
        );
    }
    for t in &mut tests {
        for (k, v) in &default_vars {
            t.vars.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let mut cases = Vec::new();
    let test_count = tests.len();
    for t in tests {
        cx.expand(t, &mut cases)?;
    }
    let mut plan = Plan {
        tests: test_count,
        cases: cases.len(),
        prompts: prompts.len(),
        ..Plan::default()
    };

    // Inputs: every var any case sets, plus every variable a prompt uses.
    let mut inputs: IndexMap<String, (Value, bool)> = IndexMap::new();
    for c in &cases {
        for (k, v) in &c.vars {
            inputs.entry(k.clone()).or_insert((v.clone(), true));
        }
    }
    for (name, (_, everywhere)) in inputs.iter_mut() {
        *everywhere = cases.iter().all(|c| c.vars.contains_key(name));
    }
    let first = providers.first();
    for p in &prompts {
        let body = prompt_body(&p.messages);
        let used = used_variables(&p.name, &body, &layout.prompts_dir);
        let mut decl = Map::new();
        for (k, (sample, everywhere)) in &inputs {
            let mut input = Map::new();
            let ty = match sample {
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
                _ => "string",
            };
            let mixed = cases
                .iter()
                .filter_map(|c| c.vars.get(k))
                .any(|v| json_type(v) != json_type(sample));
            let ty = if mixed { "string" } else { ty };
            input.insert("type".into(), json!(ty));
            if !everywhere {
                input.insert("default".into(), default_for(ty));
            }
            decl.insert(k.clone(), Value::Object(input));
        }
        for var in &used {
            if !decl.contains_key(var) {
                decl.insert(var.clone(), json!({"type": "string", "default": ""}));
                cx.note(
                    &p.file,
                    p.line,
                    format!(
                        "prompt `{}` uses `{var}`, which no test sets: declared with default \"\"",
                        p.name
                    ),
                );
            }
        }
        let mut front = Map::new();
        front.insert("name".into(), json!(p.name));
        front.insert(
            "description".into(),
            json!(format!("Imported from promptfoo ({})", p.file)),
        );
        if let Some(first) = first {
            let mut model = Map::new();
            model.insert("provider".into(), json!(first.provider));
            if let Some(m) = &first.model {
                model.insert("name".into(), json!(m));
            }
            if !first.parameters.is_empty() {
                model.insert("parameters".into(), Value::Object(first.parameters.clone()));
            }
            front.insert("model".into(), Value::Object(model));
        }
        if !decl.is_empty() {
            front.insert("inputs".into(), Value::Object(decl));
        }
        let yaml = to_yaml(&Value::Object(front));
        let path = format!("{}/{}.prompty", layout.prompts_dir, p.name);
        let text = format!("---\n{yaml}---\n{body}");
        // Lint checks syntax, not filters and functions nunjucks has and minijinja lacks
        // (`load`, say): rendering the first case finds those before `llmops eval` does.
        if let Some(case) = cases.first() {
            if let Some(e) = render_error(&path, &text, &layout.prompts_dir, &case.vars) {
                cx.note(
                    &p.file,
                    p.line,
                    format!(
                        "prompt `{}` does not render in llmops ({e}); edit {path}",
                        p.name
                    ),
                );
            }
        }
        plan.files.push((path, FileKind::Prompt, text));
    }

    // The suite: every prompt on every provider.
    let mut suite = Map::new();
    let description = root
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("Imported from promptfoo ({cfg_name})"));
    suite.insert("description".into(), json!(description));
    let mut labels: Vec<String> = Vec::new();
    for p in &providers {
        let mut label = p.label.clone();
        let mut n = 2;
        while labels.contains(&label) {
            label = format!("{} #{n}", p.label);
            n += 1;
        }
        labels.push(label);
    }
    let labels = &labels;
    let variants: Vec<Value> = prompts
        .iter()
        .flat_map(|p| {
            let several = providers.len() > 1;
            let list: Vec<Option<&ProviderSrc>> = if providers.is_empty() {
                vec![None]
            } else {
                providers.iter().map(Some).collect()
            };
            list.into_iter().enumerate().map(move |(i, prov)| match prov {
                Some(prov) if several => {
                    let mut model = Map::new();
                    model.insert("provider".into(), json!(prov.provider));
                    if let Some(m) = &prov.model {
                        model.insert("name".into(), json!(m));
                    }
                    if !prov.parameters.is_empty() {
                        model.insert("parameters".into(), Value::Object(prov.parameters.clone()));
                    }
                    json!({"prompt": p.name, "name": format!("{} on {}", p.name, labels[i]), "model": model})
                }
                _ => json!(p.name),
            })
        })
        .collect();
    if variants.len() == 1 {
        suite.insert("prompt".into(), variants[0].clone());
    } else {
        suite.insert("prompts".into(), Value::Array(variants));
    }
    let dataset_rel = format!("data/{stem}.jsonl");
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let rows: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let base = c
                .description
                .as_deref()
                .map(slug)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| format!("test-{}", i + 1));
            let n = ids.entry(base.clone()).or_insert(0);
            *n += 1;
            let id = if *n == 1 { base } else { format!("{base}-{n}") };
            let mut row = Map::new();
            row.insert("id".into(), json!(id));
            if let Some(d) = &c.description {
                row.insert("description".into(), json!(d));
            }
            row.insert("vars".into(), Value::Object(c.vars.clone()));
            if !c.assert.is_empty() {
                row.insert("assert".into(), Value::Array(c.assert.clone()));
            }
            if let Some(m) = &c.metadata {
                row.insert("metadata".into(), m.clone());
            }
            Value::Object(row)
        })
        .collect();
    if !rows.is_empty() {
        suite.insert("dataset".into(), json!(dataset_rel));
        let mut jsonl = String::new();
        for r in &rows {
            jsonl.push_str(&serde_json::to_string(r).expect("serialisable"));
            jsonl.push('\n');
        }
        plan.files.push((
            format!("{}/{dataset_rel}", layout.evals_dir),
            FileKind::Dataset,
            jsonl,
        ));
    } else {
        cx.note(
            &cfg_name,
            key_line(&text, "tests"),
            "no test was carried over, so no suite is written: add cases to a suite for these prompts",
        );
    }
    if !suite_assert.is_empty() {
        suite.insert("assert".into(), Value::Array(suite_assert));
    }
    if !rows.is_empty() {
        plan.files.push((
        format!("{}/{stem}.yaml", layout.evals_dir),
        FileKind::Suite,
        format!(
            "# Imported from promptfoo: {cfg_name}. See import-report.md for what was not carried over.\n{}",
            to_yaml(&Value::Object(suite.clone()))
        ),
        ));
    }

    let graded = cases
        .iter()
        .flat_map(|c| c.assert.iter())
        .chain(
            suite
                .get("assert")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
        .flat_map(|a| {
            // An `assert-set`'s items count too.
            std::iter::once(a).chain(
                a.get("assert")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
        })
        .filter_map(|a| a.get("type").and_then(Value::as_str))
        .any(|t| GRADED.contains(&t.trim_start_matches("not-")));
    let judge = graded.then(|| {
        match grader.as_deref().and_then(map_provider) {
            Some((p, m)) if p != "echo" => (p.to_string(), m.to_string()),
            _ => {
                cx.note(
                    &cfg_name,
                    key_line(&text, "defaultTest"),
                    "model-graded assertions: the judge is set to `openai` `gpt-4.1-mini` (promptfoo grades with OpenAI unless told otherwise); change `judge:` in llmops.yaml",
                );
                ("openai".to_string(), "gpt-4.1-mini".to_string())
            }
        }
    });
    if !layout.have_config {
        plan.files.push((
            crate::config::CONFIG_FILE.to_string(),
            FileKind::Config,
            config_yaml(layout, &providers, first, judge.as_ref()),
        ));
    } else {
        let needed: Vec<&str> = providers
            .iter()
            .map(|p| p.provider.as_str())
            .filter(|p| *p != "echo")
            .collect();
        if !needed.is_empty() {
            cx.note(
                &cfg_name,
                key_line(&text, "providers"),
                format!(
                    "llmops.yaml exists and is left alone: it must configure provider(s) {}",
                    needed.join(", ")
                ),
            );
        }
    }
    plan.notes = cx.notes;
    plan.files.push((
        "import-report.md".to_string(),
        FileKind::Report,
        report_markdown(&cfg_name, &plan),
    ));
    Ok(plan)
}

/// The report as Markdown, for `import-report.md`.
fn report_markdown(cfg: &str, plan: &Plan) -> String {
    let mut out = format!(
        "# Import of {cfg}\n\n{} prompt(s), {} promptfoo test(s) -> {} case(s).\n\n",
        plan.prompts, plan.tests, plan.cases
    );
    if plan.notes.is_empty() {
        out.push_str("Everything was carried over.\n");
    } else {
        out.push_str("Not carried over, or changed:\n\n");
        for n in &plan.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out
}

const KNOWN_TOP: &[&str] = &[
    "description",
    "prompts",
    "providers",
    "tests",
    "defaultTest",
    "assertionTemplates",
    "scenarios",
    "outputPath",
    "sharing",
    "writeLatestResults",
];

struct Case {
    description: Option<String>,
    vars: Map<String, Value>,
    assert: Vec<Value>,
    metadata: Option<Value>,
}

struct Cx {
    dir: PathBuf,
    cfg: String,
    text: String,
    notes: Vec<Note>,
    templates: Map<String, Value>,
}

impl Cx {
    fn note(&mut self, file: &str, line: Option<usize>, message: impl Into<String>) {
        self.notes.push(Note {
            file: file.to_string(),
            line,
            message: message.into(),
        });
    }

    /// A file the config names, relative to the project: never outside it, never larger than
    /// [`MAX_FILE_BYTES`], and UTF-8 (an error names the byte's line).
    fn read(&self, rel: &str) -> Result<String> {
        let Some(inside) = crate::paths::join_within("", "", rel).filter(|p| !p.is_empty()) else {
            return Err(Error::usage_help(
                format!("{}: `file://{rel}` is outside the project", self.cfg),
                "copy the file into the project's directory and name it from there",
            ));
        };
        let path = self.dir.join(&inside);
        let shown = path.display().to_string();
        let len = std::fs::metadata(&path)
            .map_err(|e| Error::io(&shown, e))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(Error::usage_help(
                format!(
                    "{shown}: {len} bytes, over the {} MiB an import reads",
                    MAX_FILE_BYTES >> 20
                ),
                "split it, or import a smaller sample of it",
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&shown, e))?;
        Ok(crate::yaml::decode_utf8(&inside, &bytes)?)
    }

    /// `file://a/*.txt` -> the matching paths, relative to the project, sorted.
    fn glob(&self, pattern: &str) -> Vec<String> {
        if !pattern.contains('*') {
            return vec![pattern.to_string()];
        }
        let (dir_part, file_part) = pattern.rsplit_once('/').unwrap_or(("", pattern));
        let (pre, post) = file_part.split_once('*').unwrap_or((file_part, ""));
        let post = post.trim_start_matches('*');
        let mut out: Vec<String> = std::fs::read_dir(self.dir.join(dir_part))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| {
                n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len()
            })
            .map(|n| {
                if dir_part.is_empty() {
                    n
                } else {
                    format!("{dir_part}/{n}")
                }
            })
            .collect();
        out.sort();
        out
    }

    fn prompts(&mut self, value: Option<&Value>, stem: &str) -> Result<Vec<PromptSrc>> {
        let lines = item_lines(&self.text, "prompts");
        let entries: Vec<(Value, Option<String>)> = match value {
            None => {
                self.note(&self.cfg.clone(), None, "no `prompts`: nothing to import");
                return Ok(Vec::new());
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Object(m) => {
                        for k in m.keys() {
                            if !matches!(k.as_str(), "raw" | "id" | "label") {
                                let line = key_line(&self.text, "prompts");
                                let cfg = self.cfg.clone();
                                self.note(
                                    &cfg,
                                    line,
                                    format!("prompt field `{k}` is not carried over"),
                                );
                            }
                        }
                        (
                            m.get("raw")
                                .or_else(|| m.get("id"))
                                .cloned()
                                .unwrap_or(Value::Null),
                            m.get("label").and_then(Value::as_str).map(str::to_string),
                        )
                    }
                    other => (other.clone(), None),
                })
                .collect(),
            // The old map form: `path: label`, the path without `file://`.
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    let k = if self.dir.join(k).is_file() {
                        format!("file://{k}")
                    } else {
                        k.clone()
                    };
                    (json!(k), v.as_str().map(str::to_string))
                })
                .collect(),
            Some(other) => vec![(other.clone(), None)],
        };
        let mut out: Vec<PromptSrc> = Vec::new();
        let cfg = self.cfg.clone();
        for (i, (value, label)) in entries.into_iter().enumerate() {
            let line = lines
                .get(i)
                .copied()
                .or_else(|| key_line(&self.text, "prompts"));
            let Some(text) = value.as_str() else {
                self.note(
                    &cfg,
                    line,
                    "a prompt that is not text or `file://` is not carried over",
                );
                continue;
            };
            let found: Vec<(String, Messages, String)> = if let Some(pattern) =
                text.strip_prefix("file://")
            {
                let (pattern, func) = pattern.split_once(':').unwrap_or((pattern, ""));
                let mut found = Vec::new();
                let paths = self.glob(pattern);
                if paths.is_empty() {
                    self.note(&cfg, line, format!("`{text}` matches no file"));
                }
                for path in paths {
                    let ext = path.rsplit('.').next().unwrap_or_default();
                    let stem_of = Path::new(&path)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    match ext {
                            "txt" | "md" | "j2" | "jinja" | "jinja2" | "njk" => {
                                let body = self.read(&path)?;
                                let parts: Vec<&str> = body
                                    .split("\n---\n")
                                    .map(str::trim)
                                    .filter(|p| !p.is_empty())
                                    .collect();
                                let n = parts.len();
                                for (j, part) in parts.into_iter().enumerate() {
                                    let name = if n > 1 {
                                        format!("{stem_of}-{}", j + 1)
                                    } else {
                                        stem_of.clone()
                                    };
                                    found.push((name, chat_or_text(part), path.clone()));
                                }
                            }
                            "json" | "yaml" | "yml" => {
                                let body = self.read(&path)?;
                                let parsed: Option<Value> = if ext == "json" {
                                    serde_json::from_str(&body).ok()
                                } else {
                                    crate::yaml::parse(&path, &body).ok()
                                };
                                match parsed.as_ref().and_then(chat_messages) {
                                    Some(m) => found.push((stem_of, m, path.clone())),
                                    None => self.note(
                                        &path,
                                        None,
                                        "not a list of `{role, content}` messages: not carried over",
                                    ),
                                }
                            }
                            _ => self.note(
                                &cfg,
                                line,
                                format!(
                                    "prompt `{path}`{}: prompt functions (Python, JavaScript) are not carried over; render the prompt and save it as text",
                                    if func.is_empty() { String::new() } else { format!(":{func}") }
                                ),
                            ),
                        }
                }
                found
            } else {
                let name = label
                    .as_deref()
                    .map(slug)
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("{stem}-{}", i + 1));
                vec![(name, chat_or_text(text), cfg.clone())]
            };
            for (name, mut messages, file) in found {
                let name = label
                    .as_deref()
                    .map(slug)
                    .filter(|s| !s.is_empty() && !text.contains('*'))
                    .unwrap_or(name);
                let mut name = slug(&name);
                if name.is_empty() {
                    name = format!("{stem}-{}", out.len() + 1);
                }
                while out.iter().any(|p| p.name == name) {
                    name = format!("{name}-{}", out.len() + 1);
                }
                for (_, body) in messages.iter_mut() {
                    if body.contains("| dump") {
                        *body = body.replace("| dump", "| tojson");
                    }
                }
                // A line is one of the config; a prompt read from a file has none there.
                let line = if file == cfg { line } else { None };
                out.push(PromptSrc {
                    name,
                    messages,
                    file,
                    line,
                });
            }
        }
        Ok(out)
    }

    fn providers(&mut self, value: Option<&Value>) -> Vec<ProviderSrc> {
        let lines = item_lines(&self.text, "providers");
        let entries: Vec<(String, Option<String>, Option<Value>)> = match value {
            None => Vec::new(),
            Some(Value::String(s)) => vec![(s.clone(), None, None)],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => (s.clone(), None, None),
                    Value::Object(m) if m.contains_key("id") => (
                        m["id"].as_str().unwrap_or_default().to_string(),
                        m.get("label").and_then(Value::as_str).map(str::to_string),
                        m.get("config").cloned(),
                    ),
                    Value::Object(m) if m.len() == 1 => {
                        let (k, v) = m.iter().next().expect("one entry");
                        (
                            k.clone(),
                            v.get("label").and_then(Value::as_str).map(str::to_string),
                            v.get("config").cloned(),
                        )
                    }
                    _ => (String::new(), None, None),
                })
                .collect(),
            Some(_) => vec![(String::new(), None, None)],
        };
        let prompt_filters: Vec<bool> = match value {
            Some(Value::Array(items)) => items.iter().map(|v| v.get("prompts").is_some()).collect(),
            _ => Vec::new(),
        };
        let cfg = self.cfg.clone();
        let mut out = Vec::new();
        for (i, (id, label, config)) in entries.into_iter().enumerate() {
            let line = lines.get(i).copied();
            let (provider, model) = match map_provider(&id) {
                Some(p) => p,
                None => {
                    let what = if id.is_empty() {
                        "this provider"
                    } else {
                        id.as_str()
                    };
                    self.note(
                        &cfg,
                        line,
                        format!("provider `{what}` is not carried over: llmops speaks OpenAI-compatible and Anthropic APIs; an OpenAI-compatible server works with `type: openai` and its `base_url`"),
                    );
                    continue;
                }
            };
            let mut parameters = Map::new();
            if prompt_filters.get(i).copied().unwrap_or(false) {
                self.note(
                    &cfg,
                    line,
                    format!("provider `{id}`: `prompts` (which prompts it runs) is not carried over: every prompt runs on every provider"),
                );
            }
            if let Some(Value::Object(c)) = config {
                for (k, v) in c {
                    match k.as_str() {
                        "temperature" | "top_p" | "max_tokens" | "seed" | "stop"
                        | "presence_penalty" | "frequency_penalty" | "response_format" => {
                            parameters.insert(k, v);
                        }
                        _ => self.note(
                            &cfg,
                            line,
                            format!("provider `{id}`: `config.{k}` is not carried over"),
                        ),
                    }
                }
            }
            if provider == "echo" {
                self.note(
                    &cfg,
                    line,
                    "provider `echo`: llmops's `echo` answers with each message after its role (`user: ...`), promptfoo's with the bare prompt, so `equals` on echoed output differs",
                );
            }
            let model = (!model.is_empty()).then(|| model.to_string());
            let label = label.unwrap_or_else(|| model.clone().unwrap_or_else(|| id.clone()));
            out.push(ProviderSrc {
                provider: provider.to_string(),
                model,
                label,
                parameters,
            });
        }
        out
    }

    fn default_test(&mut self, value: Option<&Value>) -> (Map<String, Value>, Vec<Value>) {
        let Some(Value::Object(d)) = value else {
            return (Map::new(), Vec::new());
        };
        let cfg = self.cfg.clone();
        let line = key_line(&self.text, "defaultTest");
        let vars = d
            .get("vars")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let vars = self.load_vars(vars, &cfg, line);
        let mut out = Vec::new();
        for a in d
            .get("assert")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let aline = assert_line(&self.text, line, a);
            if let Some(a) = self.assertion(a, &cfg, aline) {
                out.push(a);
            }
        }
        for (k, v) in d {
            match k.as_str() {
                "vars" | "assert" | "description" => {}
                "options" => self.options(v, &cfg, line, "defaultTest"),
                other => self.note(
                    &cfg,
                    line,
                    format!("`defaultTest.{other}` is not carried over"),
                ),
            }
        }
        (vars, out)
    }

    fn options(&mut self, options: &Value, file: &str, line: Option<usize>, at: &str) {
        let Some(o) = options.as_object() else { return };
        for (k, _) in o {
            let msg = match k.as_str() {
                "provider" => format!("`{at}.options.provider` (the grader) is not carried over: set `judge:` in llmops.yaml"),
                "transform" => format!("`{at}.options.transform` is not carried over: its assertions now see the raw output, so their verdicts may differ"),
                other => format!("`{at}.options.{other}` is not carried over"),
            };
            self.note(file, line, msg);
        }
    }

    fn tests(&mut self, value: Option<&Value>) -> Result<Vec<Test>> {
        let cfg = self.cfg.clone();
        let lines = item_lines(&self.text, "tests");
        let items: Vec<Value> = match value {
            None => return Ok(Vec::new()),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => vec![other.clone()],
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let line = lines
                .get(i)
                .copied()
                .or_else(|| key_line(&self.text, "tests"));
            match item {
                Value::String(s) => {
                    let Some(pattern) = s.strip_prefix("file://") else {
                        self.note(
                            &cfg,
                            line,
                            format!("test `{s}` is not a file:// path: not carried over"),
                        );
                        continue;
                    };
                    let paths = self.glob(pattern);
                    if paths.is_empty() {
                        self.note(&cfg, line, format!("`{s}` matches no file"));
                    }
                    for path in paths {
                        self.test_file(&path, line, &mut out)?;
                    }
                }
                Value::Object(_) => {
                    if let Some(t) = self.test(item, &cfg, line) {
                        out.push(t);
                    }
                }
                _ => self.note(
                    &cfg,
                    line,
                    "a test that is not a map or a file:// path: not carried over",
                ),
            }
        }
        Ok(out)
    }

    fn test_file(&mut self, path: &str, line: Option<usize>, out: &mut Vec<Test>) -> Result<()> {
        let ext = path.rsplit('.').next().unwrap_or_default();
        let text = self.read(path)?;
        match ext {
            "csv" => {
                let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
                let headers: Vec<String> = r
                    .headers()
                    .map_err(|e| Diagnostic::error("import", path, e.to_string()))?
                    .iter()
                    .map(|h| h.trim_start_matches('\u{feff}').to_string())
                    .collect();
                for (n, rec) in r.records().enumerate() {
                    let rec = rec.map_err(|e| Diagnostic::error("import", path, e.to_string()))?;
                    let row_line = rec.position().map(|p| p.line() as usize).or(Some(n + 2));
                    let mut test = Map::new();
                    let mut vars = Map::new();
                    let mut asserts: Vec<(String, Value)> = Vec::new();
                    let mut configs: Vec<(String, String, String)> = Vec::new();
                    let mut metadata = Map::new();
                    for (h, cell) in headers.iter().zip(rec.iter()) {
                        if h.starts_with("__expected") {
                            if !cell.trim().is_empty() {
                                asserts.push((h.clone(), expected(cell)));
                            }
                        } else if let Some((col, key)) =
                            h.strip_prefix("__config:").and_then(|r| r.rsplit_once(':'))
                        {
                            configs.push((col.to_string(), key.to_string(), cell.to_string()));
                        } else if h == "__description" {
                            test.insert("description".into(), json!(cell));
                        } else if let Some(k) = h.strip_prefix("__metadata:") {
                            metadata.insert(k.trim_end_matches("[]").to_string(), json!(cell));
                        } else if h.starts_with("__") {
                            self.note(path, row_line, format!("column `{h}` is not carried over"));
                        } else {
                            vars.insert(h.clone(), json!(cell));
                        }
                    }
                    for (col, key, cell) in configs {
                        // `__config:__expected:threshold` applies to `__expected`, or to
                        // `__expected1` when there is no plain `__expected` column.
                        let col = if col == "__expected"
                            && !asserts.iter().any(|(h, _)| h == "__expected")
                        {
                            "__expected1".to_string()
                        } else {
                            col
                        };
                        let target = asserts.iter_mut().find(|(h, _)| *h == col);
                        let number = cell.trim().parse::<f64>().ok();
                        match (target, key.as_str(), number) {
                            (Some((_, a)), "threshold" | "weight", Some(n)) => {
                                a[key.as_str()] = json!(n);
                            }
                            (Some((_, a)), "metric", _) if !cell.trim().is_empty() => {
                                a["metric"] = json!(cell.trim());
                            }
                            _ if cell.trim().is_empty() => {}
                            _ => self.note(path, row_line, format!("column `__config:{col}:{key}` is not carried over")),
                        }
                    }
                    let asserts: Vec<Value> = asserts.into_iter().map(|(_, a)| a).collect();
                    test.insert("vars".into(), Value::Object(vars));
                    test.insert("assert".into(), Value::Array(asserts));
                    if !metadata.is_empty() {
                        test.insert("metadata".into(), Value::Object(metadata));
                    }
                    if let Some(t) = self.test(&Value::Object(test), path, row_line) {
                        out.push(t);
                    }
                }
            }
            "json" | "jsonl" | "yaml" | "yml" => {
                let items: Vec<(Value, Option<usize>)> = if ext == "jsonl" {
                    text.lines()
                        .enumerate()
                        .filter(|(_, l)| !l.trim().is_empty())
                        .map(|(n, l)| {
                            serde_json::from_str(l)
                                .map(|v| (v, Some(n + 1)))
                                .map_err(|e| {
                                    Diagnostic::error("import", path, e.to_string()).at(n + 1, None).into()
                                })
                        })
                        .collect::<Result<_>>()?
                } else {
                    let v: Value = if ext == "json" {
                        serde_json::from_str(&text)
                            .map_err(|e| Diagnostic::error("import", path, e.to_string()).at(e.line(), None))?
                    } else {
                        crate::yaml::parse(path, &text)?
                    };
                    let lines = if ext == "json" { Vec::new() } else { top_items(&text) };
                    match v {
                        Value::Array(a) => a
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| (v, lines.get(i).copied()))
                            .collect(),
                        other => vec![(other, None)],
                    }
                };
                for (v, l) in items {
                    if let Some(t) = self.test(&v, path, l) {
                        out.push(t);
                    }
                }
            }
            _ => self.note(
                &self.cfg.clone(),
                line,
                format!("tests from `{path}` (a script) are not carried over: export them as CSV, JSON or YAML"),
            ),
        }
        Ok(())
    }

    fn test(&mut self, v: &Value, file: &str, line: Option<usize>) -> Option<Test> {
        let Some(m) = v.as_object() else {
            self.note(file, line, "a test that is not a map is not carried over");
            return None;
        };
        let vars = match m.get("vars") {
            Some(Value::Object(vars)) => vars.clone(),
            None => Map::new(),
            Some(_) => {
                self.note(file, line, "`vars` that is not a map (a file://) is not carried over; the case has no vars");
                Map::new()
            }
        };
        let vars = self.load_vars(vars, file, line);
        let mut assert = Vec::new();
        for a in m
            .get("assert")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let aline = if file == self.cfg {
                assert_line(&self.text, line, a)
            } else {
                line
            };
            assert.push((a.clone(), aline));
        }
        for (k, val) in m {
            match k.as_str() {
                "vars" | "assert" | "description" | "metadata" => {}
                "options" => self.options(val, file, line, "test"),
                "threshold" => self.note(
                    file,
                    line,
                    "`threshold` on a test (pass on a weighted score) is not carried over: in llmops a case passes when every assertion passes",
                ),
                other => self.note(file, line, format!("test field `{other}` is not carried over")),
            }
        }
        Some(Test {
            file: file.to_string(),
            line,
            description: m
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            vars,
            assert,
            metadata: m.get("metadata").filter(|v| v.is_object()).cloned(),
        })
    }

    /// `file://` var values become the file's text.
    fn load_vars(
        &mut self,
        vars: Map<String, Value>,
        file: &str,
        line: Option<usize>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in vars {
            let v = match v.as_str().and_then(|s| s.strip_prefix("file://")) {
                Some(path) => {
                    let ext = path.rsplit('.').next().unwrap_or_default();
                    match ext {
                        "txt" | "md" | "json" | "yaml" | "yml" | "csv" | "html" | "xml" => {
                            match self.read(path) {
                                Ok(text) => json!(text),
                                Err(e) => {
                                    self.note(
                                        file,
                                        line,
                                        format!("var `{k}`: {e}; kept as the path"),
                                    );
                                    v
                                }
                            }
                        }
                        _ => {
                            self.note(file, line, format!("var `{k}` = `file://{path}` (a script or binary file) is not carried over; kept as the path"));
                            v
                        }
                    }
                }
                None => v,
            };
            out.insert(k, v);
        }
        out
    }

    /// A promptfoo test -> one case per combination of list-valued vars (promptfoo expands
    /// them the same way).
    fn expand(&mut self, t: Test, cases: &mut Vec<Case>) -> Result<()> {
        let mut assert = Vec::new();
        for (a, line) in &t.assert {
            if let Some(a) = self.assertion(a, &t.file, *line) {
                assert.push(a);
            }
        }
        let mut combos: Vec<Map<String, Value>> = vec![Map::new()];
        let lists: Vec<&String> = t
            .vars
            .iter()
            .filter(|(_, v)| v.is_array())
            .map(|(k, _)| k)
            .collect();
        if !lists.is_empty() {
            self.note(
                &t.file,
                t.line,
                format!(
                    "list-valued var(s) {} expanded into one case per combination, as promptfoo does",
                    lists.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ),
            );
        }
        let expanded = t.vars.values().try_fold(1usize, |n, v| match v {
            Value::Array(a) if !a.is_empty() => n.checked_mul(a.len()),
            _ => Some(n),
        });
        if expanded.is_none_or(|n| n > MAX_EXPANDED_CASES) {
            return Err(Diagnostic::error(
                "import",
                &t.file,
                format!(
                    "the list-valued vars of this test expand into more than {MAX_EXPANDED_CASES} cases"
                ),
            )
            .at_opt(t.line)
            .help("give the lists fewer values, or split the test")
            .into());
        }
        for (k, v) in &t.vars {
            let values: Vec<Value> = match v {
                Value::Array(a) if !a.is_empty() => a.clone(),
                other => vec![other.clone()],
            };
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.insert(k.clone(), v.clone());
                        c
                    })
                })
                .collect();
        }
        for vars in combos {
            cases.push(Case {
                description: t.description.clone(),
                vars,
                assert: assert.clone(),
                metadata: t.metadata.clone(),
            });
        }
        Ok(())
    }

    /// One promptfoo assertion -> one llmops assertion, or a note saying why not.
    fn assertion(&mut self, a: &Value, file: &str, line: Option<usize>) -> Option<Value> {
        let a = match a.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/assertionTemplates/");
                match self.templates.get(name) {
                    Some(t) => t.clone(),
                    None => {
                        self.note(file, line, format!("assertion `$ref: {r}` names no assertion template: not carried over"));
                        return None;
                    }
                }
            }
            None => a.clone(),
        };
        let Some(m) = a.as_object() else {
            self.note(
                file,
                line,
                "an assertion that is not a map is not carried over",
            );
            return None;
        };
        let ty = m.get("type").and_then(Value::as_str).unwrap_or_default();
        let (not, base) = match ty.strip_prefix("not-") {
            Some(b) => ("not-", b),
            None => ("", ty),
        };
        let mapped = match base {
            "is-json"
                if m.get("value")
                    .is_some_and(|v| !v.is_object() && !v.is_null()) =>
            {
                None
            }
            "contains-json"
                if m.get("value")
                    .is_some_and(|v| !v.is_object() && !v.is_null()) =>
            {
                None
            }
            b if crate::assert::KINDS.iter().any(|(n, _)| *n == b) => Some(b),
            _ => None,
        };
        let Some(kind) = mapped else {
            let hint = match base {
                "javascript" => {
                    ": rewrite it as `exec` (a program reading JSON on stdin) or `python`"
                }
                _ => "",
            };
            self.note(file, line, format!("assertion `{ty}` is not carried over{hint}; the case keeps its other assertions"));
            return None;
        };
        if let Some(t) = m.get("transform") {
            self.note(
                file,
                line,
                format!("assertion `{ty}`: `transform: {}` is not carried over, so the assertion is left out (it would judge a different output)", crate::text::one_line(&t.to_string(), 60)),
            );
            return None;
        }
        let mut out = Map::new();
        out.insert("type".into(), json!(format!("{not}{kind}")));
        for (k, v) in m {
            match k.as_str() {
                "type" => {}
                "assert" if kind == "assert-set" => {
                    let items: Vec<Value> = v
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|item| self.assertion(item, file, line))
                        .collect();
                    out.insert("assert".into(), Value::Array(items));
                }
                "threshold" | "weight" if matches!(kind, "select-best" | "max-score") => {
                    self.note(
                        file,
                        line,
                        format!("assertion `{ty}`: `{k}` is not carried over (promptfoo ignores it there{})", if kind == "max-score" && k == "threshold" { "; `value: {threshold: N}` sets it" } else { "" }),
                    );
                }
                "value" | "threshold" | "weight" | "metric" => {
                    out.insert(k.clone(), v.clone());
                }
                "alpha" | "beta" | "gamma" if kind == "meteor" => {
                    out.insert(k.clone(), v.clone());
                }
                other => self.note(
                    file,
                    line,
                    format!("assertion `{ty}`: `{other}` is not carried over"),
                ),
            }
        }
        Some(Value::Object(out))
    }
}

/// A promptfoo provider id -> (llmops provider, model), for the kinds llmops speaks.
fn map_provider(id: &str) -> Option<(&'static str, &str)> {
    match id.split_once(':') {
        Some(("openai", rest)) => Some((
            "openai",
            rest.strip_prefix("chat:")
                .or_else(|| rest.strip_prefix("responses:"))
                .unwrap_or(rest),
        )),
        Some(("anthropic", rest)) => {
            Some(("anthropic", rest.strip_prefix("messages:").unwrap_or(rest)))
        }
        None if id == "echo" => Some(("echo", "")),
        _ => None,
    }
}

/// Assertion kinds that need the judge.
const GRADED: &[&str] = &[
    "llm-rubric",
    "factuality",
    "g-eval",
    "model-graded-closedqa",
    "answer-relevance",
    "classifier",
    "pairwise",
    "select-best",
];

/// A `__expected` cell -> an assertion, as promptfoo reads it.
fn expected(cell: &str) -> Value {
    let cell = cell.trim();
    if let Some((head, rest)) = cell.split_once(':') {
        let head = head.trim();
        let rest = rest.trim();
        let base = head.strip_prefix("not-").unwrap_or(head);
        match base {
            "grader" | "llm-rubric" => {
                return json!({"type": head.replace("grader", "llm-rubric"), "value": rest})
            }
            "fn" | "eval" | "javascript" => return json!({"type": "javascript", "value": rest}),
            "python" => return json!({"type": "python", "value": rest}),
            "is-json" | "is-refusal" => return json!({"type": head}),
            b if b.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && !b.is_empty()
                && PF_TYPES.contains(&b) =>
            {
                if matches!(b, "cost" | "latency") {
                    if let Ok(n) = rest.parse::<f64>() {
                        return json!({"type": head, "threshold": n});
                    }
                }
                let value = if matches!(
                    b,
                    "contains-any" | "contains-all" | "icontains-any" | "icontains-all"
                ) {
                    json!(rest.split(',').map(str::trim).collect::<Vec<_>>())
                } else {
                    json!(rest)
                };
                return json!({"type": head, "value": value});
            }
            _ => {}
        }
    }
    json!({"type": "equals", "value": cell})
}

/// promptfoo assertion types a `__expected` cell may start with.
const PF_TYPES: &[&str] = &[
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "starts-with",
    "regex",
    "is-json",
    "contains-json",
    "similar",
    "levenshtein",
    "factuality",
    "answer-relevance",
    "model-graded-closedqa",
    "classifier",
    "cost",
    "latency",
    "is-refusal",
    "g-eval",
    "perplexity",
    "rouge-n",
    "bleu",
    "webhook",
    "is-sql",
    "is-xml",
    "contains-xml",
    "contains-sql",
    "finish-reason",
];

fn chat_messages(v: &Value) -> Option<Vec<(String, String)>> {
    let items = v.get("messages").unwrap_or(v).as_array()?;
    let mut out = Vec::new();
    for m in items {
        let role = m.get("role")?.as_str()?;
        // Content is text, or a list of parts of which the text parts are kept.
        let content = match m.get("content")? {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => return None,
        };
        out.push((role.to_string(), content));
    }
    (!out.is_empty()).then_some(out)
}

/// A prompt's text: a JSON chat array, or one user message.
fn chat_or_text(text: &str) -> Vec<(String, String)> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        if let Some(m) = serde_json::from_str::<Value>(trimmed)
            .ok()
            .as_ref()
            .and_then(chat_messages)
        {
            return m;
        }
    }
    vec![("user".to_string(), text.trim_end().to_string())]
}

fn prompt_body(messages: &[(String, String)]) -> String {
    let mut out = String::new();
    for (role, content) in messages {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{role}:\n{}\n", content.trim_end()));
    }
    out
}

/// The variables a body uses, by parsing it as a prompt with no inputs.
fn used_variables(name: &str, body: &str, prompts_dir: &str) -> Vec<String> {
    let text = format!("---\nname: {name}\n---\n{body}");
    match crate::template::Prompt::parse(&format!("{prompts_dir}/{name}.prompty"), &text) {
        Ok(p) => p.used_variables(prompts_dir).into_keys().collect(),
        Err(_) => Vec::new(),
    }
}

/// Why the prompt `text` does not render with `vars`, if it does not.
fn render_error(
    path: &str,
    text: &str,
    prompts_dir: &str,
    vars: &Map<String, Value>,
) -> Option<String> {
    let prompt = match crate::template::Prompt::parse(path, text) {
        Ok(p) => p,
        Err(d) => return Some(d.message),
    };
    let vars = crate::template::resolve_vars(&prompt, vars).ok()?;
    let e = prompt.render(prompts_dir, &vars).err()?;
    let msg = e.to_string();
    // The diagnostic repeats the path; keep what comes after `error: `.
    Some(
        msg.split_once("error: ")
            .map_or(msg.as_str(), |(_, m)| m)
            .trim()
            .to_string(),
    )
}

fn default_for(ty: &str) -> Value {
    match ty {
        "boolean" => json!(false),
        "integer" | "number" => json!(0),
        "array" => json!([]),
        "object" => json!({}),
        _ => json!(""),
    }
}

fn config_yaml(
    layout: &Layout,
    providers: &[ProviderSrc],
    first: Option<&ProviderSrc>,
    judge: Option<&(String, String)>,
) -> String {
    let mut out = format!(
        "# Written by `llmops import promptfoo`. Reference: `llmops help configuration`.\nprompts_dir: {}\nevals_dir: {}\n",
        layout.prompts_dir, layout.evals_dir
    );
    match first {
        Some(p) => {
            out.push_str(&format!("defaults:\n  provider: {}\n", p.provider));
            let model = p.model.as_deref().unwrap_or("echo");
            out.push_str(&format!("  model: {}\n", to_yaml(&json!(model)).trim_end()));
        }
        None => out.push_str(
            "defaults:\n  provider: echo   # promptfoo named no provider llmops can call\n  model: echo\n",
        ),
    }
    if let Some((provider, model)) = judge {
        out.push_str(&format!(
            "judge:\n  provider: {provider}\n  model: {}\n",
            to_yaml(&json!(model)).trim_end()
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    let names = providers
        .iter()
        .map(|p| p.provider.clone())
        .chain(judge.map(|(p, _)| p.clone()));
    for name in names {
        if name == "echo" || seen.contains(&name) {
            continue;
        }
        if seen.is_empty() {
            out.push_str("providers:\n");
        }
        seen.push(name.clone());
        let (kind, env, url) = match name.as_str() {
            "anthropic" => (
                "anthropic",
                "ANTHROPIC_API_KEY",
                "https://api.anthropic.com",
            ),
            _ => ("openai", "OPENAI_API_KEY", "https://api.openai.com/v1"),
        };
        out.push_str(&format!(
            "  {name}:\n    type: {kind}\n    base_url: {url}\n    api_key_env: {env}\n"
        ));
    }
    out
}

fn to_yaml(v: &Value) -> String {
    let mut s = serde_saphyr::to_string(v).unwrap_or_else(|_| v.to_string());
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// A file-name-safe, lower-case name: `Check for exact match` -> `check-for-exact-match`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 48 {
            break;
        }
    }
    out.trim_end_matches('-').to_string()
}

fn suite_name(root: &Map<String, Value>, config: &Path) -> String {
    let _ = root;
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let from_dir = config
        .canonicalize()
        .ok()
        .and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|d| d.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let name = if stem == "promptfooconfig" {
        from_dir
    } else {
        stem.trim_start_matches("promptfooconfig.").to_string()
    };
    let s = slug(&name);
    if s.is_empty() {
        "imported".into()
    } else {
        s
    }
}

/// The 1-based line of a top-level `key:`.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// The 1-based lines of the list items under a top-level `key:` (block style only).
fn item_lines(text: &str, key: &str) -> Vec<usize> {
    let Some(start) = key_line(text, key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut indent: Option<usize> = None;
    for (i, l) in text.lines().enumerate().skip(start) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let lead = l.len() - l.trim_start().len();
        if lead == 0 && !l.starts_with('-') {
            break;
        }
        if l.trim_start().starts_with("- ") || l.trim() == "-" {
            match indent {
                None => {
                    indent = Some(lead);
                    out.push(i + 1);
                }
                Some(n) if n == lead => out.push(i + 1),
                _ => {}
            }
        }
    }
    out
}

/// The 1-based lines of the items of a top-level YAML list.
fn top_items(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("- ") || *l == "-")
        .map(|(i, _)| i + 1)
        .collect()
}

/// The line of an assertion inside the block that starts at `from`: the first `type: T` after it.
fn assert_line(text: &str, from: Option<usize>, a: &Value) -> Option<usize> {
    let from = from?;
    let needle = a
        .get("type")
        .and_then(Value::as_str)
        .map(|t| format!("type: {t}"))
        .or_else(|| a.get("$ref").map(|_| "$ref".to_string()))?;
    text.lines()
        .enumerate()
        .skip(from - 1)
        .find(|(_, l)| l.contains(&needle))
        .map(|(i, _)| i + 1)
        .or(Some(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_cells() {
        assert_eq!(
            expected("Paris"),
            json!({"type": "equals", "value": "Paris"})
        );
        assert_eq!(
            expected("contains: refund"),
            json!({"type": "contains", "value": "refund"})
        );
        assert_eq!(
            expected("grader: is polite"),
            json!({"type": "llm-rubric", "value": "is polite"})
        );
        assert_eq!(
            expected("time: 10:30"),
            json!({"type": "equals", "value": "time: 10:30"})
        );
    }

    #[test]
    fn lines_of_items() {
        let text = "prompts:\n  - a\n  - b\ntests:\n  - vars: {x: 1}\n    assert:\n      - type: equals\n  - vars: {x: 2}\n";
        assert_eq!(item_lines(text, "prompts"), vec![2, 3]);
        assert_eq!(item_lines(text, "tests"), vec![5, 8]);
        assert_eq!(
            assert_line(text, Some(5), &json!({"type": "equals"})),
            Some(7)
        );
    }
}
