//! Orders against the real platform over loopback HTTP: never oversold, placed exactly once,
//! expired exactly once, and nobody else's.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::future::join_all;
use jishi_platform::orders::{OrderLimits, RateLimit};
use jishi_platform::Clock;
use reqwest::Method;
use serde_json::{json, Value};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

use support::{unix, Shopper, Sse, TestPlatform, GUOMAO, PATIENCE};

/// 12:20 in Beijing, the day of `support::NOON`.
const TWENTY_PAST: &str = "2026-11-25T12:20:00+08:00";

async fn spawn() -> TestPlatform {
    TestPlatform::spawn().await
}

async fn spawn_with_step(dispatch_step: Duration) -> TestPlatform {
    TestPlatform::spawn_with(|c| c.dispatch_step = dispatch_step).await
}

/// Orders on the shared test platform.
impl TestPlatform {
    /// A store delivering to GUOMAO with no minimum order, and one of its SKUs.
    async fn store_and_sku(&self) -> (String, String) {
        let store = self.open_store().await;
        let sku = self.first_sku(&store).await;
        (store, sku)
    }

    async fn cart(&self, shopper: &Shopper, store: &str) -> Value {
        let path = format!("/v1/cart/{store}");
        let (status, cart) = self
            .call(Method::GET, &path, Some(&shopper.token), None)
            .await;
        assert_eq!(status, 200, "{cart}");
        cart
    }

    async fn order(&self, shopper: &Shopper, key: Option<&str>, body: &Value) -> (u16, Value) {
        self.order_from(shopper, key, body, None).await
    }

    /// `s` orders `quantity` of `sku` at `store`, as soon as possible, under Idempotency-Key
    /// `key`.
    async fn order_of(
        &self,
        s: &Shopper,
        key: &str,
        store: &str,
        sku: &str,
        quantity: i64,
    ) -> (u16, Value) {
        let body = order_body(store, sku, quantity, &s.address_id);
        self.order(s, Some(key), &body).await
    }

    /// Places an order as the server would for a shopper at client address `ip`.
    async fn order_from(
        &self,
        shopper: &Shopper,
        key: Option<&str>,
        body: &Value,
        ip: Option<&str>,
    ) -> (u16, Value) {
        self.request(Method::POST, "/v1/orders")
            .token(shopper.token.as_str())
            .key(key)
            .ip(ip)
            .json(body.clone())
            .send()
            .await
    }
}

/// A store delivering to GUOMAO with `stock` of one of its SKUs, and shopper 1: (store, sku,
/// shopper).
async fn stocked(t: &TestPlatform, stock: i64) -> (String, String, Shopper) {
    let (store, sku) = t.store_and_sku().await;
    t.set_stock(&store, &sku, stock).await;
    (store, sku, t.shopper(1, GUOMAO).await)
}

fn order_body(store: &str, sku: &str, quantity: i64, address_id: &str) -> Value {
    json!({ "store_id": store, "items": [{ "sku": sku, "quantity": quantity }], "address_id": address_id, "slot": "asap" })
}

/// One of `sku` with a delivery note.
fn with_note(store: &str, sku: &str, address_id: &str, note: &str) -> Value {
    let mut body = order_body(store, sku, 1, address_id);
    body["note"] = json!(note);
    body
}

