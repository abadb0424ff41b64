//! What the RAG and conversation graders read from a case: the retrieved `context`, the user's
//! `query`, and the `_conversation` so far. Names and meanings follow promptfoo's.

use serde_json::{Map, Value};

/// The retrieved context: the `context` variable, a string or a list of chunks. `None` when
/// the case has none.
pub fn context_units(vars: &Map<String, Value>) -> Option<Vec<String>> {
    let units: Vec<String> = match vars.get("context")? {
        // A single string is split into lines, as promptfoo does for `context-relevance`.
        Value::String(s) => s
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            })
            .filter(|s| !s.is_empty())
            .collect(),
        _ => return None,
    };
    (!units.is_empty()).then_some(units)
}

/// The context as one text.
pub fn context_text(vars: &Map<String, Value>) -> Option<String> {
    context_units(vars).map(|u| u.join("\n"))
}

/// The user's question: the `query` variable, else the prompt's last user message.
pub fn query(vars: &Map<String, Value>, question: &str) -> String {
    match vars.get("query") {
        Some(Value::String(q)) => q.clone(),
        _ => question.to_string(),
    }
}

/// How many turns a `conversation-relevance` window holds (promptfoo's default).
pub const WINDOW: usize = 5;

/// The conversation windows to grade: each is (the turns before, the reply graded). The
/// turns come from the `_conversation` variable (`[{input, output}]`), then this case's own
/// question and output; each window ends at one reply and holds up to [`WINDOW`] turns.
pub fn windows(
    vars: &Map<String, Value>,
    question: &str,
    output: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut turns: Vec<(String, String)> = Vec::new();
    match vars.get("_conversation") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, t) in items.iter().enumerate() {
                let field = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
                match (field("input"), field("output")) {
                    (Some(a), Some(b)) => turns.push((a, b)),
                    _ => {
                        return Err(format!(
                            "`conversation-relevance`: `_conversation[{i}]` needs `input` and `output` strings"
                        ))
                    }
                }
            }
        }
        Some(_) => {
            return Err(
                "`conversation-relevance`: `_conversation` must be a list of {input, output}"
                    .into(),
            )
        }
    }
    turns.push((question.to_string(), output.to_string()));
    Ok((0..turns.len())
        .map(|end| {
            let start = (end + 1).saturating_sub(WINDOW);
            let mut transcript = String::new();
            for (i, (user, reply)) in turns[start..=end].iter().enumerate() {
                transcript.push_str(&format!("user: {user}\n"));
                if start + i < end {
                    transcript.push_str(&format!("assistant: {reply}\n"));
                }
            }
            (transcript.trim_end().to_string(), turns[end].1.clone())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slide_over_the_conversation() {
        let vars: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "_conversation": (0..6).map(|i| serde_json::json!({"input": format!("q{i}"), "output": format!("a{i}")})).collect::<Vec<_>>()
        }))
        .unwrap();
        let w = windows(&vars, "q6", "a6").unwrap();
        assert_eq!(w.len(), 7);
        assert_eq!(w[0], ("user: q0".to_string(), "a0".to_string()));
        // The last window holds five turns, ending at this case's question.
        assert!(w[6].0.starts_with("user: q2\nassistant: a2"), "{}", w[6].0);
        assert!(w[6].0.ends_with("user: q6"));
        assert_eq!(w[6].1, "a6");
        let bad: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"_conversation": [{"input": "x"}]})).unwrap();
        assert!(windows(&bad, "q", "a").is_err());
    }

    #[test]
    fn context_is_split_into_units() {
        let vars: Map<String, Value> = serde_json::from_value(
            serde_json::json!({"context": "Paris is the capital.\n\nFrance has wine.\n"}),
        )
        .unwrap();
        assert_eq!(context_units(&vars).unwrap().len(), 2);
        assert_eq!(context_units(&Map::new()), None);
    }
}
