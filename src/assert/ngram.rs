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
