//! The server binary as a shopper's browser meets it: with the embedded platform, SIGTERM ends it
//! within 10 s even while order event streams are open, and those streams get a last event.
//! `cluster`: three server processes behind nginx, one of them killed.

mod cluster;

// The server tests' one harness, shared with `tests/api` and the benchmarks.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{free_port, Sse, GUOMAO, NOON};

fn start(port: u16, site_root: &std::path::Path) -> Child {
    support::server_command(port, site_root)
        .env("JISHI_DB", "sqlite::memory:")
        .env("JISHI_NOW", NOON)
        // Orders stay where they are: the streams stay open until shutdown closes them.
        .env("JISHI_DISPATCH_STEP_MS", "3600000")
        .env_remove("PLATFORM_URL")
        .env_remove("JISHI_DEMO")
        .spawn()
        .expect("the server binary starts")
}

struct Shopper {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Shopper {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value, key: &str) -> Value {
        let res = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .header("cookie", &self.cookie)
            .header("sec-fetch-site", "same-origin")
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .expect("answer");
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap_or(Value::Null)
    }
}

async fn sign_in(http: &reqwest::Client, base: &str, phone: &str) -> Shopper {
    let res = support::log_in(http, &format!("{base}/api/v1"), phone).await;
    Shopper {
        http: http.clone(),
        base: base.to_owned(),
        cookie: support::set_cookie(&res).expect("a session cookie"),
    }
}

#[tokio::test]
async fn sigterm_ends_the_server_within_10_s_with_event_streams_open() {
    let site = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = start(port, site.path());
    let http = reqwest::Client::new();
    support::wait_healthy(&http, &base, Duration::from_secs(60)).await;

    let shopper = sign_in(&http, &base, "13700000041").await;
    let (store, sku) = support::store_and_sku_at(&http, &base).await;
    let address = shopper
        .call(
            reqwest::Method::POST,
            "/me/addresses",
            json!({ "label": "家", "detail": "光华路 1 号", "lat": GUOMAO.0, "lng": GUOMAO.1 }),
            "-",
        )
        .await;
    let order = shopper
        .call(
            reqwest::Method::POST,
            "/orders",
            json!({ "store_id": store, "items": [{ "sku": sku, "quantity": 1 }], "address_id": address["id"], "slot": "asap" }),
            "sigterm-1",
        )
        .await;
    let id = order["id"].as_str().expect("order id").to_owned();
    shopper
        .call(
            reqwest::Method::POST,
            &format!("/orders/{id}/pay"),
            json!({ "method": "sandbox" }),
            "-",
        )
        .await;

    let mut streams = Vec::new();
    for _ in 0..3 {
        let res = http
            .get(format!("{base}/api/v1/orders/{id}/events"))
            .header("cookie", &shopper.cookie)
            .send()
            .await
            .expect("stream opens");
        streams.push(Sse::new(res));
    }
    // Each stream has delivered what there is so far (the "paid" event) and now waits.
    for s in &mut streams {
        let first = s.next(Duration::from_secs(10)).await;
        assert!(first.is_some());
    }

    let sent_at = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let mut rests = Vec::new();
    for s in streams {
        rests.push(s.rest(Duration::from_secs(10)).await);
    }
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if sent_at.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the server was still running 10 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    for events in rests {
        assert!(events.iter().any(|e| e.event == "shutdown"), "{events:?}");
    }
}
