//! `llmops import promptfoo` on real promptfoo example projects (tests/fixtures/promptfoo, each
//! with a SOURCE note): every one imports, no test is dropped, and the result passes lint.

use std::path::Path;

use crate::support::{copy_dir, llmops_in};

fn fixtures() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/promptfoo");
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("promptfooconfig.yaml").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn real_promptfoo_examples_import_and_lint_clean() {
    let dirs = fixtures();
    assert!(dirs.len() >= 20, "{} fixtures", dirs.len());
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(dir.join("SOURCE").is_file(), "{name} lacks SOURCE");
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&dir, tmp.path());
        let run = llmops_in(
            tmp.path(),
            &["import", "promptfoo", "--format", "json"],
            &[],
        );
        run.expect(0);
        let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let tests = plan["tests"].as_u64().unwrap();
        let cases = plan["cases"].as_u64().unwrap();
        assert!(cases >= tests, "{name}: a test was dropped");
        let rows: usize = std::fs::read_dir(tmp.path().join("evals/data"))
            .map(|d| {
                d.map(|e| {
                    std::fs::read_to_string(e.unwrap().path())
                        .unwrap()
                        .lines()
                        .count()
                })
                .sum()
            })
            .unwrap_or(0);
        assert_eq!(rows as u64, cases, "{name}: every case is in the dataset");
        let report = std::fs::read_to_string(tmp.path().join("import-report.md")).unwrap();
        for note in plan["not_carried_over"].as_array().unwrap() {
            assert!(report.contains(note["message"].as_str().unwrap()), "{name}");
        }
        let lint = llmops_in(tmp.path(), &["lint"], &[]);
        assert_eq!(lint.code, 0, "{name}: lint failed\n{}", lint.stderr);
    }
}

/// The text of the one dataset an import wrote.
fn dataset(dir: &Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(files.pop().unwrap()).unwrap()
}

#[test]
fn what_is_not_carried_over_is_reported_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/promptfoo");
    copy_dir(&root.join("simple-test"), tmp.path());
    let run = llmops_in(tmp.path(), &["import", "promptfoo"], &[]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("promptfooconfig.yaml:32: assertion `javascript` is not carried over"),
        "{}",
        run.stdout
    );
    assert!(!run
        .stdout
        .contains("promptfooconfig.yaml:34: assertion `python`"));
    let rows = dataset(&tmp.path().join("evals/data"));
    // `$ref` to an assertion template is resolved; the case with a dropped assertion stays.
    assert!(
        rows.contains(r#"{"type":"icontains","value":"arrr"}"#),
        "{rows}"
    );
    // `python` is carried over unchanged: llmops runs it through promptfoo's protocol.
    assert!(
        rows.contains(r#"{"type":"python","value":"max(0, len(output) - 300)"}"#),
        "{rows}"
    );
    assert!(rows.contains(r#""id":"check-for-semantic-similarity""#));
    assert!(rows.contains(r#"{"type":"similar","value":"Ahoy, world"}"#));

    // nunjucks' `load` filter is not in llmops: the import says so rather than `eval` later.
    copy_dir(&root.join("simple-csv"), &tmp.path().join("load"));
    let run = llmops_in(tmp.path(), &["-C", "load", "import", "promptfoo"], &[]);
    run.expect(0);
    assert!(
        run.stdout.contains("prompts.txt: prompt `prompts-1` does not render in llmops (template error: unknown filter"),
        "{}",
        run.stdout
    );

    copy_dir(&root.join("config-csv-metadata"), &tmp.path().join("csv"));
    let run = llmops_in(
        tmp.path(),
        &[
            "import",
            "promptfoo",
            "csv/promptfooconfig.yaml",
            "--out",
            "csv",
        ],
        &[],
    );
    run.expect(0);
    let rows = std::fs::read_to_string(tmp.path().join("csv/evals/data/csv.jsonl")).unwrap();
    assert!(
        rows.contains(r#"{"type":"contains","value":"algorithm","threshold":0.9}"#),
        "{rows}"
    );
}

#[test]
fn dry_run_writes_nothing_and_existing_files_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/promptfoo");
    copy_dir(&root.join("getting-started"), tmp.path());
    let run = llmops_in(tmp.path(), &["import", "promptfoo", "--dry-run"], &[]);
    run.expect(0);
    assert!(
        run.stdout.contains("would write llmops.yaml"),
        "{}",
        run.stdout
    );
    assert!(!tmp.path().join("llmops.yaml").exists());
    llmops_in(tmp.path(), &["import", "promptfoo"], &[]).expect(0);
    let run = llmops_in(tmp.path(), &["import", "promptfoo"], &[]);
    run.expect(2);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    // A second import keeps the llmops.yaml it finds and says what it must configure.
    std::fs::write(
        tmp.path().join("llmops.yaml"),
        "defaults: { provider: echo }\n",
    )
    .unwrap();
    let run = llmops_in(tmp.path(), &["import", "promptfoo", "--force"], &[]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("llmops.yaml exists and is left alone: it must configure provider(s) openai"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("llmops.yaml")).unwrap(),
        "defaults: { provider: echo }\n"
    );
    let run = llmops_in(tmp.path(), &["import", "promptfoo", "missing.yaml"], &[]);
    run.expect(2);
    std::fs::write(tmp.path().join("bad.yaml"), "prompts: [a\n").unwrap();
    let run = llmops_in(
        tmp.path(),
        &["import", "promptfoo", "bad.yaml", "--dry-run"],
        &[],
    );
    run.expect(2);
    assert!(run.stderr.contains("bad.yaml:"), "{}", run.stderr);
}

#[test]
fn files_outside_the_project_and_runaway_expansions_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("outside.txt"), "Say hi to {{name}}").unwrap();
    let project = tmp.path().join("p");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("promptfooconfig.yaml"),
        "prompts:\n  - file://../outside.txt\nproviders: [openai:gpt-4o-mini]\ntests:\n  - vars: { name: Ada }\n",
    )
    .unwrap();
    let run = llmops_in(&project, &["import", "promptfoo"], &[]);
    run.expect(2);
    assert!(run.stderr.contains("outside the project"), "{run:?}");
    assert!(!project.join("prompts").exists(), "nothing half-written");

    // Five lists of ten values would be 100,000 cases.
    let list = (0..10)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        project.join("promptfooconfig.yaml"),
        format!("prompts: ['{{{{a}}}}{{{{b}}}}{{{{c}}}}{{{{d}}}}{{{{e}}}}']\nproviders: [openai:gpt-4o-mini]\ntests:\n  - vars: {{ a: [{list}], b: [{list}], c: [{list}], d: [{list}], e: [{list}] }}\n"),
    )
    .unwrap();
    let run = llmops_in(&project, &["import", "promptfoo"], &[]);
    run.expect(2);
    assert!(run.stderr.contains("more than 10000 cases"), "{run:?}");
}
