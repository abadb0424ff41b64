//! `llmops monitor` and `llmops ingest`: what the issue asks to show.
//!
//! 1. False alarms: seeded stable histories of 30 days, checked every day (`--window 7d`,
//!    `--reference previous`, alpha 0.05): the share of histories with any DRIFT at any look.
//!    The bar is alpha.
//! 2. Days to detection for each injected drift (refusals 2% -> 8%, output length +40%, cost
//!    x2, a model swap), starting on day 10: the first daily check that says DRIFT.
//! 3. `llmops ingest` of 1,000,000 JSONL records (records/s) and `llmops monitor` on them, with
//!    peak RSS from `/usr/bin/time -v` (the real binary).
//!
//! Histories are scored with the bundled `support-reply` suite through the same library code
//! the binary runs (`monitor::drift`), calls scored once and checked daily.
//!
//! Run with `cargo bench --bench monitor`. Knobs: `MONITOR_HISTORIES` (500), `MONITOR_PER_DAY`
//! (500 calls a day), `MONITOR_DRIFT_HISTORIES` (50 per drift), `MONITOR_INGEST_RECORDS`
//! (1,000,000; 0 skips part 3).

#[path = "../tests/support/prodsim.rs"]
mod prodsim;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use llmops::monitor::drift::{Call, Checks, Monitor, Observation, Reference, Settings, Verdict};
use prodsim::{Drift, Sim};
use rayon::prelude::*;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn checks() -> Checks {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let open = llmops::registry::OpenOptions {
        dir: root.to_path_buf(),
        config: None,
        overrides: Default::default(),
        env: Default::default(),
    };
    let reg = llmops::registry::Registry::open(&open, None).expect("the bundled registry");
    let (suites, _) = reg.suites().expect("suites");
    Checks::for_prompt("support-reply", &suites, false)
}

fn settings() -> Settings {
    Settings {
        window_ms: 7 * 86_400_000,
        reference: Reference::Previous,
        since_ms: i64::MIN,
        alpha: 0.05,
        min_samples: 30,
    }
}

/// The first day (0-based) whose end-of-day check says DRIFT, if any.
fn first_alarm(sim: &Sim, checks: &Checks) -> Option<u32> {
    let calls = sim.calls();
    let scored: Vec<(u32, i64, Observation)> = calls
        .iter()
        .map(|c| {
            let o = checks.observe(&Call {
                output: &c.output,
                finish_reason: Some(c.finish_reason),
                latency_ms: Some(c.latency_ms),
                cost_usd: Some(c.cost_usd),
                tokens: Some(c.input_tokens + c.output_tokens),
            });
            (c.day, c.ts_ms, o)
        })
        .collect();
    let mut m = Monitor::new(settings(), checks);
    let mut i = 0;
    for day in 0..sim.days {
        while i < scored.len() && scored[i].0 == day {
            m.add_observation(scored[i].1, 1, &scored[i].2);
            i += 1;
        }
        if m.finish("support-reply", |_| None).verdict == Verdict::Drift {
            return Some(day);
        }
    }
    None
}

fn load() -> String {
    let mut s = String::new();
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        s = l.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    }
    format!(
        "load average {s} on {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )
}

