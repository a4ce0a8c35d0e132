//! Live rooms against the real platform over loopback HTTP: the event stream (snapshot, resume),
//! live buys under concurrency (cap and stock both hold, routing to the nearest store with stock),
//! refusals that write nothing, comment limits, coalesced likes, viewer reports, the cap returned
//! on cancel, and the Idempotency-Key.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::future::join_all;
use jishi_api::live::LIVE_EVENT;
use jishi_platform::DEMO_HOSTS;
use reqwest::Method;
use serde_json::{json, Value};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

use support::{Event, Events, Shopper, TestPlatform, GUOMAO, PATIENCE, SHANGHAI};

const ROOM: &str = "live_bj1";

/// Live rooms on the shared test platform.
impl TestPlatform {
    /// The host of demo room `n` (0-based), signed in.
    async fn host(&self, n: usize) -> Shopper {
        self.sign_in(DEMO_HOSTS[n], &format!("10.2.0.{n}"), GUOMAO)
            .await
    }

    async fn buy(&self, s: &Shopper, sku: &str, quantity: u32, key: &str) -> (u16, Value) {
        self.request(Method::POST, &format!("/v1/live/rooms/{ROOM}/orders"))
            .token(s.token.as_str())
            .key(key)
            .json(json!({ "sku": sku, "quantity": quantity, "address_id": s.address_id }))
            .send()
            .await
    }

    /// `GET …/quote`: where a buy of `quantity` would come from now.
    async fn quote(&self, s: &Shopper, sku: &str, quantity: u32) -> (u16, Value) {
        self.call(
            Method::GET,
            &format!(
                "/v1/live/rooms/{ROOM}/quote?sku={sku}&quantity={quantity}&address_id={}",
                s.address_id
            ),
            Some(&s.token),
            None,
        )
        .await
    }

    async fn pin(&self, host: &Shopper, sku: &str, price: i64, cap: u32) -> (u16, Value) {
        self.call(
            Method::POST,
            &format!("/v1/live/rooms/{ROOM}/pins"),
            Some(&host.token),
            Some(json!({ "sku": sku, "live_price_fen": price, "stock_cap": cap })),
        )
        .await
    }

    async fn comment(&self, s: Option<&Shopper>, text: &str) -> (u16, Value) {
        self.call(
            Method::POST,
            &format!("/v1/live/rooms/{ROOM}/comments"),
            s.map(|s| s.token.as_str()),
            Some(json!({ "text": text })),
        )
        .await
    }

