//! Assertion kinds and their validation. Names follow promptfoo where the meaning is the same.
//! Scoring arrives with the eval engine; this module makes sure every assertion in a suite is
//! well-formed before anything runs.

#[cfg(test)]
mod conformance;
pub mod cross;
pub mod exec;
pub mod html;
pub mod ngram;
pub mod python;
pub mod refusal;
pub mod score;
pub mod sql;
pub mod tools;
pub mod xml;

use std::sync::Arc;

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
    /// Suffix.
    EndsWith,
    /// A number of words, exact or within `{min, max}`.
    WordCount,
    /// A number of characters, exact or within `{min, max}`.
    CharacterCount,
    /// The output is JSON (optionally matching a schema).
    IsJson,
    /// The output contains JSON (optionally matching a schema).
    ContainsJson,
    /// The output is well-formed XML (optionally with required elements).
    IsXml,
    /// The output contains well-formed XML (optionally with required elements).
    ContainsXml,
    /// The output contains HTML.
    ContainsHtml,
    /// The whole output is HTML.
    IsHtml,
    /// The output is SQL (a dialect, allowed tables and columns).
    IsSql,
    /// The output holds SQL (a fenced block, else the whole output).
    ContainsSql,
    /// The output is JSON matching a schema.
    JsonSchema,
    /// A value at a JSON path.
    JsonPath,
    /// Edit distance to a reference.
    Levenshtein,
    /// BLEU-4 against one or more references.
    Bleu,
    /// Google-BLEU against one or more references.
    Gleu,
    /// ROUGE-N (unigram recall) against a reference.
    RougeN,
    /// METEOR against one or more references.
    Meteor,
    /// The provider's tool calls name declared tools with arguments matching their schemas.
    IsValidOpenaiToolsCall,
    /// The function call names a declared tool with arguments matching its schema.
    IsValidFunctionCall,
    /// F1 of the tools called against the expected tool names.
    ToolCallF1,
    /// A Python function decides.
    Python,
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
    /// Perplexity of the output from the provider's log-probabilities, at most a threshold.
    Perplexity,
    /// 1 / (1 + perplexity), at least a threshold.
    PerplexityScore,
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
    /// A group of assertions with its own threshold and weight.
    AssertSet,
    /// Judge: the best of the variants' outputs for the same case passes.
    SelectBest,
    /// The variant whose other assertions score highest passes.
    MaxScore,
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
    ("ends-with", Kind::EndsWith),
    ("word-count", Kind::WordCount),
    ("character-count", Kind::CharacterCount),
    ("is-json", Kind::IsJson),
    ("contains-json", Kind::ContainsJson),
    ("is-xml", Kind::IsXml),
    ("contains-xml", Kind::ContainsXml),
    ("contains-html", Kind::ContainsHtml),
    ("is-html", Kind::IsHtml),
    ("is-sql", Kind::IsSql),
    ("contains-sql", Kind::ContainsSql),
    ("json-schema", Kind::JsonSchema),
    ("json-path", Kind::JsonPath),
    ("levenshtein", Kind::Levenshtein),
    ("bleu", Kind::Bleu),
    ("gleu", Kind::Gleu),
    ("rouge-n", Kind::RougeN),
    ("meteor", Kind::Meteor),
    ("is-valid-openai-tools-call", Kind::IsValidOpenaiToolsCall),
    ("is-valid-function-call", Kind::IsValidFunctionCall),
    ("is-valid-openai-function-call", Kind::IsValidFunctionCall),
    ("tool-call-f1", Kind::ToolCallF1),
    ("number", Kind::Number),
    ("max-length", Kind::MaxLength),
    ("min-length", Kind::MinLength),
    ("finish-reason", Kind::FinishReason),
    ("is-refusal", Kind::IsRefusal),
    ("perplexity", Kind::Perplexity),
    ("perplexity-score", Kind::PerplexityScore),
    ("no-pii", Kind::NoPii),
    ("cost", Kind::Cost),
    ("latency", Kind::Latency),
    ("similar", Kind::Similar),
    ("similar:cosine", Kind::Similar),
    ("similar:dot", Kind::Similar),
    ("similar:euclidean", Kind::Similar),
    ("exec", Kind::Exec),
    ("python", Kind::Python),
    ("llm-rubric", Kind::LlmRubric),
    ("factuality", Kind::Factuality),
    ("model-graded-factuality", Kind::Factuality),
    ("g-eval", Kind::GEval),
    ("model-graded-closedqa", Kind::ModelGradedClosedqa),
    ("answer-relevance", Kind::AnswerRelevance),
    ("classifier", Kind::Classifier),
    ("pairwise", Kind::Pairwise),
    ("context-faithfulness", Kind::ContextFaithfulness),
    ("context-recall", Kind::ContextRecall),
    ("context-relevance", Kind::ContextRelevance),
    ("conversation-relevance", Kind::ConversationRelevance),
    ("assert-set", Kind::AssertSet),
    ("select-best", Kind::SelectBest),
    ("max-score", Kind::MaxScore),
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

    /// A string or number check that takes microseconds on a short output: the engine scores
    /// it on the async worker instead of handing it to the scoring pool. A kind not listed
    /// takes the pool, which is always correct.
    pub fn is_cheap(self) -> bool {
        matches!(
            self,
            Kind::Equals
                | Kind::Contains
                | Kind::Icontains
                | Kind::ContainsAny
                | Kind::ContainsAll
                | Kind::IcontainsAny
                | Kind::IcontainsAll
                | Kind::StartsWith
                | Kind::EndsWith
                | Kind::WordCount
                | Kind::CharacterCount
                | Kind::MaxLength
                | Kind::MinLength
                | Kind::FinishReason
                | Kind::IsRefusal
                | Kind::Cost
                | Kind::Latency
        )
    }

    /// Decided across a case's variants, after every variant is scored.
    pub fn is_cross_variant(self) -> bool {
        matches!(self, Kind::SelectBest | Kind::MaxScore)
    }

    fn negatable(self) -> bool {
        !self.is_model_graded()
            && !self.is_cross_variant()
            && !matches!(self, Kind::Cost | Kind::Latency | Kind::AssertSet)
    }
}

