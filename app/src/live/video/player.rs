//! The viewer's player (`LivePlayer`, part of the room's island): which transport, what a
//! refusal means, and the browser side that plays WHEP or HLS and tries again.

// The helpers below are used by the browser code (and the tests) only.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use jishi_api::error::ErrorBody;
use jishi_api::live::Playback;
use jishi_api::ErrorCode;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::locale;

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

/// The video area of `/live/:id`. The `<video>` is in the server HTML (muted and inline, so
/// browsers let it start by itself); the transport is picked once the page has hydrated. Part of
/// the room's island (`LiveRoomView`) rather than one of its own: the two shared most of their
/// code, and each island of its own loads its share as more files (on a phone, each a fetch).
#[component]
pub fn LivePlayer(room_id: String, playback: Option<Playback>) -> impl IntoView {
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
            // After the rest of the page: the video's start (WebRTC, the decoder) is the heaviest
            // work on a phone, and the bag and the buy button matter first.
            let playback = playback.clone();
            leptos::task::spawn_local(async move {
                crate::hydration::idle_after_hydration().await;
                browser::start_player(el, playback, ui);
            });
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

#[cfg(feature = "hydrate")]
pub(in crate::live) use browser::play_recording;

#[cfg(feature = "hydrate")]
mod browser {
    //! Plays WHEP or HLS in the `<video>`, falls back and tries again.

    use std::cell::Cell;
    use std::rc::Rc;

    use gloo_net::http::Method;
    use js_sys::{Array, Function, Object, Reflect};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        HtmlVideoElement, MediaStream, RtcPeerConnection, RtcSdpType, RtcSessionDescriptionInit,
        RtcTrackEvent,
    };

    pub(super) use super::super::js::play_quietly;
    use super::super::js::{
        call, end_session, failed, has_rtc_peer_connection, hold_session, ice_gathered, local_sdp,
        log, now, origin, request, sleep,
    };
    use super::super::resolve_location;
    use super::*;

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
        // The tracks go to the video in the stream they arrive in, attached once: adding a track
        // to a stream a video already plays makes the browser rebuild its player on the main
        // thread (70 ms of a phone's start-up in a Lighthouse trace, for each track).
        let own_stream = MediaStream::new().ok();
        let player = video.clone();
        let on_track = Closure::<dyn FnMut(RtcTrackEvent)>::new(move |e: RtcTrackEvent| {
            let stream = e.streams().get(0).dyn_into::<MediaStream>().ok();
            let stream = match (stream, &own_stream) {
                (Some(theirs), _) => theirs,
                // A track in no stream (no msid in the offer): ours, before it is attached.
                (None, Some(ours)) => {
                    ours.add_track(&e.track());
                    ours.clone()
                }
                (None, None) => return,
            };
            if player.src_object().as_ref() != Some(&stream) {
                player.set_src_object(Some(&stream));
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

    /// Plays a recording (a VOD playlist) in `video`: the browser's own HLS where it has one,
    /// else hls.js. `false` when neither can. Seeking and pausing are the `<video>`'s own.
    pub async fn play_recording(video: &HtmlVideoElement, url: &str) -> bool {
        if native_hls(&video.can_play_type("application/vnd.apple.mpegurl")) {
            video.set_src(url);
            return true;
        }
        let Some(hls_class) = hls_js().await else {
            log("hls.js did not load");
            return false;
        };
        let supported = call(&hls_class, "isSupported", &[])
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let config = Object::new();
        // The page's CSP allows no blob: workers.
        let _ = Reflect::set(&config, &"enableWorker".into(), &JsValue::FALSE);
        let Some(hls) = supported
            .then(|| {
                Reflect::construct(hls_class.unchecked_ref::<Function>(), &Array::of1(&config)).ok()
            })
            .flatten()
        else {
            return false;
        };
        // hls.js stays with the `<video>` (its MediaSource) for the page's life.
        call(&hls, "loadSource", &[&JsValue::from_str(url)])
            .and_then(|_| call(&hls, "attachMedia", &[video.as_ref()]))
            .is_ok()
    }

    /// `window.Hls`, adding hls.js's `<script>` to the page the first time.
    async fn hls_js() -> Option<JsValue> {
        crate::assets::script_global(crate::assets::HLS_JS, "Hls", HLS_JS_LOAD_MS)
            .await
            .filter(|h| h.is_function())
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
    fn the_media_refusals_read_plainly_in_both_languages() {
        use crate::lang::{error_code_message, Locale};
        for code in [
            ErrorCode::NoPublisher,
            ErrorCode::RoomFull,
            ErrorCode::Busy,
            ErrorCode::UnsupportedMediaType,
        ] {
            let (zh, en) = (
                error_code_message(code, Locale::zh_CN),
                error_code_message(code, Locale::en),
            );
            assert!(!zh.is_empty() && !en.is_empty() && zh != en, "{code:?}");
            assert!(en.is_ascii(), "{code:?}: {en}");
        }
        assert_eq!(
            error_code_message(ErrorCode::NoPublisher, Locale::zh_CN),
            "视频暂不可用：主播还没有开始推流。"
        );
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
}
