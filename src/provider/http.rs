//! HTTP clients for the OpenAI chat-completions API (and compatible servers) and the
//! Anthropic messages API.

use std::time::Duration;

use serde_json::{json, Value};

use super::limiter::{parse_duration, Hints};
use super::{CallError, Request, Response, Secret, Usage};
use crate::config::ProviderKind;
use crate::error::{Error, Result};
use crate::template::Role;

/// One HTTP provider.
pub struct Client {
    kind: ProviderKind,
    base: String,
    key: Option<Secret>,
    http: reqwest::Client,
    timeout: Duration,
    max_body: u64,
}

/// The longest error text we keep from a server.
const MAX_ERROR_TEXT: usize = 300;

/// The longest `Retry-After` we believe: a server asking for more is capped here (the retry
/// policy caps each wait further).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Parse `Retry-After` defensively: seconds (whole or not) or an HTTP date, capped at
/// [`MAX_RETRY_AFTER`]; anything else (negative, not finite, absurdly long) is ignored.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if v.len() > 64 {
        return None;
    }
    if let Ok(secs) = v.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return None;
        }
        return Some(Duration::from_secs_f64(
            secs.min(MAX_RETRY_AFTER.as_secs_f64()),
        ));
    }
    // An HTTP date: wait until then.
    let when = httpdate_to_unix(v)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(when.saturating_sub(now)).min(MAX_RETRY_AFTER))
}

