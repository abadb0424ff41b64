//! `llmops eval` against a real HTTP server on 127.0.0.1: retries, concurrency, caching,
//! interruption and resume, shared databases, secrets.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::mock::{MockProvider, Reply};
use crate::support::{Repo, Run};

const KEY: &str = "sk-test-SECRET-0123456789abcdef";

/// A registry whose `mock` provider points at `url`, with one prompt and `cases` cases.
fn repo_for(url: &str, cases: usize, provider_extra: &str) -> Repo {
    let r = Repo::new();
    r.write(
        "llmops.yaml",
        &format!(
            "prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: gpt-4o-mini, concurrency: 4 }}\nproviders:\n  mock:\n    type: openai\n    base_url: {url}\n    api_key_env: MOCK_KEY\n    max_retries: 3\n{provider_extra}\n"
        ),
    );
    r.write(
        "prompts/greet.prompty",
        "---\nname: greet\ninputs: { who: {} }\n---\nsystem:\nBe kind.\n\nuser:\nHello {{ who }}\n",
    );
    let rows: String = (0..cases)
        .map(|i| format!("{{\"id\": \"c{i:03}\", \"vars\": {{\"who\": \"person {i}\"}}}}\n"))
        .collect();
    r.write("evals/data/greet.jsonl", &rows);
    r.write("evals/greet.yaml", "prompt: greet\ndataset: data/greet.jsonl\nassert:\n  - type: contains\n    value: reply to\n");
    r.write(".gitignore", ".llmops/cache/\n.test-home/\n");
    r
}

fn eval(r: &Repo, args: &[&str]) -> Run {
    let mut all = vec!["eval", "--no-progress"];
    all.extend_from_slice(args);
    r.llmops_env(&all, &[("MOCK_KEY", KEY)])
}

