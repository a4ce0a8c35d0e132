//! The upstream hop: the request as the platform gets it, and its answer as the browser gets it.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use futures::StreamExt;
use jishi_api::headers::{CLIENT_IP, IDEMPOTENCY_KEY, LAST_EVENT_ID, SHOP_ORIGIN};
use jishi_api::{ApiError, ErrorCode};
use jishi_app::platform_client::upstream_error;

use super::{ProxyError, MAX_BODY_BYTES};
use crate::AppState;

/// How long one event stream may stay open; browsers reconnect with Last-Event-ID after it.
pub(crate) const EVENT_STREAM_MAX: Duration = Duration::from_secs(30 * 60);

/// Upstream answers up to this size are forwarded whole rather than streamed.
const BUFFERED_RESPONSE_MAX_BYTES: u64 = 1024 * 1024;

/// Request headers worth forwarding; everything else (cookies, hop-by-hop headers) stays here.
const FORWARDED_REQUEST_HEADERS: [HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::ACCEPT,
    // A picture the browser holds comes back as a bare 304.
    header::IF_NONE_MATCH,
    HeaderName::from_static(IDEMPOTENCY_KEY),
    HeaderName::from_static(LAST_EVENT_ID),
];

/// Answer headers worth passing back.
const FORWARDED_RESPONSE_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::CACHE_CONTROL,
    header::ETAG,
    header::CONTENT_DISPOSITION,
];

pub struct Outgoing {
    pub method: Method,
    pub url: String,
    pub client_ip: Option<IpAddr>,
    pub token: Option<String>,
    pub is_stream: bool,
    /// The request body's cap (`Endpoint::body_limit`); above `MAX_BODY_BYTES` it is streamed.
    pub body_limit: usize,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Body,
}

/// Reads the browser's body (bounded in size and time), sends it on, and returns the answer:
/// small answers whole, anything else (an event stream) streamed as it arrives.
pub async fn send(
    state: &AppState,
    out: Outgoing,
    request: Request,
    stream_permit: Option<crate::StreamPermit>,
) -> Result<Answer, ProxyError> {
    let mut headers = reqwest::header::HeaderMap::new();
    for name in FORWARDED_REQUEST_HEADERS {
        if let Some(v) = request.headers().get(&name) {
            headers.insert(name, v.clone());
        }
    }
    if let Some(ip) = out
        .client_ip
        .and_then(|ip| HeaderValue::from_str(&ip.to_string()).ok())
    {
        headers.insert(CLIENT_IP, ip);
    }
    // Where the shopper reached the shop, for links the platform makes (a calendar event's room).
    if let Some(origin) = shop_origin(request.headers()) {
        headers.insert(SHOP_ORIGIN, origin);
    }
    if let Some(auth) = out
        .token
        .as_deref()
        .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
    {
        headers.insert(header::AUTHORIZATION, auth);
    }
    // Set when a streamed body passed its cap on the way, so the failed send is a 413.
    let too_large = Arc::new(AtomicBool::new(false));
    let body = if out.body_limit > MAX_BODY_BYTES {
        streamed_body(request, out.body_limit, too_large.clone())?
    } else {
        reqwest::Body::from(read_body(request, state.edge.limits.body_read_timeout).await?)
    };

    let mut upstream = state
        .platform
        .http()
        .request(out.method, &out.url)
        .headers(headers)
        .body(body);
    if out.is_stream {
        // An event stream stays open while the order moves; the client's 10 s cap is for answers.
        upstream = upstream.timeout(EVENT_STREAM_MAX);
    }
    let upstream = upstream.send().await.map_err(|e| {
        if too_large.load(Ordering::Relaxed) {
            payload_too_large(out.body_limit)
        } else {
            upstream_error(&e).into()
        }
    })?;
    let status = StatusCode::from_u16(upstream.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::warn!(%status, url = out.url, "platform answered with a server error");
    }
    let headers = FORWARDED_RESPONSE_HEADERS
        .iter()
        .filter_map(|name| {
            let v = upstream.headers().get(name)?;
            Some((name.clone(), HeaderValue::from_bytes(v.as_bytes()).ok()?))
        })
        .collect();
    let body = match (upstream.content_length(), stream_permit) {
        (Some(len), None) if len <= BUFFERED_RESPONSE_MAX_BYTES => {
            Body::from(upstream.bytes().await.map_err(|e| upstream_error(&e))?)
        }
        (_, permit) => {
            let shutdown = state.edge.shutdown.clone();
            Body::from_stream(until_shutdown(
                upstream.bytes_stream().boxed(),
                shutdown,
                permit,
            ))
        }
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// `scheme://host` of the request as the browser made it: the `Host` header, and https when the
/// edge in front says so (`X-Forwarded-Proto`). The platform checks its form before using it.
fn shop_origin(headers: &axum::http::HeaderMap) -> Option<HeaderValue> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    HeaderValue::from_str(&format!("{scheme}://{host}")).ok()
}

/// A large body (after-sales photos) passed on as it arrives, never held whole: refused at once
/// when it declares more than `limit`, and cut off (`too_large` set) when it sends more.
fn streamed_body(
    request: Request,
    limit: usize,
    too_large: Arc<AtomicBool>,
) -> Result<reqwest::Body, ProxyError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(payload_too_large(limit));
    }
    let mut seen = 0usize;
    let chunks = request.into_body().into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
        seen += chunk.len();
        if seen > limit {
            too_large.store(true, Ordering::Relaxed);
            let over: Box<dyn std::error::Error + Send + Sync> =
                "request body over its limit".into();
            return Err(over);
        }
        Ok(chunk)
    });
    Ok(reqwest::Body::wrap_stream(chunks))
}

