//! Rate limits against real HTTP servers on 127.0.0.1: every hint a provider or proxy sends,
//! waits that spend no retry allowance, the bound on waiting, the adaptive window, and the
//! `rpm` bucket's burst. Waits are milliseconds; nothing here times performance.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::mock::{MockProvider, Reply};
use crate::support::{Repo, Run};

const KEY: &str = "sk-test-SECRET-0123456789abcdef";

/// A registry whose `mock` provider points at `url`, with `cases` cases. `max_retries: 0`:
/// whatever succeeds here did so without the error-retry allowance.
fn repo(url: &str, cases: usize, concurrency: usize, extra: &str) -> Repo {
    Repo::greet(
        &format!(
            "prompts_dir: prompts\nevals_dir: evals\ndefaults: {{ provider: mock, model: gpt-4o-mini, concurrency: {concurrency} }}\nproviders:\n  mock:\n    type: openai\n    base_url: {url}\n    api_key_env: MOCK_KEY\n    max_retries: 0\n{extra}\n"
        ),
        "user:\nHello {{ who }}\n",
        cases,
        "  - type: contains\n    value: reply\n",
    )
}

fn eval(r: &Repo, args: &[&str]) -> Run {
    let mut all = vec!["eval", "--no-progress", "--no-cache"];
    all.extend_from_slice(args);
    r.llmops_env(&all, &[("MOCK_KEY", KEY)])
}

fn json_eval(r: &Repo, args: &[&str]) -> (Run, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let run = eval(r, &all);
    let v = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    (run, v)
}