fn json_report(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

fn db_rows(r: &Repo, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(r.path().join(".llmops/cache/llmops.db")).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn eval_scores_caches_and_makes_no_calls_the_second_time() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo_for(&mock.url, 12, "");
    let run = eval(&r, &["--format", "json"]);
    run.expect(0);
    assert_eq!(mock.count(), 12);
    let v = json_report(&run);
    assert_eq!(v["groups"][0]["passed"], 12);
    assert_eq!(v["groups"][0]["cases"], 12);
    assert_eq!(v["run"]["stats"]["calls"], 12);
    // The request carried the key, the prompt's messages and the model.
    let seen = &mock.requests()[0];
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(seen.body["model"], "gpt-4o-mini");
    assert_eq!(seen.body["messages"][0]["role"], "system");

    let again = eval(&r, &["--format", "json"]);
    again.expect(0);
    assert_eq!(mock.count(), 12, "a second run makes zero requests");
    assert_eq!(json_report(&again)["run"]["stats"]["cached"], 12);
    // --no-cache calls again; --refresh too.
    eval(&r, &["--no-cache"]).expect(0);
    assert_eq!(mock.count(), 24);
    let text = eval(&r, &[]);
    text.expect(0);
    assert!(
        text.stdout.contains("greet") && text.stdout.contains("100.0%"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("12 cached"), "{}", text.stdout);
}

#[test]
fn concurrency_is_bounded_by_dash_j() {
    let mock = MockProvider::echoing(Duration::from_millis(80));
    let r = repo_for(&mock.url, 48, "");
    let start = Instant::now();
    eval(&r, &["-j", "8"]).expect(0);
    assert_eq!(mock.count(), 48);
    assert_eq!(
        mock.max_in_flight(),
        8,
        "in flight never exceeds -j and reaches it"
    );
    // 6 waves of 80 ms; generous bound against a loaded CI machine (timing is benchmarked, not tested).
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// A script whose first attempt for each case fails in the way `kind` picks (429, 503, a
/// body that is not JSON, a body cut short, a dropped connection), then succeeds.
fn fail_first(
    kind: fn(usize) -> usize,
) -> impl Fn(&crate::mock::Seen) -> (Reply, Duration) + Send + Sync {
    let attempts = std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new());
    move |s| {
        let who = s.user_text();
        let n = {
            let mut a = attempts.lock().unwrap();
            let e = a.entry(who.clone()).or_default();
            *e += 1;
            *e
        };
        if n > 1 {
            return (Reply::Text(format!("reply to: {who}")), Duration::ZERO);
        }
        let index = who
            .trim_start_matches("Hello person ")
            .parse::<usize>()
            .unwrap_or(0);
        let fail = match kind(index) {
            0 => Reply::RateLimited(0.05),
            1 => Reply::ServerError(503),
            2 => Reply::Garbage,
            3 => Reply::Truncated,
            _ => Reply::Drop,
        };
        (fail, Duration::ZERO)
    }
}

#[test]
fn retries_429_5xx_garbage_truncation_and_dropped_connections() {
    let mock = MockProvider::start(fail_first(|i| i % 5));
    let r = repo_for(&mock.url, 10, "");
    let run = eval(&r, &["--format", "json"]);
    run.expect(0);
    let v = json_report(&run);
    assert_eq!(v["groups"][0]["passed"], 10, "{v:#}");
    let stats = &v["run"]["stats"];
    assert_eq!(stats["retries"], 10, "{stats}");
    assert_eq!(stats["rate_limited"], 2, "{stats}");
    assert_eq!(mock.count(), 20);
    // No case lost or duplicated.
    assert_eq!(db_rows(&r, "SELECT COUNT(*) FROM results"), 10);
    assert_eq!(
        db_rows(&r, "SELECT COUNT(DISTINCT case_id) FROM results"),
        10
    );
}

#[test]
fn retries_stop_and_the_run_exits_3() {
    let mock = MockProvider::start(|_| (Reply::ServerError(500), Duration::ZERO));
    let r = repo_for(&mock.url, 3, "");
    let run = eval(&r, &["--format", "json"]);
    run.expect(3);
    // 1 attempt + max_retries (3) per case, then ERROR: reported, never scored 0.
    assert_eq!(mock.count(), 12);
    let v = json_report(&run);
    assert_eq!(v["groups"][0]["errored"], 3);
    assert_eq!(v["groups"][0]["score"], Value::Null);
    assert!(v["groups"][0]["case_results"][0]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("HTTP 500"));
    // Errors are never cached: the next run asks again.
    eval(&r, &[]).expect(3);
    assert_eq!(mock.count(), 24);
}

#[test]
fn timeouts_are_retried() {
    let first = std::sync::atomic::AtomicBool::new(true);
    let mock = MockProvider::start(move |s| {
        let slow = first.swap(false, std::sync::atomic::Ordering::SeqCst);
        (
            Reply::Text(format!("reply to: {}", s.user_text())),
            if slow {
                Duration::from_millis(1500)
            } else {
                Duration::ZERO
            },
        )
    });
    let r = repo_for(&mock.url, 1, "    timeout_s: 0.3");
    let run = eval(&r, &["--format", "json"]);
    run.expect(0);
    assert_eq!(mock.count(), 2);
    assert_eq!(json_report(&run)["run"]["stats"]["retries"], 1);
}

#[test]
fn retry_after_is_honoured() {
    let mock = MockProvider::start(|s| {
        if s.n == 0 {
            (Reply::RateLimited(1.0), Duration::ZERO)
        } else {
            (Reply::Text("reply to: x".into()), Duration::ZERO)
        }
    });
    let r = repo_for(&mock.url, 1, "");
    let start = Instant::now();
    eval(&r, &[]).expect(0);
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        start.elapsed()
    );
}

#[test]
fn interrupted_run_keeps_finished_cases_and_resume_makes_only_the_missing_requests() {
    let mock = MockProvider::echoing(Duration::from_millis(150));
    let r = repo_for(&mock.url, 40, "");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_llmops"))
        .args(["eval", "--no-progress", "-j", "4"])
        .current_dir(r.path())
        .env_clear()
        .env("HOME", r.path().join(".test-home"))
        .env("MOCK_KEY", KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while mock.count() < 12 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let kept = db_rows(&r, "SELECT COUNT(*) FROM results");
    assert!((8..40).contains(&kept), "kept {kept}");
    assert_eq!(
        db_rows(&r, "SELECT COUNT(*) FROM runs WHERE status = 'interrupted'"),
        1
    );

    let before = mock.count();
    let resumed = eval(&r, &["--resume", "--format", "json"]);
    resumed.expect(0);
    let v = json_report(&resumed);
    assert_eq!(v["run"]["id"], 1, "the same run continued");
    assert_eq!(v["groups"][0]["cases"], 40);
    // Exactly the missing cases were requested (finished ones come from the run, not the API).
    assert_eq!(mock.count() - before, 40 - kept as usize);
    assert_eq!(db_rows(&r, "SELECT COUNT(*) FROM results"), 40);
}

#[test]
fn two_processes_share_one_database() {
    let mock = MockProvider::echoing(Duration::from_millis(5));
    let r = repo_for(&mock.url, 60, "");
    let dir = r.path().to_path_buf();
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_llmops"))
            .args(["eval", "--no-progress", "--no-cache", "-j", "8"])
            .current_dir(&dir)
            .env_clear()
            .env("HOME", dir.join(".test-home"))
            .env("MOCK_KEY", KEY)
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(
        db_rows(&r, "SELECT COUNT(*) FROM runs WHERE status = 'finished'"),
        2
    );
    assert_eq!(db_rows(&r, "SELECT COUNT(*) FROM results"), 120);
    assert_eq!(db_rows(&r, "SELECT COUNT(*) FROM (SELECT run_id FROM results GROUP BY run_id HAVING COUNT(*) = 60)"), 2);
    let conn = rusqlite::Connection::open(r.path().join(".llmops/cache/llmops.db")).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn the_api_key_never_leaves_the_environment() {
    // The server echoes the key back in an error, as some real APIs do.
    let mock = MockProvider::start(|s| {
        if s.user_text().ends_with('0') {
            let auth = s.header("authorization").unwrap_or("").to_string();
            (
                Reply::Json {
                    status: 400,
                    body: serde_json::json!({"error": {"message": format!("bad request with key {auth}")}}),
                    headers: vec![],
                },
                Duration::ZERO,
            )
        } else {
            (
                Reply::Text(format!("reply to: {}", s.user_text())),
                Duration::ZERO,
            )
        }
    });
    let r = repo_for(&mock.url, 3, "");
    let mut outputs = String::new();
    for format in ["text", "json", "markdown", "junit"] {
        let run = eval(&r, &["--format", format]);
        run.expect(3);
        outputs.push_str(&run.stdout);
        outputs.push_str(&run.stderr);
    }
    let report = eval(&r, &["--format", "json", "--output", "report.json"]);
    outputs.push_str(&report.stderr);
    outputs.push_str(&std::fs::read_to_string(r.path().join("report.json")).unwrap());
    for cmd in [
        &["runs", "--format", "json"][..],
        &["report"],
        &["cache", "stats"],
    ] {
        let run = r.llmops_env(cmd, &[("MOCK_KEY", KEY)]);
        outputs.push_str(&run.stdout);
        outputs.push_str(&run.stderr);
    }
    assert!(
        outputs.contains("[redacted]"),
        "the echoed key was scrubbed: {outputs}"
    );
    assert!(!outputs.contains("SECRET-0123456789"), "{outputs}");
    for entry in std::fs::read_dir(r.path().join(".llmops/cache")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the key is in the database files"
        );
    }
}

#[test]
fn a_missing_key_stops_before_any_call() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo_for(&mock.url, 3, "");
    let run = r.llmops(&["eval", "--no-progress"]);
    run.expect(2);
    assert!(run.stderr.contains("MOCK_KEY is not set"), "{}", run.stderr);
    assert_eq!(mock.count(), 0);
}

#[test]
fn dry_run_calls_nothing_and_counts_cache_hits() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo_for(&mock.url, 5, "");
    let dry = eval(&r, &["--dry-run", "--format", "json"]);
    dry.expect(0);
    assert_eq!(mock.count(), 0);
    let v: Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(v[0]["calls"], 5);
    assert!(v[0]["est_cost_usd"].as_f64().unwrap() > 0.0);
    eval(&r, &["--filter", "c00[01]"]).expect(0);
    assert_eq!(mock.count(), 2);
    let dry = eval(&r, &["--dry-run"]);
    assert!(
        dry.stdout
            .contains("3 call(s) to make, 2 answered from the cache"),
        "{}",
        dry.stdout
    );
}

