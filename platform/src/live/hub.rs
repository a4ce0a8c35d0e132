//! What the live rooms keep in memory: per-room wake-ups for the event streams, like taps not yet
//! written, the viewer counts the server instances report, and the comment rate limits. One
//! process's state: a restart forgets it, which costs at most a second of likes and a few seconds
//! of viewer counts (the instances report again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jishi_api::{ApiError, ErrorCode};
use tokio::sync::Notify;

use crate::error::Result;
use crate::orders::limits::Buckets;
use crate::orders::RateLimit;
use crate::writer::Writer;

/// The live rooms' limits and rhythms (part of `PlatformConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveLimits {
    /// One viewer's comments in one room: about 3 per 2 seconds.
    pub comments_per_user: RateLimit,
    /// The same in slow mode: one per 10 seconds.
    pub comments_slow_mode: RateLimit,
    /// All comments of one room together (the host's included).
    pub comments_per_room: RateLimit,
    /// Like batches of one room; beyond it, and while the room's comments are busy, likes are
    /// dropped (before any comment is).
    pub like_batches_per_room: RateLimit,
    /// A server instance's viewer report counts this long.
    pub viewer_ttl: Duration,
    /// How often pending likes are written and their totals published.
    pub flush_every: Duration,
    /// At most one `stats` event per stream this often, and only when a total changed.
    pub stats_every: Duration,
}

impl Default for LiveLimits {
    fn default() -> Self {
        Self {
            comments_per_user: RateLimit::new(3, Duration::from_millis(667)),
            comments_slow_mode: RateLimit::new(1, Duration::from_secs(10)),
            comments_per_room: RateLimit::new(50, Duration::from_millis(20)),
            like_batches_per_room: RateLimit::new(500, Duration::from_millis(2)),
            viewer_ttl: Duration::from_secs(15),
            flush_every: Duration::from_secs(1),
            stats_every: Duration::from_millis(500),
        }
    }
}

#[derive(Default)]
struct Room {
    notify: Arc<Notify>,
    /// Taps counted but not yet written.
    pending_likes: u64,
    /// The written total, once this process has written some (else the database's is current).
    likes: Option<u64>,
    /// Server instance → (viewers, when reported).
    viewers: HashMap<String, (u64, Instant)>,
    /// Event streams open on the room (each server instance should hold one).
    streams: usize,
}

struct State {
    rooms: HashMap<String, Room>,
    /// Keyed by "room user".
    per_user: Buckets,
    slow_mode: Buckets,
    per_room: Buckets,
    likes: Buckets,
}

pub struct Hub {
    limits: LiveLimits,
    /// Shared with the `OpenStream` guards, which outlive a borrow of the hub.
    state: Arc<Mutex<State>>,
}

/// Taps counted by a flush, to give back if the write fails.
pub type PendingLikes = Vec<(String, u64)>;

