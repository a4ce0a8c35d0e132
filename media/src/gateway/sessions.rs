//! WHIP publishers and WHEP viewers: one Janus session each, holding a slot (see `slots`) from
//! the request until the session ends: `DELETE`, a viewer that does not answer within
//! [`ANSWER_DEADLINE`], Janus hanging up (ICE failed, ~55 s after a tab vanished), or Janus
//! restarting.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jishi_api::media::RoomId;

use super::slots::{client_key, Holder};
use super::state::{Kind, Publisher, Resource, Source};
use super::{random_key, Gateway, Reservation};
use crate::error::MediaError;
use crate::janus::{Feed, JanusError, Joined, Jsep, PluginReply, Session, VideoRoom, VIDEOROOM};

/// A viewer that got an offer and never answered is dropped after this.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(30);

fn no_jsep(what: &str) -> MediaError {
    MediaError::Janus(JanusError::Protocol(format!("janus gave no {what}")))
}

impl Gateway {
    /// A new Janus session with a VideoRoom handle, `body` (and `jsep`) sent on it, and what
    /// `read` makes of the reply; the session is destroyed if any of it fails.
    async fn open<T>(
        &self,
        body: &VideoRoom,
        jsep: Option<&Jsep>,
        read: impl FnOnce(PluginReply) -> Result<T, MediaError>,
    ) -> Result<(Session, u64, T), MediaError> {
        let session = self.janus.session().await?;
        let result = async {
            let handle = session.attach(VIDEOROOM).await?;
            let reply = session.message(handle, body, jsep).await?;
            Ok::<_, MediaError>((handle, read(reply)?))
        }
        .await;
        match result {
            Ok((handle, read)) => Ok((session, handle, read)),
            Err(e) => {
                session.destroy().await;
                Err(e)
            }
        }
    }

    /// Keeps a session set up in `room` under a new id, with the slot it reserved; a publisher
    /// joins the room's publishers. When Janus restarted meanwhile (its rooms are gone) the
    /// session is destroyed instead (and the slot goes back with the reservation).
    async fn keep(
        self: &Arc<Self>,
        room: &RoomId,
        session: Session,
        handle: u64,
        kind: Kind,
        slot: Reservation,
        publisher: Option<Publisher>,
    ) -> Result<String, MediaError> {
        let id = random_key(16);
        // Publishers send from the outset; a viewer once it answers.
        let started = Arc::new(AtomicBool::new(matches!(kind, Kind::Publisher { .. })));
        let kept = {
            let mut st = self.state();
            let alive = st.ready && st.rooms.contains_key(room);
            if alive {
                if let (Some(p), Some(r)) = (publisher, st.rooms.get_mut(room)) {
                    r.publishers.push(p);
                }
                st.resources.insert(
                    id.clone(),
                    Resource {
                        room: room.clone(),
                        session: session.clone(),
                        handle,
                        kind,
                        started: started.clone(),
                        holder: slot.holder(),
                    },
                );
            }
            alive
        };
        if !kept {
            session.destroy().await;
            return Err(MediaError::NotReady);
        }
        let viewer = matches!(kind, Kind::Viewer { .. });
        self.watch(id.clone(), session, viewer.then_some(started));
        Ok(id)
    }

    /// `POST /whip/{room}`: a WebRTC host publishes; returns the session id and the SDP answer.
    pub async fn publish(
        self: &Arc<Self>,
        room: &RoomId,
        offer: &str,
    ) -> Result<(String, String), MediaError> {
        let slot = self.reserve(Holder::Publisher)?;
        let janus_id = {
            let mut ops = self.ops.lock().await;
            self.ensure_room(&mut ops, room).await?
        };
        let offer = Jsep::complete("offer", offer);
        let join = VideoRoom::Joinandconfigure {
            room: janus_id,
            ptype: "publisher",
            display: "host".into(),
            audio: true,
            video: true,
        };
        let (session, handle, (joined, answer)) = self
            .open(&join, Some(&offer), |reply| {
                let joined: Joined = reply.parse()?;
                let answer = reply.jsep.ok_or_else(|| no_jsep("answer"))?;
                Ok((joined, answer.sdp))
            })
            .await?;
        let mid = |kind: &str| {
            joined
                .streams
                .iter()
                .find(|s| s.kind == kind)
                .map(|s| s.mid.clone())
        };
        let publisher = Publisher {
            id: joined.id,
            source: Source::Whip,
            audio_mid: mid("audio"),
            video_mid: mid("video"),
        };
        let kind = Kind::Publisher { id: joined.id };
        let id = self
            .keep(room, session, handle, kind, slot, Some(publisher))
            .await?;
        let (gw, r) = (self.clone(), room.clone());
        tokio::spawn(async move { gw.refresh_hls(&r).await });
        tracing::info!(%room, publisher = joined.id, "whip publisher joined");
        Ok((id, answer))
    }

