//! `is-xml` and `contains-xml`, with promptfoo's meaning: the output is (or contains) well-formed
//! XML, and every required element path (`analysis.classification`, `root.item.1.name`) is
//! present. Paths start at the root element's name; a number picks one of several same-named
//! siblings, and `@_name` names an attribute, as in promptfoo's parsed form.

use roxmltree::{Document, Node, ParsingOptions};

fn options<'a>() -> ParsingOptions<'a> {
    ParsingOptions {
        allow_dtd: true,
        nodes_limit: 1_000_000,
        ..ParsingOptions::default()
    }
}

/// A DOCTYPE with an internal subset (`[...]`): promptfoo refuses to validate it.
fn has_internal_subset(text: &str) -> bool {
    let Some(at) = text.find("<!DOCTYPE") else {
        return false;
    };
    let mut quote = None;
    for c in text[at + 9..].chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => return true,
            (None, '>') => return false,
            _ => {}
        }
    }
    false
}

/// The DOCTYPE's external identifiers break XML's rules: a system literal holds a `#`
/// fragment, or a public identifier holds a character outside PubidChar.
fn bad_external_id(text: &str) -> bool {
    let Some(at) = text.find("<!DOCTYPE") else {
        return false;
    };
    let rest = &text[at + 9..];
    let rest = rest.trim_start();
    let name_end = rest
        .find(|c: char| c.is_whitespace() || c == '>' || c == '[')
        .unwrap_or(rest.len());
    let rest = rest[name_end..].trim_start();
    let literal = |s: &str| -> Option<(String, usize)> {
        let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let end = s[1..].find(q)?;
        Some((s[1..1 + end].to_string(), end + 2))
    };
    let pubid_ok = |s: &str| {
        s.chars().all(|c| {
            c == ' '
                || c == '\r'
                || c == '\n'
                || c.is_ascii_alphanumeric()
                || "-'()+,./:=?;!*#@$_%".contains(c)
        })
    };
    if let Some(r) = rest.strip_prefix("SYSTEM") {
        return literal(r.trim_start()).is_some_and(|(sys, _)| sys.contains('#'));
    }
    if let Some(r) = rest.strip_prefix("PUBLIC") {
        let r = r.trim_start();
        let Some((public, used)) = literal(r) else {
            return false;
        };
        if !pubid_ok(&public) {
            return true;
        }
        return literal(r[used..].trim_start()).is_some_and(|(sys, _)| sys.contains('#'));
    }
    false
}

/// Whether `path` exists below the top-level elements `tops`.
fn has_path(tops: &[Node<'_, '_>], path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    let mut current: Vec<Node<'_, '_>> = tops
        .iter()
        .copied()
        .filter(|n| n.tag_name().name() == first)
        .collect();
    if current.is_empty() {
        return false;
    }
    for key in rest {
        if current.is_empty() {
            // Below an attribute: nothing.
            return false;
        }
        if current.len() > 1 {
            // Several same-named siblings are a list: only an index goes on.
            match key.parse::<usize>() {
                Ok(i) if i.to_string() == *key && i < current.len() => current = vec![current[i]],
                _ => return false,
            }
            continue;
        }
        let node = current[0];
        if let Some(attr) = key.strip_prefix("@_") {
            if node.attribute(attr).is_none() {
                return false;
            }
            // An attribute is a leaf.
            current = Vec::new();
            continue;
        }
        current = node
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == key)
            .collect();
        if current.is_empty() {
            return false;
        }
    }
    true
}

fn missing(tops: &[Node<'_, '_>], required: &[Vec<String>]) -> Vec<String> {
    required
        .iter()
        .filter(|p| !has_path(tops, p))
        .map(|p| p.join("."))
        .collect()
}

/// `is-xml`: `Ok(())` or why not.
pub fn is_xml(text: &str, required: &[Vec<String>]) -> Result<(), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if has_internal_subset(text) {
        return Err("DTD internal subsets are not supported by is-xml".into());
    }
    if bad_external_id(text) {
        return Err("XML parsing failed: malformed DOCTYPE declaration".into());
    }
    let doc = Document::parse_with_options(text, options())
        .map_err(|e| format!("XML parsing failed: {e}"))?;
    let gone = missing(&[doc.root_element()], required);
    if gone.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "XML is missing required elements: {}",
            gone.join(", ")
        ))
    }
}

/// A span of the output that may be an XML element (or a run of sibling elements).
#[derive(Clone, Copy, PartialEq)]
struct Candidate {
    start: usize,
    end: usize,
    parent: Option<usize>,
}

fn is_name_start(c: char) -> bool {
    c == ':' || c == '_' || c.is_alphabetic()
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c == '-' || c == '.' || c.is_ascii_digit() || c == '\u{b7}'
}

