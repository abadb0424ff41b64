//! Terminal tables that fit the width: a cell is never split (no word or number is broken
//! across lines); on a narrow terminal the least important columns are left out, and when even
//! the essential ones do not fit each row is stacked as `HEADER: value` lines. Piped output gets
//! a plain layout (no borders, every column) that does not depend on any width. Pure.

/// How a table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// No borders, every column, two spaces between columns: for pipes and files.
    Plain,
    /// A bordered table at most this many columns wide.
    Width(usize),
}

impl Layout {
    /// `COLUMNS` when it is set to a number; else the terminal's width when stdout is one;
    /// else [`Layout::Plain`].
    pub fn detect(stdout_is_terminal: bool) -> Layout {
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0);
        match columns {
            Some(c) => Layout::Width(c),
            None if stdout_is_terminal => Layout::Width(
                comfy_table::Table::new()
                    .width()
                    .map_or(80, usize::from)
                    .max(20),
            ),
            None => Layout::Plain,
        }
    }

    /// Prose wrapped to the width at spaces, never inside a word (a word longer than a line
    /// keeps a line of its own); continuation lines start with `indent`. A plain layout (a
    /// pipe, a file) keeps each line whole.
    pub fn wrap(self, text: &str, indent: &str) -> String {
        let Layout::Width(width) = self else {
            return text.to_string();
        };
        let mut out = String::with_capacity(text.len() + 16);
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            // A line's own indentation is kept; only what follows it is wrapped.
            let body = line.trim_start_matches(' ');
            let lead = &line[..line.len() - body.len()];
            out.push_str(lead);
            let mut used = lead.len();
            let mut first = true;
            for word in body.split(' ') {
                let n = word.chars().count();
                if !first && used + 1 + n > width {
                    out.push('\n');
                    out.push_str(indent);
                    used = indent.chars().count();
                } else if !first {
                    out.push(' ');
                    used += 1;
                }
                first = false;
                out.push_str(word);
                used += n;
            }
        }
        out
    }

    /// How many characters an excerpt may take after `used` columns of a line: what is
    /// left of the width (at least 20), or `plain` for a pipe or a file.
    pub fn room(self, used: usize, plain: usize) -> usize {
        match self {
            Layout::Width(w) => w.saturating_sub(used + 1).max(20),
            Layout::Plain => plain,
        }
    }
}

/// One column: its header, how much it matters (0 is never left out; higher numbers go
/// first) and whether its cells are right-aligned (numbers).
#[derive(Debug, Clone)]
pub struct Column {
    /// Header text.
    pub header: String,
    /// 0: always shown; otherwise left out before columns with a smaller number.
    pub priority: u8,
    /// Right-aligned.
    pub right: bool,
}

