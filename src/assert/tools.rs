//! Tool-call kinds: `is-valid-openai-tools-call`, `is-valid-function-call` (and its alias
//! `is-valid-openai-function-call`) and `tool-call-f1`. The calls come from the provider's
//! structured answer (OpenAI `tool_calls`, Anthropic `tool_use` blocks, both kept in OpenAI's
//! shape by the provider) or, for recorded and replayed outputs, from the output text; the
//! tools are the ones the prompt declares under `model.parameters.tools`.

use std::collections::BTreeSet;

use serde_json::Value;

/// One call: the tool's name and its arguments as the model wrote them (JSON text).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Tool name.
    pub name: String,
    /// Arguments, JSON text (OpenAI sends a string; Anthropic's `input` object is written out).
    pub arguments: Option<String>,
}

/// A call in any of the shapes providers use: OpenAI `{function: {name, arguments}}`, the
/// legacy `{name, arguments}`, Anthropic `{type: tool_use, name, input}`, Gemini
/// `{functionCall: {name, args}}`.
fn call_of(v: &Value) -> Option<Call> {
    if let Some(fc) = v.get("functionCall").filter(|f| f.is_object()) {
        return Some(Call {
            name: fc.get("name")?.as_str()?.to_string(),
            arguments: Some(fc.get("args").map_or_else(|| "{}".into(), Value::to_string)),
        });
    }
    let f = v.get("function").filter(|f| f.is_object()).unwrap_or(v);
    let name = f.get("name")?.as_str()?.to_string();
    let arguments = match (f.get("arguments"), v.get("input")) {
        (Some(Value::String(s)), _) => Some(s.clone()),
        (Some(a), _) if !a.is_null() => None,
        (_, Some(input)) if v.get("type").and_then(Value::as_str) == Some("tool_use") => {
            Some(input.to_string())
        }
        _ => None,
    };
    Some(Call { name, arguments })
}

/// The calls in the provider's structured answer, else in the output text (a JSON array of
/// calls, `{tool_calls: [...]}`, or one call).
pub fn calls(structured: Option<&[Value]>, output: &str) -> Option<Vec<Call>> {
    if let Some(list) = structured.filter(|l| !l.is_empty()) {
        return list.iter().map(call_of).collect();
    }
    let v: Value = serde_json::from_str(output.trim()).ok()?;
    let list = match &v {
        Value::Object(m) if m.contains_key("tool_calls") => {
            m.get("tool_calls")?.as_array()?.clone()
        }
        Value::Object(m) if m.contains_key("function_call") => vec![m["function_call"].clone()],
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![v.clone()],
        _ => return None,
    };
    list.iter().map(call_of).collect()
}

/// `(name, parameters schema)` of each declared tool: OpenAI `{type: function, function:
/// {name, parameters}}`, Anthropic `{name, input_schema}`, Gemini `{functionDeclarations:
/// [...]}`, or a bare function `{name, parameters}`.
pub fn declared(tools: &Value) -> Result<Vec<(String, Value)>, String> {
    let list = tools
        .as_array()
        .ok_or("the prompt's `tools` is not a list")?;
    // Gemini groups functions: `[{functionDeclarations: [{name, parameters}]}]`.
    let flat: Vec<&Value> = list
        .iter()
        .flat_map(
            |t| match t.get("functionDeclarations").and_then(Value::as_array) {
                Some(fs) => fs.iter().collect::<Vec<_>>(),
                None => vec![t],
            },
        )
        .collect();
    flat.into_iter()
        .map(|t| {
            let f = t.get("function").filter(|f| f.is_object()).unwrap_or(t);
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or("a tool in the prompt's `tools` has no `name`")?;
            let schema = f
                .get("parameters")
                .or_else(|| f.get("input_schema"))
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            Ok((name.to_string(), schema))
        })
        .collect()
}

/// Check each call against the declared tools: the tool exists and its arguments are JSON
/// matching the tool's parameters schema. `Err` names the first call that does not.
pub fn validate(calls: &[Call], tools: &[(String, Value)]) -> Result<(), String> {
    for call in calls {
        let Some((_, schema)) = tools.iter().find(|(n, _)| *n == call.name) else {
            return Err(format!(
                "called `{}`, but the prompt declares no tool with that name",
                call.name
            ));
        };
        let Some(text) = &call.arguments else {
            return Err(format!("the call to `{}` has no arguments text", call.name));
        };
        let args: Value = serde_json::from_str(text).map_err(|e| {
            format!(
                "the arguments of the call to `{}` are not JSON: {e}",
                call.name
            )
        })?;
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| {
                format!(
                    "the parameters schema of tool `{}` is invalid: {e}",
                    call.name
                )
            })?;
        let errors: Vec<String> = validator
            .iter_errors(&args)
            .take(3)
            .map(|e| format!("{} at `{}`", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            return Err(format!(
                "the call to `{}` does not match its schema: {}",
                call.name,
                errors.join("; ")
            ));
        }
    }
    Ok(())
}

