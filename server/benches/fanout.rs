//! `cargo bench -p jishi-server --bench fanout` (or `scripts/bench.sh`): how many live viewers one
//! server instance holds on one room, how fast a pin reaches them, and what a viewer costs.
//!
//! This process runs the embedded platform (demo city) and one server instance; a child process
//! (this binary again, `JISHI_FANOUT_CHILD=1`) opens the viewers' SSE connections over loopback
//! (from several 127.0.0.x source addresses, for enough ports), then signs in as a demo host and
//! pins a product `JISHI_FANOUT_ROUNDS` times. Each viewer notes when each pin's frame arrives.
//! Printed, one figure a line: viewers connected, pin-to-viewer latency p50/p99/max (ms) and the
//! server process's memory per viewer (RSS growth / viewers, so it includes the platform's share).
//! Nothing is asserted: the machine is shared and noisy. `JISHI_FANOUT_VIEWERS` sets the number
//! of viewers (default 40,000); the open-file limit is raised to the hard limit.
//! `JISHI_FANOUT_H2_STREAMS=n` opens the viewers as n streams per HTTP/2 connection instead of
//! one connection each (where the open-file limit cannot be raised far enough).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use jishi_platform::Clock;
use jishi_server::{Limits, Shutdown};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// Shared with the tests: this benchmark uses only some of it.
#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHILD: &str = "JISHI_FANOUT_CHILD";
/// Connections per loopback source address: below the ~28k ephemeral ports of one address.
const PER_SOURCE: usize = 20_000;
/// Connections being opened at once.
const CONNECTING: usize = 256;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Open files wanted: two per viewer across the two processes, and some to spare.
const WANTED_FILES: u64 = 200_000;

