//! Session slots: every WHIP or WHEP session holds one from the moment it is asked for until it
//! ends (DELETE, a viewer's answer deadline, ICE failure or Janus hanging up, Janus restarting),
//! and the caps are checked when one is taken:
//!
//! - all sessions: `JISHI_MEDIA_MAX_SESSIONS`; of these `JISHI_MEDIA_PUBLISHER_SLOTS` are for
//!   publishers only, so viewers can never keep a host from going live (`503 busy`);
//! - viewers of one room: `JISHI_MEDIA_MAX_VIEWERS` (`503 room_full`);
//! - viewers from one client address: `JISHI_MEDIA_MAX_PER_CLIENT` (`429 too_many_requests`).
//!   The address is the one the shop's server believes (its `TRUSTED_PROXIES`), sent in
//!   `x-jishi-client-ip`; IPv6 addresses count per /64 (one subscriber's network). A player
//!   refused here plays HLS instead, which holds no session: many viewers behind one address
//!   still watch, the first few over WebRTC.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use jishi_api::media::RoomId;

use crate::error::MediaError;

/// The caps, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub sessions: usize,
    pub publisher_slots: usize,
    pub viewers_per_room: usize,
    /// 0: no cap.
    pub per_client: usize,
}

impl Caps {
    pub fn from_settings(s: &crate::Settings) -> Caps {
        Caps {
            sessions: s.max_sessions,
            publisher_slots: s.publisher_slots,
            viewers_per_room: s.max_viewers_per_room,
            per_client: s.max_per_client,
        }
    }
}

/// Who holds a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Publisher,
    Viewer {
        room: RoomId,
        /// The client's key ([`client_key`]); `None` when the caller did not say (or loopback).
        client: Option<IpAddr>,
    },
}

/// The address a client's sessions are counted under: IPv4 as is (also when IPv4-mapped), IPv6
/// by its /64. `None` for loopback: a viewer on this machine (a developer, the browser tests), or
/// a server that cannot tell its viewers apart (a proxy on this machine missing from its
/// `TRUSTED_PROXIES`), where one cap for everyone would send every viewer but four to HLS.
pub fn client_key(ip: IpAddr) -> Option<IpAddr> {
    let key = match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None if v6.is_loopback() => return None,
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    };
    (!key.is_loopback()).then_some(key)
}

/// The slots in use.
#[derive(Debug, Default)]
pub struct Slots {
    publishers: usize,
    viewers: usize,
    per_room: HashMap<RoomId, usize>,
    per_client: HashMap<IpAddr, usize>,
}

