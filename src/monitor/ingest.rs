//! `llmops ingest`: production calls from JSONL records or OTLP/JSON trace files into the
//! store. Streamed line by line (memory does not grow with the file), idempotent (a record's
//! natural key is its `id`, else a hash of the record), redacted before anything is stored,
//! written in batches of one transaction each.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Diagnostic, Error, Result};
use crate::redact::Allow;
use crate::registry::{GitRepo, VersionsLock};
use crate::store::{CallRow, Store};

/// The longest line read; a longer one is a bad line (and the rest of it is skipped).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Rows written per transaction.
pub const BATCH: usize = 5_000;

/// Bad lines listed in full per file; the rest are counted.
pub const SHOWN_BAD: usize = 50;

/// How `ingest` treats what it reads.
pub struct Settings {
    /// A bad line fails the file: nothing from it is stored.
    pub strict: bool,
    /// `redaction.pii`: mask e-mail addresses, phone and card numbers.
    pub redact_pii: bool,
    /// `redaction.allow`.
    pub allow: Allow,
    /// `limits.output_bytes`: a longer output is cut (with a note) before it is stored.
    pub max_output: u64,
}

/// What one file gave.
#[derive(Debug, Default, serde::Serialize)]
pub struct FileReport {
    /// The file as given.
    pub file: String,
    /// Calls read (good records).
    pub read: u64,
    /// Calls new to the store.
    pub added: u64,
    /// Calls the store already had (same key).
    pub already: u64,
    /// OTLP spans without `llmops.prompt` (not llmops calls).
    pub skipped_spans: u64,
    /// Bad lines (or spans), counted.
    pub bad: u64,
    /// The first [`SHOWN_BAD`] of them, with file, line and field.
    pub problems: Vec<Diagnostic>,
    /// `--strict` refused the file: nothing from it was stored.
    pub refused: bool,
}

/// A label's changes for one prompt, newest first: (commit time in ms, target).
type Timeline = Vec<(i64, Option<u32>)>;

/// Resolves `version`, `label` and `hash` to a version number from `versions.lock` and the
/// label files' git history.
pub struct Versions<'a> {
    lock: &'a VersionsLock,
    git: Option<&'a GitRepo>,
    /// (label, prompt) -> its changes.
    timelines: HashMap<(String, String), Timeline>,
}

impl<'a> Versions<'a> {
    /// A resolver over `lock` and, for labels, the repository's history.
    pub fn new(lock: &'a VersionsLock, git: Option<&'a GitRepo>) -> Versions<'a> {
        Versions {
            lock,
            git,
            timelines: HashMap::new(),
        }
    }

    fn number(&self, prompt: &str, n: u32) -> std::result::Result<u32, String> {
        if self.lock.get(prompt, n).is_some() {
            Ok(n)
        } else {
            Err(format!(
                "`{prompt}` has no version {n} in .llmops/versions.lock"
            ))
        }
    }

    fn hash(&self, prompt: &str, hash: &str) -> std::result::Result<u32, String> {
        self.lock
            .prompt(prompt)
            .and_then(|p| p.by_hash(hash))
            .map(|v| v.version)
            .ok_or_else(|| format!("no released version of `{prompt}` has content hash `{hash}`"))
    }

    fn label(&mut self, prompt: &str, label: &str, ts_ms: i64) -> std::result::Result<u32, String> {
        if crate::registry::check_label_name(label).is_err() {
            return Err(format!("`{label}` is not a label name"));
        }
        let key = (label.to_string(), prompt.to_string());
        if !self.timelines.contains_key(&key) {
            let mut changes = Vec::new();
            if let Some(git) = self.git {
                git.label_history(label, prompt, |c| {
                    changes.push((c.time * 1000, c.to));
                    true
                })
                .map_err(|e| e.to_string())?;
            }
            self.timelines.insert(key.clone(), changes);
        }
        let changes = &self.timelines[&key];
        // Newest first: the first change made at or before the call is the one in force.
        match changes.iter().find(|(t, _)| *t <= ts_ms) {
            Some((_, Some(v))) => Ok(*v),
            _ => Err(format!(
                "label `{label}` did not point at a version of `{prompt}` at {} in the committed history",
                crate::store::rfc3339(ts_ms.div_euclid(1000), 0)
            )),
        }
    }
}

