//! The HTML report with 10,000 cases: how long it takes to write, how big it is, and (when
//! Debian's Chromium is installed) how long a headless browser takes to load and draw it.
//!
//! Run with `cargo bench --bench html`.

use std::time::Instant;

use llmops::report::{self, html};
use llmops::store::{ResultRow, RunRow, RunStatus, SampleStatus, ScoreRow};

const CASES: usize = 10_000;

fn row(i: usize) -> ResultRow {
    let pass = !i.is_multiple_of(7);
    let output = format!(
        "Thanks for writing in about order #{i}. I have refunded the duplicate charge; it \
         should reach your card within 5-7 business days. <script>alert({i})</script> If it \
         does not, reply to this email and we will look again."
    );
    let score = |kind: &str, metric: &str, pass: bool, reason: String| ScoreRow {
        kind: kind.into(),
        metric: Some(metric.into()),
        pass,
        score: if pass { 1.0 } else { 0.0 },
        weight: 1.0,
        critical: false,
        error: false,
        reason,
        suspect: None,
        panel: None,
    };
    ResultRow {
        run_id: 1,
        suite: format!("suite-{}", i % 4),
        variant: format!("suite-{}", i % 4),
        prompt: format!("suite-{}", i % 4),
        prompt_hash: "0".repeat(64),
        suite_hash: "1".repeat(64),
        case_id: format!("case-{i:05}"),
        sample: 0,
        status: if pass {
            SampleStatus::Pass
        } else {
            SampleStatus::Fail
        },
        score: Some(if pass { 0.95 } else { 0.4 }),
        output: Some(output),
        error: None,
        error_kind: None,
        finish_reason: Some("stop".into()),
        provider: "replay".into(),
        model: "gpt-4o-mini".into(),
        fingerprint: format!("{i:064x}"),
        latency_ms: Some(300.0 + (i % 500) as f64),
        input_tokens: 180,
        output_tokens: 60,
        cost_usd: Some(0.00004),
        judge_input_tokens: 0,
        judge_output_tokens: 0,
        judge_cost_usd: 0.0,
        cached: true,
        retries: 0,
        vars: serde_json::json!({ "order": i, "customer": "Ada", "message": "I was charged twice for my order." }),
        metadata: serde_json::json!({}),
        description: Some(format!("duplicate charge, order {i}")),
        scores: vec![
            score("contains", "policy", true, "contains `refund`".into()),
            score(
                "llm-rubric",
                "tone",
                pass,
                format!(
                    "score {}: the reply apologises and gives a timeline; case {i}",
                    if pass { "0.9" } else { "0.3" }
                ),
            ),
            score(
                "max-length",
                "format",
                true,
                "212 characters (at most 600)".into(),
            ),
        ],
    }
}

fn main() {
    let rows: Vec<ResultRow> = (0..CASES).map(row).collect();
    let run = RunRow {
        id: 1,
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: Some("2026-01-01T00:01:00Z".into()),
        status: RunStatus::Finished,
        git_commit: Some("0".repeat(40)),
        dirty: false,
        command: "eval".into(),
        settings: serde_json::json!({}),
        plan_key: String::new(),
        stats: None,
    };
    let report = report::build(run, &rows);
    let t = Instant::now();
    let page = html::run(&report);
    let write_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{CASES} cases: written in {write_ms:.0} ms, {:.2} MB ({} bytes)",
        page.len() as f64 / 1e6,
        page.len()
    );

    let chromium = std::path::Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        println!("load time: not measured (/usr/bin/chromium is not installed)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();
    let mut ready = Vec::new();
    let drawn = regex::Regex::new(r#"data-ready="(\d+)""#).unwrap();
    for i in 0..3 {
        let t = Instant::now();
        let out = std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--dump-dom",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join(format!("profile-{i}")).display()
            ))
            .arg(format!("file://{}", file.display()))
            .stderr(std::process::Stdio::null())
            .output()
            .unwrap();
        let whole = t.elapsed().as_secs_f64() * 1000.0;
        let dom = String::from_utf8_lossy(&out.stdout);
        let ms: f64 = drawn
            .captures(&dom)
            .map(|c| c[1].parse().unwrap())
            .expect("the page did not finish drawing");
        println!(
            "load {i}: drawn {ms:.0} ms after navigation start (browser start to DOM dump: {whole:.0} ms)"
        );
        ready.push(ms);
    }
    ready.sort_by(f64::total_cmp);
    println!(
        "load time (median of 3, navigation start to first table drawn): {:.0} ms",
        ready[1]
    );
}