/// An assertion as written (YAML suite, JSONL row or CSV shorthand).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawAssertion {
    /// Kind, optionally with the `not-` prefix.
    #[serde(rename = "type")]
    pub kind: String,
    /// The grouped assertions (`assert-set`).
    #[serde(default, rename = "assert", skip_serializing_if = "Option::is_none")]
    pub assert: Option<Vec<RawAssertion>>,
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
    /// METEOR's precision/recall balance (`meteor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// METEOR's penalty exponent (`meteor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// METEOR's penalty weight (`meteor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
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
    /// The value compiled once, when the suite loads.
    #[serde(skip)]
    pub check: Check,
}

/// An assertion's value in the form it is checked with, built once by [`Assertion::from_raw`]
/// so that lint and the engine share it and nothing is recompiled per sample.
#[derive(Clone, Default)]
pub enum Check {
    /// Nothing to prepare.
    #[default]
    Plain,
    /// The grouped assertions of `assert-set`, each validated.
    Set(Arc<[Assertion]>),
    /// The options of `max-score`.
    MaxScore(cross::MaxScoreOptions),
    /// The strings of `contains-any` and its kin, parsed from a list or a CSV record.
    Needles(Arc<[String]>),
    /// A compiled regular expression.
    Regex(regex::Regex),
    /// A compiled JSON Schema validator (formats checked).
    Schema(Arc<jsonschema::Validator>),
    /// A parsed `exec` command.
    Exec(Arc<exec::ExecCommand>),
    /// Bounds of `word-count` and `character-count` (equal for an exact count).
    Count {
        /// At least.
        min: Option<u64>,
        /// At most.
        max: Option<u64>,
    },
    /// A finish reason in its normal form.
    Reason(String),
    /// A compiled JSONPath.
    JsonPath(Arc<serde_json_path::JsonPath>),
    /// How `similar` compares embeddings (`similar:dot`, `similar:euclidean`).
    Similarity(Metric),
    /// Reference texts of `bleu` and `gleu`.
    References(Arc<[String]>),
    /// Required element paths of `is-xml` and `contains-xml`, split at the dots.
    XmlPaths(Arc<[Vec<String>]>),
    /// Dialect and allowed tables and columns of `is-sql` and `contains-sql`.
    Sql(Arc<sql::SqlSpec>),
    /// References and weights of `meteor`.
    Meteor(Arc<[String]>, ngram::MeteorParams),
    /// The expected tool names of `tool-call-f1`.
    ToolNames(Arc<std::collections::BTreeSet<String>>),
    /// A `python` function or inline code.
    Python(Arc<python::Python>),
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Plain => f.write_str("Plain"),
            Check::Set(items) => f.debug_tuple("Set").field(items).finish(),
            Check::MaxScore(o) => f.debug_tuple("MaxScore").field(o).finish(),
            Check::Needles(n) => f.debug_tuple("Needles").field(n).finish(),
            Check::Regex(r) => f.debug_tuple("Regex").field(&r.as_str()).finish(),
            Check::Schema(_) => f.write_str("Schema"),
            Check::Exec(e) => f.debug_tuple("Exec").field(e).finish(),
            Check::Count { min, max } => f
                .debug_struct("Count")
                .field("min", min)
                .field("max", max)
                .finish(),
            Check::Reason(r) => f.debug_tuple("Reason").field(r).finish(),
            Check::XmlPaths(p) => f.debug_tuple("XmlPaths").field(p).finish(),
            Check::References(r) => f.debug_tuple("References").field(r).finish(),
            Check::Similarity(m) => f.debug_tuple("Similarity").field(m).finish(),
            Check::JsonPath(p) => f.debug_tuple("JsonPath").field(&p.to_string()).finish(),
            Check::Sql(s) => f.debug_tuple("Sql").field(s).finish(),
            Check::Meteor(r, p) => f.debug_tuple("Meteor").field(r).field(p).finish(),
            Check::ToolNames(n) => f.debug_tuple("ToolNames").field(n).finish(),
            Check::Python(p) => f.debug_tuple("Python").field(&p.source).finish(),
        }
    }
}

