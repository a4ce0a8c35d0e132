//! Group buy against the real platform over loopback HTTP: exact seats under concurrency, expiry
//! with refunds and stock returned once (also with two expiry runs at once), formation on the last
//! paid seat and delivery to fulfilment, refusals that write nothing, the event stream and its
//! resume, masked members, and a kill -9 of the platform binary in the middle of formations.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::future::join_all;
use jishi_api::groups::GROUP_EVENT;
use jishi_platform::PlatformConfig;
use reqwest::Method;
use serde_json::{json, Value};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

use support::{
    manual_clock, Events, PlatformProcess, Request, Shopper, TestPlatform, ADDRESS_DETAIL, GUOMAO,
    NEVER, PATIENCE, SHANGHAI,
};

/// A store's offer: the store, the SKU, and the regular and group prices.
#[derive(Debug, Clone)]
struct Offer {
    store: String,
    sku: String,
    regular_fen: i64,
    price_fen: i64,
    size: i64,
}

impl Offer {
    /// The offer of `product` (as a store's products answer shows it) at `store`.
    fn of(store: &str, product: &Value) -> Self {
        Offer {
            store: store.to_owned(),
            sku: product["sku"].as_str().expect("sku").to_owned(),
            regular_fen: product["price_fen"].as_i64().expect("price"),
            price_fen: product["group"]["price_fen"].as_i64().expect("group price"),
            size: product["group"]["size"].as_i64().expect("size"),
        }
    }
}

async fn spawn() -> TestPlatform {
    spawn_with(|_| {}).await
}

/// The shared test platform with no dispatch steps (unless `adjust` sets them).
async fn spawn_with(adjust: impl FnOnce(&mut PlatformConfig)) -> TestPlatform {
    TestPlatform::spawn_with(|c| {
        c.dispatch_step = NEVER;
        adjust(c);
    })
    .await
}

/// The tables a group write touches, counted.
#[derive(Debug, PartialEq, Eq)]
struct Rows {
    groups: i64,
    members: i64,
    events: i64,
    orders: i64,
    order_items: i64,
    stock: i64,
}

/// Group buys on the shared test platform.
impl TestPlatform {
    /// A store near GUOMAO, open now, with an offer on a product: the offer, set to `size` seats
    /// and `stock` in stock.
    async fn offer(&self, size: i64, stock: i64) -> Offer {
        let offer = find_offer(&self.http, &self.root).await;
        support::set_group_size(self.platform.pool(), &offer.store, &offer.sku, size).await;
        self.set_stock(&offer.store, &offer.sku, stock).await;
        Offer { size, ..offer }
    }

    async fn stock_of(&self, offer: &Offer) -> i64 {
        self.stock(&offer.store, &offer.sku).await
    }

    async fn rows(&self, offer: &Offer) -> Rows {
        let count = |table: &'static str| self.count_rows(table);
        Rows {
            groups: count("buy_groups").await,
            members: count("group_members").await,
            events: count("event_log WHERE log = 'group'").await,
            orders: count("orders").await,
            order_items: count("order_items").await,
            stock: self.stock_of(offer).await,
        }
    }

