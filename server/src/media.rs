//! Live video: the media gateway (`jishi-media`, Janus behind it) started in-process like the
//! platform, or one elsewhere (`JISHI_MEDIA_URL`), and `/media/*`, the browser's only way to it.
//!
//! The gateway trusts its caller, so the checks are here: publishing (WHIP, RTMP) only for the
//! room's signed-in host, which the platform decides (`GET /v1/live/rooms/{id}/host` answers 200
//! for the host only); viewing (WHEP, HLS) for anyone. Only the listed routes are forwarded, with
//! the ids checked, so a path never reaches the gateway other than as allowed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use jishi_api::media::{is_room_id, is_session_id, HlsFile};
use jishi_api::{ApiError, ErrorCode};
use jishi_app::platform_client::ShopperSession;

use crate::client::ClientInfo;
use crate::proxy::ProxyError;
use crate::{AppState, Shutdown};

/// SDP offers and answers are a few KiB; anything bigger is not one.
const MAX_SDP_BYTES: usize = 64 * 1024;

/// Where the media gateway is, as the server reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// `JISHI_MEDIA_URL=none`: no video; rooms say so and everything else works.
    Off,
    /// `JISHI_MEDIA_URL=<url>`: a gateway running elsewhere.
    Remote(String),
    /// Unset: start one in this process (needs Janus and ffmpeg installed; without them, off).
    Embedded,
}

impl MediaSource {
    pub fn from_setting(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            None | Some("") => MediaSource::Embedded,
            Some("none") | Some("off") => MediaSource::Off,
            Some(url) => MediaSource::Remote(url.trim_end_matches('/').to_owned()),
        }
    }
}

/// A running (or reachable) gateway: its base URL, and the in-process one if we started it.
pub struct StartedMedia {
    pub url: String,
    pub embedded: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the embedded gateway on a loopback port with `demo_rooms` looping a test picture, or
/// names the remote one. `None` when video is off or cannot start (the shop runs without it).
pub async fn start_media(
    source: &MediaSource,
    demo_rooms: &[&str],
    shutdown: &Shutdown,
) -> Option<StartedMedia> {
    match source {
        MediaSource::Off => None,
        MediaSource::Remote(url) => Some(StartedMedia {
            url: url.clone(),
            embedded: None,
        }),
        MediaSource::Embedded => {
            let mut settings = match jishi_media::Settings::from_env() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "live video off: bad media setting");
                    return None;
                }
            };
            if !installed(&settings.janus_bin) || !installed(&settings.ffmpeg_bin) {
                tracing::warn!(
                    janus = %settings.janus_bin.display(),
                    ffmpeg = %settings.ffmpeg_bin.display(),
                    "live video off: Janus or ffmpeg is not installed (scripts/setup.sh installs them)"
                );
                return None;
            }
            if settings.demo_rooms.is_none() {
                let rooms = demo_rooms
                    .iter()
                    .filter_map(|r| jishi_api::media::RoomId::parse(r).ok())
                    .collect();
                settings.demo_rooms = Some(rooms);
            }
            let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "live video off: no loopback port for the gateway");
                    return None;
                }
            };
            let url = match listener.local_addr() {
                Ok(addr) => format!("http://{addr}"),
                Err(e) => {
                    tracing::warn!(error = %e, "live video off");
                    return None;
                }
            };
            let gateway = match jishi_media::Gateway::start(settings).await {
                Ok(g) => g,
                Err(e) => {
                    // e.g. "JISHI_MEDIA_JANUS_PORT 3288 is taken by another process …"
                    tracing::warn!("live video off: the media gateway did not start: {e}");
                    return None;
                }
            };
            let stop = shutdown.clone();
            let running = tokio::spawn(async move {
                let served = axum::serve(listener, jishi_media::http::router(gateway.clone()))
                    .with_graceful_shutdown(async move { stop.wait().await })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "media gateway stopped");
                }
                // Janus and every ffmpeg go with it.
                gateway.shutdown().await;
            });
            tracing::info!(%url, "media gateway started (Janus)");
            Some(StartedMedia {
                url,
                embedded: Some(running),
            })
        }
    }
}

