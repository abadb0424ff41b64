//! `llmops diff` between any two references, and `git diff` through the textconv driver.

use crate::support::{minimal, Repo, GREET};

fn json(run: &crate::support::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

const BASE: &str = "---
name: reply
model:
  name: m-1
  parameters: { temperature: 0.2, max_tokens: 100 }
inputs:
  who: { type: string, description: the customer }
  ticket: { type: string }
  tier: { type: string, default: free }
  count: { type: integer, default: 1 }
  legacy: { type: string, default: x }
  soon: { type: string, default: y }
outputs:
  type: object
  properties: { answer: { type: string } }
---
system:
Be kind to {{ who }} ({{ tier }}, {{ count }}, {{ legacy }}, {{ soon }}).

user:
{{ ticket }}
";

/// Every kind of input change at once, plus model, output and template changes.
const NEXT: &str = "---
name: reply
model:
  name: m-2
  parameters: { temperature: 0.7, max_tokens: 100 }
inputs:
  who: { type: string, description: the customer's first name }
  ticket: { type: string, required: false }
  tier: { type: string, default: pro }
  count: { type: string, default: '1' }
  soon: { type: string, required: true }
  locale: { type: string }
  emoji: { type: boolean, default: false }
outputs:
  type: object
  properties: { answer: { type: string }, confidence: { type: number } }
---
system:
Be brief and kind to {{ who }} ({{ tier }}, {{ count }}, {{ soon }}, {{ locale }}, {{ emoji }}).

user:
{{ ticket }}
";

fn two_versions() -> Repo {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n");
    r.write("prompts/reply.prompty", BASE);
    r.commit("registry");
    r.llmops(&["release", "reply"]).expect(0);
    r.write("prompts/reply.prompty", NEXT);
    r.llmops(&["release", "reply"]).expect(0);
    r
}

#[test]
fn diff_classifies_input_changes() {
    let r = two_versions();
    let run = r.llmops(&["diff", "reply", "v1", "v2", "--format", "json"]);
    run.expect(0);
    let v = json(&run);
    let p = &v["prompts"][0];
    assert_eq!(p["prompt"], "reply");
    assert_eq!(p["status"], "changed");
    assert_eq!(p["breaking"], true);
    let input = |name: &str| {
        p["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("no change for {name}: {p:#}"))
            .clone()
    };
    let expect = |name: &str, kind: &str, breaking: bool, reason: &str| {
        let i = input(name);
        assert_eq!(i["kind"], kind, "{name}: {i}");
        assert_eq!(i["breaking"], breaking, "{name}: {i}");
        assert!(
            i["reasons"].as_array().unwrap().iter().any(|r| r == reason),
            "{name}: {i}"
        );
    };
    expect("locale", "added", true, "new required input");
    expect("emoji", "added", false, "new optional input");
    expect("legacy", "removed", true, "removed input");
    expect("count", "changed", true, "type integer -> string");
    expect("soon", "changed", true, "optional -> required");
    expect("ticket", "changed", false, "required -> optional");
    expect("tier", "changed", false, "default \"free\" -> \"pro\"");
    expect("who", "changed", false, "description changed");
    // Breaking changes are listed first.
    let flags: Vec<bool> = p["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["breaking"].as_bool().unwrap())
        .collect();
    assert!(flags.windows(2).all(|w| w[0] >= w[1]), "{flags:?}");

    let model: Vec<&str> = p["model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(model, ["model", "parameters.temperature"]);
    assert_eq!(p["outputs"][0]["key"], "/properties/confidence/type");
    assert_eq!(p["outputs"][0]["from"], serde_json::Value::Null);
    assert_eq!(
        p["messages"].as_array().unwrap().len(),
        1,
        "only the system message changed"
    );
    let unified = p["messages"][0]["unified"].as_str().unwrap();
    assert!(unified.contains("-Be kind to"), "{unified}");
    assert!(unified.contains("+Be brief and kind to"), "{unified}");
    assert_eq!(p["a"]["version"], 1);
    assert_eq!(p["b"]["version"], 2);
    assert!(p["eval"].is_null(), "no eval evidence yet");
}

#[test]
fn diff_accepts_every_kind_of_reference() {
    let r = two_versions();
    r.llmops(&["promote", "reply", "v1", "--label", "production"])
        .expect(0);
    let text = r.llmops(&["diff", "reply@production", "reply@v2"]);
    text.expect(0);
    assert!(
        text.stdout
            .starts_with("reply: production (reply@v1) -> reply@v2 (changed, BREAKING)\n"),
        "{text:?}"
    );
    assert!(
        text.stdout
            .contains("    breaking    locale: new required input\n"),
        "{text:?}"
    );
    assert!(
        text.stdout
            .contains("    parameters.temperature: 0.2 -> 0.7\n"),
        "{text:?}"
    );
    assert!(!text.stdout.contains('\x1b'), "no colour off a terminal");
    // Git revisions and the work tree; the same content in both is "the same".
    let same = r.llmops(&["diff", "reply", "HEAD", "worktree"]);
    same.expect(0);
    assert!(same.stdout.contains("same content"), "{same:?}");
    let git = r.llmops(&["diff", "reply", "HEAD~2", "v2", "--format", "json"]);
    let v = json(&git);
    assert_eq!(
        v["prompts"][0]["a"]["version"], 1,
        "HEAD~2 holds v1's content"
    );
    // Without a prompt: only the prompts that differ.
    r.write("prompts/greet.prompty", &GREET.replace("Hello", "Hi"));
    let all = r.llmops(&["diff", "HEAD", "worktree", "--format", "json"]);
    let v = json(&all);
    let names: Vec<&str> = v["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["greet"]);
    // Markdown for a pull request.
    let md = r.llmops(&["diff", "reply", "v1", "v2", "--format", "markdown"]);
    md.expect(0);
    assert!(
        md.stdout.starts_with("## llmops diff `v1` → `v2`\n"),
        "{md:?}"
    );
    assert!(
        md.stdout.contains("### `reply` (changed, **breaking**)"),
        "{md:?}"
    );
    assert!(
        md.stdout
            .contains("| `locale` | new required input | **yes** |"),
        "{md:?}"
    );
    assert!(md.stdout.contains("```diff\n"), "{md:?}");
    // A prompt name where a reference belongs gets a hint.
    let wrong = r.llmops(&["diff", "reply", "v2"]);
    wrong.expect(2);
    assert!(wrong.stderr.contains("`reply` is a prompt"), "{wrong:?}");
}

#[test]
fn diff_shows_eval_deltas_when_versions_have_evidence() {
    let mut r = two_versions();
    let lock = r.read(".llmops/versions.lock");
    let eval = |score: &str, cost: &str| {
        format!("        eval:\n          score: {score}\n          pass_rate: 0.5\n          n: 10\n          cost_usd: {cost}\n")
    };
    // Append an eval block after each version's `date:` line.
    let mut out = String::new();
    let mut seen = 0;
    for line in lock.lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("        date: ") {
            seen += 1;
            out.push_str(&if seen == 1 {
                eval("0.5", "0.01")
            } else {
                eval("0.75", "0.02")
            });
        }
    }
    r.write(".llmops/versions.lock", &out);
    r.commit("evidence");
    let v = json(&r.llmops(&["diff", "reply", "v1", "v2", "--format", "json"]));
    let e = &v["prompts"][0]["eval"];
    assert_eq!(e["score"], 0.25);
    assert_eq!(e["a"]["n"], 10);
    let text = r.llmops(&["diff", "reply", "v1", "v2"]);
    assert!(text.stdout.contains("score"), "{text:?}");
    assert!(text.stdout.contains("(+0.250)"), "{text:?}");
}

#[test]
fn git_diff_shows_normalised_prompts_after_git_setup() {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n");
    r.commit("registry");
    let run = r.llmops(&["git-setup"]);
    run.expect(0);
    assert!(r.read(".gitattributes").contains("*.prompty diff=llmops\n"));
    let cfg = r.git(&["config", "--local", "diff.llmops.textconv"]);
    assert!(cfg.stdout.trim_end().ends_with(" textconv"), "{cfg:?}");
    // Running it twice changes nothing.
    r.llmops(&["git-setup"]).expect(0);
    assert_eq!(r.read(".gitattributes").matches("diff=llmops").count(), 1);
    r.commit("diff driver");

    // Reorder the YAML (no change in meaning) and change one parameter.
    let reordered = GREET.replace(
        "description: Say hello\nmodel:\n  name: m-1\n  parameters: { temperature: 0.5 }\n",
        "model:\n  parameters:\n    temperature: 0.9\n  name: m-1\ndescription: Say hello\n",
    );
    assert_ne!(reordered, GREET);
    r.write("prompts/greet.prompty", &reordered);
    let diff = r.git(&["diff", "--no-color"]);
    diff.expect(0);
    let changed: Vec<&str> = diff
        .stdout
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        [
            "-model.parameters.temperature: 0.5",
            "+model.parameters.temperature: 0.9"
        ],
        "{}",
        diff.stdout
    );
    // A file that does not parse is shown as it is, and git diff still works.
    r.write("prompts/greet.prompty", "not a prompt\n");
    let broken = r.git(&["diff", "--no-color"]);
    broken.expect(0);
    assert!(broken.stdout.contains("+not a prompt"), "{broken:?}");
}
