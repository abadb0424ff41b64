//! Assertions over more than one verdict: `assert-set` (a group with its own threshold and
//! weight) and the cross-variant kinds `select-best` and `max-score`, which compare the
//! outputs every variant of a suite gave for the same case. The rules follow promptfoo's
//! `AssertionsResult` and `selectMaxScore`; the engine decides when they run.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::score::Verdict;
use super::{invalid, parse_kind, Assertion, Invalid, Kind, RawAssertion};

/// How `max-score` adds up a variant's other assertion scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The weighted mean (promptfoo's default).
    Average,
    /// The weighted sum.
    Sum,
}

/// `max-score`'s options, from its `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxScoreOptions {
    /// `average` or `sum`.
    pub method: Method,
    /// Weight per assertion type (`contains: 2`); other types weigh 1.
    pub weights: Arc<BTreeMap<String, f64>>,
    /// The best aggregate must reach this for any variant to pass.
    pub threshold: Option<f64>,
}

/// The separator in a stored kind between an `assert-set` and one of its items
/// (`assert-set/contains`).
pub const SET_ITEM: &str = "assert-set/";

/// The items of an `assert-set`, each validated. Sets do not nest, and the cross-variant
/// kinds cannot be grouped (promptfoo silently skips them inside a set).
pub(super) fn set_items(raw: &RawAssertion) -> Result<Vec<Assertion>, Invalid> {
    if raw.value.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(Invalid {
            message: "`assert-set` takes no `value`".into(),
            help: Some("list the grouped assertions under `assert:`".into()),
        });
    }
    let items = match raw.assert.as_deref() {
        Some(items) if !items.is_empty() => items,
        _ => {
            return Err(Invalid {
                message: "`assert-set` needs `assert:` (a list of one or more assertions)".into(),
                help: Some("for example `assert: [{type: contains, value: refund}]`".into()),
            })
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |e: Invalid| Invalid {
            message: format!("`assert-set` item {}: {}", i + 1, e.message),
            help: e.help,
        };
        match parse_kind(&item.kind).map_err(at)?.0 {
            Kind::AssertSet => {
                return Err(at(invalid(
                    "an `assert-set` cannot hold another `assert-set`",
                )))
            }
            k if k.is_cross_variant() => {
                return Err(at(Invalid {
                    message: format!(
                        "`{}` compares variants and cannot be inside an `assert-set`",
                        k.as_str()
                    ),
                    help: Some("move it to the case's or the suite's `assert` list".into()),
                }))
            }
            _ => {}
        }
        out.push(Assertion::from_raw(item).map_err(at)?);
    }
    Ok(out)
}

/// `select-best`: a rubric, and none of the fields promptfoo ignores on it.
pub(super) fn check_select_best(raw: &RawAssertion) -> Result<(), Invalid> {
    match raw.value.as_ref() {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => {
            return Err(Invalid {
                message: "`select-best` needs `value:` (the rubric the best output meets best)"
                    .into(),
                help: Some("for example `value: the most accurate and polite reply`".into()),
            })
        }
    }
    no_weight_or_threshold(
        "select-best",
        raw,
        "the best variant passes, the others fail",
    )
}

fn no_weight_or_threshold(name: &str, raw: &RawAssertion, why: &str) -> Result<(), Invalid> {
    if raw.weight.is_some() {
        return Err(Invalid {
            message: format!("`{name}` takes no `weight`: {why}"),
            help: Some("remove `weight:`".into()),
        });
    }
    if raw.threshold.is_some() {
        return Err(Invalid {
            message: format!("`{name}` takes no `threshold:` here"),
            help: Some(if name == "max-score" {
                "put it in the value: `value: {threshold: 0.8}`".into()
            } else {
                "remove `threshold:`".into()
            }),
        });
    }
    Ok(())
}