/// End (index of `>`) of the tag starting at `start`, honouring quotes; `None` at a `<`.
fn tag_end(b: &str, start: usize) -> Option<usize> {
    let mut quote = None;
    for (i, c) in b[start + 1..].char_indices() {
        let i = i + start + 1;
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '<') => return None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn name_at(b: &str, at: usize) -> Option<&str> {
    let rest = &b[at..];
    let mut chars = rest.char_indices();
    match chars.next() {
        Some((_, c)) if is_name_start(c) => {}
        _ => return None,
    }
    let end = chars
        .find(|(_, c)| !is_name_char(*c))
        .map_or(rest.len(), |(i, _)| i);
    Some(&rest[..end])
}

/// Balanced element spans in the output, as promptfoo finds them: a stack of open tags, an
/// unmatched closing tag discarding the stack; comments, CDATA and declarations skipped.
fn candidates(text: &str) -> Vec<Candidate> {
    let mut stack: Vec<(&str, usize)> = Vec::new();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find('<') {
        let start = i + off;
        let rest = &text[start..];
        let skip_to = |delim: &str, from: usize| {
            text[from..]
                .find(delim)
                .map_or(text.len(), |p| from + p + delim.len())
        };
        if rest.starts_with("<!--") {
            i = skip_to("-->", start + 4);
            continue;
        }
        if rest.starts_with("<![CDATA[") {
            i = skip_to("]]>", start + 9);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            i = match tag_end(text, start) {
                Some(e) => e + 1,
                None => start + 1,
            };
            continue;
        }
        if let Some(name_start) = rest.strip_prefix("</").map(|_| start + 2) {
            match (name_at(text, name_start), tag_end(text, start)) {
                (Some(name), Some(end)) => {
                    if stack.last().is_some_and(|(n, _)| *n == name) {
                        let (_, open) = stack.pop().unwrap_or((name, start));
                        found.push(Candidate {
                            start: open,
                            end: end + 1,
                            parent: stack.last().map(|(_, s)| *s),
                        });
                    } else {
                        stack.clear();
                    }
                    i = end + 1;
                }
                _ => i = start + 1,
            }
            continue;
        }
        match (name_at(text, start + 1), tag_end(text, start)) {
            (Some(name), Some(end)) => {
                if text[start..end].trim_end().ends_with('/') {
                    found.push(Candidate {
                        start,
                        end: end + 1,
                        parent: stack.last().map(|(_, s)| *s),
                    });
                } else {
                    stack.push((name, start));
                }
                i = end + 1;
            }
            _ => i = start + 1,
        }
    }
    // Runs of top-level siblings are tried together first, then each maximal element.
    let starts: std::collections::HashSet<usize> = found.iter().map(|c| c.start).collect();
    let mut groups: Vec<(Option<usize>, Vec<Candidate>)> = Vec::new();
    for c in &found {
        match groups.iter_mut().find(|(p, _)| *p == c.parent) {
            Some((_, g)) => g.push(*c),
            None => groups.push((c.parent, vec![*c])),
        }
    }
    let mut ordered: Vec<Candidate> = Vec::new();
    for (parent, mut sibs) in groups {
        if sibs.len() <= 1 || parent.is_some_and(|p| starts.contains(&p)) {
            continue;
        }
        sibs.sort_by_key(|c| (c.start, c.end));
        let run = Candidate {
            start: sibs[0].start,
            end: sibs[sibs.len() - 1].end,
            parent,
        };
        if !ordered.contains(&run) {
            ordered.push(run);
        }
    }
    let mut maximal: Vec<Candidate> = found
        .into_iter()
        .filter(|c| c.parent.is_none_or(|p| !starts.contains(&p)))
        .collect();
    maximal.sort_by_key(|c| (c.start, std::cmp::Reverse(c.end)));
    for c in maximal {
        if !ordered.iter().any(|o| o.start == c.start && o.end == c.end) {
            ordered.push(c);
        }
    }
    ordered
}

/// `contains-xml`: `Ok(())` or why not.
pub fn contains_xml(text: &str, required: &[Vec<String>]) -> Result<(), String> {
    let found = candidates(text);
    if found.is_empty() {
        return Err("no XML content found in the output".into());
    }
    let mut well_formed: Vec<Candidate> = Vec::new();
    for c in found {
        if well_formed
            .iter()
            .any(|w| c.start >= w.start && c.end <= w.end)
        {
            continue;
        }
        // A run of siblings has several roots: parse it inside a wrapper, whose children are
        // the top-level elements.
        let wrapped = format!(
            "<llmops-fragment>{}</llmops-fragment>",
            &text[c.start..c.end]
        );
        let Ok(doc) = Document::parse_with_options(&wrapped, options()) else {
            continue;
        };
        let tops: Vec<Node<'_, '_>> = doc
            .root_element()
            .children()
            .filter(|n| n.is_element())
            .collect();
        if missing(&tops, required).is_empty() {
            return Ok(());
        }
        well_formed.push(c);
    }
    Err("no valid XML content found matching the requirements".into())
}
