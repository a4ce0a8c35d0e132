//! The live room's video player, shared by the shop's room page (`app`, inside its Leptos
//! island) and the brand widget (`widget`, plain DOM): which transport, what a refusal means,
//! where a session lives, and (feature `browser`) the browser side that plays WHEP or HLS, tries
//! again and falls back, and the WebRTC plumbing the host's camera uses too.
//!
//! - **WHEP** (WebRTC), the *server-offer* variant (the media gateway's Janus cannot take a
//!   viewer's offer): `POST {whep}` with no body → `201` with the SDP offer and a `Location`; the
//!   answer, ICE gathered, goes in `PATCH {Location}` → `204`; `DELETE {Location}` ends it (also on
//!   `pagehide`, keepalive).
//! - **HLS** inside WeChat (no H.264 WebRTC on Android), without `RTCPeerConnection`, or when WHEP
//!   fails (an error other than "nobody publishes", ICE failure, or no frame within 10 s): the
//!   browser's own HLS where it has one, else hls.js if the caller can load it.
//! - While nobody publishes the player says "unavailable" and tries again every 5 s; a stream
//!   that stops moving is started again.
//!
//! The choices are plain functions, tested natively; the browser module only drives the APIs.

use jishi_api::error::ErrorBody;
use jishi_api::live::Playback;
use jishi_api::ErrorCode;

#[cfg(feature = "browser")]
pub mod browser;

/// A WHEP session must show its first frame within this, or the player falls back to HLS.
pub const WHEP_FIRST_FRAME_MS: f64 = 10_000.0;
/// HLS needs a playlist and a segment or two first.
pub const HLS_FIRST_FRAME_MS: f64 = 20_000.0;
/// Between two tries while nobody publishes.
pub const RETRY_MS: u32 = 5_000;
/// A stream whose time has not moved for this long (while not paused) is started again.
pub const STALL_MS: f64 = 10_000.0;
/// How long hls.js may take to arrive.
pub const HLS_JS_LOAD_MS: f64 = 30_000.0;

/// How the viewer receives the video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Whep,
    Hls,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Whep => "whep",
            Transport::Hls => "hls",
        }
    }
}

/// What the viewer sees (`data-state` on the video's wrapper).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerState {
    Connecting,
    Playing,
    Unavailable,
}

impl PlayerState {
    pub fn as_str(self) -> &'static str {
        match self {
            PlayerState::Connecting => "connecting",
            PlayerState::Playing => "playing",
            PlayerState::Unavailable => "unavailable",
        }
    }
}

/// WeChat's built-in browser (and its mini-program web-views).
pub fn in_wechat(user_agent: &str) -> bool {
    user_agent.contains("MicroMessenger")
}

fn non_empty(url: Option<&String>) -> Option<&str> {
    url.map(|u| u.trim()).filter(|u| !u.is_empty())
}

/// Whether the room offers any way to play (a shop without media offers none).
pub fn offers_video(playback: &Playback) -> bool {
    non_empty(playback.whep.as_ref()).is_some() || non_empty(playback.hls.as_ref()).is_some()
}

/// The first way to play: HLS inside WeChat (when the room has it), else WHEP where the browser
/// has `RTCPeerConnection`, else HLS. `None`: the room has nothing this browser can play.
pub fn choose_source(
    user_agent: &str,
    has_rtc_peer_connection: bool,
    playback: Option<&Playback>,
) -> Option<(Transport, String)> {
    let playback = playback?;
    let whep = non_empty(playback.whep.as_ref())
        .filter(|_| has_rtc_peer_connection)
        .map(|u| (Transport::Whep, u.to_owned()));
    let hls = non_empty(playback.hls.as_ref()).map(|u| (Transport::Hls, u.to_owned()));
    if in_wechat(user_agent) {
        hls.or(whep)
    } else {
        whep.or(hls)
    }
}

/// Where a failed WHEP session goes next: the room's HLS, if it has one.
pub fn hls_fallback(playback: Option<&Playback>) -> Option<(Transport, String)> {
    non_empty(playback?.hls.as_ref()).map(|u| (Transport::Hls, u.to_owned()))
}

/// Which HLS player: the browser's own when `canPlayType('application/vnd.apple.mpegurl')`
/// answers anything ("maybe", "probably"), else hls.js.
pub fn native_hls(can_play_type_answer: &str) -> bool {
    !can_play_type_answer.trim().is_empty()
}

/// What a refused `POST {whep}` means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Nobody publishes (yet): say so and try again later. The gateway answers `404
    /// no_publisher`, or `404 not_found` for a room no host has published to since it started.
    NoPublisher,
    /// Anything else (busy, full, too many sessions from this address, a proxy's error page):
    /// try the other transport (HLS holds no session on the gateway).
    Failed,
}

