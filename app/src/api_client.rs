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

/// `path` is under `/api/v1`, e.g. `/cart/s1`.
pub async fn send<T: DeserializeOwned, B: Serialize>(
    method: Method,
    path: &str,
    body: Option<&B>,
    idempotency_key: Option<&str>,
) -> Result<T, AppError> {
    send_to(method, &format!("/api/v1{path}"), body, idempotency_key).await
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
