//! A micro-cache of the pages anonymous shoppers see: the home page's store list, search results
//! and store pages rendered for a request without a session are the same for everyone who asks
//! for the same URL within a second. Rendering one costs far more than sending it (see the SSR
//! figures in the README), so under load each URL is rendered about once per `ttl` and every
//! other request gets a copy.
//!
//! - Only `GET`s of those pages, without a session, answered `200` with no `Set-Cookie` and not
//!   marked private, are kept. A shopper with a session (a cart, a sign-in) always gets a fresh
//!   render: their pages show their own data.
//! - A copy is fresh for `ttl` (1 s by default). The first request after that renders the page
//!   again while the others still get the old copy, so no request waits for a render it did not
//!   ask for and a page is at most `ttl` plus one render old (an open/closed flip or a stock change
//!   shows that late). A copy older than `MAX_STALE` is never sent.
//! - Concurrent first requests for one URL wait for a single render instead of each rendering it.
//! - Each copy gets a fresh CSP nonce: the one in the stored page is replaced in the header and
//!   the body, so a nonce is never sent twice.
//!
//! Responses say which they were in `X-Jishi-Cache`: `hit`, `stale` (while another request
//! renders it again), `miss` (rendered for this request) or `bypass` (not cacheable).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use quick_cache::sync::Cache;

use crate::AppState;
use jishi_app::embed::Embedded;
use jishi_app::lang::Locale;
use jishi_app::platform_client::ShopperSession;

pub const CACHE_STATUS: HeaderName = HeaderName::from_static("x-jishi-cache");

/// Pages larger than this are not kept (ours are ~30 KB).
const MAX_PAGE_BYTES: usize = 1 << 20;
/// URLs kept at once; with ~30 KB pages, about 15 MB.
const MAX_PAGES: usize = 512;
/// Past this age a copy is not sent even while another request renders the page again.
const MAX_STALE: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct PageCache {
    ttl: Duration,
    pages: Arc<Cache<String, Arc<Entry>>>,
}

/// What one render of a URL gave: a page to share, or `None` (an error, a private answer), which
/// sends the requests of the next `ttl` to render for themselves.
struct Entry {
    page: Option<Page>,
    rendered: Instant,
    /// Set by the one request that renders the URL again once the entry is stale.
    refreshing: AtomicBool,
}

/// A rendered page, with the nonce it was rendered with.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    nonce: Option<String>,
}

impl PageCache {
    /// `ttl` zero turns the cache off.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            pages: Arc::new(Cache::new(MAX_PAGES)),
        }
    }

    fn store(&self, url: String, page: Option<Page>) {
        self.pages.insert(url, Arc::new(Entry::new(page)));
    }
}

impl Entry {
    fn new(page: Option<Page>) -> Self {
        Self {
            page,
            rendered: Instant::now(),
            refreshing: AtomicBool::new(false),
        }
    }
}

/// The cache key's prefix for a page's language (none for the default, zh-CN).
fn lang_key(locale: Locale) -> &'static str {
    match locale {
        Locale::zh_CN => "",
        Locale::en => "en ",
    }
}

/// Whether this path is one of the pages the same for every anonymous shopper.
fn is_shared_page(path: &str) -> bool {
    path == "/" || path == "/search" || path.starts_with("/store/")
}

pub async fn serve_shared_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let cache = &state.edge.page_cache;
    let cacheable = !cache.ttl.is_zero()
        && request.method() == Method::GET
        && is_shared_page(request.uri().path())
        && request.extensions().get::<ShopperSession>().is_none();
    if !cacheable {
        return tagged(next.run(request).await, "bypass");
    }
    let url = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    // A mini-program's page (no header or footer, the host's bridge) is kept apart, and so is
    // each language's.
    let embed = if request.extensions().get::<Embedded>().is_some() {
        "embed "
    } else {
        ""
    };
    let locale = request
        .extensions()
        .get::<Locale>()
        .copied()
        .unwrap_or_default();
    let url = format!("{}{embed}{url}", lang_key(locale));
    let entry = match cache.pages.get_value_or_guard_async(&url).await {
        Ok(entry) => entry,
        Err(guard) => {
            // The first request for this URL: the others wait for this render.
            let (page, response) = keep(next.run(request).await).await;
            let _ = guard.insert(Arc::new(Entry::new(page)));
            return tagged(response, "miss");
        }
    };
    let age = entry.rendered.elapsed();
    let stale = age >= cache.ttl;
    // Past MAX_STALE every request renders (and stores) for itself: also the way out if the
    // request refreshing it went away before storing.
    if stale && (age >= MAX_STALE || !entry.refreshing.swap(true, Ordering::AcqRel)) {
        let (page, response) = keep(next.run(request).await).await;
        cache.store(url, page);
        return tagged(response, "miss");
    }
    match &entry.page {
        Some(page) => tagged(
            page.copy_with_fresh_nonce(),
            if stale { "stale" } else { "hit" },
        ),
        None => tagged(next.run(request).await, "bypass"),
    }
}

