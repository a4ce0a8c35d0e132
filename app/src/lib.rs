//! Jishi's pages and components. Compiled twice: with `ssr` into the server (rendering HTML and
//! running server functions) and with `hydrate` into the browser's wasm.

pub mod account;
pub mod addresses;
pub mod api_client;
pub mod assets;
pub mod auth;
pub mod cart;
pub mod catalog;
pub mod clock;
pub mod components;
pub mod embed;
pub mod error;
pub mod events;
pub mod groups;
pub mod lang;
pub mod links;
pub mod live;
pub mod location;
pub mod map;
pub mod orders;
pub mod pay;
pub mod picture;
#[cfg(feature = "ssr")]
pub mod platform_client;
pub mod stores;

include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::account::MePage;
use crate::auth::SignInPage;
use crate::cart::CartPage;
use crate::catalog::{SearchPage, StorePage};
use crate::components::{IslandsLoader, NotFound, SiteFooter, SiteHeader};
use crate::i18n::td_string;
use crate::live::{HostConsolePage, LiveListPage, LiveRoomPage};
use crate::orders::{CheckoutPage, OrderPage};
use crate::stores::HomePage;

/// Settings the server passes to the page through `<meta>` tags, read by the browser at run time.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteConfig {
    /// Leaflet tile URL template; empty or `none` (the default) for no tiles.
    pub tile_url: String,
    /// `wgs84` (OpenStreetMap) or `gcj02` (AMap, Tencent).
    pub tile_crs: String,
}

impl Default for SiteConfig {
    fn default() -> Self {
        Self {
            // No tile server unless one is configured: tiles from a host the machine cannot
            // reach fail one request per tile, each an error in the browser's console.
            tile_url: "none".to_owned(),
            tile_crs: "wgs84".to_owned(),
        }
    }
}

/// The page's Content-Security-Policy: scripts only from this origin or carrying this response's
/// nonce (the hydration bootstrap is inline), wasm compilation allowed, no inline styles (Leaflet
/// styles through the CSSOM, which CSP allows), nothing posted elsewhere. Map tiles may come from any HTTPS host (`JISHI_TILE_URL` is configurable).
/// Live video: from this origin, or a `blob:` URL (hls.js plays through a `MediaSource` object
/// URL). WebRTC media is not fetched and needs no directive; no workers (hls.js runs without one).
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: https:; media-src 'self' blob:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'self'"
    )
}

/// Sets the CSP header for this response (server rendering only; the nonce is per request).
fn set_security_headers() {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce.to_string()))
        {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    set_security_headers();
    let config = use_context::<SiteConfig>().unwrap_or_default();
    let embedded = embed::embedded();
    let l = lang::locale();
    view! {
        <!DOCTYPE html>
        <html lang=lang::tag(l) data-embed=embedded.then_some(embed::EMBED_MINI_PROGRAM)>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover"/>
                <meta name="theme-color" content="#d4262e"/>
                // No favicon yet: say so instead of letting browsers ask for /favicon.ico.
                <link rel="icon" href="data:,"/>
                <meta name="description" content=td_string!(l, common.description)/>
                <meta name="jishi-tile-url" content=config.tile_url/>
                <meta name="jishi-tile-crs" content=config.tile_crs/>
                <HashedStylesheet id="leptos" options=options.clone()/>
                <AutoReload options=options.clone()/>
                <IslandsLoader options/>
                // The host app's bridge, only where there is a host: the SDK, then ours.
                {embedded.then(|| view! {
                    <script src=assets::WX_JS defer></script>
                    <script src=assets::WX_BRIDGE_JS defer></script>
                })}
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Inside a mini-program the host app has its own navigation bar: no header or footer.
    let embedded = embed::embedded();
    // Only a shopper with a session can have reserved a live room: anonymous pages load none of
    // the going-live banner.
    #[cfg(feature = "ssr")]
    let has_session = platform_client::session_token().is_some();
    #[cfg(not(feature = "ssr"))]
    let has_session = false;
    view! {
        <Router>
            {(!embedded).then(|| view! { <SiteHeader/> })}
            {has_session.then(|| view! { <live::ReservedRoomLive/> })}
            <main class="page">
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/store/:id") view=StorePage ssr=SsrMode::Async/>
                    <Route path=path!("/search") view=SearchPage ssr=SsrMode::Async/>
                    <Route path=path!("/cart") view=CartPage ssr=SsrMode::Async/>
                    <Route path=path!("/checkout/:store") view=CheckoutPage ssr=SsrMode::Async/>
                    <Route path=path!("/orders/:id") view=OrderPage ssr=SsrMode::Async/>
                    <Route path=path!("/me") view=MePage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=SignInPage ssr=SsrMode::Async/>
                    <Route path=path!("/live") view=LiveListPage ssr=SsrMode::Async/>
                    <Route path=path!("/live/:id") view=LiveRoomPage ssr=SsrMode::Async/>
                    <Route path=path!("/live/:id/host") view=HostConsolePage ssr=SsrMode::Async/>
                    <Route path=path!("/group/:id") view=groups::GroupPage ssr=SsrMode::Async/>
                    <Route path=path!("/store/:id/group/:sku") view=groups::StartGroupPage ssr=SsrMode::Async/>
                </Routes>
            </main>
            {(!embedded).then(|| view! { <SiteFooter/> })}
        </Router>
    }
}

/// The pages are server HTML; only the islands (`#[island]` components: cart controls, maps, the
/// location picker, the sign-in, checkout and tracking forms) run in the browser. The loader calls
/// this, then hydrates each island on the page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    let islands = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector_all("leptos-island").ok())
        .map_or(0, |list| list.length() as usize);
    hydration::expect_islands(islands);
}

