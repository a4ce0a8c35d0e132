//! The one harness of the platform's test binaries and benchmarks (`#[path]`-included there; each
//! uses only some of it): the platform on a loopback port (`TestPlatform`, its config changed by a
//! closure), requests (`Request`), signed-in shoppers (`Shopper`), the platform binary as a
//! process (`PlatformProcess`), an SSE reader (`Sse`, and `Events` for one event name), and the
//! fixed points every test shares: the frozen noon and the 国贸 point.

use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use jishi_api::headers::{CLIENT_IP, IDEMPOTENCY_KEY, LAST_EVENT_ID};
use jishi_platform::orders::{OrderLimits, RateLimit};
use jishi_platform::{Clock, Platform, PlatformConfig};
use reqwest::Method;
use serde_json::{json, Value};

/// Wednesday noon in Beijing: most stores are open.
pub const NOON: &str = "2026-11-25T12:00:00+08:00";
/// 国贸, Beijing: stores all around deliver there.
pub const GUOMAO: (f64, f64) = (39.9088, 116.4605);
/// Shanghai: no Beijing store delivers there.
pub const SHANGHAI: (f64, f64) = (31.2304, 121.4737);
/// Long enough for anything that should happen; only a hang reaches it.
pub const PATIENCE: Duration = Duration::from_secs(20);
/// A dispatch step no test waits for: orders stay where the test puts them.
pub const NEVER: Duration = Duration::from_secs(3600);

/// A clock stopped at `NOON`.
pub fn frozen_clock() -> Clock {
    Clock::fixed_from_rfc3339(NOON).expect("instant")
}

/// A clock at `NOON` that moves only when told (`Clock::advance`).
pub fn manual_clock() -> Clock {
    Clock::manual_from_rfc3339(NOON).expect("instant")
}

/// The Unix time of an RFC 3339 instant.
pub fn unix(rfc3339: &str) -> i64 {
    Clock::fixed_from_rfc3339(rfc3339)
        .expect("instant")
        .now()
        .timestamp()
}

/// Order rate limits no test reaches unless it is about them.
pub fn unlimited_orders() -> OrderLimits {
    let plenty = RateLimit::new(1_000_000, Duration::from_millis(1));
    OrderLimits {
        per_shopper: plenty,
        per_client: plenty,
    }
}

/// A loopback port free just now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    l.local_addr().expect("address").port()
}

/// Polls `check` until it holds; panics with `what` if it does not within `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Of many answers to the same request: the bodies of those that created something (201), and
/// how many were refused with 409 and `code`.
pub fn tally<'a>(results: &'a [(u16, Value)], code: &str) -> (Vec<&'a Value>, usize) {
    let created = results
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, body)| body)
        .collect();
    let refused = results
        .iter()
        .filter(|(status, body)| *status == 409 && body["error"]["code"] == code)
        .count();
    (created, refused)
}

/// A multi-threaded runtime for a benchmark's `main`, running `work` to its end.
pub fn block_on<F: Future>(work: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(work)
}

// ---------------------------------------------------------------------------------------------
// The platform on a loopback port
// ---------------------------------------------------------------------------------------------

/// A platform opened on a fresh database file, not yet serving (`serve` starts it).
pub struct Unserved {
    pub platform: Platform,
    config: PlatformConfig,
    dir: tempfile::TempDir,
}

impl Unserved {
    /// Serves on a loopback port until the `TestPlatform` is dropped or `shut_down`.
    pub async fn serve(self) -> TestPlatform {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr, running) = self
            .platform
            .clone()
            .spawn_on_loopback_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("binds");
        TestPlatform {
            root: format!("http://{addr}"),
            platform: self.platform,
            http: reqwest::Client::new(),
            db_path: self.dir.path().join("platform.db"),
            clock: self.config.clock,
            config: self.config,
            stop: Some(stop),
            running,
            _dir: self.dir,
        }
    }
}

/// The platform serving on a loopback port, on its own database file.
pub struct TestPlatform {
    /// `http://127.0.0.1:port`: paths start with `/v1` (or `/healthz`).
    pub root: String,
    pub platform: Platform,
    pub http: reqwest::Client,
    pub db_path: PathBuf,
    pub clock: Clock,
    config: PlatformConfig,
    /// Fires the platform's shutdown; `running` completes once it has stopped.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// The tests' config: the demo city on `database_url`, at `NOON` (frozen), with no order rate
/// limits, changed by `adjust`.
fn config(database_url: String, adjust: impl FnOnce(&mut PlatformConfig)) -> PlatformConfig {
    let mut config = PlatformConfig {
        clock: frozen_clock(),
        order_limits: unlimited_orders(),
        // Shelves short only where a test asks (`POST /v1/demo/orders/{id}/short`).
        shortage_per_mille: 0,
        ..PlatformConfig::demo(database_url)
    };
    adjust(&mut config);
    config
}

impl TestPlatform {
    /// The demo city at `NOON` with no order rate limits, serving.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// `spawn` with the config changed by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut PlatformConfig)) -> Self {
        Self::open_with(adjust).await.serve().await
    }