fn retry_message(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl Hub {
    pub fn new(limits: LiveLimits) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                rooms: HashMap::new(),
                per_user: Buckets::new(limits.comments_per_user),
                slow_mode: Buckets::new(limits.comments_slow_mode),
                per_room: Buckets::new(limits.comments_per_room),
                likes: Buckets::new(limits.like_batches_per_room),
            })),
            limits,
        }
    }

    pub fn limits(&self) -> &LiveLimits {
        &self.limits
    }

    /// Every critical section is a few map updates, so a panic elsewhere leaves it consistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        lock_state(&self.state)
    }

    /// The room's wake-up: streams wait on it, writers of the room's events notify it. Rooms are
    /// few and checked to exist before they get here, so entries are kept.
    pub fn watch(&self, room_id: &str) -> Arc<Notify> {
        self.lock()
            .rooms
            .entry(room_id.to_owned())
            .or_default()
            .notify
            .clone()
    }

    /// Counts an open event stream of the room until the returned guard is dropped.
    pub fn open_stream(&self, room_id: &str) -> OpenStream {
        self.lock()
            .rooms
            .entry(room_id.to_owned())
            .or_default()
            .streams += 1;
        OpenStream {
            state: self.state.clone(),
            room_id: room_id.to_owned(),
        }
    }

    /// Event streams open on the room now.
    pub fn open_streams(&self, room_id: &str) -> usize {
        self.lock().rooms.get(room_id).map_or(0, |r| r.streams)
    }

    /// Whether the room was seen to exist before (likes skip the database for known rooms).
    pub fn knows(&self, room_id: &str) -> bool {
        self.lock().rooms.contains_key(room_id)
    }

    /// Events of the room were written: wake its streams.
    pub fn notify(&self, room_id: &str) {
        if let Some(room) = self.lock().rooms.get(room_id) {
            room.notify.notify_waiters();
        }
    }

    /// Takes one comment from the viewer's and the room's allowance, or refuses with 429 and takes
    /// nothing. The host is exempt: the room is theirs to talk in.
    pub fn check_comment(
        &self,
        room_id: &str,
        user_id: &str,
        slow_mode: bool,
        is_host: bool,
    ) -> Result<(), ApiError> {
        if is_host {
            return Ok(());
        }
        let now = Instant::now();
        let mut state = self.lock();
        let state = &mut *state;
        let user_key = format!("{room_id} {user_id}");
        let user_buckets = if slow_mode {
            &mut state.slow_mode
        } else {
            &mut state.per_user
        };
        if let Some(wait) = user_buckets.wait(&user_key, now) {
            let why = if slow_mode {
                "慢速模式已开启"
            } else {
                "评论太快了"
            };
            return Err(ApiError::new(
                ErrorCode::TooManyRequests,
                format!("{why}，请 {} 秒后再发", retry_message(wait)),
            ));
        }
        if state.per_room.wait(room_id, now).is_some() {
            return Err(ApiError::new(
                ErrorCode::TooManyRequests,
                "直播间评论太多了，请稍后再发",
            ));
        }
        user_buckets.take(&user_key, now);
        state.per_room.take(room_id, now);
        Ok(())
    }

    /// Counts `n` taps, unless the room is busy: likes are shed first, while its comments use more
    /// than half their allowance or its like batches exceed theirs. Says whether they counted.
    pub fn add_likes(&self, room_id: &str, n: u64) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        let state = &mut *state;
        let comments_busy = state.per_room.tokens(room_id, now)
            < f64::from(self.limits.comments_per_room.burst) / 2.0;
        if comments_busy || state.likes.wait(room_id, now).is_some() {
            return false;
        }
        state.likes.take(room_id, now);
        state
            .rooms
            .entry(room_id.to_owned())
            .or_default()
            .pending_likes += n;
        true
    }

    /// Takes every room's pending taps for a flush.
    pub fn take_pending_likes(&self) -> PendingLikes {
        self.lock()
            .rooms
            .iter_mut()
            .filter(|(_, r)| r.pending_likes > 0)
            .map(|(id, r)| (id.clone(), std::mem::take(&mut r.pending_likes)))
            .collect()
    }

    /// A flush failed: its taps wait for the next one.
    pub fn restore_pending_likes(&self, pending: PendingLikes) {
        let mut state = self.lock();
        for (id, n) in pending {
            state.rooms.entry(id).or_default().pending_likes += n;
        }
    }

    fn set_likes(&self, room_id: &str, total: u64) {
        self.lock()
            .rooms
            .entry(room_id.to_owned())
            .or_default()
            .likes = Some(total);
    }

    /// The room's written likes total, if this process has written any.
    pub fn likes(&self, room_id: &str) -> Option<u64> {
        self.lock().rooms.get(room_id).and_then(|r| r.likes)
    }

    /// One server instance's viewers of the room now (replacing its previous report).
    pub fn report_viewers(&self, room_id: &str, instance: &str, count: u64) {
        self.report_viewers_at(room_id, instance, count, Instant::now());
    }

    fn report_viewers_at(&self, room_id: &str, instance: &str, count: u64, at: Instant) {
        self.lock()
            .rooms
            .entry(room_id.to_owned())
            .or_default()
            .viewers
            .insert(instance.to_owned(), (count, at));
    }

    /// Viewers of the room: the sum of the instances' fresh reports (stale ones are dropped).
    pub fn viewers(&self, room_id: &str) -> u64 {
        self.viewers_at(room_id, Instant::now())
    }

    fn viewers_at(&self, room_id: &str, now: Instant) -> u64 {
        let ttl = self.limits.viewer_ttl;
        let mut state = self.lock();
        let Some(room) = state.rooms.get_mut(room_id) else {
            return 0;
        };
        room.viewers
            .retain(|_, (_, at)| now.saturating_duration_since(*at) <= ttl);
        room.viewers.values().map(|(n, _)| n).sum()
    }
}