/// Two checks built from equal assertions are equal; the assertion's own fields decide.
impl PartialEq for Check {
    fn eq(&self, _: &Check) -> bool {
        true
    }
}

/// How `similar` compares two embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity: at least `threshold` passes.
    Cosine,
    /// Dot product: at least `threshold` passes.
    Dot,
    /// Euclidean distance: at most `threshold` passes; the score is 1 / (1 + distance).
    Euclidean,
}

/// `similar`'s pass mark when no `threshold` is given (promptfoo's default).
pub const SIMILAR_THRESHOLD: f64 = 0.75;

/// Finish reasons as llmops reports them.
pub const FINISH_REASONS: &[&str] = &["stop", "length", "tool_calls", "content_filter"];

/// A provider's finish reason in llmops' terms: case is ignored and the names other APIs use
/// (Anthropic's `end_turn`, `max_tokens`, `tool_use`; Gemini's `MAX_TOKENS`, `SAFETY`) map to
/// `stop`, `length`, `tool_calls` and `content_filter`.
pub fn normalize_finish_reason(reason: &str) -> String {
    let r = reason.trim().to_ascii_lowercase();
    match r.as_str() {
        "end_turn" | "stop_sequence" | "end" | "eos" | "complete" | "completed" => "stop",
        "max_tokens" | "max_output_tokens" | "max_length" | "incomplete" => "length",
        "tool_use" | "tool_call" | "function_call" | "tool_calls" => "tool_calls",
        "refusal" | "safety" | "content_filtered" | "blocklist" | "prohibited_content" => {
            "content_filter"
        }
        _ => return r,
    }
    .to_string()
}

