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

/// Elements `is-html` recognises (HTML5's, without the obsolete ones; promptfoo's list).
const ELEMENTS: &[&str] = &[
    "html",
    "head",
    "title",
    "base",
    "link",
    "meta",
    "style",
    "body",
    "article",
    "section",
    "nav",
    "aside",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "footer",
    "address",
    "p",
    "hr",
    "pre",
    "blockquote",
    "ol",
    "ul",
    "li",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "main",
    "div",
    "a",
    "em",
    "strong",
    "small",
    "s",
    "cite",
    "q",
    "dfn",
    "abbr",
    "ruby",
    "rt",
    "rp",
    "data",
    "time",
    "code",
    "var",
    "samp",
    "kbd",
    "sub",
    "sup",
    "i",
    "b",
    "u",
    "mark",
    "bdi",
    "bdo",
    "span",
    "br",
    "wbr",
    "img",
    "iframe",
    "embed",
    "object",
    "param",
    "picture",
    "source",
    "video",
    "audio",
    "track",
    "map",
    "area",
    "svg",
    "math",
    "script",
    "noscript",
    "canvas",
    "ins",
    "del",
    "table",
    "caption",
    "colgroup",
    "col",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "td",
    "th",
    "form",
    "label",
    "input",
    "button",
    "select",
    "datalist",
    "optgroup",
    "option",
    "textarea",
    "output",
    "progress",
    "meter",
    "fieldset",
    "legend",
    "details",
    "summary",
    "dialog",
    "menu",
    "slot",
    "template",
];

/// Largest output `is-html` parses.
pub const MAX_HTML: usize = 10 << 20;

/// `is-html`: the whole output is HTML, as promptfoo decides it. The output is parsed as an
/// HTML5 document (`html5ever`, the WHATWG algorithm jsdom's parser also follows); text outside
/// any element, XML, or no recognised element (an HTML5 one or a custom `a-b` one) fails.
pub fn is_html(text: &str) -> Result<(), &'static str> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the output is empty");
    }
    if t.len() > MAX_HTML {
        return Err("the output is longer than 10 MiB");
    }
    // With no `<` the parser makes one text node: text outside any element.
    if !t.contains('<') {
        return Err("the output has text outside HTML tags");
    }
    if t.len() >= 5 && t[..5].eq_ignore_ascii_case("<?xml") {
        return Err("the output is XML, not HTML");
    }
    let doc = scraper::Html::parse_document(t);
    let lower = t.to_lowercase();
    let elements = || {
        doc.tree.root().descendants().filter_map(|n| {
            n.value()
                .as_element()
                .map(|e| (n, e.name().to_ascii_lowercase()))
        })
    };
    if !lower.contains("<body") {
        let text_in_body = elements()
            .find(|(_, name)| name == "body")
            .is_some_and(|(body, _)| {
                body.children()
                    .any(|c| c.value().as_text().is_some_and(|t| !t.trim().is_empty()))
            });
        if text_in_body {
            return Err("the output has text outside HTML tags");
        }
    }
    let recognised = elements().any(|(_, name)| {
        if matches!(name.as_str(), "html" | "head" | "body") && !lower.contains(&format!("<{name}"))
        {
            return false;
        }
        ELEMENTS.contains(&name.as_str()) || name.contains('-')
    });
    if recognised {
        Ok(())
    } else {
        Err("the output has no recognised HTML element")
    }
}
