//! Temp repositories built with git2 (fixed author and dates, so ids are stable) and a runner
//! for the real binary with a clean environment.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The outcome of one `llmops` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panic with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// Run the binary in `dir` with only the variables a test hands it.
pub fn llmops_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = dir.join(".test-home");
    let _ = std::fs::create_dir_all(&home);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmops"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run llmops");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary git repository.
pub struct Repo {
    pub dir: tempfile::TempDir,
    repo: git2::Repository,
    clock: i64,
}

impl Repo {
    /// An empty repository.
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("git init");
        Repo {
            dir,
            repo,
            clock: 1_700_000_000,
        }
    }

    /// The `greet` registry many tests share, not committed: `config` as llmops.yaml, a
    /// `greet` prompt whose messages are `body` (its input is `who`), `cases` cases `c000…`
    /// with `who: person N`, and a suite running `assert` (YAML list items) over them.
    pub fn greet(config: &str, body: &str, cases: usize, assert: &str) -> Repo {
        let r = Repo::new();
        r.write("llmops.yaml", config);
        r.write(
            "prompts/greet.prompty",
            &format!("---\nname: greet\ninputs: {{ who: {{}} }}\n---\n{body}"),
        );
        let rows: String = (0..cases)
            .map(|i| format!("{{\"id\": \"c{i:03}\", \"vars\": {{\"who\": \"person {i}\"}}}}\n"))
            .collect();
        r.write("evals/data/greet.jsonl", &rows);
        r.write(
            "evals/greet.yaml",
            &format!("prompt: greet\ndataset: data/greet.jsonl\nassert:\n{assert}"),
        );
        r.write(".gitignore", ".llmops/cache/\n.test-home/\n");
        r
    }

    /// A repository holding the bundled examples (config, prompts, suites, datasets),
    /// committed once.
    pub fn with_examples() -> Repo {
        let r = Repo::new();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(root.join("llmops.yaml"), r.path().join("llmops.yaml")).unwrap();
        copy_dir(
            &root.join("prompts-example"),
            &r.path().join("prompts-example"),
        );
        copy_dir(&root.join("evals-example"), &r.path().join("evals-example"));
        r.write(".gitignore", ".llmops/cache/\n.test-home/\n");
        r
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The repository, for assertions on commits and trees.
    pub fn git2(&self) -> &git2::Repository {
        &self.repo
    }

    /// Run the `git` command line in the repository.
    pub fn git(&self, args: &[&str]) -> Run {
        git_in(self.path(), args, None)
    }

    /// HEAD's full commit id.
    pub fn head(&self) -> String {
        self.repo
            .head()
            .unwrap()
            .peel_to_commit()
            .unwrap()
            .id()
            .to_string()
    }

    /// HEAD's commit message.
    pub fn head_message(&self) -> String {
        let c = self.repo.head().unwrap().peel_to_commit().unwrap();
        c.message().unwrap().to_string()
    }

    /// Repository paths HEAD changed relative to its first parent.
    pub fn head_changed_paths(&self) -> Vec<String> {
        let c = self.repo.head().unwrap().peel_to_commit().unwrap();
        let parent = c.parent(0).ok().map(|p| p.tree().unwrap());
        let diff = self
            .repo
            .diff_tree_to_tree(parent.as_ref(), Some(&c.tree().unwrap()), None)
            .unwrap();
        let mut out: Vec<String> = diff
            .deltas()
            .map(|d| d.new_file().path().unwrap().display().to_string())
            .collect();
        out.sort();
        out
    }

    /// Read a file in the work tree.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    /// Write a file (creating directories).
    pub fn write(&self, rel: &str, text: &str) -> &Self {
        self.write_bytes(rel, text.as_bytes())
    }

    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) -> &Self {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
        self
    }

    /// Stage everything and commit with a fixed author and an increasing date.
    pub fn commit(&mut self, message: &str) -> String {
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        self.clock += 60;
        let sig = git2::Signature::new(
            "Test Author",
            "author@example.com",
            &git2::Time::new(self.clock, 0),
        )
        .unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let id = self
            .repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
        id.to_string()
    }

    /// Run llmops in the repository root.
    pub fn llmops(&self, args: &[&str]) -> Run {
        llmops_in(self.path(), args, &[])
    }

    pub fn llmops_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        llmops_in(self.path(), args, env)
    }
}

/// Run `git` in `dir` with a clean environment and a fixed identity; `input` goes to stdin.
pub fn git_in(dir: &Path, args: &[&str], input: Option<&str>) -> Run {
    use std::io::Write;
    let home = dir.join(".test-home");
    let _ = std::fs::create_dir_all(&home);
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run git");
    if let Some(text) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("git finishes");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A minimal registry: config, one prompt `greet`, one suite with inline cases.
pub fn minimal(repo: &Repo) {
    repo.write(
        "llmops.yaml",
        "prompts_dir: prompts\nevals_dir: evals\ndefaults: { provider: echo, model: m-1 }\n",
    );
    repo.write("prompts/greet.prompty", GREET);
    repo.write(
        "evals/greet.yaml",
        "prompt: greet\ncases:\n  - id: ada\n    vars: { who: Ada }\nassert:\n  - type: contains\n    value: Hello\n",
    );
}

pub const GREET: &str = "---
name: greet
description: Say hello
model:
  name: m-1
  parameters: { temperature: 0.5 }
inputs:
  who: { type: string, description: Who to greet }
  punct: { type: string, default: '!' }
sample: { who: World }
---
system:
You greet people.

user:
Hello {{ who }}{{ punct }}
";