/// Whether `program` can be run: a path that exists, or a bare name found on `PATH`.
fn installed(program: &std::path::Path) -> bool {
    if program.components().count() > 1 {
        return program.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// What a `/media/…` request may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaRoute {
    Publish,
    Unpublish,
    Rtmp,
    StopRtmp,
    View,
    Answer,
    StopViewing,
    Hls,
    /// An ended room's recording (its playlist or a segment).
    Replay,
}

impl MediaRoute {
    fn host_only(self) -> bool {
        matches!(
            self,
            MediaRoute::Publish | MediaRoute::Unpublish | MediaRoute::Rtmp | MediaRoute::StopRtmp
        )
    }
}

/// The route and room of a raw path after `/media/`, or `None` (404).
fn parse(method: &Method, raw: &str) -> Option<(MediaRoute, String)> {
    let segments: Vec<&str> = raw.split('/').collect();
    let session = |room: &str, id: &str| is_room_id(room) && is_session_id(id);
    let route = match (method.as_str(), segments.as_slice()) {
        ("POST", ["whip", room]) if is_room_id(room) => MediaRoute::Publish,
        ("DELETE", ["whip", room, id]) if session(room, id) => MediaRoute::Unpublish,
        ("POST", ["rtmp", room]) if is_room_id(room) => MediaRoute::Rtmp,
        ("DELETE", ["rtmp", room]) if is_room_id(room) => MediaRoute::StopRtmp,
        ("POST", ["whep", room]) if is_room_id(room) => MediaRoute::View,
        ("PATCH", ["whep", room, id]) if session(room, id) => MediaRoute::Answer,
        ("DELETE", ["whep", room, id]) if session(room, id) => MediaRoute::StopViewing,
        ("GET" | "HEAD", ["hls", room, file])
            if is_room_id(room) && HlsFile::parse(file).is_some() =>
        {
            MediaRoute::Hls
        }
        ("GET" | "HEAD", ["replay", room, file])
            if is_room_id(room) && HlsFile::parse(file).is_some() =>
        {
            MediaRoute::Replay
        }
        _ => return None,
    };
    Some((route, segments[1].to_owned()))
}

/// The gateway's `Location` (`/whep/{room}/{id}`) as the browser must use it (`/media/…`).
fn public_location(location: &str) -> Option<HeaderValue> {
    let path = location.strip_prefix('/')?;
    HeaderValue::from_str(&format!("/media/{path}")).ok()
}

fn unavailable() -> ProxyError {
    ApiError::new(
        ErrorCode::PlatformUnavailable,
        "视频服务暂不可用，直播间的其他功能不受影响",
    )
    .into()
}

/// Asks the platform whether the request's shopper hosts `room` (its answer's error otherwise).
async fn require_host(
    state: &AppState,
    token: Option<String>,
    room: &str,
) -> Result<(), ProxyError> {
    let token =
        token.ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "请先以主播身份登录"))?;
    let res = state
        .platform
        .http()
        .get(
            state
                .platform
                .url(&jishi_api::routes::LIVE_HOST.path(&[room])),
        )
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| ProxyError(jishi_app::platform_client::upstream_error(&e)))?;
    if res.status().is_success() {
        return Ok(());
    }
    let body: jishi_api::error::ErrorBody = res.json().await.map_err(|_| {
        ProxyError(ApiError::new(
            ErrorCode::BadGateway,
            "平台响应异常，请稍后重试",
        ))
    })?;
    Err(body.error.into())
}

