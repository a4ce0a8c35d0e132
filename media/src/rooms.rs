//! The shop's room ids as the gateway accepts them.

use std::fmt;

/// A shop room id: 1–64 of `[A-Za-z0-9_-]` (safe in paths, file names and URLs as is).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a room id is 1-64 characters of A-Z a-z 0-9 _ -")]
pub struct BadRoomId;

impl RoomId {
    pub fn parse(s: &str) -> Result<RoomId, BadRoomId> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(RoomId(s.to_owned()))
        } else {
            Err(BadRoomId)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An HLS segment name the muxer writes (`seg<digits>.ts`): nothing else is served.
pub fn is_segment_name(name: &str) -> bool {
    name.strip_prefix("seg")
        .and_then(|r| r.strip_suffix(".ts"))
        .is_some_and(|d| (1..=20).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids() {
        for ok in ["a", "room-1", "demo_2", "ABC-xyz_09", &"x".repeat(64)] {
            assert_eq!(RoomId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "a/b",
            "..",
            "a b",
            "房间",
            "a.b",
            &"x".repeat(65),
            "a%2F",
        ] {
            assert_eq!(RoomId::parse(bad), Err(BadRoomId), "{bad:?}");
        }
    }

    #[test]
    fn segment_names() {
        assert!(is_segment_name("seg0.ts"));
        assert!(is_segment_name("seg1712345678.ts"));
        for bad in [
            "seg.ts",
            "index.m3u8",
            "../seg1.ts",
            "seg1.ts.tmp",
            "seg-1.ts",
            "x1.ts",
        ] {
            assert!(!is_segment_name(bad), "{bad}");
        }
    }
}
