//! Scoring deterministic assertions. Model-graded kinds and `similar` are scored by the judge.

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::{Assertion, Check, Kind};

/// What an assertion is checked against.
pub struct Subject<'a> {
    /// The model output.
    pub output: &'a str,
    /// The provider's finish reason.
    pub finish_reason: Option<&'a str>,
    /// Per output token, the chosen token's log-probability first, when the provider gave them.
    pub logprobs: Option<&'a [Vec<(String, f64)>]>,
    /// Latency of the call in ms.
    pub latency_ms: f64,
    /// Cost of the call in USD, if the model has a price.
    pub cost_usd: Option<f64>,
    /// The case as JSON (id, vars, metadata, prompt), for `exec`.
    pub case: &'a Value,
    /// The directory `exec` commands run in (the registry root).
    pub workdir: &'a std::path::Path,
    /// The provider's tool calls, in OpenAI's shape (`{id, type, function: {name,
    /// arguments}}`), when it made any.
    pub tool_calls: Option<&'a [Value]>,
    /// The tools the prompt declares (`model.parameters.tools`).
    pub tools: Option<&'a Value>,
}

/// One assertion's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Passed.
    pub pass: bool,
    /// 0..1.
    pub score: f64,
    /// Why, in a sentence.
    pub reason: String,
    /// Could not be evaluated; the case is ERROR, not FAIL.
    pub error: bool,
}

impl Verdict {
    fn bool(pass: bool, reason: impl Into<String>) -> Verdict {
        Verdict {
            pass,
            score: if pass { 1.0 } else { 0.0 },
            reason: reason.into(),
            error: false,
        }
    }

    /// An assertion that could not be evaluated.
    pub fn error(reason: impl Into<String>) -> Verdict {
        Verdict {
            pass: false,
            score: 0.0,
            reason: reason.into(),
            error: true,
        }
    }
}

fn excerpt(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 60 {
        format!("{}…", one_line.chars().take(60).collect::<String>())
    } else {
        one_line
    }
}

/// Every JSON object or array embedded in `text`, left to right, not overlapping.
fn json_values(text: &str) -> impl Iterator<Item = Value> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < text.len() {
            let rest = &text[at..];
            let i = rest.find(['{', '['])?;
            let mut de = serde_json::Deserializer::from_str(&rest[i..]).into_iter::<Value>();
            match de.next() {
                Some(Ok(v)) => {
                    at += i + de.byte_offset().max(1);
                    return Some(v);
                }
                _ => at += i + 1,
            }
        }
        None
    })
}

/// The first JSON object or array embedded in `text`.
pub fn find_json(text: &str) -> Option<Value> {
    for (i, c) in text.char_indices() {
        if c == '{' || c == '[' {
            let mut de = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
            if let Some(Ok(v)) = de.next() {
                return Some(v);
            }
        }
    }
    None
}

fn validate_schema(validator: &jsonschema::Validator, v: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(v)
        .take(3)
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), y) if !y.is_string() => x.trim() == y.to_string().as_str(),
        (x, Value::String(y)) if !x.is_string() => x.to_string().as_str() == y.trim(),
        _ => a == b,
    }
}

use super::refusal::is_refusal;

/// `text` with personal data masked (`[email]`, `[phone]`, `[card]`, `[ssn]`), for
/// `redaction.pii`: the redactor's own patterns, so the two never disagree.
pub fn redact_pii(text: &str) -> String {
    crate::redact::mask_pii(text)
}

/// Kinds of personal data found in `text` (e-mail addresses, phone numbers, card numbers,
/// US social security numbers), as the `no-pii` assertion names them.
pub fn find_pii(text: &str) -> Vec<&'static str> {
    crate::redact::pii_kinds(text)
        .into_iter()
        .map(|mask| match mask {
            "email" => "email address",
            "card" => "card number",
            "ssn" => "social security number",
            _ => "phone number",
        })
        .collect()
}