fn main() {
    // Root may raise the hard limit too (the child inherits it); others get up to the hard limit.
    let files = match rlimit::setrlimit(rlimit::Resource::NOFILE, WANTED_FILES, WANTED_FILES) {
        Ok(()) => WANTED_FILES,
        Err(_) => rlimit::increase_nofile_limit(WANTED_FILES).unwrap_or(0),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os(CHILD).is_some() {
        runtime.block_on(viewers());
    } else {
        runtime.block_on(server(files));
    }
}

/// The parent: platform + one server instance, and the child that loads them.
async fn server(files: u64) {
    let viewers = env_usize("JISHI_FANOUT_VIEWERS", 40_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let (_platform, platform_url) = support::spawn_platform(|c| {
        c.database_url = format!("sqlite://{}", dir.path().join("fanout.db").display());
        c.clock = Clock::System;
    })
    .await;
    // Every simulated viewer comes from one loopback address, and room streams count against the
    // server's stream cap and the client address's: both must hold them all here.
    let limits = Limits {
        max_connections: viewers + 1_000,
        max_streams: viewers + 1_000,
        max_streams_per_client: viewers + 1_000,
        ..Limits::default()
    };
    let port = support::spawn_server_with(&platform_url, limits, Vec::new(), Shutdown::default())
        .await
        .port();

    let rooms: Value = reqwest::get(format!("{platform_url}/v1/live/rooms"))
        .await
        .expect("rooms")
        .json()
        .await
        .expect("rooms json");
    let room = rooms["rooms"][0]["id"]
        .as_str()
        .expect("the demo city has a live room")
        .to_owned();

    // Let the seeding's freed memory go back first, so the growth below is the viewers'.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = rss_kib();
    println!("fanout_server_rss_kib_without_viewers: {before}");
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD, "1")
        .env("JISHI_FANOUT_PORT", port.to_string())
        .env("JISHI_FANOUT_PLATFORM", &platform_url)
        .env("JISHI_FANOUT_ROOM", &room)
        .env("JISHI_FANOUT_VIEWERS", viewers.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("load client starts");
    let out = BufReader::new(child.stdout.take().expect("child stdout"));
    println!("fanout_open_file_limit: {files}");
    for line in out.lines().map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("connected: ") {
            let n: u64 = n.parse().unwrap_or(0);
            let now = rss_kib();
            let grown = now.saturating_sub(before);
            println!("fanout_viewers_connected: {n}");
            println!("fanout_server_rss_kib_with_viewers: {now}");
            if n > 0 {
                println!(
                    "fanout_server_kib_per_viewer: {:.1}",
                    grown as f64 / n as f64
                );
            }
        } else {
            println!("{line}");
        }
        std::io::stdout().flush().ok();
    }
    let _ = child.wait();
}

/// The round whose pin `data` shows: each round has its own cap (1000 + round), which marks
/// its frame.
fn round_of(data: &str, rounds: usize) -> Option<usize> {
    let at = data.find("\"stock_cap\":")? + "\"stock_cap\":".len();
    let digits: String = data[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let cap: usize = digits.parse().ok()?;
    (1000..1000 + rounds).contains(&cap).then(|| cap - 1000)
}

/// Reads one viewer's stream to its end, noting in `arrivals` when each pin round's frame
/// arrives. `body` is the SSE body, or the whole HTTP/1.1 answer: its head and its chunk sizes
/// are lines an SSE reader passes over (no `data:` field among them).
async fn watch<B: AsRef<[u8]>, E>(
    body: impl Stream<Item = Result<B, E>>,
    viewer: usize,
    rounds: usize,
    base: Instant,
    arrivals: &[AtomicU64],
) {
    let mut events = std::pin::pin!(body.eventsource());
    while let Some(Ok(event)) = events.next().await {
        let at = base.elapsed().as_nanos() as u64;
        if let Some(round) = round_of(&event.data, rounds) {
            let slot = &arrivals[viewer * rounds + round];
            let _ = slot.compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

/// `viewers` as streams of one HTTP/2 connection (`JISHI_FANOUT_H2_STREAMS` per connection), as
/// browsers multiplex through an HTTP/2 edge: the sandbox's open-file limit (20,000 here) caps
/// one-connection-per-viewer runs, not the fan-out.
#[allow(clippy::too_many_arguments)]
async fn h2_viewers(
    port: u16,
    room: String,
    viewers: std::ops::Range<usize>,
    rounds: usize,
    base: Instant,
    arrivals: Arc<Vec<AtomicU64>>,
    connected: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    gate: Arc<tokio::sync::Semaphore>,
) {
    let size = viewers.len();
    let permit = gate.acquire_owned().await.ok();
    let opened = tokio::time::timeout(Duration::from_secs(15), async {
        let tcp =
            tokio::net::TcpStream::connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
                .await?;
        h2::client::handshake(tcp)
            .await
            .map_err(std::io::Error::other)
    })
    .await
    .unwrap_or_else(|_| Err(std::io::Error::other("no answer")));
    let Ok((send, connection)) = opened else {
        failed.fetch_add(size, Ordering::Relaxed);
        return;
    };
    tokio::spawn(connection);
    let mut streams = Vec::with_capacity(size);
    for viewer in viewers {
        let mut send = send.clone();
        let (arrivals, connected, failed) = (arrivals.clone(), connected.clone(), failed.clone());
        let uri = format!("http://bench/api/v1/live/rooms/{room}/events");
        streams.push(tokio::spawn(async move {
            let request = http::Request::get(uri)
                .header("accept", "text/event-stream")
                .body(())
                .expect("request");
            let answered = async {
                send = send.ready().await.ok()?;
                let (response, _) = send.send_request(request, true).ok()?;
                let response = response.await.ok()?;
                (response.status() == 200).then(|| response.into_body())
            };
            let Some(mut body) = tokio::time::timeout(Duration::from_secs(15), answered)
                .await
                .ok()
                .flatten()
            else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            connected.fetch_add(1, Ordering::Relaxed);
            let chunks = futures::stream::poll_fn(move |cx| {
                let chunk = futures::ready!(body.poll_data(cx));
                if let Some(Ok(chunk)) = &chunk {
                    let _ = body.flow_control().release_capacity(chunk.len());
                }
                std::task::Poll::Ready(chunk)
            });
            watch(chunks, viewer, rounds, base, &arrivals).await;
        }));
    }
    drop(permit);
    for stream in streams {
        let _ = stream.await;
    }
}

/// The child: the viewers, then the host's pins.
async fn viewers() {
    let port: u16 = env_usize("JISHI_FANOUT_PORT", 0) as u16;
    let count = env_usize("JISHI_FANOUT_VIEWERS", 40_000);
    let rounds = env_usize("JISHI_FANOUT_ROUNDS", 10);
    let platform = std::env::var("JISHI_FANOUT_PLATFORM").expect("platform url");
    let room = std::env::var("JISHI_FANOUT_ROOM").expect("room");
    let base = Instant::now();
    // arrivals[viewer * rounds + round]: nanoseconds since `base`, 0 until seen.
    let arrivals: Arc<Vec<AtomicU64>> =
        Arc::new((0..count * rounds).map(|_| AtomicU64::new(0)).collect());
    let connected = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(CONNECTING));
    let request = Arc::new(format!(
        "GET /api/v1/live/rooms/{room}/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
    ));
    let mut tasks = Vec::with_capacity(count);
    let per_connection = env_usize("JISHI_FANOUT_H2_STREAMS", 0);
    if per_connection > 0 {
        for first in (0..count).step_by(per_connection) {
            let viewers = first..(first + per_connection).min(count);
            tasks.push(tokio::spawn(h2_viewers(
                port,
                room.clone(),
                viewers,
                rounds,
                base,
                arrivals.clone(),
                connected.clone(),
                failed.clone(),
                gate.clone(),
            )));
        }
    }
    for viewer in (0..count).filter(|_| per_connection == 0) {
        let (arrivals, connected, failed, gate, request) = (
            arrivals.clone(),
            connected.clone(),
            failed.clone(),
            gate.clone(),
            request.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.ok();
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (viewer / PER_SOURCE) as u8));
            // A server out of file handles leaves connections in its backlog unanswered: count
            // those as refused rather than wait forever.
            let stream = tokio::time::timeout(Duration::from_secs(15), async {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(source, 0))?;
                let mut stream = socket
                    .connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
                    .await?;
                stream.write_all(request.as_bytes()).await?;
                // The answer's head and the snapshot: the viewer is in.
                let mut buf = vec![0u8; 4096];
                let n = stream.read(&mut buf).await?;
                if n == 0 || !buf.starts_with(b"HTTP/1.1 200") {
                    return Err(std::io::Error::other("refused"));
                }
                buf.truncate(n);
                Ok::<_, std::io::Error>((stream, buf))
            })
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("no answer")));
            let Ok((stream, buf)) = stream else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            connected.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            // What the first read brought (the head and the snapshot), then the rest as it comes.
            let first = futures::stream::iter([Ok(buf)]);
            let rest = futures::stream::unfold(stream, |mut stream| async move {
                let mut buf = vec![0u8; 1024];
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok::<_, std::io::Error>(buf), stream))
                    }
                }
            });
            watch(first.chain(rest), viewer, rounds, base, &arrivals).await;
        }));
    }
    // Everyone connected or refused.
    loop {
        let done = connected.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed);
        if done >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let in_room = connected.load(Ordering::Relaxed);
    println!("fanout_viewers_refused: {}", failed.load(Ordering::Relaxed));
    // Let the server settle before its memory is read.
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("connected: {in_room}");

    // Bounded: a platform out of file handles must fail the run, not hang it.
    // From its own loopback address: the viewers' sockets hold most ports of the others.
    let http = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 250)))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let host = jishi_platform::DEMO_HOSTS[0];
    let session: Value = support::log_in(&http, &format!("{platform}/v1"), host)
        .await
        .json()
        .await
        .expect("json");
    let token = session["token"].as_str().expect("host token").to_owned();
    let room_url = format!("{platform}/v1/live/rooms/{room}");
    let (sku, price) = support::pinned_product(&http, &room_url).await;

    let mut latencies = Vec::new();
    for round in 0..rounds {
        let sent_at = base.elapsed().as_nanos() as u64;
        let res = http
            .post(format!("{platform}/v1/live/rooms/{room}/pins"))
            .bearer_auth(&token)
            .json(&json!({ "sku": sku, "live_price_fen": price - 1 - round as i64, "stock_cap": 1000 + round }))
            .send()
            .await
            .expect("pin");
        assert!(res.status().is_success(), "pin refused: {}", res.status());
        // Wait until every connected viewer has it, or 5 s.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let seen = (0..count)
                .filter(|v| arrivals[v * rounds + round].load(Ordering::Relaxed) != 0)
                .count();
            if seen >= in_room || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for v in 0..count {
            let at = arrivals[v * rounds + round].load(Ordering::Relaxed);
            if at != 0 {
                latencies.push(Duration::from_nanos(at.saturating_sub(sent_at)));
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p) as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    println!("fanout_pins: {rounds}");
    println!(
        "fanout_deliveries: {} of {}",
        latencies.len(),
        in_room * rounds
    );
    println!("fanout_pin_to_viewer_p50_ms: {:.1}", pct(0.50));
    println!("fanout_pin_to_viewer_p99_ms: {:.1}", pct(0.99));
    println!("fanout_pin_to_viewer_max_ms: {:.1}", pct(1.0));
    for t in tasks {
        t.abort();
    }
}
