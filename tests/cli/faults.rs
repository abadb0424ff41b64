//! The fault matrix: the real binary against hostile servers on 127.0.0.1, hostile configs,
//! special files, a size-limited filesystem and concurrent processes. One test (or more) per
//! item of "Never lose data, never leak a key, never hang".

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Repo, Run};

const KEY: &str = "sk-fault-KEY-0123456789abcdefghij";

/// One request a hostile server saw.
#[derive(Debug, Clone)]
struct Req {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The last user message of a chat request.
    fn user_text(&self) -> String {
        let v: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        v["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_string()
    }
}

type Handler = dyn Fn(&Req, usize, &mut TcpStream) + Send + Sync;

/// A server on 127.0.0.1 that answers each request however its handler writes, raw.
struct Hostile {
    url: String,
    seen: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    /// `handler(request, index of the request, stream)` writes the whole response.
    fn start(handler: impl Fn(&Req, usize, &mut TcpStream) + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let count = Arc::new(AtomicUsize::new(0));
        {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(mut conn) = conn else { continue };
                    let (seen, handler, count) = (seen.clone(), handler.clone(), count.clone());
                    std::thread::spawn(move || {
                        let Some(req) = read_request(&mut conn) else {
                            return;
                        };
                        seen.lock().unwrap().push(req.clone());
                        let i = count.fetch_add(1, Ordering::SeqCst);
                        handler(&req, i, &mut conn);
                        let _ = conn.flush();
                    });
                }
            });
        }
        Hostile { url, seen, stop }
    }

    fn requests(&self) -> Vec<Req> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Req> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Req {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn respond(conn: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &str) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
}

fn openai_body(text: &str) -> String {
    json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5}
    })
    .to_string()
}

fn anthropic_body(text: &str) -> String {
    json!({
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 5}
    })
    .to_string()
}

/// A registry whose `mock` provider (of `kind`) points at `url`, with `cases` cases.
fn repo(url: &str, kind: &str, cases: usize, extra: &str) -> Repo {
    Repo::greet(
        &format!(
            "prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: gpt-4o-mini, concurrency: 2 }}\nproviders:\n  mock:\n    type: {kind}\n    base_url: {url}\n    api_key_env: MOCK_KEY\n    max_retries: 0\n{extra}\n"
        ),
        "user:\nHello {{ who }}\n",
        cases,
        "  - type: contains\n    value: reply\n",
    )
}

fn llmops(r: &Repo, args: &[&str]) -> Run {
    r.llmops_env(args, &[("MOCK_KEY", KEY)])
}

fn eval(r: &Repo, args: &[&str]) -> Run {
    let mut all = vec!["eval", "--no-progress"];
    all.extend_from_slice(args);
    llmops(r, &all)
}

fn db(r: &Repo) -> rusqlite::Connection {
    rusqlite::Connection::open(r.path().join(".llmops/cache/llmops.db")).unwrap()
}

fn db_text(r: &Repo) -> String {
    let bytes = std::fs::read(r.path().join(".llmops/cache/llmops.db")).unwrap_or_default();
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if let Ok(wal) = std::fs::read(r.path().join(".llmops/cache/llmops.db-wal")) {
        text.push_str(&String::from_utf8_lossy(&wal));
    }
    text
}

fn echo_server() -> Hostile {
    Hostile::start(|req, _, c| {
        respond(
            c,
            200,
            &[],
            &openai_body(&format!("reply to {}", req.user_text())),
        )
    })
}

// ---------------------------------------------------------------- item 1: special files

