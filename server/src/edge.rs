//! The edge's cross-cutting rules: health, load shedding, security and caching headers.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jishi_api::{ApiError, ErrorCode};
use jishi_app::platform_client::ShopperSession;

use crate::proxy::ProxyError;
use crate::static_files::SiteFile;
use crate::AppState;

/// How long `/healthz` waits for the platform before calling it unreachable.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `/healthz`: 200 when the platform answers its own health check, 503 JSON when it does not
/// (embedded or remote alike), so a load balancer stops sending shoppers to a dead end.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let probe = state
        .platform
        .http()
        .get(state.platform.url(jishi_api::routes::HEALTHZ.pattern()))
        .timeout(HEALTH_TIMEOUT)
        .send()
        .await;
    match probe {
        Ok(r) if r.status().is_success() => (StatusCode::OK, "ok").into_response(),
        Ok(r) => {
            tracing::warn!(status = %r.status(), "platform health check failed");
            unavailable()
        }
        Err(e) => {
            tracing::warn!(error = %e, "platform unreachable from the health check");
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    ProxyError(ApiError::new(
        ErrorCode::PlatformUnavailable,
        "平台暂时无法访问",
    ))
    .into_response()
}

/// What a request shed by the concurrency limit gets: 503 JSON with `Retry-After`.
pub async fn overloaded(_: tower::BoxError) -> Response {
    ProxyError(ApiError::new(ErrorCode::Overloaded, "服务繁忙，请稍后重试")).into_response()
}

/// Pages whose content is always about one shopper.
fn is_per_shopper_page(path: &str) -> bool {
    path == "/me"
        || path == "/cart"
        || path == "/login"
        || path.starts_with("/checkout/")
        || path.starts_with("/orders/")
        || (path.starts_with("/live/") && path.ends_with("/host"))
}

/// `Cache-Control: no-store` on pages and server-function answers that show a shopper's data:
/// the per-shopper pages always, and any page rendered for a request that carries a session
/// (the store page shows that shopper's cart). The `/api/v1` proxy marks its own answers, and the
/// site's files (`/pkg`, `/leaflet`) are the same for everyone, session or not.
pub async fn per_shopper_pages_are_not_stored(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let proxied = path.starts_with("/api/v1/");
    let per_shopper = !proxied
        && (is_per_shopper_page(path) || request.extensions().get::<ShopperSession>().is_some());
    let mut response = next.run(request).await;
    if per_shopper && response.extensions().get::<SiteFile>().is_none() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shoppers_own_pages_are_per_shopper() {
        for p in ["/me", "/cart", "/login", "/checkout/s1", "/orders/o1"] {
            assert!(is_per_shopper_page(p), "{p}");
        }
        for p in ["/", "/store/s1", "/search", "/pkg/jishi.wasm", "/mee"] {
            assert!(!is_per_shopper_page(p), "{p}");
        }
    }
}