/// Tool names in `v`, in every shape promptfoo's `tool-call-f1` reads.
fn names_in(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(list)) = m.get("tool_calls") {
                for tc in list {
                    if let Some(n) = tc.pointer("/function/name").and_then(Value::as_str) {
                        out.insert(n.to_string());
                    }
                    if let Some(n) = tc.get("name").and_then(Value::as_str) {
                        out.insert(n.to_string());
                    }
                }
            } else if matches!(
                m.get("type").and_then(Value::as_str),
                Some("tool_use" | "function_call")
            ) {
                if let Some(n) = m.get("name").and_then(Value::as_str) {
                    out.insert(n.to_string());
                }
            } else if let Some(fc) = m.get("functionCall").filter(|f| f.is_object()) {
                if let Some(n) = fc.get("name").and_then(Value::as_str) {
                    out.insert(n.to_string());
                }
            } else if let Some(tc) = m.get("toolCall").filter(|f| f.is_object()) {
                for fc in tc
                    .get("functionCalls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(n) = fc.get("name").and_then(Value::as_str) {
                        out.insert(n.to_string());
                    }
                }
            }
        }
        Value::Array(items) => {
            for b in items.iter().filter(|b| b.is_object()) {
                let name = if b.get("type").and_then(Value::as_str) == Some("tool_use") {
                    b.get("name")
                } else if let Some(fc) = b.get("functionCall").filter(|f| f.is_object()) {
                    fc.get("name")
                } else if let Some(f) = b.get("function").filter(|f| f.is_object()) {
                    f.get("name")
                } else {
                    b.get("name")
                };
                if let Some(n) = name.and_then(Value::as_str) {
                    out.insert(n.to_string());
                }
            }
        }
        _ => {}
    }
}

/// The names of the tools called: from the structured answer when there is one, else from the
/// output text as promptfoo reads it: the whole text as JSON, else every JSON block that starts
/// a line and ends one (pretty-printed blocks included), outside fenced code examples. JSON in
/// the middle of a sentence is an example, not a call.
pub fn called_names(structured: Option<&[Value]>, output: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(list) = structured.filter(|l| !l.is_empty()) {
        out.extend(list.iter().filter_map(call_of).map(|c| c.name));
        return out;
    }
    if let Ok(v) = serde_json::from_str::<Value>(output) {
        names_in(&v, &mut out);
        return out;
    }
    for v in json_blocks(output) {
        names_in(&v, &mut out);
    }
    out
}

/// A fence line: three or more backticks or tildes after up to three spaces; its character
/// and length.
fn fence(line: &str) -> Option<(char, usize)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let t = &line[indent..];
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = t.chars().take_while(|x| *x == c).count();
    // A backtick fence's info string may not hold a backtick.
    (n >= 3 && !(c == '`' && t[n..].contains('`'))).then_some((c, n))
}

/// JSON values that start a line (after spaces) and end a line, outside fenced blocks.
fn json_blocks(text: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut starts = Vec::new();
    let mut open: Option<(char, usize)> = None;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        match (open, fence(body)) {
            (None, Some(f)) => open = Some(f),
            (Some((c, n)), Some((c2, n2)))
                if c == c2 && n2 >= n && body.trim()[n2..].trim().is_empty() =>
            {
                open = None
            }
            (Some(_), _) => {}
            (None, None) => {
                let lead = body.len() - body.trim_start().len();
                if body[lead..].starts_with(['{', '[']) {
                    starts.push(at + lead);
                }
            }
        }
        at += line.len();
    }
    let mut covered = 0;
    for start in starts {
        if start < covered {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        if let Some(Ok(v)) = de.next() {
            let end = start + de.byte_offset();
            let rest = text[end..].split('\n').next().unwrap_or("");
            // A valid block followed by prose is an example; what it holds is not a call.
            covered = end;
            if rest.trim().is_empty() {
                found.push(v);
            }
        }
    }
    found
}

/// F1 of the called names against the expected ones: `(f1, precision, recall)`.
pub fn f1(expected: &BTreeSet<String>, actual: &BTreeSet<String>) -> (f64, f64, f64) {
    let hit = expected.intersection(actual).count() as f64;
    let precision = if actual.is_empty() {
        0.0
    } else {
        hit / actual.len() as f64
    };
    let recall = if expected.is_empty() {
        0.0
    } else {
        hit / expected.len() as f64
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    (f1, precision, recall)
}
