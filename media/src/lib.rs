//! `jishi-media`: the shop's media gateway, a small process in front of Janus (Debian's 1.1.2).
//!
//! It owns Janus and every ffmpeg it needs as children (supervised, killed with it: see
//! [`proc`]) and speaks plain HTTP to the shop's server:
//!
//! - `POST /whip/{room}` (WHIP): a host's WebRTC offer → 201, the answer, `Location`.
//! - `POST /whep/{room}` → 201 with Janus's **offer** and `Location`; `PATCH` the Location with
//!   the browser's answer → 204. This is WHEP's server-offer variant: Janus 1.1.2 subscribers
//!   cannot take a client's offer.
//! - `GET /hls/{room}/index.m3u8` and its segments (the fallback where WebRTC fails).
//! - `POST`/`DELETE /rtmp/{room}` (OBS ingest), `GET /rooms/{room}`, `GET /healthz`.
//!
//! **The gateway trusts its caller.** It checks no token: the shop's server authorises hosts
//! and viewers and forwards only requests it allowed, with the viewer's address in
//! `x-jishi-client-ip` (WHEP sessions are capped per address). So it binds to loopback by
//! default (`MEDIA_ADDR=127.0.0.1:3200`); never expose it directly. Only the WebRTC media ports
//! and the RTMP ports are meant to be reachable from outside.
//!
//! Modules: [`gateway`] (state and requests), [`commands`] (the children's command lines),
//! [`ports`] (ports and folders, several gateways per machine), [`proc`] (supervised children),
//! [`janus`] (Janus's HTTP API), [`janus_conf`], [`sdp`], [`settings`], [`http`], [`error`],
//! [`testing`] (for tests that need Janus).
//! The contract shared with the shop (room ids, HLS names, answers) is `jishi_api::media`.

pub mod commands;
pub mod error;
pub mod gateway;
pub mod http;
pub mod janus;
pub mod janus_conf;
pub mod ports;
pub mod proc;
pub mod sdp;
pub mod settings;
pub mod testing;

pub use error::MediaError;
pub use gateway::Gateway;
pub use settings::Settings;

use std::future::Future;

/// Starts the gateway and serves HTTP until `shutdown` resolves; then stops every child.
pub async fn serve(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MediaError> {
    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    let gw = Gateway::start(settings).await?;
    tracing::info!(addr = %listener.local_addr()?, "jishi-media listening");
    let served = axum::serve(listener, http::router(gw.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    gw.shutdown().await;
    Ok(served?)
}
