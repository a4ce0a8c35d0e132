use std::net::SocketAddr;

use jishi_app::platform_client::PlatformClient;
use jishi_app::SiteConfig;
use jishi_platform::{Clock, Platform, PlatformConfig};
use jishi_server::{router, serve, AppState, Edge, Limits, Shutdown};
use leptos::prelude::LeptosOptions;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub const GUOMAO: (f64, f64) = (39.9088, 116.4605);

pub struct TestApp {
    pub platform: String,
    pub server: String,
    pub http: reqwest::Client,
}

impl TestApp {
    pub fn api(&self, path_and_query: &str) -> String {
        format!("{}/api/v1{path_and_query}", self.server)
    }
    pub fn platform_v1(&self, path_and_query: &str) -> String {
        format!("{}/v1{path_and_query}", self.platform)
    }
    pub async fn get_json(&self, url: &str) -> (u16, serde_json::Value) {
        let res = self
            .http
            .get(url)
            .send()
            .await
            .expect("request reaches the test server");
        let status = res.status().as_u16();
        let body = res.json().await.expect("a JSON body");
        (status, body)
    }
}

/// Wednesday noon in Beijing: most stores open, a few closed.
pub fn frozen_clock() -> Clock {
    Clock::fixed_from_rfc3339("2026-11-25T12:00:00+08:00").expect("a valid instant")
}

/// A platform whose dispatch simulator moves orders every `dispatch_step`.
pub async fn spawn_platform_with_step(dispatch_step: std::time::Duration) -> SocketAddr {
    let platform = Platform::open(PlatformConfig {
        clock: frozen_clock(),
        dispatch_step,
        ..PlatformConfig::demo("sqlite::memory:")
    })
    .await
    .expect("platform opens");
    platform.spawn_on_loopback().await.expect("platform binds")
}

pub async fn spawn_server(platform_url: &str) -> SocketAddr {
    spawn_server_with(
        platform_url,
        Limits::default(),
        Vec::new(),
        Shutdown::default(),
    )
    .await
}

/// A server with its own limits, trusted proxies and shutdown signal, served by the same accept
/// loop as the binary.
pub async fn spawn_server_with(
    platform_url: &str,
    limits: Limits,
    trusted_proxies: Vec<ipnet::IpNet>,
    shutdown: Shutdown,
) -> SocketAddr {
    spawn_server_on_site(
        platform_url,
        "target/site",
        limits,
        trusted_proxies,
        shutdown,
    )
    .await
}

/// The same, serving the static files under `site_root`.
pub async fn spawn_server_on_site(
    platform_url: &str,
    site_root: &str,
    limits: Limits,
    trusted_proxies: Vec<ipnet::IpNet>,
    shutdown: Shutdown,
) -> SocketAddr {
    let state = test_state(platform_url, site_root, &limits, trusted_proxies, &shutdown);
    serve_state(state, limits, shutdown).await
}

/// A server's state: the platform at `platform_url`, the site's files under `site_root`, no
/// video (set `media` to a gateway's URL for it).
pub fn test_state(
    platform_url: &str,
    site_root: &str,
    limits: &Limits,
    trusted_proxies: Vec<ipnet::IpNet>,
    shutdown: &Shutdown,
) -> AppState {
    AppState {
        leptos_options: LeptosOptions::builder()
            .output_name("jishi")
            .site_root(site_root)
            .build(),
        platform: PlatformClient::new(platform_url).expect("client builds"),
        site: SiteConfig::default(),
        edge: Edge::new(trusted_proxies, limits.clone(), shutdown.clone()),
        media: None,
        live: jishi_server::live::LiveHub::new(
            PlatformClient::new(platform_url).expect("client builds"),
            format!("test-{}", rand::random::<u32>()),
            shutdown.clone(),
        ),
    }
}

/// Serves `state` on a loopback port with the binary's accept loop.
pub async fn serve_state(state: AppState, limits: Limits, shutdown: Shutdown) -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("server binds");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        serve(listener, router(state), limits, shutdown)
            .await
            .expect("server runs");
    });
    addr
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with_step(jishi_platform::DEMO_DISPATCH_STEP).await
}