    /// Opened as `spawn_with` opens it, but not serving yet.
    pub async fn open_with(adjust: impl FnOnce(&mut PlatformConfig)) -> Unserved {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("platform.db").display());
        Self::open_in(dir, config(url, adjust)).await
    }

    async fn open_in(dir: tempfile::TempDir, config: PlatformConfig) -> Unserved {
        let platform = Platform::open(config.clone())
            .await
            .expect("platform opens");
        Unserved {
            platform,
            config,
            dir,
        }
    }

    /// Stops this platform (serving ended, its database connections closed) and opens a new one
    /// on the same database file, as a restarted process would: the same config, changed by
    /// `adjust`.
    pub async fn restart(mut self, adjust: impl FnOnce(&mut PlatformConfig)) -> Self {
        tokio::time::timeout(PATIENCE, self.shut_down())
            .await
            .expect("the platform stops")
            .expect("no panic");
        self.platform.pool().close().await;
        let mut config = self.config.clone();
        adjust(&mut config);
        Self::open_in(self._dir, config).await.serve().await
    }

    /// Fires the platform's shutdown; the handle completes once it has stopped.
    pub fn shut_down(&mut self) -> &mut tokio::task::JoinHandle<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        &mut self.running
    }

    /// Moves the platform's manual clock on.
    pub fn advance(&self, by: chrono::Duration) {
        assert!(self.clock.advance(by), "the test clock is manual");
    }

    /// A request to `path` (from the root: `/v1/…`).
    pub fn request(&self, method: Method, path: &str) -> Request {
        Request(self.http.request(method, format!("{}{path}", self.root)))
    }

    /// `method path` with an optional bearer token and JSON body: (status, the answer's JSON, or
    /// `Null` when it is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.request(method, path)
            .token(token)
            .json(body)
            .send()
            .await
    }

    /// `GET path`, which must answer 200: its JSON.
    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// A new anonymous session's token.
    pub async fn anonymous_session(&self) -> String {
        let (status, body) = self.call(Method::POST, "/v1/sessions", None, None).await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Shopper `n`, with a phone and a client address of their own, signed in with an address
    /// at `at`.
    pub async fn shopper(&self, n: u32, at: (f64, f64)) -> Shopper {
        let phone = format!("136{n:08}");
        let ip = format!("10.0.{}.{}", n / 250, n % 250);
        self.sign_in(&phone, &ip, at).await
    }

    /// `phone` signed in from client address `ip`, with an address at `at`.
    pub async fn sign_in(&self, phone: &str, ip: &str, at: (f64, f64)) -> Shopper {
        sign_in(&self.http, &self.root, phone, ip, at).await
    }

    /// Pays `order` in the sandbox as `s` (from their client address): the answer.
    pub async fn try_pay(&self, s: &Shopper, order: &str) -> (u16, Value) {
        self.request(Method::POST, &format!("/v1/orders/{order}/pay"))
            .by(s)
            .json(json!({ "method": "sandbox" }))
            .send()
            .await
    }

    /// `try_pay`, which must succeed: the paid order.
    pub async fn pay(&self, s: &Shopper, order: &str) -> Value {
        let (status, paid) = self.try_pay(s, order).await;
        assert_eq!(status, 200, "{paid}");
        assert_eq!(paid["status"], "paid");
        paid
    }

    /// Cancels `order` as `s`: the answer.
    pub async fn try_cancel(&self, s: &Shopper, order: &str) -> (u16, Value) {
        self.request(Method::POST, &format!("/v1/orders/{order}/cancel"))
            .by(s)
            .send()
            .await
    }

    /// `try_cancel`, which must succeed: the cancelled order.
    pub async fn cancel(&self, s: &Shopper, order: &str) -> Value {
        let (status, cancelled) = self.try_cancel(s, order).await;
        assert_eq!(status, 200, "{cancelled}");
        cancelled
    }

    /// `s`'s order as `GET /v1/orders/{order}` answers it (which must be 200).
    pub async fn read_order(&self, s: &Shopper, order: &str) -> Value {
        let path = format!("/v1/orders/{order}");
        let (status, body) = self.call(Method::GET, &path, Some(&s.token), None).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The status of `s`'s order.
    pub async fn order_status(&self, s: &Shopper, order: &str) -> String {
        self.read_order(s, order).await["status"]
            .as_str()
            .expect("status")
            .to_owned()
    }

    /// The order's event stream as `s`, resumed after `last_event_id` if given.
    pub async fn order_events(
        &self,
        s: &Shopper,
        id: &str,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        self.request(Method::GET, &format!("/v1/orders/{id}/events"))
            .token(s.token.as_str())
            .last_event_id(last_event_id)
            .response()
            .await
    }

    /// `SELECT COUNT(*) …` or any one number.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.platform.pool())
            .await
            .expect("count")
    }

    /// One number from `sql` with its one parameter bound to `bind`.
    pub async fn scalar(&self, sql: &str, bind: &str) -> i64 {
        sqlx::query_scalar(sql)
            .bind(bind)
            .fetch_one(self.platform.pool())
            .await
            .expect("query")
    }

    pub async fn set_stock(&self, store: &str, sku: &str, stock: i64) {
        set_stock(self.platform.pool(), store, sku, stock).await;
    }

    pub async fn stock(&self, store: &str, sku: &str) -> i64 {
        sqlx::query_scalar("SELECT stock FROM store_products WHERE store_id = ? AND sku = ?")
            .bind(store)
            .bind(sku)
            .fetch_one(self.platform.pool())
            .await
            .expect("stock")
    }

    /// The first SKU `store` lists.
    pub async fn first_sku(&self, store: &str) -> String {
        first_listed_sku(&self.http, &self.root, store).await
    }

    /// A store delivering to `GUOMAO`, open now, with no minimum order.
    pub async fn open_store(&self) -> String {
        open_store_without_minimum(&self.http, &self.root, GUOMAO).await
    }
}

