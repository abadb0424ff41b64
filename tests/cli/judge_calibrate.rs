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
