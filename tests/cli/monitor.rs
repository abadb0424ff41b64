//! `llmops ingest` and `llmops monitor` on the bundled example, with seeded simulated
//! production traffic (tests/support/prodsim.rs) and OTLP fixtures made by the OpenTelemetry
//! SDK (scripts/gen_otlp_fixtures.py).

use std::path::Path;

use crate::prodsim::{Drift, Sim};
use crate::support::{copy_dir, Repo, Run};

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

/// The bundled example with its versions.lock and labels, committed.
fn example() -> Repo {
    let mut r = Repo::with_examples();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join(".llmops"), &r.path().join(".llmops"));
    r.commit("example registry");
    r
}

fn sim(days: u32, per_day: u32, drift: Drift) -> Sim {
    Sim {
        days,
        per_day,
        ..Sim::new(7, drift)
    }
}

fn monitor_json(r: &Repo, extra: &[&str]) -> (Run, serde_json::Value) {
    let mut args = vec!["monitor", "support-reply", "--format", "json"];
    args.extend_from_slice(extra);
    let run = r.llmops(&args);
    let v = json(&run);
    (run, v)
}

#[test]
fn ingest_is_idempotent_and_names_bad_lines() {
    let r = example();
    let mut text = sim(2, 20, Drift::None).jsonl();
    text.push_str("{\"ts\":\"2026-03-05T00:00:00Z\",\"prompt\":\"support-reply\",\"version\":1,\"vars\":{},\"output\":\"x\",\"latency_ms\":-3}\n");
    text.push_str("not json\n");
    text.push_str("{\"ts\":\"2026-03-05T00:00:00Z\",\"prompt\":\"support-reply\",\"version\":9,\"vars\":{},\"output\":\"x\"}\n");
    r.write("calls.jsonl", &text);
    let run = r.llmops(&["ingest", "calls.jsonl"]);
    run.expect(0);
    assert!(
        run.stdout.contains(
            "calls.jsonl: 40 call(s) read, 40 new, 0 already stored, 3 bad line(s) skipped"
        ),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("calls.jsonl:41: warning: `latency_ms`: must be a number at least 0"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("calls.jsonl:42: warning: not JSON"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("calls.jsonl:43: warning: `version`: `support-reply` has no version 9 in .llmops/versions.lock"),
        "{run:?}"
    );
    // Again: nothing new.
    let again = r.llmops(&["ingest", "calls.jsonl", "--format", "json"]);
    again.expect(0);
    let v = json(&again);
    assert_eq!(v["files"][0]["added"], 0);
    assert_eq!(v["files"][0]["already"], 40);
    assert_eq!(v["files"][0]["bad"], 3);
    assert_eq!(v["stored"], 40);
    // The same records without ids are keyed by their content: still idempotent.
    let no_ids: String = sim(1, 5, Drift::None)
        .jsonl()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("id");
            v.to_string() + "\n"
        })
        .collect();
    r.write("noid.jsonl", &no_ids);
    let first = json(&r.llmops(&["ingest", "noid.jsonl", "--format", "json"]));
    let second = json(&r.llmops(&["ingest", "noid.jsonl", "--format", "json"]));
    assert_eq!(first["files"][0]["added"], 5);
    assert_eq!(second["files"][0]["added"], 0);
    assert_eq!(second["stored"], 45);
}

#[test]
fn ingest_refuses_implausible_times_and_token_counts() {
    let r = example();
    let line = |ts: &str, usage: &str| {
        format!("{{\"ts\":\"{ts}\",\"prompt\":\"support-reply\",\"version\":1,\"vars\":{{}},\"output\":\"x\",\"usage\":{usage}}}\n")
    };
    let text = [
        line("1970-01-01T00:00:00Z", "{}"),
        line("9999-01-01T00:00:00Z", "{}"),
        line(
            "2026-03-05T00:00:00Z",
            "{\"input_tokens\": 18446744073709551615}",
        ),
        line("2026-03-05T00:00:00Z", "{\"input_tokens\": 12}"),
    ]
    .concat();
    r.write("odd.jsonl", &text);
    let run = r.llmops(&["ingest", "odd.jsonl"]);
    run.expect(0);
    assert!(
        run.stdout.contains("1 new") && run.stdout.contains("3 bad line(s)"),
        "{run:?}"
    );
    for (n, what) in [
        (1, "1970-01-01T00:00:00.000Z is not a plausible call time"),
        (2, "9999-01-01T00:00:00.000Z is not a plausible call time"),
        (3, "must be a whole number from 0 to 1000000000"),
    ] {
        assert!(
            run.stderr.contains(&format!("odd.jsonl:{n}: warning: ")),
            "{run:?}"
        );
        assert!(run.stderr.contains(what), "{what}: {run:?}");
    }
    // `--min-samples 0` would call an empty window OK.
    r.llmops(&["monitor", "--min-samples", "0"]).expect(2);
}

