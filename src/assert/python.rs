//! The `python` assertion: a function in a file (`file://checks.py` calls `get_assert`,
//! `file://checks.py:name` calls `name`) or inline code, run with the system `python3` through
//! promptfoo's protocol, so existing assertion files work unchanged. The function is called
//! as `f(output, context)` and returns a bool, a number, or a `{pass, score, reason}` dict.
//! The process is `exec`'s: its own process group, a time limit, bounded stdout and stderr.

use serde_json::Value;

use super::exec::ExecCommand;

/// What the wrapper runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A registry-relative `.py` file and the function to call.
    File {
        /// Path inside the registry.
        path: String,
        /// Function name (`get_assert` unless given after `:`).
        function: String,
    },
    /// Inline code, already wrapped as promptfoo wraps it: `def main(output, context):`.
    Inline(String),
}

/// A compiled `python` assertion.
#[derive(Debug, Clone, PartialEq)]
pub struct Python {
    /// What runs.
    pub source: Source,
    /// The `python3` process and its time limit.
    pub cmd: ExecCommand,
}

/// Loads the file or the inline code, calls the function with the arguments read from stdin,
/// and prints `{"type": "final_result", "data": result}`. Whatever the code prints goes to
/// stderr, so it cannot corrupt the result.
const WRAPPER: &str = r#"
import asyncio, importlib.util, json, os, sys
req = json.load(sys.stdin)
real_stdout = sys.stdout
sys.stdout = sys.stderr
if req.get("path"):
    path = os.path.abspath(req["path"])
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = os.path.basename(path).rsplit(".", 1)[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, req["function"])
else:
    scope = {}
    exec(compile(req["code"], "<python assertion>", "exec"), scope)
    fn = scope["main"]
result = fn(*req["args"])
if asyncio.iscoroutine(result):
    result = asyncio.run(result)
real_stdout.write(json.dumps({"type": "final_result", "data": result}))
real_stdout.flush()
"#;

/// Inline code as promptfoo wraps it: one line is an expression returned by `main`; several
/// lines are `main`'s body, each indented by the first indented line's indentation.
pub fn wrap_inline(code: &str) -> String {
    let body = if code.contains('\n') {
        let indent = code
            .lines()
            .find(|l| !l.trim().is_empty() && l.starts_with(char::is_whitespace))
            .map(|l| &l[..l.len() - l.trim_start().len()])
            .unwrap_or("    ");
        code.split('\n')
            .map(|l| format!("{indent}{l}"))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        format!("    return {code}")
    };
    format!("import json\n\ndef main(output, context):\n{body}\n")
}

impl Python {
    /// Read `value:`: `file://path.py[:function]` (inside the registry) or inline code.
    pub fn parse(value: &Value, timeout_s: Option<f64>) -> Result<Python, String> {
        let Some(text) = value.as_str().filter(|s| !s.trim().is_empty()) else {
            return Err("`python`: `value` must be inline code or `file://path.py`".into());
        };
        let source = match text.trim().strip_prefix("file://") {
            Some(rest) => {
                let (file, function) = match rest.rsplit_once(':') {
                    Some((f, func)) if f.ends_with(".py") => (f, func.to_string()),
                    _ => (rest, "get_assert".to_string()),
                };
                if !file.ends_with(".py") {
                    return Err(format!("`python`: `{file}` is not a `.py` file"));
                }
                let valid_ident = |s: &str| {
                    s.chars()
                        .next()
                        .is_some_and(|c| c.is_alphabetic() || c == '_')
                        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
                };
                if !valid_ident(&function) {
                    return Err(format!(
                        "`python`: `{function}` is not a Python function name"
                    ));
                }
                let path = crate::paths::join_within("", "", file).ok_or_else(|| {
                    format!("`python`: `{file}` is outside the repository; give a path relative to the repository root")
                })?;
                Source::File { path, function }
            }
            None => Source::Inline(wrap_inline(text)),
        };
        let cmd = ExecCommand::program(
            "python3",
            vec!["-c".into(), WRAPPER.into()],
            timeout_s,
            "python",
        )?;
        Ok(Python { source, cmd })
    }