fn run_exec(cmd: &super::exec::ExecCommand, s: &Subject<'_>) -> Verdict {
    let input =
        json!({ "output": s.output, "finish_reason": s.finish_reason, "case": s.case }).to_string();
    let out = match cmd.run(input.into_bytes(), s.workdir) {
        Ok(o) => o,
        Err(e) => return Verdict::error(format!("exec: {e}")),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Verdict::error(format!(
            "exec: exited with {}: {}",
            out.status,
            excerpt(&err)
        ));
    }
    if out.stdout_truncated {
        return Verdict::error(format!(
            "exec: stdout is longer than {} MiB; print only the `{{pass, score, reason}}` JSON",
            super::exec::STDOUT_CAP >> 20
        ));
    }
    let v: Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(_) => {
            return Verdict::error(format!(
                "exec: stdout is not `{{pass, score, reason}}` JSON: {}",
                excerpt(&String::from_utf8_lossy(&out.stdout))
            ))
        }
    };
    let Some(pass) = v.get("pass").and_then(Value::as_bool) else {
        return Verdict::error("exec: the result has no boolean `pass`");
    };
    let score = v
        .get("score")
        .and_then(Value::as_f64)
        .unwrap_or(if pass { 1.0 } else { 0.0 })
        .clamp(0.0, 1.0);
    let reason = v
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or(if pass { "passed" } else { "failed" })
        .to_string();
    Verdict {
        pass,
        score,
        reason,
        error: false,
    }
}

/// promptfoo's `context` for a Python assertion: the prompt, the case's vars, the test, the
/// log-probabilities and the provider's response.
fn python_context(s: &Subject<'_>) -> Value {
    let case = s.case;
    let vars = case.get("vars").cloned().unwrap_or_else(|| json!({}));
    let logprobs: Option<Vec<f64>> = s.logprobs.map(|l| {
        l.iter()
            .filter_map(|t| t.first().map(|(_, lp)| *lp))
            .collect()
    });
    json!({
        "prompt": case.get("prompt").cloned().unwrap_or(Value::Null),
        "vars": vars,
        "test": {
            "vars": case.get("vars").cloned().unwrap_or_else(|| json!({})),
            "metadata": case.get("metadata").cloned().unwrap_or_else(|| json!({})),
            "description": case.get("description").cloned().unwrap_or(Value::Null),
            "id": case.get("id").cloned().unwrap_or(Value::Null),
        },
        "logProbs": logprobs,
        "config": {},
        "providerResponse": {
            "output": s.output,
            "finishReason": s.finish_reason,
            "tool_calls": s.tool_calls,
            "cost": s.cost_usd,
            "latencyMs": s.latency_ms,
        },
    })
}

fn run_python(py: &super::python::Python, threshold: Option<f64>, s: &Subject<'_>) -> Verdict {
    let result = match py.run(s.output, &python_context(s), s.workdir) {
        Ok(r) => r,
        Err(e) => return Verdict::error(format!("python: {e}")),
    };
    match super::python::grade(&result, threshold) {
        Ok((pass, score, reason)) => Verdict {
            pass,
            score: if score.is_finite() {
                score.clamp(0.0, 1.0)
            } else {
                0.0
            },
            reason,
            error: false,
        },
        Err(e) => Verdict::error(format!("python: {e}")),
    }
}

