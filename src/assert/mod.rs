//! Assertion kinds and their validation. Names follow promptfoo where the meaning is the same.
//! Scoring arrives with the eval engine; this module makes sure every assertion in a suite is
//! well-formed before anything runs.

pub mod score;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every assertion kind llmops knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Exact match.
    Equals,
    /// Substring.
    Contains,
    /// Case-insensitive substring.
    Icontains,
    /// Any of several substrings.
    ContainsAny,
    /// All of several substrings.
    ContainsAll,
    /// Any of several substrings, ignoring case.
    IcontainsAny,
    /// All of several substrings, ignoring case.
    IcontainsAll,
    /// Regular expression.
    Regex,
    /// Prefix.
    StartsWith,
    /// The output is JSON (optionally matching a schema).
    IsJson,
    /// The output contains JSON (optionally matching a schema).
    ContainsJson,
    /// The output is JSON matching a schema.
    JsonSchema,
    /// A value at a JSON path.
    JsonPath,
    /// Edit distance to a reference.
    Levenshtein,
    /// A number within a tolerance.
    Number,
    /// At most N characters.
    MaxLength,
    /// At least N characters.
    MinLength,
    /// The provider's finish reason.
    FinishReason,
    /// The model refused.
    IsRefusal,
    /// No e-mail, phone or card numbers.
    NoPii,
    /// Cost of the call at most a threshold.
    Cost,
    /// Latency of the call at most a threshold.
    Latency,
    /// Embedding similarity to a reference.
    Similar,
    /// An external program decides.
    Exec,
    /// Judge against a rubric.
    LlmRubric,
    /// Judge factual consistency with a reference.
    Factuality,
    /// Judge with criteria and evaluation steps.
    GEval,
    /// Judge whether a criterion is met.
    ModelGradedClosedqa,
    /// Judge whether the answer addresses the question.
    AnswerRelevance,
    /// Judge with a custom set of choices.
    Classifier,
    /// Judge candidate against baseline output.
    Pairwise,
    /// Judge: share of the output's claims the retrieved context supports.
    ContextFaithfulness,
    /// Judge: share of the ground truth's statements the retrieved context supports.
    ContextRecall,
    /// Judge: share of the retrieved context needed to answer the query.
    ContextRelevance,
    /// Judge: share of conversation windows whose last reply is relevant.
    ConversationRelevance,
}

/// Kind names as written in files.
pub const KINDS: &[(&str, Kind)] = &[
    ("equals", Kind::Equals),
    ("contains", Kind::Contains),
    ("icontains", Kind::Icontains),
    ("contains-any", Kind::ContainsAny),
    ("contains-all", Kind::ContainsAll),
    ("icontains-any", Kind::IcontainsAny),
    ("icontains-all", Kind::IcontainsAll),
    ("regex", Kind::Regex),
    ("starts-with", Kind::StartsWith),
    ("is-json", Kind::IsJson),
    ("contains-json", Kind::ContainsJson),
    ("json-schema", Kind::JsonSchema),
    ("json-path", Kind::JsonPath),
    ("levenshtein", Kind::Levenshtein),
    ("number", Kind::Number),
    ("max-length", Kind::MaxLength),
    ("min-length", Kind::MinLength),
    ("finish-reason", Kind::FinishReason),
    ("is-refusal", Kind::IsRefusal),
    ("no-pii", Kind::NoPii),
    ("cost", Kind::Cost),
    ("latency", Kind::Latency),
    ("similar", Kind::Similar),
    ("exec", Kind::Exec),
    ("llm-rubric", Kind::LlmRubric),
    ("factuality", Kind::Factuality),
    ("g-eval", Kind::GEval),
    ("model-graded-closedqa", Kind::ModelGradedClosedqa),
    ("answer-relevance", Kind::AnswerRelevance),
    ("classifier", Kind::Classifier),
    ("pairwise", Kind::Pairwise),
    ("context-faithfulness", Kind::ContextFaithfulness),
    ("context-recall", Kind::ContextRecall),
    ("context-relevance", Kind::ContextRelevance),
    ("conversation-relevance", Kind::ConversationRelevance),
];

impl Kind {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .expect("every kind is in KINDS")
    }

    /// Graded by a model rather than by code.
    pub fn is_model_graded(self) -> bool {
        matches!(
            self,
            Kind::LlmRubric
                | Kind::Factuality
                | Kind::GEval
                | Kind::ModelGradedClosedqa
                | Kind::AnswerRelevance
                | Kind::Classifier
                | Kind::Pairwise
                | Kind::ContextFaithfulness
                | Kind::ContextRecall
                | Kind::ContextRelevance
                | Kind::ConversationRelevance
        )
    }

    fn negatable(self) -> bool {
        !self.is_model_graded() && !matches!(self, Kind::Cost | Kind::Latency)
    }
}