fn main() {
    let histories = env_num("MONITOR_HISTORIES", 500);
    let per_day = env_num("MONITOR_PER_DAY", 500) as u32;
    let drift_histories = env_num("MONITOR_DRIFT_HISTORIES", 50);
    let records = env_num("MONITOR_INGEST_RECORDS", 1_000_000);
    let checks = checks();
    println!("llmops monitor benchmark ({})", load());
    println!(
        "{per_day} calls a day, 30 days, checked at the end of every day; --window 7d --reference previous, alpha 0.05; {} tests per window\n",
        checks.tests()
    );

    // 1. False alarms on stable traffic.
    let t = Instant::now();
    let alarms: Vec<Option<u32>> = (0..histories)
        .into_par_iter()
        .map(|seed| {
            let sim = Sim {
                per_day,
                ..Sim::new(1_000 + seed, Drift::None)
            };
            first_alarm(&sim, &checks)
        })
        .collect();
    let false_alarms = alarms.iter().filter(|a| a.is_some()).count();
    let rate = false_alarms as f64 / histories as f64;
    // A one-sided 95% upper bound on the true rate (Clopper-Pearson), so the claim holds
    // beyond this sample's luck.
    let upper = llmops::monitor::stats::clopper_pearson(false_alarms as u64, histories, 0.10).1;
    println!(
        "false alarms: {false_alarms} of {histories} stable histories ({:.1}%; 95% upper bound {:.1}%) vs alpha 5.0%: {}  [{:.1} s]",
        rate * 100.0,
        upper * 100.0,
        if rate <= 0.05 { "within" } else { "OVER" },
        t.elapsed().as_secs_f64()
    );

    // 2. Days to detection.
    println!("\ndays to detection (drift starts on day 10; 1 = flagged at the end of its first day), {drift_histories} histories each:");
    println!(
        "{:<24} {:>9} {:>8} {:>8} {:>8} {:>10}",
        "drift", "detected", "min", "median", "max", "early"
    );
    for drift in Drift::ALL {
        let t = Instant::now();
        let days: Vec<Option<u32>> = (0..drift_histories)
            .into_par_iter()
            .map(|seed| {
                let sim = Sim {
                    per_day,
                    ..Sim::new(50_000 + seed, drift)
                };
                first_alarm(&sim, &checks)
            })
            .collect();
        let early = days.iter().flatten().filter(|d| **d < 10).count();
        let mut delays: Vec<u32> = days
            .iter()
            .flatten()
            .filter(|d| **d >= 10)
            .map(|d| d - 10 + 1)
            .collect();
        delays.sort_unstable();
        let q = |p: f64| {
            delays
                .get(((delays.len() as f64 - 1.0) * p).round() as usize)
                .map_or("-".to_string(), u32::to_string)
        };
        println!(
            "{:<24} {:>4}/{:<4} {:>8} {:>8} {:>8} {:>10}  [{:.1} s]",
            drift.name(),
            delays.len(),
            drift_histories,
            q(0.0),
            q(0.5),
            q(1.0),
            early,
            t.elapsed().as_secs_f64()
        );
    }

    // 3. Ingest and monitor on 1,000,000 records with the real binary.
    if records == 0 {
        return;
    }
    ingest_and_monitor(records);
}

fn time_v(dir: &Path, args: &[&str]) -> (f64, u64, i32, String) {
    let bin = env!("CARGO_BIN_EXE_llmops");
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("/usr/bin/time (apt-get install time)");
    let secs = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rss = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (
        secs,
        rss,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &stderr,
    )
}

fn ingest_and_monitor(records: u64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    // The bundled registry, copied: its suites, versions.lock and config.
    for rel in ["llmops.yaml", ".llmops/versions.lock"] {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root.join(rel), to).unwrap();
    }
    for d in ["prompts-example", "evals-example"] {
        copy_dir(&root.join(d), &dir.path().join(d));
    }
    let per_day = records.div_ceil(30) as u32;
    let sim = Sim {
        per_day,
        ..Sim::new(4242, Drift::None)
    };
    let file = dir.path().join("calls.jsonl");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for c in sim.calls().iter().take(records as usize) {
            writeln!(w, "{}", prodsim::jsonl_line(c)).unwrap();
        }
    }
    let bytes = std::fs::metadata(&file).unwrap().len();
    println!(
        "\ningest: {records} JSONL records ({:.0} MB) into a new store ({})",
        bytes as f64 / 1e6,
        load()
    );
    let (secs, rss, code, out) = time_v(dir.path(), &["ingest", "calls.jsonl"]);
    assert_eq!(code, 0, "{out}");
    println!(
        "  llmops ingest:        {secs:>7.1} s  {:>9.0} records/s  {:>8.1} MB/s  peak RSS {:>6.1} MB",
        records as f64 / secs,
        bytes as f64 / 1e6 / secs,
        rss as f64 / 1024.0
    );
    let (secs, rss, code, out) = time_v(dir.path(), &["ingest", "calls.jsonl"]);
    assert_eq!(code, 0, "{out}");
    println!(
        "  again (all stored):   {secs:>7.1} s  {:>9.0} records/s               peak RSS {:>6.1} MB",
        records as f64 / secs,
        rss as f64 / 1024.0
    );
    let (secs, rss, code, out) = time_v(
        dir.path(),
        &["monitor", "--reference", "previous", "--format", "json"],
    );
    assert!(code == 0 || code == 1, "{out}");
    println!(
        "  llmops monitor:       {secs:>7.1} s  {:>9.0} records/s               peak RSS {:>6.1} MB",
        records as f64 / secs,
        rss as f64 / 1024.0
    );
    let db = dir.path().join(".llmops/cache/llmops.db");
    println!(
        "  store: {:.0} MB for {records} calls",
        std::fs::metadata(db).map_or(0, |m| m.len()) as f64 / 1e6
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
