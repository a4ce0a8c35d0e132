//! When the shelf is short (缺货), and reorder (再来一单), against the real platform over loopback:
//! each of the shopper's three choices, the money exact, the refusals writing nothing.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

use support::{Shopper, TestPlatform, GUOMAO};

/// The dispatch simulator's own ticks stay out of the way: the tests step orders themselves.
async fn spawn() -> TestPlatform {
    TestPlatform::spawn_with(|c| c.dispatch_step = Duration::from_secs(3600)).await
}

/// Two SKUs of a store delivering to GUOMAO with no minimum order: an expensive one with a
/// cheaper one in the same aisle (so it has a substitute), and another from elsewhere.
async fn two_skus(t: &TestPlatform) -> (String, String, String) {
    let store = t.open_store().await;
    let pick = |sql: &'static str| {
        let store = store.clone();
        async move {
            sqlx::query_scalar::<_, String>(sql)
                .bind(&store)
                .fetch_one(t.platform.pool())
                .await
                .expect(sql)
        }
    };
    let dear = pick(
        "SELECT sp.sku FROM store_products sp JOIN products p ON p.sku = sp.sku
         WHERE sp.store_id = ?1 AND EXISTS (SELECT 1 FROM store_products sp2
             JOIN products p2 ON p2.sku = sp2.sku
             WHERE sp2.store_id = ?1 AND p2.aisle = p.aisle AND sp2.sku <> sp.sku
               AND sp2.price_fen < sp.price_fen)
         ORDER BY sp.price_fen DESC, sp.sku LIMIT 1",
    )
    .await;
    let other = sqlx::query_scalar::<_, String>(
        "SELECT sku FROM store_products WHERE store_id = ? AND sku <> ? ORDER BY sku LIMIT 1",
    )
    .bind(&store)
    .bind(&dear)
    .fetch_one(t.platform.pool())
    .await
    .expect("another sku");
    for sku in [&dear, &other] {
        t.set_stock(&store, sku, 50).await;
    }
    // Every other product of the aisle in stock, so substitutes are there to offer.
    sqlx::query("UPDATE store_products SET stock = 50 WHERE store_id = ?")
        .bind(&store)
        .execute(t.platform.pool())
        .await
        .expect("stock");
    (store, dear, other)
}

impl TestPlatform {
    /// `s` orders 3 of `a` and 1 of `b` with `shortage`, plans `missing` of `a` short, pays:
    /// the paid order.
    async fn short_order(
        &self,
        s: &Shopper,
        store: &str,
        (a, b): (&str, &str),
        shortage: &str,
        missing: u32,
    ) -> Value {
        let (status, order) = self
            .request(Method::POST, "/v1/orders")
            .by(s)
            .key(format!("{a}-{shortage}-{missing}").as_str())
            .json(json!({
                "store_id": store,
                "items": [{ "sku": a, "quantity": 3 }, { "sku": b, "quantity": 1 }],
                "address_id": s.address_id, "slot": "asap", "shortage": shortage,
            }))
            .send()
            .await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["shortage"], shortage);
        let id = order["id"].as_str().unwrap();
        let (status, planned) = self.plan_short(s, id, a, missing).await;
        assert_eq!(status, 200, "{planned}");
        self.pay(s, id).await
    }

    async fn plan_short(&self, s: &Shopper, id: &str, sku: &str, missing: u32) -> (u16, Value) {
        self.request(Method::POST, &format!("/v1/demo/orders/{id}/short"))
            .by(s)
            .json(json!({ "sku": sku, "missing": missing }))
            .send()
            .await
    }

    /// Three dispatch steps: paid → accepted → picking → out of picking.
    async fn pick(&self) {
        let now = self.platform.now_unix();
        for step in 0..3 {
            jishi_platform::dispatch::tick(
                self.platform.writer(),
                self.platform.index(),
                0,
                now + step,
            )
            .await
            .expect("tick");
        }
    }

    async fn read(&self, s: &Shopper, id: &str) -> Value {
        self.read_order(s, id).await
    }

    async fn answer(
        &self,
        s: &Shopper,
        id: &str,
        for_sku: &str,
        sku: Option<&str>,
    ) -> (u16, Value) {
        self.request(Method::POST, &format!("/v1/orders/{id}/shortage"))
            .by(s)
            .json(json!({ "for_sku": for_sku, "sku": sku }))
            .send()
            .await
    }

    /// The order's last event as its log stored it.
    async fn last_event(&self, id: &str) -> Value {
        let json: String = sqlx::query_scalar(
            "SELECT json FROM event_log WHERE log = 'order' AND key = ? ORDER BY seq DESC LIMIT 1",
        )
        .bind(id)
        .fetch_one(self.platform.pool())
        .await
        .expect("event");
        serde_json::from_str(&json).expect("event json")
    }
}

