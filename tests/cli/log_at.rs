//! `llmops log --label NAME --at DATE`: which version a label pointed at at a moment, from
//! the label file's first-parent history, on a real temporary repository with a merge whose
//! side branch changed the label before the merge landed.

use serde_json::Value;

use crate::support::{Repo, Run};

/// Stage everything and commit at `secs` (UTC) with `parents`, moving HEAD when `head`.
fn commit_at(r: &Repo, message: &str, secs: i64, parents: &[git2::Oid], head: bool) -> git2::Oid {
    let repo = r.git2();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::new(
        "Test Author",
        "author@example.com",
        &git2::Time::new(secs, 0),
    )
    .unwrap();
    let parents: Vec<git2::Commit> = parents
        .iter()
        .map(|p| repo.find_commit(*p).unwrap())
        .collect();
    let refs: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(head.then_some("HEAD"), &sig, &sig, message, &tree, &refs)
        .unwrap()
}

fn head(r: &Repo) -> git2::Oid {
    r.git2().head().unwrap().peel_to_commit().unwrap().id()
}

/// 2031-01-DD at HH:00 UTC.
fn jan(day: i64, hour: i64) -> i64 {
    1_924_992_000 + (day - 1) * 86_400 + hour * 3600
}

const LABEL: &str = ".llmops/labels/production.yaml";

