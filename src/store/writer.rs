//! The single writer: one thread owns a connection and commits in small batches, so a
//! killed run keeps everything up to the last batch (at most ~50 ms of work).

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use super::{now_rfc3339, ResultRow, Store};
use crate::error::{Error, Result};

/// Ops a run sends to the writer.
pub enum Op {
    /// Store one sample's result and scores.
    Result(Box<ResultRow>),
    /// Cache a provider response.
    Response {
        /// Request fingerprint.
        fingerprint: String,
        /// Provider name.
        provider: String,
        /// Model name.
        model: String,
        /// Request JSON.
        request: String,
        /// Response JSON.
        response: String,
        /// Latency of the call.
        latency_ms: f64,
    },
    /// Close the run.
    Finish {
        /// Run id.
        run_id: i64,
        /// Final status.
        status: super::RunStatus,
        /// Counters.
        stats: serde_json::Value,
    },
}

impl Op {
    /// Roughly how many bytes this op adds to the database.
    fn size(&self) -> usize {
        match self {
            Op::Result(r) => {
                256 + r.output.as_ref().map_or(0, String::len)
                    + r.error.as_ref().map_or(0, String::len)
                    + r.scores.iter().map(|s| 64 + s.reason.len()).sum::<usize>()
            }
            Op::Response {
                request, response, ..
            } => 128 + request.len() + response.len(),
            Op::Finish { .. } => 256,
        }
    }

    /// Cache a provider's answer.
    pub fn cache(a: &crate::provider::Answered) -> Op {
        Op::Response {
            fingerprint: a.fingerprint.clone(),
            provider: a.provider.clone(),
            model: a.request.model.clone(),
            request: serde_json::to_string(&a.request).expect("serialisable"),
            response: serde_json::to_string(&a.response).expect("serialisable"),
            latency_ms: a.latency_ms,
        }
    }
}

/// A handle to the writer thread.
pub struct Writer {
    tx: Option<Sender<Op>>,
    handle: Option<JoinHandle<Result<()>>>,
    failed: Arc<OnceLock<String>>,
}

/// Why the writer stopped, readable from any thread while the run goes on: the runner stops
/// making calls as soon as this says something.
#[derive(Clone)]
pub struct Health(Arc<OnceLock<String>>);

impl Health {
    /// The store error that stopped the writer, if any.
    pub fn failure(&self) -> Option<String> {
        self.0.get().cloned()
    }
}

const BATCH: usize = 256;
/// The most bytes one batch holds before it is committed.
const BATCH_BYTES: usize = 512 * 1024;
const LINGER: Duration = Duration::from_millis(50);

impl Writer {
    /// Start a writer on the store's database.
    pub fn start(store: &Store) -> Result<Writer> {
        Self::start_for(store, None)
    }

    /// Start a writer that also keeps this process's claim on run `run_id` alive.
    pub fn start_for(store: &Store, run_id: Option<i64>) -> Result<Writer> {
        let path = store.path().to_path_buf();
        let conn = open(&path)?;
        let (tx, rx) = mpsc::channel();
        let failed = Arc::new(OnceLock::new());
        let flag = failed.clone();
        let handle = std::thread::Builder::new()
            .name("llmops-writer".into())
            .spawn(move || {
                let r = run(conn, rx, &path, run_id);
                if let Err(e) = &r {
                    let _ = flag.set(e.to_string());
                }
                r
            })
            .map_err(|e| Error::io("writer thread", e))?;
        Ok(Writer {
            tx: Some(tx),
            handle: Some(handle),
            failed,
        })
    }

    /// A handle that says when the writer has failed.
    pub fn health(&self) -> Health {
        Health(self.failed.clone())
    }

