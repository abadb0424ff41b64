//! `llmops lint`: the bundled examples pass, and each check fires on the file and line.

use crate::support::{minimal, Repo, GREET};

#[test]
fn examples_pass_lint_strictly() {
    let r = Repo::with_examples();
    let run = r.llmops(&["lint", "--strict", "--format", "json"]);
    run.expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["errors"], 0);
    assert!(v["prompts"].as_u64().unwrap() >= 4);
    assert!(
        v["cases"].as_u64().unwrap() >= 80,
        "at least 20 cases per suite"
    );
}

fn lint(r: &Repo) -> (i32, Vec<serde_json::Value>) {
    let run = r.llmops(&["lint", "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("{run:?}"));
    (run.code, v["diagnostics"].as_array().unwrap().clone())
}

fn has(diags: &[serde_json::Value], code: &str, file: &str, line: Option<u64>) -> bool {
    diags.iter().any(|d| {
        d["code"] == code && d["file"] == file && (line.is_none() || d["line"].as_u64() == line)
    })
}

#[test]
fn variables_declared_and_used() {
    let r = Repo::new();
    minimal(&r);
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("Hello {{ who }}{{ punct }}", "Hello {{ who }} {{ nme }}"),
    );
    let (code, d) = lint(&r);
    assert_eq!(code, 2);
    assert!(
        has(&d, "undeclared-variable", "prompts/greet.prompty", Some(16)),
        "{d:#?}"
    );
    assert!(
        has(&d, "unused-input", "prompts/greet.prompty", None),
        "{d:#?}"
    );
}

#[test]
fn unused_input_is_a_warning_unless_strict() {
    let r = Repo::new();
    minimal(&r);
    r.write("prompts/greet.prompty", &GREET.replace("{{ punct }}", "!"));
    let (code, d) = lint(&r);
    assert_eq!(code, 0, "{d:#?}");
    assert_eq!(d[0]["severity"], "warning");
    r.llmops(&["lint", "--strict"]).expect(2);
}

#[test]
fn dataset_rows_are_checked_against_the_prompt() {
    let r = Repo::new();
    minimal(&r);
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ndataset: data/greet.jsonl\n",
    );
    r.write(
        "evals/data/greet.jsonl",
        "{\"id\": \"a\", \"vars\": {\"who\": \"Ada\"}}\n{\"id\": \"b\", \"vars\": {}}\n{\"id\": \"c\", \"vars\": {\"who\": \"x\", \"mood\": \"y\"}}\n{\"id\": \"a\", \"vars\": {\"who\": \"Bob\"}}\n",
    );
    let (code, d) = lint(&r);
    assert_eq!(code, 2);
    assert!(
        has(&d, "case-vars", "evals/data/greet.jsonl", Some(2)),
        "{d:#?}"
    );
    assert!(
        has(&d, "case-vars", "evals/data/greet.jsonl", Some(3)),
        "{d:#?}"
    );
    assert!(
        has(&d, "duplicate-case-id", "evals/data/greet.jsonl", Some(4)),
        "{d:#?}"
    );
}

#[test]
fn references_to_unknown_things() {
    let r = Repo::new();
    minimal(&r);
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("name: m-1", "name: m-1\n  provider: opanai"),
    );
    r.write("llmops.yaml", "prompts_dir: prompts\nevals_dir: evals\ndefaults: { provider: echo }\nproviders: { openai: { type: openai } }\n");
    r.write("evals/other.yaml", "prompt: gret\ncases: [{vars: {who: x}}]\nassert:\n  - type: llm-rubric\n    value: polite\n");
    let (code, d) = lint(&r);
    assert_eq!(code, 2);
    // The line of the `model:` block's first key.
    assert!(
        has(&d, "unknown-provider", "prompts/greet.prompty", Some(5)),
        "{d:#?}"
    );
    assert!(
        has(&d, "unknown-prompt", "evals/other.yaml", Some(1)),
        "{d:#?}"
    );
    assert!(has(&d, "no-judge", "evals/other.yaml", None), "{d:#?}");
    let unknown = d.iter().find(|x| x["code"] == "unknown-prompt").unwrap();
    assert_eq!(unknown["help"], "did you mean `greet`?");
}

#[test]
fn lint_reads_a_revision() {
    let mut r = Repo::new();
    minimal(&r);
    r.commit("good");
    r.write(
        "prompts/greet.prompty",
        "---\nname: greet\n---\nuser:\n{% if %}\n",
    );
    r.llmops(&["lint"]).expect(2);
    r.llmops(&["lint", "--rev", "HEAD"]).expect(0);
}

#[test]
fn many_bad_rows_are_capped() {
    let r = Repo::new();
    minimal(&r);
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ndataset: data/greet.jsonl\n",
    );
    let rows: String = (0..200)
        .map(|i| format!("{{\"id\": \"r{i}\", \"vars\": {{}}}}\n"))
        .collect();
    r.write("evals/data/greet.jsonl", &rows);
    let (code, d) = lint(&r);
    assert_eq!(code, 2);
    assert!(d.len() < 30, "{}", d.len());
    assert!(
        d.iter()
            .any(|x| x["message"].as_str().unwrap().contains("175 more")),
        "{d:#?}"
    );
}

#[test]
fn a_misspelt_dataset_column_is_reported_once() {
    let r = Repo::new();
    minimal(&r);
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ndataset: data/greet.csv\n",
    );
    let rows: String = (0..20).map(|i| format!("r{i},person {i}\n")).collect();
    r.write("evals/data/greet.csv", &format!("__id,woh\n{rows}"));
    let (code, d) = lint(&r);
    assert_eq!(code, 2);
    let unknown: Vec<_> = d
        .iter()
        .filter(|x| {
            x["message"]
                .as_str()
                .unwrap()
                .contains("unknown variable `woh`")
        })
        .collect();
    assert_eq!(unknown.len(), 1, "{d:#?}");
    assert!(
        d.iter()
            .any(|x| x["message"].as_str().unwrap().contains("19 more case(s)")),
        "{d:#?}"
    );
}
