//! The README runs as written: every `$ ` line of its `console` blocks, in order, on a fresh
//! copy of the repository, each giving the exit code the text claims (`(exit N)` in its
//! comment, else 0). And docs/eval.md's dry-run example is what the binary prints.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `$ ` lines of every ```console block, with their expected exit code.
pub(crate) fn commands(markdown: &str) -> Vec<(String, i32)> {
    let claim = regex::Regex::new(r"\(exit (\d+)\)").unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            inside = line.trim() == "```console";
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ").filter(|_| inside) {
            // A comment starts at ` #` outside quotes; none of the README's commands quote one.
            let (cmd, comment) = cmd.split_once(" #").unwrap_or((cmd, ""));
            let code = claim.captures(comment).map_or(0, |c| c[1].parse().unwrap());
            out.push((cmd.trim().to_string(), code));
        }
    }
    out
}

/// The repository's tracked files, as they are in the working tree, in a new git repository
/// on branch `main` with one commit: what a reader has after cloning.
pub(crate) fn fresh_copy() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let files = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("git ls-files");
    for rel in String::from_utf8(files.stdout).unwrap().split('\0') {
        let src = root.join(rel);
        if rel.is_empty() || !src.is_file() {
            continue;
        }
        let dst = dir.path().join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&src, &dst).unwrap();
    }
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "clone"],
    ] {
        let st = shell_in(dir.path(), &format!("git {}", args.join(" ")));
        assert_eq!(st.0, 0, "git {args:?}: {}", st.1);
    }
    dir
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_llmops"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Run `line` with `sh` in `dir`, with the built `llmops` first on PATH and a clean
/// environment; (exit code, stdout + stderr).
pub(crate) fn shell_in(dir: &Path, line: &str) -> (i32, String, String) {
    let home = dir.join(".git/test-home");
    let _ = std::fs::create_dir_all(&home);
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-c", line])
        .current_dir(dir)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "120")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Reader")
        .env("GIT_AUTHOR_EMAIL", "reader@example.com")
        .env("GIT_COMMITTER_NAME", "Reader")
        .env("GIT_COMMITTER_EMAIL", "reader@example.com")
        .output()
        .expect("run sh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_readme_runs_as_written_on_a_fresh_clone() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let lines = commands(&readme);
    let dir = fresh_copy();
    let mut checked = 0;
    for (line, want) in &lines {
        let (code, stderr, stdout) = shell_in(dir.path(), line);
        assert_eq!(
            code, *want,
            "README: `{line}` exited {code}, the text says {want}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        if line.starts_with("llmops ") {
            checked += 1;
        }
    }
    eprintln!(
        "README: {checked} `llmops` lines (of {} commands) ran with the exit code the text claims",
        lines.len()
    );
    // The tour, evaluate, gate, versions and incident sections were all run.
    for needle in [
        "llmops list",
        "llmops eval",
        "llmops gate --baseline HEAD",
        "llmops release support-reply",
        "llmops promote support-reply v2",
        "llmops diff support-reply v1 v2",
        "llmops rollback support-reply",
    ] {
        assert!(
            lines.iter().any(|(l, _)| l.starts_with(needle)),
            "README has no `{needle}` line"
        );
    }
    assert!(checked >= 25, "only {checked} llmops lines found");
}

#[test]
fn the_dry_run_example_in_docs_eval_md_is_what_the_binary_prints() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/eval.md"))
        .unwrap();
    let start = doc
        .find("```console\n$ llmops eval --dry-run\n")
        .expect("the dry-run example");
    let block = &doc[start..];
    let body = &block["```console\n".len()..block[10..].find("```").unwrap() + 10];
    let (first, shown) = body.split_once('\n').unwrap();
    let dir = fresh_copy();
    let (code, stderr, stdout) = shell_in(dir.path(), first.strip_prefix("$ ").unwrap());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout, shown,
        "docs/eval.md's dry-run example differs from the binary"
    );
}

#[test]
fn console_lines_and_their_claims_are_read() {
    let md = "text\n```console\n$ llmops a   # FAIL (exit 1): why\noutput\n$ cp x y\n```\n```sh\n$ not this\n```\n";
    assert_eq!(
        commands(md),
        vec![("llmops a".to_string(), 1), ("cp x y".to_string(), 0)]
    );
}
