//! `/api/v1/*` → the platform's `/v1/*`: the public HTTP surface for browsers and tests.
//!
//! Requests are validated at this edge with the same `jishi_api` rules as the platform (bad input
//! never costs an upstream hop) and upstream failures become the JSON error shape: connection
//! refused or timed out → 503, anything else unreadable → 502. Never a panic, never an HTML page.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jishi_api::catalog::{SearchQuery, SearchQueryRaw};
use jishi_api::stores::{NearbyQuery, NearbyQueryRaw};
use jishi_api::{ApiError, ErrorCode};
use jishi_app::platform_client::upstream_error;

use crate::AppState;

/// Bodies larger than this are refused before they reach the platform.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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

pub async fn forward(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ProxyError> {
    let method = request.method().clone();
    validate(&method, &path, query.as_deref())?;

    let mut url = state.platform.url(&format!("/v1/{path}"));
    if let Some(q) = &query {
        url.push('?');
        url.push_str(q);
    }
    let headers = forwarded_headers(request.headers());
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("请求体过大（上限 {} KB）", MAX_BODY_BYTES / 1024),
            )
        })?;

    let upstream = state
        .platform
        .http()
        .request(method, &url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| upstream_error(&e))?;

    let status = upstream.status();
    let mut response = Response::builder().status(status.as_u16());
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(v) = upstream.headers().get(&name) {
            response = response.header(name, v);
        }
    }
    if status.is_server_error() {
        tracing::warn!(%status, path, "platform answered with a server error");
    }
    // Small answers of known length are passed on whole (the client gets a Content-Length);
    // anything else, such as an event stream, is streamed through as it arrives.
    let body = match upstream.content_length() {
        Some(len) if len <= BUFFERED_RESPONSE_MAX_BYTES => {
            Body::from(upstream.bytes().await.map_err(|e| upstream_error(&e))?)
        }
        _ => Body::from_stream(upstream.bytes_stream()),
    };
    response.body(body).map_err(|e| {
        tracing::error!(error = %e, "could not build proxied response");
        ProxyError(ApiError::new(
            ErrorCode::BadGateway,
            "平台响应异常，请稍后重试",
        ))
    })
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
