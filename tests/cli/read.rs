//! list, show and render at the working tree and at older revisions.

use crate::support::{minimal, Repo, GREET};

fn history() -> (Repo, String) {
    let mut r = Repo::new();
    minimal(&r);
    let first = r.commit("add greet");
    r.write(
        "prompts/greet.prompty",
        &GREET
            .replace("temperature: 0.5", "temperature: 0.9")
            .replace("Hello {{ who }}", "Good day {{ who }}"),
    );
    r.write(
        "prompts/bye.prompty",
        "---\nname: bye\ninputs: { who: {} }\n---\nuser:\nBye {{ who }}\n",
    );
    r.commit("greet: formal; add bye");
    (r, first)
}

#[test]
fn list_at_head_and_at_an_older_revision() {
    let (r, first) = history();
    let now = r.llmops(&["list", "--format", "json"]);
    now.expect(0);
    let rows: serde_json::Value = serde_json::from_str(&now.stdout).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bye", "greet"]);
    assert_eq!(rows[1]["suites"], serde_json::json!(["greet"]));
    assert_eq!(rows[1]["inputs"], serde_json::json!(["who", "punct?"]));

    let old = r.llmops(&["list", "--rev", "HEAD~1", "--format", "json"]);
    old.expect(0);
    let rows: serde_json::Value = serde_json::from_str(&old.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "bye did not exist then");
    let by_sha = r.llmops(&["list", "--rev", &first[..10]]);
    by_sha.expect(0);
    assert!(by_sha.stdout.contains("greet") && !by_sha.stdout.contains("bye"));
}

#[test]
fn show_and_render_read_the_revision_not_the_worktree() {
    let (r, _) = history();
    let show = r.llmops(&["show", "greet@HEAD~1", "--format", "json"]);
    show.expect(0);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(v["parameters"]["temperature"], 0.5);
    assert_eq!(
        v["source"].as_str().unwrap().split(' ').next(),
        Some("HEAD~1")
    );
    let now = r.llmops(&["show", "greet"]);
    now.expect(0);
    assert!(now.stdout.contains("temperature=0.9"), "{}", now.stdout);

    let old = r.llmops(&["render", "greet@HEAD~1", "--var", "who=Ada"]);
    old.expect(0);
    assert_eq!(
        old.stdout,
        "system:\nYou greet people.\n\nuser:\nHello Ada!\n"
    );
    let new = r.llmops(&["render", "greet", "--var", "who=Ada"]);
    assert!(new.stdout.contains("Good day Ada!"));
    // The same through --rev.
    let old2 = r.llmops(&["render", "greet", "--rev", "HEAD~1", "--var", "who=Ada"]);
    assert_eq!(old2.stdout, old.stdout);
    // A dirty working tree does not leak into a revision read.
    r.write("prompts/greet.prompty", &GREET.replace("Hello", "Yo"));
    let head = r.llmops(&["render", "greet@HEAD", "--var", "who=Ada"]);
    assert!(head.stdout.contains("Good day Ada!"), "{}", head.stdout);
}

#[test]
fn render_variable_sources() {
    let (r, _) = history();
    // No vars at all: the sample.
    let s = r.llmops(&["render", "greet"]);
    s.expect(0);
    assert!(s.stdout.contains("Good day World!"));
    // A case from the suite.
    let c = r.llmops(&["render", "greet", "--case", "ada", "--format", "json"]);
    c.expect(0);
    let v: serde_json::Value = serde_json::from_str(&c.stdout).unwrap();
    assert_eq!(v["messages"][1]["content"], "Good day Ada!");
    assert_eq!(v["messages"][1]["role"], "user");
    assert_eq!(v["vars"]["punct"], "!");
    assert_eq!(v["model"], "m-1");
    assert_eq!(v["provider"], "echo");
    // A vars file, overridden by --var.
    r.write("vars.yaml", "who: Grace\npunct: '?'\n");
    let f = r.llmops(&["render", "greet", "--vars", "vars.yaml", "--var", "punct=."]);
    f.expect(0);
    assert!(f.stdout.contains("Good day Grace."), "{}", f.stdout);
}

#[test]
fn render_errors_name_the_problem() {
    let (r, _) = history();
    let e = r.llmops(&["render", "greet", "--var", "whoo=Ada"]);
    e.expect(2);
    assert!(
        e.stderr.contains("unknown variable `whoo`") && e.stderr.contains("did you mean `who`?"),
        "{}",
        e.stderr
    );
    let e = r.llmops(&["render", "bye"]);
    e.expect(2);
    assert!(
        e.stderr.contains("missing required input(s) `who`"),
        "{}",
        e.stderr
    );
    let e = r.llmops(&["render", "gret"]);
    e.expect(2);
    assert!(e.stderr.contains("did you mean `greet`?"), "{}", e.stderr);
    let e = r.llmops(&["render", "greet@no-such-branch"]);
    e.expect(2);
    assert!(
        e.stderr.contains("unknown revision `no-such-branch`"),
        "{}",
        e.stderr
    );
    let e = r.llmops(&["render", "greet", "--case", "adda"]);
    e.expect(2);
    assert!(e.stderr.contains("did you mean `ada`?"), "{}", e.stderr);
}

