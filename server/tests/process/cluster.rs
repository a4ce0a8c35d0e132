//! The scale-out layout of `scripts/cluster.sh`: one platform, three server processes and nginx
//! in front with the same config file. One instance is killed (SIGKILL) while shoppers buy and
//! viewers watch a live room through nginx: no order is lost or doubled, and every viewer
//! resumes with every event, none twice, none missing.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use jishi_api::live::LiveEvent;
use jishi_platform::DEMO_HOSTS;
use serde_json::{json, Value};

use crate::support::{self, free_port, GUOMAO};

const ROOM: &str = "live_bj1";
const BUYERS: usize = 5;
/// Orders per buyer: within a shopper's burst of 10.
const ORDERS_EACH: usize = 8;

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx, stopped with SIGTERM: its workers outlive a SIGKILLed master.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn start_server(port: u16, platform: &str, instance: usize, site: &std::path::Path) -> Killed {
    Killed(
        support::server_command(port, site)
            .env("PLATFORM_URL", platform)
            .env("JISHI_INSTANCE", format!("srv-{instance}"))
            .env("TRUSTED_PROXIES", "127.0.0.1/32")
            .env("JISHI_MEDIA_URL", "none")
            .spawn()
            .expect("the server binary starts"),
    )
}

/// nginx with the cluster's own config, in the foreground so the test owns it.
fn start_nginx(port: u16, upstreams: &[u16], work: &std::path::Path) -> Nginx {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/nginx-cluster.conf"
    ))
    .expect("scripts/nginx-cluster.conf");
    let servers: Vec<String> = upstreams
        .iter()
        .map(|p| format!("    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;"))
        .collect();
    let work_dir = work.to_str().expect("a UTF-8 temp path");
    let conf = template
        .replace("@WORK@", work_dir)
        .replace("@PORT@", &port.to_string())
        .replace("@UPSTREAMS@", &servers.join("\n"));
    let path = work.join("nginx.conf");
    std::fs::write(&path, conf).expect("writes nginx.conf");
    let child = Command::new("nginx")
        .args(["-p", work_dir, "-e"])
        .arg(work.join("nginx-error.log"))
        .arg("-c")
        .arg(&path)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx runs (scripts/setup.sh --browser installs nginx-light)");
    Nginx(child)
}

/// One request through nginx, repeated (with the same Idempotency-Key) until an instance
/// answers it: a request cut off by the kill comes back as 502 or a broken connection.
async fn until_answered(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    path: &str,
    body: Value,
    key: &str,
) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = http
            .post(format!("{base}/api/v1{path}"))
            .header("cookie", cookie)
            .header("sec-fetch-site", "same-origin")
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await;
        if let Ok(res) = sent {
            let status = res.status().as_u16();
            if !matches!(status, 502..=504) {
                return (status, res.json().await.unwrap_or(Value::Null));
            }
        }
        assert!(Instant::now() < deadline, "{path} never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(http: &reqwest::Client, base: &str, phone: &str) -> String {
    let (status, sent) = until_answered(
        http,
        base,
        "",
        "/auth/sms-code",
        json!({ "phone": phone }),
        "-",
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "phone": phone, "code": sent["demo_code"] }))
        .send()
        .await
        .expect("login");
    assert!(res.status().is_success(), "{}", res.status());
    support::set_cookie(&res).expect("a session cookie")
}

/// What one viewer received: the durable ids in order, and how often it reconnected.
#[derive(Default)]
struct Watched {
    ids: Vec<u64>,
    /// The `sale` events among them: what their counts are of (the product, flash or not).
    sales: HashMap<u64, String>,
    /// Snapshots after the first connection: a resume that lost continuity.
    late_snapshots: usize,
    reconnects: usize,
    text: String,
}