    /// The host console (`query`: "" or "?q=…"), as `host` reads it.
    async fn console(&self, host: &Shopper, query: &str) -> Value {
        let (status, console) = self
            .call(
                Method::GET,
                &format!("/v1/live/rooms/{ROOM}/host{query}"),
                Some(&host.token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{console}");
        console
    }

    /// `PUT …/bag` with `items` (`[{"sku", "live_price_fen", "stock_cap"}]`) as `who`.
    async fn put_bag(&self, who: &Shopper, items: Value) -> (u16, Value) {
        self.call(
            Method::PUT,
            &format!("/v1/live/rooms/{ROOM}/bag"),
            Some(&who.token),
            Some(json!({ "items": items })),
        )
        .await
    }

    /// `POST …/flash` as `who`.
    async fn flash(&self, who: &Shopper, body: Value) -> (u16, Value) {
        self.call(
            Method::POST,
            &format!("/v1/live/rooms/{ROOM}/flash"),
            Some(&who.token),
            Some(body),
        )
        .await
    }

    /// `POST …/status` of `room` as `who`.
    async fn set_status(&self, who: &Shopper, room: &str, status: &str) -> (u16, Value) {
        self.call(
            Method::POST,
            &format!("/v1/live/rooms/{room}/status"),
            Some(&who.token),
            Some(json!({ "status": status })),
        )
        .await
    }

    /// The room's current pin.
    async fn pinned(&self) -> Value {
        self.get(&format!("/v1/live/rooms/{ROOM}")).await["pinned"].clone()
    }

    async fn total_stock(&self, sku: &str) -> i64 {
        self.scalar(
            "SELECT COALESCE(SUM(stock), 0) FROM store_products WHERE sku = ?",
            sku,
        )
        .await
    }

    async fn sold(&self, sku: &str) -> i64 {
        sqlx::query_scalar("SELECT sold FROM live_pins WHERE room_id = ? AND sku = ?")
            .bind(ROOM)
            .bind(sku)
            .fetch_one(self.platform.pool())
            .await
            .expect("sold")
    }

    async fn rows(&self) -> [i64; 5] {
        let mut out = [0; 5];
        for (i, table) in [
            "live_comments",
            "live_pins",
            "event_log WHERE log = 'room'",
            "live_sales",
            "orders",
        ]
        .iter()
        .enumerate()
        {
            out[i] = self.count(&format!("SELECT COUNT(*) FROM {table}")).await;
        }
        out
    }

    /// The room's event stream, resumed after `last_event_id` if given.
    async fn stream(&self, room: &str, last_event_id: Option<&str>) -> Events {
        let res = self
            .request(Method::GET, &format!("/v1/live/rooms/{room}/events"))
            .last_event_id(last_event_id)
            .response()
            .await;
        Events::new(res, LIVE_EVENT)
    }

    /// Stock of every store carrying `sku` set to `stock`.
    async fn set_all_stock(&self, sku: &str, stock: i64) {
        sqlx::query("UPDATE store_products SET stock = ? WHERE sku = ?")
            .bind(stock)
            .bind(sku)
            .execute(self.platform.pool())
            .await
            .expect("stock set");
    }
}

/// What only these tests read of a room's stream.
impl Events {
    /// The next durable event (one with an id), skipping `stats`.
    async fn next_durable(&mut self) -> Event {
        loop {
            let event = self.expect().await;
            if event.kind() != "stats" {
                assert!(event.id.is_some(), "durable events carry an id: {event:?}");
                return event;
            }
            assert!(event.id.is_none(), "stats carry no id");
        }
    }
}

/// A product near the top of the host's catalogue that is not `except`: (sku, regular price).
async fn other_product(t: &TestPlatform, host: &Shopper, except: &str) -> (String, i64) {
    let console = t.console(host, "").await;
    let entry = console["catalogue"]
        .as_array()
        .expect("catalogue")
        .iter()
        .find(|e| e["sku"] != except)
        .expect("another product")
        .clone();
    (
        entry["sku"].as_str().expect("sku").to_owned(),
        entry["price_fen"].as_i64().expect("price"),
    )
}

#[tokio::test]
async fn the_stream_starts_with_a_snapshot_carries_the_hosts_pins_and_resumes_exactly() {
    let t = TestPlatform::spawn().await;
    let host = t.host(0).await;
    let mut stream = t.stream(ROOM, None).await;
    let first = stream.expect().await;
    assert_eq!(first.kind(), "snapshot", "{first:?}");
    let snapshot_id = first.id.expect("the snapshot has an id");
    assert_eq!(first.data["room"]["id"], ROOM);
    let old_sku = first.data["room"]["pinned"]["sku"]
        .as_str()
        .expect("a demo pin")
        .to_owned();

    let (sku, regular) = other_product(&t, &host, &old_sku).await;
    let (status, pin) = t.pin(&host, &sku, regular - 1, 10).await;
    assert_eq!(status, 201, "{pin}");
    assert_eq!(pin["stock_left"], 10);
    let unpinned = stream.next_durable().await;
    assert_eq!(unpinned.kind(), "unpinned");
    assert_eq!(unpinned.data["sku"], old_sku.as_str());
    assert_eq!(unpinned.id, Some(snapshot_id + 1));
    let pinned = stream.next_durable().await;
    assert_eq!(pinned.kind(), "pinned");
    assert_eq!(pinned.data["pin"]["sku"], sku.as_str());
    assert_eq!(pinned.id, Some(snapshot_id + 2));

    // Resumed after the unpin: exactly the pin, no snapshot.
    let mut resumed = t.stream(ROOM, Some(&(snapshot_id + 1).to_string())).await;
    let again = resumed.next_durable().await;
    assert_eq!(again.kind(), "pinned");
    assert_eq!(again.id, Some(snapshot_id + 2));
    // Then it waits: the next event is the next change.
    let (status, _) = t.comment(Some(&host), "欢迎来到直播间").await;
    assert_eq!(status, 201);
    let next = resumed.next_durable().await;
    assert_eq!(next.kind(), "comment");
    assert_eq!(next.id, Some(snapshot_id + 3));
    assert_eq!(next.data["comment"]["text"], "欢迎来到直播间");

    // A resume point ahead of the log gets a fresh snapshot, which shows the new pin.
    let mut ahead = t.stream(ROOM, Some("999999")).await;
    let fresh = ahead.expect().await;
    assert_eq!(fresh.kind(), "snapshot");
    assert_eq!(fresh.id, Some(snapshot_id + 3));
    assert_eq!(fresh.data["room"]["pinned"]["sku"], sku.as_str());
    assert_eq!(fresh.data["comments"][0]["text"], "欢迎来到直播间");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_buyers_for_a_cap_of_thirty_make_exactly_thirty_orders() {
    let t = TestPlatform::spawn().await;
    let host = t.host(0).await;
    let sku = t.pinned().await["sku"].as_str().expect("sku").to_owned();
    let regular = t.pinned().await["price_fen"].as_i64().expect("price");
    let (status, pin) = t.pin(&host, &sku, regular - 1, 30).await;
    assert_eq!(status, 201, "{pin}");
    t.set_all_stock(&sku, 100).await;
    let stock_before = t.total_stock(&sku).await;
    let shoppers = join_all((0..200).map(|n| t.shopper(n, GUOMAO))).await;
    let results = join_all(shoppers.iter().enumerate().map(|(i, s)| {
        let key = format!("buyer{i}");
        let (t, sku) = (&t, &sku);
        async move { t.buy(s, sku, 1, &key).await }
    }))
    .await;
    let (created, sold_out) = support::tally(&results, "sold_out");
    assert_eq!(
        created.len(),
        30,
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert_eq!(sold_out, 170);
    for order in &created {
        assert_eq!(order["status"], "pending_payment");
        assert_eq!(order["items"][0]["price_fen"], regular - 1);
        assert!(order["store_id"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let ids: HashSet<&str> = created.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 30);
    assert_eq!(t.sold(&sku).await, 30);
    assert_eq!(stock_before - t.total_stock(&sku).await, 30);
    let linked = t
        .scalar("SELECT COUNT(*) FROM live_sales WHERE room_id = ?", ROOM)
        .await;
    assert_eq!(linked, 30);
    // A live order is an ordinary order: paid through the usual endpoint.
    let (buyer, (_, order)) = shoppers
        .iter()
        .zip(&results)
        .find(|(_, r)| r.0 == 201)
        .expect("a buyer");
    let (status, paid) = t
        .call(
            Method::POST,
            &format!("/v1/orders/{}/pay", order["id"].as_str().expect("id")),
            Some(&buyer.token),
            Some(json!({ "method": "sandbox" })),
        )
        .await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["status"], "paid");
}

/// Open stores delivering to `at` that carry `sku`, nearest first.
async fn nearest_carrying(t: &TestPlatform, sku: &str, at: (f64, f64)) -> Vec<String> {
    let nearby = support::nearby(
        &t.http,
        &t.root,
        at,
        "&sort=distance&open_now=true&limit=100",
    )
    .await;
    let mut out = Vec::new();
    for s in &nearby {
        let id = s["id"].as_str().expect("id");
        let carries: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM store_products WHERE store_id = ? AND sku = ?",
        )
        .bind(id)
        .bind(sku)
        .fetch_one(t.platform.pool())
        .await
        .expect("count");
        if carries == 1 {
            out.push(id.to_owned());
        }
    }
    out
}

#[tokio::test]
async fn once_the_nearest_store_is_out_the_next_nearest_fulfils_and_no_stock_goes_negative() {
    let t = TestPlatform::spawn().await;
    let sku = t.pinned().await["sku"].as_str().expect("sku").to_owned();
    let stores = nearest_carrying(&t, &sku, GUOMAO).await;
    assert!(stores.len() >= 2, "{stores:?}");
    t.set_all_stock(&sku, 0).await;
    for (store, stock) in [(&stores[0], 2), (&stores[1], 3)] {
        t.set_stock(store, &sku, stock).await;
    }
    // The quote names the store a buy would come from, and moves on with the stock.
    let asker = t.shopper(50, GUOMAO).await;
    let quote = t.quote(&asker, &sku, 2).await;
    assert_eq!(quote.0, 200, "{}", quote.1);
    assert_eq!(quote.1["store_id"], stores[0].as_str());
    assert!(
        quote.1["eta_min"].as_u64().is_some_and(|m| m > 0),
        "{}",
        quote.1
    );
    assert!(quote.1["delivery_fee_fen"].is_i64(), "{}", quote.1);
    assert_eq!(
        t.quote(&asker, &sku, 3).await.1["store_id"],
        stores[1].as_str()
    );
    assert_eq!(
        t.quote(&asker, &sku, 4).await.1["error"]["code"],
        "sold_out"
    );
    let mut fulfilled_by = Vec::new();
    for n in 0..6 {
        let s = t.shopper(n, GUOMAO).await;
        let (status, order) = t.buy(&s, &sku, 1, &format!("k{n}")).await;
        if n < 5 {
            assert_eq!(status, 201, "buy {n}: {order}");
            fulfilled_by.push(order["store_id"].as_str().expect("store").to_owned());
        } else {
            assert_eq!(status, 409, "{order}");
            assert_eq!(order["error"]["code"], "sold_out");
        }
    }
    assert_eq!(
        fulfilled_by,
        [&stores[0], &stores[0], &stores[1], &stores[1], &stores[1]].map(|s| s.to_owned())
    );
    assert_eq!(t.stock(&stores[0], &sku).await, 0);
    assert_eq!(t.stock(&stores[1], &sku).await, 0);
    let negative = t
        .scalar(
            "SELECT COUNT(*) FROM store_products WHERE sku = ? AND stock < 0",
            &sku,
        )
        .await;
    assert_eq!(negative, 0);
    // The refused buy gave its cap back: only what sold counts.
    assert_eq!(t.sold(&sku).await, 5);
}

#[tokio::test]
async fn an_address_no_store_reaches_is_not_deliverable() {
    let t = TestPlatform::spawn().await;
    let sku = t.pinned().await["sku"].as_str().expect("sku").to_owned();
    let far = t.shopper(1, SHANGHAI).await;
    let before = t.rows().await;
    let (status, body) = t.buy(&far, &sku, 1, "far").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "not_deliverable");
    assert_eq!(t.sold(&sku).await, 0);
    assert_eq!(t.rows().await, before);
    let (status, body) = t.quote(&far, &sku, 1).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "not_deliverable");
    // Asking for a SKU that is not the pin is a plain 409.
    let near = t.shopper(2, GUOMAO).await;
    let (status, body) = t.buy(&near, "P999999", 1, "other").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["message"], "这件商品已下架");
}

#[tokio::test]
async fn bad_input_is_refused_with_the_right_status_and_writes_nothing() {
    let t = TestPlatform::spawn().await;
    let host = t.host(0).await;
    let viewer = t.shopper(1, GUOMAO).await;
    let pinned = t.pinned().await;
    let sku = pinned["sku"].as_str().expect("sku").to_owned();
    let regular = pinned["price_fen"].as_i64().expect("price");
    let before = t.rows().await;
    let long = "好".repeat(201);
    let comments: [(Option<&Shopper>, &str, u16); 5] = [
        (Some(&viewer), "", 400),
        (Some(&viewer), "   ", 400),
        (Some(&viewer), &long, 400),
        (Some(&viewer), "a\u{7}b", 400),
        (None, "hi", 401),
    ];
    for (who, text, expected) in comments {
        let (status, body) = t.comment(who, text).await;
        assert_eq!(status, expected, "{text:?}: {body}");
        assert!(body["error"]["message"].as_str().is_some(), "{body}");
    }
    // What the room's stores hold of it: the most a cap may be.
    let held = t
        .scalar(
            &format!(
                "SELECT SUM(sp.stock) FROM store_products sp JOIN live_room_stores rs
                 ON rs.store_id = sp.store_id AND rs.room_id = '{ROOM}' WHERE sp.sku = ?"
            ),
            &sku,
        )
        .await;
    let held = u32::try_from(held).expect("held");
    let floor = jishi_api::live::live_price_floor(regular);
    let pins: [(&Shopper, &str, i64, u32, u16); 9] = [
        (&viewer, &sku, regular - 1, 10, 403),
        (&host, &sku, 0, 10, 400),
        (&host, &sku, regular, 10, 400),
        (&host, &sku, regular + 100, 10, 400),
        (&host, &sku, regular - 1, 0, 400),
        (&host, "P999999", 100, 10, 404),
        // The attacker's pin: 1 fen, a cap of 100,000.
        (&host, &sku, 1, jishi_api::live::MAX_STOCK_CAP, 400),
        (&host, &sku, floor - 1, 10, 400),
        (&host, &sku, regular - 1, held + 1, 400),
    ];
    for (who, sku, price, cap, expected) in pins {
        let (status, body) = t.pin(who, sku, price, cap).await;
        assert_eq!(status, expected, "{sku} {price} {cap}: {body}");
    }
    let (status, _) = t
        .call(
            Method::POST,
            &format!("/v1/live/rooms/{ROOM}/likes"),
            None,
            Some(json!({ "count": 0 })),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = t
        .call(
            Method::PUT,
            &format!("/v1/live/rooms/{ROOM}/settings"),
            Some(&host.token),
            Some(json!({ "message": "好".repeat(101), "slow_mode": false })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(t.rows().await, before, "nothing written");
    assert_eq!(t.pinned().await, pinned, "the pin is unchanged");
    // Markup is text: stored and answered as sent.
    let (status, body) = t.comment(Some(&viewer), "<b>好</b>").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["text"], "<b>好</b>");
    assert_eq!(body["author"]["kind"], "shopper", "{body}");
    assert_eq!(
        body["author"]["last_digits"].as_str().map(str::len),
        Some(4)
    );
    let (status, _) = t.call(Method::GET, "/v1/live/rooms/nope", None, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn comments_are_rate_limited_except_for_the_host_and_hidden_ones_leave_the_snapshot() {
    let t = TestPlatform::spawn().await;
    let host = t.host(0).await;
    let viewer = t.shopper(1, GUOMAO).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, body) = t.comment(Some(&viewer), &format!("第 {n} 条")).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_u64().expect("id"));
    }
    let (status, body) = t.comment(Some(&viewer), "第 4 条").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests");
    for n in 0..6 {
        let (status, body) = t.comment(Some(&host), &format!("主播说 {n}")).await;
        assert_eq!(status, 201, "{body}");
    }

    let mut stream = t.stream(ROOM, None).await;
    let snapshot = stream.expect().await;
    assert_eq!(snapshot.kind(), "snapshot");
    assert_eq!(
        snapshot.data["comments"]
            .as_array()
            .expect("comments")
            .len(),
        9
    );
    let (status, _) = t
        .call(
            Method::DELETE,
            &format!("/v1/live/rooms/{ROOM}/comments/{}", ids[1]),
            Some(&viewer.token),
            None,
        )
        .await;
    assert_eq!(status, 403, "only the host hides");
    let (status, _) = t
        .call(
            Method::DELETE,
            &format!("/v1/live/rooms/{ROOM}/comments/{}", ids[1]),
            Some(&host.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let hidden = stream.next_durable().await;
    assert_eq!(hidden.kind(), "comment_hidden");
    assert_eq!(hidden.data["id"], ids[1]);
    let mut fresh = t.stream(ROOM, None).await;
    let snapshot = fresh.expect().await;
    let shown: Vec<u64> = snapshot.data["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| c["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(shown.len(), 8);
    assert!(!shown.contains(&ids[1]));
    assert!(shown.windows(2).all(|w| w[0] < w[1]), "oldest first");
}

#[tokio::test]
async fn many_like_batches_make_few_stats_events_and_an_exact_total() {
    let t = TestPlatform::spawn().await;
    let mut stream = t.stream(ROOM, None).await;
    assert_eq!(stream.expect().await.kind(), "snapshot");
    let batches = 50;
    for _ in 0..batches {
        let (status, _) = t
            .call(
                Method::POST,
                &format!("/v1/live/rooms/{ROOM}/likes"),
                None,
                Some(json!({ "count": 10 })),
            )
            .await;
        assert_eq!(status, 202);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut stats = 0;
    loop {
        let frame = stream.expect().await;
        assert_eq!(frame.kind(), "stats", "{frame:?}");
        assert!(frame.id.is_none());
        stats += 1;
        if frame.data["likes"] == 500 {
            break;
        }
        assert!(frame.data["likes"].as_u64().expect("likes") < 500);
    }
    assert!(
        stats < batches / 5,
        "{stats} stats events for {batches} batches"
    );
    assert_eq!(t.get(&format!("/v1/live/rooms/{ROOM}")).await["likes"], 500);
    let written = t
        .scalar("SELECT likes FROM live_rooms WHERE id = ?", ROOM)
        .await;
    assert_eq!(written, 500);
}

#[tokio::test]
async fn viewer_reports_of_two_instances_are_summed_and_a_stale_one_expires() {
    let t =
        TestPlatform::spawn_with(|c| c.live_limits.viewer_ttl = Duration::from_millis(2000)).await;
    let report = |instance: &'static str, count: u64| {
        let t = &t;
        async move {
            let (status, body) = t
                .call(
                    Method::PUT,
                    &format!("/v1/live/rooms/{ROOM}/viewers"),
                    None,
                    Some(json!({ "instance": instance, "count": count })),
                )
                .await;
            assert_eq!(status, 204, "{body}");
        }
    };
    let viewers =
        || async { t.get(&format!("/v1/live/rooms/{ROOM}")).await["viewer_count"].clone() };
    report("web-1", 3).await;
    report("web-2", 4).await;
    assert_eq!(viewers().await, 7);
    let mut stream = t.stream(ROOM, None).await;
    assert_eq!(stream.expect().await.data["room"]["viewer_count"], 7);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    report("web-1", 5).await;
    assert_eq!(viewers().await, 9);
    let stats = stream.expect().await;
    assert_eq!(stats.kind(), "stats");
    assert_eq!(stats.data["viewer_count"], 9);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(viewers().await, 5, "web-2's report is stale");
    let (status, _) = t
        .call(
            Method::PUT,
            "/v1/live/rooms/nope/viewers",
            None,
            Some(json!({ "instance": "web-1", "count": 1 })),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn cancelling_a_live_order_returns_the_stock_and_the_cap_once() {
    let t = TestPlatform::spawn().await;
    let sku = t.pinned().await["sku"].as_str().expect("sku").to_owned();
    t.set_all_stock(&sku, 10).await;
    let stock = t.total_stock(&sku).await;
    let s = t.shopper(1, GUOMAO).await;
    let (status, order) = t.buy(&s, &sku, 2, "once").await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(t.sold(&sku).await, 2);
    assert_eq!(t.total_stock(&sku).await, stock - 2);
    let id = order["id"].as_str().expect("id");
    let cancel = || t.try_cancel(&s, id);
    let (status, cancelled) = cancel().await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let (status, again) = cancel().await;
    assert_eq!(status, 409, "{again}");
    // The reaper finds nothing more to return either.
    let later = t.platform.now_unix() + 3600;
    jishi_platform::orders::expire_unpaid(t.platform.pool(), later)
        .await
        .expect("expiry");
    assert_eq!(t.sold(&sku).await, 0);
    assert_eq!(t.total_stock(&sku).await, stock);
    assert_eq!(
        t.pinned().await["stock_left"],
        t.pinned().await["stock_cap"]
    );
    // Viewers learn the pin's counts again: one `pinned` event after the sale, from the one
    // return, with the pin as it now is.
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT json FROM event_log WHERE log = 'room' AND key = ? ORDER BY seq",
    )
    .bind(ROOM)
    .fetch_all(t.platform.pool())
    .await
    .expect("events");
    let events: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(e).expect("json"))
        .collect();
    // (The first is the demo's own pin, at seed.)
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0]["type"], "pinned");
    assert_eq!(events[1]["type"], "sale");
    assert_eq!(events[1]["stock_left"], 198);
    assert_eq!(events[2]["type"], "pinned");
    assert_eq!(events[2]["pin"], t.pinned().await);
}

#[tokio::test]
async fn one_idempotency_key_makes_one_live_order() {
    let t = TestPlatform::spawn().await;
    let sku = t.pinned().await["sku"].as_str().expect("sku").to_owned();
    let s = t.shopper(1, GUOMAO).await;
    let first = t.buy(&s, &sku, 1, "same-key").await;
    assert_eq!(first.0, 201, "{}", first.1);
    let second = t.buy(&s, &sku, 1, "same-key").await;
    assert_eq!(second, first, "the same answer");
    assert_eq!(t.sold(&sku).await, 1);
    let orders = t
        .scalar("SELECT COUNT(*) FROM live_sales WHERE room_id = ?", ROOM)
        .await;
    assert_eq!(orders, 1);
    let sales = t
        .scalar(
            "SELECT COUNT(*) FROM event_log
             WHERE log = 'room' AND key = ? AND json LIKE '%\"type\":\"sale\"%'",
            ROOM,
        )
        .await;
    assert_eq!(sales, 1, "one sale event, written with the order");
    // The same key for a different request is refused, and changes nothing.
    let (status, body) = t.buy(&s, &sku, 2, "same-key").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    assert_eq!(t.sold(&sku).await, 1);
    // And the order is the shopper's, as any order.
    let id = first.1["id"].as_str().expect("id");
    let mine = t.read_order(&s, id).await;
    assert_eq!(mine["items"][0]["sku"], sku.as_str());
}

#[tokio::test]
async fn the_room_list_puts_rooms_that_deliver_to_the_point_first() {
    let t = TestPlatform::spawn().await;
    let all = t.get("/v1/live/rooms").await;
    let statuses: Vec<&str> = all["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|r| r["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["live", "live", "live", "scheduled"]);
    let near = t
        .get(&format!("/v1/live/rooms?lat={}&lng={}", GUOMAO.0, GUOMAO.1))
        .await;
    let first = &near["rooms"][0];
    assert!(first["distance_m"].as_u64().is_some(), "{near}");
    assert_eq!(first["playback"], Value::Null, "no media server configured");
    let far = t
        .get(&format!(
            "/v1/live/rooms?lat={}&lng={}",
            SHANGHAI.0, SHANGHAI.1
        ))
        .await;
    assert!(far["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .all(|r| r.get("distance_m").is_none()));
}

#[tokio::test]
async fn playback_and_ingest_urls_come_from_the_media_base() {
    let t =
        TestPlatform::spawn_with(|c| c.media_base = Some("https://media.example.com".into())).await;
    let room = t.get(&format!("/v1/live/rooms/{ROOM}")).await;
    assert_eq!(
        room["playback"],
        json!({ "whep": format!("https://media.example.com/whep/{ROOM}"),
                "hls": format!("https://media.example.com/hls/{ROOM}/index.m3u8") })
    );
    let host = t.host(0).await;
    let console = t.console(&host, "?q=%E8%8B%B9").await;
    // No stored stream key: the console asks the gateway, which makes one per broadcast.
    assert_eq!(
        console["ingest"],
        json!({ "whip_url": format!("https://media.example.com/whip/{ROOM}"),
                "rtmp_request_url": format!("https://media.example.com/rtmp/{ROOM}") })
    );
    let other = t.host(1).await;
    let (status, _) = t
        .call(
            Method::GET,
            &format!("/v1/live/rooms/{ROOM}/host"),
            Some(&other.token),
            None,
        )
        .await;
    assert_eq!(status, 403, "another room's host is not this room's");
}

#[tokio::test]
async fn a_shopper_holds_one_unpaid_share_of_a_pin_for_minutes_and_cannot_grab_it_back_at_once() {
    let t = TestPlatform::spawn().await;
    let host = t.host(0).await;
    let (sku, regular) = other_product(&t, &host, "").await;
    let (status, pin) = t.pin(&host, &sku, regular - 1, 100).await;
    assert_eq!(status, 201, "{pin}");
    let (me, other) = (t.shopper(1, GUOMAO).await, t.shopper(2, GUOMAO).await);
    let (status, order) = t.buy(&me, &sku, 20, "first").await;
    assert_eq!(status, 201, "{order}");
    // Noon plus five minutes: a share of a live cap is held briefly.
    assert_eq!(order["pay_before"], "2026-11-25T04:05:00Z");
    // A second hold on the same pin while the first is unpaid: refused.
    let (status, second) = t.buy(&me, &sku, 20, "second").await;
    assert_eq!(status, 429, "{second}");
    assert_eq!(second["error"]["code"], "too_many_unpaid");
    assert_eq!(t.sold(&sku).await, 20);
    // Letting it go and grabbing it straight back: refused for a while.
    let id = order["id"].as_str().expect("id");
    let (status, _) = t.try_cancel(&me, id).await;
    assert_eq!(status, 200);
    assert_eq!(t.sold(&sku).await, 0, "the cap came back");
    let (status, again) = t.buy(&me, &sku, 20, "third").await;
    assert_eq!(status, 429, "{again}");
    assert_eq!(again["error"]["code"], "too_many_requests");
    // Everybody else buys as before.
    let (status, theirs) = t.buy(&other, &sku, 20, "theirs").await;
    assert_eq!(status, 201, "{theirs}");
}

#[tokio::test]
async fn one_client_sending_likes_as_fast_as_it_can_gets_about_a_batch_a_second() {
    let t = TestPlatform::spawn().await;
    let before = t.get(&format!("/v1/live/rooms/{ROOM}")).await["likes"]
        .as_u64()
        .expect("likes");
    let like = |ip: &'static str| {
        t.request(Method::POST, &format!("/v1/live/rooms/{ROOM}/likes"))
            .ip(ip)
            .json(json!({ "count": 100 }))
            .send()
    };
    for _ in 0..40 {
        // Shed silently: the page has nothing to do about it.
        assert_eq!(like("203.0.113.7").await.0, 202);
    }
    assert_eq!(like("198.51.100.1").await.0, 202);
    // Written by the next flush (about a second).
    let likes = || async { t.get(&format!("/v1/live/rooms/{ROOM}")).await["likes"].as_u64() };
    let deadline = Instant::now() + PATIENCE;
    while likes().await.expect("likes") < before + 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Another flush or two, for anything else that counted.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let added = likes().await.expect("likes") - before;
    // The first client's two batches (three if a second passed meanwhile) and the other's one,
    // a hundred taps each: not forty of them.
    assert!(added == 300 || added == 400, "{added}");
}

#[tokio::test]
async fn a_live_buy_routes_only_to_the_rooms_stores_each_paid_its_own_price() {
    let t = TestPlatform::spawn().await;
    let room = t.get(&format!("/v1/live/rooms/{ROOM}")).await;
    let stores: Vec<String> = room["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .map(|s| s.as_str().expect("id").to_owned())
        .collect();
    assert!(stores.len() >= 2, "the demo room has its stores: {room}");
    let sku = room["pinned"]["sku"].as_str().expect("sku").to_owned();
    let live_price = room["pinned"]["live_price_fen"].as_i64().expect("price");
    let nearest = nearest_carrying(&t, &sku, GUOMAO).await;
    assert!(nearest.len() >= 2, "{nearest:?}");
    // Only the second nearest takes part now: the nearest has stock but is not the room's.
    let (out, kept) = (&nearest[0], &nearest[1]);
    sqlx::query("DELETE FROM live_room_stores WHERE room_id = ? AND store_id != ?")
        .bind(ROOM)
        .bind(kept)
        .execute(t.platform.pool())
        .await
        .expect("stores");
    t.set_stock(out, &sku, 50).await;
    t.set_stock(kept, &sku, 1).await;
    let kept_price = t
        .scalar(
            &format!("SELECT price_fen FROM store_products WHERE store_id = '{kept}' AND sku = ?"),
            &sku,
        )
        .await;
    let room = t.get(&format!("/v1/live/rooms/{ROOM}")).await;
    assert_eq!(room["stores"], json!([kept]));
    assert_eq!(
        room["pinned"]["price_fen"], kept_price,
        "the regular price is the room's stores' lowest"
    );

    let buyer = t.shopper(61, GUOMAO).await;
    let (status, order) = t.buy(&buyer, &sku, 1, "routed").await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["store_id"], kept.as_str());
    assert_eq!(order["items"][0]["price_fen"], live_price);
    // Sold out at the room's only store: refused, although a nearer store has 50.
    let other = t.shopper(62, GUOMAO).await;
    let before = t.rows().await;
    let (status, body) = t.buy(&other, &sku, 1, "nowhere").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "sold_out");
    assert_eq!(t.rows().await, before, "nothing written");
    assert_eq!(
        t.stock(out, &sku).await,
        50,
        "never sold from outside the room"
    );

    // The store is paid its own price; the subsidy is the difference, per line, in fen.
    let order_id = order["id"].as_str().expect("id");
    let (store_price, subsidy): (i64, i64) =
        sqlx::query_as("SELECT store_price_fen, subsidy_fen FROM live_sales WHERE order_id = ?")
            .bind(order_id)
            .fetch_one(t.platform.pool())
            .await
            .expect("sale");
    assert_eq!(store_price, kept_price);
    assert_eq!(subsidy, kept_price - live_price);
    assert!(subsidy > 0);
    let host = t.host(0).await;
    let console = t.console(&host, "").await;
    assert_eq!(console["subsidy_fen"], subsidy);
    let line = &console["sales"][0];
    assert_eq!(line["sku"], sku.as_str());
    assert_eq!(line["revenue_fen"], live_price);
    assert_eq!(line["subsidy_fen"], subsidy);
    let by_store = console["by_store"].as_array().expect("by_store");
    assert_eq!(by_store.len(), 1, "{console}");
    assert_eq!(by_store[0]["store_id"], kept.as_str());
    assert_eq!(
        by_store[0]["revenue_fen"].as_i64().expect("revenue")
            + by_store[0]["subsidy_fen"].as_i64().expect("subsidy"),
        kept_price,
        "the store gets its own price"
    );
    // The console offers only what the room's store carries, with what it holds.
    let catalogue = console["catalogue"].as_array().expect("catalogue");
    assert!(catalogue.iter().all(|e| e["stores"] == 1), "{console}");
    let entry = catalogue
        .iter()
        .find(|e| e["sku"] == sku.as_str())
        .expect("the pinned SKU");
    assert_eq!(entry["stock"], 0);
    // The cap counts the one sold here: 1 stands, 2 would sell stock the room's store lacks.
    let (status, body) = t.pin(&host, &sku, live_price, 2).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = t.pin(&host, &sku, live_price, 1).await;
    assert_eq!(status, 201, "{body}");
}

/// The SKUs of a bag (a room's `bag` or a `bag` event's), in order.
fn bag_skus(bag: &Value) -> Vec<String> {
    bag.as_array()
        .expect("bag")
        .iter()
        .map(|b| b["sku"].as_str().expect("sku").to_owned())
        .collect()
}

#[tokio::test]
async fn the_host_fills_and_reorders_the_bag_and_viewers_see_it_live_and_buy_from_it() {
    let t = TestPlatform::spawn().await;
    let host = t.host(0).await;
    let pinned = t.pinned().await;
    let pinned_sku = pinned["sku"].as_str().expect("sku").to_owned();
    let console = t.console(&host, "").await;
    // Three products the room's stores hold plenty of, besides the pin: (sku, live price).
    let products: Vec<(String, i64)> = console["catalogue"]
        .as_array()
        .expect("catalogue")
        .iter()
        .filter(|e| e["sku"] != pinned_sku.as_str() && e["stock"].as_u64() >= Some(20))
        .filter(|e| e["price_fen"].as_i64() >= Some(100))
        .take(3)
        .map(|e| {
            let sku = e["sku"].as_str().expect("sku").to_owned();
            (sku, e["price_fen"].as_i64().expect("price") - 1)
        })
        .collect();
    assert_eq!(products.len(), 3, "{console}");
    let item =
        |n: usize| json!({ "sku": products[n].0, "live_price_fen": products[n].1, "stock_cap": 5 });
    let (a, b, c) = (&products[0].0, &products[1].0, &products[2].0);
    let mut stream = t.stream(ROOM, None).await;
    let snapshot = stream.expect().await;
    assert_eq!(snapshot.data["room"]["bag"], json!([]));

    // Filled: the answer, the room and every viewer's stream show the host's order.
    let pin_item = json!({ "sku": pinned_sku, "live_price_fen": pinned["live_price_fen"], "stock_cap": pinned["stock_cap"] });
    let (status, room) = t
        .put_bag(&host, json!([item(0), item(1), item(2), pin_item]))
        .await;
    assert_eq!(status, 200, "{room}");
    let order = [a, b, c, &pinned_sku].map(|s| s.to_owned());
    assert_eq!(bag_skus(&room["bag"]), order);
    assert_eq!(room["bag"][0]["stock_left"], 5);
    assert_eq!(room["bag"][0]["price_fen"], products[0].1 + 1);
    let event = stream.next_durable().await;
    assert_eq!(event.kind(), "bag");
    assert_eq!(bag_skus(&event.data["bag"]), order);

    // Reordered, one product and the pin taken out: the pin stays the one being explained.
    let (status, room) = t.put_bag(&host, json!([item(2), item(0)])).await;
    assert_eq!(status, 200, "{room}");
    assert_eq!(bag_skus(&room["bag"]), [c, a].map(|s| s.to_owned()));
    assert_eq!(room["pinned"]["sku"], pinned_sku.as_str());
    let event = stream.next_durable().await;
    assert_eq!(event.kind(), "bag");
    assert_eq!(bag_skus(&event.data["bag"]), [c, a].map(|s| s.to_owned()));

    // A viewer buys a bag item that is not the pin, at its live price; its counts move live.
    let viewer = t.shopper(71, GUOMAO).await;
    let (status, order) = t.buy(&viewer, c, 2, "bag-c").await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["items"][0]["price_fen"], products[2].1);
    let sale = stream.next_durable().await;
    assert_eq!(sale.kind(), "sale");
    assert_eq!(sale.data["sale"]["sku"], c.as_str());
    assert_eq!(sale.data["stock_left"], 3);
    let room = t.get(&format!("/v1/live/rooms/{ROOM}")).await;
    assert_eq!(room["bag"][0]["sold"], 2);
    // Taken out of the bag and not pinned: no longer for sale here.
    let other = t.shopper(72, GUOMAO).await;
    let before = t.rows().await;
    let (status, body) = t.buy(&other, b, 1, "bag-b").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "invalid_state");
    assert_eq!(t.rows().await, before);

    // Refusals write nothing and leave the bag as it was.
    let floor = jishi_api::live::live_price_floor(products[0].1 + 1);
    let too_many: Vec<Value> = (0..=jishi_api::live::MAX_BAG_ITEMS)
        .map(|n| json!({ "sku": format!("P{n:06}"), "live_price_fen": 100, "stock_cap": 1 }))
        .collect();
    let refusals: [(&Shopper, Value, u16); 6] = [
        (&host, json!(too_many), 400),
        (&host, json!([item(0), item(0)]), 400),
        (
            &host,
            json!([item(1), { "sku": a, "live_price_fen": floor - 1, "stock_cap": 5 }]),
            400,
        ),
        // Below what already sold of it here.
        (
            &host,
            json!([{ "sku": c, "live_price_fen": products[2].1, "stock_cap": 1 }]),
            400,
        ),
        (
            &host,
            json!([item(1), { "sku": "P999999", "live_price_fen": 100, "stock_cap": 1 }]),
            404,
        ),
        (&viewer, json!([item(1)]), 403),
    ];
    let before = t.rows().await;
    for (who, items, expected) in refusals {
        let (status, body) = t.put_bag(who, items).await;
        assert_eq!(status, expected, "{body}");
    }
    assert_eq!(t.rows().await, before, "nothing written");
    let room = t.get(&format!("/v1/live/rooms/{ROOM}")).await;
    assert_eq!(bag_skus(&room["bag"]), [c, a].map(|s| s.to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flash_sale_counts_down_on_the_platform_clock_and_its_cap_and_limit_hold_under_200_buys()
{
    let t = TestPlatform::spawn_with(|c| c.clock = support::manual_clock()).await;
    let host = t.host(0).await;
    let pinned = t.pinned().await;
    let sku = pinned["sku"].as_str().expect("sku").to_owned();
    let regular = pinned["price_fen"].as_i64().expect("price");
    t.set_all_stock(&sku, 1000).await;
    let stock_before = t.total_stock(&sku).await;
    let bag_price = regular - 1;
    let (status, room) = t
        .put_bag(
            &host,
            json!([{ "sku": sku, "live_price_fen": bag_price, "stock_cap": 500 }]),
        )
        .await;
    assert_eq!(status, 200, "{room}");
    let price = jishi_api::live::live_price_floor(regular);
    let sale = |countdown: u32, length: u32| {
        json!({ "sku": sku, "price_fen": price, "cap": 60, "per_shopper": 1,
                "countdown_s": countdown, "length_s": length })
    };
    let mut stream = t.stream(ROOM, None).await;
    stream.expect().await;

    // Bad input and a non-host are refused with nothing written.
    let before = t.count("SELECT COUNT(*) FROM live_flash").await;
    let outsider = t.shopper(1, GUOMAO).await;
    let refusals: [(&Shopper, Value, u16); 7] = [
        (&host, sale(9, 60), 400),
        (&host, sale(301, 60), 400),
        (&host, sale(10, 59), 400),
        (&host, sale(10, 1201), 400),
        (
            &host,
            json!({ "sku": sku, "price_fen": price - 1, "cap": 60, "per_shopper": 1, "countdown_s": 10, "length_s": 60 }),
            400,
        ),
        (
            &host,
            json!({ "sku": sku, "price_fen": price, "cap": 60, "per_shopper": 0, "countdown_s": 10, "length_s": 60 }),
            400,
        ),
        (&outsider, sale(10, 60), 403),
    ];
    for (who, body, expected) in refusals {
        let (status, answer) = t.flash(who, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM live_flash").await, before);

    // Started: ten seconds of countdown on the platform's clock, shown in the room and streamed.
    let (status, flash) = t.flash(&host, sale(10, 60)).await;
    assert_eq!(status, 201, "{flash}");
    let now = t.platform.now_unix();
    let at = |field: &str| {
        jishi_api::time::parse_utc(flash[field].as_str().expect("time")).expect("rfc3339")
    };
    assert_eq!((at("starts_at") - now, at("ends_at") - now), (10, 70));
    assert_eq!(
        (flash["cap"].as_u64(), flash["sold"].as_u64()),
        (Some(60), Some(0))
    );
    assert_eq!(flash["regular_price_fen"], regular);
    assert_eq!(
        t.get(&format!("/v1/live/rooms/{ROOM}")).await["flash"],
        flash
    );
    let event = stream.next_durable().await;
    assert_eq!(event.kind(), "flash");
    assert_eq!(event.data["flash"], flash);
    // One flash sale at a time.
    let (status, body) = t.flash(&host, sale(10, 60)).await;
    assert_eq!(status, 409, "{body}");

    // Before zero: not_started, nothing written, and the same key goes through once it opens.
    let early = t.shopper(2, GUOMAO).await;
    let rows = t.rows().await;
    let (status, body) = t.buy(&early, &sku, 1, "early").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_started");
    assert_eq!(t.rows().await, rows);
    t.advance(chrono::Duration::seconds(10));
    let (status, order) = t.buy(&early, &sku, 1, "early").await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["items"][0]["price_fen"], price);
    let event = stream.next_durable().await;
    assert_eq!(
        (event.kind(), event.data["flash"].as_bool()),
        ("sale", Some(true))
    );
    // More than the limit in one buy.
    let (status, body) = t.buy(&outsider, &sku, 2, "two").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("limit_reached")),
        "{body}"
    );

    // 200 concurrent buys by 100 shoppers, two each: the cap and the per-shopper limit both hold.
    let shoppers = join_all((100..200).map(|n| t.shopper(n, GUOMAO))).await;
    let results = join_all(shoppers.iter().enumerate().flat_map(|(i, s)| {
        let (t, sku) = (&t, &sku);
        (0..2).map(move |k| async move { (i, t.buy(s, sku, 1, &format!("crowd{i}-{k}")).await) })
    }))
    .await;
    let mut per_shopper = vec![0; shoppers.len()];
    for (i, (status, body)) in &results {
        match status {
            201 => per_shopper[*i] += 1,
            409 => assert!(
                ["sold_out", "limit_reached"]
                    .contains(&body["error"]["code"].as_str().unwrap_or("")),
                "{body}"
            ),
            // The shopper's other request got there first and holds its share unpaid.
            429 => assert_eq!(body["error"]["code"], "too_many_unpaid", "{body}"),
            _ => panic!("{status} {body}"),
        }
    }
    assert!(per_shopper.iter().all(|n| *n <= 1), "{per_shopper:?}");
    assert_eq!(
        per_shopper.iter().sum::<i32>(),
        59,
        "the early buyer took one of 60"
    );
    let sold = t
        .scalar(
            "SELECT sold FROM live_flash WHERE id = ?",
            flash["id"].as_str().unwrap(),
        )
        .await;
    assert_eq!(sold, 60);
    assert_eq!(
        t.scalar(
            "SELECT COALESCE(SUM(quantity), 0) FROM live_sales WHERE flash_id = ?",
            flash["id"].as_str().unwrap()
        )
        .await,
        60
    );
    assert_eq!(stock_before - t.total_stock(&sku).await, 60);
    assert_eq!(
        t.sold(&sku).await,
        0,
        "flash buys do not count against the bag's cap"
    );
    // The brand's subsidy: each line's store price less the flash price.
    let (lines, subsidy): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(subsidy_fen - (store_price_fen - ?) * quantity), -1)
         FROM live_sales WHERE flash_id = ?",
    )
    .bind(price)
    .bind(flash["id"].as_str().unwrap())
    .fetch_one(t.platform.pool())
    .await
    .expect("subsidy");
    assert_eq!((lines, subsidy), (60, 0));

    // Sold out is known without the database: no Idempotency-Key is even claimed.
    let keys = t.count("SELECT COUNT(*) FROM idempotency_keys").await;
    let late = t.shopper(3, GUOMAO).await;
    let (status, body) = t.buy(&late, &sku, 1, "late").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("sold_out")),
        "{body}"
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM idempotency_keys").await, keys);

