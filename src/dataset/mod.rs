//! Dataset rows from JSONL, CSV or a JSON array, read as a stream so memory stays flat in the
//! dataset's size. Each row keeps its file and line for diagnostics.

use std::io::{BufRead, Read};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::assert::RawAssertion;
use crate::error::Diagnostic;

/// The longest JSONL line or CSV record accepted. A longer one is almost always a broken
/// export, and reading it would hold the whole thing in memory.
pub const MAX_ROW_BYTES: usize = 8 << 20;

/// One case as written, before its assertions are validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCase {
    /// Stable id, if given.
    pub id: Option<String>,
    /// What the case is about.
    pub description: Option<String>,
    /// Template variables.
    pub vars: Map<String, Value>,
    /// Per-case assertions.
    pub assert: Vec<RawAssertion>,
    /// Free-form fields (gate clustering, tags).
    pub metadata: Map<String, Value>,
    /// The file the case came from.
    pub file: String,
    /// Its 1-based line.
    pub line: usize,
}

/// Dataset file formats, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row, then one case per row.
    Csv,
    /// A JSON array of objects.
    Json,
}

impl Format {
    /// The format for a file name, if it has a known extension.
    pub fn for_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Some(Format::Jsonl)
        } else if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if lower.ends_with(".json") {
            Some(Format::Json)
        } else {
            None
        }
    }
}

/// A case row in JSONL / JSON, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Stable id (a string or a number).
    #[serde(default)]
    pub id: Option<Value>,
    /// What the case is about.
    #[serde(default)]
    pub description: Option<String>,
    /// Template variables.
    pub vars: Map<String, Value>,
    /// Per-case assertions.
    #[serde(default, rename = "assert")]
    pub assertions: Vec<RawAssertion>,
    /// Free-form fields.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

fn id_text(file: &str, line: usize, id: Option<Value>) -> Result<Option<String>, Diagnostic> {
    match id {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(Diagnostic::error(
            "case-id",
            file,
            format!("`id` must be a non-empty string or a number, got {other}"),
        )
        .at(line, None)),
    }
}

impl Row {
    /// Attach the row's origin.
    pub fn into_case(self, file: &str, line: usize) -> Result<RawCase, Diagnostic> {
        Ok(RawCase {
            id: id_text(file, line, self.id)?,
            description: self.description,
            vars: self.vars,
            assert: self.assertions,
            metadata: self.metadata,
            file: file.to_string(),
            line,
        })
    }
}

fn json_error(file: &str, line: usize, e: &serde_json::Error) -> Diagnostic {
    let msg = e.to_string();
    let msg = msg
        .rsplit_once(" at line ")
        .map_or(msg.as_str(), |(m, _)| m)
        .to_string();
    let mut d = Diagnostic::error("dataset-row", file, msg.clone()).at(line, Some(e.column()));
    if let Some((field, expected)) = crate::yaml::parse_unknown_field(&msg) {
        d.code = "unknown-field";
        d.message = format!("unknown field `{field}` in a dataset row");
        d.help =
            crate::text::did_you_mean(&field, expected.iter().map(String::as_str)).or_else(|| {
                Some(
                    "a row has `vars` and optionally `id`, `description`, `assert`, `metadata`"
                        .into(),
                )
            });
    } else if msg.contains("missing field `vars`") {
        d.help =
            Some("put the template variables under `vars`: {\"vars\": {\"name\": \"Ada\"}}".into());
    }
    d
}

/// Stream JSONL rows.
struct Jsonl {
    file: String,
    reader: Box<dyn BufRead>,
    line: usize,
    buf: Vec<u8>,
    done: bool,
}

