//! `select-best`: the judge picks the best of the outputs every variant gave for one case.
//!
//! The outputs are fenced and numbered; the judge answers `{reasoning, choice}`. It is asked
//! twice, in the given order and reversed, so a judge that favours a position does not pick a
//! winner: when the two answers name different outputs there is no best. With a judge panel
//! every member is asked, and an output wins with more than half of the members' picks.
//! Each output is scanned for text aimed at a grader; a flagged output, or any output the
//! judge itself reports as an injection attempt, never wins silently: it is SUSPECT.

use serde_json::{Map, Value};

use super::{context, inject, prompts, reported, Graded, Judge};
use crate::assert::score::Verdict;
use crate::assert::Assertion;
use crate::provider::Answered;

impl Judge {
    /// Grade `select-best` over `outputs` (one per variant, in suite order): one verdict per
    /// output. The whole comparison's judge cost is carried by the first verdict.
    pub async fn select_best(
        &self,
        a: &Assertion,
        outputs: &[&str],
        vars: &Map<String, Value>,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Vec<Graded> {
        let all = |g: Graded| vec![g; outputs.len()];
        let rendered = match context::render_value(a, vars) {
            Ok(r) => r,
            Err(e) => return all(Graded::free(Verdict::error(e))),
        };
        let rubric = rendered
            .value
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut judges: Vec<(String, String)> = Vec::new();
        for (provider, model) in
            super::judges_for(a, &self.panel, self.provider.as_ref(), self.model.as_ref())
        {
            let Some(provider) = provider else {
                return all(Graded::free(Verdict::error(
                    "no judge configured: set `judge: { provider, model }` in llmops.yaml",
                )));
            };
            let Some(model) = model else {
                return all(Graded::free(Verdict::error(
                    "no judge model: set `judge.model` in llmops.yaml",
                )));
            };
            judges.push((provider, model));
        }
        if let Some((p, _)) = judges.iter().find(|(p, _)| self.providers.get(p).is_none()) {
            return all(Graded::free(Verdict::error(format!(
                "judge provider `{p}` is not available in this run"
            ))));
        }
        let n = outputs.len();
        let mut cost = Graded::free(Verdict::error(""));
        let mut picks: Vec<Option<usize>> = Vec::new();
        let mut notes = Vec::new();
        let mut judge_reported = None;
        let reversed: Vec<&str> = outputs.iter().rev().copied().collect();
        for (provider, model) in &judges {
            let mut chosen = Vec::new();
            for (order, list) in [(false, outputs), (true, &reversed[..])] {
                let jp = prompts::select_best(&rubric, list);
                match self.ask_prompt(&jp, provider, model, false, emit).await {
                    Ok((v, g)) => {
                        cost.input_tokens += g.input_tokens;
                        cost.output_tokens += g.output_tokens;
                        cost.cost_usd += g.cost_usd;
                        judge_reported = judge_reported.or_else(|| reported(&v));
                        let pos = v["choice"]
                            .as_str()
                            .and_then(|c| c.parse::<usize>().ok())
                            .unwrap_or(1)
                            - 1;
                        chosen.push(if order { n - 1 - pos } else { pos });
                    }
                    Err(mut g) => {
                        g.input_tokens += cost.input_tokens;
                        g.output_tokens += cost.output_tokens;
                        g.cost_usd += cost.cost_usd;
                        let mut out = all(Graded::free(g.verdict.clone()));
                        for x in &mut out {
                            x.call_failed = g.call_failed;
                        }
                        out[0] = g;
                        return out;
                    }
                }
            }
            if chosen[0] == chosen[1] {
                picks.push(Some(chosen[0]));
            } else {
                picks.push(None);
                notes.push(format!(
                    "{provider}/{model} picked output {} in the given order and {} in the reversed order",
                    chosen[0] + 1,
                    chosen[1] + 1
                ));
            }
        }
        let votes = |i: usize| picks.iter().filter(|p| **p == Some(i)).count();
        let winner = (0..n).find(|&i| votes(i) * 2 > picks.len());
        let findings: Vec<Option<inject::Finding>> =
            outputs.iter().map(|o| inject::scan(o)).collect();
        let panel = judges.len() > 1;
        let mut out: Vec<Graded> = (0..n)
            .map(|i| {
                let mut g = Graded::free(Verdict {
                    pass: winner == Some(i),
                    score: if winner == Some(i) { 1.0 } else { 0.0 },
                    reason: match winner {
                        Some(w) if w == i => format!("selected as the best output: {rubric}"),
                        Some(_) => format!("not selected: {rubric}"),
                        None if notes.is_empty() => {
                            "no best output: the judges did not agree on one".into()
                        }
                        None => format!(
                            "no best output: the choice changed with the order ({})",
                            notes.join("; ")
                        ),
                    },
                    error: false,
                });
                if panel {
                    g.panel = Some(picks.iter().map(|p| *p == Some(i)).collect());
                }
                let why = findings[i]
                    .as_ref()
                    .map(|f| format!("{} [{}]", f.reason, f.signal))
                    .or_else(|| judge_reported.clone().filter(|_| winner == Some(i)));
                if let Some(why) = why {
                    if winner == Some(i) {
                        g.verdict.reason = format!(
                            "SUSPECT: {why} (the judge picked it as the best output: {rubric})"
                        );
                    } else {
                        g.verdict.reason = format!("SUSPECT: {why} ({})", g.verdict.reason);
                    }
                    g.verdict.pass = false;
                    g.verdict.score = 0.0;
                    g.suspect = Some(why);
                }
                g
            })
            .collect();
        if let Some(first) = out.first_mut() {
            first.input_tokens = cost.input_tokens;
            first.output_tokens = cost.output_tokens;
            first.cost_usd = cost.cost_usd;
        }
        out
    }
}