/// An assertion as written (YAML suite, JSONL row or CSV shorthand).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawAssertion {
    /// Kind, optionally with the `not-` prefix.
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind's argument.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Pass mark (meaning depends on the kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Weight in the case score (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Named metric this assertion feeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// A pass->fail flip fails the gate outright.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<bool>,
    /// Judge provider override (model-graded kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// JSON path (`json-path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Allowed difference (`number`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// Time limit in seconds (`exec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// Show the judge the rendered prompt too (model-graded kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_prompt: Option<bool>,
}

/// A validated assertion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assertion {
    /// What is checked.
    pub kind: Kind,
    /// `not-` prefix given.
    pub negate: bool,
    /// The checked argument.
    pub value: Option<Value>,
    /// Pass mark.
    pub threshold: Option<f64>,
    /// Weight in the case score.
    pub weight: f64,
    /// Named metric.
    pub metric: Option<String>,
    /// Gate-critical.
    pub critical: bool,
    /// Judge provider override.
    pub provider: Option<String>,
    /// JSON path.
    pub path: Option<String>,
    /// Numeric tolerance.
    pub tolerance: Option<f64>,
    /// Exec time limit.
    pub timeout_s: Option<f64>,
    /// The judge sees the rendered prompt too.
    pub include_prompt: bool,
}

/// Why an assertion is malformed: a message and an optional hint.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: Option<String>,
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid {
        message: message.into(),
        help: None,
    }
}

/// Look a kind name up, with a suggestion when it is unknown.
pub fn parse_kind(name: &str) -> Result<(Kind, bool), Invalid> {
    let (negate, base) = match name.strip_prefix("not-") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    if let Some((_, k)) = KINDS.iter().find(|(n, _)| *n == base) {
        if negate && !k.negatable() {
            return Err(invalid(format!("`{base}` cannot take the `not-` prefix")));
        }
        return Ok((*k, negate));
    }
    let mut names: Vec<String> = KINDS.iter().map(|(n, _)| n.to_string()).collect();
    names.extend(
        KINDS
            .iter()
            .filter(|(_, k)| k.negatable())
            .map(|(n, _)| format!("not-{n}")),
    );
    let help = crate::text::did_you_mean(name, names.iter().map(String::as_str))
        .or_else(|| Some("see docs/eval-suite-format.md for the assertion types".to_string()));
    Err(Invalid {
        message: format!("unknown assertion type `{name}`"),
        help,
    })
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .filter(|l| !l.is_empty()),
        Value::String(s) => Some(s.split(',').map(|p| p.trim().to_string()).collect()),
        _ => None,
    }
}

