//! The one harness of the server's test binaries (`tests/api`, `tests/process`) and benchmarks,
//! each including it with `#[path]` and using only some of it: the fixed points (the frozen noon,
//! the 国贸 point), the real platform and the real server on loopback ports (`TestApp`), a
//! browser that keeps its cookie (`Browser`), the server binary as a process, and an SSE reader
//! (`Sse`, on `eventsource-stream` as the server itself reads the platform).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use jishi_app::platform_client::PlatformClient;
use jishi_app::SiteConfig;
use jishi_platform::{Clock, Platform, PlatformConfig};
use jishi_server::{router, serve, AppState, Edge, Limits, Shutdown};
use leptos::prelude::LeptosOptions;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub use eventsource_stream::Event;

/// Wednesday noon in Beijing: most stores open, a few closed.
pub const NOON: &str = "2026-11-25T12:00:00+08:00";
/// 国贸, Beijing: stores all around deliver there.
pub const GUOMAO: (f64, f64) = (39.9088, 116.4605);

/// A clock stopped at `NOON`.
pub fn frozen_clock() -> Clock {
    Clock::fixed_from_rfc3339(NOON).expect("a valid instant")
}

/// `lat=…&lng=…` of a point, for a query string.
pub fn lat_lng(at: (f64, f64)) -> String {
    format!("lat={}&lng={}", at.0, at.1)
}

/// A loopback port free just now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    l.local_addr().expect("address").port()
}

