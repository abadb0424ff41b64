//! Assertions end to end: lint rejects values that cannot mean anything at file:line, and
//! `exec` survives large output and programs that leave children behind.

use crate::support::{minimal, Repo};

fn diagnostics(r: &Repo) -> Vec<serde_json::Value> {
    let run = r.llmops(&["lint", "--format", "json"]);
    assert_eq!(run.code, 2, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["diagnostics"].as_array().unwrap().clone()
}

#[test]
fn lint_rejects_values_that_cannot_match_at_file_and_line() {
    let r = Repo::new();
    minimal(&r);
    let bad = [
        (
            "empty",
            "  - type: not-contains\n    value: ''\n",
            "is empty",
        ),
        (
            "empty-entry",
            "  - type: contains-any\n    value: 'zebra, \"\"'\n",
            "empty entry",
        ),
        (
            "unclosed",
            "  - type: contains-any\n    value: '\"hello, world'\n",
            "no closing",
        ),
        (
            "timeout",
            "  - type: exec\n    value: 'true'\n    timeout_s: -1\n",
            "timeout_s",
        ),
        (
            "timeout-inf",
            "  - type: exec\n    value: 'true'\n    timeout_s: .inf\n",
            "timeout_s",
        ),
        (
            "range",
            "  - type: word-count\n    value: { min: 9, max: 3 }\n",
            "no output can pass",
        ),
        (
            "schema",
            "  - type: json-schema\n    value: '{\"type\": \"nonsense\"}'\n",
            "invalid JSON schema",
        ),
    ];
    for (name, assertion, _) in &bad {
        r.write(
            &format!("evals/{name}.yaml"),
            &format!("prompt: greet\ncases:\n  - vars: {{ who: Ada }}\nassert:\n  - type: contains\n    value: Hello\n{assertion}"),
        );
    }
    let diags = diagnostics(&r);
    for (name, _, message) in &bad {
        let file = format!("evals/{name}.yaml");
        assert!(
            diags.iter().any(|d| d["file"] == file.as_str()
                && d["line"] == 7
                && d["message"].as_str().unwrap_or("").contains(message)),
            "{file}: {diags:#?}"
        );
    }
}

#[test]
fn exec_reads_output_over_one_mebibyte_and_stops_background_children() {
    let r = Repo::new();
    minimal(&r);
    // A 1.5 MiB result (a long reason) and 2 MiB of stderr chatter: more than a pipe holds.
    r.write(
        "checks/big.sh",
        "cat >/dev/null\nhead -c 2097152 /dev/zero >&2\nprintf '{\"pass\": true, \"reason\": \"'\nhead -c 1572864 /dev/zero | tr '\\0' x\nprintf '\"}'\n",
    );
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ncases:\n  - id: ada\n    vars: { who: Ada }\nassert:\n  - type: exec\n    value: [sh, checks/big.sh]\n  - type: exec\n    value: \"sleep 20 & echo '{\\\"pass\\\": true}'\"\n    timeout_s: 2\n",
    );
    let run = r.llmops(&["eval", "--no-progress", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let text = v.to_string();
    assert!(
        !text.contains("timed out"),
        "{}",
        &text[..text.len().min(2000)]
    );
}

/// A mock whose embeddings put "refund" texts, "shipped" texts and the rest on three axes,
/// and that answers `Say: X` with X; a repository whose suite is `suite`.
fn embedding_repo(suite: &str) -> (crate::mock::MockProvider, Repo) {
    use crate::mock::{MockProvider, Reply, Seen};
    use serde_json::json;
    use std::time::Duration;
    let mock = MockProvider::start(|s: &Seen| {
        if s.path.ends_with("/embeddings") {
            let input = s.body["input"].as_str().unwrap_or("").to_lowercase();
            let v = if input.contains("refund") {
                json!([0.9, 0.1, 0.0])
            } else if input.contains("shipped") {
                json!([0.0, 0.9, 0.1])
            } else {
                json!([0.0, 0.1, 0.9])
            };
            let body = json!({"data": [{"embedding": v}], "usage": {"prompt_tokens": 3}});
            return (
                Reply::Json {
                    status: 200,
                    body,
                    headers: vec![],
                },
                Duration::ZERO,
            );
        }
        let text = s.user_text().trim_start_matches("Say: ").to_string();
        (Reply::Text(text), Duration::ZERO)
    });
    let r = Repo::new();
    r.write(
        "llmops.yaml",
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: m }}\njudge: {{ provider: mock, model: j }}\nproviders:\n  mock: {{ type: openai, base_url: {}, max_retries: 0 }}\n", mock.url),
    );
    r.write(
        "prompts/p.prompty",
        "---\nname: p\ninputs: { who: {} }\n---\nuser:\nSay: {{ who }}\n",
    );
    r.write("evals/p.yaml", suite);
    (mock, r)
}

