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