#[tokio::test]
async fn a_delivery_note_is_kept_with_the_order_and_read_back() {
    let t = spawn().await;
    let (store, sku, s) = stocked(&t, 5).await;
    let (status, order) = t
        .order(
            &s,
            Some("note-1"),
            &with_note(&store, &sku, &s.address_id, "  放门口，别按门铃 🔔 "),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["note"], "放门口，别按门铃 🔔");
    let id = order["id"].as_str().unwrap();
    let (_, read) = t
        .call(
            Method::GET,
            &format!("/v1/orders/{id}"),
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(read["note"], "放门口，别按门铃 🔔");
    // A blank note is no note: absent from the order.
    let (status, plain) = t
        .order(
            &s,
            Some("note-2"),
            &with_note(&store, &sku, &s.address_id, "   "),
        )
        .await;
    assert_eq!(status, 201, "{plain}");
    assert!(plain.get("note").is_none(), "{plain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_buyers_for_fifty_in_stock_make_exactly_fifty_orders_every_round() {
    let t = spawn().await;
    let (store, sku) = t.store_and_sku().await;
    let shoppers = join_all((0..200).map(|n| t.shopper(n, GUOMAO))).await;
    for round in 0..20 {
        t.set_stock(&store, &sku, 50).await;
        let results = join_all(shoppers.iter().enumerate().map(|(i, s)| {
            let key = format!("round{round}-buyer{i}");
            let body = order_body(&store, &sku, 1, &s.address_id);
            let t = &t;
            async move { t.order(s, Some(&key), &body).await }
        }))
        .await;
        let (created, sold_out) = support::tally(&results, "sold_out");
        assert_eq!(
            created.len(),
            50,
            "round {round}: {:?}",
            results.iter().map(|r| r.0).collect::<Vec<_>>()
        );
        assert_eq!(sold_out, 150, "round {round}");
        let ordered: u64 = created
            .iter()
            .map(|o| o["items"][0]["quantity"].as_u64().unwrap())
            .sum();
        assert_eq!(ordered, 50);
        assert_eq!(t.stock(&store, &sku).await, 0, "round {round}");
        let ids: HashSet<&str> = created.iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 50);
        // The buyers pay, as buyers do: nobody reaches the cap on unpaid orders.
        let paid = join_all(
            shoppers
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.0 == 201)
                .map(|(s, (_, order))| t.try_pay(s, order["id"].as_str().unwrap())),
        )
        .await;
        assert!(
            paid.iter().all(|(status, _)| *status == 200),
            "round {round}"
        );
    }
}

#[tokio::test]
async fn one_idempotency_key_makes_one_order_however_often_it_is_sent() {
    let t = spawn().await;
    let (store, sku, s) = stocked(&t, 30).await;
    let body = order_body(&store, &sku, 2, &s.address_id);

    let results = join_all((0..20).map(|_| t.order(&s, Some("key-1"), &body))).await;
    let ids: HashSet<&str> = results
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, b)| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    for (status, b) in &results {
        assert!(
            *status == 201 || (*status == 409 && b["error"]["code"] == "request_in_progress"),
            "{status} {b}"
        );
    }
    assert_eq!(t.stock(&store, &sku).await, 28, "stock reserved once");

    // Sent again later: the stored first answer, byte for byte the same order.
    let (status, again) = t.order(&s, Some("key-1"), &body).await;
    assert_eq!(status, 201);
    assert!(ids.contains(again["id"].as_str().unwrap()));

    // The same key with a different body is refused; no key at all is refused.
    let (status, err) = t.order_of(&s, "key-1", &store, &sku, 3).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "idempotency_key_reused");
    let (status, err) = t.order(&s, None, &body).await;
    assert_eq!(status, 400);
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));

    let (_, list) = t
        .call(Method::GET, "/v1/orders", Some(&s.token), None)
        .await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);

    // Keys are the user's own: another shopper may use the same key for their own order.
    let other = t.shopper(2, GUOMAO).await;
    let (status, theirs) = t.order_of(&other, "key-1", &store, &sku, 2).await;
    assert_eq!(status, 201);
    assert!(!ids.contains(theirs["id"].as_str().unwrap()));
}