pub async fn spawn_app_with_step(dispatch_step: std::time::Duration) -> TestApp {
    let platform = format!("http://{}", spawn_platform_with_step(dispatch_step).await);
    let server = format!("http://{}", spawn_server(&platform).await);
    TestApp {
        platform,
        server,
        http: reqwest::Client::new(),
    }
}

/// A URL on which nothing listens: bind a port, then let it go.
pub async fn dead_url() -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("binds");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

/// A browser: keeps the session cookie the server sets and sends same-origin requests.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self { app, cookie: None }
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self.app.http.request(method, self.app.api(path));
        if !extra.iter().any(|(k, _)| *k == "sec-fetch-site") {
            req = req.header("sec-fetch-site", "same-origin");
        }
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        for set in res.headers().get_all("set-cookie") {
            let set = set.to_str().expect("ascii cookie");
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Lax"),
                "{set}"
            );
            let pair = set.split(';').next().unwrap_or("").to_owned();
            self.cookie = if pair.ends_with('=') {
                None
            } else {
                Some(pair)
            };
        }
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Puts `quantity` of `sku` (and nothing else) in the cart at `store` through the proxy.
    pub async fn put_cart(&mut self, store: &str, sku: &str, quantity: u32) -> (u16, Value) {
        self.send(
            Method::PUT,
            &format!("/cart/{store}"),
            Some(json!({ "items": [{ "sku": sku, "quantity": quantity }] })),
            &[],
        )
        .await
    }

    /// A server-rendered page as this browser sees it: (status, HTML).
    pub async fn page(&self, path: &str) -> (u16, String) {
        let mut req = self.app.http.get(format!("{}{path}", self.app.server));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.expect("page request");
        let status = res.status().as_u16();
        (status, res.text().await.expect("page body"))
    }

    /// Saves an address at GUOMAO; returns it.
    pub async fn add_address(&mut self, label: &str, detail: &str) -> Value {
        let (status, address) = self
            .send(
                Method::POST,
                "/me/addresses",
                Some(json!({ "label": label, "detail": detail, "lat": GUOMAO.0, "lng": GUOMAO.1 })),
                &[],
            )
            .await;
        assert_eq!(status, 201, "{address}");
        address
    }

    /// Pays the order in the sandbox; returns the paid order.
    pub async fn pay(&mut self, id: &str) -> Value {
        let (status, paid) = self
            .send(
                Method::POST,
                &format!("/orders/{id}/pay"),
                Some(json!({ "method": "sandbox" })),
                &[],
            )
            .await;
        assert_eq!(status, 200, "{paid}");
        paid
    }

    pub async fn sign_in(&mut self, phone: &str) -> Value {
        let (status, sent) = self
            .send(
                Method::POST,
                "/auth/sms-code",
                Some(json!({ "phone": phone })),
                &[],
            )
            .await;
        assert_eq!(status, 202, "{sent}");
        let code = sent["demo_code"].as_str().expect("demo code").to_owned();
        let (status, body) = self
            .send(
                Method::POST,
                "/auth/login",
                Some(json!({ "phone": phone, "code": code })),
                &[],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

pub async fn store_and_sku(app: &TestApp) -> (String, String) {
    let (_, nearby) = app
        .get_json(&app.api(&format!(
            "/stores/nearby?lat={}&lng={}&limit=100",
            GUOMAO.0, GUOMAO.1
        )))
        .await;
    let store = nearby["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["min_order_fen"] == 0 && s["open_now"] == true)
        .expect("a store with no minimum")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, products) = app
        .get_json(&app.api(&format!("/stores/{store}/products?limit=60")))
        .await;
    let sku = products["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["stock"].as_u64().unwrap() >= 3)
        .expect("a product in stock")["sku"]
        .as_str()
        .unwrap()
        .to_owned();
    (store, sku)
}
