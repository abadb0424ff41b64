//! The RAG and conversation graders against a mock judge on 127.0.0.1 that grades by word
//! overlap, so every score can be worked out by hand.

use std::time::Duration;

use serde_json::{json, Value};

use crate::mock::{MockProvider, Reply, Seen};
use crate::support::Repo;

/// The text of the block fenced as `label` (found by the tag of its opening marker).
fn block(text: &str, label: &str) -> String {
    let open = format!("<<<{label} ");
    let Some(start) = text.find(&open) else {
        return String::new();
    };
    let rest = &text[start + open.len()..];
    let tag = &rest[..rest.find(">>>").unwrap()];
    let body = start + open.len() + tag.len() + 3;
    let end = text.find(&format!("<<<END {label} {tag}>>>")).unwrap();
    text[body..end].trim().to_string()
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 3)
        .map(str::to_lowercase)
        .collect()
}

/// Supported when every long word of `claim` appears in `source`.
fn supported(claim: &str, source: &str) -> bool {
    let src = words(source);
    words(claim).iter().all(|w| src.contains(w))
}

fn sentences(s: &str) -> Vec<String> {
    s.split(['.', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn judge(s: &Seen) -> (Reply, Duration) {
    let text = s.user_text();
    if !s.is_judge() {
        return (
            Reply::Text(text.trim_start_matches("Say: ").to_string()),
            Duration::ZERO,
        );
    }
    let verdicts = |items: Vec<(String, bool)>| {
        let list: Vec<Value> = items
            .into_iter()
            .map(|(s, v)| json!({"statement": s, "verdict": v}))
            .collect();
        json!({"reasoning": "by word overlap", "statements": list})
    };
    let v = if text.contains("<<<GROUND TRUTH ") {
        let ctx = block(&text, "CONTEXT");
        verdicts(
            sentences(&block(&text, "GROUND TRUTH"))
                .into_iter()
                .map(|c| (c.clone(), supported(&c, &ctx)))
                .collect(),
        )
    } else if text.contains("numbered lines") {
        let q = words(&block(&text, "QUERY"));
        verdicts(
            block(&text, "CONTEXT")
                .lines()
                .map(|l| (l.to_string(), words(l).iter().any(|w| q.contains(w))))
                .collect(),
        )
    } else if text.contains("<<<CONVERSATION ") {
        let conv = block(&text, "CONVERSATION");
        let last = conv.lines().last().unwrap_or("").to_string();
        let pass = words(&block(&text, "RESPONSE"))
            .iter()
            .any(|w| words(&last).contains(w));
        json!({"reasoning": "overlap with the last message", "pass": pass})
    } else {
        let ctx = block(&text, "CONTEXT");
        verdicts(
            sentences(&block(&text, "OUTPUT"))
                .into_iter()
                .map(|c| (c.clone(), supported(&c, &ctx)))
                .collect(),
        )
    };
    (Reply::Text(v.to_string()), Duration::ZERO)
}

fn repo(url: &str, cases: &[Value], assertion: &str) -> Repo {
    let r = Repo::new();
    r.write(
        "llmops.yaml",
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: model-under-test }}\njudge: {{ provider: mock, model: judge-model }}\nproviders:\n  mock: {{ type: openai, base_url: {url}, max_retries: 0 }}\n"),
    );
    r.write(
        "prompts/p.prompty",
        "---\nname: p\ninputs: { who: {}, query: { required: false }, context: { required: false }, _conversation: { type: array, required: false } }\n---\nuser:\nSay: {{ who }}\n",
    );
    let rows: String = cases.iter().map(|c| format!("{c}\n")).collect();
    r.write("evals/data/p.jsonl", &rows);
    r.write(
        "evals/p.yaml",
        &format!("prompt: p\ndataset: data/p.jsonl\nassert:\n{assertion}"),
    );
    r
}

fn scores(r: &Repo) -> Vec<(String, f64, String)> {
    let run = r.llmops(&["eval", "--no-progress", "--format", "json"]);
    let v: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    v["groups"][0]["case_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["status"].as_str().unwrap().to_string(),
                c["score"].as_f64().unwrap_or(-1.0),
                c["reasons"].to_string(),
            )
        })
        .collect()
}

const CONTEXT: &str = "Refunds are issued within five business days.\nRefunds go back to the original card.\nOur office is closed on public holidays.\nThe cafeteria serves lunch daily.";