#[test]
fn budget_stops_before_overspending() {
    let mock = MockProvider::echoing(Duration::from_millis(20));
    let r = repo_for(
        &mock.url,
        30,
        "pricing:\n  gpt-4o-mini: { input: 1000, output: 1000 }",
    );
    // Each call is estimated at ~(20 input + 256 output) tokens x $1000/M, about $0.28.
    let run = eval(&r, &["--budget", "1.5", "-j", "1", "--format", "json"]);
    run.expect(1);
    assert!(run.stderr.contains("budget"), "{}", run.stderr);
    let n = mock.count();
    assert!((1..10).contains(&n), "made {n} calls");
    let spent = json_report(&run)["run"]["stats"]["spent_usd"]
        .as_f64()
        .unwrap();
    assert!(spent <= 1.5, "spent {spent}");
}

#[test]
fn shards_partition_the_cases() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo_for(&mock.url, 30, "");
    let a = json_report(eval(&r, &["--shard", "1/2", "--format", "json"]).expect(0));
    let b = json_report(eval(&r, &["--shard", "2/2", "--format", "json"]).expect(0));
    let ids = |v: &Value| -> Vec<String> {
        v["groups"][0]["case_results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (ia, ib) = (ids(&a), ids(&b));
    assert!(!ia.is_empty() && !ib.is_empty());
    assert!(ia.iter().all(|x| !ib.contains(x)));
    assert_eq!(ia.len() + ib.len(), 30);
    assert_eq!(mock.count(), 30);
    eval(&r, &["--shard", "3/2"]).expect(2);
}

#[test]
fn repeats_mark_flaky_cases_and_apply_min_pass() {
    // Sample 0 and 2 pass, sample 1 fails: 2 of 3.
    let mock = MockProvider::start(|s| {
        let text = if s.n % 3 == 1 {
            "nope".to_string()
        } else {
            format!("reply to: {}", s.user_text())
        };
        (Reply::Text(text), Duration::ZERO)
    });
    let r = repo_for(&mock.url, 1, "");
    r.write("evals/greet.yaml", "prompt: greet\ndataset: data/greet.jsonl\nrepeat: 3\nmin_pass: 2/3\nassert:\n  - type: contains\n    value: reply to\n");
    let run = eval(&r, &["-j", "1", "--format", "json"]);
    run.expect(0);
    let v = json_report(&run);
    let c = &v["groups"][0]["case_results"][0];
    assert_eq!(c["status"], "flaky");
    assert_eq!(c["passed"], true);
    assert_eq!(
        (c["passes"].as_u64(), c["samples"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(mock.count(), 3, "each sample is its own request");
}

#[test]
fn record_then_replay_offline() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo_for(&mock.url, 4, "  replay: { type: replay, path: recordings }");
    eval(&r, &["--record"]).expect(0);
    assert_eq!(mock.count(), 4);
    let rec = std::fs::read_to_string(r.path().join("recordings/greet.jsonl")).unwrap();
    assert_eq!(rec.lines().count(), 4);
    assert!(!rec.contains(KEY));
    drop(mock);
    let run = r.llmops(&[
        "eval",
        "--no-progress",
        "--provider",
        "replay",
        "--format",
        "json",
    ]);
    run.expect(0);
    assert_eq!(json_report(&run)["groups"][0]["passed"], 4);
    // A changed prompt misses, and the error names the request.
    r.write(
        "prompts/greet.prompty",
        "---\nname: greet\ninputs: { who: {} }\n---\nuser:\nHi {{ who }}\n",
    );
    let miss = r.llmops(&["eval", "--no-progress", "--provider", "replay"]);
    miss.expect(3);
    assert!(
        miss.stdout.contains("no recording for this request")
            && miss.stdout.contains("case `c000`"),
        "{}",
        miss.stdout
    );
}

#[test]
fn anthropic_and_fallback_chains() {
    let down = MockProvider::start(|_| (Reply::ServerError(503), Duration::ZERO));
    let anthropic = MockProvider::echoing(Duration::ZERO);
    let r = repo_for(&down.url, 2, &format!(
        "  claude:\n    type: anthropic\n    base_url: {}\n    api_key_env: MOCK_KEY\n  chain:\n    type: fallback\n    chain: [mock, claude]",
        anthropic.url
    ));
    let run = eval(&r, &["--provider", "chain", "--format", "json"]);
    run.expect(0);
    assert_eq!(
        down.count(),
        8,
        "the first provider was retried, then given up on"
    );
    assert_eq!(anthropic.count(), 2);
    let seen = &anthropic.requests()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.body["system"], "Be kind.");
    assert_eq!(seen.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(seen.header("x-api-key"), Some(KEY));
    assert_eq!(json_report(&run)["groups"][0]["passed"], 2);
}

#[test]
fn reports_in_every_format() {
    let mock = MockProvider::start(|s| {
        (
            Reply::Text(if s.user_text().ends_with('1') {
                "no".into()
            } else {
                "reply to: x".into()
            }),
            Duration::ZERO,
        )
    });
    let r = repo_for(&mock.url, 3, "");
    r.write("evals/greet.yaml", "prompt: greet\ndataset: data/greet.jsonl\nthresholds: { pass_rate: 0.5 }\nassert:\n  - type: contains\n    value: reply to\n");
    eval(&r, &["--format", "junit", "--output", "junit.xml"]).expect(0);
    let junit = std::fs::read_to_string(r.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuites") && junit.contains("tests=\"3\" failures=\"1\""),
        "{junit}"
    );
    assert!(junit.contains("<failure"), "{junit}");
    let md = r.llmops(&["report", "--format", "markdown"]);
    md.expect(0);
    assert!(
        md.stdout.contains("| greet |") && md.stdout.contains("c001"),
        "{}",
        md.stdout
    );
    let runs = r.llmops(&["runs"]);
    runs.expect(0);
    assert!(runs.stdout.contains("finished"), "{}", runs.stdout);
    // The bar is missed once pass_rate is raised: exit 1.
    r.write("evals/greet.yaml", "prompt: greet\ndataset: data/greet.jsonl\nthresholds: { pass_rate: 0.9 }\nassert:\n  - type: contains\n    value: reply to\n");
    let miss = eval(&r, &[]);
    miss.expect(1);
    assert!(miss.stdout.contains("MISSED"), "{}", miss.stdout);
}

#[test]
fn cache_explain_names_what_changed() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo_for(&mock.url, 2, "");
    eval(&r, &[]).expect(0);
    let hit = r.llmops(&["cache", "explain", "c000"]);
    hit.expect(0);
    assert!(hit.stdout.starts_with("HIT"), "{}", hit.stdout);
    r.write("prompts/greet.prompty", "---\nname: greet\nmodel: { parameters: { temperature: 0.7 } }\ninputs: { who: {} }\n---\nsystem:\nBe very kind.\n\nuser:\nHello {{ who }}\n");
    let miss = r.llmops(&["cache", "explain", "c000"]);
    miss.expect(0);
    assert!(miss.stdout.contains("MISS"), "{}", miss.stdout);
    assert!(
        miss.stdout.contains("parameter temperature: unset -> 0.7"),
        "{}",
        miss.stdout
    );
    assert!(
        miss.stdout.contains("message 1 (system)"),
        "{}",
        miss.stdout
    );
    let stats = r.llmops(&["cache", "stats"]);
    stats.expect(0);
    assert!(
        stats.stdout.contains("2 cached response(s)"),
        "{}",
        stats.stdout
    );
}

#[test]
fn nothing_to_evaluate_exits_4() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo_for(&mock.url, 1, "");
    std::fs::remove_file(r.path().join("evals/greet.yaml")).unwrap();
    eval(&r, &[]).expect(4);
    let r = repo_for(&mock.url, 1, "");
    let typo = eval(&r, &["gret"]);
    typo.expect(2);
    assert!(
        typo.stderr.contains("did you mean `greet`?"),
        "{}",
        typo.stderr
    );
}

