//! Sessions, sign-in, carts and orders through the server: the cookie, CSRF and BOLA rules.

use reqwest::Method;
use serde_json::json;

use crate::support::{event_id, spawn_app, spawn_app_with_step, store_and_sku, Browser, Sse};

#[tokio::test]
async fn a_first_visit_gets_an_anonymous_cart_that_survives_sign_in_and_the_token_stays_in_the_cookie(
) {
    let app = spawn_app().await;
    let (store, sku) = store_and_sku(&app).await;
    let mut browser = Browser::new(&app);

    let (status, cart) = browser.put_cart(&store, &sku, 2).await;
    assert_eq!(status, 200, "{cart}");
    let anonymous = browser.cookie.clone().expect("a session cookie was set");

    // Orders need sign-in: refused, but the anonymous session (and its cart) stays.
    let (status, err) = browser.send(Method::GET, "/orders", None, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(err["error"]["code"], "unauthorized");
    assert_eq!(browser.cookie.as_deref(), Some(anonymous.as_str()));

    // A forged or expired token is dropped.
    let mut stale = Browser::new(&app);
    stale.cookie = Some("jishi_session=deadbeef".into());
    let (status, err) = stale.send(Method::GET, "/orders", None, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(err["error"]["code"], "session_expired");
    assert!(stale.cookie.is_none(), "the stale cookie was cleared");

    let login = browser.sign_in("13700000001").await;
    assert!(
        login.get("token").is_none(),
        "the token never reaches page scripts: {login}"
    );
    assert_eq!(login["user"]["phone_masked"], "137****0001");
    assert_ne!(
        browser.cookie.as_deref(),
        Some(anonymous.as_str()),
        "a new session on sign-in"
    );

    let (status, carts) = browser.send(Method::GET, "/carts", None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(carts["carts"][0]["items"][0]["quantity"], 2);

    let (status, _) = browser.send(Method::POST, "/auth/logout", None, &[]).await;
    assert_eq!(status, 204);
    assert!(browser.cookie.is_none(), "logout clears the cookie");
}

#[tokio::test]
async fn cross_site_state_changes_are_refused_with_403() {
    let app = spawn_app().await;
    let (store, sku) = store_and_sku(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("13700000002").await;
    let body = json!({ "items": [{ "sku": sku, "quantity": 1 }] });
    for (k, v) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let (status, err) = browser
            .send(
                Method::PUT,
                &format!("/cart/{store}"),
                Some(body.clone()),
                &[(k, v)],
            )
            .await;
        assert_eq!(status, 403, "{k}: {v}");
        assert_eq!(err["error"]["code"], "forbidden");
    }
    // An old browser without Sec-Fetch-Site, posting from another origin.
    let res = app
        .http
        .put(app.api(&format!("/cart/{store}")))
        .header("cookie", browser.cookie.clone().unwrap())
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let (_, carts) = browser.send(Method::GET, "/carts", None, &[]).await;
    assert!(
        carts["carts"].as_array().unwrap().is_empty(),
        "nothing was written"
    );
    // Server functions are POSTs on the same router and get the same check.
    use leptos::server_fn::ServerFn;
    let res = app
        .http
        .post(format!(
            "{}{}",
            app.server,
            jishi_app::cart::LoadCarts::PATH
        ))
        .header("cookie", browser.cookie.clone().unwrap())
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    // Reads are not state-changing and stay open.
    let (status, _) = browser
        .send(
            Method::GET,
            "/carts",
            None,
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn checkout_through_the_server_and_nobody_else_sees_the_order() {
    let app = spawn_app().await;
    let (store, sku) = store_and_sku(&app).await;
    let mut alice = Browser::new(&app);
    alice.sign_in("13700000003").await;
    let address = alice.add_address("公司", "国贸大厦 A 座").await;
    let order_body = json!({ "store_id": store, "items": [{ "sku": sku, "quantity": 1 }], "address_id": address["id"], "slot": "asap" });
    let (status, err) = alice
        .send(Method::POST, "/orders", Some(order_body.clone()), &[])
        .await;
    assert_eq!(status, 400, "no Idempotency-Key: {err}");
    let (status, order) = alice
        .send(
            Method::POST,
            "/orders",
            Some(order_body.clone()),
            &[("idempotency-key", "checkout-1")],
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let paid = alice.pay(&id).await;
    assert_eq!(paid["status"], "paid");

    // The order's page renders for its owner, with the state tests and scripts read.
    let (status, html) = alice.page(&format!("/orders/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"data-testid="order-status" data-status="paid""#),
        "{html}"
    );
    let (status, html) = alice.page("/me").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!(r#"data-order-id="{id}""#)));
    assert!(html.contains("国贸大厦 A 座"));

    let mut mallory = Browser::new(&app);
    mallory.sign_in("13700000004").await;
    let (status, html) = mallory.page(&format!("/orders/{id}")).await;
    assert_eq!(status, 404, "another shopper's order page is a 404");
    assert!(!html.contains("国贸大厦"));
    let (status, _) = mallory
        .send(Method::GET, &format!("/orders/{id}"), None, &[])
        .await;
    assert_eq!(status, 404);
    let (status, _) = mallory
        .send(Method::POST, &format!("/orders/{id}/cancel"), None, &[])
        .await;
    assert_eq!(status, 404);
    let (status, mine) = mallory.send(Method::GET, "/orders", None, &[]).await;
    assert_eq!(status, 200);
    assert!(mine["orders"].as_array().unwrap().is_empty());

    // Tracking streams through the server as SSE, starting with the payment.
    let res = app
        .http
        .get(app.api(&format!("/orders/{id}/events")))
        .header("cookie", alice.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    let events = Sse::new(res).until(WITHIN, |e| e.id == "1").await;
    let first = &events[0];
    assert!(
        event_id(first) == Some(1) && first.data.contains("\"status\":\"paid\""),
        "{first:?}"
    );

    // Without any cookie, orders need a signed-in shopper.
    let mut stranger = Browser::new(&app);
    let (status, err) = stranger
        .send(
            Method::POST,
            "/orders",
            Some(order_body),
            &[("idempotency-key", "k")],
        )
        .await;
    assert_eq!(status, 401, "{err}");
}

#[tokio::test]
async fn the_session_endpoint_is_not_exposed_to_browsers() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let (status, _) = browser.send(Method::POST, "/sessions", None, &[]).await;
    assert_eq!(status, 404);
}

/// Long enough for any stream here to have sent what it should.
const WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The ids of a response's events, up to the one with id `last`.
async fn event_ids_until(res: reqwest::Response, last: u64) -> Vec<u64> {
    Sse::new(res)
        .until(WITHIN, |e| event_id(e) == Some(last))
        .await
        .iter()
        .filter_map(event_id)
        .collect()
}

#[tokio::test]
async fn tracking_through_the_server_resumes_after_last_event_id_without_gaps_or_repeats() {
    let app = spawn_app_with_step(std::time::Duration::from_millis(40)).await;
    let (store, sku) = store_and_sku(&app).await;
    let mut shopper = Browser::new(&app);
    shopper.sign_in("13700000005").await;
    let address = shopper.add_address("家", "光华路 1 号").await;
    let order = shopper
        .order_one(&store, &sku, &address["id"], "track-1")
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    shopper.pay(&id).await;

    let events = |last_event_id: Option<&str>| {
        let mut req = app
            .http
            .get(app.api(&format!("/orders/{id}/events")))
            .header("cookie", shopper.cookie.clone().unwrap());
        if let Some(l) = last_event_id {
            req = req.header("last-event-id", l);
        }
        req.send()
    };
    // The whole delivery: paid plus 15 simulated steps.
    let all = event_ids_until(events(None).await.unwrap(), 16).await;
    assert_eq!(all, (1..=16).collect::<Vec<_>>());
    // A browser that saw up to 5 reconnects with Last-Event-ID (forwarded by the proxy).
    let resumed = event_ids_until(events(Some("5")).await.unwrap(), 16).await;
    assert_eq!(resumed, (6..=16).collect::<Vec<_>>());
}