    // A paid buyer is at the limit; the early buyer cancels, and the unit and the share go back.
    t.pay(&early, order["id"].as_str().unwrap()).await;
    let (status, refunded) = t.try_cancel(&early, order["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(
        t.scalar(
            "SELECT sold FROM live_flash WHERE id = ?",
            flash["id"].as_str().unwrap()
        )
        .await,
        59
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, again) = t.buy(&late, &sku, 1, "late-again").await;
    assert_eq!(status, 201, "{again}");
    t.pay(&late, again["id"].as_str().unwrap()).await;
    let (status, body) = t.buy(&late, &sku, 1, "late-third").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        ["limit_reached", "sold_out"].contains(&body["error"]["code"].as_str().unwrap_or("")),
        "{body}"
    );

    // Over: sale_ended; long over, the product sells at its bag price again.
    t.advance(chrono::Duration::seconds(60));
    let (status, body) = t.buy(&outsider, &sku, 1, "after").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("sale_ended")),
        "{body}"
    );
    t.advance(chrono::Duration::seconds(
        jishi_api::live::FLASH_SHOWN_AFTER_S,
    ));
    assert_eq!(
        t.get(&format!("/v1/live/rooms/{ROOM}")).await["flash"],
        Value::Null
    );
    let (status, order) = t.buy(&outsider, &sku, 1, "bag-price").await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["items"][0]["price_fen"], bag_price);
}

