//! Provider clients (OpenAI-compatible, Anthropic, echo, replay, fallback), retries, rate
//! limits and pricing. The only module that touches reqwest.

mod http;
pub mod limiter;
pub mod pricing;
mod ratelimit;
pub mod replay;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use limiter::HeldClock;

use crate::config::{ProviderConfig, ProviderKind, Settings};
use crate::error::{Error, Result};
use crate::template::{Message, Parameters};

pub use limiter::{Hints, WindowStats};
pub use ratelimit::TokenBucket;
pub use replay::Recordings;

/// The cache key of a request to a provider.
pub fn fingerprint(provider: &str, req: &Request) -> String {
    let v = serde_json::json!({ "provider": provider, "request": req });
    crate::text::sha256_hex(crate::text::canonical_json(&v).as_bytes())
}

/// A provider's answer to one request, announced so it can be cached and recorded.
#[derive(Debug, Clone)]
pub struct Answered {
    /// Request fingerprint.
    pub fingerprint: String,
    /// The provider that answered.
    pub provider: String,
    /// Whether the provider's answers are worth caching (not `echo` or `replay`).
    pub cacheable: bool,
    /// Prompt the request came from (recordings are grouped by prompt; `judge` for the judge).
    pub prompt: String,
    /// The request.
    pub request: Request,
    /// The answer.
    pub response: Response,
    /// Latency in ms.
    pub latency_ms: f64,
}

/// One chat request, provider-neutral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The model name the provider knows.
    pub model: String,
    /// Rendered messages.
    pub messages: Vec<Message>,
    /// Sampling and output parameters.
    pub params: Parameters,
    /// Which sample of a repeated case this is: part of the request's identity (cache and
    /// replay keys) but never sent to the provider.
    #[serde(default)]
    pub sample: u32,
    /// An embeddings request: the first message's content is the text to embed, and the
    /// response text is the vector as a JSON array.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub embed: bool,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// True when the provider did not report usage and we estimated it.
    #[serde(default)]
    pub estimated: bool,
}

/// A provider's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The output text (tool calls as JSON when there is no text).
    pub text: String,
    /// `stop`, `length`, `tool_calls`, `content_filter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Token usage.
    #[serde(default)]
    pub usage: Usage,
    /// Per output token: the chosen token, then the most likely alternatives, each with its
    /// log-probability, when the request asked for them and the provider returned them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<Vec<(String, f64)>>>,
    /// The tool calls the model made, in OpenAI's shape (`{id, type: function, function:
    /// {name, arguments}}`, arguments as JSON text); Anthropic `tool_use` blocks are converted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<serde_json::Value>,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// HTTP 429.
    #[error("rate limited (HTTP 429){}", colon(message))]
    RateLimited {
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// The server's message (truncated, redacted), if any.
        message: String,
    },
    /// HTTP 5xx, or 408 (how proxies report an upstream timeout).
    #[error("server error (HTTP {status}){}", colon(message))]
    Server {
        /// The status.
        status: u16,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// The server's message (truncated, redacted), if any.
        message: String,
    },
    /// The response body was larger than `limits.response_bytes`; reading stopped there.
    #[error("response body larger than {limit} bytes (`limits.response_bytes`); reading stopped at the limit")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A redirect to another origin: credentials are never sent across origins.
    #[error("redirected (HTTP {status}) to another origin ({to}); credentials are never sent across origins: set `base_url` to the final address")]
    CrossOriginRedirect {
        /// The status.
        status: u16,
        /// Where the redirect pointed (redacted).
        to: String,
    },
    /// No answer within the timeout.
    #[error("timed out after {0:.1} s")]
    Timeout(f64),
    /// The connection failed or dropped.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The body was not the JSON we expect.
    #[error("unreadable response: {0}")]
    BadResponse(String),
    /// HTTP 401/403.
    #[error(
        "authentication failed (HTTP {0}): check the key in the provider's `api_key_env` variable"
    )]
    Auth(u16),
    /// Another 4xx: the request itself is wrong; retrying will not help.
    #[error("request rejected (HTTP {status}): {message}")]
    Client {
        /// The status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The key's environment variable is not set.
    #[error("environment variable {0} is not set")]
    MissingKey(String),
    /// Replay has no recording for this request.
    #[error("no recording for this request (key {key}) in {dir}")]
    ReplayMiss {
        /// The request key.
        key: String,
        /// The recordings directory.
        dir: String,
    },
    /// Still rate-limited when the longest wait a call may spend on limits ran out.
    #[error("still rate limited after waiting {waited_s:.1} s on limits; `providers.{provider}.max_wait_s` allows {max_wait_s} s{}: raise `max_wait_s`, lower `rpm` or `concurrency`, or check the provider's quota", colon(message))]
    LimitWait {
        /// The provider.
        provider: String,
        /// Seconds this call waited on limits.
        waited_s: f64,
        /// The configured bound.
        max_wait_s: f64,
        /// The server's last message (truncated, redacted), if any.
        message: String,
    },
    /// The request was never sent: the run was stopping (its store could not be written).
    #[error("not sent: {0}")]
    NotSent(String),
}