#[tokio::test]
async fn unpaid_orders_expire_once_even_with_two_reapers_and_after_a_restart() {
    let t = spawn().await;
    let (store, sku, s) = stocked(&t, 10).await;
    let (status, first) = t.order_of(&s, "k", &store, &sku, 4).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(t.stock(&store, &sku).await, 6);

    let pool = t.platform.pool().clone();
    let now = t.platform.now_unix();
    // Not yet due.
    assert_eq!(
        jishi_platform::orders::expire_unpaid(&pool, now + 60)
            .await
            .unwrap()
            .len(),
        0
    );
    let later = now + 16 * 60;
    let (a, b) = tokio::join!(
        jishi_platform::orders::expire_unpaid(&pool, later),
        jishi_platform::orders::expire_unpaid(&pool, later)
    );
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1);
    assert_eq!(
        t.stock(&store, &sku).await,
        10,
        "stock returned exactly once"
    );

    // A second order is still unpaid when the platform stops; it lapses while it is down.
    let (status, second) = t.order_of(&s, "k2", &store, &sku, 3).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(t.stock(&store, &sku).await, 7);

    // Restarted on the same database file, 20 minutes on: its reaper runs at start and returns
    // the second order's stock, and nothing of the first one again.
    let t = t
        .restart(|c| c.clock = Clock::fixed_from_rfc3339(TWENTY_PAST).expect("instant"))
        .await;
    let second_id = second["id"].as_str().unwrap();
    support::eventually(
        Duration::from_secs(30),
        "the restarted reaper expires the order",
        || async { t.order_status(&s, second_id).await == "cancelled" },
    )
    .await;
    assert_eq!(
        t.stock(&store, &sku).await,
        10,
        "each order's stock back once"
    );
    // Reaping again, however late, finds nothing left to return.
    assert_eq!(
        jishi_platform::orders::expire_unpaid(t.platform.pool(), later + 3600)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(t.stock(&store, &sku).await, 10);

    let first_id = first["id"].as_str().unwrap();
    assert_eq!(t.order_status(&s, first_id).await, "cancelled");
    let (status, _) = t.try_pay(&s, first_id).await;
    assert_eq!(status, 409, "an expired order cannot be paid");
    // The stored answers survived the restart: the first key still replays its order.
    let (status, replay) = t.order_of(&s, "k", &store, &sku, 4).await;
    assert_eq!(status, 201);
    assert_eq!(replay["id"], first["id"]);
}

