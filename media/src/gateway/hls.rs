//! The HLS fallback: per room an ffmpeg muxer fed by Janus's `rtp_forward` of the room's
//! preferred publisher (H.264 copied, Opus → AAC, 1 s segments, 6 in the playlist). It follows
//! that choice: started, switched or stopped whenever the publishers change. Each run also
//! records a part of the room's replay (`replay`).

use std::path::PathBuf;

use jishi_api::media::RoomId;

use super::feeds::{free_port, release_ports};
use super::state::Publisher;
use super::{log_lines, Gateway, Ops};
use crate::error::MediaError;
use crate::janus::{ForwardTo, Forwarded, VideoRoom};
use crate::proc::{self, Spec, Supervised};
use crate::sdp;

pub(super) struct Hls {
    pub publisher: u64,
    pub ffmpeg: Supervised,
    pub forwards: Vec<u64>,
    /// The audio and video RTP port pairs.
    pub ports: [u16; 2],
    /// The part of the room's recording this muxer writes (its playlist).
    pub recording: Option<PathBuf>,
}

impl Gateway {
    /// Makes the room's HLS muxer follow its preferred publisher (start, switch or stop).
    pub(super) async fn refresh_hls(&self, room: &RoomId) {
        let mut ops = self.ops.lock().await;
        let want = self.state().preferred(room);
        let have = ops.hls.get(room).map(|h| h.publisher);
        if want.as_ref().map(|(_, p)| p.id) == have {
            return;
        }
        if let Some(old) = ops.hls.remove(room) {
            self.stop_hls(&mut ops, room, old).await;
        }
        if let Some((janus_id, publisher)) = want {
            match self.start_hls(&mut ops, room, janus_id, &publisher).await {
                Ok(hls) => {
                    ops.hls.insert(room.clone(), hls);
                }
                Err(e) => tracing::warn!(%room, "hls not started: {e}"),
            }
        }
    }

    fn hls_dir(&self, room: &RoomId) -> PathBuf {
        self.layout.dir.join("hls").join(room.as_str())
    }

    /// The HLS file for `room` (a name `jishi_api::media::HlsFile` accepted).
    pub fn hls_file(&self, room: &RoomId, name: &str) -> PathBuf {
        self.hls_dir(room).join(name)
    }

    async fn start_hls(
        &self,
        ops: &mut Ops,
        room: &RoomId,
        janus_id: u64,
        publisher: &Publisher,
    ) -> Result<Hls, MediaError> {
        // A host may send no sound (microphone refused, OBS without audio): video alone.
        let Some(vmid) = &publisher.video_mid else {
            return Err(MediaError::Refused("publisher without video".into()));
        };
        let amid = publisher.audio_mid.as_ref();
        let ports = [free_port(ops)?, free_port(ops)?];
        let dir = self.hls_dir(room);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let sdp_path = self.layout.dir.join("hls").join(format!("{room}.sdp"));
        std::fs::write(
            &sdp_path,
            sdp::forward_sdp(room.as_str(), amid.map(|_| ports[0]), ports[1]),
        )?;
        let ffmpeg_bin = self.settings.ffmpeg_bin.clone();
        let with_audio = amid.is_some();
        let part = self.new_part(room);
        let recording = part.as_ref().map(|(playlist, _)| playlist.clone());
        // ffmpeg first (it binds the ports), then the forward.
        let mut spec = Spec::new(format!("hls {room}"), move || {
            proc::command(
                &ffmpeg_bin,
                crate::commands::hls(
                    &sdp_path,
                    &dir,
                    with_audio,
                    part.as_ref().map(|(p, window)| (p.as_path(), *window)),
                ),
            )
        });
        spec.on_line = Some(log_lines(format!("hls {room}")));
        let ffmpeg = Supervised::start(spec);
        let (s, h) = self.control(ops).await?;
        let forwarded = s
            .message(
                h,
                &VideoRoom::RtpForward {
                    room: janus_id,
                    publisher_id: publisher.id,
                    host: "127.0.0.1",
                    streams: amid
                        .map(|mid| ForwardTo {
                            mid: mid.clone(),
                            port: ports[0],
                            pt: 111,
                        })
                        .into_iter()
                        .chain([ForwardTo {
                            mid: vmid.clone(),
                            port: ports[1],
                            pt: 96,
                        }])
                        .collect(),
                },
                None,
            )
            .await;
        let forwards = match forwarded.and_then(|r| r.parse::<Forwarded>()) {
            Ok(f) => f.forwarders.into_iter().map(|f| f.stream_id).collect(),
            Err(e) => {
                ffmpeg.stop().await;
                release_ports(ops, &ports);
                return Err(e.into());
            }
        };
        tracing::info!(%room, publisher = publisher.id, ?ports, "hls started");
        Ok(Hls {
            publisher: publisher.id,
            ffmpeg,
            forwards,
            ports,
            recording,
        })
    }

    async fn stop_hls(&self, ops: &mut Ops, room: &RoomId, hls: Hls) {
        let janus_id = self.state().rooms.get(room).map(|r| r.janus_id);
        if let (Some(janus_id), Ok((s, h))) = (janus_id, self.control(ops).await) {
            for stream_id in &hls.forwards {
                // Fails when the publisher left (Janus dropped its forwards): fine.
                let _ = s
                    .message(
                        h,
                        &VideoRoom::StopRtpForward {
                            room: janus_id,
                            publisher_id: hls.publisher,
                            stream_id: *stream_id,
                        },
                        None,
                    )
                    .await;
            }
        }
        hls.ffmpeg.stop().await;
        release_ports(ops, &hls.ports);
        let _ = std::fs::remove_dir_all(self.hls_dir(room));
        tracing::info!(%room, "hls stopped");
    }
}