/// Score a deterministic assertion. Returns `None` for kinds the judge scores.
pub fn score(a: &Assertion, s: &Subject<'_>) -> Option<Verdict> {
    let out = s.output;
    let value = a.value.as_ref();
    let text = || value.and_then(Value::as_str).unwrap_or("");
    let schema = match &a.check {
        Check::Schema(v) => Some(&**v),
        _ => None,
    };
    let v = match a.kind {
        Kind::Similar => return None,
        k if k.is_model_graded() || k.is_cross_variant() => return None,
        Kind::AssertSet => {
            let Check::Set(items) = &a.check else {
                return Some(Verdict::error("assert-set: no items"));
            };
            // A set with a model-graded item is scored by the engine, with the judge's verdicts.
            let verdicts = items
                .iter()
                .map(|i| score(i, s))
                .collect::<Option<Vec<_>>>()?;
            let pairs: Vec<(&Assertion, &Verdict)> = items.iter().zip(verdicts.iter()).collect();
            return Some(super::cross::set_verdict(a, &pairs));
        }
        Kind::Equals => match value {
            Some(Value::String(want)) => Verdict::bool(
                out.trim() == want.trim(),
                format!("expected exactly `{}`", excerpt(want)),
            ),
            Some(want) => match serde_json::from_str::<Value>(out.trim()) {
                Ok(got) => Verdict::bool(
                    &got == want,
                    format!("expected JSON {}", excerpt(&want.to_string())),
                ),
                Err(_) => Verdict::bool(false, "output is not JSON"),
            },
            None => Verdict::error("equals: no value"),
        },
        Kind::Contains => Verdict::bool(out.contains(text()), format!("contains `{}`", text())),
        Kind::Icontains => Verdict::bool(
            out.to_lowercase().contains(&text().to_lowercase()),
            format!("contains `{}` (any case)", text()),
        ),
        Kind::StartsWith => Verdict::bool(
            out.trim_start().starts_with(text()),
            format!("starts with `{}`", text()),
        ),
        Kind::EndsWith => Verdict::bool(
            out.trim_end().ends_with(text()),
            format!("ends with `{}`", text()),
        ),
        Kind::WordCount | Kind::CharacterCount => {
            let (n, unit) = if a.kind == Kind::WordCount {
                (out.split_whitespace().count() as u64, "words")
            } else {
                (out.chars().count() as u64, "characters")
            };
            let (min, max) = match &a.check {
                Check::Count { min, max } => (*min, *max),
                _ => return Some(Verdict::error(format!("{}: no count", a.kind.as_str()))),
            };
            let pass = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
            let want = match (min, max) {
                (Some(a), Some(b)) if a == b => format!("exactly {a}"),
                (Some(a), Some(b)) => format!("{a} to {b}"),
                (Some(a), None) => format!("at least {a}"),
                (None, Some(b)) => format!("at most {b}"),
                (None, None) => "any".into(),
            };
            Verdict::bool(pass, format!("{n} {unit} ({want})"))
        }
        Kind::ContainsAny | Kind::IcontainsAny | Kind::ContainsAll | Kind::IcontainsAll => {
            let fold = matches!(a.kind, Kind::IcontainsAny | Kind::IcontainsAll);
            let hay = if fold {
                out.to_lowercase()
            } else {
                out.to_string()
            };
            let needles: &[String] = match &a.check {
                Check::Needles(n) => n,
                _ => &[],
            };
            let found: Vec<&String> = needles
                .iter()
                .filter(|n| {
                    hay.contains(&if fold {
                        n.to_lowercase()
                    } else {
                        n.to_string()
                    })
                })
                .collect();
            if matches!(a.kind, Kind::ContainsAny | Kind::IcontainsAny) {
                Verdict::bool(!found.is_empty(), format!("contains one of {needles:?}"))
            } else {
                let missing: Vec<&String> = needles.iter().filter(|n| !found.contains(n)).collect();
                Verdict::bool(
                    missing.is_empty(),
                    if missing.is_empty() {
                        format!("contains all of {needles:?}")
                    } else {
                        format!("missing {missing:?}")
                    },
                )
            }
        }
        Kind::Regex => match &a.check {
            Check::Regex(re) => Verdict::bool(re.is_match(out), format!("matches /{}/", text())),
            _ => Verdict::error("regex: not compiled"),
        },
        Kind::IsJson => match serde_json::from_str::<Value>(out.trim()) {
            Err(e) => Verdict::bool(false, format!("output is not valid JSON ({e})")),
            Ok(v) => match schema {
                None => Verdict::bool(true, "output is valid JSON"),
                Some(schema) => match validate_schema(schema, &v) {
                    Ok(()) => Verdict::bool(true, "output is valid JSON matching the schema"),
                    Err(e) => Verdict::bool(false, e),
                },
            },
        },
        Kind::ContainsJson => match schema {
            None => match find_json(out) {
                None => Verdict::bool(false, "output contains no JSON object or array"),
                Some(_) => Verdict::bool(true, "output contains JSON"),
            },
            // As in promptfoo, any JSON object or array in the output may be the match.
            Some(schema) => {
                let mut first_error = None;
                let mut found = false;
                for v in json_values(out) {
                    found = true;
                    match validate_schema(schema, &v) {
                        Ok(()) => {
                            return Some(negated(
                                a,
                                Verdict::bool(true, "output contains JSON matching the schema"),
                            ))
                        }
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                match (found, first_error) {
                    (false, _) => Verdict::bool(false, "output contains no JSON object or array"),
                    (true, e) => Verdict::bool(false, e.unwrap_or_default()),
                }
            }
        },
        Kind::ContainsHtml => {
            let found = super::html::contains_html(out);
            Verdict::bool(
                found,
                if found {
                    "output contains HTML"
                } else {
                    "output contains no HTML"
                },
            )
        }
        Kind::IsHtml => match super::html::is_html(out) {
            Ok(()) => Verdict::bool(true, "output is HTML"),
            Err(e) => Verdict::bool(false, e),
        },
        Kind::IsSql | Kind::ContainsSql => {
            let Check::Sql(spec) = &a.check else {
                return Some(Verdict::error(format!("{}: not compiled", a.kind.as_str())));
            };
            let sql = if a.kind == Kind::ContainsSql {
                super::sql::extract(out)
            } else {
                out
            };
            match spec.check(sql) {
                Ok(()) => Verdict::bool(true, format!("output is {} SQL", spec.database)),
                Err(e) => Verdict::bool(false, e),
            }
        }
        Kind::RougeN => {
            let x = super::ngram::rouge_n(out, text());
            let t = a.threshold.unwrap_or(0.75);
            let mut v = Verdict::bool(x >= t, format!("ROUGE-N {x:.4} (threshold {t})"));
            v.score = x;
            v
        }
        Kind::Meteor => {
            let Check::Meteor(refs, p) = &a.check else {
                return Some(Verdict::error("meteor: not compiled"));
            };
            match super::ngram::meteor(out, refs, *p) {
                None => Verdict::error("meteor: the output is empty"),
                Some(x) => {
                    let t = a.threshold.unwrap_or(0.5);
                    let mut v = Verdict::bool(x >= t, format!("METEOR {x:.4} (threshold {t})"));
                    v.score = x;
                    v
                }
            }
        }
        Kind::IsValidOpenaiToolsCall | Kind::IsValidFunctionCall => {
            let name = a.kind.as_str();
            let Some(tools) = s.tools else {
                return Some(Verdict::error(
                    "the prompt declares no tools; add them under `model.parameters.tools`",
                ));
            };
            let declared = match super::tools::declared(tools) {
                Ok(d) => d,
                Err(e) => return Some(Verdict::error(format!("{name}: {e}"))),
            };
            match super::tools::calls(s.tool_calls, out) {
                None => Verdict::bool(false, "the output is not a tool call"),
                Some(calls) if calls.is_empty() => {
                    Verdict::bool(false, "the output has no tool call")
                }
                Some(calls) => match super::tools::validate(&calls, &declared) {
                    Ok(()) => Verdict::bool(
                        true,
                        format!(
                            "{} valid call(s): {}",
                            calls.len(),
                            calls
                                .iter()
                                .map(|c| c.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                    Err(e) => Verdict::bool(false, e),
                },
            }
        }
        Kind::ToolCallF1 => {
            let Check::ToolNames(expected) = &a.check else {
                return Some(Verdict::error("tool-call-f1: not compiled"));
            };
            let actual = super::tools::called_names(s.tool_calls, out);
            let (f1, p, r) = super::tools::f1(expected, &actual);
            let t = a.threshold.unwrap_or(1.0);
            let list = |set: &std::collections::BTreeSet<String>| {
                if set.is_empty() {
                    "(none)".to_string()
                } else {
                    set.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            };
            let mut v = Verdict::bool(
                f1 >= t,
                format!(
                    "tool-call F1 {f1:.3} (precision {p:.3}, recall {r:.3}; threshold {t}); expected [{}], called [{}]",
                    list(expected),
                    list(&actual)
                ),
            );
            v.score = f1;
            v
        }
        Kind::Python => match &a.check {
            Check::Python(py) => run_python(py, a.threshold, s),
            _ => Verdict::error("python: no code"),
        },
        Kind::IsXml | Kind::ContainsXml => {
            let paths: &[Vec<String>] = match &a.check {
                Check::XmlPaths(p) => p,
                _ => &[],
            };
            let found = if a.kind == Kind::IsXml {
                super::xml::is_xml(out, paths)
            } else {
                super::xml::contains_xml(out, paths)
            };
            match found {
                Ok(()) => Verdict::bool(
                    true,
                    if a.kind == Kind::IsXml {
                        "output is well-formed XML"
                    } else {
                        "output contains well-formed XML"
                    },
                ),
                Err(e) => Verdict::bool(false, e),
            }
        }
        Kind::JsonSchema => match serde_json::from_str::<Value>(out.trim()) {
            Err(e) => Verdict::bool(false, format!("output is not valid JSON ({e})")),
            Ok(v) => match schema {
                None => Verdict::error("json-schema: no schema"),
                Some(schema) => match validate_schema(schema, &v) {
                    Ok(()) => Verdict::bool(true, "matches the schema"),
                    Err(e) => Verdict::bool(false, e),
                },
            },
        },
        Kind::JsonPath => {
            let path = a.path.as_deref().unwrap_or("$");
            let compiled = match &a.check {
                Check::JsonPath(p) => Some(&**p),
                _ => None,
            };
            match (
                serde_json::from_str::<Value>(out.trim())
                    .ok()
                    .or_else(|| find_json(out)),
                compiled,
            ) {
                (None, _) => Verdict::bool(false, "output is not JSON"),
                (_, None) => Verdict::error(format!("json-path: path `{path}` not compiled")),
                (Some(doc), Some(p)) => {
                    let nodes = p.query(&doc).all();
                    let want = value.cloned().unwrap_or(Value::Null);
                    match nodes.first() {
                        None => Verdict::bool(false, format!("nothing at `{path}`")),
                        Some(_) if nodes.iter().any(|n| loosely_equal(n, &want)) => {
                            Verdict::bool(true, format!("`{path}` is {want}"))
                        }
                        Some(got) => Verdict::bool(
                            false,
                            format!("`{path}` is {}, expected {want}", excerpt(&got.to_string())),
                        ),
                    }
                }
            }
        }
        Kind::Levenshtein => {
            let d = crate::text::levenshtein(out.trim(), text().trim());
            let max = a.threshold.unwrap_or(5.0);
            let longest = out
                .trim()
                .chars()
                .count()
                .max(text().trim().chars().count())
                .max(1);
            let mut v = Verdict::bool(
                d as f64 <= max,
                format!("edit distance {d} (at most {max})"),
            );
            v.score = 1.0 - d as f64 / longest as f64;
            v
        }
        Kind::Bleu | Kind::Gleu => {
            let refs: &[String] = match &a.check {
                Check::References(r) => r,
                _ => &[],
            };
            let (x, name) = if a.kind == Kind::Bleu {
                (super::ngram::bleu(out, refs), "BLEU")
            } else {
                (super::ngram::gleu(out, refs), "GLEU")
            };
            let t = a.threshold.unwrap_or(0.5);
            let mut v = Verdict::bool(x >= t, format!("{name} {x:.4} (threshold {t})"));
            v.score = x;
            v
        }
        Kind::Number => {
            let want = value.and_then(Value::as_f64).unwrap_or(f64::NAN);
            let tol = a.tolerance.unwrap_or(0.0);
            let got = out.trim().parse::<f64>().ok().or_else(|| {
                static NUM: OnceLock<regex::Regex> = OnceLock::new();
                let re = NUM.get_or_init(|| regex::Regex::new(r"-?\d+(?:\.\d+)?").expect("valid"));
                re.find(out).and_then(|m| m.as_str().parse().ok())
            });
            match got {
                None => Verdict::bool(false, "output has no number"),
                Some(g) => Verdict::bool(
                    (g - want).abs() <= tol,
                    format!("{g} vs {want} (tolerance {tol})"),
                ),
            }
        }
        Kind::MaxLength | Kind::MinLength => {
            let n = out.chars().count() as u64;
            let limit = value.and_then(Value::as_u64).unwrap_or(0);
            if a.kind == Kind::MaxLength {
                Verdict::bool(n <= limit, format!("{n} characters (at most {limit})"))
            } else {
                Verdict::bool(n >= limit, format!("{n} characters (at least {limit})"))
            }
        }
        Kind::FinishReason => {
            let want = match &a.check {
                Check::Reason(r) => r.as_str(),
                _ => text(),
            };
            match s.finish_reason {
                None => Verdict::bool(false, "the provider gave no finish reason"),
                Some(got) => Verdict::bool(
                    super::normalize_finish_reason(got) == want,
                    format!("finish reason `{got}` (expected `{want}`)"),
                ),
            }
        }
        Kind::IsRefusal => {
            let r = is_refusal(out, s.finish_reason);
            Verdict::bool(
                r,
                if r {
                    "the output is a refusal"
                } else {
                    "the output is not a refusal"
                },
            )
        }
        Kind::Perplexity | Kind::PerplexityScore => {
            let lps: Vec<f64> = s
                .logprobs
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t.first().map(|(_, lp)| *lp))
                .collect();
            if lps.is_empty() {
                return Some(Verdict::error(format!(
                    "{}: the provider returned no log-probabilities; set `logprobs: 0` in the prompt's model parameters (OpenAI-compatible providers return them)",
                    a.kind.as_str()
                )));
            }
            let ppl = (-(lps.iter().sum::<f64>() / lps.len() as f64)).exp();
            if a.kind == Kind::Perplexity {
                match a.threshold {
                    None => Verdict::bool(true, format!("perplexity {ppl:.2}")),
                    Some(t) => {
                        Verdict::bool(ppl <= t, format!("perplexity {ppl:.2} (at most {t})"))
                    }
                }
            } else {
                let norm = 1.0 / (1.0 + ppl);
                let mut v = match a.threshold {
                    None => Verdict::bool(true, format!("perplexity score {norm:.3}")),
                    Some(t) => Verdict::bool(
                        norm >= t,
                        format!("perplexity score {norm:.3} (at least {t})"),
                    ),
                };
                v.score = norm;
                v
            }
        }
        Kind::NoPii => {
            let found = find_pii(out);
            Verdict::bool(
                found.is_empty(),
                if found.is_empty() {
                    "no personal data found".to_string()
                } else {
                    format!("found {}", found.join(", "))
                },
            )
        }
        Kind::Cost => match s.cost_usd {
            None => Verdict::error(
                "cost: the model has no known price; add it under `pricing:` in llmops.yaml",
            ),
            Some(c) => {
                let max = a.threshold.unwrap_or(0.0);
                Verdict::bool(c <= max, format!("cost ${c:.6} (at most ${max})"))
            }
        },
        Kind::Latency => {
            let max = a.threshold.unwrap_or(0.0);
            Verdict::bool(
                s.latency_ms <= max,
                format!("latency {:.0} ms (at most {max} ms)", s.latency_ms),
            )
        }
        Kind::Exec => match &a.check {
            Check::Exec(cmd) => run_exec(cmd, s),
            _ => Verdict::error("exec: no command"),
        },
        _ => unreachable!("model-graded kinds return above"),
    };
    Some(negated(a, v))
}

/// `v` inverted for a `not-` assertion; an assertion that could not be evaluated stays ERROR.
fn negated(a: &Assertion, v: Verdict) -> Verdict {
    if a.negate && !v.error {
        Verdict {
            pass: !v.pass,
            score: 1.0 - v.score,
            reason: format!("not: {}", v.reason),
            error: false,
        }
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::{Assertion, RawAssertion};

    fn check(kind: &str, value: Value, out: &str) -> Verdict {
        let a = Assertion::from_raw(&RawAssertion {
            kind: kind.into(),
            value: Some(value),
            ..RawAssertion::default()
        })
        .unwrap();
        let case = json!({});
        let s = Subject {
            output: out,
            finish_reason: Some("stop"),
            logprobs: None,
            latency_ms: 120.0,
            cost_usd: Some(0.001),
            case: &case,
            workdir: std::path::Path::new("."),
            tool_calls: None,
            tools: None,
        };
        score(&a, &s).unwrap()
    }

    #[test]
    fn text_kinds() {
        assert!(check("contains", json!("refund"), "your refund is on its way").pass);
        assert!(!check("not-contains", json!("refund"), "your refund").pass);
        assert!(
            check(
                "icontains-all",
                json!(["REFUND", "days"]),
                "refund in 5 days"
            )
            .pass
        );
        // promptfoo scores `contains-all` 0 or 1, not by the share found.
        let partial = check("contains-all", json!(["a", "zz"]), "abc");
        assert!(!partial.pass && partial.score == 0.0);
        assert!(check("regex", json!("^\\d+$"), "123").pass);
        assert!(check("starts-with", json!("Hi"), "  Hi Ada").pass);
        assert!(check("equals", json!({"a": 1}), "{\"a\": 1}").pass);
    }

    #[test]
    fn json_kinds() {
        let schema = json!({"type": "object", "required": ["category"], "properties": {"category": {"enum": ["billing", "bug"]}}});
        assert!(check("json-schema", schema.clone(), "{\"category\": \"billing\"}").pass);
        let bad = check("json-schema", schema.clone(), "{\"category\": \"other\"}");
        assert!(
            !bad.pass && bad.reason.contains("category"),
            "{}",
            bad.reason
        );
        assert!(
            check(
                "contains-json",
                schema,
                "Sure! ```json\n{\"category\": \"bug\"}\n```"
            )
            .pass
        );
        assert!(!check("is-json", Value::Null, "```json\n{}\n```").pass);
        let mut a = RawAssertion {
            kind: "json-path".into(),
            value: Some(json!("billing")),
            path: Some("$.category".into()),
            ..RawAssertion::default()
        };
        let a2 = Assertion::from_raw(&a).unwrap();
        let case = json!({});
        let s = Subject {
            output: "{\"category\":\"billing\",\"n\":3}",
            finish_reason: None,
            logprobs: None,
            latency_ms: 1.0,
            cost_usd: None,
            case: &case,
            workdir: std::path::Path::new("."),
            tool_calls: None,
            tools: None,
        };
        assert!(score(&a2, &s).unwrap().pass);
        a.path = Some("$.n".into());
        a.value = Some(json!(3));
        assert!(score(&Assertion::from_raw(&a).unwrap(), &s).unwrap().pass);
    }

    #[test]
    fn refusal_and_pii() {
        assert!(is_refusal("I'm sorry, but I can't help with that.", None));
        assert!(is_refusal("I cannot assist with creating malware.", None));
        assert!(!is_refusal("Sure! Your refund was issued on Monday.", None));
        assert!(is_refusal(
            "I\u{2019}m sorry, but I can\u{2019}t help with that.",
            None
        ));
        assert!(!is_refusal(
            "I can't share a timeline yet, but the team is on it.",
            None
        ));
        assert!(!is_refusal(
            "I cannot provide a date for the fix; I'll update you Friday.",
            None
        ));
        assert!(find_pii("mail me at ada@example.com").contains(&"email address"));
        assert!(find_pii("card 4111 1111 1111 1111").contains(&"card number"));
        assert!(find_pii("call +1 415 555 0100").contains(&"phone number"));
        assert!(
            find_pii("order 1234567890123 shipped").is_empty(),
            "not a Luhn number"
        );
        assert!(find_pii("Hi Ada, thanks for your patience.").is_empty());
        assert_eq!(
            redact_pii("mail ada@example.com or call +1 415 555 0100"),
            "mail [email] or call [phone]"
        );
        assert_eq!(
            redact_pii("card 4111 1111 1111 1111, order 1234567890123"),
            "card [card], order 1234567890123"
        );
    }

    #[test]
    fn numbers_lengths_and_exec() {
        let a = Assertion::from_raw(&RawAssertion {
            kind: "number".into(),
            value: Some(json!(42)),
            tolerance: Some(0.5),
            ..RawAssertion::default()
        })
        .unwrap();
        let case = json!({"id": "x"});
        let s = Subject {
            output: "The answer is 42.3",
            finish_reason: None,
            logprobs: None,
            latency_ms: 1.0,
            cost_usd: None,
            case: &case,
            workdir: std::path::Path::new("."),
            tool_calls: None,
            tools: None,
        };
        assert!(score(&a, &s).unwrap().pass);
        assert!(check("max-length", json!(5), "hello").pass);
        assert!(!check("min-length", json!(6), "hello").pass);
        let e = check(
            "exec",
            json!("cat >/dev/null; echo '{\"pass\": true, \"score\": 0.7, \"reason\": \"ok\"}'"),
            "x",
        );
        assert!(e.pass && e.score == 0.7, "{e:?}");
        let e = check("exec", json!("exit 3"), "x");
        assert!(e.error);
        let e = check("exec", json!("echo nope"), "x");
        assert!(e.error && e.reason.contains("not"), "{e:?}");
    }
}