#[tokio::test]
async fn pay_then_cancel_refunds_and_returns_stock_once_and_other_users_see_nothing() {
    let t = spawn().await;
    let (store, sku, s) = stocked(&t, 5).await;
    let (_, order) = t.order_of(&s, "k", &store, &sku, 2).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(
        order["total_fen"],
        order["items_fen"].as_i64().unwrap() + order["delivery_fee_fen"].as_i64().unwrap()
    );

    let (status, paid) = t.try_pay(&s, id).await;
    assert_eq!(status, 200);
    assert_eq!(paid["status"], "paid");
    // The answer is the whole order, as placed.
    for field in [
        "id",
        "items",
        "items_fen",
        "delivery_fee_fen",
        "total_fen",
        "address_id",
        "eta_min",
    ] {
        assert_eq!(paid[field], order[field], "{field}");
    }
    assert_eq!(paid["items"][0]["sku"], sku.as_str());
    assert_eq!(paid["pay_before"], Value::Null);

    let intruder = t.shopper(2, GUOMAO).await;
    for (method, path) in [
        (Method::GET, format!("/v1/orders/{id}")),
        (Method::POST, format!("/v1/orders/{id}/cancel")),
    ] {
        let (status, body) = t.call(method, &path, Some(&intruder.token), None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Another user's address cannot be used either.
    let (status, _) = t
        .order(
            &intruder,
            Some("k2"),
            &order_body(&store, &sku, 1, &s.address_id),
        )
        .await;
    assert_eq!(status, 404);

    let (status, cancelled) = t.try_cancel(&s, id).await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "refunded");
    assert_eq!(t.stock(&store, &sku).await, 5);
    let (status, _) = t.try_cancel(&s, id).await;
    assert_eq!(status, 409);
    assert_eq!(
        t.stock(&store, &sku).await,
        5,
        "a second cancel returns nothing"
    );
}

#[tokio::test]
async fn bad_orders_are_refused_with_a_message_and_write_nothing() {
    let t = spawn().await;
    let (store, sku, s) = stocked(&t, 5).await;
    let far = t.shopper(2, (40.2, 116.9)).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            order_body(&store, &sku, 0, &s.address_id),
            400,
            "bad_request",
        ),
        (
            order_body(&store, &sku, -1, &s.address_id),
            400,
            "bad_request",
        ),
        (
            order_body(&store, &sku, 1000, &s.address_id),
            400,
            "bad_request",
        ),
        (
            order_body(&store, "P999999", 1, &s.address_id),
            400,
            "bad_request",
        ),
        (order_body(&store, &sku, 6, &s.address_id), 409, "sold_out"),
        (order_body("nope", &sku, 1, &s.address_id), 404, "not_found"),
        (
            json!({ "store_id": store, "items": [] , "address_id": s.address_id, "slot": "asap"}),
            400,
            "bad_request",
        ),
        (
            json!({ "store_id": store, "items": [{"sku": sku, "quantity": 1}], "address_id": s.address_id, "slot": "tomorrow-ish"}),
            400,
            "bad_request",
        ),
        // Delivery notes under the comments' rules: nothing hidden, one line, 100 characters.
        (
            with_note(&store, &sku, &s.address_id, "\u{200b}\u{200b}"),
            400,
            "bad_request",
        ),
        (
            with_note(&store, &sku, &s.address_id, "放门口 \u{202e}gnp.exe"),
            400,
            "bad_request",
        ),
        (
            with_note(&store, &sku, &s.address_id, "一\n二"),
            400,
            "bad_request",
        ),
        (
            with_note(&store, &sku, &s.address_id, &"好".repeat(101)),
            400,
            "bad_request",
        ),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let (got, err) = t.order(&s, Some(&format!("bad-{i}")), &body).await;
        assert_eq!(got, status, "case {i}: {err}");
        assert_eq!(err["error"]["code"], code, "case {i}");
        assert!(err["error"]["message"].as_str().unwrap().chars().count() > 3);
    }
    let (status, err) = t.order_of(&far, "far", &store, &sku, 1).await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["code"], "out_of_delivery_range");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("配送范围"));

    let res = t
        .http
        .post(format!("{}/v1/orders", t.root))
        .bearer_auth(&s.token)
        .header("idempotency-key", "malformed")
        .header("content-type", "application/json")
        .body("{\"store_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "bad_request");

    let (status, _) = t
        .order(
            &Shopper {
                token: "forged".into(),
                ..s.clone()
            },
            Some("x"),
            &order_body(&store, &sku, 1, &s.address_id),
        )
        .await;
    assert_eq!(status, 401);

    assert_eq!(t.stock(&store, &sku).await, 5, "nothing was reserved");
    let (_, list) = t
        .call(Method::GET, "/v1/orders", Some(&s.token), None)
        .await;
    assert!(list["orders"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_cart_follows_the_shopper_from_anonymous_to_signed_in() {
    let t = spawn().await;
    let (store, sku) = t.store_and_sku().await;
    t.set_stock(&store, &sku, 3).await;
    let anon = t.anonymous_session().await;
    let (status, cart) = t
        .call(
            Method::PUT,
            &format!("/v1/cart/{store}"),
            Some(&anon),
            Some(json!({ "items": [{ "sku": sku, "quantity": 7 }] })),
        )
        .await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["items"][0]["quantity"], 3, "lowered to the stock");

    // Sign in with the anonymous session: the cart comes along.
    let phone = "13900000077";
    let ask_for_code = || {
        let body = json!({ "phone": phone });
        t.call(Method::POST, "/v1/auth/sms-code", None, Some(body))
    };
    let (_, sent) = ask_for_code().await;
    let code = sent["demo_code"].as_str().unwrap();
    let (status, session) = t
        .call(
            Method::POST,
            "/v1/auth/login",
            Some(&anon),
            Some(json!({ "phone": phone, "code": code })),
        )
        .await;
    assert_eq!(status, 200);
    let user = session["token"].as_str().unwrap();
    let (_, carts) = t.call(Method::GET, "/v1/carts", Some(user), None).await;
    assert_eq!(carts["carts"][0]["items"][0]["sku"], sku.as_str());
    let (status, _) = t.call(Method::GET, "/v1/carts", Some(&anon), None).await;
    assert_eq!(status, 401, "the anonymous session ended with sign-in");

    // A used code does not work twice, and a second code within the minute is refused.
    let (status, _) = t
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({ "phone": phone, "code": code })),
        )
        .await;
    assert_eq!(status, 400);
    let (status, err) = ask_for_code().await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["error"]["code"], "too_many_requests");
}