#[test]
fn release_records_eval_evidence_and_diff_shows_the_deltas() {
    let mock = MockProvider::start(|s| {
        // The second version's replies fail one case in four.
        let text = if s.system_text().contains("very") && s.user_text().ends_with('0') {
            "no".to_string()
        } else {
            format!("reply to: {}", s.user_text())
        };
        (Reply::Text(text), Duration::ZERO)
    });
    let mut r = repo_for(&mock.url, 4, "");
    r.commit("registry");
    eval(&r, &[]).expect(0);
    r.llmops(&["release", "greet", "-m", "first"]).expect(0);
    let lock = std::fs::read_to_string(r.path().join(".llmops/versions.lock")).unwrap();
    assert!(lock.contains("pass_rate: 1"), "{lock}");
    r.write("prompts/greet.prompty", "---\nname: greet\ninputs: { who: {} }\n---\nsystem:\nBe very kind.\n\nuser:\nHello {{ who }}\n");
    r.commit("greet: very kind");
    eval(&r, &[]).expect(1);
    r.llmops(&["release", "greet", "-m", "second"]).expect(0);
    let d = r.llmops(&["diff", "greet", "v1", "v2", "--format", "json"]);
    d.expect(0);
    let v: Value = serde_json::from_str(&d.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains("\"pass_rate\":-0.25"), "{text}");
    let plain = r.llmops(&["diff", "greet", "v1", "v2"]);
    assert!(plain.stdout.contains("eval"), "{}", plain.stdout);
}

