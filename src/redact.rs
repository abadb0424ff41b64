//! The one redactor: every text llmops stores (results, the response cache, recordings) or
//! prints (reports, errors, notes) passes through [`scrub`] first.
//!
//! It removes:
//! - every configured API key (read from the variables the providers' `api_key_env` name),
//!   and near-copies of it: any token that shares a long run of characters with a key (a key
//!   one character short, with a prefix, cut in two);
//! - credentials in URLs: the `user:password@` part, and the values of query parameters that
//!   carry secrets (`key`, `api_key`, `token`, `signature`, ...);
//! - tokens shaped like well-known API keys (`sk-…`, `AIza…`, `ghp_…`, `AKIA…`, private-key
//!   blocks), even when no provider names them.
//!
//! Personal data in variables and outputs is masked separately ([`mask_pii`]), when the
//! configuration asks for it (`redaction.pii`, `redaction.inputs`).

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

use regex::Regex;

/// What replaces a secret.
pub const MASK: &str = "[redacted]";

/// Keys shorter than this are not treated as secrets: masking them would mangle ordinary
/// words, and no real provider issues them.
const MIN_SECRET_LEN: usize = 8;

/// Characters that make up a key-like token.
const TOKEN: &str = r"[A-Za-z0-9_\-+/=]";

#[derive(Default)]
struct Known {
    secrets: Vec<String>,
    near: Option<Regex>,
}

fn known() -> &'static RwLock<Known> {
    static KNOWN: OnceLock<RwLock<Known>> = OnceLock::new();
    KNOWN.get_or_init(Default::default)
}

/// The length of the runs of a key that mark a near-copy: long enough that ordinary text never
/// holds one by chance, short enough that a key with a character dropped, changed or added
/// still holds one.
fn window(len: usize) -> usize {
    if len >= 18 {
        12
    } else {
        (len * 2 / 3).max(6)
    }
}

/// Teach the redactor a secret (an API key read from the environment).
pub fn add_secret(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_SECRET_LEN {
        return;
    }
    let mut k = known().write().unwrap_or_else(|e| e.into_inner());
    if k.secrets.iter().any(|s| s == secret) {
        return;
    }
    k.secrets.push(secret.to_string());
    let mut parts: Vec<String> = Vec::new();
    for s in &k.secrets {
        let chars: Vec<char> = s.chars().collect();
        let w = window(chars.len());
        for start in 0..=chars.len() - w {
            let piece: String = chars[start..start + w].iter().collect();
            parts.push(regex::escape(&piece));
        }
    }
    parts.sort();
    parts.dedup();
    let pattern = format!("{TOKEN}*(?:{}){TOKEN}*", parts.join("|"));
    k.near = Regex::new(&pattern).ok();
}

struct Patterns {
    userinfo: Regex,
    query: Regex,
    key_shaped: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        userinfo: Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@'\x22<>]+@").expect("valid"),
        query: Regex::new(
            r"(?i)([?&;](?:api[_\-]?key|key|x[_\-]api[_\-]key|token|access[_\-]?token|auth|authorization|secret|client[_\-]?secret|password|passwd|pwd|sig|signature|credential|credentials)=)[^&#\s'\x22<>]+",
        )
        .expect("valid"),
        key_shaped: Regex::new(concat!(
            r"\b(?:",
            r"sk-[A-Za-z0-9_\-]{16,}",
            r"|AIza[0-9A-Za-z_\-]{30,}",
            r"|gh[pousr]_[A-Za-z0-9]{30,}",
            r"|github_pat_[A-Za-z0-9_]{30,}",
            r"|xox[abprs]-[A-Za-z0-9\-]{10,}",
            r"|(?:AKIA|ASIA)[0-9A-Z]{16}",
            r"|glpat-[A-Za-z0-9_\-]{20,}",
            r"|hf_[A-Za-z0-9]{30,}",
            r")",
            r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
        ))
        .expect("valid"),
    })
}

/// Whether `s` looks like an API key (one of the well-known formats, or a long run of mixed
/// letters and digits with no word in it).
pub fn looks_like_key(s: &str) -> bool {
    let s = s.trim();
    if patterns().key_shaped.is_match(s) {
        return true;
    }
    let lower = s.chars().any(|c| c.is_ascii_lowercase());
    let upper = s.chars().any(|c| c.is_ascii_uppercase());
    let digit = s.chars().filter(char::is_ascii_digit).count();
    // Variable names are words joined by `_`; keys are not.
    s.len() >= 24 && lower && upper && digit >= 2 && !s.contains(['_', ' ', '\t'])
}

/// `text` with every secret llmops knows about replaced by `[redacted]` (see the module docs).
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    {
        let k = known().read().unwrap_or_else(|e| e.into_inner());
        if let Some(re) = &k.near {
            if let Cow::Owned(s) = re.replace_all(&out, MASK) {
                out = Cow::Owned(s);
            }
        }
    }
    let p = patterns();
    if let Cow::Owned(s) = p
        .userinfo
        .replace_all(&out, format!("${{1}}{MASK}@").as_str())
    {
        out = Cow::Owned(s);
    }
    if let Cow::Owned(s) = p.query.replace_all(&out, format!("${{1}}{MASK}").as_str()) {
        out = Cow::Owned(s);
    }
    if let Cow::Owned(s) = p.key_shaped.replace_all(&out, MASK) {
        out = Cow::Owned(s);
    }
    out
}