#[tokio::test]
async fn what_was_ordered_leaves_the_cart_and_the_rest_stays() {
    let t = spawn().await;
    let (store, sku) = t.store_and_sku().await;
    let (_, products) = t
        .call(
            Method::GET,
            &format!("/v1/stores/{store}/products?limit=60"),
            None,
            None,
        )
        .await;
    let other = products["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap().to_owned())
        .find(|s| *s != sku)
        .expect("a second product");
    t.set_stock(&store, &sku, 10).await;
    t.set_stock(&store, &other, 10).await;
    let shopper = t.shopper(31, GUOMAO).await;
    let (status, _) = t
        .call(
            Method::PUT,
            &format!("/v1/cart/{store}"),
            Some(&shopper.token),
            Some(json!({ "items": [{ "sku": sku, "quantity": 2 }, { "sku": other, "quantity": 1 }] })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, order) = t.order_of(&shopper, "cart-1", &store, &sku, 2).await;
    assert_eq!(status, 201, "{order}");
    let cart = t.cart(&shopper, &store).await;
    let left: Vec<&str> = cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["sku"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec![other.as_str()]);

    // A refused order leaves the cart alone.
    t.set_stock(&store, &other, 0).await;
    let (status, _) = t.order_of(&shopper, "cart-2", &store, &other, 1).await;
    assert_eq!(status, 409);
    let cart = t.cart(&shopper, &store).await;
    assert_eq!(cart["items"][0]["sku"], other.as_str());
}

/// Reads SSE frames until the stream ends (within `PATIENCE`): (id, data) of those with an id.
async fn read_events(res: reqwest::Response) -> Vec<(u64, Value)> {
    Sse::new(res)
        .read_to_end(Instant::now() + PATIENCE)
        .await
        .into_iter()
        .filter_map(|f| Some((f.id?, f.json())))
        .collect()
}

#[tokio::test]
async fn a_paid_order_is_tracked_to_the_door_and_a_reconnect_resumes_without_gaps_or_repeats() {
    let t = spawn_with_step(Duration::from_millis(20)).await;
    let (store, sku, s) = stocked(&t, 5).await;
    let (_, order) = t.order_of(&s, "track", &store, &sku, 1).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, _) = t.try_pay(&s, &id).await;
    assert_eq!(status, 200);

    let res = t.order_events(&s, &id, None).await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = read_events(res).await;
    let seqs: Vec<u64> = events.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "consecutive ids from 1"
    );
    let statuses: Vec<&str> = events
        .iter()
        .map(|(_, e)| e["status"].as_str().unwrap())
        .collect();
    let mut expected = vec![
        "paid",
        "accepted",
        "picking",
        "ready",
        "rider_assigned",
        "picked_up",
    ];
    expected.extend(std::iter::repeat_n(
        "delivering",
        1 + jishi_platform::dispatch::RIDER_STEPS as usize,
    ));
    expected.push("delivered");
    assert_eq!(statuses, expected);
    // The rider gets closer to the door with every move, and ETA never grows.
    let distance_home = |e: &Value| {
        let (lat, lng) = (
            e["rider"]["lat"].as_f64().unwrap(),
            e["rider"]["lng"].as_f64().unwrap(),
        );
        ((lat - GUOMAO.0).powi(2) + (lng - GUOMAO.1).powi(2)).sqrt()
    };
    let riding: Vec<f64> = events
        .iter()
        .filter(|(_, e)| e["status"] == "delivering")
        .map(|(_, e)| distance_home(e))
        .collect();
    assert!(
        riding.windows(2).all(|w| w[1] < w[0] || w[1] == 0.0),
        "{riding:?}"
    );
    let etas: Vec<u64> = events
        .iter()
        .map(|(_, e)| e["eta_min"].as_u64().unwrap())
        .collect();
    assert!(etas.windows(2).all(|w| w[1] <= w[0]), "{etas:?}");
    assert_eq!(*etas.last().unwrap(), 0);

    // A reconnect after event 5 gets 6.. exactly.
    let res = t.order_events(&s, &id, Some("5")).await;
    let resumed: Vec<u64> = read_events(res).await.iter().map(|(id, _)| *id).collect();
    assert_eq!(resumed, (6..=seqs.len() as u64).collect::<Vec<_>>());

    // Too late to cancel, and nobody else can watch.
    let (status, _) = t.try_cancel(&s, &id).await;
    assert_eq!(status, 409);
    let other = t.shopper(2, GUOMAO).await;
    let res = t.order_events(&other, &id, None).await;
    assert_eq!(res.status().as_u16(), 404);
}

async fn pending_payment(t: &TestPlatform) -> i64 {
    t.count("SELECT COUNT(*) FROM orders WHERE status = 'pending_payment'")
        .await
}

