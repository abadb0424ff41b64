//! release, promote, rollback, log and references, on real repositories with history.

use crate::support::{git_in, minimal, Repo, GREET};

/// GREET with another temperature: a new content hash each time.
fn greet_at(t: f64) -> String {
    GREET.replace("temperature: 0.5", &format!("temperature: {t}"))
}

fn json(run: &crate::support::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

/// A repository with `greet` released as v1..=n (temperatures 0.1, 0.2, ...).
fn released(n: u32) -> Repo {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n");
    r.commit("registry");
    for i in 1..=n {
        r.write("prompts/greet.prompty", &greet_at(f64::from(i) / 10.0));
        let run = r.llmops(&["release", "greet", "-m", &format!("temperature 0.{i}")]);
        run.expect(0);
        assert!(run.stdout.contains(&format!("greet@v{i}")), "{run:?}");
    }
    r
}

fn lock_versions(r: &Repo) -> Vec<u64> {
    let log = r.llmops(&["log", "greet", "--format", "json"]);
    log.expect(0);
    json(&log)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect()
}

fn trailers(r: &Repo, message: &str) -> Vec<(String, String)> {
    let run = git_in(r.path(), &["interpret-trailers", "--parse"], Some(message));
    run.expect(0);
    run.stdout
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn fsck_clean(r: &Repo) {
    let run = r.git(&["fsck", "--strict", "--no-dangling"]);
    run.expect(0);
    assert!(
        !run.stderr.contains("error") && !run.stderr.contains("warning"),
        "{run:?}"
    );
}

#[test]
fn release_records_a_version_and_commits_only_its_files() {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n");
    r.commit("registry");
    // Unrelated work in progress, staged and unstaged, must stay out of the release commit.
    r.write("notes.txt", "staged\n");
    r.git(&["add", "notes.txt"]).expect(0);
    r.write("evals/greet.yaml", "prompt: greet\ncases:\n  - id: ada\n    vars: { who: Ada }\nassert:\n  - type: contains\n    value: Hi\n");
    r.write("prompts/greet.prompty", &greet_at(0.9));
    let before = r.head();

    let run = r.llmops(&["release", "greet", "-m", "Warmer greeting\n\nBody line."]);
    run.expect(0);
    assert!(run.stdout.starts_with("released greet@v1 "), "{run:?}");
    assert_eq!(
        r.head_changed_paths(),
        [".llmops/versions.lock", "prompts/greet.prompty"]
    );
    let head = r.git2().head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_id(0).unwrap().to_string(), before);
    assert_eq!(
        trailers(&r, &r.head_message()),
        [("Prompt-Version".to_string(), "greet@v1".to_string())]
    );
    let status = r.git(&["status", "--porcelain"]);
    assert!(status.stdout.contains("A  notes.txt"), "{status:?}");
    assert!(status.stdout.contains(" M evals/greet.yaml"), "{status:?}");
    assert!(!status.stdout.contains("greet.prompty"), "{status:?}");
    assert!(!status.stdout.contains("versions.lock"), "{status:?}");

    let lock = r.read(".llmops/versions.lock");
    assert!(
        lock.contains("  greet:\n    next: 2\n    versions:\n      - version: 1\n"),
        "{lock}"
    );
    assert!(
        lock.contains("        message: \"Warmer greeting\\n\\nBody line.\"\n"),
        "{lock}"
    );
    assert!(
        lock.contains("        author: \"Test Author <author@example.com>\"\n"),
        "{lock}"
    );
    assert!(lock.contains("        date: 20"), "{lock}");
    // The recorded blob is the committed prompt file.
    let blob = head
        .tree()
        .unwrap()
        .get_path(std::path::Path::new("prompts/greet.prompty"))
        .unwrap()
        .id()
        .to_string();
    assert!(lock.contains(&format!("        blob: {blob}\n")), "{lock}");

    // Nothing changed: refused, no commit.
    let again = r.llmops(&["release", "greet"]);
    again.expect(2);
    assert!(again.stderr.contains("unchanged since v1"), "{again:?}");
    assert_eq!(r.head(), head.id().to_string());
    fsck_clean(&r);
}

#[test]
fn release_numbers_are_never_reused_even_after_a_revert() {
    let r = released(2);
    assert_eq!(lock_versions(&r), [2, 1]);
    // Revert the v2 release: the lock loses v2 and `next: 3`, but history keeps the trailer.
    r.git(&["revert", "--no-edit", "HEAD"]).expect(0);
    assert_eq!(lock_versions(&r), [1]);
    assert!(r.read(".llmops/versions.lock").contains("next: 2"));
    // The reverted content is v1's again: nothing new to release.
    r.llmops(&["release", "greet"]).expect(2);
    r.write("prompts/greet.prompty", &greet_at(0.7));
    let run = r.llmops(&["release", "greet"]);
    run.expect(0);
    assert!(run.stdout.contains("greet@v3"), "{run:?}");
    assert_eq!(lock_versions(&r), [3, 1]);

    // A version deleted from the lock by hand does not free its number either.
    let lock = r.read(".llmops/versions.lock");
    let cut = lock.find("      - version: 3").unwrap();
    r.write(".llmops/versions.lock", &lock[..cut]);
    r.git(&["commit", "-qam", "drop v3 by hand"]).expect(0);
    r.write("prompts/greet.prompty", &greet_at(0.8));
    let run = r.llmops(&["release", "greet"]);
    run.expect(0);
    assert!(run.stdout.contains("greet@v4"), "{run:?}");

    // Going back to old content is a new version with a note.
    r.write("prompts/greet.prompty", &greet_at(0.1));
    let run = r.llmops(&["release", "greet"]);
    run.expect(0);
    assert!(run.stdout.contains("greet@v5"), "{run:?}");
    assert!(run.stderr.contains("same content as v1"), "{run:?}");
    fsck_clean(&r);
}

#[test]
fn release_refuses_a_dirty_lock_and_unknown_prompts() {
    let r = released(1);
    r.write("prompts/greet.prompty", &greet_at(0.9));
    let lock = r.read(".llmops/versions.lock");
    r.write(".llmops/versions.lock", &format!("{lock}\n"));
    let run = r.llmops(&["release", "greet"]);
    run.expect(2);
    assert!(
        run.stderr.contains("versions.lock has uncommitted changes"),
        "{run:?}"
    );
    let run = r.llmops(&["release", "gret"]);
    run.expect(2);
    assert!(run.stderr.contains("did you mean `greet`?"), "{run:?}");
}

/// Promote v1..=n to production in order.
fn promoted(n: u32) -> Repo {
    let r = released(n);
    for i in 1..=n {
        r.llmops(&[
            "promote",
            "greet",
            &format!("v{i}"),
            "--label",
            "production",
        ])
        .expect(0);
    }
    r
}

fn production(r: &Repo) -> String {
    r.read(".llmops/labels/production.yaml")
        .lines()
        .find_map(|l| l.strip_prefix("greet: ").map(str::to_string))
        .map(|v| {
            // `{ version: N, content: HASH }`: the number, pinned to its content.
            v.strip_prefix("{ version: ")
                .and_then(|r| r.split_once(','))
                .map_or(v.clone(), |(n, _)| n.to_string())
        })
        .unwrap()
}

#[test]
fn promote_moves_one_entry_with_trailers() {
    let r = promoted(2);
    assert_eq!(production(&r), "2");
    assert_eq!(r.head_changed_paths(), [".llmops/labels/production.yaml"]);
    assert_eq!(
        trailers(&r, &r.head_message()),
        [
            ("Prompt".to_string(), "greet".to_string()),
            ("Label".to_string(), "production".to_string()),
            ("Promote-From".to_string(), "v1".to_string()),
            ("Promote-To".to_string(), "v2".to_string()),
        ]
    );
    // Already there: nothing to commit.
    let head = r.head();
    let run = r.llmops(&["promote", "greet", "2", "--label", "production"]);
    run.expect(0);
    assert!(run.stderr.contains("nothing to do"), "{run:?}");
    assert_eq!(r.head(), head);
    // A version that does not exist, and names that cannot be labels.
    r.llmops(&["promote", "greet", "v9", "--label", "production"])
        .expect(2);
    r.llmops(&["promote", "greet", "v1", "--label", "v2"])
        .expect(2);
    r.llmops(&["promote", "greet", "v1", "--label", "worktree"])
        .expect(2);
    r.llmops(&["promote", "greet", "latest", "--label", "x"])
        .expect(2);
    fsck_clean(&r);
}

#[test]
fn promote_require_pass_needs_recorded_eval_evidence() {
    let mut r = promoted(1);
    let run = r.llmops(&[
        "promote",
        "greet",
        "v1",
        "--label",
        "staging",
        "--require-pass",
    ]);
    run.expect(1);
    assert!(run.stderr.contains("no eval summary"), "{run:?}");
    assert!(!r.path().join(".llmops/labels/staging.yaml").exists());
    // Evidence recorded in the lock (as `release` does when the eval store has a run).
    let lock = r.read(".llmops/versions.lock").replace(
        "        message: temperature 0.1\n",
        "        message: temperature 0.1\n        eval:\n          score: 0.9\n          pass_rate: 1.0\n          n: 12\n          cost_usd: 0.0031\n          latency_p50_ms: 420.0\n          run_id: run-1\n",
    );
    r.write(".llmops/versions.lock", &lock);
    r.commit("record eval");
    r.llmops(&[
        "promote",
        "greet",
        "v1",
        "--label",
        "staging",
        "--require-pass",
    ])
    .expect(0);
    let log = json(&r.llmops(&["log", "greet", "--format", "json"]));
    assert_eq!(log["versions"][0]["eval"]["n"], 12);
    assert_eq!(log["labels"]["staging"], 1);
    let text = r.llmops(&["log", "greet"]);
    assert!(
        text.stdout.contains("score 0.900  pass 100.0% of 12"),
        "{text:?}"
    );
}

#[test]
fn rollback_walks_the_label_history_back_v4_v3_v2() {
    let r = promoted(4);
    assert_eq!(production(&r), "4");
    for (from, to, reason) in [
        ("v4", "v3", "v4 leaks ticket ids"),
        ("v3", "v2", "v3 is\nrude"),
        ("v2", "v1", "v2 too"),
    ] {
        let before = r.head();
        let run = r.llmops(&["rollback", "greet", "--reason", reason]);
        run.expect(0);
        assert!(
            run.stdout
                .starts_with(&format!("production: greet {from} -> {to} in commit ")),
            "{run:?}"
        );
        assert_eq!(production(&r), to.trim_start_matches('v'));
        // A new commit on top, touching only the label file: history is not rewritten.
        let head = r.git2().head().unwrap().peel_to_commit().unwrap();
        assert_eq!(head.parent_id(0).unwrap().to_string(), before);
        assert_eq!(r.head_changed_paths(), [".llmops/labels/production.yaml"]);
        let t = trailers(&r, &r.head_message());
        assert!(t.contains(&("Rollback-From".into(), from.into())), "{t:?}");
        assert!(t.contains(&("Rollback-To".into(), to.into())), "{t:?}");
        assert!(
            t.contains(&("Reason".into(), reason.replace('\n', " "))),
            "{t:?}"
        );
    }
    // Nothing earlier than v1.
    let run = r.llmops(&["rollback", "greet"]);
    run.expect(2);
    assert!(run.stderr.contains("no earlier version"), "{run:?}");
    // --to goes anywhere that exists.
    r.llmops(&["rollback", "greet", "--to", "v4"]).expect(0);
    assert_eq!(production(&r), "4");
    r.llmops(&["rollback", "greet", "--to", "v9"]).expect(2);
    let log = r.git(&["log", "--format=%s", "-3"]);
    assert!(
        log.stdout
            .starts_with("rollback greet on production: v1 -> v4\n"),
        "{log:?}"
    );
    fsck_clean(&r);
    r.git(&["status", "--porcelain"]).expect(0);
    assert!(r.git(&["status", "--porcelain"]).stdout.is_empty());
}

#[test]
fn rollback_skips_rolled_back_versions_until_promoted_again() {
    let r = promoted(2); // production: v1, v2
    r.llmops(&["rollback", "greet"]).expect(0); // v2 -> v1
    r.llmops(&["promote", "greet", "v2", "--label", "production"])
        .expect(0); // v2 trusted again
    r.write("prompts/greet.prompty", &greet_at(0.3));
    r.llmops(&["release", "greet"]).expect(0);
    r.llmops(&["promote", "greet", "v3", "--label", "production"])
        .expect(0);
    let run = r.llmops(&["rollback", "greet"]);
    run.expect(0);
    assert!(
        run.stdout.contains("v3 -> v2"),
        "re-promoted v2 counts: {run:?}"
    );
    // Another label's history is its own.
    r.llmops(&["promote", "greet", "v1", "--label", "staging"])
        .expect(0);
    r.llmops(&["promote", "greet", "v3", "--label", "staging"])
        .expect(0);
    let run = r.llmops(&["rollback", "greet", "--label", "staging"]);
    run.expect(0);
    assert!(run.stdout.contains("staging: greet v3 -> v1"), "{run:?}");
}

#[test]
fn rollback_refuses_on_a_dirty_tree() {
    let r = promoted(2);
    let head = r.head();
    let label = r.read(".llmops/labels/production.yaml");
    // Unstaged edit of the label file.
    r.write(
        ".llmops/labels/production.yaml",
        &label.replace("version: 2", "version: 1"),
    );
    let run = r.llmops(&["rollback", "greet", "--reason", "x"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("production.yaml has uncommitted changes"),
        "{run:?}"
    );
    // Staged, with the work tree back as it was: still dirty.
    r.git(&["add", ".llmops/labels/production.yaml"]).expect(0);
    r.write(".llmops/labels/production.yaml", &label);
    r.llmops(&["rollback", "greet"]).expect(2);
    r.git(&["reset", "-q", ".llmops/labels/production.yaml"])
        .expect(0);
    assert_eq!(r.head(), head, "no commit was made");
    // A dirty prompt file does not block moving a label (the incident path)...
    r.write("prompts/greet.prompty", &greet_at(0.9));
    r.llmops(&["rollback", "greet"]).expect(0);
    // ...but it blocks restoring content into it.
    let run = r.llmops(&["rollback", "greet", "--content", "--to", "v1"]);
    run.expect(2);
    assert!(
        run.stderr.contains("greet.prompty has uncommitted changes"),
        "{run:?}"
    );
    // No label: clear message.
    let run = r.llmops(&["rollback", "greet", "--label", "canary"]);
    run.expect(2);
    assert!(run.stderr.contains("no label `canary`"), "{run:?}");
}

#[test]
fn rollback_content_restores_files_and_partials() {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n");
    r.write("prompts/partials/sig.jinja", "-- the greeter\n");
    let with_partial = |t: f64| {
        greet_at(t).replace(
            "You greet people.",
            "You greet people.\n{% include \"partials/sig.jinja\" %}",
        )
    };
    r.write("prompts/greet.prompty", &with_partial(0.1));
    r.commit("registry");
    r.llmops(&["release", "greet"]).expect(0);
    let v1_text = r.read("prompts/greet.prompty");
    r.write("prompts/partials/sig.jinja", "-- the new greeter\n");
    r.write("prompts/greet.prompty", &with_partial(0.2));
    r.llmops(&["release", "greet"]).expect(0);
    r.write("prompts/greet.prompty", &with_partial(0.3));
    r.llmops(&["release", "greet"]).expect(0);

    let run = r.llmops(&["rollback", "greet", "--content", "--reason", "v3 is bad"]);
    run.expect(0);
    assert!(run.stdout.contains("greet: content v3 -> v2"), "{run:?}");
    let run = r.llmops(&["rollback", "greet", "--content"]);
    run.expect(0);
    assert!(run.stdout.contains("greet: content v2 -> v1"), "{run:?}");
    assert_eq!(r.read("prompts/greet.prompty"), v1_text);
    assert_eq!(r.read("prompts/partials/sig.jinja"), "-- the greeter\n");
    assert_eq!(
        r.head_changed_paths(),
        ["prompts/greet.prompty", "prompts/partials/sig.jinja"]
    );
    let t = trailers(&r, &r.head_message());
    assert!(t.contains(&("Rollback-From".into(), "v2".into())), "{t:?}");
    assert!(t.contains(&("Rollback-To".into(), "v1".into())), "{t:?}");
    // The files are v1 again, so the lint gate is satisfied and the tree is clean.
    r.llmops(&["lint", "--locked"]).expect(0);
    assert!(r.git(&["status", "--porcelain"]).stdout.is_empty());
    fsck_clean(&r);
}

#[test]
fn rollback_push_to_a_bare_remote() {
    let r = promoted(2);
    let remote = tempfile::tempdir().unwrap();
    git2::Repository::init_bare(remote.path()).unwrap();
    let url = remote.path().to_str().unwrap();
    r.git(&["remote", "add", "origin", url]).expect(0);
    let branch = r
        .git(&["rev-parse", "--abbrev-ref", "HEAD"])
        .stdout
        .trim()
        .to_string();
    let run = r.llmops(&["rollback", "greet", "--reason", "bad", "--push", "origin"]);
    run.expect(0);
    assert!(run.stderr.contains("pushed"), "{run:?}");
    let bare = git2::Repository::open_bare(remote.path()).unwrap();
    let pushed = bare
        .find_reference(&format!("refs/heads/{branch}"))
        .unwrap()
        .target()
        .unwrap()
        .to_string();
    assert_eq!(pushed, r.head());
    // A remote that cannot be reached: exit 3, and the commit stays.
    let missing = remote.path().join("nope");
    let run = r.llmops(&[
        "rollback",
        "greet",
        "--to",
        "v2",
        "--push",
        missing.to_str().unwrap(),
    ]);
    run.expect(3);
    assert!(run.stderr.contains("committed on"), "{run:?}");
    assert_eq!(production(&r), "2");
}

#[test]
fn references_resolve_versions_labels_and_revisions() {
    let r = promoted(3);
    r.llmops(&["rollback", "greet"]).expect(0); // production -> v2
    r.write("prompts/greet.prompty", &greet_at(0.9));
    let temp = |args: &[&str]| -> f64 {
        let run = r.llmops(args);
        run.expect(0);
        json(&run)["parameters"]["temperature"].as_f64().unwrap()
    };
    assert_eq!(temp(&["show", "greet@v1", "--format", "json"]), 0.1);
    assert_eq!(
        temp(&["show", "greet", "--rev", "v3", "--format", "json"]),
        0.3
    );
    assert_eq!(temp(&["show", "greet@production", "--format", "json"]), 0.2);
    assert_eq!(temp(&["show", "greet@worktree", "--format", "json"]), 0.9);
    assert_eq!(temp(&["show", "greet", "--format", "json"]), 0.9);
    assert_eq!(temp(&["show", "greet@HEAD", "--format", "json"]), 0.3);
    let show = json(&r.llmops(&["show", "greet@production", "--format", "json"]));
    assert_eq!(show["version"], 2);
    assert_eq!(show["label"], "production");
    assert_eq!(show["source"], "production (greet@v2)");
    // Rendering a version reads its blobs, not the work tree.
    let run = r.llmops(&["render", "greet@v1", "--var", "who=Ada", "--format", "json"]);
    run.expect(0);
    assert_eq!(json(&run)["version"], 1);
    // A git revision's content that is a released version says so.
    assert_eq!(
        json(&r.llmops(&["show", "greet@HEAD", "--format", "json"]))["version"],
        3
    );
    // A label shadows a branch of the same name.
    r.git(&["branch", "staging", "HEAD~3"]).expect(0);
    r.llmops(&["promote", "greet", "v1", "--label", "staging"])
        .expect(0);
    assert_eq!(temp(&["show", "greet@staging", "--format", "json"]), 0.1);
    // Unknown versions and labels without the prompt are clear errors.
    let run = r.llmops(&["show", "greet@v7"]);
    run.expect(2);
    assert!(run.stderr.contains("`greet` has no version v7"), "{run:?}");
}

#[test]
fn lint_locked_fails_for_unreleased_content() {
    let mut r = Repo::new();
    minimal(&r);
    r.commit("registry");
    let run = r.llmops(&["lint", "--locked", "--format", "json"]);
    run.expect(2);
    let v = json(&run);
    let d = &v["diagnostics"][0];
    assert_eq!(d["code"], "unreleased");
    assert_eq!(d["file"], "prompts/greet.prompty");
    assert!(d["message"]
        .as_str()
        .unwrap()
        .contains("`greet` has no released version"));
    r.llmops(&["lint"]).expect(0);
    r.llmops(&["release", "greet"]).expect(0);
    r.llmops(&["lint", "--locked"]).expect(0);
    r.write("prompts/greet.prompty", &greet_at(0.9));
    let run = r.llmops(&["lint", "--locked"]);
    run.expect(2);
    assert!(
        run.stderr.contains(
            "prompts/greet.prompty:1: error: prompt `greet` changed since its last version v1"
        ),
        "{run:?}"
    );
    // Description edits are not content.
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("Say hello", "Say hi"),
    );
    r.llmops(&["lint", "--locked"]).expect(0);
    // The lock at a revision is checked against the prompts at that revision.
    r.llmops(&["lint", "--locked", "--rev", "HEAD"]).expect(0);
    r.llmops(&["lint", "--locked", "--rev", "HEAD~1"]).expect(2);
}

#[test]
fn log_lists_versions_labels_and_the_working_state() {
    let r = promoted(3);
    r.llmops(&["promote", "greet", "v1", "--label", "staging"])
        .expect(0);
    let run = r.llmops(&["log", "greet"]);
    run.expect(0);
    assert!(
        run.stdout
            .starts_with("greet: prompts/greet.prompty is v3\n"),
        "{run:?}"
    );
    let v3 = run.stdout.find("\nv3  ").unwrap();
    let v1 = run.stdout.find("\nv1  ").unwrap();
    assert!(v3 < v1, "newest first");
    assert!(run
        .stdout
        .contains("Test Author <author@example.com>  [production]"));
    assert!(run.stdout.contains("[staging]"));
    assert!(run.stdout.contains("    temperature 0.2\n"));
    r.write("prompts/greet.prompty", &greet_at(0.9));
    let run = r.llmops(&["log", "greet", "--format", "json"]);
    let v = json(&run);
    assert_eq!(v["next"], 4);
    assert_eq!(v["labels"]["production"], 3);
    assert_eq!(
        v["versions"][0]["labels"],
        serde_json::json!(["production"])
    );
    assert_eq!(v["versions"][2]["labels"], serde_json::json!(["staging"]));
    assert!(v["worktree"]["version"].is_null());
    let date = v["versions"][0]["date"].as_str().unwrap();
    assert!(date.ends_with('Z') && date.len() == 20, "{date}");
    assert!(r
        .llmops(&["log", "greet"])
        .stdout
        .contains("unreleased changes"));
    r.llmops(&["log", "nope"]).expect(2);
}