/// One request being put together: bearer token, client address, Idempotency-Key, body.
pub struct Request(reqwest::RequestBuilder);

impl Request {
    /// A request to `url` through `http` (where there is no `TestPlatform`).
    pub fn to(http: &reqwest::Client, method: Method, url: String) -> Self {
        Self(http.request(method, url))
    }

    pub fn token<'a>(self, token: impl Into<Option<&'a str>>) -> Self {
        match token.into() {
            Some(t) => Self(self.0.bearer_auth(t)),
            None => self,
        }
    }

    /// The client address the server would have forwarded (`x-jishi-client-ip`).
    pub fn ip<'a>(self, ip: impl Into<Option<&'a str>>) -> Self {
        self.header(CLIENT_IP, ip)
    }

    /// As `s`: their token, from their client address.
    pub fn by(self, s: &Shopper) -> Self {
        self.token(s.token.as_str()).ip(s.ip.as_str())
    }

    pub fn key<'a>(self, key: impl Into<Option<&'a str>>) -> Self {
        self.header(IDEMPOTENCY_KEY, key)
    }

    pub fn last_event_id<'a>(self, id: impl Into<Option<&'a str>>) -> Self {
        self.header(LAST_EVENT_ID, id)
    }

    pub fn header<'a>(self, name: &str, value: impl Into<Option<&'a str>>) -> Self {
        match value.into() {
            Some(v) => Self(self.0.header(name, v)),
            None => self,
        }
    }

    pub fn json(self, body: impl Into<Option<Value>>) -> Self {
        match body.into() {
            Some(b) => Self(self.0.json(&b)),
            None => self,
        }
    }

    /// (status, the answer's JSON, or `Null` when it is not JSON).
    pub async fn send(self) -> (u16, Value) {
        self.try_send().await.expect("request")
    }

    /// `send`, or why no answer came.
    pub async fn try_send(self) -> reqwest::Result<(u16, Value)> {
        let res = self.0.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub async fn response(self) -> reqwest::Response {
        self.0.send().await.expect("request")
    }
}

// ---------------------------------------------------------------------------------------------
// Shoppers and the demo city
// ---------------------------------------------------------------------------------------------

/// A signed-in shopper with a saved address.
#[derive(Debug, Clone)]
pub struct Shopper {
    pub token: String,
    pub address_id: String,
    pub phone: String,
    /// The client address their requests come from.
    pub ip: String,
}