#[test]
fn diff_eval_runs_what_is_missing() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let mut r = repo_for(&mock.url, 3, "");
    r.commit("registry");
    r.write("prompts/greet.prompty", "---\nname: greet\ninputs: { who: {} }\n---\nsystem:\nBe brief.\n\nuser:\nHello {{ who }}\n");
    let plain = r.llmops(&["diff", "greet", "HEAD", "worktree", "--format", "json"]);
    plain.expect(0);
    assert!(
        !plain.stdout.contains("\"pass_rate\""),
        "no evidence yet: {}",
        plain.stdout
    );
    let run = r.llmops_env(
        &[
            "diff", "greet", "HEAD", "worktree", "--eval", "--format", "json",
        ],
        &[("MOCK_KEY", KEY)],
    );
    run.expect(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let e = &v["prompts"][0]["eval"];
    assert_eq!(e["a"]["n"], 3, "{e}");
    assert_eq!(e["b"]["n"], 3, "{e}");
    assert_eq!(mock.count(), 6, "both sides evaluated once");
    r.llmops_env(
        &["diff", "greet", "HEAD", "worktree", "--eval"],
        &[("MOCK_KEY", KEY)],
    )
    .expect(0);
    assert_eq!(mock.count(), 6, "evidence exists now: nothing runs again");
}

