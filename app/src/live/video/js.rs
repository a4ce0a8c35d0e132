//! The browser side shared by the player and the publisher (built for the browser only):
//! timers, fetch to `/media/*` with the page's sessions ended on `pagehide`, and the
//! `RTCPeerConnection` helpers. Promises are awaited (so none is left rejected and unhandled),
//! JS methods that may throw are called through `Reflect` (so a throw is an `Err`, not a trap),
//! and state is polled on a timer rather than followed through event handlers (fewer closures
//! to keep alive and free).

use std::cell::{Cell, RefCell};

use gloo_net::http::{Method, RequestBuilder};
use js_sys::{Array, Function, Reflect};
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlMediaElement, RequestCredentials, RequestInit, RtcIceConnectionState, RtcIceGatheringState,
    RtcPeerConnection, RtcPeerConnectionState,
};

use super::ICE_GATHERING_MS;

// ---- small helpers ----------------------------------------------------------------------

pub(super) fn now() -> f64 {
    js_sys::Date::now()
}

pub(super) async fn sleep(ms: u32) {
    crate::assets::sleep_ms(ms).await
}

/// `target[method](...args)`, a throw being an `Err`.
pub(super) fn call(target: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    let list = Array::new();
    for a in args {
        list.push(a);
    }
    f.apply(target, &list)
}

pub(super) fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// `play()` without waiting: its promise settles only once media flows (or is refused).
pub(in crate::live) fn play_quietly(video: &HtmlMediaElement) {
    if let Ok(p) = video.play() {
        spawn_local(async move {
            let _ = JsFuture::from(p).await;
        });
    }
}

pub(super) fn log(message: &str) {
    leptos::logging::log!("live video: {message}");
}

// ---- HTTP ---------------------------------------------------------------------------------

pub(super) struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// A same-origin request with the cookie; `sdp` as `application/sdp`.
pub(super) async fn request(method: Method, url: &str, sdp: Option<&str>) -> Result<Answer, ()> {
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
pub(super) fn delete_session(url: String) {
    spawn_local(async move {
        let _ = request(Method::DELETE, &url, None).await;
    });
}

thread_local! {
    /// The sessions (WHEP and WHIP `Location`s) this page holds, ended on `pagehide`.
    static SESSIONS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static PAGEHIDE_HOOKED: Cell<bool> = const { Cell::new(false) };
}

pub(super) fn hold_session(location: &str) {
    hook_pagehide();
    SESSIONS.with_borrow_mut(|s| s.push(location.to_owned()));
}

/// Ends a session unless `pagehide` already did.
pub(super) fn end_session(location: &str) {
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
    let _ =
        window.add_event_listener_with_callback("pagehide", on_pagehide.as_ref().unchecked_ref());
    // Listens for the page's whole life.
    on_pagehide.forget();
}

// ---- WebRTC -------------------------------------------------------------------------------

/// Until ICE gathering is complete (no trickle: the SDP sent carries every candidate), or
/// `ICE_GATHERING_MS` (then with the candidates found so far).
pub(super) async fn ice_gathered(pc: &RtcPeerConnection) {
    let until = now() + ICE_GATHERING_MS;
    while pc.ice_gathering_state() != RtcIceGatheringState::Complete && now() < until {
        sleep(50).await;
    }
}

pub(super) fn local_sdp(pc: &RtcPeerConnection) -> Option<String> {
    pc.local_description()
        .map(|d| d.sdp())
        .filter(|s| !s.is_empty())
}

pub(super) fn failed(pc: &RtcPeerConnection) -> bool {
    matches!(
        pc.connection_state(),
        RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed
    ) || pc.ice_connection_state() == RtcIceConnectionState::Failed
}

pub(super) fn has_rtc_peer_connection() -> bool {
    web_sys::window()
        .is_some_and(|w| Reflect::has(&w, &"RTCPeerConnection".into()).unwrap_or(false))
}
