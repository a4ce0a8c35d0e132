//! The edge under attack and under load: encoded paths, sessions on reads, forwarded headers,
//! slow clients, load shedding, stream caps, health and shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{
    dead_url, lat_lng, spawn_app, spawn_platform_with_step, spawn_server_with, store_and_sku,
    Browser, Sse, TestApp, GUOMAO,
};
use jishi_server::{Limits, Shutdown};

/// Sends `request` as raw bytes (so nothing normalises the path) and reads the whole answer.
async fn raw(addr: &str, request: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connects");
    tcp.write_all(request.as_bytes()).await.expect("writes");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
        .await
        .expect("an answer within 10 s")
        .expect("reads");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn host(app: &TestApp) -> String {
    app.server.trim_start_matches("http://").to_owned()
}

fn post(path: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
    )
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
}

#[tokio::test]
async fn encoded_separators_and_dot_segments_never_reach_the_platform() {
    let app = spawn_app().await;
    let addr = host(&app);
    let bypasses = [
        post("/api/v1/sessions%3F"),
        post("/api/v1/sessions%23"),
        post("/api/v1/auth/login%3F"),
        post("/api/v1/auth/sms-code%3Fx=1"),
        get("/api/v1/stores/..%2Fsessions"),
        get("/api/v1/stores/%2e%2e/sessions"),
        post("/api/v1/stores/../sessions"),
        post("/api/v1/orders/./../sessions"),
        get("/api/v1/orders%2Fx"),
        get("/api/v1/stores/a%5C..%5Csessions"),
    ];
    for request in &bypasses {
        let (status, answer) = raw(&addr, request).await;
        assert_eq!(status, 400, "{request}\n{answer}");
        assert!(answer.contains("bad_request"), "{answer}");
        assert!(!answer.contains("token"), "no token leaks: {answer}");
    }
    // The plain route still works, and unlisted ones are 404 without an upstream hop.
    let (status, _) = raw(&addr, &get("/api/v1/stores/nearby?lat=39.9&lng=116.4")).await;
    assert_eq!(status, 200);
    let (status, _) = raw(&addr, &post("/api/v1/sessions")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn reads_without_a_cookie_create_no_session() {
    let app = spawn_app().await;
    let (store, _) = store_and_sku(&app).await;
    let paths = [
        "/api/v1/carts".to_owned(),
        format!("/api/v1/cart/{store}"),
        "/api/v1/me".to_owned(),
        "/api/v1/me/addresses".to_owned(),
        "/api/v1/orders".to_owned(),
        "/api/v1/orders/ord_0000000000000000".to_owned(),
        format!("/api/v1/stores/nearby?{}", lat_lng(GUOMAO)),
        format!("/api/v1/stores/{store}"),
        format!("/api/v1/stores/{store}/products"),
        format!("/api/v1/products/search?q=milk&{}", lat_lng(GUOMAO)),
    ];
    let mut count = 0;
    for round in 0..2 {
        for path in &paths {
            let res = get_as(&app, path, None).await;
            assert!(
                res.headers().get("set-cookie").is_none(),
                "round {round}: {path} set a cookie"
            );
            count += 1;
        }
    }
    assert_eq!(count, 20);
    // The first write that needs one does create it.
    let (_, sku) = store_and_sku(&app).await;
    let mut browser = Browser::new(&app);
    let (status, _) = browser.put_cart(&store, &sku, 1).await;
    assert_eq!(status, 200);
    assert!(browser.cookie.is_some());
}

/// A GET to the server, with the shopper's cookie when there is one.
async fn get_as(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(format!("{}{path}", app.server));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("an answer")
}

fn cache_control(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("cache-control")
        .map(|v| v.to_str().expect("ascii").to_owned())
}

#[tokio::test]
async fn per_shopper_answers_are_not_stored_and_every_answer_has_the_security_headers() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in("13700000021").await;
    let cookie = browser.cookie.clone().expect("signed in");
    for path in [
        "/api/v1/me",
        "/api/v1/orders",
        "/api/v1/carts",
        "/api/v1/me/addresses",
    ] {
        let res = get_as(&app, path, Some(&cookie)).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(cache_control(&res).as_deref(), Some("no-store"), "{path}");
    }
    // The shopper's own page, and a store page, which shows this shopper's cart.
    let (store, _) = store_and_sku(&app).await;
    for page in ["/me".to_owned(), format!("/store/{store}")] {
        let cache = cache_control(&get_as(&app, &page, Some(&cookie)).await);
        assert!(cache.is_some_and(|c| c.contains("no-store")), "{page}");
    }
    // The same store page for nobody in particular may be kept.
    let cache = cache_control(&get_as(&app, &format!("/store/{store}"), None).await);
    assert!(
        !cache.as_deref().is_some_and(|c| c.contains("no-store")),
        "{cache:?}"
    );
    for path in [
        "/",
        "/api/v1/stores/nearby?lat=39.9&lng=116.4",
        "/no/such/page",
    ] {
        let res = get_as(&app, path, None).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            h["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
    }
    let home = app.http.get(&app.server).send().await.expect("home");
    let csp = home.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies_and_over_tls_only_the_host_cookie() {
    let platform = spawn_platform_with_step(jishi_platform::DEMO_DISPATCH_STEP).await;
    let untrusted =
        spawn_server_with(&platform, Limits::default(), vec![], Shutdown::default()).await;
    let trusted = spawn_server_with(
        &platform,
        Limits::default(),
        vec!["127.0.0.1/32".parse().unwrap()],
        Shutdown::default(),
    )
    .await;
    let app = TestApp::of(&platform, untrusted);
    let (store, sku) = store_and_sku(&app).await;
    let put_cart = |server: SocketAddr, cookie: Option<String>| {
        let mut req = app
            .http
            .put(format!("http://{server}/api/v1/cart/{store}"))
            .header("sec-fetch-site", "same-origin")
            .header("x-forwarded-proto", "https")
            .json(&json!({ "items": [{ "sku": sku, "quantity": 1 }] }));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    // A stranger saying "https" changes nothing: a plain cookie.
    let res = put_cart(untrusted, None).await.unwrap();
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("jishi_session=") && !set.contains("Secure"),
        "{set}"
    );
    let plain = set.split(';').next().unwrap().to_owned();
    // Our own proxy saying "https" is believed: the __Host- cookie, Secure.
    let res = put_cart(trusted, None).await.unwrap();
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("__Host-jishi_session=") && set.contains("Secure"),
        "{set}"
    );
    // Over TLS a plain-named cookie does not count: that request starts a new session.
    let res = put_cart(trusted, Some(plain)).await.unwrap();
    assert!(
        res.headers().get("set-cookie").is_some(),
        "the plain cookie was ignored"
    );
}

/// A platform stand-in that accepts connections and never answers.
async fn silent_platform() -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_are_shed_with_503_and_retry_after() {
    let limits = Limits {
        max_in_flight: 2,
        ..Limits::default()
    };
    let server = spawn_server_with(
        &silent_platform().await,
        limits,
        vec![],
        Shutdown::default(),
    )
    .await;
    let url = format!("http://{server}/api/v1/stores/nearby?lat=39.9&lng=116.4");
    let http = reqwest::Client::new();
    // Two requests wait on the silent platform and hold both places.
    let hung: Vec<_> = (0..2)
        .map(|_| tokio::spawn(http.get(&url).send()))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shed = http.get(&url).send().await.expect("an answer");
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    let body: serde_json::Value = shed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");
    for h in hung {
        h.abort();
    }
}

#[tokio::test]
async fn slow_loris_connections_are_closed_and_do_not_exhaust_the_server() {
    let app = spawn_app().await;
    let limits = Limits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        max_connections: 16,
        ..Limits::default()
    };
    let server = spawn_server_with(&app.platform, limits, vec![], Shutdown::default()).await;
    // Twice as many half-sent requests as the server takes connections.
    let mut slow = Vec::new();
    for _ in 0..32 {
        let mut tcp = TcpStream::connect(server).await.expect("connects");
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ")
            .await
            .expect("writes");
        slow.push(tcp);
    }
    // Every one of them ends (refused at once over the cap, or cut at the header deadline)
    // instead of being held open.
    for mut tcp in slow {
        let mut buf = Vec::new();
        let ended = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
        assert!(ended.is_ok(), "a half-sent request was held for 10 s");
    }
    // Half a body: the body deadline answers 408.
    let mut tcp = TcpStream::connect(server).await.expect("connects");
    tcp.write_all(
        b"POST /api/v1/auth/sms-code HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"phone\":",
    )
    .await
    .expect("writes");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    // And the server still serves.
    let (status, _) = raw(&server.to_string(), &get("/healthz")).await;
    assert_eq!(status, 200);
}

/// Signs a shopper in and gives them a paid order to follow.
async fn paid_order<'a>(app: &'a TestApp, phone: &str) -> (Browser<'a>, String) {
    let (store, sku) = store_and_sku(app).await;
    let mut shopper = Browser::new(app);
    shopper.sign_in(phone).await;
    let address = shopper.add_address("家", "光华路 1 号").await;
    let key = format!("stream-{phone}");
    let order = shopper.order_one(&store, &sku, &address["id"], &key).await;
    let id = order["id"].as_str().unwrap().to_owned();
    shopper.pay(&id).await;
    (shopper, id)
}

