//! `llmops gate` end to end on temp repos with the mock provider: improvements pass, clear
//! regressions fail, marginal changes are inconclusive, outages are ERROR, critical flips fail,
//! reports are byte-identical, shards merge to the same verdict.

use std::time::Duration;

use serde_json::{json, Value};

use crate::mock::{MockProvider, Reply, Seen};
use crate::support::{Repo, Run};

/// Replies by the prompt's system line: `kind` passes everything; `terse` fails 4 in 5;
/// `kinda` fails case 0 and 8; `leaky` passes everything but leaks an e-mail in case 0;
/// `down` is a 500; `sloppy` fails every other case.
fn script(s: &Seen) -> (Reply, Duration) {
    let sys = s.system_text();
    let user = s.user_text();
    let i: usize = user
        .trim_start_matches("Hello person ")
        .parse()
        .unwrap_or(0);
    let ok = format!("reply to: {user}");
    let text = if sys.contains("down") {
        return (Reply::ServerError(500), Duration::ZERO);
    } else if sys.contains("terse") {
        if i.is_multiple_of(5) {
            ok
        } else {
            "no".into()
        }
    } else if sys.contains("kinda") {
        if i.is_multiple_of(8) {
            "no".into()
        } else {
            ok
        }
    } else if sys.contains("leaky") {
        if i == 0 {
            format!("{ok} (write to ada@example.com)")
        } else {
            ok
        }
    } else if sys.contains("sloppy") {
        if i.is_multiple_of(2) {
            "no".into()
        } else {
            ok
        }
    } else {
        ok
    };
    (Reply::Text(text), Duration::ZERO)
}

fn prompt(system: &str) -> String {
    format!("---\nname: greet\ninputs: {{ who: {{}} }}\n---\nsystem:\n{system}\n\nuser:\nHello {{{{ who }}}}\n")
}

fn repo(url: &str, cases: usize, system: &str, assertions: &str) -> Repo {
    let mut r = Repo::new();
    r.write(
        "llmops.yaml",
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: m }}\nproviders:\n  mock: {{ type: openai, base_url: {url}, max_retries: 0 }}\n"),
    );
    r.write("prompts/greet.prompty", &prompt(system));
    let rows: String = (0..cases)
        .map(|i| format!("{{\"id\": \"c{i:03}\", \"vars\": {{\"who\": \"person {i}\"}}}}\n"))
        .collect();
    r.write("evals/data/greet.jsonl", &rows);
    r.write(
        "evals/greet.yaml",
        &format!("prompt: greet\ndataset: data/greet.jsonl\nassert:\n{assertions}"),
    );
    r.write(".gitignore", ".llmops/cache/\n.test-home/\n");
    r.commit("baseline");
    r
}

const CONTAINS: &str = "  - type: contains\n    value: reply to\n";

fn gate(r: &Repo, args: &[&str]) -> Run {
    let mut all = vec!["gate", "--no-progress", "--baseline", "HEAD"];
    all.extend_from_slice(args);
    r.llmops(&all)
}

fn verdict(run: &Run) -> String {
    let v: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    v["verdict"].as_str().unwrap().to_string()
}