#[tokio::test]
async fn a_fourth_unpaid_order_is_refused_until_one_is_paid_or_cancelled() {
    let t = spawn().await;
    let (store, sku, s) = stocked(&t, 20).await;
    let body = order_body(&store, &sku, 1, &s.address_id);
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, order) = t.order(&s, Some(&format!("u{n}")), &body).await;
        assert_eq!(status, 201, "{order}");
        ids.push(order["id"].as_str().unwrap().to_owned());
    }
    let (status, err) = t.order(&s, Some("u3"), &body).await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["error"]["code"], "too_many_unpaid");
    assert!(err["error"]["message"].as_str().unwrap().contains("待支付"));
    assert_eq!(
        t.stock(&store, &sku).await,
        17,
        "the refused order reserved nothing"
    );
    // A replay of a placed order's key still replays it.
    let (status, replay) = t.order(&s, Some("u0"), &body).await;
    assert_eq!(status, 201);
    assert_eq!(replay["id"], ids[0].as_str());
    // Another shopper is not held back.
    let other = t.shopper(2, GUOMAO).await;
    let (status, _) = t.order_of(&other, "u3", &store, &sku, 1).await;
    assert_eq!(status, 201);

    // Paying one frees a place: the refused request, sent again with its key, now goes through.
    let (status, _) = t.try_pay(&s, &ids[0]).await;
    assert_eq!(status, 200);
    let (status, fourth) = t.order(&s, Some("u3"), &body).await;
    assert_eq!(status, 201, "{fourth}");
    let (status, err) = t.order(&s, Some("u4"), &body).await;
    assert_eq!(status, 429, "{err}");
    // So does cancelling one.
    let (status, _) = t.try_cancel(&s, &ids[1]).await;
    assert_eq!(status, 200);
    let (status, fifth) = t.order(&s, Some("u4"), &body).await;
    assert_eq!(status, 201, "{fifth}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_orders_of_one_shopper_never_leave_more_than_three_unpaid() {
    let t = spawn().await;
    let (store, sku, s) = stocked(&t, 50).await;
    let body = order_body(&store, &sku, 1, &s.address_id);
    let results = join_all((0..20).map(|n| {
        let (t, s, body) = (&t, &s, &body);
        async move { t.order(s, Some(&format!("c{n}")), body).await }
    }))
    .await;
    let placed = results.iter().filter(|(status, _)| *status == 201).count();
    let capped = results
        .iter()
        .filter(|(status, b)| *status == 429 && b["error"]["code"] == "too_many_unpaid")
        .count();
    assert_eq!((placed, capped), (3, 17), "{results:?}");
    assert_eq!(pending_payment(&t).await, 3);
    assert_eq!(t.stock(&store, &sku).await, 47);
}

