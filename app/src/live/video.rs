//! Live video in the browser: the viewer's player and the host's camera.
//!
//! - **Viewer** (`LivePlayer`, a lazy island): WebRTC over WHEP's *server-offer* variant (the
//!   media gateway's Janus cannot take a viewer's offer): `POST {whep}` with no body → `201` with
//!   the SDP offer and a `Location`; the answer, ICE gathered, goes in `PATCH {Location}` → `204`.
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
//! Every request is same-origin with the cookie (`credentials: same-origin`): the shop's server
//! forwards `/media/*` to the gateway and lets only the room's host publish. The choices
//! (transport, codec order, the `Location` to use, what a refusal means) are plain functions,
//! tested natively; the browser module only drives the APIs. No JS error ends in a panic: every
//! failure becomes the plain message (viewer) or the `failed` state (host).

// The helpers below are used by the browser code (and the tests) only.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use jishi_api::live::Playback;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::{locale, Locale};

/// A WHEP session must show its first frame within this, or the player falls back to HLS.
pub const WHEP_FIRST_FRAME_MS: f64 = 10_000.0;
/// HLS needs a playlist and a segment or two first.
pub const HLS_FIRST_FRAME_MS: f64 = 20_000.0;
/// Between two tries while nobody publishes.
pub const RETRY_MS: u32 = 5_000;
/// A stream whose time has not moved for this long (while not paused) is started again.
pub const STALL_MS: f64 = 10_000.0;
/// How long ICE gathering may take before the offer or answer goes with the candidates found.
pub const ICE_GATHERING_MS: f64 = 5_000.0;
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
    /// Anything else (busy, full, a proxy's error page): try the other transport.
    Failed,
}

pub fn whep_refusal(status: u16, body: &str) -> Refusal {
    if status != 404 {
        return Refusal::Failed;
    }
    let code = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .and_then(|e| e.get("code"))
                .and_then(|c| c.as_str())
                .map(str::to_owned)
        });
    match code.as_deref() {
        Some("no_publisher" | "not_found") => Refusal::NoPublisher,
        _ => Refusal::Failed,
    }
}

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

/// A codec as `RTCRtpSender.getCapabilities('video').codecs` lists it, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecCapability {
    pub mime_type: String,
    pub sdp_fmtp_line: Option<String>,
}

fn fmtp_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
    })
}

/// 0 is best: H.264 42e01f with packetization-mode 1 (what the media server wants), then other
/// constrained-baseline H.264 in mode 1, other H.264 in mode 1, other H.264; everything else
/// (VP8, VP9, AV1, and rtx/red/ulpfec, which must stay) after, in the browser's order.
fn h264_rank(codec: &CodecCapability) -> u8 {
    if !codec.mime_type.eq_ignore_ascii_case("video/H264") {
        return 4;
    }
    let fmtp = codec.sdp_fmtp_line.as_deref().unwrap_or("");
    let mode1 = fmtp_value(fmtp, "packetization-mode") == Some("1");
    let profile = fmtp_value(fmtp, "profile-level-id")
        .unwrap_or("")
        .to_ascii_lowercase();
    // profile_idc 0x42 (baseline) with constraint_set1 (0x40): constrained baseline.
    let constrained_baseline = profile.len() == 6
        && profile.starts_with("42")
        && u8::from_str_radix(&profile[2..4], 16).is_ok_and(|c| c & 0x40 != 0);
    match (mode1, profile.as_str()) {
        (true, "42e01f") => 0,
        (true, _) if constrained_baseline => 1,
        (true, _) => 2,
        _ => 3,
    }
}

/// The order for `setCodecPreferences`, as indexes into `codecs`: H.264 first (see `h264_rank`),
/// nothing dropped. `None` when there is no H.264 at all (then the browser's order stays).
pub fn h264_first(codecs: &[CodecCapability]) -> Option<Vec<usize>> {
    if codecs.iter().all(|c| h264_rank(c) == 4) {
        return None;
    }
    let mut order: Vec<usize> = (0..codecs.len()).collect();
    order.sort_by_key(|&i| h264_rank(&codecs[i]));
    Some(order)
}

/// The host's publishing (`data-state` of `publish-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishState {
    Idle,
    Publishing,
    Failed,
}

impl PublishState {
    pub fn as_str(self) -> &'static str {
        match self {
            PublishState::Idle => "idle",
            PublishState::Publishing => "publishing",
            PublishState::Failed => "failed",
        }
    }
}

/// What the host reads when `POST {whip_url}` is refused.
pub fn whip_refusal_message(status: u16, l: Locale) -> String {
    match status {
        401 | 403 => td_string!(l, host.camera.refused_sign_in).to_owned(),
        404 => td_string!(l, host.camera.refused_no_room).to_owned(),
        409 | 503 => td_string!(l, host.camera.refused_busy).to_owned(),
        s => td_string!(l, host.camera.refused_other, status = s),
    }
}