    /// Run with `output` and `context`; `Ok` is what the function returned.
    pub fn run(
        &self,
        output: &str,
        context: &Value,
        workdir: &std::path::Path,
    ) -> Result<Value, String> {
        let req = match &self.source {
            Source::File { path, function } => {
                if !workdir.join(path).is_file() {
                    return Err(format!("`{path}` does not exist in the repository"));
                }
                serde_json::json!({"path": path, "function": function, "args": [output, context]})
            }
            Source::Inline(code) => serde_json::json!({"code": code, "args": [output, context]}),
        };
        let out = self
            .cmd
            .run(req.to_string().into_bytes(), workdir)
            .map_err(|e| {
                if e.contains("cannot start") {
                    format!("{e} (is `python3` installed and on PATH?)")
                } else {
                    e
                }
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(format!(
                "python3 exited with {}: {}",
                out.status,
                last.trim()
            ));
        }
        if out.stdout_truncated {
            return Err("the result is longer than the stdout limit".into());
        }
        let v: Value = serde_json::from_slice(&out.stdout)
            .map_err(|_| "the wrapper printed no result".to_string())?;
        Ok(v.get("data").cloned().unwrap_or(Value::Null))
    }
}

/// How promptfoo reads the function's result: `(pass, score, reason)`, or why it cannot.
pub fn grade(result: &Value, threshold: Option<f64>) -> Result<(bool, f64, String), String> {
    let grading = |m: &serde_json::Map<String, Value>| -> Option<(bool, f64, String)> {
        let pass = m.get("pass")?.as_bool()?;
        let score = m.get("score")?.as_f64()?;
        let reason = m
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or(if pass { "passed" } else { "failed" })
            .to_string();
        Some((pass, score, reason))
    };
    let bad = |got: &str| {
        format!("the function must return a bool, a number or a {{pass, score, reason}} dict, got {got}")
    };
    match result {
        Value::Bool(b) => Ok((*b, if *b { 1.0 } else { 0.0 }, format!("returned {b}"))),
        Value::String(s) if s.eq_ignore_ascii_case("true") => {
            Ok((true, 1.0, "returned true".into()))
        }
        Value::String(s) if s.eq_ignore_ascii_case("false") => {
            Ok((false, 0.0, "returned false".into()))
        }
        Value::String(s) if s.starts_with('{') => {
            let parsed: Value =
                serde_json::from_str(s).map_err(|e| format!("invalid JSON in the result: {e}"))?;
            parsed.as_object().and_then(grading).ok_or_else(|| bad(s))
        }
        Value::Object(m) => {
            let (mut pass, score, mut reason) =
                grading(m).ok_or_else(|| bad(&result.to_string()))?;
            if let Some(t) = threshold.filter(|t| *t != 0.0 && score < *t) {
                pass = false;
                reason = format!("Python score {score} is less than threshold {t}");
            }
            Ok((pass, score, reason))
        }
        Value::Number(n) => {
            let score = n.as_f64().unwrap_or(f64::NAN);
            let pass = match threshold {
                Some(t) if t != 0.0 => score >= t,
                _ => score > 0.0,
            };
            Ok((pass, score, format!("returned {score}")))
        }
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(score) => Ok((
                threshold
                    .filter(|t| *t != 0.0)
                    .map_or(score > 0.0, |t| score >= t),
                score,
                format!("returned {score}"),
            )),
            Err(_) => Err(bad(s)),
        },
        other => Err(bad(&other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wraps_inline_code_as_promptfoo_does() {
        assert_eq!(
            wrap_inline("output == 'x'"),
            "import json\n\ndef main(output, context):\n    return output == 'x'\n"
        );
        assert_eq!(
            wrap_inline("x = 1\n  y = 2\nreturn x"),
            "import json\n\ndef main(output, context):\n  x = 1\n    y = 2\n  return x\n"
        );
    }

    #[test]
    fn paths_stay_inside_the_repository() {
        let p = Python::parse(&json!("file://checks/a.py:check_it"), None).unwrap();
        assert_eq!(
            p.source,
            Source::File {
                path: "checks/a.py".into(),
                function: "check_it".into()
            }
        );
        assert!(Python::parse(&json!("file://../a.py"), None).is_err());
        assert!(Python::parse(&json!("file:///etc/a.py"), None).is_err());
        assert!(Python::parse(&json!("file://a.txt"), None).is_err());
        assert!(Python::parse(&json!("file://a.py:not-a-name"), None).is_err());
        assert!(Python::parse(&json!("x"), Some(0.0)).is_err());
    }

    #[test]
    fn reads_results_as_promptfoo_does() {
        assert!(grade(&json!(true), None).unwrap().0);
        assert!(!grade(&json!("False"), None).unwrap().0);
        assert!(grade(&json!(0.3), None).unwrap().0);
        assert!(!grade(&json!(0.3), Some(0.5)).unwrap().0);
        let (pass, score, reason) = grade(
            &json!({"pass": true, "score": 0.4, "reason": "r"}),
            Some(0.5),
        )
        .unwrap();
        assert!(!pass && score == 0.4 && reason.contains("less than threshold"));
        assert!(grade(&json!(null), None).is_err());
        assert!(grade(&json!([1]), None).is_err());
        assert!(grade(&json!({"pass": true}), None).is_err());
    }
}