#[test]
fn strict_stores_nothing_from_a_file_with_a_bad_line() {
    let r = example();
    let mut text = sim(1, 10, Drift::None).jsonl();
    text.push_str("{\"ts\":\"yesterday\",\"prompt\":\"support-reply\",\"version\":1,\"vars\":{},\"output\":\"x\"}\n");
    r.write("bad.jsonl", &text);
    r.write(
        "good.jsonl",
        &Sim {
            seed: 99,
            ..sim(1, 4, Drift::None)
        }
        .jsonl(),
    );
    let run = r.llmops(&["ingest", "--strict", "good.jsonl", "bad.jsonl"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("bad.jsonl:11: error: `ts`: `yesterday` is not an RFC 3339 time"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("bad.jsonl: not stored: 1 bad line(s) under --strict"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("good.jsonl: 4 call(s) read, 4 new"),
        "{run:?}"
    );
    let v = json(&r.llmops(&["ingest", "good.jsonl", "--format", "json"]));
    assert_eq!(v["stored"], 4, "only the good file was stored");
}

#[test]
fn ingest_masks_secrets_and_personal_data_before_storing() {
    let r = example();
    let yaml = r.read("llmops.yaml").replace("  pii: false", "  pii: true");
    r.write("llmops.yaml", &yaml);
    let rec = serde_json::json!({
        "ts": "2026-03-01T10:00:00Z", "prompt": "support-reply", "version": 1,
        "vars": {"customer_name": "Ada", "email": "ada.lovelace@fastmail.com"},
        "output": "Hi Ada, we wrote to ada.lovelace@fastmail.com; key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234567890abcd",
        "metadata": {"phone": "+1 415 829 3301"}
    });
    r.write("pii.jsonl", &format!("{rec}\n"));
    r.llmops(&["ingest", "pii.jsonl"]).expect(0);
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(r.path().join(".llmops/cache")).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("Hi Ada"), "the call was stored");
    for secret in [
        "ada.lovelace@fastmail.com",
        "sk-proj-ABCDEFGHIJ",
        "829 3301",
    ] {
        assert!(!stored.contains(secret), "`{secret}` reached the store");
    }
}

#[test]
fn a_label_resolves_to_the_version_it_pointed_at_when_the_call_was_made() {
    let r = example();
    // The test repository's commits are dated November 2023.
    let line = |ts: &str| {
        format!("{{\"ts\":\"{ts}\",\"prompt\":\"support-reply\",\"label\":\"production\",\"vars\":{{}},\"output\":\"Hi Ada, done.\"}}\n")
    };
    r.write(
        "labels.jsonl",
        &(line("2026-03-01T00:00:00Z") + &line("2020-01-01T00:00:00Z")),
    );
    let run = r.llmops(&["ingest", "labels.jsonl"]);
    run.expect(0);
    assert!(run.stdout.contains("1 call(s) read, 1 new"), "{run:?}");
    assert!(
        run.stderr.contains("labels.jsonl:2: warning: `label`: label `production` did not point at a version of `support-reply` at 2020-01-01T00:00:00.000Z"),
        "{run:?}"
    );
}

#[test]
fn otlp_spans_from_the_sdk_are_ingested_with_their_genai_attributes() {
    let r = example();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/otlp/genai-spans.json");
    r.write("spans.json", &std::fs::read_to_string(fixture).unwrap());
    let run = r.llmops(&["ingest", "spans.json"]);
    run.expect(0);
    assert!(
        run.stdout.contains("spans.json: 8 call(s) read, 8 new, 0 already stored, 8 span(s) without `llmops.prompt` ignored"),
        "{run:?}"
    );
    r.llmops(&["ingest", "spans.json"]).expect(0);
    let (run, v) = monitor_json(&r, &["--reference", "previous"]);
    run.expect(0);
    let w = &v["prompts"][0]["versions"][0]["windows"][0];
    assert_eq!(w["n"], 8, "{v}");
    // Every reply greets and signs off: the suite's format checks pass on them all.
    assert_eq!(w["pass_rate"], 1.0, "{v}");
    assert_eq!(w["refusal_rate"], 0.0, "{v}");
    let tokens = w["tokens"].as_f64().unwrap();
    assert!((280.0..360.0).contains(&tokens), "{tokens}");
    let p95 = w["latency_p95_ms"].as_f64().unwrap();
    assert!((600.0..1001.0).contains(&p95), "{p95}");
}

/// Each injected drift is detected by the metric it moves, and stable traffic is OK.
#[test]
fn monitor_detects_each_drift_and_stays_quiet_on_stable_traffic() {
    for (drift, metric) in [
        (Drift::None, None),
        (Drift::Refusal, Some("refusal rate")),
        (Drift::Length, Some("output length")),
        (Drift::Cost, Some("cost")),
        (Drift::ModelSwap, Some("metric format")),
    ] {
        let r = example();
        r.write("calls.jsonl", &sim(14, 500, drift).jsonl());
        r.llmops(&["ingest", "calls.jsonl"]).expect(0);
        let (run, v) = monitor_json(&r, &["--reference", "previous"]);
        let p = &v["prompts"][0];
        let windows = p["versions"][0]["windows"].as_array().unwrap();
        assert_eq!(windows.len(), 2, "{drift:?}");
        let drifted: Vec<&str> = windows[1]["tests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["drift"] == true)
            .map(|t| t["metric"].as_str().unwrap())
            .collect();
        match metric {
            None => {
                run.expect(0);
                assert_eq!(p["verdict"], "OK", "{drift:?}: {}", p["why"]);
                assert!(windows.iter().all(|w| w["verdict"] != "DRIFT"), "{v}");
            }
            Some(m) => {
                run.expect(1);
                assert_eq!(p["verdict"], "DRIFT", "{drift:?}");
                assert!(drifted.contains(&m), "{drift:?}: {drifted:?}");
                assert_eq!(
                    windows[0]["verdict"], "INCONCLUSIVE",
                    "nothing before the first window"
                );
            }
        }
    }
}

#[test]
fn the_trend_table_fits_80_columns_and_markdown_has_every_column() {
    let r = example();
    r.write("calls.jsonl", &sim(21, 500, Drift::Refusal).jsonl());
    r.llmops(&["ingest", "calls.jsonl"]).expect(0);
    let run = r.llmops_env(
        &["monitor", "--reference", "previous"],
        &[("COLUMNS", "80")],
    );
    run.expect(1);
    let head = run.stdout.split("\n┌").next().unwrap();
    assert!(
        head.starts_with("support-reply: DRIFT (v1, window from 2026-03-15: drifted: "),
        "{run:?}"
    );
    assert!(head.contains("refusal rate"), "{run:?}");
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    assert!(run.stdout.contains("2026-03-08"), "{run:?}");
    assert!(run.stdout.contains("drift: refusal rate:"), "{run:?}");
    assert!(
        run.stdout
            .contains("not scored: evals-example/support-reply.yaml: `llm-rubric`"),
        "{run:?}"
    );
    let md = r.llmops(&["monitor", "--reference", "previous", "--format", "markdown"]);
    md.expect(1);
    assert!(md.stdout.contains("## support-reply — DRIFT"), "{md:?}");
    assert!(md.stdout.contains("| VER | WINDOW | CALLS | PASS | SCORE | REFUSAL | LENGTH | TOKENS | COST | P95 MS | VERDICT |"), "{md:?}");
}

#[test]
fn evidence_is_the_eval_run_of_the_versions_content() {
    let r = example();
    r.write("calls.jsonl", &sim(7, 100, Drift::None).jsonl());
    r.llmops(&["ingest", "calls.jsonl"]).expect(0);
    let (run, v) = monitor_json(&r, &[]);
    run.expect(0);
    assert_eq!(v["prompts"][0]["verdict"], "INCONCLUSIVE");
    assert!(
        v["prompts"][0]["why"]
            .as_str()
            .unwrap()
            .contains("no release evidence"),
        "{v}"
    );
    // A model swap: no production reply greets the customer, as every evaluated one did.
    let swapped = Sim {
        seed: 3,
        change_day: 0,
        ..sim(3, 100, Drift::ModelSwap)
    };
    let r2 = example();
    r2.llmops(&["eval", "support-reply"]).expect(0);
    r2.write("swap.jsonl", &swapped.jsonl());
    r2.llmops(&["ingest", "swap.jsonl"]).expect(0);
    let (run, v) = monitor_json(&r2, &["--reference", "evidence"]);
    run.expect(1);
    let ver = &v["prompts"][0]["versions"][0];
    assert!(ver["evidence_samples"].as_u64().unwrap() > 0, "{v}");
    assert!(ver["evidence_run"].as_i64().is_some(), "{v}");
    assert_eq!(v["prompts"][0]["verdict"], "DRIFT", "{v}");
}

#[test]
fn on_drift_rollback_moves_the_label_back_in_a_commit() {
    let r = example();
    // Release a v2 and put it in production.
    let prompt = r.read("prompts-example/support-reply.prompty");
    r.write(
        "prompts-example/support-reply.prompty",
        &prompt.replacen("temperature: 0.3", "temperature: 0.4", 1),
    );
    r.llmops(&["release", "support-reply", "-m", "warmer"])
        .expect(0);
    r.llmops(&["promote", "support-reply", "v2", "--label", "production"])
        .expect(0);
    let calls = sim(14, 500, Drift::Refusal)
        .jsonl()
        .replace("\"version\":1", "\"version\":2");
    r.write("calls.jsonl", &calls);
    r.llmops(&["ingest", "calls.jsonl"]).expect(0);
    let head = r.head();
    let run = r.llmops(&[
        "monitor",
        "--reference",
        "previous",
        "--on-drift",
        "rollback",
    ]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("support-reply: rolled back: production v2 -> v1"),
        "{run:?}"
    );
    assert_ne!(r.head(), head, "a rollback commit");
    assert!(
        r.read(".llmops/labels/production.yaml")
            .contains("support-reply: { version: 1,"),
        "{}",
        r.read(".llmops/labels/production.yaml")
    );
    assert!(
        r.head_message().contains("Rollback-To: v1"),
        "{}",
        r.head_message()
    );
    assert!(
        r.head_message().contains("llmops monitor: v2"),
        "{}",
        r.head_message()
    );
    // Again: the label no longer points at the version that drifted; nothing is committed.
    let head = r.head();
    let again = r.llmops(&[
        "monitor",
        "--reference",
        "previous",
        "--on-drift",
        "rollback",
    ]);
    again.expect(1);
    assert!(
        again
            .stderr
            .contains("not rolled back: label `production` points at v1, not at v2"),
        "{again:?}"
    );
    assert_eq!(r.head(), head);
}

#[test]
fn monitor_with_nothing_ingested_says_what_to_do() {
    let r = example();
    let run = r.llmops(&["monitor"]);
    run.expect(4);
    assert!(run.stderr.contains("llmops ingest FILE"), "{run:?}");
    let run = r.llmops(&["monitor", "--window", "0d"]);
    run.expect(2);
    let run = r.llmops(&["monitor", "--alpha", "2"]);
    run.expect(2);
}

/// The committed example traffic is what the seeded generator writes.
#[test]
fn the_example_production_log_is_the_generators_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed =
        std::fs::read_to_string(root.join("examples/production/support-reply.jsonl")).unwrap();
    assert!(
        committed == crate::prodsim::example().jsonl(),
        "regenerate with `cargo test --test cli write_example_production_log -- --ignored`"
    );
}

#[test]
#[ignore = "writes examples/production/support-reply.jsonl"]
fn write_example_production_log() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(root.join("examples/production")).unwrap();
    std::fs::write(
        root.join("examples/production/support-reply.jsonl"),
        crate::prodsim::example().jsonl(),
    )
    .unwrap();
}

/// Every record example in docs/production.md, and generated traffic, is valid under the
/// published JSON Schema; broken records are not.
#[test]
fn the_record_schema_accepts_the_documented_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/schemas/production-record.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc = std::fs::read_to_string(root.join("docs/production.md")).unwrap();
    let mut examples = Vec::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            inside = line.trim() == "```jsonl";
            continue;
        }
        if inside && !line.trim().is_empty() {
            examples.push(line.to_string());
        }
    }
    assert!(examples.len() >= 3, "{examples:?}");
    examples.extend(sim(1, 3, Drift::None).jsonl().lines().map(str::to_string));
    for e in &examples {
        let v: serde_json::Value =
            serde_json::from_str(e).unwrap_or_else(|err| panic!("{err}: {e}"));
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{e}: {errors:?}");
    }
    for bad in [
        r#"{"ts":"2026-03-01T00:00:00Z","prompt":"p","vars":{},"output":"x"}"#,
        r#"{"ts":"2026-03-01T00:00:00Z","prompt":"p","version":1,"label":"production","vars":{},"output":"x"}"#,
        r#"{"ts":"2026-03-01T00:00:00Z","prompt":"p","version":1,"vars":{},"output":"x","extra":1}"#,
        r#"{"ts":"2026-03-01T00:00:00Z","prompt":"p","version":1,"vars":{},"output":"x","usage":{"input_tokens":-1}}"#,
    ] {
        let v: serde_json::Value = serde_json::from_str(bad).unwrap();
        assert!(!validator.is_valid(&v), "accepted {bad}");
    }
}

