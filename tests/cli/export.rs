//! `llmops export`: a bundle an application renders without git, byte-for-byte like `render`.

use crate::support::{minimal, Repo, GREET};

fn json(run: &crate::support::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

/// What an application does with a bundle: Jinja with strict undefined variables, includes
/// from `partials`, each message trimmed.
fn render_from_bundle(p: &serde_json::Value, vars: &serde_json::Value) -> Vec<(String, String)> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let partials = p["partials"].as_object().unwrap().clone();
    env.set_loader(move |name| {
        Ok(partials
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string))
    });
    p["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = env
                .render_str(m["template"].as_str().unwrap(), vars)
                .unwrap();
            (
                m["role"].as_str().unwrap().to_string(),
                text.trim().to_string(),
            )
        })
        .collect()
}

fn setup() -> Repo {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n*.json\n");
    r.write(
        "prompts/partials/sig.jinja",
        "{% if punct == '!' %}-- {{ who }}'s friend{% endif %}",
    );
    r.write(
        "prompts/greet.prompty",
        &GREET.replace(
            "You greet people.",
            "You greet people.\n{% include \"partials/sig.jinja\" %}",
        ),
    );
    r.write(
        "prompts/bye.prompty",
        "---\nname: bye\ninputs: { who: {} }\noutputs: { type: object }\nsample: { who: Bo }\n---\nuser:\nBye {{ who }}\n",
    );
    r.commit("registry");
    r.llmops(&["release", "greet"]).expect(0);
    r.llmops(&["release", "bye"]).expect(0);
    r.llmops(&["promote", "greet", "v1", "--label", "production"])
        .expect(0);
    r.llmops(&["promote", "bye", "v1", "--label", "production"])
        .expect(0);
    // The work tree moves on; production must not.
    r.write("prompts/partials/sig.jinja", "CHANGED {{ who }}");
    r
}

#[test]
fn export_round_trips_through_render() {
    let r = setup();
    let run = r.llmops(&["export", "--label", "production", "--output", "bundle.json"]);
    run.expect(0);
    assert!(
        run.stdout.is_empty() && run.stderr.contains("wrote 2 prompt(s)"),
        "{run:?}"
    );
    let bundle: serde_json::Value = serde_json::from_str(&r.read("bundle.json")).unwrap();
    assert_eq!(bundle["format"], "llmops-bundle/1");
    assert_eq!(bundle["source"]["label"], "production");
    let greet = &bundle["prompts"]["greet"];
    assert_eq!(greet["version"], 1);
    assert_eq!(greet["model"], "m-1");
    assert_eq!(greet["provider"], "echo");
    assert_eq!(greet["parameters"]["temperature"], 0.5);
    assert_eq!(greet["inputs"]["punct"]["default"], "!");
    assert!(greet["partials"]["partials/sig.jinja"]
        .as_str()
        .unwrap()
        .contains("friend"));
    assert_eq!(bundle["prompts"]["bye"]["outputs"]["type"], "object");

    for (name, vars) in [
        ("greet", serde_json::json!({"who": "Ada", "punct": "!"})),
        ("greet", serde_json::json!({"who": "Ada", "punct": "?"})),
        ("bye", serde_json::json!({"who": "Bo"})),
    ] {
        let mut args = vec![
            "render".to_string(),
            format!("{name}@production"),
            "--format".into(),
            "json".into(),
        ];
        for (k, v) in vars.as_object().unwrap() {
            args.push("--var".into());
            args.push(format!("{k}={}", v.as_str().unwrap()));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let rendered = json(&r.llmops(&args));
        let expected: Vec<(String, String)> = rendered["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["role"].as_str().unwrap().to_string(),
                    m["content"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            render_from_bundle(&bundle["prompts"][name], &vars),
            expected,
            "{name} {vars}"
        );
        assert_eq!(
            rendered["content_hash"],
            bundle["prompts"][name]["content_hash"]
        );
    }
    // Same prompts, same bytes.
    let again = r.llmops(&["export", "--label", "production"]);
    assert_eq!(again.stdout, r.read("bundle.json"));
}

#[test]
fn export_at_a_revision_and_the_work_tree() {
    let r = setup();
    let head = json(&r.llmops(&["export", "--rev", "HEAD"]));
    assert_eq!(head["source"]["rev"], "HEAD");
    assert_eq!(head["source"]["commit"].as_str().unwrap().len(), 40);
    assert_eq!(head["prompts"]["greet"]["version"], 1);
    let work = json(&r.llmops(&["export"]));
    assert!(
        work["prompts"]["greet"]["version"].is_null(),
        "the partial changed"
    );
    assert_eq!(work["prompts"]["bye"]["version"], 1);
    assert_eq!(
        work["prompts"]["greet"]["partials"]["partials/sig.jinja"],
        "CHANGED {{ who }}"
    );
    let run = r.llmops(&["export", "--label", "nope"]);
    run.expect(2);
    assert!(run.stderr.contains("no label `nope`"), "{run:?}");
    r.llmops(&["export", "--label", "production", "--rev", "HEAD"])
        .expect(2);
}

#[test]
fn export_of_many_versions_reads_them_on_every_core() {
    let mut r = Repo::new();
    minimal(&r);
    r.write(".gitignore", ".test-home/\n");
    let mut label = String::new();
    for i in 0..70 {
        r.write(
            &format!("prompts/p{i:02}.prompty"),
            &format!("---\nname: p{i:02}\ninputs: {{ who: {{}} }}\n---\nuser:\nHello {{{{ who }}}} from {i}\n"),
        );
        label.push_str(&format!("p{i:02}: 1\n"));
    }
    r.commit("seventy prompts");
    for i in 0..70 {
        r.llmops(&["release", &format!("p{i:02}")]).expect(0);
    }
    r.write(".llmops/labels/production.yaml", &label);
    r.commit("label by hand");
    // The work tree moves on; the export must not.
    r.write(
        "prompts/p42.prompty",
        "---\nname: p42\n---\nuser:\nchanged\n",
    );
    let bundle = json(&r.llmops(&["export", "--label", "production"]));
    let prompts = bundle["prompts"].as_object().unwrap();
    assert_eq!(prompts.len(), 70);
    assert!(prompts.values().all(|p| p["version"] == 1));
    assert_eq!(
        prompts["p42"]["messages"][0]["template"],
        "Hello {{ who }} from 42\n"
    );
    let head = json(&r.llmops(&["export", "--rev", "HEAD"]));
    for (name, p) in prompts {
        assert_eq!(
            p["content_hash"], head["prompts"][name]["content_hash"],
            "{name}"
        );
    }
}
