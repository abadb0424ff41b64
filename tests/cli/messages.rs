//! One error prefix everywhere, and an example in every `--help`.

use crate::support::llmops_in;

#[test]
fn errors_start_with_the_same_prefix_as_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    // No registry here: an error of ours, about no file.
    let ours = llmops_in(dir.path(), &["list"], &[]);
    ours.expect(2);
    assert!(
        ours.stderr.starts_with("error: no llmops.yaml"),
        "{}",
        ours.stderr
    );
    // clap's, for an unknown flag.
    let clap = llmops_in(dir.path(), &["list", "--bogus"], &[]);
    clap.expect(2);
    assert!(clap.stderr.starts_with("error: "), "{}", clap.stderr);
    // A usage error of ours.
    let usage = llmops_in(dir.path(), &["diff", "a"], &[]);
    assert!(usage.stderr.starts_with("error: "), "{}", usage.stderr);
    assert!(!usage.stderr.contains("llmops: error"), "{}", usage.stderr);
}

#[test]
fn every_command_help_has_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let top = llmops_in(dir.path(), &["--help"], &[]);
    top.expect(0);
    let commands: Vec<String> = top
        .stdout
        .split("Commands:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 20, "{commands:?}");
    let mut paths: Vec<Vec<String>> = commands.iter().map(|c| vec![c.clone()]).collect();
    for parent in ["cache", "judge"] {
        let help = llmops_in(dir.path(), &[parent, "--help"], &[]);
        for sub in help
            .stdout
            .split("Commands:")
            .nth(1)
            .unwrap()
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter(|l| !l.starts_with("   "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| *c != "help")
        {
            paths.push(vec![parent.to_string(), sub.to_string()]);
        }
    }
    for path in &paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = llmops_in(dir.path(), &args, &[]);
        help.expect(0);
        assert!(
            help.stdout.contains("Example"),
            "`llmops {}` has no example",
            path.join(" ")
        );
    }
}

#[test]
fn a_template_syntax_error_says_what_to_do() {
    let mut r = crate::support::Repo::new();
    crate::support::minimal(&r);
    // A role line inside `{% if %}` splits the block across two messages.
    r.write(
        "prompts/greet.prompty",
        &crate::support::GREET.replace(
            "user:\nHello {{ who }}{{ punct }}\n",
            "user:\n{% if who %}\nHello {{ who }}{{ punct }}\nassistant:\nHi\n{% endif %}\n",
        ),
    );
    r.commit("a role line inside a block");
    let lint = r.llmops(&["lint"]);
    lint.expect(2);
    assert!(
        lint.stderr.contains("template syntax error"),
        "{}",
        lint.stderr
    );
    assert!(
        lint.stderr
            .contains("help: a `{% if %}`, `{% for %}` or `{% raw %}` is not closed"),
        "{}",
        lint.stderr
    );
}

/// Four mistakes in one prompt, four diagnostics in one run (it took four runs: each stage
/// hid the next).
#[test]
fn lint_reports_every_problem_of_a_prompt_in_one_run() {
    let mut r = crate::support::Repo::new();
    crate::support::minimal(&r);
    r.write(
        "prompts/greet.prompty",
        "---\nname: greeting\ninputs:\n  who: { type: string }\n---\nsystem:\nYou greet {{ who }.\n\nuser:\n{% include \"missing.jinja\" %}\nHello {{ whom }}\n",
    );
    r.commit("four mistakes");
    let lint = r.llmops(&["lint"]);
    lint.expect(2);
    for want in [
        "error: name `greeting` does not match the file name `greet.prompty`",
        "error: included template `missing.jinja` not found",
        "error: template syntax error",
        "error: variable `whom` is used but not declared",
    ] {
        assert!(
            lint.stderr.contains(want),
            "no `{want}` in:\n{}",
            lint.stderr
        );
    }
}

/// `diff` with one reference: its usage, argument list and error agree on what it needs.
#[test]
fn diff_with_one_reference_says_it_needs_two() {
    let mut r = crate::support::Repo::new();
    crate::support::minimal(&r);
    r.commit("greet");
    let run = r.llmops(&["diff", "v1"]);
    run.expect(2);
    assert!(
        run.stderr
            .starts_with("error: `llmops diff` needs two references to compare, A and B"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`llmops diff v1 worktree`"),
        "{}",
        run.stderr
    );
    let help = r.llmops(&["diff", "--help"]);
    for want in ["[PROMPT] <A> <B>", "<PROMPT|A>", "[A|B]", "[B]"] {
        assert!(
            help.stdout.contains(want),
            "no `{want}` in:\n{}",
            help.stdout
        );
    }
}
