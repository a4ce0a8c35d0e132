//! The viewer's player (`LivePlayer`, part of the room's island): the video area and its states;
//! `jishi_player` decides the transport and plays it.

// The helpers below are used by the browser code (and the tests) only.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use jishi_api::live::Playback;
use jishi_player::{offers_video, PlayerState, Transport};
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::locale;

/// The video area of `/live/:id`. The `<video>` is in the server HTML (muted and inline, so
/// browsers let it start by itself); the transport is picked once the page has hydrated. Part of
/// the room's island (`LiveRoomView`) rather than one of its own: the two shared most of their
/// code, and each island of its own loads its share as more files (on a phone, each a fetch).
#[component]
pub fn LivePlayer(room_id: String, playback: Option<Playback>) -> impl IntoView {
    let playback = playback.filter(offers_video);
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
    //! The room page's side of `jishi_player`: its signals, and hls.js from this site.

    use std::future::Future;
    use std::pin::Pin;

    use jishi_player::browser::{HlsJs, Shop};
    use leptos::prelude::*;
    use wasm_bindgen::JsValue;
    use web_sys::HtmlVideoElement;

    pub(in crate::live) use jishi_player::browser::play_quietly;
    use jishi_player::HLS_JS_LOAD_MS;

    use super::*;

    #[derive(Clone, Copy)]
    pub struct PlayerUi {
        pub transport: RwSignal<Option<Transport>>,
        pub state: RwSignal<PlayerState>,
    }

    impl jishi_player::browser::PlayerUi for PlayerUi {
        fn show(&self, transport: Option<Transport>, state: PlayerState) {
            if transport.is_some() {
                let _ = self.transport.try_set(transport);
            }
            let _ = self.state.try_set(state);
        }
        fn gone(&self) -> bool {
            self.state.try_get_untracked().is_none()
        }
    }

    /// `window.Hls`, adding hls.js's `<script>` (this site's copy) to the page the first time.
    fn hls_js() -> Pin<Box<dyn Future<Output = Option<JsValue>>>> {
        Box::pin(async {
            crate::assets::script_global(crate::assets::HLS_JS, "Hls", HLS_JS_LOAD_MS)
                .await
                .filter(|h| h.is_function())
        })
    }

    const HLS_JS: HlsJs = hls_js;

    pub fn start_player(video: HtmlVideoElement, playback: Playback, ui: PlayerUi) {
        jishi_player::browser::start_player(video, playback, Shop::this_page(), Some(HLS_JS), ui);
    }

    /// Plays a recording (a VOD playlist) in `video`; `false` when this browser cannot.
    pub async fn play_recording(video: &HtmlVideoElement, url: &str) -> bool {
        jishi_player::browser::play_recording(video, url, HLS_JS).await
    }
}

#[cfg(test)]
mod tests {
    use jishi_api::ErrorCode;

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