/// A column definition: `col("SCORE", 0, true)`.
pub fn col(header: &str, priority: u8, right: bool) -> Column {
    Column {
        header: header.into(),
        priority,
        right,
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize, right: bool) -> String {
    let fill = " ".repeat(w.saturating_sub(width(s)));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

/// Cells are single lines: a newline in a cell would break the layout.
fn clean(s: &str) -> String {
    s.replace(['\n', '\r', '\t'], " ")
}

/// Render `rows` under `columns` in `layout`. Rows shorter than `columns` are padded.
pub fn render(columns: &[Column], rows: &[Vec<String>], layout: Layout) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            (0..columns.len())
                .map(|i| clean(r.get(i).map_or("", String::as_str)))
                .collect()
        })
        .collect();
    let natural: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| width(&r[i]))
                .chain([width(&c.header)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    match layout {
        Layout::Plain => {
            let shown: Vec<usize> = (0..columns.len()).collect();
            lines(columns, &rows, &natural, &shown, "", "  ", "")
        }
        Layout::Width(max) => fit(columns, &rows, &natural, max),
    }
}

fn total(natural: &[usize], shown: &[usize]) -> usize {
    // "│ " + cells joined by three spaces + " │"
    shown.iter().map(|&i| natural[i]).sum::<usize>() + 3 * shown.len().saturating_sub(1) + 4
}

fn fit(columns: &[Column], rows: &[Vec<String>], natural: &[usize], max: usize) -> String {
    let mut shown: Vec<usize> = (0..columns.len()).collect();
    let mut hidden = Vec::new();
    while total(natural, &shown) > max {
        // The least important column, the rightmost among equals; never a priority-0 one.
        let Some(pos) = shown
            .iter()
            .enumerate()
            .filter(|(_, &i)| columns[i].priority > 0)
            .max_by_key(|(p, &i)| (columns[i].priority, *p))
            .map(|(p, _)| p)
        else {
            return stacked(columns, rows);
        };
        hidden.push(shown.remove(pos));
    }
    let inner = total(natural, &shown) - 2;
    let mut out = format!("┌{}┐\n", "─".repeat(inner));
    let body = lines(columns, rows, natural, &shown, "│ ", "   ", " │");
    let mut body_lines = body.lines();
    if let Some(head) = body_lines.next() {
        out.push_str(head);
        out.push('\n');
    }
    out.push_str(&format!("╞{}╡\n", "═".repeat(inner)));
    for l in body_lines {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(&format!("└{}┘\n", "─".repeat(inner)));
    if !hidden.is_empty() {
        hidden.sort_unstable();
        let names: Vec<&str> = hidden.iter().map(|&i| columns[i].header.as_str()).collect();
        let note = format!(
            "(not shown at {max} columns: {}; a wider terminal or `--format json` shows them)",
            names.join(", ")
        );
        out.push_str(&wrap(&note, max));
    }
    out
}

/// `text` broken between words into lines of at most `max` characters (a longer word gets a
/// line of its own).
fn wrap(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && width(&line) + 1 + width(word) > max {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn lines(
    columns: &[Column],
    rows: &[Vec<String>],
    natural: &[usize],
    shown: &[usize],
    left: &str,
    sep: &str,
    right: &str,
) -> String {
    let line = |cells: &dyn Fn(usize) -> String| {
        let text: Vec<String> = shown.iter().map(|&i| cells(i)).collect();
        let mut l = format!("{left}{}{right}", text.join(sep));
        if right.is_empty() {
            l.truncate(l.trim_end().len());
        }
        l.push('\n');
        l
    };
    let mut out = line(&|i| pad(&columns[i].header, natural[i], false));
    for r in rows {
        out.push_str(&line(&|i| pad(&r[i], natural[i], columns[i].right)));
    }
    out
}

fn stacked(columns: &[Column], rows: &[Vec<String>]) -> String {
    let w = columns.iter().map(|c| width(&c.header)).max().unwrap_or(0);
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        for (c, cell) in columns.iter().zip(r) {
            if cell.is_empty() {
                continue;
            }
            let head = if c.header.is_empty() { "" } else { &c.header };
            out.push_str(&format!("{}  {cell}\n", pad(head, w, false)));
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn prose_wraps_at_spaces_and_never_splits_a_word() {
        let w = Layout::Width(20);
        let wrapped = w.wrap("classify-ticket thresholds: pass_rate 0.923 >= 0.900", "  ");
        assert_eq!(
            wrapped,
            "classify-ticket\n  thresholds:\n  pass_rate 0.923 >=\n  0.900"
        );
        assert!(wrapped.lines().all(|l| l.chars().count() <= 20));
        // A word longer than a line keeps a line of its own, whole.
        assert_eq!(
            w.wrap("a 0123456789012345678901234 b", ""),
            "a\n0123456789012345678901234\nb"
        );
        assert_eq!(Layout::Plain.wrap("a b", "  "), "a b");
        // A line's own indentation stays.
        assert_eq!(
            w.wrap("  - one two three four five", "    "),
            "  - one two three\n    four five"
        );
        assert_eq!(Layout::Width(80).room(6, 160), 73);
        assert_eq!(Layout::Width(10).room(6, 160), 20);
        assert_eq!(Layout::Plain.room(6, 160), 160);
    }

    use super::*;

    fn sample() -> (Vec<Column>, Vec<Vec<String>>) {
        (
            vec![
                col("SUITE", 0, false),
                col("MODEL", 2, false),
                col("TOKENS", 3, true),
                col("SCORE", 0, true),
            ],
            vec![
                vec![
                    "classify-ticket".into(),
                    "gpt-4o-mini".into(),
                    "4533/1085".into(),
                    "0.987".into(),
                ],
                vec![
                    "summarize".into(),
                    "gpt-4o".into(),
                    "12/3".into(),
                    "1.000".into(),
                ],
            ],
        )
    }

    #[test]
    fn a_wide_terminal_shows_every_column_in_a_box() {
        let (c, r) = sample();
        let t = render(&c, &r, Layout::Width(120));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 6, "{t}");
        assert!(lines.iter().all(|l| l.chars().count() == 53), "{t}");
        assert_eq!(
            lines[1],
            "│ SUITE             MODEL         TOKENS      SCORE │"
        );
        assert_eq!(
            lines[3],
            "│ classify-ticket   gpt-4o-mini   4533/1085   0.987 │"
        );
        assert_eq!(
            lines[4],
            "│ summarize         gpt-4o             12/3   1.000 │"
        );
    }

    #[test]
    fn narrow_terminals_drop_columns_by_priority_and_never_split_a_cell() {
        let (c, r) = sample();
        let t = render(&c, &r, Layout::Width(45));
        assert!(t.lines().all(|l| l.chars().count() <= 45), "{t}");
        assert!(!t.contains("TOKENS │") && t.contains("MODEL"), "{t}");
        assert!(!t.contains("4533") && t.contains("classify-ticket"));
        assert!(t.contains("(not shown at 45 columns: TOKENS;"), "{t}");
        let t = render(&c, &r, Layout::Width(32));
        assert!(t.contains("classify-ticket") && t.contains("0.987"), "{t}");
        assert!(t.contains("columns: MODEL,\nTOKENS;"), "{t}");
        for l in t.lines() {
            assert!(l.chars().count() <= 32, "{l}");
        }
    }

    #[test]
    fn too_narrow_for_the_essentials_stacks_each_row() {
        let (c, r) = sample();
        let t = render(&c, &r, Layout::Width(12));
        assert!(
            t.starts_with("SUITE   classify-ticket\nMODEL   gpt-4o-mini\n"),
            "{t}"
        );
        assert!(t.contains("\n\nSUITE   summarize\n"), "{t}");
    }

    #[test]
    fn piped_output_is_plain_and_complete() {
        let (c, r) = sample();
        let t = render(&c, &r, Layout::Plain);
        assert_eq!(
            t,
            "SUITE            MODEL        TOKENS     SCORE\n\
             classify-ticket  gpt-4o-mini  4533/1085  0.987\n\
             summarize        gpt-4o            12/3  1.000\n"
        );
    }
}
