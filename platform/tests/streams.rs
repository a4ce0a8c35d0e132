//! Order event streams and the platform's background tasks, over loopback HTTP: streams end with
//! their order, at most eight per session, wake only for their own order, close on shutdown; the
//! reaper and dispatcher are supervised; `/healthz` reports an unusable database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jishi_api::headers::{LAST_EVENT_ID, ORDER_EVENT, SHUTDOWN_EVENT};
use jishi_platform::{Clock, Platform, PlatformConfig};
use serde_json::{json, Value};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

const GUOMAO: (f64, f64) = (39.9088, 116.4605);
/// No dispatch step happens during a test: orders stay where the test puts them.
const NEVER: Duration = Duration::from_secs(3600);
/// Long enough for anything that should happen; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(10);

struct TestPlatform {
    base: String,
    platform: Platform,
    http: reqwest::Client,
    /// Fires the platform's shutdown; `running` completes once it has stopped.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn spawn(dispatch_step: Duration) -> TestPlatform {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("streams.db").display());
    let platform = Platform::open(PlatformConfig {
        clock: Clock::fixed_from_rfc3339("2026-11-25T12:00:00+08:00").expect("instant"),
        dispatch_step,
        ..PlatformConfig::demo(url)
    })
    .await
    .expect("platform opens");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, running) = platform
        .clone()
        .spawn_on_loopback_until(async {
            let _ = stopped.await;
        })
        .await
        .expect("binds");
    TestPlatform {
        base: format!("http://{addr}"),
        platform,
        http: reqwest::Client::new(),
        stop: Some(stop),
        running,
        _dir: dir,
    }
}

struct Shopper {
    token: String,
    address_id: String,
}

impl TestPlatform {
    async fn shopper(&self, n: u32) -> Shopper {
        let (phone, ip) = (format!("138{n:08}"), format!("10.9.0.{n}"));
        let (token, address_id) =
            support::sign_in(&self.http, &self.base, &phone, &ip, GUOMAO).await;
        Shopper { token, address_id }
    }

    /// A one-item "as soon as possible" order at a store near GUOMAO with plenty of stock.
    async fn order(&self, s: &Shopper, key: &str) -> String {
        let store = support::open_store_without_minimum(&self.http, &self.base, GUOMAO).await;
        let products: Value = self
            .http
            .get(format!("{}/v1/stores/{store}/products?limit=1", self.base))
            .send()
            .await
            .expect("products request")
            .json()
            .await
            .expect("json");
        let sku = products["products"][0]["sku"].as_str().expect("sku");
        sqlx::query("UPDATE store_products SET stock = 100 WHERE store_id = ? AND sku = ?")
            .bind(&store)
            .bind(sku)
            .execute(self.platform.pool())
            .await
            .expect("stock set");
        let body = json!({ "store_id": store, "items": [{ "sku": sku, "quantity": 1 }],
                           "address_id": s.address_id, "slot": "asap" });
        let (status, order) = self.post(s, "/v1/orders", Some(body), Some(key)).await;
        assert_eq!(status, 201, "{order}");
        order["id"].as_str().expect("id").to_owned()
    }

    async fn post(
        &self,
        s: &Shopper,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&s.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(k) = key {
            req = req.header(jishi_api::headers::IDEMPOTENCY_KEY, k);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn pay(&self, s: &Shopper, id: &str) {
        let body = json!({ "method": "sandbox" });
        let (status, paid) = self
            .post(s, &format!("/v1/orders/{id}/pay"), Some(body), None)
            .await;
        assert_eq!(status, 200, "{paid}");
    }

    async fn cancel(&self, s: &Shopper, id: &str) {
        let (status, cancelled) = self
            .post(s, &format!("/v1/orders/{id}/cancel"), None, None)
            .await;
        assert_eq!(status, 200, "{cancelled}");
    }

    /// Opens the order's event stream, resuming after `last_event_id` if given.
    async fn events(
        &self,
        s: &Shopper,
        id: &str,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("{}/v1/orders/{id}/events", self.base))
            .bearer_auth(&s.token);
        if let Some(last) = last_event_id {
            req = req.header(LAST_EVENT_ID, last);
        }
        req.send().await.expect("events request")
    }

    async fn status(&self, s: &Shopper, id: &str) -> String {
        let order: Value = self
            .http
            .get(format!("{}/v1/orders/{id}", self.base))
            .bearer_auth(&s.token)
            .send()
            .await
            .expect("order request")
            .json()
            .await
            .expect("json");
        order["status"].as_str().expect("status").to_owned()
    }
}

use support::{Frame, Sse};

/// What only these tests read of a stream.
impl Sse {
    /// Every frame until the stream ends, which must happen by `deadline`.
    async fn read_to_end(mut self, deadline: Instant) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(f) = self.next(deadline).await {
            frames.push(f);
        }
        frames
    }

    /// Whether the stream stays open, sending nothing, for `quiet`.
    async fn stays_quiet(&mut self, quiet: Duration) -> bool {
        tokio::time::timeout(quiet, self.next(Instant::now() + quiet + PATIENCE))
            .await
            .is_err()
    }
}

