//! The `exec` assertion: an external program reads the output as JSON on stdin and prints
//! `{pass, score, reason}`. The program runs in its own process group so that the timeout
//! stops everything it started; its input is written and its output read on their own
//! threads so that neither a program that ignores stdin nor one that prints a lot can stall
//! the timer (cargo-nextest's executor works the same way).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Default time limit when `timeout_s` is not given.
pub const DEFAULT_TIMEOUT_S: f64 = 30.0;
/// Largest `timeout_s` accepted.
pub const MAX_TIMEOUT_S: f64 = 3600.0;
/// Stdout kept from the program; more is an error (the result must be one JSON object).
pub const STDOUT_CAP: usize = 8 << 20;
/// Stderr kept for the error message; the rest is read and dropped.
pub const STDERR_CAP: usize = 64 << 10;

/// A parsed `exec` command with its time limit.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecCommand {
    program: String,
    args: Vec<String>,
    timeout: Duration,
}

/// What a finished program left: exit status and what it printed (capped).
#[derive(Debug)]
pub struct Finished {
    /// Exit status.
    pub status: std::process::ExitStatus,
    /// Stdout, at most [`STDOUT_CAP`] bytes.
    pub stdout: Vec<u8>,
    /// Stdout was longer than the cap.
    pub stdout_truncated: bool,
    /// Stderr, at most [`STDERR_CAP`] bytes.
    pub stderr: Vec<u8>,
}

impl ExecCommand {
    /// The program and its arguments, a shell line split at whitespace: the words that may
    /// name a script in the registry.
    pub fn words(&self) -> Vec<&str> {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().flat_map(|a| a.split_whitespace()))
            .collect()
    }

    /// Parse `value:` (a shell line or an argument list) and `timeout_s:`.
    pub fn parse(value: Option<&Value>, timeout_s: Option<f64>) -> Result<ExecCommand, String> {
        let (program, args) = match value {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                ("sh".to_string(), vec!["-c".to_string(), s.clone()])
            }
            Some(Value::Array(a))
                if !a.is_empty()
                    && a.iter().all(Value::is_string)
                    && a[0].as_str().is_some_and(|p| !p.trim().is_empty()) =>
            {
                let mut parts = a.iter().filter_map(Value::as_str).map(str::to_string);
                let program = parts.next().unwrap_or_default();
                (program, parts.collect())
            }
            _ => {
                return Err(
                    "`exec`: `value` must be a command string or a list of arguments".into(),
                )
            }
        };
        let secs = timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
        if !secs.is_finite() || secs <= 0.0 || secs > MAX_TIMEOUT_S {
            return Err(format!(
                "`exec`: `timeout_s` must be more than 0 and at most {MAX_TIMEOUT_S:.0} seconds, got {secs}"
            ));
        }
        Ok(ExecCommand {
            program,
            args,
            timeout: Duration::from_secs_f64(secs),
        })
    }

    /// A program with its arguments and a `timeout_s` (validated as for `exec`).
    pub fn program(
        program: &str,
        args: Vec<String>,
        timeout_s: Option<f64>,
        kind: &str,
    ) -> Result<ExecCommand, String> {
        let secs = timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
        if !secs.is_finite() || secs <= 0.0 || secs > MAX_TIMEOUT_S {
            return Err(format!(
                "`{kind}`: `timeout_s` must be more than 0 and at most {MAX_TIMEOUT_S:.0} seconds, got {secs}"
            ));
        }
        Ok(ExecCommand {
            program: program.to_string(),
            args,
            timeout: Duration::from_secs_f64(secs),
        })
    }

    /// The time limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Run the program with `input` on stdin in `workdir`. `Err` says why it could not finish
    /// (could not start, timed out).
    pub fn run(&self, input: Vec<u8>, workdir: &Path) -> Result<Finished, String> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .current_dir(workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the command: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        // A program that does not read its input gets a broken pipe when it exits or is
        // killed; the writer then ends.
        if let Some(mut stdin) = stdin {
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let (out_tx, out_rx) = mpsc::channel();
        let (err_tx, err_rx) = mpsc::channel();
        if let Some(s) = stdout {
            std::thread::spawn(move || {
                let _ = out_tx.send(drain(s, STDOUT_CAP));
            });
        }
        if let Some(s) = stderr {
            std::thread::spawn(move || {
                let _ = err_tx.send(drain(s, STDERR_CAP));
            });
        }
        let start = Instant::now();
        let mut pause = Duration::from_micros(200);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() >= self.timeout => {
                    kill_group(&mut child);
                    let _ = child.wait();
                    return Err(format!(
                        "timed out after {} s",
                        trim_float(self.timeout.as_secs_f64())
                    ));
                }
                Ok(None) => {
                    std::thread::sleep(pause.min(self.timeout.saturating_sub(start.elapsed())));
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                Err(e) => {
                    kill_group(&mut child);
                    let _ = child.wait();
                    return Err(e.to_string());
                }
            }
        };
        // The program is done: whatever it left running in the background is stopped, so its
        // pipes close and nothing outlives the assertion.
        kill_group(&mut child);
        // Pipes inherited by a process that left the group could stay open; never wait past
        // a short grace period for them.
        let grace = Duration::from_millis(500);
        let (stdout, stdout_truncated) = out_rx.recv_timeout(grace).unwrap_or_default();
        let (stderr, _) = err_rx.recv_timeout(grace).unwrap_or_default();
        Ok(Finished {
            status,
            stdout,
            stdout_truncated,
            stderr,
        })
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Read `r` to its end, keeping the first `cap` bytes; says whether more came.
fn drain(mut r: impl Read, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 16 << 10];
    let mut more = false;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                more |= n > room;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    (kept, more)
}

