//! Comparing two prompts: template text per message, model and parameters by key, inputs
//! classified as breaking or compatible, the output schema by JSON path. Pure data; the
//! commands format it.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{InputSpec, Prompt};

/// How a prompt differs between two references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Only on the B side.
    Added,
    /// Only on the A side.
    Removed,
    /// On both sides, different.
    Changed,
    /// On both sides, the same content and metadata.
    Unchanged,
}

/// One message's template change.
#[derive(Debug, Clone, Serialize)]
pub struct MessageDiff {
    /// 1-based position in the prompt.
    pub index: usize,
    /// Role on the A side (None: the message is new).
    pub role_a: Option<&'static str>,
    /// Role on the B side (None: the message was removed).
    pub role_b: Option<&'static str>,
    /// A unified diff of the template source.
    pub unified: String,
}

/// One partial's change.
#[derive(Debug, Clone, Serialize)]
pub struct PartialDiff {
    /// Registry-relative path.
    pub path: String,
    /// A unified diff of its source (everything added or removed when only one side has it).
    pub unified: String,
}

/// A value that changed at a key or JSON path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// `model.name`, `parameters.temperature`, `/properties/category/enum`.
    pub key: String,
    /// Before (null: absent).
    pub from: Value,
    /// After (null: absent).
    pub to: Value,
}

/// What kind of input change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputChangeKind {
    /// A new input.
    Added,
    /// An input that is gone.
    Removed,
    /// An input whose declaration changed.
    Changed,
}

/// One input's change, classified for callers of the prompt.
#[derive(Debug, Clone, Serialize)]
pub struct InputChange {
    /// The input's name.
    pub name: String,
    /// Added, removed or changed.
    pub kind: InputChangeKind,
    /// Whether callers that worked with A can fail with B.
    pub breaking: bool,
    /// What changed, one phrase each (`new required input`, `type string -> integer`).
    pub reasons: Vec<String>,
}

/// The whole comparison of one prompt.
#[derive(Debug, Clone, Serialize)]
pub struct PromptDiff {
    /// The prompt's name.
    pub prompt: String,
    /// Added, removed, changed or unchanged.
    pub status: Status,
    /// Content hash on the A side.
    pub content_a: Option<String>,
    /// Content hash on the B side.
    pub content_b: Option<String>,
    /// Template changes, per message.
    pub messages: Vec<MessageDiff>,
    /// Partial changes.
    pub partials: Vec<PartialDiff>,
    /// Provider, model and parameter changes by key.
    pub model: Vec<FieldChange>,
    /// Input changes, breaking first.
    pub inputs: Vec<InputChange>,
    /// Output schema changes by JSON path.
    pub outputs: Vec<FieldChange>,
    /// Description, owner and tag changes (not part of a version's identity).
    pub metadata: Vec<FieldChange>,
    /// Whether any input change is breaking.
    pub breaking: bool,
}

fn unified(a: &str, b: &str, name_a: &str, name_b: &str) -> String {
    let a = normalise_end(a);
    let b = normalise_end(b);
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(name_a, name_b)
        .to_string()
}

fn normalise_end(s: &str) -> String {
    let t = s.trim_end();
    if t.is_empty() {
        String::new()
    } else {
        format!("{t}\n")
    }
}

/// Compare prompt `a` with prompt `b` (either may be absent). `label_a` and `label_b` head the
/// unified diffs (`support-reply@v3`).
pub fn diff(
    name: &str,
    a: Option<&Prompt>,
    b: Option<&Prompt>,
    label_a: &str,
    label_b: &str,
) -> PromptDiff {
    let empty = Prompt::empty(name);
    let pa = a.unwrap_or(&empty);
    let pb = b.unwrap_or(&empty);
    let mut messages = Vec::new();
    for i in 0..pa.messages.len().max(pb.messages.len()) {
        let ma = pa.messages.get(i);
        let mb = pb.messages.get(i);
        let sa = ma.map_or("", |m| m.source.as_str());
        let sb = mb.map_or("", |m| m.source.as_str());
        let ra = ma.map(|m| m.role.as_str());
        let rb = mb.map(|m| m.role.as_str());
        if normalise_end(sa) == normalise_end(sb) && ra == rb {
            continue;
        }
        let head = |label: &str, role: Option<&str>| {
            format!("{label} message {} ({})", i + 1, role.unwrap_or("none"))
        };
        messages.push(MessageDiff {
            index: i + 1,
            role_a: ra,
            role_b: rb,
            unified: unified(sa, sb, &head(label_a, ra), &head(label_b, rb)),
        });
    }
    let mut partials = Vec::new();
    let paths: std::collections::BTreeSet<&String> =
        pa.partials.keys().chain(pb.partials.keys()).collect();
    for path in paths {
        let sa = pa.partials.get(path).map_or("", String::as_str);
        let sb = pb.partials.get(path).map_or("", String::as_str);
        if normalise_end(sa) != normalise_end(sb) {
            partials.push(PartialDiff {
                path: path.clone(),
                unified: unified(
                    sa,
                    sb,
                    &format!("{label_a} {path}"),
                    &format!("{label_b} {path}"),
                ),
            });
        }
    }
    let model = changes(&flat_model(pa), &flat_model(pb));
    let outputs = {
        let mut fa = Map::new();
        let mut fb = Map::new();
        flatten("", pa.outputs.as_ref().unwrap_or(&Value::Null), &mut fa);
        flatten("", pb.outputs.as_ref().unwrap_or(&Value::Null), &mut fb);
        changes(&fa, &fb)
    };
    let inputs = input_changes(pa, pb);
    let metadata = changes(&metadata(pa), &metadata(pb));
    let breaking = inputs.iter().any(|c| c.breaking);
    let content_a = a.map(Prompt::content_hash);
    let content_b = b.map(Prompt::content_hash);
    let status = match (a, b) {
        (None, _) => Status::Added,
        (_, None) => Status::Removed,
        _ if content_a == content_b && metadata.is_empty() => Status::Unchanged,
        _ => Status::Changed,
    };
    PromptDiff {
        prompt: name.to_string(),
        status,
        content_a,
        content_b,
        messages,
        partials,
        model,
        inputs,
        outputs,
        metadata,
        breaking,
    }
}

