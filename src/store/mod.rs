//! The SQLite store: cached responses, runs, per-case results and per-assertion scores. The
//! only module that touches rusqlite. One writer thread per process; WAL and a busy timeout
//! let two processes share a database without corrupting it or losing rows.

pub mod writer;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::provider::Response;

pub use writer::Writer;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE responses (
        fingerprint TEXT PRIMARY KEY,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        request TEXT NOT NULL,
        response TEXT NOT NULL,
        latency_ms REAL NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,
        git_commit TEXT,
        dirty INTEGER NOT NULL,
        command TEXT NOT NULL,
        settings TEXT NOT NULL,
        plan_key TEXT NOT NULL,
        stats TEXT
    );
    CREATE TABLE results (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        suite TEXT NOT NULL,
        variant TEXT NOT NULL,
        prompt TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        suite_hash TEXT NOT NULL,
        case_id TEXT NOT NULL,
        sample INTEGER NOT NULL,
        status TEXT NOT NULL,
        score REAL,
        output TEXT,
        error TEXT,
        finish_reason TEXT,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        latency_ms REAL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL,
        judge_input_tokens INTEGER NOT NULL DEFAULT 0,
        judge_output_tokens INTEGER NOT NULL DEFAULT 0,
        judge_cost_usd REAL NOT NULL DEFAULT 0,
        cached INTEGER NOT NULL,
        retries INTEGER NOT NULL,
        vars TEXT NOT NULL,
        metadata TEXT NOT NULL,
        description TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, suite, variant, case_id, sample)
    );
    CREATE INDEX results_by_prompt ON results (prompt, prompt_hash);
    CREATE TABLE scores (
        run_id INTEGER NOT NULL,
        suite TEXT NOT NULL,
        variant TEXT NOT NULL,
        case_id TEXT NOT NULL,
        sample INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        kind TEXT NOT NULL,
        metric TEXT,
        pass INTEGER NOT NULL,
        score REAL NOT NULL,
        weight REAL NOT NULL,
        critical INTEGER NOT NULL,
        error INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (run_id, suite, variant, case_id, sample, idx)
    );",
    // Why a sample is ERROR, as a kind rather than read from its message. Rows written before
    // this column existed get the kind their message implies, once, here.
    "ALTER TABLE results ADD COLUMN error_kind TEXT;
    UPDATE results SET error_kind = CASE
        WHEN status != 'error' THEN NULL
        WHEN error LIKE 'provider%' THEN 'provider'
        WHEN error LIKE '%judge call failed%' THEN 'judge'
        ELSE 'assertion' END;",
    // A run is claimed by one process at a time (`--resume` refuses a run another process
    // holds): the holder, and until when (Unix seconds) the claim stands unless renewed.
    "ALTER TABLE runs ADD COLUMN lease_owner TEXT;
    ALTER TABLE runs ADD COLUMN lease_until INTEGER;",
    // Why a model-graded assertion is SUSPECT of an injection attempt (NULL when it is not).
    "ALTER TABLE scores ADD COLUMN suspect TEXT;",
    // A judge panel's votes, as a JSON list of booleans (NULL without a panel).
    "ALTER TABLE scores ADD COLUMN panel TEXT;",
    // Production calls read by `llmops ingest`, keyed so that reading a file twice adds
    // nothing: the record's `id`, else a hash of the record.
    "CREATE TABLE calls (
        key TEXT PRIMARY KEY,
        ts INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        version INTEGER NOT NULL,
        model TEXT,
        vars TEXT NOT NULL,
        output TEXT NOT NULL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        latency_ms REAL,
        cost_usd REAL,
        finish_reason TEXT,
        metadata TEXT NOT NULL,
        source TEXT NOT NULL,
        ingested_at TEXT NOT NULL
    );
    CREATE INDEX calls_by_prompt ON calls (prompt, ts);",
];