fn colon(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl CallError {
    /// Worth another try.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            CallError::RateLimited { .. }
                | CallError::Server { .. }
                | CallError::Timeout(_)
                | CallError::Connection(_)
                | CallError::BadResponse(_)
        )
    }

    /// Worth trying the next provider of a fallback chain.
    pub fn falls_back(&self) -> bool {
        self.retryable()
            || matches!(
                self,
                CallError::Auth(_) | CallError::MissingKey(_) | CallError::LimitWait { .. }
            )
    }

    /// A rate limit rather than a failure: a 429, or a 503 that says when to come back. Its
    /// retries wait as long as the limit asks (up to `max_wait_s`) and spend no retry allowance.
    pub fn is_limit(&self) -> bool {
        match self {
            CallError::RateLimited { .. } => true,
            CallError::Server {
                status: 503,
                retry_after,
                ..
            } => retry_after.is_some(),
            _ => false,
        }
    }

    fn server_message(&self) -> &str {
        match self {
            CallError::RateLimited { message, .. } | CallError::Server { message, .. } => message,
            _ => "",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::RateLimited { retry_after, .. } | CallError::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// An API key: never printed, never serialised.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Secret {
    /// The key, for a request header only.
    fn expose(&self) -> &str {
        &self.0
    }

    /// Remove the key (and every other secret the redactor knows) from text that came back
    /// from a server: some echo the key in errors.
    pub fn scrub(&self, text: &str) -> String {
        let text = if self.0.len() >= 6 {
            text.replace(&self.0, crate::redact::MASK)
        } else {
            text.to_string()
        };
        crate::redact::scrub_string(text)
    }
}

/// Retry policy for one provider.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff.
    pub base: Duration,
    /// Longest single wait (also caps `Retry-After`).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
        }
    }
}

/// A retry the runner made, for events and the run summary.
#[derive(Debug, Clone)]
pub struct RetryNote {
    /// Provider name.
    pub provider: String,
    /// Attempt that failed (1-based).
    pub attempt: u32,
    /// Why.
    pub error: CallError,
    /// How long we waited before the next attempt.
    pub wait: Duration,
}

/// What one logical call took: the answer or the last error, plus retry accounting.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// The answer or the final error.
    pub result: std::result::Result<Response, CallError>,
    /// Which provider answered (the fallback chain may move on).
    pub provider: String,
    /// Wall time of the successful attempt (or the last one), in ms.
    pub latency_ms: f64,
    /// Retries made.
    pub retries: u32,
    /// Time spent waiting between attempts.
    pub retry_wait: Duration,
    /// 429 answers seen.
    pub rate_limited: u32,
}

