//! The gate and the lifecycle under real git and CI conventions (issue 17): bare remotes,
//! branches, merges, shallow clones, autocrlf, hooks, signing, GIT_DIR and parallel runs.

use std::path::Path;

use crate::support::{git_in, minimal, Repo, Run, GREET};

fn demo(file: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gate-demo");
    std::fs::read_to_string(dir.join(file)).unwrap()
}

/// A bare repository to push to.
fn bare() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    git_in(d.path(), &["init", "--bare", "-q", "-b", "main"], None).expect(0);
    d
}

/// The examples on `main`, `support-reply` released as v1 and promoted to `production`, pushed
/// to a bare `origin`, then a branch `feature` checked out.
fn examples_on_a_branch(remote: &Path) -> Repo {
    let mut r = Repo::with_examples();
    r.commit("examples");
    r.git(&["branch", "-M", "main"]).expect(0);
    r.llmops(&["release", "support-reply", "-m", "first"])
        .expect(0);
    r.llmops(&["promote", "support-reply", "v1", "--label", "production"])
        .expect(0);
    r.git(&["remote", "add", "origin", remote.to_str().unwrap()])
        .expect(0);
    r.git(&["push", "-q", "origin", "main"]).expect(0);
    r.git(&["checkout", "-q", "-b", "feature"]).expect(0);
    r
}

fn gate_with(r: &Repo, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["gate", "--no-progress"];
    all.extend_from_slice(args);
    r.llmops_env(&all, env)
}

#[test]
fn finding_1_a_change_that_promotes_itself_is_still_gated_against_the_target_branch() {
    let remote = bare();
    let mut r = examples_on_a_branch(remote.path());
    r.write(
        "prompts-example/support-reply.prompty",
        &demo("support-reply.worse.prompty"),
    );
    r.commit("a worse reply");
    let ci = [("GITHUB_BASE_REF", "main")];
    gate_with(&r, &[], &ci).expect(1);
    // The same change also releases and promotes itself: the baseline is still read at the
    // merge base with `main`, and the label move itself is what is gated.
    r.llmops(&["release", "support-reply", "-m", "worse"])
        .expect(0);
    r.llmops(&["promote", "support-reply", "v2", "--label", "production"])
        .expect(0);
    let run = gate_with(&r, &[], &ci);
    run.expect(1);
    assert!(run.stdout.contains("verdict: FAIL"), "{}", run.stdout);
    assert!(
        run.stdout.contains("production at ") && run.stdout.contains("merge base with origin/main"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("moves label `production` for `support-reply` from v1 to v2"),
        "{}",
        run.stderr
    );
    // Naming the label explicitly, or the base with `--base-ref`, reads it at the base too.
    gate_with(&r, &["--baseline", "production", "--base-ref", "main"], &[]).expect(1);
    // GitLab's variable works the same way.
    gate_with(&r, &[], &[("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main")]).expect(1);
    // Editing the lock so v1 names the worse content changes nothing either.
    let lock = r.read(".llmops/versions.lock");
    let v2_blob = r
        .git(&["rev-parse", "HEAD:prompts-example/support-reply.prompty"])
        .stdout
        .trim()
        .to_string();
    let first_blob = lock
        .lines()
        .find_map(|l| l.trim().strip_prefix("blob: "))
        .unwrap()
        .trim()
        .to_string();
    r.write(
        ".llmops/versions.lock",
        &lock.replacen(&first_blob, &v2_blob, 1),
    );
    r.commit("rewrite history in the lock");
    gate_with(&r, &[], &ci).expect(1);
    // A base branch that is not in the clone is named, with the fix.
    let run = gate_with(&r, &["--base-ref", "release-9"], &[]);
    run.expect(2);
    assert!(
        run.stderr.contains("`release-9` is not in this clone"),
        "{}",
        run.stderr
    );
}

#[test]
fn finding_1_moving_a_label_alone_gates_the_newly_labelled_version() {
    let remote = bare();
    let mut r = examples_on_a_branch(remote.path());
    r.git(&["checkout", "-q", "main"]).expect(0);
    // v2 (worse) is released on main but never promoted.
    r.write(
        "prompts-example/support-reply.prompty",
        &demo("support-reply.worse.prompty"),
    );
    r.commit("worse");
    r.llmops(&["release", "support-reply", "-m", "worse"])
        .expect(0);
    r.git(&["push", "-q", "origin", "main"]).expect(0);
    // A branch that only moves the label, with the prompt file back at v1's content.
    r.git(&["checkout", "-q", "-b", "promote-v2"]).expect(0);
    r.llmops(&["promote", "support-reply", "v2", "--label", "production"])
        .expect(0);
    let run = gate_with(&r, &["--base-ref", "main"], &[]);
    run.expect(1);
    assert!(
        run.stderr.contains("gating v2 against production at"),
        "{}",
        run.stderr
    );
    // Moving the label and editing the prompt to other content is refused: one gate cannot
    // check both.
    r.write(
        "prompts-example/support-reply.prompty",
        &demo("support-reply.better.prompty"),
    );
    let run = gate_with(&r, &["--base-ref", "main"], &[]);
    run.expect(2);
    assert!(
        run.stderr.contains("one gate cannot check both"),
        "{}",
        run.stderr
    );
}

#[test]
fn finding_2_a_candidate_that_cannot_render_its_cases_is_an_error() {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n.llmops/cache/\n");
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ncases:\n  - id: ada\n    vars: { who: Ada }\n  - id: bob\n    vars: { who: Bob }\nassert:\n  - type: contains\n    value: Hello\n",
    );
    r.commit("registry");
    // A required input the dataset lacks.
    r.write(
        "prompts/greet.prompty",
        &GREET.replace(
            "  punct: { type: string, default: '!' }",
            "  punct: { type: string, default: '!' }\n  tone: { type: string, required: true }",
        ),
    );
    let run = r.llmops(&["gate", "--no-progress", "--baseline", "HEAD"]);
    run.expect(2);
    assert!(
        run.stderr.contains("cannot render 2 case(s)")
            && run.stderr.contains("evals/greet.yaml:3: case `ada`")
            && run.stderr.contains("case `bob`"),
        "{}",
        run.stderr
    );
}
