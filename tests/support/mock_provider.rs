//! A scriptable OpenAI/Anthropic-compatible HTTP server on 127.0.0.1 for tests and benches:
//! real sockets, real JSON, injected latency, 429/500/timeouts/garbage/dropped connections.
//! It counts the requests it sees and the most it had in flight at once.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// 0-based arrival order.
    pub n: usize,
    /// Request path.
    pub path: String,
    /// Request headers, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
}

impl Seen {
    /// The last user message's text (chat or messages API).
    pub fn user_text(&self) -> String {
        self.body["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|x| x["role"] == "user"))
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_string()
    }

    /// The system message's text (either API's shape).
    pub fn system_text(&self) -> String {
        if let Some(s) = self.body["system"].as_str() {
            return s.to_string();
        }
        self.body["messages"]
            .as_array()
            .and_then(|m| m.iter().find(|x| x["role"] == "system"))
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_string()
    }

    /// True for an LLM-as-judge request.
    pub fn is_judge(&self) -> bool {
        self.system_text().contains("impartial evaluator")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A chat completion with this text (OpenAI or Anthropic shape, by path).
    Text(String),
    /// Any status and JSON body, with optional headers.
    Json {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    /// 429 with `Retry-After` seconds.
    RateLimited(f64),
    /// A 5xx.
    ServerError(u16),
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 whose body is cut short of its Content-Length.
    Truncated,
    /// Close the connection without answering.
    Drop,
}

type Script = dyn Fn(&Seen) -> (Reply, Duration) + Send + Sync;

/// A running mock provider.
pub struct MockProvider {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

fn chat_body(path: &str, text: &str, prompt_tokens: u64) -> Value {
    if path.ends_with("/messages") {
        json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": "mock",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": prompt_tokens, "output_tokens": text.split_whitespace().count() as u64 + 1}
        })
    } else {
        json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "model": "mock",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": text.split_whitespace().count() as u64 + 1}
        })
    }
}

impl MockProvider {
    /// Start a server that answers each request as `script` says, after the delay it gives.
    pub fn start(
        script: impl Fn(&Seen) -> (Reply, Duration) + Send + Sync + 'static,
    ) -> MockProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        {
            let (seen, in_flight, max_in_flight, stop) = (
                seen.clone(),
                in_flight.clone(),
                max_in_flight.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (seen, in_flight, max_in_flight, script) = (
                        seen.clone(),
                        in_flight.clone(),
                        max_in_flight.clone(),
                        script.clone(),
                    );
                    std::thread::spawn(move || {
                        serve(conn, &seen, &in_flight, &max_in_flight, &*script)
                    });
                }
            });
        }
        MockProvider {
            url,
            seen,
            in_flight,
            max_in_flight,
            stop,
        }
    }

    /// A server that answers every chat request with `reply to: <last user message>`.
    pub fn echoing(latency: Duration) -> MockProvider {
        MockProvider::start(move |s| (Reply::Text(format!("reply to: {}", s.user_text())), latency))
    }

    /// Requests seen so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests so far.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// The most requests in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve(
    conn: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    in_flight: &AtomicUsize,
    max_in_flight: &AtomicUsize,
    script: &Script,
) {
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    len = v.parse().unwrap_or(0);
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let guard = InFlight(in_flight);
        max_in_flight.fetch_max(now, Ordering::SeqCst);
        let request = {
            let mut s = seen.lock().unwrap();
            let r = Seen {
                n: s.len(),
                path: path.clone(),
                headers,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            };
            s.push(r.clone());
            r
        };
        let (reply, delay) = script(&request);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let prompt_tokens = (String::from_utf8_lossy(&body).len() / 4) as u64;
        let (status, payload, extra): (u16, Vec<u8>, Vec<(String, String)>) = match reply {
            Reply::Drop => return,
            Reply::Text(t) => (
                200,
                chat_body(&path, &t, prompt_tokens).to_string().into_bytes(),
                vec![],
            ),
            Reply::Json {
                status,
                body,
                headers,
            } => (status, body.to_string().into_bytes(), headers),
            Reply::RateLimited(secs) => (
                429,
                br#"{"error":{"message":"rate limited"}}"#.to_vec(),
                vec![("retry-after".into(), format!("{secs}"))],
            ),
            Reply::ServerError(code) => (
                code,
                br#"{"error":{"message":"upstream failure"}}"#.to_vec(),
                vec![],
            ),
            Reply::Garbage => (200, b"<html>502 Bad Gateway</html>".to_vec(), vec![]),
            Reply::Truncated => {
                let full = chat_body(&path, "this answer is cut short", prompt_tokens).to_string();
                let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", full.len());
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&full.as_bytes()[..full.len() / 2]);
                let _ = conn.flush();
                return;
            }
        };
        // Out of flight once the answer is ready: the client may send its next request the
        // moment it has read this one, before this thread is done writing.
        drop(guard);
        let mut head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            payload.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if conn
            .write_all(head.as_bytes())
            .and_then(|_| conn.write_all(&payload))
            .and_then(|_| conn.flush())
            .is_err()
        {
            return;
        }
    }
}