#[test]
fn strict_rendering_names_variable_and_line() {
    let mut r = Repo::new();
    minimal(&r);
    r.write(
        "prompts/greet.prompty",
        &GREET.replace("Hello {{ who }}", "Hello {{ who }} {{ nickname }}"),
    );
    r.commit("typo");
    let e = r.llmops(&["render", "greet"]);
    e.expect(2);
    assert!(
        e.stderr
            .contains("prompts/greet.prompty:16: error: undefined variable"),
        "{}",
        e.stderr
    );
    assert!(e.stderr.contains("nickname"), "{}", e.stderr);
}

#[test]
fn partials_render_and_count_in_identity() {
    let mut r = Repo::new();
    minimal(&r);
    r.write("prompts/partials/sig.jinja", "-- {{ who }}'s friend");
    r.write(
        "prompts/greet.prompty",
        &GREET.replace(
            "You greet people.",
            "You greet people.\n{% include \"partials/sig.jinja\" %}",
        ),
    );
    r.commit("partial");
    let a = r.llmops(&["render", "greet", "--format", "json"]);
    a.expect(0);
    let a: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    assert_eq!(
        a["messages"][0]["content"],
        "You greet people.\n-- World's friend"
    );
    r.write("prompts/partials/sig.jinja", "-- a friend");
    let b = r.llmops(&["render", "greet", "--format", "json"]);
    let b: serde_json::Value = serde_json::from_str(&b.stdout).unwrap();
    assert_ne!(
        a["content_hash"], b["content_hash"],
        "a partial edit changes the prompt's identity"
    );
}

#[test]
fn runs_from_a_subdirectory_and_with_dash_c() {
    let (r, _) = history();
    let sub = r.path().join("prompts");
    let run = crate::support::llmops_in(&sub, &["list"], &[]);
    run.expect(0);
    assert!(run.stdout.contains("greet"));
    let elsewhere = tempfile::tempdir().unwrap();
    let run = crate::support::llmops_in(
        elsewhere.path(),
        &["-C", r.path().to_str().unwrap(), "list"],
        &[],
    );
    run.expect(0);
    let none = crate::support::llmops_in(elsewhere.path(), &["list"], &[]);
    none.expect(2);
    assert!(
        none.stderr.contains("no llmops.yaml") && none.stderr.contains("llmops init"),
        "{}",
        none.stderr
    );
}

#[test]
fn broken_pipe_is_not_an_error() {
    let (r, _) = history();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_llmops"))
        .args(["show", "greet", "--format", "json"])
        .current_dir(r.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before llmops writes
    let out = child.wait_with_output().unwrap();
    assert!(out.status.code() == Some(0), "{:?}", out);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty(), "{:?}", out);
}

#[test]
fn profiles_and_environment_override_config() {
    let (r, _) = history();
    r.write("llmops.yaml", "prompts_dir: prompts\nevals_dir: evals\ndefaults: { provider: echo, model: m-1 }\nproviders: { fast: { type: echo } }\nprofiles:\n  ci:\n    defaults: { model: m-ci }\n");
    r.write(
        "prompts/bye.prompty",
        "---\nname: bye\ninputs: { who: {} }\n---\nuser:\nBye {{ who }}\n",
    );
    let base = r.llmops(&["render", "bye", "--var", "who=x", "--format", "json"]);
    assert!(
        base.stdout.contains("\"model\": \"m-1\""),
        "{}",
        base.stdout
    );
    let ci = r.llmops(&[
        "--profile",
        "ci",
        "render",
        "bye",
        "--var",
        "who=x",
        "--format",
        "json",
    ]);
    assert!(ci.stdout.contains("\"model\": \"m-ci\""), "{}", ci.stdout);
    let env = r.llmops_env(
        &["render", "bye", "--var", "who=x", "--format", "json"],
        &[
            ("LLMOPS_PROFILE", "ci"),
            ("LLMOPS_MODEL", "m-env"),
            ("LLMOPS_PROVIDER", "fast"),
        ],
    );
    assert!(
        env.stdout.contains("\"model\": \"m-env\"")
            && env.stdout.contains("\"provider\": \"fast\""),
        "{}",
        env.stdout
    );
    let bad = r.llmops(&["--profile", "cj", "list"]);
    bad.expect(2);
    assert!(bad.stderr.contains("did you mean `ci`?"), "{}", bad.stderr);
}
