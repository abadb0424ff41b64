//! LLM-as-judge: model-graded assertions and embedding similarity.
//!
//! The output under test and any reference go inside blocks fenced by markers whose suffix is
//! a hash of the block contents, so text inside a block cannot forge its end; the judge is told
//! the blocks are data. The verdict is one JSON object (reasoning first, then the score or
//! choice), parsed strictly after removing a code fence; a malformed verdict gets one repair
//! request, then the assertion is ERROR, never a silent 0. Verdicts are cached by the full
//! judge request.

mod best;
pub mod calibrate;
mod context;
pub mod inject;
pub mod label;
mod prompts;
mod rag;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::assert::score::Verdict;
use crate::assert::{Assertion, Kind, Metric};
use crate::config::Settings;
use crate::provider::{pricing, Answered, CallError, Providers, Request, Response};
use crate::store::Store;
use crate::template::{Message, Parameters, Role};

pub use prompts::{parse_verdict, JudgePrompt, Shape};

/// One model-graded verdict with what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Graded {
    /// The verdict.
    pub verdict: Verdict,
    /// Judge prompt tokens (0 when cached).
    pub input_tokens: u64,
    /// Judge completion tokens (0 when cached).
    pub output_tokens: u64,
    /// Judge USD (0 when cached).
    pub cost_usd: f64,
    /// The judge call itself failed beyond retries (a provider failure, not a verdict).
    pub call_failed: bool,
    /// Not graded here (`pairwise` outside the gate): passes, left out of the case score.
    pub skipped: bool,
    /// Why the output looks like an injection attempt: the verdict does not pass, whatever
    /// the judge said, and the case is SUSPECT.
    pub suspect: Option<String>,
    /// A judge panel's votes, in `judge.panel` order.
    pub panel: Option<Vec<bool>>,
    /// An `assert-set`'s items, graded (None for deterministic ones).
    pub children: Vec<Option<Graded>>,
}

impl Graded {
    /// A verdict that cost nothing.
    pub fn free_verdict(verdict: Verdict) -> Graded {
        Graded::free(verdict)
    }

    /// An ERROR that cost nothing.
    pub fn free_error(why: impl Into<String>) -> Graded {
        Graded::free(Verdict::error(why))
    }

    fn free(verdict: Verdict) -> Graded {
        Graded {
            verdict,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            call_failed: false,
            skipped: false,
            suspect: None,
            panel: None,
            children: Vec::new(),
        }
    }

    /// Mark the verdict SUSPECT: it does not pass and scores 0, with the judge's own verdict
    /// kept in the reason. An ERROR stays an ERROR.
    fn suspect(&mut self, why: String) {
        if self.verdict.error || self.skipped {
            return;
        }
        let said = if self.verdict.pass { "pass" } else { "fail" };
        self.verdict.reason = format!(
            "SUSPECT: {why} (the judge said {said}: {})",
            self.verdict.reason
        );
        self.verdict.pass = false;
        self.verdict.score = 0.0;
        self.suspect = Some(why);
    }
}

/// Why the judge's own verdict flags an injection attempt, if it does.
fn reported(v: &Map<String, Value>) -> Option<String> {
    (v.get(prompts::INJECTION) == Some(&Value::Bool(true)))
        .then(|| "the judge reported an injection attempt in the output".to_string())
}

/// The reason of a `pairwise` verdict outside the gate: such a verdict passes and is left
/// out of the case score.
pub const PAIRWISE_SKIPPED: &str =
    "pairwise: skipped (it compares with a baseline; `llmops gate` grades it)";

/// The default embeddings model for `similar` when the config names none.
pub const DEFAULT_EMBEDDING_MODEL: &str = "text-embedding-3-small";

/// The judge: provider, model, cache and counters.
pub struct Judge {
    provider: Option<String>,
    model: Option<String>,
    providers: Arc<Providers>,
    store: Arc<Mutex<Store>>,
    pricing: indexmap::IndexMap<String, crate::config::Price>,
    calls: AtomicU64,
    cached: AtomicU64,
    offline: AtomicU64,
    read_cache: bool,
    /// One entry per distinct judge request of this run: identical requests share one call,
    /// even while it is in flight.
    inflight: Mutex<std::collections::HashMap<String, Arc<Shared>>>,
    panel: Vec<crate::config::PanelMember>,
    combine: crate::config::Combine,
}

