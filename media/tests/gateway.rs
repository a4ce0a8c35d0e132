//! The gateway binary with a real Janus and ffmpeg: demo room → WHEP offer, HLS, errors, and no
//! child left after SIGTERM. Skipped (with the reason printed) where Janus or ffmpeg is missing.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jishi_media::sdp;

fn tools_missing() -> Option<String> {
    if !Path::new("/usr/bin/janus").exists() {
        return Some("/usr/bin/janus is not installed (apt-get install janus)".into());
    }
    let ffmpeg = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !ffmpeg.map(|s| s.success()).unwrap_or(false) {
        return Some("ffmpeg is not installed (apt-get install ffmpeg)".into());
    }
    None
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The children of `pid` with their command names, from /proc.
fn children(pid: u32) -> Vec<(u32, String)> {
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

fn alive_as(pid: u32, comm: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(&format!("({comm})")) && !s.contains(") Z "))
        .unwrap_or(false)
}

struct Gateway {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
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

/// `ports`: the first of 500 UDP/TCP ports of its own (tests run side by side).
fn start_gateway(demo_rooms: &str, ports: u16) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let log = std::fs::File::create(dir.path().join("gateway.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_jishi-media"))
        .env("MEDIA_ADDR", format!("127.0.0.1:{port}"))
        .env("JISHI_MEDIA_JANUS_PORT", free_tcp_port().to_string())
        .env(
            "JISHI_MEDIA_RTP_PORTS",
            format!("{}-{}", ports, ports + 199),
        )
        .env(
            "JISHI_MEDIA_LOCAL_PORTS",
            format!("{}-{}", ports + 200, ports + 399),
        )
        .env("JISHI_MEDIA_RTMP_PORT", (ports + 400).to_string())
        .env("JISHI_MEDIA_DIR", dir.path())
        .env("JISHI_MEDIA_DEMO_ROOMS", demo_rooms)
        .env("RUST_LOG", "info,jishi_media=debug")
        .env_remove("PLATFORM_URL")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Gateway {
        child,
        base: format!("http://127.0.0.1:{port}"),
        dir,
    }
}

/// Healthy once Janus answers and the demo rooms are set up (20 s at most).
async fn healthy(http: &reqwest::Client, gw: &Gateway) {
    let started = Instant::now();
    loop {
        let ok = http
            .get(format!("{}/healthz", gw.base))
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
            std::fs::read_to_string(gw.dir.path().join("gateway.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("healthy after {} ms", started.elapsed().as_millis());
}

/// A playlist of `room` with at least 2 segments, within `limit`.
async fn playlist(http: &reqwest::Client, gw: &Gateway, room: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let res = http
            .get(format!("{}/hls/{room}/index.m3u8", gw.base))
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
            std::fs::read_to_string(gw.dir.path().join("gateway.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_room_whep_hls_errors_and_clean_shutdown() {
    if let Some(reason) = tools_missing() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let mut gw = start_gateway("demo-1", 41000);
    let http = reqwest::Client::new();
    let started = Instant::now();
    healthy(&http, &gw).await;

    // WHEP (server offer): 201, Location, an offer with H.264 video, Opus audio, candidates.
    let t = Instant::now();
    let res = http
        .post(format!("{}/whep/demo-1", gw.base))
        .send()
        .await
        .unwrap();
    let setup_ms = t.elapsed().as_millis();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["content-type"], "application/sdp");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/whep/demo-1/"), "{location}");
    let offer = res.text().await.unwrap();
    assert!(sdp::has_codec(&offer, "video", "H264"), "{offer}");
    assert!(sdp::has_codec(&offer, "audio", "opus"), "{offer}");
    assert!(sdp::candidates(&offer) >= 1, "{offer}");
    eprintln!("whep offer in {setup_ms} ms");
    let room: serde_json::Value = http
        .get(format!("{}/rooms/demo-1", gw.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(room["publishing"], true);
    assert_eq!(room["viewers"], 1);
    // A PATCH that is not SDP is refused; DELETE ends the viewer.
    let res = http
        .patch(format!("{}{location}", gw.base))
        .header("content-type", "text/plain")
        .body("v=0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let res = http
        .delete(format!("{}{location}", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .delete(format!("{}{location}", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Unknown room, bad room id, no HLS for it: JSON errors.
    let res = http
        .post(format!("{}/whep/no-such-room", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].is_string());
    let res = http
        .post(format!("{}/whep/bad.id", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = http
        .get(format!("{}/hls/no-such-room/index.m3u8", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = http
        .post(format!("{}/whip/room-1", gw.base))
        .header("content-type", "application/sdp")
        .body("not sdp")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // HLS: a playlist with at least 2 segments within 15 s of the start.
    let playlist = playlist(&http, &gw, "demo-1", Duration::from_secs(15)).await;
    eprintln!(
        "hls: 2 segments {} ms after start",
        started.elapsed().as_millis()
    );
    let segment = playlist.lines().rfind(|l| l.ends_with(".ts")).unwrap();
    let res = http
        .get(format!("{}/hls/demo-1/{segment}", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/mp2t");
    assert!(res.bytes().await.unwrap().len() > 1000);

    // SIGTERM: the gateway exits and takes Janus and every ffmpeg with it.
    let pid = gw.child.id();
    let kids = children(pid);
    assert!(kids.iter().any(|(_, c)| c == "janus"), "{kids:?}");
    assert!(
        kids.iter().filter(|(_, c)| c == "ffmpeg").count() >= 2,
        "{kids:?}"
    );
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let t = Instant::now();
    let status = loop {
        if let Some(s) = gw.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "gateway did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    eprintln!("exited {} ms after SIGTERM", t.elapsed().as_millis());
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (kid, comm) in &kids {
        assert!(!alive_as(*kid, comm), "{comm} {kid} outlived the gateway");
    }
}

/// What OBS does: `POST /rtmp/{room}` gives an address and key, an RTMP client pushes H.264 and
/// AAC there, the room is published from it and its HLS plays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtmp_push_with_the_given_key_publishes_the_room() {
    if let Some(reason) = tools_missing() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let gw = start_gateway("", 42000);
    let http = reqwest::Client::new();
    healthy(&http, &gw).await;
    let ingest: serde_json::Value = http
        .post(format!("{}/rtmp/obs-1", gw.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = ingest["rtmp_url"].as_str().expect("rtmp_url");
    let key = ingest["stream_key"].as_str().expect("stream_key");
    assert!(
        url.starts_with("rtmp://") && url.ends_with(":42400/live"),
        "{ingest}"
    );
    assert!(key.len() >= 16, "{ingest}");
    // Asking again gives the same listener and key.
    let again: serde_json::Value = http
        .post(format!("{}/rtmp/obs-1", gw.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, ingest);

    // Like OBS, the pusher tries again when the listener is not up yet: the gateway answers as
    // soon as it has started ffmpeg, which takes a moment to listen.
    let push_once = || {
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
            .args(["-f", "flv"])
            .arg(format!("rtmp://127.0.0.1:42400/live/{key}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    let mut push = push_once();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let room: serde_json::Value = http
            .get(format!("{}/rooms/obs-1", gw.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if room["publishing"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the RTMP push never published the room: {room}"
        );
        if let Ok(Some(_)) = push.try_wait() {
            push = push_once();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let listed = playlist(&http, &gw, "obs-1", Duration::from_secs(20)).await;
    assert!(listed.contains("#EXTINF"), "{listed}");
    let _ = push.kill();
    let _ = push.wait();
}
