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
pub const WX_BRIDGE_JS: &str = "/wx/bridge.62bc7079eb.js";