    /// Queue an op. Never blocks on the database.
    pub fn send(&self, op: Op) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(op);
        }
    }

    /// Flush everything and stop; returns the first database error, if any.
    pub fn finish(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        drop(self.tx.take());
        match self.handle.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(Error::usage("the store writer panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn open(path: &Path) -> Result<Connection> {
    let err = |e: rusqlite::Error| Error::database(path.display().to_string(), e);
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    Ok(conn)
}

fn run(mut conn: Connection, rx: Receiver<Op>, path: &Path, run_id: Option<i64>) -> Result<()> {
    let err = |e: rusqlite::Error| Error::Database {
        path: path.display().to_string(),
        source: Box::new(e),
        help: Some("results of this run after this point were not saved".into()),
    };
    let mut pending: Vec<Op> = Vec::new();
    let mut pending_bytes = 0usize;
    let mut first_at = Instant::now();
    let mut renewed = Instant::now();
    let owner = super::lease_owner();
    loop {
        if let Some(id) = run_id {
            if renewed.elapsed() >= super::LEASE_RENEW {
                renewed = Instant::now();
                let until = super::unix_now() + super::LEASE.as_secs() as i64;
                let held = conn
                    .execute(
                        "UPDATE runs SET lease_until = ?3 WHERE id = ?1 AND lease_owner = ?2",
                        params![id, owner, until],
                    )
                    .map_err(err)?;
                // The claim lapsed (a stall past the lease) and another process took the run:
                // stop writing into a run someone else holds; the runner stops calling.
                if held == 0 {
                    return Err(Error::usage_help(
                        format!("run {id} was taken over by another process (`--resume`) after this one stalled"),
                        "its results are in that run; `llmops runs` lists it",
                    ));
                }
            }
        }
        let timeout = if pending.is_empty() {
            super::LEASE_RENEW.saturating_sub(renewed.elapsed())
        } else {
            LINGER.saturating_sub(first_at.elapsed())
        };
        match rx.recv_timeout(timeout) {
            Ok(op) => {
                if pending.is_empty() {
                    first_at = Instant::now();
                }
                pending_bytes += op.size();
                pending.push(op);
                // Large answers are committed sooner: a batch holds at most BATCH_BYTES, so a
                // store that cannot take them (a full disk) is found out after a few answers,
                // not after a batch of hundreds.
                if pending.len() < BATCH
                    && pending_bytes < BATCH_BYTES
                    && first_at.elapsed() < LINGER
                {
                    continue;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                commit(&mut conn, std::mem::take(&mut pending)).map_err(err)?;
                return Ok(());
            }
        }
        pending_bytes = 0;
        commit(&mut conn, std::mem::take(&mut pending)).map_err(err)?;
    }
}

fn commit(conn: &mut Connection, ops: Vec<Op>) -> rusqlite::Result<()> {
    if ops.is_empty() {
        return Ok(());
    }
    // IMMEDIATE takes the write lock up front, so two processes queue on the busy timeout
    // instead of failing a deferred upgrade.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = now_rfc3339();
    for op in ops {
        match op {
            Op::Response {
                fingerprint,
                provider,
                model,
                request,
                response,
                latency_ms,
            } => {
                // Nothing is stored before the redactor has seen it.
                let request = crate::redact::scrub_string(request);
                let response = crate::redact::scrub_string(response);
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO responses (fingerprint, provider, model, request, response, latency_ms, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![fingerprint, provider, model, request, response, latency_ms, now])?;
            }
            Op::Result(mut r) => {
                r.output = r.output.map(crate::redact::scrub_string);
                r.error = r.error.map(crate::redact::scrub_string);
                for sc in &mut r.scores {
                    sc.reason = crate::redact::scrub_string(std::mem::take(&mut sc.reason));
                }
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO results (run_id, suite, variant, prompt, prompt_hash, suite_hash, case_id, sample, status, score, output, error,
                        finish_reason, provider, model, fingerprint, latency_ms, input_tokens, output_tokens, cost_usd, judge_input_tokens,
                        judge_output_tokens, judge_cost_usd, cached, retries, vars, metadata, description, created_at, error_kind)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)",
                )?
                .execute(params![
                    r.run_id, r.suite, r.variant, r.prompt, r.prompt_hash, r.suite_hash, r.case_id, r.sample, r.status.as_str(), r.score, r.output, r.error,
                    r.finish_reason, r.provider, r.model, r.fingerprint, r.latency_ms, r.input_tokens, r.output_tokens, r.cost_usd,
                    r.judge_input_tokens, r.judge_output_tokens, r.judge_cost_usd, r.cached, r.retries, r.vars.to_string(),
                    r.metadata.to_string(), r.description, now, r.error_kind.map(|k| k.as_str())
                ])?;
                // Results are written once per (run, case, sample); a resumed run only adds
                // missing ones, so scores never need clearing first.
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO scores (run_id, suite, variant, case_id, sample, idx, kind, metric, pass, score, weight, critical, error, reason, suspect, panel)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                )?;
                for (i, s) in r.scores.iter().enumerate() {
                    insert.execute(params![
                        r.run_id,
                        r.suite,
                        r.variant,
                        r.case_id,
                        r.sample,
                        i,
                        s.kind,
                        s.metric,
                        s.pass,
                        s.score,
                        s.weight,
                        s.critical,
                        s.error,
                        s.reason,
                        s.suspect,
                        s.panel.as_ref().map(|p| serde_json::json!(p).to_string())
                    ])?;
                }
            }
            Op::Finish {
                run_id,
                status,
                stats,
            } => {
                tx.prepare_cached(
                    "UPDATE runs SET status = ?2, finished_at = ?3, stats = ?4, lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                )?
                .execute(params![
                    run_id,
                    status.as_str(),
                    now,
                    stats.to_string()
                ])?;
            }
        }
    }
    tx.commit()
}
