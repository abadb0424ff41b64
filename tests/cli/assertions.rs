//! Assertions end to end: lint rejects values that cannot mean anything at file:line, and
//! `exec` survives large output and programs that leave children behind.

use crate::support::{minimal, Repo};

fn diagnostics(r: &Repo) -> Vec<serde_json::Value> {
    let run = r.llmops(&["lint", "--format", "json"]);
    assert_eq!(run.code, 2, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["diagnostics"].as_array().unwrap().clone()
}

#[test]
fn lint_rejects_values_that_cannot_match_at_file_and_line() {
    let r = Repo::new();
    minimal(&r);
    let bad = [
        (
            "empty",
            "  - type: not-contains\n    value: ''\n",
            "is empty",
        ),
        (
            "empty-entry",
            "  - type: contains-any\n    value: 'zebra, \"\"'\n",
            "empty entry",
        ),
        (
            "unclosed",
            "  - type: contains-any\n    value: '\"hello, world'\n",
            "no closing",
        ),
        (
            "timeout",
            "  - type: exec\n    value: 'true'\n    timeout_s: -1\n",
            "timeout_s",
        ),
        (
            "timeout-inf",
            "  - type: exec\n    value: 'true'\n    timeout_s: .inf\n",
            "timeout_s",
        ),
        (
            "range",
            "  - type: word-count\n    value: { min: 9, max: 3 }\n",
            "no output can pass",
        ),
        (
            "schema",
            "  - type: json-schema\n    value: '{\"type\": \"nonsense\"}'\n",
            "invalid JSON schema",
        ),
    ];
    for (name, assertion, _) in &bad {
        r.write(
            &format!("evals/{name}.yaml"),
            &format!("prompt: greet\ncases:\n  - vars: {{ who: Ada }}\nassert:\n  - type: contains\n    value: Hello\n{assertion}"),
        );
    }
    let diags = diagnostics(&r);
    for (name, _, message) in &bad {
        let file = format!("evals/{name}.yaml");
        assert!(
            diags.iter().any(|d| d["file"] == file.as_str()
                && d["line"] == 7
                && d["message"].as_str().unwrap_or("").contains(message)),
            "{file}: {diags:#?}"
        );
    }
}

#[test]
fn exec_reads_output_over_one_mebibyte_and_stops_background_children() {
    let r = Repo::new();
    minimal(&r);
    // A 1.5 MiB result (a long reason) and 2 MiB of stderr chatter: more than a pipe holds.
    r.write(
        "checks/big.sh",
        "cat >/dev/null\nhead -c 2097152 /dev/zero >&2\nprintf '{\"pass\": true, \"reason\": \"'\nhead -c 1572864 /dev/zero | tr '\\0' x\nprintf '\"}'\n",
    );
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ncases:\n  - id: ada\n    vars: { who: Ada }\nassert:\n  - type: exec\n    value: [sh, checks/big.sh]\n  - type: exec\n    value: \"sleep 20 & echo '{\\\"pass\\\": true}'\"\n    timeout_s: 2\n",
    );
    let run = r.llmops(&["eval", "--no-progress", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let text = v.to_string();
    assert!(
        !text.contains("timed out"),
        "{}",
        &text[..text.len().min(2000)]
    );
}