/// Parse a comma-separated `value` as promptfoo does: one CSV record whose fields may be
/// quoted (`"hello, world"`), with a quote inside a quoted field doubled (`""`) or escaped
/// (`\"`), whitespace around fields ignored, and empty unquoted entries dropped.
pub fn parse_list(text: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    while i < chars.len() {
        // Separators, with repeated commas giving no entry.
        loop {
            i = skip_ws(i);
            if i < chars.len() && chars[i] == ',' {
                i += 1;
            } else {
                break;
            }
        }
        if i >= chars.len() {
            break;
        }
        if chars[i] == '"' {
            i += 1;
            let mut field = String::new();
            let mut closed = false;
            while i < chars.len() {
                match (chars[i], chars.get(i + 1)) {
                    ('\\', Some(&c @ ('"' | '\\'))) => {
                        field.push(c);
                        i += 2;
                    }
                    ('"', Some('"')) => {
                        field.push('"');
                        i += 2;
                    }
                    ('"', _) => {
                        i += 1;
                        closed = true;
                        break;
                    }
                    (c, _) => {
                        field.push(c);
                        i += 1;
                    }
                }
            }
            if !closed {
                return Err("a quoted entry has no closing `\"`".into());
            }
            i = skip_ws(i);
            if i < chars.len() && chars[i] != ',' {
                return Err("a quoted entry must be followed by a comma".into());
            }
            out.push(field);
        } else {
            let start = i;
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
            out.push(
                chars[start..i]
                    .iter()
                    .collect::<String>()
                    .trim()
                    .to_string(),
            );
        }
    }
    Ok(out)
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
        Value::String(s) => parse_list(s).ok().filter(|l| !l.is_empty()),
        _ => None,
    }
}

/// The entries of a `contains-any`-style value: a list of strings (numbers allowed, as
/// promptfoo allows them) or one comma-separated string. Empty entries cannot be meant: an
/// empty string is in every output, so they are rejected.
fn needles(name: &str, v: &Value) -> Result<Vec<String>, Invalid> {
    let list = match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid(format!("`{name}`: `value` must be a list of strings")))?,
        Value::String(s) => parse_list(s).map_err(|e| Invalid {
            message: format!("`{name}`: cannot read the comma-separated value: {e}"),
            help: Some("quote an entry that holds a comma: `\"hello, world\", universe`".into()),
        })?,
        _ => {
            return Err(invalid(format!(
                "`{name}`: `value` must be a list of strings"
            )))
        }
    };
    if list.is_empty() {
        return Err(invalid(format!("`{name}`: `value` has no entries")));
    }
    if list.iter().any(String::is_empty) {
        return Err(Invalid {
            message: format!("`{name}`: `value` has an empty entry, which every output contains"),
            help: Some("remove the empty entry (a stray comma or `\"\"`)".into()),
        });
    }
    Ok(list)
}

/// A JSON Schema given as an object, or as a string holding JSON or YAML (as promptfoo
/// accepts it), compiled with `format` checked.
fn schema(name: &str, v: &Value) -> Result<Arc<jsonschema::Validator>, Invalid> {
    let parsed;
    let schema = match v {
        Value::Object(_) | Value::Bool(_) => v,
        Value::String(s) if s.trim_start().starts_with("file://") => {
            return Err(Invalid {
                message: format!("`{name}`: schema files (`file://`) are not read"),
                help: Some(
                    "write the schema in the suite; YAML anchors let assertions share it".into(),
                ),
            })
        }
        Value::String(s) => {
            parsed = serde_saphyr::from_str::<Value>(s).map_err(|e| Invalid {
                message: format!("`{name}`: the schema string is not JSON or YAML: {e}"),
                help: None,
            })?;
            if !parsed.is_object() {
                return Err(invalid(format!(
                    "`{name}`: the schema string must hold a JSON schema object"
                )));
            }
            &parsed
        }
        _ => {
            return Err(invalid(format!(
                "`{name}`: `value` must be a JSON schema object"
            )))
        }
    };
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map(Arc::new)
        .map_err(|e| Invalid {
            message: format!("`{name}`: invalid JSON schema: {e}"),
            help: None,
        })
}

