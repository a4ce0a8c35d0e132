//! `/api/v1/*` → the platform's `/v1/*`: the public HTTP surface for browsers and tests.
//!
//! Requests are validated at this edge with the same `jishi_api` rules as the platform (bad input
//! never costs an upstream hop) and upstream failures become the JSON error shape: connection
//! refused or timed out → 503, anything else unreadable → 502. Never a panic, never an HTML page.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jishi_api::auth::Session;
use jishi_api::catalog::{SearchQuery, SearchQueryRaw};
use jishi_api::error::ErrorBody;
use jishi_api::stores::{NearbyQuery, NearbyQueryRaw};
use jishi_api::{ApiError, ErrorCode};
use jishi_app::platform_client::upstream_error;

use crate::{session, AppState};

/// Bodies larger than this are refused before they reach the platform.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long one event stream may stay open; browsers reconnect with Last-Event-ID after it.
const EVENT_STREAM_MAX: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Upstream answers up to this size are forwarded whole rather than streamed.
const BUFFERED_RESPONSE_MAX_BYTES: u64 = 1024 * 1024;

/// Request headers worth forwarding; everything else (cookies, hop-by-hop headers) stays here.
const FORWARDED_REQUEST_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::ACCEPT,
    HeaderName::from_static("idempotency-key"),
    HeaderName::from_static("last-event-id"),
];

pub struct ProxyError(pub ApiError);

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0.body())).into_response()
    }
}

impl From<ApiError> for ProxyError {
    fn from(e: ApiError) -> Self {
        ProxyError(e)
    }
}

/// The edge check for the read endpoints whose input we know: same parser as the platform.
fn validate(method: &Method, path: &str, query: Option<&str>) -> Result<(), ApiError> {
    if method != Method::GET {
        return Ok(());
    }
    let query = query.unwrap_or("");
    let parse_err =
        |e: serde_urlencoded::de::Error| ApiError::bad_request(format!("查询参数无效：{e}"));
    match path {
        "stores/nearby" => {
            let raw: NearbyQueryRaw = serde_urlencoded::from_str(query).map_err(parse_err)?;
            NearbyQuery::parse(&raw).map(|_| ())
        }
        "products/search" => {
            let raw: SearchQueryRaw = serde_urlencoded::from_str(query).map_err(parse_err)?;
            SearchQuery::parse(&raw).map(|_| ())
        }
        _ => Ok(()),
    }
}

/// Platform paths that act for a shopper: a first visit gets an anonymous session for them.
fn needs_session(path: &str) -> bool {
    ["cart/", "carts", "orders", "me"]
        .iter()
        .any(|p| path == *p || path.starts_with(p))
}

pub async fn forward(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ProxyError> {
    let method = request.method().clone();
    // Sessions are the server's business: browsers get theirs through the cookie.
    if path == "sessions" {
        return Err(ApiError::not_found("没有这个接口").into());
    }
    validate(&method, &path, query.as_deref())?;

    let secure = session::is_secure(request.headers());
    let cookie_token = session::token(request.headers());
    let mut new_token = None;
    let token = match cookie_token.clone() {
        Some(t) => Some(t),
        None if needs_session(&path) => {
            let created: Session = state.platform.post_json("/v1/sessions", &()).await?;
            new_token = Some(created.token.clone());
            Some(created.token)
        }
        None => None,
    };

    let mut url = state.platform.url(&format!("/v1/{path}"));
    if let Some(q) = &query {
        url.push('?');
        url.push_str(q);
    }
    let mut headers = forwarded_headers(request.headers());
    if let Some(ip) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .and_then(|ConnectInfo(addr)| HeaderValue::from_str(&addr.ip().to_string()).ok())
    {
        headers.insert("x-jishi-client-ip", ip);
    }
    if let Some(auth) = token
        .as_deref()
        .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
    {
        headers.insert(header::AUTHORIZATION, auth);
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("请求体过大（上限 {} KB）", MAX_BODY_BYTES / 1024),
            )
        })?;

    let mut upstream = state
        .platform
        .http()
        .request(method, &url)
        .headers(headers)
        .body(body);
    if path.ends_with("/events") {
        // An event stream stays open while the order moves; the client's 10 s cap is for answers.
        upstream = upstream.timeout(EVENT_STREAM_MAX);
    }
    let upstream = upstream.send().await.map_err(|e| upstream_error(&e))?;

    let status = upstream.status();
    if status.is_server_error() {
        tracing::warn!(%status, path, "platform answered with a server error");
    }
    let mut response = Response::builder().status(status.as_u16());
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(v) = upstream.headers().get(&name) {
            response = response.header(name, v);
        }
    }
    // Small answers of known length are passed on whole (the client gets a Content-Length);
    // anything else, such as an event stream, is streamed through as it arrives.
    let mut body = match upstream.content_length() {
        Some(len) if len <= BUFFERED_RESPONSE_MAX_BYTES => {
            Body::from(upstream.bytes().await.map_err(|e| upstream_error(&e))?)
        }
        _ => Body::from_stream(upstream.bytes_stream()),
    };

    let mut cookies = HeaderMap::new();
    if path == "auth/login" && status.is_success() {
        // The new token goes into the cookie only; the page learns who signed in, not the token.
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::new(ErrorCode::BadGateway, "平台响应异常，请稍后重试"))?;
        let signed_in: Session = serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::new(ErrorCode::BadGateway, "平台响应异常，请稍后重试"))?;
        session::append(&mut cookies, session::set(&signed_in.token, secure));
        body = Body::from(serde_json::json!({ "user": signed_in.user }).to_string());
    } else if path == "auth/logout" {
        session::append(&mut cookies, session::clear(secure));
    } else if status == StatusCode::UNAUTHORIZED && cookie_token.is_some() {
        // Drop the cookie only when the platform no longer knows the session, not when the
        // request merely needs a signed-in shopper (an anonymous cart must survive that).
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::new(ErrorCode::BadGateway, "平台响应异常，请稍后重试"))?;
        let expired = serde_json::from_slice::<ErrorBody>(&bytes)
            .is_ok_and(|b| b.error.code == ErrorCode::SessionExpired);
        if expired {
            session::append(&mut cookies, session::clear(secure));
        }
        body = Body::from(bytes);
    } else if let Some(t) = &new_token {
        session::append(&mut cookies, session::set(t, secure));
    }

    let mut response = response.body(body).map_err(|e| {
        tracing::error!(error = %e, "could not build proxied response");
        ProxyError(ApiError::new(
            ErrorCode::BadGateway,
            "平台响应异常，请稍后重试",
        ))
    })?;
    response.headers_mut().extend(cookies);
    Ok(response)
}

fn forwarded_headers(incoming: &HeaderMap) -> reqwest::header::HeaderMap {
    let mut out = reqwest::header::HeaderMap::new();
    for name in FORWARDED_REQUEST_HEADERS {
        if let Some(v) = incoming.get(&name) {
            out.insert(name, v.clone());
        }
    }
    out
}