#[tokio::test]
async fn a_scheduled_room_is_listed_after_the_live_ones_reserved_and_taken_away_as_a_calendar_event(
) {
    let t = TestPlatform::spawn().await;
    let (preview, _, title, host_phone) = jishi_platform::live::demo::DEMO_PREVIEW;
    let near = t
        .get(&format!("/v1/live/rooms?lat={}&lng={}", GUOMAO.0, GUOMAO.1))
        .await;
    let last = near["rooms"]
        .as_array()
        .expect("rooms")
        .last()
        .expect("a room")
        .clone();
    assert_eq!(
        (last["id"].as_str(), last["status"].as_str()),
        (Some(preview), Some("scheduled"))
    );
    let starts_at = last["starts_at"].as_str().expect("a start").to_owned();
    let starts = jishi_api::time::parse_utc(&starts_at).expect("rfc3339");
    assert_eq!(
        starts - t.platform.now_unix(),
        jishi_platform::live::demo::PREVIEW_AFTER_S
    );
    assert_eq!(last["reservations"], 0);

    // Reserved by two shoppers (again is the same reservation); not without signing in.
    let t = &t;
    let reserve = |who: Option<&Shopper>, room: &str| {
        let path = format!("/v1/live/rooms/{room}/reservations");
        let token = who.map(|s| s.token.clone());
        async move { t.call(Method::POST, &path, token.as_deref(), None).await }
    };
    let (a, b) = (t.shopper(1, GUOMAO).await, t.shopper(2, GUOMAO).await);
    let (status, first) = reserve(Some(&a), preview).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        (first["reservations"].as_u64(), first["starts_at"].as_str()),
        (Some(1), Some(starts_at.as_str()))
    );
    assert_eq!(reserve(Some(&a), preview).await.1["reservations"], 1);
    assert_eq!(reserve(Some(&b), preview).await.1["reservations"], 2);
    assert_eq!(reserve(None, preview).await.0, 401);
    assert_eq!(
        t.get(&format!("/v1/live/rooms/{preview}")).await["reservations"],
        2
    );
    let (status, mine) = t
        .call(Method::GET, "/v1/me/reservations", Some(&a.token), None)
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["rooms"][0]["id"], preview);

    // The calendar event: the start, an hour long, linking to the room where the shopper came from.
    let res = t
        .request(
            Method::GET,
            &format!("/v1/live/rooms/{preview}/calendar.ics"),
        )
        .header(jishi_api::headers::SHOP_ORIGIN, "https://shop.example")
        .response()
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let kind = res.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_owned();
    assert!(kind.starts_with("text/calendar"), "{kind}");
    let ics = res.text().await.expect("body");
    let stamp = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .format("%Y%m%dT%H%M%SZ")
            .to_string()
    };
    for line in [
        "BEGIN:VCALENDAR".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("DTSTART:{}", stamp(starts)),
        format!("DTEND:{}", stamp(starts + 3600)),
        format!("UID:{preview}@jishi"),
        format!("URL:https://shop.example/live/{preview}"),
        "END:VCALENDAR".to_owned(),
    ] {
        assert!(ics.lines().any(|l| l == line), "{line} in\n{ics}");
    }
    assert!(ics.contains(title), "{ics}");
    // A shop origin that is not one is left out, not echoed.
    let res = t
        .request(
            Method::GET,
            &format!("/v1/live/rooms/{preview}/calendar.ics"),
        )
        .header(jishi_api::headers::SHOP_ORIGIN, "javascript:alert(1)")
        .response()
        .await;
    let ics = res.text().await.expect("body");
    assert!(
        !ics.contains("URL:") && !ics.contains("javascript"),
        "{ics}"
    );

    // Refused with nothing written: a live room, an ended room, an unknown one.
    let host = t.host(0).await;
    let (status, _) = t.set_status(&host, ROOM, "ended").await;
    assert_eq!(status, 200);
    let rows = t.count("SELECT COUNT(*) FROM live_reservations").await;
    let (status, body) = reserve(Some(&a), ROOM).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid_state")),
        "{body}"
    );
    let (status, body) = reserve(Some(&a), "live_bj2").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid_state")),
        "{body}"
    );
    assert_eq!(reserve(Some(&a), "live_nope").await.0, 404);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM live_reservations").await,
        rows
    );
    let (status, _) = t
        .call(
            Method::GET,
            &format!("/v1/live/rooms/{ROOM}/calendar.ics"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 409);

    // The host goes live: the shopper's list says so (what an open page polls).
    let preview_host = t.sign_in(host_phone, "10.2.0.9", GUOMAO).await;
    let (status, room) = t.set_status(&preview_host, preview, "live").await;
    assert_eq!(status, 200, "{room}");
    let (_, mine) = t
        .call(Method::GET, "/v1/me/reservations", Some(&a.token), None)
        .await;
    assert_eq!(mine["rooms"][0]["status"], "live");
}

