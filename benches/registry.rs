//! End-to-end latency of the read-only commands on a large registry with deep history.
//!
//! Run with `cargo bench --bench registry`.
//!
//! The benchmark builds a throwaway git repository holding 500 prompts and 50 suites whose
//! history is 5,000 commits deep, then times the real `llmops` binary (a fresh process per run,
//! as a user or CI job would invoke it) on `list`, `show`, `render` and `lint`, both against
//! the working tree and against an old revision. It prints the median and 95th percentile of
//! each command next to its latency target.
//!
//! This is a plain `main` (`harness = false`): each sample is a whole process, so the
//! statistics machinery of a micro-benchmark framework would add nothing.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use git2::{FileMode, Oid, Repository, Signature, Time};

/// Number of prompt files in the generated registry.
const PROMPTS: usize = 500;
/// Number of suites; suite `sNN` evaluates prompt `p(NN * PROMPTS / SUITES)`.
const SUITES: usize = 50;
/// Commits in the generated history, the initial one included.
const COMMITS: usize = 5_000;
/// Every `INCLUDE_EVERY`-th prompt includes the shared partial.
const INCLUDE_EVERY: usize = 5;

/// Untimed runs per command, to warm the page cache and the dynamic loader.
const WARMUPS: usize = 2;
/// Timed runs per command.
const RUNS: usize = 20;
/// A command that is far slower than its target stops sampling after this long (but not before
/// `MIN_RUNS` samples), so that a regression cannot make the benchmark run for many minutes.
const BUDGET_PER_COMMAND: Duration = Duration::from_secs(20);
const MIN_RUNS: usize = 5;

/// Latency target for interactive commands.
const TARGET_MS: f64 = 50.0;

const CONFIG: &str = "\
prompts_dir: prompts
evals_dir: evals
defaults:
  provider: echo
  model: gpt-4o-mini
";

const SIGNATURE_PARTIAL: &str = "\
{#- Sign-off shared by several prompts. Uses: customer_name. -#}
End the reply with this sign-off, one item per line:
Thanks for your patience, {{ customer_name }}.
Best regards,
Acme Support
";

/// A prompt, with `@NAME@`-style placeholders filled in by [`prompt_text`]. Placeholders rather
/// than `format!` because the body is full of Jinja braces.
const PROMPT_TEMPLATE: &str = r#"---
name: @NAME@
description: Synthetic support reply @ID@ for the registry benchmark
owner: team-@TEAM@@example.com
model:
  name: gpt-4o-mini
  parameters:
    temperature: @TEMPERATURE@
    max_tokens: @MAX_TOKENS@
inputs:
  customer_name:
    type: string
    description: The customer's first name
  ticket:
    type: string
    description: The customer's message, verbatim
  tone:
    type: string
    default: friendly
    description: friendly, formal or firm
sample:
  customer_name: Ada
  ticket: I was charged twice for invoice INV-@ID@. Can you fix this?
  tone: formal
---
system:
You are a customer support agent for Acme product line @ID@.
Write in a {{ tone }} tone and start with "Hi {{ customer_name }}".
@SENTENCE@
Never promise a refund, a credit or a date. Say what happens next instead.
@INCLUDE@
user:
Customer: {{ customer_name }}
Ticket:
"""
{{ ticket }}
"""
"#;

/// The text of prompt `id` after it has been edited `edits` times. Odd-numbered edits change
/// the temperature and even-numbered ones a sentence of the system message, so both the front
/// matter and the template body change over history.
fn prompt_text(id: usize, edits: usize) -> String {
    let temperature = ((id + edits.div_ceil(2)) % 10) as f64 / 10.0;
    let words = 100 + 10 * (edits / 2);
    let include = if id.is_multiple_of(INCLUDE_EVERY) {
        "{% include \"partials/signature.jinja\" %}\n"
    } else {
        ""
    };
    PROMPT_TEMPLATE
        .replace("@NAME@", &prompt_name(id))
        .replace("@ID@", &id.to_string())
        .replace("@TEAM@", &(id % 7).to_string())
        .replace("@TEMPERATURE@", &format!("{temperature:.1}"))
        .replace("@MAX_TOKENS@", &(256 + 128 * (id % 4)).to_string())
        .replace(
            "@SENTENCE@",
            &format!("Keep the reply under {words} words."),
        )
        .replace("@INCLUDE@", include)
}

fn prompt_name(id: usize) -> String {
    format!("p{id:03}")
}

/// Suite `n`: one prompt, three inline cases, each with a `contains` assertion.
fn suite_text(n: usize) -> String {
    let prompt = prompt_name(n * PROMPTS / SUITES);
    let mut text = format!("description: Synthetic suite {n:02}\nprompt: {prompt}\ncases:\n");
    for (case, name) in ["Ada", "Grace", "Linus"].iter().enumerate() {
        text.push_str(&format!(
            "  - id: case-{case}\n    vars:\n      customer_name: {name}\n      \
             ticket: Ticket {case} of suite {n}, my export is stuck.\n    \
             assert:\n      - type: contains\n        value: {name}\n"
        ));
    }
    text
}

