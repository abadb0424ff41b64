//! The live re-check of a release: `gate --baseline run:ID` and `--baseline recorded` run the
//! candidate fresh against the mock provider and compare it with a stored run. Nothing in git
//! changes between the runs; the mock swapping its "model" (other answers under the same
//! name) is what the gate must catch. A stored run of other requests is refused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::mock::{MockProvider, Reply};
use crate::support::{Repo, Run};

/// A provider whose model can be swapped behind the same name: once `swapped`, it answers
/// most cases without the text the suite asserts.
fn provider() -> (MockProvider, Arc<AtomicBool>) {
    let swapped = Arc::new(AtomicBool::new(false));
    let flag = swapped.clone();
    let mock = MockProvider::start(move |s| {
        let user = s.user_text();
        let i: usize = user
            .trim_start_matches("Hello person ")
            .parse()
            .unwrap_or(0);
        let text = if flag.load(Ordering::SeqCst) && !i.is_multiple_of(4) {
            "Sure! Anything else?".to_string()
        } else {
            format!("reply to: {user}")
        };
        (Reply::Text(text), Duration::ZERO)
    });
    (mock, swapped)
}

fn repo(url: &str, cases: usize) -> Repo {
    let mut r = Repo::greet(
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: m }}\nproviders:\n  mock: {{ type: openai, base_url: {url}, max_retries: 0 }}\n"),
        "system:\nBe kind.\n\nuser:\nHello {{ who }}\n",
        cases,
        "  - type: contains\n    value: reply to\n",
    );
    r.commit("greet");
    r
}

/// Evaluate, release and promote `greet`: the release records run 1 as its evidence.
fn released(url: &str) -> Repo {
    let r = repo(url, 24);
    r.llmops(&["eval", "--no-progress"]).expect(0);
    r.llmops(&["release", "greet", "-m", "first"]).expect(0);
    r.llmops(&["promote", "greet", "v1", "--label", "production"])
        .expect(0);
    assert!(
        r.read(".llmops/versions.lock").contains("run_id: '1'")
            || r.read(".llmops/versions.lock").contains("run_id: \"1\"")
            || r.read(".llmops/versions.lock").contains("run_id: 1"),
        "{}",
        r.read(".llmops/versions.lock")
    );
    r
}

