//! Small text helpers shared across modules: edit distance and "did you mean".

/// Levenshtein edit distance in characters.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "did you mean `x`?" for the closest candidate, if any.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// JSON with object keys sorted at every level, so equal values hash equally.
pub fn canonical_json(v: &serde_json::Value) -> String {
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                serde_json::Value::Object(out)
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `s` on one line (white space folded), cut to `max` characters with an ellipsis.
pub fn one_line(s: &str, max: usize) -> String {
    let folded = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() > max {
        format!("{}…", folded.chars().take(max).collect::<String>())
    } else {
        folded
    }
}

/// Unix seconds as (year, month, day, hour, minute, second) in UTC (Howard Hinnant's
/// civil-from-days), for RFC 3339 timestamps without a date crate.
pub fn utc_parts(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// days-from-civil), the inverse of [`utc_parts`]'s date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A moment as people write it, in seconds since the epoch: RFC 3339
/// (`2026-11-26T14:30:00Z`, `2026-11-26T15:30:00+01:00`, fractions ignored), `YYYY-MM-DD`
/// (00:00 that day) or `YYYY-MM-DD HH:MM[:SS]`. Without `Z` or an offset the time is UTC.
/// `Err` says which forms are accepted.
pub fn parse_moment(text: &str) -> Result<i64, String> {
    let bad = || {
        format!("`{text}` is not a date: write RFC 3339 (`2026-11-26T14:30:00Z` or with an offset such as `+01:00`), `YYYY-MM-DD` or `YYYY-MM-DD HH:MM` (UTC unless an offset is given)")
    };
    let t = text.trim();
    let num = |s: &str, len: usize| -> Option<i64> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let date = t.get(..10).ok_or_else(bad)?;
    let mut parts = date.split('-');
    let (y, m, d) = match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) => (
            num(y, 4).ok_or_else(bad)?,
            num(m, 2).ok_or_else(bad)?,
            num(d, 2).ok_or_else(bad)?,
        ),
        _ => return Err(bad()),
    };
    let month_days = [
        31,
        28 + i64::from((y % 4 == 0 && y % 100 != 0) || y % 400 == 0),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let rest = &t[10..];
    if rest.is_empty() {
        return Ok(secs);
    }
    let rest = rest
        .strip_prefix('T')
        .or_else(|| rest.strip_prefix('t'))
        .or_else(|| rest.strip_prefix(' '))
        .ok_or_else(bad)?;
    // The time of day, then an optional fraction, then an optional zone.
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let clock = clock.split('.').next().unwrap_or("");
    let hms: Vec<&str> = clock.split(':').collect();
    let (h, mi, s) = match hms.as_slice() {
        [h, mi] => (num(h, 2), num(mi, 2), Some(0)),
        [h, mi, s] => (num(h, 2), num(mi, 2), num(s, 2)),
        _ => return Err(bad()),
    };
    let (h, mi, s) = (h.ok_or_else(bad)?, mi.ok_or_else(bad)?, s.ok_or_else(bad)?);
    if h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    secs += h * 3600 + mi * 60 + s;
    match zone {
        "" | "Z" | "z" => Ok(secs),
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (oh, om) = z[1..].split_once(':').ok_or_else(bad)?;
            let (oh, om) = (num(oh, 2).ok_or_else(bad)?, num(om, 2).ok_or_else(bad)?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            Ok(secs - sign * (oh * 3600 + om * 60))
        }
    }
}

/// How text is marked on a colour terminal (`ui::Ui::paint`); renderers name a style and
/// the terminal layer decides whether to colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// An added line (green).
    Added,
    /// A removed line (red).
    Removed,
    /// A hunk header (cyan).
    Hunk,
    /// A heading (bold).
    Heading,
    /// A warning such as a breaking change (bold red).
    Alert,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("contians", "contains"), 2);
        assert_eq!(levenshtein("abc", ""), 3);
    }

    #[test]
    fn suggestion() {
        let kinds = ["contains", "icontains", "equals", "regex"];
        assert_eq!(closest("contians", kinds), Some("contains"));
        assert_eq!(closest("regx", kinds), Some("regex"));
        assert_eq!(closest("zzzzzzzz", kinds), None);
    }
}

#[cfg(test)]
mod moment_tests {
    use super::*;

    #[test]
    fn moments_in_every_accepted_form() {
        let at = |t: &str| parse_moment(t).unwrap();
        assert_eq!(at("1970-01-01"), 0);
        assert_eq!(at("2026-11-26"), 1_795_651_200);
        assert_eq!(at("2026-11-26 14:30"), 1_795_651_200 + 14 * 3600 + 1800);
        assert_eq!(at("2026-11-26T14:30:00Z"), at("2026-11-26 14:30"));
        assert_eq!(at("2026-11-26T15:30:00+01:00"), at("2026-11-26 14:30"));
        assert_eq!(at("2026-11-26T09:30:00.250-05:00"), at("2026-11-26 14:30"));
        assert_eq!(at("2024-02-29"), at("2024-03-01") - 86_400);
        let (y, m, d, h, mi, s) = utc_parts(at("2026-11-26 14:30:07"));
        assert_eq!((y, m, d, h, mi, s), (2026, 11, 26, 14, 30, 7));
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "2025-02-29",
            "2026-11-26T25:00",
            "2026-11-26 14",
            "2026-11-26T14:30:00+0100",
            "26-11-2026",
            "2026-11-26x",
        ] {
            let e = parse_moment(bad).unwrap_err();
            assert!(e.contains("RFC 3339"), "{bad}: {e}");
        }
    }
}
