//! Throughput under a provider's rate limits, CPU per live call, a large run against a fast
//! mock, a 100,000-case cached re-run, and the mock's own throughput.
//!
//! Run with `cargo bench --bench limits` (add `-- --quick` to skip the 100,000-case re-run).
//!
//! Every figure is printed against its theoretical bound:
//! - a limit of R requests a minute with a burst of B lets N calls of latency L finish no
//!   sooner than (N − B)/(R/60) + L; the bar is ≥ 0.9 × R achieved and ≤ 5% of requests 429,
//!   with every case answered, with and without `Retry-After`;
//! - N calls at C in flight and latency L take at least ceil(N/C)·L; the bar is
//!   1.10 × bound + 0.3 s, and at most 0.2 ms of CPU per live call;
//! - a cached re-run of 100,000 cases under 5 s with a peak RSS under 200 MB.
//!
//! Each llmops measurement is a whole process, as a user runs it; its CPU and peak RSS come
//! from `wait4`. The machine's load average is printed first: other work skews every figure.
//!
//! `flamegraph-live-j4.svg` beside this file is `perf record --call-graph dwarf` of the
//! 2,000-call `-j 4` run, folded with inferno. The CPU splits about 40% async workers (HTTP
//! client, calls, scoring), 40% the main loop and the planner (rendering, fingerprints, cache
//! lookups), 18% the store writer (SQLite); the hottest leaves are thread wake-ups (context
//! switches, futexes: about 15%), memcpy and malloc. Scoring short answers on the async worker
//! instead of the rayon pool took `-j 4` from 0.33 to 0.18 ms of CPU per call.

#[path = "../tests/support/mock_provider.rs"]
mod mock;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mock::{FastConfig, FastMock};

fn registry(dir: &Path, url: &str, cases: usize) {
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::create_dir_all(dir.join("evals/data")).unwrap();
    std::fs::write(
        dir.join("llmops.yaml"),
        format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: gpt-4o-mini }}\nproviders:\n  mock: {{ type: openai, base_url: {url}, max_retries: 2 }}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("prompts/answer.prompty"),
        "---\nname: answer\nmodel: { parameters: { temperature: 0, max_tokens: 64 } }\ninputs:\n  question: { type: string }\n---\nsystem:\nAnswer briefly.\n\nuser:\n{{ question }}\n",
    )
    .unwrap();
    let mut rows = String::with_capacity(cases * 56);
    for i in 0..cases {
        rows.push_str(&format!(
            "{{\"id\": \"q{i:06}\", \"vars\": {{\"question\": \"What is {i} squared?\"}}}}\n"
        ));
    }
    std::fs::write(dir.join("evals/data/answer.jsonl"), rows).unwrap();
    std::fs::write(
        dir.join("evals/answer.yaml"),
        "prompt: answer\ndataset: data/answer.jsonl\nassert:\n  - type: contains\n    value: reply\n  - type: max-length\n    value: 400\n",
    )
    .unwrap();
}

/// The parts of a report the bench reads. The case list is skipped as it is parsed: the
/// bench's own peak RSS must stay small, because a child's `ru_maxrss` starts from the peak
/// of the process that spawned it (the kernel carries the parent's high-water mark across
/// `vfork` + `exec`), and a 100,000-case report parsed whole is a 250 MB `Value`.
#[derive(serde::Deserialize)]
struct Lean {
    run: LeanRun,
    groups: Vec<LeanGroup>,
}

#[derive(serde::Deserialize)]
struct LeanRun {
    #[serde(default)]
    stats: serde_json::Value,
}

#[derive(serde::Deserialize, serde::Serialize)]
struct LeanGroup {
    passed: u64,
    failed: u64,
    errored: u64,
}

