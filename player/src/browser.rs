//! The browser side (wasm): timers, fetch to the shop's `/media/*` with the page's sessions
//! ended on `pagehide`, the `RTCPeerConnection` helpers, and the viewer's player. Promises are
//! awaited (so none is left rejected and unhandled), JS methods that may throw are called through
//! `Reflect` (so a throw is an `Err`, not a trap), and state is polled on a timer rather than
//! followed through event handlers (fewer closures to keep alive and free).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use jishi_api::live::Playback;
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    HtmlMediaElement, HtmlVideoElement, MediaStream, RequestCredentials, RequestInit,
    RtcIceConnectionState, RtcIceGatheringState, RtcPeerConnection, RtcPeerConnectionState,
    RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
};

use crate::*;

// ---- the shop ------------------------------------------------------------------------------

/// The shop whose `/media/*` is asked: this page's own origin with its cookie (the shop's
/// pages), or another origin without credentials (the widget on a brand's page; the shop
/// answers it with CORS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shop {
    /// `scheme://host[:port]`: where a session's `Location` must be.
    pub origin: String,
    /// What a path is prefixed with to be fetched: empty on the shop's own pages.
    base: String,
    credentials: RequestCredentials,
}

impl Shop {
    /// The shop's own pages: paths on this origin, with the cookie.
    pub fn this_page() -> Shop {
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        Shop {
            origin,
            base: String::new(),
            credentials: RequestCredentials::SameOrigin,
        }
    }

    /// The shop at `origin`, from a page elsewhere: absolute URLs, never credentials.
    pub fn elsewhere(origin: &str) -> Shop {
        let origin = origin.trim_end_matches('/').to_owned();
        Shop {
            base: origin.clone(),
            origin,
            credentials: RequestCredentials::Omit,
        }
    }

    /// A path on the shop as this page fetches it.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') && !path.starts_with("//") {
            format!("{}{path}", self.base)
        } else {
            path.to_owned()
        }
    }
}

// ---- small helpers ----------------------------------------------------------------------

pub fn now() -> f64 {
    js_sys::Date::now()
}

/// Resolves after `ms` milliseconds (a browser timer).
pub async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
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
pub fn call(target: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    let list = Array::new();
    for a in args {
        list.push(a);
    }
    f.apply(target, &list)
}

/// `play()` without waiting: its promise settles only once media flows (or is refused).
pub fn play_quietly(video: &HtmlMediaElement) {
    if let Ok(p) = video.play() {
        spawn_local(async move {
            let _ = JsFuture::from(p).await;
        });
    }
}

pub fn log(message: &str) {
    web_sys::console::log_1(&JsValue::from_str(&format!("live video: {message}")));
}

// ---- HTTP ---------------------------------------------------------------------------------

pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// `method path` on the shop; `sdp` as `application/sdp`.
pub async fn request(
    shop: &Shop,
    method: &str,
    path: &str,
    sdp: Option<&str>,
) -> Result<Answer, ()> {
    let window = web_sys::window().ok_or(())?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(shop.credentials);
    let headers = Object::new();
    let _ = Reflect::set(
        &headers,
        &"accept".into(),
        &"application/sdp, application/json".into(),
    );
    if let Some(sdp) = sdp {
        let _ = Reflect::set(&headers, &"content-type".into(), &"application/sdp".into());
        init.set_body(&JsValue::from_str(sdp));
    }
    init.set_headers(&headers);
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str_and_init(&shop.url(path), &init))
            .await
            .map_err(drop)?
            .dyn_into()
            .map_err(drop)?;
    let body = match response.text() {
        Ok(text) => JsFuture::from(text)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok(Answer {
        status: response.status(),
        location: response.headers().get("location").ok().flatten(),
        body,
    })
}

/// `DELETE path`, not waited for.
pub fn delete_session(shop: &Shop, path: String) {
    let shop = shop.clone();
    spawn_local(async move {
        let _ = request(&shop, "DELETE", &path, None).await;
    });
}

thread_local! {
    /// The sessions (WHEP and WHIP `Location`s) this page holds, ended on `pagehide`.
    static SESSIONS: RefCell<Vec<(Shop, String)>> = const { RefCell::new(Vec::new()) };
    static PAGEHIDE_HOOKED: Cell<bool> = const { Cell::new(false) };
}

pub fn hold_session(shop: &Shop, location: &str) {
    hook_pagehide();
    SESSIONS.with_borrow_mut(|s| s.push((shop.clone(), location.to_owned())));
}

/// Ends a session unless `pagehide` already did.
pub fn end_session(shop: &Shop, location: &str) {
    let held = SESSIONS.with_borrow_mut(|s| {
        let before = s.len();
        s.retain(|(_, l)| l != location);
        s.len() != before
    });
    if held {
        delete_session(shop, location.to_owned());
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
        for (shop, location) in SESSIONS.with_borrow_mut(std::mem::take) {
            let init = RequestInit::new();
            init.set_method("DELETE");
            init.set_credentials(shop.credentials);
            let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
            let pending = window.fetch_with_str_and_init(&shop.url(&location), &init);
            spawn_local(async move {
                let _ = JsFuture::from(pending).await;
            });
        }
    });
    let _ =
        window.add_event_listener_with_callback("pagehide", on_pagehide.as_ref().unchecked_ref());
    // Listens for the page's whole life.
    on_pagehide.forget();
}

// ---- WebRTC -------------------------------------------------------------------------------

