//! A corpus of malformed inputs. Each must end with exit code 2 and a message that names the
//! file and the line, and none may panic.

use crate::support::{minimal, Repo, GREET};

struct Case {
    name: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    args: &'static [&'static str],
    /// `file:line` (optionally `:col`) that must appear in stderr.
    at: &'static str,
    /// A phrase the message must contain.
    says: &'static str,
}

fn case(
    name: &'static str,
    file: &'static str,
    text: impl Into<Vec<u8>>,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        files: vec![(file, text.into())],
        args: &["lint"],
        at,
        says,
    }
}

fn alias_bomb() -> String {
    // Anchors inside free-form `metadata`, where any value is accepted: 9^10 nodes if expanded.
    let mut s = String::from("prompt: greet\ncases:\n  - vars: {who: x}\n    metadata:\n      x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        s.push_str(&format!(
            "      x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    s
}

fn corpus() -> Vec<Case> {
    // Deep nesting where the schema takes any value: a prompt's `outputs` and a case's `metadata`.
    let deep = GREET.replace(
        "sample:",
        &format!(
            "outputs: {}{}\nsample:",
            "[".repeat(10_000),
            "]".repeat(10_000)
        ),
    );
    let deep_block: String =
        "prompt: greet\ncases:\n  - vars: {who: x}\n    metadata:\n      deep:\n".to_string()
            + &(0..10_000)
                .map(|i| format!("{}- \n", "  ".repeat(i + 4)))
                .collect::<String>();
    let big_line = format!("{{\"vars\": {{\"who\": \"{}\"}}}}\n", "x".repeat(50 << 20));
    let mut invalid_utf8 = GREET.as_bytes().to_vec();
    let pos = GREET.find("Hello").unwrap();
    invalid_utf8.splice(pos..pos, [0xff, 0xfe]);
    let bom_error = format!(
        "\u{feff}{}",
        GREET.replace("temperature: 0.5", "temperature: hot")
    );
    let crlf_error = GREET
        .replace("Hello {{ who }}", "Hello {% if who %}")
        .replace('\n', "\r\n");
    vec![
        case("bad YAML in front matter", "prompts/greet.prompty", GREET.replace("description: Say hello", "description: [unclosed"), "prompts/greet.prompty:3", "error"),
        case("wrong type", "prompts/greet.prompty", GREET.replace("temperature: 0.5", "temperature: hot"), "prompts/greet.prompty:6", "invalid floating point"),
        case("unknown front-matter field", "prompts/greet.prompty", GREET.replace("description:", "descripton:"), "prompts/greet.prompty:3", "did you mean `description`?"),
        case("unknown model parameter", "prompts/greet.prompty", GREET.replace("temperature: 0.5", "temprature: 0.5"), "prompts/greet.prompty:6", "did you mean `temperature`?"),
        case("unknown config key", "llmops.yaml", "prompts_dir: prompts\nevals_dir: evals\ndefualts: { provider: echo }\n", "llmops.yaml:3", "did you mean `defaults`?"),
        case("YAML alias bomb", "evals/greet.yaml", alias_bomb(), "evals/greet.yaml:", "too large or too deeply nested"),
        case("10,000-deep flow nesting", "prompts/greet.prompty", deep, "prompts/greet.prompty:10", "nest"),
        case("10,000-deep block nesting", "evals/greet.yaml", deep_block, "evals/greet.yaml:", "nest"),
        Case { name: "50 MB dataset line", files: vec![("evals/greet.yaml", b"prompt: greet\ndataset: data/big.jsonl\n".to_vec()), ("evals/data/big.jsonl", big_line.into_bytes())], args: &["lint"], at: "evals/data/big.jsonl:1", says: "longer than 8 MiB" },
        case("include of ../../etc/passwd", "prompts/greet.prompty", GREET.replace("You greet people.", "You greet people.\n{% include \"../../etc/passwd\" %}"), "prompts/greet.prompty:14", "leaves the prompts directory"),
        case("BOM with a type error keeps line numbers", "prompts/greet.prompty", bom_error, "prompts/greet.prompty:6", "invalid floating point"),
        case("CRLF line ends with a syntax error keeps line numbers", "prompts/greet.prompty", crlf_error, "prompts/greet.prompty:16", "syntax error"),
        case("invalid UTF-8", "prompts/greet.prompty", invalid_utf8, "prompts/greet.prompty:16:1", "invalid UTF-8"),
        case("empty prompt file", "prompts/greet.prompty", "", "prompts/greet.prompty:1", "empty prompt file"),
        case("empty suite file", "evals/greet.yaml", "", "evals/greet.yaml:1", "empty suite file"),
        case("missing dataset", "evals/greet.yaml", "prompt: greet\ndataset: data/nope.jsonl\n", "evals/greet.yaml:2", "not found"),
        case("template syntax error", "prompts/greet.prompty", GREET.replace("Hello {{ who }}", "Hello {% for %}"), "prompts/greet.prompty:16", "syntax error"),
        case("unknown assertion type", "evals/greet.yaml", "prompt: greet\ncases: [{vars: {who: x}}]\nassert:\n  - type: contians\n    value: x\n", "evals/greet.yaml:4", "did you mean `contains`?"),
        case("invalid regex", "evals/greet.yaml", "prompt: greet\ncases: [{vars: {who: x}}]\nassert:\n  - type: regex\n    value: '(unclosed'\n", "evals/greet.yaml:4", "invalid regular expression"),
        case("duplicate YAML key", "evals/greet.yaml", "prompt: greet\nprompt: greet\ncases: [{vars: {who: x}}]\n", "evals/greet.yaml:2", "duplicate"),
        case("front matter not closed", "prompts/greet.prompty", "---\nname: greet\nuser:\nhi\n", "prompts/greet.prompty:1", "not closed"),
        case("name does not match file", "prompts/greet.prompty", GREET.replace("name: greet", "name: greeter"), "prompts/greet.prompty:2", "does not match"),
        Case { name: "invalid JSONL row", files: vec![("evals/greet.yaml", b"prompt: greet\ndataset: data/g.jsonl\n".to_vec()), ("evals/data/g.jsonl", b"{\"vars\": {\"who\": \"a\"}}\n{\"vars\": {\"who\": \"b\"\n".to_vec())], args: &["lint"], at: "evals/data/g.jsonl:2", says: "EOF" },
        Case { name: "CSV row with too many fields", files: vec![("evals/greet.yaml", b"prompt: greet\ndataset: data/g.csv\n".to_vec()), ("evals/data/g.csv", b"__id,who\na,Ada\nb,Bob,extra\n".to_vec())], args: &["lint"], at: "evals/data/g.csv:3", says: "3 fields" },
        case("dataset path escaping the repository", "evals/greet.yaml", "prompt: greet\ndataset: ../../../etc/passwd.csv\n", "evals/greet.yaml:2", "leaves the repository"),
        case("input default of the wrong type", "prompts/greet.prompty", GREET.replace("punct: { type: string, default: '!' }", "punct: { type: integer, default: '!' }"), "prompts/greet.prompty:9", "expected integer"),
        case("text before the first role line", "prompts/greet.prompty", GREET.replace("system:\nYou greet", "Preamble\nsystem:\nYou greet"), "prompts/greet.prompty:12", "before the first role line"),
        case("threshold out of range", "evals/greet.yaml", "prompt: greet\ncases: [{vars: {who: x}}]\nthresholds:\n  pass_rate: 90\n", "evals/greet.yaml:4", "between 0 and 1"),
        case("unknown input type", "prompts/greet.prompty", GREET.replace("who: { type: string,", "who: { type: str,"), "prompts/greet.prompty:8", "unknown variant"),
        case("tab indentation", "llmops.yaml", "prompts_dir: prompts\ndefaults:\n\tprovider: echo\n", "llmops.yaml:3", "error"),
        Case { name: "malformed --vars file", files: vec![("vars.json", b"{\"who\": }".to_vec())], args: &["render", "greet", "--vars", "vars.json"], at: "vars.json:1:9", says: "expected value" },
    ]
}

#[test]
fn malformed_inputs_exit_2_with_file_and_line() {
    let corpus = corpus();
    assert!(corpus.len() >= 20);
    let mut failures = Vec::new();
    for c in corpus {
        let r = Repo::new();
        minimal(&r);
        for (file, bytes) in &c.files {
            r.write_bytes(file, bytes);
        }
        let run = r.llmops(c.args);
        let ok = run.code == 2
            && run.stderr.contains(c.at)
            && run.stderr.contains(c.says)
            && !run.stderr.contains("panicked")
            && run.stderr.len() < 4000;
        if !ok {
            failures.push(format!(
                "[{}] exit {} (want 2), want `{}` + `{}` in:\n{}",
                c.name,
                run.code,
                c.at,
                c.says,
                &run.stderr[..run.stderr.len().min(1500)]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn bom_and_crlf_files_that_are_otherwise_valid_work() {
    let r = Repo::new();
    minimal(&r);
    r.write(
        "prompts/greet.prompty",
        &format!("\u{feff}{}", GREET.replace('\n', "\r\n")),
    );
    r.write(
        "evals/greet.yaml",
        "\u{feff}prompt: greet\r\ncases:\r\n  - id: ada\r\n    vars: { who: Ada }\r\n",
    );
    r.llmops(&["lint", "--strict"]).expect(0);
    let out = r.llmops(&["render", "greet", "--var", "who=Ada"]);
    out.expect(0);
    assert_eq!(
        out.stdout,
        "system:\nYou greet people.\n\nuser:\nHello Ada!\n"
    );
}