/// Write a tree of `(name, object, mode)` entries and return its id.
fn write_tree(repo: &Repository, files: &[(String, Oid, FileMode)]) -> Oid {
    let mut builder = repo.treebuilder(None).unwrap();
    for (name, oid, mode) in files {
        builder.insert(name, *oid, (*mode).into()).unwrap();
    }
    builder.write().unwrap()
}

/// Build the registry repository in `dir` and check its last commit out.
///
/// Objects are written straight into the object database: per commit, the edited prompt's
/// blob, a new `prompts/` tree and a new root tree (both reusing every unchanged entry), then
/// the commit, which is how git itself records an edit of one file. A work tree and index per
/// commit would be an order of magnitude slower and measure nothing of interest.
///
/// The objects are first collected in memory and then written as a single pack, rather than
/// as ~20,000 loose files: that halves the build time, and it is the layout real repositories
/// have (a clone is packed, and `git gc --auto` packs loose objects past 6,700 of them).
fn build_repo(dir: &Path) {
    let repo = Repository::init(dir).unwrap();
    let odb = repo.odb().unwrap();
    // Any priority above the on-disk backends' (1 and 2) makes every write go to memory.
    let mempack = odb.add_new_mempack_backend(1000).unwrap();
    let blob = |text: &str| repo.blob(text.as_bytes()).unwrap();

    // The initial commit: every file, each prompt as never edited.
    let partials = write_tree(
        &repo,
        &[(
            "signature.jinja".into(),
            blob(SIGNATURE_PARTIAL),
            FileMode::Blob,
        )],
    );
    let mut prompt_entries: Vec<_> = (0..PROMPTS)
        .map(|id| {
            (
                format!("{}.prompty", prompt_name(id)),
                blob(&prompt_text(id, 0)),
                FileMode::Blob,
            )
        })
        .collect();
    prompt_entries.push(("partials".into(), partials, FileMode::Tree));
    let suite_entries: Vec<_> = (0..SUITES)
        .map(|n| {
            (
                format!("s{n:02}.yaml"),
                blob(&suite_text(n)),
                FileMode::Blob,
            )
        })
        .collect();
    let mut prompts = repo.find_tree(write_tree(&repo, &prompt_entries)).unwrap();
    let root_entries = [
        ("llmops.yaml".to_string(), blob(CONFIG), FileMode::Blob),
        ("prompts".into(), prompts.id(), FileMode::Tree),
        (
            "evals".into(),
            write_tree(&repo, &suite_entries),
            FileMode::Tree,
        ),
    ];
    let mut root = repo.find_tree(write_tree(&repo, &root_entries)).unwrap();

    // A fixed author and clock (one minute per commit), so every run builds the same history.
    let commit = |n: usize, message: &str, tree: &git2::Tree, parents: &[&git2::Commit]| {
        let time = Time::new(1_700_000_000 + 60 * n as i64, 0);
        let sig = Signature::new("bench", "bench@example.com", &time).unwrap();
        // No ref is updated per commit (`None`); the branch is set once at the end.
        let id = repo
            .commit(None, &sig, &sig, message, tree, parents)
            .unwrap();
        repo.find_commit(id).unwrap()
    };
    let mut head = commit(0, "Add the registry", &root, &[]);

    // Each further commit edits one prompt, round-robin, so every prompt has a long history.
    let mut edits = vec![0; PROMPTS];
    for n in 1..COMMITS {
        let id = n % PROMPTS;
        edits[id] += 1;
        let file = format!("{}.prompty", prompt_name(id));
        let mut builder = repo.treebuilder(Some(&prompts)).unwrap();
        builder
            .insert(
                &file,
                blob(&prompt_text(id, edits[id])),
                FileMode::Blob.into(),
            )
            .unwrap();
        prompts = repo.find_tree(builder.write().unwrap()).unwrap();
        let mut builder = repo.treebuilder(Some(&root)).unwrap();
        builder
            .insert("prompts", prompts.id(), FileMode::Tree.into())
            .unwrap();
        root = repo.find_tree(builder.write().unwrap()).unwrap();
        head = commit(
            n,
            &format!("Tune {file} (edit {})", edits[id]),
            &root,
            &[&head],
        );
    }

    // Write everything as one pack (with deltas, as `git gc` would), then drop the copies in
    // memory so that from here on objects are read from disk, like the CLI will read them.
    let mut pack = git2::Buf::new();
    mempack.dump(&repo, &mut pack).unwrap();
    let mut writer = odb.packwriter().unwrap();
    writer.write_all(&pack).unwrap();
    writer.commit().unwrap();
    mempack.reset().unwrap();

    repo.reference("refs/heads/main", head.id(), true, "benchmark history")
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    // The directory is empty, so a forced checkout simply writes HEAD's files and the index.
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .unwrap();
}

