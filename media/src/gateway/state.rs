//! What the gateway knows between requests (under its std mutex, never held across an await):
//! the rooms and their publishers, the WHIP/WHEP sessions, the session slots, and which RTMP
//! listeners have a client sending. The decisions made on it alone (which publisher viewers get)
//! are plain functions, tested here.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use jishi_api::media::RoomId;

use super::slots::{Holder, Slots};
use crate::janus::Session;

/// Where a room's publisher comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Whip,
    Rtmp,
    Demo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// Janus's publisher id (WebRTC publishers: Janus's random 53-bit ids; feeds: fixed ones).
    pub id: u64,
    pub source: Source,
    pub audio_mid: Option<String>,
    pub video_mid: Option<String>,
}

#[derive(Debug)]
pub struct Room {
    pub janus_id: u64,
    /// In the order they joined.
    pub publishers: Vec<Publisher>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Publisher { id: u64 },
    Viewer { feed: u64 },
}

/// A WHIP or WHEP session: its Janus session and handle, and the slot it holds.
#[derive(Debug)]
pub struct Resource {
    pub room: RoomId,
    pub session: Session,
    pub handle: u64,
    pub kind: Kind,
    /// A viewer's answer arrived (Janus sends); publishers are started from the outset.
    pub started: Arc<AtomicBool>,
    pub holder: Holder,
}

#[derive(Debug, Default)]
pub struct State {
    /// Janus answers and the demo rooms are set up.
    pub ready: bool,
    pub rooms: HashMap<RoomId, Room>,
    /// By the session id in the `Location`.
    pub resources: HashMap<String, Resource>,
    /// Every session being set up or running holds one (see [`Slots`]).
    pub slots: Slots,
    /// Rooms whose RTMP listener has a client sending.
    pub rtmp_live: HashSet<RoomId>,
}

impl State {
    /// The publisher viewers and HLS get: the newest WebRTC host, else a sending RTMP client,
    /// else the demo feed. With the room's Janus id.
    pub fn preferred(&self, room: &RoomId) -> Option<(u64, Publisher)> {
        let r = self.rooms.get(room)?;
        let pick = r
            .publishers
            .iter()
            .rev()
            .find(|p| p.source == Source::Whip)
            .or_else(|| {
                r.publishers
                    .iter()
                    .find(|p| p.source == Source::Rtmp && self.rtmp_live.contains(room))
            })
            .or_else(|| r.publishers.iter().find(|p| p.source == Source::Demo))?;
        Some((r.janus_id, pick.clone()))
    }

    /// WebRTC viewers of `room` with a session (answered or not).
    pub fn viewers(&self, room: &RoomId) -> usize {
        self.resources
            .values()
            .filter(|r| &r.room == room && matches!(r.kind, Kind::Viewer { .. }))
            .count()
    }

    /// Removes a session and gives back its slot; a publisher's viewers go with it (returned
    /// after it, to be destroyed in Janus) and it leaves its room's publishers.
    pub fn remove(&mut self, id: &str) -> Option<(Resource, Vec<Resource>)> {
        let r = self.resources.remove(id)?;
        self.slots.give_back(&r.holder);
        let mut orphans = Vec::new();
        if let Kind::Publisher { id: pid } = r.kind {
            if let Some(room) = self.rooms.get_mut(&r.room) {
                room.publishers.retain(|p| p.id != pid);
            }
            let ids: Vec<String> = self
                .resources
                .iter()
                .filter(|(_, v)| v.kind == Kind::Viewer { feed: pid } && v.room == r.room)
                .map(|(k, _)| k.clone())
                .collect();
            for k in ids {
                if let Some(o) = self.resources.remove(&k) {
                    self.slots.give_back(&o.holder);
                    orphans.push(o);
                }
            }
        }
        Some((r, orphans))
    }

    /// Janus is gone: every room and session with it, and their slots.
    pub fn clear(&mut self) -> Vec<Resource> {
        self.ready = false;
        self.rooms.clear();
        let gone: Vec<Resource> = self.resources.drain().map(|(_, r)| r).collect();
        for r in &gone {
            self.slots.give_back(&r.holder);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: &str) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    fn publisher(id: u64, source: Source) -> Publisher {
        Publisher {
            id,
            source,
            audio_mid: Some("0".into()),
            video_mid: Some("1".into()),
        }
    }

    fn state(publishers: &[Publisher]) -> State {
        let mut st = State::default();
        st.rooms.insert(
            room("r1"),
            Room {
                janus_id: 1001,
                publishers: publishers.to_vec(),
            },
        );
        st
    }

    fn pick(st: &State) -> Option<u64> {
        st.preferred(&room("r1")).map(|(janus_id, p)| {
            assert_eq!(janus_id, 1001);
            p.id
        })
    }

    #[test]
    fn viewers_get_the_newest_webrtc_host_first() {
        let st = state(&[
            publisher(1, Source::Demo),
            publisher(2, Source::Rtmp),
            publisher(77, Source::Whip),
            publisher(88, Source::Whip),
        ]);
        assert_eq!(pick(&st), Some(88));
        let st = state(&[publisher(88, Source::Whip), publisher(1, Source::Demo)]);
        assert_eq!(pick(&st), Some(88));
    }

    #[test]
    fn an_rtmp_feed_counts_only_while_its_client_sends() {
        let mut st = state(&[publisher(1, Source::Demo), publisher(2, Source::Rtmp)]);
        assert_eq!(pick(&st), Some(1), "RTMP listener without a client");
        st.rtmp_live.insert(room("r1"));
        assert_eq!(pick(&st), Some(2));
        // Sending in another room does not count here.
        let mut other = state(&[publisher(2, Source::Rtmp)]);
        other.rtmp_live.insert(room("r2"));
        assert_eq!(pick(&other), None);
    }

    #[test]
    fn the_demo_feed_is_the_last_resort_and_nothing_is_nothing() {
        assert_eq!(pick(&state(&[publisher(1, Source::Demo)])), Some(1));
        assert_eq!(pick(&state(&[])), None);
        assert_eq!(State::default().preferred(&room("r1")), None);
    }
}
