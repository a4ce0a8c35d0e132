//! Child processes (Janus, ffmpeg) that never outlive the gateway.
//!
//! Every child is started by [`command`]: in its own process group (a terminal's Ctrl-C does
//! not reach it behind our back, and we can signal the group), `kill_on_drop` (dropping its
//! handle kills it), and with `PR_SET_PDEATHSIG = SIGKILL` (the kernel kills it if the gateway
//! dies without cleaning up, even by SIGKILL). [`Supervised`] restarts a child that exits, with
//! backoff, until it is stopped; stopping sends SIGTERM to the group, then SIGKILL after 2 s.

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
pub fn command(program: &Path) -> Command {
    let mut c = Command::new(program);
    c.kill_on_drop(true)
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
    let mut backoff = Duration::from_millis(500);
    loop {
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
        let started = Instant::now();
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
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(500);
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}