/// Parse an RFC 3339 timestamp (`2026-03-01T12:00:00Z`, `...+02:00`, fractional seconds) to
/// Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };
    let days = crate::text::days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset_min * 60;
    Some(secs * 1000 + millis)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A bad record: its field and what is wrong.
struct Bad {
    field: String,
    message: String,
}

fn bad(field: &str, message: impl Into<String>) -> Bad {
    Bad {
        field: field.to_string(),
        message: message.into(),
    }
}

const FIELDS: &[&str] = &[
    "ts",
    "prompt",
    "version",
    "label",
    "hash",
    "vars",
    "output",
    "id",
    "model",
    "usage",
    "latency_ms",
    "cost_usd",
    "finish_reason",
    "metadata",
];

fn non_negative(v: &Value, field: &str) -> std::result::Result<f64, Bad> {
    match v.as_f64() {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(bad(field, "must be a number at least 0")),
    }
}

/// Token counts above this are not a call's: a typo or a corrupt log.
const MAX_TOKENS: u64 = 1_000_000_000;

fn count(v: &Value, field: &str) -> std::result::Result<u64, Bad> {
    v.as_u64().filter(|n| *n <= MAX_TOKENS).ok_or_else(|| {
        bad(
            field,
            format!("must be a whole number from 0 to {MAX_TOKENS}"),
        )
    })
}

/// The earliest call time accepted: 2000-01-01T00:00:00Z, in ms.
const EARLIEST_MS: i64 = 946_684_800_000;

/// `ts_ms` if it is a plausible time for a call: from 2000-01-01 to a day from now. A stray
/// epoch-0 or far-future record would otherwise make `monitor` walk millions of windows.
fn plausible(ts_ms: i64, field: &str) -> std::result::Result<i64, Bad> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(i64::MAX, |d| {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        });
    if ts_ms < EARLIEST_MS || ts_ms > now_ms.saturating_add(86_400_000) {
        return Err(bad(
            field,
            format!(
                "{} is not a plausible call time (from 2000-01-01 to a day from now)",
                crate::store::rfc3339(ts_ms.div_euclid(1000), 0)
            ),
        ));
    }
    Ok(ts_ms)
}

fn version_number(v: &Value, field: &str) -> std::result::Result<u32, Bad> {
    let n = match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => crate::registry::parse_version(s),
        _ => None,
    };
    n.filter(|n| *n > 0).ok_or_else(|| {
        bad(
            field,
            "must be a version number, as in label files (`3` or `v3`)",
        )
    })
}

/// One call before version resolution and redaction.
struct Raw {
    key: String,
    ts_ms: i64,
    prompt: String,
    which: Which,
    model: Option<String>,
    vars: Value,
    output: String,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    latency_ms: Option<f64>,
    cost_usd: Option<f64>,
    finish_reason: Option<String>,
    metadata: Value,
}

enum Which {
    Version(u32),
    Label(String),
    Hash(String),
}

fn string<'v>(o: &'v Map<String, Value>, field: &str) -> std::result::Result<Option<&'v str>, Bad> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(field, "must be a string")),
    }
}

fn prompt_name(s: &str, field: &str) -> std::result::Result<String, Bad> {
    if crate::paths::valid_name(s) {
        Ok(s.to_string())
    } else {
        Err(bad(field, format!("`{s}` is not a prompt name")))
    }
}

