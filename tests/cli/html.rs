//! `--format html`: one self-contained page for `eval`, `report`, `gate` and `diff`, checked as
//! text here and in a real headless Chromium (`crate::browser`): it loads without a console
//! error, its filter works, hostile output stays text, and a 1280×800 screenshot is written.

use crate::browser::{chromium, Browser};
use crate::support::{minimal, Repo};

/// An output that would run script or close the case's markup if it were pasted as HTML.
const HOSTILE: &str =
    "<script>window.__pwned=1</script></details></td><img src=x onerror=\"window.__pwned=2\">";

/// `minimal` plus a hostile case and a failing one; the echo provider answers with the
/// rendered prompt, so the hostile name comes back as the model's output.
fn hostile_repo() -> Repo {
    let mut r = Repo::new();
    minimal(&r);
    r.write(
        "evals/greet.yaml",
        &format!(
            "prompt: greet\ncases:\n  - id: ada\n    vars: {{ who: Ada }}\n  - id: mallory\n    description: a hostile name\n    vars: {{ who: {} }}\n  - id: bob\n    vars: {{ who: Bob }}\n    assert:\n      - type: contains\n        value: Goodbye\nassert:\n  - type: contains\n    value: Hello\n",
            serde_json::to_string(HOSTILE).unwrap()
        ),
    );
    r.commit("greet with a hostile case");
    r
}

/// The page has no external reference and only its own two script elements.
fn self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
    for needle in ["http://", "https://", "src=\"", "href=\"", "@import"] {
        assert!(!html.contains(needle), "the page refers to `{needle}`");
    }
    assert_eq!(html.matches("<script").count(), 2);
    assert!(!html.contains(HOSTILE), "model output is pasted as markup");
}

#[test]
fn eval_report_gate_and_diff_write_self_contained_pages() {
    let r = hostile_repo();
    let eval = r.llmops(&["eval", "--no-progress", "--format", "html"]);
    eval.expect(1);
    self_contained(&eval.stdout);
    assert!(eval.stdout.contains("mallory"));

    let out = r.path().join("run.html");
    r.llmops(&["report", "--format", "html", "--output", "run.html"])
        .expect(1);
    let page = std::fs::read_to_string(&out).unwrap();
    self_contained(&page);

    // A candidate that answers differently, so the gate has two outputs to set side by side.
    r.write(
        "prompts/greet.prompty",
        &crate::support::GREET.replace("You greet people.", "You greet people warmly."),
    );
    let gate = r.llmops(&[
        "gate",
        "--baseline",
        "HEAD",
        "--no-progress",
        "--format",
        "html",
    ]);
    assert!(gate.code == 0 || gate.code == 1, "{gate:?}");
    self_contained(&gate.stdout);
    // The word diff of the two outputs travels as data: the changed word is its own run.
    assert!(
        gate.stdout.contains("[1,\"people warmly.\"]"),
        "no word diff in the gate page"
    );

    let diff = r.llmops(&["diff", "greet", "HEAD", "worktree", "--format", "html"]);
    diff.expect(0);
    self_contained(&diff.stdout);
    assert!(
        diff.stdout.contains("[1,\"people warmly.\"]"),
        "no word diff in the diff page"
    );
}

