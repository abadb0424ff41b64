//! The shape of the code: module imports form no cycle, and every test file is compiled.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level modules of `src/` and the other top-level modules each one names through
/// `crate::` (in `use` lines, grouped imports and paths), leaving out unit tests.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let path_re = regex::Regex::new(r"crate::\{?\s*([a-z_]+)").unwrap();
    let group_re = regex::Regex::new(r"(?s)use crate::\{(.*?)\};").unwrap();
    let item_re = regex::Regex::new(r"(?m)(?:^|[,{]\s*)([a-z_]+)(?:::|\s*[,}]|\s*$)").unwrap();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "main" || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let deps = graph.entry(module.clone()).or_default();
        for c in path_re.captures_iter(code) {
            deps.insert(c[1].to_string());
        }
        for g in group_re.captures_iter(code) {
            for c in item_re.captures_iter(&g[1]) {
                deps.insert(c[1].to_string());
            }
        }
        deps.remove(&module);
        deps.remove("self");
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for d in graph.get(n).into_iter().flatten() {
            if graph.contains_key(d) {
                if let Some(c) = visit(d, graph, stack, done) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_modules_of_src_import_each_other_without_a_cycle() {
    let graph = import_graph();
    // The checker sees the edges it should: a sample of known imports.
    assert!(graph["engine"].contains("provider"), "{graph:?}");
    assert!(graph["cli"].contains("engine"), "{graph:?}");
    assert!(graph["suite"].contains("paths"), "{graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
    // And it would notice one.
    let mut with_cycle = graph.clone();
    with_cycle
        .get_mut("provider")
        .unwrap()
        .insert("engine".into());
    assert!(find_cycle(&with_cycle).is_some());
}

#[test]
fn every_file_under_tests_cli_is_compiled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let Some(stem) = p
            .extension()
            .is_some_and(|x| x == "rs")
            .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        else {
            continue;
        };
        if stem != "main" && !main.contains(&format!("mod {stem};")) {
            missing.push(stem);
        }
    }
    assert!(
        missing.is_empty(),
        "tests/cli/{{{}}}.rs are not declared in tests/cli/main.rs, so they never run",
        missing.join(",")
    );
}
