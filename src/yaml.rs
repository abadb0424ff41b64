//! YAML parsing through serde-saphyr with budgets, and its errors turned into diagnostics.
//!
//! serde_yaml is archived and deprecated; serde-saphyr is maintained, never panics on malformed
//! input, reports line and column, and bounds alias expansion and nesting (docs/yaml.md).

use serde::de::DeserializeOwned;

use crate::error::Diagnostic;
use crate::text;

/// Deepest nesting we accept: real configs need a dozen levels, attackers need thousands.
const MAX_DEPTH: usize = 64;
/// Nodes in one document, counting alias replays: bounds a "billion laughs" alias bomb.
const MAX_NODES: usize = 200_000;

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_documents = 1;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    // YAML 1.2 booleans only: `no`, `y` and `on` stay strings (the "Norway problem").
    options.strict_booleans = true;
    options
}

/// Parse `text` (the YAML of `file`) into `T`; an error names the file, line, column and, for
/// an unknown field, the closest known one.
pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Diagnostic> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| to_diagnostic(file, &e))
}

fn to_diagnostic(file: &str, e: &serde_saphyr::Error) -> Diagnostic {
    let loc = e.location();
    let mut message = e.without_snippet().to_string();
    // serde-saphyr appends " at line L, column C"; we print the position in front instead.
    if let Some(idx) = message.rfind(" at line ") {
        message.truncate(idx);
    }
    // serde-saphyr addresses its own API user here, not ours.
    if let Some(idx) = message.find(", set DuplicateKeyPolicy") {
        message.truncate(idx);
    }
    let mut help = None;
    let mut code = "yaml";
    if let Some((field, expected)) = parse_unknown_field(&message) {
        code = "unknown-field";
        let candidates: Vec<&str> = expected.iter().map(String::as_str).collect();
        help = text::did_you_mean(&field, candidates.iter().copied())
            .or_else(|| {
                candidates
                    .iter()
                    .find(|c| c.starts_with(field.as_str()) && field.len() >= 3)
                    .map(|c| format!("did you mean `{c}`?"))
            })
            .or_else(|| Some(format!("known fields: {}", expected.join(", "))));
        message = format!("unknown field `{field}`");
    } else if message.starts_with("budget breached") {
        code = "yaml-budget";
        message = format!("YAML too large or too deeply nested ({message})");
        help = Some(
            "llmops refuses alias bombs and nesting deeper than 64 levels; simplify the file"
                .to_string(),
        );
    } else if message.starts_with("recursion limit exceeded") {
        code = "yaml-budget";
        help = Some("llmops refuses nesting deeper than 64 levels".to_string());
    }
    let mut d = Diagnostic::error(code, file, message).help_opt(help);
    if let Some(loc) = loc {
        if loc.line() > 0 {
            d = d.at(loc.line() as usize, Some(loc.column() as usize));
        }
    }
    d
}

/// Pull the field and the expected list out of serde's "unknown field `x`, expected ..." text.
pub(crate) fn parse_unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    let field = rest[..end].to_string();
    let tail = &rest[end + 1..];
    let list = tail
        .strip_prefix(", expected one of ")
        .or_else(|| tail.strip_prefix(", expected "))
        .unwrap_or("");
    let expected = list
        .split(',')
        .map(|s| s.trim().trim_matches('`').to_string())
        .filter(|s| !s.is_empty() && s != "there are no fields")
        .collect();
    Some((field, expected))
}

/// Byte-order marks and invalid UTF-8 are common in files from other tools; decode strictly
/// and say where the bad byte is.
pub fn decode_utf8(file: &str, bytes: &[u8]) -> Result<String, Diagnostic> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
            Err(Diagnostic::error(
                "encoding",
                file,
                format!("invalid UTF-8 (byte 0x{:02x})", bytes[e.valid_up_to()]),
            )
            .at(line, Some(col))
            .help("save the file as UTF-8"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        temperature: Option<f64>,
        max_tokens: Option<u32>,
    }

    #[test]
    fn unknown_field_suggests() {
        let d = parse::<Cfg>("x.yaml", "max_tokens: 3\ntemprature: 0.2\n").unwrap_err();
        assert_eq!(d.code, "unknown-field");
        assert_eq!(d.line, Some(2));
        assert_eq!(d.help.as_deref(), Some("did you mean `temperature`?"));
        assert_eq!(d.message, "unknown field `temprature`");
    }

    #[test]
    fn invalid_utf8_position() {
        let d = decode_utf8("f", b"ab\ncd\xffe").unwrap_err();
        assert_eq!((d.line, d.column), (Some(2), Some(3)));
        assert_eq!(decode_utf8("f", b"\xEF\xBB\xBFok").unwrap(), "ok");
    }
}