/// Headroom for cargo-leptos's wasm splitter (`wasm_split_cli_support` 0.2.3). It lays out each
/// output module's share of `.rodata` again, with padding between modules, and when that comes out
/// even one byte longer than the linker's segment it gives up and puts the *whole* segment (about
/// 180 KB, most of it lazy islands' data) in the main module: +23 KB brotli on every page. Whether
/// that happens turned on a few bytes (the linker's own padding, the length of crate paths in
/// panic messages), so unrelated changes and machines with another `$CARGO_HOME` flipped it.
/// These bytes are kept by the linker (`#[used]`) and referenced by no code, so the splitter
/// places them in no module: they ship nowhere, and leave room for 8 bytes of padding per module
/// for 512 modules. `end2end/tests/page-weight.spec.ts` fails if they ever ship.
#[cfg(feature = "hydrate")]
#[used]
static SPLIT_DATA_HEADROOM: [u8; 4096] = [0x4a; 4096];

/// `body[data-hydrated]`, which tests and scripts wait for, once every island on the page has
/// hydrated. Lazy islands hydrate only after their wasm file arrives, so counting is the only way
/// to know; every island calls [`hydration::island_hydrated`] first thing.
pub mod hydration {
    #[cfg(feature = "hydrate")]
    thread_local! {
        static PENDING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[cfg(feature = "hydrate")]
    pub(crate) fn expect_islands(count: usize) {
        PENDING.set(count);
        if count == 0 {
            mark_hydrated_soon();
        }
    }

    /// Called by each island as it starts to hydrate (a no-op on the server).
    pub fn island_hydrated() {
        #[cfg(feature = "hydrate")]
        {
            let left = PENDING.get().saturating_sub(1);
            PENDING.set(left);
            if left == 0 {
                mark_hydrated_soon();
            }
        }
    }

    #[cfg(feature = "hydrate")]
    thread_local! {
        /// Promises' resolvers waiting for every island to hydrate; `None` once they have.
        static WAITING: std::cell::RefCell<Option<Vec<js_sys::Function>>> =
            const { std::cell::RefCell::new(Some(Vec::new())) };
    }

    /// After the current task: the island that was last is still attaching its event handlers.
    #[cfg(feature = "hydrate")]
    fn mark_hydrated_soon() {
        leptos::prelude::set_timeout(
            || {
                if let Some(body) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.body())
                {
                    let _ = body.set_attribute("data-hydrated", "true");
                }
                for resolve in WAITING.take().unwrap_or_default() {
                    let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
                }
            },
            std::time::Duration::ZERO,
        );
    }

    /// Resolves once every island on the page has hydrated and then the browser is idle (or 2 s
    /// have passed): for work a page may start late, such as the live video, so that it does not
    /// lengthen the tasks of the page's start on a slow phone.
    #[cfg(feature = "hydrate")]
    pub async fn idle_after_hydration() {
        use wasm_bindgen::JsCast;
        let hydrated = js_sys::Promise::new(&mut |resolve, _| {
            let now = WAITING.with_borrow_mut(|waiting| match waiting {
                Some(list) => {
                    list.push(resolve.clone());
                    false
                }
                None => true,
            });
            if now {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(hydrated).await;
        let idle = js_sys::Promise::new(&mut |resolve, _| {
            let Some(window) = web_sys::window() else {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
                return;
            };
            // Not in every browser (Safari): then at the next task.
            let ask = js_sys::Reflect::get(&window, &"requestIdleCallback".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&options, &"timeout".into(), &2_000.into());
            let asked = match ask {
                Some(ask) => ask.call2(&window, &resolve, &options).is_ok(),
                None => false,
            };
            if !asked {
                let _ = window.set_timeout_with_callback(&resolve);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(idle).await;
    }
}

#[cfg(test)]
mod tests {
    use super::content_security_policy;

    #[test]
    fn the_policy_allows_live_video_from_here_and_blob_urls_and_nothing_more() {
        let csp = content_security_policy("n0nce");
        let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
        assert!(directives.contains(&"media-src 'self' blob:"), "{csp}");
        assert!(directives.contains(&"connect-src 'self'"), "{csp}");
        assert!(
            directives.contains(&"script-src 'self' 'nonce-n0nce' 'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert!(directives.contains(&"default-src 'self'"), "{csp}");
        // No worker-src: hls.js runs with `enableWorker: false`, so blob: workers stay refused.
        assert!(
            !csp.contains("worker-src") && !csp.contains("child-src"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"),
            "{csp}"
        );
    }
}
