//! Where the vendored static files are served from. Their names carry a hash of their content, so
//! the server can let browsers cache them for a year; a changed file gets a new name.
//!
//! The hash is the first 10 hex digits of the file's SHA-256 (`sha256sum FILE | cut -c1-10`). A
//! test in the server crate (`static_files`) fails when a name no longer matches its content.
//! Leaflet's images (`/leaflet/images/`) keep their names, which `leaflet.js` derives from the
//! stylesheet, and are served with `no-cache`.

/// Leaflet's script (1.9.4), loaded only by pages that show a map.
pub const LEAFLET_JS: &str = "/leaflet/leaflet.db49d009c8.js";
/// Leaflet's stylesheet, with the script.
pub const LEAFLET_CSS: &str = "/leaflet/leaflet.a783710282.css";
/// hls.js 1.7.4 (`dist/hls.min.js` of the npm package, Apache-2.0, `public/hls/LICENSE`), added
/// to the page by the live player only when the browser has no native HLS and WebRTC is not an
/// option. Named `<stem>.<hash>.<ext>` like the others (stem `hls.min`), so the server serves it
/// as hashed and its test checks the hash.
pub const HLS_JS: &str = "/hls/hls.min.cfc70cc9e9.js";
/// WeChat's JS-SDK 1.6.0 (`lib/index.js` of the npm package `jweixin-module`, ISC,
/// `public/wx/LICENSE`): loaded only by pages rendered in mini-program embed mode.
pub const WX_JS: &str = "/wx/jweixin.e30fa514a3.js";
/// Our bridge to the mini-program host (`window.jishiHost`: pay hand-off, share), after the SDK.
pub const WX_BRIDGE_JS: &str = "/wx/bridge.c986f2a5fe.js";

/// `window[global]` once the script at `src` has run: adds its `<script>` the first time (later
/// callers wait for the same one) and gives up after `timeout_ms`. For the vendored libraries only
/// some moments need (Leaflet when a map is about to show, hls.js when a stream needs it).
#[cfg(feature = "hydrate")]
pub async fn script_global(
    src: &str,
    global: &str,
    timeout_ms: f64,
) -> Option<wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
    let window = web_sys::window()?;
    let present = || {
        js_sys::Reflect::get(&window, &global.into())
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    if let Some(v) = present() {
        return Some(v);
    }
    let document = window.document()?;
    if document
        .query_selector(&format!("script[src=\"{src}\"]"))
        .ok()
        .flatten()
        .is_none()
    {
        let script: web_sys::HtmlScriptElement =
            document.create_element("script").ok()?.dyn_into().ok()?;
        script.set_src(src);
        script.set_async(true);
        document.head()?.append_child(&script).ok()?;
    }
    let until = js_sys::Date::now() + timeout_ms;
    while js_sys::Date::now() < until {
        if let Some(v) = present() {
            return Some(v);
        }
        sleep_ms(50).await;
    }
    None
}

/// Adds `<link rel=stylesheet href>` to the page unless it is there.
#[cfg(feature = "hydrate")]
pub fn add_stylesheet(href: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let selector = format!("link[href=\"{href}\"]");
    if document.query_selector(&selector).ok().flatten().is_some() {
        return;
    }
    if let (Ok(link), Some(head)) = (document.create_element("link"), document.head()) {
        let _ = link.set_attribute("rel", "stylesheet");
        let _ = link.set_attribute("href", href);
        let _ = head.append_child(&link);
    }
}

/// Resolves after `ms` milliseconds (a browser timer): the player crate's, which the app's
/// other waits share.
#[cfg(feature = "hydrate")]
pub use jishi_player::browser::sleep as sleep_ms;