/// One production call as stored by `llmops ingest` (already redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRow {
    /// The natural key: the record's `id`, else a hash of the record.
    pub key: String,
    /// When the call was made, Unix milliseconds.
    pub ts_ms: i64,
    /// The prompt's name.
    pub prompt: String,
    /// The version that answered.
    pub version: u32,
    /// The model that answered.
    pub model: Option<String>,
    /// Template variables.
    pub vars: serde_json::Value,
    /// The model's output.
    pub output: String,
    /// Input tokens.
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
    /// Latency in ms.
    pub latency_ms: Option<f64>,
    /// Cost in USD.
    pub cost_usd: Option<f64>,
    /// Normalised finish reason.
    pub finish_reason: Option<String>,
    /// Free-form fields.
    pub metadata: serde_json::Value,
    /// `file:line` it was read from.
    pub source: String,
}

/// A sample's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleStatus {
    /// Every assertion passed.
    Pass,
    /// An assertion failed.
    Fail,
    /// Not scored: the call, the judge or an assertion could not be evaluated.
    Error,
}

impl SampleStatus {
    /// The word stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleStatus::Pass => "pass",
            SampleStatus::Fail => "fail",
            SampleStatus::Error => "error",
        }
    }

    fn parse(s: &str) -> Option<SampleStatus> {
        Some(match s {
            "pass" => SampleStatus::Pass,
            "fail" => SampleStatus::Fail,
            "error" => SampleStatus::Error,
            _ => return None,
        })
    }
}

/// Why a sample is ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// The provider call failed beyond retries (or a replay had no recording).
    Provider,
    /// A judge call failed beyond retries.
    Judge,
    /// An assertion could not be evaluated (an unparseable verdict, an exec crash).
    Assertion,
}

impl ErrorKind {
    /// The word stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Provider => "provider",
            ErrorKind::Judge => "judge",
            ErrorKind::Assertion => "assertion",
        }
    }

    fn parse(s: &str) -> Option<ErrorKind> {
        Some(match s {
            "provider" => ErrorKind::Provider,
            "judge" => ErrorKind::Judge,
            "assertion" => ErrorKind::Assertion,
            _ => return None,
        })
    }

    /// A provider or the network failed (exit 3), rather than the output or the suite.
    pub fn is_provider_failure(self) -> bool {
        matches!(self, ErrorKind::Provider | ErrorKind::Judge)
    }
}

/// A run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Started and not ended (or killed).
    Running,
    /// Every planned sample ran.
    Finished,
    /// Ctrl-C.
    Interrupted,
    /// `--budget` stopped it.
    StoppedBudget,
    /// A fatal error stopped it.
    Failed,
}

impl RunStatus {
    /// The word stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Interrupted => "interrupted",
            RunStatus::StoppedBudget => "stopped-budget",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "finished" => RunStatus::Finished,
            "interrupted" => RunStatus::Interrupted,
            "stopped-budget" => RunStatus::StoppedBudget,
            "failed" => RunStatus::Failed,
            _ => return None,
        })
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored word that is not one of an enum's: the database was written by something else.
fn bad_word(col: usize, what: &str, got: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        format!("unknown {what} `{got}`").into(),
    )
}

/// How long a claim on a run stands without renewal; the writer renews it every
/// [`LEASE_RENEW`].
pub const LEASE: Duration = Duration::from_secs(120);
/// How often the writer renews a claim.
pub const LEASE_RENEW: Duration = Duration::from_secs(20);

/// This process's name in a lease: host, process id and a start stamp.
pub fn lease_owner() -> String {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER
        .get_or_init(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .map(|h| h.trim().to_string())
                .unwrap_or_default();
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            format!("{host}:{}:{nanos:x}", std::process::id())
        })
        .clone()
}