#[tokio::test]
async fn order_creation_is_rate_limited_per_shopper_and_per_client_address() {
    let hour = Duration::from_secs(3600);
    let t = TestPlatform::spawn_with(|c| {
        c.order_limits = OrderLimits {
            per_shopper: RateLimit::new(4, hour),
            per_client: RateLimit::new(6, hour),
        }
    })
    .await;
    let (store, sku) = t.store_and_sku().await;
    let (a, b) = (t.shopper(1, GUOMAO).await, t.shopper(2, GUOMAO).await);
    // Requests count whatever their outcome: these are refused (quantity 0) and write nothing.
    let bad = |s: &Shopper| order_body(&store, &sku, 0, &s.address_id);
    let office = Some("203.0.113.7");
    for n in 0..4 {
        let (status, err) = t
            .order_from(&a, Some(&format!("a{n}")), &bad(&a), office)
            .await;
        assert_eq!(status, 400, "{err}");
    }
    // The shopper's fifth in the hour is refused, from any address.
    let (status, err) = t
        .order_from(&a, Some("a4"), &bad(&a), Some("198.51.100.1"))
        .await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["error"]["code"], "too_many_requests");
    assert!(!err["error"]["message"].as_str().unwrap().is_empty());

    // The office address has two left, whoever orders from it.
    for n in 0..2 {
        let (status, _) = t
            .order_from(&b, Some(&format!("b{n}")), &bad(&b), office)
            .await;
        assert_eq!(status, 400);
    }
    let (status, err) = t.order_from(&b, Some("b2"), &bad(&b), office).await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["error"]["code"], "too_many_requests");
    // The same shopper elsewhere still has allowance of their own.
    let (status, placed) = t
        .order_from(
            &b,
            Some("b3"),
            &order_body(&store, &sku, 1, &b.address_id),
            Some("198.51.100.2"),
        )
        .await;
    assert_eq!(status, 201, "{placed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mass_expiry_goes_in_chunks_and_returns_all_stock_once() {
    use jishi_platform::orders::{expire_chunk, expire_unpaid, EXPIRY_CHUNK};
    let t = spawn().await;
    let (store, sku) = t.store_and_sku().await;
    t.set_stock(&store, &sku, 1000).await;
    let shoppers = join_all((0..150).map(|n| t.shopper(n, GUOMAO))).await;
    let results = join_all(shoppers.iter().map(|s| {
        let t = &t;
        let body = order_body(&store, &sku, 2, &s.address_id);
        async move {
            let mut statuses = Vec::new();
            for n in 0..3 {
                statuses.push(t.order(s, Some(&format!("m{n}")), &body).await.0);
            }
            statuses
        }
    }))
    .await;
    assert!(results.iter().flatten().all(|s| *s == 201), "{results:?}");
    let placed = 150 * 3;
    assert!(placed as i64 > 2 * EXPIRY_CHUNK);
    assert_eq!(t.stock(&store, &sku).await, 1000 - 2 * placed as i64);

    let later = t.platform.now_unix() + 16 * 60;
    let pool = t.platform.pool().clone();
    // One write transaction takes one chunk, no more.
    assert_eq!(
        expire_chunk(&pool, later).await.unwrap().len(),
        EXPIRY_CHUNK as usize
    );
    assert_eq!(pending_payment(&t).await, placed as i64 - EXPIRY_CHUNK);
    // The reaper goes on chunk by chunk until none are left, even with two of them at once.
    let (a, b) = tokio::join!(expire_unpaid(&pool, later), expire_unpaid(&pool, later));
    assert_eq!(
        a.unwrap().len() + b.unwrap().len(),
        placed as usize - EXPIRY_CHUNK as usize
    );
    assert_eq!(pending_payment(&t).await, 0);
    assert_eq!(t.stock(&store, &sku).await, 1000, "all stock back, once");
    assert!(expire_unpaid(&pool, later + 3600).await.unwrap().is_empty());
    assert_eq!(t.stock(&store, &sku).await, 1000);
}

/// A store's detail as the checkout page gets it (its slots among them).
async fn store_detail(t: &TestPlatform, store: &str) -> Value {
    let (status, detail) = t
        .call(Method::GET, &format!("/v1/stores/{store}"), None, None)
        .await;
    assert_eq!(status, 200, "{detail}");
    detail
}