fn line<'a>(order: &'a Value, sku: &str) -> &'a Value {
    order["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sku"] == sku)
        .unwrap_or_else(|| panic!("no line {sku} in {order}"))
}

fn fen(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not fen: {v}"))
}

/// The refunds never pass what was paid, per line and in all, and add up to `refunded_fen`.
fn money_is_exact(order: &Value) {
    let refunds = order["refunds"].as_array().unwrap();
    let sum: i64 = refunds.iter().map(|r| fen(&r["fen"])).sum();
    assert_eq!(sum, fen(&order["refunded_fen"]), "{order}");
    assert!(sum <= fen(&order["total_fen"]), "{order}");
    for l in order["items"].as_array().unwrap() {
        let paid = fen(&l["price_fen"]) * fen(&l["quantity"]);
        let back: i64 = refunds
            .iter()
            .filter(|r| r["sku"] == l["sku"])
            .map(|r| fen(&r["fen"]))
            .sum();
        assert!(
            back <= paid,
            "{} refunded {back} of {paid}: {order}",
            l["sku"]
        );
    }
}

#[tokio::test]
async fn ship_the_rest_refunds_the_short_units_live_and_keeps_them_off_the_shelf() {
    let t = spawn().await;
    let (store, a, b) = two_skus(&t).await;
    let s = t.shopper(1, GUOMAO).await;
    let order = t.short_order(&s, &store, (&a, &b), "ship_rest", 2).await;
    let id = order["id"].as_str().unwrap();
    t.pick().await;
    let order = t.read(&s, id).await;
    assert_eq!(order["status"], "ready", "{order}");
    let price = fen(&line(&order, &a)["price_fen"]);
    assert_eq!(line(&order, &a)["short"], 2);
    assert_eq!(
        order["short"],
        json!([{ "sku": a, "name": line(&order, &a)["name"], "missing": 2, "outcome": { "kind": "refunded" } }])
    );
    let refunds = order["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{order}");
    assert_eq!(refunds[0]["reason"], "short");
    assert_eq!(refunds[0]["sku"], a.as_str());
    assert_eq!(fen(&refunds[0]["fen"]), 2 * price);
    money_is_exact(&order);
    // The page learns it from the step's event, without a reload.
    let event = t.last_event(id).await;
    assert_eq!(event["status"], "ready");
    assert_eq!(event["change"]["refunded_fen"], 2 * price, "{event}");
    // The two missing units were never on the shelf: a cancel returns only the one picked.
    assert_eq!(t.stock(&store, &a).await, 47);
    t.cancel(&s, id).await;
    assert_eq!(t.stock(&store, &a).await, 48);
    let cancelled = t.read(&s, id).await;
    assert_eq!(cancelled["status"], "refunded");
    assert_eq!(
        cancelled["refunded_fen"], cancelled["total_fen"],
        "{cancelled}"
    );
    let reasons: Vec<&Value> = cancelled["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["reason"])
        .collect();
    assert_eq!(reasons.len(), 2, "{cancelled}");
    assert!(reasons.contains(&&json!("cancelled")), "{cancelled}");
    money_is_exact(&cancelled);
}

#[tokio::test]
async fn with_nothing_left_to_deliver_the_delivery_fee_is_refunded_too() {
    let t = spawn().await;
    let (store, a, _) = two_skus(&t).await;
    let s = t.shopper(2, GUOMAO).await;
    let (status, order) = t
        .request(Method::POST, "/v1/orders")
        .by(&s)
        .key("all-short")
        .json(
            json!({ "store_id": store, "items": [{ "sku": a, "quantity": 1 }],
                      "address_id": s.address_id, "slot": "asap" }),
        )
        .send()
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["shortage"], "ship_rest", "the default");
    let id = order["id"].as_str().unwrap();
    assert_eq!(t.plan_short(&s, id, &a, 1).await.0, 200);
    t.pay(&s, id).await;
    t.pick().await;
    let order = t.read(&s, id).await;
    assert_eq!(order["status"], "refunded", "{order}");
    assert_eq!(order["refunded_fen"], order["total_fen"]);
    let reasons: Vec<&str> = order["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    let fee = fen(&order["delivery_fee_fen"]);
    if fee > 0 {
        assert_eq!(reasons, ["short", "delivery_fee"], "{order}");
    } else {
        assert_eq!(reasons, ["short"], "{order}");
    }
    money_is_exact(&order);
}

#[tokio::test]
async fn cancel_all_refunds_the_whole_order_and_puts_the_rest_back() {
    let t = spawn().await;
    let (store, a, b) = two_skus(&t).await;
    let s = t.shopper(3, GUOMAO).await;
    let order = t.short_order(&s, &store, (&a, &b), "cancel_all", 1).await;
    let id = order["id"].as_str().unwrap();
    t.pick().await;
    let order = t.read(&s, id).await;
    assert_eq!(order["status"], "refunded", "{order}");
    assert_eq!(order["refunded_fen"], order["total_fen"]);
    assert_eq!(order["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(order["refunds"][0]["reason"], "cancelled");
    money_is_exact(&order);
    // Two of the three came back to the shelf (one was never there), and all of the other.
    assert_eq!(t.stock(&store, &a).await, 49);
    assert_eq!(t.stock(&store, &b).await, 50);
    let event = t.last_event(id).await;
    assert_eq!(event["status"], "refunded");
    assert_eq!(event["change"]["refunded_fen"], order["total_fen"]);
}

#[tokio::test]
async fn ask_me_offers_substitutes_and_takes_the_shoppers_answer() {
    let t = spawn().await;
    let (store, a, b) = two_skus(&t).await;
    let s = t.shopper(4, GUOMAO).await;
    let order = t.short_order(&s, &store, (&a, &b), "ask_me", 2).await;
    let id = order["id"].as_str().unwrap();
    t.pick().await;
    let order = t.read(&s, id).await;
    assert_eq!(order["status"], "awaiting_shopper", "{order}");
    assert!(order["answer_before"].is_string());
    assert_eq!(order["short"][0]["missing"], 2);
    assert!(order["short"][0].get("outcome").is_none());
    let price = fen(&line(&order, &a)["price_fen"]);
    let offers = order["substitutes"].as_array().unwrap().clone();
    assert!((1..=3).contains(&offers.len()), "{order}");
    for offer in &offers {
        assert_eq!(offer["for_sku"], a.as_str());
        assert!(fen(&offer["price_fen"]) <= price);
        assert_ne!(offer["sku"], a.as_str());
        assert_ne!(offer["sku"], b.as_str());
    }
    // The event carried the offers to the page.
    let event = t.last_event(id).await;
    assert_eq!(event["status"], "awaiting_shopper");
    assert_eq!(event["change"]["substitutes"], json!(offers));

    // Refusals write nothing: not offered, not short, someone else, not yours to answer.
    let not_offered = t.answer(&s, id, &a, Some(&b)).await;
    assert_eq!(not_offered.0, 400, "{}", not_offered.1);
    let not_short = t.answer(&s, id, &b, None).await;
    assert_eq!(not_short.0, 400, "{}", not_short.1);
    let other = t.shopper(5, GUOMAO).await;
    let stranger = t.answer(&other, id, &a, None).await;
    assert_eq!(stranger.0, 404, "{}", stranger.1);
    assert_eq!(
        without_now(t.read(&s, id).await),
        without_now(order.clone())
    );

    let take = &offers[0];
    let sub = take["sku"].as_str().unwrap();
    let before = t.stock(&store, sub).await;
    let (status, taken) = t.answer(&s, id, &a, Some(sub)).await;
    assert_eq!(status, 200, "{taken}");
    assert_eq!(
        taken["status"], "ready",
        "every short line answered: on its way"
    );
    assert_eq!(
        t.stock(&store, sub).await,
        before - 2,
        "the substitute is reserved"
    );
    let sub_line = line(&taken, sub);
    assert_eq!(sub_line["substitute_for"], a.as_str());
    assert_eq!(sub_line["quantity"], 2);
    let difference = (price - fen(&take["price_fen"])) * 2;
    assert_eq!(fen(&taken["refunded_fen"]), difference, "{taken}");
    if difference > 0 {
        assert_eq!(taken["refunds"][0]["reason"], "substituted");
    }
    assert_eq!(
        taken["short"][0]["outcome"],
        json!({ "kind": "substituted", "sku": sub })
    );
    assert!(
        taken.get("substitutes").is_none(),
        "no offers left: {taken}"
    );
    money_is_exact(&taken);
    // Answering again is refused and changes nothing.
    let again = t.answer(&s, id, &a, None).await;
    assert_eq!(again.0, 409, "{}", again.1);
    assert_eq!(t.read(&s, id).await["refunded_fen"], taken["refunded_fen"]);
}

/// The order as read, without the platform's clock (the one field that differs between reads).
fn without_now(mut order: Value) -> Value {
    order.as_object_mut().unwrap().remove("now");
    order
}

#[tokio::test]
async fn an_unanswered_shortage_ships_the_rest_after_five_minutes() {
    let t = spawn().await;
    let (store, a, b) = two_skus(&t).await;
    let s = t.shopper(6, GUOMAO).await;
    let order = t.short_order(&s, &store, (&a, &b), "ask_me", 1).await;
    let id = order["id"].as_str().unwrap();
    t.pick().await;
    assert_eq!(t.read(&s, id).await["status"], "awaiting_shopper");
    let tick = |at| jishi_platform::dispatch::tick(t.platform.writer(), t.platform.index(), 0, at);
    let now = t.platform.now_unix();
    tick(now + 60).await.expect("tick");
    assert_eq!(
        t.read(&s, id).await["status"],
        "awaiting_shopper",
        "still in time"
    );
    tick(now + 5 * 60 + 5).await.expect("tick");
    let order = t.read(&s, id).await;
    assert_eq!(order["status"], "ready", "{order}");
    assert_eq!(order["refunds"][0]["reason"], "short");
    assert_eq!(
        fen(&order["refunded_fen"]),
        fen(&line(&order, &a)["price_fen"])
    );
    money_is_exact(&order);
}

#[tokio::test]
async fn the_demo_shortage_route_is_the_owners_before_picking_and_demo_only() {
    let t = spawn().await;
    let (store, a, b) = two_skus(&t).await;
    let s = t.shopper(7, GUOMAO).await;
    let order = t.short_order(&s, &store, (&a, &b), "ship_rest", 1).await;
    let id = order["id"].as_str().unwrap();
    let other = t.shopper(8, GUOMAO).await;
    assert_eq!(t.plan_short(&other, id, &a, 1).await.0, 404);
    assert_eq!(
        t.plan_short(&s, id, &a, 4).await.0,
        400,
        "more than ordered"
    );
    assert_eq!(t.plan_short(&s, id, &a, 0).await.0, 400);
    assert_eq!(t.plan_short(&s, id, "nope", 1).await.0, 400);
    t.pick().await;
    assert_eq!(t.plan_short(&s, id, &b, 1).await.0, 409, "picked already");

    // Outside demo mode the route does not exist, whoever asks.
    let real = TestPlatform::spawn_with(|c| c.demo = false).await;
    let token = real.anonymous_session().await;
    let (status, body) = real
        .call(
            Method::POST,
            &format!("/v1/demo/orders/{id}/short"),
            Some(&token),
            Some(json!({ "sku": a, "missing": 1 })),
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn reorder_fills_the_cart_at_todays_prices_and_names_what_changed() {
    let t = spawn().await;
    let (store, a, b) = two_skus(&t).await;
    let s = t.shopper(9, GUOMAO).await;
    let (status, order) = t
        .request(Method::POST, "/v1/orders")
        .by(&s)
        .key("to-reorder")
        .json(json!({ "store_id": store, "items": [{ "sku": a, "quantity": 2 }, { "sku": b, "quantity": 1 }],
                      "address_id": s.address_id, "slot": "asap" }))
        .send()
        .await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap();
    t.set_stock(&store, &b, 0).await;
    sqlx::query(
        "UPDATE store_products SET price_fen = price_fen + 100 WHERE store_id = ? AND sku = ?",
    )
    .bind(&store)
    .bind(&a)
    .execute(t.platform.pool())
    .await
    .expect("price");
    let reorder = |who: &Shopper| {
        t.request(Method::POST, &format!("/v1/orders/{id}/reorder"))
            .by(who)
            .send()
    };
    let (status, filled) = reorder(&s).await;
    assert_eq!(status, 200, "{filled}");
    assert_eq!(filled["store_id"], store.as_str());
    assert_eq!(filled["items"].as_array().unwrap().len(), 1, "{filled}");
    assert_eq!(filled["items"][0]["sku"], a.as_str());
    assert_eq!(filled["items"][0]["quantity"], 2);
    assert_eq!(
        fen(&filled["items"][0]["price_fen"]),
        fen(&line(&order, &a)["price_fen"]) + 100
    );
    let mut changes: Vec<(String, String)> = filled["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["sku"].as_str().unwrap().into(),
                c["change"].as_str().unwrap().into(),
            )
        })
        .collect();
    changes.sort();
    let mut want = vec![
        (a.clone(), "price_up".into()),
        (b.clone(), "sold_out".into()),
    ];
    want.sort();
    assert_eq!(changes, want);
    // Twice is the same cart, not twice the quantity.
    let (_, again) = reorder(&s).await;
    assert_eq!(again["items"], filled["items"]);
    let (_, cart) = t
        .call(
            Method::GET,
            &format!("/v1/cart/{store}"),
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(cart["items"], filled["items"]);
    // Someone else's order is not found.
    let other = t.shopper(10, GUOMAO).await;
    assert_eq!(reorder(&other).await.0, 404);
}