/// The video area of `/live/:id`. The `<video>` is in the server HTML (muted and inline, so
/// browsers let it start by itself); the island picks the transport once hydrated.
#[island(lazy)]
pub fn LivePlayer(room_id: String, playback: Option<Playback>) -> impl IntoView {
    crate::hydration::island_hydrated();
    let playback = playback
        .filter(|p| non_empty(p.whep.as_ref()).is_some() || non_empty(p.hls.as_ref()).is_some());
    let available = playback.is_some();
    let (whep, hls) = playback
        .as_ref()
        .map_or((None, None), |p| (p.whep.clone(), p.hls.clone()));
    let transport = RwSignal::new(None::<Transport>);
    let state = RwSignal::new(if available {
        PlayerState::Connecting
    } else {
        PlayerState::Unavailable
    });
    let muted = RwSignal::new(true);
    let video = NodeRef::<leptos::html::Video>::new();

    #[cfg(feature = "hydrate")]
    if let Some(playback) = playback {
        let ui = browser::PlayerUi { transport, state };
        Effect::new(move |started: Option<bool>| {
            if started == Some(true) {
                return true;
            }
            let Some(el) = video.get() else {
                return false;
            };
            browser::start_player(el, playback.clone(), ui);
            true
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = playback;

    let toggle_sound = move |_| {
        let now_muted = !muted.get_untracked();
        #[cfg(feature = "hydrate")]
        if let Some(el) = video.get_untracked() {
            el.set_muted(now_muted);
            browser::play_quietly(&el);
        }
        muted.set(now_muted);
    };

    let l = locale();
    view! {
        <section class="live-video" aria-label=td_string!(l, host.video.area_label) data-testid="live-video-area"
            data-room-id=room_id data-available=available.to_string()
            data-transport=move || transport.get().map_or("none", Transport::as_str)
            data-state=move || state.get().as_str()>
            <video node_ref=video data-testid="live-video" playsinline="" muted="" autoplay=""
                data-whep=whep data-hls=hls aria-label=td_string!(l, host.video.video_label)></video>
            {move || (state.get() == PlayerState::Unavailable).then(|| view! {
                <p class="live-video-unavailable" data-testid="live-video-unavailable">{td_string!(l, host.video.unavailable)}</p>
            })}
            {move || (state.get() == PlayerState::Playing).then(|| view! {
                <button type="button" class="live-sound" data-testid="unmute"
                    aria-pressed=move || (!muted.get()).to_string() on:click=toggle_sound>
                    {move || if muted.get() {
                        td_string!(l, host.video.sound_on)
                    } else {
                        td_string!(l, host.video.sound_off)
                    }}
                </button>
            })}
        </section>
    }
}

/// The host's camera and WHIP publishing. A plain component inside the console's island: only
/// its wasm chunk carries it.
#[component]
pub fn CameraPublisher(whip_url: String) -> impl IntoView {
    let state = RwSignal::new(PublishState::Idle);
    let camera_on = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let preview = NodeRef::<leptos::html::Video>::new();
    let whip_url = StoredValue::new(whip_url);

    #[cfg(feature = "hydrate")]
    let ui = browser::PublisherUi {
        state,
        camera_on,
        busy,
        error,
    };
    let open_camera = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(el) = preview.get_untracked() {
            browser::open_camera(el, ui);
        }
    };
    let start = move |_| {
        #[cfg(feature = "hydrate")]
        browser::start_publishing(whip_url.get_value(), ui);
        #[cfg(not(feature = "hydrate"))]
        let _ = whip_url;
    };
    let stop = move |_| {
        #[cfg(feature = "hydrate")]
        browser::stop_publishing(preview.get_untracked(), ui);
    };

    let l = locale();
    view! {
        <div class="camera-publisher" data-testid="camera-publisher">
            <video node_ref=preview class="camera-preview" data-testid="camera-preview"
                playsinline="" muted="" autoplay="" aria-label=td_string!(l, host.camera.preview_label)
                class:on=move || camera_on.get()></video>
            <p class="publish-state" data-testid="publish-state" data-state=move || state.get().as_str()
                role="status">
                {move || match state.get() {
                    PublishState::Idle if camera_on.get() => td_string!(l, host.camera.ready),
                    PublishState::Idle => td_string!(l, host.camera.idle),
                    PublishState::Publishing => td_string!(l, host.camera.publishing),
                    PublishState::Failed => td_string!(l, host.camera.failed),
                }}
            </p>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="publish-error">{e}</p> })}
            <p class="camera-actions">
                <button type="button" class="secondary" data-testid="open-camera"
                    disabled=move || camera_on.get() || busy.get() on:click=open_camera>{td_string!(l, host.camera.open)}</button>
                <button type="button" class="primary" data-testid="start-publish"
                    disabled=move || !camera_on.get() || busy.get() || state.get() == PublishState::Publishing
                    on:click=start>{td_string!(l, host.camera.start)}</button>
                <button type="button" class="secondary" data-testid="stop-publish"
                    disabled=move || !camera_on.get() || busy.get() on:click=stop>{td_string!(l, host.camera.stop)}</button>
            </p>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! The browser side: `RTCPeerConnection`, `<video>`, fetch and hls.js. Promises are awaited
    //! (so none is left rejected and unhandled), JS methods that may throw are called through
    //! `Reflect` (so a throw is an `Err`, not a trap), and state is polled on a timer rather than
    //! followed through event handlers (fewer closures to keep alive and free).

    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use gloo_net::http::{Method, RequestBuilder};
    use js_sys::{Array, Function, Object, Promise, Reflect};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        HtmlMediaElement, HtmlScriptElement, HtmlVideoElement, MediaStream, MediaStreamConstraints,
        MediaStreamTrack, RequestCredentials, RequestInit, RtcIceConnectionState,
        RtcIceGatheringState, RtcPeerConnection, RtcPeerConnectionState,
        RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit,
        RtcTrackEvent,
    };

    use super::*;

    // ---- small helpers ----------------------------------------------------------------------

    fn now() -> f64 {
        js_sys::Date::now()
    }

    async fn sleep(ms: u32) {
        let promise = Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    &resolve,
                    i32::try_from(ms).unwrap_or(i32::MAX),
                );
            }
        });
        let _ = JsFuture::from(promise).await;
    }

    /// `target[method](...args)`, a throw being an `Err`.
    fn call(target: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
        let f: Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
        let list = Array::new();
        for a in args {
            list.push(a);
        }
        f.apply(target, &list)
    }

    fn origin() -> String {
        web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default()
    }

    /// `play()` without waiting: its promise settles only once media flows (or is refused).
    pub fn play_quietly(video: &HtmlMediaElement) {
        if let Ok(p) = video.play() {
            spawn_local(async move {
                let _ = JsFuture::from(p).await;
            });
        }
    }

    fn log(message: &str) {
        leptos::logging::log!("live video: {message}");
    }

    // ---- HTTP ---------------------------------------------------------------------------------

    struct Answer {
        status: u16,
        location: Option<String>,
        body: String,
    }

    /// A same-origin request with the cookie; `sdp` as `application/sdp`.
    async fn request(method: Method, url: &str, sdp: Option<&str>) -> Result<Answer, ()> {
        let builder = RequestBuilder::new(url)
            .method(method)
            .credentials(RequestCredentials::SameOrigin)
            .header("accept", "application/sdp, application/json");
        let request = match sdp {
            Some(sdp) => builder
                .header("content-type", "application/sdp")
                .body(sdp.to_owned()),
            None => builder.build(),
        }
        .map_err(drop)?;
        let response = request.send().await.map_err(drop)?;
        Ok(Answer {
            status: response.status(),
            location: response.headers().get("location"),
            body: response.text().await.unwrap_or_default(),
        })
    }

    /// `DELETE url`, not waited for.
    fn delete_session(url: String) {
        spawn_local(async move {
            let _ = request(Method::DELETE, &url, None).await;
        });
    }

    thread_local! {
        /// The sessions (WHEP and WHIP `Location`s) this page holds, ended on `pagehide`.
        static SESSIONS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
        static PAGEHIDE_HOOKED: Cell<bool> = const { Cell::new(false) };
    }

    fn hold_session(location: &str) {
        hook_pagehide();
        SESSIONS.with_borrow_mut(|s| s.push(location.to_owned()));
    }

    /// Ends a session unless `pagehide` already did.
    fn end_session(location: &str) {
        let held = SESSIONS.with_borrow_mut(|s| {
            let before = s.len();
            s.retain(|l| l != location);
            s.len() != before
        });
        if held {
            delete_session(location.to_owned());
        }
    }

    /// On `pagehide`: `DELETE` each session with `keepalive`, which outlives the page.
    fn hook_pagehide() {
        if PAGEHIDE_HOOKED.replace(true) {
            return;
        }
        let Some(window) = web_sys::window() else {
            return;
        };
        let on_pagehide = Closure::<dyn FnMut()>::new(move || {
            let Some(window) = web_sys::window() else {
                return;
            };
            for location in SESSIONS.with_borrow_mut(std::mem::take) {
                let init = RequestInit::new();
                init.set_method("DELETE");
                init.set_credentials(RequestCredentials::SameOrigin);
                let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
                let pending = window.fetch_with_str_and_init(&location, &init);
                spawn_local(async move {
                    let _ = JsFuture::from(pending).await;
                });
            }
        });
        let _ = window
            .add_event_listener_with_callback("pagehide", on_pagehide.as_ref().unchecked_ref());
        // Listens for the page's whole life.
        on_pagehide.forget();
    }

    // ---- WebRTC -------------------------------------------------------------------------------

    /// Until ICE gathering is complete (no trickle: the SDP sent carries every candidate), or
    /// `ICE_GATHERING_MS` (then with the candidates found so far).
    async fn ice_gathered(pc: &RtcPeerConnection) {
        let until = now() + ICE_GATHERING_MS;
        while pc.ice_gathering_state() != RtcIceGatheringState::Complete && now() < until {
            sleep(50).await;
        }
    }

    fn local_sdp(pc: &RtcPeerConnection) -> Option<String> {
        pc.local_description()
            .map(|d| d.sdp())
            .filter(|s| !s.is_empty())
    }

    fn failed(pc: &RtcPeerConnection) -> bool {
        matches!(
            pc.connection_state(),
            RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed
        ) || pc.ice_connection_state() == RtcIceConnectionState::Failed
    }

    fn has_rtc_peer_connection() -> bool {
        web_sys::window()
            .is_some_and(|w| Reflect::has(&w, &"RTCPeerConnection".into()).unwrap_or(false))
    }

    // ---- the viewer ---------------------------------------------------------------------------

    #[derive(Clone, Copy)]
    pub struct PlayerUi {
        pub transport: RwSignal<Option<Transport>>,
        pub state: RwSignal<PlayerState>,
    }

    impl PlayerUi {
        fn show(&self, transport: Transport, state: PlayerState) {
            let _ = self.transport.try_set(Some(transport));
            let _ = self.state.try_set(state);
        }
        fn gone(&self) -> bool {
            self.state.try_get_untracked().is_none()
        }
    }

    /// How a session ended.
    enum Ended {
        NoPublisher,
        /// Before its first frame: try the other transport.
        Failed,
        /// After playing: start again.
        Stalled,
        /// This browser cannot play this transport at all.
        Unsupported,
    }

    pub fn start_player(video: HtmlVideoElement, playback: Playback, ui: PlayerUi) {
        spawn_local(async move {
            video.set_muted(true);
            let ua = web_sys::window()
                .and_then(|w| w.navigator().user_agent().ok())
                .unwrap_or_default();
            let Some(mut source) = choose_source(&ua, has_rtc_peer_connection(), Some(&playback))
            else {
                let _ = ui.state.try_set(PlayerState::Unavailable);
                return;
            };
            ui.show(source.0, PlayerState::Connecting);
            while !ui.gone() {
                let (transport, url) = (source.0, source.1.clone());
                let ended = match transport {
                    Transport::Whep => whep_session(&video, &url, ui).await,
                    Transport::Hls => hls_session(&video, &url, ui).await,
                };
                match ended {
                    Ended::Stalled => {
                        log("the stream stopped; starting again");
                        ui.show(transport, PlayerState::Connecting);
                        sleep(1_000).await;
                    }
                    Ended::Failed if transport == Transport::Whep => {
                        match hls_fallback(Some(&playback)) {
                            Some(hls) => {
                                log("WebRTC failed; HLS instead");
                                source = hls;
                                ui.show(Transport::Hls, PlayerState::Connecting);
                            }
                            None => {
                                ui.show(transport, PlayerState::Unavailable);
                                sleep(RETRY_MS).await;
                            }
                        }
                    }
                    Ended::NoPublisher | Ended::Failed => {
                        ui.show(transport, PlayerState::Unavailable);
                        sleep(RETRY_MS).await;
                    }
                    Ended::Unsupported => {
                        ui.show(transport, PlayerState::Unavailable);
                        return;
                    }
                }
            }
        });
    }

    /// Polls the video until it fails or stalls: `first_frame_ms` for the first frame, then
    /// `STALL_MS` of no progress while it is not paused. `broken` says the transport gave up.
    async fn watch(
        video: &HtmlVideoElement,
        ui: PlayerUi,
        transport: Transport,
        first_frame_ms: f64,
        broken: impl Fn() -> bool,
    ) -> Ended {
        let started = now();
        let mut playing = false;
        let mut last_time = video.current_time();
        let mut last_move = started;
        loop {
            sleep(250).await;
            if ui.gone() {
                return Ended::Stalled;
            }
            let t = now();
            if broken() {
                return if playing {
                    Ended::Stalled
                } else {
                    Ended::Failed
                };
            }
            let time = video.current_time();
            if time != last_time {
                last_time = time;
                last_move = t;
            }
            if !playing {
                if video.video_width() > 0 {
                    playing = true;
                    last_move = t;
                    ui.show(transport, PlayerState::Playing);
                    // Muted autoplay is allowed, but `autoplay` alone may not start a stream
                    // that arrived after the element was ready.
                    if video.paused() {
                        play_quietly(video);
                    }
                } else if t - started > first_frame_ms {
                    return Ended::Failed;
                }
            } else if !video.paused() && t - last_move > STALL_MS {
                return Ended::Stalled;
            }
        }
    }

    async fn whep_session(video: &HtmlVideoElement, endpoint: &str, ui: PlayerUi) -> Ended {
        let Ok(offer) = request(Method::POST, endpoint, None).await else {
            return Ended::Failed;
        };
        if offer.status != 201 && offer.status != 200 {
            return match whep_refusal(offer.status, &offer.body) {
                Refusal::NoPublisher => Ended::NoPublisher,
                Refusal::Failed => {
                    log(&format!("WHEP answered {}", offer.status));
                    Ended::Failed
                }
            };
        }
        let Some(location) = offer
            .location
            .as_deref()
            .and_then(|l| resolve_location(&origin(), endpoint, l))
        else {
            log("WHEP answered no usable Location");
            return Ended::Failed;
        };
        hold_session(&location);
        let Ok(pc) = RtcPeerConnection::new() else {
            end_session(&location);
            return Ended::Unsupported;
        };
        let stream = MediaStream::new().ok();
        video.set_src_object(stream.as_ref());
        let on_track = Closure::<dyn FnMut(RtcTrackEvent)>::new(move |e: RtcTrackEvent| {
            if let Some(s) = &stream {
                s.add_track(&e.track());
            }
        });
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));

        let ended = match answer_offer(&pc, &offer.body, &location).await {
            Ok(()) => {
                play_quietly(video);
                watch(video, ui, Transport::Whep, WHEP_FIRST_FRAME_MS, || {
                    failed(&pc)
                })
                .await
            }
            Err(e) => {
                log(&format!("WHEP setup failed: {e:?}"));
                Ended::Failed
            }
        };
        pc.set_ontrack(None);
        pc.close();
        drop(on_track);
        video.set_src_object(None);
        end_session(&location);
        ended
    }

    /// The server's offer in, our complete answer `PATCH`ed to the session.
    async fn answer_offer(
        pc: &RtcPeerConnection,
        offer: &str,
        location: &str,
    ) -> Result<(), JsValue> {
        let remote = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        remote.set_sdp(offer);
        JsFuture::from(pc.set_remote_description(&remote)).await?;
        let answer: RtcSessionDescriptionInit =
            JsFuture::from(pc.create_answer()).await?.unchecked_into();
        JsFuture::from(pc.set_local_description(&answer)).await?;
        ice_gathered(pc).await;
        let sdp = local_sdp(pc).ok_or_else(|| JsValue::from_str("no local description"))?;
        match request(Method::PATCH, location, Some(&sdp)).await {
            Ok(a) if (200..300).contains(&a.status) => Ok(()),
            Ok(a) => Err(JsValue::from_str(&format!("PATCH answered {}", a.status))),
            Err(()) => Err(JsValue::from_str("PATCH failed")),
        }
    }

    async fn hls_session(video: &HtmlVideoElement, url: &str, ui: PlayerUi) -> Ended {
        if native_hls(&video.can_play_type("application/vnd.apple.mpegurl")) {
            video.set_src(url);
            play_quietly(video);
            let ended = watch(video, ui, Transport::Hls, HLS_FIRST_FRAME_MS, || {
                video.error().is_some()
            })
            .await;
            let _ = video.remove_attribute("src");
            video.load();
            return ended;
        }
        let Some(hls_class) = hls_js().await else {
            log("hls.js did not load");
            return Ended::Failed;
        };
        let supported = call(&hls_class, "isSupported", &[])
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if !supported {
            return Ended::Unsupported;
        }
        let config = Object::new();
        for (key, value) in [
            ("lowLatencyMode", JsValue::TRUE),
            // The page's CSP allows no blob: workers.
            ("enableWorker", JsValue::FALSE),
            // 1 s segments: play ~2 s behind the live edge, catch up past ~5 s.
            ("liveSyncDurationCount", JsValue::from(2)),
            ("liveMaxLatencyDurationCount", JsValue::from(5)),
            ("maxLiveSyncPlaybackRate", JsValue::from(1.5)),
            ("backBufferLength", JsValue::from(10)),
            ("manifestLoadingMaxRetry", JsValue::from(1)),
        ] {
            let _ = Reflect::set(&config, &key.into(), &value);
        }
        let args = Array::of1(&config);
        let Ok(hls) = Reflect::construct(hls_class.unchecked_ref::<Function>(), &args) else {
            return Ended::Failed;
        };
        let fatal = Rc::new(Cell::new(false));
        let on_error = {
            let fatal = fatal.clone();
            Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_event: JsValue, data: JsValue| {
                if Reflect::get(&data, &"fatal".into())
                    .ok()
                    .and_then(|f| f.as_bool())
                    == Some(true)
                {
                    fatal.set(true);
                }
            })
        };
        let error_event = Reflect::get(&hls_class, &"Events".into())
            .and_then(|e| Reflect::get(&e, &"ERROR".into()))
            .ok()
            .filter(JsValue::is_string)
            .unwrap_or_else(|| "hlsError".into());
        let started = call(&hls, "on", &[&error_event, on_error.as_ref()])
            .and_then(|_| call(&hls, "loadSource", &[&JsValue::from_str(url)]))
            .and_then(|_| call(&hls, "attachMedia", &[video.as_ref()]));
        let ended = match started {
            Ok(_) => {
                play_quietly(video);
                watch(video, ui, Transport::Hls, HLS_FIRST_FRAME_MS, || {
                    fatal.get()
                })
                .await
            }
            Err(_) => Ended::Failed,
        };
        let _ = call(&hls, "destroy", &[]);
        drop(on_error);
        ended
    }

    /// `window.Hls`, adding hls.js's `<script>` to the page the first time.
    async fn hls_js() -> Option<JsValue> {
        let window = web_sys::window()?;
        let present = || {
            Reflect::get(&window, &"Hls".into())
                .ok()
                .filter(|h| h.is_function())
        };
        if let Some(h) = present() {
            return Some(h);
        }
        let document = window.document()?;
        let selector = format!("script[src=\"{}\"]", crate::assets::HLS_JS);
        if document.query_selector(&selector).ok().flatten().is_none() {
            let script: HtmlScriptElement =
                document.create_element("script").ok()?.dyn_into().ok()?;
            script.set_src(crate::assets::HLS_JS);
            script.set_async(true);
            document.head()?.append_child(&script).ok()?;
        }
        let until = now() + HLS_JS_LOAD_MS;
        while now() < until {
            if let Some(h) = present() {
                return Some(h);
            }
            sleep(100).await;
        }
        None
    }

    // ---- the host -----------------------------------------------------------------------------

    #[derive(Clone, Copy)]
    pub struct PublisherUi {
        pub state: RwSignal<PublishState>,
        pub camera_on: RwSignal<bool>,
        pub busy: RwSignal<bool>,
        pub error: RwSignal<Option<String>>,
    }

    /// The page's one camera and its publishing session.
    #[derive(Default)]
    struct Publisher {
        stream: Option<MediaStream>,
        pc: Option<RtcPeerConnection>,
        location: Option<String>,
        /// Bumped at every start and stop: a watcher of an older session stops.
        generation: u32,
    }

    thread_local! {
        static PUBLISHER: RefCell<Publisher> = RefCell::new(Publisher::default());
    }

    pub fn open_camera(preview: HtmlVideoElement, ui: PublisherUi) {
        ui.busy.set(true);
        ui.error.set(None);
        spawn_local(async move {
            match camera().await {
                Ok(stream) => {
                    preview.set_muted(true);
                    preview.set_src_object(Some(&stream));
                    play_quietly(&preview);
                    PUBLISHER.with_borrow_mut(|p| p.stream = Some(stream));
                    let _ = ui.camera_on.try_set(true);
                }
                Err(e) => {
                    log(&format!("getUserMedia: {e:?}"));
                    let _ = ui.error.try_set(Some(
                        td_string!(locale(), host.camera.camera_denied).to_owned(),
                    ));
                }
            }
            let _ = ui.busy.try_set(false);
        });
    }

    async fn camera() -> Result<MediaStream, JsValue> {
        let devices = web_sys::window()
            .ok_or(JsValue::NULL)?
            .navigator()
            .media_devices()?;
        let video = Object::new();
        Reflect::set(&video, &"width".into(), &JsValue::from(1280))?;
        Reflect::set(&video, &"height".into(), &JsValue::from(720))?;
        let constraints = MediaStreamConstraints::new();
        constraints.set_video(&video);
        constraints.set_audio(&JsValue::TRUE);
        let stream = JsFuture::from(devices.get_user_media_with_constraints(&constraints)?).await?;
        stream.dyn_into()
    }

    /// H.264 first in the video transceiver's codec list, from the sender's capabilities (or
    /// the receiver's, which older Chromium checks against). Left as it is if neither works.
    fn prefer_h264(transceiver: &JsValue) {
        let Some(window) = web_sys::window() else {
            return;
        };
        for class in ["RTCRtpSender", "RTCRtpReceiver"] {
            let codecs = Reflect::get(&window, &class.into())
                .and_then(|c| call(&c, "getCapabilities", &[&"video".into()]))
                .and_then(|caps| Reflect::get(&caps, &"codecs".into()))
                .ok()
                .filter(Array::is_array)
                .map(JsCast::unchecked_into::<Array>);
            let Some(codecs) = codecs else {
                continue;
            };
            let plain: Vec<CodecCapability> = codecs
                .iter()
                .map(|c| CodecCapability {
                    mime_type: Reflect::get(&c, &"mimeType".into())
                        .ok()
                        .and_then(|v| v.as_string())
                        .unwrap_or_default(),
                    sdp_fmtp_line: Reflect::get(&c, &"sdpFmtpLine".into())
                        .ok()
                        .and_then(|v| v.as_string()),
                })
                .collect();
            let Some(order) = h264_first(&plain) else {
                continue;
            };
            let ordered: Array = order
                .into_iter()
                .filter_map(|i| u32::try_from(i).ok())
                .map(|i| codecs.get(i))
                .collect();
            if call(transceiver, "setCodecPreferences", &[&ordered]).is_ok() {
                return;
            }
        }
        log("could not prefer H.264; the browser's codec order stays");
    }

    pub fn start_publishing(whip_url: String, ui: PublisherUi) {
        let Some(stream) = PUBLISHER.with_borrow(|p| p.stream.clone()) else {
            return;
        };
        ui.busy.set(true);
        ui.error.set(None);
        let generation = PUBLISHER.with_borrow_mut(|p| {
            p.generation += 1;
            p.generation
        });
        spawn_local(async move {
            let result = publish(&stream, &whip_url).await;
            let current = PUBLISHER.with_borrow(|p| p.generation) == generation;
            match result {
                Ok((pc, location)) if current => {
                    hold_session(&location);
                    PUBLISHER.with_borrow_mut(|p| {
                        p.pc = Some(pc.clone());
                        p.location = Some(location.clone());
                    });
                    let _ = ui.state.try_set(PublishState::Publishing);
                    let _ = ui.busy.try_set(false);
                    watch_publishing(pc, location, generation, ui).await;
                }
                Ok((pc, location)) => {
                    // Stopped meanwhile.
                    pc.close();
                    delete_session(location);
                }
                Err(message) => {
                    log(&message);
                    if current {
                        let _ = ui.error.try_set(Some(message));
                        let _ = ui.state.try_set(PublishState::Failed);
                        let _ = ui.busy.try_set(false);
                    }
                }
            }
        });
    }

    /// The WHIP exchange: sendonly transceivers for the tracks, H.264 first, the complete offer.
    async fn publish(
        stream: &MediaStream,
        whip_url: &str,
    ) -> Result<(RtcPeerConnection, String), String> {
        let l = locale();
        let pc = RtcPeerConnection::new()
            .map_err(|_| td_string!(l, host.camera.unsupported).to_owned())?;
        let setup = async {
            for track in stream.get_tracks().iter() {
                let Ok(track) = track.dyn_into::<MediaStreamTrack>() else {
                    continue;
                };
                let init = RtcRtpTransceiverInit::new();
                init.set_direction(RtcRtpTransceiverDirection::Sendonly);
                init.set_streams(&Array::of1(stream));
                let transceiver = call(
                    pc.as_ref(),
                    "addTransceiver",
                    &[track.as_ref(), init.as_ref()],
                )?;
                if track.kind() == "video" {
                    prefer_h264(&transceiver);
                }
            }
            let offer: RtcSessionDescriptionInit =
                JsFuture::from(pc.create_offer()).await?.unchecked_into();
            JsFuture::from(pc.set_local_description(&offer)).await?;
            ice_gathered(&pc).await;
            local_sdp(&pc).ok_or(JsValue::NULL)
        };
        let offer = match setup.await {
            Ok(sdp) => sdp,
            Err(e) => {
                pc.close();
                log(&format!("WHIP offer: {e:?}"));
                return Err(td_string!(l, host.camera.prepare_failed).to_owned());
            }
        };
        let answer = match request(Method::POST, whip_url, Some(&offer)).await {
            Ok(a) => a,
            Err(()) => {
                pc.close();
                return Err(td_string!(l, host.camera.network).to_owned());
            }
        };
        if answer.status != 201 && answer.status != 200 {
            pc.close();
            return Err(whip_refusal_message(answer.status, l));
        }
        let location = answer
            .location
            .as_deref()
            .and_then(|l| resolve_location(&origin(), whip_url, l));
        let Some(location) = location else {
            pc.close();
            return Err(td_string!(l, host.camera.answer_incomplete).to_owned());
        };
        let remote = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        remote.set_sdp(&answer.body);
        if let Err(e) = JsFuture::from(pc.set_remote_description(&remote)).await {
            log(&format!("WHIP answer: {e:?}"));
            pc.close();
            delete_session(location);
            return Err(td_string!(l, host.camera.answer_unusable).to_owned());
        }
        Ok((pc, location))
    }

    /// Until this session is stopped or its connection fails.
    async fn watch_publishing(
        pc: RtcPeerConnection,
        location: String,
        generation: u32,
        ui: PublisherUi,
    ) {
        loop {
            sleep(500).await;
            if PUBLISHER.with_borrow(|p| p.generation) != generation
                || ui.state.try_get_untracked().is_none()
            {
                return;
            }
            if failed(&pc) {
                pc.close();
                end_session(&location);
                PUBLISHER.with_borrow_mut(|p| {
                    p.pc = None;
                    p.location = None;
                });
                let _ = ui.error.try_set(Some(
                    td_string!(locale(), host.camera.interrupted).to_owned(),
                ));
                let _ = ui.state.try_set(PublishState::Failed);
                return;
            }
        }
    }

    pub fn stop_publishing(preview: Option<HtmlVideoElement>, ui: PublisherUi) {
        let (pc, location, stream) = PUBLISHER.with_borrow_mut(|p| {
            p.generation += 1;
            (p.pc.take(), p.location.take(), p.stream.take())
        });
        if let Some(pc) = pc {
            pc.close();
        }
        if let Some(location) = location {
            end_session(&location);
        }
        if let Some(stream) = stream {
            for track in stream.get_tracks().iter() {
                if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
                    track.stop();
                }
            }
        }
        if let Some(preview) = preview {
            preview.set_src_object(None);
        }
        ui.camera_on.set(false);
        ui.busy.set(false);
        ui.error.set(None);
        ui.state.set(PublishState::Idle);
    }
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

    fn codec(mime: &str, fmtp: Option<&str>) -> CodecCapability {
        CodecCapability {
            mime_type: mime.to_owned(),
            sdp_fmtp_line: fmtp.map(str::to_owned),
        }
    }

    #[test]
    fn h264_42e01f_in_packetization_mode_1_comes_first_and_nothing_is_dropped() {
        // Chromium's video capabilities, in its order.
        let codecs = vec![
            codec("video/VP8", None),
            codec("video/rtx", None),
            codec("video/VP9", Some("profile-id=0")),
            codec(
                "video/H264",
                Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"),
            ),
            codec(
                "video/H264",
                Some("level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"),
            ),
            codec(
                "video/H264",
                Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
            ),
            codec(
                "video/H264",
                Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"),
            ),
            codec(
                "video/h264",
                Some("packetization-mode=1; profile-level-id=42E034"),
            ),
            codec("video/AV1", None),
            codec("video/red", None),
            codec("video/ulpfec", None),
        ];
        let order = h264_first(&codecs).expect("has H.264");
        assert_eq!(order, vec![5, 7, 3, 6, 4, 0, 1, 2, 8, 9, 10]);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..codecs.len()).collect::<Vec<_>>());
        // 42001f is baseline without constraint_set1: after constrained baseline (42e034).
        assert!(
            order.iter().position(|&i| i == 7) < order.iter().position(|&i| i == 3),
            "{order:?}"
        );
        assert_eq!(
            h264_first(&[codec("video/VP8", None), codec("video/rtx", None)]),
            None
        );
        assert_eq!(h264_first(&[]), None);
    }

    #[test]
    fn states_and_refusals_read_plainly() {
        assert_eq!(PlayerState::Connecting.as_str(), "connecting");
        assert_eq!(PlayerState::Playing.as_str(), "playing");
        assert_eq!(PlayerState::Unavailable.as_str(), "unavailable");
        assert_eq!(Transport::Whep.as_str(), "whep");
        assert_eq!(Transport::Hls.as_str(), "hls");
        assert_eq!(PublishState::Publishing.as_str(), "publishing");
        assert!(whip_refusal_message(403, Locale::zh_CN).contains("主播"));
        assert!(whip_refusal_message(500, Locale::zh_CN).contains("500"));
    }
}