/// Signs `phone` in through the SMS flow on the platform at `root`, claiming the client address
/// `ip` for the rate limits, and saves an address at `at`.
pub async fn sign_in(
    http: &reqwest::Client,
    root: &str,
    phone: &str,
    ip: &str,
    at: (f64, f64),
) -> Shopper {
    let res = http
        .post(format!("{root}/v1/auth/sms-code"))
        .header(CLIENT_IP, ip)
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .expect("sms-code request");
    assert_eq!(res.status().as_u16(), 202);
    let sent: Value = res.json().await.expect("json");
    let code = sent["demo_code"].as_str().expect("demo code");
    let res = http
        .post(format!("{root}/v1/auth/login"))
        .json(&json!({ "phone": phone, "code": code }))
        .send()
        .await
        .expect("login request");
    assert_eq!(res.status().as_u16(), 200);
    let session: Value = res.json().await.expect("json");
    let token = session["token"].as_str().expect("token").to_owned();
    let res = http
        .post(format!("{root}/v1/me/addresses"))
        .bearer_auth(&token)
        .json(&json!({ "label": "家", "detail": ADDRESS_DETAIL, "lat": at.0, "lng": at.1 }))
        .send()
        .await
        .expect("address request");
    assert_eq!(res.status().as_u16(), 201);
    let address: Value = res.json().await.expect("json");
    Shopper {
        token,
        address_id: address["id"].as_str().expect("id").to_owned(),
        phone: phone.to_owned(),
        ip: ip.to_owned(),
    }
}

/// The street address every test shopper saves (`sign_in`).
pub const ADDRESS_DETAIL: &str = "建国门外大街 1 号";