#[test]
fn an_improvement_passes_and_a_clear_regression_fails() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 30, "Be sloppy.", CONTAINS);
    r.write("prompts/greet.prompty", &prompt("Be kind."));
    let run = gate(&r, &["--format", "json"]);
    run.expect(0);
    assert_eq!(verdict(&run), "PASS");
    let text = gate(&r, &[]);
    assert!(
        text.stdout.contains("PASS") && text.stdout.contains("non-inferior"),
        "{}",
        text.stdout
    );

    r.write("prompts/greet.prompty", &prompt("Be terse."));
    let run = gate(&r, &[]);
    run.expect(1);
    assert!(
        run.stdout.contains("significant regression"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("worst regressed cases"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("baseline  0.000") || run.stdout.contains("candidate 0.000"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("mcnemar (exact)"),
        "single-sample pass/fail uses McNemar: {}",
        run.stdout
    );
}

#[test]
fn a_marginal_change_is_inconclusive_and_says_what_would_settle_it() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 16, "Be kind.", CONTAINS);
    r.write("prompts/greet.prompty", &prompt("Be kinda kind."));
    let run = gate(&r, &[]);
    run.expect(0);
    assert!(run.stdout.contains("INCONCLUSIVE"), "{}", run.stdout);
    assert!(
        run.stdout.contains("minimum detectable effect"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("would settle it"), "{}", run.stdout);
    assert!(
        run.stderr.contains("warning: gate INCONCLUSIVE"),
        "{}",
        run.stderr
    );
    gate(&r, &["--strict"]).expect(1);
}

#[test]
fn a_provider_outage_is_an_error_not_a_failure() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 10, "Be kind.", CONTAINS);
    r.write("prompts/greet.prompty", &prompt("Be down."));
    let run = gate(&r, &[]);
    // A provider failure exits 3 from `gate`, as it does from `eval`.
    run.expect(3);
    assert!(
        run.stdout.contains("ERROR") && run.stdout.contains("errored samples"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_critical_flip_fails_even_when_the_mean_improves() {
    let mock = MockProvider::start(script);
    let assertions = format!("{CONTAINS}  - type: no-pii\n    critical: true\n");
    let r = repo(&mock.url, 30, "Be sloppy.", &assertions);
    r.write("prompts/greet.prompty", &prompt("Be leaky."));
    let run = gate(&r, &["--format", "json"]);
    run.expect(1);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let s = &v["suites"][0];
    assert!(
        s["candidate_score"].as_f64().unwrap() > s["baseline_score"].as_f64().unwrap(),
        "{s}"
    );
    assert_eq!(s["critical_flips"][0][0], "c000");
    assert_eq!(s["verdict"], "FAIL");
}

#[test]
fn reports_are_byte_identical_and_the_baseline_comes_from_cache() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 20, "Be sloppy.", CONTAINS);
    r.write("prompts/greet.prompty", &prompt("Be kind."));
    let a = gate(&r, &["--format", "json"]);
    let calls = mock.count();
    let b = gate(&r, &["--format", "json"]);
    assert_eq!(mock.count(), calls, "a second gate makes no calls");
    assert_eq!(a.stdout, b.stdout);
    let ma = gate(&r, &["--format", "markdown"]);
    let mb = gate(&r, &["--format", "markdown"]);
    assert_eq!(ma.stdout, mb.stdout);
    assert!(
        ma.stdout.starts_with("## ✅ llmops gate: PASS"),
        "{}",
        ma.stdout
    );
    let junit = gate(&r, &["--format", "junit"]);
    assert!(
        junit.stdout.contains("<testsuites name=\"llmops gate\""),
        "{}",
        junit.stdout
    );
}

#[test]
fn only_changed_suites_are_gated_and_the_default_baseline_is_the_merge_base() {
    let mock = MockProvider::start(script);
    let mut r = repo(&mock.url, 10, "Be kind.", CONTAINS);
    // No change: nothing to gate.
    let run = r.llmops(&["gate", "--no-progress"]);
    run.expect(0);
    assert!(run.stderr.contains("nothing to gate"), "{}", run.stderr);
    assert_eq!(mock.count(), 0);
    // A commit on a branch off main: the merge base is the baseline.
    let repo = git2::Repository::open(r.path()).unwrap();
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    repo.branch("main", &head, true).unwrap();
    r.write("prompts/greet.prompty", &prompt("Be terse."));
    r.commit("terse");
    let run = r.llmops(&["gate", "--no-progress"]);
    run.expect(1);
    assert!(run.stdout.contains("merge base"), "{}", run.stdout);
}

