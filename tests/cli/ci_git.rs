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

/// `minimal` on `main` with `greet` released as v1 and promoted to `production`.
fn greet_on_main() -> Repo {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n.llmops/cache/\n");
    r.commit("registry");
    r.git(&["branch", "-M", "main"]).expect(0);
    r.llmops(&["release", "greet", "-m", "first"]).expect(0);
    r.llmops(&["promote", "greet", "v1", "--label", "production"])
        .expect(0);
    r
}

#[test]
fn finding_3_labels_keep_their_content_through_a_merge_that_renumbers_versions() {
    let mut r = greet_on_main();
    // Two branches each edit `greet` (different lines, so the prompt merges cleanly), release
    // it as v2 and promote that to production.
    r.git(&["checkout", "-q", "-b", "warm"]).expect(0);
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("temperature: 0.5", "temperature: 0.9"),
    );
    r.commit("warmer");
    r.llmops(&["release", "greet", "-m", "warm"]).expect(0);
    r.llmops(&["promote", "greet", "v2", "--label", "production"])
        .expect(0);
    let warm = r.llmops(&["export", "--label", "production"]);
    warm.expect(0);
    r.git(&["checkout", "-q", "main"]).expect(0);
    r.git(&["checkout", "-q", "-b", "terse"]).expect(0);
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("You greet people.", "You greet people briefly."),
    );
    r.commit("terser");
    r.llmops(&["release", "greet", "-m", "terse"]).expect(0);
    r.llmops(&["promote", "greet", "v2", "--label", "production"])
        .expect(0);
    let terse = r.llmops(&["export", "--label", "production"]);
    terse.expect(0);
    // Merge `warm` into `terse`: the lock and the label conflict.
    let merge = r.git(&["merge", "-q", "--no-edit", "warm"]);
    assert_ne!(merge.code, 0, "{merge:?}");
    let run = r.llmops(&["lint", "--locked"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("merge conflict in .llmops/versions.lock for `greet`")
            || run
                .stdout
                .contains("merge conflict in .llmops/versions.lock for `greet`"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("llmops lock resolve") || run.stdout.contains("llmops lock resolve"),
        "{run:?}"
    );
    let run = r.llmops(&["lock", "resolve"]);
    run.expect(0);
    // Both were released within the same clock second, so the content hash breaks the tie:
    // whichever it is, it is renumbered to v3 and the label follows its content.
    assert!(run.stdout.contains("renumbered to v3"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("wrote and staged .llmops/versions.lock, .llmops/labels/production.yaml"),
        "{}",
        run.stdout
    );
    r.git(&["commit", "-q", "--no-edit"]).expect(0);
    let log = r.llmops(&["log", "greet", "--format", "json"]);
    log.expect(0);
    let v: serde_json::Value = serde_json::from_str(&log.stdout).unwrap();
    let mut numbers: Vec<u64> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["version"].as_u64().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![1, 2, 3], "{}", log.stdout);
    // The label serves one of the two promoted contents, the one it pinned (the later
    // release), never the other branch's content under the old number.
    let now = r.llmops(&["export", "--label", "production"]);
    now.expect(0);
    let label = r.read(".llmops/labels/production.yaml");
    assert!(label.contains("greet: { version: 3, content: "), "{label}");
    let content = |run: &Run| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        v["prompts"]["greet"]["messages"].clone()
    };
    assert!(
        content(&now) == content(&warm) || content(&now) == content(&terse),
        "{}",
        now.stdout
    );
    // The merged prompt content is a third, unreleased one; the labels themselves check out.
    let lint = r.llmops(&["lint", "--locked"]);
    assert!(!lint.stderr.contains("label `production`"), "{lint:?}");
    // A hand edit that points the label at a number whose content is not the pinned one, or
    // at a version the lock does not have, fails `lint --locked`.
    r.write(
        ".llmops/labels/production.yaml",
        &label.replace("version: 3", "version: 2"),
    );
    let lint = r.llmops(&["lint", "--locked"]);
    lint.expect(2);
    assert!(
        lint.stderr.contains("a merge renumbered the versions"),
        "{lint:?}"
    );
    let export = r.llmops(&["export", "--label", "production"]);
    export.expect(2);
    r.write(".llmops/labels/production.yaml", "greet: 9\n");
    let lint = r.llmops(&["lint", "--locked"]);
    lint.expect(2);
    assert!(
        lint.stderr
            .contains("points `greet` at v9, which .llmops/versions.lock does not have"),
        "{lint:?}"
    );
}

