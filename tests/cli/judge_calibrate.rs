//! `llmops judge calibrate`: agreement per rubric, and rubrics below a kappa bar flagged.

use std::time::Duration;

use serde_json::{json, Value};

use crate::mock::{MockProvider, Reply, Seen};
use crate::support::Repo;

/// Passes an output when it mentions a refund, whatever the rubric.
fn judge(s: &Seen) -> (Reply, Duration) {
    let pass = s.user_text().to_lowercase().contains("refund is");
    (
        Reply::Text(json!({"reasoning": "looked for a refund", "pass": pass, "score": if pass { 0.9 } else { 0.1 }}).to_string()),
        Duration::ZERO,
    )
}

#[test]
fn a_rubric_the_judge_disagrees_on_is_flagged() {
    let mock = MockProvider::start(judge);
    let r = Repo::new();
    r.write(
        "llmops.yaml",
        &format!("judge: {{ provider: mock, model: judge-model }}\nproviders:\n  mock: {{ type: openai, base_url: {}, max_retries: 0 }}\n", mock.url),
    );
    let refund = "The reply mentions a refund.";
    let polite = "The reply is polite.";
    let rows = [
        // The judge agrees with people on the refund rubric...
        ("r1", refund, "Your refund is on its way.", true),
        ("r2", refund, "Your refund is sent.", true),
        ("r3", refund, "Please wait.", false),
        ("r4", refund, "No.", false),
        // ...and not on politeness, where it still looks for a refund.
        ("p1", polite, "Thank you, your refund is sent.", true),
        ("p2", polite, "Thank you so much for waiting.", true),
        ("p3", polite, "Your refund is none of our business.", false),
        ("p4", polite, "Go away.", false),
    ];
    let labels: String = rows
        .iter()
        .map(|(id, rubric, out, label)| format!("{}\n", json!({"id": id, "assertion": {"type": "llm-rubric", "value": rubric}, "output": out, "label": label})))
        .collect();
    r.write("labels.jsonl", &labels);
    let run = r.llmops(&[
        "judge",
        "calibrate",
        "--labels",
        "labels.jsonl",
        "--format",
        "json",
    ]);
    run.expect(1);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let by = v["by_rubric"].as_array().unwrap();
    assert_eq!(by.len(), 2);
    assert_eq!(by[0]["rubric"], format!("llm-rubric: {refund}"));
    assert_eq!(by[0]["kappa"], 1.0);
    assert_eq!(by[0]["flagged"], false);
    // [[1,1],[1,1]]: agreement 0.5, kappa 0.
    assert_eq!(by[1]["kappa"], 0.0);
    assert_eq!(by[1]["flagged"], true);
    let text = r.llmops(&["judge", "calibrate", "--labels", "labels.jsonl"]);
    text.expect(1);
    assert!(text.stdout.contains("FLAGGED"), "{text:?}");
    // A lower bar passes both.
    r.llmops(&[
        "judge",
        "calibrate",
        "--labels",
        "labels.jsonl",
        "--min-kappa",
        "0",
    ])
    .expect(0);
    let bad = r.llmops(&[
        "judge",
        "calibrate",
        "--labels",
        "labels.jsonl",
        "--min-kappa",
        "2",
    ]);
    bad.expect(2);
    assert!(bad.stderr.contains("--min-kappa"), "{bad:?}");
}

#[test]
fn judge_label_writes_a_file_a_person_fills_in_for_calibrate() {
    // Prompt calls echo the `Say:` text; judge calls use `judge` above.
    let mock = MockProvider::start(|s: &Seen| {
        if s.is_judge() {
            return judge(s);
        }
        (
            Reply::Text(s.user_text().trim_start_matches("Say: ").to_string()),
            Duration::ZERO,
        )
    });
    let r = Repo::new();
    r.write(
        "llmops.yaml",
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: m }}\njudge: {{ provider: mock, model: judge-model }}\nproviders:\n  mock: {{ type: openai, base_url: {}, max_retries: 0 }}\n", mock.url),
    );
    r.write(
        "prompts/p.prompty",
        "---\nname: p\ninputs: { who: {} }\n---\nuser:\nSay: {{ who }}\n",
    );
    r.write(
        "evals/data/p.jsonl",
        "{\"id\": \"a\", \"vars\": {\"who\": \"Your refund is on its way.\"}}\n{\"id\": \"b\", \"vars\": {\"who\": \"Please hold.\"}}\n",
    );
    r.write(
        "evals/p.yaml",
        "prompt: p\ndataset: data/p.jsonl\nassert:\n  - type: contains\n    value: o\n  - type: llm-rubric\n    value: \"Mentions a refund for {{ who }}\"\n",
    );
    r.llmops(&["eval", "--no-progress"]).expect(1);
    let out = r.llmops(&["judge", "label"]);
    out.expect(0);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "one line per model-graded verdict: {lines:?}"
    );
    assert_eq!(lines[0]["id"], "p/a#0/1");
    assert_eq!(lines[0]["assertion"]["type"], "llm-rubric");
    assert_eq!(lines[0]["output"], "Your refund is on its way.");
    assert_eq!(lines[0]["question"], "Say: Your refund is on its way.");
    assert_eq!(lines[0]["label"], Value::Null);
    assert_eq!(lines[0]["judge"]["pass"], true);
    assert!(out.stderr.contains("fill in each `label`"), "{out:?}");

    // Unfilled, calibrate refuses with the line.
    r.write("labels.jsonl", &out.stdout);
    let bad = r.llmops(&["judge", "calibrate", "--labels", "labels.jsonl"]);
    bad.expect(2);
    assert!(bad.stderr.contains("labels.jsonl:1"), "{bad:?}");
    assert!(bad.stderr.contains("has no label yet"), "{bad:?}");

    // Filled in by a person who agrees with the judge.
    let filled: String = lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l["label"] = l["judge"]["pass"].clone();
            format!("{l}\n")
        })
        .collect();
    r.write("labels.jsonl", &filled);
    let ok = r.llmops(&[
        "judge",
        "calibrate",
        "--labels",
        "labels.jsonl",
        "--format",
        "json",
    ]);
    ok.expect(0);
    let v: Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(v["tables"][0]["agreement"], 1.0);
}
