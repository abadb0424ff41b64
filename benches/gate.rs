//! The gate's false-fail rate: how often it says FAIL when baseline and candidate are the same
//! prompt and only the output noise differs. SPEC.md's bar: at most alpha.
//!
//! Run with `cargo bench --bench gate`.

use llmops::gate::{false_fail_rate, Noise, Policy};

fn main() {
    let policy = Policy {
        alpha: 0.05,
        tolerance: 0.02,
        max_error_rate: 0.05,
        strict: false,
        seed: 7,
        cost_tolerance: None,
        latency_tolerance: None,
    };
    println!(
        "1,000 seeded simulations per row, alpha = {}, tolerance = {}\n",
        policy.alpha, policy.tolerance
    );
    println!(
        "{:<34} {:>6} {:>16} {:>10}",
        "scenario", "cases", "false-fail rate", "vs alpha"
    );
    for (label, n, noise) in [
        ("scores, sign-flip (exact)", 12, Noise::Scores),
        ("scores, sign-flip (sampled)", 24, Noise::Scores),
        ("scores, paired t", 40, Noise::Scores),
        ("scores, paired t", 200, Noise::Scores),
        ("pass/fail, exact McNemar", 60, Noise::PassFail),
        ("pass/fail, exact McNemar", 400, Noise::PassFail),
    ] {
        let rate = false_fail_rate(1000, n, noise, &policy, 20_261_123);
        println!(
            "{label:<34} {n:>6} {:>15.1}% {:>9.2}x",
            rate * 100.0,
            rate / policy.alpha
        );
    }
}
