//! Child processes (Janus, ffmpeg) that never outlive the gateway.
//!
//! Every child is started by [`command`]: in its own process group (a terminal's Ctrl-C does
//! not reach it behind our back, and we can signal the group), `kill_on_drop` (dropping its
//! handle kills it), and with `PR_SET_PDEATHSIG = SIGKILL` (the kernel kills it if the gateway
//! dies without cleaning up, even by SIGKILL). [`Supervised`] restarts a child that exits, with
//! exponential [`Backoff`] (capped; a child that ran long enough starts again from the first
//! step), until it is stopped; stopping sends SIGTERM to the group, then SIGKILL after 2 s.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A command for a child that dies with the gateway (see the module docs).
pub fn command(program: &Path, args: Vec<OsString>) -> Command {
    let mut c = Command::new(program);
    c.args(args)
        .kill_on_drop(true)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe and touches only the calling (child) process.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c
}

/// Sends `signal` to the process group led by `pid` (our children lead their own group).
pub fn signal_group(pid: u32, signal: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        if pid > 0 {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
            unsafe {
                libc::kill(-pid, signal);
            }
        }
    }
}

/// SIGTERM to the child's group, SIGKILL after `grace`; waits for it to be reaped.
pub async fn terminate(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        signal_group(pid, libc::SIGTERM);
        if tokio::time::timeout(grace, child.wait()).await.is_ok() {
            return;
        }
        signal_group(pid, libc::SIGKILL);
    }
    let _ = child.kill().await;
}

/// What to do after a line of the child's stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    Continue,
    /// Kill this run of the child (it is restarted like any exit).
    Kill,
}