/// greet v1..v3 and bye v1 released; then `production` (all commits in 2031, UTC):
/// 01-01 10:00 greet v1; 01-02 10:00 greet v2 + bye v1; a side branch sets greet v3 on
/// 01-03 10:00; main gets an unrelated commit 01-03 12:00; the merge lands 01-04 10:00.
fn history() -> (Repo, [String; 4]) {
    let mut r = Repo::new();
    r.write(
        "llmops.yaml",
        "prompts_dir: prompts\nevals_dir: evals\ndefaults: { provider: echo, model: echo }\n",
    );
    r.write(".gitignore", ".llmops/cache/\n.test-home/\n");
    let prompt =
        |system: &str| format!("---\nname: greet\n---\nsystem:\n{system}\n\nuser:\nHello\n");
    r.write(
        "prompts/bye.prompty",
        "---\nname: bye\n---\nuser:\nGoodbye\n",
    );
    r.write("prompts/greet.prompty", &prompt("Be kind."));
    r.commit("prompts");
    r.llmops(&["release", "greet", "-m", "one"]).expect(0);
    r.llmops(&["release", "bye", "-m", "one"]).expect(0);
    for (i, s) in ["Be brief.", "Be warm."].iter().enumerate() {
        r.write("prompts/greet.prompty", &prompt(s));
        r.llmops(&["release", "greet", "-m", &format!("v{}", i + 2)])
            .expect(0);
    }
    r.write(LABEL, "greet: 1\n");
    let c1 = commit_at(&r, "promote greet v1", jan(1, 10), &[head(&r)], true);
    r.write(LABEL, "bye: 1\ngreet: 2\n");
    let c2 = commit_at(&r, "promote greet v2, bye v1", jan(2, 10), &[c1], true);
    // The side branch: its own commit, not on HEAD.
    r.write(LABEL, "bye: 1\ngreet: 3\n");
    let side = commit_at(&r, "side: promote greet v3", jan(3, 10), &[c2], false);
    r.write(LABEL, "bye: 1\ngreet: 2\n");
    r.write("notes.txt", "unrelated\n");
    let c3 = commit_at(&r, "notes", jan(3, 12), &[c2], true);
    r.write(LABEL, "bye: 1\ngreet: 3\n");
    let merge = commit_at(&r, "Merge branch 'side'", jan(4, 10), &[c3, side], true);
    (r, [c1, c2, side, merge].map(|c| c.to_string()))
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

fn live(r: &Repo, at: &str) -> Value {
    let run = r.llmops(&[
        "log",
        "--label",
        "production",
        "--at",
        at,
        "--format",
        "json",
    ]);
    run.expect(0);
    json(&run)
}

#[test]
fn which_version_was_live_at_several_moments() {
    let (r, [c1, c2, side, merge]) = history();
    let greet = |v: &Value| {
        v["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["prompt"] == "greet")
            .cloned()
            .unwrap()
    };

    let v = live(&r, "2031-01-01 10:30");
    assert_eq!(v["at"], "2031-01-01T10:30:00Z");
    assert_eq!(v["prompts"].as_array().unwrap().len(), 1, "{v}");
    let g = greet(&v);
    assert_eq!(
        (g["version"].as_u64(), g["set_by"].as_str()),
        (Some(1), Some(c1.as_str()))
    );
    assert_eq!(g["set_at"], "2031-01-01T10:00:00Z");
    let lock = r.read(".llmops/versions.lock");
    let hash = g["content_hash"].as_str().unwrap();
    assert!(hash.len() >= 12 && lock.contains(hash), "{g}");

    // The side branch set v3 on 01-03 10:00, but it was not live until the merge landed.
    let v = live(&r, "2031-01-03T11:00:00Z");
    let g = greet(&v);
    assert_eq!(
        (g["version"].as_u64(), g["set_by"].as_str()),
        (Some(2), Some(c2.as_str())),
        "{v}"
    );
    assert_ne!(g["set_by"].as_str(), Some(side.as_str()));
    let v = live(&r, "2031-01-04 10:30");
    let g = greet(&v);
    assert_eq!(
        (g["version"].as_u64(), g["set_by"].as_str()),
        (Some(3), Some(merge.as_str())),
        "{v}"
    );
    assert_eq!(g["set_at"], "2031-01-04T10:00:00Z");
    assert_eq!(g["subject"], "Merge branch 'side'");
    // bye was set once, on 01-02, and is reported so after the merge too.
    let bye = v["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["prompt"] == "bye")
        .cloned()
        .unwrap();
    assert_eq!(
        (bye["version"].as_u64(), bye["set_by"].as_str()),
        (Some(1), Some(c2.as_str()))
    );

    // Offsets are honoured: 10:30+01:00 is 09:30 UTC, before v2 landed.
    assert_eq!(greet(&live(&r, "2031-01-02T10:30:00+01:00"))["version"], 1);
    assert_eq!(greet(&live(&r, "2031-01-02T10:30:00-01:00"))["version"], 2);
    // A day alone is its 00:00 UTC.
    assert_eq!(greet(&live(&r, "2031-01-04"))["version"], 2);

    // One prompt, in the terminal.
    let run = r.llmops(&[
        "log",
        "greet",
        "--label",
        "production",
        "--at",
        "2031-01-05",
    ]);
    run.expect(0);
    assert!(
        run.stdout.starts_with(&format!(
            "label `production` at 2031-01-05T00:00:00Z (commit {}, first-parent history of this branch):",
            &merge[..7]
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "greet  v3  content {}",
            &greet(&v)["content_hash"].as_str().unwrap()[..12]
        )) && run.stdout.contains(&format!(
            "set by {} at 2031-01-04T10:00:00Z  Merge branch 'side'",
            &merge[..7]
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("bye"), "{}", run.stdout);
}

#[test]
fn before_the_label_and_unknown_labels_name_the_fix() {
    let (r, [c1, ..]) = history();
    let run = r.llmops(&["log", "--label", "production", "--at", "2031-01-01"]);
    run.expect(2);
    assert!(
        run.stderr.contains(&format!(
            "label `production` did not exist yet at 2031-01-01T00:00:00Z: commit {} created it at 2031-01-01T10:00:00Z",
            &c1[..7]
        )) && run
            .stderr
            .contains("`llmops log --label production --at 2031-01-01T10:00:00Z`"),
        "{}",
        run.stderr
    );
    // Before the first commit of all.
    let run = r.llmops(&["log", "--label", "production", "--at", "2001-09-09"]);
    run.expect(2);
    assert!(run.stderr.contains("did not exist yet"), "{}", run.stderr);

    let run = r.llmops(&["log", "--label", "prod", "--at", "2031-01-05"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("no label `prod` in the history of this branch (labels: production)")
            && run
                .stderr
                .contains("llmops promote PROMPT VERSION --label prod"),
        "{}",
        run.stderr
    );
    let run = r.llmops(&[
        "log",
        "bye",
        "--label",
        "production",
        "--at",
        "2031-01-01 12:00",
    ]);
    run.expect(2);
    assert!(run.stderr.contains("did not name `bye`"), "{}", run.stderr);
    let run = r.llmops(&["log", "--at", "last thursday"]);
    run.expect(2);
    assert!(run.stderr.contains("is not a date"), "{}", run.stderr);
    // `--label` alone is not a question about a moment.
    let run = r.llmops(&["log", "greet", "--label", "production"]);
    run.expect(2);
    // The default label is `production`.
    let run = r.llmops(&["log", "--at", "2031-01-05", "--format", "json"]);
    run.expect(0);
    assert_eq!(json(&run)["label"], "production");
}