/// `max-score`'s `value`: none, or `{method: average|sum, weights: {type: n}, threshold: n}`.
pub(super) fn max_score_options(raw: &RawAssertion) -> Result<MaxScoreOptions, Invalid> {
    no_weight_or_threshold(
        "max-score",
        raw,
        "the highest-scoring variant passes, the others fail",
    )?;
    let mut out = MaxScoreOptions {
        method: Method::Average,
        weights: Arc::new(BTreeMap::new()),
        threshold: None,
    };
    let map = match raw.value.as_ref() {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(invalid(
                "`max-score`: `value` must be `{method, weights, threshold}` (each optional)",
            ))
        }
    };
    for (k, v) in map {
        match k.as_str() {
            "method" => {
                out.method = match v.as_str() {
                    Some("average") => Method::Average,
                    Some("sum") => Method::Sum,
                    _ => {
                        return Err(invalid(format!(
                            "`max-score`: `method` must be `average` or `sum`, not {v}"
                        )))
                    }
                }
            }
            "weights" => {
                let Some(w) = v.as_object() else {
                    return Err(invalid(
                        "`max-score`: `weights` must map assertion types to numbers (`contains: 2`)",
                    ));
                };
                let mut weights = BTreeMap::new();
                for (kind, n) in w {
                    let known = parse_kind(kind).map_err(|e| Invalid {
                        message: format!("`max-score`: `weights`: {}", e.message),
                        help: e.help,
                    })?;
                    if known.0.is_cross_variant() || known.0 == Kind::AssertSet {
                        return Err(invalid(format!(
                            "`max-score`: `weights.{kind}` has no effect: only other assertions are added up (the items of an `assert-set` count by their own type)"
                        )));
                    }
                    match n.as_f64() {
                        Some(x) if x.is_finite() && x >= 0.0 => {
                            weights.insert(kind.clone(), x);
                        }
                        _ => {
                            return Err(invalid(format!(
                                "`max-score`: `weights.{kind}` must be a number of 0 or more"
                            )))
                        }
                    }
                }
                out.weights = Arc::new(weights);
            }
            "threshold" => match v.as_f64() {
                Some(t) if t.is_finite() => out.threshold = Some(t),
                _ => {
                    return Err(invalid(
                        "`max-score`: `threshold` must be a number (the lowest best aggregate that passes)",
                    ))
                }
            },
            other => {
                return Err(Invalid {
                    message: format!("`max-score`: unknown option `{other}`"),
                    help: crate::text::did_you_mean(
                        other,
                        ["method", "weights", "threshold"],
                    )
                    .or_else(|| Some("the options are `method`, `weights` and `threshold`".into())),
                })
            }
        }
    }
    // A threshold no aggregate can reach fails every case; one below 0 passes every case.
    match (out.method, out.threshold) {
        (Method::Average, Some(t)) if !(0.0..=1.0).contains(&t) => {
            return Err(invalid(
                "`max-score`: with `method: average` the `threshold` is a score from 0 to 1",
            ))
        }
        (Method::Sum, Some(t)) if t < 0.0 => {
            return Err(invalid(
                "`max-score`: `threshold` must be at least 0 (a sum of scores is never negative)",
            ))
        }
        _ => {}
    }
    Ok(out)
}

/// Checks on a case's whole assertion list: at most one `select-best` and one `max-score`
/// (promptfoo uses only the first and ignores the rest), and `max-score` has something to
/// add up.
pub fn check_case(assertions: &[Assertion]) -> Result<(), Invalid> {
    for kind in [Kind::SelectBest, Kind::MaxScore] {
        if assertions.iter().filter(|a| a.kind == kind).count() > 1 {
            return Err(Invalid {
                message: format!(
                    "a case has more than one `{}` (the suite's and the case's lists together)",
                    kind.as_str()
                ),
                help: Some("keep one: a case has one best variant".into()),
            });
        }
    }
    if assertions.iter().any(|a| a.kind == Kind::MaxScore)
        && !assertions.iter().any(|a| !a.kind.is_cross_variant())
    {
        return Err(Invalid {
            message: "`max-score` needs at least one other assertion in the case to add up".into(),
            help: Some("add the assertions whose scores decide the best variant".into()),
        });
    }
    Ok(())
}

/// Whether any of `assertions` (or an `assert-set` item) satisfies `f`.
pub fn any(assertions: &[Assertion], f: &dyn Fn(&Assertion) -> bool) -> bool {
    assertions.iter().any(|a| {
        f(a) || match &a.check {
            super::Check::Set(items) => any(items, f),
            _ => false,
        }
    })
}

