//! Event streams (an order's tracking, a live room, a group): where a (re)connecting stream
//! resumes, what it sends first, how many one shopper may hold open, and how a stream that the
//! platform or server closes on shutdown says so.
//!
//! The SSE event names are in [`crate::headers`] (`ORDER_EVENT`, `SHUTDOWN_EVENT`),
//! [`crate::live::LIVE_EVENT`] and [`crate::groups::GROUP_EVENT`].

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::headers::SHUTDOWN_EVENT;

/// Event streams one session may hold open at once; the next one is refused with 429.
pub const MAX_STREAMS_PER_SESSION: usize = 8;

/// Event streams one client address may hold open at once (all sessions and none together): a
/// household or an office behind one address still fits, while one machine cannot take every
/// stream slot by minting sessions. The server's default; `JISHI_MAX_STREAMS_PER_CLIENT` changes it.
pub const MAX_STREAMS_PER_CLIENT: usize = 64;

/// A resume point further behind the log than this gets a fresh snapshot (where the log has
/// snapshots) instead of the backlog.
pub const MAX_REPLAY: u64 = 1000;

/// The stream's query string: `?last_event_id=` for clients that cannot set `Last-Event-ID`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeQuery {
    pub last_event_id: Option<String>,
}

/// Where a (re)connecting stream resumes: the `Last-Event-ID` header (what browsers send on
/// reconnect), else `?last_event_id=`; blank or absent means from the first event. Events after it
/// are sent, none repeated, none skipped.
pub fn resume_point(header: Option<&str>, query: &ResumeQuery) -> Result<u64, ApiError> {
    let raw = header
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .or_else(|| query.last_event_id.as_deref().map(str::trim));
    match raw.filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::bad_request("Last-Event-ID 应为事件序号")),
    }
}

/// How a stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// With a snapshot of the whole state, whose id is the log's latest seq.
    Snapshot,
    /// With the events after this seq.
    After(u64),
}

/// How a stream that resumes after `after` starts, when the log's latest event is `latest`
/// (`latest_final`: nothing follows it) and the log can send a snapshot (`snapshots`: rooms and
/// groups; an order's log is short and starts from its first event).
///
/// - A new client (`after` 0), one ahead of the log (a stale id) or one more than `MAX_REPLAY`
///   behind starts from a snapshot where there is one.
/// - Resumed at or past a finished log's end, the final event is sent again, so the client still
///   learns it is over (and the stream then closes); a client ahead of a log without snapshots
///   likewise re-synchronises on its latest event.
/// - Otherwise exactly the events after `after`: an ordinary reconnect repeats nothing.
pub fn start(after: u64, latest: u64, latest_final: bool, snapshots: bool) -> Start {
    let fresh = after == 0 || after > latest || latest - after > MAX_REPLAY;
    if snapshots && fresh {
        return Start::Snapshot;
    }
    if latest > 0 && after >= latest && (latest_final || after > latest) {
        return Start::After(latest - 1);
    }
    Start::After(after)
}

/// What the `shutdown` event says, the same from the platform and the server: the stream ends
/// because the process is going away, and the client comes back after `retry_ms` with its
/// `Last-Event-ID` (the event itself has no id, so that stays on the last durable event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownNotice {
    pub retry_ms: u32,
}

/// The wait `ShutdownNotice` asks for: a restarting process is usually back within a second.
pub const SHUTDOWN_RETRY_MS: u32 = 1000;

impl Default for ShutdownNotice {
    fn default() -> Self {
        ShutdownNotice {
            retry_ms: SHUTDOWN_RETRY_MS,
        }
    }
}

/// The whole `shutdown` frame as it goes on the wire (with the SSE `retry` field that browsers
/// honour), for streams written frame by frame.
pub fn shutdown_frame() -> String {
    let notice = ShutdownNotice::default();
    format!(
        "event: {SHUTDOWN_EVENT}\nretry: {}\ndata: {{\"retry_ms\":{}}}\n\n",
        notice.retry_ms, notice.retry_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(v: Option<&str>) -> ResumeQuery {
        ResumeQuery {
            last_event_id: v.map(str::to_owned),
        }
    }

    #[test]
    fn the_header_wins_and_blank_means_from_the_start() {
        assert_eq!(resume_point(None, &query(None)).unwrap(), 0);
        assert_eq!(resume_point(Some(" "), &query(None)).unwrap(), 0);
        assert_eq!(resume_point(None, &query(Some(""))).unwrap(), 0);
        assert_eq!(resume_point(Some("7"), &query(Some("3"))).unwrap(), 7);
        assert_eq!(resume_point(Some(""), &query(Some(" 3 "))).unwrap(), 3);
        assert_eq!(resume_point(None, &query(Some("12"))).unwrap(), 12);
    }

    #[test]
    fn a_resume_point_that_is_not_a_sequence_number_is_refused() {
        for bad in ["abc", "-1", "1.5", "99999999999999999999999"] {
            let err = resume_point(Some(bad), &query(None)).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::BadRequest, "{bad}");
            assert!(resume_point(None, &query(Some(bad))).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_log_without_snapshots_sends_its_latest_event_again_only_at_the_end_or_past_it() {
        let order = |after, latest, fin| start(after, latest, fin, false);
        // An order without events (unpaid): nothing to send yet.
        assert_eq!(order(0, 0, false), Start::After(0));
        assert_eq!(order(4, 0, false), Start::After(4));
        // A finished order: the final event, whether the client saw it or not.
        assert_eq!(order(15, 15, true), Start::After(14));
        assert_eq!(order(99, 15, true), Start::After(14));
        assert_eq!(order(3, 15, true), Start::After(3));
        // An order in progress: an ordinary reconnect waits; a client ahead of the log re-syncs.
        assert_eq!(order(5, 5, false), Start::After(5));
        assert_eq!(order(9, 5, false), Start::After(4));
        assert_eq!(order(0, 5, false), Start::After(0));
    }

    #[test]
    fn a_log_with_snapshots_starts_fresh_clients_from_one() {
        let room = |after, latest| start(after, latest, false, true);
        assert_eq!(room(0, 0), Start::Snapshot);
        assert_eq!(room(0, 7), Start::Snapshot);
        assert_eq!(room(8, 7), Start::Snapshot, "ahead of the log");
        assert_eq!(room(5, 7), Start::After(5));
        assert_eq!(room(7, 7), Start::After(7));
        assert_eq!(room(100, 100 + MAX_REPLAY), Start::After(100));
        assert_eq!(
            room(99, 100 + MAX_REPLAY),
            Start::Snapshot,
            "too far behind"
        );
        // A finished group resumed at its end: the final event again.
        assert_eq!(start(9, 9, true, true), Start::After(8));
        assert_eq!(start(4, 9, true, true), Start::After(4));
    }

    #[test]
    fn the_shutdown_frame_carries_the_notice_and_no_id() {
        let frame = shutdown_frame();
        assert!(frame.starts_with("event: shutdown\n"), "{frame}");
        assert!(!frame.contains("id:"), "{frame}");
        let data = frame
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("data");
        let notice: ShutdownNotice = serde_json::from_str(data).unwrap();
        assert_eq!(notice, ShutdownNotice::default());
        assert!(frame.contains("retry: 1000\n") && frame.ends_with("\n\n"));
    }
}