/// Each case's status, by id.
fn statuses(r: &Repo, code: i32) -> std::collections::BTreeMap<String, String> {
    let run = r.llmops(&["eval", "--no-progress", "--format", "json"]);
    assert_eq!(run.code, code, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["groups"][0]["case_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let reasons = c["reasons"].to_string();
            (
                c["id"].as_str().unwrap().to_string(),
                format!("{} {reasons}", c["status"].as_str().unwrap()),
            )
        })
        .collect()
}

#[test]
fn similar_with_a_list_passes_when_any_reference_is_close_enough() {
    let (_mock, r) = embedding_repo(
        "prompt: p\ncases:\n  - id: refund\n    vars: { who: Your refund is on its way }\n  - id: shipped\n    vars: { who: It shipped today }\n  - id: weather\n    vars: { who: The weather is nice }\n  - id: not-weather\n    vars: { who: The weather is nice }\n    assert:\n      - type: not-similar\n        value: [We issued your refund., Your parcel has shipped.]\nassert:\n  - type: similar\n    value: [We issued your refund., Your parcel has shipped.]\n",
    );
    let s = statuses(&r, 1);
    assert!(s["refund"].starts_with("pass"), "{s:?}");
    assert!(s["shipped"].starts_with("pass"), "{s:?}");
    assert!(s["weather"].starts_with("fail"), "{s:?}");
    assert!(s["weather"].contains("closest of 2 references"), "{s:?}");
}

#[test]
fn similar_dot_and_euclidean_metrics() {
    // refund·refund = 0.82 and distance 0; weather·refund = 0.01 and distance about 1.27.
    let (_mock, r) = embedding_repo(
        "prompt: p\ncases:\n  - id: refund\n    vars: { who: Your refund is on its way }\n  - id: weather\n    vars: { who: The weather is nice }\n    assert:\n      - type: not-similar:euclidean\n        value: We issued your refund.\n        threshold: 1.2\nassert:\n  - type: similar:dot\n    value: We issued your refund.\n    threshold: 0.8\n  - type: similar:euclidean\n    value: We issued your refund.\n    threshold: 0.5\n",
    );
    let s = statuses(&r, 1);
    assert!(s["refund"].starts_with("pass"), "{s:?}");
    assert!(s["weather"].starts_with("fail"), "{s:?}");
    assert!(s["weather"].contains("dot product 0.010"), "{s:?}");
    assert!(s["weather"].contains("euclidean distance 1.273"), "{s:?}");
    // The negated distance passed, so it is not among the failure reasons.
    assert!(!s["weather"].contains("not:"), "{s:?}");
}

/// A mock that answers every chat with a tool call to `getCurrentTemperature` (OpenAI
/// `tool_calls` beside some text, or Anthropic `tool_use` blocks), its `unit` taken from the
/// user's message; a repository whose prompt declares the tool.
fn tool_repo(suite: &str) -> (crate::mock::MockProvider, Repo) {
    use crate::mock::{MockProvider, Reply, Seen};
    use serde_json::json;
    use std::time::Duration;
    let mock = MockProvider::start(|s: &Seen| {
        let unit = s.user_text().trim_start_matches("Weather in ").to_string();
        let args = json!({"location": "Paris", "unit": unit});
        let body = if s.path.ends_with("/messages") {
            json!({
                "id": "msg", "type": "message", "role": "assistant", "model": "m",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "getCurrentTemperature", "input": args}
                ],
                "stop_reason": "tool_use",
                "usage": {"input_tokens": 5, "output_tokens": 5}
            })
        } else {
            json!({
                "id": "c", "object": "chat.completion", "model": "m",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": "Let me check.",
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {
                        "name": "getCurrentTemperature", "arguments": args.to_string()}}]
                }}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5}
            })
        };
        (
            Reply::Json {
                status: 200,
                body,
                headers: vec![],
            },
            Duration::ZERO,
        )
    });
    let r = Repo::new();
    r.write(
        "llmops.yaml",
        &format!("prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: m }}\nproviders:\n  mock: {{ type: openai, base_url: {0}, max_retries: 0 }}\n  claude: {{ type: anthropic, base_url: {0}, api_key_env: MOCK_KEY, max_retries: 0 }}\n", mock.url),
    );
    r.write(
        "prompts/weather.prompty",
        "---\nname: weather\ninputs: { unit: {} }\nmodel:\n  parameters:\n    tools:\n      - type: function\n        function:\n          name: getCurrentTemperature\n          parameters:\n            type: object\n            properties:\n              location: { type: string }\n              unit: { type: string, enum: [Celsius, Fahrenheit] }\n            required: [location, unit]\n---\nuser:\nWeather in {{ unit }}\n",
    );
    r.write("evals/weather.yaml", suite);
    (mock, r)
}

