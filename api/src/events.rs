//! The order event stream (`GET /v1/orders/{id}/events`): where a (re)connecting stream resumes,
//! what it sends first, and how many a session may hold open.
//!
//! The SSE event names are in [`crate::headers`] (`ORDER_EVENT`, `SHUTDOWN_EVENT`).

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Event streams one session may hold open at once; the next one is refused with 429.
pub const MAX_STREAMS_PER_SESSION: usize = 8;

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

/// Whether a stream that resumes after `after` and finds no newer event starts by sending the
/// order's latest event (`latest_seq`, final or not) again. It does when that event is final, so a
/// client resuming at or past the end still learns the order is over (and the stream then closes),
/// and when the client claims an id the order never reached, so it re-synchronises on the truth.
/// Otherwise the stream simply waits for the next event: an ordinary reconnect repeats nothing.
pub fn resend_latest(after: u64, latest_seq: u64, latest_is_final: bool) -> bool {
    latest_seq > 0 && (latest_is_final || after > latest_seq)
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
    fn the_latest_event_is_sent_again_only_at_the_end_or_past_the_log() {
        // An order without events (unpaid): nothing to send.
        assert!(!resend_latest(0, 0, false));
        assert!(!resend_latest(4, 0, false));
        // A finished order: the final event, whether the client saw it or not.
        assert!(resend_latest(15, 15, true));
        assert!(resend_latest(99, 15, true));
        // An order in progress: an ordinary reconnect waits; a client ahead of the log re-syncs.
        assert!(!resend_latest(5, 5, false));
        assert!(resend_latest(9, 5, false));
    }
}
