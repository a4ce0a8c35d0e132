//! The v1 HTTP API (docs/API.md; paths from `jishi_api::routes`). Handlers are thin: validate with `jishi_api`, ask the index or SQLite.
//! One router per resource (`stores`, `auth`, `carts`, `orders`, `events`, `live`, `groups`), merged here with the
//! extractors they share and `/healthz`.

mod auth;
mod carts;
mod events;
mod groups;
mod live;
mod orders;
mod stores;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::routing::get;
use axum::{Json, Router};
use jishi_api::{routes, ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use tower_http::trace::TraceLayer;

use crate::accounts::{self, Caller};
use crate::error::{PlatformError, Result};
use crate::Platform;

pub fn router(platform: Platform) -> Router {
    Router::new()
        .merge(stores::router())
        .merge(auth::router())
        .merge(carts::router())
        .merge(orders::router())
        .merge(events::router())
        .merge(live::router())
        .merge(groups::router())
        .route(routes::HEALTHZ.pattern(), get(healthz))
        .fallback(|| async { PlatformError::from(ApiError::not_found("没有这个接口")) })
        .layer(TraceLayer::new_for_http())
        .with_state(platform)
}

/// `Query` whose rejection is our JSON error, so malformed query strings get the same shape as all else.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = PlatformError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::bad_request(format!("查询参数无效：{e}")).into())
    }
}

/// `Json` whose rejection (malformed JSON, wrong content type) is our JSON error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = PlatformError;
    async fn from_request(req: Request, state: &S) -> Result<Self> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|e: JsonRejection| {
                ApiError::bad_request(format!("请求体不是有效的 JSON：{}", e.body_text())).into()
            })
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The session behind `Authorization: Bearer <token>`; 401 without a valid one.
impl FromRequestParts<Platform> for Caller {
    type Rejection = PlatformError;
    async fn from_request_parts(parts: &mut Parts, p: &Platform) -> Result<Self> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "请先登录或刷新页面"))?;
        accounts::caller(p, token, p.now_unix())
            .await?
            .ok_or_else(|| {
                ApiError::new(ErrorCode::SessionExpired, "登录已过期，请重新登录").into()
            })
    }
}

/// Like `Caller`, but absent rather than refused.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<Platform> for MaybeCaller {
    type Rejection = PlatformError;
    async fn from_request_parts(parts: &mut Parts, p: &Platform) -> Result<Self> {
        Ok(MaybeCaller(match bearer(parts) {
            Some(token) => accounts::caller(p, token, p.now_unix()).await?,
            None => None,
        }))
    }
}

/// The shopper's address as the server saw it, when the server sent one (it sets
/// `jishi_api::headers::CLIENT_IP` on what it forwards; the platform is only reachable through
/// servers it trusts).
fn client_addr(headers: &HeaderMap) -> Option<String> {
    headers
        .get(jishi_api::headers::CLIENT_IP)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(64).collect())
}

/// `client_addr` for the per-address limits; requests without one share one allowance.
fn client_ip(headers: &HeaderMap) -> String {
    client_addr(headers).unwrap_or_else(|| "unknown".into())
}

/// Whose stream slots a stream takes: the caller's session, and the client address.
fn stream_holder(caller: Option<&Caller>, headers: &HeaderMap) -> crate::streams::Holder {
    crate::streams::Holder {
        session: caller.map(|c| c.session_id.clone()),
        client: client_addr(headers),
    }
}

/// Where a stream resumes: `Last-Event-ID`, else `?last_event_id=` (`jishi_api::events`).
fn resume_point(headers: &HeaderMap, query: &jishi_api::events::ResumeQuery) -> Result<u64> {
    let header = headers
        .get(jishi_api::headers::LAST_EVENT_ID)
        .and_then(|v| v.to_str().ok());
    Ok(jishi_api::events::resume_point(header, query)?)
}

/// The request's `Idempotency-Key`, checked (400 when absent or malformed).
fn idempotency_key(headers: &HeaderMap) -> Result<String> {
    Ok(jishi_api::orders::parse_idempotency_key(
        headers
            .get(jishi_api::headers::IDEMPOTENCY_KEY)
            .and_then(|v| v.to_str().ok()),
    )?)
}

/// A stored or fresh answer to an order request, sent as it was stored (status and JSON body).
impl axum::response::IntoResponse for crate::orders::Reply {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response()
    }
}

/// How long `/healthz` waits for the database before calling it unusable.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `GET /healthz`: 200 while the database answers a query, 503 when it does not, so a load
/// balancer or supervisor stops sending traffic to a platform that cannot serve it.
async fn healthz(State(p): State<Platform>) -> Result<&'static str> {
    let probe = sqlx::query("SELECT 1").execute(p.pool());
    match tokio::time::timeout(HEALTH_TIMEOUT, probe).await {
        Ok(Ok(_)) => Ok("ok"),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: the database is unusable");
            Err(unavailable())
        }
        Err(_) => {
            tracing::error!("health check: the database did not answer in time");
            Err(unavailable())
        }
    }
}

fn unavailable() -> PlatformError {
    ApiError::new(ErrorCode::PlatformUnavailable, "服务暂不可用，请稍后再试").into()
}
