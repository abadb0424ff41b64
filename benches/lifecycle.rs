//! Lifecycle commands on a registry of 500 prompts and 5,000 commits.
//!
//! The repository is written straight into git's object database with git2 (an in-memory
//! backend dumped as one pack, as a long-lived repository would be packed; no checkouts, no
//! `git` processes). `p000` is released as v1..v9 across the history and `production` is
//! promoted along with it, so `rollback` has to walk the label's history back past the last
//! 1,000 commits. Each command runs as the real release binary, process start included.
//!
//! Run with `cargo bench --bench lifecycle`; set `LLMOPS_BENCH_DIR=/some/new/dir` to keep the
//! repository afterwards.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use git2::{FileMode, Oid, Repository, Signature, Time};
use llmops::registry::{Label, PromptVersions, VersionEntry, VersionsLock};
use llmops::template::Prompt;

const PROMPTS: usize = 500;
const COMMITS: usize = 5_000;
const RELEASE_EVERY: usize = 500;
const RUNS: usize = 30;

fn prompt_text(i: usize, rev: usize) -> String {
    format!(
        "---\nname: p{i:03}\ndescription: Prompt {i}\nmodel:\n  name: m-1\n  parameters: {{ temperature: 0.{}, max_tokens: {} }}\ninputs:\n  who: {{ type: string }}\n  topic: {{ type: string, default: billing }}\n---\nsystem:\nYou are prompt {i}, revision {rev}. Answer questions about {{{{ topic }}}}.\nKeep it short.\n\nuser:\nHello {{{{ who }}}}\n",
        rev % 10,
        100 + rev
    )
}

struct Builder<'r> {
    repo: &'r Repository,
    prompts: BTreeMap<String, Oid>,
    lock: VersionsLock,
    label: Label,
    clock: i64,
    parent: Option<Oid>,
    /// The `.llmops` tree, rebuilt only when the lock or the label changed.
    dot: Option<Oid>,
    config: Oid,
    ignore: Oid,
}

impl Builder<'_> {
    fn blob(&self, text: &str) -> Oid {
        self.repo.blob(text.as_bytes()).unwrap()
    }

    fn release(&mut self, i: usize, version: u32, text: &str, blob: Oid) {
        let name = format!("p{i:03}");
        let path = format!("prompts/{name}.prompty");
        let p = Prompt::parse(&path, text).unwrap();
        let entry = VersionEntry {
            version,
            content_hash: p.content_hash(),
            file: path,
            blob: blob.to_string(),
            partials: BTreeMap::new(),
            author: "Bench <bench@example.com>".into(),
            date: llmops::registry::rfc3339(self.clock),
            message: format!("revision {version}"),
            owner: Some("team@example.com".into()),
            eval: None,
        };
        let v: &mut PromptVersions = self.lock.prompts.entry(name).or_default();
        v.versions.push(entry);
        v.next = version + 1;
        self.dot = None;
    }

    /// The `.llmops` tree: the lock and the label file.
    fn dot_tree(&self) -> Oid {
        let repo = self.repo;
        let mut labels = repo.treebuilder(None).unwrap();
        labels
            .insert(
                "production.yaml",
                self.blob(&self.label.to_yaml()),
                FileMode::Blob.into(),
            )
            .unwrap();
        let labels = labels.write().unwrap();
        let mut dot = repo.treebuilder(None).unwrap();
        dot.insert(
            "versions.lock",
            self.blob(&self.lock.to_yaml()),
            FileMode::Blob.into(),
        )
        .unwrap();
        dot.insert("labels", labels, FileMode::Tree.into()).unwrap();
        dot.write().unwrap()
    }

    fn commit(&mut self, message: &str) -> Oid {
        let repo = self.repo;
        let mut prompts = repo.treebuilder(None).unwrap();
        for (name, oid) in &self.prompts {
            prompts.insert(name, *oid, FileMode::Blob.into()).unwrap();
        }
        let prompts = prompts.write().unwrap();
        let dot = match self.dot {
            Some(d) => d,
            None => self.dot_tree(),
        };
        self.dot = Some(dot);
        let mut root = repo.treebuilder(None).unwrap();
        root.insert("llmops.yaml", self.config, FileMode::Blob.into())
            .unwrap();
        root.insert(".gitignore", self.ignore, FileMode::Blob.into())
            .unwrap();
        root.insert("prompts", prompts, FileMode::Tree.into())
            .unwrap();
        root.insert(".llmops", dot, FileMode::Tree.into()).unwrap();
        let tree = repo.find_tree(root.write().unwrap()).unwrap();
        self.clock += 60;
        let sig = Signature::new("Bench", "bench@example.com", &Time::new(self.clock, 0)).unwrap();
        let parents: Vec<git2::Commit> = self
            .parent
            .iter()
            .map(|p| repo.find_commit(*p).unwrap())
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        let id = repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .unwrap();
        self.parent = Some(id);
        id
    }
}

