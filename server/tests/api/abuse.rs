//! One client against everybody else: the per-client caps hold, and the others still shop.
//! Clients are told apart by `X-Forwarded-For` from a trusted proxy (loopback), as behind nginx.

use std::time::Duration;

use jishi_server::Limits;
use serde_json::{json, Value};

use crate::support::*;

const ROOM: &str = "live_bj1";
const A: &str = "203.0.113.7";
const B: &str = "198.51.100.1";

/// A server behind a trusted proxy on loopback, with `limits`.
async fn behind_proxy(limits: Limits) -> TestApp {
    let platform = spawn_platform_with_step(Duration::from_secs(3600)).await;
    let server = spawn_server_behind_proxy(&platform, limits).await;
    TestApp::of(&platform, server)
}

/// Opens a stream at `path` as `client` with `cookie`; the response (its body still open).
async fn open(app: &TestApp, path: &str, client: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app
        .http
        .get(app.api(path))
        .header("accept", "text/event-stream")
        .header("x-forwarded-for", client);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("request")
}

/// A fresh anonymous session, minted the way a browser gets one (its first cart write), as
/// `client`: its cookie, or the refusal's status.
async fn minted(app: &TestApp, client: &str, store: &str) -> Result<String, u16> {
    let res = app
        .http
        .put(app.api(&format!("/cart/{store}")))
        .header("sec-fetch-site", "same-origin")
        .header("x-forwarded-for", client)
        .json(&json!({ "items": [] }))
        .send()
        .await
        .expect("cart write");
    if !res.status().is_success() {
        return Err(res.status().as_u16());
    }
    Ok(set_cookie(&res).expect("a session cookie"))
}

async fn viewer_count(app: &TestApp, want: u64) -> Value {
    let mut room = Value::Null;
    // Instances report every 2 s.
    for _ in 0..60 {
        room = app
            .get_json(&app.platform_v1(&format!("/live/rooms/{ROOM}")))
            .await
            .1;
        if room["viewer_count"] == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    room
}

#[tokio::test]
async fn one_client_cannot_take_every_stream_or_count_as_many_viewers() {
    let app = behind_proxy(Limits {
        max_streams: 8,
        max_streams_per_client: 4,
        ..Limits::default()
    })
    .await;
    let (store, _) = store_and_sku(&app).await;
    let room_events = format!("/live/rooms/{ROOM}/events");
    // Client A: streams with no cookie and with freshly minted sessions alike count against its
    // address, not against a session each.
    let mut held = Vec::new();
    for n in 0..4 {
        let cookie = if n % 2 == 0 {
            None
        } else {
            Some(minted(&app, A, &store).await.expect("a session"))
        };
        let res = open(&app, &room_events, A, cookie.as_deref()).await;
        assert_eq!(res.status(), 200, "stream {n} of A");
        held.push(res);
    }
    let cookie = minted(&app, A, &store).await.expect("a session");
    let refused = open(&app, &room_events, A, Some(&cookie)).await;
    assert_eq!(refused.status(), 429, "A's fifth stream");
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "too_many_requests");

    // Everybody else still gets in: B watches, and B's order is tracked.
    let b_room = open(&app, &room_events, B, None).await;
    assert_eq!(b_room.status(), 200);
    let mut shopper = Browser::new(&app);
    shopper.sign_in("13700000041").await;
    let order = paid_order_as(&app, &mut shopper).await;
    let tracking = open(
        &app,
        &format!("/orders/{order}/events"),
        B,
        shopper.cookie.as_deref(),
    )
    .await;
    assert_eq!(tracking.status(), 200, "B's order is tracked");

    // A's four streams (two of them with sessions the platform knows) and B's: two viewers.
    let room = viewer_count(&app, 2).await;
    assert_eq!(room["viewer_count"], 2, "{room}");
    drop((held, b_room, tracking));
}

/// A paid order of `shopper` at a store near 国贸; its id.
async fn paid_order_as(app: &TestApp, shopper: &mut Browser<'_>) -> String {
    let (store, sku) = store_and_sku(app).await;
    let address = shopper.add_address("家", "国贸 1 号").await;
    let key = format!("abuse-{}", rand::random::<u32>());
    let order = shopper.order_one(&store, &sku, &address["id"], &key).await;
    let id = order["id"].as_str().expect("id").to_owned();
    shopper.pay(&id).await;
    id
}

#[tokio::test]
async fn anonymous_sessions_are_limited_per_client_address() {
    let app = behind_proxy(Limits::default()).await;
    let (store, _) = store_and_sku(&app).await;
    let burst = jishi_platform::SESSIONS_PER_CLIENT.burst;
    for n in 0..burst {
        minted(&app, A, &store)
            .await
            .unwrap_or_else(|status| panic!("session {n} of A: {status}"));
    }
    assert_eq!(
        minted(&app, A, &store).await,
        Err(429),
        "past A's allowance"
    );
    // Another address is not affected, and A's sessions still work.
    assert!(minted(&app, B, &store).await.is_ok());
}

#[tokio::test]
async fn the_sandbox_pay_page_is_served_only_beside_the_sandbox_and_never_framed() {
    // An ordinary server in front of a platform: no sandbox.
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!(
            "{}/sandbox/mini-program/pay?order=ord_1",
            app.server
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    let res = app
        .http
        .post(format!("{}/sandbox/mini-program/pay", app.server))
        .header("sec-fetch-site", "same-origin")
        .form(&[("order", "ord_1")])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);

    // Beside the embedded platform's sandbox (demo on): served, and nobody may frame it.
    let sandboxed = spawn_sandbox_app().await;
    let res = sandboxed
        .http
        .get(format!(
            "{}/sandbox/mini-program/pay?order=ord_1",
            sandboxed.server
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401, "the page needs the web-view's shopper");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}