#[tokio::test]
async fn a_scheduled_order_waits_in_paid_until_its_slot_start_minus_its_eta() {
    // The background dispatcher stays out of the way; the test steps dispatch itself.
    let t = spawn_with_step(Duration::from_secs(3600)).await;
    let (store, sku, s) = stocked(&t, 10).await;
    let detail = store_detail(&t, &store).await;
    // A slot at least two hours on, as the checkout page offers it.
    let now = t.platform.now_unix();
    let slot = detail["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_owned())
        .find(|start| unix(start) >= now + 2 * 3600)
        .expect("a slot two hours ahead");
    let mut scheduled_body = order_body(&store, &sku, 1, &s.address_id);
    scheduled_body["slot"] = json!(slot);
    let (status, scheduled) = t.order(&s, Some("later"), &scheduled_body).await;
    assert_eq!(status, 201, "{scheduled}");
    assert_eq!(scheduled["slot"], slot.as_str(), "the slot as sent");
    let (status, asap) = t.order_of(&s, "now", &store, &sku, 1).await;
    assert_eq!(status, 201, "{asap}");
    let (scheduled, asap) = (
        scheduled["id"].as_str().unwrap().to_owned(),
        asap["id"].as_str().unwrap().to_owned(),
    );
    for id in [&scheduled, &asap] {
        assert_eq!(t.try_pay(&s, id).await.0, 200);
    }

    let eta_min = t
        .call(
            Method::GET,
            &format!("/v1/orders/{scheduled}"),
            Some(&s.token),
            None,
        )
        .await
        .1["eta_min"]
        .as_i64()
        .unwrap();
    let leave_at = unix(&slot) - eta_min * 60;
    let tick =
        |at: i64| jishi_platform::dispatch::tick(t.platform.writer(), t.platform.index(), 0, at);
    for step in 0..3 {
        tick(now + step * 60).await.expect("tick");
    }
    assert_eq!(
        t.order_status(&s, &asap).await,
        "ready",
        "ASAP moves at once"
    );
    assert_eq!(t.order_status(&s, &scheduled).await, "paid");
    tick(leave_at - 60).await.expect("tick");
    assert_eq!(t.order_status(&s, &scheduled).await, "paid", "not yet");
    tick(leave_at).await.expect("tick");
    assert_eq!(
        t.order_status(&s, &scheduled).await,
        "accepted",
        "on its way to the slot"
    );
    tick(leave_at + 60).await.expect("tick");
    assert_eq!(t.order_status(&s, &scheduled).await, "picking");
}

/// A store delivering to GUOMAO with no minimum order whose detail satisfies `pick`, and one of
/// its SKUs with stock.
async fn store_where(t: &TestPlatform, pick: impl Fn(&Value) -> bool) -> (String, String, Value) {
    for s in support::nearby(&t.http, &t.root, GUOMAO, "&limit=100").await {
        if s["min_order_fen"] != 0 {
            continue;
        }
        let id = s["id"].as_str().unwrap().to_owned();
        let detail = store_detail(t, &id).await;
        if !pick(&detail) {
            continue;
        }
        let sku = t.first_sku(&id).await;
        t.set_stock(&id, &sku, 10).await;
        return (id, sku, detail);
    }
    panic!("no store near Guomao fits");
}

/// Ordering `slot` at `store` is refused with 400.
async fn assert_slot_refused(t: &TestPlatform, s: &Shopper, store: &str, sku: &str, slot: &str) {
    let mut body = order_body(store, sku, 1, &s.address_id);
    body["slot"] = json!(slot);
    let (status, err) = t.order(s, Some(&format!("{store}-{slot}")), &body).await;
    assert_eq!(status, 400, "{slot}: {err}");
    assert_eq!(err["error"]["code"], "bad_request", "{slot}");
}

#[tokio::test]
async fn only_the_slots_on_offer_can_be_booked() {
    // 12:20 in Beijing: the first slot on offer starts at 13:00.
    let t = TestPlatform::spawn_with(|c| {
        c.clock = Clock::fixed_from_rfc3339(TWENTY_PAST).expect("instant")
    })
    .await;
    let s = t.shopper(1, GUOMAO).await;
    let (all_day, sku, detail) = store_where(&t, |d| d["is_24h"] == true).await;
    assert_eq!(detail["slots"][0]["start"], "2026-11-25T05:00:00Z");
    // Ten minutes ahead: on the half hour, but sooner than the first slot offered.
    assert_slot_refused(&t, &s, &all_day, &sku, "2026-11-25T12:30:00+08:00").await;
    // The day after tomorrow, though within 48 hours and within hours.
    assert_slot_refused(&t, &s, &all_day, &sku, "2026-11-27T09:00:00+08:00").await;
    assert_slot_refused(&t, &s, &all_day, &sku, "2026-11-27T00:00:00+08:00").await;
    // The first and the last slot on offer are fine.
    for slot in ["2026-11-25T13:00:00+08:00", "2026-11-26T23:30:00+08:00"] {
        let mut body = order_body(&all_day, &sku, 1, &s.address_id);
        body["slot"] = json!(slot);
        let (status, order) = t.order(&s, Some(slot), &body).await;
        assert_eq!(status, 201, "{slot}: {order}");
        assert_eq!(
            order["slot"],
            json!(jishi_api::orders::Slot::parse(slot).unwrap())
        );
    }

    // Outside a store's hours: a half hour through tomorrow that the store does not offer.
    let (part_time, sku, detail) = store_where(&t, |d| d["is_24h"] == false).await;
    let offered: HashSet<i64> = detail["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| unix(s["start"].as_str().unwrap()))
        .collect();
    let closed = (0..)
        .map(|i| unix("2026-11-25T13:00:00+08:00") + i * 1800)
        .take_while(|t| *t < unix("2026-11-27T00:00:00+08:00"))
        .find(|t| !offered.contains(t))
        .expect("a closed half hour");
    assert_slot_refused(
        &t,
        &s,
        &part_time,
        &sku,
        &jishi_api::orders::Slot::At(closed).to_string(),
    )
    .await;
    assert_eq!(t.stock(&part_time, &sku).await, 10, "nothing reserved");
}