fn payload_too_large(limit: usize) -> ProxyError {
    ProxyError(ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("请求体过大（上限 {} KB）", limit / 1024),
    ))
}

async fn read_body(request: Request, limit: Duration) -> Result<Bytes, ProxyError> {
    let read = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES);
    match tokio::time::timeout(limit, read).await {
        Err(_) => Err(request_timeout()),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(if caused_by_timeout(&e) {
            request_timeout()
        } else {
            ProxyError(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("请求体过大（上限 {} KB）", MAX_BODY_BYTES / 1024),
            ))
        }),
    }
}

/// Whether the body read failed because `RequestBodyTimeoutLayer` gave up on it; the error comes
/// wrapped once per body layer, so the whole chain is searched.
fn caused_by_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = err.source();
    }
    false
}

fn request_timeout() -> ProxyError {
    ProxyError(ApiError::new(
        ErrorCode::RequestTimeout,
        "请求体发送太慢，连接已关闭",
    ))
}

/// The SSE frame a stream ends with when the server shuts down (the same notice as the
/// platform's); the browser reconnects later with `Last-Event-ID`.
fn shutdown_frame() -> Bytes {
    Bytes::from(jishi_api::events::shutdown_frame())
}

type Upstream = futures::stream::BoxStream<'static, reqwest::Result<Bytes>>;

/// Passes `upstream` on until it ends or the server shuts down; on shutdown it sends one last
/// frame and ends, so graceful shutdown need not wait for streams that never end by themselves.
/// The stream's slot (`permit`) is held until the browser's side is dropped.
fn until_shutdown(
    upstream: Upstream,
    shutdown: crate::Shutdown,
    permit: Option<crate::StreamPermit>,
) -> impl futures::Stream<Item = reqwest::Result<Bytes>> + Send {
    futures::stream::unfold(Some((upstream, shutdown, permit)), |state| async move {
        let (mut upstream, shutdown, permit) = state?;
        tokio::select! {
            item = upstream.next() => {
                let item = item?;
                Some((item, Some((upstream, shutdown, permit))))
            }
            _ = shutdown.wait() => Some((Ok(shutdown_frame()), None)),
        }
    })
}
