//! Eval suites: which prompts, which dataset, which assertions, which bars.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::assert::{Assertion, RawAssertion};
use crate::dataset::{self, Format, RawCase};
use crate::error::{Diagnostic, Result};
use crate::paths::{join_within, Files};
use crate::template::ModelSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    prompt: Option<Spanned<String>>,
    #[serde(default)]
    prompts: Option<Vec<Spanned<VariantRaw>>>,
    #[serde(default)]
    dataset: Option<Spanned<String>>,
    #[serde(default)]
    cases: Vec<Spanned<CaseRaw>>,
    #[serde(default, rename = "assert")]
    assertions: Vec<Spanned<RawAssertion>>,
    #[serde(default)]
    repeat: Option<Spanned<u32>>,
    #[serde(default)]
    min_pass: Option<Spanned<String>>,
    #[serde(default)]
    thresholds: Option<Spanned<Thresholds>>,
    #[serde(default)]
    on_suspect: OnSuspect,
}

/// What a case SUSPECT of an injection attempt does to the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnSuspect {
    /// The suite fails (the default): a suspected injection never passes silently.
    #[default]
    Fail,
    /// The case is reported and counted apart but does not fail the suite.
    Warn,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum VariantRaw {
    Name(String),
    Full(Box<VariantFull>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantFull {
    prompt: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    model: Option<ModelSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseRaw {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    vars: Map<String, Value>,
    #[serde(default, rename = "assert")]
    assertions: Vec<RawAssertion>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

/// Absolute bars a run must clear.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Minimum share of passing cases.
    #[serde(default)]
    pub pass_rate: Option<f64>,
    /// Minimum mean score.
    #[serde(default)]
    pub score: Option<f64>,
    /// Minimum mean per named metric.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Budget: the most the suite's model calls may cost in one run, per variant (USD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    /// Budget: the most one case may cost per call, the mean over its samples (USD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_case_cost_usd: Option<f64>,
}

/// One prompt (or a model variation of one) the suite evaluates.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Variant {
    /// The prompt name.
    pub prompt: String,
    /// The variant's name in reports (defaults to the prompt name).
    pub name: String,
    /// Model overrides laid over the prompt's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    /// Line in the suite file.
    #[serde(skip)]
    pub line: usize,
}

/// A validated case, ready to plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Case {
    /// Stable id: given, or a hash of the vars.
    pub id: String,
    /// What the case is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Template variables.
    pub vars: Map<String, Value>,
    /// Suite defaults followed by the case's own assertions.
    pub assert: Vec<Assertion>,
    /// Free-form fields.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Where the case was written.
    #[serde(skip)]
    pub file: String,
    /// Its line.
    #[serde(skip)]
    pub line: usize,
}

/// A parsed suite. Cases are streamed from [`Suite::cases`].
#[derive(Debug, Clone)]
pub struct Suite {
    /// The suite's name: its file stem.
    pub name: String,
    /// Registry-relative path.
    pub path: String,
    /// What it checks.
    pub description: Option<String>,
    /// Prompts under test.
    pub variants: Vec<Variant>,
    /// Registry-relative dataset path and its line in the suite.
    pub dataset: Option<(String, usize)>,
    /// Default assertions (validated), applied to every case.
    pub assertions: Vec<Assertion>,
    /// Samples per case.
    pub repeat: Option<u32>,
    /// Samples that must pass, as (k, n).
    pub min_pass: Option<(u32, u32)>,
    /// Absolute bars.
    pub thresholds: Thresholds,
    /// What a SUSPECT case does to the suite.
    pub on_suspect: OnSuspect,
    inline: Vec<RawCase>,
}

fn line_of<T>(s: &Spanned<T>) -> usize {
    s.referenced.line() as usize
}

fn parse_min_pass(text: &str) -> Option<(u32, u32)> {
    let (k, n) = text.split_once('/')?;
    let (k, n) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
    (k >= 1 && k <= n).then_some((k, n))
}

/// The id a case gets when none is written: a hash of its vars, so it survives reordering.
pub fn case_id_for(vars: &Map<String, Value>) -> String {
    let hash = crate::text::sha256_hex(
        crate::text::canonical_json(&Value::Object(vars.clone())).as_bytes(),
    );
    format!("h-{}", &hash[..12])
}

impl Suite {
    /// Parse and validate a suite file's text. The dataset is checked for existence later,
    /// when cases are streamed.
    pub fn parse(path: &str, text: &str) -> Result<Suite, Diagnostic> {
        if text.trim().is_empty() {
            return Err(Diagnostic::error("empty-suite", path, "empty suite file")
                .at(1, None)
                .help("a suite needs at least `prompt:` and cases (`dataset:` or `cases:`)"));
        }
        let raw: SuiteFile = crate::yaml::parse(path, text)?;
        let name = path.rsplit('/').next().unwrap_or(path);
        let name = name
            .strip_suffix(".yaml")
            .or_else(|| name.strip_suffix(".yml"))
            .unwrap_or(name)
            .to_string();
        let mut variants = Vec::new();
        match (&raw.prompt, &raw.prompts) {
            (Some(_), Some(p)) => {
                return Err(Diagnostic::error(
                    "suite",
                    path,
                    "give either `prompt:` or `prompts:`, not both",
                )
                .at(p.first().map_or(1, line_of), None));
            }
            (None, None) => {
                return Err(
                    Diagnostic::error("suite", path, "the suite names no prompt")
                        .at(1, None)
                        .help("add `prompt: NAME` (or `prompts: [A, B]` to compare)"),
                );
            }
            (Some(p), None) => variants.push(Variant {
                prompt: p.value.clone(),
                name: p.value.clone(),
                model: None,
                line: line_of(p),
            }),
            (None, Some(list)) => {
                if list.is_empty() {
                    return Err(Diagnostic::error("suite", path, "`prompts:` is empty").at(1, None));
                }
                for v in list {
                    let line = line_of(v);
                    variants.push(match &v.value {
                        VariantRaw::Name(n) => Variant {
                            prompt: n.clone(),
                            name: n.clone(),
                            model: None,
                            line,
                        },
                        VariantRaw::Full(f) => Variant {
                            prompt: f.prompt.clone(),
                            name: f.name.clone().unwrap_or_else(|| f.prompt.clone()),
                            model: f.model.clone(),
                            line,
                        },
                    });
                }
                let mut seen = std::collections::HashSet::new();
                for v in &variants {
                    if !seen.insert(&v.name) {
                        return Err(Diagnostic::error(
                            "suite",
                            path,
                            format!("two variants share the name `{}`", v.name),
                        )
                        .at(v.line, None)
                        .help("give each variant a distinct `name:`"));
                    }
                }
            }
        }
        let dataset = match &raw.dataset {
            None => None,
            Some(d) => {
                let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
                let Some(rel) = join_within("", dir, &d.value) else {
                    return Err(Diagnostic::error(
                        "dataset-escape",
                        path,
                        format!("dataset path `{}` leaves the repository", d.value),
                    )
                    .at(line_of(d), None)
                    .help("datasets must live inside the repository, relative to the suite file"));
                };
                if Format::for_path(&rel).is_none() {
                    return Err(Diagnostic::error(
                        "dataset-format",
                        path,
                        format!("dataset `{}`: unknown format", d.value),
                    )
                    .at(line_of(d), None)
                    .help("use a .jsonl, .csv or .json file"));
                }
                Some((rel, line_of(d)))
            }
        };
        if dataset.is_none() && raw.cases.is_empty() {
            return Err(Diagnostic::error("suite", path, "the suite has no cases")
                .at(1, None)
                .help("add `dataset: data/NAME.jsonl` or inline `cases:`"));
        }
        let assertions = raw
            .assertions
            .iter()
            .map(|a| validate_assertion(path, line_of(a), &a.value))
            .collect::<Result<Vec<_>, _>>()?;
        if variants.len() < 2 {
            if let Some((r, a)) = raw
                .assertions
                .iter()
                .zip(&assertions)
                .find(|(_, a)| a.kind.is_cross_variant())
            {
                return Err(Diagnostic::error(
                    "assertion",
                    path,
                    format!(
                        "`{}` compares the outputs of a suite's variants, and this suite has one",
                        a.kind.as_str()
                    ),
                )
                .at(line_of(r), None)
                .help("list two or more under `prompts:` (prompts, or one prompt with different `model:`), or remove it"));
            }
        }
        let min_pass = match &raw.min_pass {
            None => None,
            Some(m) => Some(parse_min_pass(&m.value).ok_or_else(|| {
                Diagnostic::error(
                    "min-pass",
                    path,
                    format!(
                        "`min_pass: {}` is not of the form K/N with 1 <= K <= N",
                        m.value
                    ),
                )
                .at(line_of(m), None)
                .help("for example `min_pass: 2/3` with `repeat: 3`")
            })?),
        };
        if let (Some((_, n)), Some(r)) = (min_pass, raw.repeat.as_ref().map(|r| r.value)) {
            if n != r {
                let line = raw.min_pass.as_ref().map_or(1, line_of);
                return Err(Diagnostic::error(
                    "min-pass",
                    path,
                    format!("`min_pass` counts {n} samples but `repeat` is {r}"),
                )
                .at(line, None));
            }
        }
        if let Some(r) = raw.repeat.as_ref().filter(|r| r.value == 0) {
            return Err(
                Diagnostic::error("repeat", path, "`repeat` must be at least 1")
                    .at(line_of(r), None),
            );
        }
        let thresholds_line = raw.thresholds.as_ref().map_or(1, line_of);
        let thresholds = raw.thresholds.map(|t| t.value).unwrap_or_default();
        for (field, v) in [
            ("pass_rate", thresholds.pass_rate),
            ("score", thresholds.score),
        ]
        .into_iter()
        .chain(
            thresholds
                .metrics
                .iter()
                .map(|(k, v)| (k.as_str(), Some(*v))),
        ) {
            if let Some(v) = v {
                if !(0.0..=1.0).contains(&v) {
                    return Err(Diagnostic::error(
                        "threshold",
                        path,
                        format!("thresholds.{field} must be between 0 and 1, got {v}"),
                    )
                    .at(thresholds_line, None));
                }
            }
        }
        for (field, v) in [
            ("max_cost_usd", thresholds.max_cost_usd),
            ("max_case_cost_usd", thresholds.max_case_cost_usd),
        ] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(Diagnostic::error(
                    "threshold",
                    path,
                    format!("thresholds.{field} must be a cost in USD above 0, got {v}"),
                )
                .at(thresholds_line, None)
                .help(format!("write e.g. `{field}: 0.50` under `thresholds:`")));
            }
        }
        let inline = raw
            .cases
            .into_iter()
            .map(|c| {
                let line = line_of(&c);
                let c = c.value;
                let id = match c.id {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    Some(other) => {
                        return Err(Diagnostic::error(
                            "case-id",
                            path,
                            format!("`id` must be a string or a number, got {other}"),
                        )
                        .at(line, None));
                    }
                };
                Ok(RawCase {
                    id,
                    description: c.description,
                    vars: c.vars,
                    assert: c.assertions,
                    metadata: c.metadata,
                    file: path.to_string(),
                    line,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Suite {
            name,
            path: path.to_string(),
            description: raw.description,
            variants,
            dataset,
            assertions,
            repeat: raw.repeat.map(|r| r.value),
            min_pass,
            thresholds,
            on_suspect: raw.on_suspect,
            inline,
        })
    }

    /// Every case: dataset rows first (streamed), then inline cases. Each item is validated;
    /// an error names the file and line of the row.
    pub fn cases<'a>(
        &'a self,
        source: &dyn Files,
    ) -> Result<Box<dyn Iterator<Item = Result<Case, Diagnostic>> + 'a>> {
        let rows: Box<dyn Iterator<Item = Result<RawCase, Diagnostic>>> = match &self.dataset {
            None => Box::new(std::iter::empty()),
            Some((rel, line)) => {
                let format = Format::for_path(rel).expect("checked at parse");
                match source.open(rel)? {
                    Some(reader) => dataset::rows(rel, format, reader),
                    None => {
                        return Err(Diagnostic::error(
                            "dataset-missing",
                            &self.path,
                            format!("dataset `{rel}` not found"),
                        )
                        .at(*line, None)
                        .help("dataset paths are relative to the suite file")
                        .into());
                    }
                }
            }
        };
        let inline = self.inline.iter().cloned().map(Ok);
        Ok(Box::new(
            rows.chain(inline)
                .map(move |row| row.and_then(|r| self.finish_case(r))),
        ))
    }

    fn finish_case(&self, raw: RawCase) -> Result<Case, Diagnostic> {
        let mut assert = self.assertions.clone();
        for a in &raw.assert {
            assert.push(validate_assertion(&raw.file, raw.line, a)?);
        }
        self.check_cross(&raw.file, raw.line, &assert)?;
        let id = raw.id.clone().unwrap_or_else(|| case_id_for(&raw.vars));
        Ok(Case {
            id,
            description: raw.description,
            vars: raw.vars,
            assert,
            metadata: raw.metadata,
            file: raw.file,
            line: raw.line,
        })
    }
}