/// Everything a response says about the provider's limits: `retry-after-ms`, `Retry-After`,
/// LiteLLM's `llm_provider-retry-after`, and OpenAI's `x-ratelimit-*`.
pub(super) fn parse_hints(headers: &reqwest::header::HeaderMap) -> Hints {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let num = |name: &str| get(name).and_then(|v| v.trim().parse::<u64>().ok());
    let dur = |name: &str| {
        get(name)
            .and_then(parse_duration)
            .map(|d| d.min(MAX_RETRY_AFTER))
    };
    let retry_after = get("retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64((ms / 1000.0).min(MAX_RETRY_AFTER.as_secs_f64())))
        .or_else(|| get("retry-after").and_then(parse_retry_after))
        .or_else(|| get("llm_provider-retry-after").and_then(parse_retry_after));
    Hints {
        retry_after,
        limit_requests: num("x-ratelimit-limit-requests"),
        remaining_requests: num("x-ratelimit-remaining-requests"),
        reset_requests: dur("x-ratelimit-reset-requests"),
        limit_tokens: num("x-ratelimit-limit-tokens"),
        remaining_tokens: num("x-ratelimit-remaining-tokens"),
        reset_tokens: dur("x-ratelimit-reset-tokens"),
    }
}

/// Parse an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into Unix seconds.
fn httpdate_to_unix(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok().filter(|d| (1..=31).contains(d))?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == parts[2])? as u64 + 1;
    let year: u64 = parts[3]
        .parse()
        .ok()
        .filter(|y| (1970..=9999).contains(y))?;
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

/// A chat-completions body, serialised from borrowed fields: the same JSON as
/// [`Client::body`] builds for OpenAI, without building it as a `Value` first.
fn openai_body(req: &Request) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Msg<'a> {
        role: &'a str,
        content: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        model: &'a str,
        messages: Vec<Msg<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_tokens: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        seed: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        stop: Option<&'a Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        presence_penalty: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        frequency_penalty: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        response_format: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tools: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        logprobs: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        top_logprobs: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        temperature: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        top_p: Option<f64>,
    }
    let p = &req.params;
    let body = Body {
        model: &req.model,
        messages: req
            .messages
            .iter()
            .map(|m| Msg {
                role: m.role.as_str(),
                content: &m.content,
            })
            .collect(),
        max_tokens: p.max_tokens,
        seed: p.seed,
        stop: p.stop.as_ref(),
        presence_penalty: p.presence_penalty,
        frequency_penalty: p.frequency_penalty,
        response_format: p.response_format.as_ref().map(response_format),
        tools: p.tools.as_ref(),
        logprobs: p.logprobs.map(|_| true),
        top_logprobs: p.logprobs,
        temperature: p.temperature,
        top_p: p.top_p,
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

fn response_format(v: &Value) -> Value {
    match v {
        Value::String(s) => json!({ "type": s }),
        Value::Object(o)
            if o.get("type").and_then(Value::as_str) == Some("json_schema")
                && o.contains_key("schema") =>
        {
            json!({
                "type": "json_schema",
                "json_schema": {
                    "name": o.get("name").cloned().unwrap_or_else(|| json!("output")),
                    "schema": o["schema"],
                    "strict": o.get("strict").cloned().unwrap_or(json!(true)),
                }
            })
        }
        other => other.clone(),
    }
}

impl Client {
    /// A client for `base` with `key` (if the provider needs one).
    pub fn new(
        kind: ProviderKind,
        base: String,
        key: Option<Secret>,
        timeout: Duration,
        max_body: u64,
    ) -> Result<Client> {
        // Follow redirects within the origin only: reqwest strips `Authorization` on a
        // cross-origin hop but not `x-api-key`, so no credential ever leaves the origin.
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().map(reqwest::Url::origin);
            if attempt.previous().len() > 5 {
                attempt.error("too many redirects")
            } else if first.is_some_and(|o| o != attempt.url().origin()) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .redirect(policy)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(256)
            .user_agent(concat!("llmops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::usage(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            kind,
            base: base.trim_end_matches('/').to_string(),
            key,
            http,
            timeout,
            max_body,
        })
    }

    fn body(&self, req: &Request) -> Value {
        let p = &req.params;
        let mut body = serde_json::Map::new();
        body.insert("model".into(), json!(req.model));
        match self.kind {
            ProviderKind::Anthropic => {
                let system: Vec<&str> = req
                    .messages
                    .iter()
                    .filter(|m| m.role == Role::System)
                    .map(|m| m.content.as_str())
                    .collect();
                if !system.is_empty() {
                    body.insert("system".into(), json!(system.join("\n\n")));
                }
                let msgs: Vec<Value> = req
                    .messages
                    .iter()
                    .filter(|m| m.role != Role::System)
                    .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
                    .collect();
                body.insert("messages".into(), Value::Array(msgs));
                // The messages API requires max_tokens.
                body.insert("max_tokens".into(), json!(p.max_tokens.unwrap_or(1024)));
                if let Some(stop) = &p.stop {
                    body.insert("stop_sequences".into(), json!(stop));
                }
                if let Some(tools) = &p.tools {
                    body.insert("tools".into(), tools.clone());
                }
            }
            _ => {
                let msgs: Vec<Value> = req
                    .messages
                    .iter()
                    .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
                    .collect();
                body.insert("messages".into(), Value::Array(msgs));
                if let Some(v) = p.max_tokens {
                    body.insert("max_tokens".into(), json!(v));
                }
                if let Some(v) = p.seed {
                    body.insert("seed".into(), json!(v));
                }
                if let Some(v) = &p.stop {
                    body.insert("stop".into(), json!(v));
                }
                if let Some(v) = p.presence_penalty {
                    body.insert("presence_penalty".into(), json!(v));
                }
                if let Some(v) = p.frequency_penalty {
                    body.insert("frequency_penalty".into(), json!(v));
                }
                if let Some(v) = &p.response_format {
                    body.insert("response_format".into(), response_format(v));
                }
                if let Some(v) = &p.tools {
                    body.insert("tools".into(), v.clone());
                }
                if let Some(n) = p.logprobs {
                    body.insert("logprobs".into(), json!(true));
                    body.insert("top_logprobs".into(), json!(n));
                }
            }
        }
        if let Some(v) = p.temperature {
            body.insert("temperature".into(), json!(v));
        }
        if let Some(v) = p.top_p {
            body.insert("top_p".into(), json!(v));
        }
        Value::Object(body)
    }

    fn scrub(&self, text: &str) -> String {
        let text = match &self.key {
            Some(k) => k.scrub(text),
            None => crate::redact::scrub_string(text.to_string()),
        };
        let mut t: String = text.chars().take(MAX_ERROR_TEXT).collect();
        if text.chars().count() > MAX_ERROR_TEXT {
            t.push('…');
        }
        t
    }

    /// One attempt, no retries; with what the response said about the provider's limits.
    pub async fn call(&self, req: &Request) -> (Result<Response, CallError>, Hints) {
        let mut hints = Hints::default();
        let result = if req.embed {
            self.embed(req, &mut hints).await
        } else {
            self.chat(req, &mut hints).await
        };
        (result, hints)
    }

    async fn chat(&self, req: &Request, hints: &mut Hints) -> Result<Response, CallError> {
        let (url, mut builder) = match self.kind {
            ProviderKind::Anthropic => {
                let url = if self.base.ends_with("/v1") {
                    format!("{}/messages", self.base)
                } else {
                    format!("{}/v1/messages", self.base)
                };
                let mut b = self
                    .http
                    .post(&url)
                    .header("anthropic-version", "2023-06-01");
                if let Some(k) = &self.key {
                    b = b.header("x-api-key", k.expose());
                }
                (url, b)
            }
            _ => {
                let url = format!("{}/chat/completions", self.base);
                let mut b = self.http.post(&url);
                if let Some(k) = &self.key {
                    b = b.bearer_auth(k.expose());
                }
                (url, b)
            }
        };
        builder = match self.kind {
            ProviderKind::Anthropic => builder.json(&self.body(req)),
            // Serialised straight from the request, with no `Value` in between.
            _ => builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(openai_body(req)),
        };
        let bytes = self.send(builder, &url, hints).await?;
        // The common answer (text, usage, no logprobs) straight into its fields; anything else
        // through a `Value`, whose reading names what is missing.
        let fast = match self.kind {
            ProviderKind::Anthropic => None,
            _ => parse_openai_fast(&bytes),
        };
        match fast {
            Some(r) => Ok(r),
            None => {
                let v: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| CallError::BadResponse(format!("not JSON ({e})")))?;
                match self.kind {
                    ProviderKind::Anthropic => parse_anthropic(&v),
                    _ => parse_openai(&v),
                }
            }
        }
        .map(|mut r| {
            if r.usage.input_tokens == 0 && r.usage.output_tokens == 0 {
                r.usage = Usage {
                    input_tokens: super::estimate_request_tokens(req),
                    output_tokens: super::estimate_tokens(&r.text),
                    estimated: true,
                };
            }
            r
        })
    }

    async fn embed(&self, req: &Request, hints: &mut Hints) -> Result<Response, CallError> {
        if self.kind == ProviderKind::Anthropic {
            return Err(CallError::Client { status: 400, message: "the Anthropic API has no embeddings endpoint; use an OpenAI-compatible provider for `similar`".into() });
        }
        let url = format!("{}/embeddings", self.base);
        let text = req.messages.first().map_or("", |m| m.content.as_str());
        let mut b = self
            .http
            .post(&url)
            .json(&json!({ "model": req.model, "input": text }));
        if let Some(k) = &self.key {
            b = b.bearer_auth(k.expose());
        }
        let bytes = self.send(b, &url, hints).await?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| CallError::BadResponse(format!("not JSON ({e})")))?;
        let vector = v
            .pointer("/data/0/embedding")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no `data[0].embedding` in the body"))?;
        if vector.is_empty() || !vector.iter().all(Value::is_number) {
            return Err(bad("the embedding is not a list of numbers"));
        }
        let input_tokens = v
            .pointer("/usage/prompt_tokens")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| super::estimate_tokens(text));
        Ok(Response {
            text: Value::Array(vector.clone()).to_string(),
            finish_reason: None,
            usage: Usage {
                input_tokens,
                output_tokens: 0,
                estimated: false,
            },
            logprobs: None,
            tool_calls: Vec::new(),
        })
    }

    /// Send, read the body (at most `max_body` bytes), and turn a non-2xx status into the
    /// error it means.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        url: &str,
        hints: &mut Hints,
    ) -> Result<Vec<u8>, CallError> {
        let mut resp = builder
            .send()
            .await
            .map_err(|e| self.transport_error(&e, url))?;
        let status = resp.status().as_u16();
        *hints = parse_hints(resp.headers());
        let retry_after = hints.wait();
        if (300..=399).contains(&status) {
            // Redirects within the origin were followed; this one leaves it.
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            return Err(CallError::CrossOriginRedirect {
                status,
                to: self.scrub(to),
            });
        }
        if resp.content_length().is_some_and(|n| n > self.max_body) {
            return Err(CallError::TooLarge {
                limit: self.max_body,
            });
        }
        // Stream the body and stop at the cap: a hostile or broken server cannot make us hold
        // more than `max_body` bytes. Error bodies are cut much shorter.
        let cap = if (200..=299).contains(&status) {
            self.max_body
        } else {
            64 * 1024
        };
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() as u64 + chunk.len() as u64 > cap {
                        if (200..=299).contains(&status) {
                            return Err(CallError::TooLarge {
                                limit: self.max_body,
                            });
                        }
                        let room = (cap as usize).saturating_sub(bytes.len());
                        bytes.extend_from_slice(&chunk[..room.min(chunk.len())]);
                        break;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.transport_error(&e, url)),
            }
        }
        let message = || self.server_message(&bytes);
        match status {
            200..=299 => Ok(bytes),
            429 => Err(CallError::RateLimited {
                retry_after,
                message: message(),
            }),
            401 | 403 => Err(CallError::Auth(status)),
            // 408: how proxies (LiteLLM, gateways) report an upstream timeout; worth a retry.
            // A server error waits only when it says so itself (`Retry-After` and kin): an
            // exhausted `x-ratelimit-*` budget on a 500 does not make it a rate limit.
            408 | 500..=599 => Err(CallError::Server {
                status,
                retry_after: hints.retry_after,
                message: message(),
            }),
            _ => Err(CallError::Client {
                status,
                message: message(),
            }),
        }
    }

    /// The server's own words from an error body, truncated and redacted: OpenAI-style
    /// `{"error": {"message": ...}}`, Anthropic's the same, `{"error": "..."}`,
    /// `{"message": ...}`, or the text itself.
    fn server_message(&self, bytes: &[u8]) -> String {
        let from_json = serde_json::from_slice::<Value>(bytes).ok().and_then(|v| {
            ["/error/message", "/error", "/message", "/detail"]
                .iter()
                .find_map(|p| v.pointer(p).and_then(Value::as_str).map(str::to_string))
        });
        let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
        // Cut far past what is kept: a cut at MAX_ERROR_TEXT * 2 could split a key below the
        // length the redactor recognises and leave its head printed. `scrub` keeps the first
        // MAX_ERROR_TEXT characters of the redacted text, well before this cut.
        self.scrub(&crate::text::one_line(&text, MAX_ERROR_TEXT * 8))
    }

    fn transport_error(&self, e: &reqwest::Error, url: &str) -> CallError {
        if e.is_timeout() {
            CallError::Timeout(self.timeout.as_secs_f64())
        } else if e.is_decode() || e.is_body() {
            CallError::Connection(format!("response from {} was cut short", self.scrub(url)))
        } else {
            // reqwest's chain can be long; the first cause names the problem.
            let mut cause = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                cause = s.to_string();
                src = s.source();
            }
            CallError::Connection(format!("{}: {}", self.scrub(url), self.scrub(&cause)))
        }
    }
}