/// Writes every room's pending likes in one job on the writer and records the new totals, which
/// the streams then send in their next `stats` event. Taps of a failed write are kept for the next.
pub async fn flush_likes(writer: &Writer, hub: &Hub) -> Result<()> {
    let pending = hub.take_pending_likes();
    if pending.is_empty() {
        return Ok(());
    }
    let rows = pending.clone();
    let written = writer
        .run(move |conn| {
            Box::pin(async move {
                let mut totals = Vec::with_capacity(rows.len());
                for (room_id, n) in rows {
                    let total: Option<i64> = sqlx::query_scalar(
                        "UPDATE live_rooms SET likes = likes + ? WHERE id = ? RETURNING likes",
                    )
                    .bind(i64::try_from(n).unwrap_or(i64::MAX))
                    .bind(&room_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                    if let Some(total) = total {
                        totals.push((room_id, u64::try_from(total).unwrap_or(0)));
                    }
                }
                Ok(totals)
            })
        })
        .await;
    match written {
        Ok(totals) => {
            for (room_id, total) in totals {
                hub.set_likes(&room_id, total);
            }
            Ok(())
        }
        Err(e) => {
            hub.restore_pending_likes(pending);
            Err(e)
        }
    }
}

/// One open event stream of a room, counted in `Hub::open_streams` while it lives.
pub struct OpenStream {
    state: Arc<Mutex<State>>,
    room_id: String,
}

/// Every critical section is a few map updates, so a panic elsewhere leaves the state consistent.
fn lock_state(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        if let Some(room) = lock_state(&self.state).rooms.get_mut(&self.room_id) {
            room.streams = room.streams.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_reports_are_summed_and_stale_ones_dropped() {
        let hub = Hub::new(LiveLimits::default());
        let t0 = Instant::now();
        hub.report_viewers_at("r", "a", 3, t0);
        hub.report_viewers_at("r", "b", 4, t0 + Duration::from_secs(10));
        hub.report_viewers_at("r", "a", 5, t0 + Duration::from_secs(1));
        assert_eq!(hub.viewers_at("r", t0 + Duration::from_secs(12)), 9);
        assert_eq!(hub.viewers_at("r", t0 + Duration::from_secs(17)), 4);
        assert_eq!(hub.viewers_at("other", t0), 0);
    }

    #[test]
    fn comments_are_limited_per_viewer_and_the_host_is_exempt() {
        let hub = Hub::new(LiveLimits::default());
        for _ in 0..3 {
            assert!(hub.check_comment("r", "u", false, false).is_ok());
        }
        let refused = hub.check_comment("r", "u", false, false).unwrap_err();
        assert_eq!(refused.code, ErrorCode::TooManyRequests);
        assert!(hub.check_comment("r", "v", false, false).is_ok());
        assert!(hub.check_comment("r2", "u", false, false).is_ok());
        for _ in 0..10 {
            assert!(hub.check_comment("r", "host", false, true).is_ok());
        }
        assert!(hub.check_comment("r", "w", true, false).is_ok());
        assert!(hub.check_comment("r", "w", true, false).is_err());
    }

    #[test]
    fn likes_are_shed_while_the_room_is_busy_with_comments() {
        let hub = Hub::new(LiveLimits::default());
        assert!(hub.add_likes("r", 5));
        for n in 0..30 {
            let _ = hub.check_comment("r", &format!("u{n}"), false, false);
        }
        assert!(!hub.add_likes("r", 5), "shed while comments are busy");
        assert!(hub.add_likes("quiet", 5));
        let mut pending = hub.take_pending_likes();
        pending.sort();
        assert_eq!(pending, vec![("quiet".into(), 5), ("r".into(), 5)]);
        assert!(hub.take_pending_likes().is_empty());
    }
}
