//! Cost and latency as gate dimensions, and per-suite budgets, end to end on temp repos with
//! the mock provider injecting token usage and latency: a change that doubles tokens passes
//! the quality gate but fails with `gate.cost_tolerance`; a slower prompt fails with
//! `gate.latency_tolerance`; budgets fail `eval` and `gate` with the figures.

use std::time::Duration;

use serde_json::{json, Value};

use crate::mock::{MockProvider, Reply, Seen};
use crate::support::{Repo, Run};

/// Every answer passes `contains: reply to`. The system line sets the usage and the delay:
/// `wordy` doubles the output tokens, `slow` answers after 150 ms instead of 5 ms.
fn script(s: &Seen) -> (Reply, Duration) {
    let sys = s.system_text();
    let user = s.user_text();
    let i: u64 = user
        .trim_start_matches("Hello person ")
        .parse()
        .unwrap_or(0);
    let out_tokens = if sys.contains("wordy") { 2 } else { 1 } * (100 + 10 * i);
    let body = json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("reply to: {user}")}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": out_tokens}
    });
    let delay = if sys.contains("slow") { 150 } else { 5 };
    (
        Reply::Json {
            status: 200,
            body,
            headers: vec![],
        },
        Duration::from_millis(delay),
    )
}

fn prompt(system: &str) -> String {
    format!("---\nname: greet\ninputs: {{ who: {{}} }}\n---\nsystem:\n{system}\n\nuser:\nHello {{{{ who }}}}\n")
}

/// A repo whose `greet` prompt says `system`, with `cases` cases and `gate` / `thresholds`
/// config lines (YAML flow maps, may be empty).
fn repo(url: &str, cases: usize, system: &str, gate: &str, thresholds: &str) -> Repo {
    let mut r = Repo::new();
    let gate = if gate.is_empty() {
        String::new()
    } else {
        format!("gate: {gate}\n")
    };
    r.write(
        "llmops.yaml",
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: m }}\nproviders:\n  mock: {{ type: openai, base_url: {url}, max_retries: 0 }}\npricing:\n  m: {{ input: 1.0, output: 4.0 }}\n{gate}"),
    );
    r.write("prompts/greet.prompty", &prompt(system));
    let rows: String = (0..cases)
        .map(|i| format!("{{\"id\": \"c{i:03}\", \"vars\": {{\"who\": \"person {i}\"}}}}\n"))
        .collect();
    r.write("evals/data/greet.jsonl", &rows);
    let thresholds = if thresholds.is_empty() {
        String::new()
    } else {
        format!("thresholds: {thresholds}\n")
    };
    r.write(
        "evals/greet.yaml",
        &format!("prompt: greet\ndataset: data/greet.jsonl\n{thresholds}assert:\n  - type: contains\n    value: reply to\n"),
    );
    r.write(".gitignore", ".llmops/cache/\n.test-home/\n");
    r.commit("baseline");
    r
}

fn gate(r: &Repo, args: &[&str]) -> Run {
    let mut all = vec!["gate", "--no-progress", "--baseline", "HEAD"];
    all.extend_from_slice(args);
    r.llmops(&all)
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

#[test]
fn doubling_tokens_passes_without_a_cost_tolerance_and_fails_with_one() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 10, "Be brief.", "", "");
    r.write("prompts/greet.prompty", &prompt("Be wordy."));
    // Today's behaviour without the setting: every case still passes, so the gate passes.
    let run = gate(&r, &["--format", "json"]);
    run.expect(0);
    let v = json_of(&run);
    assert_eq!(v["verdict"], "PASS", "{v}");
    assert!(v["suites"][0].get("dimensions").is_none(), "{v}");

    r.write(
        "llmops.yaml",
        &r.read("llmops.yaml")
            .replace("pricing:", "gate: { cost_tolerance: 0.10 }\npricing:"),
    );
    let run = gate(&r, &["--format", "json"]);
    run.expect(1);
    let v = json_of(&run);
    assert_eq!(v["verdict"], "FAIL", "{v}");
    let d = &v["suites"][0]["dimensions"][0];
    assert_eq!(d["kind"], "cost");
    assert_eq!(d["verdict"], "FAIL");
    assert_eq!(d["n"], 10);
    assert!(d["ratio"].as_f64().unwrap() > 1.5, "{d}");
    assert!(d["lower"].as_f64().unwrap() > 1.1, "{d}");
    assert_eq!(v["policy"]["cost_tolerance"], 0.1);
    assert_eq!(
        crate::ci_git::schema_errors("gate-report.schema.json", &v),
        Vec::<String>::new()
    );

    let text = gate(&r, &[]);
    text.expect(1);
    assert!(
        text.stdout
            .contains("cost regression: above the +10% tolerance"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("cost (+10%)"), "{}", text.stdout);
    assert!(
        text.stdout.contains("cost tolerance +10%"),
        "{}",
        text.stdout
    );

    // The same prompt on both sides is shown within the tolerance.
    r.write("prompts/greet.prompty", &prompt("Be brief."));
    let run = gate(&r, &["--all", "--format", "json"]);
    run.expect(0);
    let v = json_of(&run);
    assert_eq!(v["suites"][0]["dimensions"][0]["verdict"], "PASS", "{v}");
}

