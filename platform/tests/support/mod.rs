//! Shared by the platform's test binaries and its checkout benchmark (`#[path]`-included there).

use serde_json::{json, Value};

/// Signs `phone` in through the SMS flow on the platform at `base` (its root URL), claiming the
/// client address `ip` for the rate limits, and saves an address at `at`.
/// Returns (session token, address id).
pub async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    phone: &str,
    ip: &str,
    at: (f64, f64),
) -> (String, String) {
    let res = http
        .post(format!("{base}/v1/auth/sms-code"))
        .header(jishi_api::headers::CLIENT_IP, ip)
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .expect("sms-code request");
    assert_eq!(res.status().as_u16(), 202);
    let sent: Value = res.json().await.expect("json");
    let code = sent["demo_code"].as_str().expect("demo code");
    let res = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({ "phone": phone, "code": code }))
        .send()
        .await
        .expect("login request");
    assert_eq!(res.status().as_u16(), 200);
    let session: Value = res.json().await.expect("json");
    let token = session["token"].as_str().expect("token").to_owned();
    let res = http
        .post(format!("{base}/v1/me/addresses"))
        .bearer_auth(&token)
        .json(&json!({ "label": "家", "detail": "建国门外大街 1 号", "lat": at.0, "lng": at.1 }))
        .send()
        .await
        .expect("address request");
    assert_eq!(res.status().as_u16(), 201);
    let address: Value = res.json().await.expect("json");
    (token, address["id"].as_str().expect("id").to_owned())
}

/// The nearest store to `at` that is open now and has no minimum order, on the platform at `base`
/// (its root URL): one that takes a one-item "as soon as possible" order.
pub async fn open_store_without_minimum(
    http: &reqwest::Client,
    base: &str,
    at: (f64, f64),
) -> String {
    let nearby: Value = http
        .get(format!(
            "{base}/v1/stores/nearby?lat={}&lng={}&limit=100",
            at.0, at.1
        ))
        .send()
        .await
        .expect("nearby request")
        .json()
        .await
        .expect("json");
    nearby["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .find(|s| s["min_order_fen"] == 0 && s["open_now"] == true)
        .expect("an open store with no minimum order")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}
