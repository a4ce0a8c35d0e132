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
//!
//! **Flash crowd** (`JISHI_FANOUT_FLASH_BUYERS=n`, `scripts/bench.sh` runs it with 5,000 viewers
//! and 3,000 buyers): with the viewers in the room, the host starts a flash sale with a cap of
//! `JISHI_FANOUT_FLASH_CAP` (500), one per shopper, and n different signed-in shoppers tap buy
//! within 2 seconds of zero, front-loaded as a crowd is (shopper i taps at 2 s × (i/n)²: a sixth
//! of them in the first 56 ms). Buys go to the platform directly (the server's proxy adds one
//! loopback hop and no work to a buy). Printed: orders (must equal the cap) and refusals by code,
//! p50/p99 of accepted buys and of refusals once sold out, orders per second (accepted / from
//! zero to the last acceptance), the parent process's CPU over the crowd (platform and server;
//! 100 % = one core), and whether any store went below zero.

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
    // As the server's `main` runs it (the child, the load, as well).
    jishi_server::memory::no_transparent_huge_pages();
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
    let flash_buyers = env_usize("JISHI_FANOUT_FLASH_BUYERS", 0);
    let flash_sku = rooms["rooms"][0]["pinned"]["sku"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if flash_buyers > 0 {
        // Enough on the room's shelves for the sale: the cap, not the stock, is what runs out.
        sqlx::query("UPDATE store_products SET stock = ? WHERE sku = ?")
            .bind(FLASH_STORE_STOCK)
            .bind(&flash_sku)
            .execute(_platform.pool())
            .await
            .expect("stock set");
    }

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
        .env("JISHI_FANOUT_FLASH_BUYERS", flash_buyers.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("load client starts");
    let out = BufReader::new(child.stdout.take().expect("child stdout"));
    println!("fanout_open_file_limit: {files}");
    let mut crowd_started = None;
    for line in out.lines().map_while(Result::ok) {
        if line == "cpu_mark: start" {
            crowd_started = Some((cpu_seconds(), Instant::now()));
        } else if line == "cpu_mark: end" {
            if let Some((cpu, at)) = crowd_started.take() {
                let used = cpu_seconds() - cpu;
                println!("flash_crowd_wall_s: {:.2}", at.elapsed().as_secs_f64());
                println!(
                    "flash_platform_and_server_cpu_percent: {:.0}",
                    100.0 * used / at.elapsed().as_secs_f64()
                );
            }
        } else if let Some(n) = line.strip_prefix("connected: ") {
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
    if flash_buyers > 0 {
        let (below_zero, flash_orders): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM store_products WHERE stock < 0),
                    (SELECT COUNT(*) FROM live_sales WHERE flash_id IS NOT NULL)",
        )
        .fetch_one(_platform.pool())
        .await
        .expect("checks");
        println!("flash_orders_in_database: {flash_orders}");
        println!("flash_stores_below_zero: {below_zero}");
    }
}

/// Units of the flash sale's product each store holds for the crowd.
const FLASH_STORE_STOCK: i64 = 1_000;

/// CPU time this process has used (user + system), in seconds.
fn cpu_seconds() -> f64 {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in USER_HZ ticks (100 a second on
    // Linux, whatever the kernel's own tick); the name in field 2 has no spaces here.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.split_whitespace().collect();
            Some((f.get(13)?.parse::<f64>().ok()? + f.get(14)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
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
    let buyers = env_usize("JISHI_FANOUT_FLASH_BUYERS", 0);
    if buyers > 0 {
        flash_crowd(&http, &platform, &room, &token, buyers).await;
    }
    for t in tasks {
        t.abort();
    }
}

/// What one tap came to: status, error code, and when it was sent and answered (since zero).
struct Tap {
    status: u16,
    code: String,
    sent: Duration,
    answered: Duration,
}

/// The flash crowd (see the file's comment), from the child, against the platform at `platform`.
async fn flash_crowd(
    http: &reqwest::Client,
    platform: &str,
    room: &str,
    token: &str,
    buyers: usize,
) {
    let cap = env_usize("JISHI_FANOUT_FLASH_CAP", 500);
    let v1 = format!("{platform}/v1");
    let room_url = format!("{v1}/live/rooms/{room}");
    let (sku, price) = support::pinned_product(http, &room_url).await;
    let bag = http
        .put(format!("{room_url}/bag"))
        .bearer_auth(token)
        .json(&json!({ "items": [{ "sku": sku, "live_price_fen": price - 1, "stock_cap": cap }] }))
        .send()
        .await
        .expect("bag");
    assert!(bag.status().is_success(), "bag refused: {}", bag.status());
    let ip = |n: usize| format!("10.{}.{}.{}", n / 62_500, n / 250 % 250, n % 250 + 1);
    let signed_in = Instant::now();
    let shoppers: Vec<(String, String)> = futures::stream::iter(0..buyers)
        .map(|n| {
            let (http, v1, ip) = (http.clone(), v1.clone(), ip(n));
            async move {
                support::platform_shopper(&http, &v1, &format!("171{n:08}"), &ip, support::GUOMAO)
                    .await
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    println!(
        "flash_buyers_signed_in: {} in {:.1} s",
        shoppers.len(),
        signed_in.elapsed().as_secs_f64()
    );
    let flash: Value = http
        .post(format!("{room_url}/flash"))
        .bearer_auth(token)
        .json(
            &json!({ "sku": sku, "price_fen": price - 2, "cap": cap, "per_shopper": 1,
                       "countdown_s": 10, "length_s": 300 }),
        )
        .send()
        .await
        .expect("flash")
        .json()
        .await
        .expect("flash json");
    let starts_at = flash["starts_at"]
        .as_str()
        .and_then(jishi_api::time::parse_utc)
        .unwrap_or_else(|| panic!("flash sale refused: {flash}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(starts_at as u64).saturating_sub(now)).await;

    // Many connections at once, from an address of their own (the viewers hold most ports of the
    // others).
    let crowd = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 251)))
        .pool_max_idle_per_host(buyers)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    println!("cpu_mark: start");
    let zero = Instant::now();
    let taps: Vec<_> = shoppers
        .into_iter()
        .enumerate()
        .map(|(i, (token, address_id))| {
            let (crowd, url, sku, ip) = (
                crowd.clone(),
                format!("{room_url}/orders"),
                sku.clone(),
                ip(i),
            );
            let at = Duration::from_secs_f64(2.0 * (i as f64 / buyers as f64).powi(2));
            tokio::spawn(async move {
                tokio::time::sleep_until(tokio::time::Instant::from_std(zero + at)).await;
                let sent = zero.elapsed();
                let res = crowd
                    .post(url)
                    .bearer_auth(&token)
                    .header(jishi_api::headers::CLIENT_IP, ip)
                    .header(jishi_api::headers::IDEMPOTENCY_KEY, format!("flash-{i}"))
                    .json(&json!({ "sku": sku, "quantity": 1, "address_id": address_id }))
                    .send()
                    .await;
                let (status, code) = match res {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let body: Value = res.json().await.unwrap_or(Value::Null);
                        (
                            status,
                            body["error"]["code"].as_str().unwrap_or("").to_owned(),
                        )
                    }
                    Err(_) => (0, "no_answer".to_owned()),
                };
                Tap {
                    status,
                    code,
                    sent,
                    answered: zero.elapsed(),
                }
            })
        })
        .collect();
    let mut results = Vec::with_capacity(taps.len());
    for tap in taps {
        if let Ok(tap) = tap.await {
            results.push(tap);
        }
    }
    println!("cpu_mark: end");
    let accepted: Vec<&Tap> = results.iter().filter(|t| t.status == 201).collect();
    let spent_at = accepted
        .iter()
        .map(|t| t.answered)
        .max()
        .unwrap_or_default();
    let refused_after: Vec<&Tap> = results
        .iter()
        .filter(|t| t.status != 201 && t.sent > spent_at)
        .collect();
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for t in results.iter().filter(|t| t.status != 201) {
        *codes.entry(format!("{} {}", t.status, t.code)).or_default() += 1;
    }
    let ms = |taps: &[&Tap], p: f64| {
        let mut l: Vec<Duration> = taps.iter().map(|t| t.answered - t.sent).collect();
        l.sort_unstable();
        l.get(((l.len().max(1) - 1) as f64 * p) as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "flash_viewers_in_room: {}",
        env_usize("JISHI_FANOUT_VIEWERS", 0)
    );
    println!("flash_cap: {cap}");
    println!("flash_taps: {}", results.len());
    println!("flash_orders: {}", accepted.len());
    for (code, n) in &codes {
        println!("flash_refused: {n} × {code}");
    }
    println!("flash_accepted_p50_ms: {:.1}", ms(&accepted, 0.50));
    println!("flash_accepted_p99_ms: {:.1}", ms(&accepted, 0.99));
    println!("flash_refused_once_sold_out: {}", refused_after.len());
    println!(
        "flash_refused_once_sold_out_p50_ms: {:.1}",
        ms(&refused_after, 0.50)
    );
    println!(
        "flash_refused_once_sold_out_p99_ms: {:.1}",
        ms(&refused_after, 0.99)
    );
    println!(
        "flash_orders_per_s: {:.0}",
        accepted.len() as f64 / spent_at.as_secs_f64().max(1e-9)
    );
}
