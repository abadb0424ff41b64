//! `llmops config`: the resolved configuration and where each value came from.

use serde_json::{json, Value};

use super::{Ctx, Format};
use crate::config::Settings;
use crate::error::{Outcome, Result};

/// Print the resolved configuration with the origin of each value.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each line is `ORIGIN  KEY=VALUE`, like `git config --show-origin`. ORIGIN is `default`,
`file:llmops.yaml`, `profile:NAME`, `env:LLMOPS_...` or `flag:--profile`; the later one
wins, in that order. Keys are spelled as in `llmops.yaml`. Secrets are never printed:
providers name the environment variable that holds a key (`api_key_env`), and a `base_url`
is shown without user, password or query.

Examples:
  llmops config
  llmops --profile ci config
  LLMOPS_CONCURRENCY=2 llmops config --format json")]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Run `llmops config`.
pub fn run(ctx: &Ctx, args: Args) -> Result<Outcome> {
    let reg = ctx.registry(None)?;
    let rows = entries(&reg.settings);
    match args.format {
        Format::Json => {
            let rows: Vec<Value> = rows
                .iter()
                .map(|(key, value, origin)| json!({"key": key, "value": value, "origin": origin}))
                .collect();
            ctx.ui
                .json(&json!({ "root": reg.root, "settings": rows }))?;
        }
        Format::Text => {
            let width = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
            let mut text = String::new();
            for (key, value, origin) in &rows {
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                text.push_str(&format!("{origin:<width$}  {key}={value}\n"));
            }
            ctx.ui.out(&text)?;
        }
    }
    Ok(Outcome::Success)
}

/// Every set key with its value and origin, in the order of the file reference.
fn entries(s: &Settings) -> Vec<(String, Value, String)> {
    let mut rows = Vec::new();
    let origin = |key: &str| {
        s.origins
            .get(key)
            .map_or_else(|| "default".to_string(), ToString::to_string)
    };
    let mut push = |key: &str, value: Option<Value>, origin_key: &str| {
        if let Some(v) = value {
            rows.push((key.to_string(), v, origin(origin_key)));
        }
    };
    let some = |v: Value| Some(v);
    push("prompts_dir", some(json!(s.prompts_dir)), "prompts_dir");
    push("evals_dir", some(json!(s.evals_dir)), "evals_dir");
    push("profile", s.profile.as_ref().map(|p| json!(p)), "profile");
    for (key, value) in [
        (
            "defaults.provider",
            s.default_provider.as_ref().map(|v| json!(v)),
        ),
        ("defaults.model", s.default_model.as_ref().map(|v| json!(v))),
        ("defaults.concurrency", some(json!(s.concurrency))),
        ("defaults.timeout_s", some(json!(s.timeout_s))),
        ("defaults.repeat", some(json!(s.repeat))),
        (
            "judge.provider",
            s.judge_provider.as_ref().map(|v| json!(v)),
        ),
        ("judge.model", s.judge_model.as_ref().map(|v| json!(v))),
        ("cache.path", some(json!(s.cache_path))),
        ("cache.enabled", some(json!(s.cache_enabled))),
        ("gate.alpha", some(json!(s.gate_alpha))),
        ("gate.tolerance", some(json!(s.gate_tolerance))),
        ("gate.max_error_rate", some(json!(s.gate_max_error_rate))),
        ("gate.strict", some(json!(s.gate_strict))),
        (
            "gate.cluster_by",
            s.gate_cluster_by.as_ref().map(|v| json!(v)),
        ),
        (
            "gate.cost_tolerance",
            s.gate_cost_tolerance.map(|v| json!(v)),
        ),
        (
            "gate.latency_tolerance",
            s.gate_latency_tolerance.map(|v| json!(v)),
        ),
        (
            "judge.panel",
            (!s.judge_panel.is_empty()).then(|| {
                json!(s
                    .judge_panel
                    .iter()
                    .map(|m| format!("{}/{}", m.provider, m.model))
                    .collect::<Vec<_>>())
            }),
        ),
        (
            "judge.combine",
            (!s.judge_panel.is_empty()).then(|| json!(s.judge_combine)),
        ),
        ("redaction.pii", some(json!(s.redact_pii))),
        ("redaction.inputs", some(json!(s.redact_inputs))),
        (
            "redaction.allow",
            (!s.redaction_allow.is_empty()).then(|| json!(s.redaction_allow)),
        ),
        ("limits.rendered_bytes", some(json!(s.limit_rendered_bytes))),
        ("limits.response_bytes", some(json!(s.limit_response_bytes))),
        ("limits.output_bytes", some(json!(s.limit_output_bytes))),
    ] {
        push(key, value, key);
    }
    for (name, provider) in &s.providers {
        let origin_key = format!("providers.{name}");
        let Ok(Value::Object(fields)) = serde_json::to_value(provider) else {
            continue;
        };
        for (field, value) in fields {
            if value.is_null() {
                continue;
            }
            let value = match (field.as_str(), value) {
                ("base_url", Value::String(url)) => json!(without_secrets(&url)),
                (_, v) => v,
            };
            push(&format!("{origin_key}.{field}"), Some(value), &origin_key);
        }
    }
    for (model, price) in &s.pricing {
        let key = format!("pricing.{model}");
        push(
            &format!("{key}.input"),
            some(json!(price.input)),
            key.as_str(),
        );
        push(
            &format!("{key}.output"),
            some(json!(price.output)),
            key.as_str(),
        );
    }
    rows
}

/// A URL without `user:password@` and without its query, which may hold a key.
fn without_secrets(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = match rest.split_once('/') {
        Some((authority, path)) => format!("{}/{path}", host_only(authority)),
        None => host_only(rest).to_string(),
    };
    let hidden = if url.contains('?') || url.contains('#') {
        "?…"
    } else {
        ""
    };
    if scheme.is_empty() {
        format!("{rest}{hidden}")
    } else {
        format!("{scheme}://{rest}{hidden}")
    }
}

fn host_only(authority: &str) -> &str {
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_credentials() {
        use super::without_secrets as w;
        assert_eq!(w("https://api.openai.com/v1"), "https://api.openai.com/v1");
        assert_eq!(
            w("https://u:sk-123@h.example/v1?key=abc"),
            "https://h.example/v1?…"
        );
        assert_eq!(w("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
