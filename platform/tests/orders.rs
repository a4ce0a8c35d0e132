//! Orders against the real platform over loopback HTTP: never oversold, placed exactly once,
//! expired exactly once, and nobody else's.

use std::collections::HashSet;

use futures::future::join_all;
use jishi_platform::{Clock, Platform, PlatformConfig, Seed, DEMO_SEED};
use serde_json::{json, Value};

mod support;

const GUOMAO: (f64, f64) = (39.9088, 116.4605);

struct TestPlatform {
    base: String,
    platform: Platform,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn spawn() -> TestPlatform {
    spawn_with_step(jishi_platform::DEMO_DISPATCH_STEP).await
}

async fn spawn_with_step(dispatch_step: std::time::Duration) -> TestPlatform {
    let dir = tempfile::tempdir().expect("temp dir");
    let platform = Platform::open(PlatformConfig {
        database_url: format!("sqlite://{}", dir.path().join("orders.db").display()),
        seed: Seed::Beijing { seed: DEMO_SEED },
        clock: Clock::fixed_from_rfc3339("2026-11-25T12:00:00+08:00").expect("instant"),
        demo: true,
        dispatch_step,
    })
    .await
    .expect("platform opens");
    let addr = platform.clone().spawn_on_loopback().await.expect("binds");
    TestPlatform {
        base: format!("http://{addr}/v1"),
        platform,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

struct Shopper {
    token: String,
    address_id: String,
}

impl TestPlatform {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Signs a new shopper in through the SMS flow and saves an address at `at`.
    async fn shopper(&self, n: u32, at: (f64, f64)) -> Shopper {
        let root = self.base.trim_end_matches("/v1");
        let (phone, ip) = (
            format!("139{n:08}"),
            format!("10.0.{}.{}", n / 250, n % 250),
        );
        let (token, address_id) = support::sign_in(&self.http, root, &phone, &ip, at).await;
        Shopper { token, address_id }
    }

    /// A store delivering to GUOMAO with no minimum order, and one of its SKUs.
    async fn store_and_sku(&self) -> (String, String) {
        let root = self.base.trim_end_matches("/v1");
        let store = support::open_store_without_minimum(&self.http, root, GUOMAO).await;
        let (_, products) = self
            .call(
                reqwest::Method::GET,
                &format!("/stores/{store}/products?limit=1"),
                None,
                None,
            )
            .await;
        let sku = products["products"][0]["sku"]
            .as_str()
            .expect("sku")
            .to_owned();
        (store, sku)
    }

    async fn set_stock(&self, store: &str, sku: &str, stock: i64) {
        sqlx::query("UPDATE store_products SET stock = ? WHERE store_id = ? AND sku = ?")
            .bind(stock)
            .bind(store)
            .bind(sku)
            .execute(self.platform.pool())
            .await
            .expect("stock set");
    }

    async fn stock(&self, store: &str, sku: &str) -> i64 {
        sqlx::query_scalar("SELECT stock FROM store_products WHERE store_id = ? AND sku = ?")
            .bind(store)
            .bind(sku)
            .fetch_one(self.platform.pool())
            .await
            .expect("stock")
    }

    async fn pay(&self, shopper: &Shopper, id: &str) -> (u16, Value) {
        let path = format!("/orders/{id}/pay");
        let body = json!({ "method": "sandbox" });
        self.call(
            reqwest::Method::POST,
            &path,
            Some(&shopper.token),
            Some(body),
        )
        .await
    }

    async fn cart(&self, shopper: &Shopper, store: &str) -> Value {
        let path = format!("/cart/{store}");
        let (status, cart) = self
            .call(reqwest::Method::GET, &path, Some(&shopper.token), None)
            .await;
        assert_eq!(status, 200, "{cart}");
        cart
    }

    async fn order(&self, shopper: &Shopper, key: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/orders", self.base))
            .bearer_auth(&shopper.token)
            .json(body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let res = req.send().await.expect("order request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

fn order_body(store: &str, sku: &str, quantity: i64, address_id: &str) -> Value {
    json!({ "store_id": store, "items": [{ "sku": sku, "quantity": quantity }], "address_id": address_id, "slot": "asap" })
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
        let created: Vec<&Value> = results
            .iter()
            .filter(|(s, _)| *s == 201)
            .map(|(_, b)| b)
            .collect();
        let sold_out = results
            .iter()
            .filter(|(s, b)| *s == 409 && b["error"]["code"] == "sold_out")
            .count();
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
    }
}

#[tokio::test]
async fn one_idempotency_key_makes_one_order_however_often_it_is_sent() {
    let t = spawn().await;
    let (store, sku) = t.store_and_sku().await;
    t.set_stock(&store, &sku, 30).await;
    let s = t.shopper(1, GUOMAO).await;
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
    let (status, err) = t
        .order(
            &s,
            Some("key-1"),
            &order_body(&store, &sku, 3, &s.address_id),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "idempotency_key_reused");
    let (status, err) = t.order(&s, None, &body).await;
    assert_eq!(status, 400);
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));

    let (_, list) = t
        .call(reqwest::Method::GET, "/orders", Some(&s.token), None)
        .await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);

    // Keys are the user's own: another shopper may use the same key for their own order.
    let other = t.shopper(2, GUOMAO).await;
    let (status, theirs) = t
        .order(
            &other,
            Some("key-1"),
            &order_body(&store, &sku, 2, &other.address_id),
        )
        .await;
    assert_eq!(status, 201);
    assert!(!ids.contains(theirs["id"].as_str().unwrap()));
}

#[tokio::test]
async fn unpaid_orders_expire_once_even_with_two_reapers_and_after_a_restart() {
    let t = spawn().await;
    let (store, sku) = t.store_and_sku().await;
    t.set_stock(&store, &sku, 10).await;
    let s = t.shopper(1, GUOMAO).await;
    let (status, order) = t
        .order(&s, Some("k"), &order_body(&store, &sku, 4, &s.address_id))
        .await;
    assert_eq!(status, 201, "{order}");
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
    // A platform opened afresh on the same database finds nothing left to return.
    assert_eq!(
        jishi_platform::orders::expire_unpaid(&pool, later + 3600)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(t.stock(&store, &sku).await, 10);

    let id = order["id"].as_str().unwrap();
    let (_, after) = t
        .call(
            reqwest::Method::GET,
            &format!("/orders/{id}"),
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(after["status"], "cancelled");
    let (status, _) = t.pay(&s, id).await;
    assert_eq!(status, 409, "an expired order cannot be paid");
}

#[tokio::test]
async fn pay_then_cancel_refunds_and_returns_stock_once_and_other_users_see_nothing() {
    let t = spawn().await;
    let (store, sku) = t.store_and_sku().await;
    t.set_stock(&store, &sku, 5).await;
    let s = t.shopper(1, GUOMAO).await;
    let (_, order) = t
        .order(&s, Some("k"), &order_body(&store, &sku, 2, &s.address_id))
        .await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(
        order["total_fen"],
        order["items_fen"].as_i64().unwrap() + order["delivery_fee_fen"].as_i64().unwrap()
    );

    let (status, paid) = t.pay(&s, id).await;
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
        (reqwest::Method::GET, format!("/orders/{id}")),
        (reqwest::Method::POST, format!("/orders/{id}/cancel")),
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

    let (status, cancelled) = t
        .call(
            reqwest::Method::POST,
            &format!("/orders/{id}/cancel"),
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "refunded");
    assert_eq!(t.stock(&store, &sku).await, 5);
    let (status, _) = t
        .call(
            reqwest::Method::POST,
            &format!("/orders/{id}/cancel"),
            Some(&s.token),
            None,
        )
        .await;
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
    let (store, sku) = t.store_and_sku().await;
    t.set_stock(&store, &sku, 5).await;
    let s = t.shopper(1, GUOMAO).await;
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
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let (got, err) = t.order(&s, Some(&format!("bad-{i}")), &body).await;
        assert_eq!(got, status, "case {i}: {err}");
        assert_eq!(err["error"]["code"], code, "case {i}");
        assert!(err["error"]["message"].as_str().unwrap().chars().count() > 3);
    }
    let (status, err) = t
        .order(
            &far,
            Some("far"),
            &order_body(&store, &sku, 1, &far.address_id),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["code"], "out_of_delivery_range");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("配送范围"));

    let res = t
        .http
        .post(format!("{}/orders", t.base))
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
                address_id: s.address_id.clone(),
            },
            Some("x"),
            &order_body(&store, &sku, 1, &s.address_id),
        )
        .await;
    assert_eq!(status, 401);

    assert_eq!(t.stock(&store, &sku).await, 5, "nothing was reserved");
    let (_, list) = t
        .call(reqwest::Method::GET, "/orders", Some(&s.token), None)
        .await;
    assert!(list["orders"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_cart_follows_the_shopper_from_anonymous_to_signed_in() {
    let t = spawn().await;
    let (store, sku) = t.store_and_sku().await;
    t.set_stock(&store, &sku, 3).await;
    let (status, anon) = t.call(reqwest::Method::POST, "/sessions", None, None).await;
    assert_eq!(status, 201);
    let anon = anon["token"].as_str().unwrap().to_owned();
    let (status, cart) = t
        .call(
            reqwest::Method::PUT,
            &format!("/cart/{store}"),
            Some(&anon),
            Some(json!({ "items": [{ "sku": sku, "quantity": 7 }] })),
        )
        .await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["items"][0]["quantity"], 3, "lowered to the stock");

    // Sign in with the anonymous session: the cart comes along.
    let phone = "13900000077";
    let (_, sent) = t
        .call(
            reqwest::Method::POST,
            "/auth/sms-code",
            None,
            Some(json!({ "phone": phone })),
        )
        .await;
    let code = sent["demo_code"].as_str().unwrap();
    let (status, session) = t
        .call(
            reqwest::Method::POST,
            "/auth/login",
            Some(&anon),
            Some(json!({ "phone": phone, "code": code })),
        )
        .await;
    assert_eq!(status, 200);
    let user = session["token"].as_str().unwrap();
    let (_, carts) = t
        .call(reqwest::Method::GET, "/carts", Some(user), None)
        .await;
    assert_eq!(carts["carts"][0]["items"][0]["sku"], sku.as_str());
    let (status, _) = t
        .call(reqwest::Method::GET, "/carts", Some(&anon), None)
        .await;
    assert_eq!(status, 401, "the anonymous session ended with sign-in");

    // A used code does not work twice, and a second code within the minute is refused.
    let (status, _) = t
        .call(
            reqwest::Method::POST,
            "/auth/login",
            None,
            Some(json!({ "phone": phone, "code": code })),
        )
        .await;
    assert_eq!(status, 400);
    let (status, err) = t
        .call(
            reqwest::Method::POST,
            "/auth/sms-code",
            None,
            Some(json!({ "phone": phone })),
        )
        .await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["error"]["code"], "too_many_requests");
}

#[tokio::test]
async fn what_was_ordered_leaves_the_cart_and_the_rest_stays() {
    let t = spawn().await;
    let (store, sku) = t.store_and_sku().await;
    let (_, products) = t
        .call(
            reqwest::Method::GET,
            &format!("/stores/{store}/products?limit=60"),
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
            reqwest::Method::PUT,
            &format!("/cart/{store}"),
            Some(&shopper.token),
            Some(json!({ "items": [{ "sku": sku, "quantity": 2 }, { "sku": other, "quantity": 1 }] })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, order) = t
        .order(
            &shopper,
            Some("cart-1"),
            &order_body(&store, &sku, 2, &shopper.address_id),
        )
        .await;
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
    let (status, _) = t
        .order(
            &shopper,
            Some("cart-2"),
            &order_body(&store, &other, 1, &shopper.address_id),
        )
        .await;
    assert_eq!(status, 409);
    let cart = t.cart(&shopper, &store).await;
    assert_eq!(cart["items"][0]["sku"], other.as_str());
}

/// Reads SSE frames until the stream ends: (id, data) pairs.
async fn read_events(res: reqwest::Response) -> Vec<(u64, Value)> {
    use futures::StreamExt;
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let id = frame
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .map(|v| v.parse().expect("numeric id"));
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(id), Some(data)) = (id, data) {
                out.push((id, serde_json::from_str(data).expect("json event")));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_paid_order_is_tracked_to_the_door_and_a_reconnect_resumes_without_gaps_or_repeats() {
    let t = spawn_with_step(std::time::Duration::from_millis(20)).await;
    let (store, sku) = t.store_and_sku().await;
    t.set_stock(&store, &sku, 5).await;
    let s = t.shopper(1, GUOMAO).await;
    let (_, order) = t
        .order(
            &s,
            Some("track"),
            &order_body(&store, &sku, 1, &s.address_id),
        )
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, _) = t.pay(&s, &id).await;
    assert_eq!(status, 200);

    let res = t
        .http
        .get(format!("{}/orders/{id}/events", t.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
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
    let res = t
        .http
        .get(format!("{}/orders/{id}/events", t.base))
        .bearer_auth(&s.token)
        .header("last-event-id", "5")
        .send()
        .await
        .unwrap();
    let resumed: Vec<u64> = read_events(res).await.iter().map(|(id, _)| *id).collect();
    assert_eq!(resumed, (6..=seqs.len() as u64).collect::<Vec<_>>());

    // Too late to cancel, and nobody else can watch.
    let (status, _) = t
        .call(
            reqwest::Method::POST,
            &format!("/orders/{id}/cancel"),
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(status, 409);
    let other = t.shopper(2, GUOMAO).await;
    let res = t
        .http
        .get(format!("{}/orders/{id}/events", t.base))
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}