#[test]
fn output_through_a_symlink_to_a_device_writes_through_and_keeps_both() {
    let s = echo_server();
    let r = repo(&s.url, "openai", 2, "");
    eval(&r, &[]).expect(0);
    std::os::unix::fs::symlink("/dev/null", r.path().join("n")).unwrap();
    llmops(&r, &["report", "--output", "n"]).expect(0);
    use std::os::unix::fs::FileTypeExt;
    let link = std::fs::symlink_metadata(r.path().join("n")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    // A symlink to a regular file: the target is replaced, the link stays.
    r.write("reports/real.json", "old");
    std::os::unix::fs::symlink("reports/real.json", r.path().join("r.json")).unwrap();
    llmops(&r, &["report", "--format", "json", "--output", "r.json"]).expect(0);
    assert!(std::fs::symlink_metadata(r.path().join("r.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    let v: Value = serde_json::from_str(&r.read("reports/real.json")).unwrap();
    assert_eq!(v["groups"][0]["cases"], 2);
}

#[test]
fn output_dash_is_stdout_and_a_fifo_is_written_through() {
    let s = echo_server();
    let r = repo(&s.url, "openai", 1, "");
    eval(&r, &[]).expect(0);
    let run = llmops(&r, &["report", "--format", "json", "--output", "-"]);
    run.expect(0);
    assert!(run.stdout.contains("\"groups\""), "{}", run.stdout);
    assert!(!r.path().join("-").exists(), "a file named `-` was created");
    let fifo = r.path().join("pipe");
    if Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let reader = std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap());
        llmops(&r, &["report", "--format", "json", "--output", "pipe"]).expect(0);
        assert!(reader.join().unwrap().contains("\"groups\""));
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(r.path().join("pipe"))
            .unwrap()
            .file_type()
            .is_fifo());
    }
}

// ---------------------------------------------------------------- item 2: parallel writers

#[test]
fn parallel_reports_never_share_a_temp_file() {
    let s = echo_server();
    let r = repo(&s.url, "openai", 3, "");
    eval(&r, &[]).expect(0);
    let bin = env!("CARGO_BIN_EXE_llmops");
    for _ in 0..6 {
        let spawn = |format: &str, out: &str| {
            Command::new(bin)
                .args(["report", "--format", format, "--output", out])
                .current_dir(r.path())
                .env_clear()
                .env("HOME", r.path().join(".test-home"))
                .env("NO_COLOR", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut a = spawn("json", "r.json");
        let mut b = spawn("junit", "r.xml");
        assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
        let json = r.read("r.json");
        assert!(serde_json::from_str::<Value>(&json).is_ok(), "{json}");
        assert!(r.read("r.xml").starts_with("<?xml"));
    }
    let leftovers: Vec<_> = std::fs::read_dir(r.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("llmops-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

// ---------------------------------------------------------------- item 3: recordings

#[test]
fn record_refuses_an_unreadable_recordings_file_before_calling() {
    let s = echo_server();
    let r = repo(&s.url, "openai", 2, "");
    let bad = "{\"key\": \"k\"}\nnot json at all\n";
    r.write("recordings/greet.jsonl", bad);
    let run = eval(&r, &["--record", "recordings"]);
    run.expect(2);
    assert!(
        run.stderr.contains("recordings/greet.jsonl:1"),
        "{}",
        run.stderr
    );
    assert_eq!(s.count(), 0, "no call is paid for before the refusal");
    assert_eq!(r.read("recordings/greet.jsonl"), bad, "nothing was dropped");
    // A bad byte is named too.
    r.write_bytes("recordings/greet.jsonl", b"\xff\xfe\n");
    let run = eval(&r, &["--record", "recordings"]);
    run.expect(2);
    assert!(run.stderr.contains("not UTF-8"), "{}", run.stderr);
    // Good recordings are merged with new ones.
    std::fs::remove_file(r.path().join("recordings/greet.jsonl")).unwrap();
    eval(&r, &["--record", "recordings", "--filter", "c000"]).expect(0);
    eval(&r, &["--record", "recordings", "--no-cache"]).expect(0);
    assert_eq!(r.read("recordings/greet.jsonl").lines().count(), 2);
}

// ---------------------------------------------------------------- item 4: full disk

/// Run llmops with a file-size limit (RLIMIT_FSIZE), the portable stand-in for a full disk:
/// writes past `bytes` fail with EFBIG.
fn llmops_fsize(r: &Repo, args: &[&str], bytes: u64) -> Run {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmops"));
    cmd.args(args)
        .current_dir(r.path())
        .env_clear()
        .env("HOME", r.path().join(".test-home"))
        .env("NO_COLOR", "1")
        .env("MOCK_KEY", KEY);
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_full_store_stops_paid_calls_at_once() {
    let big = "reply ".repeat(20_000); // 120 KB an answer
    let s = Hostile::start(move |_, _, c| {
        std::thread::sleep(Duration::from_millis(20));
        respond(c, 200, &[], &openai_body(&big))
    });
    let r = repo(&s.url, "openai", 200, "");
    // Create the store (small) first.
    llmops(&r, &["runs"]).expect(0);
    let size = std::fs::metadata(r.path().join(".llmops/cache/llmops.db"))
        .unwrap()
        .len();
    let run = llmops_fsize(&r, &["eval", "--no-progress"], size + 1_000_000);
    run.expect(2);
    assert!(
        run.stderr.contains("database") && run.stderr.contains("stopped"),
        "{}",
        run.stderr
    );
    // With ~8 answers fitting, the run stops within a batch or two, far short of 200.
    assert!(s.count() < 60, "{} calls were paid for", s.count());
    let status: String = db(&r)
        .query_row(
            "SELECT status FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "failed");
    eprintln!("{} calls; {}", s.count(), run.stderr);
}

// ---------------------------------------------------------------- item 5: resume

fn spawn_eval(r: &Repo, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_llmops"))
        .arg("eval")
        .arg("--no-progress")
        .args(args)
        .current_dir(r.path())
        .env_clear()
        .env("HOME", r.path().join(".test-home"))
        .env("NO_COLOR", "1")
        .env("MOCK_KEY", KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_resume_refuses_and_the_resumed_run_reports_the_whole_run() {
    let s = Hostile::start(|req, _, c| {
        std::thread::sleep(Duration::from_millis(60));
        respond(
            c,
            200,
            &[],
            &openai_body(&format!("reply to {}", req.user_text())),
        )
    });
    let r = repo(&s.url, "openai", 20, "");
    // A first leg killed part way: the run stays unfinished.
    let mut first = spawn_eval(&r, &["-j", "1"]);
    wait_for("the first leg's answers", || {
        std::path::Path::new(&r.path().join(".llmops/cache/llmops.db")).exists()
            && db(&r)
                .query_row("SELECT count(*) FROM results", [], |r| r.get::<_, i64>(0))
                .unwrap_or(0)
                >= 4
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let before = s.count();
    // Resume, and while it runs, try again.
    let a = spawn_eval(&r, &["--resume", "-j", "1", "--format", "json"]);
    wait_for("the resume to start calling", || s.count() > before + 1);
    let b = eval(&r, &["--resume", "-j", "1"]);
    b.expect(2);
    assert!(
        b.stderr.contains("being run by another llmops process"),
        "{}",
        b.stderr
    );
    let out = a.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["stats"]["samples"], 20, "{}", v["run"]["stats"]);
    assert_eq!(v["groups"][0]["cases"], 20);
    // Every case was paid for once (give or take the one in flight at the kill).
    assert!(s.count() <= 22, "{} calls for 20 cases", s.count());
}

// ---------------------------------------------------------------- item 6: redirects

#[test]
fn credentials_never_follow_a_redirect_to_another_origin() {
    let other = Hostile::start(|_, _, c| respond(c, 200, &[], &anthropic_body("reply")));
    for kind in ["anthropic", "openai"] {
        let target = format!("{}/v1/stolen", other.url);
        let s =
            Hostile::start(move |_, _, c| respond(c, 307, &[("Location", target.as_str())], ""));
        let r = repo(&s.url, kind, 1, "");
        let run = eval(&r, &["--format", "json"]);
        run.expect(3);
        assert!(
            run.stdout.contains("another origin"),
            "{kind}: {}",
            run.stdout
        );
        let s_seen = s.requests();
        assert_eq!(s_seen.len(), 1);
        let sent = s_seen[0]
            .header("x-api-key")
            .or(s_seen[0].header("authorization"));
        assert!(
            sent.is_some_and(|v| v.contains(KEY)),
            "{kind}: the key went to its own origin"
        );
    }
    for req in other.requests() {
        assert!(req.header("x-api-key").is_none(), "{req:?}");
        assert!(req.header("authorization").is_none(), "{req:?}");
    }
}

#[test]
fn a_redirect_within_the_origin_is_followed() {
    let s = Hostile::start(|req, _, c| {
        if req.path == "/v1/messages" {
            respond(c, 307, &[("Location", "/moved/v1/messages")], "")
        } else if req.header("x-api-key") == Some(KEY) {
            respond(c, 200, &[], &anthropic_body("reply"))
        } else {
            respond(c, 401, &[], "no key")
        }
    });
    let r = repo(&s.url, "anthropic", 1, "");
    eval(&r, &[]).expect(0);
}

// ---------------------------------------------------------------- item 7: secrets

#[test]
fn an_echoed_key_and_its_near_copies_are_never_stored_or_printed() {
    let near = &KEY[..KEY.len() - 1];
    let text = format!("reply: your key is {KEY} (or {near}), also X{}Y", &KEY[3..]);
    let s = Hostile::start(move |_, _, c| respond(c, 200, &[], &openai_body(&text)));
    let r = repo(&s.url, "openai", 2, "");
    let run = eval(&r, &["--format", "json"]);
    run.expect(0);
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains(&KEY[4..20]), "{out}");
    }
    assert!(run.stdout.contains("[redacted]"));
    let report = llmops(&r, &["report"]);
    assert!(!report.stdout.contains(&KEY[4..20]), "{}", report.stdout);
    assert!(
        !db_text(&r).contains(&KEY[4..20]),
        "the key is in the database"
    );
}

#[test]
fn eval_knows_every_configured_key_not_only_those_it_calls() {
    // `backup` is configured but not called; its key still never reaches the terminal.
    // Not key-shaped: only knowing the key hides it.
    const OTHER: &str = "plain-backup-secret-value-4242";
    let s = Hostile::start(move |_, _, c| {
        respond(c, 200, &[], &openai_body(&format!("reply: {OTHER}")))
    });
    let r = repo(
        &s.url,
        "openai",
        1,
        "  backup:\n    type: openai\n    base_url: http://127.0.0.1:9\n    api_key_env: BACKUP_KEY\n",
    );
    let run = r.llmops_env(
        &["eval", "--no-progress", "--format", "json"],
        &[("MOCK_KEY", KEY), ("BACKUP_KEY", OTHER)],
    );
    run.expect(0);
    assert!(run.stdout.contains("reply: "), "{}", run.stdout);
    assert!(!run.stdout.contains(OTHER), "{}", run.stdout);
}

#[test]
fn a_url_credential_in_a_case_is_hidden_in_every_report_format() {
    // In a case's variables, which the HTML page shows and the store keeps as written.
    let s = echo_server();
    let r = repo(&s.url, "openai", 1, "");
    r.write(
        "evals/data/greet.jsonl",
        "{\"id\": \"c0\", \"vars\": {\"who\": \"https://x.example/a?b=1&token=SUPERSECRETVALUE123\"}}\n",
    );
    eval(&r, &[]).expect(0);
    for format in ["text", "json", "markdown", "junit", "html"] {
        let run = llmops(&r, &["report", "--format", format]);
        run.expect(0);
        // The HTML page escapes `&` as `\u0026` in its data: it must be redacted before that.
        assert!(
            !run.stdout.contains("SUPERSECRETVALUE123"),
            "--format {format}: {}",
            run.stdout
        );
    }
}

#[test]
fn credentials_in_base_url_are_never_printed() {
    // A closed port: the error text names the URL.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://user:hunter2secret@127.0.0.1:{port}/v1?api_key=querysecret99");
    let r = repo(&url, "openai", 1, "");
    let run = eval(&r, &["--format", "json"]);
    run.expect(3);
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains("hunter2secret"), "{out}");
        assert!(!out.contains("querysecret99"), "{out}");
    }
    assert!(!db_text(&r).contains("hunter2secret"));
    assert!(!db_text(&r).contains("querysecret99"));
}

#[test]
fn a_key_in_place_of_a_variable_name_is_refused_unprinted() {
    let key = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW";
    let r = repo("http://127.0.0.1:9", "openai", 1, "");
    r.write(
        "llmops.yaml",
        &format!("providers:\n  mock:\n    type: openai\n    api_key_env: {key}\n"),
    );
    let run = r.llmops(&["lint"]);
    run.expect(2);
    assert!(run.stderr.contains("llmops.yaml:"), "{}", run.stderr);
    assert!(run.stderr.contains("api_key_env"), "{}", run.stderr);
    assert!(!run.stderr.contains(&key[4..16]), "{}", run.stderr);
}

// ---------------------------------------------------------------- item 8: paths

#[test]
fn a_replay_path_outside_the_repository_is_refused() {
    for path in ["/etc", "../outside", "recordings/../../x"] {
        let r = repo("http://127.0.0.1:9", "openai", 1, "");
        r.write(
            "llmops.yaml",
            &format!("defaults: {{ provider: rp, model: m }}\nproviders:\n  rp:\n    type: replay\n    path: {path}\n"),
        );
        let run = r.llmops(&["lint"]);
        run.expect(2);
        assert!(
            run.stderr.contains("leaves the repository") && run.stderr.contains("llmops.yaml:"),
            "{path}: {}",
            run.stderr
        );
        r.llmops(&["eval", "--record"]).expect(2);
    }
    assert!(!Path::new("/etc/greet.jsonl").exists());
    // A symlink inside the repository that leads out of it.
    let outside = tempfile::tempdir().unwrap();
    let s = echo_server();
    let r = repo(
        &s.url,
        "openai",
        1,
        "  rp:\n    type: replay\n    path: rec",
    );
    std::os::unix::fs::symlink(outside.path(), r.path().join("rec")).unwrap();
    let run = eval(&r, &["--record"]);
    run.expect(2);
    assert!(
        run.stderr.contains("resolves outside the repository"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

// ---------------------------------------------------------------- item 9: numbers

#[test]
fn hostile_numbers_are_config_errors_with_a_line() {
    let cases = [
        ("defaults: { timeout_s: .inf }", "defaults.timeout_s"),
        ("defaults: { timeout_s: 1e300 }", "defaults.timeout_s"),
        ("defaults: { timeout_s: -1 }", "defaults.timeout_s"),
        ("defaults: { concurrency: 0 }", "defaults.concurrency"),
        (
            "defaults: { concurrency: 4611686018427387904 }",
            "defaults.concurrency",
        ),
        ("providers: { p: { type: openai, rpm: 0 } }", "rpm"),
        ("providers: { p: { type: openai, tpm: 0 } }", "tpm"),
        (
            "providers: { p: { type: openai, timeout_s: .nan } }",
            "timeout_s",
        ),
        (
            "providers: { p: { type: openai, base_url: not a url } }",
            "base_url",
        ),
        ("limits: { response_bytes: 0 }", "limits.response_bytes"),
        (
            "pricing: { m: { input: .inf, output: 1 } }",
            "pricing.m.input",
        ),
    ];
    for (yaml, field) in cases {
        let r = Repo::new();
        crate::support::minimal(&r);
        r.write(
            "llmops.yaml",
            &format!("prompts_dir: prompts\nevals_dir: evals\n{yaml}\n"),
        );
        let run = r.llmops(&["lint"]);
        run.expect(2);
        assert!(
            run.stderr.contains(field) && run.stderr.contains("llmops.yaml:3"),
            "{yaml}: {}",
            run.stderr
        );
    }
    let r = Repo::new();
    crate::support::minimal(&r);
    for (k, v) in [("LLMOPS_TIMEOUT_S", "inf"), ("LLMOPS_CONCURRENCY", "0")] {
        let run = r.llmops_env(&["eval"], &[(k, v)]);
        run.expect(2);
        assert!(run.stderr.contains(k), "{}", run.stderr);
    }
    let run = r.llmops(&["eval", "-j", "4611686018427387904"]);
    run.expect(2);
    assert!(run.stderr.contains("concurrency"), "{}", run.stderr);
}

#[test]
fn an_absurd_retry_after_neither_panics_nor_hangs() {
    for ra in ["1e20", "-5", "inf", "Sun, 06 Nov 99999999999 08:49:37 GMT"] {
        let s = Hostile::start(move |_, _, c| {
            respond(
                c,
                429,
                &[("Retry-After", ra)],
                r#"{"error": {"message": "slow down, quota exceeded for org-42"}}"#,
            )
        });
        // A limit is waited out up to `max_wait_s`: an unreadable hint means backing off.
        let r = repo(&s.url, "openai", 1, "    max_wait_s: 1");
        let start = Instant::now();
        let run = eval(&r, &["--format", "json"]);
        run.expect(3);
        assert!(start.elapsed() < Duration::from_secs(20), "{ra}");
        assert!(run.stdout.contains("max_wait_s"), "{}", run.stdout);
        assert!(
            run.stdout.contains("slow down, quota exceeded for org-42"),
            "the server's message is kept: {}",
            run.stdout
        );
    }
}

// ---------------------------------------------------------------- item 11: memory

#[test]
fn a_huge_response_is_an_error_at_the_cap_and_never_read_whole() {
    let s = Hostile::start(|_, _, c| {
        // Chunked, no length: 256 MiB unless the client stops reading.
        let _ = c.write_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        );
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..256 {
            let head = format!("{:x}\r\n", chunk.len());
            if c.write_all(head.as_bytes()).is_err()
                || c.write_all(&chunk).is_err()
                || c.write_all(b"\r\n").is_err()
            {
                return;
            }
        }
        let _ = c.write_all(b"0\r\n\r\n");
    });
    let r = repo(&s.url, "openai", 1, "limits: { response_bytes: 1048576 }");
    let start = Instant::now();
    let run = eval(&r, &["--format", "json"]);
    run.expect(3);
    assert!(
        run.stdout
            .contains("response body larger than 1048576 bytes"),
        "{}",
        run.stdout
    );
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn stored_outputs_and_rendered_prompts_have_caps() {
    let s = Hostile::start(|_, _, c| respond(c, 200, &[], &openai_body(&"reply ".repeat(50_000))));
    let r = repo(&s.url, "openai", 1, "limits: { output_bytes: 4096 }");
    eval(&r, &[]).expect(0);
    let len: i64 = db(&r)
        .query_row("SELECT length(output) FROM results", [], |r| r.get(0))
        .unwrap();
    assert!(len < 4200, "{len}");
    let r = repo(&s.url, "openai", 1, "limits: { rendered_bytes: 2048 }");
    r.write(
        "evals/data/greet.jsonl",
        &format!(
            "{{\"id\": \"big\", \"vars\": {{\"who\": \"{}\"}}}}\n",
            "x".repeat(5000)
        ),
    );
    let run = eval(&r, &[]);
    run.expect(2);
    assert!(
        run.stderr.contains("limits.rendered_bytes") && run.stderr.contains("greet.jsonl:1"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_string_doubling_template_is_a_clear_error_not_an_abort() {
    let r = Repo::new();
    crate::support::minimal(&r);
    r.write(
        "prompts/greet.prompty",
        "---\nname: greet\ninputs: { who: {} }\n---\nuser:\n{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }} {{ who }}\n",
    );
    let start = Instant::now();
    let run = r.llmops(&["eval", "--no-progress"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("limits.rendered_bytes"),
        "{}",
        run.stderr
    );
    assert!(start.elapsed() < Duration::from_secs(30));
}

// ---------------------------------------------------------------- item 12: errors

#[test]
fn server_messages_are_kept_and_408_is_retried() {
    let s = Hostile::start(|_, i, c| match i {
        0 => respond(c, 408, &[], "upstream timed out"),
        1 => respond(
            c,
            503,
            &[],
            &format!(r#"{{"error": {{"message": "model overloaded; key {KEY} rejected"}}}}"#),
        ),
        _ => respond(c, 200, &[], &openai_body("reply")),
    });
    let r = repo(&s.url, "openai", 1, "");
    r.write(
        "llmops.yaml",
        &r.read("llmops.yaml")
            .replace("max_retries: 0", "max_retries: 3"),
    );
    let run = eval(&r, &["--format", "json"]);
    run.expect(0);
    assert_eq!(s.count(), 3, "408 and 503 were retried");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["run"]["stats"]["retries"], 2);
    assert_eq!(v["run"]["stats"]["rate_limited"], 0, "no 429 was seen");

    // Beyond retries, the message stays in the error (redacted).
    let s = Hostile::start(|_, _, c| {
        respond(
            c,
            503,
            &[],
            &format!(r#"{{"error": {{"message": "model overloaded; key {KEY} rejected"}}}}"#),
        )
    });
    let r = repo(&s.url, "openai", 1, "");
    let run = eval(&r, &["--format", "json"]);
    run.expect(3);
    assert!(run.stdout.contains("model overloaded"), "{}", run.stdout);
    assert!(!run.stdout.contains(&KEY[4..20]));
}

#[test]
fn rate_limited_counts_only_retries_a_429_caused() {
    // Each case: one 429, then an answer.
    let s = Hostile::start(|req, _, c| {
        static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let who = req.user_text();
        let first = {
            let mut seen = SEEN.lock().unwrap();
            let first = !seen.contains(&who);
            seen.push(who.clone());
            first
        };
        if first {
            respond(c, 429, &[("Retry-After", "0")], "")
        } else {
            respond(c, 200, &[], &openai_body("reply"))
        }
    });
    let r = repo(&s.url, "openai", 3, "");
    r.write(
        "llmops.yaml",
        &r.read("llmops.yaml")
            .replace("max_retries: 0", "max_retries: 2"),
    );
    let run = eval(&r, &["--format", "json"]);
    run.expect(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["run"]["stats"]["retries"], 3);
    assert_eq!(v["run"]["stats"]["rate_limited"], 3);
}

#[test]
fn p50_excludes_errors_and_unknown_prices_are_unknown() {
    let s = Hostile::start(|req, _, c| {
        if req.user_text().ends_with('1') || req.user_text().ends_with('3') {
            respond(c, 400, &[], r#"{"error": {"message": "bad request"}}"#)
        } else {
            std::thread::sleep(Duration::from_millis(40));
            respond(c, 200, &[], &openai_body("reply"))
        }
    });
    let r = repo(&s.url, "openai", 4, "");
    r.write(
        "llmops.yaml",
        &r.read("llmops.yaml")
            .replace("gpt-4o-mini", "house-model-7"),
    );
    let run = eval(&r, &["--format", "json"]);
    run.expect(3);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let p50 = v["groups"][0]["latency_p50_ms"].as_f64().unwrap();
    assert!(p50 >= 30.0, "P50 {p50} counts errored samples");
    assert_eq!(v["groups"][0]["unpriced"], 2);
    let text = llmops(&r, &["report"]);
    assert!(text.stdout.contains("unknown"), "{}", text.stdout);
    let lint = r.llmops(&["lint"]);
    assert!(
        lint.stderr.contains("unknown-price") || lint.stderr.contains("no known price"),
        "{}",
        lint.stderr
    );
    let dry = llmops(&r, &["eval", "--dry-run", "--no-cache"]);
    dry.expect(0);
    assert!(dry.stderr.contains("no known price"), "{}", dry.stderr);
}

// ---------------------------------------------------------------- item 13: PII

#[test]
fn inputs_are_masked_before_they_leave_with_stable_placeholders() {
    let s = echo_server();
    let r = repo(
        &s.url,
        "openai",
        0,
        "redaction: { inputs: true, allow: ['.*@corp\\.io'] }",
    );
    r.write(
        "evals/data/greet.jsonl",
        "{\"id\": \"a\", \"vars\": {\"who\": \"grace@navy.mil\"}}\n{\"id\": \"b\", \"vars\": {\"who\": \"ada@corp.io\"}}\n",
    );
    eval(&r, &[]).expect(0);
    let sent: Vec<String> = s.requests().iter().map(|q| q.user_text()).collect();
    assert!(
        sent.iter().all(|t| !t.contains("grace@navy.mil")),
        "{sent:?}"
    );
    assert!(sent.iter().any(|t| t.contains("[email:")), "{sent:?}");
    assert!(
        sent.iter().any(|t| t.contains("ada@corp.io")),
        "the allow-list is honoured"
    );
    assert!(!db_text(&r).contains("grace@navy.mil"));
    // Stable: the second run is all cache hits.
    let run = eval(&r, &["--format", "json"]);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["run"]["stats"]["cached"], 2);
}

#[test]
fn lint_warns_about_pii_and_secrets_in_committed_files() {
    let r = Repo::new();
    crate::support::minimal(&r);
    r.write(
        "evals/greet.yaml",
        "prompt: greet\ndataset: data/people.jsonl\nassert:\n  - type: contains\n    value: Hello\n",
    );
    r.write(
        "evals/data/people.jsonl",
        "{\"id\": \"a\", \"vars\": {\"who\": \"Ada\"}}\n{\"id\": \"b\", \"vars\": {\"who\": \"call +1 415 555 2671\"}}\n{\"id\": \"c\", \"vars\": {\"who\": \"sk-live-abcdefghijklmnopqrstuvwx\"}}\n",
    );
    let run = r.llmops(&["lint"]);
    run.expect(0);
    assert!(
        run.stderr.contains("evals/data/people.jsonl:2") && run.stderr.contains("phone number"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("evals/data/people.jsonl:3"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("abcdefghijklmnop"), "{}", run.stderr);
    r.llmops(&["lint", "--strict"]).expect(2);
    r.write(
        "llmops.yaml",
        &format!(
            "{}redaction: {{ allow: ['\\+1 415 555 2671', 'sk-live-.*'] }}\n",
            r.read("llmops.yaml")
        ),
    );
    r.llmops(&["lint", "--strict"]).expect(0);
}
