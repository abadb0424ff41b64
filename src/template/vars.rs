//! Input variables: defaults, required checks, type checks, and coercion of text values from
//! the command line and CSV files into the declared type.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::{InputSpec, InputType};

/// Why a set of variables does not fit a prompt's inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum VarsError {
    /// Required inputs with no value.
    Missing(Vec<String>),
    /// A variable the prompt does not declare, with a suggestion.
    Unknown {
        /// The variable.
        name: String,
        /// "did you mean" text, if any.
        suggestion: Option<String>,
    },
    /// A value of the wrong type.
    Type {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
}

impl std::fmt::Display for VarsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VarsError::Missing(names) => {
                let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                write!(f, "missing required input(s) {}", list.join(", "))
            }
            VarsError::Unknown { name, suggestion } => {
                write!(
                    f,
                    "unknown variable `{name}`: the prompt declares no such input"
                )?;
                if let Some(s) = suggestion {
                    write!(f, " ({s})")?;
                }
                Ok(())
            }
            VarsError::Type { name, message } => write!(f, "input `{name}`: {message}"),
        }
    }
}

/// The JSON Schema type name of a value (`integer` for whole numbers).
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `v` is of type `t` (an integer counts as a number).
pub fn type_check(t: InputType, v: &Value) -> Result<(), String> {
    let ok = match t {
        InputType::String => v.is_string(),
        InputType::Number => v.is_number(),
        InputType::Integer => {
            v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        InputType::Boolean => v.is_boolean(),
        InputType::Array => v.is_array(),
        InputType::Object => v.is_object(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected {}, got {} {}",
            t.as_str(),
            json_type(v),
            short(v)
        ))
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// Turn a text value (from `--var k=v` or a CSV cell) into the declared type.
pub fn coerce_cli_value(t: InputType, raw: &str) -> Result<Value, String> {
    match t {
        InputType::String => Ok(Value::String(raw.to_string())),
        InputType::Integer => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("expected integer, got `{raw}`")),
        InputType::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("expected number, got `{raw}`")),
        InputType::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("expected true or false, got `{raw}`")),
        },
        InputType::Array | InputType::Object => {
            let v: Value = serde_json::from_str(raw)
                .map_err(|e| format!("expected {} as JSON: {e}", t.as_str()))?;
            type_check(t, &v).map(|_| v)
        }
    }
}

/// Check `vars` against `inputs`: no unknown names, every required one present, types right;
/// returns the variables with defaults filled in.
pub fn check_vars(
    inputs: &IndexMap<String, InputSpec>,
    vars: &Map<String, Value>,
) -> Result<Map<String, Value>, VarsError> {
    for name in vars.keys() {
        if !inputs.contains_key(name) {
            return Err(VarsError::Unknown {
                name: name.clone(),
                suggestion: crate::text::did_you_mean(name, inputs.keys().map(String::as_str)),
            });
        }
    }
    let mut out = Map::new();
    let mut missing = Vec::new();
    for (name, spec) in inputs {
        match vars.get(name).or(spec.default.as_ref()) {
            Some(v) => {
                // CSV cells and `--var` values arrive as text; take them at their declared type.
                let v = match (v, spec.kind) {
                    (Value::String(s), t) if t != InputType::String => coerce_cli_value(t, s)
                        .map_err(|message| VarsError::Type {
                            name: name.clone(),
                            message,
                        })?,
                    _ => v.clone(),
                };
                type_check(spec.kind, &v).map_err(|message| VarsError::Type {
                    name: name.clone(),
                    message,
                })?;
                out.insert(name.clone(), v);
            }
            None if spec.is_required() => missing.push(name.clone()),
            None => {}
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(VarsError::Missing(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> IndexMap<String, InputSpec> {
        crate::yaml::parse(
            "t",
            "name: { type: string }\nage: { type: integer }\ntone: { type: string, default: warm }\nopt: { type: boolean, required: false }\n",
        )
        .unwrap()
    }

    fn map(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn fills_defaults_and_coerces() {
        let v = check_vars(&inputs(), &map(r#"{"name":"Ada","age":"36"}"#)).unwrap();
        assert_eq!(v["age"], 36);
        assert_eq!(v["tone"], "warm");
        assert!(!v.contains_key("opt"));
    }

    #[test]
    fn reports_missing_unknown_and_types() {
        assert_eq!(
            check_vars(&inputs(), &map(r#"{"name":"Ada"}"#)),
            Err(VarsError::Missing(vec!["age".into()]))
        );
        let e = check_vars(&inputs(), &map(r#"{"name":"A","age":1,"nme":"x"}"#)).unwrap_err();
        assert!(e.to_string().contains("did you mean `name`"), "{e}");
        let e = check_vars(&inputs(), &map(r#"{"name":"A","age":"old"}"#)).unwrap_err();
        assert!(e.to_string().contains("expected integer"), "{e}");
        let e = check_vars(&inputs(), &map(r#"{"name":3,"age":1}"#)).unwrap_err();
        assert!(
            e.to_string().contains("expected string, got integer"),
            "{e}"
        );
    }
}