fn bad(what: &str) -> CallError {
    CallError::BadResponse(what.to_string())
}

/// The usual chat completion, typed: one text choice, usage, no tool calls or logprobs.
/// `None` for anything else, which [`parse_openai`] reads (and explains) instead.
fn parse_openai_fast(bytes: &[u8]) -> Option<Response> {
    #[derive(serde::Deserialize)]
    struct Body {
        choices: Vec<Choice>,
        usage: Option<FastUsage>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        message: Message,
        finish_reason: Option<String>,
        logprobs: Option<serde::de::IgnoredAny>,
    }
    #[derive(serde::Deserialize)]
    struct Message {
        content: String,
        tool_calls: Option<serde::de::IgnoredAny>,
    }
    #[derive(serde::Deserialize)]
    struct FastUsage {
        prompt_tokens: Option<u64>,
        completion_tokens: Option<u64>,
    }
    let body: Body = serde_json::from_slice(bytes).ok()?;
    let choice = body.choices.into_iter().next()?;
    if choice.logprobs.is_some() || choice.message.tool_calls.is_some() {
        return None;
    }
    let usage = body.usage.map(|u| Usage {
        input_tokens: u.prompt_tokens.unwrap_or(0),
        output_tokens: u.completion_tokens.unwrap_or(0),
        estimated: false,
    });
    Some(Response {
        text: choice.message.content,
        finish_reason: choice.finish_reason,
        usage: usage.unwrap_or_default(),
        logprobs: None,
        tool_calls: Vec::new(),
    })
}