/// Whether a lease `owner` is certainly dead: a process on this host that no longer exists.
fn owner_is_gone(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let me = lease_owner();
    let my_host = me.split(':').next().unwrap_or_default();
    host == my_host
        && Path::new("/proc/self").exists()
        && !Path::new(&format!("/proc/{pid}")).exists()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A run's row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRow {
    /// Run id.
    pub id: i64,
    /// RFC 3339 start.
    pub started_at: String,
    /// RFC 3339 end, when it ended.
    pub finished_at: Option<String>,
    /// How the run stands.
    pub status: RunStatus,
    /// HEAD when the run started.
    pub git_commit: Option<String>,
    /// Uncommitted changes in the registry at the start.
    pub dirty: bool,
    /// The command line.
    pub command: String,
    /// Resolved settings (no secrets).
    pub settings: serde_json::Value,
    /// Identity of the selection, for `--resume`.
    pub plan_key: String,
    /// Counters at the end (calls, cache hits, retries).
    pub stats: Option<serde_json::Value>,
}

/// One assertion's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow {
    /// Kind as written (`not-contains`).
    pub kind: String,
    /// Named metric.
    pub metric: Option<String>,
    /// Passed.
    pub pass: bool,
    /// 0..1.
    pub score: f64,
    /// Weight in the case score.
    pub weight: f64,
    /// Gate-critical.
    pub critical: bool,
    /// The assertion could not be evaluated (judge failure, exec crash).
    pub error: bool,
    /// Why.
    pub reason: String,
    /// Why the output looks like an injection attempt aimed at the judge: the assertion is
    /// SUSPECT and did not pass, whatever the judge said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspect: Option<String>,
    /// A judge panel's votes (`judge.panel`, in its order): each judge's pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel: Option<Vec<bool>>,
}

/// One sample's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Run id.
    pub run_id: i64,
    /// Suite name.
    pub suite: String,
    /// Variant label.
    pub variant: String,
    /// Prompt name.
    pub prompt: String,
    /// Prompt content hash.
    pub prompt_hash: String,
    /// Suite content hash.
    pub suite_hash: String,
    /// Case id.
    pub case_id: String,
    /// Sample index.
    pub sample: u32,
    /// Pass, fail or error.
    pub status: SampleStatus,
    /// Weighted score, absent on error.
    pub score: Option<f64>,
    /// Model output.
    pub output: Option<String>,
    /// Error text.
    pub error: Option<String>,
    /// Why the sample is ERROR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// Finish reason.
    pub finish_reason: Option<String>,
    /// Provider that answered.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Request fingerprint.
    pub fingerprint: String,
    /// Latency of the call (the original call's, when cached).
    pub latency_ms: Option<f64>,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// USD, when the model has a price.
    pub cost_usd: Option<f64>,
    /// Judge prompt tokens.
    pub judge_input_tokens: u64,
    /// Judge completion tokens.
    pub judge_output_tokens: u64,
    /// Judge USD.
    pub judge_cost_usd: f64,
    /// Answered from the cache.
    pub cached: bool,
    /// Retries the call needed.
    pub retries: u32,
    /// Case variables (JSON).
    pub vars: serde_json::Value,
    /// Case metadata (JSON).
    pub metadata: serde_json::Value,
    /// Case description.
    pub description: Option<String>,
    /// Assertion outcomes.
    pub scores: Vec<ScoreRow>,
}

/// Cache counters.
#[derive(Debug, Clone, Serialize)]
pub struct CacheStats {
    /// Cached responses.
    pub responses: u64,
    /// Bytes of request + response JSON.
    pub bytes: u64,
    /// Per provider/model: count.
    pub by_model: Vec<(String, String, u64)>,
    /// Database file size.
    pub file_bytes: u64,
}

/// A connection to the store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Now, RFC 3339 in UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_millis())
}

/// Format Unix seconds as RFC 3339 UTC.
pub fn rfc3339(secs: i64, millis: u32) -> String {
    let (y, m, d, h, mi, s) = crate::text::utc_parts(secs);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}Z")
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Database {
        path: path.display().to_string(),
        source: Box::new(e),
        help: Some(
            "if the file is damaged, delete it (runs and cached answers are lost) and run again"
                .into(),
        ),
    }
}