impl Suite {
    /// A case's `select-best` and `max-score` compare the suite's variants: there must be two
    /// or more, and the case's list must make sense as a whole.
    fn check_cross(&self, file: &str, line: usize, assert: &[Assertion]) -> Result<(), Diagnostic> {
        crate::assert::cross::check_case(assert).map_err(|e| {
            Diagnostic::error("assertion", file, e.message)
                .at(line, None)
                .help_opt(e.help)
        })?;
        if self.variants.len() < 2 {
            if let Some(a) = assert.iter().find(|a| a.kind.is_cross_variant()) {
                return Err(Diagnostic::error(
                    "assertion",
                    file,
                    format!(
                        "`{}` compares the outputs of a suite's variants, and suite `{}` has one",
                        a.kind.as_str(),
                        self.name
                    ),
                )
                .at(line, None)
                .help("list two or more under `prompts:` (prompts, or one prompt with different `model:`), or remove it"));
            }
        }
        Ok(())
    }
}

fn validate_assertion(
    file: &str,
    line: usize,
    raw: &RawAssertion,
) -> Result<Assertion, Diagnostic> {
    Assertion::from_raw(raw).map_err(|e| {
        let code = if e.message.starts_with("unknown assertion type") {
            "unknown-assertion"
        } else {
            "assertion"
        };
        Diagnostic::error(code, file, e.message)
            .at(line, None)
            .help_opt(e.help)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_suite() {
        let s = Suite::parse(
            "evals/a.yaml",
            "prompt: a\ncases:\n  - vars: { x: 1 }\n    assert:\n      - type: contains\n        value: y\nassert:\n  - type: max-length\n    value: 10\nrepeat: 3\nmin_pass: 2/3\n",
        )
        .unwrap();
        assert_eq!(s.variants[0].prompt, "a");
        assert_eq!(s.min_pass, Some((2, 3)));
        let cases: Vec<Case> = s
            .cases(&crate::paths::Dir(".".into()))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        assert_eq!(cases[0].assert.len(), 2);
        assert_eq!(cases[0].line, 3);
        assert!(cases[0].id.starts_with("h-"));
    }

    #[test]
    fn bad_assertion_has_line() {
        let e = Suite::parse(
            "s.yaml",
            "prompt: a\ncases: [{vars: {}}]\nassert:\n  - type: contians\n    value: x\n",
        )
        .unwrap_err();
        assert_eq!(e.code, "unknown-assertion");
        assert_eq!(e.line, Some(4));
        assert_eq!(e.help.as_deref(), Some("did you mean `contains`?"));
    }

    #[test]
    fn variants_and_escape() {
        let s = Suite::parse("evals/s.yaml", "prompts:\n  - a\n  - { prompt: a, name: big, model: { name: gpt-4o } }\ndataset: data/x.jsonl\n").unwrap();
        assert_eq!(s.variants[1].name, "big");
        assert_eq!(s.dataset.as_ref().unwrap().0, "evals/data/x.jsonl");
        let e = Suite::parse(
            "evals/s.yaml",
            "prompt: a\ndataset: ../../../etc/passwd.csv\n",
        )
        .unwrap_err();
        assert_eq!(e.code, "dataset-escape");
    }
}
