//! The live-room fan-out across server instances: one platform, three servers on loopback.

use std::time::Duration;

use jishi_platform::{Platform, DEMO_HOSTS};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const ROOM: &str = "live_bj1";

/// A new viewer's number, for an address of its own.
fn next_viewer() -> u8 {
    static VIEWERS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
    VIEWERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// An open viewer stream and what it has received so far.
struct Viewer {
    sse: Sse,
    seen: Vec<Event>,
}

impl Viewer {
    /// A viewer at its own address (forwarded by the trusted proxy in front of `server`): each
    /// counts as one viewer.
    async fn open(server: &str, last_event_id: Option<&str>) -> Viewer {
        let mut req = reqwest::Client::new()
            .get(format!("{server}/api/v1/live/rooms/{ROOM}/events"))
            .header("accept", "text/event-stream")
            .header("x-forwarded-for", format!("198.51.100.{}", next_viewer()));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.expect("stream opens");
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap_or_default(),
            "text/event-stream"
        );
        Viewer {
            sse: Sse::new(res),
            seen: Vec::new(),
        }
    }

    /// Reads until an event with `needle` has arrived (5 s at most); returns every event read so
    /// far.
    async fn until(&mut self, needle: &str) -> &[Event] {
        if !any_has(&self.seen, needle) {
            let more = self
                .sse
                .until(Duration::from_secs(5), |e| e.data.contains(needle))
                .await;
            self.seen.extend(more);
        }
        &self.seen
    }
}

/// The SSE id of the first event whose data contains `needle`.
fn id_of(events: &[Event], needle: &str) -> u64 {
    events
        .iter()
        .find(|e| e.data.contains(needle))
        .and_then(event_id)
        .unwrap_or_else(|| panic!("no event with an id holds {needle:?}: {events:?}"))
}

/// A server that believes `X-Forwarded-For` from loopback, as behind nginx.
async fn behind_proxy(platform_url: &str) -> std::net::SocketAddr {
    spawn_server_behind_proxy(platform_url, jishi_server::Limits::default()).await
}

async fn wait_for_streams(platform: &Platform, want: usize) {
    for _ in 0..100 {
        if platform.live().open_streams(ROOM) == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the platform holds {} streams on the room, expected {want}",
        platform.live().open_streams(ROOM)
    );
}

#[tokio::test]
async fn a_pin_through_one_instance_reaches_viewers_on_the_others_over_one_subscription_each() {
    let (platform, platform_url) = spawn_platform(|_| {}).await;
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(format!("http://{}", behind_proxy(&platform_url).await));
    }

    // Two viewers on instance 2 and two on instance 3: each instance subscribes once.
    let mut viewers = Vec::new();
    for server in [&servers[1], &servers[1], &servers[2], &servers[2]] {
        let mut viewer = Viewer::open(server, None).await;
        viewer.until("\"type\":\"snapshot\"").await;
        viewers.push(viewer);
    }
    wait_for_streams(&platform, 2).await;

    // The host pins through instance 1.
    let host_app = TestApp {
        platform: platform_url.clone(),
        server: servers[0].clone(),
        http: reqwest::Client::new(),
    };
    let mut host = Browser::new(&host_app);
    host.sign_in(DEMO_HOSTS[0]).await;
    let room_url = host_app.api(&format!("/live/rooms/{ROOM}"));
    let (sku, price) = pinned_product(&host_app.http, &room_url).await;
    // A first event, so that a viewer can hold an id from before the pin (ids start at 1).
    let (status, hello) = host
        .send(
            Method::POST,
            &format!("/live/rooms/{ROOM}/comments"),
            Some(json!({ "text": "开播啦" })),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{hello}");
    let (status, pin) = host
        .send(
            Method::POST,
            &format!("/live/rooms/{ROOM}/pins"),
            Some(json!({ "sku": sku, "live_price_fen": price - 1, "stock_cap": 77 })),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{pin}");

    for viewer in &mut viewers {
        let seen = viewer.until("\"stock_cap\":77").await;
        assert!(any_has(seen, "\"type\":\"pinned\""), "{seen:?}");
    }
    // Still one subscription per instance; a viewer on instance 1 adds the third.
    assert_eq!(platform.live().open_streams(ROOM), 2);
    let mut third = Viewer::open(&servers[0], None).await;
    let snapshot = third.until("\"type\":\"snapshot\"").await;
    assert!(
        any_has(snapshot, "\"stock_cap\":77"),
        "a new viewer's snapshot has the pin: {snapshot:?}"
    );
    wait_for_streams(&platform, 3).await;

    // A viewer that reconnects with the id before the pin gets the pin again, and only once.
    let pinned_id = id_of(&viewers[0].seen, "\"stock_cap\":77");
    let mut resumed = Viewer::open(&servers[2], Some(&(pinned_id - 1).to_string())).await;
    let seen = resumed.until("\"stock_cap\":77").await;
    assert!(
        !any_has(seen, "\"type\":\"snapshot\""),
        "resumed, not restarted: {seen:?}"
    );
    assert_eq!(times_in(seen, "\"stock_cap\":77"), 1, "{seen:?}");

    // The same on an instance that has never had the room (its viewer was on one that died):
    // the missed pin comes from the platform, not a fresh snapshot.
    let fresh = format!("http://{}", behind_proxy(&platform_url).await);
    let mut moved = Viewer::open(&fresh, Some(&(pinned_id - 1).to_string())).await;
    let seen = moved.until("\"stock_cap\":77").await;
    assert!(
        !any_has(seen, "\"type\":\"snapshot\""),
        "caught up: {seen:?}"
    );
    assert_eq!(id_of(seen, "\"stock_cap\":77"), pinned_id, "{seen:?}");
    assert_eq!(times_in(seen, "\"stock_cap\":77"), 1, "{seen:?}");

    // Viewer counts: every instance reports, the platform sums (7 viewers in all, each at an
    // address of its own).
    let mut total: Value = Value::Null;
    for _ in 0..100 {
        total = host_app
            .get_json(&host_app.platform_v1(&format!("/live/rooms/{ROOM}")))
            .await
            .1;
        if total["viewer_count"] == 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(total["viewer_count"], 7, "{total}");
}

#[tokio::test]
async fn an_unknown_room_is_404_and_the_viewer_report_route_is_not_forwarded() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.api("/live/rooms/no_such_room/events"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 404);
    let res = app
        .http
        .put(app.api(&format!("/live/rooms/{ROOM}/viewers")))
        .header("sec-fetch-site", "same-origin")
        .json(&json!({ "instance": "x", "count": 1_000_000 }))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 404);
    // Not forwarded: the platform never saw the report, so the room's count did not move.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, room) = app
        .get_json(&app.platform_v1(&format!("/live/rooms/{ROOM}")))
        .await;
    assert_eq!(room["viewer_count"], 0, "{room}");
}
