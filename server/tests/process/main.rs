//! The server binary as a shopper's browser meets it: with the embedded platform, SIGTERM ends it
//! within 10 s even while order event streams are open, and those streams get a last event.
//! `cluster`: three server processes behind nginx, one of them killed.

mod cluster;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    l.local_addr().expect("address").port()
}

fn start(port: u16, site_root: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_jishi-server"))
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_OUTPUT_NAME", "jishi")
        .env("LEPTOS_SITE_ROOT", site_root)
        .env("JISHI_DB", "sqlite::memory:")
        .env("JISHI_NOW", "2026-11-25T12:00:00+08:00")
        // Orders stay where they are: the streams stay open until shutdown closes them.
        .env("JISHI_DISPATCH_STEP_MS", "3600000")
        .env_remove("PLATFORM_URL")
        .env_remove("JISHI_DEMO")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
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
    let sent: Value = http
        .post(format!("{base}/api/v1/auth/sms-code"))
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .expect("code")
        .json()
        .await
        .expect("json");
    let code = sent["demo_code"]
        .as_str()
        .expect("demo codes on a loopback server");
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "phone": phone, "code": code }))
        .send()
        .await
        .expect("login");
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    Shopper {
        http: http.clone(),
        base: base.to_owned(),
        cookie,
    }
}

#[tokio::test]
async fn sigterm_ends_the_server_within_10_s_with_event_streams_open() {
    let site = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = start(port, site.path());
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "server never became healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let shopper = sign_in(&http, &base, "13700000041").await;
    let nearby: Value = http
        .get(format!(
            "{base}/api/v1/stores/nearby?lat=39.9088&lng=116.4605&limit=100"
        ))
        .send()
        .await
        .expect("nearby")
        .json()
        .await
        .expect("json");
    let store = nearby["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .find(|s| s["min_order_fen"] == 0 && s["open_now"] == true)
        .expect("an open store without a minimum")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let products: Value = http
        .get(format!("{base}/api/v1/stores/{store}/products?limit=60"))
        .send()
        .await
        .expect("products")
        .json()
        .await
        .expect("json");
    let sku = products["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["stock"].as_u64().unwrap_or(0) >= 1)
        .expect("in stock")["sku"]
        .as_str()
        .expect("sku")
        .to_owned();
    let address = shopper
        .call(
            reqwest::Method::POST,
            "/me/addresses",
            json!({ "label": "家", "detail": "光华路 1 号", "lat": 39.9088, "lng": 116.4605 }),
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
        assert_eq!(res.status(), 200);
        streams.push(res.bytes_stream());
    }
    // Each stream has delivered what there is so far (the "paid" event) and now waits.
    for s in &mut streams {
        let first = tokio::time::timeout(Duration::from_secs(10), s.next())
            .await
            .expect("the first event");
        assert!(first.is_some());
    }

    let sent_at = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let mut texts = Vec::new();
    for mut s in streams {
        let mut text = String::new();
        while let Ok(Some(Ok(chunk))) =
            tokio::time::timeout(Duration::from_secs(10), s.next()).await
        {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        texts.push(text);
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
    for text in texts {
        assert!(text.contains("event: shutdown"), "{text}");
    }
}
