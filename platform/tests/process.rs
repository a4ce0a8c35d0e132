//! The platform as its own process: starts, serves v1 over HTTP, shuts down cleanly on SIGTERM,
//! and keeps its data across a restart.

use std::time::{Duration, Instant};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

use support::{PlatformProcess, GUOMAO};

async fn nearby_ids(http: &reqwest::Client, root: &str) -> Vec<String> {
    support::nearby(http, root, GUOMAO, "&limit=50")
        .await
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn the_platform_process_serves_stops_gracefully_and_keeps_its_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let http = reqwest::Client::new();

    let mut process = PlatformProcess::start(&http, &db, &[]).await;
    let first = nearby_ids(&http, &process.root).await;
    assert!(first.len() >= 15);
    // A shopper's rows: an empty database would be reseeded with the same stores, but not with these.
    let shopper = support::sign_in(&http, &process.root, "13600000002", "127.0.0.1", GUOMAO).await;
    assert!(process.terminate().success(), "SIGTERM is a clean exit");

    let mut process = PlatformProcess::start(&http, &db, &[]).await;
    let second = nearby_ids(&http, &process.root).await;
    let me = http
        .get(format!("{}/v1/me/addresses", process.root))
        .bearer_auth(&shopper.token)
        .send()
        .await
        .expect("addresses request");
    let status = me.status().as_u16();
    let addresses: serde_json::Value = me.json().await.expect("json");
    let _ = process.terminate();
    // Same stores, same order (the clock moved a little, ETAs are not time-dependent).
    assert_eq!(first, second);
    // The session and the address outlived the restart.
    assert_eq!(status, 200, "{addresses}");
    assert_eq!(addresses["addresses"][0]["id"], shopper.address_id.as_str());
}

#[tokio::test]
async fn every_order_that_got_a_201_survives_a_kill_9_mid_burst() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.db");
    let db = format!("sqlite://{}", path.display());
    let http = reqwest::Client::new();
    let mut process = PlatformProcess::start(&http, &db, &[]).await;
    let base = process.root.clone();
    let support::Shopper {
        token, address_id, ..
    } = support::sign_in(&http, &base, "13600000001", "127.0.0.1", GUOMAO).await;

    // A store delivering to the address, with plenty of one SKU.
    let store = support::open_store_without_minimum(&http, &base, GUOMAO).await;
    let side = support::side_connection(&db).await;
    let sku = support::first_listed_sku(&http, &base, &store).await;
    support::set_stock(&side, &store, &sku, 100_000).await;

    // A burst of orders; the process dies in the middle of it, once some have been acknowledged.
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let burst = (0..400).map(|i| {
        let acked = acked.clone();
        let http = http.clone();
        let (base, token, store, sku, address_id) =
            (base.clone(), token.clone(), store.clone(), sku.clone(), address_id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2 * i)).await;
            let res = http
                .post(format!("{base}/v1/orders"))
                .bearer_auth(&token)
                .header("idempotency-key", format!("burst-{i}"))
                .json(&serde_json::json!({ "store_id": store, "items": [{ "sku": sku, "quantity": 1 }], "address_id": address_id, "slot": "asap" }))
                .send()
                .await
                .ok()?;
            if res.status().as_u16() != 201 {
                return None;
            }
            let body: serde_json::Value = res.json().await.ok()?;
            acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            body["id"].as_str().map(str::to_owned)
        })
    });
    let tasks: Vec<_> = burst.collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    process.kill();
    let mut acknowledged = Vec::new();
    for t in tasks {
        if let Ok(Some(id)) = t.await {
            acknowledged.push(id);
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "some orders completed before the kill"
    );
    assert!(acknowledged.len() < 400, "the kill landed mid-burst");

    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&side)
        .await
        .expect("integrity check");
    assert_eq!(integrity, "ok");
    side.close().await;

    let mut process = PlatformProcess::start(&http, &db, &[]).await;
    let base = process.root.clone();
    for id in &acknowledged {
        let res = http
            .get(format!("{base}/v1/orders/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get order");
        assert_eq!(
            res.status().as_u16(),
            200,
            "order {id} was acknowledged but is gone"
        );
    }
    let _ = process.terminate();
}
