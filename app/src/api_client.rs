//! Calls from the browser to the server's `/api/v1` proxy (and `/media` for the host's RTMP). The proxy adds the shopper's identity
//! from the session cookie (creating an anonymous session on first use), refuses cross-site writes
//! and maps every failure to the JSON error shape, which becomes `AppError::Api` here.
//!
//! Only event handlers call these, and handlers run only in the browser; the server build keeps
//! the same signatures so the components compile for SSR too.

use jishi_api::ApiError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, AppError> {
    send::<T, ()>(Method::Get, path, None, None).await
}

pub async fn post<T: DeserializeOwned, B: Serialize>(path: &str, body: &B) -> Result<T, AppError> {
    send(Method::Post, path, Some(body), None).await
}

pub async fn put<T: DeserializeOwned, B: Serialize>(path: &str, body: &B) -> Result<T, AppError> {
    send(Method::Put, path, Some(body), None).await
}

pub async fn delete<T: DeserializeOwned>(path: &str) -> Result<T, AppError> {
    send::<T, ()>(Method::Delete, path, None, None).await
}

/// `POST` to the shop's media gateway proxy; `path` is under `/media`, e.g. `/rtmp/live_bj1`.
pub async fn post_media<T: DeserializeOwned>(path: &str) -> Result<T, AppError> {
    send_to::<T, ()>(Method::Post, &format!("/media{path}"), None, None).await
}

/// The URL on this origin of a v1 path (`jishi_api::routes`, e.g. `/v1/orders/o1/events`): the
/// server's proxy at `/api` (what an `EventSource` opens).
pub fn api_url(v1_path: &str) -> String {
    debug_assert!(
        jishi_api::routes::is_known(v1_path),
        "not an API path: {v1_path}"
    );
    format!("{}{v1_path}", jishi_api::routes::SERVER_PREFIX)
}

/// `path` is a v1 path from `jishi_api::routes` (e.g. `/v1/cart/s1`), sent to the server's proxy.
pub async fn send<T: DeserializeOwned, B: Serialize>(
    method: Method,
    path: &str,
    body: Option<&B>,
    idempotency_key: Option<&str>,
) -> Result<T, AppError> {
    send_to(method, &api_url(path), body, idempotency_key).await
}

/// `url` is a path on this origin.
async fn send_to<T: DeserializeOwned, B: Serialize>(
    method: Method,
    url: &str,
    body: Option<&B>,
    idempotency_key: Option<&str>,
) -> Result<T, AppError> {
    #[cfg(feature = "hydrate")]
    {
        browser::send(method, url, body, idempotency_key).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (method, url, body, idempotency_key);
        Err(AppError::Api(ApiError::new(
            jishi_api::ErrorCode::Internal,
            "这个操作只能在浏览器里进行",
        )))
    }
}

/// `POST`s a multipart form to a v1 path (after-sales, with its photos).
#[cfg(feature = "hydrate")]
pub async fn post_form<T: DeserializeOwned>(
    path: &str,
    form: web_sys::FormData,
    idempotency_key: &str,
) -> Result<T, AppError> {
    browser::send_form(&api_url(path), form, idempotency_key).await
}

