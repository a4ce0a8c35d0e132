//! The platform as its own process: starts, serves v1 over HTTP, shuts down cleanly on SIGTERM,
//! and keeps its data across a restart.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    l.local_addr().expect("address").port()
}

fn start(db: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_jishi-platform"))
        .env("PLATFORM_ADDR", format!("127.0.0.1:{port}"))
        .env("JISHI_DB", db)
        // The tests sign in with the code from the answer.
        .env("JISHI_DEMO", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the platform binary starts")
}

async fn wait_healthy(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("platform did not become healthy on port {port}");
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    child.wait().expect("the platform exits")
}

async fn nearby_ids(http: &reqwest::Client, port: u16) -> Vec<String> {
    let body: serde_json::Value = http
        .get(format!(
            "http://127.0.0.1:{port}/v1/stores/nearby?lat=39.9088&lng=116.4605&limit=50"
        ))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    body["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn the_platform_process_serves_stops_gracefully_and_keeps_its_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let http = reqwest::Client::new();

    let port = free_port();
    let mut child = start(&db, port);
    wait_healthy(&http, port).await;
    let first = nearby_ids(&http, port).await;
    assert!(first.len() >= 15);
    // A shopper's rows: an empty database would be reseeded with the same stores, but not with these.
    let (token, address_id) = support::sign_in(
        &http,
        &format!("http://127.0.0.1:{port}"),
        "13600000002",
        "127.0.0.1",
        (39.9088, 116.4605),
    )
    .await;
    assert!(terminate(&mut child).success(), "SIGTERM is a clean exit");

    let port = free_port();
    let mut child = start(&db, port);
    wait_healthy(&http, port).await;
    let second = nearby_ids(&http, port).await;
    let me = http
        .get(format!("http://127.0.0.1:{port}/v1/me/addresses"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("addresses request");
    let status = me.status().as_u16();
    let addresses: serde_json::Value = me.json().await.expect("json");
    let _ = terminate(&mut child);
    // Same stores, same order (the clock moved a little, ETAs are not time-dependent).
    assert_eq!(first, second);
    // The session and the address outlived the restart.
    assert_eq!(status, 200, "{addresses}");
    assert_eq!(addresses["addresses"][0]["id"], address_id.as_str());
}

#[tokio::test]
async fn every_order_that_got_a_201_survives_a_kill_9_mid_burst() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.db");
    let db = format!("sqlite://{}", path.display());
    let http = reqwest::Client::new();
    let port = free_port();
    let mut child = start(&db, port);
    wait_healthy(&http, port).await;
    let base = format!("http://127.0.0.1:{port}");
    let (token, address_id) = support::sign_in(
        &http,
        &base,
        "13600000001",
        "127.0.0.1",
        (39.9088, 116.4605),
    )
    .await;

    // A store delivering to the address, with plenty of one SKU.
    let store = support::open_store_without_minimum(&http, &base, (39.9088, 116.4605)).await;
    let side = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            std::str::FromStr::from_str(&db)
                .map(|o: sqlx::sqlite::SqliteConnectOptions| {
                    o.busy_timeout(Duration::from_secs(10))
                })
                .expect("options"),
        )
        .await
        .expect("side connection");
    let sku: String = sqlx::query_scalar(
        "SELECT sku FROM store_products WHERE store_id = ? ORDER BY sku LIMIT 1",
    )
    .bind(&store)
    .fetch_one(&side)
    .await
    .expect("sku");
    sqlx::query("UPDATE store_products SET stock = 100000 WHERE store_id = ? AND sku = ?")
        .bind(&store)
        .bind(&sku)
        .execute(&side)
        .await
        .expect("stock");

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
    child.kill().expect("kill -9");
    let _ = child.wait();
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

    let port = free_port();
    let mut child = start(&db, port);
    wait_healthy(&http, port).await;
    let base = format!("http://127.0.0.1:{port}");
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
    let _ = terminate(&mut child);
}