/// An `assert-set`'s verdict from its items' verdicts, as promptfoo's `AssertionsResult`
/// computes it: the score is the weighted mean of the items' scores (0 when every weight is
/// 0); the set passes when every item passes, or, with a `threshold`, when the score reaches
/// it. An item that could not be evaluated makes the set ERROR.
pub fn set_verdict(set: &Assertion, items: &[(&Assertion, &Verdict)]) -> Verdict {
    if let Some((a, v)) = items.iter().find(|(_, v)| v.error) {
        return Verdict::error(format!("item `{}`: {}", a.display_kind(), v.reason));
    }
    let (mut total, mut weights) = (0.0, 0.0);
    for (a, v) in items {
        total += v.score * a.weight;
        weights += a.weight;
    }
    let score = if weights > 0.0 { total / weights } else { 0.0 };
    let failed: Vec<String> = items
        .iter()
        .filter(|(_, v)| !v.pass)
        .map(|(a, v)| format!("`{}`: {}", a.display_kind(), v.reason))
        .collect();
    let passed = items.len() - failed.len();
    let (pass, reason) = match set.threshold {
        Some(t) => {
            let pass = score >= t;
            let failed = if failed.is_empty() {
                String::new()
            } else {
                format!("; failed: {}", failed.join("; "))
            };
            (
                pass,
                format!(
                    "aggregate score {score:.2} {} {t} threshold ({passed} of {} passed{failed})",
                    if pass { "≥" } else { "<" },
                    items.len()
                ),
            )
        }
        None if failed.is_empty() => (true, format!("all {} assertions passed", items.len())),
        None => (
            false,
            format!(
                "{passed} of {} passed; failed: {}",
                items.len(),
                failed.join("; ")
            ),
        ),
    };
    Verdict {
        pass,
        score,
        reason,
        error: false,
    }
}

/// One variant's part in a `max-score` comparison: the (type, score) of each of its other
/// assertions, or `None` when it has no usable output (its provider call or an assertion
/// ERRORed).
pub type Candidate = Option<Vec<(String, f64)>>;

/// `max-score` over the variants of one case, as promptfoo's `selectMaxScore`: each
/// available variant's aggregate is the weighted mean (or sum) of its other assertion scores;
/// the highest wins (the first on a tie) if it reaches the threshold, and scores 1; every
/// other variant fails with 0. An unavailable variant gets `None` (it stays as it is).
pub fn max_score(opts: &MaxScoreOptions, candidates: &[Candidate]) -> Vec<Option<Verdict>> {
    let aggregates: Vec<Option<f64>> = candidates
        .iter()
        .map(|c| {
            c.as_ref().map(|items| {
                let (mut total, mut weights) = (0.0, 0.0);
                for (kind, score) in items {
                    let w = opts.weights.get(kind).copied().unwrap_or(1.0);
                    total += score * w;
                    weights += w;
                }
                match opts.method {
                    Method::Sum => total,
                    Method::Average if weights > 0.0 => total / weights,
                    Method::Average => 0.0,
                }
            })
        })
        .collect();
    let mut best: Option<(usize, f64)> = None;
    for (i, s) in aggregates.iter().enumerate() {
        if let Some(s) = s {
            if best.is_none_or(|(_, b)| *s > b) {
                best = Some((i, *s));
            }
        }
    }
    let Some((winner, max)) = best else {
        return vec![None; candidates.len()];
    };
    let meets = opts.threshold.is_none_or(|t| max >= t);
    aggregates
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let s = (*s)?;
            let won = i == winner && meets;
            Some(Verdict {
                pass: won,
                score: if won { 1.0 } else { 0.0 },
                reason: if won {
                    format!("selected as the highest-scoring variant (score {s:.3})")
                } else if i == winner {
                    format!(
                        "the highest score {s:.3} is below the threshold {}",
                        opts.threshold.unwrap_or(0.0)
                    )
                } else {
                    format!("not selected (score {s:.3}, best {max:.3})")
                },
                error: false,
            })
        })
        .collect()
}

