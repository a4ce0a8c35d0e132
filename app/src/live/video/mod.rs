//! Live video in the browser: the viewer's player and the host's camera.
//!
//! - **Viewer** (`LivePlayer`, inside the room's island; it starts once the page has hydrated
//!   and is idle, `hydration::idle_after_hydration`): the video area, played by the
//!   `jishi_player` crate (WHEP where the browser can, HLS inside WeChat, without
//!   `RTCPeerConnection` or when WHEP fails; hls.js from this site only where the browser has no
//!   HLS of its own). The brand widget plays through the same crate. While nobody publishes the
//!   area says "视频暂不可用".
//! - **Host** (`CameraPublisher`, inside the console's island): the camera and microphone, a
//!   muted preview, and WHIP: `POST {whip_url}` with the complete offer (H.264 preferred through
//!   `setCodecPreferences`, since the media server takes H.264 42e01f + Opus) → `201` answer +
//!   `Location`; stopping is `DELETE {Location}` and the camera turned off. Its fetch, session
//!   and WebRTC helpers are `jishi_player::browser`'s.
//! - **Replay** (`live::replay`): an ended room's recording, a VOD playlist played the same way
//!   as HLS (`play_recording`), with the `<video>`'s own controls.
//!
//! Every request here is same-origin with the cookie (`Shop::this_page`): the shop's server
//! forwards `/media/*` to the gateway and lets only the room's host publish. No JS error ends in
//! a panic: every failure becomes the plain message (viewer) or the `failed` state (host).

// The helpers below are used by the browser code (and the tests) only.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

mod player;
mod publisher;

#[cfg(feature = "hydrate")]
pub(super) use jishi_player::browser::play_quietly;
#[cfg(feature = "hydrate")]
pub(super) use player::play_recording;
pub use player::LivePlayer;
pub use publisher::{ask_rtmp, end_rtmp, CameraPublisher};
