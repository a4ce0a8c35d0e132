//! RTMP ingest (OBS): per room an ffmpeg listener whose output feeds the room's RTMP remote
//! publisher. A listener is one broadcast: it starts at `POST /rtmp/{room}` with a new random
//! key (the only one it accepts), and stops at `DELETE /rtmp/{room}` or after [`RTMP_IDLE`]
//! without a client sending; the next `POST` starts another with another key. Asking again
//! while it runs gives the same address and key.
//!
//! ffmpeg's listen mode does not reject a wrong stream name (it logs "Unexpected stream" and
//! goes on), so the listener's log is read and the run killed on that line, before any media
//! is read; ffmpeg takes one client at a time and is started again after each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jishi_api::live::RtmpEndpoint;
use jishi_api::media::{RoomId, RoomInfo};

use super::state::Source;
use super::{random_key, Event, Gateway, Ops};
use crate::error::MediaError;
use crate::proc::{self, Backoff, Line, Spec, Supervised};

/// A listener with no client sending for this long is stopped (its key with it).
pub const RTMP_IDLE: Duration = Duration::from_secs(30 * 60);
/// Random letters and digits in a stream key.
const KEY_LEN: usize = 24;
/// How many ports from `JISHI_MEDIA_RTMP_PORT` up a listener may take.
const PORTS_TRIED: u16 = 100;

/// A room's RTMP ingest: its port (kept while the gateway runs, if still free), and the
/// listener of the current broadcast.
pub(super) struct Ingest {
    port: u16,
    listener: Option<Listener>,
}

struct Listener {
    key: String,
    child: Supervised,
    /// Since when no client sends (`None` while one does).
    idle_since: Option<Instant>,
}

impl Ingest {
    pub(super) fn pid(&self) -> Option<u32> {
        self.listener.as_ref().map(|l| l.child.pid())
    }
    pub(super) fn take_child(&mut self) -> Option<Supervised> {
        self.listener.take().map(|l| l.child)
    }
}

/// The first port from `first` up (within [`PORTS_TRIED`]) that is not `ours` and is `free`.
pub fn pick_port(first: u16, ours: &[u16], free: impl Fn(u16) -> bool) -> Option<u16> {
    (0..PORTS_TRIED)
        .filter_map(|n| first.checked_add(n))
        .find(|p| !ours.contains(p) && free(*p))
}

impl Gateway {
    fn rtmp_url(&self, port: u16) -> String {
        format!("rtmp://{}:{port}/live", self.settings.public_host)
    }

    fn rtmp_port_free(&self, port: u16) -> bool {
        crate::ports::tcp_free(self.settings.rtmp_bind, port)
    }

    /// `POST /rtmp/{room}`: the room's running listener, or a new one with a new key.
    pub async fn rtmp(self: &Arc<Self>, room: &RoomId) -> Result<RtmpEndpoint, MediaError> {
        if !self.is_ready() {
            return Err(MediaError::NotReady);
        }
        let mut ops = self.ops.lock().await;
        if let Some(Ingest {
            port,
            listener: Some(l),
        }) = ops.rtmp.get(room)
        {
            return Ok(RtmpEndpoint {
                rtmp_url: self.rtmp_url(*port),
                stream_key: l.key.clone(),
            });
        }
        let kept = ops
            .rtmp
            .get(room)
            .map(|i| i.port)
            .filter(|p| self.rtmp_port_free(*p));
        let port = match kept {
            Some(p) => p,
            None => {
                let ours: Vec<u16> = ops.rtmp.values().map(|i| i.port).collect();
                pick_port(self.settings.rtmp_port, &ours, |p| self.rtmp_port_free(p))
                    .ok_or(MediaError::Busy)?
            }
        };
        if !ops.rtmp.contains_key(room) {
            self.add_feed(&mut ops, room, Source::Rtmp).await?;
        }
        let feed_port = self.feed_port(&mut ops, room, Source::Rtmp)?;
        let key = random_key(KEY_LEN);
        let child = self.rtmp_listener(room, port, &key, feed_port);
        ops.rtmp.insert(
            room.clone(),
            Ingest {
                port,
                listener: Some(Listener {
                    key: key.clone(),
                    child,
                    idle_since: Some(Instant::now()),
                }),
            },
        );
        tracing::info!(%room, port, "rtmp listener started");
        Ok(RtmpEndpoint {
            rtmp_url: self.rtmp_url(port),
            stream_key: key,
        })
    }

