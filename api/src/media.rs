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

/// Where a room's recording is: `/replay/{room}/index.m3u8` (a VOD playlist the gateway composes
/// from the recording's parts) and its segments, named as [`HlsFile`] says.
pub const REPLAY_PREFIX: &str = "replay";

/// One segment of a recording: when it was captured (wall clock, Unix ms, from
/// `EXT-X-PROGRAM-DATE-TIME`), where it starts in the played video (the sum of the durations
/// before it) and how long it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentTime {
    pub wall_ms: i64,
    pub start_s: f64,
    pub duration_s: f64,
}

/// The length of a segment from its `#EXTINF:<seconds>,[title]` line; `None` for any other line or
/// a length that is not a finite number of seconds ≥ 0.
pub fn extinf_seconds(line: &str) -> Option<f64> {
    line.strip_prefix("#EXTINF:")?
        .split(',')
        .next()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d >= 0.0)
}

/// The segments of an HLS playlist on the wall clock. A segment without its own
/// `EXT-X-PROGRAM-DATE-TIME` follows the one before; segments before the first date are dropped.
pub fn segment_times(m3u8: &str) -> Vec<SegmentTime> {
    let mut times: Vec<SegmentTime> = Vec::new();
    let (mut next_wall, mut duration, mut start) = (None::<i64>, None::<f64>, 0.0);
    for line in m3u8.lines().map(str::trim) {
        if let Some(date) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            next_wall = crate::time::parse_ms(date.trim());
        } else if line.starts_with("#EXTINF:") {
            duration = extinf_seconds(line);
        } else if !line.is_empty() && !line.starts_with('#') {
            let Some(d) = duration.take() else { continue };
            let wall = next_wall.take().or_else(|| {
                times
                    .last()
                    .map(|t| t.wall_ms + (t.duration_s * 1000.0).round() as i64)
            });
            if let Some(wall_ms) = wall {
                times.push(SegmentTime {
                    wall_ms,
                    start_s: start,
                    duration_s: d,
                });
            }
            start += d;
        }
    }
    times
}

/// The point of the video captured at `wall_ms`: inside a segment, its start plus the offset; in
/// a gap (nobody published), the next segment's start; before the recording, 0; after, its end.
pub fn position_at(times: &[SegmentTime], wall_ms: i64) -> f64 {
    for t in times {
        let end = t.wall_ms + (t.duration_s * 1000.0).round() as i64;
        if wall_ms < t.wall_ms {
            return t.start_s;
        }
        if wall_ms < end {
            return t.start_s + (wall_ms - t.wall_ms) as f64 / 1000.0;
        }
    }
    times.last().map_or(0.0, |t| t.start_s + t.duration_s)
}

/// When the frame at `position_s` of the video was captured (wall clock, Unix ms).
pub fn wall_at(times: &[SegmentTime], position_s: f64) -> Option<i64> {
    let t = times
        .iter()
        .take_while(|t| t.start_s <= position_s)
        .last()
        .or(times.first())?;
    let into = (position_s - t.start_s).clamp(0.0, t.duration_s);
    Some(t.wall_ms + (into * 1000.0).round() as i64)
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

    #[test]
    fn a_recording_maps_wall_clock_to_video_time_across_gaps() {
        // Two parts (a restart an hour later), ffmpeg's date form, one segment without a date.
        let m3u8 = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n\
            #EXT-X-PROGRAM-DATE-TIME:2026-12-07T18:00:00.000+0800\n#EXTINF:2.000000,\nseg1.ts\n\
            #EXTINF:1.5,\nseg2.ts\n\
            #EXT-X-DISCONTINUITY\n\
            #EXT-X-PROGRAM-DATE-TIME:2026-12-07T19:00:00.000+0800\n#EXTINF:2,\nseg9.ts\n\
            #EXT-X-ENDLIST\n";
        let t0 = crate::time::parse_ms("2026-12-07T10:00:00Z").unwrap();
        let times = segment_times(m3u8);
        assert_eq!(
            times,
            [
                SegmentTime {
                    wall_ms: t0,
                    start_s: 0.0,
                    duration_s: 2.0
                },
                SegmentTime {
                    wall_ms: t0 + 2000,
                    start_s: 2.0,
                    duration_s: 1.5
                },
                SegmentTime {
                    wall_ms: t0 + 3_600_000,
                    start_s: 3.5,
                    duration_s: 2.0
                },
            ]
        );
        assert_eq!(position_at(&times, t0 - 5000), 0.0);
        assert_eq!(position_at(&times, t0 + 500), 0.5);
        assert_eq!(position_at(&times, t0 + 2500), 2.5);
        // In the gap: where the next part starts.
        assert_eq!(position_at(&times, t0 + 60_000), 3.5);
        assert_eq!(position_at(&times, t0 + 3_601_000), 4.5);
        assert_eq!(position_at(&times, t0 + 9_000_000), 5.5);
        assert_eq!(wall_at(&times, 0.5), Some(t0 + 500));
        assert_eq!(wall_at(&times, 4.0), Some(t0 + 3_600_500));
        assert_eq!(wall_at(&times, 99.0), Some(t0 + 3_602_000));
        assert_eq!(wall_at(&[], 1.0), None);
        assert!(segment_times("#EXTM3U\n#EXTINF:2,\nseg1.ts\n").is_empty());
    }
}