#[test]
fn context_faithfulness_is_the_share_of_supported_statements() {
    let mock = MockProvider::start(judge);
    let cases = [
        json!({"id": "a", "vars": {"who": "Refunds are issued within five business days. Refunds go back to the original card.", "query": "When do refunds arrive?", "context": CONTEXT}}),
        json!({"id": "b", "vars": {"who": "Refunds are issued within five business days. Refunds arrive instantly by courier pigeon.", "query": "When do refunds arrive?", "context": CONTEXT}}),
        json!({"id": "c", "vars": {"who": "Refunds are issued within five business days.", "query": "When?"}}),
    ];
    let r = repo(
        &mock.url,
        &cases,
        "  - type: context-faithfulness\n    threshold: 0.9\n",
    );
    let s = scores(&r);
    assert_eq!((s[0].0.as_str(), s[0].1), ("pass", 1.0), "{s:?}");
    assert_eq!((s[1].0.as_str(), s[1].1), ("fail", 0.5), "{s:?}");
    assert!(
        s[1].2.contains("1 of 2 output statements supported"),
        "{s:?}"
    );
    assert_eq!(s[2].0, "error", "no context: {s:?}");
    assert!(s[2].2.contains("needs a `context` variable"), "{s:?}");
}

#[test]
fn context_recall_and_relevance() {
    let mock = MockProvider::start(judge);
    let cases = [
        json!({"id": "a", "vars": {"who": "ok", "query": "How are refunds issued to the card?", "context": CONTEXT}}),
    ];
    let r = repo(
        &mock.url,
        &cases,
        "  - type: context-recall\n    value: Refunds are issued within five business days. Refunds include a gift voucher.\n    threshold: 0.5\n",
    );
    let s = scores(&r);
    assert_eq!((s[0].0.as_str(), s[0].1), ("pass", 0.5), "{s:?}");
    // Two of the four lines share a word with the query ("refunds"): 0.5.
    let r = repo(
        &mock.url,
        &cases,
        "  - type: context-relevance\n    threshold: 0.6\n",
    );
    let s = scores(&r);
    assert_eq!((s[0].0.as_str(), s[0].1), ("fail", 0.5), "{s:?}");
    let judge_req = mock
        .requests()
        .into_iter()
        .rev()
        .find(Seen::is_judge)
        .unwrap();
    assert!(judge_req
        .user_text()
        .contains("4. The cafeteria serves lunch daily."));
}

#[test]
fn a_judge_that_skips_context_lines_is_an_error_not_a_perfect_score() {
    // Lists only the first line, as relevant: 1 of 1 would read as 1.0.
    let mock = MockProvider::start(|s: &Seen| {
        if !s.is_judge() {
            return (Reply::Text("ok".into()), Duration::ZERO);
        }
        let v = json!({"reasoning": "lazy", "statements": [{"statement": "Refunds are issued within five business days.", "verdict": true}]});
        (Reply::Text(v.to_string()), Duration::ZERO)
    });
    let cases = [
        json!({"id": "a", "vars": {"who": "ok", "query": "How are refunds issued?", "context": CONTEXT}}),
    ];
    let r = repo(&mock.url, &cases, "  - type: context-relevance\n");
    let s = scores(&r);
    assert_eq!(s[0].0, "error", "{s:?}");
    assert!(
        s[0].2.contains("graded 1 of the context's 4 lines"),
        "{s:?}"
    );
}

#[test]
fn conversation_relevance_grades_each_window() {
    let mock = MockProvider::start(judge);
    let conv = json!([
        {"input": "What is the refund policy?", "output": "Refund policy: five business days."},
        {"input": "Which card gets the refund?", "output": "The cafeteria serves lunch daily."},
    ]);
    let cases = [
        json!({"id": "a", "vars": {"who": "Your refund goes back to your card.", "_conversation": conv}}),
    ];
    let r = repo(
        &mock.url,
        &cases,
        "  - type: conversation-relevance\n    threshold: 0.8\n",
    );
    let s = scores(&r);
    // Three windows (two earlier turns and this case's); the second reply is off topic.
    assert_eq!(s[0].0, "fail", "{s:?}");
    assert!((s[0].1 - 2.0 / 3.0).abs() < 1e-9, "{s:?}");
    assert!(s[0].2.contains("off topic: turn 2"), "{s:?}");
    let bad = [json!({"id": "b", "vars": {"who": "x", "_conversation": [{"input": "only"}]}})];
    let r = repo(&mock.url, &bad, "  - type: conversation-relevance\n");
    let s = scores(&r);
    assert_eq!(s[0].0, "error", "{s:?}");
}
