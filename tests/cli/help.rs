//! `--help` snapshots, so the docs cannot drift from the code.

use crate::support::llmops_in;

#[test]
fn help_texts() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        &["--help"][..],
        &["init", "--help"],
        &["list", "--help"],
        &["show", "--help"],
        &["render", "--help"],
        &["lint", "--help"],
        &["release", "--help"],
        &["promote", "--help"],
        &["rollback", "--help"],
        &["log", "--help"],
        &["ingest", "--help"],
        &["monitor", "--help"],
        &["diff", "--help"],
        &["export", "--help"],
        &["git-setup", "--help"],
        &["textconv", "--help"],
        &["config", "--help"],
        &["completions", "--help"],
        &["man", "--help"],
        &["help", "--help"],
        &["import", "promptfoo", "--help"],
    ] {
        let run = llmops_in(dir.path(), cmd, &[("COLUMNS", "100")]);
        run.expect(0);
        let name = if cmd.len() == 1 {
            "llmops".to_string()
        } else {
            format!("llmops-{}", cmd[0])
        };
        insta::assert_snapshot!(name, run.stdout);
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = llmops_in(dir.path(), &["lsit"], &[]);
    run.expect(2);
    assert!(run.stderr.contains("list"), "{}", run.stderr);
    llmops_in(dir.path(), &["--version"], &[]).expect(0);
}