/// A JSONL record (one call).
fn parse_record(o: &Map<String, Value>) -> std::result::Result<Raw, Bad> {
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        let hint = crate::text::did_you_mean(k, FIELDS.iter().copied())
            .map_or(String::new(), |s| format!(" ({s})"));
        return Err(bad(k, format!("unknown field{hint}")));
    }
    let ts = string(o, "ts")?.ok_or_else(|| bad("ts", "missing (an RFC 3339 time)"))?;
    let ts_ms = parse_rfc3339(ts).ok_or_else(|| {
        bad(
            "ts",
            format!("`{ts}` is not an RFC 3339 time such as 2026-03-01T12:00:00Z"),
        )
    })?;
    let ts_ms = plausible(ts_ms, "ts")?;
    let prompt = string(o, "prompt")?.ok_or_else(|| bad("prompt", "missing"))?;
    let prompt = prompt_name(prompt, "prompt")?;
    let given: Vec<&str> = ["version", "label", "hash"]
        .into_iter()
        .filter(|f| o.get(*f).is_some_and(|v| !v.is_null()))
        .collect();
    let which = match given.as_slice() {
        ["version"] => Which::Version(version_number(&o["version"], "version")?),
        ["label"] => Which::Label(string(o, "label")?.unwrap_or_default().to_string()),
        ["hash"] => Which::Hash(string(o, "hash")?.unwrap_or_default().to_string()),
        [] => {
            return Err(bad(
                "version",
                "missing: give one of `version`, `label` or `hash`",
            ))
        }
        more => {
            return Err(bad(
                more[1],
                format!(
                    "give only one of `version`, `label` or `hash` (found {})",
                    more.join(", ")
                ),
            ))
        }
    };
    let vars = match o.get("vars") {
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(bad("vars", "must be an object")),
        None => return Err(bad("vars", "missing (an object of template variables)")),
    };
    let output = string(o, "output")?
        .ok_or_else(|| bad("output", "missing (the model's answer as a string)"))?
        .to_string();
    let key = match o.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(format!("id:{s}")),
        Some(Value::Number(n)) => Some(format!("id:{n}")),
        Some(_) => return Err(bad("id", "must be a non-empty string or a number")),
    };
    let (mut input_tokens, mut output_tokens) = (None, None);
    match o.get("usage") {
        None | Some(Value::Null) => {}
        Some(Value::Object(u)) => {
            if let Some(k) = u
                .keys()
                .find(|k| !matches!(k.as_str(), "input_tokens" | "output_tokens"))
            {
                return Err(bad(
                    &format!("usage.{k}"),
                    "unknown field (expected `input_tokens`, `output_tokens`)",
                ));
            }
            input_tokens = u
                .get("input_tokens")
                .map(|v| count(v, "usage.input_tokens"))
                .transpose()?;
            output_tokens = u
                .get("output_tokens")
                .map(|v| count(v, "usage.output_tokens"))
                .transpose()?;
        }
        Some(_) => return Err(bad("usage", "must be an object")),
    }
    let num = |f: &str| {
        o.get(f)
            .filter(|v| !v.is_null())
            .map(|v| non_negative(v, f))
            .transpose()
    };
    let metadata = match o.get("metadata") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(bad("metadata", "must be an object")),
    };
    Ok(Raw {
        key: key.unwrap_or_default(),
        ts_ms,
        prompt,
        which,
        model: string(o, "model")?.map(str::to_string),
        vars,
        output,
        input_tokens,
        output_tokens,
        latency_ms: num("latency_ms")?,
        cost_usd: num("cost_usd")?,
        finish_reason: string(o, "finish_reason")?.map(crate::assert::normalize_finish_reason),
        metadata,
    })
}

/// An OTLP attribute value as JSON (`intValue` is a string in OTLP/JSON).
fn any_value(v: &Value) -> Value {
    let Some(o) = v.as_object() else {
        return Value::Null;
    };
    if let Some(s) = o.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = o.get("intValue") {
        return match i {
            Value::String(s) => s.parse::<i64>().map_or(Value::Null, Value::from),
            other => other.clone(),
        };
    }
    if let Some(d) = o.get("doubleValue") {
        return d.clone();
    }
    if let Some(b) = o.get("boolValue") {
        return b.clone();
    }
    if let Some(a) = o.get("arrayValue") {
        return Value::Array(
            a.get("values")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().map(any_value).collect())
                .unwrap_or_default(),
        );
    }
    Value::Null
}

