//! What the media integration tests share: Janus or a plain failure, the gateway binary on its
//! own ports, HTTP helpers, processes from /proc, and an RTMP pusher.
//!
//! These tests need Janus and ffmpeg (`scripts/setup.sh` installs them). Without them they FAIL,
//! saying so; `JISHI_SKIP_MEDIA=1` skips them on purpose (see `jishi_media::testing`).

#![allow(dead_code, unused_imports)] // Each test file uses its own part.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use jishi_media::testing::{media_tools, whip_offer};

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The children of `pid` with their command names, from /proc.
pub fn children(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = stat[stat.find('(').unwrap_or(0) + 1..close].to_owned();
        let ppid: u32 = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid == pid {
            out.push((child, comm));
        }
    }
    out
}

pub fn alive_as(pid: u32, comm: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(&format!("({comm})")) && !s.contains(") Z "))
        .unwrap_or(false)
}

/// The gateway binary, SIGTERMed when dropped.
pub struct Gateway {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// The ports of a gateway started by a test: the first of 500 ports of its own (tests run side
/// by side), or none (the gateway takes free ones, as in production).
pub enum Ports {
    From(u16),
    Free,
}

/// Starts the gateway binary with `demo_rooms` and `env` (more settings).
pub fn start_gateway(demo_rooms: &str, ports: Ports, env: &[(&str, &str)]) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let log = std::fs::File::create(dir.path().join("gateway.log")).unwrap();
    // JISHI_MEDIA_TEST_BIN: run these tests against another build (e.g. an older one).
    let bin = std::env::var("JISHI_MEDIA_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_jishi-media").to_owned());
    let mut cmd = Command::new(bin);
    cmd.env("MEDIA_ADDR", format!("127.0.0.1:{port}"))
        .env("JISHI_MEDIA_DEMO_ROOMS", demo_rooms)
        .env("RUST_LOG", "info,jishi_media=debug")
        .env_remove("PLATFORM_URL")
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    for var in [
        "JISHI_MEDIA_JANUS_PORT",
        "JISHI_MEDIA_RTP_PORTS",
        "JISHI_MEDIA_LOCAL_PORTS",
        "JISHI_MEDIA_RTMP_PORT",
        "JISHI_MEDIA_DIR",
    ] {
        cmd.env_remove(var);
    }
    if let Ports::From(ports) = ports {
        cmd.env("JISHI_MEDIA_JANUS_PORT", free_tcp_port().to_string())
            .env(
                "JISHI_MEDIA_RTP_PORTS",
                format!("{}-{}", ports, ports + 199),
            )
            .env(
                "JISHI_MEDIA_LOCAL_PORTS",
                format!("{}-{}", ports + 200, ports + 399),
            )
            .env("JISHI_MEDIA_RTMP_PORT", (ports + 400).to_string())
            .env("JISHI_MEDIA_DIR", dir.path());
    }
    cmd.envs(env.iter().copied());
    Gateway {
        child: cmd.spawn().unwrap(),
        base: format!("http://127.0.0.1:{port}"),
        dir,
        http: reqwest::Client::new(),
    }
}

impl Gateway {
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Healthy once Janus answers and the demo rooms are set up (20 s at most).
    pub async fn healthy(&self) {
        let started = Instant::now();
        loop {
            let ok = self
                .http
                .get(self.url("/healthz"))
                .send()
                .await
                .map(|r| r.status() == 200)
                .unwrap_or(false);
            if ok {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "not healthy in 20 s; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("healthy after {} ms", started.elapsed().as_millis());
    }

    /// `method path` with `headers`: the status and the body (JSON, or `Null`).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `GET /rooms/{room}`.
    pub async fn room(&self, room: &str) -> Value {
        let (status, body) = self
            .call(reqwest::Method::GET, &format!("/rooms/{room}"), &[])
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A playlist of `room` with at least 2 segments, within `limit`.
    pub async fn playlist(&self, room: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let res = self
                .http
                .get(self.url(&format!("/hls/{room}/index.m3u8")))
                .send()
                .await
                .unwrap();
            if res.status() == 200 {
                assert_eq!(
                    res.headers()["content-type"],
                    "application/vnd.apple.mpegurl"
                );
                assert_eq!(res.headers()["cache-control"], "no-cache");
                let text = res.text().await.unwrap();
                if text.lines().filter(|l| l.ends_with(".ts")).count() >= 2 {
                    return text;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no HLS playlist with 2 segments for {room} in {limit:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until `GET /rooms/{room}` says `publishing` is `want` (in `limit`), calling `tick`
    /// between looks (to restart a pusher, say).
    pub async fn wait_publishing(
        &self,
        room: &str,
        want: bool,
        limit: Duration,
        mut tick: impl FnMut(),
    ) {
        let deadline = Instant::now() + limit;
        loop {
            let info = self.room(room).await;
            if info["publishing"] == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{room} publishing is not {want} in {limit:?}: {info}; log:\n{}",
                self.log()
            );
            tick();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Like OBS: pushes a test picture and tone (H.264 + AAC) to `url` for up to 30 s.
pub fn push_rtmp(url: &str) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-profile:v",
            "baseline",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-t",
            "30",
        ])
        .args(["-f", "flv", url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}
