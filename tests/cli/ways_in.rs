//! Ways in: shell completions, man pages, `llmops config` with origins, embedded guides.

use crate::support::{llmops_in, minimal, Repo};

#[test]
fn completions_for_every_shell_name_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = llmops_in(dir.path(), &["completions", shell], &[]);
        run.expect(0);
        for word in ["gate", "rollback", "completions", "profile"] {
            assert!(run.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let run = llmops_in(dir.path(), &["completions", "tcsh"], &[]);
    run.expect(2);
}

#[test]
fn man_pages_for_the_tool_and_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let run = llmops_in(dir.path(), &["man"], &[]);
    run.expect(0);
    assert!(run.stdout.starts_with(".ie"), "{}", run.stdout);
    assert!(run.stdout.contains(".TH LLMOPS 1"));
    let run = llmops_in(dir.path(), &["man", "cache", "clear"], &[]);
    run.expect(0);
    assert!(
        run.stdout.contains(".TH LLMOPS-CACHE-CLEAR 1"),
        "{}",
        run.stdout
    );
    let run = llmops_in(dir.path(), &["man", "gat"], &[]);
    run.expect(2);
    assert!(
        run.stderr.contains("did you mean `gate`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn config_shows_each_value_with_its_origin() {
    let r = Repo::new();
    minimal(&r);
    r.write(
        "llmops.yaml",
        "prompts_dir: prompts\nevals_dir: evals\ndefaults: { provider: echo, model: m-1 }\n\
providers:\n  local: { type: openai, base_url: 'https://user:hunter2@llm.example/v1?key=sk-abc', api_key_env: LOCAL_KEY }\n\
gate: { tolerance: 0.03 }\nlimits: { output_bytes: 2048 }\nprofiles:\n  ci:\n    gate: { strict: true }\n",
    );
    let run = r.llmops_env(
        &["--profile", "ci", "config"],
        &[
            ("LLMOPS_CONCURRENCY", "3"),
            ("LOCAL_KEY", "sk-secret-value"),
        ],
    );
    run.expect(0);
    let line = |key: &str| {
        run.stdout
            .lines()
            .find(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|kv| kv.starts_with(&format!("{key}=")))
            })
            .unwrap_or_else(|| panic!("no {key} in\n{}", run.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Every section is shown, with where its value came from.
    assert_eq!(
        line("limits.output_bytes"),
        "file:llmops.yaml limits.output_bytes=2048"
    );
    assert_eq!(
        line("limits.response_bytes"),
        "default limits.response_bytes=33554432"
    );
    assert_eq!(line("redaction.inputs"), "default redaction.inputs=false");
    assert_eq!(
        line("defaults.model"),
        "file:llmops.yaml defaults.model=m-1"
    );
    assert_eq!(line("gate.strict"), "profile:ci gate.strict=true");
    assert_eq!(line("profile"), "flag:--profile profile=ci");
    assert_eq!(
        line("defaults.concurrency"),
        "env:LLMOPS_CONCURRENCY defaults.concurrency=3"
    );
    assert_eq!(line("gate.alpha"), "default gate.alpha=0.05");
    assert_eq!(
        line("providers.local.base_url"),
        "file:llmops.yaml providers.local.base_url=https://llm.example/v1?…"
    );
    assert_eq!(
        line("providers.local.api_key_env"),
        "file:llmops.yaml providers.local.api_key_env=LOCAL_KEY"
    );
    for secret in ["hunter2", "sk-abc", "sk-secret-value"] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
    let run = r.llmops(&["config", "--format", "json"]);
    run.expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let tolerance = v["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "gate.tolerance")
        .unwrap();
    assert_eq!(tolerance["value"], 0.03);
    assert_eq!(tolerance["origin"], "file:llmops.yaml");
}

#[test]
fn guides_are_in_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let run = llmops_in(dir.path(), &["help", "gate"], &[]);
    run.expect(0);
    assert_eq!(run.stdout, include_str!("../../docs/gate.md"));
    let run = llmops_in(dir.path(), &["help"], &[]);
    run.expect(0);
    for guide in ["getting-started", "assertions", "ci", "configuration"] {
        assert!(run.stdout.contains(guide), "{}", run.stdout);
    }
    let run = llmops_in(dir.path(), &["help", "cache", "clear"], &[]);
    run.expect(0);
    assert!(
        run.stdout.contains("Usage: llmops cache clear"),
        "{}",
        run.stdout
    );
    let run = llmops_in(dir.path(), &["help", "asertions"], &[]);
    run.expect(2);
    assert!(
        run.stderr.contains("did you mean `assertions`?"),
        "{}",
        run.stderr
    );
}