/// A judge answer shared by identical requests: the response and what its one call cost.
type Shared = tokio::sync::OnceCell<Result<(Response, (u64, u64, f64)), CallError>>;

/// What the judge grades for one case: its assertions, the question the output answers, and
/// the case's variables.
#[derive(Debug, Clone, Copy)]
pub struct JudgeInput<'a> {
    /// Every assertion of the case; only the model-graded ones are graded.
    pub assertions: &'a [Assertion],
    /// The request's messages (the question is the last user turn).
    pub messages: &'a [Message],
    /// The case's variables.
    pub vars: &'a Map<String, Value>,
}

impl JudgeInput<'_> {
    /// The user message under test: the last user turn of the request.
    fn question(&self) -> String {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .unwrap_or_default()
    }
}

fn cosine(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    (na > 0.0 && nb > 0.0).then(|| dot / (na * nb))
}

/// The most a judge answer may be, in tokens (each request's `max_tokens`).
pub const MAX_VERDICT_TOKENS: u64 = 800;

/// Estimated prompt tokens of the judge request for `a` on an answer of `output_tokens`
/// tokens: the judge prompt's characters divided by four, as for the prompt's own requests.
/// For `eval --dry-run`; `question` is the rendered prompt's last message.
pub fn estimate_input_tokens(
    a: &Assertion,
    question: &str,
    vars: &Map<String, Value>,
    output_tokens: u64,
) -> u64 {
    let jp = prompts::build(a, "", question, Some(question), vars, None);
    (jp.system.len() + jp.user.len()) as u64 / 4 + output_tokens
}

/// The judges (provider, model) that grade `a`: the `judge.panel` unless the assertion names
/// its own `provider`, else that provider or `judge.provider`, with `judge.model`. `None` is
/// a part the config leaves out.
pub fn judges_for(
    a: &Assertion,
    panel: &[crate::config::PanelMember],
    provider: Option<&String>,
    model: Option<&String>,
) -> Vec<(Option<String>, Option<String>)> {
    if !panel.is_empty() && a.provider.is_none() {
        panel
            .iter()
            .map(|m| (Some(m.provider.clone()), Some(m.model.clone())))
            .collect()
    } else {
        vec![(
            a.provider.clone().or_else(|| provider.cloned()),
            model.cloned(),
        )]
    }
}

impl Judge {
    /// A judge from the config.
    pub fn new(settings: &Settings, providers: Arc<Providers>, store: Arc<Mutex<Store>>) -> Judge {
        Judge {
            provider: settings.judge_provider.clone(),
            model: settings.judge_model.clone(),
            providers,
            store,
            pricing: settings.pricing.clone(),
            calls: AtomicU64::new(0),
            cached: AtomicU64::new(0),
            offline: AtomicU64::new(0),
            read_cache: true,
            inflight: Mutex::new(std::collections::HashMap::new()),
            panel: settings.judge_panel.clone(),
            combine: settings.judge_combine,
        }
    }

    /// Whether verdicts may come from the cache (`eval --no-cache` and `--refresh` ask again).
    pub fn with_cache(mut self, read: bool) -> Judge {
        self.read_cache = read;
        self
    }

    /// The judge model, if configured.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Judge calls made.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Judge answers replayed offline.
    pub fn offline(&self) -> u64 {
        self.offline.load(Ordering::Relaxed)
    }

    /// Judge answers taken from the cache.
    pub fn cached(&self) -> u64 {
        self.cached.load(Ordering::Relaxed)
    }

    /// Grade every model-graded assertion of a job's case; `None` for deterministic ones.
    /// `baseline` is the other side's output for `pairwise`; on the gate's baseline side
    /// (`pairwise_self`) a pairwise assertion is a tie with itself and costs no call.
    pub async fn grade_all(
        &self,
        input: &JudgeInput<'_>,
        output: &str,
        baseline: Option<&str>,
        pairwise_self: bool,
        emit: impl Fn(Answered) + Sync,
    ) -> Vec<Option<Graded>> {
        let mut out = Vec::with_capacity(input.assertions.len());
        // Scanned once, before grading: a hit makes every judge verdict on it SUSPECT.
        let finding = crate::assert::cross::any(input.assertions, &|a| a.kind.is_model_graded())
            .then(|| inject::scan(output))
            .flatten();
        for a in input.assertions {
            if let crate::assert::Check::Set(items) = &a.check {
                // An `assert-set`'s items are graded like the case's own; the engine combines them.
                let mut children = Vec::with_capacity(items.len());
                for item in items.iter() {
                    children.push(
                        self.grade_one(
                            item,
                            input,
                            output,
                            baseline,
                            pairwise_self,
                            &finding,
                            &emit,
                        )
                        .await,
                    );
                }
                if children.iter().all(Option::is_none) {
                    out.push(None);
                } else {
                    out.push(Some(Graded {
                        children,
                        ..Graded::free(Verdict::error("an assert-set is combined by the engine"))
                    }));
                }
                continue;
            }
            out.push(
                self.grade_one(a, input, output, baseline, pairwise_self, &finding, &emit)
                    .await,
            );
        }
        out
    }

