//! Refuses cross-site state-changing requests (403, JSON). Reads are not checked: no GET changes
//! state. Browsers send `Sec-Fetch-Site`; older ones at least `Origin`; requests with neither are
//! not from a browser page and carry no ambient credentials worth forging.

use axum::extract::Request;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jishi_api::{ApiError, ErrorCode};

use crate::proxy::ProxyError;

fn is_cross_site(headers: &HeaderMap) -> bool {
    let mut sites = headers.get_all("sec-fetch-site").iter().peekable();
    if sites.peek().is_some() {
        // "none": typed into the address bar or a bookmark. Every value must say so.
        return !sites.all(|v| matches!(v.to_str(), Ok("same-origin" | "none")));
    }
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    origin_host.is_empty() || origin_host != host
}

/// Watching a room's video (WHEP: `POST`, `PATCH` and `DELETE` under `/media/whep/`) acts for
/// nobody: the server reads no session for it (`media::forward`), so a request from another site
/// forges nothing. The live widget on a brand's site makes these (with CORS for listed origins).
fn acts_for_nobody(path: &str) -> bool {
    path.starts_with("/media/whep/")
}

pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || acts_for_nobody(request.uri().path());
    if !safe && is_cross_site(request.headers()) {
        return ProxyError(ApiError::new(
            ErrorCode::Forbidden,
            "拒绝了来自其他网站的请求",
        ))
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_requests_pass_and_cross_site_ones_do_not() {
        assert!(!is_cross_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "none")])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!is_cross_site(&headers(&[
            ("origin", "http://shop.test:3000"),
            ("host", "shop.test:3000")
        ])));
        assert!(is_cross_site(&headers(&[
            ("origin", "https://evil.test"),
            ("host", "shop.test")
        ])));
        assert!(is_cross_site(&headers(&[
            ("origin", "null"),
            ("host", "shop.test")
        ])));
        assert!(
            !is_cross_site(&headers(&[])),
            "no browser, no ambient cookie to forge"
        );
    }

    #[test]
    fn only_watching_video_is_open_to_other_sites() {
        assert!(acts_for_nobody("/media/whep/live_bj1"));
        assert!(acts_for_nobody("/media/whep/live_bj1/session"));
        for path in [
            "/media/whip/live_bj1",
            "/media/rtmp/live_bj1",
            "/media/whepx",
            "/api/v1/media/whep/x",
            "/api/v1/live/rooms/live_bj1/orders",
        ] {
            assert!(!acts_for_nobody(path), "{path}");
        }
    }
}