fn down<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Slots {
    /// Takes a slot for `holder`, or says which cap stops it.
    pub fn take(&mut self, caps: &Caps, holder: &Holder) -> Result<(), MediaError> {
        let total = self.publishers + self.viewers;
        match holder {
            Holder::Publisher => {
                if total >= caps.sessions {
                    return Err(MediaError::Busy);
                }
                self.publishers += 1;
            }
            Holder::Viewer { room, client } => {
                if let Some(client) = client {
                    let held = self.per_client.get(client).copied().unwrap_or(0);
                    if caps.per_client > 0 && held >= caps.per_client {
                        return Err(MediaError::TooManyFromClient);
                    }
                }
                if self.per_room.get(room).copied().unwrap_or(0) >= caps.viewers_per_room {
                    return Err(MediaError::RoomFull);
                }
                let for_viewers = caps.sessions.saturating_sub(caps.publisher_slots);
                if self.viewers >= for_viewers || total >= caps.sessions {
                    return Err(MediaError::Busy);
                }
                self.viewers += 1;
                *self.per_room.entry(room.clone()).or_default() += 1;
                if let Some(client) = client {
                    *self.per_client.entry(*client).or_default() += 1;
                }
            }
        }
        Ok(())
    }

    /// Gives back a slot taken for `holder`.
    pub fn give_back(&mut self, holder: &Holder) {
        match holder {
            Holder::Publisher => self.publishers = self.publishers.saturating_sub(1),
            Holder::Viewer { room, client } => {
                self.viewers = self.viewers.saturating_sub(1);
                down(&mut self.per_room, room);
                if let Some(client) = client {
                    down(&mut self.per_client, client);
                }
            }
        }
    }

    /// Slots held: (publishers, viewers).
    pub fn in_use(&self) -> (usize, usize) {
        (self.publishers, self.viewers)
    }

    /// Viewer slots held by `client` (a [`client_key`]).
    pub fn of_client(&self, client: &IpAddr) -> usize {
        self.per_client.get(client).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: Caps = Caps {
        sessions: 10,
        publisher_slots: 2,
        viewers_per_room: 6,
        per_client: 4,
    };

    fn viewer(room: &str, client: &str) -> Holder {
        Holder::Viewer {
            room: RoomId::parse(room).unwrap(),
            client: client_key(client.parse().unwrap()),
        }
    }

    fn code(r: Result<(), MediaError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(MediaError::TooManyFromClient) => "429",
            Err(MediaError::RoomFull) => "room_full",
            Err(MediaError::Busy) => "busy",
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_client_holds_four_viewer_slots_and_others_still_get_in() {
        let mut s = Slots::default();
        let a = viewer("r1", "198.51.100.7");
        for _ in 0..4 {
            assert_eq!(code(s.take(&CAPS, &a)), "ok");
        }
        assert_eq!(code(s.take(&CAPS, &a)), "429");
        // In another room too: the cap is per address.
        assert_eq!(code(s.take(&CAPS, &viewer("r2", "198.51.100.7"))), "429");
        assert_eq!(code(s.take(&CAPS, &viewer("r1", "198.51.100.8"))), "ok");
        // One of the four ends: that client may have one again.
        s.give_back(&a);
        assert_eq!(code(s.take(&CAPS, &a)), "ok");
        assert_eq!(s.of_client(&"198.51.100.7".parse().unwrap()), 4);
        // A caller that names no client is not counted per client.
        let anonymous = Holder::Viewer {
            room: RoomId::parse("r2").unwrap(),
            client: None,
        };
        assert_eq!(code(s.take(&CAPS, &anonymous)), "ok");
        assert_eq!(s.in_use(), (0, 6));
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let mut s = Slots::default();
        for host in 1..=4 {
            let h = viewer("r1", &format!("2001:db8:1:2::{host}"));
            assert_eq!(code(s.take(&CAPS, &h)), "ok");
        }
        assert_eq!(
            code(s.take(&CAPS, &viewer("r1", "2001:db8:1:2:ffff::9"))),
            "429"
        );
        assert_eq!(code(s.take(&CAPS, &viewer("r1", "2001:db8:1:3::1"))), "ok");
        assert_eq!(
            client_key("::ffff:198.51.100.7".parse().unwrap()),
            Some("198.51.100.7".parse::<IpAddr>().unwrap())
        );
    }

    #[test]
    fn loopback_viewers_are_not_capped_per_address() {
        for ip in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(client_key(ip.parse().unwrap()), None, "{ip}");
        }
        let mut s = Slots::default();
        for _ in 0..6 {
            assert_eq!(code(s.take(&CAPS, &viewer("r1", "127.0.0.1"))), "ok");
        }
        // The room's cap still holds.
        assert_eq!(code(s.take(&CAPS, &viewer("r1", "::1"))), "room_full");
    }

    #[test]
    fn viewers_never_take_the_publishers_slots() {
        let caps = Caps {
            viewers_per_room: 100,
            ..CAPS
        };
        let mut s = Slots::default();
        // Eight viewers from eight addresses fill what viewers may have (10 − 2).
        for n in 0..8 {
            assert_eq!(
                code(s.take(&caps, &viewer("r1", &format!("10.0.0.{n}")))),
                "ok"
            );
        }
        assert_eq!(code(s.take(&caps, &viewer("r1", "10.0.1.1"))), "busy");
        // Hosts still go live: two of them.
        assert_eq!(code(s.take(&caps, &Holder::Publisher)), "ok");
        assert_eq!(code(s.take(&caps, &Holder::Publisher)), "ok");
        assert_eq!(code(s.take(&caps, &Holder::Publisher)), "busy");
        assert_eq!(s.in_use(), (2, 8));
        // A viewer leaves: a third host may use the free slot, and then no viewer.
        s.give_back(&viewer("r1", "10.0.0.0"));
        assert_eq!(code(s.take(&caps, &Holder::Publisher)), "ok");
        assert_eq!(code(s.take(&caps, &viewer("r1", "10.0.1.1"))), "busy");
        // Publishers may take any free slot; viewers then only what is left of all sessions.
        let mut s = Slots::default();
        for _ in 0..5 {
            assert_eq!(code(s.take(&caps, &Holder::Publisher)), "ok");
        }
        for n in 0..5 {
            assert_eq!(
                code(s.take(&caps, &viewer("r1", &format!("10.0.0.{n}")))),
                "ok"
            );
        }
        assert_eq!(code(s.take(&caps, &viewer("r1", "10.0.1.1"))), "busy");
    }

    #[test]
    fn a_room_takes_its_cap_of_viewers() {
        let mut s = Slots::default();
        for n in 0..6 {
            assert_eq!(
                code(s.take(&CAPS, &viewer("r1", &format!("10.0.0.{n}")))),
                "ok"
            );
        }
        assert_eq!(code(s.take(&CAPS, &viewer("r1", "10.0.1.1"))), "room_full");
        assert_eq!(code(s.take(&CAPS, &viewer("r2", "10.0.1.1"))), "ok");
        // A refused viewer holds nothing.
        assert_eq!(s.of_client(&"10.0.1.1".parse().unwrap()), 1);
        assert_eq!(s.in_use(), (0, 7));
    }

    #[test]
    fn no_cap_per_client_when_set_to_zero() {
        let caps = Caps {
            per_client: 0,
            ..CAPS
        };
        let mut s = Slots::default();
        for _ in 0..6 {
            assert_eq!(code(s.take(&caps, &viewer("r1", "10.0.0.1"))), "ok");
        }
        assert_eq!(code(s.take(&caps, &viewer("r1", "10.0.0.1"))), "room_full");
    }
}
