//! The gateway's HTTP API (see the crate docs and README for the routes).

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jishi_api::media::{HlsFile, RoomId};

use crate::error::MediaError;
use crate::gateway::Gateway;
use crate::sdp;

pub const SDP: &str = "application/sdp";

pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/whip/{room}", post(whip))
        .route("/whip/{room}/{id}", axum::routing::delete(whip_delete))
        .route("/whep/{room}", post(whep))
        .route(
            "/whep/{room}/{id}",
            axum::routing::patch(whep_answer).delete(whep_delete),
        )
        .route("/hls/{room}/{file}", get(hls))
        .route("/replay/{room}/{file}", get(replay))
        .route("/rooms/{room}", get(room))
        .route("/rtmp/{room}", post(rtmp).delete(rtmp_stop))
        .fallback(|| async { MediaError::NoRoom })
        .layer(DefaultBodyLimit::max(sdp::MAX_SDP))
        .with_state(gw)
}

/// The viewer's address as the shop's server believes it (`x-jishi-client-ip`); `None` when the
/// caller does not say (then no per-client cap applies).
pub fn client_ip(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get(jishi_api::headers::CLIENT_IP)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn sdp_body<'a>(headers: &HeaderMap, body: &'a Bytes) -> Result<&'a str, MediaError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case(SDP)
    {
        return Err(MediaError::NotSdp);
    }
    Ok(sdp::check(body)?)
}

fn created(location: String, sdp: String) -> Response {
    let mut res = (StatusCode::CREATED, sdp).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SDP));
    if let Ok(loc) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, loc);
    }
    res
}

async fn healthz(State(gw): State<Arc<Gateway>>) -> Response {
    if gw.healthy().await {
        (StatusCode::OK, "ok").into_response()
    } else {
        MediaError::NotReady.into_response()
    }
}

async fn whip(
    State(gw): State<Arc<Gateway>>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, MediaError> {
    let room = RoomId::parse(&room)?;
    let offer = sdp_body(&headers, &body)?;
    let (id, answer) = gw.publish(&room, offer).await?;
    Ok(created(format!("/whip/{room}/{id}"), answer))
}

async fn whip_delete(
    State(gw): State<Arc<Gateway>>,
    Path((room, id)): Path<(String, String)>,
) -> Result<StatusCode, MediaError> {
    gw.delete(&RoomId::parse(&room)?, &id, true).await?;
    Ok(StatusCode::OK)
}

async fn whep(
    State(gw): State<Arc<Gateway>>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Result<Response, MediaError> {
    let room = RoomId::parse(&room)?;
    let (id, offer) = gw.view(&room, client_ip(&headers)).await?;
    Ok(created(format!("/whep/{room}/{id}"), offer))
}

async fn whep_answer(
    State(gw): State<Arc<Gateway>>,
    Path((room, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, MediaError> {
    let room = RoomId::parse(&room)?;
    let answer = sdp_body(&headers, &body)?;
    gw.answer(&room, &id, answer).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn whep_delete(
    State(gw): State<Arc<Gateway>>,
    Path((room, id)): Path<(String, String)>,
) -> Result<StatusCode, MediaError> {
    gw.delete(&RoomId::parse(&room)?, &id, false).await?;
    Ok(StatusCode::OK)
}

/// Content type and cache policy of an HLS file.
fn hls_headers(file: HlsFile) -> (&'static str, &'static str) {
    match file {
        HlsFile::Playlist => ("application/vnd.apple.mpegurl", "no-cache"),
        // A segment never changes once listed; it is deleted after the playlist moves on.
        HlsFile::Segment => ("video/mp2t", "max-age=60"),
    }
}

async fn hls(
    State(gw): State<Arc<Gateway>>,
    Path((room, file)): Path<(String, String)>,
) -> Result<Response, MediaError> {
    let room = RoomId::parse(&room)?;
    let (content_type, cache) = hls_headers(HlsFile::parse(&file).ok_or(MediaError::NoRoom)?);
    let bytes = match tokio::fs::read(gw.hls_file(&room, &file)).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(MediaError::NoPublisher),
        Err(e) => return Err(e.into()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}

/// A room's recording: the playlist composed of its parts (it grows while a part is written, so
/// it is not cached), or a segment (never changed once written).
async fn replay(
    State(gw): State<Arc<Gateway>>,
    Path((room, file)): Path<(String, String)>,
) -> Result<Response, MediaError> {
    let room = RoomId::parse(&room)?;
    let kind = HlsFile::parse(&file).ok_or(MediaError::NoRecording)?;
    let bytes = gw.replay_file(&room, kind, &file).await?;
    let (content_type, _) = hls_headers(kind);
    let cache = match kind {
        HlsFile::Playlist => "no-cache",
        HlsFile::Segment => "max-age=86400, immutable",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}

async fn room(
    State(gw): State<Arc<Gateway>>,
    Path(room): Path<String>,
) -> Result<Response, MediaError> {
    let room = RoomId::parse(&room)?;
    Ok(Json(gw.room_info(&room).await).into_response())
}

async fn rtmp(
    State(gw): State<Arc<Gateway>>,
    Path(room): Path<String>,
) -> Result<Response, MediaError> {
    let room = RoomId::parse(&room)?;
    Ok(Json(gw.rtmp(&room).await?).into_response())
}

async fn rtmp_stop(
    State(gw): State<Arc<Gateway>>,
    Path(room): Path<String>,
) -> Result<StatusCode, MediaError> {
    gw.rtmp_stop(&RoomId::parse(&room)?).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_address_comes_from_the_shops_header_only() {
        let mut h = HeaderMap::new();
        assert_eq!(client_ip(&h), None);
        h.insert(
            "x-jishi-client-ip",
            HeaderValue::from_static(" 198.51.100.7 "),
        );
        assert_eq!(client_ip(&h), Some("198.51.100.7".parse().unwrap()));
        h.insert("x-jishi-client-ip", HeaderValue::from_static("2001:db8::1"));
        assert_eq!(client_ip(&h), Some("2001:db8::1".parse().unwrap()));
        h.insert(
            "x-jishi-client-ip",
            HeaderValue::from_static("not an address"),
        );
        assert_eq!(client_ip(&h), None);
    }

    #[test]
    fn playlists_are_never_cached_and_segments_a_minute() {
        assert_eq!(
            hls_headers(HlsFile::Playlist),
            ("application/vnd.apple.mpegurl", "no-cache")
        );
        assert_eq!(hls_headers(HlsFile::Segment), ("video/mp2t", "max-age=60"));
    }
}