/// Stop the program and everything in its process group.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: kill(2) with a negative pid signals the process group we created for
            // this child (`process_group(0)` made its pid the group id); it touches no memory.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sh(line: &str, timeout: f64) -> ExecCommand {
        ExecCommand::parse(Some(&json!(line)), Some(timeout)).unwrap()
    }

    #[test]
    fn timeout_is_validated() {
        for bad in [0.0, -1.0, f64::INFINITY, f64::NAN, 1e300] {
            assert!(
                ExecCommand::parse(Some(&json!("true")), Some(bad)).is_err(),
                "{bad}"
            );
        }
        assert!(ExecCommand::parse(Some(&json!([""])), None).is_err());
        assert!(ExecCommand::parse(Some(&json!(["true"])), Some(0.5)).is_ok());
    }

    #[test]
    fn large_output_is_drained_while_waiting() {
        // 3 MiB on stdout and 2 MiB on stderr: far over a pipe's buffer.
        let f = sh(
            "head -c 3145728 /dev/zero | tr '\\0' x; head -c 2097152 /dev/zero >&2",
            20.0,
        )
        .run(Vec::new(), Path::new("."))
        .unwrap();
        assert!(f.status.success());
        assert_eq!(f.stdout.len(), 3 << 20);
        assert_eq!(f.stderr.len(), STDERR_CAP);
    }

    // The bounds are far below the 20 s and 30 s sleeps: they check that nothing waited for
    // the sleeps, not how fast the machine is.
    #[test]
    fn background_children_do_not_hold_the_assertion() {
        let start = Instant::now();
        let f = sh("sleep 20 & echo x", 2.0)
            .run(Vec::new(), Path::new("."))
            .unwrap();
        assert_eq!(f.stdout, b"x\n");
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
        let start = Instant::now();
        let e = sh("sleep 20 & sleep 30", 1.0)
            .run(Vec::new(), Path::new("."))
            .unwrap_err();
        assert!(e.contains("timed out after 1 s"), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn ignored_large_stdin_does_not_block_the_timer() {
        let start = Instant::now();
        let e = sh("sleep 30", 1.0)
            .run(vec![b'x'; 8 << 20], Path::new("."))
            .unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
    }
}