    /// `DELETE /rtmp/{room}`: ends the broadcast (the listener and its key).
    pub async fn rtmp_stop(&self, room: &RoomId) -> Result<(), MediaError> {
        let child = {
            let mut ops = self.ops.lock().await;
            ops.rtmp
                .get_mut(room)
                .and_then(Ingest::take_child)
                .ok_or(MediaError::NoSession)?
        };
        child.stop().await;
        tracing::info!(%room, "rtmp listener stopped");
        self.rtmp_client(room, false).await;
        Ok(())
    }

    /// A client started (`live`) or stopped sending to `room`'s listener.
    pub(super) async fn rtmp_client(&self, room: &RoomId, live: bool) {
        {
            let mut st = self.state();
            if live {
                st.rtmp_live.insert(room.clone());
            } else {
                st.rtmp_live.remove(room);
            }
        }
        if let Some(l) = self
            .ops
            .lock()
            .await
            .rtmp
            .get_mut(room)
            .and_then(|i| i.listener.as_mut())
        {
            l.idle_since = (!live).then(Instant::now);
        }
        tracing::info!(%room, live, "rtmp client");
        self.refresh_hls(room).await;
    }

    /// Stops the listeners nobody has sent to for `idle`.
    pub(super) async fn stop_idle_rtmp(&self, idle: Duration) {
        let idle_ones = {
            let mut ops = self.ops.lock().await;
            idle_listeners(&mut ops, idle)
        };
        for (room, child) in idle_ones {
            child.stop().await;
            tracing::info!(%room, "rtmp listener idle: stopped");
        }
    }

    fn rtmp_listener(&self, room: &RoomId, port: u16, key: &str, feed_port: u16) -> Supervised {
        let url = crate::commands::rtmp_listen_url(self.settings.rtmp_bind, port, key);
        let (ffmpeg, video) = (self.settings.ffmpeg_bin.clone(), self.settings.rtmp_video);
        let (on_line, on_exit) = (self.events.clone(), self.events.clone());
        let (r1, r2, name) = (room.clone(), room.clone(), format!("rtmp {room}"));
        let mut spec = Spec::new(name.clone(), move || {
            proc::command(&ffmpeg, crate::commands::rtmp(&url, video, feed_port))
        });
        spec.on_line = Some(Box::new(move |line: &str| {
            // ffmpeg's listen mode only warns about a wrong stream name; we hang up on it
            // before any media is read (the warning comes at `publish`, before probing).
            if line.contains("Unexpected stream") {
                tracing::warn!(room = %r1, "rtmp client with a wrong stream key: dropped");
                return Line::Kill;
            }
            if line.starts_with("Input #0") {
                let _ = on_line.send(Event::Rtmp(r1.clone(), true));
            }
            if line.contains("rror") {
                tracing::debug!("{name}: {line}");
            }
            Line::Continue
        }));
        spec.on_exit = Some(Box::new(move || {
            let _ = on_exit.send(Event::Rtmp(r2.clone(), false));
        }));
        // Every client ends a run: the listener must be back soon (OBS retries), so short waits.
        spec.restart = Backoff::new(
            Duration::from_millis(250),
            Duration::from_secs(5),
            Duration::from_secs(10),
        );
        Supervised::start(spec)
    }

    /// `GET /rooms/{room}`.
    pub async fn room_info(&self, room: &RoomId) -> RoomInfo {
        let rtmp_url = self
            .ops
            .lock()
            .await
            .rtmp
            .get(room)
            .filter(|i| i.listener.is_some())
            .map(|i| self.rtmp_url(i.port));
        let st = self.state();
        RoomInfo {
            publishing: st.preferred(room).is_some(),
            viewers: u32::try_from(st.viewers(room)).unwrap_or(u32::MAX),
            rtmp_url,
        }
    }
}

/// Takes the children of the listeners idle for `idle` out of `ops`.
fn idle_listeners(ops: &mut Ops, idle: Duration) -> Vec<(RoomId, Supervised)> {
    let mut out = Vec::new();
    for (room, ingest) in ops.rtmp.iter_mut() {
        let expired = ingest
            .listener
            .as_ref()
            .and_then(|l| l.idle_since)
            .is_some_and(|since| since.elapsed() >= idle);
        if expired {
            if let Some(child) = ingest.take_child() {
                out.push((room.clone(), child));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_takes_the_first_free_port_that_is_not_another_rooms() {
        assert_eq!(pick_port(1935, &[], |_| true), Some(1935));
        assert_eq!(pick_port(1935, &[1935, 1936], |_| true), Some(1937));
        // Another shop's listener on 1935: the next one.
        assert_eq!(pick_port(1935, &[], |p| p != 1935), Some(1936));
        assert_eq!(pick_port(1935, &[1936], |p| p != 1935), Some(1937));
        assert_eq!(pick_port(1935, &[], |_| false), None);
        assert_eq!(pick_port(65535, &[], |p| p != 65535), None);
    }
}