// ------------------------------------------------------------------------------------------
// The fast path: a hand-rolled keep-alive HTTP/1.1 server on tokio for benchmarks (tens of
// thousands of requests a second), with a provider's token-bucket limits and headers.

/// How the fast mock behaves.
#[derive(Debug, Clone)]
pub struct FastConfig {
    /// Delay before each answer (not before a 429: providers refuse at once).
    pub latency: Duration,
    /// Requests a minute, if limited.
    pub rpm: Option<f64>,
    /// Tokens a minute, if limited (a request costs its body's bytes / 4 plus 16).
    pub tpm: Option<f64>,
    /// The request bucket's size (its burst).
    pub burst: f64,
    /// Send `Retry-After` and `retry-after-ms` with a 429.
    pub retry_after: bool,
    /// Send OpenAI's `x-ratelimit-*` headers with every answer.
    pub ratelimit_headers: bool,
    /// Worker threads.
    pub threads: usize,
}

impl Default for FastConfig {
    fn default() -> Self {
        FastConfig {
            latency: Duration::ZERO,
            rpm: None,
            tpm: None,
            burst: 20.0,
            retry_after: true,
            ratelimit_headers: true,
            threads: 1,
        }
    }
}

/// What the fast mock counted.
#[derive(Debug, Default)]
pub struct FastCounters {
    /// Requests read.
    pub requests: AtomicUsize,
    /// Answered 200.
    pub ok: AtomicUsize,
    /// Answered 429.
    pub limited: AtomicUsize,
    in_flight: AtomicUsize,
    /// The most requests in flight at once.
    pub max_in_flight: AtomicUsize,
    /// Microseconds actually slept for latency (the timer rounds up to its tick).
    pub slept_us: AtomicUsize,
}

struct FastBucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    at: std::time::Instant,
}

impl FastBucket {
    fn new(per_minute: f64, capacity: f64) -> FastBucket {
        FastBucket {
            capacity,
            rate: per_minute / 60.0,
            tokens: capacity,
            at: std::time::Instant::now(),
        }
    }
    fn refill(&mut self, now: std::time::Instant) {
        self.tokens = (self.tokens + (now - self.at).as_secs_f64() * self.rate).min(self.capacity);
        self.at = now;
    }
    fn until(&self, n: f64) -> f64 {
        ((n - self.tokens).max(0.0)) / self.rate
    }
    fn until_full(&self) -> f64 {
        (self.capacity - self.tokens).max(0.0) / self.rate
    }
}

/// A running fast mock.
pub struct FastMock {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its counters.
    pub counters: Arc<FastCounters>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FastMock {
    /// Start serving with `cfg`.
    pub fn start(cfg: FastConfig) -> FastMock {
        let std_listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", std_listener.local_addr().expect("addr"));
        let counters = Arc::new(FastCounters::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let c = counters.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cfg.threads.max(1))
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let limits = Arc::new(Mutex::new((
                    cfg.rpm.map(|r| FastBucket::new(r, cfg.burst)),
                    cfg.tpm.map(|t| FastBucket::new(t, (t / 60.0).max(1.0))),
                )));
                let cfg = Arc::new(cfg);
                let accept = async {
                    loop {
                        let Ok((sock, _)) = listener.accept().await else {
                            continue;
                        };
                        let _ = sock.set_nodelay(true);
                        tokio::spawn(fast_conn(sock, cfg.clone(), limits.clone(), c.clone()));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = rx => {}
                }
            });
            rt.shutdown_background();
        });
        FastMock {
            url,
            counters,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// Requests read so far.
    pub fn count(&self) -> usize {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// 429s so far.
    pub fn limited(&self) -> usize {
        self.counters.limited.load(Ordering::SeqCst)
    }

    /// The most requests in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.counters.max_in_flight.load(Ordering::SeqCst)
    }

    /// The latency it really served, on average: the configured one rounded up to the
    /// timer's tick, and later still when its thread is busy.
    pub fn served_latency(&self) -> Duration {
        let ok = self.counters.ok.load(Ordering::SeqCst).max(1);
        Duration::from_micros((self.counters.slept_us.load(Ordering::SeqCst) / ok) as u64)
    }
}