#[test]
fn a_slower_prompt_fails_the_latency_tolerance() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 8, "Be quick.", "{ latency_tolerance: 0.5 }", "");
    r.write("prompts/greet.prompty", &prompt("Be slow."));
    let run = gate(&r, &["--format", "json"]);
    run.expect(1);
    let v = json_of(&run);
    let d = &v["suites"][0]["dimensions"][0];
    assert_eq!(
        (d["kind"].as_str(), d["verdict"].as_str()),
        (Some("latency"), Some("FAIL")),
        "{v}"
    );
    assert!(d["ratio"].as_f64().unwrap() > 3.0, "{d}");
    assert_eq!(
        crate::ci_git::schema_errors("gate-report.schema.json", &v),
        Vec::<String>::new()
    );
    let md = gate(&r, &["--format", "markdown"]);
    assert!(md.stdout.contains("**Cost and latency**"), "{}", md.stdout);
    assert!(md.stdout.contains("| latency (+50%) |"), "{}", md.stdout);
}

#[test]
fn tolerances_are_validated_when_the_config_loads() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 2, "Be brief.", "{ cost_tolerance: -0.1 }", "");
    let run = r.llmops(&["list"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("gate.cost_tolerance must be a relative increase between 0 and 10")
            && run.stderr.contains("cost_tolerance: 0.10"),
        "{}",
        run.stderr
    );
    assert_eq!(mock.count(), 0);
}

#[test]
fn budgets_fail_eval_and_gate_with_the_figures() {
    let mock = MockProvider::start(script);
    // Case i costs (50 * 1 + (100 + 10 i) * 4) / 1e6 USD: c000 $0.00045 ... c003 $0.00057;
    // the run $0.00204.
    let r = repo(
        &mock.url,
        4,
        "Be brief.",
        "",
        "{ max_cost_usd: 0.002, max_case_cost_usd: 0.0006 }",
    );
    let run = r.llmops(&["eval", "--no-progress"]);
    run.expect(1);
    assert!(
        run.stdout
            .contains("max_cost_usd $0.002040 > $0.002000  MISSED"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("max_case_cost_usd $0.000570 <= $0.000600"),
        "{}",
        run.stdout
    );
    r.write("prompts/greet.prompty", &prompt("Be wordy."));
    let run = gate(&r, &[]);
    run.expect(1);
    assert!(
        run.stdout
            .contains("budget max_case_cost_usd exceeded: $0.001090 > $0.000600"),
        "{}",
        run.stdout
    );
    let bad = repo(&mock.url, 2, "Be brief.", "", "{ max_cost_usd: 0 }");
    let run = bad.llmops(&["eval", "--no-progress"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("thresholds.max_cost_usd must be a cost in USD above 0, got 0"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_cost_section_of_the_gate_report() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 10, "Be brief.", "{ cost_tolerance: 0.25 }", "");
    r.write("prompts/greet.prompty", &prompt("Be wordy."));
    let text = gate(&r, &[]);
    let md = gate(&r, &["--format", "markdown"]);
    insta::assert_snapshot!(
        "gate-cost",
        format!("{}\n[exit status: {}]\n", text.stdout, text.code)
    );
    insta::assert_snapshot!("gate-cost-markdown", md.stdout);
    // docs/gate.md shows this very report.
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/gate.md"),
    )
    .unwrap();
    assert!(
        doc.contains(&format!("```markdown\n{}```", md.stdout)),
        "docs/gate.md's cost example differs from the binary:\n{}",
        md.stdout
    );
}

#[test]
fn the_dry_run_estimates_judge_calls_and_their_cost() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 3, "Be brief.", "", "");
    r.write(
        "llmops.yaml",
        &r.read("llmops.yaml").replace(
            "pricing:\n",
            "judge: { provider: mock, model: j }\npricing:\n  j: { input: 1.0, output: 4.0 }\n",
        ),
    );
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ndataset: data/greet.jsonl\nassert:\n  - type: contains\n    value: reply to\n  - type: llm-rubric\n    value: is polite\n",
    );
    let run = r.llmops(&["eval", "--dry-run", "--format", "json"]);
    run.expect(0);
    let v = json_of(&run);
    let line = &v.as_array().map_or(&v["lines"][0], |a| &a[0]);
    assert_eq!(line["judge_calls"], 3, "{v}");
    assert_eq!(line["judge_priced"], true, "{v}");
    // Each verdict is priced at its 800-token ceiling, plus the judge prompt.
    let cost = line["est_judge_cost_usd"].as_f64().unwrap();
    assert!(cost > 3.0 * 800.0 * 4.0 / 1e6 && cost < 0.02, "{v}");
    let text = r.llmops(&["eval", "--dry-run"]);
    text.expect(0);
    assert!(
        text.stdout
            .contains("; judge: 3 call(s) to make, at most $0.01"),
        "{}",
        text.stdout
    );
    assert_eq!(mock.count(), 0, "a dry run calls nothing");
}

#[test]
fn shards_merge_to_the_same_cost_decision() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 12, "Be brief.", "{ cost_tolerance: 0.10 }", "");
    r.write("prompts/greet.prompty", &prompt("Be wordy."));
    let whole = json_of(&gate(&r, &["--format", "json"]));
    for i in 1..=2 {
        gate(
            &r,
            &[
                "--shard",
                &format!("{i}/2"),
                "--format",
                "json",
                "--output",
                &format!("g{i}.json"),
            ],
        );
    }
    let merged = r.llmops(&["merge", "g1.json", "g2.json", "--format", "json"]);
    merged.expect(1);
    let m = json_of(&merged);
    assert_eq!(m["verdict"], "FAIL");
    assert_eq!(
        whole["suites"][0]["dimensions"], m["suites"][0]["dimensions"],
        "the merge re-decides cost from every pair"
    );
}