/// A random `Idempotency-Key` (128 bits from the browser's CSPRNG, hex).
pub fn new_idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    #[cfg(feature = "hydrate")]
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    if bytes == [0u8; 16] {
        // No CSPRNG (never in a browser that runs our wasm): still unique enough per tab.
        let now = js_sys::Date::now().to_bits().to_be_bytes();
        let r = js_sys::Math::random().to_bits().to_be_bytes();
        bytes[..8].copy_from_slice(&now);
        bytes[8..].copy_from_slice(&r);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Idempotency-Key` of one attempt at a write that must happen at most once (placing an
/// order, starting or joining a group), for request bodies of type `B`.
///
/// The same body while its answer is unknown (lost on the way, a 5xx, `request_in_progress`) is
/// the same attempt: it is sent with the same key, so the platform places it once and a retry
/// gets the first answer back. Another body is another attempt with a new key (the platform
/// refuses a key with a different body: `idempotency_key_reused`). An answer settles an attempt
/// (success, or a refusal, after which nothing was made), so trying again is a new attempt, not
/// a replay of the stored refusal.
#[derive(Debug, Clone)]
pub struct AttemptKey<B> {
    last: Option<(B, String)>,
}

impl<B> Default for AttemptKey<B> {
    fn default() -> Self {
        Self { last: None }
    }
}

impl<B: Clone + PartialEq> AttemptKey<B> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The key to send `body` with.
    pub fn key(&mut self, body: &B) -> String {
        self.key_with(body, new_idempotency_key)
    }

    fn key_with(&mut self, body: &B, new_key: impl FnOnce() -> String) -> String {
        let key = match &self.last {
            Some((last, key)) if last == body => key.clone(),
            _ => new_key(),
        };
        self.last = Some((body.clone(), key.clone()));
        key
    }

    /// What the platform answered to the attempt last keyed.
    pub fn answered<T>(&mut self, answer: &Result<T, AppError>) {
        if settles(answer) {
            self.last = None;
        }
    }
}

/// Whether an answer says for certain what became of a write: a success, or a 4xx refusal
/// (nothing was made), except `request_in_progress` (the first request is still running).
fn settles<T>(answer: &Result<T, AppError>) -> bool {
    match answer {
        Ok(_) => true,
        Err(AppError::Api(e)) => {
            e.code.http_status() < 500 && e.code != jishi_api::ErrorCode::RequestInProgress
        }
        Err(AppError::ServerFn(_)) => false,
    }
}

/// `POST`s `body` to `path` as one attempt of `attempt`: with its key, and telling it the answer.
pub async fn post_once<
    T: DeserializeOwned,
    B: Serialize + Clone + PartialEq + Send + Sync + 'static,
>(
    path: &str,
    body: &B,
    attempt: leptos::prelude::StoredValue<AttemptKey<B>>,
) -> Result<T, AppError> {
    use leptos::prelude::*;
    let key = attempt.try_update_value(|a| a.key(body));
    let answer = send(Method::Post, path, Some(body), key.as_deref()).await;
    attempt.update_value(|a| a.answered(&answer));
    answer
}

#[cfg(feature = "hydrate")]
fn network_error() -> AppError {
    AppError::Api(ApiError::new(
        jishi_api::ErrorCode::PlatformUnavailable,
        "网络不太好，请检查网络后重试",
    ))
}

#[cfg(feature = "hydrate")]
mod browser {
    use gloo_net::http::{Request, RequestBuilder};
    use jishi_api::error::ErrorBody;
    use jishi_api::{ApiError, ErrorCode};
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::{network_error, Method};
    use crate::error::AppError;

    pub async fn send<T: DeserializeOwned, B: Serialize>(
        method: Method,
        url: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<T, AppError> {
        let mut builder: RequestBuilder = match method {
            Method::Get => Request::get(url),
            Method::Post => Request::post(url),
            Method::Put => Request::put(url),
            Method::Delete => Request::delete(url),
        }
        .header("accept", "application/json");
        if let Some(key) = idempotency_key {
            builder = builder.header(jishi_api::headers::IDEMPOTENCY_KEY, key);
        }
        let request = match body {
            Some(b) => builder.json(b),
            None => builder.build(),
        }
        .map_err(|_| network_error())?;
        answer(request).await
    }

    /// `POST` of a multipart form (after-sales photos) with an Idempotency-Key.
    pub async fn send_form<T: DeserializeOwned>(
        url: &str,
        form: web_sys::FormData,
        idempotency_key: &str,
    ) -> Result<T, AppError> {
        // No content-type here: the browser sets multipart/form-data with its boundary.
        let request = Request::post(url)
            .header("accept", "application/json")
            .header(jishi_api::headers::IDEMPOTENCY_KEY, idempotency_key)
            .body(form)
            .map_err(|_| network_error())?;
        answer(request).await
    }

    async fn answer<T: DeserializeOwned>(request: Request) -> Result<T, AppError> {
        let response = request.send().await.map_err(|_| network_error())?;
        let text = response.text().await.map_err(|_| network_error())?;
        if response.ok() {
            // 204 and other empty answers read as `null`, which `()` accepts.
            let text = if text.is_empty() { "null" } else { &text };
            return serde_json::from_str(text).map_err(|_| {
                AppError::Api(ApiError::new(
                    ErrorCode::BadGateway,
                    "服务器返回了无法识别的数据",
                ))
            });
        }
        Err(match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => AppError::Api(b.error),
            Err(_) => AppError::Api(ApiError::new(
                ErrorCode::BadGateway,
                format!("服务器出错了（{}），请稍后重试", response.status()),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_api::ErrorCode;

    /// Keys "k1", "k2", … in the order they are made.
    fn keys() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("k{n}")
        }
    }

    fn refused(code: ErrorCode) -> Result<(), AppError> {
        Err(AppError::Api(ApiError::new(code, "m")))
    }

    #[test]
    fn api_paths_are_the_v1_routes_under_the_proxy_with_their_ids_encoded() {
        use jishi_api::routes;
        assert_eq!(
            api_url(&routes::ORDER.path(&["ord 1/x"])),
            "/api/v1/orders/ord%201%2Fx"
        );
        assert_eq!(
            api_url(&routes::JOIN_GROUP.path(&["grp?1"])),
            "/api/v1/groups/grp%3F1/join"
        );
        assert_eq!(
            api_url(&routes::GROUP_EVENTS.path(&["g"])),
            "/api/v1/groups/g/events"
        );
    }

    #[test]
    fn an_attempt_keeps_its_key_while_the_body_is_the_same() {
        let mut make = keys();
        let mut attempt = AttemptKey::new();
        assert_eq!(attempt.key_with(&"adr_1", &mut make), "k1");
        // The answer was lost (the network, the platform): the retry is the same attempt.
        attempt.answered(&refused(ErrorCode::PlatformUnavailable));
        assert_eq!(attempt.key_with(&"adr_1", &mut make), "k1");
        attempt.answered(&refused(ErrorCode::RequestInProgress));
        assert_eq!(attempt.key_with(&"adr_1", &mut make), "k1");
    }

    #[test]
    fn another_body_is_another_attempt() {
        let mut make = keys();
        let mut attempt = AttemptKey::new();
        assert_eq!(attempt.key_with(&"adr_far", &mut make), "k1");
        // Refused (the store does not deliver there); the shopper picks another address.
        attempt.answered(&refused(ErrorCode::NotDeliverable));
        assert_eq!(attempt.key_with(&"adr_near", &mut make), "k2");
        // Even with no answer to the first: a changed body never reuses a key.
        assert_eq!(attempt.key_with(&"adr_far", &mut make), "k3");
    }

    #[test]
    fn a_settled_attempt_is_not_sent_again() {
        let mut make = keys();
        let mut attempt = AttemptKey::new();
        assert_eq!(attempt.key_with(&"adr_1", &mut make), "k1");
        attempt.answered(&Ok::<(), AppError>(()));
        assert_eq!(attempt.key_with(&"adr_1", &mut make), "k2");
        // A refusal settles it too (nothing was made): trying again is a new attempt, not a
        // replay of the stored refusal.
        attempt.answered(&refused(ErrorCode::TooManyUnpaid));
        assert_eq!(attempt.key_with(&"adr_1", &mut make), "k3");
    }
}