impl Drop for FastMock {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A Go-style duration as OpenAI writes it: `20ms`, `1.5s`.
fn go_duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{}ms", (secs * 1000.0).ceil() as u64)
    } else {
        format!("{secs:.3}s")
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    // Header names are case-insensitive; reqwest writes them lower-case.
    let text = std::str::from_utf8(head).unwrap_or("");
    text.split("\r\n")
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

type Limits = Mutex<(Option<FastBucket>, Option<FastBucket>)>;

async fn fast_conn(
    mut sock: tokio::net::TcpStream,
    cfg: Arc<FastConfig>,
    limits: Arc<Limits>,
    counters: Arc<FastCounters>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    loop {
        // One whole request (head and body) in `buf`.
        let (head_end, len) = loop {
            if let Some(h) = find(&buf, b"\r\n\r\n") {
                let len = content_length(&buf[..h]);
                if buf.len() >= h + 4 + len {
                    break (h + 4, len);
                }
            }
            let mut chunk = [0u8; 8192];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let now_in = counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counters.max_in_flight.fetch_max(now_in, Ordering::Relaxed);
        let cost = (len / 4 + 16) as f64;
        buf.drain(..head_end + len);
        // Take from the buckets, or say how long until there is room.
        let (wait, headers) = {
            let mut l = limits.lock().unwrap();
            let now = std::time::Instant::now();
            let (req, tok) = &mut *l;
            if let Some(b) = req.as_mut() {
                b.refill(now);
            }
            if let Some(b) = tok.as_mut() {
                b.refill(now);
            }
            let wait = req
                .as_ref()
                .map_or(0.0, |b| b.until(1.0))
                .max(tok.as_ref().map_or(0.0, |b| b.until(cost)));
            if wait == 0.0 {
                if let Some(b) = req.as_mut() {
                    b.tokens -= 1.0;
                }
                if let Some(b) = tok.as_mut() {
                    b.tokens -= cost;
                }
            }
            let mut headers = String::new();
            if cfg.ratelimit_headers {
                for (name, b) in [("requests", &*req), ("tokens", &*tok)] {
                    if let Some(b) = b {
                        use std::fmt::Write as _;
                        let _ = write!(
                            headers,
                            "x-ratelimit-limit-{name}: {}\r\nx-ratelimit-remaining-{name}: {}\r\nx-ratelimit-reset-{name}: {}\r\n",
                            (b.rate * 60.0).round() as u64,
                            b.tokens.max(0.0).floor() as u64,
                            go_duration(b.until_full())
                        );
                    }
                }
            }
            (wait, headers)
        };
        out.clear();
        if wait > 0.0 {
            counters.limited.fetch_add(1, Ordering::Relaxed);
            let body = br#"{"error":{"message":"Rate limit reached (mock)","type":"requests"}}"#;
            let ra = if cfg.retry_after {
                format!(
                    "retry-after: {}\r\nretry-after-ms: {}\r\n",
                    wait.ceil().max(1.0) as u64,
                    (wait * 1000.0).ceil() as u64
                )
            } else {
                String::new()
            };
            out.extend_from_slice(
                format!(
                    "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{ra}{headers}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(body);
        } else {
            if !cfg.latency.is_zero() {
                // tokio's timer wakes on the next 1 ms tick after a deadline, and then some:
                // aim a tick early so the latency served (counted below) is the one asked for.
                let t = std::time::Instant::now();
                let tick = Duration::from_millis(1);
                let aim = if cfg.latency > tick * 2 {
                    cfg.latency - tick
                } else {
                    cfg.latency
                };
                tokio::time::sleep(aim).await;
                counters
                    .slept_us
                    .fetch_add(t.elapsed().as_micros() as usize, Ordering::Relaxed);
            }
            counters.ok.fetch_add(1, Ordering::Relaxed);
            let body = format!(
                r#"{{"id":"chatcmpl-fast","object":"chat.completion","model":"mock","choices":[{{"index":0,"message":{{"role":"assistant","content":"reply: fine"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":{},"completion_tokens":3}}}}"#,
                len / 4
            );
            out.extend_from_slice(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{headers}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(body.as_bytes());
        }
        counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        if sock.write_all(&out).await.is_err() {
            return;
        }
    }
}
