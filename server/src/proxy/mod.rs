//! `/api/v1/*` → the platform's `/v1/*`: the public HTTP surface for browsers and tests.
//!
//! A request goes through three steps: `route` decides from the raw path whether it may be
//! forwarded at all and validates its input with the same `jishi_api` rules as the platform (bad
//! input never costs an upstream hop); `upstream` sends it and streams the answer back; the
//! session cookie is set or cleared here, from what the platform answered. Upstream failures
//! become the JSON error shape: connection refused or timed out → 503, anything unreadable → 502.

pub mod route;
mod upstream;

pub(crate) use upstream::EVENT_STREAM_MAX;

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jishi_api::auth::{Me, Session};
use jishi_api::catalog::{SearchQuery, SearchQueryRaw};
use jishi_api::error::ErrorBody;
use jishi_api::stores::{NearbyQuery, NearbyQueryRaw};
use jishi_api::{ApiError, ErrorCode};
use jishi_app::platform_client::ShopperSession;

use crate::client::ClientInfo;
use crate::{session, AppState};
use route::{Endpoint, Route};

/// Bodies larger than this are refused before they reach the platform.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct ProxyError(pub ApiError);

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = matches!(
            self.0.code,
            ErrorCode::Overloaded | ErrorCode::PlatformUnavailable
        );
        let mut response = (status, Json(self.0.body())).into_response();
        if retry {
            // Shed load comes back soon: tell well-behaved clients when to try again.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<ApiError> for ProxyError {
    fn from(e: ApiError) -> Self {
        ProxyError(e)
    }
}

fn bad_gateway() -> ProxyError {
    ProxyError(ApiError::new(
        ErrorCode::BadGateway,
        "平台响应异常，请稍后重试",
    ))
}

/// The edge check for the read endpoints whose input we know: same parser as the platform.
fn validate_query(endpoint: Endpoint, query: Option<&str>) -> Result<(), ApiError> {
    let query = query.unwrap_or("");
    let parse_err =
        |e: serde_urlencoded::de::Error| ApiError::bad_request(format!("查询参数无效：{e}"));
    match endpoint {
        Endpoint::StoresNearby => {
            let raw: NearbyQueryRaw = serde_urlencoded::from_str(query).map_err(parse_err)?;
            NearbyQuery::parse(&raw).map(|_| ())
        }
        Endpoint::ProductSearch => {
            let raw: SearchQueryRaw = serde_urlencoded::from_str(query).map_err(parse_err)?;
            SearchQuery::parse(&raw).map(|_| ())
        }
        _ => Ok(()),
    }
}

pub async fn forward(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ProxyError> {
    let method = request.method().clone();
    // The undecoded path: see `route` for why the decoded one must not be used.
    let raw = request
        .uri()
        .path()
        .strip_prefix("/api/v1/")
        .unwrap_or_default()
        .to_owned();
    let route = Route::parse(&method, &raw)?;
    if route.endpoint.is_demo_only() && !state.edge.demo {
        return Err(ApiError::not_found("没有这个接口").into());
    }
    validate_query(route.endpoint, query.as_deref())?;

    let client = request
        .extensions()
        .get::<ClientInfo>()
        .cloned()
        .unwrap_or(ClientInfo {
            ip: None,
            secure: false,
        });
    let cookie_token = request
        .extensions()
        .get::<ShopperSession>()
        .map(|ShopperSession(t)| t.clone());
    let mut new_token = None;
    let token = match cookie_token.clone() {
        Some(t) => Some(t),
        None if route.endpoint.creates_session(&method) => {
            let created = state.platform.new_session(client.ip).await?;
            new_token = Some(created.token.clone());
            Some(created.token)
        }
        None => None,
    };

    let stream_permit = if route.endpoint.is_event_stream() {
        Some(state.edge.open_stream(&client)?)
    } else {
        None
    };

    let outgoing = upstream::Outgoing {
        method: method.clone(),
        url: {
            let mut url = state.platform.url(&route.upstream_path);
            if let Some(q) = &query {
                url.push('?');
                url.push_str(q);
            }
            url
        },
        client_ip: client.ip,
        token,
        is_stream: stream_permit.is_some(),
        body_limit: route.endpoint.body_limit(),
    };
    let answer = upstream::send(&state, outgoing, request, stream_permit).await?;
    let status = answer.status;
    let mut body = answer.body;

    let mut extra = HeaderMap::new();
    let secure = client.secure;
    match route.endpoint {
        Endpoint::Login if status.is_success() => {
            // The new token goes into the cookie only; the page learns who signed in, not the token.
            let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
                .await
                .map_err(|_| bad_gateway())?;
            let signed_in: Session = serde_json::from_slice(&bytes).map_err(|_| bad_gateway())?;
            session::append(&mut extra, session::set(&signed_in.token, secure));
            let me = Me {
                user: signed_in.user,
            };
            body = Body::from(serde_json::to_vec(&me).map_err(|_| bad_gateway())?);
        }
        Endpoint::Logout => session::append(&mut extra, session::clear(secure)),
        _ if status == StatusCode::UNAUTHORIZED && cookie_token.is_some() => {
            // Drop the cookie only when the platform no longer knows the session, not when the
            // request merely needs a signed-in shopper (an anonymous cart must survive that).
            let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
                .await
                .map_err(|_| bad_gateway())?;
            let expired = serde_json::from_slice::<ErrorBody>(&bytes)
                .is_ok_and(|b| b.error.code == ErrorCode::SessionExpired);
            if expired {
                session::append(&mut extra, session::clear(secure));
            }
            body = Body::from(bytes);
        }
        _ => {
            if let Some(t) = &new_token {
                session::append(&mut extra, session::set(t, secure));
            }
        }
    }
    if route.endpoint.is_per_shopper() {
        extra.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }

    let mut response = Response::builder().status(status.as_u16());
    for (name, value) in &answer.headers {
        response = response.header(name, value);
    }
    let mut response = response.body(body).map_err(|e| {
        tracing::error!(error = %e, "could not build proxied response");
        bad_gateway()
    })?;
    for (name, value) in extra.iter() {
        if name == header::CACHE_CONTROL {
            response.headers_mut().insert(name, value.clone());
        } else {
            response.headers_mut().append(name, value.clone());
        }
    }
    Ok(response)
}