/// Required element paths: `a.b, c` (split at commas, as promptfoo does), a list, or
/// `{requiredElements: [...]}`; none when no value is given.
fn xml_paths(name: &str, v: Option<&Value>) -> Result<Vec<Vec<String>>, Invalid> {
    let bad = || {
        invalid(format!(
            "`{name}`: `value` must be element paths (`root.child`): a comma-separated string, a list, or `{{requiredElements: [...]}}`"
        ))
    };
    let list: Vec<String> = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(bad)?,
        Some(Value::Object(m)) if m.len() == 1 => match m.get("requiredElements") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(bad)?,
            _ => return Err(bad()),
        },
        Some(_) => return Err(bad()),
    };
    if list.is_empty() {
        return Err(bad());
    }
    list.iter()
        .map(|p| {
            let parts: Vec<String> = p.split('.').map(str::to_string).collect();
            if parts.iter().any(|x| x.trim().is_empty() || x.trim() != x) {
                Err(invalid(format!(
                    "`{name}`: `{p}` is not an element path (names joined by dots, like `root.child`)"
                )))
            } else {
                Ok(parts)
            }
        })
        .collect()
}

/// `{min, max}` or an exact count, for `word-count` and `character-count`.
fn count_bounds(name: &str, v: &Value) -> Result<Check, Invalid> {
    let bad = || {
        invalid(format!(
            "`{name}`: `value` must be a whole number or `{{min, max}}` of whole numbers"
        ))
    };
    let whole = |x: &Value| -> Result<u64, Invalid> {
        match x {
            Value::Number(n) => n.as_u64().ok_or_else(bad),
            Value::String(s) => s.trim().parse::<u64>().map_err(|_| bad()),
            _ => Err(bad()),
        }
    };
    match v {
        Value::Object(m) => {
            if let Some(k) = m.keys().find(|k| *k != "min" && *k != "max") {
                return Err(invalid(format!(
                    "`{name}`: unknown field `{k}` (use `min` and `max`)"
                )));
            }
            let min = m.get("min").map(&whole).transpose()?;
            let max = m.get("max").map(&whole).transpose()?;
            match (min, max) {
                (None, None) => Err(invalid(format!("`{name}`: give `min`, `max` or both"))),
                (Some(a), Some(b)) if a > b => Err(invalid(format!(
                    "`{name}`: `min` ({a}) is more than `max` ({b}), so no output can pass"
                ))),
                _ => Ok(Check::Count { min, max }),
            }
        }
        other => {
            let n = whole(other)?;
            Ok(Check::Count {
                min: Some(n),
                max: Some(n),
            })
        }
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
                | Kind::EndsWith
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
        let mut check = Check::Plain;
        match kind {
            Kind::Contains | Kind::Icontains | Kind::StartsWith | Kind::EndsWith => {
                match need_value("a string")? {
                    Value::String(s) if s.is_empty() => {
                        return Err(invalid(format!(
                            "`{name}`: `value` is empty, which every output {}",
                            if kind == Kind::EndsWith {
                                "ends with"
                            } else if kind == Kind::StartsWith {
                                "starts with"
                            } else {
                                "contains"
                            }
                        )))
                    }
                    Value::String(_) => {}
                    _ => return Err(invalid(format!("`{name}`: `value` must be a string"))),
                }
            }
            Kind::Levenshtein => {
                if !need_value("a string")?.is_string() {
                    return Err(invalid(format!("`{name}`: `value` must be a string")));
                }
            }
            Kind::Similar => {
                match need_value("a reference text or a list of them")? {
                    Value::String(s) if !s.trim().is_empty() => {}
                    Value::Array(items)
                        if !items.is_empty()
                            && items
                                .iter()
                                .all(|i| i.as_str().is_some_and(|s| !s.trim().is_empty())) => {}
                    _ => return Err(invalid(
                        "`similar`: `value` must be a reference text or a list of non-empty texts",
                    )),
                }
            }
            Kind::Bleu | Kind::Gleu => {
                let refs: Vec<String> = match need_value("a reference text or a list of them")? {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                if refs.is_empty() || refs.iter().any(|r| r.trim().is_empty()) {
                    return Err(invalid(format!(
                        "`{name}`: `value` must be a reference text or a list of non-empty texts"
                    )));
                }
                check = Check::References(refs.into());
            }
            Kind::WordCount | Kind::CharacterCount => {
                check = count_bounds(name, need_value("a count or {min, max}")?)?;
            }
            Kind::Equals | Kind::JsonPath | Kind::Factuality | Kind::ModelGradedClosedqa => {
                need_value("the expected value")?;
            }
            Kind::ContainsAny | Kind::ContainsAll | Kind::IcontainsAny | Kind::IcontainsAll => {
                let list = needles(name, need_value("a list of strings")?)?;
                check = Check::Needles(list.into());
            }
            Kind::Regex => {
                let Some(pattern) = need_value("a regular expression")?.as_str() else {
                    return Err(invalid("`regex`: `value` must be a string"));
                };
                if pattern.is_empty() {
                    return Err(invalid(
                        "`regex`: `value` is empty, which matches every output",
                    ));
                }
                match regex::Regex::new(pattern) {
                    Ok(re) => check = Check::Regex(re),
                    Err(e) => return Err(Invalid {
                        message: format!("`regex`: invalid regular expression: {}", e.to_string().lines().last().unwrap_or("")),
                        help: Some("the syntax is Rust's `regex` crate (no look-around or back-references)".into()),
                    }),
                }
            }
            Kind::IsJson | Kind::ContainsJson => {
                if let Some(v) = value.as_ref().filter(|v| !v.is_null()) {
                    check = Check::Schema(schema(name, v)?);
                }
            }
            Kind::IsXml | Kind::ContainsXml => {
                check = Check::XmlPaths(xml_paths(name, value.as_ref())?.into());
            }
            Kind::JsonSchema => {
                check = Check::Schema(schema(name, need_value("a JSON schema")?)?);
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
                let v = need_value("stop, length, tool_calls or content_filter")?;
                match v.as_str().map(normalize_finish_reason) {
                    Some(r) if FINISH_REASONS.contains(&r.as_str()) => check = Check::Reason(r),
                    _ => {
                        return Err(Invalid {
                            message: format!("`finish-reason`: unknown reason {v}"),
                            help: v.as_str().and_then(|r| {
                                crate::text::did_you_mean(r, FINISH_REASONS.iter().copied())
                            }),
                        })
                    }
                }
            }
            Kind::IsRefusal | Kind::NoPii | Kind::AnswerRelevance => {}
            Kind::ContainsHtml
            | Kind::IsHtml
            | Kind::IsValidOpenaiToolsCall
            | Kind::IsValidFunctionCall => {
                if value.as_ref().is_some_and(|v| !v.is_null()) {
                    return Err(invalid(format!("`{name}` takes no `value`")));
                }
            }
            Kind::IsSql | Kind::ContainsSql => {
                let spec = sql::SqlSpec::parse(value.as_ref()).map_err(|e| Invalid {
                    message: format!("`{name}`: {e}"),
                    help: Some("for example `value: {databaseType: PostgreSQL, allowedTables: ['select::null::orders']}`".into()),
                })?;
                check = Check::Sql(Arc::new(spec));
            }
            Kind::RougeN => match need_value("the reference text")? {
                Value::String(s) if !s.is_empty() => {}
                _ => {
                    return Err(invalid(
                        "`rouge-n`: `value` must be the reference text (one non-empty string)",
                    ))
                }
            },
            Kind::Meteor => {
                let refs: Vec<String> = match need_value("a reference text or a list of them")? {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                if refs.is_empty() || refs.iter().any(|r| r.trim().is_empty()) {
                    return Err(invalid(
                        "`meteor`: `value` must be a reference text or a list of non-empty texts",
                    ));
                }
                let mut p = ngram::MeteorParams::default();
                for (field, given, slot) in [
                    ("alpha", raw.alpha, &mut p.alpha),
                    ("beta", raw.beta, &mut p.beta),
                    ("gamma", raw.gamma, &mut p.gamma),
                ] {
                    if let Some(x) = given {
                        let ok = x.is_finite() && x >= 0.0 && (field == "beta" || x <= 1.0);
                        if !ok {
                            return Err(invalid(format!(
                                "`meteor`: `{field}` must be {}",
                                if field == "beta" {
                                    "0 or more"
                                } else {
                                    "between 0 and 1"
                                }
                            )));
                        }
                        *slot = x;
                    }
                }
                check = Check::Meteor(refs.into(), p);
            }
            Kind::ToolCallF1 => {
                let names: Vec<String> = match need_value("the expected tool names")? {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| match i {
                            Value::String(s) => s.trim().to_string(),
                            other => other.to_string(),
                        })
                        .collect(),
                    Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
                    _ => Vec::new(),
                };
                if names.is_empty() || names.iter().any(String::is_empty) {
                    return Err(invalid(
                        "`tool-call-f1`: `value` must be tool names: a list, or names separated by commas, none empty",
                    ));
                }
                check = Check::ToolNames(Arc::new(names.into_iter().collect()));
            }
            Kind::Python => {
                let py = python::Python::parse(
                    need_value("inline code or file://path.py")?,
                    raw.timeout_s,
                )
                .map_err(invalid)?;
                check = Check::Python(Arc::new(py));
            }
            Kind::Perplexity | Kind::PerplexityScore => {
                if value.as_ref().is_some_and(|v| !v.is_null()) {
                    return Err(Invalid {
                        message: format!("`{name}` takes no `value`"),
                        help: Some(format!(
                            "set the pass mark with `threshold:` ({})",
                            if kind == Kind::Perplexity {
                                "the highest perplexity that passes"
                            } else {
                                "the lowest score that passes, 0 to 1"
                            }
                        )),
                    });
                }
                if negate && raw.threshold.is_none() {
                    return Err(invalid(format!(
                        "`not-{name}` needs `threshold:`: without one `{name}` always passes"
                    )));
                }
                if kind == Kind::Perplexity && raw.threshold.is_some_and(|t| t < 1.0) {
                    return Err(invalid(
                        "`perplexity`: `threshold` must be 1 or more (perplexity is never below 1)",
                    ));
                }
            }
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
            Kind::Exec => {
                let cmd = exec::ExecCommand::parse(Some(need_value("a command")?), raw.timeout_s)
                    .map_err(invalid)?;
                check = Check::Exec(Arc::new(cmd));
            }
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
            Kind::AssertSet => check = Check::Set(cross::set_items(raw)?.into()),
            Kind::SelectBest => cross::check_select_best(raw)?,
            Kind::MaxScore => check = Check::MaxScore(cross::max_score_options(raw)?),
        }
        if raw.assert.is_some() && kind != Kind::AssertSet {
            return Err(invalid(format!(
                "`assert` only applies to `assert-set`, not `{name}`"
            )));
        }
        if raw.path.is_some() && kind != Kind::JsonPath {
            return Err(invalid(format!(
                "`path` only applies to `json-path`, not `{name}`"
            )));
        }
        if kind == Kind::JsonPath {
            match raw.path.as_deref() {
                Some(p) if p.starts_with('$') => match serde_json_path::JsonPath::parse(p) {
                    Ok(compiled) => check = Check::JsonPath(Arc::new(compiled)),
                    Err(e) => return Err(invalid(format!("`json-path`: invalid path `{p}`: {e}"))),
                },
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
        if raw.timeout_s.is_some() && !matches!(kind, Kind::Exec | Kind::Python) {
            return Err(invalid(format!(
                "`timeout_s` only applies to `exec` and `python`, not `{name}`"
            )));
        }
        if (raw.alpha.is_some() || raw.beta.is_some() || raw.gamma.is_some())
            && kind != Kind::Meteor
        {
            return Err(invalid(format!(
                "`alpha`, `beta` and `gamma` only apply to `meteor`, not `{name}`"
            )));
        }
        if raw.provider.is_some()
            && !kind.is_model_graded()
            && !matches!(kind, Kind::Similar | Kind::SelectBest)
        {
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
        if kind == Kind::Similar {
            let metric = match raw.kind.trim_start_matches("not-") {
                "similar:dot" => Metric::Dot,
                "similar:euclidean" => Metric::Euclidean,
                _ => Metric::Cosine,
            };
            check = Check::Similarity(metric);
        }
        // A dot product or a distance is not bounded by 1.
        let unbounded = matches!(check, Check::Similarity(Metric::Dot | Metric::Euclidean));
        if let Some(t) = raw.threshold.filter(|_| unbounded) {
            if !t.is_finite() || t < 0.0 {
                return Err(invalid(format!(
                    "`threshold` for `{}` must be 0 or more",
                    raw.kind.trim_start_matches("not-")
                )));
            }
        }
        if let Some(t) = raw.threshold.filter(|_| !unbounded) {
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
                    | Kind::PerplexityScore
                    | Kind::Bleu
                    | Kind::Gleu
                    | Kind::RougeN
                    | Kind::Meteor
                    | Kind::ToolCallF1
                    | Kind::ContextFaithfulness
                    | Kind::ContextRecall
                    | Kind::ContextRelevance
                    | Kind::ConversationRelevance
                    | Kind::AssertSet
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
            check,
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
        let file = raw("is-json", Some("file://schema.json".into()));
        let e = Assertion::from_raw(&file).unwrap_err();
        assert!(e.message.contains("file://"), "{}", e.message);
        // Compiled at load: a broken path is a lint error, not an ERROR per sample.
        jp.path = Some("$[?".into());
        assert!(Assertion::from_raw(&jp).is_err());
        for (name, _) in KINDS {
            // every kind name parses (value checks aside)
            assert!(parse_kind(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn finish_reasons_and_aliases() {
        for (given, normal) in [
            ("end_turn", "stop"),
            ("STOP", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("MAX_TOKENS", "length"),
            ("tool_use", "tool_calls"),
            ("SAFETY", "content_filter"),
            ("refusal", "content_filter"),
            ("Length", "length"),
        ] {
            assert_eq!(normalize_finish_reason(given), normal, "{given}");
        }
        assert!(Assertion::from_raw(&raw("finish-reason", Some("end_turn".into()))).is_ok());
        assert!(Assertion::from_raw(&raw("finish-reason", Some("stopp".into()))).is_err());
        let a = Assertion::from_raw(&raw("model-graded-factuality", Some("x".into()))).unwrap();
        assert_eq!(a.kind, Kind::Factuality);
    }

    #[test]
    fn shorthand() {
        assert_eq!(from_shorthand("contains: refund").kind, "contains");
        assert_eq!(from_shorthand("Paris").kind, "equals");
        assert_eq!(from_shorthand("time: 10:30").kind, "equals");
    }
}