/// docs/production.md runs as written on a fresh clone: every `$ ` line gives the exit code
/// the text claims, and the trend table shown is what the binary prints.
#[test]
fn docs_production_md_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/production.md")).unwrap();
    let lines = crate::readme::commands(&doc);
    assert!(lines.len() >= 6, "{lines:?}");
    let dir = crate::readme::fresh_copy();
    let shown_after = "llmops monitor support-reply --reference previous";
    let start = doc
        .find("```text\nsupport-reply: ")
        .expect("the shown output");
    let block = &doc[start + "```text\n".len()..];
    let shown = &block[..block.find("```").unwrap()];
    let mut compared = false;
    for (line, want) in &lines {
        let (code, stderr, stdout) = crate::readme::shell_in(dir.path(), line);
        assert_eq!(
            code, *want,
            "docs/production.md: `{line}` exited {code}, the text says {want}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        if line == shown_after && !compared {
            assert_eq!(
                stdout, shown,
                "docs/production.md's output differs from the binary"
            );
            compared = true;
        }
    }
    assert!(compared, "no `{shown_after}` line");
}

#[test]
fn a_hash_names_a_released_version_and_standard_input_is_read() {
    let r = example();
    let hash = "b30c83aad06e2ce8f93420021f5d4855f1cfff2ebec025adc0ca9ada6b2aa36d";
    let line = |h: &str, id: u32| {
        format!("{{\"id\":\"h{id}\",\"ts\":\"2026-03-01T00:00:00Z\",\"prompt\":\"support-reply\",\"hash\":\"{h}\",\"vars\":{{}},\"output\":\"Hi Ada, done.\"}}\n")
    };
    r.write("hash.jsonl", &(line(hash, 1) + &line("deadbeef", 2)));
    let (code, stderr, stdout) =
        crate::readme::shell_in(r.path(), "cat hash.jsonl | llmops ingest -");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("-: 1 call(s) read, 1 new"), "{stdout}");
    assert!(
        stderr.contains("-:2: warning: `hash`: no released version of `support-reply` has content hash `deadbeef`"),
        "{stderr}"
    );
    // --strict on standard input: nothing from it is stored.
    let (code, _, stdout) = crate::readme::shell_in(
        r.path(),
        "sed 's/h1/h3/' hash.jsonl | llmops ingest --strict -",
    );
    assert_eq!(code, 2);
    assert!(stdout.contains("-: not stored"), "{stdout}");
    let v = json(&r.llmops(&["ingest", "--format", "json", "hash.jsonl"]));
    assert_eq!(v["stored"], 1);
}

#[test]
fn since_leaves_out_older_calls_and_windows_start_there() {
    let r = example();
    r.write("calls.jsonl", &sim(14, 50, Drift::None).jsonl());
    r.llmops(&["ingest", "calls.jsonl"]).expect(0);
    let (run, v) = monitor_json(
        &r,
        &[
            "--reference",
            "previous",
            "--since",
            "2026-03-10",
            "--window",
            "1d",
        ],
    );
    run.expect(0);
    let windows = v["prompts"][0]["versions"][0]["windows"]
        .as_array()
        .unwrap();
    assert_eq!(windows.len(), 5, "{v}");
    assert_eq!(windows[0]["start"], "2026-03-10T00:00:00.000Z");
    assert_eq!(v["prompts"][0]["versions"][0]["calls"], 250);
    assert_eq!(v["since"], "2026-03-10T00:00:00.000Z");
    let bad = r.llmops(&["monitor", "--since", "last week"]);
    bad.expect(2);
    assert!(
        bad.stderr.contains("expected a date such as `2026-03-01`"),
        "{bad:?}"
    );
}
