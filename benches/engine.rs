//! Throughput of `llmops eval` against a provider of known latency, and a fully cached re-run.
//!
//! Run with `cargo bench --bench engine`.
//!
//! A mock OpenAI-compatible server on 127.0.0.1 answers every request after exactly L ms.
//! With N calls and C in flight, no scheduler can finish before ceil(N/C)·L, so the ratio of
//! wall time to that bound measures the runner's overhead. SPEC.md's bar: at most
//! 1.10 × bound + 0.3 s, under 0.2 ms of CPU per case, and a fully cached re-run of 10,000
//! cases under 1 s. Each measurement is a whole `llmops` process, as a user runs it.

#[path = "../tests/support/mock_provider.rs"]
mod mock;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const LATENCY_MS: u64 = 25;
const N: usize = 2000;
const CACHED_N: usize = 10_000;

fn registry(dir: &Path, url: &str, cases: usize) {
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::create_dir_all(dir.join("evals/data")).unwrap();
    std::fs::write(
        dir.join("llmops.yaml"),
        format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: gpt-4o-mini }}\nproviders:\n  mock: {{ type: openai, base_url: {url}, max_retries: 0 }}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("prompts/answer.prompty"),
        "---\nname: answer\nmodel: { parameters: { temperature: 0, max_tokens: 64 } }\ninputs:\n  question: { type: string }\n  topic: { type: string, default: general }\n---\nsystem:\nAnswer briefly. Topic: {{ topic }}.\n\nuser:\n{{ question }}\n",
    )
    .unwrap();
    let rows: String = (0..cases)
        .map(|i| {
            format!(
                "{{\"id\": \"q{i:05}\", \"vars\": {{\"question\": \"What is {i} squared?\"}}}}\n"
            )
        })
        .collect();
    std::fs::write(dir.join("evals/data/answer.jsonl"), rows).unwrap();
    std::fs::write(
        dir.join("evals/answer.yaml"),
        "prompt: answer\ndataset: data/answer.jsonl\nassert:\n  - type: contains\n    value: reply\n  - type: max-length\n    value: 400\n  - type: not-is-refusal\n",
    )
    .unwrap();
}

fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn eval(dir: &Path, args: &[&str]) -> (Duration, Duration) {
    let cpu0 = children_cpu();
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_llmops"))
        .args(["eval", "--no-progress", "--format", "json"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .output()
        .expect("run llmops");
    let wall = start.elapsed();
    assert!(
        out.status.code() == Some(0),
        "llmops failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (wall, children_cpu() - cpu0)
}

fn main() {
    let mock = mock::MockProvider::start(|s| {
        (
            mock::Reply::Text(format!("reply: {}", s.user_text())),
            Duration::from_millis(LATENCY_MS),
        )
    });
    let tmp = tempfile::tempdir().unwrap();
    registry(tmp.path(), &mock.url, N);
    println!("mock provider latency L = {LATENCY_MS} ms, N = {N} calls, fresh process per run\n");
    println!(
        "{:>4} {:>10} {:>10} {:>8} {:>12} {:>10} {:>14}",
        "C", "wall s", "bound s", "ratio", "bar s", "wall", "CPU ms/case"
    );
    for c in [1usize, 8, 64] {
        let before = mock.count();
        let (wall, cpu) = eval(tmp.path(), &["--no-cache", "-j", &c.to_string()]);
        assert_eq!(mock.count() - before, N, "every case made exactly one call");
        let bound = (N.div_ceil(c) as f64) * LATENCY_MS as f64 / 1000.0;
        let bar = 1.10 * bound + 0.3;
        let per_case = cpu.as_secs_f64() * 1000.0 / N as f64;
        let ok = wall.as_secs_f64() <= bar;
        // CPU here includes the HTTP client's own work on every live call, not only the
        // runner's scheduling; the cached run below isolates the runner.
        println!(
            "{c:>4} {:>10.3} {bound:>10.3} {:>8.3} {bar:>12.3} {:>10} {per_case:>14.3}",
            wall.as_secs_f64(),
            wall.as_secs_f64() / bound,
            if ok { "ok" } else { "MISSED" }
        );
    }

    let cached = tempfile::tempdir().unwrap();
    registry(cached.path(), &mock.url, CACHED_N);
    let fast = mock::MockProvider::start(|s| {
        (
            mock::Reply::Text(format!("reply: {}", s.user_text())),
            Duration::ZERO,
        )
    });
    registry(cached.path(), &fast.url, CACHED_N);
    let (fill, _) = eval(cached.path(), &["-j", "64"]);
    let before = fast.count();
    let mut walls = Vec::new();
    for _ in 0..3 {
        let (wall, cpu) = eval(cached.path(), &[]);
        walls.push((wall, cpu));
    }
    assert_eq!(fast.count(), before, "a cached re-run makes no calls");
    walls.sort();
    let (wall, cpu) = walls[1];
    println!(
        "\ncached re-run of {CACHED_N} cases (median of 3; filling the cache took {:.2} s): {:.3} s wall, {:.3} ms CPU per case (runner overhead, bar 0.2 ms); bar 1 s: {}",
        fill.as_secs_f64(),
        wall.as_secs_f64(),
        cpu.as_secs_f64() * 1000.0 / CACHED_N as f64,
        if wall.as_secs_f64() < 1.0 { "ok" } else { "MISSED" }
    );
}