fn flat_model(p: &Prompt) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(v) = &p.model.provider {
        out.insert("provider".into(), Value::String(v.clone()));
    }
    if let Some(v) = &p.model.name {
        out.insert("model".into(), Value::String(v.clone()));
    }
    if let Ok(Value::Object(params)) = serde_json::to_value(&p.model.parameters) {
        for (k, v) in params {
            out.insert(format!("parameters.{k}"), v);
        }
    }
    out
}

fn metadata(p: &Prompt) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(d) = &p.description {
        out.insert("description".into(), Value::String(d.clone()));
    }
    if let Some(o) = &p.owner {
        out.insert("owner".into(), Value::String(o.clone()));
    }
    if !p.authors.is_empty() {
        out.insert("authors".into(), serde_json::json!(p.authors));
    }
    if !p.tags.is_empty() {
        out.insert("tags".into(), serde_json::json!(p.tags));
    }
    out
}

/// Leaves of a JSON value by JSON pointer; arrays count as one leaf.
fn flatten(path: &str, v: &Value, out: &mut Map<String, Value>) {
    match v {
        Value::Null => {}
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let key = k.replace('~', "~0").replace('/', "~1");
                flatten(&format!("{path}/{key}"), v, out);
            }
        }
        other => {
            let key = if path.is_empty() { "/" } else { path };
            out.insert(key.to_string(), other.clone());
        }
    }
}

fn changes(a: &Map<String, Value>, b: &Map<String, Value>) -> Vec<FieldChange> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let from = a.get(k).cloned().unwrap_or(Value::Null);
            let to = b.get(k).cloned().unwrap_or(Value::Null);
            (from != to).then(|| FieldChange {
                key: k.clone(),
                from,
                to,
            })
        })
        .collect()
}

/// Inputs compared for callers: a caller that worked with A breaks with B when B needs an
/// input it does not send (new required input, optional -> required), when an input it sends
/// is gone (removed input), or when a value it sends no longer type-checks (type change).
fn input_changes(a: &Prompt, b: &Prompt) -> Vec<InputChange> {
    let mut out = Vec::new();
    for (name, spec) in &b.inputs {
        if !a.inputs.contains_key(name) {
            let required = spec.is_required();
            out.push(InputChange {
                name: name.clone(),
                kind: InputChangeKind::Added,
                breaking: required,
                reasons: vec![if required {
                    "new required input".to_string()
                } else {
                    "new optional input".to_string()
                }],
            });
        }
    }
    for (name, sa) in &a.inputs {
        match b.inputs.get(name) {
            None => out.push(InputChange {
                name: name.clone(),
                kind: InputChangeKind::Removed,
                breaking: true,
                reasons: vec!["removed input".to_string()],
            }),
            Some(sb) => {
                if let Some(c) = changed_input(name, sa, sb) {
                    out.push(c);
                }
            }
        }
    }
    out.sort_by(|x, y| y.breaking.cmp(&x.breaking).then(x.name.cmp(&y.name)));
    out
}

fn changed_input(name: &str, a: &InputSpec, b: &InputSpec) -> Option<InputChange> {
    let mut reasons = Vec::new();
    let mut breaking = false;
    if a.kind != b.kind {
        breaking = true;
        reasons.push(format!("type {} -> {}", a.kind.as_str(), b.kind.as_str()));
    }
    match (a.is_required(), b.is_required()) {
        (false, true) => {
            breaking = true;
            reasons.push("optional -> required".to_string());
        }
        (true, false) => reasons.push("required -> optional".to_string()),
        _ => {}
    }
    if a.default != b.default {
        let show = |v: &Option<Value>| v.as_ref().map_or("none".to_string(), Value::to_string);
        reasons.push(format!(
            "default {} -> {}",
            show(&a.default),
            show(&b.default)
        ));
    }
    if a.description != b.description {
        reasons.push("description changed".to_string());
    }
    (!reasons.is_empty()).then(|| InputChange {
        name: name.to_string(),
        kind: InputChangeKind::Changed,
        breaking,
        reasons,
    })
}

