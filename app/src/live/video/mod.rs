//! Live video in the browser: the viewer's player and the host's camera.
//!
//! - **Viewer** (`LivePlayer`, inside the room's island; it starts once the page has hydrated
//!   and is idle, `hydration::idle_after_hydration`): WebRTC over WHEP's *server-offer* variant
//!   (the media gateway's Janus cannot take a viewer's offer): `POST {whep}` with no body → `201`
//!   with the SDP offer and a `Location`; the answer, ICE gathered, goes in `PATCH {Location}` → `204`.
//!   HLS instead inside WeChat (no H.264 WebRTC on Android), without `RTCPeerConnection`, or when
//!   WHEP fails (an error other than "nobody publishes", ICE failure, or no frame within 10 s):
//!   the browser's own HLS where it has one, else hls.js, added to the page only then. While
//!   nobody publishes the player says "视频暂不可用" and tries again every 5 s; a stream that
//!   stops moving is started again. Its session is ended (`DELETE {Location}`, keepalive) on
//!   `pagehide`.
//! - **Host** (`CameraPublisher`, inside the console's island): the camera and microphone, a
//!   muted preview, and WHIP: `POST {whip_url}` with the complete offer (H.264 preferred through
//!   `setCodecPreferences`, since the media server takes H.264 42e01f + Opus) → `201` answer +
//!   `Location`; stopping is `DELETE {Location}` and the camera turned off.
//!
//! - **Replay** (`live::replay`): an ended room's recording, a VOD playlist played the same way
//!   as HLS (`play_recording`), with the `<video>`'s own controls.
//!
//! Modules: `player` (the viewer, and recordings), `publisher` (the host's camera, and the console's RTMP address),
//! `js` (the browser side both use: fetch, sessions ended on `pagehide`, WebRTC helpers); here
//! what both need, like the `Location` rule.
//!
//! Every request is same-origin with the cookie (`credentials: same-origin`): the shop's server
//! forwards `/media/*` to the gateway and lets only the room's host publish. The choices
//! (transport, codec order, the `Location` to use, what a refusal means) are plain functions,
//! tested natively; the browser module only drives the APIs. No JS error ends in a panic: every
//! failure becomes the plain message (viewer) or the `failed` state (host).

// The helpers below are used by the browser code (and the tests) only.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

#[cfg(feature = "hydrate")]
mod js;
mod player;
mod publisher;

#[cfg(feature = "hydrate")]
pub(super) use js::play_quietly;
#[cfg(feature = "hydrate")]
pub(super) use player::play_recording;
pub use player::LivePlayer;
pub use publisher::{ask_rtmp, end_rtmp, CameraPublisher};

/// How long ICE gathering may take before the offer or answer goes with the candidates found.
pub const ICE_GATHERING_MS: f64 = 5_000.0;

/// The session URL from a `Location` answered to a `POST` on `endpoint` (a path on this
/// origin, like `/media/whep/r1`). Same-origin only (`origin` is `scheme://host[:port]`): an
/// absolute URL elsewhere is refused. A relative reference is resolved against the endpoint
/// (RFC 3986, without dot segments). A gateway path that lost the proxy's prefix
/// (`/whep/r1/abc` for `/media/whep/r1`) gets it back, so a proxy that forwards `Location` as is
/// still works.
pub fn resolve_location(origin: &str, endpoint: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.is_empty() || location.contains(char::is_whitespace) {
        return None;
    }
    let lower = location.to_ascii_lowercase();
    let scheme_len = ["http://", "https://"]
        .into_iter()
        .find(|s| lower.starts_with(s))
        .map(str::len);
    let path = if let Some(scheme_len) = scheme_len {
        let rest = &location[scheme_len..];
        let host_end = rest.find('/').unwrap_or(rest.len());
        let this_origin = &location[..scheme_len + host_end];
        if !this_origin.eq_ignore_ascii_case(origin.trim_end_matches('/')) {
            return None;
        }
        let path = &rest[host_end..];
        if path.is_empty() {
            return None;
        }
        path.to_owned()
    } else if location.starts_with("//") {
        return None;
    } else if location.starts_with('/') {
        location.to_owned()
    } else {
        let dir = &endpoint[..endpoint.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        format!("{dir}{}", location.trim_start_matches("./"))
    };
    if path.starts_with(endpoint) {
        return Some(path);
    }
    // `/whep/r1/abc` answered for `/media/whep/r1`: the endpoint ends with the location's
    // first two segments.
    let mut segments = path[1..].splitn(3, '/');
    if let (Some(kind), Some(room), Some(_)) = (segments.next(), segments.next(), segments.next()) {
        let tail = format!("/{kind}/{room}");
        if let Some(prefix) = endpoint.strip_suffix(tail.as_str()) {
            if !prefix.is_empty() && !path.starts_with(prefix) {
                return Some(format!("{prefix}{path}"));
            }
        }
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_on_this_origin_only() {
        let o = "https://shop.example";
        let e = "/media/whep/r1";
        assert_eq!(
            resolve_location(o, e, "/media/whep/r1/abc").as_deref(),
            Some("/media/whep/r1/abc")
        );
        assert_eq!(
            resolve_location(o, e, "https://shop.example/media/whep/r1/abc").as_deref(),
            Some("/media/whep/r1/abc")
        );
        assert_eq!(
            resolve_location(o, e, "HTTPS://SHOP.EXAMPLE/media/whep/r1/abc").as_deref(),
            Some("/media/whep/r1/abc")
        );
        // The gateway's own path, forwarded without the proxy's prefix.
        assert_eq!(
            resolve_location(o, e, "/whep/r1/abc").as_deref(),
            Some("/media/whep/r1/abc")
        );
        assert_eq!(
            resolve_location(o, "/media/whip/r1", "/whip/r1/s-9").as_deref(),
            Some("/media/whip/r1/s-9")
        );
        // Relative references, against the endpoint.
        assert_eq!(
            resolve_location(o, e, "r1/abc").as_deref(),
            Some("/media/whep/r1/abc")
        );
        assert_eq!(
            resolve_location(o, e, "./r1/abc").as_deref(),
            Some("/media/whep/r1/abc")
        );
        // Elsewhere, or nothing usable.
        assert_eq!(
            resolve_location(o, e, "https://evil.example/media/whep/r1/abc"),
            None
        );
        assert_eq!(
            resolve_location(o, e, "http://shop.example/media/whep/r1/abc"),
            None
        );
        assert_eq!(resolve_location(o, e, "//evil.example/x"), None);
        assert_eq!(resolve_location(o, e, "https://shop.example"), None);
        assert_eq!(resolve_location(o, e, ""), None);
        assert_eq!(resolve_location(o, e, "/media/whep/r1/a b"), None);
    }
}
