//! Remote publishers fed by ffmpeg over loopback RTP: the demo feed (a looping test picture)
//! and the RTMP listener's output. Each is a VideoRoom remote publisher (audio mindex 0 SSRC
//! 1000 PT 111 Opus, video mindex 1 SSRC 1010 PT 107 H.264, one port) with a fixed id per source
//! and a port fixed per room and source for the gateway's life.

use std::sync::Arc;
use std::time::Duration;

use jishi_api::live::{RoomStatus, RoomsResponse};
use jishi_api::media::RoomId;

use super::state::{Publisher, Source};
use super::{log_lines, Gateway, Ops};
use crate::error::MediaError;
use crate::janus::{RemoteStream, VideoRoom};
use crate::proc::{self, Spec, Supervised};

/// Remote publisher ids (WebRTC publishers get Janus's random 53-bit ids).
pub(super) const DEMO_PUBLISHER: u64 = 1;
pub(super) const RTMP_PUBLISHER: u64 = 2;

/// A free loopback RTP port pair (see [`crate::ports::LocalPorts`]); `busy` when none is left.
pub(super) fn free_port(ops: &mut Ops) -> Result<u16, MediaError> {
    ops.local_ports
        .as_mut()
        .and_then(|p| p.take_pair(crate::ports::udp_free))
        .ok_or(MediaError::Busy)
}

pub(super) fn release_ports(ops: &mut Ops, ports: &[u16]) {
    if let Some(p) = ops.local_ports.as_mut() {
        p.release(ports);
    }
}

fn publisher_id(source: Source) -> u64 {
    if source == Source::Demo {
        DEMO_PUBLISHER
    } else {
        RTMP_PUBLISHER
    }
}

impl Gateway {
    /// The port of `room`'s feed from `source`: the one it had, else a new one.
    pub(super) fn feed_port(
        &self,
        ops: &mut Ops,
        room: &RoomId,
        source: Source,
    ) -> Result<u16, MediaError> {
        let key = (room.clone(), publisher_id(source));
        if let Some(p) = ops.feed_ports.get(&key) {
            return Ok(*p);
        }
        let p = free_port(ops)?;
        ops.feed_ports.insert(key, p);
        Ok(p)
    }

    /// A remote publisher in `room` fed by ffmpeg (demo source or RTMP listener) on its fixed
    /// port, and for the demo its ffmpeg.
    pub(super) async fn add_feed(
        self: &Arc<Self>,
        ops: &mut Ops,
        room: &RoomId,
        source: Source,
    ) -> Result<(), MediaError> {
        let janus_id = self.ensure_room(ops, room).await?;
        let id = publisher_id(source);
        let port = self.feed_port(ops, room, source)?;
        let (s, h) = self.control(ops).await?;
        let display = if source == Source::Demo {
            "demo"
        } else {
            "rtmp"
        };
        s.message(
            h,
            &VideoRoom::AddRemotePublisher {
                room: janus_id,
                id,
                display: display.into(),
                iface: "127.0.0.1",
                port,
                streams: RemoteStream::av(),
            },
            None,
        )
        .await?;
        if let Some(r) = self.state().rooms.get_mut(room) {
            r.publishers.push(Publisher {
                id,
                source,
                audio_mid: Some("0".into()),
                video_mid: Some("1".into()),
            });
        }
        if source == Source::Demo && !ops.demos.contains_key(room) {
            let ffmpeg = self.settings.ffmpeg_bin.clone();
            let mut spec = Spec::new(format!("demo {room}"), move || {
                proc::command(&ffmpeg, crate::commands::demo(port))
            });
            spec.on_line = Some(log_lines(format!("demo {room}")));
            ops.demos.insert(room.clone(), Supervised::start(spec));
        }
        Ok(())
    }
}

/// The platform's live rooms (`GET {url}/v1/live/rooms`, status `live`); none on any failure.
pub(super) async fn live_rooms(url: &str) -> Vec<RoomId> {
    let fetched = async {
        reqwest::Client::new()
            .get(format!("{url}/v1/live/rooms"))
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .error_for_status()?
            .json::<RoomsResponse>()
            .await
    }
    .await;
    match fetched {
        Ok(r) => r
            .rooms
            .into_iter()
            .filter(|r| r.status == RoomStatus::Live)
            .filter_map(|r| RoomId::parse(&r.id).ok())
            .collect(),
        Err(e) => {
            tracing::warn!("no demo rooms from the platform: {e}");
            Vec::new()
        }
    }
}