fn parse_openai(v: &Value) -> Result<Response, CallError> {
    let choice = v
        .pointer("/choices/0")
        .ok_or_else(|| bad("no `choices[0]` in the body"))?;
    let msg = choice
        .get("message")
        .ok_or_else(|| bad("no `message` in `choices[0]`"))?;
    let text = match msg.get("content") {
        Some(Value::String(s)) => s.clone(),
        _ => match msg.get("tool_calls") {
            Some(t) if !t.is_null() => t.to_string(),
            _ => return Err(bad("`message.content` is neither text nor tool calls")),
        },
    };
    let usage = v.get("usage").map(|u| Usage {
        input_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        output_tokens: u
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        estimated: false,
    });
    // choices[0].logprobs.content: [{token, logprob, top_logprobs: [{token, logprob}]}]
    let logprobs = choice
        .pointer("/logprobs/content")
        .and_then(Value::as_array)
        .map(|tokens| {
            tokens
                .iter()
                .map(|t| {
                    // The chosen token first, then the alternatives.
                    let mut alts: Vec<(String, f64)> = Vec::new();
                    if let (Some(tok), Some(lp)) = (
                        t.get("token").and_then(Value::as_str),
                        t.get("logprob").and_then(Value::as_f64),
                    ) {
                        alts.push((tok.to_string(), lp));
                    }
                    if let Some(a) = t.get("top_logprobs").and_then(Value::as_array) {
                        alts.extend(a.iter().filter_map(|x| {
                            Some((
                                x.get("token")?.as_str()?.to_string(),
                                x.get("logprob")?.as_f64()?,
                            ))
                        }));
                    }
                    alts
                })
                .collect()
        });
    let tool_calls = msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(Response {
        text,
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        usage: usage.unwrap_or_default(),
        logprobs,
        tool_calls,
    })
}

