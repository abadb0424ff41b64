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