#[test]
fn finding_6_six_parallel_releases_and_promotes_all_land_in_head() {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n.llmops/cache/\n");
    for i in 1..=6 {
        r.write(
            &format!("prompts/p{i}.prompty"),
            &GREET.replace("name: greet", &format!("name: p{i}")),
        );
    }
    r.commit("six prompts");
    let parallel = |args: &dyn Fn(u32) -> Vec<String>| -> Vec<Run> {
        std::thread::scope(|s| {
            let handles: Vec<_> = (1..=6)
                .map(|i| {
                    let a = args(i);
                    let dir = r.path();
                    s.spawn(move || {
                        let a: Vec<&str> = a.iter().map(String::as_str).collect();
                        crate::support::llmops_in(dir, &a, &[])
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let runs = parallel(&|i| vec!["release".into(), format!("p{i}"), "-m".into(), "x".into()]);
    let lock = git_in(r.path(), &["show", "HEAD:.llmops/versions.lock"], None);
    lock.expect(0);
    for (i, run) in (1..=6).zip(&runs) {
        run.expect(0);
        assert!(run.stdout.contains(&format!("p{i}@v1")), "{run:?}");
        assert!(
            lock.stdout.contains(&format!("  p{i}:\n")),
            "p{i} missing at HEAD:\n{}",
            lock.stdout
        );
    }
    let status = r.git(&["status", "--porcelain"]);
    assert_eq!(status.stdout, "", "{status:?}");
    let runs = parallel(&|i| {
        vec![
            "promote".into(),
            format!("p{i}"),
            "v1".into(),
            "--label".into(),
            "production".into(),
        ]
    });
    let label = git_in(
        r.path(),
        &["show", "HEAD:.llmops/labels/production.yaml"],
        None,
    );
    for (i, run) in (1..=6).zip(&runs) {
        run.expect(0);
        assert!(
            label.stdout.contains(&format!("p{i}: {{ version: 1")),
            "{}",
            label.stdout
        );
    }
    let count = r.git(&["rev-list", "--count", "HEAD"]);
    assert_eq!(count.stdout.trim(), "13", "one commit per command");
}

/// Clone `from` into a new temporary directory with `git clone ARGS`.
fn clone(from: &Path, args: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let mut all = vec!["clone", "-q"];
    all.extend_from_slice(args);
    let src = from.to_str().unwrap().to_string();
    let dst = d.path().join("c");
    all.push(&src);
    let dst_s = dst.to_str().unwrap().to_string();
    all.push(&dst_s);
    git_in(d.path(), &all, None).expect(0);
    d
}

#[test]
fn finding_4_an_autocrlf_checkout_behaves_like_a_linux_one() {
    let remote = bare();
    let mut r = Repo::with_examples();
    r.commit("examples");
    r.git(&["branch", "-M", "main"]).expect(0);
    for p in [
        "classify-ticket",
        "escalation-email",
        "summarize",
        "support-reply",
    ] {
        r.llmops(&["release", p, "-m", "first"]).expect(0);
        r.llmops(&["promote", p, "v1", "--label", "production"])
            .expect(0);
    }
    let sig = r.read("prompts-example/partials/signature.jinja");
    r.write(
        "prompts-example/partials/signature.jinja",
        &format!("{sig}\n-- sent with care\n"),
    );
    r.commit("signature");
    r.llmops(&["release", "escalation-email", "-m", "signature"])
        .expect(0);
    r.llmops(&["promote", "escalation-email", "v2", "--label", "production"])
        .expect(0);
    r.git(&["remote", "add", "origin", remote.path().to_str().unwrap()])
        .expect(0);
    r.git(&["push", "-q", "origin", "main"]).expect(0);

    let d = clone(remote.path(), &["-c", "core.autocrlf=true"]);
    let c = d.path().join("c");
    let on_disk =
        std::fs::read_to_string(c.join("prompts-example/partials/signature.jinja")).unwrap();
    assert!(
        on_disk.contains("\r\n"),
        "the checkout has CRLF line endings"
    );
    let run = |args: &[&str]| crate::support::llmops_in(&c, args, &[]);
    run(&["lint", "--locked"]).expect(0);
    let gate = run(&["gate", "--no-progress", "--base-ref", "main"]);
    gate.expect(0);
    assert!(gate.stderr.contains("nothing to gate"), "{gate:?}");
    let rb = run(&["rollback", "escalation-email", "--reason", "check"]);
    rb.expect(0);
    let status = git_in(&c, &["status", "--porcelain"], None);
    assert_eq!(status.stdout, "", "{status:?}");
    // A release from the CRLF checkout records and commits the blobs git stores (LF).
    let tone = c.join("prompts-example/partials/signature.jinja");
    let text = std::fs::read_to_string(&tone).unwrap();
    std::fs::write(&tone, format!("{text}Stay calm.\r\n")).unwrap();
    run(&["release", "escalation-email", "-m", "calm"]).expect(0);
    let status = git_in(&c, &["status", "--porcelain"], None);
    assert_eq!(status.stdout, "", "{status:?}");
    let committed = git_in(
        &c,
        &["show", "HEAD:prompts-example/partials/signature.jinja"],
        None,
    );
    assert!(!committed.stdout.contains('\r'), "{:?}", committed.stdout);
    let id = git_in(
        &c,
        &["rev-parse", "HEAD:prompts-example/partials/signature.jinja"],
        None,
    );
    let lock = std::fs::read_to_string(c.join(".llmops/versions.lock")).unwrap();
    assert!(
        lock.contains(id.stdout.trim()),
        "the lock names the committed blob\n{lock}"
    );
    run(&["lint", "--locked"]).expect(0);
    run(&["export", "--rev", "worktree"]).expect(0);
}

fn hook(r: &Repo, name: &str, body: &str) {
    let path = r.path().join(".git/hooks").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn finding_5_lifecycle_commits_are_signed_and_pass_the_hooks() {
    let mut r = greet_on_main();
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("temperature: 0.5", "temperature: 0.7"),
    );
    r.commit("warmer");
    // A failing pre-commit hook stops `git commit`, and now llmops too.
    hook(
        &r,
        "pre-commit",
        "echo 'pre-commit: no commits today' >&2; exit 1",
    );
    let head = r.head();
    let run = r.llmops(&["release", "greet", "-m", "blocked"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("pre-commit: no commits today"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("the repository has a `pre-commit` hook"),
        "{run:?}"
    );
    assert_eq!(r.head(), head, "nothing was committed");
    assert_eq!(
        r.git(&["status", "--porcelain"]).stdout,
        "",
        "the lock was put back"
    );
    std::fs::remove_file(r.path().join(".git/hooks/pre-commit")).unwrap();
    // A failing commit-msg hook too; a passing one sees (and may extend) the message.
    hook(
        &r,
        "commit-msg",
        "grep -q 'Prompt-Version' \"$1\" || exit 1; echo 'Reviewed-by: hook' >> \"$1\"",
    );
    r.llmops(&["release", "greet", "-m", "through the hook"])
        .expect(0);
    assert!(
        r.head_message().contains("Reviewed-by: hook"),
        "{}",
        r.head_message()
    );
    hook(&r, "commit-msg", "exit 1");
    let head = r.head();
    let run = r.llmops(&["promote", "greet", "v2", "--label", "production"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(r.head(), head);
    std::fs::remove_file(r.path().join(".git/hooks/commit-msg")).unwrap();
    // SSH signing with a throwaway key: the rollback commit is signed and verifies.
    let key = r.path().join(".test-home/key");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = r.path().join(".test-home/allowed");
    std::fs::write(&allowed, format!("author@example.com {public}")).unwrap();
    for (k, v) in [
        ("gpg.format", "ssh"),
        (
            "user.signingkey",
            key.with_extension("pub").to_str().unwrap(),
        ),
        ("gpg.ssh.allowedSignersFile", allowed.to_str().unwrap()),
        ("commit.gpgsign", "true"),
        ("user.name", "Test Author"),
        ("user.email", "author@example.com"),
    ] {
        r.git(&["config", k, v]).expect(0);
    }
    r.llmops(&["promote", "greet", "v2", "--label", "production"])
        .expect(0);
    let run = r.llmops(&["rollback", "greet", "--reason", "incident"]);
    run.expect(0);
    let raw = r.git(&["cat-file", "commit", "HEAD"]);
    assert!(
        raw.stdout.contains("-----BEGIN SSH SIGNATURE-----"),
        "{}",
        raw.stdout
    );
    let verify = r.git(&["verify-commit", "HEAD"]);
    verify.expect(0);
    assert!(
        r.head_message().contains("Rollback-To: v1"),
        "{}",
        r.head_message()
    );
    assert_eq!(r.git(&["status", "--porcelain"]).stdout, "");
}

/// `greet_on_main`, then v2 released and promoted, pushed to a bare `origin`.
fn greet_v2_pushed(remote: &Path) -> Repo {
    let mut r = greet_on_main();
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("temperature: 0.5", "temperature: 0.6"),
    );
    r.commit("v2 content");
    r.llmops(&["release", "greet", "-m", "second"]).expect(0);
    r.llmops(&["promote", "greet", "v2", "--label", "production"])
        .expect(0);
    r.git(&["remote", "add", "origin", remote.to_str().unwrap()])
        .expect(0);
    r.git(&["push", "-q", "-u", "origin", "main"]).expect(0);
    r
}

#[test]
fn finding_7_shallow_clones_get_the_fix() {
    let remote = bare();
    let mut r = greet_v2_pushed(remote.path());
    r.git(&["checkout", "-q", "-b", "feature"]).expect(0);
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("temperature: 0.5", "temperature: 0.8"),
    );
    r.commit("feature");
    r.git(&["push", "-q", "origin", "feature"]).expect(0);
    // GitHub's default checkout: one commit of the pull request's branch.
    let url = format!("file://{}", remote.path().display());
    let d = clone(Path::new(&url), &["--depth", "1", "--branch", "feature"]);
    let c = d.path().join("c");
    let run = |args: &[&str]| crate::support::llmops_in(&c, args, &[]);
    let gate = run(&["gate", "--no-progress", "--base-ref", "main"]);
    gate.expect(2);
    assert!(
        gate.stderr.contains("`main` is not in this clone"),
        "{gate:?}"
    );
    assert!(gate.stderr.contains("fetch-depth: 0"), "{gate:?}");
    // The base branch fetched, but still shallow: no merge base.
    git_in(
        &c,
        &[
            "fetch",
            "-q",
            "--depth",
            "1",
            "origin",
            "main:refs/remotes/origin/main",
        ],
        None,
    )
    .expect(0);
    let gate = run(&["gate", "--no-progress", "--base-ref", "main"]);
    gate.expect(2);
    assert!(gate.stderr.contains("this clone is shallow"), "{gate:?}");
    assert!(gate.stderr.contains("fetch-depth: 0"), "{gate:?}");
    let rb = run(&["rollback", "greet", "--reason", "x"]);
    rb.expect(2);
    assert!(
        rb.stderr.contains("the clone is shallow") && rb.stderr.contains("git fetch --unshallow"),
        "{rb:?}"
    );
    // With the history, both work.
    git_in(
        &c,
        &[
            "fetch",
            "-q",
            "--unshallow",
            "origin",
            "main:refs/remotes/origin/main",
        ],
        None,
    )
    .expect(0);
    run(&["gate", "--no-progress", "--base-ref", "main"]).expect(0);
}

#[test]
fn finding_7_git_dir_nested_repositories_push_hints_and_stale_branches() {
    let remote = bare();
    let r = greet_v2_pushed(remote.path());
    // Someone else pushes to main.
    let other = clone(remote.path(), &[]);
    let o = other.path().join("c");
    std::fs::write(o.join("NOTES"), "x\n").unwrap();
    git_in(&o, &["add", "NOTES"], None).expect(0);
    git_in(&o, &["commit", "-q", "-m", "notes"], None).expect(0);
    git_in(&o, &["push", "-q", "origin", "main"], None).expect(0);
    // The rollback commits, the push is rejected, and the hint is one that works.
    let run = r.llmops(&[
        "rollback", "greet", "--reason", "incident", "--push", "origin",
    ]);
    run.expect(3);
    assert!(
        run.stderr.contains("git pull --rebase origin main"),
        "{run:?}"
    );
    // Once fetched, the next command warns that the branch is behind.
    r.git(&["fetch", "-q", "origin"]).expect(0);
    let run = r.llmops(&["promote", "greet", "v2", "--label", "staging"]);
    run.expect(0);
    assert!(
        run.stderr.contains("1 commit(s) behind `origin/main`"),
        "{run:?}"
    );

    // GIT_DIR and GIT_WORK_TREE: the repository lives elsewhere.
    let store = tempfile::tempdir().unwrap();
    let git_dir = store.path().join("repo.git");
    std::fs::rename(r.path().join(".git"), &git_dir).unwrap();
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("temperature: 0.5", "temperature: 0.3"),
    );
    let env = [
        ("GIT_DIR", git_dir.to_str().unwrap()),
        ("GIT_WORK_TREE", r.path().to_str().unwrap()),
    ];
    let run = r.llmops_env(&["release", "greet", "-m", "elsewhere"], &env);
    run.expect(0);
    let log = git_in(
        r.path(),
        &[
            "--git-dir",
            git_dir.to_str().unwrap(),
            "log",
            "-1",
            "--format=%s",
        ],
        None,
    );
    assert_eq!(log.stdout.trim(), "release greet@v3", "{log:?}");
    r.llmops_env(&["lint", "--locked"], &env).expect(0);
    std::fs::rename(&git_dir, r.path().join(".git")).unwrap();

    // A repository nested inside the registry's: `git-setup` there configures the nested one.
    let nested = r.path().join("vendor/tool");
    std::fs::create_dir_all(&nested).unwrap();
    git_in(&nested, &["init", "-q"], None).expect(0);
    let outer_attributes = std::fs::read_to_string(r.path().join(".gitattributes")).ok();
    crate::support::llmops_in(&nested, &["git-setup"], &[]).expect(0);
    assert!(std::fs::read_to_string(nested.join(".gitattributes"))
        .unwrap()
        .contains("*.prompty diff=llmops"));
    assert_eq!(
        std::fs::read_to_string(r.path().join(".gitattributes")).ok(),
        outer_attributes
    );
    let cfg = git_in(
        &nested,
        &["config", "--local", "diff.llmops.textconv"],
        None,
    );
    cfg.expect(0);
    // Other commands do not reach out of the nested repository to the outer registry.
    let list = crate::support::llmops_in(&nested, &["list"], &[]);
    list.expect(2);
    assert!(
        list.stderr.contains("up to its repository's top"),
        "{list:?}"
    );
}

fn html_script(s: &crate::mock::Seen) -> (crate::mock::Reply, std::time::Duration) {
    let text = if s.system_text().contains("html") {
        "</details><h1>pwned</h1> & <script>x()</script>".to_string()
    } else {
        format!("reply to: {}", s.user_text())
    };
    (crate::mock::Reply::Text(text), std::time::Duration::ZERO)
}

pub(crate) fn schema_errors(schema_file: &str, value: &serde_json::Value) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(schema_file);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    v.iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn finding_8_exact_at_every_n_escaped_markdown_and_versioned_json() {
    let mock = crate::mock::MockProvider::start(html_script);
    let mut r = Repo::new();
    r.write(
        "llmops.yaml",
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: m }}\nproviders:\n  mock: {{ type: openai, base_url: {}, max_retries: 0 }}\n", mock.url),
    );
    let prompt = |system: &str| {
        format!("---\nname: greet\ninputs: {{ who: {{}} }}\n---\nsystem:\n{system}\n\nuser:\nHello {{{{ who }}}}\n")
    };
    r.write("prompts/greet.prompty", &prompt("Be kind."));
    let rows: String = (0..40)
        .map(|i| format!("{{\"id\": \"c{i:03}\", \"vars\": {{\"who\": \"person {i}\"}}}}\n"))
        .collect();
    r.write("evals/data/greet.jsonl", &rows);
    r.write("evals/greet.yaml", "prompt: greet\ndataset: data/greet.jsonl\nassert:\n  - type: contains\n    value: reply to\n");
    r.write(".gitignore", ".llmops/cache/\n.test-home/\n");
    r.commit("baseline");
    // Identical answers on both sides, n = 40 pass/fail cases, alpha = 1e-5: the exact test
    // shows non-inferiority (a sampled one bottomed out at 1/20001 and could not).
    r.write("prompts/greet.prompty", &prompt("Be kind!"));
    let run = r.llmops(&[
        "gate",
        "--no-progress",
        "--baseline",
        "HEAD",
        "--alpha",
        "0.00001",
        "--format",
        "json",
    ]);
    run.expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["verdict"], "PASS", "{}", run.stdout);
    assert_eq!(v["schema"], "llmops.gate/1");
    let s = &v["suites"][0];
    assert_eq!(
        (s["n"].as_u64(), s["stats"]["method"].as_str()),
        (Some(40), Some("mcnemar (exact)"))
    );
    assert!(s["stats"]["lower"].as_f64().unwrap() >= -0.02, "{s}");
    assert!(s["stats"].get("mc_error").is_none(), "{s}");
    assert_eq!(
        schema_errors("gate-report.schema.json", &v),
        Vec::<String>::new()
    );
    // Model output with HTML: shown as text in the Markdown for the pull request.
    r.write("prompts/greet.prompty", &prompt("Answer in html."));
    let md = r.llmops(&[
        "gate",
        "--no-progress",
        "--baseline",
        "HEAD",
        "--format",
        "markdown",
    ]);
    md.expect(1);
    assert!(
        !md.stdout.contains("</details><h1>") && !md.stdout.contains("<script>"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout
            .contains("&lt;/details&gt;&lt;h1&gt;pwned&lt;/h1&gt; &amp; &lt;script&gt;"),
        "{}",
        md.stdout
    );
    let json = r.llmops(&[
        "gate",
        "--no-progress",
        "--baseline",
        "HEAD",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        schema_errors("gate-report.schema.json", &v),
        Vec::<String>::new()
    );
    // Pass rates counted one way: the candidate's over all its scored cases, as the threshold.
    assert_eq!(v["suites"][0]["candidate_pass_rate"], 0.0);
    // The eval report is versioned and described too.
    let eval = r.llmops(&["eval", "--no-progress", "--format", "json"]);
    let e: serde_json::Value =
        serde_json::from_str(&eval.stdout).unwrap_or_else(|err| panic!("{err}: {eval:?}"));
    assert_eq!(e["schema"], "llmops.eval/1");
    assert_eq!(
        schema_errors("eval-report.schema.json", &e),
        Vec::<String>::new()
    );
    let md = r.llmops(&["eval", "--no-progress", "--format", "markdown"]);
    md.expect(1);
    assert!(!md.stdout.contains("<h1>"), "{}", md.stdout);
}

#[test]
fn finding_3_the_git_setup_merge_driver_merges_the_lock_itself() {
    let mut r = greet_on_main();
    r.llmops(&["git-setup"]).expect(0);
    assert!(r
        .read(".gitattributes")
        .contains("**/.llmops/versions.lock merge=llmops-lock"));
    r.commit("drivers");
    r.git(&["checkout", "-q", "-b", "warm"]).expect(0);
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("temperature: 0.5", "temperature: 0.9"),
    );
    r.commit("warmer");
    r.llmops(&["release", "greet", "-m", "warm"]).expect(0);
    r.git(&["checkout", "-q", "main"]).expect(0);
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("You greet people.", "You greet people briefly."),
    );
    r.commit("terser");
    r.llmops(&["release", "greet", "-m", "terse"]).expect(0);
    r.llmops(&["promote", "greet", "v2", "--label", "production"])
        .expect(0);
    let before = r.llmops(&["export", "--label", "production"]);
    before.expect(0);
    // The lock merges with no conflict: both v2s are kept, one renumbered to v3.
    let merge = r.git(&["merge", "-q", "--no-edit", "warm"]);
    merge.expect(0);
    assert!(merge.stderr.contains("renumbered to v3"), "{merge:?}");
    let lock = r.read(".llmops/versions.lock");
    assert!(
        !lock.contains("<<<<<<<") && lock.contains("version: 3"),
        "{lock}"
    );
    let msgs = |run: &Run| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()["prompts"]["greet"]
            ["messages"]
            .clone()
    };
    // If the labelled content was the one renumbered (the later release), the label file
    // merged cleanly but now names the other content's number: lint and export say so, and
    // `lock resolve` carries the label to its content.
    let lint = r.llmops(&["lint", "--locked"]);
    if lint.stderr.contains("a merge renumbered the versions") {
        r.llmops(&["export", "--label", "production"]).expect(2);
        let run = r.llmops(&["lock", "resolve"]);
        run.expect(0);
        assert!(run.stdout.contains("moved from v2 to v3"), "{}", run.stdout);
    }
    let lint = r.llmops(&["lint", "--locked"]);
    assert!(!lint.stderr.contains("label `production`"), "{lint:?}");
    let after = r.llmops(&["export", "--label", "production"]);
    after.expect(0);
    assert_eq!(
        msgs(&after),
        msgs(&before),
        "the label serves what it served"
    );
}
