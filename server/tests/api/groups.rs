//! Group buy through the server: start, the public group, its event stream and joining, all
//! under `/api/v1`, with the platform's answers passed on.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

/// An open store delivering to GUOMAO with a group offer of 3 on a product in stock.
async fn an_offer(app: &TestApp) -> (String, String) {
    let (_, nearby) = app
        .get_json(&app.api(&format!("/stores/nearby?{}&limit=100", lat_lng(GUOMAO))))
        .await;
    for store in nearby["stores"].as_array().expect("stores") {
        if store["open_now"] != true {
            continue;
        }
        let id = store["id"].as_str().expect("id");
        let (_, page) = app
            .get_json(&app.api(&format!("/stores/{id}/products?limit=200")))
            .await;
        let offered = page["products"]
            .as_array()
            .expect("products")
            .iter()
            .find(|p| p["group"]["size"] == 3 && p["stock"].as_u64().is_some_and(|s| s >= 5));
        if let Some(p) = offered {
            return (id.to_owned(), p["sku"].as_str().expect("sku").to_owned());
        }
    }
    panic!("no group offer of 3 near GUOMAO in the demo city");
}

#[tokio::test]
async fn a_group_starts_streams_and_fills_through_the_server() {
    let app = spawn_app().await;
    let (store, sku) = an_offer(&app).await;

    let mut starter = Browser::new(&app);
    starter.sign_in("13600000701").await;
    let address = starter.add_address("家", "光华路 1 号").await;
    let (status, started) = starter
        .send(
            Method::POST,
            "/groups",
            Some(json!({ "store_id": store, "sku": sku, "address_id": address["id"] })),
            &[("idempotency-key", "start-701")],
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["group"]["id"]
        .as_str()
        .expect("group id")
        .to_owned();
    let order = started["order"]["id"]
        .as_str()
        .expect("order id")
        .to_owned();
    starter.pay(&order).await;

    // Both pages render on the server: the start page, and the shared link for anyone.
    let (status, html) = starter.page(&format!("/store/{store}/group/{sku}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(r#"data-testid="start-group-submit""#),
        "{html}"
    );
    let (status, html) = Browser::new(&app).page(&format!("/group/{id}")).await;
    assert_eq!(status, 200, "{html}");
    for hook in [
        r#"data-testid="group-members""#,
        r#"data-testid="group-countdown""#,
        r#"property="og:title""#,
        r#"data-testid="join-group""#,
    ] {
        assert!(html.contains(hook), "{hook} in {html}");
    }
    assert!(!html.contains("13600000701"), "no phone on the page");
    // A member's own page also reads their order (a second read: it once went to a path the
    // platform does not have, and the page said so instead).
    let (status, html) = starter.page(&format!("/group/{id}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"data-testid="group-joined""#), "{html}");

    // Anyone may read it and follow it, with no cookie.
    let (status, group) = app.get_json(&app.api(&format!("/groups/{id}"))).await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["seats_left"], 2);
    assert_eq!(group["joinable"], true);
    assert!(!group.to_string().contains("13600000701"), "{group}");
    let res = app
        .http
        .get(app.api(&format!("/groups/{id}/events")))
        .send()
        .await
        .expect("stream");
    let mut stream = Sse::new(res);

    let mut joiner = Browser::new(&app);
    joiner.sign_in("13600000702").await;
    let address = joiner.add_address("公司", "建国路 2 号").await;
    let body = json!({ "address_id": address["id"] });
    let (status, joined) = joiner
        .send(
            Method::POST,
            &format!("/groups/{id}/join"),
            Some(body.clone()),
            &[("idempotency-key", "join-702")],
        )
        .await;
    assert_eq!(status, 201, "{joined}");
    // Joining again, under another key: already a member.
    let (status, again) = joiner
        .send(
            Method::POST,
            &format!("/groups/{id}/join"),
            Some(body),
            &[("idempotency-key", "join-702-b")],
        )
        .await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "already_member");

    let seen = stream
        .until(Duration::from_secs(10), |e| {
            e.data.contains("member_joined")
        })
        .await;
    assert!(any_has(&seen, "\"type\":\"snapshot\""), "{seen:?}");

    // The joiner's groups list it with their own order.
    let (status, mine) = joiner.send(Method::GET, "/me/groups", None, &[]).await;
    assert_eq!(status, 200, "{mine}");
    let listed: &Value = &mine["groups"][0];
    assert_eq!(listed["group"]["id"], id.as_str());
    assert_eq!(listed["order_id"], joined["order"]["id"]);
}
