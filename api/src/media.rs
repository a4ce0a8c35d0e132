//! The media gateway's contract (`jishi-media`, behind the shop's `/media/*`): which room ids and
//! HLS file names a media path may carry, and the gateway's JSON answers. The gateway, the shop's
//! server (which forwards only paths these rules accept) and the live-room routes use the same
//! rules. The RTMP answer is [`crate::live::RtmpEndpoint`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest room id (and media session id).
pub const MAX_ID_LEN: usize = 64;

/// 1–64 characters of `[A-Za-z0-9_-]`: safe in paths, file names and URLs as is.
fn plain_id(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `s` is a live room id as every media path and room route takes it.
pub fn is_room_id(s: &str) -> bool {
    plain_id(s)
}

/// Whether `s` may be a WHIP/WHEP session id in a `Location` (the gateway's are 16 letters and
/// digits; the rule is the room id's).
pub fn is_session_id(s: &str) -> bool {
    plain_id(s)
}

/// A live room id that passed [`is_room_id`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a room id is 1-64 characters of A-Z a-z 0-9 _ -")]
pub struct BadRoomId;

impl RoomId {
    pub fn parse(s: &str) -> Result<RoomId, BadRoomId> {
        if is_room_id(s) {
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

/// The HLS playlist's file name.
pub const HLS_PLAYLIST: &str = "index.m3u8";

/// A file of a room's HLS: the playlist, or a segment the muxer wrote (`seg<1-20 digits>.ts`).
/// Nothing else is served or forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HlsFile {
    Playlist,
    Segment,
}

impl HlsFile {
    pub fn parse(name: &str) -> Option<HlsFile> {
        if name == HLS_PLAYLIST {
            return Some(HlsFile::Playlist);
        }
        let digits = name.strip_prefix("seg")?.strip_suffix(".ts")?;
        ((1..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(HlsFile::Segment)
    }
}

/// `GET /rooms/{room}` on the gateway: whether someone (host, OBS or the demo feed) publishes,
/// the WebRTC viewers it holds, and the RTMP listener's URL while one runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub publishing: bool,
    pub viewers: u32,
    pub rtmp_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids() {
        for ok in [
            "a",
            "room-1",
            "demo_2",
            "ABC-xyz_09",
            "live_bj1",
            &"x".repeat(64),
        ] {
            assert!(is_room_id(ok), "{ok:?}");
            assert_eq!(RoomId::parse(ok).unwrap().as_str(), ok);
            assert_eq!(RoomId::parse(ok).unwrap().to_string(), ok);
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
            "live_bj1\n",
        ] {
            assert!(!is_room_id(bad), "{bad:?}");
            assert_eq!(RoomId::parse(bad), Err(BadRoomId), "{bad:?}");
        }
        assert!(is_session_id("0123abcdXYZ_-"));
        assert!(!is_session_id("a/b") && !is_session_id(""));
    }

    #[test]
    fn hls_file_names() {
        assert_eq!(HlsFile::parse("index.m3u8"), Some(HlsFile::Playlist));
        assert_eq!(HlsFile::parse("seg0.ts"), Some(HlsFile::Segment));
        assert_eq!(HlsFile::parse("seg1712345678.ts"), Some(HlsFile::Segment));
        assert_eq!(
            HlsFile::parse(&format!("seg{}.ts", "9".repeat(20))),
            Some(HlsFile::Segment)
        );
        for bad in [
            "seg.ts",
            "x.m3u8",
            "index.m3u8.tmp",
            "../seg1.ts",
            "seg1.ts.tmp",
            "seg-1.ts",
            "x1.ts",
            &format!("seg{}.ts", "9".repeat(21)),
            "",
        ] {
            assert_eq!(HlsFile::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_rooms_answer_has_the_documented_shape() {
        let info = RoomInfo {
            publishing: true,
            viewers: 3,
            rtmp_url: None,
        };
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            serde_json::json!({"publishing": true, "viewers": 3, "rtmp_url": null})
        );
    }
}