    async fn count_rows(&self, table: &str) -> i64 {
        self.count(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// `POST path` as `s` (from their client address), with an Idempotency-Key if given.
    async fn post(
        &self,
        s: &Shopper,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.request(Method::POST, path)
            .by(s)
            .key(key)
            .json(body)
            .send()
            .await
    }

    async fn start_raw(&self, s: &Shopper, key: &str, body: Value) -> (u16, Value) {
        self.post(s, "/v1/groups", Some(key), Some(body)).await
    }

    async fn start(&self, s: &Shopper, offer: &Offer, key: &str) -> (u16, Value) {
        let body = json!({ "store_id": offer.store, "sku": offer.sku, "address_id": s.address_id });
        self.start_raw(s, key, body).await
    }

    /// Starts a group and pays the starter's order, so others can join: (group id, order id).
    async fn open_group(&self, s: &Shopper, offer: &Offer, key: &str) -> (String, String) {
        let (status, started) = self.start(s, offer, key).await;
        assert_eq!(status, 201, "{started}");
        let order = started["order"]["id"].as_str().expect("order").to_owned();
        self.pay(s, &order).await;
        (
            started["group"]["id"].as_str().expect("group").to_owned(),
            order,
        )
    }

    async fn join(&self, s: &Shopper, group: &str, key: &str) -> (u16, Value) {
        let body = json!({ "address_id": s.address_id });
        self.post(
            s,
            &format!("/v1/groups/{group}/join"),
            Some(key),
            Some(body),
        )
        .await
    }

    /// Joins and answers the new order's id.
    async fn joined(&self, s: &Shopper, group: &str, key: &str) -> String {
        let (status, joined) = self.join(s, group, key).await;
        assert_eq!(status, 201, "{joined}");
        joined["order"]["id"].as_str().expect("order").to_owned()
    }

    async fn group(&self, id: &str) -> Value {
        self.get(&format!("/v1/groups/{id}")).await
    }

    /// Waits until the group has `status`.
    async fn await_group(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let group = self.group(id).await;
            if group["status"] == status {
                return group;
            }
            assert!(Instant::now() < deadline, "still {}", group["status"]);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The group's event stream, resumed after `last_event_id` if given.
    async fn stream(&self, group: &str, last_event_id: Option<u64>) -> Events {
        let last = last_event_id.map(|l| l.to_string());
        let res = self
            .request(Method::GET, &format!("/v1/groups/{group}/events"))
            .last_event_id(last.as_deref())
            .response()
            .await;
        Events::new(res, GROUP_EVENT)
    }
}

/// The first store near GUOMAO (open now) with an offered product, as the products answer says.
async fn find_offer(http: &reqwest::Client, root: &str) -> Offer {
    let (store, product) = support::first_group_offer(http, root).await;
    Offer::of(&store, &product)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_joiners_for_the_last_two_seats_make_exactly_two_orders_every_round() {
    let t = spawn().await;
    let offer = t.offer(3, 100_000).await;
    let starter = t.shopper(0, GUOMAO).await;
    let joiners = join_all((1..=50).map(|n| t.shopper(n, GUOMAO))).await;
    for round in 0..20 {
        let stock = t.stock_of(&offer).await;
        let (group, _) = t
            .open_group(&starter, &offer, &format!("start{round}"))
            .await;
        let results = join_all(joiners.iter().enumerate().map(|(i, s)| {
            let key = format!("round{round}-joiner{i}");
            let (t, group) = (&t, &group);
            async move { t.join(s, group, &key).await }
        }))
        .await;
        let winners: Vec<(&Shopper, &Value)> = joiners
            .iter()
            .zip(&results)
            .filter(|(_, (status, _))| *status == 201)
            .map(|(s, (_, body))| (s, body))
            .collect();
        let (_, full) = support::tally(&results, "group_full");
        assert_eq!(
            winners.len(),
            2,
            "round {round}: {:?}",
            results.iter().map(|r| r.0).collect::<Vec<_>>()
        );
        assert_eq!(
            full, 48,
            "round {round}: everyone else is told the group is full"
        );
        let held = t
            .scalar(
                "SELECT COUNT(*) FROM group_members WHERE group_id = ? AND released = 0",
                &group,
            )
            .await;
        assert_eq!(held, 3, "round {round}");
        let orders = t
            .scalar("SELECT COUNT(*) FROM orders WHERE group_id = ?", &group)
            .await;
        assert_eq!(orders, 3, "round {round}: the starter's and two joiners'");
        assert_eq!(stock - t.stock_of(&offer).await, 3, "round {round}");
        let g = t.group(&group).await;
        assert_eq!(
            (g["seats_left"].as_i64(), g["joinable"].as_bool()),
            (Some(0), Some(false))
        );
        for (s, body) in &winners {
            assert_eq!(body["order"]["items"][0]["price_fen"], offer.price_fen);
            assert_eq!(body["order"]["group_id"], group.as_str());
            t.pay(s, body["order"]["id"].as_str().expect("id")).await;
        }
        let formed = t.group(&group).await;
        assert_eq!(formed["status"], "formed", "round {round}");
        assert!(formed["members"]
            .as_array()
            .expect("members")
            .iter()
            .all(|m| m["paid"] == true));
    }
}

#[tokio::test]
async fn an_unfilled_group_expires_at_its_deadline_refunds_the_paid_and_returns_stock_once() {
    let clock = manual_clock();
    let t = spawn_with(|c| {
        c.clock = clock;
        c.group_ttl = Duration::from_secs(60);
    })
    .await;
    let offer = t.offer(4, 50).await;
    let (starter, paid, unpaid) = (
        t.shopper(1, GUOMAO).await,
        t.shopper(2, GUOMAO).await,
        t.shopper(3, GUOMAO).await,
    );
    let (group, starter_order) = t.open_group(&starter, &offer, "start").await;
    let paid_order = t.joined(&paid, &group, "j1").await;
    t.pay(&paid, &paid_order).await;
    let unpaid_order = t.joined(&unpaid, &group, "j2").await;
    assert_eq!(t.stock_of(&offer).await, 47);
    let created = t.group(&group).await;
    assert_eq!(created["seats_left"], 1);
    let deadline = jishi_api::time::parse_utc(created["deadline"].as_str().expect("deadline"))
        .expect("rfc 3339");
    assert_eq!(deadline - t.platform.now_unix(), 60, "the configured TTL");

    // Past the deadline the janitor's group expiry (every second) ends it by itself.
    clock.advance(chrono::Duration::seconds(61));
    let expired = t.await_group(&group, "expired").await;
    assert!(!expired["joinable"].as_bool().expect("joinable"));
    assert_eq!(t.order_status(&starter, &starter_order).await, "refunded");
    assert_eq!(t.order_status(&paid, &paid_order).await, "refunded");
    assert_eq!(t.order_status(&unpaid, &unpaid_order).await, "cancelled");
    assert_eq!(t.stock_of(&offer).await, 50, "every reservation returned");
    // Nobody is charged: the unpaid member cannot pay any more, and late comers cannot join.
    let (status, body) = t.try_pay(&unpaid, &unpaid_order).await;
    assert_eq!(status, 409, "{body}");
    let late = t.shopper(4, GUOMAO).await;
    let (status, body) = t.join(&late, &group, "late").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "group_closed");

    // Two more expiry runs at once find nothing left to return.
    let later = t.platform.now_unix() + 3600;
    let pool = t.platform.pool();
    let (a, b) = tokio::join!(
        jishi_platform::groups::lifecycle::expire_due(pool, later),
        jishi_platform::groups::lifecycle::expire_due(pool, later)
    );
    assert!(a.expect("run a").is_empty() && b.expect("run b").is_empty());
    jishi_platform::orders::expire_unpaid(pool, later)
        .await
        .expect("reaper");
    assert_eq!(t.stock_of(&offer).await, 50, "returned exactly once");
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT json FROM event_log WHERE log = 'group' AND key = ? ORDER BY seq",
    )
    .bind(&group)
    .fetch_all(pool)
    .await
    .expect("events");
    let last: Value = serde_json::from_str(events.last().expect("events")).expect("json");
    assert_eq!(last["type"], "expired");
    assert_eq!(last["refunded"], 2);
    assert_eq!(
        events.iter().filter(|e| e.contains("\"expired\"")).count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_expiry_runs_at_once_expire_each_group_once_and_return_its_stock_once() {
    let t = spawn().await;
    let offer = t.offer(5, 100).await;
    let starters = join_all((10..16).map(|n| t.shopper(n, GUOMAO))).await;
    let joiner = t.shopper(20, GUOMAO).await;
    let mut groups = Vec::new();
    for (i, s) in starters.iter().enumerate() {
        let (group, _) = t.open_group(s, &offer, &format!("s{i}")).await;
        // The joiner pays in some groups and not in others (at most three unpaid at a time).
        let order = t.joined(&joiner, &group, &format!("j{i}")).await;
        if i % 2 == 0 {
            t.pay(&joiner, &order).await;
        }
        groups.push(group);
    }
    assert_eq!(t.stock_of(&offer).await, 100 - 12);
    // Past every deadline (the platform's own clock stands still: only these runs see it).
    let later = t.platform.now_unix() + 25 * 3600;
    let pool = t.platform.pool();
    let (a, b) = tokio::join!(
        jishi_platform::groups::lifecycle::expire_due(pool, later),
        jishi_platform::groups::lifecycle::expire_due(pool, later)
    );
    let (a, b) = (a.expect("run a"), b.expect("run b"));
    let both: HashSet<&String> = a.iter().chain(&b).collect();
    assert_eq!(
        a.len() + b.len(),
        groups.len(),
        "each group expired by one run: {a:?} {b:?}"
    );
    assert_eq!(both.len(), groups.len());
    assert_eq!(
        t.stock_of(&offer).await,
        100,
        "every seat's stock back once"
    );
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*) FROM orders WHERE group_id IS NOT NULL GROUP BY status ORDER BY status",
    )
    .fetch_all(pool)
    .await
    .expect("statuses");
    // Six paid starters and three paid joins refunded; three unpaid joins cancelled.
    assert_eq!(
        by_status,
        [("cancelled".to_owned(), 3), ("refunded".to_owned(), 9)]
    );
    for g in &groups {
        assert_eq!(t.group(g).await["status"], "expired");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_paid_seat_forms_the_group_and_every_order_is_delivered_then_fulfilled() {
    let t = spawn_with(|c| c.dispatch_step = Duration::from_millis(40)).await;
    let offer = t.offer(3, 100).await;
    let (starter, a, b) = (
        t.shopper(1, GUOMAO).await,
        t.shopper(2, GUOMAO).await,
        t.shopper(3, GUOMAO).await,
    );
    let (group, starter_order) = t.open_group(&starter, &offer, "start").await;
    let a_order = t.joined(&a, &group, "a").await;
    t.pay(&a, &a_order).await;
    let b_order = t.joined(&b, &group, "b").await;
    // Paid but held: many dispatch steps pass and the paid orders stay where they are.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(t.order_status(&starter, &starter_order).await, "paid");
    assert_eq!(t.order_status(&a, &a_order).await, "paid");
    assert_eq!(t.group(&group).await["status"], "forming");
    // The last seat paid: formed, and all three go out together.
    t.pay(&b, &b_order).await;
    let formed = t.group(&group).await;
    assert_eq!(formed["status"], "formed");
    assert!(formed["formed_at"].as_str().is_some());
    let deadline = Instant::now() + PATIENCE;
    for (s, order) in [(&starter, &starter_order), (&a, &a_order), (&b, &b_order)] {
        while t.order_status(s, order).await != "delivered" {
            assert!(Instant::now() < deadline, "{order} not delivered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let fulfilled = t.await_group(&group, "fulfilled").await;
    assert_eq!(fulfilled["seats_left"], 0);
    // Each order went the whole way, from `paid` (no step skipped, none taken while held).
    for order in [&starter_order, &a_order, &b_order] {
        let statuses: Vec<String> = sqlx::query_scalar(
            "SELECT json_extract(json, '$.status') FROM event_log
                 WHERE log = 'order' AND key = ? ORDER BY seq",
        )
        .bind(order)
        .fetch_all(t.platform.pool())
        .await
        .expect("events");
        assert_eq!(statuses.first().map(String::as_str), Some("paid"));
        assert_eq!(statuses.get(1).map(String::as_str), Some("accepted"));
        assert_eq!(statuses.last().map(String::as_str), Some("delivered"));
    }
    // The stream of a fulfilled group: a snapshot that says so, then the end.
    let mut stream = t.stream(&group, None).await;
    let snapshot = stream.expect().await;
    assert_eq!(snapshot.kind(), "snapshot");
    assert_eq!(snapshot.data["group"]["status"], "fulfilled");
    assert!(stream.next().await.is_none(), "the stream ends");
}

#[tokio::test]
async fn bad_starts_and_joins_are_refused_clearly_and_write_nothing() {
    let t = spawn().await;
    let offer = t.offer(2, 100).await;
    let starter = t.shopper(1, GUOMAO).await;
    let other = t.shopper(2, GUOMAO).await;
    let far = t.shopper(3, SHANGHAI).await;
    let third = t.shopper(4, GUOMAO).await;
    let anonymous = Shopper {
        token: t.anonymous_session().await,
        address_id: starter.address_id.clone(),
        phone: String::new(),
        ip: "10.3.9.9".into(),
    };
    // A product of the same store without an offer.
    let plain: String = sqlx::query_scalar(
        "SELECT sp.sku FROM store_products sp WHERE sp.store_id = ? AND sp.stock > 0
           AND NOT EXISTS (SELECT 1 FROM group_offers go WHERE go.store_id = sp.store_id AND go.sku = sp.sku)
         ORDER BY sp.sku LIMIT 1",
    )
    .bind(&offer.store)
    .fetch_one(t.platform.pool())
    .await
    .expect("a product without an offer");

    let before = t.rows(&offer).await;
    let body = |sku: &str, extra: Value| {
        let mut b =
            json!({ "store_id": offer.store, "sku": sku, "address_id": starter.address_id });
        if let (Some(b), Some(extra)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(extra.clone());
        }
        b
    };
    let starts: Vec<(&Shopper, Option<&str>, Value, u16, &str)> = vec![
        (
            &starter,
            Some("k1"),
            body(&plain, json!({})),
            404,
            "not_found",
        ),
        (
            &starter,
            Some("k2"),
            body(&offer.sku, json!({ "size": 3 })),
            409,
            "invalid_state",
        ),
        (
            &starter,
            Some("k3"),
            body(&offer.sku, json!({ "price_fen": offer.price_fen - 10 })),
            409,
            "invalid_state",
        ),
        (
            &starter,
            Some("k4"),
            body(&offer.sku, json!({ "size": 9 })),
            400,
            "bad_request",
        ),
        (
            &starter,
            Some("k5"),
            json!({ "store_id": "bj99999", "sku": offer.sku, "address_id": starter.address_id }),
            404,
            "not_found",
        ),
        (
            &starter,
            None,
            body(&offer.sku, json!({})),
            400,
            "bad_request",
        ),
        (
            &starter,
            Some("k6"),
            json!({ "store_id": offer.store }),
            400,
            "bad_request",
        ),
        (
            &anonymous,
            Some("k7"),
            body(&offer.sku, json!({})),
            401,
            "unauthorized",
        ),
        (
            &far,
            Some("k8"),
            json!({ "store_id": offer.store, "sku": offer.sku, "address_id": far.address_id }),
            422,
            "not_deliverable",
        ),
        // Someone else's address is not found, like a missing one.
        (
            &other,
            Some("k9"),
            body(&offer.sku, json!({})),
            404,
            "not_found",
        ),
    ];
    for (who, key, body, expected, code) in starts {
        let (status, answer) = match key {
            Some(key) => t.start_raw(who, key, body.clone()).await,
            None => t.post(who, "/v1/groups", None, Some(body.clone())).await,
        };
        assert_eq!(status, expected, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        assert!(!answer["error"]["message"]
            .as_str()
            .expect("message")
            .is_empty());
        assert_eq!(t.rows(&offer).await, before, "{body}: nothing written");
    }
    let far_answer = t.start(&far, &offer, "k8").await.1["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(far_answer.contains("配送范围"), "{far_answer}");

    // The expected size and price, when they match, and fields the platform does not know are
    // fine.
    let (status, started) = t
        .start_raw(
            &starter,
            "ok",
            body(
                &offer.sku,
                json!({ "size": 2, "price_fen": offer.price_fen, "colour": "red" }),
            ),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let group = started["group"]["id"].as_str().expect("id").to_owned();
    let starter_order = started["order"]["id"].as_str().expect("id").to_owned();
    assert_eq!(started["group"]["regular_price_fen"], offer.regular_fen);
    assert_eq!(started["group"]["size"], 2);
    assert!(started["order"]["total_fen"].as_i64().expect("total") >= offer.price_fen);

    // Joins that must be refused, each changing nothing.
    let before = t.rows(&offer).await;
    let refused = |who: &'static str, status: u16, code: &'static str| (who, status, code);
    let cases = [
        // The starter has not paid: nobody can join yet.
        (refused("other", 409, "group_closed"), "j1"),
        // The starter is already in it.
        (refused("starter", 409, "already_member"), "j2"),
    ];
    for ((who, expected, code), key) in cases {
        let s = if who == "starter" { &starter } else { &other };
        let (status, answer) = t.join(s, &group, key).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (expected, Some(code)),
            "{answer}"
        );
        assert_eq!(t.rows(&offer).await, before, "{who}: nothing written");
    }
    let (status, answer) = t.join(&other, &group, "j1").await;
    assert_eq!(status, 409, "the refusal is the key's answer: {answer}");
    t.pay(&starter, &starter_order).await;
    let before = t.rows(&offer).await;
    let (status, answer) = t.join(&far, &group, "j3").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("not_deliverable")),
        "{answer}"
    );
    let (status, answer) = t.join(&other, &group, "j4").await;
    assert_eq!(status, 201, "{answer}");
    let other_order = answer["order"]["id"].as_str().expect("id").to_owned();
    // Joining twice, with a new key: refused.
    let (status, answer) = t.join(&other, &group, "j5").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("already_member")),
        "{answer}"
    );
    // The group of two is full now.
    let (status, answer) = t.join(&third, &group, "j6").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("group_full")),
        "{answer}"
    );
    assert!(answer["error"]["message"]
        .as_str()
        .expect("message")
        .contains("自己发起"));
    let after_one_join = t.rows(&offer).await;
    assert_eq!(after_one_join.members, before.members + 1);
    assert_eq!(after_one_join.orders, before.orders + 1);
    assert_eq!(after_one_join.stock, before.stock - 1);
    // The same key again replays the first answer.
    let (status, replay) = t.join(&other, &group, "j4").await;
    assert_eq!(status, 201);
    assert_eq!(replay["order"]["id"], other_order.as_str());
    // The same key for another group is refused.
    let (_, second) = t.start(&third, &offer, "third").await;
    let second = second["group"]["id"].as_str().expect("id").to_owned();
    let (status, answer) = t.join(&other, &second, "j4").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );

    // A group that expired (unfilled) takes nobody.
    let later = t.platform.now_unix() + 25 * 3600;
    let expired = jishi_platform::groups::lifecycle::expire_due(t.platform.pool(), later)
        .await
        .expect("expiry");
    let expired: HashSet<String> = expired.into_iter().collect();
    assert_eq!(expired, HashSet::from([group.clone(), second.clone()]));
    let before = t.rows(&offer).await;
    let (status, answer) = t.join(&other, &second, "j7").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("group_closed")),
        "{answer}"
    );
    let (status, answer) = t.join(&other, "grp_nope", "j8").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, _) = t
        .post(
            &other,
            &format!("/v1/groups/{group}/join"),
            Some("j9"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(t.rows(&offer).await, before, "nothing written");
    let (status, _) = t.call(Method::GET, "/v1/groups/grp_nope", None, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_stream_sees_joins_payments_seats_and_formation_in_order_and_resumes_exactly() {
    let t = spawn().await;
    let offer = t.offer(3, 100).await;
    let (starter, a, b) = (
        t.shopper(1, GUOMAO).await,
        t.shopper(2, GUOMAO).await,
        t.shopper(3, GUOMAO).await,
    );
    let (status, started) = t.start(&starter, &offer, "start").await;
    assert_eq!(status, 201, "{started}");
    let group = started["group"]["id"].as_str().expect("id").to_owned();
    let starter_order = started["order"]["id"].as_str().expect("id").to_owned();

    let mut stream = t.stream(&group, None).await;
    let snapshot = stream.expect().await;
    assert_eq!(snapshot.kind(), "snapshot");
    let first_id = snapshot.id.expect("the snapshot has an id");
    assert_eq!(first_id, 2, "the starter's join and the seats left");
    assert_eq!(
        snapshot.data["group"]["members"]
            .as_array()
            .expect("members")
            .len(),
        1
    );
    assert_eq!(snapshot.data["group"]["joinable"], false);

    t.pay(&starter, &starter_order).await;
    let a_order = t.joined(&a, &group, "a").await;
    t.pay(&a, &a_order).await;
    let b_order = t.joined(&b, &group, "b").await;
    t.pay(&b, &b_order).await;
    let expected = [
        "member_paid",
        "member_joined",
        "seats_left",
        "member_paid",
        "member_joined",
        "seats_left",
        "member_paid",
        "formed",
    ];
    let mut seen = Vec::new();
    let mut view: jishi_api::groups::Group =
        serde_json::from_value(snapshot.data["group"].clone()).expect("a group");
    for (n, kind) in expected.iter().enumerate() {
        let frame = stream.expect().await;
        assert_eq!(frame.kind(), *kind, "event {n}: {frame:?}");
        assert_eq!(frame.id, Some(first_id + 1 + n as u64));
        view.apply(&serde_json::from_value(frame.data.clone()).expect("an event"));
        seen.push(frame);
    }
    assert_eq!(seen[0].data["member"]["initiator"], true);
    assert_eq!(seen[2].data["seats_left"], 1);
    assert_eq!(seen[5].data["seats_left"], 0);
    assert_eq!(seen[4].data["member"]["seat"], 3);
    // The page's fold of the events is the platform's group.
    let now = t.group(&group).await;
    assert_eq!(serde_json::to_value(&view).expect("json"), now);

    // Resumed after a's join: exactly the events after it, no snapshot.
    let resume_at = seen[1].id.expect("id");
    let mut resumed = t.stream(&group, Some(resume_at)).await;
    for kind in &expected[2..] {
        let frame = resumed.expect().await;
        assert_eq!(frame.kind(), *kind);
    }
    // An id ahead of the log: a fresh snapshot.
    let mut ahead = t.stream(&group, Some(999)).await;
    let fresh = ahead.expect().await;
    assert_eq!(fresh.kind(), "snapshot");
    assert_eq!(fresh.id, Some(first_id + expected.len() as u64));
    assert_eq!(fresh.data["group"]["status"], "formed");
    let (status, _) = t
        .call(
            Method::GET,
            &format!("/v1/groups/{group}/events?last_event_id=abc"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_freed_seat_can_be_taken_again_and_a_starter_who_never_pays_ends_the_group() {
    let t = spawn().await;
    let offer = t.offer(2, 100).await;
    let (starter, a, b) = (
        t.shopper(1, GUOMAO).await,
        t.shopper(2, GUOMAO).await,
        t.shopper(3, GUOMAO).await,
    );
    let (group, _) = t.open_group(&starter, &offer, "start").await;
    let a_order = t.joined(&a, &group, "a").await;
    let mut stream = t.stream(&group, None).await;
    let snapshot = stream.expect().await;
    assert_eq!(snapshot.data["group"]["seats_left"], 0);
    // a's order lapses unpaid: the seat frees and its stock goes back.
    let stock = t.stock_of(&offer).await;
    let lapse = t.platform.now_unix() + 16 * 60;
    let expired = jishi_platform::orders::expire_unpaid(t.platform.pool(), lapse)
        .await
        .expect("reaper");
    assert_eq!(expired, vec![a_order.clone()]);
    assert_eq!(t.stock_of(&offer).await, stock + 1);
    let left = stream.expect().await;
    assert_eq!(
        (left.kind(), left.data["seat"].as_i64()),
        ("member_left", Some(2))
    );
    assert_eq!(
        stream.expect().await.data,
        json!({"type": "seats_left", "seats_left": 1})
    );
    let g = t.group(&group).await;
    assert_eq!(
        (g["seats_left"].as_i64(), g["joinable"].as_bool()),
        (Some(1), Some(true))
    );
    // Someone else takes it (seat 3: seats are not reused), pays, and the group forms.
    let (status, joined) = t.join(&b, &group, "b").await;
    assert_eq!(status, 201, "{joined}");
    assert_eq!(joined["group"]["members"][1]["seat"], 3);
    t.pay(&b, joined["order"]["id"].as_str().expect("id")).await;
    assert_eq!(t.group(&group).await["status"], "formed");
    // a sees the freed seat among their groups, with its cancelled order.
    let (status, mine) = t
        .call(Method::GET, "/v1/me/groups", Some(&a.token), None)
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["groups"][0]["order_id"], a_order.as_str());
    assert_eq!(mine["groups"][0]["order_status"], "cancelled");
    assert_eq!(mine["groups"][0]["group"]["status"], "formed");

    // A starter who cancels before paying: the group never opens and ends at once.
    let (status, started) = t.start(&a, &offer, "never").await;
    assert_eq!(status, 201, "{started}");
    let never = started["group"]["id"].as_str().expect("id").to_owned();
    let order = started["order"]["id"].as_str().expect("id").to_owned();
    let stock = t.stock_of(&offer).await;
    let (status, cancelled) = t.try_cancel(&a, &order).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["group_id"], never.as_str());
    let ended = t.group(&never).await;
    assert_eq!(ended["status"], "expired");
    assert_eq!(ended["joinable"], false);
    assert_eq!(t.stock_of(&offer).await, stock + 1);
    // The stream of an ended group: the snapshot, then the end; resumed at its end, the final
    // event again, then the end.
    let mut stream = t.stream(&never, None).await;
    let snapshot = stream.expect().await;
    assert_eq!(snapshot.data["group"]["status"], "expired");
    assert!(stream.next().await.is_none());
    let mut resumed = t.stream(&never, snapshot.id).await;
    let last = resumed.expect().await;
    assert_eq!((last.kind(), last.id), ("expired", snapshot.id));
    assert!(resumed.next().await.is_none());
    // A member who cancels after the group formed is refunded; the group stays formed.
    let (other_group, _) = t.open_group(&b, &offer, "again").await;
    let order = t.joined(&starter, &other_group, "again").await;
    t.pay(&starter, &order).await;
    let (status, refunded) = t.try_cancel(&starter, &order).await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(t.group(&other_group).await["status"], "formed");
}

#[tokio::test]
async fn products_and_search_carry_the_offer_and_my_groups_list_my_orders() {
    let t = spawn().await;
    let offer = t.offer(3, 100).await;
    let products = t
        .get(&format!("/v1/stores/{}/products?limit=200", offer.store))
        .await;
    let all = products["products"].as_array().expect("products");
    let offered = all
        .iter()
        .find(|p| p["sku"] == offer.sku.as_str())
        .expect("the product");
    assert_eq!(
        offered["group"],
        json!({ "size": offer.size, "price_fen": offer.price_fen })
    );
    assert!(
        all.iter().any(|p| p["group"].is_null()),
        "not every product is offered"
    );
    let name = offered["name"].as_str().expect("name");
    let found = t
        .get(&format!(
            "/v1/products/search?q={}&lat={}&lng={}",
            urlencode(name),
            GUOMAO.0,
            GUOMAO.1
        ))
        .await;
    let hits = found["results"].as_array().expect("results");
    assert!(!hits.is_empty());
    // Each hit carries its own store's offer, or null.
    for hit in hits {
        let offer: Option<(i64, i64)> = sqlx::query_as(
            "SELECT size, price_fen FROM group_offers WHERE store_id = ? AND sku = ?",
        )
        .bind(hit["store"]["id"].as_str().expect("store"))
        .bind(hit["product"]["sku"].as_str().expect("sku"))
        .fetch_optional(t.platform.pool())
        .await
        .expect("offer");
        let expected = offer.map_or(
            Value::Null,
            |(size, price_fen)| json!({ "size": size, "price_fen": price_fen }),
        );
        assert_eq!(hit["product"]["group"], expected, "{hit}");
    }
    assert!(
        hits.iter().any(|h| !h["product"]["group"].is_null()),
        "{found}"
    );

    let (starter, joiner) = (t.shopper(1, GUOMAO).await, t.shopper(2, GUOMAO).await);
    let (group, starter_order) = t.open_group(&starter, &offer, "start").await;
    let order = t.joined(&joiner, &group, "join").await;
    let (status, mine) = t
        .call(Method::GET, "/v1/me/groups", Some(&joiner.token), None)
        .await;
    assert_eq!(status, 200, "{mine}");
    let groups = mine["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["order_id"], order.as_str());
    assert_eq!(groups[0]["order_status"], "pending_payment");
    assert_eq!(groups[0]["group"]["status"], "forming");
    assert_eq!(
        groups[0]["group"]["store_name"].as_str().map(str::is_empty),
        Some(false)
    );
    assert!(
        !mine.to_string().contains(&starter_order),
        "not the starter's order"
    );
    let (status, _) = t.call(Method::GET, "/v1/me/groups", None, None).await;
    assert_eq!(status, 401);
    // The order knows its group.
    let (_, o) = t
        .call(
            Method::GET,
            &format!("/v1/orders/{order}"),
            Some(&joiner.token),
            None,
        )
        .await;
    assert_eq!(o["group_id"], group.as_str());
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn a_group_shows_masked_names_and_never_a_members_phone_or_address() {
    let t = spawn().await;
    let offer = t.offer(4, 100).await;
    let members = [
        t.shopper(71, GUOMAO).await,
        t.shopper(72, GUOMAO).await,
        t.shopper(73, GUOMAO).await,
    ];
    let (group, _) = t.open_group(&members[0], &offer, "start").await;
    let mut orders = Vec::new();
    for (i, s) in members[1..].iter().enumerate() {
        let order = t.joined(s, &group, &format!("j{i}")).await;
        orders.push(order);
    }
    t.pay(&members[1], &orders[0]).await;
    let public = t.group(&group).await;
    let names: Vec<&str> = public["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            assert_eq!(m["name"]["kind"], "shopper");
            m["name"]["last_digits"].as_str().expect("name")
        })
        .collect();
    assert_eq!(names, ["0071", "0072", "0073"]);
    let mut stream = t.stream(&group, Some(1)).await;
    let mut streamed = String::new();
    for _ in 0..6 {
        streamed.push_str(&stream.expect().await.data.to_string());
    }
    let mut fresh = t.stream(&group, None).await;
    streamed.push_str(&fresh.expect().await.data.to_string());
    let (_, theirs) = t
        .call(Method::GET, "/v1/me/groups", Some(&members[1].token), None)
        .await;
    let where_they_are = (GUOMAO.0.to_string(), GUOMAO.1.to_string());
    for text in [public.to_string(), streamed] {
        for s in &members {
            // The phone whole or nearly whole, the address, where it is, who they are.
            assert!(!text.contains(&s.phone), "{text}");
            assert!(!text.contains(&s.phone[..7]), "{text}");
            assert!(!text.contains(&s.address_id), "{text}");
        }
        for leak in [
            ADDRESS_DETAIL,
            "建国门",
            &where_they_are.0,
            &where_they_are.1,
            "usr_",
            "adr_",
            "ord_",
            "phone",
            "address",
        ] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }
    // The shopper's own list has their order, and still nobody else's.
    let theirs = theirs.to_string();
    assert!(theirs.contains(&orders[0]));
    assert!(!theirs.contains(&orders[1]));
    assert!(!theirs.contains(&members[2].phone) && !theirs.contains(&members[0].phone));
}

// ---------------------------------------------------------------------------------------------
// The platform binary killed in the middle of formations
// ---------------------------------------------------------------------------------------------

/// Every group is whole: formed exactly when every seat is held and paid, with every order paid
/// and released to dispatch and one `formed` event; forming otherwise, with its orders held.
async fn assert_no_group_half_formed(db: &sqlx::SqlitePool) {
    let groups: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT id, status, size FROM buy_groups ORDER BY id")
            .fetch_all(db)
            .await
            .expect("groups");
    assert!(!groups.is_empty());
    for (id, status, size) in groups {
        let (held, paid, orders_paid, released, formed_events): (i64, i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT COUNT(*),
                        COUNT(m.paid_at),
                        SUM(o.status <> 'pending_payment'),
                        SUM(o.dispatch_at IS NULL),
                        (SELECT COUNT(*) FROM event_log e
                         WHERE e.log = 'group' AND e.key = ?1 AND e.json LIKE '%\"type\":\"formed\"%')
                 FROM group_members m JOIN orders o ON o.id = m.order_id
                 WHERE m.group_id = ?1 AND m.released = 0",
            )
            .bind(&id)
            .fetch_one(db)
            .await
            .expect("members");
        assert_eq!(
            paid, orders_paid,
            "{id}: a seat's payment and its order agree"
        );
        match status.as_str() {
            "formed" => {
                assert_eq!(
                    (held, paid, released, formed_events),
                    (size, size, size, 1),
                    "{id}"
                )
            }
            "forming" => {
                assert!(paid < size || held < size, "{id}: all paid but not formed");
                assert_eq!((released, formed_events), (0, 0), "{id}: held until formed");
            }
            other => panic!("{id}: unexpected {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_9_mid_formation_loses_no_payment_and_never_half_forms_a_group() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("crash.db").display());
    let http = reqwest::Client::new();
    // Orders stay where payment puts them: the check below reads `paid` and the hold.
    let stay = [("JISHI_DISPATCH_STEP_MS", "3600000")];
    let mut process = PlatformProcess::start(&http, &db, &stay).await;
    let base = process.root.clone();
    let offer = find_offer(&http, &base).await;
    let side = support::side_connection(&db).await;
    support::set_group_size(&side, &offer.store, &offer.sku, 2).await;
    support::set_stock(&side, &offer.store, &offer.sku, 100_000).await;

    // Each shopper starts a group (paid: open) and joins the next shopper's (unpaid).
    const N: usize = 150;
    let shoppers: Vec<Shopper> = join_all((0..N).map(|n| {
        let phone = format!("136{:08}", 5000 + n);
        let ip = format!("10.4.{}.{}", n / 250, n % 250);
        let (http, base) = (&http, &base);
        async move { support::sign_in(http, base, &phone, &ip, GUOMAO).await }
    }))
    .await;
    let post = |s: &Shopper, path: String, key: Option<String>, body: Value| {
        Request::to(&http, Method::POST, format!("{base}{path}"))
            .by(s)
            .key(key.as_deref())
            .json(body)
            .send()
    };
    let mut groups = Vec::new();
    for (i, s) in shoppers.iter().enumerate() {
        let (status, started) = post(
            s,
            "/v1/groups".into(),
            Some(format!("start{i}")),
            json!({ "store_id": offer.store, "sku": offer.sku, "address_id": s.address_id }),
        )
        .await;
        assert_eq!(status, 201, "{started}");
        let order = started["order"]["id"].as_str().expect("order").to_owned();
        let (status, paid) = post(
            s,
            format!("/v1/orders/{order}/pay"),
            None,
            json!({ "method": "sandbox" }),
        )
        .await;
        assert_eq!(status, 200, "{paid}");
        groups.push(started["group"]["id"].as_str().expect("group").to_owned());
    }
    let mut joins = Vec::new();
    for (i, s) in shoppers.iter().enumerate() {
        let group = &groups[(i + 1) % N];
        let (status, joined) = post(
            s,
            format!("/v1/groups/{group}/join"),
            Some(format!("join{i}")),
            json!({ "address_id": s.address_id }),
        )
        .await;
        assert_eq!(status, 201, "{joined}");
        joins.push(joined["order"]["id"].as_str().expect("order").to_owned());
    }

    // The burst of last-seat payments, each forming a group; the process dies in the middle.
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = shoppers
        .iter()
        .zip(&joins)
        .enumerate()
        .map(|(i, (s, order))| {
            let (http, base, acked) = (http.clone(), base.clone(), acked.clone());
            let (token, order) = (s.token.clone(), order.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(3 * i as u64)).await;
                let res = http
                    .post(format!("{base}/v1/orders/{order}/pay"))
                    .bearer_auth(&token)
                    .json(&json!({ "method": "sandbox" }))
                    .send()
                    .await
                    .ok()?;
                if res.status().as_u16() != 200 {
                    return None;
                }
                acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Some(order)
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    process.kill();
    let mut acknowledged = Vec::new();
    for task in tasks {
        if let Ok(Some(order)) = task.await {
            acknowledged.push(order);
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "some payments completed before the kill"
    );
    assert!(acknowledged.len() < N, "the kill landed mid-burst");

    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&side)
        .await
        .expect("integrity check");
    assert_eq!(integrity, "ok");
    assert_no_group_half_formed(&side).await;
    side.close().await;

    // After a restart every acknowledged payment is there and its group is formed.
    let mut process = PlatformProcess::start(&http, &db, &stay).await;
    let base = process.root.clone();
    let by_order: std::collections::HashMap<&String, (&Shopper, &String)> = joins
        .iter()
        .zip(shoppers.iter().zip(0..N))
        .map(|(order, (s, i))| (order, (s, &groups[(i + 1) % N])))
        .collect();
    for order in &acknowledged {
        let (s, group) = by_order[order];
        let res = http
            .get(format!("{base}/v1/orders/{order}"))
            .bearer_auth(&s.token)
            .send()
            .await
            .expect("order");
        assert_eq!(res.status().as_u16(), 200);
        let body: Value = res.json().await.expect("json");
        assert_ne!(
            body["status"], "pending_payment",
            "{order} was paid before the kill"
        );
        let g: Value = http
            .get(format!("{base}/v1/groups/{group}"))
            .send()
            .await
            .expect("group")
            .json()
            .await
            .expect("json");
        assert_eq!(g["status"], "formed", "{group}");
    }
    let _ = process.terminate();
    let side = support::side_connection(&db).await;
    assert_no_group_half_formed(&side).await;
}

#[tokio::test]
async fn a_seat_is_held_a_few_minutes_and_a_seat_let_go_cannot_be_taken_again_at_once() {
    let t = spawn().await;
    let offer = t.offer(3, 100).await;
    let (starter, a) = (t.shopper(1, GUOMAO).await, t.shopper(2, GUOMAO).await);
    let (group, _) = t.open_group(&starter, &offer, "start").await;
    let (status, joined) = t.join(&a, &group, "a1").await;
    assert_eq!(status, 201, "{joined}");
    // Noon plus five minutes, not the quarter of an hour an ordinary order has.
    assert_eq!(joined["order"]["pay_before"], "2026-11-25T04:05:00Z");
    let order = joined["order"]["id"].as_str().expect("id").to_owned();
    let (status, _) = t.try_cancel(&a, &order).await;
    assert_eq!(status, 200);
    // Letting the seat go and taking it straight back would hold it for ever: refused a while.
    let (status, again) = t.join(&a, &group, "a2").await;
    assert_eq!(status, 429, "{again}");
    assert_eq!(again["error"]["code"], "too_many_requests");
    // The refusal is not the key's final answer: the same request may go through later.
    let (status, replay) = t.join(&a, &group, "a2").await;
    assert_eq!(
        (status, &replay["error"]["code"]),
        (429, &json!("too_many_requests"))
    );
    // Others are not held back.
    let b = t.shopper(3, GUOMAO).await;
    let (status, joined) = t.join(&b, &group, "b").await;
    assert_eq!(status, 201, "{joined}");
}

/// A store with a group offer near 国贸 that closes in the evening (not 24 hours, not a night
/// store), with `size` seats: the offer and today's (Wednesday's) closing minute.
async fn evening_closing_offer(t: &TestPlatform, size: i64) -> (Offer, u16) {
    let nearby = support::nearby(
        &t.http,
        &t.root,
        GUOMAO,
        "&open_now=true&sort=distance&limit=100",
    )
    .await;
    for store in nearby {
        if store["is_24h"] == true || store["night"] == true {
            continue;
        }
        let id = store["id"].as_str().expect("id");
        let products = t.get(&format!("/v1/stores/{id}/products?limit=200")).await;
        let Some(p) = products["products"]
            .as_array()
            .expect("products")
            .iter()
            .find(|p| !p["group"].is_null())
        else {
            continue;
        };
        let detail = t.get(&format!("/v1/stores/{id}")).await;
        let wednesday = detail["store"]["hours"][2].as_str().expect("hours");
        let close = wednesday.split('-').nth(1).expect("a closing time");
        let (h, m) = close.split_once(':').expect("HH:MM");
        let close: u16 = h.parse::<u16>().unwrap() * 60 + m.parse::<u16>().unwrap();
        if !(12 * 60..24 * 60).contains(&close) {
            continue;
        }
        let offer = Offer {
            size,
            ..Offer::of(id, p)
        };
        support::set_group_size(t.platform.pool(), &offer.store, &offer.sku, size).await;
        t.set_stock(&offer.store, &offer.sku, 100).await;
        return (offer, close);
    }
    panic!("no store near 国贸 with a group offer closes in the evening");
}

#[tokio::test]
async fn joining_needs_the_store_open_and_a_group_formed_after_closing_ships_at_the_opening() {
    let clock = manual_clock();
    let t = spawn_with(|c| c.clock = clock).await;
    let (offer, close) = evening_closing_offer(&t, 2).await;
    let (starter, other_starter, a, b) = (
        t.shopper(1, GUOMAO).await,
        t.shopper(2, GUOMAO).await,
        t.shopper(3, GUOMAO).await,
        t.shopper(4, GUOMAO).await,
    );
    let (group, _) = t.open_group(&starter, &offer, "start").await;
    let (other_group, _) = t.open_group(&other_starter, &offer, "other").await;
    // Two minutes before closing a joins (the store is open), and pays after it closed.
    clock.advance(chrono::Duration::minutes(i64::from(close) - 12 * 60 - 2));
    let a_order = t.joined(&a, &group, "a").await;
    clock.advance(chrono::Duration::minutes(3));
    let detail = t.get(&format!("/v1/stores/{}", offer.store)).await;
    assert_eq!(detail["open_now"], false, "the store has closed: {detail}");
    // Joining a closed store's group is refused, as starting one is.
    let (status, refused) = t.join(&b, &other_group, "b").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_state");
    let (status, refused) = t.start(&b, &offer, "b-start").await;
    assert_eq!(status, 409, "{refused}");

    t.pay(&a, &a_order).await;
    let formed = t.group(&group).await;
    assert_eq!(formed["status"], "formed", "{formed}");
    let ships_at = formed["ships_at"].as_str().expect("ships_at").to_owned();
    let at = chrono::DateTime::parse_from_rfc3339(&ships_at)
        .expect("rfc3339")
        .timestamp();
    assert!(at > t.platform.now_unix(), "{ships_at} is ahead");
    assert!(
        at - t.platform.now_unix() < 24 * 3600,
        "{ships_at} is the next opening"
    );
    // Every member's order waits for the opening (held in `paid` until then), not at once.
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE group_id = ? AND dispatch_at = ?")
            .bind(&group)
            .bind(at)
            .fetch_one(t.platform.pool())
            .await
            .expect("held");
    assert_eq!(held, 2, "both orders leave at {ships_at}");
    // The stream says so too.
    let mut stream = t.stream(&group, Some(1)).await;
    loop {
        let event = stream.expect().await;
        if event.kind() == "formed" {
            assert_eq!(event.data["ships_at"], ships_at.as_str());
            break;
        }
    }
}