fn verdict(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

#[test]
fn a_live_recheck_passes_then_catches_a_model_swap_behind_the_same_name() {
    let (mock, swapped) = provider();
    let r = released(&mock.url);
    let calls = mock.count();
    let args = [
        "gate",
        "--no-progress",
        "--baseline",
        "recorded",
        "--candidate",
        "production",
        "--format",
        "json",
    ];
    let run = r.llmops(&args);
    run.expect(0);
    let v = verdict(&run);
    assert_eq!(v["verdict"], "PASS", "{v}");
    assert_eq!(v["baseline"], "recorded (greet@v1 run 1)");
    assert_eq!(v["candidate"], "production (live)");
    assert_eq!(
        crate::ci_git::schema_errors("gate-report.schema.json", &v),
        Vec::<String>::new()
    );
    assert_eq!(
        mock.count() - calls,
        24,
        "the candidate is asked live, never answered from the cache"
    );

    swapped.store(true, Ordering::SeqCst);
    let run = r.llmops(&args);
    run.expect(1);
    let v = verdict(&run);
    assert_eq!(v["verdict"], "FAIL", "{v}");
    assert!(
        v["suites"][0]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("significant regression"),
        "{v}"
    );
    // The same with the run named by id, in the terminal report.
    let run = r.llmops(&[
        "gate",
        "--no-progress",
        "--baseline",
        "run:1",
        "--candidate",
        "v1",
    ]);
    run.expect(1);
    assert!(
        run.stdout
            .contains("gate: candidate v1 (live) vs baseline run 1"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_stored_run_of_other_requests_is_refused_with_the_fix() {
    let (mock, _) = provider();
    let r = released(&mock.url);
    let calls = mock.count();

    // Other prompt content.
    r.write(
        "prompts/greet.prompty",
        "---\nname: greet\ninputs: { who: {} }\n---\nsystem:\nBe terse.\n\nuser:\nHello {{ who }}\n",
    );
    let run = r.llmops(&["gate", "--no-progress", "--baseline", "run:1"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("a stored run is compared only with the same prompt version")
            && run.stderr.contains("--baseline recorded"),
        "{}",
        run.stderr
    );
    let run = r.llmops(&["gate", "--no-progress", "--baseline", "recorded"]);
    run.expect(2);
    assert!(
        run.stderr.contains("is not a released version")
            && run.stderr.contains("--candidate production"),
        "{}",
        run.stderr
    );
    r.git(&["checkout", "--", "prompts/greet.prompty"]);

    // Another dataset.
    let data = r.read("evals/data/greet.jsonl");
    r.write(
        "evals/data/greet.jsonl",
        &data.replace("person 3\"", "person 33\""),
    );
    let run = r.llmops(&["gate", "--no-progress", "--baseline", "run:1"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("with a different suite file or dataset"),
        "{}",
        run.stderr
    );
    r.git(&["checkout", "--", "evals/data/greet.jsonl"]);

    // Another model under the same prompt content.
    let config = r.read("llmops.yaml");
    r.write("llmops.yaml", &config.replace("model: m }", "model: m2 }"));
    let run = r.llmops(&["gate", "--no-progress", "--baseline", "run:1"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("sent different requests for 24 sample(s)")
            && run.stderr.contains("model `m` then, `m2` now"),
        "{}",
        run.stderr
    );
    r.write("llmops.yaml", &config);

    // Other repeats, an unknown run, a bad id.
    let run = r.llmops(&[
        "gate",
        "--no-progress",
        "--baseline",
        "run:1",
        "--repeat",
        "2",
    ]);
    run.expect(2);
    assert!(run.stderr.contains("pass `--repeat 1`"), "{}", run.stderr);
    let run = r.llmops(&["gate", "--no-progress", "--baseline", "run:99"]);
    run.expect(2);
    assert!(
        run.stderr.contains("no run 99 in the store") && run.stderr.contains("llmops runs"),
        "{}",
        run.stderr
    );
    let run = r.llmops(&["gate", "--no-progress", "--baseline", "run:x"]);
    run.expect(2);
    assert!(
        run.stderr.contains("a run id is a positive number"),
        "{}",
        run.stderr
    );
    assert_eq!(mock.count(), calls, "nothing refused made a call");

    // The unchanged working tree is the released content: comparable.
    let run = r.llmops(&["gate", "--no-progress", "--baseline", "run:1"]);
    run.expect(0);
}

#[test]
fn the_nightly_recipe_in_docs_ci_md_runs_as_written() {
    let (mock, swapped) = provider();
    let r = released(&mock.url);
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md"),
    )
    .unwrap();
    let line = doc
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("run: llmops gate --baseline recorded")
        })
        .expect("docs/ci.md has the nightly gate line");
    let mut args = vec!["gate", "--baseline", "recorded"];
    args.extend(line.split_whitespace());
    r.llmops(&args).expect(0);
    let report = r.read("recheck.md");
    assert!(report.contains("llmops gate: PASS"), "{report}");
    swapped.store(true, Ordering::SeqCst);
    r.llmops(&args).expect(1);
    assert!(r.read("recheck.md").contains("llmops gate: FAIL"));
}

#[test]
fn a_run_graded_by_another_judge_is_refused() {
    let mock = MockProvider::start(|s| {
        if s.is_judge() {
            let v = serde_json::json!({"reasoning": "polite", "pass": true, "score": 0.9});
            return (Reply::Text(v.to_string()), Duration::ZERO);
        }
        (
            Reply::Text(format!("reply to: {}", s.user_text())),
            Duration::ZERO,
        )
    });
    let mut r = repo(&mock.url, 6);
    let config = r.read("llmops.yaml") + "judge: { provider: mock, model: judge-a }\n";
    r.write("llmops.yaml", &config);
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ndataset: data/greet.jsonl\nassert:\n  - type: contains\n    value: reply to\n  - type: llm-rubric\n    value: is polite\n",
    );
    r.commit("a judged suite");
    r.llmops(&["eval", "--no-progress"]).expect(0);
    r.llmops(&["gate", "--no-progress", "--baseline", "run:1"])
        .expect(0);
    r.write("llmops.yaml", &config.replace("judge-a", "judge-b"));
    let run = r.llmops(&["gate", "--no-progress", "--baseline", "run:1"]);
    run.expect(2);
    assert!(
        run.stderr.contains(
            "run 1 was graded by another judge (`mock/judge-a` then, `mock/judge-b` now)"
        ),
        "{}",
        run.stderr
    );
}