#[test]
fn report_open_writes_the_page_and_hands_it_to_the_browser() {
    let r = hostile_repo();
    r.llmops(&["eval", "--no-progress"]).expect(1);
    // A stand-in browser that records what it was asked to open.
    let seen = r.path().join("opened.txt");
    let script = r.path().join("browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", seen.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = r.llmops_env(
        &["report", "--open"],
        &[("BROWSER", script.to_str().unwrap())],
    );
    run.expect(1);
    let mut opened = String::new();
    for _ in 0..100 {
        opened = std::fs::read_to_string(&seen).unwrap_or_default();
        if !opened.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        opened.ends_with(".llmops/cache/reports/run-1.html"),
        "opened {opened:?}; stderr {}",
        run.stderr
    );
    self_contained(&std::fs::read_to_string(&opened).unwrap());

    let wrong = r.llmops(&["report", "--open", "--format", "json"]);
    wrong.expect(2);
    assert!(wrong.stderr.contains("`--open` shows the HTML report"));
}

#[test]
fn the_page_works_in_a_real_browser() {
    let Some(exe) = chromium() else { return };
    let mut b = Browser::start(&exe);

    // 1. A hostile output stays text, and the filters narrow the table.
    let r = hostile_repo();
    r.llmops(&["eval", "--no-progress"]).expect(1);
    r.llmops(&["report", "--format", "html", "--output", "run.html"])
        .expect(1);
    b.open(&format!("file://{}", r.path().join("run.html").display()));
    assert_eq!(b.errors(), Vec::<String>::new(), "console errors");
    assert_eq!(b.eval("document.querySelectorAll('tr.case').length"), 3);
    b.eval(
        "(() => { const s = document.getElementById('filter-status'); s.value = 'fail';
                  s.dispatchEvent(new Event('change')); })()",
    );
    assert_eq!(
        b.eval("[...document.querySelectorAll('tr.case td:nth-child(3)')].map(t => t.textContent)"),
        serde_json::json!(["bob"])
    );
    b.eval(
        "(() => { const s = document.getElementById('filter-status'); s.value = '';
                  s.dispatchEvent(new Event('change'));
                  const q = document.getElementById('filter-text'); q.value = 'HOSTILE NAME';
                  q.dispatchEvent(new Event('input'));
                  document.querySelector('tr.case').click(); })()",
    );
    assert_eq!(
        b.eval("[...document.querySelectorAll('tr.case td:nth-child(3)')].map(t => t.textContent)"),
        serde_json::json!(["mallory"])
    );
    let output = b.eval("document.querySelector('pre.output').textContent");
    assert!(
        output.as_str().unwrap().contains(HOSTILE),
        "the output is not shown as text: {output}"
    );
    assert_eq!(b.eval("typeof window.__pwned"), "undefined");
    assert_eq!(b.eval("document.querySelectorAll('script, img').length"), 2);
    assert_eq!(b.eval("document.querySelectorAll('tr.detail').length"), 1);

    // The gate and diff pages set the two sides next to each other, changed words marked.
    r.write(
        "prompts/greet.prompty",
        &crate::support::GREET.replace("You greet people.", "You greet people warmly."),
    );
    let gate = r.llmops(&[
        "gate",
        "--baseline",
        "HEAD",
        "--no-progress",
        "--format",
        "html",
    ]);
    let diff = r.llmops(&["diff", "greet", "HEAD", "worktree", "--format", "html"]);
    for (name, page) in [("gate.html", &gate.stdout), ("diff.html", &diff.stdout)] {
        std::fs::write(r.path().join(name), page).unwrap();
        b.open(&format!("file://{}", r.path().join(name).display()));
        assert_eq!(b.errors(), Vec::<String>::new(), "console errors in {name}");
        let marked = b.eval(
            "(() => { document.querySelector('tr.case').click();
                      return [[...document.querySelectorAll('.side del')].map(e => e.textContent),
                              [...document.querySelectorAll('.side ins')].map(e => e.textContent)]; })()",
        );
        assert_eq!(
            marked,
            serde_json::json!([["people."], ["people warmly."]]),
            "{name}"
        );
    }

    // 2. The bundled examples, failing cases only, the first one opened: the screenshot.
    let mut ex = Repo::with_examples();
    ex.commit("examples");
    ex.llmops(&["eval", "--no-progress"]).expect(0);
    ex.llmops(&["report", "--format", "html", "--output", "run.html"])
        .expect(0);
    b.open(&format!("file://{}", ex.path().join("run.html").display()));
    assert_eq!(b.errors(), Vec::<String>::new(), "console errors");
    // The metric filter keeps the cases scored on that metric and adds its column; a click on
    // a header sorts by it.
    let by_metric = b.eval(
        "(() => { const m = document.getElementById('filter-metric'); m.value = 'priority';
                  m.dispatchEvent(new Event('change'));
                  const ths = [...document.querySelectorAll('.cases th')];
                  ths[3].click();
                  const scores = [...document.querySelectorAll('tr.case td:nth-child(4)')]
                      .map(t => Number(t.textContent));
                  const r = [ths[ths.length - 1].textContent, document.getElementById('count').textContent,
                             scores.every((s, i) => i === 0 || scores[i - 1] <= s), scores.length];
                  m.value = ''; m.dispatchEvent(new Event('change'));
                  return r; })()",
    );
    assert_eq!(by_metric[0], "priority", "{by_metric}");
    assert_eq!(by_metric[2], true, "not sorted by score: {by_metric}");
    assert!(by_metric[3].as_u64().unwrap() > 0, "{by_metric}");
    // Four cases of classify-ticket carry a `priority` assertion (`report --format json` agrees).
    assert_eq!(by_metric[1], "4 of 92", "the metric filter: {by_metric}");
    let failing = b.eval(
        "(() => { const s = document.getElementById('filter-status'); s.value = 'fail';
                  s.dispatchEvent(new Event('change'));
                  document.querySelector('tr.case').click();
                  return [...document.querySelectorAll('tr.case td:first-child')].map(t => t.textContent); })()",
    );
    let failing = failing.as_array().unwrap();
    assert!(!failing.is_empty());
    assert!(failing.iter().all(|s| s == "fail"), "{failing:?}");
    b.eval("document.querySelector('h2:nth-of-type(2)').scrollIntoView()");
    let png = b.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 800));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fresh = root.join("target/html-report.png");
    std::fs::write(&fresh, &png).unwrap();
    // The committed copy changes only on request, so a test run leaves the tree clean.
    let committed = root.join("docs/img/html-report.png");
    if !committed.exists() || std::env::var_os("LLMOPS_UPDATE_SCREENSHOT").is_some() {
        std::fs::create_dir_all(committed.parent().unwrap()).unwrap();
        std::fs::write(&committed, &png).unwrap();
    }
    eprintln!(
        "screenshot for review: {} (committed copy: {}; LLMOPS_UPDATE_SCREENSHOT=1 replaces it)",
        fresh.display(),
        committed.display()
    );
    assert_eq!(b.errors(), Vec::<String>::new(), "console errors");
}