impl Store {
    /// Open (creating and migrating) the database at `path`. Another process opening the same
    /// new database at the same moment can hold the lock that switching to WAL needs, and
    /// SQLite does not wait for that one; so we retry for a while.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match Self::try_open(path) {
                Ok(conn) => {
                    return Ok(Store {
                        conn,
                        path: path.to_path_buf(),
                    })
                }
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(25))
                }
                Err(e) => return Err(db_err(path)(e)),
            }
        }
    }

    fn try_open(path: &Path) -> rusqlite::Result<Connection> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&mut conn)?;
        Ok(conn)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        db_err(&self.path)
    }

    /// Record a new run and return its id.
    pub fn begin_run(
        &self,
        command: &str,
        settings: &serde_json::Value,
        plan_key: &str,
        git: Option<(String, bool)>,
    ) -> Result<i64> {
        let (commit, dirty) = git.map_or((None, false), |(c, d)| (Some(c), d));
        self.conn
            .execute(
                "INSERT INTO runs (started_at, status, git_commit, dirty, command, settings, plan_key, lease_owner, lease_until) VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![now_rfc3339(), commit, dirty, crate::redact::scrub(command), settings.to_string(), plan_key, lease_owner(), unix_now() + LEASE.as_secs() as i64],
            )
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The newest unfinished run with this plan key, for `--resume`.
    pub fn resumable(&self, plan_key: &str) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT id FROM runs WHERE plan_key = ?1 AND status IN ('running', 'interrupted', 'stopped-budget', 'failed') ORDER BY id DESC LIMIT 1",
                [plan_key],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Claim a run for `--resume` and mark it running again. Refused (with who holds it) while
    /// another live process holds the run.
    pub fn reopen_run(&self, id: i64) -> Result<()> {
        let me = lease_owner();
        let now = unix_now();
        let held: Option<(Option<String>, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT lease_owner, lease_until FROM runs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        let refuse = |owner: &str| {
            let pid = owner.split(':').nth(1).unwrap_or("?");
            Error::usage_help(
                format!("run {id} is being run by another llmops process (pid {pid}); not resuming it twice"),
                "wait for that process to end (or stop it), then `llmops eval --resume` again",
            )
        };
        if let Some((Some(owner), Some(until))) = &held {
            if *owner != me && *until > now && !owner_is_gone(owner) {
                return Err(refuse(owner));
            }
        }
        // Compare-and-set, so two processes that both saw the run free cannot both take it.
        let (old_owner, _) = held.unwrap_or((None, None));
        let changed = self
            .conn
            .execute(
                "UPDATE runs SET status = 'running', finished_at = NULL, lease_owner = ?2, lease_until = ?3
                 WHERE id = ?1 AND lease_owner IS ?4",
                params![id, me, now + LEASE.as_secs() as i64, old_owner],
            )
            .map_err(self.err())?;
        if changed == 0 {
            return Err(refuse("?"));
        }
        Ok(())
    }

    /// Mark a run failed directly (the writer could not), releasing its claim. Best effort:
    /// the database may be unwritable.
    pub fn mark_failed(&self, id: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'failed', finished_at = ?2, lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                params![id, now_rfc3339()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// (suite, variant, case, sample) of every result already stored for a run.
    pub fn done_keys(&self, run_id: i64) -> Result<HashSet<(String, String, String, u32)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT suite, variant, case_id, sample FROM results WHERE run_id = ?1")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<HashSet<_>>>()
            .map_err(self.err())
    }

    /// A cached response and its original latency.
    pub fn cached(&self, fingerprint: &str) -> Result<Option<(Response, f64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT response, latency_ms FROM responses WHERE fingerprint = ?1")
            .map_err(self.err())?;
        let row: Option<(String, f64)> = stmt
            .query_row([fingerprint], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(self.err())?;
        Ok(row.and_then(|(json, ms)| serde_json::from_str(&json).ok().map(|r| (r, ms))))
    }

    /// The stored request for a fingerprint (for `cache explain`).
    pub fn cached_request(&self, fingerprint: &str) -> Result<Option<serde_json::Value>> {
        let row: Option<String> = self
            .conn
            .query_row(
                "SELECT request FROM responses WHERE fingerprint = ?1",
                [fingerprint],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        Ok(row.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// The newest stored result of one case (any run), for `cache explain`.
    pub fn latest_result(
        &self,
        suite: &str,
        variant: &str,
        case_id: &str,
        sample: u32,
    ) -> Result<Option<(i64, String)>> {
        self.conn
            .query_row(
                "SELECT run_id, fingerprint FROM results WHERE suite = ?1 AND variant = ?2 AND case_id = ?3 AND sample = ?4 ORDER BY run_id DESC LIMIT 1",
                params![suite, variant, case_id, sample],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    /// Past runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, started_at, finished_at, status, git_commit, dirty, command, settings, plan_key, stats FROM runs ORDER BY id DESC LIMIT ?1")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([limit as i64], run_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())
    }

    /// One run, or the newest when `id` is `None`.
    pub fn run(&self, id: Option<i64>) -> Result<Option<RunRow>> {
        let sql = "SELECT id, started_at, finished_at, status, git_commit, dirty, command, settings, plan_key, stats FROM runs";
        let row = match id {
            Some(id) => self
                .conn
                .query_row(&format!("{sql} WHERE id = ?1"), [id], run_row),
            None => self
                .conn
                .query_row(&format!("{sql} ORDER BY id DESC LIMIT 1"), [], run_row),
        };
        row.optional().map_err(self.err())
    }

    /// Every result of a run with its scores, ordered by suite, variant, case, sample.
    pub fn results(&self, run_id: i64) -> Result<Vec<ResultRow>> {
        let mut out = Vec::new();
        self.results_each(run_id, &mut |row| out.push(row))?;
        Ok(out)
    }

    /// Every result of a run with its scores, one at a time, ordered by suite, variant, case,
    /// sample: a report of 100,000 cases never holds them all as rows. Results and scores are
    /// read by two cursors in the same order and joined as they go.
    pub fn results_each(&self, run_id: i64, f: &mut dyn FnMut(ResultRow)) -> Result<()> {
        type Key = (String, String, String, u32);
        {
            let mut stmt = self
                .conn
                .prepare("SELECT suite, variant, case_id, sample, kind, metric, pass, score, weight, critical, error, reason, suspect, panel FROM scores WHERE run_id = ?1 ORDER BY suite, variant, case_id, sample, idx")
                .map_err(self.err())?;
            let score_rows = stmt
                .query_map([run_id], |r| {
                    Ok((
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
                        ScoreRow {
                            kind: r.get(4)?,
                            metric: r.get(5)?,
                            pass: r.get(6)?,
                            score: r.get(7)?,
                            weight: r.get(8)?,
                            critical: r.get(9)?,
                            error: r.get(10)?,
                            reason: r.get(11)?,
                            suspect: r.get(12)?,
                            panel: r
                                .get::<_, Option<String>>(13)?
                                .and_then(|j| serde_json::from_str(&j).ok()),
                        },
                    ))
                })
                .map_err(self.err())?;
            let mut scores = score_rows.peekable();
            self.results_joined(run_id, &mut |mut row| {
                let key: Key = (
                    row.suite.clone(),
                    row.variant.clone(),
                    row.case_id.clone(),
                    row.sample,
                );
                // Both cursors are in the same order: skip scores of no result (none are
                // written), take this result's, stop at the next result's.
                while let Some(Ok((k, _))) = scores.peek() {
                    let k: &Key = k;
                    if k < &key {
                        scores.next();
                        continue;
                    }
                    if k != &key {
                        break;
                    }
                    if let Some(Ok((_, s))) = scores.next() {
                        row.scores.push(s);
                    }
                }
                if let Some(Err(_)) = scores.peek() {
                    return Err(match scores.next() {
                        Some(Err(e)) => e,
                        _ => rusqlite::Error::InvalidQuery,
                    });
                }
                f(row);
                Ok(())
            })
        }
    }

    /// The results rows of a run in report order, scores empty, each through `f`.
    fn results_joined(
        &self,
        run_id: i64,
        f: &mut dyn FnMut(ResultRow) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT run_id, suite, variant, prompt, prompt_hash, suite_hash, case_id, sample, status, score, output, error, finish_reason,
                        provider, model, fingerprint, latency_ms, input_tokens, output_tokens, cost_usd, judge_input_tokens, judge_output_tokens,
                        judge_cost_usd, cached, retries, vars, metadata, description, error_kind
                 FROM results WHERE run_id = ?1 ORDER BY suite, variant, case_id, sample",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([run_id], |r| {
                let vars: String = r.get(25)?;
                let metadata: String = r.get(26)?;
                let status: String = r.get(8)?;
                let error_kind: Option<String> = r.get(28)?;
                Ok(ResultRow {
                    run_id: r.get(0)?,
                    suite: r.get(1)?,
                    variant: r.get(2)?,
                    prompt: r.get(3)?,
                    prompt_hash: r.get(4)?,
                    suite_hash: r.get(5)?,
                    case_id: r.get(6)?,
                    sample: r.get(7)?,
                    status: SampleStatus::parse(&status)
                        .ok_or_else(|| bad_word(8, "sample status", &status))?,
                    score: r.get(9)?,
                    output: r.get(10)?,
                    error: r.get(11)?,
                    error_kind: match error_kind {
                        None => None,
                        Some(k) => Some(
                            ErrorKind::parse(&k).ok_or_else(|| bad_word(28, "error kind", &k))?,
                        ),
                    },
                    finish_reason: r.get(12)?,
                    provider: r.get(13)?,
                    model: r.get(14)?,
                    fingerprint: r.get(15)?,
                    latency_ms: r.get(16)?,
                    input_tokens: r.get(17)?,
                    output_tokens: r.get(18)?,
                    cost_usd: r.get(19)?,
                    judge_input_tokens: r.get(20)?,
                    judge_output_tokens: r.get(21)?,
                    judge_cost_usd: r.get(22)?,
                    cached: r.get(23)?,
                    retries: r.get(24)?,
                    vars: serde_json::from_str(&vars).unwrap_or_default(),
                    metadata: serde_json::from_str(&metadata).unwrap_or_default(),
                    description: r.get(27)?,
                    scores: Vec::new(),
                })
            })
            .map_err(self.err())?;
        for row in rows {
            let row = row.map_err(self.err())?;
            f(row).map_err(self.err())?;
        }
        Ok(())
    }

    /// The newest finished run's results for one prompt's content hash (for release, log,
    /// diff).
    pub fn latest_run_for_prompt(&self, prompt: &str, prompt_hash: &str) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT r.run_id FROM results r JOIN runs u ON u.id = r.run_id
                 WHERE r.prompt = ?1 AND r.prompt_hash = ?2 AND u.status = 'finished' ORDER BY r.run_id DESC LIMIT 1",
                params![prompt, prompt_hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Store a batch of production calls in one transaction: all or nothing. Calls whose key
    /// is already stored are skipped; returns how many were new.
    pub fn insert_calls(&mut self, calls: &[CallRow]) -> Result<usize> {
        let err = db_err(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        let mut added = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO calls (key, ts, prompt, version, model, vars, output,
                     input_tokens, output_tokens, latency_ms, cost_usd, finish_reason, metadata,
                     source, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                )
                .map_err(&err)?;
            let now = now_rfc3339();
            for c in calls {
                added += stmt
                    .execute(params![
                        c.key,
                        c.ts_ms,
                        c.prompt,
                        c.version,
                        c.model,
                        c.vars.to_string(),
                        c.output,
                        c.input_tokens.map(|v| v as i64),
                        c.output_tokens.map(|v| v as i64),
                        c.latency_ms,
                        c.cost_usd,
                        c.finish_reason,
                        c.metadata.to_string(),
                        c.source,
                        now,
                    ])
                    .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)?;
        Ok(added)
    }

    /// How many production calls are stored.
    pub fn call_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))
            .map_err(self.err())
    }

    /// The prompts that have production calls, by name.
    pub fn call_prompts(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT prompt FROM calls ORDER BY prompt")
            .map_err(self.err())?;
        let names = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(self.err())?;
        Ok(names)
    }

    /// Visit `prompt`'s production calls made at or after `since_ms`, oldest first, one row
    /// at a time (the rows are never all in memory).
    pub fn visit_calls(
        &self,
        prompt: &str,
        since_ms: i64,
        mut visit: impl FnMut(CallRow) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT key, ts, prompt, version, model, vars, output, input_tokens, output_tokens,
                 latency_ms, cost_usd, finish_reason, metadata, source
                 FROM calls WHERE prompt = ?1 AND ts >= ?2 ORDER BY ts, key",
            )
            .map_err(self.err())?;
        let mut rows = stmt.query(params![prompt, since_ms]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
                let text: String = r.get(i)?;
                Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
            };
            let row = (|| {
                Ok::<_, rusqlite::Error>(CallRow {
                    key: r.get(0)?,
                    ts_ms: r.get(1)?,
                    prompt: r.get(2)?,
                    version: r.get(3)?,
                    model: r.get(4)?,
                    vars: json(5)?,
                    output: r.get(6)?,
                    input_tokens: r.get::<_, Option<i64>>(7)?.map(|v| v.max(0) as u64),
                    output_tokens: r.get::<_, Option<i64>>(8)?.map(|v| v.max(0) as u64),
                    latency_ms: r.get(9)?,
                    cost_usd: r.get(10)?,
                    finish_reason: r.get(11)?,
                    metadata: json(12)?,
                    source: r.get(13)?,
                })
            })()
            .map_err(self.err())?;
            visit(row)?;
        }
        Ok(())
    }

    /// Counters of the response cache.
    pub fn cache_stats(&self) -> Result<CacheStats> {
        let (responses, bytes): (u64, u64) = self
            .conn
            .query_row("SELECT COUNT(*), COALESCE(SUM(LENGTH(request) + LENGTH(response)), 0) FROM responses", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        let mut stmt = self
            .conn
            .prepare("SELECT provider, model, COUNT(*) FROM responses GROUP BY provider, model ORDER BY 3 DESC")
            .map_err(self.err())?;
        let by_model = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        let file_bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        Ok(CacheStats {
            responses,
            bytes,
            by_model,
            file_bytes,
        })
    }

    /// Delete cached responses (all, or those older than `before`); runs and results stay.
    pub fn clear_cache(&self, before: Option<&str>) -> Result<usize> {
        let n = match before {
            Some(t) => self
                .conn
                .execute("DELETE FROM responses WHERE created_at < ?1", [t]),
            None => self.conn.execute("DELETE FROM responses", []),
        }
        .map_err(self.err())?;
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
            .map_err(self.err())?;
        Ok(n)
    }

    /// Hit counts recorded for a run: (results, cached results).
    pub fn hit_counts(&self, run_id: i64) -> Result<(u64, u64)> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(cached), 0) FROM results WHERE run_id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Apply the migrations not yet applied. A database from a newer llmops is refused.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "written by a newer llmops (schema {version}, this one knows {})",
                MIGRATIONS.len()
            )),
        ));
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(m)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let settings: String = r.get(7)?;
    let stats: Option<String> = r.get(9)?;
    let status: String = r.get(3)?;
    Ok(RunRow {
        id: r.get(0)?,
        started_at: r.get(1)?,
        finished_at: r.get(2)?,
        status: RunStatus::parse(&status).ok_or_else(|| bad_word(3, "run status", &status))?,
        git_commit: r.get(4)?,
        dirty: r.get(5)?,
        command: r.get(6)?,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        plan_key: r.get(8)?,
        stats: stats.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(784_111_777, 5), "1994-11-06T08:49:37.005Z");
        assert_eq!(rfc3339(1_709_210_096, 0), "2024-02-29T12:34:56.000Z");
    }

    #[test]
    fn migrates_once_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x/llmops.db");
        let s = Store::open(&p).unwrap();
        let id = s
            .begin_run("eval", &serde_json::json!({}), "k", None)
            .unwrap();
        drop(s);
        let s = Store::open(&p).unwrap();
        assert_eq!(s.run(None).unwrap().unwrap().id, id);
        assert_eq!(s.resumable("k").unwrap(), Some(id));
    }
}