fn attributes(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|kv| {
                    Some((
                        kv.get("key")?.as_str()?.to_string(),
                        any_value(kv.get("value")?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn nanos(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The text of `gen_ai.output.messages` (`[{role, parts: [{type: text, content}]}]`).
fn output_messages(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    let mut out = String::new();
    for m in v.as_array()? {
        for p in m
            .get("parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if p.get("type").and_then(Value::as_str) == Some("text") {
                if let Some(c) = p.get("content").and_then(Value::as_str) {
                    out.push_str(c);
                }
            }
        }
    }
    Some(out)
}

/// One GenAI span as a call, or `None` when it is not an llmops call (no `llmops.prompt`).
fn parse_span(
    span: &Value,
    resource: &Map<String, Value>,
) -> std::result::Result<Option<Raw>, Bad> {
    let attrs = attributes(span.get("attributes"));
    let Some(prompt) = attrs.get("llmops.prompt") else {
        return Ok(None);
    };
    let prompt = prompt_name(
        prompt
            .as_str()
            .ok_or_else(|| bad("llmops.prompt", "must be a string"))?,
        "llmops.prompt",
    )?;
    let s = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
    let which = if let Some(v) = attrs.get("llmops.version") {
        Which::Version(version_number(v, "llmops.version")?)
    } else if let Some(l) = s("llmops.label") {
        Which::Label(l)
    } else if let Some(h) = s("llmops.hash") {
        Which::Hash(h)
    } else {
        return Err(bad(
            "llmops.version",
            "missing: set one of `llmops.version`, `llmops.label` or `llmops.hash` on the span",
        ));
    };
    let start = nanos(span.get("startTimeUnixNano"))
        .ok_or_else(|| bad("startTimeUnixNano", "missing or not a number"))?;
    let end = nanos(span.get("endTimeUnixNano"));
    let trace = span.get("traceId").and_then(Value::as_str).unwrap_or("");
    let id = span.get("spanId").and_then(Value::as_str).unwrap_or("");
    if trace.is_empty() || id.is_empty() {
        return Err(bad("spanId", "missing traceId or spanId"));
    }
    // Content: the current convention's attribute, else the older span events.
    let mut output = s("gen_ai.output.messages").and_then(|t| output_messages(&t));
    if output.is_none() {
        for ev in span
            .get("events")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = ev.get("name").and_then(Value::as_str).unwrap_or("");
            let ea = attributes(ev.get("attributes"));
            let text = match name {
                "gen_ai.content.completion" => ea
                    .get("gen_ai.completion")
                    .and_then(Value::as_str)
                    .map(|t| output_messages(t).unwrap_or_else(|| t.to_string())),
                "gen_ai.choice" => ea.get("message").and_then(Value::as_str).map(|t| {
                    serde_json::from_str::<Value>(t)
                        .ok()
                        .and_then(|m| m.get("content").and_then(Value::as_str).map(str::to_string))
                        .unwrap_or_else(|| t.to_string())
                }),
                _ => None,
            };
            if text.is_some() {
                output = text;
                break;
            }
        }
    }
    let output = output.ok_or_else(|| {
        bad(
            "gen_ai.output.messages",
            "no output: record the completion in `gen_ai.output.messages` or a `gen_ai.choice` event",
        )
    })?;
    let vars = match s("llmops.vars") {
        Some(t) => match serde_json::from_str::<Value>(&t) {
            Ok(v @ Value::Object(_)) => v,
            _ => return Err(bad("llmops.vars", "must be a JSON object as a string")),
        },
        None => Value::Object(Map::new()),
    };
    let tokens = |a: &str, b: &str| {
        attrs
            .get(a)
            .or_else(|| attrs.get(b))
            .map(|v| count(v, a))
            .transpose()
    };
    let finish_reason = match attrs.get("gen_ai.response.finish_reasons") {
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let mut metadata = Map::new();
    for (k, field) in [
        ("service.name", "service"),
        ("gen_ai.system", "system"),
        ("gen_ai.provider.name", "system"),
        ("gen_ai.operation.name", "operation"),
    ] {
        if let Some(v) = attrs.get(k).or_else(|| resource.get(k)) {
            metadata.insert(field.to_string(), v.clone());
        }
    }
    Ok(Some(Raw {
        key: format!("otlp:{trace}:{id}"),
        ts_ms: plausible(start.div_euclid(1_000_000), "startTimeUnixNano")?,
        prompt,
        which,
        model: s("gen_ai.response.model").or_else(|| s("gen_ai.request.model")),
        vars,
        output,
        input_tokens: tokens("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")?,
        output_tokens: tokens(
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
        )?,
        latency_ms: end.map(|e| (e - start).max(0) as f64 / 1e6),
        cost_usd: attrs
            .get("llmops.cost_usd")
            .map(|v| non_negative(v, "llmops.cost_usd"))
            .transpose()?,
        finish_reason: finish_reason.map(|r| crate::assert::normalize_finish_reason(&r)),
        metadata: Value::Object(metadata),
    }))
}

/// Every span of an OTLP/JSON `ExportTraceServiceRequest` line, as calls or bad spans.
fn parse_otlp(v: &Value) -> Vec<std::result::Result<Option<Raw>, Bad>> {
    let mut out = Vec::new();
    let Some(rs) = v.get("resourceSpans").and_then(Value::as_array) else {
        out.push(Err(bad("resourceSpans", "must be an array")));
        return out;
    };
    for r in rs {
        let resource = attributes(r.get("resource").and_then(|x| x.get("attributes")));
        for ss in r
            .get("scopeSpans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for span in ss
                .get("spans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(parse_span(span, &resource));
            }
        }
    }
    out
}

fn redact_strings(v: &mut Value, pii: bool, allow: &Allow) {
    match v {
        Value::String(s) => {
            let mut t = crate::redact::scrub_string(std::mem::take(s));
            if pii {
                t = crate::redact::mask_stable(&t, allow);
            }
            *s = t;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact_strings(x, pii, allow)),
        Value::Object(o) => o.values_mut().for_each(|x| redact_strings(x, pii, allow)),
        _ => {}
    }
}

fn finish(
    raw: Raw,
    line_hash: &str,
    source: String,
    versions: &mut Versions<'_>,
    settings: &Settings,
) -> std::result::Result<CallRow, Bad> {
    let field = match raw.which {
        Which::Version(_) => "version",
        Which::Label(_) => "label",
        Which::Hash(_) => "hash",
    };
    let version = match &raw.which {
        Which::Version(n) => versions.number(&raw.prompt, *n),
        Which::Label(l) => versions.label(&raw.prompt, l, raw.ts_ms),
        Which::Hash(h) => versions.hash(&raw.prompt, h),
    }
    .map_err(|m| bad(field, m))?;
    let mut vars = raw.vars;
    let mut metadata = raw.metadata;
    redact_strings(&mut vars, settings.redact_pii, &settings.allow);
    redact_strings(&mut metadata, settings.redact_pii, &settings.allow);
    let mut output = crate::redact::scrub_string(raw.output);
    if settings.redact_pii {
        output = crate::redact::mask_pii(&output);
    }
    let max = usize::try_from(settings.max_output).unwrap_or(usize::MAX);
    if output.len() > max {
        let mut end = max;
        while !output.is_char_boundary(end) {
            end -= 1;
        }
        let cut = output.len() - end;
        output.truncate(end);
        output.push_str(&format!(
            "…[cut: {cut} more bytes over limits.output_bytes]"
        ));
    }
    Ok(CallRow {
        key: if raw.key.is_empty() {
            format!("sha256:{line_hash}")
        } else {
            raw.key
        },
        ts_ms: raw.ts_ms,
        prompt: raw.prompt,
        version,
        model: raw.model.map(crate::redact::scrub_string),
        vars,
        output,
        input_tokens: raw.input_tokens,
        output_tokens: raw.output_tokens,
        latency_ms: raw.latency_ms,
        cost_usd: raw.cost_usd,
        finish_reason: raw.finish_reason,
        metadata,
        source,
    })
}

/// Read one line of at most [`MAX_LINE_BYTES`]; `Ok(None)` at the end. A longer line is
/// returned as `Err(())` after the rest of it is skipped.
fn read_line(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<std::result::Result<(), ()>>> {
    buf.clear();
    let n = r
        .by_ref()
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
        let mut sink = Vec::new();
        loop {
            sink.clear();
            let m = r.by_ref().take(1 << 20).read_until(b'\n', &mut sink)?;
            if m == 0 || sink.last() == Some(&b'\n') {
                break;
            }
        }
        return Ok(Some(Err(())));
    }
    Ok(Some(Ok(())))
}

/// Parse every line of `reader`, calling `good` with each call and `bad` with each problem.
fn scan(
    reader: impl Read,
    display: &str,
    versions: &mut Versions<'_>,
    settings: &Settings,
    report: &mut FileReport,
    mut good: impl FnMut(CallRow) -> Result<()>,
) -> Result<()> {
    let mut r = BufReader::with_capacity(1 << 16, reader);
    let mut buf = Vec::new();
    let mut line = 0usize;
    let problem = |report: &mut FileReport, line: usize, field: &str, message: String| {
        report.bad += 1;
        if report.problems.len() < SHOWN_BAD {
            let msg = if field.is_empty() {
                message
            } else {
                format!("`{field}`: {message}")
            };
            report
                .problems
                .push(Diagnostic::error("bad-record", display, msg).at(line, None));
        }
    };
    while let Some(got) = read_line(&mut r, &mut buf).map_err(|e| Error::io(display, e))? {
        line += 1;
        if got.is_err() {
            problem(
                report,
                line,
                "",
                format!("line longer than {} MiB", MAX_LINE_BYTES >> 20),
            );
            continue;
        }
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim(),
            Err(e) => {
                problem(
                    report,
                    line,
                    "",
                    format!("not UTF-8 (byte {})", e.valid_up_to() + 1),
                );
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                problem(report, line, "", format!("not JSON: {e}"));
                continue;
            }
        };
        let Some(o) = v.as_object() else {
            problem(report, line, "", "not a JSON object".to_string());
            continue;
        };
        let source = format!("{display}:{line}");
        let raws: Vec<std::result::Result<Option<Raw>, Bad>> = if o.contains_key("resourceSpans") {
            parse_otlp(&v)
        } else {
            vec![parse_record(o).map(Some)]
        };
        let mut line_hash = String::new();
        for raw in raws {
            let raw = match raw {
                Ok(Some(raw)) => raw,
                Ok(None) => {
                    report.skipped_spans += 1;
                    continue;
                }
                Err(b) => {
                    problem(report, line, &b.field, b.message);
                    continue;
                }
            };
            if raw.key.is_empty() && line_hash.is_empty() {
                line_hash = crate::text::sha256_hex(crate::text::canonical_json(&v).as_bytes());
            }
            match finish(raw, &line_hash, source.clone(), versions, settings) {
                Ok(call) => {
                    report.read += 1;
                    good(call)?;
                }
                Err(b) => problem(report, line, &b.field, b.message),
            }
        }
    }
    Ok(())
}

/// Ingest one file (`-` reads standard input). Under `--strict` the file is read twice: once
/// to check every line, and only when none is bad, again to store it.
pub fn ingest_file(
    path: &Path,
    display: &str,
    store: &mut Store,
    versions: &mut Versions<'_>,
    settings: &Settings,
) -> Result<FileReport> {
    let mut report = FileReport {
        file: display.to_string(),
        ..FileReport::default()
    };
    let stdin = display == "-";
    let open = || -> Result<Box<dyn Read>> {
        if stdin {
            Ok(Box::new(std::io::stdin().lock()))
        } else {
            Ok(Box::new(
                std::fs::File::open(path).map_err(|e| Error::io(display, e))?,
            ))
        }
    };
    if settings.strict && !stdin {
        scan(
            open()?,
            display,
            versions,
            settings,
            &mut report,
            |_| Ok(()),
        )?;
        if report.bad > 0 {
            report.refused = true;
            report.read = 0;
            return Ok(report);
        }
        report = FileReport {
            file: display.to_string(),
            ..FileReport::default()
        };
    }
    let mut batch: Vec<CallRow> = Vec::with_capacity(BATCH);
    let mut added = 0u64;
    // Standard input cannot be read twice: under --strict it is held until its end.
    let hold = settings.strict && stdin;
    scan(open()?, display, versions, settings, &mut report, |call| {
        batch.push(call);
        if !hold && batch.len() >= BATCH {
            added += store.insert_calls(&batch)? as u64;
            batch.clear();
        }
        Ok(())
    })?;
    if hold && report.bad > 0 {
        report.refused = true;
        report.read = 0;
        return Ok(report);
    }
    for chunk in batch.chunks(BATCH) {
        added += store.insert_calls(chunk)? as u64;
    }
    report.added = added;
    report.already = report.read - added;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-03-01T12:00:00.123456Z"),
            Some(1_772_366_400_123)
        );
        assert_eq!(parse_rfc3339("2026-02-30T12:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-03-01 12:00"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn a_record_names_its_bad_field() {
        let rec = |s: &str| {
            parse_record(
                serde_json::from_str::<Value>(s)
                    .unwrap()
                    .as_object()
                    .unwrap(),
            )
        };
        let e = rec(r#"{"ts":"2026-03-01T00:00:00Z","prompt":"p","version":1,"label":"production","vars":{},"output":"x"}"#).err().unwrap();
        assert_eq!(e.field, "label");
        let e = rec(r#"{"ts":"2026-03-01T00:00:00Z","prompt":"p","version":1,"vars":{},"output":"x","usage":{"input_tokens":-1}}"#).err().unwrap();
        assert_eq!(e.field, "usage.input_tokens");
        let e =
            rec(r#"{"ts":"2026-03-01T00:00:00Z","prompt":"p","versoin":1,"vars":{},"output":"x"}"#)
                .err()
                .unwrap();
        assert_eq!(e.field, "versoin");
        assert!(e.message.contains("version"), "{}", e.message);
        assert!(rec(
            r#"{"ts":"2026-03-01T00:00:00Z","prompt":"p","version":"v2","vars":{},"output":"x"}"#
        )
        .is_ok());
    }
}
