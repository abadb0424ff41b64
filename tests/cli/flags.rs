//! Flags whose behaviour had no test: `eval --refresh` and `-j`, `gate --candidate`,
//! `cache clear`, and the exit code a provider outage gives from `eval` and `gate` alike.

use std::time::Duration;

use crate::mock::MockProvider;
use crate::support::{Repo, Run};

fn repo(url: &str, cases: usize) -> Repo {
    let mut r = Repo::greet(
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: m }}\nproviders:\n  mock: {{ type: openai, base_url: {url}, max_retries: 0, concurrency: 1 }}\n"),
        "system:\nBe kind.\n\nuser:\nHello {{ who }}\n",
        cases,
        "  - type: contains\n    value: reply to\n",
    );
    r.commit("baseline");
    r
}

fn run(r: &Repo, args: &[&str]) -> Run {
    let mut all = vec![args[0], "--no-progress"];
    all.extend_from_slice(&args[1..]);
    r.llmops(&all)
}

#[test]
fn refresh_calls_again_and_replaces_the_cached_answer() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo(&mock.url, 5);
    run(&r, &["eval"]).expect(0);
    assert_eq!(mock.count(), 5);
    run(&r, &["eval"]).expect(0);
    assert_eq!(mock.count(), 5, "cached");
    run(&r, &["eval", "--refresh"]).expect(0);
    assert_eq!(mock.count(), 10, "--refresh calls every case again");
    // The refreshed answers were written: the next plain run is cached again.
    run(&r, &["eval"]).expect(0);
    assert_eq!(mock.count(), 10);
    // --refresh and --no-cache contradict each other.
    run(&r, &["eval", "--refresh", "--no-cache"]).expect(2);
}

#[test]
fn the_concurrency_flag_overrides_the_providers_own_setting() {
    let mock = MockProvider::echoing(Duration::from_millis(60));
    let r = repo(&mock.url, 8);
    run(&r, &["eval", "--no-cache"]).expect(0);
    assert_eq!(mock.max_in_flight(), 1, "the provider's `concurrency: 1`");
    let mock = MockProvider::echoing(Duration::from_millis(60));
    let r = repo(&mock.url, 8);
    run(&r, &["eval", "-j", "8"]).expect(0);
    assert!(mock.max_in_flight() >= 4, "-j 8: {}", mock.max_in_flight());
    let zero = run(&r, &["eval", "-j", "0"]);
    zero.expect(2);
    assert!(zero.stderr.contains("from 1 to"), "{}", zero.stderr);
}

#[test]
fn cache_clear_empties_the_cache_so_the_next_run_calls_again() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo(&mock.url, 4);
    run(&r, &["eval"]).expect(0);
    let stats = r.llmops(&["cache", "stats"]);
    stats.expect(0);
    assert!(stats.stdout.contains('4'), "{}", stats.stdout);
    let clear = r.llmops(&["cache", "clear"]);
    clear.expect(0);
    assert!(
        clear.stdout.contains('4') || clear.stderr.contains('4'),
        "{clear:?}"
    );
    run(&r, &["eval"]).expect(0);
    assert_eq!(mock.count(), 8, "nothing was cached any more");
}

#[test]
fn gate_candidate_compares_two_commits_not_the_working_tree() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let mut r = repo(&mock.url, 6);
    let base = r.head();
    // The committed candidate answers in a way the assertion rejects...
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ndataset: data/greet.jsonl\nassert:\n  - type: contains\n    value: reply to\n",
    );
    r.write(
        "prompts/greet.prompty",
        "---\nname: greet\ninputs: { who: {} }\n---\nsystem:\nBe terse.\n\nuser:\nHi {{ who }}\n",
    );
    let cand = r.commit("candidate");
    // ...while the working tree goes back to the baseline's text.
    r.write(
        "prompts/greet.prompty",
        "---\nname: greet\ninputs: { who: {} }\n---\nsystem:\nBe kind.\n\nuser:\nHello {{ who }}\n",
    );
    let worktree = run(&r, &["gate", "--baseline", &base]);
    worktree.expect(0);
    assert!(
        worktree.stdout.contains("nothing to gate") || worktree.stderr.contains("nothing to gate"),
        "{worktree:?}"
    );
    let committed = run(
        &r,
        &[
            "gate",
            "--baseline",
            &base,
            "--candidate",
            &cand,
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value =
        serde_json::from_str(&committed.stdout).unwrap_or_else(|e| panic!("{e}: {committed:?}"));
    assert_eq!(v["candidate"], cand.as_str());
    assert_eq!(v["suites"][0]["suite"], "greet", "{v}");
}

#[test]
fn a_provider_outage_exits_3_from_eval_and_from_gate() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo(&mock.url, 3);
    drop(mock);
    let e = run(&r, &["eval"]);
    e.expect(3);
    r.write(
        "prompts/greet.prompty",
        "---\nname: greet\ninputs: { who: {} }\n---\nsystem:\nBe brief.\n\nuser:\nHello {{ who }}\n",
    );
    let g = run(&r, &["gate", "--baseline", "HEAD"]);
    g.expect(3);
}
