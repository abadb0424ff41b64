//! What a user sees from `eval`, `gate`, `diff` and `lint` on the bundled examples, with the
//! exit status written into the snapshot (jj's `[exit status: N]`), so a change in wording,
//! layout or exit code shows up in review.

use crate::support::{Repo, Run};

/// stdout, then stderr, then the exit status; run ids, dates, timings and temp paths are
/// replaced so the snapshot is stable.
fn shown(run: &Run, root: &std::path::Path) -> String {
    let text = format!(
        "{}\n--- stderr\n{}[exit status: {}]\n",
        run.stdout, run.stderr, run.code
    );
    let text = text.replace(&root.display().to_string(), "[REPO]");
    let filters = [
        (
            r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?Z?",
            "[DATE]",
        ),
        (r"\brun \d+\b", "run [ID]"),
        (r"\b[0-9a-f]{7,40}\b", "[SHA]"),
        (r"\d+(\.\d+)? ?(ms|s)\b", "[TIME]"),
    ];
    let mut text = text;
    for (re, to) in filters {
        text = regex::Regex::new(re)
            .unwrap()
            .replace_all(&text, to)
            .into_owned();
    }
    text
}

fn examples() -> Repo {
    let mut r = Repo::with_examples();
    r.commit("examples");
    r
}

#[test]
fn eval_on_the_examples() {
    let r = examples();
    let run = r.llmops_env(&["eval", "--no-progress"], &[("COLUMNS", "120")]);
    run.expect(0);
    insta::assert_snapshot!("eval", shown(&run, r.path()));
}

#[test]
fn gate_on_the_worse_demo_prompt() {
    let r = examples();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gate-demo");
    r.write(
        "prompts-example/support-reply.prompty",
        &std::fs::read_to_string(demo.join("support-reply.worse.prompty")).unwrap(),
    );
    let run = r.llmops_env(
        &["gate", "--baseline", "HEAD", "--no-progress"],
        &[("COLUMNS", "120")],
    );
    run.expect(1);
    insta::assert_snapshot!("gate-worse", shown(&run, r.path()));
}

#[test]
fn diff_of_an_edited_prompt() {
    let r = examples();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gate-demo");
    r.write(
        "prompts-example/support-reply.prompty",
        &std::fs::read_to_string(demo.join("support-reply.better.prompty")).unwrap(),
    );
    let run = r.llmops_env(&["diff", "HEAD", "worktree"], &[("COLUMNS", "120")]);
    run.expect(0);
    insta::assert_snapshot!("diff", shown(&run, r.path()));
}

#[test]
fn lint_with_a_typo() {
    let r = examples();
    let path = "evals-example/classify-ticket.yaml";
    let good = r.read(path);
    // An assertion kind spelt wrong, as a user would type it.
    let text = good.replacen("- type: json-path", "- type: json-pth", 1);
    assert_ne!(text, good);
    r.write(path, &text);
    let run = r.llmops_env(&["lint"], &[("COLUMNS", "120")]);
    run.expect(2);
    insta::assert_snapshot!("lint-typo", shown(&run, r.path()));
    // And clean again once fixed.
    r.write(path, &good);
    let run = r.llmops_env(&["lint"], &[("COLUMNS", "120")]);
    run.expect(0);
    insta::assert_snapshot!("lint-clean", shown(&run, r.path()));
}

/// Tables fit an 80-column terminal: less important columns are left out (and named), no
/// word or number is split.
#[test]
fn eval_gate_and_list_at_80_columns() {
    let r = examples();
    let eval = r.llmops_env(&["eval", "--no-progress"], &[("COLUMNS", "80")]);
    eval.expect(0);
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gate-demo");
    r.write(
        "prompts-example/support-reply.prompty",
        &std::fs::read_to_string(demo.join("support-reply.worse.prompty")).unwrap(),
    );
    let gate = r.llmops_env(
        &["gate", "--baseline", "HEAD", "--no-progress"],
        &[("COLUMNS", "80")],
    );
    gate.expect(1);
    let list = r.llmops_env(&["list"], &[("COLUMNS", "80")]);
    list.expect(0);
    for run in [&eval, &gate, &list] {
        for line in run.stdout.lines() {
            // The tables and their notes; the case lines below them are prose.
            if line.starts_with(['┌', '│', '╞', '└', '(']) {
                assert!(line.chars().count() <= 80, "wider than 80: {line}");
            }
        }
    }
    insta::assert_snapshot!("eval-80", shown(&eval, r.path()));
    insta::assert_snapshot!("gate-worse-80", shown(&gate, r.path()));
    insta::assert_snapshot!("list-80", shown(&list, r.path()));
}

/// Piped with no `COLUMNS`: a plain table, every column, no borders.
#[test]
fn list_piped_is_plain() {
    let r = examples();
    let list = r.llmops(&["list"]);
    list.expect(0);
    assert!(!list.stdout.contains('│'));
    insta::assert_snapshot!("list-piped", shown(&list, r.path()));
}