    /// Grade one model-graded assertion of a case; `None` for any other kind.
    #[allow(clippy::too_many_arguments)]
    async fn grade_one(
        &self,
        a: &Assertion,
        input: &JudgeInput<'_>,
        output: &str,
        baseline: Option<&str>,
        pairwise_self: bool,
        finding: &Option<inject::Finding>,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Option<Graded> {
        if !a.kind.is_model_graded() && a.kind != Kind::Similar {
            return None;
        }
        if a.kind == Kind::Pairwise && baseline.is_none() && !pairwise_self {
            // Plain `eval` has no other side to compare with.
            return Some(Graded {
                skipped: true,
                ..Graded::free(Verdict {
                    pass: true,
                    score: 0.0,
                    reason: PAIRWISE_SKIPPED.into(),
                    error: false,
                })
            });
        }
        if a.kind == Kind::Pairwise && pairwise_self {
            let t = a.threshold.unwrap_or(0.5);
            return Some(Graded::free(Verdict {
                pass: 0.5 >= t,
                score: 0.5,
                reason: "baseline side: a tie with itself".into(),
                error: false,
            }));
        }
        let prompt = a
            .include_prompt
            .then(|| context::prompt_text(input.messages));
        let question = input.question();
        let panel = !self.panel.is_empty()
            && a.provider.is_none()
            && a.kind.is_model_graded()
            && a.kind != Kind::Pairwise;
        let mut g = if panel {
            self.panel_grade(a, output, &question, prompt.as_deref(), input.vars, emit)
                .await
        } else {
            self.grade_in(
                a,
                output,
                &question,
                prompt.as_deref(),
                input.vars,
                baseline,
                None,
                emit,
            )
            .await
        };
        if let (Some(f), true) = (finding, a.kind.is_model_graded()) {
            g.suspect(format!("{} [{}]", f.reason, f.signal));
        } else if let Some(why) = g.suspect.take() {
            g.suspect(why);
        }
        Some(g)
    }

    /// Grade one assertion. `baseline` is the other output for `pairwise`.
    pub async fn grade(
        &self,
        a: &Assertion,
        output: &str,
        question: &str,
        vars: &Map<String, Value>,
        baseline: Option<&str>,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Graded {
        self.grade_in(a, output, question, None, vars, baseline, None, emit)
            .await
    }

    /// Grade with every judge of `judge.panel` and combine the verdicts (`judge.combine`).
    /// Any judge's ERROR makes the assertion ERROR; the votes are kept for the agreement
    /// report.
    async fn panel_grade(
        &self,
        a: &Assertion,
        output: &str,
        question: &str,
        prompt: Option<&str>,
        vars: &Map<String, Value>,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Graded {
        let mut total = Graded::free(Verdict::error(""));
        let mut votes = Vec::new();
        let mut lines = Vec::new();
        for m in &self.panel {
            let g = self
                .grade_in(a, output, question, prompt, vars, None, Some(m), emit)
                .await;
            total.input_tokens += g.input_tokens;
            total.output_tokens += g.output_tokens;
            total.cost_usd += g.cost_usd;
            total.suspect = total.suspect.take().or(g.suspect);
            if g.verdict.error {
                total.call_failed = g.call_failed;
                total.verdict = Verdict::error(format!(
                    "panel judge {}/{}: {}",
                    m.provider, m.model, g.verdict.reason
                ));
                return total;
            }
            votes.push((g.verdict.pass, g.verdict.score));
            lines.push(format!(
                "{}/{} {}: {}",
                m.provider,
                m.model,
                if g.verdict.pass { "pass" } else { "fail" },
                g.verdict.reason
            ));
        }
        let n = votes.len() as f64;
        let yes = votes.iter().filter(|(p, _)| *p).count();
        let score = votes.iter().map(|(_, s)| s).sum::<f64>() / n;
        let (pass, how) = match self.combine {
            crate::config::Combine::Majority => (
                yes as f64 * 2.0 > n,
                format!("panel majority: {yes} of {} pass", votes.len()),
            ),
            crate::config::Combine::Mean => {
                let t = a.threshold.unwrap_or(0.5);
                (score >= t, format!("panel mean {score:.2} (threshold {t})"))
            }
        };
        total.panel = Some(votes.iter().map(|(p, _)| *p).collect());
        total.verdict = Verdict {
            pass,
            score,
            reason: format!("{how}; {}", lines.join("; ")),
            error: false,
        };
        total
    }

    /// [`Judge::grade`], with the rendered prompt shown to the judge when given.
    #[allow(clippy::too_many_arguments)]
    async fn grade_in(
        &self,
        a: &Assertion,
        output: &str,
        question: &str,
        prompt: Option<&str>,
        vars: &Map<String, Value>,
        baseline: Option<&str>,
        member: Option<&crate::config::PanelMember>,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Graded {
        // A rubric written as a template (`{{ ticket }}`) is rendered with the case's vars.
        let rendered = match context::render_value(a, vars) {
            Ok(r) => r,
            Err(e) => return Graded::free(Verdict::error(e)),
        };
        let a = &rendered;
        if output.trim().is_empty() {
            return Graded::free(Verdict {
                pass: false,
                score: 0.0,
                reason: "empty output".into(),
                error: false,
            });
        }
        let Some(provider) = member
            .map(|m| m.provider.clone())
            .or_else(|| a.provider.clone())
            .or_else(|| self.provider.clone())
        else {
            return Graded::free(Verdict::error(
                "no judge configured: set `judge: { provider, model }` in llmops.yaml",
            ));
        };
        if self.providers.get(&provider).is_none() {
            return Graded::free(Verdict::error(format!(
                "judge provider `{provider}` is not available in this run"
            )));
        }
        if a.kind == Kind::Similar {
            return self.similar(a, &provider, output, emit).await;
        }
        let Some(model) = member
            .map(|m| m.model.clone())
            .or_else(|| self.model.clone())
        else {
            return Graded::free(Verdict::error(
                "no judge model: set `judge.model` in llmops.yaml",
            ));
        };
        match a.kind {
            Kind::ContextFaithfulness | Kind::ContextRelevance
                if rag::context_units(vars).is_none() =>
            {
                return Graded::free(Verdict::error(format!(
                    "`{}` needs a `context` variable (the retrieved text, or a list of chunks)",
                    a.kind.as_str()
                )));
            }
            Kind::ConversationRelevance => {
                return self
                    .conversation(a, &provider, &model, output, question, vars, emit)
                    .await;
            }
            _ => {}
        }
        if a.kind == Kind::Pairwise {
            let Some(base) = baseline else {
                return Graded::free(Verdict::error(
                    "pairwise compares against a baseline output; it is graded by `llmops gate`",
                ));
            };
            // Ask in both orders; positional bias shows as disagreement, which counts as a tie.
            let first = self
                .ask_verdict(
                    a,
                    &provider,
                    &model,
                    output,
                    question,
                    prompt,
                    vars,
                    Some(base),
                    emit,
                )
                .await;
            let second = self
                .ask_verdict(
                    a,
                    &provider,
                    &model,
                    base,
                    question,
                    prompt,
                    vars,
                    Some(output),
                    emit,
                )
                .await;
            let (mut g1, g2) = match (first, second) {
                (Ok(x), Ok(y)) => (x, y),
                (Err(g), _) | (_, Err(g)) => return g,
            };
            let w1 =
                g1.0.get("winner")
                    .and_then(Value::as_str)
                    .unwrap_or("tie")
                    .to_string();
            let w2 =
                g2.0.get("winner")
                    .and_then(Value::as_str)
                    .unwrap_or("tie")
                    .to_string();
            // In the second order the candidate is B.
            let score = match (w1.as_str(), w2.as_str()) {
                ("A", "B") => 1.0,
                ("B", "A") => 0.0,
                _ => 0.5,
            };
            g1.1.suspect = reported(&g1.0).or_else(|| reported(&g2.0));
            g1.1.input_tokens += g2.1.input_tokens;
            g1.1.output_tokens += g2.1.output_tokens;
            g1.1.cost_usd += g2.1.cost_usd;
            let threshold = a.threshold.unwrap_or(0.5);
            g1.1.verdict = Verdict {
                pass: score >= threshold,
                score,
                reason: match (w1.as_str(), w2.as_str()) {
                    ("A", "B") => "the judge preferred the candidate in both orders".into(),
                    ("B", "A") => "the judge preferred the baseline in both orders".into(),
                    _ => format!("tie (first order: {w1}, swapped order: {w2})"),
                },
                error: false,
            };
            return g1.1;
        }
        match self
            .ask_verdict(
                a, &provider, &model, output, question, prompt, vars, None, emit,
            )
            .await
        {
            Ok((v, mut g)) => {
                g.verdict = prompts::score(a, &v);
                if a.kind == Kind::ContextRelevance {
                    // The share is of the context's lines: a judge that lists only the lines
                    // it likes would otherwise score 1.0.
                    let want = rag::context_units(vars).map_or(0, |u| u.len());
                    let got = v["statements"].as_array().map_or(0, Vec::len);
                    if got != want {
                        g.verdict = Verdict::error(format!(
                            "the judge graded {got} of the context's {want} lines"
                        ));
                    }
                }
                // Recorded here, applied by `grade_all` after the scanner has had its say.
                g.suspect = reported(&v);
                g
            }
            Err(g) => g,
        }
    }

    /// Ask for a verdict, with one repair request when the reply does not parse.
    #[allow(clippy::too_many_arguments)]
    async fn ask_verdict(
        &self,
        a: &Assertion,
        provider: &str,
        model: &str,
        output: &str,
        question: &str,
        prompt: Option<&str>,
        vars: &Map<String, Value>,
        other: Option<&str>,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Result<(Map<String, Value>, Graded), Graded> {
        let jp = prompts::build(a, output, question, prompt, vars, other);
        self.ask_prompt(&jp, provider, model, a.kind == Kind::GEval, emit)
            .await
    }

    /// Ask `jp` for a verdict, with one repair request when the reply does not parse.
    async fn ask_prompt(
        &self,
        jp: &JudgePrompt,
        provider: &str,
        model: &str,
        logprobs: bool,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Result<(Map<String, Value>, Graded), Graded> {
        // The schema goes with every judge request (providers without structured output
        // ignore it), so a verdict recorded against one provider replays against another.
        let params = Parameters {
            temperature: Some(0.0),
            max_tokens: Some(800),
            response_format: Some(
                serde_json::json!({ "type": "json_schema", "name": "verdict", "schema": jp.schema }),
            ),
            // G-Eval weights the 1-5 score by the probability of each digit.
            logprobs: logprobs.then_some(5),
            ..Parameters::default()
        };
        let mut messages = vec![
            Message {
                role: Role::System,
                content: jp.system.clone(),
            },
            Message {
                role: Role::User,
                content: jp.user.clone(),
            },
        ];
        let mut total = Graded::free(Verdict::error(""));
        for attempt in 0..2 {
            let req = Request {
                model: model.to_string(),
                messages: messages.clone(),
                params: params.clone(),
                sample: 0,
                embed: false,
            };
            let resp = match self.ask(provider, &req, emit).await {
                Ok((resp, cost)) => {
                    total.input_tokens += cost.0;
                    total.output_tokens += cost.1;
                    total.cost_usd += cost.2;
                    resp
                }
                Err(e) => {
                    total.verdict = Verdict::error(format!("judge call failed: {e}"));
                    total.call_failed = true;
                    return Err(total);
                }
            };
            match parse_verdict(&resp.text, &jp.shape) {
                Ok(mut v) => {
                    if let Some(w) = resp.logprobs.as_deref().and_then(prompts::weighted_scale) {
                        // Internal only: the schema the judge answered never has this key.
                        v.insert("_weighted".into(), serde_json::json!(w));
                    }
                    return Ok((v, total));
                }
                Err(why) if attempt == 0 => {
                    messages.push(Message {
                        role: Role::Assistant,
                        content: resp.text.clone(),
                    });
                    messages.push(Message {
                        role: Role::User,
                        content: prompts::repair_message(&why, &jp.shape),
                    });
                }
                Err(why) => {
                    total.verdict = Verdict::error(format!(
                        "the judge's verdict could not be parsed after a repair request: {why}"
                    ));
                    return Err(total);
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// One judge request through the cache, asked at most once per run: an identical request
    /// waits for the first one's answer and spends nothing. Returns the response and (input
    /// tokens, output tokens, USD) actually spent.
    async fn ask(
        &self,
        provider: &str,
        req: &Request,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Result<(Response, (u64, u64, f64)), CallError> {
        let fp = crate::provider::fingerprint(provider, req);
        let cell = {
            let mut map = self.inflight.lock().expect("not poisoned");
            map.entry(fp.clone()).or_default().clone()
        };
        let led = std::sync::atomic::AtomicBool::new(false);
        let answer = cell
            .get_or_init(|| async {
                led.store(true, Ordering::Relaxed);
                self.ask_once(provider, req, &fp, emit).await
            })
            .await
            .clone();
        if led.load(Ordering::Relaxed) {
            return answer;
        }
        self.cached.fetch_add(1, Ordering::Relaxed);
        answer.map(|(resp, _)| (resp, (0, 0, 0.0)))
    }

    /// [`Judge::ask`] for the first of identical requests.
    async fn ask_once(
        &self,
        provider: &str,
        req: &Request,
        fp: &str,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Result<(Response, (u64, u64, f64)), CallError> {
        let fp = fp.to_string();
        let hit = if self.read_cache {
            // A SQLite read blocks: keep it off the async workers.
            let (store, key) = (self.store.clone(), fp.clone());
            tokio::task::spawn_blocking(move || {
                store
                    .lock()
                    .ok()
                    .and_then(|s| s.cached(&key).ok().flatten())
            })
            .await
            .ok()
            .flatten()
        } else {
            None
        };
        if let Some((resp, _)) = hit {
            self.cached.fetch_add(1, Ordering::Relaxed);
            return Ok((resp, (0, 0, 0.0)));
        }
        let outcome = self.providers.call(provider, req, &|_| {}).await;
        // Verdicts replayed from recordings are not cached (or billed): the recording is the
        // source of truth, and a re-recorded verdict must win.
        let live = self
            .providers
            .get(&outcome.provider)
            .is_some_and(|p| p.cacheable());
        if live {
            self.calls.fetch_add(1, Ordering::Relaxed);
        } else {
            self.offline.fetch_add(1, Ordering::Relaxed);
        }
        let resp = outcome.result?;
        emit(Answered {
            fingerprint: fp,
            provider: outcome.provider.clone(),
            cacheable: live,
            prompt: "judge".into(),
            request: req.clone(),
            response: resp.clone(),
            latency_ms: outcome.latency_ms,
        });
        let cost = pricing::cost(
            &req.model,
            resp.usage.input_tokens,
            resp.usage.output_tokens,
            &self.pricing,
        )
        .unwrap_or(0.0);
        let cost = if live { cost } else { 0.0 };
        Ok((
            resp.clone(),
            (resp.usage.input_tokens, resp.usage.output_tokens, cost),
        ))
    }

    /// `conversation-relevance`: one verdict per window of the conversation; the score is the
    /// share of windows whose reply the judge found relevant.
    #[allow(clippy::too_many_arguments)]
    async fn conversation(
        &self,
        a: &Assertion,
        provider: &str,
        model: &str,
        output: &str,
        question: &str,
        vars: &Map<String, Value>,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Graded {
        let windows = match rag::windows(vars, question, output) {
            Ok(w) => w,
            Err(e) => return Graded::free(Verdict::error(e)),
        };
        let mut total = Graded::free(Verdict::error(""));
        let mut relevant = Vec::new();
        for (transcript, reply) in &windows {
            match self
                .ask_verdict(
                    a, provider, model, reply, transcript, None, vars, None, emit,
                )
                .await
            {
                Ok((v, g)) => {
                    total.input_tokens += g.input_tokens;
                    total.output_tokens += g.output_tokens;
                    total.cost_usd += g.cost_usd;
                    total.suspect = total.suspect.or_else(|| reported(&v));
                    relevant.push(v["pass"].as_bool().unwrap_or(false));
                }
                Err(mut g) => {
                    g.input_tokens += total.input_tokens;
                    g.output_tokens += total.output_tokens;
                    g.cost_usd += total.cost_usd;
                    return g;
                }
            }
        }
        let n = relevant.len();
        let yes = relevant.iter().filter(|r| **r).count();
        let score = yes as f64 / n as f64;
        let t = a.threshold.unwrap_or(0.5);
        let off: Vec<String> = relevant
            .iter()
            .enumerate()
            .filter(|(_, r)| !**r)
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        total.verdict = Verdict {
            pass: score >= t,
            score,
            reason: format!(
                "{yes} of {n} replies relevant ({score:.2}, threshold {t}){}",
                if off.is_empty() {
                    String::new()
                } else {
                    format!("; off topic: turn {}", off.join(", "))
                }
            ),
            error: false,
        };
        total
    }

    async fn similar(
        &self,
        a: &Assertion,
        provider: &str,
        output: &str,
        emit: &(dyn Fn(Answered) + Sync),
    ) -> Graded {
        // One reference, or several: the output passes when it is similar enough to any.
        let references: Vec<&str> = match a.value.as_ref() {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            v => vec![v.and_then(Value::as_str).unwrap_or("")],
        };
        let model = DEFAULT_EMBEDDING_MODEL.to_string();
        let mut g = Graded::free(Verdict::error(""));
        let mut vectors = Vec::new();
        for text in std::iter::once(output).chain(references.iter().copied()) {
            let req = Request {
                model: model.clone(),
                messages: vec![Message {
                    role: Role::User,
                    content: text.to_string(),
                }],
                params: Parameters::default(),
                sample: 0,
                embed: true,
            };
            match self.ask(provider, &req, emit).await {
                Ok((resp, cost)) => {
                    g.input_tokens += cost.0;
                    g.cost_usd += cost.2;
                    match serde_json::from_str::<Vec<f64>>(&resp.text) {
                        Ok(v) => vectors.push(v),
                        Err(_) => {
                            g.verdict = Verdict::error("the embedding is not a list of numbers");
                            return g;
                        }
                    }
                }
                Err(e) => {
                    g.verdict = Verdict::error(format!("embedding call failed: {e}"));
                    g.call_failed = true;
                    return g;
                }
            }
        }
        let threshold = a.threshold.unwrap_or(crate::assert::SIMILAR_THRESHOLD);
        let metric = match &a.check {
            crate::assert::Check::Similarity(m) => *m,
            _ => Metric::Cosine,
        };
        // Per reference: the similarity (higher is closer) or, for euclidean, the distance.
        let mut values = Vec::new();
        for v in &vectors[1..] {
            let x = match metric {
                Metric::Cosine => cosine(&vectors[0], v),
                Metric::Dot => (vectors[0].len() == v.len() && !v.is_empty())
                    .then(|| vectors[0].iter().zip(v).map(|(x, y)| x * y).sum()),
                Metric::Euclidean => (vectors[0].len() == v.len() && !v.is_empty()).then(|| {
                    vectors[0]
                        .iter()
                        .zip(v)
                        .map(|(x, y)| (x - y) * (x - y))
                        .sum::<f64>()
                        .sqrt()
                }),
            };
            match x {
                Some(x) => values.push(x),
                None => {
                    g.verdict = Verdict::error("the two embeddings differ in length or are zero");
                    return g;
                }
            }
        }
        // The closest reference decides: `similar` passes when any is close enough, and
        // `not-similar` only when none is.
        let (closest, close_enough, score, what) = match metric {
            Metric::Euclidean => {
                let d = values.iter().copied().fold(f64::INFINITY, f64::min);
                (d, d <= threshold, 1.0 / (1.0 + d), "euclidean distance")
            }
            m => {
                let s = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let name = if m == Metric::Dot {
                    "dot product"
                } else {
                    "cosine similarity"
                };
                (s, s >= threshold, s.clamp(0.0, 1.0), name)
            }
        };
        let of = if references.len() > 1 {
            format!(" (the closest of {} references)", references.len())
        } else {
            String::new()
        };
        g.verdict = Verdict {
            pass: close_enough != a.negate,
            score: if a.negate { 1.0 - score } else { score },
            reason: format!("{what} {closest:.3}{of} (threshold {threshold})"),
            error: false,
        };
        g
    }
}

#[cfg(test)]
mod tests {
    use super::cosine;

    #[test]
    fn cosine_similarity() {
        assert_eq!(cosine(&[1.0, 0.0], &[1.0, 0.0]), Some(1.0));
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), Some(0.0));
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), None);
    }
}