impl Assertion {
    /// Validate a raw assertion.
    pub fn from_raw(raw: &RawAssertion) -> Result<Assertion, Invalid> {
        let (kind, negate) = parse_kind(&raw.kind)?;
        let name = kind.as_str();
        let mut value = raw.value.clone();
        // `contains: 42` means the text "42".
        if matches!(
            kind,
            Kind::Contains
                | Kind::Icontains
                | Kind::StartsWith
                | Kind::Levenshtein
                | Kind::Similar
                | Kind::Regex
        ) {
            if let Some(v @ (Value::Number(_) | Value::Bool(_))) = &value {
                value = Some(Value::String(v.to_string()));
            }
        }
        let need_value = |what: &str| -> Result<&Value, Invalid> {
            value
                .as_ref()
                .filter(|v| !v.is_null())
                .ok_or_else(|| Invalid {
                    message: format!("`{name}` needs `value:` ({what})"),
                    help: None,
                })
        };
        match kind {
            Kind::Contains
            | Kind::Icontains
            | Kind::StartsWith
            | Kind::Levenshtein
            | Kind::Similar => {
                if !need_value("a string")?.is_string() {
                    return Err(invalid(format!("`{name}`: `value` must be a string")));
                }
            }
            Kind::Equals | Kind::JsonPath | Kind::Factuality | Kind::ModelGradedClosedqa => {
                need_value("the expected value")?;
            }
            Kind::ContainsAny | Kind::ContainsAll | Kind::IcontainsAny | Kind::IcontainsAll => {
                if string_list(need_value("a list of strings")?).is_none() {
                    return Err(invalid(format!(
                        "`{name}`: `value` must be a list of strings"
                    )));
                }
            }
            Kind::Regex => {
                let Some(pattern) = need_value("a regular expression")?.as_str() else {
                    return Err(invalid("`regex`: `value` must be a string"));
                };
                if let Err(e) = regex::Regex::new(pattern) {
                    return Err(Invalid {
                        message: format!("`regex`: invalid regular expression: {}", e.to_string().lines().last().unwrap_or("")),
                        help: Some("the syntax is Rust's `regex` crate (no look-around or back-references)".into()),
                    });
                }
            }
            Kind::IsJson | Kind::ContainsJson => {
                if let Some(v) = &value {
                    if !v.is_object() && !v.is_null() {
                        return Err(invalid(format!(
                            "`{name}`: `value`, when given, must be a JSON schema object"
                        )));
                    }
                }
            }
            Kind::JsonSchema => {
                if !need_value("a JSON schema")?.is_object() {
                    return Err(invalid(
                        "`json-schema`: `value` must be a JSON schema object",
                    ));
                }
            }
            Kind::Number => {
                if !need_value("a number")?.is_number() {
                    return Err(invalid("`number`: `value` must be a number"));
                }
            }
            Kind::MaxLength | Kind::MinLength => {
                if need_value("a number of characters")?.as_u64().is_none() {
                    return Err(invalid(format!(
                        "`{name}`: `value` must be a whole number of characters"
                    )));
                }
            }
            Kind::FinishReason => {
                const REASONS: &[&str] = &["stop", "length", "tool_calls", "content_filter"];
                let v = need_value("stop, length, tool_calls or content_filter")?;
                match v.as_str() {
                    Some(r) if REASONS.contains(&r) => {}
                    _ => {
                        return Err(Invalid {
                            message: format!("`finish-reason`: unknown reason {v}"),
                            help: v.as_str().and_then(|r| {
                                crate::text::did_you_mean(r, REASONS.iter().copied())
                            }),
                        })
                    }
                }
            }
            Kind::IsRefusal | Kind::NoPii | Kind::AnswerRelevance => {}
            Kind::Cost | Kind::Latency => {
                if raw.threshold.is_none() {
                    let unit = if kind == Kind::Cost {
                        "USD per call"
                    } else {
                        "milliseconds"
                    };
                    return Err(invalid(format!(
                        "`{name}` needs `threshold:` (the maximum, in {unit})"
                    )));
                }
            }
            Kind::Exec => match need_value("a command")? {
                Value::String(s) if !s.trim().is_empty() => {}
                Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_string) => {}
                _ => {
                    return Err(invalid(
                        "`exec`: `value` must be a command string or a list of arguments",
                    ))
                }
            },
            Kind::LlmRubric => {
                if !need_value("the rubric")?.is_string() {
                    return Err(invalid("`llm-rubric`: `value` must be the rubric text"));
                }
            }
            Kind::GEval => {
                let v = need_value("the criteria")?;
                if !v.is_string() && string_list(v).is_none() {
                    return Err(invalid(
                        "`g-eval`: `value` must be criteria text or a list of evaluation steps",
                    ));
                }
            }
            Kind::Classifier => {
                let v = need_value("{choices: {label: score}, question: text}")?;
                let choices = v.get("choices").and_then(Value::as_object);
                if choices.is_none_or(|c| c.is_empty() || !c.values().all(Value::is_number)) {
                    return Err(invalid(
                        "`classifier`: `value.choices` must map each label to a score",
                    ));
                }
            }
            Kind::Pairwise
            | Kind::ContextFaithfulness
            | Kind::ContextRelevance
            | Kind::ConversationRelevance => {}
            Kind::ContextRecall => {
                if !need_value("the ground-truth answer")?.is_string() {
                    return Err(invalid(
                        "`context-recall`: `value` must be the ground-truth answer text",
                    ));
                }
            }
        }
        if raw.path.is_some() && kind != Kind::JsonPath {
            return Err(invalid(format!(
                "`path` only applies to `json-path`, not `{name}`"
            )));
        }
        if kind == Kind::JsonPath {
            match raw.path.as_deref() {
                Some(p) if p.starts_with('$') => {}
                Some(p) => {
                    return Err(invalid(format!(
                        "`json-path`: path `{p}` must start with `$`"
                    )))
                }
                None => {
                    return Err(invalid(
                        "`json-path` needs `path:` (for example `$.category`)",
                    ))
                }
            }
        }
        if raw.tolerance.is_some() && kind != Kind::Number {
            return Err(invalid(format!(
                "`tolerance` only applies to `number`, not `{name}`"
            )));
        }
        if raw.timeout_s.is_some() && kind != Kind::Exec {
            return Err(invalid(format!(
                "`timeout_s` only applies to `exec`, not `{name}`"
            )));
        }
        if raw.provider.is_some() && !kind.is_model_graded() && kind != Kind::Similar {
            return Err(invalid(format!(
                "`provider` only applies to model-graded assertions, not `{name}`"
            )));
        }
        if raw.include_prompt.is_some() && !kind.is_model_graded() {
            return Err(invalid(format!(
                "`include_prompt` only applies to model-graded assertions, not `{name}`"
            )));
        }
        if let Some(w) = raw.weight {
            if !(w.is_finite() && w >= 0.0) {
                return Err(invalid("`weight` must be a number of 0 or more"));
            }
        }
        if let Some(t) = raw.threshold {
            let in_unit = matches!(
                kind,
                Kind::LlmRubric
                    | Kind::GEval
                    | Kind::Similar
                    | Kind::Factuality
                    | Kind::ModelGradedClosedqa
                    | Kind::AnswerRelevance
                    | Kind::Classifier
                    | Kind::Pairwise
                    | Kind::ContextFaithfulness
                    | Kind::ContextRecall
                    | Kind::ContextRelevance
                    | Kind::ConversationRelevance
            );
            if !t.is_finite() || t < 0.0 || (in_unit && t > 1.0) {
                return Err(invalid(format!(
                    "`threshold` for `{name}` must be {}",
                    if in_unit {
                        "between 0 and 1"
                    } else {
                        "0 or more"
                    }
                )));
            }
        }
        Ok(Assertion {
            kind,
            negate,
            value,
            threshold: raw.threshold,
            weight: raw.weight.unwrap_or(1.0),
            metric: raw.metric.clone(),
            critical: raw.critical.unwrap_or(false),
            provider: raw.provider.clone(),
            path: raw.path.clone(),
            tolerance: raw.tolerance,
            timeout_s: raw.timeout_s,
            include_prompt: raw.include_prompt.unwrap_or(false),
        })
    }

    /// The name as written, with `not-` when negated.
    pub fn display_kind(&self) -> String {
        if self.negate {
            format!("not-{}", self.kind.as_str())
        } else {
            self.kind.as_str().to_string()
        }
    }
}

