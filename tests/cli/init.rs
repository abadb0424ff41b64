//! `llmops init`: a working registry, committed when the directory is a new repository.

use crate::support::llmops_in;

#[test]
fn init_creates_a_committed_registry_that_lints() {
    let tmp = tempfile::tempdir().unwrap();
    let run = llmops_in(tmp.path(), &["init", "reg"], &[]);
    run.expect(0);
    let dir = tmp.path().join("reg");
    let repo = git2::Repository::open(&dir).expect("a git repository");
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_count(), 0);
    assert_eq!(head.author().name(), Some("Test Author"));
    let tree = head.tree().unwrap();
    for f in [
        "llmops.yaml",
        "prompts/welcome.prompty",
        "evals/welcome.yaml",
        "evals/data/welcome.jsonl",
        ".gitignore",
    ] {
        assert!(
            tree.get_path(std::path::Path::new(f)).is_ok(),
            "{f} committed"
        );
    }
    assert!(
        repo.statuses(None).unwrap().is_empty(),
        "nothing left uncommitted"
    );
    llmops_in(&dir, &["lint", "--strict"], &[]).expect(0);
    let render = llmops_in(&dir, &["render", "welcome"], &[]);
    render.expect(0);
    assert!(render.stdout.contains("Welcome Ada"));
    llmops_in(&dir, &["list", "--rev", "HEAD"], &[]).expect(0);

    // A second init refuses and changes nothing.
    let again = llmops_in(&dir, &["init"], &[]);
    again.expect(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn init_inside_an_existing_repository_does_not_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(tmp.path()).unwrap();
    std::fs::write(tmp.path().join(".gitignore"), "target/").unwrap();
    llmops_in(tmp.path(), &["init", "registry"], &[]).expect(0);
    assert!(repo.head().is_err(), "no commit was made");
    let ignore = std::fs::read_to_string(tmp.path().join("registry/.gitignore")).unwrap();
    assert!(ignore.contains(".llmops/cache/"));
    llmops_in(&tmp.path().join("registry"), &["lint"], &[]).expect(0);
}