/// Until ICE gathering is complete (no trickle: the SDP sent carries every candidate), or
/// `ICE_GATHERING_MS` (then with the candidates found so far).
pub async fn ice_gathered(pc: &RtcPeerConnection) {
    let until = now() + ICE_GATHERING_MS;
    while pc.ice_gathering_state() != RtcIceGatheringState::Complete && now() < until {
        sleep(50).await;
    }
}

pub fn local_sdp(pc: &RtcPeerConnection) -> Option<String> {
    pc.local_description()
        .map(|d| d.sdp())
        .filter(|s| !s.is_empty())
}

pub fn failed(pc: &RtcPeerConnection) -> bool {
    matches!(
        pc.connection_state(),
        RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed
    ) || pc.ice_connection_state() == RtcIceConnectionState::Failed
}

pub fn has_rtc_peer_connection() -> bool {
    web_sys::window()
        .is_some_and(|w| Reflect::has(&w, &"RTCPeerConnection".into()).unwrap_or(false))
}

// ---- the viewer's player ------------------------------------------------------------------

/// Where the player shows what it is doing (the room page's signals, the widget's attributes).
pub trait PlayerUi: Clone + 'static {
    /// `transport`: the one tried, or `None` when the room offers nothing this browser plays.
    fn show(&self, transport: Option<Transport>, state: PlayerState);
    /// Nobody watches any more (the page moved on): the player stops.
    fn gone(&self) -> bool;
}

/// Loads hls.js and gives its class (`window.Hls`), for browsers without their own HLS. `None`
/// (the widget, which adds nothing to a brand's page): HLS only where the browser has it.
pub type HlsJs = fn() -> Pin<Box<dyn Future<Output = Option<JsValue>>>>;

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

/// Plays the room's video in `video` from `shop` until `ui` is gone: the first way
/// `choose_source` picks, HLS after a failed WHEP, again after a stall, and every `RETRY_MS`
/// while nobody publishes (or, when the browser plays no HLS after WHEP failed, WHEP again).
pub fn start_player(
    video: HtmlVideoElement,
    playback: Playback,
    shop: Shop,
    hls_js: Option<HlsJs>,
    ui: impl PlayerUi,
) {
    spawn_local(async move {
        video.set_muted(true);
        let ua = web_sys::window()
            .and_then(|w| w.navigator().user_agent().ok())
            .unwrap_or_default();
        let Some(mut source) = choose_source(&ua, has_rtc_peer_connection(), Some(&playback))
        else {
            ui.show(None, PlayerState::Unavailable);
            return;
        };
        let first = source.clone();
        ui.show(Some(source.0), PlayerState::Connecting);
        while !ui.gone() {
            let (transport, url) = (source.0, source.1.clone());
            let ended = match transport {
                Transport::Whep => whep_session(&video, &shop, &url, &ui).await,
                Transport::Hls => hls_session(&video, &shop.url(&url), hls_js, &ui).await,
            };
            match ended {
                Ended::Stalled => {
                    log("the stream stopped; starting again");
                    ui.show(Some(transport), PlayerState::Connecting);
                    sleep(1_000).await;
                }
                Ended::Failed if transport == Transport::Whep => {
                    match hls_fallback(Some(&playback)) {
                        Some(hls) => {
                            log("WebRTC failed; HLS instead");
                            source = hls;
                            ui.show(Some(Transport::Hls), PlayerState::Connecting);
                        }
                        None => {
                            ui.show(Some(transport), PlayerState::Unavailable);
                            sleep(RETRY_MS).await;
                        }
                    }
                }
                Ended::NoPublisher | Ended::Failed => {
                    ui.show(Some(transport), PlayerState::Unavailable);
                    sleep(RETRY_MS).await;
                }
                Ended::Unsupported if transport == Transport::Hls && first.0 == Transport::Whep => {
                    // No HLS here (the widget loads no hls.js): WebRTC again, later.
                    ui.show(Some(transport), PlayerState::Unavailable);
                    sleep(RETRY_MS).await;
                    source = first.clone();
                }
                Ended::Unsupported => {
                    ui.show(Some(transport), PlayerState::Unavailable);
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
    ui: &impl PlayerUi,
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
                ui.show(Some(transport), PlayerState::Playing);
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

async fn whep_session(
    video: &HtmlVideoElement,
    shop: &Shop,
    endpoint: &str,
    ui: &impl PlayerUi,
) -> Ended {
    let Ok(offer) = request(shop, "POST", endpoint, None).await else {
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
        .and_then(|l| resolve_location(&shop.origin, endpoint, l))
    else {
        log("WHEP answered no usable Location");
        return Ended::Failed;
    };
    hold_session(shop, &location);
    let Ok(pc) = RtcPeerConnection::new() else {
        end_session(shop, &location);
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

    let ended = match answer_offer(&pc, shop, &offer.body, &location).await {
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
    end_session(shop, &location);
    ended
}

/// The server's offer in, our complete answer `PATCH`ed to the session.
async fn answer_offer(
    pc: &RtcPeerConnection,
    shop: &Shop,
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
    match request(shop, "PATCH", location, Some(&sdp)).await {
        Ok(a) if (200..300).contains(&a.status) => Ok(()),
        Ok(a) => Err(JsValue::from_str(&format!("PATCH answered {}", a.status))),
        Err(()) => Err(JsValue::from_str("PATCH failed")),
    }
}

async fn hls_session(
    video: &HtmlVideoElement,
    url: &str,
    hls_js: Option<HlsJs>,
    ui: &impl PlayerUi,
) -> Ended {
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
    let Some(hls_js) = hls_js else {
        return Ended::Unsupported;
    };
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
pub async fn play_recording(video: &HtmlVideoElement, url: &str, hls_js: HlsJs) -> bool {
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