/// [`scrub`] into an owned string.
pub fn scrub_string(text: String) -> String {
    match scrub(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => s,
    }
}

fn luhn(digits: &str) -> bool {
    let ds: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&ds.len()) {
        return false;
    }
    let sum: u32 = ds
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (1, x) if x > 9 => x - 9,
            (1, x) => x,
            _ => d,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The patterns of personal data: (mask name, what it is, pattern). The same shapes as the
/// `pii` assertion.
fn pii_patterns() -> &'static [(&'static str, &'static str, Regex)] {
    static P: OnceLock<Vec<(&'static str, &'static str, Regex)>> = OnceLock::new();
    P.get_or_init(|| {
        vec![
            ("email", "an e-mail address", Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b").expect("valid")),
            ("card", "a card number", Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").expect("valid")),
            ("ssn", "a social security number", Regex::new(r"\b\d{3}-\d{2}-\d{4}\b").expect("valid")),
            ("phone", "a phone number", Regex::new(r"(?:\+\d{1,3}[\s.-]?)?\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b|\+\d{1,3}(?:[\s.-]?\d{2,4}){3,5}\b").expect("valid")),
        ]
    })
}

/// One PII- or secret-shaped string found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What it looks like ("an e-mail address", "an API key or private key").
    pub what: &'static str,
    /// Mask name for PII (`email`, `card`, ...), `secret` for secrets.
    pub mask: &'static str,
    /// Byte range in the text.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
}

/// Whether `s` is fake by construction: an address at a domain reserved for examples
/// (RFC 2606/6761: `example.com`, `*.example`, `*.test`, `*.invalid`), a phone number in the
/// 555-0100..0199 range kept for fiction, or a card number the card networks publish for tests.
fn is_reserved_fake(mask: &str, s: &str) -> bool {
    match mask {
        "email" => {
            let domain = s.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
            ["example.com", "example.org", "example.net"]
                .iter()
                .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
                || [".example", ".test", ".invalid", ".localhost"]
                    .iter()
                    .any(|t| domain.ends_with(t))
        }
        "phone" => {
            static FICTION: OnceLock<Regex> = OnceLock::new();
            FICTION
                .get_or_init(|| Regex::new(r"555[\s.-]?01\d\d\b").expect("valid"))
                .is_match(s)
        }
        "card" => {
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            [
                "4111111111111111",
                "4242424242424242",
                "4000056655665556",
                "5555555555554444",
                "5105105105105100",
                "378282246310005",
                "6011111111111117",
            ]
            .contains(&digits.as_str())
        }
        _ => false,
    }
}

/// A compiled `redaction.allow` list: strings that match one of these whole are deliberate.
#[derive(Debug, Default, Clone)]
pub struct Allow(Vec<Regex>);

impl Allow {
    /// Compile `patterns` (validated at config load; a bad one is skipped here).
    pub fn new(patterns: &[String]) -> Allow {
        Allow(
            patterns
                .iter()
                .filter_map(|p| Regex::new(&format!("^(?:{p})$")).ok())
                .collect(),
        )
    }

    /// Whether `s` is allowed.
    pub fn allows(&self, s: &str) -> bool {
        self.0.iter().any(|r| r.is_match(s))
    }
}

/// Every PII-shaped and secret-shaped string in `text` that `allow` does not allow, in order.
pub fn findings(text: &str, allow: &Allow) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let p = patterns();
    for (re, what) in [
        (&p.key_shaped, "an API key or private key"),
        (&p.userinfo, "credentials in a URL"),
        (&p.query, "a secret in a URL query"),
    ] {
        for m in re.find_iter(text) {
            out.push(Finding {
                what,
                mask: "secret",
                start: m.start(),
                end: m.end(),
            });
        }
    }
    for (mask, what, re) in pii_patterns() {
        for m in re.find_iter(text) {
            if *mask == "card" && !luhn(m.as_str()) {
                continue;
            }
            // A card number also looks like a phone number: one finding per place.
            if out.iter().any(|f| f.start < m.end() && m.start() < f.end) {
                continue;
            }
            out.push(Finding {
                what,
                mask,
                start: m.start(),
                end: m.end(),
            });
        }
    }
    out.retain(|f| {
        let s = &text[f.start..f.end];
        !allow.allows(s) && !is_reserved_fake(f.mask, s)
    });
    out.sort_by_key(|f| f.start);
    out
}