/// `GET root path`, which must answer JSON.
async fn get_json(http: &reqwest::Client, root: &str, path: &str) -> Value {
    http.get(format!("{root}{path}"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

/// Stores near `at`, as `GET /v1/stores/nearby` answers them with `extra` query parameters.
pub async fn nearby(http: &reqwest::Client, root: &str, at: (f64, f64), extra: &str) -> Vec<Value> {
    let path = format!("/v1/stores/nearby?lat={}&lng={}{extra}", at.0, at.1);
    let body = get_json(http, root, &path).await;
    body["stores"].as_array().expect("stores").clone()
}

/// The nearest store to `at` that is open now and has no minimum order, on the platform at
/// `root`: one that takes a one-item "as soon as possible" order.
pub async fn open_store_without_minimum(
    http: &reqwest::Client,
    root: &str,
    at: (f64, f64),
) -> String {
    nearby(http, root, at, "&limit=100")
        .await
        .iter()
        .find(|s| s["min_order_fen"] == 0 && s["open_now"] == true)
        .expect("an open store with no minimum order")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The first SKU `store` lists.
pub async fn first_listed_sku(http: &reqwest::Client, root: &str, store: &str) -> String {
    let products = get_json(http, root, &format!("/v1/stores/{store}/products?limit=1")).await;
    products["products"][0]["sku"]
        .as_str()
        .expect("sku")
        .to_owned()
}

/// The first store near `GUOMAO` (open now, nearest first) with a group offer: the store's id and
/// the offered product as its products answer shows it.
pub async fn first_group_offer(http: &reqwest::Client, root: &str) -> (String, Value) {
    let stores = nearby(http, root, GUOMAO, "&open_now=true&sort=distance&limit=100").await;
    for store in stores {
        let id = store["id"].as_str().expect("id");
        let products = get_json(http, root, &format!("/v1/stores/{id}/products?limit=200")).await;
        let offered = products["products"]
            .as_array()
            .expect("products")
            .iter()
            .find(|p| !p["group"].is_null());
        if let Some(p) = offered {
            return (id.to_owned(), p.clone());
        }
    }
    panic!("no store near 国贸 offers a group buy");
}

/// Sets the stock of `sku` at `store`.
pub async fn set_stock(pool: &sqlx::SqlitePool, store: &str, sku: &str, stock: i64) {
    sqlx::query("UPDATE store_products SET stock = ? WHERE store_id = ? AND sku = ?")
        .bind(stock)
        .bind(store)
        .bind(sku)
        .execute(pool)
        .await
        .expect("stock set");
}

/// Sets the group size of the offer of `sku` at `store`.
pub async fn set_group_size(pool: &sqlx::SqlitePool, store: &str, sku: &str, size: i64) {
    sqlx::query("UPDATE group_offers SET size = ? WHERE store_id = ? AND sku = ?")
        .bind(size)
        .bind(store)
        .bind(sku)
        .execute(pool)
        .await
        .expect("size set");
}

// ---------------------------------------------------------------------------------------------
// The platform binary as a process
// ---------------------------------------------------------------------------------------------

/// The platform binary serving `JISHI_DB` in demo mode on a free loopback port.
pub struct PlatformProcess {
    child: Child,
    /// `http://127.0.0.1:port`.
    pub root: String,
}

impl PlatformProcess {
    /// Starts the binary on `db` with `env` added, and waits until it is healthy.
    pub async fn start(http: &reqwest::Client, db: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_jishi-platform"))
            .env("PLATFORM_ADDR", format!("127.0.0.1:{port}"))
            .env("JISHI_DB", db)
            // The tests sign in with the code from the answer.
            .env("JISHI_DEMO", "1")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the platform binary starts");
        let process = Self {
            child,
            root: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Bounded: a port taken meanwhile by something that never answers must not hang here.
            let answer = http
                .get(format!("{}/healthz", process.root))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "platform did not become healthy on {}",
                process.root
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and waits for the process to go.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }

    /// SIGTERM, and the exit status once the process has gone.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        self.child.wait().expect("the platform exits")
    }
}

/// However the test ends, the process does not outlive it.
impl Drop for PlatformProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection of the test's own to the database at `url`, waiting up to 10 s on locks.
pub async fn side_connection(url: &str) -> sqlx::SqlitePool {
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("options");
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.busy_timeout(Duration::from_secs(10)))
        .await
        .expect("side connection")
}

// ---------------------------------------------------------------------------------------------
// Server-sent events
// ---------------------------------------------------------------------------------------------

/// One server-sent event (keep-alive comments are skipped).
#[derive(Debug)]
pub struct Frame {
    pub event: String,
    pub id: Option<u64>,
    pub data: String,
}

impl Frame {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("json event data")
    }
}

/// Reads an SSE body frame by frame.
pub struct Sse {
    body: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    text: String,
}

impl Sse {
    pub fn new(res: reqwest::Response) -> Self {
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/event-stream"));
        Self {
            body: res.bytes_stream().map(|c| c.map(|b| b.to_vec())).boxed(),
            text: String::new(),
        }
    }

    /// The next frame, or `None` once the stream has ended; panics if neither comes by `deadline`.
    pub async fn next(&mut self, deadline: Instant) -> Option<Frame> {
        loop {
            while let Some(end) = self.text.find("\n\n") {
                let raw: String = self.text.drain(..end + 2).collect();
                let field = |name: &str| {
                    raw.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim_start().to_owned())
                };
                if let Some(data) = field("data:") {
                    return Some(Frame {
                        event: field("event:").unwrap_or_else(|| "message".into()),
                        id: field("id:").map(|v| v.parse().expect("numeric id")),
                        data,
                    });
                }
            }
            let chunk = tokio::time::timeout_at(deadline.into(), self.body.next())
                .await
                .expect("the stream neither sent nor ended in time");
            match chunk {
                Some(chunk) => self
                    .text
                    .push_str(&String::from_utf8_lossy(&chunk.expect("chunk"))),
                None => return None,
            }
        }
    }

    /// Every frame until the stream ends, which must happen by `deadline`.
    pub async fn read_to_end(mut self, deadline: Instant) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(f) = self.next(deadline).await {
            frames.push(f);
        }
        frames
    }

    /// Whether the stream stays open, sending nothing, for `quiet`.
    pub async fn stays_quiet(&mut self, quiet: Duration) -> bool {
        tokio::time::timeout(quiet, self.next(Instant::now() + quiet + PATIENCE))
            .await
            .is_err()
    }
}

/// One event of a stream of one event name: its SSE id and its JSON.
#[derive(Debug)]
pub struct Event {
    pub id: Option<u64>,
    pub data: Value,
}

impl Event {
    /// Its `type`.
    pub fn kind(&self) -> &str {
        self.data["type"].as_str().unwrap_or_default()
    }
}

/// A stream whose every event is named `name` and carries JSON (a room's, a group's).
pub struct Events {
    sse: Sse,
    name: &'static str,
}

impl Events {
    pub fn new(res: reqwest::Response, name: &'static str) -> Self {
        Self {
            sse: Sse::new(res),
            name,
        }
    }

    /// The next event, or `None` once the stream has ended; panics if neither comes within
    /// `PATIENCE`.
    pub async fn next(&mut self) -> Option<Event> {
        let frame = self.sse.next(Instant::now() + PATIENCE).await?;
        assert_eq!(frame.event, self.name, "{frame:?}");
        Some(Event {
            id: frame.id,
            data: frame.json(),
        })
    }

    /// The next event, which must come.
    pub async fn expect(&mut self) -> Event {
        self.next().await.expect("the stream is open")
    }
}