fn statuses(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f.json()["status"].as_str().expect("status").to_owned())
        .collect()
}

#[tokio::test]
async fn a_stream_on_a_finished_order_closes_at_once_with_the_final_state() {
    let t = spawn(Duration::from_millis(20)).await;
    let s = t.shopper(1).await;
    let delivered = t.order(&s, "delivered").await;
    t.pay(&s, &delivered).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.status(&s, &delivered).await != "delivered" {
        assert!(Instant::now() < deadline, "the order is delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // From the start: the whole history, ending with the final state, then the end.
    let all = Sse::new(t.events(&s, &delivered, None).await)
        .read_to_end(Instant::now() + PATIENCE)
        .await;
    assert!(all.iter().all(|f| f.event == ORDER_EVENT));
    assert_eq!(statuses(&all).last().map(String::as_str), Some("delivered"));
    let last = all.last().and_then(|f| f.id).expect("ids");

    // Resumed at the final event: that event again (the client learns the order is over), then
    // the end, instead of waiting for events that will never come.
    let resumed = Sse::new(t.events(&s, &delivered, Some(&last.to_string())).await)
        .read_to_end(Instant::now() + PATIENCE)
        .await;
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0].event, ORDER_EVENT);
    assert_eq!(resumed[0].id, Some(last));
    assert_eq!(statuses(&resumed), ["delivered"]);

    // The same for an order cancelled before payment (its only event is the cancellation).
    let cancelled = t.order(&s, "cancelled").await;
    t.cancel(&s, &cancelled).await;
    let resumed = Sse::new(t.events(&s, &cancelled, Some("1")).await)
        .read_to_end(Instant::now() + PATIENCE)
        .await;
    assert_eq!(statuses(&resumed), ["cancelled"]);
    assert_eq!(resumed[0].id, Some(1));
}

#[tokio::test]
async fn a_stream_resumed_past_the_last_event_closes_within_two_seconds() {
    let t = spawn(NEVER).await;
    let s = t.shopper(2).await;
    let cancelled = t.order(&s, "cancelled").await;
    t.cancel(&s, &cancelled).await;

    // Past the end, by header or by query string: the final state, and closed within 2 s.
    let res = t.events(&s, &cancelled, Some("99")).await;
    let frames = Sse::new(res)
        .read_to_end(Instant::now() + Duration::from_secs(2))
        .await;
    assert_eq!(statuses(&frames), ["cancelled"]);
    assert_eq!(frames[0].id, Some(1), "the id the order really reached");
    let res = t
        .http
        .get(format!(
            "{}/v1/orders/{cancelled}/events?last_event_id=99",
            t.base
        ))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("events request");
    let frames = Sse::new(res)
        .read_to_end(Instant::now() + Duration::from_secs(2))
        .await;
    assert_eq!(statuses(&frames), ["cancelled"]);

    // An order still under way, resumed past its log: its current state, and the stream stays open.
    let paid = t.order(&s, "paid").await;
    t.pay(&s, &paid).await;
    let mut stream = Sse::new(t.events(&s, &paid, Some("99")).await);
    let now = stream
        .next(Instant::now() + PATIENCE)
        .await
        .expect("the current state");
    assert_eq!(
        (now.id, now.json()["status"].clone()),
        (Some(1), json!("paid"))
    );
    assert!(stream.stays_quiet(Duration::from_millis(500)).await);

    // A plain reconnect at the latest event of an order under way repeats nothing.
    let mut stream = Sse::new(t.events(&s, &paid, Some("1")).await);
    assert!(stream.stays_quiet(Duration::from_millis(500)).await);
}