/// A sample's pass and score after a cross-variant verdict, as promptfoo applies it: the
/// sample passes only if it passed before and the comparison passes; a failed comparison
/// replaces the score with its own (0), a passed one leaves it.
pub fn apply(pass: bool, score: f64, v: &Verdict) -> (bool, f64) {
    (pass && v.pass, if v.pass { score } else { v.score })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(kind: &str, value: Option<Value>) -> RawAssertion {
        RawAssertion {
            kind: kind.into(),
            value,
            ..RawAssertion::default()
        }
    }

    #[test]
    fn validation() {
        let mut set = raw("assert-set", None);
        assert!(Assertion::from_raw(&set).is_err(), "empty set");
        set.assert = Some(vec![raw("assert-set", None)]);
        let e = Assertion::from_raw(&set).unwrap_err();
        assert!(e.message.contains("item 1"), "{}", e.message);
        set.assert = Some(vec![raw("select-best", Some("x".into()))]);
        assert!(Assertion::from_raw(&set).is_err());
        set.assert = Some(vec![raw("contains", Some("".into()))]);
        let e = Assertion::from_raw(&set).unwrap_err();
        assert!(
            e.message.starts_with("`assert-set` item 1: `contains`"),
            "{}",
            e.message
        );
        set.assert = Some(vec![raw("contains", Some("a".into()))]);
        set.threshold = Some(1.5);
        assert!(Assertion::from_raw(&set).is_err());
        set.threshold = Some(0.5);
        assert!(Assertion::from_raw(&set).is_ok());
        let mut c = raw("contains", Some("a".into()));
        c.assert = Some(vec![]);
        assert!(Assertion::from_raw(&c).is_err());

        assert!(Assertion::from_raw(&raw("select-best", None)).is_err());
        assert!(Assertion::from_raw(&raw("select-best", Some(" ".into()))).is_err());
        assert!(Assertion::from_raw(&raw("select-best", Some("best".into()))).is_ok());
        assert!(Assertion::from_raw(&raw("not-select-best", Some("best".into()))).is_err());
        let mut sb = raw("select-best", Some("best".into()));
        sb.weight = Some(2.0);
        assert!(Assertion::from_raw(&sb).is_err());

        assert!(Assertion::from_raw(&raw("max-score", None)).is_ok());
        for bad in [
            json!({"method": "median"}),
            json!({"weights": {"contians": 1}}),
            json!({"weights": {"contains": -1}}),
            json!({"weights": {"max-score": 1}}),
            json!({"threshold": "high"}),
            json!({"threshold": 1.5}),
            json!({"method": "sum", "threshold": -1}),
            json!({"treshold": 1}),
            json!("sum"),
        ] {
            assert!(
                Assertion::from_raw(&raw("max-score", Some(bad.clone()))).is_err(),
                "{bad}"
            );
        }
        let a = Assertion::from_raw(&raw(
            "max-score",
            Some(json!({"method": "sum", "weights": {"contains": 2}, "threshold": 0.5})),
        ))
        .unwrap();
        let super::super::Check::MaxScore(o) = &a.check else {
            panic!("options")
        };
        assert_eq!(o.method, Method::Sum);
        assert_eq!(o.weights.get("contains"), Some(&2.0));
        let mut ms = raw("max-score", None);
        ms.threshold = Some(0.5);
        let e = Assertion::from_raw(&ms).unwrap_err();
        assert!(e.help.unwrap().contains("value: {threshold"));
    }

    #[test]
    fn case_checks() {
        let a = |k: &str, v: Option<Value>| Assertion::from_raw(&raw(k, v)).unwrap();
        let ms = a("max-score", None);
        assert!(check_case(std::slice::from_ref(&ms)).is_err());
        assert!(check_case(&[ms.clone(), a("contains", Some("x".into()))]).is_ok());
        assert!(check_case(&[ms.clone(), ms, a("contains", Some("x".into()))]).is_err());
        let sb = a("select-best", Some("x".into()));
        assert!(check_case(&[sb.clone(), sb]).is_err());
    }

    #[test]
    fn set_verdicts() {
        let a = |k: &str, v: &str| Assertion::from_raw(&raw(k, Some(v.into()))).unwrap();
        let mut set = raw("assert-set", None);
        set.assert = Some(vec![raw("contains", Some("a".into()))]);
        let set = Assertion::from_raw(&set).unwrap();
        let (x, y) = (a("contains", "a"), a("contains", "z"));
        let v = |pass: bool, reason: &str| Verdict {
            pass,
            score: if pass { 1.0 } else { 0.0 },
            reason: reason.into(),
            error: false,
        };
        let (ok, bad) = (v(true, "fine"), v(false, "missing z"));
        let v = set_verdict(&set, &[(&x, &ok), (&y, &bad)]);
        assert!(!v.pass && (v.score - 0.5).abs() < 1e-9);
        assert!(v.reason.contains("`contains`: missing z"), "{}", v.reason);
        let err = Verdict::error("exec crashed");
        let v = set_verdict(&set, &[(&x, &ok), (&y, &err)]);
        assert!(v.error && v.reason.contains("exec crashed"), "{}", v.reason);
    }

    #[test]
    fn max_score_skips_unavailable() {
        let opts = MaxScoreOptions {
            method: Method::Average,
            weights: Arc::default(),
            threshold: None,
        };
        let c = |s: f64| Some(vec![("contains".to_string(), s)]);
        let v = max_score(&opts, &[None, c(0.5), c(0.9)]);
        assert!(v[0].is_none());
        assert!(!v[1].as_ref().unwrap().pass);
        assert!(v[2].as_ref().unwrap().pass);
        assert!(max_score(&opts, &[None, None]).iter().all(Option::is_none));
    }
}
