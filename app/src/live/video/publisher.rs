//! The host's camera (`CameraPublisher`, inside the console's island): H.264 first, WHIP, what a
//! refusal reads as; and the console's RTMP address for OBS, asked of the media gateway.

// The helpers below are used by the browser code (and the tests) only.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use jishi_api::live::RtmpEndpoint;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::{locale, Locale};

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

/// `POST {rtmp_request_url}` (the room's host only): the broadcast's RTMP address and stream key,
/// from the media gateway (it starts the room's listener, with a new key, if none runs). The
/// error is the sentence to show.
pub async fn ask_rtmp(rtmp_request_url: String) -> Result<RtmpEndpoint, String> {
    #[cfg(feature = "hydrate")]
    {
        let shop = jishi_player::browser::Shop::this_page();
        let answer = jishi_player::browser::request(&shop, "POST", &rtmp_request_url, None).await;
        match answer {
            Ok(a) if (200..300).contains(&a.status) => {
                serde_json::from_str(&a.body).map_err(|_| {
                    crate::lang::error_code_message(jishi_api::ErrorCode::BadGateway, locale())
                        .to_owned()
                })
            }
            other => Err(media_refusal(other.ok().map(|a| a.body).as_deref())),
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = rtmp_request_url;
        Err(media_refusal(None))
    }
}

/// `DELETE {rtmp_request_url}`: ends the broadcast's listener; its key stops working.
pub async fn end_rtmp(rtmp_request_url: String) -> Result<(), String> {
    #[cfg(feature = "hydrate")]
    {
        let shop = jishi_player::browser::Shop::this_page();
        match jishi_player::browser::request(&shop, "DELETE", &rtmp_request_url, None).await {
            Ok(a) if (200..300).contains(&a.status) => Ok(()),
            other => Err(media_refusal(other.ok().map(|a| a.body).as_deref())),
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = rtmp_request_url;
        Err(media_refusal(None))
    }
}

/// The sentence for a refused media request: the shop's error in `body` if it has one, else
/// the network's.
fn media_refusal(body: Option<&str>) -> String {
    let l = locale();
    match body.and_then(|b| serde_json::from_str::<jishi_api::error::ErrorBody>(b).ok()) {
        Some(e) => crate::lang::api_error_message(&e.error, l),
        None => td_string!(l, errors.network).to_owned(),
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! The camera, the WHIP session, and stopping both.

    use std::cell::RefCell;

    use js_sys::{Array, Object, Reflect};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        HtmlVideoElement, MediaStream, MediaStreamConstraints, MediaStreamTrack, RtcPeerConnection,
        RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit,
    };

    use super::*;
    use jishi_player::browser::{
        call, delete_session, end_session, failed, hold_session, ice_gathered, local_sdp, log,
        play_quietly, request, sleep, Shop,
    };
    use jishi_player::resolve_location;

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
                    hold_session(&Shop::this_page(), &location);
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
                    delete_session(&Shop::this_page(), location);
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
        let shop = Shop::this_page();
        let answer = match request(&shop, "POST", whip_url, Some(&offer)).await {
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
            .and_then(|l| resolve_location(&shop.origin, whip_url, l));
        let Some(location) = location else {
            pc.close();
            return Err(td_string!(l, host.camera.answer_incomplete).to_owned());
        };
        let remote = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        remote.set_sdp(&answer.body);
        if let Err(e) = JsFuture::from(pc.set_remote_description(&remote)).await {
            log(&format!("WHIP answer: {e:?}"));
            pc.close();
            delete_session(&shop, location);
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
                end_session(&Shop::this_page(), &location);
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
            end_session(&Shop::this_page(), &location);
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
        for (state, text) in [
            (PublishState::Idle, "idle"),
            (PublishState::Publishing, "publishing"),
            (PublishState::Failed, "failed"),
        ] {
            assert_eq!(state.as_str(), text, "{state:?}");
        }
        // What the host reads for each refusal of `POST {whip_url}`, in both languages.
        let zh = [
            (401, "只有已登录的主播可以推流，请重新登录后再试"),
            (403, "只有已登录的主播可以推流，请重新登录后再试"),
            (404, "推流服务没有找到这个直播间"),
            (409, "推流服务正忙，请稍后再试"),
            (503, "推流服务正忙，请稍后再试"),
            (500, "推流失败（500），请稍后再试"),
            (502, "推流失败（502），请稍后再试"),
        ];
        for (status, text) in zh {
            assert_eq!(
                whip_refusal_message(status, Locale::zh_CN),
                text,
                "{status}"
            );
        }
        let en = [
            (
                401,
                "Only a signed-in host can stream. Please sign in again and retry",
            ),
            (
                403,
                "Only a signed-in host can stream. Please sign in again and retry",
            ),
            (404, "The streaming service could not find this live room"),
            (
                409,
                "The streaming service is busy. Please try again shortly",
            ),
            (
                503,
                "The streaming service is busy. Please try again shortly",
            ),
            (500, "Streaming failed (500). Please try again shortly"),
        ];
        for (status, text) in en {
            assert_eq!(whip_refusal_message(status, Locale::en), text, "{status}");
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod render_tests {
    use super::*;

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