/// `llmops -C dir ARGS`, isolated from the user's `LLMOPS_*` settings (a profile, say), which
/// must not change what is measured.
fn llmops(bin: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("-C").arg(dir).args(args).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LLMOPS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Panic, showing stderr, unless the command exited with 0: a fast failure must never pass
/// for a fast command.
fn check_success(args: &[&str], out: &Output) {
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        panic!("`llmops {}` failed with {}", args.join(" "), out.status);
    }
}

/// Run the command once, output discarded, and return its wall-clock time.
fn run_once(bin: &Path, dir: &Path, args: &[&str]) -> Duration {
    let mut cmd = llmops(bin, dir, args);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let elapsed = start.elapsed();
    check_success(args, &out);
    elapsed
}

/// Check that the generated registry is what we meant to build and is clean, so that the
/// timings are of the normal path and not of error reporting.
fn check_fixture(bin: &Path, dir: &Path) {
    let args = ["lint", "--format", "json"];
    let out = llmops(bin, dir, &args).output().unwrap();
    check_success(&args, &out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = serde_json::json!({
        "prompts": PROMPTS, "suites": SUITES, "cases": 3 * SUITES, "errors": 0, "warnings": 0,
    });
    for (key, want) in expected.as_object().unwrap() {
        assert_eq!(
            &report[key], want,
            "`llmops lint` on the generated registry: {report:#}"
        );
    }
}

/// The `q`-quantile (0..=1) of sorted samples, interpolating linearly between closest ranks.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

struct Row {
    command: String,
    runs: usize,
    median: f64,
    p95: f64,
    target: Option<f64>,
}

fn measure(bin: &Path, dir: &Path, args: &[&str], target: Option<f64>) -> Row {
    for _ in 0..WARMUPS {
        run_once(bin, dir, args);
    }
    let start = Instant::now();
    let mut samples = Vec::with_capacity(RUNS);
    while samples.len() < RUNS && (samples.len() < MIN_RUNS || start.elapsed() < BUDGET_PER_COMMAND)
    {
        samples.push(run_once(bin, dir, args).as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    Row {
        command: format!("llmops {}", args.join(" ")),
        runs: samples.len(),
        median: quantile(&samples, 0.5),
        p95: quantile(&samples, 0.95),
        target,
    }
}

fn main() {
    // Cargo builds the package's binaries (with the bench profile, i.e. optimised) before any
    // benchmark, and tells the benchmark where the binary is, even with a custom target dir.
    let bin = Path::new(env!("CARGO_BIN_EXE_llmops"));
    assert!(
        bin.is_file(),
        "{} is missing; run `cargo bench --bench registry`",
        bin.display()
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let start = Instant::now();
    build_repo(dir);
    let build_time = start.elapsed();
    println!(
        "built a registry of {PROMPTS} prompts, {SUITES} suites and {COMMITS} commits in {:.2} s",
        build_time.as_secs_f64()
    );

    check_fixture(bin, dir);

    // (arguments, target in ms; `None` for commands without a latency target)
    let commands: [(&[&str], Option<f64>); 6] = [
        (&["list"], Some(TARGET_MS)),
        (&["list", "--rev", "HEAD~100"], Some(TARGET_MS)),
        (&["show", "p123@HEAD~100"], Some(TARGET_MS)),
        (&["render", "p123"], Some(TARGET_MS)),
        (&["render", "p123@HEAD~100"], Some(TARGET_MS)),
        (&["lint"], None),
    ];
    let rows: Vec<Row> = commands
        .iter()
        .map(|(args, target)| measure(bin, dir, args, *target))
        .collect();

    println!(
        "\n{WARMUPS} warm-up(s), then up to {RUNS} timed runs per command; binary {}\n",
        bin.display()
    );
    let width = rows.iter().map(|r| r.command.len()).max().unwrap_or(0);
    println!(
        "{:<width$}  {:>5}  {:>9}  {:>9}  {:>9}  {:>13}",
        "command", "runs", "median ms", "p95 ms", "target ms", "median/target"
    );
    for r in &rows {
        let (target, ratio) = match r.target {
            Some(t) => (format!("{t:.0}"), format!("{:.2}", r.median / t)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<width$}  {:>5}  {:>9.1}  {:>9.1}  {:>9}  {:>13}",
            r.command, r.runs, r.median, r.p95, target, ratio
        );
    }
    let missed: Vec<&str> = rows
        .iter()
        .filter(|r| r.target.is_some_and(|t| r.median > t))
        .map(|r| r.command.as_str())
        .collect();
    if !missed.is_empty() {
        println!("\nmedian over target: {}", missed.join(", "));
    }
}