#[test]
fn redaction_masks_personal_data_in_stored_outputs_and_reports() {
    let mock = MockProvider::start(|s| {
        (
            Reply::Text(format!(
                "reply to: {} (write to ada@example.com or +1 415 555 0100)",
                s.user_text()
            )),
            Duration::ZERO,
        )
    });
    let r = repo_for(&mock.url, 2, "redaction: { pii: true }");
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ndataset: data/greet.jsonl\nassert:\n  - type: no-pii\n",
    );
    let run = eval(&r, &["--format", "json"]);
    run.expect(1);
    assert!(
        !run.stdout.contains("ada@example.com") && run.stdout.contains("[email]"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("555 0100") && run.stdout.contains("[phone]"),
        "{}",
        run.stdout
    );
    // Scored on the real text: no-pii still fails.
    assert_eq!(json_report(&run)["groups"][0]["failed"], 2);
    let conn = rusqlite::Connection::open(r.path().join(".llmops/cache/llmops.db")).unwrap();
    let stored: String = conn
        .query_row("SELECT output FROM results LIMIT 1", [], |x| x.get(0))
        .unwrap();
    assert!(
        stored.contains("[email]") && !stored.contains("ada@"),
        "{stored}"
    );
}

#[test]
fn a_filter_that_matches_nothing_exits_4_and_record_takes_cached_answers() {
    let mock = MockProvider::echoing(Duration::ZERO);
    let r = repo_for(&mock.url, 3, "  replay: { type: replay, path: recordings }");
    eval(&r, &["--filter", "no-such-case"]).expect(4);
    eval(&r, &[]).expect(0);
    let run = eval(&r, &["--record"]);
    run.expect(0);
    assert_eq!(mock.count(), 3, "recorded from the cache, not called again");
    assert!(
        run.stderr.contains("recorded 3 response(s)"),
        "{}",
        run.stderr
    );
}