#[tokio::test]
async fn an_ended_room_replays_its_pins_in_time_and_sells_at_the_stores_own_price() {
    let t =
        TestPlatform::spawn_with(|c| c.media_base = Some("https://media.example.com".into())).await;
    let host = t.host(0).await;
    let first = t.pinned().await["sku"]
        .as_str()
        .expect("the demo's pin")
        .to_owned();
    let room = t.get(&format!("/v1/live/rooms/{ROOM}")).await;
    assert_eq!(room["replay"], Value::Null, "no replay while live");
    // A second product explained a moment later (whole seconds on the wall clock).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (second, regular) = other_product(&t, &host, &first).await;
    let (status, pin) = t.pin(&host, &second, regular - 1, 10).await;
    assert_eq!(status, 201, "{pin}");
    let console = t.console(&host, "").await;
    let never_shown = console["catalogue"]
        .as_array()
        .expect("catalogue")
        .iter()
        .filter_map(|e| e["sku"].as_str())
        .find(|sku| *sku != first && *sku != second)
        .expect("a third product")
        .to_owned();
    let s = t.shopper(1, GUOMAO).await;
    let (status, body) = t.buy(&s, &never_shown, 1, "before").await;
    assert_eq!(status, 409, "{body}");

    let (status, body) = t.set_status(&host, ROOM, "ended").await;
    assert_eq!(status, 200, "{body}");
    let room = t.get(&format!("/v1/live/rooms/{ROOM}")).await;
    let replay = &room["replay"];
    assert_eq!(
        replay["hls"],
        format!("https://media.example.com/replay/{ROOM}/index.m3u8")
    );
    assert!(
        jishi_api::time::parse_ms(replay["started_at"].as_str().expect("started_at")).is_some(),
        "{replay}"
    );
    let chapters: Vec<(&str, u64)> = replay["chapters"]
        .as_array()
        .expect("chapters")
        .iter()
        .map(|c| {
            (
                c["sku"].as_str().unwrap_or(""),
                c["at_s"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(chapters.len(), 2, "{replay}");
    assert_eq!(chapters[0].0, first.as_str());
    assert_eq!(chapters[1].0, second.as_str());
    assert!(
        chapters[1].1 >= 1,
        "the second a moment after the first: {chapters:?}"
    );
    let kinds: Vec<&str> = replay["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["pinned", "unpinned", "pinned"]);
    // The list shows live and scheduled rooms only.
    let list = t.get("/v1/live/rooms").await;
    assert!(list["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .all(|r| r["id"] != ROOM));

    // Bought from the replay: the nearest room store's own price, outside the room's cap.
    let (status, quote) = t.quote(&s, &second, 2).await;
    assert_eq!(status, 200, "{quote}");
    let (status, order) = t.buy(&s, &second, 2, "replay").await;
    assert_eq!(status, 201, "{order}");
    let store_id = order["store_id"].as_str().expect("store");
    assert_eq!(quote["store_id"], store_id);
    let own: i64 =
        sqlx::query_scalar("SELECT price_fen FROM store_products WHERE store_id = ? AND sku = ?")
            .bind(store_id)
            .bind(&second)
            .fetch_one(t.platform.pool())
            .await
            .expect("price");
    assert_eq!(order["items"][0]["price_fen"], own);
    assert_eq!(quote["unit_price_fen"], own);
    assert_eq!(order["items_fen"], own * 2);
    let (replayed, subsidy): (bool, i64) =
        sqlx::query_as("SELECT replay, subsidy_fen FROM live_sales WHERE order_id = ?")
            .bind(order["id"].as_str())
            .fetch_one(t.platform.pool())
            .await
            .expect("sale");
    assert_eq!((replayed, subsidy), (true, 0));
    assert_eq!(t.sold(&second).await, 0, "the live cap is not the replay's");
    // Released, it gives back stock and nothing to the cap.
    let stock = t.total_stock(&second).await;
    let (status, cancelled) = t.try_cancel(&s, order["id"].as_str().expect("id")).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(t.total_stock(&second).await, stock + 2);
    assert_eq!(t.sold(&second).await, 0);

    // A product the host never showed here is not for sale from the replay: nothing written.
    let before = t.rows().await;
    let (status, body) = t.buy(&s, &never_shown, 1, "never").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "invalid_state");
    assert_eq!(t.rows().await, before);
    let (status, _) = t.quote(&s, &never_shown, 1).await;
    assert_eq!(status, 409);
}
