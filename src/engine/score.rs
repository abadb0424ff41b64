//! Turning a response and its assertion verdicts into a stored result row.

use crate::assert::score::{score, Subject, Verdict};
use crate::judge::Graded;
use crate::provider::{pricing, CallError, Response};
use crate::store::{ErrorKind, ResultRow, SampleStatus, ScoreRow};

use super::Job;

/// Everything known about one finished sample.
pub struct Input {
    /// The job.
    pub job: Job,
    /// The answer or the final error.
    pub result: Result<Response, CallError>,
    /// Latency (the original call's, when cached).
    pub latency_ms: f64,
    /// Retries made.
    pub retries: u32,
    /// Provider that answered.
    pub provider: String,
    /// Answered from the cache.
    pub cached: bool,
    /// Judge verdicts, aligned with the case's assertions (None for deterministic ones).
    pub judged: Vec<Option<Graded>>,
}

/// `text` cut to at most `max` bytes (on a character boundary), with a note of how much was
/// cut: `limits.output_bytes` keeps one runaway answer from growing the store by megabytes.
pub fn cap_output(text: String, max: u64) -> String {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].to_string();
    out.push_str(&format!(
        "…[cut: {} more bytes over limits.output_bytes]",
        text.len() - end
    ));
    out
}

/// Score every assertion and build the row. A call error or an assertion that could not be
/// evaluated makes the sample ERROR: reported and counted apart, never scored 0.
pub fn row(
    run_id: i64,
    input: Input,
    workdir: &std::path::Path,
    prices: &indexmap::IndexMap<String, crate::config::Price>,
    redact: bool,
    max_output: u64,
) -> ResultRow {
    let Input {
        job,
        result,
        latency_ms,
        retries,
        provider,
        cached,
        judged,
    } = input;
    let mut row = ResultRow {
        run_id,
        suite: job.suite.to_string(),
        variant: job.variant.to_string(),
        prompt: job.prompt.to_string(),
        prompt_hash: job.prompt_hash.to_string(),
        suite_hash: job.suite_hash.to_string(),
        case_id: job.case.id.clone(),
        sample: job.sample,
        status: SampleStatus::Error,
        score: None,
        output: None,
        error: None,
        error_kind: None,
        finish_reason: None,
        provider,
        model: job.request.model.clone(),
        fingerprint: job.fingerprint.clone(),
        latency_ms: Some(latency_ms),
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: None,
        judge_input_tokens: 0,
        judge_output_tokens: 0,
        judge_cost_usd: 0.0,
        cached,
        retries,
        vars: serde_json::Value::Object(job.case.vars.clone()),
        metadata: serde_json::Value::Object(job.case.metadata.clone()),
        description: job.case.description.clone(),
        scores: Vec::new(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            let hint = match &e {
                CallError::ReplayMiss { .. } => format!(
                    " (prompt `{}`, case `{}`, model `{}`): the prompt or case changed since it was recorded; record again with `llmops eval --record --provider NAME`",
                    job.prompt, job.case.id, job.request.model
                ),
                _ => String::new(),
            };
            row.error = Some(format!("provider `{}`: {e}{hint}", row.provider));
            row.error_kind = Some(ErrorKind::Provider);
            return row;
        }
    };
    row.input_tokens = resp.usage.input_tokens;
    row.output_tokens = resp.usage.output_tokens;
    row.cost_usd = pricing::cost(
        &row.model,
        resp.usage.input_tokens,
        resp.usage.output_tokens,
        prices,
    );
    row.finish_reason = resp.finish_reason.clone();
    let subject = Subject {
        output: &resp.text,
        finish_reason: resp.finish_reason.as_deref(),
        logprobs: resp.logprobs.as_deref(),
        latency_ms,
        cost_usd: row.cost_usd,
        case: &job.case.json,
        workdir,
        tool_calls: (!resp.tool_calls.is_empty()).then_some(resp.tool_calls.as_slice()),
        tools: job.request.params.tools.as_ref(),
    };
    let mut weighted = 0.0;
    let mut weights = 0.0;
    let mut all_pass = true;
    let mut first_error = None;
    for (i, a) in job.case.assertions.iter().enumerate() {
        if a.kind.is_cross_variant() {
            // Decided after every variant of the case is scored (`engine::cross`).
            continue;
        }
        let mut items = Vec::new();
        if let crate::assert::Check::Set(set) = &a.check {
            let graded = judged.get(i).and_then(Option::as_ref);
            for (j, item) in set.iter().enumerate() {
                let g = graded
                    .and_then(|g| g.children.get(j))
                    .and_then(Option::as_ref);
                let row_of = |v: &Verdict, g: Option<&Graded>| ScoreRow {
                    kind: format!("{}{}", crate::assert::cross::SET_ITEM, item.display_kind()),
                    metric: item.metric.clone(),
                    pass: v.pass,
                    score: v.score,
                    weight: item.weight,
                    critical: item.critical,
                    error: v.error,
                    reason: v.reason.clone(),
                    suspect: g.and_then(|g| g.suspect.clone()),
                    panel: g.and_then(|g| g.panel.clone()),
                };
                let v = match g {
                    Some(g) => {
                        row.judge_input_tokens += g.input_tokens;
                        row.judge_output_tokens += g.output_tokens;
                        row.judge_cost_usd += g.cost_usd;
                        if g.verdict.error && g.call_failed && first_error.is_none() {
                            first_error = Some((
                                format!(
                                    "assertion `assert-set` item `{}`: {}",
                                    item.display_kind(),
                                    g.verdict.reason
                                ),
                                ErrorKind::Judge,
                            ));
                        }
                        g.verdict.clone()
                    }
                    None => score(item, &subject).unwrap_or_else(|| {
                        Verdict::error(format!("`{}` was not graded", item.display_kind()))
                    }),
                };
                items.push((row_of(&v, g), v));
            }
        }
        let mut suspect = None;
        let mut panel = None;
        let (verdict, call_failed, skipped) = match judged.get(i).and_then(Option::as_ref) {
            Some(g) if items.is_empty() => {
                row.judge_input_tokens += g.input_tokens;
                row.judge_output_tokens += g.output_tokens;
                row.judge_cost_usd += g.cost_usd;
                suspect.clone_from(&g.suspect);
                panel.clone_from(&g.panel);
                (g.verdict.clone(), g.call_failed, g.skipped)
            }
            _ if !items.is_empty() => {
                let pairs: Vec<(&crate::assert::Assertion, &Verdict)> = match &a.check {
                    crate::assert::Check::Set(set) => {
                        set.iter().zip(items.iter().map(|(_, v)| v)).collect()
                    }
                    _ => Vec::new(),
                };
                suspect = items.iter().find_map(|(r, _)| r.suspect.clone());
                (crate::assert::cross::set_verdict(a, &pairs), false, false)
            }
            _ => (
                score(a, &subject).unwrap_or_else(|| {
                    Verdict::error(format!("`{}` was not graded", a.display_kind()))
                }),
                false,
                false,
            ),
        };
        if verdict.error && first_error.is_none() {
            let kind = if call_failed {
                ErrorKind::Judge
            } else {
                ErrorKind::Assertion
            };
            first_error = Some((
                format!("assertion `{}`: {}", a.display_kind(), verdict.reason),
                kind,
            ));
        }
        all_pass &= verdict.pass;
        if a.weight > 0.0 && !skipped {
            weighted += verdict.score * a.weight;
            weights += a.weight;
        }
        row.scores.push(ScoreRow {
            kind: a.display_kind(),
            metric: a.metric.clone(),
            pass: verdict.pass,
            score: verdict.score,
            weight: a.weight,
            critical: a.critical,
            error: verdict.error,
            reason: verdict.reason,
            suspect,
            panel,
        });
        // The items follow their set, for reports and for `max-score` (which adds them up
        // by their own type, as promptfoo does); they do not count in the case score twice.
        row.scores.extend(items.into_iter().map(|(r, _)| r));
    }
    // Scored on the real text; stored and reported masked when `redaction.pii` is on.
    let text = if redact {
        crate::redact::mask_pii(&resp.text)
    } else {
        resp.text
    };
    row.output = Some(cap_output(text, max_output));
    if let Some((e, kind)) = first_error {
        row.error = Some(e);
        row.error_kind = Some(kind);
        return row;
    }
    row.status = if all_pass {
        SampleStatus::Pass
    } else {
        SampleStatus::Fail
    };
    row.score = Some(if weights > 0.0 {
        weighted / weights
    } else if all_pass {
        1.0
    } else {
        0.0
    });
    row
}