/// A URL on which nothing listens: bind a port, then let it go.
pub async fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// Waits until `base` answers `/healthz` with success; panics after `within`.
pub async fn wait_healthy(http: &reqwest::Client, base: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        // Bounded: a port taken meanwhile by something that never answers must not hang here.
        let answer = http
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "{base} never became healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The platform and the server on loopback ports
// ---------------------------------------------------------------------------------------------

/// The demo city in memory at `NOON` (frozen), changed by `adjust`, serving on a loopback port:
/// the platform and its URL.
pub async fn spawn_platform(adjust: impl FnOnce(&mut PlatformConfig)) -> (Platform, String) {
    let mut config = PlatformConfig {
        clock: frozen_clock(),
        shortage_per_mille: 0,
        ..PlatformConfig::demo("sqlite::memory:")
    };
    adjust(&mut config);
    let platform = Platform::open(config).await.expect("platform opens");
    let addr = platform
        .clone()
        .spawn_on_loopback()
        .await
        .expect("platform binds");
    (platform, format!("http://{addr}"))
}

/// A platform whose dispatch simulator moves orders every `dispatch_step`: its URL.
pub async fn spawn_platform_with_step(dispatch_step: Duration) -> String {
    spawn_platform(|c| c.dispatch_step = dispatch_step).await.1
}

/// The real platform and the real server, each on its own loopback port.
pub struct TestApp {
    pub platform: String,
    pub server: String,
    pub http: reqwest::Client,
}

impl TestApp {
    /// The app of a platform and a server already running.
    pub fn of(platform: &str, server: SocketAddr) -> Self {
        Self {
            platform: platform.to_owned(),
            server: format!("http://{server}"),
            http: reqwest::Client::new(),
        }
    }

    pub fn api(&self, path_and_query: &str) -> String {
        format!("{}/api/v1{path_and_query}", self.server)
    }

    pub fn platform_v1(&self, path_and_query: &str) -> String {
        format!("{}/v1{path_and_query}", self.platform)
    }

    pub async fn get_json(&self, url: &str) -> (u16, Value) {
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

/// A server with `limits` that believes `X-Forwarded-For` from loopback, as behind nginx.
pub async fn spawn_server_behind_proxy(platform_url: &str, limits: Limits) -> SocketAddr {
    let trusted = jishi_server::settings::parse_trusted_proxies("127.0.0.1").expect("proxies");
    spawn_server_with(platform_url, limits, trusted, Shutdown::default()).await
}

/// The same, serving the static files under `site_root`.
pub async fn spawn_server_on_site(
    platform_url: &str,
    site_root: &str,
    limits: Limits,
    trusted_proxies: Vec<ipnet::IpNet>,
    shutdown: Shutdown,
) -> SocketAddr {
    let edge = Edge::new(trusted_proxies, limits, shutdown);
    spawn_server_at_edge(platform_url, site_root, edge).await
}

/// A platform and a server that serves the sandbox's pay page, as beside an embedded platform
/// in demo mode.
pub async fn spawn_sandbox_app() -> TestApp {
    let platform = spawn_platform_with_step(jishi_platform::DEMO_DISPATCH_STEP).await;
    let edge = Edge::new(Vec::new(), Limits::default(), Shutdown::default())
        .with_sandbox(true)
        .with_demo(true);
    let server = spawn_server_at_edge(&platform, "target/site", edge).await;
    TestApp::of(&platform, server)
}

/// The server's state for the platform at `platform_url`, serving the files under `site_root`
/// at `edge`, its live hub subscribing as `instance`.
pub fn app_state(platform_url: &str, site_root: &str, edge: Edge, instance: String) -> AppState {
    let shutdown = edge.shutdown.clone();
    AppState {
        leptos_options: LeptosOptions::builder()
            .output_name("jishi")
            .site_root(site_root)
            .build(),
        platform: PlatformClient::new(platform_url).expect("client builds"),
        site: SiteConfig::default(),
        edge,
        media: None,
        live: jishi_server::live::LiveHub::new(
            PlatformClient::new(platform_url).expect("client builds"),
            instance,
            shutdown,
        ),
    }
}

/// A server at `edge`, served by the same accept loop as the binary.
async fn spawn_server_at_edge(platform_url: &str, site_root: &str, edge: Edge) -> SocketAddr {
    let instance = format!("test-{}", rand::random::<u32>());
    serve_state(app_state(platform_url, site_root, edge, instance)).await
}

/// Serves `state` on a loopback port with the binary's accept loop.
pub async fn serve_state(state: AppState) -> SocketAddr {
    let (limits, shutdown) = (state.edge.limits.clone(), state.edge.shutdown.clone());
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

pub async fn spawn_app_with_step(dispatch_step: Duration) -> TestApp {
    let platform = spawn_platform_with_step(dispatch_step).await;
    let server = spawn_server(&platform).await;
    TestApp::of(&platform, server)
}

// ---------------------------------------------------------------------------------------------
// Shoppers
// ---------------------------------------------------------------------------------------------

/// The cookie (`name=value`) a response sets, if it sets one.
pub fn set_cookie(res: &reqwest::Response) -> Option<String> {
    let set = res.headers().get("set-cookie")?.to_str().ok()?;
    set.split(';').next().map(str::to_owned)
}

/// A demo code for `phone` from `{v1}/auth/sms-code`, where `v1` is the platform's `…/v1` or
/// the server's `…/api/v1`.
pub async fn demo_code(http: &reqwest::Client, v1: &str, phone: &str) -> String {
    demo_code_from(http, v1, phone, None).await
}

/// `demo_code`, asked as a server reports client address `ip` (when given) to the platform.
pub async fn demo_code_from(
    http: &reqwest::Client,
    v1: &str,
    phone: &str,
    ip: Option<&str>,
) -> String {
    let mut request = http.post(format!("{v1}/auth/sms-code"));
    if let Some(ip) = ip {
        request = request.header(jishi_api::headers::CLIENT_IP, ip);
    }
    let sent: Value = request
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .expect("code")
        .json()
        .await
        .expect("json");
    sent["demo_code"]
        .as_str()
        .expect("demo codes on a loopback server")
        .to_owned()
}

/// A shopper signed in directly on the platform (`v1` its `…/v1`) from client address `ip` (as a
/// server behind it reports it), with an address at `at` saved: (token, address id). For load
/// runs, where many shoppers must not share one client address's limits.
pub async fn platform_shopper(
    http: &reqwest::Client,
    v1: &str,
    phone: &str,
    ip: &str,
    at: (f64, f64),
) -> (String, String) {
    let code = demo_code_from(http, v1, phone, Some(ip)).await;
    let session: Value = http
        .post(format!("{v1}/auth/login"))
        .header(jishi_api::headers::CLIENT_IP, ip)
        .json(&json!({ "phone": phone, "code": code }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = session["token"].as_str().expect("token").to_owned();
    let address: Value = http
        .post(format!("{v1}/me/addresses"))
        .header(jishi_api::headers::CLIENT_IP, ip)
        .bearer_auth(&token)
        .json(&json!({ "label": "家", "detail": "建国门外大街 1 号", "lat": at.0, "lng": at.1 }))
        .send()
        .await
        .expect("address")
        .json()
        .await
        .expect("json");
    let address_id = address["id"].as_str().expect("address id").to_owned();
    (token, address_id)
}

/// `{v1}/auth/login` with `phone`'s demo code: the answer (its body a session, or its cookie).
pub async fn log_in(http: &reqwest::Client, v1: &str, phone: &str) -> reqwest::Response {
    let code = demo_code(http, v1, phone).await;
    http.post(format!("{v1}/auth/login"))
        .json(&json!({ "phone": phone, "code": code }))
        .send()
        .await
        .expect("login")
}

/// The pinned product of the room at `room_url` (`…/live/rooms/{id}`): (sku, price).
pub async fn pinned_product(http: &reqwest::Client, room_url: &str) -> (String, i64) {
    let res = http.get(room_url).send().await.expect("room");
    assert_eq!(res.status().as_u16(), 200, "{room_url}");
    let room: Value = res.json().await.expect("json");
    let sku = room["pinned"]["sku"].as_str().expect("a demo pin");
    let price = room["pinned"]["price_fen"].as_i64().expect("price");
    (sku.to_owned(), price)
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

    /// Orders one of `sku` at `store` to `address_id` as soon as possible, under `key`: the
    /// placed order.
    pub async fn order_one(
        &mut self,
        store: &str,
        sku: &str,
        address_id: &Value,
        key: &str,
    ) -> Value {
        let body = json!({ "store_id": store, "items": [{ "sku": sku, "quantity": 1 }], "address_id": address_id, "slot": "asap" });
        let (status, order) = self
            .send(
                Method::POST,
                "/orders",
                Some(body),
                &[("idempotency-key", key)],
            )
            .await;
        assert_eq!(status, 201, "{order}");
        order
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

/// An open store near GUOMAO with no minimum order, and a product of it with 3 or more in stock,
/// through the server at `base` (`http://…`): (store, sku).
pub async fn store_and_sku_at(http: &reqwest::Client, base: &str) -> (String, String) {
    let get = |path: String| async move {
        let url = format!("{base}/api/v1{path}");
        let res = http.get(url).send().await.expect("request");
        res.json::<Value>().await.expect("json")
    };
    let nearby = get(format!("/stores/nearby?{}&limit=100", lat_lng(GUOMAO))).await;
    let store = nearby["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .find(|s| s["min_order_fen"] == 0 && s["open_now"] == true)
        .expect("a store with no minimum")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let products = get(format!("/stores/{store}/products?limit=60")).await;
    let sku = products["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["stock"].as_u64().is_some_and(|s| s >= 3))
        .expect("a product in stock")["sku"]
        .as_str()
        .expect("sku")
        .to_owned();
    (store, sku)
}

pub async fn store_and_sku(app: &TestApp) -> (String, String) {
    store_and_sku_at(&app.http, &app.server).await
}

// ---------------------------------------------------------------------------------------------
// The server binary as a process
// ---------------------------------------------------------------------------------------------

/// The server binary, to be started on `port` serving the files under `site_root`: add the
/// environment it needs, then spawn.
pub fn server_command(port: u16, site_root: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jishi-server"));
    command
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_OUTPUT_NAME", "jishi")
        .env("LEPTOS_SITE_ROOT", site_root)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

// ---------------------------------------------------------------------------------------------
// Server-sent events
// ---------------------------------------------------------------------------------------------

/// An SSE response read event by event.
pub struct Sse {
    events: futures::stream::BoxStream<'static, Result<Event, String>>,
}

impl Sse {
    pub fn new(res: reqwest::Response) -> Self {
        assert_eq!(res.status().as_u16(), 200);
        let kind = res.headers()["content-type"].to_str().expect("ascii");
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Self {
            events: res
                .bytes_stream()
                .eventsource()
                .map(|e| e.map_err(|e| e.to_string()))
                .boxed(),
        }
    }

    /// The next event, or `None` once the stream has ended or broken; panics if neither comes
    /// within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Event> {
        let next = tokio::time::timeout(within, self.events.next())
            .await
            .unwrap_or_else(|_| panic!("no event within {within:?}"));
        next.and_then(Result::ok)
    }

    /// Events up to the first that `wanted` (it included), all within `within`.
    pub async fn until(&mut self, within: Duration, wanted: impl Fn(&Event) -> bool) -> Vec<Event> {
        let deadline = Instant::now() + within;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = tokio::time::timeout(left, self.events.next())
                .await
                .unwrap_or_else(|_| panic!("not within {within:?}; got {events:?}"))
                .expect("the stream stays open")
                .expect("an event");
            let done = wanted(&event);
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// Every event until the stream ends, breaks or stays quiet for `quiet`.
    pub async fn rest(mut self, quiet: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        while let Ok(Some(Ok(event))) = tokio::time::timeout(quiet, self.events.next()).await {
            events.push(event);
        }
        events
    }
}

/// Its id, if it carries one that is a number.
pub fn event_id(event: &Event) -> Option<u64> {
    event.id.parse().ok()
}

/// Whether any of `events` has `needle` in its data.
pub fn any_has(events: &[Event], needle: &str) -> bool {
    events.iter().any(|e| e.data.contains(needle))
}

/// How often `needle` is in the data of `events`.
pub fn times_in(events: &[Event], needle: &str) -> usize {
    events.iter().map(|e| e.data.matches(needle).count()).sum()
}