#[cfg(all(test, feature = "ssr"))]
mod render_tests {
    use super::*;

    #[test]
    fn the_player_renders_its_video_and_states_on_the_server() {
        let html = Owner::new().with(|| {
            let playback = Some(Playback {
                whep: Some("/media/whep/r1".into()),
                hls: Some("/media/hls/r1/index.m3u8".into()),
            });
            view! { <LivePlayer room_id="r1".to_owned() playback/> }.to_html()
        });
        assert!(html.contains("<leptos-island"), "{html}");
        assert!(html.contains(r#"data-transport="none""#), "{html}");
        assert!(html.contains(r#"data-state="connecting""#), "{html}");
        assert!(html.contains(r#"data-testid="live-video""#), "{html}");
        for attr in ["playsinline", "muted", "autoplay"] {
            assert!(html.contains(attr), "{attr} in {html}");
        }
        assert!(!html.contains("视频暂不可用"), "{html}");

        let html = Owner::new()
            .with(|| view! { <LivePlayer room_id="r1".to_owned() playback=None/> }.to_html());
        assert!(html.contains(r#"data-state="unavailable""#), "{html}");
        assert!(html.contains("视频暂不可用"), "{html}");
    }

    #[test]
    fn the_camera_publisher_starts_idle_with_its_controls() {
        let html = Owner::new()
            .with(|| view! { <CameraPublisher whip_url="/media/whip/r1".to_owned()/> }.to_html());
        for hook in [
            r#"data-testid="camera-preview""#,
            r#"data-testid="open-camera""#,
            r#"data-testid="start-publish""#,
            r#"data-testid="stop-publish""#,
            r#"data-state="idle""#,
        ] {
            assert!(html.contains(hook), "{hook} in {html}");
        }
    }
}
