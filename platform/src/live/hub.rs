//! What the live rooms keep in memory: like taps not yet written, the viewer counts the server
//! instances report, and the comment and like rate limits. (Wake-ups for the rooms' event streams
//! are the streams' own, `crate::streams`.) One
//! process's state: a restart forgets it, which costs at most a second of likes and a few seconds
//! of viewer counts (the instances report again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jishi_api::{ApiError, ErrorCode};

use crate::error::Result;
use crate::orders::limits::{whole_seconds, Buckets};
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
    /// One viewer's like batches (its session, else its address): the page sends one a second.
    pub like_batches_per_viewer: RateLimit,
    /// All like batches from one client address: several viewers behind one network still
    /// like, while one machine minting sessions cannot take the room's allowance.
    pub like_batches_per_client: RateLimit,
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
            like_batches_per_viewer: RateLimit::new(2, Duration::from_secs(1)),
            like_batches_per_client: RateLimit::new(10, Duration::from_millis(200)),
            viewer_ttl: Duration::from_secs(15),
            flush_every: Duration::from_secs(1),
            stats_every: Duration::from_millis(500),
        }
    }
}

#[derive(Default)]
struct Room {
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
    /// Keyed by "room viewer" and "room address".
    likes_per_viewer: Buckets,
    likes_per_client: Buckets,
}

pub struct Hub {
    limits: LiveLimits,
    /// Shared with the `OpenStream` guards, which outlive a borrow of the hub.
    state: Arc<Mutex<State>>,
    flashes: super::flash::FlashMemos,
}

/// Who sends a like batch: the viewer (their session, else their address) and their address.
/// Either is absent for a caller the platform cannot tell apart (its own tests).
#[derive(Debug, Clone, Default)]
pub struct Liker {
    pub viewer: Option<String>,
    pub client: Option<String>,
}

/// Taps counted by a flush, to give back if the write fails.
pub type PendingLikes = Vec<(String, u64)>;

impl Hub {
    pub fn new(limits: LiveLimits) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                rooms: HashMap::new(),
                per_user: Buckets::new(limits.comments_per_user),
                slow_mode: Buckets::new(limits.comments_slow_mode),
                per_room: Buckets::new(limits.comments_per_room),
                likes: Buckets::new(limits.like_batches_per_room),
                likes_per_viewer: Buckets::new(limits.like_batches_per_viewer),
                likes_per_client: Buckets::new(limits.like_batches_per_client),
            })),
            limits,
            flashes: Default::default(),
        }
    }

    pub fn limits(&self) -> &LiveLimits {
        &self.limits
    }

    /// The rooms' flash sales as far as refusing buys without the database goes.
    pub fn flashes(&self) -> &super::flash::FlashMemos {
        &self.flashes
    }

    /// Every critical section is a few map updates, so a panic elsewhere leaves it consistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        lock_state(&self.state)
    }

    /// Remembers that the room exists (likes then skip the database for it). Rooms are few and
    /// checked to exist before they get here, so entries are kept.
    pub fn remember(&self, room_id: &str) {
        self.lock().rooms.entry(room_id.to_owned()).or_default();
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
                format!("{why}，请 {} 秒后再发", whole_seconds(wait)),
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

    /// Counts `n` taps from `liker`, unless the room is busy or the liker is over their
    /// allowance: likes are shed first, while the room's comments use more than half their
    /// allowance, its like batches exceed theirs, or this viewer or address sends more than about
    /// a batch a second. Says whether they counted.
    pub fn add_likes(&self, room_id: &str, liker: &Liker, n: u64) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        let state = &mut *state;
        let comments_busy = state.per_room.tokens(room_id, now)
            < f64::from(self.limits.comments_per_room.burst) / 2.0;
        let viewer = liker.viewer.as_ref().map(|v| format!("{room_id} {v}"));
        let client = liker.client.as_ref().map(|c| format!("{room_id} {c}"));
        let over = |buckets: &Buckets, key: &Option<String>| {
            key.as_deref()
                .is_some_and(|k| buckets.wait(k, now).is_some())
        };
        if comments_busy
            || state.likes.wait(room_id, now).is_some()
            || over(&state.likes_per_viewer, &viewer)
            || over(&state.likes_per_client, &client)
        {
            return false;
        }
        state.likes.take(room_id, now);
        if let Some(k) = &viewer {
            state.likes_per_viewer.take(k, now);
        }
        if let Some(k) = &client {
            state.likes_per_client.take(k, now);
        }
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
    fn one_viewer_or_address_gets_about_a_batch_a_second_and_others_still_like() {
        let hub = Hub::new(LiveLimits::default());
        let viewer = |v: &str, ip: &str| Liker {
            viewer: Some(v.into()),
            client: Some(ip.into()),
        };
        let me = viewer("s1", "203.0.113.7");
        // 40 batches at once from one viewer: the first two count, the rest are shed.
        let counted = (0..40).filter(|_| hub.add_likes("r", &me, 100)).count();
        assert_eq!(counted, 2);
        // Minted sessions on the same address share the address's allowance.
        let minted = (0..40)
            .filter(|n| hub.add_likes("r", &viewer(&format!("m{n}"), "203.0.113.7"), 100))
            .count();
        assert_eq!(minted, 8, "the address's 10 less the viewer's 2");
        // Everybody else still likes.
        assert!(hub.add_likes("r", &viewer("s2", "198.51.100.1"), 1));
        assert!(
            hub.add_likes("r2", &me, 1),
            "another room has its own allowance"
        );
        let mut pending = hub.take_pending_likes();
        pending.sort();
        assert_eq!(pending, vec![("r".into(), 1001), ("r2".into(), 1)]);
    }

    #[test]
    fn likes_are_shed_while_the_room_is_busy_with_comments() {
        let hub = Hub::new(LiveLimits::default());
        let anyone = Liker::default();
        assert!(hub.add_likes("r", &anyone, 5));
        for n in 0..30 {
            let _ = hub.check_comment("r", &format!("u{n}"), false, false);
        }
        assert!(
            !hub.add_likes("r", &anyone, 5),
            "shed while comments are busy"
        );
        assert!(hub.add_likes("quiet", &anyone, 5));
        let mut pending = hub.take_pending_likes();
        pending.sort();
        assert_eq!(pending, vec![("quiet".into(), 5), ("r".into(), 5)]);
        assert!(hub.take_pending_likes().is_empty());
    }
}
