//! A judge panel: several judges grade each model-graded assertion, their verdicts are
//! combined, and inter-judge agreement is reported per suite with the split verdicts listed.

use std::time::Duration;

use serde_json::{json, Value};

use crate::mock::{MockProvider, Reply, Seen};
use crate::support::Repo;

/// `judge-a` passes everything; the others pass an output that mentions a refund.
fn panel(s: &Seen) -> (Reply, Duration) {
    if !s.is_judge() {
        return (
            Reply::Text(s.user_text().trim_start_matches("Say: ").to_string()),
            Duration::ZERO,
        );
    }
    let text = s.user_text();
    let start = text.find("<<<OUTPUT ").unwrap();
    let out = &text[start..text.find("<<<END OUTPUT").unwrap()];
    let pass = s.body["model"] == "judge-a" || out.contains("refund");
    let v = json!({"reasoning": "checked", "pass": pass, "score": if pass { 0.9 } else { 0.1 }});
    (Reply::Text(v.to_string()), Duration::ZERO)
}

fn repo(url: &str, judge: &str) -> Repo {
    let r = Repo::new();
    r.write(
        "llmops.yaml",
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: m }}\n{judge}\nproviders:\n  mock: {{ type: openai, base_url: {url}, max_retries: 0 }}\n"),
    );
    r.write(
        "prompts/p.prompty",
        "---\nname: p\ninputs: { who: {} }\n---\nuser:\nSay: {{ who }}\n",
    );
    r.write(
        "evals/data/p.jsonl",
        "{\"id\": \"c0\", \"vars\": {\"who\": \"Your refund is on its way.\"}}\n{\"id\": \"c1\", \"vars\": {\"who\": \"We cannot help.\"}}\n",
    );
    r.write(
        "evals/p.yaml",
        "prompt: p\ndataset: data/p.jsonl\nassert:\n  - type: llm-rubric\n    value: Mentions a refund.\n",
    );
    r
}

const PANEL: &str = "judge:\n  panel:\n    - { provider: mock, model: judge-a }\n    - { provider: mock, model: judge-b }\n    - { provider: mock, model: judge-c }\n";

#[test]
fn a_majority_of_the_panel_decides_and_agreement_is_reported() {
    let mock = MockProvider::start(panel);
    let r = repo(&mock.url, &format!("{PANEL}  combine: majority"));
    let run = r.llmops(&["eval", "--no-progress", "--format", "json"]);
    run.expect(1);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let g = &v["groups"][0];
    assert_eq!(g["case_results"][0]["status"], "pass");
    assert_eq!(g["case_results"][1]["status"], "fail");
    assert!(
        g["case_results"][1]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("panel majority: 1 of 3 pass"),
        "{g}"
    );
    assert_eq!(g["panel_agreement"], 0.5);
    assert_eq!(
        g["panel_disagreements"],
        json!(["c1#0 llm-rubric: pass, fail, fail"])
    );
    let models: Vec<String> = mock
        .requests()
        .iter()
        .filter(|s| s.is_judge())
        .map(|s| s.body["model"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(models.len(), 6, "three judges, two cases");
    let text = r.llmops(&["report"]);
    assert!(
        text.stdout.contains("judge panel agreement 50.0%"),
        "{text:?}"
    );
    assert!(
        text.stdout.contains("c1#0 llm-rubric: pass, fail, fail"),
        "{text:?}"
    );
}

#[test]
fn the_mean_combines_scores_and_an_unknown_panel_provider_is_refused() {
    let mock = MockProvider::start(panel);
    // c1: (0.9 + 0.1 + 0.1) / 3 = 0.37 < 0.5.
    let r = repo(&mock.url, &format!("{PANEL}  combine: mean"));
    let run = r.llmops(&["eval", "--no-progress", "--format", "json"]);
    run.expect(1);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let c1 = &v["groups"][0]["case_results"][1];
    assert!(
        (c1["score"].as_f64().unwrap() - 1.1 / 3.0).abs() < 1e-9,
        "{c1}"
    );
    assert!(
        c1["reasons"][0]
            .as_str()
            .unwrap()
            .contains("panel mean 0.37"),
        "{c1}"
    );

    let r = repo(
        &mock.url,
        "judge:\n  panel:\n    - { provider: mock, model: judge-a }\n    - { provider: mokc, model: judge-b }\n",
    );
    let bad = r.llmops(&["eval", "--no-progress"]);
    bad.expect(2);
    assert!(bad.stderr.contains("llmops.yaml:"), "{bad:?}");
    assert!(bad.stderr.contains("mokc"), "{bad:?}");
}