fn parse_anthropic(v: &Value) -> Result<Response, CallError> {
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `content` array in the body"))?;
    let mut text = String::new();
    let mut tools = Vec::new();
    for block in content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => tools.push(block.clone()),
            _ => {}
        }
    }
    // Kept in OpenAI's shape so the tool-call assertions read one shape.
    let tool_calls: Vec<Value> = tools
        .iter()
        .map(|b| {
            json!({
                "id": b.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": b.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": b.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into()),
                },
            })
        })
        .collect();
    if text.is_empty() && !tools.is_empty() {
        text = Value::Array(tools).to_string();
    }
    let finish = v.get("stop_reason").and_then(Value::as_str).map(|r| {
        match r {
            "end_turn" | "stop_sequence" => "stop",
            "max_tokens" => "length",
            "tool_use" => "tool_calls",
            "refusal" => "content_filter",
            other => other,
        }
        .to_string()
    });
    let usage = v.get("usage").map(|u| Usage {
        input_tokens: u.get("input_tokens").and_then(Value::as_u64).unwrap_or(0),
        output_tokens: u.get("output_tokens").and_then(Value::as_u64).unwrap_or(0),
        estimated: false,
    });
    Ok(Response {
        text,
        finish_reason: finish,
        usage: usage.unwrap_or_default(),
        logprobs: None,
        tool_calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(httpdate_to_unix("garbage"), None);
    }

    #[test]
    fn the_typed_body_is_the_value_body() {
        use crate::template::{Message, Parameters};
        let client = Client::new(
            ProviderKind::Openai,
            "http://127.0.0.1:9".into(),
            None,
            Duration::from_secs(1),
            1024,
        )
        .unwrap();
        let mut req = Request {
            model: "m".into(),
            messages: vec![
                Message {
                    role: Role::System,
                    content: "be \"brief\"\n".into(),
                },
                Message {
                    role: Role::User,
                    content: "hi ✓".into(),
                },
            ],
            params: Parameters::default(),
            sample: 3,
            embed: false,
        };
        let same = |req: &Request| {
            let typed: Value = serde_json::from_slice(&openai_body(req)).unwrap();
            assert_eq!(typed, client.body(req));
        };
        same(&req);
        req.params = serde_json::from_value(json!({
            "temperature": 0.2, "top_p": 0.9, "max_tokens": 64, "seed": -1,
            "stop": ["x"], "presence_penalty": 0.5, "frequency_penalty": -0.5,
            "response_format": {"type": "json_schema", "schema": {"type": "object"}},
            "tools": [{"type": "function"}], "logprobs": 3
        }))
        .unwrap();
        same(&req);
    }

    #[test]
    fn reads_every_rate_limit_header() {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let map = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            parse_hints(&h)
        };
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(map(&[("retry-after", "2")]).wait(), ms(2000));
        assert_eq!(map(&[("retry-after-ms", "150")]).wait(), ms(150));
        // retry-after-ms is the more precise: it wins.
        assert_eq!(
            map(&[("retry-after", "1"), ("retry-after-ms", "150")]).wait(),
            ms(150)
        );
        assert_eq!(map(&[("llm_provider-retry-after", "3")]).wait(), ms(3000));
        let h = map(&[
            ("x-ratelimit-limit-requests", "1200"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "6m0s"),
            ("x-ratelimit-limit-tokens", "90000"),
            ("x-ratelimit-remaining-tokens", "812"),
            ("x-ratelimit-reset-tokens", "20ms"),
        ]);
        assert_eq!(h.limit_requests, Some(1200));
        assert_eq!(h.reset_tokens, ms(20));
        assert_eq!(h.wait(), ms(360_000), "the exhausted limit's reset");
        for junk in ["-1", "soon", "inf", "NaN"] {
            assert_eq!(map(&[("retry-after-ms", junk)]).wait(), None, "{junk}");
            assert_eq!(
                map(&[
                    ("x-ratelimit-reset-requests", junk),
                    ("x-ratelimit-remaining-requests", "0")
                ])
                .wait(),
                None,
                "{junk}"
            );
        }
    }

    #[test]
    fn parses_bodies() {
        let body = json!({"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}});
        let o = parse_openai(&body).unwrap();
        assert_eq!(
            parse_openai_fast(body.to_string().as_bytes()),
            Some(o.clone())
        );
        // Anything unusual goes the long way, which explains what is missing.
        for odd in [
            json!({"choices": []}),
            json!({"choices":[{"message":{"content":null,"tool_calls":[{"id":"t"}]}}]}),
            // Text and tool calls in one message: the calls must reach the assertions.
            json!({"choices":[{"message":{"content":"x","tool_calls":[{"id":"t"}]}}]}),
            json!({"choices":[{"message":{"content":"x"},"logprobs":{"content":[]}}]}),
            json!({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":1.5}}),
        ] {
            assert_eq!(parse_openai_fast(odd.to_string().as_bytes()), None, "{odd}");
        }
        assert_eq!((o.text.as_str(), o.usage.input_tokens), ("hi", 3));
        assert!(parse_openai(&json!({"oops": 1})).is_err());
        let a = parse_anthropic(&json!({"content":[{"type":"text","text":"yo"}],"stop_reason":"max_tokens","usage":{"input_tokens":5,"output_tokens":2}})).unwrap();
        assert_eq!(
            (a.text.as_str(), a.finish_reason.as_deref()),
            ("yo", Some("length"))
        );
    }
}