    /// `POST /whep/{room}`: a viewer (from `client`, as the shop's server saw it); returns the
    /// session id and Janus's SDP offer.
    pub async fn view(
        self: &Arc<Self>,
        room: &RoomId,
        client: Option<IpAddr>,
    ) -> Result<(String, String), MediaError> {
        let (janus_id, feed) = {
            let st = self.state();
            if !st.ready {
                return Err(MediaError::NotReady);
            }
            if !st.rooms.contains_key(room) {
                return Err(MediaError::NoRoom);
            }
            let (janus_id, p) = st.preferred(room).ok_or(MediaError::NoPublisher)?;
            (janus_id, p.id)
        };
        let slot = self.reserve(Holder::Viewer {
            room: room.clone(),
            client: client.and_then(client_key),
        })?;
        let join = VideoRoom::Join {
            room: janus_id,
            ptype: "subscriber",
            streams: vec![Feed { feed }],
        };
        let (session, handle, offer) = self
            .open(&join, None, |reply| {
                Ok(reply.jsep.ok_or_else(|| no_jsep("offer"))?.sdp)
            })
            .await?;
        let kind = Kind::Viewer { feed };
        let id = self.keep(room, session, handle, kind, slot, None).await?;
        Ok((id, offer))
    }

    /// `PATCH /whep/{room}/{id}`: the viewer's SDP answer; Janus starts sending.
    pub async fn answer(&self, room: &RoomId, id: &str, answer: &str) -> Result<(), MediaError> {
        let (session, handle, started) = {
            let st = self.state();
            let r = st
                .resources
                .get(id)
                .filter(|r| &r.room == room && matches!(r.kind, Kind::Viewer { .. }))
                .ok_or(MediaError::NoSession)?;
            (r.session.clone(), r.handle, r.started.clone())
        };
        session
            .message(
                handle,
                &VideoRoom::Start {},
                Some(&Jsep::complete("answer", answer)),
            )
            .await?;
        started.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// `DELETE /whip|whep/{room}/{id}`.
    pub async fn delete(&self, room: &RoomId, id: &str, publisher: bool) -> Result<(), MediaError> {
        let ok = self.state().resources.get(id).is_some_and(|r| {
            &r.room == room && matches!(r.kind, Kind::Publisher { .. }) == publisher
        });
        if !ok {
            return Err(MediaError::NoSession);
        }
        self.remove(id).await;
        Ok(())
    }

    /// Ends a session when Janus hangs up, or a viewer that never answered.
    fn watch(self: &Arc<Self>, id: String, session: Session, started: Option<Arc<AtomicBool>>) {
        let gw = Arc::downgrade(self);
        tokio::spawn(async move {
            let deadline = async {
                match started {
                    Some(started) => {
                        tokio::time::sleep(ANSWER_DEADLINE).await;
                        if started.load(Ordering::Relaxed) {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                why = session.ended() => tracing::debug!(%id, ?why, "session ended"),
                _ = deadline => tracing::debug!(%id, "viewer never answered"),
            }
            if let Some(gw) = gw.upgrade() {
                gw.remove(&id).await;
            }
        });
    }

    /// Removes a session and gives back its slot: destroys it in Janus; a publisher's viewers go
    /// with it and the room's HLS follows the next publisher.
    async fn remove(&self, id: &str) {
        let Some((removed, orphans)) = self.state().remove(id) else {
            return;
        };
        removed.session.destroy().await;
        for o in orphans {
            o.session.destroy().await;
        }
        if matches!(removed.kind, Kind::Publisher { .. }) {
            tracing::info!(room = %removed.room, "whip publisher left");
            self.refresh_hls(&removed.room).await;
        }
    }
}
