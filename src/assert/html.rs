//! `contains-html`: promptfoo's heuristic, indicator for indicator. Paired tags count 2 (an
//! opening or a closing tag alone 1), a self-closing tag, an entity, a comment and a quoted
//! attribute 1 each, a `<!DOCTYPE html>` or a common HTML tag (`div`, `p`, `a`, …) 2; two or
//! more mean HTML. So `a < b`, `<example>` and `<john@example.com>` are not HTML.

use std::sync::OnceLock;

use regex::Regex;

struct Patterns {
    opening: Regex,
    closing: Regex,
    self_closing: Regex,
    entity: Regex,
    doctype: Regex,
    comment: Regex,
    attribute: Regex,
    common: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("valid HTML pattern");
        Patterns {
            opening: re(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s+[^>]*)?>"),
            closing: re(r"</[a-zA-Z][a-zA-Z0-9-]*\s*>"),
            self_closing: re(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s+[^>]*)?/>"),
            entity: re(r"&(?:[a-zA-Z]+|#[0-9]+|#x[0-9a-fA-F]+);"),
            doctype: re(r"(?i)<!DOCTYPE\s+html"),
            comment: re(r"<!--[\s\S]*?-->"),
            attribute: re(r#"\s+[a-zA-Z-]+\s*=\s*["'][^"']*["']"#),
            common: re(
                r"(?i)<(?:html|head|body|div|span|p|a|img|h[1-6]|ul|ol|li|table|tr|td|th|form|input|button|script|style|link|meta|br|hr)\b",
            ),
        }
    })
}

/// Whether `text` holds HTML.
pub fn contains_html(text: &str) -> bool {
    let p = patterns();
    let mut n = 0;
    match (p.opening.is_match(text), p.closing.is_match(text)) {
        (true, true) => n += 2,
        (true, false) | (false, true) => n += 1,
        (false, false) => {}
    }
    for (re, weight) in [
        (&p.self_closing, 1),
        (&p.entity, 1),
        (&p.doctype, 2),
        (&p.comment, 1),
        (&p.attribute, 1),
        (&p.common, 2),
    ] {
        if re.is_match(text) {
            n += weight;
        }
    }
    n >= 2
}