/// Parse the CSV `__expected` shorthand: `contains: refund`, `not-regex: ^x`, or plain text
/// meaning `equals`.
pub fn from_shorthand(text: &str) -> RawAssertion {
    if let Some((head, rest)) = text.split_once(':') {
        let head = head.trim();
        if parse_kind(head).is_ok() {
            let rest = rest.trim();
            let value = if rest.is_empty() {
                None
            } else {
                Some(Value::String(rest.to_string()))
            };
            return RawAssertion {
                kind: head.to_string(),
                value,
                ..RawAssertion::default()
            };
        }
    }
    RawAssertion {
        kind: "equals".into(),
        value: Some(Value::String(text.to_string())),
        ..RawAssertion::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: &str, value: Option<Value>) -> RawAssertion {
        RawAssertion {
            kind: kind.into(),
            value,
            ..RawAssertion::default()
        }
    }

    #[test]
    fn unknown_kind_suggests() {
        let e = Assertion::from_raw(&raw("contians", None)).unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean `contains`?"));
        let e = Assertion::from_raw(&raw("not-contians", None)).unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean `not-contains`?"));
    }

    #[test]
    fn validates_values() {
        assert!(Assertion::from_raw(&raw("regex", Some("(".into()))).is_err());
        assert!(Assertion::from_raw(&raw("regex", Some("^a+$".into()))).is_ok());
        assert!(Assertion::from_raw(&raw("not-llm-rubric", Some("x".into()))).is_err());
        assert!(Assertion::from_raw(&raw("cost", None)).is_err());
        assert!(Assertion::from_raw(&raw("max-length", Some(Value::from(-1)))).is_err());
        assert!(
            Assertion::from_raw(&raw("contains-any", Some(serde_json::json!(["a", "b"])))).is_ok()
        );
        let mut jp = raw("json-path", Some("refund".into()));
        assert!(Assertion::from_raw(&jp).is_err());
        jp.path = Some("$.category".into());
        assert!(Assertion::from_raw(&jp).is_ok());
        for (name, _) in KINDS {
            // every kind name parses (value checks aside)
            assert!(parse_kind(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn shorthand() {
        assert_eq!(from_shorthand("contains: refund").kind, "contains");
        assert_eq!(from_shorthand("Paris").kind, "equals");
        assert_eq!(from_shorthand("time: 10:30").kind, "equals");
    }
}