pub fn whep_refusal(status: u16, body: &str) -> Refusal {
    if status != 404 {
        return Refusal::Failed;
    }
    match serde_json::from_str::<ErrorBody>(body).map(|b| b.error.code) {
        Ok(ErrorCode::NoPublisher | ErrorCode::NotFound) => Refusal::NoPublisher,
        _ => Refusal::Failed,
    }
}

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

    fn playback(whep: Option<&str>, hls: Option<&str>) -> Playback {
        Playback {
            whep: whep.map(str::to_owned),
            hls: hls.map(str::to_owned),
        }
    }

    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/140.0.0.0 Safari/537.36";
    const WECHAT_ANDROID: &str = "Mozilla/5.0 (Linux; Android 13; V2049A Build/TP1A.220624.014; \
                                  wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 \
                                  Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160117 \
                                  MMWEBSDK/20240404 MMWEBID/2307 MicroMessenger/8.0.49.2600(0x28003133) \
                                  WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64";

    #[test]
    fn webrtc_where_the_browser_has_it_hls_in_wechat_and_without_it() {
        let both = playback(Some("/media/whep/r1"), Some("/media/hls/r1/index.m3u8"));
        let whep = Some((Transport::Whep, "/media/whep/r1".to_owned()));
        let hls = Some((Transport::Hls, "/media/hls/r1/index.m3u8".to_owned()));
        assert_eq!(choose_source(CHROME, true, Some(&both)), whep);
        assert_eq!(choose_source(CHROME, false, Some(&both)), hls);
        assert_eq!(choose_source(WECHAT_ANDROID, true, Some(&both)), hls);
        assert_eq!(choose_source(WECHAT_ANDROID, false, Some(&both)), hls);
        // Only one way offered: that one, if the browser can.
        let only_whep = playback(Some("/media/whep/r1"), None);
        assert_eq!(choose_source(WECHAT_ANDROID, true, Some(&only_whep)), whep);
        assert_eq!(choose_source(CHROME, false, Some(&only_whep)), None);
        let only_hls = playback(None, Some("/media/hls/r1/index.m3u8"));
        assert_eq!(choose_source(CHROME, true, Some(&only_hls)), hls);
        // No playback (a shop without media), or empty URLs: nothing to play.
        assert_eq!(choose_source(CHROME, true, None), None);
        assert_eq!(
            choose_source(CHROME, true, Some(&playback(Some(" "), Some("")))),
            None
        );
        assert_eq!(hls_fallback(Some(&both)), hls);
        assert_eq!(hls_fallback(Some(&only_whep)), None);
        assert_eq!(hls_fallback(None), None);
        assert!(in_wechat(WECHAT_ANDROID) && !in_wechat(CHROME));
    }

    #[test]
    fn native_hls_when_the_browser_says_it_may_play_it() {
        assert!(native_hls("maybe"));
        assert!(native_hls("probably"));
        assert!(!native_hls(""));
    }

    #[test]
    fn only_a_404_about_the_publisher_or_room_means_nobody_publishes() {
        let body = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        assert_eq!(
            whep_refusal(404, &body("no_publisher")),
            Refusal::NoPublisher
        );
        assert_eq!(whep_refusal(404, &body("not_found")), Refusal::NoPublisher);
        // A 404 that is not the gateway's (no media route: the shop's HTML 404 page).
        assert_eq!(
            whep_refusal(404, "<!DOCTYPE html><p>页面不存在</p>"),
            Refusal::Failed
        );
        assert_eq!(whep_refusal(503, &body("room_full")), Refusal::Failed);
        assert_eq!(whep_refusal(503, &body("busy")), Refusal::Failed);
        assert_eq!(whep_refusal(502, ""), Refusal::Failed);
        assert_eq!(whep_refusal(403, &body("forbidden")), Refusal::Failed);
        // Too many sessions from this address: HLS instead, which holds none.
        assert_eq!(
            whep_refusal(429, &body("too_many_requests")),
            Refusal::Failed
        );
        // Another 404 code is not "nobody publishes".
        assert_eq!(whep_refusal(404, &body("sold_out")), Refusal::Failed);
        // The gateway's own body, as the api crate writes it.
        let gateway = jishi_api::ApiError::new(ErrorCode::NoPublisher, "video unavailable");
        let gateway = serde_json::to_string(&gateway.body()).unwrap();
        assert_eq!(whep_refusal(404, &gateway), Refusal::NoPublisher);
    }

    #[test]
    fn states_and_transports_read_as_the_page_marks_them() {
        let states = [
            (PlayerState::Connecting, "connecting"),
            (PlayerState::Playing, "playing"),
            (PlayerState::Unavailable, "unavailable"),
        ];
        for (state, text) in states {
            assert_eq!(state.as_str(), text, "{state:?}");
        }
        for (transport, text) in [(Transport::Whep, "whep"), (Transport::Hls, "hls")] {
            assert_eq!(transport.as_str(), text, "{transport:?}");
        }
    }

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
