//! `llmops judge label`: a label file from a run, one line per model-graded verdict, for a
//! person to fill in and `llmops judge calibrate` to read.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::assert::{parse_kind, Assertion, Kind, RawAssertion};
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::store::Store;
use crate::suite::Case;

/// The assertion as it would be written in a suite (defaults left out).
fn raw(a: &Assertion) -> RawAssertion {
    RawAssertion {
        kind: a.display_kind(),
        value: a.value.clone(),
        threshold: a.threshold,
        provider: a.provider.clone(),
        ..RawAssertion::default()
    }
}

/// The last user message of a stored request, if the cache holds it.
fn question(store: &Store, fingerprint: &str) -> String {
    store
        .cached_request(fingerprint)
        .ok()
        .flatten()
        .and_then(|r| {
            r["messages"].as_array().and_then(|m| {
                m.iter()
                    .rev()
                    .find(|x| x["role"] == "user")
                    .and_then(|x| x["content"].as_str().map(str::to_string))
            })
        })
        .unwrap_or_default()
}

/// One label line per model-graded verdict of run `run_id` (default: the newest), with the
/// judge's verdict alongside and `label: null` for a person to replace. Returns the run id
/// and the lines.
pub fn template(reg: &Registry, store: &Store, run_id: Option<i64>) -> Result<(i64, Vec<Value>)> {
    let run = store.run(run_id)?.ok_or_else(|| match run_id {
        Some(id) => Error::usage_help(
            format!("no run {id}"),
            "`llmops runs` lists the stored runs",
        ),
        None => Error::usage_help("no runs yet", "run `llmops eval` first"),
    })?;
    let rows = store.results(run.id)?;
    let (suites, _) = reg.suites()?;
    let wanted: BTreeMap<&str, Vec<&str>> = rows.iter().fold(BTreeMap::new(), |mut m, r| {
        m.entry(r.suite.as_str())
            .or_default()
            .push(r.case_id.as_str());
        m
    });
    // The cases of the run, from the suites as they are now.
    let mut cases: HashMap<(String, String), Case> = HashMap::new();
    for s in &suites {
        let Some(ids) = wanted.get(s.name.as_str()) else {
            continue;
        };
        for case in s.cases(&reg.source)?.flatten() {
            if ids.contains(&case.id.as_str()) {
                cases.insert((s.name.clone(), case.id.clone()), case);
            }
        }
    }
    let mut out = Vec::new();
    for r in &rows {
        let Some(output) = &r.output else { continue };
        let Some(case) = cases.get(&(r.suite.clone(), r.case_id.clone())) else {
            continue;
        };
        for (i, s) in r.scores.iter().enumerate() {
            let graded =
                parse_kind(&s.kind).is_ok_and(|(k, _)| k.is_model_graded() && k != Kind::Pairwise);
            // A verdict that could not be made, or an assertion the suite no longer has at
            // this place, has nothing for a person to check.
            let Some(a) = case.assert.get(i).filter(|a| a.display_kind() == s.kind) else {
                continue;
            };
            if !graded || s.error {
                continue;
            }
            out.push(json!({
                "id": format!("{}/{}#{}/{}", r.suite, r.case_id, r.sample, i),
                "assertion": raw(a),
                "question": question(store, &r.fingerprint),
                "output": output,
                "vars": r.vars,
                "label": null,
                "judge": {"pass": s.pass, "score": s.score, "reason": s.reason},
            }));
        }
    }
    Ok((run.id, out))
}
