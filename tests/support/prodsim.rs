//! Seeded simulated production traffic for `support-reply` (the bundled example prompt), for
//! the `ingest`/`monitor` tests and the monitor benchmark: stable traffic, or one drift that
//! starts on `change_day` (refusals 2% -> 8%, outputs 40% longer, cost per call x2, or a model
//! swap that changes the reply's style). Same seed, same lines, byte for byte.
#![allow(dead_code)]

/// What changes on `change_day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drift {
    /// Nothing.
    None,
    /// Refusal rate from 2% to 8%.
    Refusal,
    /// Outputs 40% longer.
    Length,
    /// Cost per call x2 (a price change; tokens unchanged).
    Cost,
    /// Another model with another style: no greeting, Markdown bullets.
    ModelSwap,
}

impl Drift {
    pub const ALL: [Drift; 4] = [Drift::Refusal, Drift::Length, Drift::Cost, Drift::ModelSwap];

    pub fn name(self) -> &'static str {
        match self {
            Drift::None => "stable",
            Drift::Refusal => "refusals 2% -> 8%",
            Drift::Length => "output length +40%",
            Drift::Cost => "cost per call x2",
            Drift::ModelSwap => "model swap (style)",
        }
    }
}

/// One simulated history.
#[derive(Debug, Clone, Copy)]
pub struct Sim {
    pub seed: u64,
    pub days: u32,
    pub per_day: u32,
    pub drift: Drift,
    pub change_day: u32,
    /// Unix ms of day 0, 00:00 UTC.
    pub start_ms: i64,
}

/// 2026-03-01T00:00:00Z.
pub const START_MS: i64 = 1_772_323_200_000;

impl Sim {
    pub fn new(seed: u64, drift: Drift) -> Sim {
        Sim {
            seed,
            days: 30,
            per_day: 200,
            drift,
            change_day: 10,
            start_ms: START_MS,
        }
    }
}

/// The traffic of docs/production.md's walkthrough (examples/production/support-reply.jsonl):
/// three weeks, and another model behind the same name from 15 March.
pub fn example() -> Sim {
    Sim {
        seed: 14,
        days: 21,
        per_day: 40,
        drift: Drift::ModelSwap,
        change_day: 14,
        start_ms: START_MS,
    }
}

/// One simulated call.
#[derive(Debug, Clone)]
pub struct SimCall {
    pub day: u32,
    pub ts_ms: i64,
    pub id: String,
    pub name: &'static str,
    pub output: String,
    pub model: &'static str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: f64,
    pub cost_usd: f64,
    pub finish_reason: &'static str,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Frances", "Linus",
];
const SENTENCES: &[&str] = &[
    "Thanks for reaching out about your order.",
    "I have looked into the delay with the warehouse team.",
    "Your parcel left our depot this morning and is on its way.",
    "You can follow it with the tracking link in your account.",
    "If it has not arrived by Friday, reply to this message and we will look again.",
    "I understand how frustrating a late delivery is.",
    "Our courier partner has confirmed the new delivery window.",
    "Nothing else is needed from you at this point.",
];
const REFUSAL: &str = "I'm sorry, but I can't help with that request.";

impl Sim {
    /// The calls, oldest first.
    pub fn calls(&self) -> Vec<SimCall> {
        let mut rng = Rng(self.seed ^ 0x5eed_0000_0000_0000);
        let mut out = Vec::with_capacity((self.days * self.per_day) as usize);
        let day_ms = 86_400_000i64;
        for day in 0..self.days {
            let after = day >= self.change_day;
            for i in 0..self.per_day {
                let ts_ms = self.start_ms
                    + i64::from(day) * day_ms
                    + (i64::from(i) * day_ms) / i64::from(self.per_day)
                    + (rng.next() % 1000) as i64;
                let name = rng.pick(NAMES);
                let refusal_p = if after && self.drift == Drift::Refusal {
                    0.08
                } else {
                    0.02
                };
                let swapped = after && self.drift == Drift::ModelSwap;
                let mut sentences = (7.0 * (0.25 * rng.normal()).exp()).round().max(1.0);
                if after && self.drift == Drift::Length {
                    sentences = (sentences * 1.4).round();
                }
                let output = if rng.unit() < refusal_p {
                    REFUSAL.to_string()
                } else {
                    let body: Vec<&str> = (0..sentences as usize)
                        .map(|_| rng.pick(SENTENCES))
                        .collect();
                    if swapped {
                        let bullets: Vec<String> = body.iter().map(|s| format!("- {s}")).collect();
                        format!("**Update on your ticket**\n{}", bullets.join("\n"))
                    } else {
                        format!("Hi {name},\n\n{}\n\nBest regards,\nSupport", body.join(" "))
                    }
                };
                let input_tokens = (200.0 + 20.0 * rng.normal()).round().max(50.0) as u64;
                let output_tokens = (output.len() as u64).div_ceil(4);
                let price = if after && self.drift == Drift::Cost {
                    2.0
                } else {
                    1.0
                };
                let cost_usd =
                    price * (input_tokens as f64 * 0.15 + output_tokens as f64 * 0.60) / 1e6;
                let latency_ms = (800.0 * (0.3 * rng.normal()).exp()).round();
                out.push(SimCall {
                    day,
                    ts_ms,
                    id: format!("sim-{}-{day}-{i}", self.seed),
                    name,
                    output,
                    model: if swapped {
                        "other-model-2026"
                    } else {
                        "gpt-4o-mini"
                    },
                    input_tokens,
                    output_tokens,
                    latency_ms,
                    cost_usd,
                    finish_reason: "stop",
                });
            }
        }
        out
    }

    /// The calls as `llmops ingest` JSONL records.
    pub fn jsonl(&self) -> String {
        let mut s = String::new();
        for c in self.calls() {
            s.push_str(&jsonl_line(&c));
            s.push('\n');
        }
        s
    }
}

/// One record.
pub fn jsonl_line(c: &SimCall) -> String {
    let secs = c.ts_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let ts = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        c.ts_ms.rem_euclid(1000)
    );
    serde_json::json!({
        "id": c.id,
        "ts": ts,
        "prompt": "support-reply",
        "version": 1,
        "vars": { "customer_name": c.name, "ticket": "Where is my order?" },
        "output": c.output,
        "model": c.model,
        "usage": { "input_tokens": c.input_tokens, "output_tokens": c.output_tokens },
        "latency_ms": c.latency_ms,
        "cost_usd": (c.cost_usd * 1e8).round() / 1e8,
        "finish_reason": c.finish_reason,
    })
    .to_string()
}

fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
