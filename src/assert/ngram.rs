//! `bleu` and `gleu`: n-gram overlap with one or more reference texts, computed exactly as
//! promptfoo computes them (lower-cased, split at whitespace, n-grams of 1 to 4 words), so a
//! suite moved over gets the same scores. A tokenizer crate would split words differently
//! and change the scores.

use std::collections::HashMap;

fn words(text: &str, strip_dots: bool) -> Vec<String> {
    text.to_lowercase()
        .split_whitespace()
        .map(|w| {
            if strip_dots {
                w.trim_end_matches('.').to_string()
            } else {
                w.to_string()
            }
        })
        .collect()
}

fn counts(words: &[String], n: usize) -> (HashMap<&[String], usize>, usize) {
    let mut m = HashMap::new();
    if n == 0 || n > words.len() {
        return (m, 0);
    }
    for g in words.windows(n) {
        *m.entry(g).or_insert(0) += 1;
    }
    (m, words.len() - n + 1)
}

fn matches(cand: &HashMap<&[String], usize>, refs: &HashMap<&[String], usize>) -> usize {
    cand.iter()
        .map(|(g, c)| (*c).min(refs.get(g).copied().unwrap_or(0)))
        .sum()
}

/// BLEU-4 with uniform weights, clipped counts (the best reference per order), the brevity
/// penalty against the reference closest in length, and zero precisions smoothed to 1e-7.
pub fn bleu(candidate: &str, references: &[String]) -> f64 {
    let cw = words(candidate, false);
    if cw.is_empty() || references.is_empty() {
        return 0.0;
    }
    let rws: Vec<Vec<String>> = references.iter().map(|r| words(r, false)).collect();
    let c = cw.len();
    let closest = rws
        .iter()
        .map(Vec::len)
        .reduce(|prev, cur| {
            if cur.abs_diff(c) < prev.abs_diff(c) {
                cur
            } else {
                prev
            }
        })
        .unwrap_or(0);
    let mut log_sum = 0.0;
    for n in 1..=4 {
        let (cc, total) = counts(&cw, n);
        let best = rws
            .iter()
            .map(|rw| matches(&cc, &counts(rw, n).0))
            .max()
            .unwrap_or(0);
        let p = if total > 0 {
            best as f64 / total as f64
        } else {
            0.0
        };
        log_sum += 0.25 * if p == 0.0 { 1e-7f64.ln() } else { p.ln() };
    }
    let bp = if c > closest {
        1.0
    } else {
        (1.0 - c as f64 / closest as f64).exp()
    };
    bp * log_sum.exp()
}

/// Google-BLEU: per reference, the smaller of n-gram precision and recall over orders 1 to 4
/// (words lower-cased, trailing dots dropped; identical texts score 1); the best reference.
pub fn gleu(candidate: &str, references: &[String]) -> f64 {
    let cw = words(candidate, true);
    if cw.is_empty() {
        return 0.0;
    }
    references
        .iter()
        .map(|r| {
            let rw = words(r, true);
            if rw == cw {
                return 1.0;
            }
            let (mut hit, mut ct, mut rt) = (0, 0, 0);
            for n in 1..=4 {
                let (cc, ctot) = counts(&cw, n);
                let (rc, rtot) = counts(&rw, n);
                hit += matches(&cc, &rc);
                ct += ctot;
                rt += rtot;
            }
            if ct == 0 || rt == 0 {
                0.0
            } else {
                (hit as f64 / ct as f64).min(hit as f64 / rt as f64)
            }
        })
        .fold(0.0, f64::max)
}