impl Iterator for Jsonl {
    type Item = Result<RawCase, Diagnostic>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            self.line += 1;
            let read = (&mut self.reader)
                .take(MAX_ROW_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.buf);
            match read {
                Err(e) => {
                    self.done = true;
                    return Some(Err(
                        Diagnostic::error("io", &self.file, e.to_string()).at(self.line, None)
                    ));
                }
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
            }
            if self.buf.len() > MAX_ROW_BYTES {
                self.done = true;
                return Some(Err(Diagnostic::error(
                    "row-too-long",
                    &self.file,
                    format!("line is longer than {} MiB", MAX_ROW_BYTES >> 20),
                )
                .at(self.line, None)
                .help(
                    "split very large inputs into files the template reads, or shorten the row",
                )));
            }
            let bytes = if self.line == 1 {
                self.buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&self.buf)
            } else {
                &self.buf[..]
            };
            let text = match std::str::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    self.done = true;
                    return Some(Err(Diagnostic::error(
                        "encoding",
                        &self.file,
                        "invalid UTF-8",
                    )
                    .at(self.line, Some(e.valid_up_to() + 1))
                    .help("save the file as UTF-8")));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<Row>(text)
                .map_err(|e| json_error(&self.file, self.line, &e))
                .and_then(|row| row.into_case(&self.file, self.line));
            if parsed.is_err() {
                self.done = true;
            }
            return Some(parsed);
        }
        None
    }
}

/// Stream CSV rows: every column is a variable except `__id`, `__description`, `__expected`
/// and `__metadata:KEY`.
struct Csv {
    file: String,
    reader: csv::Reader<Box<dyn BufRead>>,
    headers: Vec<String>,
    done: bool,
}

impl Iterator for Csv {
    type Item = Result<RawCase, Diagnostic>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut record = csv::StringRecord::new();
        let fail = |this: &mut Self, d: Diagnostic| {
            this.done = true;
            Some(Err(d))
        };
        match self.reader.read_record(&mut record) {
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize);
                let msg = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("row has {len} fields, the header has {expected_len}")
                    }
                    _ => e.to_string(),
                };
                fail(
                    self,
                    Diagnostic::error("dataset-row", &self.file, msg).at_opt(line),
                )
            }
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                if record.as_slice().len() > MAX_ROW_BYTES {
                    return fail(
                        self,
                        Diagnostic::error(
                            "row-too-long",
                            &self.file,
                            format!("row is longer than {} MiB", MAX_ROW_BYTES >> 20),
                        )
                        .at(line, None),
                    );
                }
                let mut case = RawCase {
                    id: None,
                    description: None,
                    vars: Map::new(),
                    assert: Vec::new(),
                    metadata: Map::new(),
                    file: self.file.clone(),
                    line,
                };
                for (header, cell) in self.headers.iter().zip(record.iter()) {
                    match header.as_str() {
                        "__id" => case.id = Some(cell.to_string()).filter(|s| !s.is_empty()),
                        "__description" => {
                            case.description = Some(cell.to_string()).filter(|s| !s.is_empty())
                        }
                        "__expected" => {
                            if !cell.trim().is_empty() {
                                case.assert.push(crate::assert::from_shorthand(cell));
                            }
                        }
                        h => {
                            if let Some(key) = h.strip_prefix("__metadata:") {
                                case.metadata
                                    .insert(key.to_string(), Value::String(cell.to_string()));
                            } else if h.starts_with("__") {
                                return fail(
                                    self,
                                    Diagnostic::error(
                                        "unknown-field",
                                        &self.file,
                                        format!("unknown reserved column `{h}`"),
                                    )
                                    .at(1, None)
                                    .help_opt(crate::text::did_you_mean(
                                        h,
                                        ["__id", "__description", "__expected"],
                                    ))
                                    .help_opt(None),
                                );
                            } else {
                                case.vars
                                    .insert(h.to_string(), Value::String(cell.to_string()));
                            }
                        }
                    }
                }
                Some(Ok(case))
            }
        }
    }
}

