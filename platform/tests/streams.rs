//! Order event streams and the platform's background tasks, over loopback HTTP: streams end with
//! their order, at most eight per session, wake only for their own order, close on shutdown; the
//! reaper and dispatcher are supervised; `/healthz` reports an unusable database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jishi_api::headers::{ORDER_EVENT, SHUTDOWN_EVENT};
use reqwest::Method;
use serde_json::{json, Value};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

use support::{Frame, Shopper, Sse, TestPlatform, GUOMAO, NEVER};

/// Long enough for anything that should happen; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(10);

async fn spawn(dispatch_step: Duration) -> TestPlatform {
    TestPlatform::spawn_with(|c| c.dispatch_step = dispatch_step).await
}

/// Orders to follow on the shared test platform.
impl TestPlatform {
    /// A one-item "as soon as possible" order at a store near GUOMAO with plenty of stock.
    async fn order(&self, s: &Shopper, key: &str) -> String {
        let store = self.open_store().await;
        let sku = self.first_sku(&store).await;
        self.set_stock(&store, &sku, 100).await;
        let body = json!({ "store_id": store, "items": [{ "sku": sku, "quantity": 1 }],
                           "address_id": s.address_id, "slot": "asap" });
        let (status, order) = self
            .request(Method::POST, "/v1/orders")
            .token(s.token.as_str())
            .key(key)
            .json(body)
            .send()
            .await;
        assert_eq!(status, 201, "{order}");
        order["id"].as_str().expect("id").to_owned()
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
    let s = t.shopper(1, GUOMAO).await;
    let delivered = t.order(&s, "delivered").await;
    t.pay(&s, &delivered).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.order_status(&s, &delivered).await != "delivered" {
        assert!(Instant::now() < deadline, "the order is delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // From the start: the whole history, ending with the final state, then the end.
    let all = Sse::new(t.order_events(&s, &delivered, None).await)
        .read_to_end(Instant::now() + PATIENCE)
        .await;
    assert!(all.iter().all(|f| f.event == ORDER_EVENT));
    assert_eq!(statuses(&all).last().map(String::as_str), Some("delivered"));
    let last = all.last().and_then(|f| f.id).expect("ids");

    // Resumed at the final event: that event again (the client learns the order is over), then
    // the end, instead of waiting for events that will never come.
    let resumed = Sse::new(
        t.order_events(&s, &delivered, Some(&last.to_string()))
            .await,
    )
    .read_to_end(Instant::now() + PATIENCE)
    .await;
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0].event, ORDER_EVENT);
    assert_eq!(resumed[0].id, Some(last));
    assert_eq!(statuses(&resumed), ["delivered"]);

    // The same for an order cancelled before payment (its only event is the cancellation).
    let cancelled = t.order(&s, "cancelled").await;
    t.cancel(&s, &cancelled).await;
    let resumed = Sse::new(t.order_events(&s, &cancelled, Some("1")).await)
        .read_to_end(Instant::now() + PATIENCE)
        .await;
    assert_eq!(statuses(&resumed), ["cancelled"]);
    assert_eq!(resumed[0].id, Some(1));
}

#[tokio::test]
async fn a_stream_resumed_past_the_last_event_closes_within_two_seconds() {
    let t = spawn(NEVER).await;
    let s = t.shopper(2, GUOMAO).await;
    let cancelled = t.order(&s, "cancelled").await;
    t.cancel(&s, &cancelled).await;

    // Past the end, by header or by query string: the final state, and closed within 2 s.
    let res = t.order_events(&s, &cancelled, Some("99")).await;
    let frames = Sse::new(res)
        .read_to_end(Instant::now() + Duration::from_secs(2))
        .await;
    assert_eq!(statuses(&frames), ["cancelled"]);
    assert_eq!(frames[0].id, Some(1), "the id the order really reached");
    let res = t
        .request(
            Method::GET,
            &format!("/v1/orders/{cancelled}/events?last_event_id=99"),
        )
        .token(s.token.as_str())
        .response()
        .await;
    let frames = Sse::new(res)
        .read_to_end(Instant::now() + Duration::from_secs(2))
        .await;
    assert_eq!(statuses(&frames), ["cancelled"]);

    // An order still under way, resumed past its log: its current state, and the stream stays open.
    let paid = t.order(&s, "paid").await;
    t.pay(&s, &paid).await;
    let mut stream = Sse::new(t.order_events(&s, &paid, Some("99")).await);
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
    let mut stream = Sse::new(t.order_events(&s, &paid, Some("1")).await);
    assert!(stream.stays_quiet(Duration::from_millis(500)).await);
}

#[tokio::test]
async fn a_session_holds_at_most_eight_streams_and_a_closed_one_frees_its_slot() {
    let t = spawn(NEVER).await;
    let s = t.shopper(3, GUOMAO).await;
    let id = t.order(&s, "one").await;
    let mut open = Vec::new();
    for _ in 0..8 {
        let res = t.order_events(&s, &id, None).await;
        assert_eq!(res.status().as_u16(), 200);
        open.push(res);
    }
    let res = t.order_events(&s, &id, None).await;
    assert_eq!(res.status().as_u16(), 429);
    let err: Value = res.json().await.expect("json");
    assert_eq!(err["error"]["code"], "too_many_requests", "{err}");

    // Another shopper's session has its own eight.
    let other = t.shopper(4, GUOMAO).await;
    let theirs = t.order(&other, "theirs").await;
    assert_eq!(
        t.order_events(&other, &theirs, None)
            .await
            .status()
            .as_u16(),
        200
    );

    // A client that goes away frees its slot.
    drop(open.pop());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let res = t.order_events(&s, &id, None).await;
        if res.status().as_u16() == 200 {
            open.push(res);
            break;
        }
        assert_eq!(res.status().as_u16(), 429);
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(t.order_events(&s, &id, None).await.status().as_u16(), 429);

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
        let frames = Sse::new(t.order_events(&s, &done, None).await)
            .read_to_end(Instant::now() + PATIENCE)
            .await;
        assert_eq!(statuses(&frames), ["cancelled"]);
    }
}

#[tokio::test]
async fn an_event_wakes_its_own_stream_at_once_and_no_other() {
    let t = spawn(NEVER).await;
    let s = t.shopper(5, GUOMAO).await;
    let (a, b) = (t.order(&s, "a").await, t.order(&s, "b").await);
    // Unpaid orders have no events yet: both streams wait.
    let mut on_a = Sse::new(t.order_events(&s, &a, None).await);
    let mut on_b = Sse::new(t.order_events(&s, &b, None).await);
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
    let s = t.shopper(6, GUOMAO).await;
    let (paid, unpaid) = (t.order(&s, "paid").await, t.order(&s, "unpaid").await);
    t.pay(&s, &paid).await;
    let mut streams = vec![
        Sse::new(t.order_events(&s, &paid, None).await),
        Sse::new(t.order_events(&s, &paid, Some("1")).await),
        Sse::new(t.order_events(&s, &unpaid, None).await),
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
    tokio::time::timeout(PATIENCE, t.shut_down())
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
        .get(format!("{}/healthz", t.root))
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
    assert_eq!(t.call(Method::GET, "/healthz", None, None).await.0, 200);
    t.platform.pool().close().await;
    let (status, err) = t.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 503);
    assert_eq!(err["error"]["code"], "platform_unavailable", "{err}");
}