/// `/media/{*path}`: checks, then forwards to the gateway and passes its answer back.
pub async fn forward(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ProxyError> {
    let Some(base) = state.media.clone() else {
        return Err(unavailable());
    };
    let raw = request
        .uri()
        .path()
        .strip_prefix("/media/")
        .unwrap_or_default()
        .to_owned();
    let (route, room) = parse(request.method(), &raw)
        .ok_or_else(|| ProxyError(ApiError::not_found("没有这个视频地址")))?;
    if route.host_only() {
        let token = request
            .extensions()
            .get::<ShopperSession>()
            .map(|ShopperSession(t)| t.clone());
        require_host(&state, token, &room).await?;
    }
    let method = request.method().clone();
    let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
    // The gateway caps WHEP sessions per client: the address this server believes (its
    // TRUSTED_PROXIES), never a header the browser wrote.
    let client_ip = request
        .extensions()
        .get::<ClientInfo>()
        .and_then(|c| c.ip)
        .and_then(|ip| HeaderValue::from_str(&ip.to_string()).ok());
    let body = axum::body::to_bytes(request.into_body(), MAX_SDP_BYTES)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, "请求体太大"))?;
    let mut outgoing = state
        .platform
        .http()
        .request(method, format!("{base}/{raw}"))
        .body(body);
    if let Some(ct) = content_type {
        outgoing = outgoing.header(header::CONTENT_TYPE, ct);
    }
    if let Some(ip) = client_ip {
        outgoing = outgoing.header(jishi_api::headers::CLIENT_IP, ip);
    }
    let answer = outgoing.send().await.map_err(|e| {
        tracing::warn!(error = %e, "media gateway unreachable");
        unavailable()
    })?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(v) = answer.headers().get(name.as_str()) {
            if let Ok(v) = HeaderValue::from_bytes(v.as_bytes()) {
                headers.insert(name, v);
            }
        }
    }
    if let Some(location) = answer
        .headers()
        .get(header::LOCATION.as_str())
        .and_then(|v| v.to_str().ok())
        .and_then(public_location)
    {
        headers.insert(header::LOCATION, location);
    }
    if !matches!(route, MediaRoute::Hls | MediaRoute::Replay) {
        // SDP and session ids are one viewer's own.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let mut response = Response::new(Body::from_stream(answer.bytes_stream()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// The gateway's base URL in `AppState`.
pub type MediaBase = Option<Arc<str>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_media_routes_with_plain_ids_are_forwarded() {
        let ok = |m: Method, p: &str| parse(&m, p);
        assert_eq!(
            ok(Method::POST, "whip/live_bj1"),
            Some((MediaRoute::Publish, "live_bj1".into()))
        );
        assert_eq!(
            ok(Method::PATCH, "whep/live_bj1/0123abcd").map(|x| x.0),
            Some(MediaRoute::Answer)
        );
        assert_eq!(
            ok(Method::GET, "hls/live_bj1/index.m3u8").map(|x| x.0),
            Some(MediaRoute::Hls)
        );
        assert_eq!(
            ok(Method::GET, "hls/live_bj1/seg1764.ts").map(|x| x.0),
            Some(MediaRoute::Hls)
        );
        assert_eq!(
            ok(Method::GET, "replay/live_bj1/index.m3u8").map(|x| x.0),
            Some(MediaRoute::Replay)
        );
        assert_eq!(
            ok(Method::HEAD, "replay/live_bj1/seg1765100000.ts").map(|x| x.0),
            Some(MediaRoute::Replay)
        );
        assert_eq!(
            ok(Method::DELETE, "rtmp/live_bj1").map(|x| x.0),
            Some(MediaRoute::StopRtmp)
        );
        for (m, p) in [
            (Method::GET, "hls/live_bj1/../../etc/passwd"),
            (Method::GET, "hls/live_bj1/seg.ts"),
            (Method::GET, "hls/live_bj1/seg123456789012345678901.ts"),
            (Method::GET, "hls/live_bj1/x.m3u8"),
            (Method::GET, "replay/live_bj1/rec-1.m3u8"),
            (Method::GET, "replay/live_bj1/../seg1.ts"),
            (Method::POST, "replay/live_bj1/index.m3u8"),
            (Method::GET, "rooms/live_bj1"),
            (Method::GET, "healthz"),
            (Method::POST, "whip/live%2Fbj1"),
            (Method::POST, "whip/"),
            (Method::GET, "whep/live_bj1"),
            (Method::DELETE, "whip/live_bj1"),
        ] {
            assert!(parse(&m, p).is_none(), "{m} {p}");
        }
        assert!(MediaRoute::Publish.host_only() && MediaRoute::Rtmp.host_only());
        assert!(MediaRoute::StopRtmp.host_only());
        assert!(!MediaRoute::View.host_only() && !MediaRoute::Hls.host_only());
    }

    #[test]
    fn the_gateways_location_is_given_back_under_media() {
        assert_eq!(
            public_location("/whep/live_bj1/abc").unwrap(),
            "/media/whep/live_bj1/abc"
        );
        assert!(public_location("whep/x").is_none());
        assert!(installed(std::path::Path::new("sh")));
        assert!(!installed(std::path::Path::new("no-such-program-here")));
        assert_eq!(MediaSource::from_setting(None), MediaSource::Embedded);
        assert_eq!(MediaSource::from_setting(Some("none")), MediaSource::Off);
        assert_eq!(
            MediaSource::from_setting(Some("http://127.0.0.1:3200/")),
            MediaSource::Remote("http://127.0.0.1:3200".into())
        );
    }
}
