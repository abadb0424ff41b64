//! Context for rubrics: a rubric (or criterion, reference, question) written as a template is
//! rendered with the case's variables, and the rendered prompt can be shown to the judge.

use serde_json::{Map, Value};

use crate::assert::Assertion;
use crate::template::Message;

/// `a` with every string of its `value` rendered with the case's `vars`, when it is written as
/// a template (`{{ ticket }}`, `{% if %}`). Text without template syntax is left as written, so
/// a rubric that shows a literal brace is not misread.
pub fn render_value(a: &Assertion, vars: &Map<String, Value>) -> Result<Assertion, String> {
    let Some(value) = &a.value else {
        return Ok(a.clone());
    };
    let mut out = a.clone();
    out.value = Some(render(value, vars, a)?);
    Ok(out)
}

fn render(v: &Value, vars: &Map<String, Value>, a: &Assertion) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            Value::String(render_str(s, vars, a)?)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|x| render(x, vars, a))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), render(x, vars, a)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn render_str(s: &str, vars: &Map<String, Value>, a: &Assertion) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // A rubric is small; this bounds a runaway loop written into one.
    env.set_fuel(Some(1_000_000));
    let kind = a.display_kind();
    let t = env
        .template_from_str(s)
        .map_err(|e| format!("`{kind}`: the value is not a valid template: {e}"))?;
    // Fuel bounds the steps, not the size of what they build: held to the render cap like a
    // prompt (a rubric that doubles a string is a clear error, not an abort).
    let _cap = crate::memcap::rendering("a judge rubric");
    t.render(vars).map_err(|e| {
        let mut missing: Vec<String> = t
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !vars.contains_key(v))
            .map(|v| format!("`{v}`"))
            .collect();
        missing.sort();
        if missing.is_empty() {
            format!("`{kind}`: the value could not be rendered: {e}")
        } else {
            let known: Vec<&str> = vars.keys().map(String::as_str).collect();
            format!(
                "`{kind}`: the value uses {} which the case does not define (its variables: {})",
                missing.join(", "),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        }
    })
}

/// The rendered prompt as the judge sees it: each message with its role.
pub fn prompt_text(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| format!("[{}]\n{}", m.role.as_str(), m.content))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::RawAssertion;

    fn rubric(text: &str) -> Assertion {
        Assertion::from_raw(&RawAssertion {
            kind: "llm-rubric".into(),
            value: Some(text.into()),
            ..RawAssertion::default()
        })
        .unwrap()
    }

    #[test]
    fn rubrics_use_the_case_variables() {
        let vars: Map<String, Value> =
            serde_json::from_str(r#"{"ticket": "refund for order 42", "n": 2}"#).unwrap();
        let a = render_value(&rubric("Answers the ticket: {{ ticket }} ({{ n }})"), &vars).unwrap();
        assert_eq!(
            a.value.unwrap(),
            "Answers the ticket: refund for order 42 (2)"
        );
        // No template syntax: left as written.
        let a = render_value(&rubric("Returns {\"ok\": true}"), &vars).unwrap();
        assert_eq!(a.value.unwrap(), "Returns {\"ok\": true}");
        let e = render_value(&rubric("About {{ tikcet }}"), &vars).unwrap_err();
        assert!(e.contains("`tikcet`") && e.contains("ticket"), "{e}");
    }
}