/// One configured provider, ready to call.
pub struct Provider {
    /// Its name in `llmops.yaml`.
    pub name: String,
    kind: ProviderKind,
    http: Option<http::Client>,
    recordings: Option<Arc<Recordings>>,
    chain: Vec<String>,
    /// The adaptive window of calls in flight, and pacing from the provider's headers.
    limiter: limiter::Limiter,
    /// The window's ceiling (`concurrency`, `-j`).
    pub concurrency: usize,
    rpm: Option<TokenBucket>,
    tpm: Option<TokenBucket>,
    retry: RetryPolicy,
    /// The longest one call may wait on rate limits, in total.
    max_wait: Duration,
    held: Arc<HeldClock>,
    /// The key's variable, when the provider needs one and it is not set.
    key_missing: Option<String>,
}

/// Every provider a run may use, plus the run-wide retry budget.
pub struct Providers {
    by_name: HashMap<String, Arc<Provider>>,
    retry_budget: AtomicU64,
    rate_limited: AtomicU64,
    retry_wait_ms: AtomicU64,
    held: Arc<HeldClock>,
}

/// Run-wide counters across providers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderStats {
    /// 429 answers.
    pub rate_limited: u64,
    /// Seconds waited before retries.
    pub retry_wait_s: f64,
    /// Wall seconds during which some call was held back by a rate limit.
    pub limited_s: f64,
    /// The adaptive windows of the network providers that made calls: the ceiling, the most in
    /// flight at once, the smallest window and the window at the end (the smallest of each
    /// across providers; the largest peak).
    pub window: Option<WindowStats>,
}

/// Rough token count for text with no tokenizer at hand: about four characters a token.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

/// Estimated prompt tokens of a request.
pub fn estimate_request_tokens(req: &Request) -> u64 {
    req.messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + 4)
        .sum()
}