/// A prompt file in a normalised, line-per-fact form for `git diff` (the textconv driver):
/// key order and YAML style do not show, every model parameter, input and output-schema leaf
/// is one line, and each message follows its role. Includes are shown as written.
pub fn normalised(p: &Prompt) -> String {
    let mut out = String::new();
    out.push_str(&format!("name: {}\n", p.name));
    for (k, v) in metadata(p) {
        out.push_str(&format!("{k}: {}\n", plain(&v)));
    }
    for (k, v) in flat_model(p) {
        let k = if k == "model" || k == "provider" {
            format!("model.{}", if k == "model" { "name" } else { "provider" })
        } else {
            format!("model.{k}")
        };
        out.push_str(&format!("{k}: {}\n", plain(&v)));
    }
    let inputs: std::collections::BTreeMap<&String, &InputSpec> = p.inputs.iter().collect();
    for (name, spec) in inputs {
        let mut line = format!("input {name}: {}", spec.kind.as_str());
        if spec.is_required() {
            line.push_str(", required");
        } else {
            line.push_str(", optional");
        }
        if let Some(d) = &spec.default {
            line.push_str(&format!(", default {d}"));
        }
        if let Some(d) = &spec.description {
            line.push_str(&format!(" -- {d}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    if let Some(o) = &p.outputs {
        let mut flat = Map::new();
        flatten("", o, &mut flat);
        let flat: std::collections::BTreeMap<String, Value> = flat.into_iter().collect();
        for (k, v) in flat {
            out.push_str(&format!("output {k}: {v}\n"));
        }
    }
    if let Some(s) = &p.sample {
        let sorted: std::collections::BTreeMap<&String, &Value> = s.iter().collect();
        for (k, v) in sorted {
            out.push_str(&format!("sample {k}: {v}\n"));
        }
    }
    for m in &p.messages {
        out.push_str(&format!(
            "\n{}:\n{}",
            m.role.as_str(),
            normalise_end(&m.source)
        ));
    }
    out
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(inputs: &str, body: &str) -> Prompt {
        let text = format!("---\nname: p\nmodel: {{ name: m, parameters: {{ temperature: 0.5 }} }}\ninputs:\n{inputs}---\nsystem:\n{body}\n");
        Prompt::parse("prompts/p.prompty", &text).unwrap()
    }

    #[test]
    fn input_changes_are_classified() {
        let a = prompt(
            "  who: { type: string }\n  gone: { type: string }\n  n: { type: integer }\n  opt: { type: string, default: x }\n  later: { type: string, default: y }\n",
            "Hi {{ who }} {{ gone }} {{ n }} {{ opt }} {{ later }}",
        );
        let b = prompt(
            "  who: { type: string, description: the name }\n  n: { type: string }\n  opt: { type: string, default: z }\n  later: { type: string, required: true }\n  new_req: { type: string }\n  new_opt: { type: string, required: false }\n",
            "Hello {{ who }} {{ n }} {{ opt }} {{ later }} {{ new_req }} {{ new_opt }}",
        );
        let d = diff("p", Some(&a), Some(&b), "a", "b");
        let by = |n: &str| d.inputs.iter().find(|c| c.name == n).unwrap();
        assert!(by("gone").breaking && by("gone").kind == InputChangeKind::Removed);
        assert!(by("n").breaking, "type change");
        assert!(by("later").breaking, "optional -> required");
        assert!(by("new_req").breaking);
        assert!(!by("new_opt").breaking);
        assert!(!by("opt").breaking, "default change");
        assert!(!by("who").breaking, "description change");
        assert!(d.breaking);
        assert_eq!(d.status, Status::Changed);
        assert_eq!(d.messages.len(), 1);
        assert!(d.messages[0].unified.contains("-Hi {{ who }}"));
        let same = diff("p", Some(&a), Some(&a), "a", "a");
        assert_eq!(same.status, Status::Unchanged);
        assert!(same.inputs.is_empty() && same.messages.is_empty());
    }

    #[test]
    fn normalised_is_order_independent() {
        let a = Prompt::parse(
            "x/p.prompty",
            "---\nname: p\ndescription: d\nmodel: { name: m, parameters: { temperature: 0.5, max_tokens: 9 } }\n---\nuser:\nHi\n",
        )
        .unwrap();
        let b = Prompt::parse(
            "x/p.prompty",
            "---\nmodel:\n  parameters:\n    max_tokens: 9\n    temperature: 0.5\n  name: m\ndescription: d\nname: p\n---\nuser:\nHi\n",
        )
        .unwrap();
        assert_eq!(normalised(&a), normalised(&b));
        assert!(normalised(&a).contains("model.parameters.temperature: 0.5\n"));
    }
}