type LineFn = Box<dyn Fn(&str) -> Line + Send + Sync>;
type EventFn = Box<dyn Fn() + Send + Sync>;
type CheckFn = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The waits between a child's runs: `first`, doubled after each run shorter than `stable`, at
/// most `cap`; a run of `stable` or longer starts the schedule again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
    pub stable: Duration,
    next: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, cap: Duration, stable: Duration) -> Backoff {
        Backoff {
            first,
            cap,
            stable,
            next: first,
        }
    }

    /// Janus and most ffmpeg children: 0.5 s, 1 s, 2 s … up to a minute; a minute of running
    /// counts as healthy.
    pub const fn children() -> Backoff {
        Backoff::new(
            Duration::from_millis(500),
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
    }

    /// How long to wait before the next start, after a run of `ran`.
    pub fn after(&mut self, ran: Duration) -> Duration {
        if ran >= self.stable {
            self.next = self.first;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(self.cap);
        wait
    }
}

/// What a supervised child is and how to watch it.
pub struct Spec {
    pub name: String,
    pub make: Box<dyn Fn() -> Command + Send + Sync>,
    /// Called with each stderr line (stderr is piped when set). Otherwise stderr goes to `log`.
    pub on_line: Option<LineFn>,
    /// Append stdout and stderr here when `on_line` is not set.
    pub log: Option<PathBuf>,
    /// Called after each start and after each exit.
    pub on_start: Option<EventFn>,
    pub on_exit: Option<EventFn>,
    /// Asked before each start: an `Err` (e.g. "port 3288 is taken") is logged as is and counts
    /// as a failed run (the next try waits its backoff).
    pub check: Option<CheckFn>,
    pub restart: Backoff,
}

impl Spec {
    /// A child started by `make`, restarted with [`Backoff::children`], nothing else watched.
    pub fn new(
        name: impl Into<String>,
        make: impl Fn() -> Command + Send + Sync + 'static,
    ) -> Spec {
        Spec {
            name: name.into(),
            make: Box::new(make),
            on_line: None,
            log: None,
            on_start: None,
            on_exit: None,
            check: None,
            restart: Backoff::children(),
        }
    }
}

/// A child restarted until stopped. Dropping it stops it too (in the background).
pub struct Supervised {
    name: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    pid: Arc<AtomicU32>,
}

impl Supervised {
    pub fn start(spec: Spec) -> Supervised {
        let (stop, stop_rx) = oneshot::channel();
        let pid = Arc::new(AtomicU32::new(0));
        let name = spec.name.clone();
        let task = tokio::spawn(run(spec, stop_rx, pid.clone()));
        Supervised {
            name,
            stop: Some(stop),
            task: Some(task),
            pid,
        }
    }

    /// The running child's pid (0 between runs).
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// Stops the child (SIGTERM, then SIGKILL) and waits until it is reaped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!(name = %self.name, "child did not stop in 5 s");
            }
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn next_line(lines: &mut Option<Lines<BufReader<ChildStderr>>>) -> Option<String> {
    match lines {
        Some(l) => l.next_line().await.ok().flatten(),
        None => std::future::pending().await,
    }
}

async fn run(spec: Spec, mut stop: oneshot::Receiver<()>, pid: Arc<AtomicU32>) {
    let mut backoff = spec.restart;
    loop {
        let started = Instant::now();
        if let Some(Err(why)) = spec.check.as_ref().map(|check| check()) {
            tracing::error!(name = %spec.name, "not started: {why}");
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(backoff.after(started.elapsed())) => {}
            }
            continue;
        }
        let mut cmd = (spec.make)();
        if spec.on_line.is_some() {
            cmd.stderr(Stdio::piped());
        } else if let Some(path) = &spec.log {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                Ok(file) => {
                    if let Ok(out) = file.try_clone() {
                        cmd.stdout(out);
                    }
                    cmd.stderr(file);
                }
                Err(e) => tracing::warn!(name = %spec.name, "log {}: {e}", path.display()),
            }
        }
        match cmd.spawn() {
            Err(e) => tracing::error!(name = %spec.name, "cannot start: {e}"),
            Ok(mut child) => {
                pid.store(child.id().unwrap_or(0), Ordering::Relaxed);
                tracing::debug!(name = %spec.name, pid = child.id(), "started");
                if let Some(f) = &spec.on_start {
                    f();
                }
                let mut lines = child.stderr.take().map(|e| BufReader::new(e).lines());
                let status = loop {
                    tokio::select! {
                        _ = &mut stop => {
                            terminate(&mut child, Duration::from_secs(2)).await;
                            pid.store(0, Ordering::Relaxed);
                            tracing::debug!(name = %spec.name, "stopped");
                            return;
                        }
                        status = child.wait() => break status,
                        line = next_line(&mut lines) => match line {
                            Some(line) => {
                                if spec.on_line.as_ref().map(|f| f(&line)) == Some(Line::Kill) {
                                    terminate(&mut child, Duration::from_millis(500)).await;
                                }
                            }
                            None => lines = None,
                        },
                    }
                };
                pid.store(0, Ordering::Relaxed);
                tracing::warn!(name = %spec.name, "exited: {status:?}; restarting");
                if let Some(f) = &spec.on_exit {
                    f();
                }
            }
        }
        let wait = backoff.after(started.elapsed());
        tracing::debug!(name = %spec.name, "next start in {wait:?}");
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_back_off_exponentially_to_a_cap_and_start_over_after_a_healthy_run() {
        let mut b = Backoff::children();
        let quick = Duration::from_millis(300);
        let waits: Vec<u64> = (0..10).map(|_| b.after(quick).as_millis() as u64).collect();
        assert_eq!(
            waits,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
        // Runs shorter than a minute (Janus crashing after 20 s, say) keep backing off.
        assert_eq!(b.after(Duration::from_secs(20)), Duration::from_secs(60));
        // A minute of running: healthy, so the next failure is retried soon again.
        assert_eq!(b.after(Duration::from_secs(61)), Duration::from_millis(500));
        assert_eq!(b.after(quick), Duration::from_secs(1));
        let mut fast = Backoff::new(
            Duration::from_millis(250),
            Duration::from_secs(2),
            Duration::from_secs(5),
        );
        let waits: Vec<u64> = (0..6)
            .map(|_| fast.after(quick).as_millis() as u64)
            .collect();
        assert_eq!(waits, [250, 500, 1_000, 2_000, 2_000, 2_000]);
    }

    #[tokio::test]
    async fn a_child_that_keeps_failing_is_started_ever_less_often() {
        let starts = Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
        let seen = starts.clone();
        let mut spec = Spec::new("false", || command(Path::new("false"), Vec::new()));
        spec.restart = Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(400),
            Duration::from_secs(60),
        );
        spec.on_start = Some(Box::new(move || seen.lock().unwrap().push(Instant::now())));
        let child = Supervised::start(spec);
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        child.stop().await;
        let starts = starts.lock().unwrap().clone();
        // 0, +50, +100, +200, +400, +400 ms (plus the runs): 5 or 6 starts, not 26.
        assert!((4..=7).contains(&starts.len()), "{} starts", starts.len());
        let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.windows(2)
                .all(|g| g[1] + Duration::from_millis(30) >= g[0]),
            "{gaps:?}"
        );
        assert!(
            gaps.last().unwrap() >= &Duration::from_millis(390),
            "{gaps:?}"
        );
    }

    #[tokio::test]
    async fn a_failed_check_is_a_failed_run_and_the_child_is_not_started() {
        let started = Arc::new(AtomicU32::new(0));
        let count = started.clone();
        let mut spec = Spec::new("true", || command(Path::new("true"), Vec::new()));
        spec.check = Some(Box::new(|| Err("port 3288 is taken".into())));
        spec.on_start = Some(Box::new(move || {
            count.fetch_add(1, Ordering::Relaxed);
        }));
        let child = Supervised::start(spec);
        tokio::time::sleep(Duration::from_millis(300)).await;
        child.stop().await;
        assert_eq!(started.load(Ordering::Relaxed), 0);
    }
}
