//! Shared by the platform's test binaries and its checkout benchmark (`#[path]`-included there).

use std::time::Instant;

use futures::StreamExt;
use serde_json::{json, Value};

/// `method path` with an optional bearer token and JSON body, on the platform at `root`: (status,
/// the answer's JSON, or `Null` when it is not JSON).
pub async fn call(
    http: &reqwest::Client,
    root: &str,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, format!("{root}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

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
}

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