/// The Penn Treebank tokenizer ROUGE uses (js-rouge's `treeBankTokenize`, rule for rule):
/// punctuation, brackets and quotes split off, contractions (`can't` → `ca n't`) split, then
/// split at single spaces. Case is kept.
pub fn treebank_tokens(input: &str) -> Vec<String> {
    use std::sync::OnceLock;
    struct Rules {
        first: Vec<(regex::Regex, &'static str)>,
        second: Vec<(regex::Regex, &'static str)>,
        contractions: Vec<regex::Regex>,
        spaces: regex::Regex,
    }
    static RULES: OnceLock<Rules> = OnceLock::new();
    let r = RULES.get_or_init(|| {
        let re = |p: &str| regex::Regex::new(p).expect("valid treebank rule");
        Rules {
            first: vec![
                (re(r#"^""#), " `` "),
                (re(r#"([ (\[{<])""#), "$1 `` "),
                (re(r"\.\.\.*"), " ... "),
                (re(r"[;@#$%&]"), " $0 "),
                (re(r#"([^.])(\.)([\])}>"']*)\s*$"#), "$1 $2$3 "),
                (re(r"[,?!]"), " $0 "),
                (re(r"[\]\[(){}<>]"), " $0 "),
                (re(r"---*"), " -- "),
            ],
            second: vec![
                (re(r#"""#), " '' "),
                (re(r"([^'])' "), "$1 ' "),
                (re(r"'([sSmMdD]) "), " '$1 "),
                (re(r"('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), " $1 "),
            ],
            contractions: [
                r"(?i)(?-u:\b)(can)(not)(?-u:\b)",
                r"(?i)(?-u:\b)(d)('ye)(?-u:\b)",
                r"(?i)(?-u:\b)(gim)(me)(?-u:\b)",
                r"(?i)(?-u:\b)(gon)(na)(?-u:\b)",
                r"(?i)(?-u:\b)(got)(ta)(?-u:\b)",
                r"(?i)(?-u:\b)(lem)(me)(?-u:\b)",
                r"(?i)(?-u:\b)(more)('n)(?-u:\b)",
                r"(?i)(?-u:\b)(wan)(na) ",
                r"(?i) ('t)(is)(?-u:\b)",
                r"(?i) ('t)(was)(?-u:\b)",
            ]
            .iter()
            .map(|p| re(p))
            .collect(),
            spaces: re("  +"),
        }
    });
    if input.is_empty() {
        return Vec::new();
    }
    let mut s = input.to_string();
    // Most rules match nothing in most texts: the string is replaced only when one did.
    fn changed(out: std::borrow::Cow<'_, str>) -> Option<String> {
        match out {
            std::borrow::Cow::Owned(o) => Some(o),
            std::borrow::Cow::Borrowed(_) => None,
        }
    }
    for (re, with) in &r.first {
        if let Some(o) = changed(re.replace_all(&s, *with)) {
            s = o;
        }
    }
    s = format!(" {s} ");
    for (re, with) in &r.second {
        if let Some(o) = changed(re.replace_all(&s, *with)) {
            s = o;
        }
    }
    // js-rouge replaces only the first occurrence of each contraction.
    for re in &r.contractions {
        if let Some(o) = changed(re.replace(&s, " $1 $2 ")) {
            s = o;
        }
    }
    if let Some(o) = changed(r.spaces.replace_all(&s, " ")) {
        s = o;
    }
    let s = s.strip_prefix(' ').unwrap_or(&s);
    let s = s.strip_suffix(' ').unwrap_or(s);
    s.split(' ').map(str::to_string).collect()
}

/// ROUGE-N (unigrams) as promptfoo scores it: the treebank tokens of both texts, lower-cased;
/// reference unigrams matched by the candidate (each counted at most as often as the candidate
/// has it) over the number of reference unigrams. A perfect match scores 1 and an empty output
/// 0, as promptfoo's tests require.
pub fn rouge_n(candidate: &str, reference: &str) -> f64 {
    let cand = treebank_tokens(&candidate.to_lowercase());
    let refs = treebank_tokens(&reference.to_lowercase());
    if cand.is_empty() || refs.is_empty() {
        return 0.0;
    }
    let mut have: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for t in &cand {
        *have.entry(t.as_str()).or_insert(0) += 1;
    }
    let mut hits = 0;
    for t in &refs {
        if let Some(n) = have.get_mut(t.as_str()).filter(|n| **n > 0) {
            *n -= 1;
            hits += 1;
        }
    }
    hits as f64 / refs.len() as f64
}

/// METEOR's weights: `alpha` balances precision and recall, `beta` and `gamma` shape the
/// fragmentation penalty (promptfoo's defaults 0.9, 3, 0.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeteorParams {
    /// Precision/recall balance.
    pub alpha: f64,
    /// Penalty exponent.
    pub beta: f64,
    /// Penalty weight.
    pub gamma: f64,
}

impl Default for MeteorParams {
    fn default() -> MeteorParams {
        MeteorParams {
            alpha: 0.9,
            beta: 3.0,
            gamma: 0.5,
        }
    }
}

/// Split as JavaScript's `split(/\s+/)` does (empty first/last pieces kept), then drop
/// trailing dots from each word, as promptfoo's METEOR does.
fn meteor_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push(std::mem::take(&mut cur));
                in_space = true;
            }
        } else {
            in_space = false;
            cur.push(c);
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|w| w.trim_end_matches('.').to_string())
        .collect()
}

/// A word and its position.
type Word = (usize, String);

/// Pair equal words, candidate from the last, each with the last unpaired equal reference
/// word; the paired words are removed from both sides.
fn pair_exact(cand: &mut Vec<Word>, refs: &mut Vec<Word>) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut i = cand.len();
    while i > 0 {
        i -= 1;
        if let Some(j) = (0..refs.len()).rev().find(|&j| refs[j].1 == cand[i].1) {
            pairs.push((cand[i].0, refs[j].0));
            cand.remove(i);
            refs.remove(j);
        }
    }
    pairs
}

fn meteor_single(reference: &[String], candidate: &[String], p: MeteorParams) -> f64 {
    use rust_stemmers::{Algorithm, Stemmer};
    let cand: Vec<Word> = candidate
        .iter()
        .enumerate()
        .map(|(i, w)| (i, w.to_lowercase()))
        .collect();
    let refs: Vec<Word> = reference
        .iter()
        .enumerate()
        .map(|(i, w)| (i, w.to_lowercase()))
        .collect();
    let (c_len, r_len) = (cand.len(), refs.len());
    let (mut cand, mut refs) = (cand, refs);
    let mut matches = pair_exact(&mut cand, &mut refs);
    let stemmer = Stemmer::create(Algorithm::English);
    let stem = |v: Vec<Word>| -> Vec<Word> {
        v.into_iter()
            .map(|(i, w)| (i, stemmer.stem(&w).into_owned()))
            .collect()
    };
    let (mut cand, mut refs) = (stem(cand), stem(refs));
    matches.extend(pair_exact(&mut cand, &mut refs));
    matches.sort_by_key(|m| m.0);
    let m = matches.len();
    if m == 0 || c_len == 0 || r_len == 0 {
        return 0.0;
    }
    let precision = m as f64 / c_len as f64;
    let recall = m as f64 / r_len as f64;
    let denom = p.alpha * precision + (1.0 - p.alpha) * recall;
    if denom == 0.0 {
        return 0.0;
    }
    let fmean = precision * recall / denom;
    let chunks = 1 + matches
        .windows(2)
        .filter(|w| w[1].0 != w[0].0 + 1 || w[1].1 != w[0].1 + 1)
        .count();
    let penalty = p.gamma * (chunks as f64 / m as f64).powf(p.beta);
    (1.0 - penalty) * fmean
}

/// METEOR as promptfoo computes it, with exact and stem matches (the Snowball English stemmer,
/// Porter's successor) and no WordNet synonyms; the best score over the references. `None` on
/// an empty output (promptfoo throws).
pub fn meteor(candidate: &str, references: &[String], p: MeteorParams) -> Option<f64> {
    if candidate.is_empty() || references.is_empty() {
        return None;
    }
    let cw = meteor_words(candidate);
    Some(
        references
            .iter()
            .map(|r| meteor_single(&meteor_words(r), &cw, p))
            .fold(0.0, f64::max),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn treebank_rules() {
        assert_eq!(
            treebank_tokens("I can't go."),
            ["I", "ca", "n't", "go", "."]
        );
        assert_eq!(
            treebank_tokens("Hello, world (really)!"),
            ["Hello", ",", "world", "(", "really", ")", "!"]
        );
        assert_eq!(
            treebank_tokens("\"Quote\" she said"),
            ["``", "Quote", "''", "she", "said"]
        );
        assert_eq!(
            treebank_tokens("I cannot wait..."),
            ["I", "can", "not", "wait", "..."]
        );
        assert!(treebank_tokens("").is_empty());
    }

    #[test]
    fn rouge_and_meteor_scores() {
        assert_eq!(
            rouge_n("the cat sat on the mat", "the cat sat on the mat"),
            1.0
        );
        // 5 of the reference's 6 words, `the` twice but the candidate has it once.
        assert!(
            (rouge_n("the cat sat on a mat", "the cat sat on the mat") - 5.0 / 6.0).abs() < 1e-9
        );
        assert_eq!(rouge_n("", "x"), 0.0);
        let p = MeteorParams::default();
        let same = meteor(
            "The cat sat on the mat",
            &["The cat sat on the mat".into()],
            p,
        )
        .unwrap();
        // One chunk of 6 pairs: 1 - 0.5 * (1/6)^3.
        assert!((same - (1.0 - 0.5 / 216.0)).abs() < 1e-9, "{same}");
        // Stems pair `cats`/`cat` and `mats`/`mat`.
        let stem = meteor(
            "The cat is sitting on the mat",
            &["The cats are sitting on the mats".into()],
            p,
        )
        .unwrap();
        assert!(stem > 0.5, "{stem}");
        assert!(meteor("", &["x".into()], p).is_none());
    }
}