const TOOL_SUITE: &str = "prompt: weather\ncases:\n  - id: celsius\n    vars: { unit: Celsius }\n  - id: kelvin\n    vars: { unit: Kelvin }\nassert:\n  - type: is-valid-openai-tools-call\n  - type: tool-call-f1\n    value: [getCurrentTemperature]\n";

#[test]
fn tool_calls_reach_the_assertions_from_openai_and_anthropic() {
    let (mock, r) = tool_repo(TOOL_SUITE);
    let s = statuses(&r, 1);
    assert!(s["celsius"].starts_with("pass"), "{s:?}");
    assert!(s["kelvin"].starts_with("fail"), "{s:?}");
    assert!(s["kelvin"].contains("Kelvin"), "{s:?}");
    // The tools were sent, and the calls were read although the message also had text.
    assert!(mock.requests()[0].body["tools"].is_array());
    let run = r.llmops_env(
        &[
            "eval",
            "--no-progress",
            "--format",
            "json",
            "--provider",
            "claude",
        ],
        &[("MOCK_KEY", "k")],
    );
    assert_eq!(run.code, 1, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let cases = v["groups"][0]["case_results"].as_array().unwrap();
    let status = |id: &str| {
        cases.iter().find(|c| c["id"] == id).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("celsius"), "pass", "{cases:?}");
    assert_eq!(status("kelvin"), "fail", "{cases:?}");
}

#[test]
fn tool_call_kinds_are_linted_and_need_declared_tools() {
    let (_mock, r) = tool_repo("prompt: weather\ncases:\n  - id: c\n    vars: { unit: Celsius }\nassert:\n  - type: tool-call-f1\n    value: 'a,'\n");
    let d = diagnostics(&r);
    assert!(
        d.iter()
            .any(|x| x["message"].as_str().unwrap_or("").contains("none empty")),
        "{d:?}"
    );
    // A prompt without tools: the assertion cannot be evaluated, the case is ERROR with the fix.
    let (_mock, r) = embedding_repo("prompt: p\ncases:\n  - id: a\n    vars: { who: x }\nassert:\n  - type: is-valid-openai-tools-call\n");
    let d = diagnostics(&r);
    assert!(
        d.iter().any(|x| x["message"]
            == "assertion `is-valid-openai-tools-call`: prompt `p` declares no tools"
            && x["help"]
                .as_str()
                .unwrap_or("")
                .contains("model.parameters.tools")),
        "{d:?}"
    );
    // eval scores it anyway: the case is ERROR with the fix, never a fail.
    let s = statuses(&r, 1);
    assert!(s["a"].starts_with("error"), "{s:?}");
    assert!(s["a"].contains("model.parameters.tools"), "{s:?}");
}

#[test]
fn python_assertion_files_and_inline_code_run_with_promptfoos_protocol() {
    let (_mock, r) = embedding_repo("prompt: p\ncases:\n  - id: ada\n    vars: { who: Ada }\n  - id: bob\n    vars: { who: Bob }\nassert:\n  - type: python\n    value: file://checks/names.py\n  - type: python\n    value: file://checks/names.py:score_len\n    threshold: 0.5\n  - type: python\n    value: |\n      print('noise on stdout is ignored')\n      return context['vars']['who'] in output\n");
    // An unchanged promptfoo assertion file: a helper module beside it, a dict result.
    r.write("checks/helpers.py", "def wanted():\n    return 'Ada'\n");
    r.write(
        "checks/names.py",
        "from helpers import wanted\n\ndef get_assert(output, context):\n    ok = output == wanted()\n    return {'pass': ok, 'score': 1.0 if ok else 0.0, 'reason': 'name is ' + output}\n\ndef score_len(output, context):\n    return len(output) / 3\n",
    );
    let s = statuses(&r, 1);
    assert!(s["ada"].starts_with("pass"), "{s:?}");
    assert!(s["bob"].starts_with("fail"), "{s:?}");
    assert!(s["bob"].contains("name is Bob"), "{s:?}");
    r.write("evals/p.yaml", "prompt: p\ncases:\n  - id: a\n    vars: { who: x }\nassert:\n  - type: python\n    value: file://checks/missing.py\n");
    let d = diagnostics(&r);
    assert!(
        d.iter().any(|x| x["message"]
            .as_str()
            .unwrap_or("")
            .contains("checks/missing.py` does not exist")),
        "{d:?}"
    );
    // Outside the repository: a lint error naming the fix.
    r.write("evals/p.yaml", "prompt: p\ncases:\n  - id: a\n    vars: { who: x }\nassert:\n  - type: python\n    value: file://../outside.py\n");
    let d = diagnostics(&r);
    assert!(
        d.iter().any(|x| x["message"]
            .as_str()
            .unwrap_or("")
            .contains("outside the repository")),
        "{d:?}"
    );
}