/// Reads a fresh response into a `Page` if it may be shared; returns the response to send either way.
async fn keep(response: Response) -> (Option<Page>, Response) {
    if !is_shareable(&response) {
        return (None, response);
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            // Too large or a failed render stream: the client gets an error either way.
            tracing::warn!(error = %e, "page not kept: its body could not be read");
            return (None, Response::from_parts(parts, Body::empty()));
        }
    };
    let page = Page {
        status: parts.status,
        nonce: parts
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .and_then(nonce_in_policy),
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    (Some(page), Response::from_parts(parts, Body::from(body)))
}

fn is_shareable(response: &Response) -> bool {
    let private = response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("private") || v.contains("no-store"));
    response.status() == StatusCode::OK
        && !private
        && !response.headers().contains_key(header::SET_COOKIE)
}

/// The `'nonce-…'` source in a Content-Security-Policy.
fn nonce_in_policy(policy: &str) -> Option<String> {
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let len = policy[start..].find('\'')?;
    Some(policy[start..start + len].to_owned())
}

impl Page {
    fn copy_with_fresh_nonce(&self) -> Response {
        let mut headers = self.headers.clone();
        let body = match &self.nonce {
            Some(old) => {
                let new = fresh_nonce();
                if let Some(policy) = headers
                    .get(header::CONTENT_SECURITY_POLICY)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| HeaderValue::from_str(&v.replace(old.as_str(), &new)).ok())
                {
                    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
                }
                match std::str::from_utf8(&self.body) {
                    Ok(html) => Bytes::from(html.replace(old.as_str(), &new)),
                    Err(_) => self.body.clone(),
                }
            }
            None => self.body.clone(),
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        response
    }
}

/// 128 random bits, hex: as unguessable as Leptos's own nonces.
fn fresh_nonce() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn tagged(mut response: Response, status: &'static str) -> Response {
    response
        .headers_mut()
        .insert(CACHE_STATUS, HeaderValue::from_static(status));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nonce_in_a_policy() {
        let policy = "default-src 'self'; script-src 'self' 'nonce-AbC123+/=' 'wasm-unsafe-eval'";
        assert_eq!(nonce_in_policy(policy).as_deref(), Some("AbC123+/="));
        assert_eq!(nonce_in_policy("default-src 'self'"), None);
    }

    #[test]
    fn only_the_pages_shared_by_anonymous_shoppers() {
        for p in ["/", "/search", "/store/s1"] {
            assert!(is_shared_page(p), "{p}");
        }
        for p in [
            "/cart",
            "/me",
            "/login",
            "/checkout/s1",
            "/orders/o1",
            "/api/v1/stores/nearby",
            "/stores",
        ] {
            assert!(!is_shared_page(p), "{p}");
        }
    }

    #[test]
    fn a_copy_gets_a_new_nonce_in_header_and_body() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("script-src 'nonce-old123'"),
        );
        let page = Page {
            status: StatusCode::OK,
            headers,
            body: Bytes::from_static(b"<script nonce=\"old123\">x</script>"),
            nonce: Some("old123".to_owned()),
        };
        let copy = page.copy_with_fresh_nonce();
        let policy = copy.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let new = nonce_in_policy(&policy).unwrap();
        assert_ne!(new, "old123");
        assert_eq!(new.len(), 32);
        let other = page.copy_with_fresh_nonce();
        assert_ne!(
            other.headers()[header::CONTENT_SECURITY_POLICY],
            copy.headers()[header::CONTENT_SECURITY_POLICY]
        );
    }
}