#[tokio::test]
async fn a_session_holds_at_most_eight_streams_and_a_closed_one_frees_its_slot() {
    let t = spawn(NEVER).await;
    let s = t.shopper(3).await;
    let id = t.order(&s, "one").await;
    let mut open = Vec::new();
    for _ in 0..8 {
        let res = t.events(&s, &id, None).await;
        assert_eq!(res.status().as_u16(), 200);
        open.push(res);
    }
    let res = t.events(&s, &id, None).await;
    assert_eq!(res.status().as_u16(), 429);
    let err: Value = res.json().await.expect("json");
    assert_eq!(err["error"]["code"], "too_many_requests", "{err}");

    // Another shopper's session has its own eight.
    let other = t.shopper(4).await;
    let theirs = t.order(&other, "theirs").await;
    assert_eq!(t.events(&other, &theirs, None).await.status().as_u16(), 200);

    // A client that goes away frees its slot.
    drop(open.pop());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let res = t.events(&s, &id, None).await;
        if res.status().as_u16() == 200 {
            open.push(res);
            break;
        }
        assert_eq!(res.status().as_u16(), 429);
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(t.events(&s, &id, None).await.status().as_u16(), 429);

    // Streams that end by themselves free theirs too: many in a row on a finished order.
    drop(open);
    let done = t.order(&s, "done").await;
    t.cancel(&s, &done).await;
    let deadline = Instant::now() + PATIENCE;
    while t.platform.streams().open_total() > 0 {
        assert!(Instant::now() < deadline, "closed streams free their slots");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..12 {
        let frames = Sse::new(t.events(&s, &done, None).await)
            .read_to_end(Instant::now() + PATIENCE)
            .await;
        assert_eq!(statuses(&frames), ["cancelled"]);
    }
}

#[tokio::test]
async fn an_event_wakes_its_own_stream_at_once_and_no_other() {
    let t = spawn(NEVER).await;
    let s = t.shopper(5).await;
    let (a, b) = (t.order(&s, "a").await, t.order(&s, "b").await);
    // Unpaid orders have no events yet: both streams wait.
    let mut on_a = Sse::new(t.events(&s, &a, None).await);
    let mut on_b = Sse::new(t.events(&s, &b, None).await);
    assert!(on_a.stays_quiet(Duration::from_millis(500)).await);
    assert!(on_b.stays_quiet(Duration::from_millis(100)).await);
    let before = t.platform.stream_wakeups();

    let paid_at = Instant::now();
    t.pay(&s, &a).await;
    let event = on_a
        .next(Instant::now() + PATIENCE)
        .await
        .expect("a's event");
    // Woken by the payment, not found by the 2 s poll.
    assert!(
        paid_at.elapsed() < Duration::from_millis(1500),
        "{:?}",
        paid_at.elapsed()
    );
    assert_eq!(event.json()["status"], "paid");
    assert!(on_b.stays_quiet(Duration::from_millis(300)).await);
    assert_eq!(
        t.platform.stream_wakeups() - before,
        1,
        "only the stream on the paid order was woken"
    );

    t.cancel(&s, &b).await;
    let event = on_b
        .next(Instant::now() + PATIENCE)
        .await
        .expect("b's event");
    assert_eq!(event.json()["status"], "cancelled");
    assert_eq!(t.platform.stream_wakeups() - before, 2);
}

#[tokio::test]
async fn shutdown_ends_open_streams_with_the_shutdown_event_and_serve_returns() {
    let mut t = spawn(NEVER).await;
    let s = t.shopper(6).await;
    let (paid, unpaid) = (t.order(&s, "paid").await, t.order(&s, "unpaid").await);
    t.pay(&s, &paid).await;
    let mut streams = vec![
        Sse::new(t.events(&s, &paid, None).await),
        Sse::new(t.events(&s, &paid, Some("1")).await),
        Sse::new(t.events(&s, &unpaid, None).await),
    ];
    let first = streams[0]
        .next(Instant::now() + PATIENCE)
        .await
        .expect("paid");
    assert_eq!(first.id, Some(1));
    for stream in &mut streams[1..] {
        assert!(stream.stays_quiet(Duration::from_millis(300)).await);
    }

    let stopping = Instant::now();
    let _ = t.stop.take().expect("running").send(());
    tokio::time::timeout(PATIENCE, &mut t.running)
        .await
        .expect("serve returns with streams open")
        .expect("no panic");
    assert!(stopping.elapsed() < PATIENCE);
    for stream in streams {
        let rest = stream.read_to_end(Instant::now() + PATIENCE).await;
        assert_eq!(rest.len(), 1, "{rest:?}");
        assert_eq!(rest[0].event, SHUTDOWN_EVENT);
        assert_eq!(
            rest[0].id, None,
            "a reconnect resumes after the last order event"
        );
    }
    // Nothing listens any more.
    assert!(t
        .http
        .get(format!("{}/healthz", t.base))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn a_supervised_task_that_panics_is_restarted_and_stops_on_request() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (second_run, mut started_again) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let supervisor = {
        let runs = runs.clone();
        jishi_platform::supervise(
            "test task",
            async {
                let _ = stopped.await;
            },
            move || {
                let n = runs.fetch_add(1, Ordering::SeqCst);
                let second_run = second_run.clone();
                async move {
                    if n == 0 {
                        panic!("the first run dies");
                    }
                    let _ = second_run.send(n);
                    std::future::pending::<()>().await;
                }
            },
        )
    };
    let n = tokio::time::timeout(PATIENCE, started_again.recv())
        .await
        .expect("restarted after the panic")
        .expect("a run");
    assert_eq!(n, 1);
    let _ = stop.send(());
    tokio::time::timeout(PATIENCE, supervisor)
        .await
        .expect("the supervisor stops")
        .expect("no panic");
    assert_eq!(runs.load(Ordering::SeqCst), 2, "not restarted once stopped");
}

#[tokio::test]
async fn healthz_answers_503_once_the_database_is_unusable() {
    let t = spawn(NEVER).await;
    let res = t
        .http
        .get(format!("{}/healthz", t.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status().as_u16(), 200);
    t.platform.pool().close().await;
    let res = t
        .http
        .get(format!("{}/healthz", t.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status().as_u16(), 503);
    let err: Value = res.json().await.expect("json");
    assert_eq!(err["error"]["code"], "platform_unavailable", "{err}");
}