#[test]
fn shards_merge_to_the_single_run_verdict_and_write_the_step_summary() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 40, "Be kind.", CONTAINS);
    r.write("prompts/greet.prompty", &prompt("Be terse."));
    let whole = gate(&r, &["--format", "json"]);
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
    let summary = r.path().join("summary.md");
    let merged = r.llmops_env(
        &["merge", "g1.json", "g2.json", "--format", "json"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    merged.expect(1);
    let (w, m): (Value, Value) = (
        serde_json::from_str(&whole.stdout).unwrap(),
        serde_json::from_str(&merged.stdout).unwrap(),
    );
    assert_eq!(w["suites"][0]["n"], m["suites"][0]["n"]);
    assert_eq!(w["suites"][0]["stats"], m["suites"][0]["stats"]);
    assert_eq!(m["verdict"], "FAIL");
    let md = std::fs::read_to_string(summary).unwrap();
    assert!(md.contains("llmops gate: FAIL"), "{md}");
}

#[test]
fn the_readme_demo_fails_the_worse_prompt_and_passes_the_better_one_offline() {
    let mut r = Repo::with_examples();
    r.commit("examples");
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gate-demo");
    for (file, code, word) in [
        ("support-reply.worse.prompty", 1, "FAIL"),
        ("support-reply.better.prompty", 0, "PASS"),
    ] {
        let text = std::fs::read_to_string(demo.join(file)).unwrap();
        r.write("prompts-example/support-reply.prompty", &text);
        let run = r.llmops(&["gate", "--baseline", "HEAD", "--no-progress"]);
        run.expect(code);
        assert!(
            run.stdout.contains(&format!("verdict: {word}")),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout
                .contains("unchanged, not gated: classify-ticket, escalation-email, summarize"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn a_new_prompt_is_not_inconclusive_and_an_empty_gate_still_writes_its_report() {
    let mock = MockProvider::start(script);
    let r = repo(&mock.url, 6, "Be kind.", CONTAINS);
    let run = gate(&r, &["--format", "json", "--output", "gate.json"]);
    run.expect(0);
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(r.path().join("gate.json")).unwrap())
            .unwrap();
    assert_eq!(v["verdict"], "PASS");
    assert_eq!(v["unchanged"][0], "greet");
    // A new prompt and suite: no baseline side, so only its thresholds can fail it.
    r.write(
        "prompts/bye.prompty",
        "---\nname: bye\ninputs: { who: {} }\n---\nsystem:\nBe kind.\n\nuser:\nHello {{ who }}\n",
    );
    r.write("evals/bye.yaml", "prompt: bye\ndataset: data/greet.jsonl\nthresholds: { pass_rate: 0.9 }\nassert:\n  - type: contains\n    value: reply to\n");
    let run = gate(&r, &["--strict"]);
    run.expect(0);
    assert!(
        run.stdout.contains("new: 6 case(s) with no baseline"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_edit_to_a_check_script_alone_gates_the_suite() {
    let mock = MockProvider::start(script);
    let mut r = repo(
        &mock.url,
        4,
        "Be kind.",
        "  - type: python\n    value: file://checks/reply.py\n  - type: exec\n    value: sh checks/len.sh\n",
    );
    r.write(
        "checks/reply.py",
        "def get_assert(output, context):\n    return True\n",
    );
    r.write("checks/len.sh", "cat >/dev/null\necho 1\n");
    r.commit("checks");
    let unchanged = |run: &Run| -> Value {
        let v: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
        v["unchanged"].clone()
    };
    let run = gate(&r, &["--format", "json"]);
    run.expect(0);
    assert_eq!(unchanged(&run)[0], "greet", "{}", run.stdout);
    // Only the Python check changes: the suite is gated, not waved through as unchanged.
    r.write(
        "checks/reply.py",
        "def get_assert(output, context):\n    return 'kind' in output\n",
    );
    let run = gate(&r, &["--format", "json"]);
    assert_eq!(unchanged(&run), json!([]), "{}", run.stdout);
    // The same for a script an `exec` line names.
    r.write(
        "checks/reply.py",
        "def get_assert(output, context):\n    return True\n",
    );
    assert_eq!(unchanged(&gate(&r, &["--format", "json"]))[0], "greet");
    r.write("checks/len.sh", "cat >/dev/null\necho 0.5\n");
    let run = gate(&r, &["--format", "json"]);
    assert_eq!(unchanged(&run), json!([]), "{}", run.stdout);
}