fn limited(status: u16, headers: &[(&str, String)]) -> Reply {
    Reply::Json {
        status,
        body: json!({"error": {"message": "Rate limit reached for requests"}}),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// The first request answers as `first`; every later one answers.
fn first_then_ok(first: Reply) -> MockProvider {
    MockProvider::start(move |s| {
        if s.n == 0 {
            (first.clone(), Duration::ZERO)
        } else {
            (Reply::Text("reply".into()), Duration::ZERO)
        }
    })
}

fn http_date(secs_from_now: i64) -> String {
    // Unix seconds to an IMF-fixdate, by hand: no date crate in the tests.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + secs_from_now;
    let (days, rem) = (now.div_euclid(86_400), now.rem_euclid(86_400));
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    format!(
        "{wd}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        months[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn every_kind_of_rate_limit_header_is_a_wait_not_an_error() {
    // Each hint asks for about 150 ms; without one, llmops would back off 0.5 s or more.
    let kinds: Vec<(&str, Reply)> = vec![
        (
            "Retry-After seconds",
            limited(429, &[("retry-after", "0.15".into())]),
        ),
        (
            "retry-after-ms",
            limited(429, &[("retry-after-ms", "150".into())]),
        ),
        (
            "LiteLLM llm_provider-retry-after",
            limited(429, &[("llm_provider-retry-after", "0.15".into())]),
        ),
        (
            "x-ratelimit-remaining/reset-requests",
            limited(
                429,
                &[
                    ("x-ratelimit-remaining-requests", "0".into()),
                    ("x-ratelimit-reset-requests", "150ms".into()),
                ],
            ),
        ),
        (
            "x-ratelimit-remaining/reset-tokens",
            limited(
                429,
                &[
                    ("x-ratelimit-remaining-tokens", "0".into()),
                    ("x-ratelimit-reset-tokens", "0.15s".into()),
                ],
            ),
        ),
        (
            "503 with retry-after-ms",
            limited(503, &[("retry-after-ms", "150".into())]),
        ),
    ];
    for (name, reply) in kinds {
        let mock = first_then_ok(reply);
        let r = repo(&mock.url, 1, 1, "");
        let (run, v) = json_eval(&r, &[]);
        run.expect(0);
        assert_eq!(v["groups"][0]["passed"], 1, "{name}: {v:#}");
        assert_eq!(mock.count(), 2, "{name}");
        let waited = v["run"]["stats"]["retry_wait_s"].as_f64().unwrap();
        assert!(
            (0.15..0.45).contains(&waited),
            "{name}: waited {waited} s, not what the header asked"
        );
    }
    // An HTTP date in the past: come back at once.
    let mock = first_then_ok(limited(429, &[("retry-after", http_date(-30))]));
    let r = repo(&mock.url, 1, 1, "");
    let (run, v) = json_eval(&r, &[]);
    run.expect(0);
    assert!(v["run"]["stats"]["retry_wait_s"].as_f64().unwrap() < 0.45);
    // An HTTP date two seconds ahead: wait for it.
    let mock = first_then_ok(limited(429, &[("retry-after", http_date(2))]));
    let r = repo(&mock.url, 1, 1, "");
    let (run, v) = json_eval(&r, &[]);
    run.expect(0);
    assert!(
        v["run"]["stats"]["retry_wait_s"].as_f64().unwrap() >= 0.9,
        "{v:#}"
    );
}

#[test]
fn a_429_without_any_hint_backs_off_and_still_answers() {
    let mock = first_then_ok(limited(429, &[]));
    let r = repo(&mock.url, 1, 1, "");
    let (run, v) = json_eval(&r, &[]);
    run.expect(0);
    assert_eq!(v["groups"][0]["passed"], 1);
    let s = &v["run"]["stats"];
    assert_eq!(
        (s["retries"].as_u64(), s["rate_limited"].as_u64()),
        (Some(1), Some(1))
    );
    // Exponential backoff's first step: 250 to 500 ms (plus a little spread).
    let waited = s["retry_wait_s"].as_f64().unwrap();
    assert!((0.25..1.0).contains(&waited), "{waited}");
}

#[test]
fn waiting_on_a_limit_spends_none_of_the_retry_allowance() {
    // Every case is refused 12 times: 48 waits, more than the run's allowance of 20 + 1 per
    // call, with `max_retries: 0`. A limit is not an error: every case is answered.
    let seen = Arc::new(Mutex::new(std::collections::HashMap::<String, usize>::new()));
    let mock = MockProvider::start(move |s| {
        let n = {
            let mut m = seen.lock().unwrap();
            let e = m.entry(s.user_text()).or_default();
            *e += 1;
            *e
        };
        if n <= 12 {
            (
                limited(429, &[("retry-after-ms", "2".into())]),
                Duration::ZERO,
            )
        } else {
            (Reply::Text("reply".into()), Duration::ZERO)
        }
    });
    let r = repo(&mock.url, 4, 4, "");
    let (run, v) = json_eval(&r, &[]);
    run.expect(0);
    assert_eq!(v["groups"][0]["passed"], 4, "{v:#}");
    assert_eq!(v["groups"][0]["errored"], 0);
    assert_eq!(mock.count(), 4 * 13);
    assert_eq!(v["run"]["stats"]["rate_limited"], 48);
    // The terminal summary says what the limit cost.
    let mock2 = first_then_ok(limited(429, &[("retry-after-ms", "100".into())]));
    let r2 = repo(&mock2.url, 2, 2, "");
    let run = eval(&r2, &[]);
    run.expect(0);
    assert!(
        run.stdout.contains("held back by rate limits"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("concurrency up to"), "{}", run.stdout);
}

#[test]
fn errors_still_spend_the_allowance() {
    // A 503 without a hint is a server error: `max_retries: 0` means one attempt.
    let mock = MockProvider::start(|_| (Reply::ServerError(503), Duration::ZERO));
    let r = repo(&mock.url, 1, 1, "");
    let (run, _) = json_eval(&r, &[]);
    run.expect(3);
    assert_eq!(mock.count(), 1);
}

#[test]
fn waiting_past_max_wait_is_an_error_naming_the_key() {
    let mock = MockProvider::start(|_| {
        (
            limited(429, &[("retry-after-ms", "40".into())]),
            Duration::ZERO,
        )
    });
    let r = repo(&mock.url, 1, 1, "    max_wait_s: 0.3");
    let start = Instant::now();
    let (run, v) = json_eval(&r, &[]);
    run.expect(3);
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(v["groups"][0]["errored"], 1);
    let reason = v["groups"][0]["case_results"][0]["reasons"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("providers.mock.max_wait_s"), "{reason}");
    assert!(
        reason.contains("Rate limit reached for requests"),
        "{reason}"
    );
    assert!(
        mock.count() >= 3,
        "it waited and tried again: {}",
        mock.count()
    );

    // A server asking for longer than the bound fails at once, with the same advice.
    let mock = MockProvider::start(|_| {
        (
            limited(429, &[("retry-after", "3600".into())]),
            Duration::ZERO,
        )
    });
    let r = repo(&mock.url, 1, 1, "");
    let start = Instant::now();
    let run = eval(&r, &[]);
    run.expect(3);
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(mock.count(), 1);
    assert!(run.stdout.contains("max_wait_s"), "{}", run.stdout);
}

#[test]
fn max_wait_is_validated_with_its_line() {
    for bad in ["0", "-1", ".inf", "1e9"] {
        let r = repo(
            "http://127.0.0.1:9",
            1,
            1,
            &format!("    max_wait_s: {bad}"),
        );
        let run = r.llmops(&["lint"]);
        assert_ne!(run.code, 0, "{bad}");
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains("providers.mock.max_wait_s"), "{bad}: {all}");
    }
}

#[test]
fn the_window_shrinks_on_429s() {
    // The server takes two requests at a time and refuses the rest (no hint at all).
    let in_flight = Arc::new(AtomicUsize::new(0));
    let arrivals = Arc::new(Mutex::new(Vec::<usize>::new()));
    let (f, a) = (in_flight.clone(), arrivals.clone());
    let mock = MockProvider::start(move |_| {
        let now = f.fetch_add(1, Ordering::SeqCst) + 1;
        a.lock().unwrap().push(now);
        let reply = if now > 2 {
            // Refused, a moment later: long enough to be seen in flight.
            std::thread::sleep(Duration::from_millis(10));
            limited(429, &[("retry-after-ms", "20".into())])
        } else {
            std::thread::sleep(Duration::from_millis(30));
            Reply::Text("reply".into())
        };
        f.fetch_sub(1, Ordering::SeqCst);
        (reply, Duration::ZERO)
    });
    let r = repo(&mock.url, 40, 16, "");
    let (run, v) = json_eval(&r, &[]);
    run.expect(0);
    assert_eq!(v["groups"][0]["passed"], 40, "{v:#}");
    let s = &v["run"]["stats"];
    assert_eq!(s["concurrency_max"], 16);
    assert!(s["concurrency_peak"].as_u64().unwrap() > 2, "{s}");
    assert!(s["concurrency_low"].as_u64().unwrap() <= 2, "{s}");
    // Once the window has adapted, the server sees little more than it takes.
    let seen = arrivals.lock().unwrap();
    let late = &seen[seen.len() * 3 / 4..];
    let most = late.iter().copied().max().unwrap();
    assert!(
        most <= 4,
        "in flight at the server late in the run: {late:?}"
    );
    let early = seen.iter().take(16).copied().max().unwrap();
    assert!(early > 4, "the window started wide: {seen:?}");
}

#[test]
fn the_rpm_bucket_has_a_one_second_burst_and_stays_a_hard_cap() {
    let arrivals = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let a = arrivals.clone();
    let mock = MockProvider::start(move |_| {
        a.lock().unwrap().push(Instant::now());
        (Reply::Text("reply".into()), Duration::ZERO)
    });
    // 600 a minute: 10 a second, a burst of 10.
    let r = repo(&mock.url, 16, 16, "    rpm: 600");
    let (run, v) = json_eval(&r, &[]);
    run.expect(0);
    assert_eq!(v["groups"][0]["passed"], 16);
    let t = arrivals.lock().unwrap();
    let first = t[0];
    let early = t
        .iter()
        .filter(|x| x.duration_since(first) < Duration::from_millis(250))
        .count();
    assert!(
        early <= 13,
        "{early} requests in the first 250 ms: the burst is 10"
    );
    // The six past the burst come at 10 a second: at least 0.5 s after the first.
    assert!(
        t[15].duration_since(first) >= Duration::from_millis(500),
        "{:?}",
        t[15].duration_since(first)
    );
    assert!(v["run"]["stats"]["limited_s"].as_f64().unwrap() > 0.3);
}

#[test]
fn a_pause_announced_by_headers_counts_against_max_wait() {
    // The first answer says the requests budget is spent for 30 s; no limit is announced, so
    // the next call would be held the whole 30 s.
    let spent = Reply::Json {
        status: 200,
        body: json!({"choices": [{"message": {"content": "reply"}, "finish_reason": "stop"}]}),
        headers: vec![
            ("x-ratelimit-remaining-requests".into(), "0".into()),
            ("x-ratelimit-reset-requests".into(), "30s".into()),
        ],
    };
    let mock = first_then_ok(spent);
    let r = repo(&mock.url, 2, 1, "    max_wait_s: 1");
    let start = Instant::now();
    let (run, v) = json_eval(&r, &[]);
    run.expect(3);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "it did not sleep through the pause"
    );
    assert_eq!(mock.count(), 1, "the held call was never sent");
    assert_eq!(v["groups"][0]["errored"], 1);
    let reasons = v.to_string();
    assert!(reasons.contains("providers.mock.max_wait_s"), "{reasons}");
    assert!(reasons.contains("would hold this call"), "{reasons}");
}
