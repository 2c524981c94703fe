//! Runs one QEMU with its serial output captured line by line, under
//! deadlines: an observer sees every line and may move the deadline (e.g. per
//! test) or stop the machine; a hard cap bounds the whole run.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::process::describe;
use crate::qemu::{GuestExit, Machine};

/// What the observer wants after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Kill QEMU now: the scenario has seen what it needed.
    Stop,
}

/// The current deadline and what the run is waiting for when it expires.
#[derive(Clone, Debug)]
pub struct Deadline {
    pub at: Instant,
    pub waiting_for: String,
}

impl Deadline {
    pub fn after(d: Duration, waiting_for: impl Into<String>) -> Deadline {
        Deadline {
            at: Instant::now() + d,
            waiting_for: waiting_for.into(),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// QEMU exited by itself.
    Exited(GuestExit),
    /// The observer stopped the run.
    Stopped,
    /// A deadline expired; QEMU was killed.
    TimedOut { waiting_for: String },
}

/// Everything a run produced.
#[derive(Debug)]
pub struct Outcome {
    pub lines: Vec<String>,
    pub end: End,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Lines seen so far and whether the machine is gone.
type LogState = (Vec<String>, bool);

/// Serial lines shared with a host-side driver thread.
#[derive(Clone, Default)]
pub struct SerialLog {
    inner: Arc<(Mutex<LogState>, Condvar)>,
}

impl SerialLog {
    fn push(&self, line: &str) {
        let (lock, cv) = &*self.inner;
        lock.lock()
            .expect("serial log poisoned")
            .0
            .push(line.to_string());
        cv.notify_all();
    }

    fn close(&self) {
        let (lock, cv) = &*self.inner;
        lock.lock().expect("serial log poisoned").1 = true;
        cv.notify_all();
    }

    /// Waits for the first line at index `from` or later that contains one
    /// of `needles`; returns its index and text, or `None` after `timeout`
    /// or once the machine is gone (a host driver following a protocol of
    /// guest requests, in order).
    pub fn wait_from(
        &self,
        from: usize,
        needles: &[&str],
        timeout: Duration,
    ) -> Option<(usize, String)> {
        let (lock, cv) = &*self.inner;
        let end = Instant::now() + timeout;
        let mut g = lock.lock().expect("serial log poisoned");
        loop {
            if let Some((i, l)) =
                g.0.iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, l)| needles.iter().any(|n| l.contains(n)))
            {
                return Some((i, l.clone()));
            }
            let now = Instant::now();
            if g.1 || now >= end {
                return None;
            }
            g = cv
                .wait_timeout(g, end - now)
                .expect("serial log poisoned")
                .0;
        }
    }

    /// Waits until a line containing `needle` has appeared; returns it, or
    /// `None` after `timeout` or once the machine is gone.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Option<String> {
        let (lock, cv) = &*self.inner;
        let end = Instant::now() + timeout;
        let mut g = lock.lock().expect("serial log poisoned");
        loop {
            if let Some(l) = g.0.iter().find(|l| l.contains(needle)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if g.1 || now >= end {
                return None;
            }
            g = cv
                .wait_timeout(g, end - now)
                .expect("serial log poisoned")
                .0;
        }
    }
}

/// Starts `machine` and feeds each serial line to `observe` until QEMU
/// exits, the observer stops it, or a deadline passes (`hard_cap` bounds
/// everything). `log` (if any) receives every line too.
pub fn run(
    machine: &Machine,
    first: Deadline,
    hard_cap: Duration,
    log: Option<&SerialLog>,
    mut observe: impl FnMut(&str, &mut Deadline) -> Flow,
) -> Result<Outcome> {
    let mut cmd = machine.command();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: describe(&cmd),
        source,
    })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(bytes) = line else { break };
            let text = String::from_utf8_lossy(&bytes)
                .trim_end_matches('\r')
                .to_string();
            if tx.send(text).is_err() {
                break;
            }
        }
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let cap = started + hard_cap;
    let mut deadline = first;
    let mut lines = Vec::new();
    let end = loop {
        let limit = deadline.at.min(cap);
        let wait = limit.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(line) => {
                if let Some(l) = log {
                    l.push(&line);
                }
                let flow = observe(&line, &mut deadline);
                lines.push(line);
                if flow == Flow::Stop {
                    kill(&mut child);
                    break End::Stopped;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                kill(&mut child);
                let waiting_for = if Instant::now() >= cap {
                    format!("the whole run to finish within {}s", hard_cap.as_secs())
                } else {
                    deadline.waiting_for.clone()
                };
                break End::TimedOut { waiting_for };
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = wait_bounded(&mut child, Duration::from_secs(10));
                break End::Exited(GuestExit::from_status(status.unwrap_or(-1)));
            }
        }
    };
    if let Some(l) = log {
        l.close();
    }
    let _ = reader.join();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Outcome {
        lines,
        end,
        stderr,
        elapsed: started.elapsed(),
    })
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` to exit, killing it after `limit`. Returns its exit code.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<i32> {
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < end => thread::sleep(Duration::from_millis(10)),
            _ => {
                kill(child);
                return None;
            }
        }
    }
}