/// The rows of a dataset file, streamed. `file` is the name used in diagnostics.
pub fn rows(
    file: &str,
    format: Format,
    mut reader: Box<dyn BufRead>,
) -> Box<dyn Iterator<Item = Result<RawCase, Diagnostic>>> {
    let file = file.to_string();
    match format {
        Format::Jsonl => Box::new(Jsonl {
            file,
            reader,
            line: 0,
            buf: Vec::new(),
            done: false,
        }),
        Format::Csv => {
            // Skip a byte-order mark so the first header is not `\u{feff}name`.
            if let Ok(buf) = reader.fill_buf() {
                if buf.starts_with(b"\xEF\xBB\xBF") {
                    reader.consume(3);
                }
            }
            let mut r = csv::ReaderBuilder::new()
                .flexible(false)
                .from_reader(reader);
            match r.headers() {
                Ok(h) if !h.is_empty() => {
                    let headers = h.iter().map(|s| s.trim().to_string()).collect();
                    Box::new(Csv {
                        file,
                        reader: r,
                        headers,
                        done: false,
                    })
                }
                Ok(_) => Box::new(std::iter::once(Err(Diagnostic::error(
                    "dataset-empty",
                    file,
                    "the CSV file has no header row",
                )
                .at(1, None)))),
                Err(e) => Box::new(std::iter::once(Err(Diagnostic::error(
                    "dataset-row",
                    file,
                    format!("cannot read the CSV header: {e}"),
                )
                .at(1, None)))),
            }
        }
        Format::Json => {
            let mut text = Vec::new();
            if let Err(e) = reader.read_to_end(&mut text) {
                return Box::new(std::iter::once(Err(Diagnostic::error(
                    "io",
                    file,
                    e.to_string(),
                ))));
            }
            let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&text);
            match serde_json::from_slice::<Vec<Row>>(text) {
                Ok(rows) => {
                    let mut out = Vec::with_capacity(rows.len());
                    for (i, row) in rows.into_iter().enumerate() {
                        // A JSON array has no per-row line; number the rows instead.
                        out.push(
                            row.into_case(&file, i + 1)
                                .map_err(|d| d.help(format!("in element {}", i + 1))),
                        );
                    }
                    Box::new(out.into_iter())
                }
                Err(e) => {
                    let line = e.line();
                    Box::new(std::iter::once(Err(json_error(&file, line, &e))))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read(format: Format, text: &str) -> Vec<Result<RawCase, Diagnostic>> {
        rows("d", format, Box::new(Cursor::new(text.as_bytes().to_vec()))).collect()
    }

    #[test]
    fn jsonl_rows_and_errors() {
        let r = read(
            Format::Jsonl,
            "{\"vars\":{\"a\":1}}\n\n{\"id\":7,\"vars\":{}}\n",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].as_ref().unwrap().id.as_deref(), Some("7"));
        assert_eq!(r[1].as_ref().unwrap().line, 3);
        let r = read(Format::Jsonl, "{\"vars\":{}}\n{\"varz\":{}}\n");
        let d = r[1].as_ref().unwrap_err();
        assert_eq!(d.line, Some(2));
        assert_eq!(d.help.as_deref(), Some("did you mean `vars`?"));
    }

    #[test]
    fn csv_rows() {
        let r = read(
            Format::Csv,
            "\u{feff}__id,question,__expected\nq1,What?,contains: yes\n",
        );
        let c = r[0].as_ref().unwrap();
        assert_eq!(c.id.as_deref(), Some("q1"));
        assert_eq!(c.vars["question"], "What?");
        assert_eq!(c.assert[0].kind, "contains");
        assert_eq!(c.line, 2);
    }

    #[test]
    fn long_line_is_refused() {
        let long = format!(
            "{{\"vars\":{{\"a\":\"{}\"}}}}\n",
            "x".repeat(MAX_ROW_BYTES + 10)
        );
        let r = read(Format::Jsonl, &long);
        assert_eq!(r[0].as_ref().unwrap_err().code, "row-too-long");
    }
}