fn build(dir: &Path) -> Repository {
    let repo = Repository::init(dir).unwrap();
    let head = {
        // Objects go to memory first and reach disk as one pack: no loose objects, no repack.
        let odb = repo.odb().unwrap();
        let mempack = odb.add_new_mempack_backend(1000).unwrap();
        let mut b = Builder {
            repo: &repo,
            prompts: BTreeMap::new(),
            lock: VersionsLock::default(),
            label: Label {
                name: "production".into(),
                ..Label::default()
            },
            clock: 1_700_000_000,
            parent: None,
            dot: None,
            config: repo
                .blob(b"prompts_dir: prompts\nevals_dir: evals\ndefaults: { provider: echo, model: m-1 }\n")
                .unwrap(),
            ignore: repo.blob(b".llmops/cache/\nbundle.json\n").unwrap(),
        };
        for i in 0..PROMPTS {
            let text = prompt_text(i, 0);
            let blob = b.blob(&text);
            b.prompts.insert(format!("p{i:03}.prompty"), blob);
            b.release(i, 1, &text, blob);
            b.label.targets.insert(format!("p{i:03}"), 1);
        }
        b.commit("registry: 500 prompts, all released and in production");
        let mut made = 1;
        let mut version = 1;
        while made < COMMITS {
            if made % RELEASE_EVERY == 0 && version < 9 {
                version += 1;
                let text = prompt_text(0, version as usize);
                let blob = b.blob(&text);
                b.prompts.insert("p000.prompty".into(), blob);
                b.release(0, version, &text, blob);
                b.commit(&format!(
                    "release p000@v{version}\n\nPrompt-Version: p000@v{version}\n"
                ));
                let from = b.label.targets.insert("p000".into(), version).unwrap();
                b.dot = None;
                b.commit(&format!(
                    "promote p000@v{version} to production\n\nPrompt: p000\nLabel: production\nPromote-From: v{from}\nPromote-To: v{version}\n"
                ));
                made += 2;
                continue;
            }
            let i = 1 + (made * 7) % (PROMPTS - 1);
            let blob = b.blob(&prompt_text(i, made));
            b.prompts.insert(format!("p{i:03}.prompty"), blob);
            b.commit(&format!("edit p{i:03}"));
            made += 1;
        }
        let head = b.parent.unwrap();
        drop(b);
        let mut pack = git2::Buf::new();
        mempack.dump(&repo, &mut pack).unwrap();
        let mut writer = odb.packwriter().unwrap();
        std::io::Write::write_all(&mut writer, &pack).unwrap();
        writer.commit().unwrap();
        mempack.reset().unwrap();
        head
    };
    repo.reference("refs/heads/main", head, true, "bench")
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .unwrap();
    repo
}

fn llmops(dir: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_llmops"))
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "llmops {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// CPU time (user + system) of this process's finished children, in ms: wall time moves with
/// whatever else the machine runs; this does much less. Linux only (`None` elsewhere).
fn children_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
    Some(ticks * 10.0) // USER_HZ is 100 on Linux
}

fn stats(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[times.len() / 2]);
    let p95 = ms(times[((times.len() as f64) * 0.95).ceil() as usize - 1]);
    (median, p95)
}

fn main() {
    // LLMOPS_BENCH_DIR keeps the repository for a closer look (it must not exist yet).
    let tmp = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("LLMOPS_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = keep.as_deref().unwrap_or(tmp.path());
    let t = Instant::now();
    let repo = build(dir);
    println!(
        "repository: {PROMPTS} prompts, {COMMITS} commits, one pack, built in {:.1} s",
        t.elapsed().as_secs_f64(),
    );
    let base = repo.head().unwrap().peel_to_commit().unwrap();

    let mut rows: Vec<(String, f64, f64, f64, Option<f64>)> = Vec::new();
    let mut measure = |name: &str, target: f64, run: &mut dyn FnMut() -> Duration| {
        run(); // warm the page cache
        let cpu_before = children_cpu_ms();
        let times: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
        let cpu = match (cpu_before, children_cpu_ms()) {
            (Some(a), Some(b)) => Some((b - a) / RUNS as f64),
            _ => None,
        };
        let (median, p95) = stats(times);
        rows.push((name.to_string(), median, p95, target, cpu));
    };

    measure("rollback p000 (incl. commit)", 100.0, &mut || {
        repo.reset(base.as_object(), git2::ResetType::Hard, None)
            .unwrap();
        llmops(dir, &["rollback", "p000", "--reason", "bench"])
    });
    repo.reset(base.as_object(), git2::ResetType::Hard, None)
        .unwrap();
    measure("diff p000@v1 p000@v9", 50.0, &mut || {
        llmops(dir, &["diff", "p000@v1", "p000@v9"])
    });
    measure("log p000", 50.0, &mut || llmops(dir, &["log", "p000"]));
    measure("export --label production", 50.0, &mut || {
        llmops(
            dir,
            &["export", "--label", "production", "--output", "bundle.json"],
        )
    });
    measure("show p000@production", 50.0, &mut || {
        llmops(dir, &["show", "p000@production"])
    });

    println!(
        "\n{:<32} {:>10} {:>10} {:>8} {:>7} {:>10}",
        "command", "median", "p95", "target", "ratio", "cpu/run"
    );
    for (name, median, p95, target, cpu) in &rows {
        let cpu = cpu.map_or("-".to_string(), |c| format!("{c:.1} ms"));
        println!(
            "{name:<32} {median:>7.1} ms {p95:>7.1} ms {target:>5.0} ms {:>7.2} {cpu:>10}",
            median / target
        );
    }
    println!(
        "\n{RUNS} runs each, wall time per process; ratio = median / target (below 1.00 meets it);\ncpu/run = user + system time of the llmops process, all threads"
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "load average {} on {cores} core(s): other work on the machine inflates these",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
}