/// This process's own peak RSS in MB: a child's figure is never below what this was when the
/// child was spawned (see [`Lean`]).
fn own_peak_mb() -> f64 {
    // SAFETY: getrusage writes into the local we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

struct Ran {
    wall: Duration,
    cpu: Duration,
    max_rss_mb: f64,
    report: serde_json::Value,
}

fn eval(dir: &Path, args: &[&str]) -> Ran {
    let out = dir.join("report.json");
    let mut all = vec![
        "--format",
        "json",
        "--output",
        out.to_str().expect("utf-8 temp path"),
    ];
    all.extend_from_slice(args);
    eval_as(dir, &all)
}

/// `llmops eval --no-progress` with `args`, as a user runs it.
// The child is reaped by `wait4` below, which also gives its own CPU time and peak RSS.
#[allow(clippy::zombie_processes)]
fn eval_as(dir: &Path, args: &[&str]) -> Ran {
    let _ = std::fs::remove_file(dir.join("report.json"));
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_llmops"))
        .args(["eval", "--no-progress"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run llmops");
    let mut status = 0;
    // SAFETY: wait4 writes the child's status and usage into the locals we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let report = std::fs::File::open(dir.join("report.json"))
        .ok()
        .and_then(|f| serde_json::from_reader::<_, Lean>(std::io::BufReader::new(f)).ok())
        .map(|l| serde_json::json!({ "run": { "stats": l.run.stats }, "groups": l.groups }))
        .unwrap_or(serde_json::Value::Null);
    Ran {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        report,
    }
}

fn answered(r: &Ran) -> (u64, u64) {
    let g = &r.report["groups"][0];
    let n = |k: &str| g[k].as_u64().unwrap_or(0);
    (n("passed") + n("failed"), n("errored"))
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Requests a second the fast mock serves to `conns` keep-alive connections for `secs`,
/// from a client of one thread (the mock has the other).
fn mock_throughput(conns: usize, secs: f64) -> f64 {
    let m = FastMock::start(FastConfig {
        threads: 1,
        ..FastConfig::default()
    });
    let addr = m.url.trim_start_matches("http://").to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body =
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 2 squared?"}]}"#;
    let req = format!("POST /chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let done: usize = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (addr, req) = (addr.clone(), req.clone());
            tasks.push(tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                let mut n = 0usize;
                let mut buf = vec![0u8; 4096];
                while Instant::now() < until {
                    s.write_all(req.as_bytes()).await.unwrap();
                    // One answer: head, then content-length bytes.
                    let mut have = 0usize;
                    loop {
                        let k = s.read(&mut buf[have..]).await.unwrap();
                        assert!(k > 0, "mock closed");
                        have += k;
                        let text = &buf[..have];
                        if let Some(h) = text.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = std::str::from_utf8(&text[..h]).unwrap();
                            let len: usize = head
                                .split("\r\n")
                                .find_map(|l| l.strip_prefix("content-length: "))
                                .and_then(|v| v.parse().ok())
                                .unwrap();
                            if have >= h + 4 + len {
                                break;
                            }
                        }
                    }
                    n += 1;
                }
                n
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(m.count(), done);
    done as f64 / secs
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let only = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--") && a != "--bench");
    let run = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    println!("load average at start: {}\n", load());

    if run("mock") {
        let rps = mock_throughput(32, 3.0);
        println!("fast mock: {rps:.0} requests/s (1 server thread + 1 client thread, 32 keep-alive connections); bar 20000: {}\n", if rps >= 20_000.0 { "ok" } else { "MISSED" });
    }

    if run("limit") {
        const RPM: f64 = 1200.0;
        const BURST: f64 = 20.0;
        const N: usize = 400;
        let latency = Duration::from_millis(50);
        let bound = (N as f64 - BURST) / (RPM / 60.0) + latency.as_secs_f64();
        println!("rate limit {RPM} RPM, burst {BURST}, latency 50 ms, N = {N}, -j 64; bound {bound:.2} s");
        println!(
            "{:<34} {:>7} {:>7} {:>9} {:>7} {:>9} {:>7} {:>6}",
            "server sends", "wall s", "ratio", "req/s", "×limit", "429 share", "errors", "bar"
        );
        for (name, retry_after, headers, j) in [
            ("Retry-After + x-ratelimit-*", true, true, "64"),
            ("x-ratelimit-* (no Retry-After)", false, true, "64"),
            ("nothing (no hints at all)", false, false, "64"),
            ("Retry-After + x-ratelimit-*, -j 4", true, true, "4"),
        ] {
            let m = FastMock::start(FastConfig {
                latency,
                rpm: Some(RPM),
                burst: BURST,
                retry_after,
                ratelimit_headers: headers,
                threads: 1,
                ..FastConfig::default()
            });
            let tmp = tempfile::tempdir().unwrap();
            registry(tmp.path(), &m.url, N);
            let r = eval(tmp.path(), &["--no-cache", "-j", j]);
            let (ok, errors) = answered(&r);
            let rps = N as f64 / r.wall.as_secs_f64();
            let share = m.limited() as f64 / m.count() as f64;
            let pass = rps >= 0.9 * RPM / 60.0 && share <= 0.05 && ok == N as u64 && errors == 0;
            println!(
                "{name:<34} {:>7.2} {:>7.3} {rps:>9.2} {:>7.3} {:>8.1}% {errors:>7} {:>6}",
                r.wall.as_secs_f64(),
                r.wall.as_secs_f64() / bound,
                rps / (RPM / 60.0),
                share * 100.0,
                if pass { "ok" } else { "MISSED" }
            );
            let s = &r.report["run"]["stats"];
            println!(
                "    concurrency up to {} of {j}, {} at the end (low {}); {:.1} s held back; {} answers 429",
                s["concurrency_peak"], s["concurrency_end"], s["concurrency_low"], s["limited_s"].as_f64().unwrap_or(0.0), m.limited()
            );
        }
        println!();
    }

    if run("cpu") || run("wall") {
        let latency = Duration::from_millis(5);
        let m = FastMock::start(FastConfig {
            latency,
            threads: 1,
            ..FastConfig::default()
        });
        println!("live calls against the fast mock, latency 5 ms, fresh process per run");
        println!("(served: the latency the mock really slept, its timer rounding up; ratio′ is against the bound at that latency)");
        println!(
            "{:>6} {:>4} {:>8} {:>8} {:>7} {:>8} {:>6} {:>9} {:>7} {:>12} {:>6}",
            "N",
            "C",
            "wall s",
            "bound s",
            "ratio",
            "bar s",
            "wall",
            "served ms",
            "ratio′",
            "CPU ms/call",
            "CPU"
        );
        for (n, c) in [(2000usize, 4usize), (2000, 64), (10_000, 64)] {
            let tmp = tempfile::tempdir().unwrap();
            registry(tmp.path(), &m.url, n);
            let before = m.count();
            m.counters
                .slept_us
                .store(0, std::sync::atomic::Ordering::SeqCst);
            m.counters.ok.store(0, std::sync::atomic::Ordering::SeqCst);
            let r = eval(tmp.path(), &["--no-cache", "-j", &c.to_string()]);
            let served = m.served_latency().as_secs_f64();
            let bound_served = n.div_ceil(c) as f64 * served;
            assert_eq!(m.count() - before, n, "every case made exactly one call");
            assert_eq!(answered(&r), (n as u64, 0));
            let bound = n.div_ceil(c) as f64 * latency.as_secs_f64();
            let bar = 1.10 * bound + 0.3;
            let per = r.cpu.as_secs_f64() * 1000.0 / n as f64;
            println!(
                "{n:>6} {c:>4} {:>8.3} {bound:>8.3} {:>7.3} {bar:>8.3} {:>6} {:>9.2} {:>7.3} {per:>12.3} {:>6}",
                r.wall.as_secs_f64(),
                r.wall.as_secs_f64() / bound,
                if r.wall.as_secs_f64() <= bar {
                    "ok"
                } else {
                    "MISSED"
                },
                served * 1000.0,
                r.wall.as_secs_f64() / bound_served,
                if per <= 0.2 { "ok" } else { "MISSED" }
            );
        }
        println!("bars: wall ≤ 1.10 × bound + 0.3 s (N = 10,000), CPU ≤ 0.2 ms per live call\n");
    }

    if run("cached") && !quick {
        const N: usize = 100_000;
        let m = FastMock::start(FastConfig {
            threads: 1,
            ..FastConfig::default()
        });
        let tmp = tempfile::tempdir().unwrap();
        registry(tmp.path(), &m.url, N);
        let fill = eval(tmp.path(), &["-j", "64"]);
        assert_eq!(answered(&fill), (N as u64, 0));
        let before = m.count();
        println!(
            "cached re-run of {N} cases (median of 3; fill took {:.1} s):",
            fill.wall.as_secs_f64()
        );
        for (name, json) in [("terminal report", false), ("--format json --output", true)] {
            let mut runs: Vec<Ran> = (0..3)
                .map(|_| {
                    if json {
                        eval(tmp.path(), &[])
                    } else {
                        eval_as(tmp.path(), &[])
                    }
                })
                .collect();
            assert_eq!(m.count(), before, "a cached re-run makes no calls");
            if json {
                assert_eq!(answered(&runs[0]), (N as u64, 0));
            }
            runs.sort_by_key(|r| r.wall);
            let r = &runs[1];
            println!(
                "  {name:<24} {:.2} s wall (bar 5 s: {}), {:.1} MB peak RSS (bar 200 MB: {}), {:.4} ms CPU per case",
                r.wall.as_secs_f64(),
                if r.wall.as_secs_f64() < 5.0 { "ok" } else { "MISSED" },
                r.max_rss_mb,
                if r.max_rss_mb < 200.0 { "ok" } else { "MISSED" },
                r.cpu.as_secs_f64() * 1000.0 / N as f64,
            );
        }
    }
    println!(
        "load average at end: {}; the bench's own peak RSS: {:.1} MB (a child's figure starts from it)",
        load(),
        own_peak_mb()
    );
}
