//! Replays (回放): an ended room plays its recording (made by the media gateway), with the pins
//! and the bag as the host showed them, in time, and product chapters. The time base is the wall
//! clock (`live_rooms.live_since_ms`, `event_log.wall_ms`), which the recording's segments carry
//! too; the shop's own clock may be fixed by a demo. Buying from a replay is in `buy`.

use chrono::SecondsFormat;
use jishi_api::live::{LiveEvent, Replay, TimedEvent};
use sqlx::SqliteConnection;

use crate::error::{PlatformError, Result};

/// An ended room's timeline: when it went live (wall clock, Unix ms) and its pin and bag events,
/// each at its seconds since then (events from before, such as a bag filled while the room was
/// scheduled, at 0). `None` unless the room has ended after being live.
pub(crate) async fn timeline(
    conn: &mut SqliteConnection,
    room_id: &str,
) -> Result<Option<(i64, Vec<TimedEvent>)>> {
    let rows: Vec<(i64, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT r.live_since_ms, e.wall_ms, e.json FROM live_rooms r
         LEFT JOIN event_log e ON e.log = 'room' AND e.key = r.id
              AND json_extract(e.json, '$.type') IN ('pinned', 'unpinned', 'bag')
         WHERE r.id = ? AND r.status = 'ended' AND r.live_since_ms IS NOT NULL
         ORDER BY e.seq",
    )
    .bind(room_id)
    .fetch_all(&mut *conn)
    .await?;
    let Some(since) = rows.first().map(|r| r.0) else {
        return Ok(None);
    };
    let mut events = Vec::with_capacity(rows.len());
    for (_, wall_ms, json) in rows {
        let Some(json) = json else { continue };
        let event: LiveEvent =
            serde_json::from_str(&json).map_err(|e| PlatformError::CorruptRow {
                what: format!("room {room_id} event"),
                detail: e.to_string(),
            })?;
        if Replay::keeps(&event) {
            events.push(TimedEvent {
                at_s: seconds_after(since, wall_ms.unwrap_or(since)),
                event,
            });
        }
    }
    Ok(Some((since, events)))
}

/// Whole seconds from `since` to `at` (both Unix ms), 0 for an instant before it.
fn seconds_after(since: i64, at: i64) -> u32 {
    u32::try_from((at - since).max(0) / 1000).unwrap_or(u32::MAX)
}

/// The replay of a room whose timeline is `timeline`, played from `hls`.
pub(crate) fn replay(hls: String, (since, events): (i64, Vec<TimedEvent>)) -> Replay {
    let started_at = chrono::DateTime::from_timestamp_millis(since)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    Replay {
        hls,
        started_at,
        chapters: Replay::chapters_of(&events),
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_whole_and_never_negative() {
        assert_eq!(seconds_after(1_000, 1_000), 0);
        assert_eq!(seconds_after(1_000, 2_999), 1);
        assert_eq!(seconds_after(1_000, 500), 0);
        let r = replay("/m".into(), (1_764_000_000_123, vec![]));
        assert_eq!(r.started_at, "2025-11-24T16:00:00.123Z");
        assert!(r.chapters.is_empty());
    }
}