/// A viewer as a browser's EventSource behaves: it reads frames, and when the stream breaks it
/// reconnects through nginx with `Last-Event-ID`. Runs until aborted.
async fn watch(http: reqwest::Client, url: String, seen: Arc<Mutex<Watched>>) {
    let mut last: Option<u64> = None;
    loop {
        let mut req = http.get(&url).header("accept", "text/event-stream");
        if let Some(id) = last {
            req = req.header("last-event-id", id.to_string());
        }
        if let Ok(res) = req.send().await {
            if res.status().is_success() {
                let mut events = res.bytes_stream().eventsource();
                while let Some(Ok(event)) = events.next().await {
                    let live: Option<LiveEvent> = serde_json::from_str(&event.data).ok();
                    // Every live event but `stats` carries an id of its own (a parser reports
                    // the last one seen for an event without).
                    let id = match live {
                        Some(LiveEvent::Stats { .. }) => None,
                        _ => support::event_id(&event),
                    };
                    let mut w = seen.lock().expect("lock");
                    if matches!(live, Some(LiveEvent::Snapshot { .. })) && last.is_some() {
                        w.late_snapshots += 1;
                    }
                    if let Some(id) = id {
                        w.ids.push(id);
                        last = Some(id);
                        if let Some(LiveEvent::Sale { sale, flash, .. }) = &live {
                            w.sales.insert(id, format!("{} {flash}", sale.sku));
                        }
                    }
                    w.text.push_str(&format!("{event:?}\n"));
                }
            }
        }
        seen.lock().expect("lock").reconnects += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_an_instance_behind_nginx_loses_no_order_and_its_viewers_resume_without_gaps() {
    let (platform, platform_url) = support::spawn_platform(|_| {}).await;
    let site = tempfile::tempdir().expect("temp dir");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut servers: Vec<Option<Killed>> = ports
        .iter()
        .enumerate()
        .map(|(n, p)| Some(start_server(*p, &platform_url, n + 1, site.path())))
        .collect();
    let http = reqwest::Client::new();
    for p in &ports {
        let base = format!("http://127.0.0.1:{p}");
        support::wait_healthy(&http, &base, Duration::from_secs(60)).await;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let nginx_port = free_port();
    let _nginx = start_nginx(nginx_port, &ports, work.path());
    let base = format!("http://127.0.0.1:{nginx_port}");
    support::wait_healthy(&http, &base, Duration::from_secs(60)).await;

    // The host pins the room's product with a cap far above what the buyers take.
    let host = sign_in(&http, &base, DEMO_HOSTS[0]).await;
    let room_url = format!("{base}/api/v1/live/rooms/{ROOM}");
    let (sku, price) = support::pinned_product(&http, &room_url).await;
    let (status, pin) = until_answered(
        &http,
        &base,
        &host,
        &format!("/live/rooms/{ROOM}/pins"),
        json!({ "sku": sku, "live_price_fen": price - 1, "stock_cap": 1000 }),
        "-",
    )
    .await;
    assert_eq!(status, 201, "{pin}");

    // The room as the platform logs it, every event (the servers fold bursts of sales).
    let log = Arc::new(Mutex::new(Watched::default()));
    let logging = tokio::spawn(watch(
        http.clone(),
        format!("{platform_url}/v1/live/rooms/{ROOM}/events"),
        log.clone(),
    ));
    // Viewers through nginx until every instance holds some (each then subscribes once, beside
    // the log's own stream).
    let events_url = format!("{base}/api/v1/live/rooms/{ROOM}/events");
    let mut viewers = Vec::new();
    while platform.live().open_streams(ROOM) < 1 + ports.len() {
        assert!(
            viewers.len() < 60,
            "nginx never spread viewers over the three instances"
        );
        let seen = Arc::new(Mutex::new(Watched::default()));
        let task = tokio::spawn(watch(http.clone(), events_url.clone(), seen.clone()));
        viewers.push((seen, task));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    // Buyers, signed in with an address, each placing and paying orders one after another.
    let mut buyers = Vec::new();
    for n in 0..BUYERS {
        let cookie = sign_in(&http, &base, &format!("137000009{n:02}")).await;
        let (status, address) = until_answered(
            &http,
            &base,
            &cookie,
            "/me/addresses",
            json!({ "label": "家", "detail": "光华路 1 号", "lat": GUOMAO.0, "lng": GUOMAO.1 }),
            &format!("address-{n}"),
        )
        .await;
        assert_eq!(status, 201, "{address}");
        buyers.push((cookie, address["id"].as_str().expect("id").to_owned()));
    }
    let buying = buyers
        .into_iter()
        .enumerate()
        .map(|(n, (cookie, address))| {
            let (http, base, sku) = (http.clone(), base.clone(), sku.clone());
            tokio::spawn(async move {
                let mut orders = Vec::new();
                for k in 0..ORDERS_EACH {
                    let (status, order) = until_answered(
                        &http,
                        &base,
                        &cookie,
                        &format!("/live/rooms/{ROOM}/orders"),
                        json!({ "sku": sku, "quantity": 1, "address_id": address }),
                        &format!("cluster-{n}-{k}"),
                    )
                    .await;
                    assert_eq!(status, 201, "buyer {n}, order {k}: {order}");
                    let id = order["id"].as_str().expect("order id").to_owned();
                    let (status, paid) = until_answered(
                        &http,
                        &base,
                        &cookie,
                        &format!("/orders/{id}/pay"),
                        json!({ "method": "sandbox" }),
                        &format!("pay-{id}"),
                    )
                    .await;
                    assert_eq!(status, 200, "{paid}");
                    orders.push(id);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                (cookie, orders)
            })
        });
    let buying: Vec<_> = buying.collect();
    // The host keeps talking: durable events before, during and after the kill.
    let talking = {
        let (http, base, host) = (http.clone(), base.clone(), host.clone());
        tokio::spawn(async move {
            for n in 0..30 {
                let (status, body) = until_answered(
                    &http,
                    &base,
                    &host,
                    &format!("/live/rooms/{ROOM}/comments"),
                    json!({ "text": format!("host-{n}") }),
                    "-",
                )
                .await;
                assert_eq!(status, 201, "{body}");
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(500)).await;
    servers[0].take(); // SIGKILL: no goodbye to its viewers, requests cut off mid-way.

    let mut placed = Vec::new();
    for b in buying {
        placed.push(b.await.expect("a buyer finished"));
    }
    talking.await.expect("the host finished");
    let (status, last) = until_answered(
        &http,
        &base,
        &host,
        &format!("/live/rooms/{ROOM}/comments"),
        json!({ "text": "the-last-word" }),
        "-",
    )
    .await;
    assert_eq!(status, 201, "{last}");

    // Every order placed exactly once, and every one the shopper was told of exists, paid.
    let mut all = HashSet::new();
    for (cookie, orders) in &placed {
        assert_eq!(orders.len(), ORDERS_EACH);
        let listed: Value = http
            .get(format!("{base}/api/v1/orders"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("orders")
            .json()
            .await
            .expect("json");
        let listed: HashSet<&str> = listed["orders"]
            .as_array()
            .expect("orders")
            .iter()
            .filter(|o| o["status"] != "cancelled")
            .filter_map(|o| o["id"].as_str())
            .collect();
        let mine: HashSet<&str> = orders.iter().map(String::as_str).collect();
        assert_eq!(listed, mine, "the platform holds exactly the orders placed");
        all.extend(mine.into_iter().map(str::to_owned));
    }
    assert_eq!(all.len(), BUYERS * ORDERS_EACH, "no order was placed twice");
    let room: Value = http
        .get(format!("{base}/api/v1/live/rooms/{ROOM}"))
        .send()
        .await
        .expect("room")
        .json()
        .await
        .expect("json");
    assert_eq!(
        room["pinned"]["sold"].as_u64(),
        pin["sold"]
            .as_u64()
            .map(|s| s + (BUYERS * ORDERS_EACH) as u64),
        "the cap spent once per order: {room}"
    );

    // Every viewer, including those on the killed instance, reaches the last word with every
    // durable event in order: nothing twice, no fresh snapshot on resuming, and nothing missing
    // but a `sale` that a later sale of the same product superseded in the viewer's stream.
    let deadline = Instant::now() + Duration::from_secs(20);
    while viewers
        .iter()
        .map(|(w, _)| w)
        .chain([&log])
        .any(|w| !w.lock().expect("lock").text.contains("the-last-word"))
    {
        assert!(
            Instant::now() < deadline,
            "a viewer never got the last word"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    logging.abort();
    let log = std::mem::take(&mut *log.lock().expect("lock"));
    for pair in log.ids.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "the platform's stream has a gap: {:?}",
            log.ids
        );
    }
    let mut resumed = 0;
    let mut folded = 0;
    for (w, task) in &viewers {
        task.abort();
        let w = w.lock().expect("lock");
        resumed += usize::from(w.reconnects > 0);
        assert_eq!(w.late_snapshots, 0, "a viewer lost continuity: {}", w.text);
        for pair in w.ids.windows(2) {
            assert!(pair[1] > pair[0], "a repeat or a step back: {:?}", w.ids);
        }
        let seen: HashSet<u64> = w.ids.iter().copied().collect();
        let first = w.ids.first().copied().unwrap_or_default();
        for id in log
            .ids
            .iter()
            .filter(|id| **id > first && !seen.contains(id))
        {
            let key = log
                .sales
                .get(id)
                .unwrap_or_else(|| panic!("event {id} is missing and not a sale: {:?}", w.ids));
            assert!(
                w.sales.iter().any(|(later, k)| later > id && k == key),
                "sale {id} is missing with no later sale of {key}: {:?}",
                w.ids
            );
            folded += 1;
        }
    }
    eprintln!("sales folded away across the viewers: {folded}");
    assert!(resumed > 0, "no viewer was on the killed instance");
    // The killed instance's subscription is gone once the platform's next write to it fails.
    let deadline = Instant::now() + Duration::from_secs(10);
    while platform.live().open_streams(ROOM) != 2 {
        assert!(
            Instant::now() < deadline,
            "the two instances left should hold one subscription each, not {}",
            platform.live().open_streams(ROOM)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