#[tokio::test]
async fn streams_past_the_servers_cap_get_503_and_shutdown_ends_open_streams() {
    let platform = spawn_platform_with_step(Duration::from_secs(3600)).await;
    let shutdown = Shutdown::default();
    let limits = Limits {
        max_streams: 2,
        ..Limits::default()
    };
    let server = spawn_server_with(&platform, limits, vec![], shutdown.clone()).await;
    let app = TestApp::of(&platform, server);
    let (shopper, id) = paid_order(&app, "13700000031").await;
    let cookie = shopper.cookie.clone().unwrap();
    let open = || {
        app.http
            .get(app.api(&format!("/orders/{id}/events")))
            .header("cookie", &cookie)
            .send()
    };
    let first = open().await.unwrap();
    let second = open().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open().await.unwrap();
    assert_eq!(third.status(), 503);
    assert_eq!(third.headers()["retry-after"], "1");
    // A closed stream frees its place.
    drop(second);
    let mut again = None;
    for _ in 0..50 {
        let res = open().await.unwrap();
        if res.status() == 200 {
            again = Some(res);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = again.expect("a freed place is reused");

    // Shutdown: both open streams end with the shutdown event.
    shutdown.trigger();
    for res in [first, again] {
        let events = Sse::new(res).rest(Duration::from_secs(10)).await;
        assert!(events.iter().any(|e| e.event == "shutdown"), "{events:?}");
    }
}

#[tokio::test]
async fn healthz_is_503_when_the_platform_is_unreachable() {
    let app = spawn_app().await;
    let ok = app
        .http
        .get(format!("{}/healthz", app.server))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let down = spawn_server_with(
        &dead_url().await,
        Limits::default(),
        vec![],
        Shutdown::default(),
    )
    .await;
    let res = reqwest::get(format!("http://{down}/healthz"))
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "platform_unavailable");
}