/// `text` with personal data (e-mail addresses, phone, card and social security numbers)
/// replaced by `[email]`, `[phone]`, `[card]`, `[ssn]`.
pub fn mask_pii(text: &str) -> String {
    let mut out = text.to_string();
    for (mask, _, re) in pii_patterns() {
        out = re
            .replace_all(&out, |c: &regex::Captures<'_>| {
                let m = c.get(0).map_or("", |m| m.as_str());
                if *mask == "card" && !luhn(m) {
                    m.to_string()
                } else {
                    format!("[{mask}]")
                }
            })
            .into_owned();
    }
    out
}

/// The kinds of personal data in `text`, by mask name (`email`, `card`, `ssn`, `phone`), each
/// once, in pattern order; a card number counts only when its check digit is right.
pub fn pii_kinds(text: &str) -> Vec<&'static str> {
    pii_patterns()
        .iter()
        .filter(|(mask, _, re)| {
            if *mask == "card" {
                re.find_iter(text).any(|m| luhn(m.as_str()))
            } else {
                re.is_match(text)
            }
        })
        .map(|(mask, _, _)| *mask)
        .collect()
}

/// `text` with personal data and secrets replaced by stable placeholders (`[email:3fa2c1]`):
/// the same value always gets the same placeholder, so a masked request keeps one cache
/// fingerprint, and two different values stay different for the model.
pub fn mask_stable(text: &str, allow: &Allow) -> String {
    let found = findings(text, allow);
    if found.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in found {
        if f.start < at {
            continue;
        }
        out.push_str(&text[at..f.start]);
        let hash = crate::text::sha256_hex(&text.as_bytes()[f.start..f.end]);
        out.push_str(&format!("[{}:{}]", f.mask, &hash[..6]));
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Mask every string in a case's variables with [`mask_stable`] (`redaction.inputs`).
pub fn mask_value(v: &mut serde_json::Value, allow: &Allow) {
    match v {
        serde_json::Value::String(s) => {
            let masked = mask_stable(s, allow);
            if masked != *s {
                *s = masked;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| mask_value(x, allow)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| mask_value(x, allow)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_near_copies() {
        let key = "zq-REDACT-TEST-0123456789abcdefXYZ";
        add_secret(key);
        for text in [
            format!("echo {key} back"),
            format!("echo {} back", &key[..key.len() - 1]),
            format!("echo {} back", &key[1..]),
            format!("echo x{key}y back"),
            format!("echo {}_{} back", &key[..14], &key[15..]),
        ] {
            let s = scrub(&text);
            assert_eq!(s, "echo [redacted] back", "{text}");
        }
        assert_eq!(scrub("nothing to see"), "nothing to see");
        assert!(matches!(scrub("nothing to see"), Cow::Borrowed(_)));
    }

    #[test]
    fn url_credentials() {
        assert_eq!(
            scrub("GET https://bob:hunter2@example.com/v1?x=1&api_key=abc123&y=2 failed"),
            "GET https://[redacted]@example.com/v1?x=1&api_key=[redacted]&y=2 failed"
        );
        assert_eq!(scrub("http://h/v1?key=AAAA"), "http://h/v1?key=[redacted]");
    }

    #[test]
    fn key_shapes() {
        assert_eq!(
            scrub("use AIzaSyA1234567890abcdefghijklmnopqrstuv now"),
            "use [redacted] now"
        );
        assert!(looks_like_key("AIzaSyA1234567890abcdefghijklmnopqrstuv"));
        assert!(looks_like_key("sk-proj-abcdefghijklmnop1234"));
        assert!(!looks_like_key("OPENAI_API_KEY"));
        assert!(!looks_like_key("MY_VERY_LONG_ENVIRONMENT_VARIABLE_NAME_2"));
        assert!(!looks_like_key("MyCompany_OpenAI_Key_2024_v2"));
        assert!(looks_like_key("Xk29fLq0ZpR7tYw3NmB8vC4s"));
    }

    #[test]
    fn findings_and_stable_masks() {
        let none = Allow::default();
        assert!(findings("mail ada@example.com or call +1 415 555 0100", &none).is_empty());
        let f = findings("mail ada@corp.io or call +1 415 555 2671", &none);
        let what: Vec<&str> = f.iter().map(|f| f.what).collect();
        assert_eq!(what, ["an e-mail address", "a phone number"]);
        assert!(findings("no personal data", &none).is_empty());
        let allow = Allow::new(&[r".*@corp\.io".into()]);
        assert_eq!(findings("ada@corp.io", &allow), vec![]);
        let a = mask_stable("write to ada@corp.io today", &none);
        assert!(
            a.starts_with("write to [email:") && a.ends_with("] today"),
            "{a}"
        );
        assert_eq!(a, mask_stable("write to ada@corp.io today", &none));
        assert_ne!(a, mask_stable("write to bob@corp.io today", &none));
        assert_eq!(
            mask_stable("card 4556 7375 8689 9855", &none),
            format!(
                "card [card:{}]",
                &crate::text::sha256_hex(b"4556 7375 8689 9855")[..6]
            )
        );
        assert_eq!(
            mask_stable("card 4111 1111 1111 1111", &none),
            "card 4111 1111 1111 1111"
        );
    }
}