impl Providers {
    /// Build clients for `names` (and the providers their fallback chains name). Keys are read
    /// from the environment now, so a missing key fails before any call is made.
    pub fn build(
        settings: &Settings,
        root: &std::path::Path,
        names: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Providers> {
        let mut by_name = HashMap::new();
        let held = Arc::new(HeldClock::default());
        let mut pending: Vec<String> = names.to_vec();
        while let Some(name) = pending.pop() {
            if by_name.contains_key(&name) {
                continue;
            }
            let cfg = match settings.providers.get(&name) {
                Some(c) => c.clone(),
                None if name == "echo" => ProviderConfig {
                    kind: ProviderKind::Echo,
                    base_url: None,
                    api_key_env: None,
                    concurrency: None,
                    rpm: None,
                    tpm: None,
                    timeout_s: None,
                    max_retries: None,
                    max_wait_s: None,
                    path: None,
                    chain: None,
                },
                None => {
                    return Err(Error::usage_help(
                        format!("unknown provider `{name}`"),
                        crate::text::did_you_mean(&name, settings.provider_names().iter().copied())
                            .unwrap_or_else(|| {
                                "configure it under `providers:` in llmops.yaml".into()
                            }),
                    ))
                }
            };
            pending.extend(cfg.chain.clone().unwrap_or_default());
            let provider = Provider::new(&name, &cfg, settings, root, env, held.clone())?;
            by_name.insert(name, Arc::new(provider));
        }
        Ok(Providers {
            by_name,
            // Retries across the whole run: 20, plus one for every call made. Enough to ride
            // out a rough patch, not enough to turn an outage into hours of waiting.
            retry_budget: AtomicU64::new(20),
            rate_limited: AtomicU64::new(0),
            retry_wait_ms: AtomicU64::new(0),
            held,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> ProviderStats {
        ProviderStats {
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            retry_wait_s: self.retry_wait_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            limited_s: self.held.total().as_secs_f64(),
            window: self
                .by_name
                .values()
                .filter(|p| p.http.is_some())
                .map(|p| p.limiter.stats())
                .filter(|w| w.peak > 0)
                .reduce(|a, b| WindowStats {
                    max: a.max.min(b.max),
                    peak: a.peak.max(b.peak),
                    low: a.low.min(b.low),
                    end: a.end.min(b.end),
                }),
        }
    }

    /// The error to stop on when `name` (or a member of its chain) needs a key that is not
    /// set. Checked at the first real call, so cached and replayed runs need no key.
    pub fn missing_key(&self, name: &str) -> Option<Error> {
        let p = self.by_name.get(name)?;
        if p.kind == ProviderKind::Fallback {
            // A chain works while any member has what it needs.
            let missing: Vec<Error> = p.chain.iter().filter_map(|c| self.missing_key(c)).collect();
            return (missing.len() == p.chain.len())
                .then(|| missing.into_iter().next())
                .flatten();
        }
        p.key_missing.as_ref().map(|var| {
            Error::usage_help(
                format!("provider `{name}` needs an API key, and the environment variable {var} is not set"),
                format!("export {var}=... (or set it as a CI secret); cached and replayed calls need no key"),
            )
        })
    }

    /// A provider by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.by_name.get(name)
    }

    fn take_retry(&self) -> bool {
        self.retry_budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
            .is_ok()
    }

    /// Call `name` with retries, backoff and rate limits, walking a fallback chain on failure.
    /// `on_retry` hears about every retry as it happens.
    pub async fn call(
        &self,
        name: &str,
        req: &Request,
        on_retry: &(dyn Fn(RetryNote) + Sync),
    ) -> CallOutcome {
        let provider = self
            .by_name
            .get(name)
            .expect("built for every planned provider");
        if provider.kind != ProviderKind::Fallback {
            return self.call_one(provider, req, on_retry).await;
        }
        let mut last = None;
        for next in &provider.chain {
            let p = self.by_name.get(next).expect("chain members are built");
            let outcome = Box::pin(self.call(&p.name, req, on_retry)).await;
            match &outcome.result {
                Err(e) if e.falls_back() => last = Some(outcome),
                _ => return outcome,
            }
        }
        last.expect("a fallback chain is never empty")
    }

    async fn call_one(
        &self,
        p: &Provider,
        req: &Request,
        on_retry: &(dyn Fn(RetryNote) + Sync),
    ) -> CallOutcome {
        let mut retries = 0;
        let mut error_retries = 0;
        let mut retry_wait = Duration::ZERO;
        let mut limit_wait = Duration::ZERO;
        let mut rate_limited = 0;
        let tokens = estimate_request_tokens(req) + u64::from(req.params.max_tokens.unwrap_or(256));
        self.retry_budget.fetch_add(1, Ordering::Relaxed);
        let outcome = |result, latency_ms, retries, retry_wait, rate_limited| CallOutcome {
            result,
            provider: p.name.clone(),
            latency_ms,
            retries,
            retry_wait,
            rate_limited,
        };
        if let Some(var) = &p.key_missing {
            // Fail before queueing on rate limits: no request will be sent.
            return outcome(
                Err(CallError::MissingKey(var.clone())),
                0.0,
                0,
                Duration::ZERO,
                0,
            );
        }
        loop {
            // Held back by a pause a 429 asked for or by the provider's announced pace: that
            // is waiting on the limit too, and `max_wait_s` bounds all of it.
            let budget = p.max_wait.saturating_sub(limit_wait);
            let admitted = match p.limiter.admit(tokens as f64, budget).await {
                Ok(a) => a,
                Err(would) => {
                    let error = CallError::LimitWait {
                        provider: p.name.clone(),
                        waited_s: limit_wait.as_secs_f64(),
                        max_wait_s: p.max_wait.as_secs_f64(),
                        message: format!(
                            "the provider's announced limit would hold this call {:.1} s",
                            would.as_secs_f64()
                        ),
                    };
                    return outcome(Err(error), 0.0, retries, retry_wait, rate_limited);
                }
            };
            limit_wait += admitted.paced;
            // The configured caps, taken last so that a call held back above cannot save its
            // tokens up into a burst.
            if p.rpm.is_some() || p.tpm.is_some() {
                let _held = p.held.hold();
                if let Some(b) = &p.rpm {
                    b.acquire(1.0).await;
                }
                if let Some(b) = &p.tpm {
                    b.acquire(tokens as f64).await;
                }
            }
            let start = Instant::now();
            let (result, hints) = p.call_once(req).await;
            let elapsed = start.elapsed();
            let latency_ms = elapsed.as_secs_f64() * 1000.0;
            let err = match result {
                Ok(resp) => {
                    p.limiter
                        .release(admitted, limiter::Outcome::Ok(elapsed), &hints);
                    return outcome(Ok(resp), latency_ms, retries, retry_wait, rate_limited);
                }
                Err(e) => e,
            };
            if err.is_limit() {
                p.limiter
                    .release(admitted, limiter::Outcome::Limited, &hints);
                // A limit is not an error: wait as long as it asks (or back off when it does
                // not say), spread so the waiting calls do not come back together, and spend
                // none of the retry allowance. Only `max_wait_s` ends it.
                rate_limited += 1;
                if matches!(err, CallError::RateLimited { .. }) {
                    self.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                let base = err
                    .retry_after()
                    .unwrap_or_else(|| backoff(&p.retry, rate_limited.min(16), None));
                let wait = base
                    + base.mul_f64(0.25 * jitter())
                    + Duration::from_millis(10).mul_f64(jitter());
                if limit_wait + wait > p.max_wait {
                    let error = CallError::LimitWait {
                        provider: p.name.clone(),
                        waited_s: limit_wait.as_secs_f64(),
                        max_wait_s: p.max_wait.as_secs_f64(),
                        message: err.server_message().to_string(),
                    };
                    return outcome(Err(error), latency_ms, retries, retry_wait, rate_limited);
                }
                retries += 1;
                limit_wait += wait;
                retry_wait += wait;
                on_retry(RetryNote {
                    provider: p.name.clone(),
                    attempt: retries,
                    error: err,
                    wait,
                });
                self.retry_wait_ms
                    .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
                let _held = p.held.hold();
                tokio::time::sleep(wait).await;
                continue;
            }
            p.limiter
                .release(admitted, limiter::Outcome::Failed, &hints);
            if !err.retryable() || error_retries >= p.retry.max_retries || !self.take_retry() {
                return outcome(Err(err), latency_ms, retries, retry_wait, rate_limited);
            }
            retries += 1;
            error_retries += 1;
            let wait = backoff(&p.retry, error_retries, err.retry_after());
            on_retry(RetryNote {
                provider: p.name.clone(),
                attempt: retries,
                error: err,
                wait,
            });
            retry_wait += wait;
            self.retry_wait_ms
                .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }
}

/// Exponential backoff with full jitter; a server's `Retry-After` wins when it is longer.
fn backoff(policy: &RetryPolicy, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exp = policy
        .base
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.cap);
    let jittered = exp.mul_f64(0.5 + 0.5 * jitter());
    match retry_after {
        Some(ra) => ra.min(policy.cap).max(jittered),
        None => jittered,
    }
}

/// A number in [0, 1) from the clock and a counter: jitter needs spread, not cryptography.
pub(crate) fn jitter() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mut x = COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ nanos;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

impl Provider {
    fn new(
        name: &str,
        cfg: &ProviderConfig,
        settings: &Settings,
        root: &std::path::Path,
        env: &dyn Fn(&str) -> Option<String>,
        held: Arc<HeldClock>,
    ) -> Result<Provider> {
        // Validated at load (finite, above 0, at most a day); clamp again so no value can panic.
        let timeout = Duration::try_from_secs_f64(
            cfg.timeout_s
                .unwrap_or(settings.timeout_s)
                .clamp(0.001, crate::config::MAX_TIMEOUT_S),
        )
        .unwrap_or(Duration::from_secs(60));
        let mut key_missing = None;
        let http = match cfg.kind {
            ProviderKind::Openai | ProviderKind::Anthropic => {
                let key = match &cfg.api_key_env {
                    None => None,
                    Some(var) => match env(var).filter(|k| !k.is_empty()) {
                        Some(k) => {
                            crate::redact::add_secret(&k);
                            Some(Secret(k))
                        }
                        None => {
                            key_missing = Some(var.clone());
                            None
                        }
                    },
                };
                let default_url = if cfg.kind == ProviderKind::Openai {
                    "https://api.openai.com/v1"
                } else {
                    "https://api.anthropic.com"
                };
                let base = cfg
                    .base_url
                    .clone()
                    .unwrap_or_else(|| default_url.to_string());
                Some(http::Client::new(
                    cfg.kind,
                    base,
                    key,
                    timeout,
                    settings.limit_response_bytes,
                )?)
            }
            _ => None,
        };
        let recordings = match (&cfg.kind, &cfg.path) {
            (ProviderKind::Replay, Some(path)) => Some(Arc::new(Recordings::load(
                &replay::confined(root, path)?,
                path,
            )?)),
            _ => None,
        };
        let concurrency = cfg
            .concurrency
            .unwrap_or(settings.concurrency)
            .clamp(1, crate::config::MAX_CONCURRENCY);
        Ok(Provider {
            name: name.to_string(),
            kind: cfg.kind,
            http,
            recordings,
            chain: cfg.chain.clone().unwrap_or_default(),
            limiter: limiter::Limiter::new(concurrency, held.clone()),
            concurrency,
            rpm: cfg
                .rpm
                .map(|r| TokenBucket::per_minute(f64::from(r.max(1)))),
            tpm: cfg
                .tpm
                .map(|t| TokenBucket::per_minute(f64::from(t.max(1)))),
            retry: RetryPolicy {
                max_retries: cfg.max_retries.unwrap_or(4),
                ..RetryPolicy::default()
            },
            max_wait: Duration::try_from_secs_f64(
                cfg.max_wait_s
                    .unwrap_or(crate::config::DEFAULT_MAX_WAIT_S)
                    .clamp(0.001, crate::config::MAX_TIMEOUT_S),
            )
            .unwrap_or(Duration::from_secs(600)),
            held,
            key_missing,
        })
    }

    /// Whether responses from this provider are worth caching (echo and replay are local).
    pub fn cacheable(&self) -> bool {
        !self.kind.is_offline()
    }

    async fn call_once(&self, req: &Request) -> (std::result::Result<Response, CallError>, Hints) {
        if let Some(var) = &self.key_missing {
            return (Err(CallError::MissingKey(var.clone())), Hints::default());
        }
        if let Some(http) = &self.http {
            return http.call(req).await;
        }
        let result = match self.kind {
            ProviderKind::Openai | ProviderKind::Anthropic => {
                Err(CallError::NotSent("the provider has no HTTP client".into()))
            }
            ProviderKind::Echo if req.embed => Err(CallError::Client {
                status: 400,
                message: format!("provider `{}` (echo) has no embeddings", self.name),
            }),
            ProviderKind::Echo => {
                let text = req
                    .messages
                    .iter()
                    .map(|m| format!("{}: {}", m.role.as_str(), m.content))
                    .collect::<Vec<_>>()
                    .join("\n\n");
                let usage = Usage {
                    input_tokens: estimate_request_tokens(req),
                    output_tokens: estimate_tokens(&text),
                    estimated: true,
                };
                Ok(Response {
                    text,
                    finish_reason: Some("stop".into()),
                    usage,
                    logprobs: None,
                    tool_calls: Vec::new(),
                })
            }
            ProviderKind::Replay => self
                .recordings
                .as_ref()
                .expect("replay has recordings")
                .answer(req),
            ProviderKind::Fallback => unreachable!("fallback is resolved by Providers::call"),
        };
        (result, Hints::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let p = RetryPolicy::default();
        let a = backoff(&p, 1, None);
        assert!(
            a >= Duration::from_millis(250) && a <= Duration::from_millis(500),
            "{a:?}"
        );
        let c = backoff(&p, 30, None);
        assert!(c <= p.cap);
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(backoff(&p, 1, Some(Duration::from_secs(600))), p.cap);
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret("sk-test-123456".into());
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(
            s.scrub("bad key sk-test-123456 given"),
            "bad key [redacted] given"
        );
    }

    #[test]
    fn jitter_in_range() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
