use crate::support::{
    dead_url, log_in, set_cookie, spawn_app, spawn_sandbox_app, spawn_server, TestApp, GUOMAO,
};

async fn assert_bad_request(app: &TestApp, url: &str, needle: &str) {
    let (status, body) = app.get_json(url).await;
    assert_eq!(status, 400, "{url}: {body}");
    assert_eq!(body["error"]["code"], "bad_request", "{url}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.contains(needle), "{url}: {message}");
}

#[tokio::test]
async fn bad_nearby_input_is_a_400_with_a_message_at_the_proxy_and_the_platform() {
    let app = spawn_app().await;
    let cases = [
        ("lat=91&lng=116.4", "lat"),
        ("lat=39.9&lng=abc", "lng"),
        ("lat=39.9&lng=116.4&radius_m=-1", "radius_m"),
        ("lat=39.9&lng=116.4&limit=10000", "limit"),
        ("lng=116.4", "lat"),
        ("lat=39.9&lng=116.4&sort=cheapest", "sort"),
        ("lat=39.9&lng=116.4&cursor=nonsense", "cursor"),
    ];
    for (query, needle) in cases {
        assert_bad_request(&app, &app.api(&format!("/stores/nearby?{query}")), needle).await;
        assert_bad_request(
            &app,
            &app.platform_v1(&format!("/stores/nearby?{query}")),
            needle,
        )
        .await;
    }
    assert_bad_request(&app, &app.api("/products/search?lat=39.9&lng=116.4"), "q").await;
}

#[tokio::test]
async fn unknown_store_and_unknown_endpoint_are_404_json() {
    let app = spawn_app().await;
    let (status, body) = app.get_json(&app.api("/stores/nope")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app.get_json(&app.api("/no/such/thing")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn demo_routes_are_forwarded_only_in_demo_mode() {
    let url = |app: &TestApp| app.api("/demo/orders/ord_0000000000000001/short");
    let body = serde_json::json!({ "sku": "x", "missing": 1 });
    // Not in demo mode: the server does not forward it, whatever the platform would do.
    let app = spawn_app().await;
    let res = app.http.post(url(&app)).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "not_found");
    // In demo mode it reaches the platform, which wants a signed-in shopper.
    let demo = spawn_sandbox_app().await;
    let res = demo.http.post(url(&demo)).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_platform_that_is_down_gives_503_json_not_a_panic() {
    let server = format!("http://{}", spawn_server(&dead_url().await).await);
    let http = reqwest::Client::new();
    let res = http
        .get(format!(
            "{server}/api/v1/stores/nearby?lat={}&lng={}",
            GUOMAO.0, GUOMAO.1
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "platform_unavailable");
    assert!(body["error"]["message"].as_str().unwrap().len() > 3);

    // The page still renders, with a message instead of stores.
    let res = http
        .get(format!("{server}/?lat={}&lng={}", GUOMAO.0, GUOMAO.1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    let html = res.text().await.unwrap();
    assert!(html.contains("data-testid=\"error-notice\""));
    assert!(html.contains("平台暂时无法访问"));

    // And the server keeps serving afterwards, saying honestly that it cannot reach the platform.
    let res = http.get(format!("{server}/healthz")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 503);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_json() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(app.api("/orders"))
        .header("content-type", "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn after_sales_photos_pass_the_proxy_streamed_up_to_their_own_cap_and_no_further() {
    let app = spawn_app().await;
    let login = log_in(&app.http, &app.api(""), "13700000077").await;
    let cookie = set_cookie(&login).expect("a session cookie");
    let url = app.api("/orders/ord_0000000000000001/after-sales");
    let form = |photo: Vec<u8>| {
        reqwest::multipart::Form::new()
            .text("lines", r#"[{"sku":"x","quantity":1}]"#)
            .text("reason", "damaged")
            .part("photo", reqwest::multipart::Part::bytes(photo))
    };
    // 1 MB, far over the 64 KB elsewhere: it reaches the platform, which reads it whole and
    // judges the photo by its content (not an image: 415), so it came through.
    let res = app
        .http
        .post(&url)
        .header("cookie", &cookie)
        .header("idempotency-key", "k1")
        .multipart(form(vec![7; 1024 * 1024]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415, "{:?}", res.text().await);
    // Declared over the route's cap: refused at the proxy before anything is read.
    let res = app
        .http
        .post(&url)
        .header("cookie", &cookie)
        .header("idempotency-key", "k2")
        .header("content-type", "multipart/form-data; boundary=x")
        .body(vec![b'x'; jishi_api::after_sales::MAX_REQUEST_BYTES + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // Sent in chunks with no length: cut off at the cap.
    let chunks =
        futures::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024 * 1024])));
    let res = app
        .http
        .post(&url)
        .header("cookie", &cookie)
        .header("idempotency-key", "k3")
        .header("content-type", "multipart/form-data; boundary=x")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
}
