//! The one event feed: a log's events (`crate::event_log`) as server-sent events, for an order's
//! tracking, a live room and a group alike.
//!
//! A stream starts where `jishi_api::events::start` says (a snapshot for rooms and groups, or the
//! events after the client's `Last-Event-ID`), sends every durable event once with its seq as the
//! SSE id, wakes as soon as a writer appends (its `Watch`, registered before each read, so nothing
//! waits for the safety poll), ends after a final event, and on shutdown sends one `shutdown`
//! event without id. It holds one of its session's and one of its client address's stream slots
//! while it lives. A room's stream also sends coalesced `stats` (likes and viewers, no id).
//!
//! What differs per log is here in one place: the event name, what is final, the snapshot.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use jishi_api::events::{start, ShutdownNotice, Start};
use jishi_api::groups::{GroupEvent, GROUP_EVENT};
use jishi_api::headers::{ORDER_EVENT, SHUTDOWN_EVENT};
use jishi_api::live::{LiveEvent, LIVE_EVENT};
use jishi_api::orders::OrderEvent;

use crate::error::Result;
use crate::event_log::{self, Log};
use crate::streams::{Holder, StreamSlots, Watch};
use crate::{groups, live, Platform};

/// How often an idle stream looks for events by itself: only a safety net, since every writer
/// wakes the streams of what it changed (an order released by the reaper, say, is seen by it).
const EVENT_POLL: Duration = Duration::from_secs(2);
/// Events read from the log at a time.
const READ_BATCH: u32 = 200;

impl Log {
    /// The SSE event name its events go out under.
    fn event_name(self) -> &'static str {
        match self {
            Log::Order => ORDER_EVENT,
            Log::Room => LIVE_EVENT,
            Log::Group => GROUP_EVENT,
        }
    }

    /// Whether the stream may start from a snapshot of the whole state.
    fn has_snapshots(self) -> bool {
        matches!(self, Log::Room | Log::Group)
    }

    /// Whether nothing follows this event: the stream sends it and ends.
    fn is_final(self, json: &str) -> bool {
        match self {
            Log::Order => serde_json::from_str::<OrderEvent>(json).is_ok_and(|e| e.is_last()),
            Log::Group => serde_json::from_str::<GroupEvent>(json).is_ok_and(|e| e.is_final()),
            Log::Room => false,
        }
    }
}

/// A room's coalesced stats: the likes total as of the snapshot or the stream's start, until the
/// hub knows a newer one, and the totals last sent.
struct RoomStats {
    base_likes: u64,
    last: Option<(u64, u64)>,
    tick: tokio::time::Interval,
    _open: live::hub::OpenStream,
}

struct Feed {
    platform: Platform,
    log: Log,
    key: String,
    /// The last durable seq sent (or covered by the snapshot).
    after: u64,
    snapshot_due: bool,
    pending: VecDeque<(u64, String)>,
    /// Set once a final event or the shutdown event went out: the stream ends.
    finished: bool,
    watch: Watch,
    stats: Option<RoomStats>,
    _slots: StreamSlots,
}

/// Opens `key`'s stream of `log` for `holder`, resuming after `after` (0: from the start). The
/// caller has checked that the caller may see it (an order is its shopper's); a room or group
/// that does not exist is a 404 here. 429 past the holder's stream caps.
pub async fn open(
    p: Platform,
    log: Log,
    key: String,
    after: u64,
    holder: &Holder,
) -> Result<Sse<impl futures::Stream<Item = std::result::Result<Event, Infallible>>>> {
    let (latest, base_likes) = {
        let mut conn = p.pool().acquire().await?;
        let base_likes = match log {
            Log::Room => Some(live::room_row(&mut conn, &key).await?.likes),
            Log::Group => {
                groups::group_row(&crate::sql::lock(&mut conn).await?, &key)?
                    .ok_or_else(groups::unknown_group)?;
                None
            }
            Log::Order => None,
        };
        (event_log::latest(&mut conn, log, &key).await?, base_likes)
    };
    let (latest_seq, latest_final) = latest
        .as_ref()
        .map_or((0, false), |(seq, json)| (*seq, log.is_final(json)));
    let slots = p.streams().open(holder)?;
    let (snapshot_due, after) = match start(after, latest_seq, latest_final, log.has_snapshots()) {
        Start::Snapshot => (true, after),
        Start::After(seq) => (false, seq),
    };
    let stats = base_likes.map(|base_likes| {
        let mut tick = tokio::time::interval(p.live().limits().stats_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        RoomStats {
            base_likes,
            last: None,
            tick,
            _open: p.live().open_stream(&key),
        }
    });
    let feed = Feed {
        watch: p.streams().watch(log, &key),
        platform: p,
        log,
        key,
        after,
        snapshot_due,
        pending: VecDeque::new(),
        finished: false,
        stats,
        _slots: slots,
    };
    let stream = futures::stream::unfold(feed, |feed| async move {
        feed.next().await.map(|(event, feed)| (Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The last event of a stream closed by the platform's shutdown. It carries no id, so the client's
/// `Last-Event-ID` stays on the last durable event and a reconnect resumes there.
pub fn shutdown_event() -> Event {
    let notice = ShutdownNotice::default();
    Event::default()
        .event(SHUTDOWN_EVENT)
        .retry(Duration::from_millis(u64::from(notice.retry_ms)))
        .json_data(notice)
        .unwrap_or_default()
}

impl Feed {
    /// The next SSE event, waiting for one if need be; `None` once the stream is over.
    async fn next(mut self) -> Option<(Event, Self)> {
        loop {
            if self.snapshot_due {
                self.snapshot_due = false;
                return match self.snapshot().await {
                    Ok((seq, json)) => {
                        // Events after the snapshot's seq are the changes it does not show.
                        self.after = seq;
                        self.pending.clear();
                        let event = self.durable(seq, json);
                        Some((event, self))
                    }
                    Err(e) => {
                        tracing::error!(log = self.log.name(), key = %self.key, error = %e, "reading a snapshot failed");
                        None
                    }
                };
            }
            if let Some((seq, json)) = self.pending.pop_front() {
                self.after = seq;
                let event = self.durable(seq, json);
                return Some((event, self));
            }
            if self.finished {
                return None;
            }
            if self.platform.streams().is_shutting_down() {
                self.finished = true;
                return Some((shutdown_event(), self));
            }
            // Register for the wake-up before reading: an event written during the read then
            // still ends the wait below at once, instead of waiting for the poll.
            let notify = self.watch.notify().clone();
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let p = &self.platform;
            match event_log::after(p.pool(), self.log, &self.key, self.after, READ_BATCH).await {
                Ok(events) if !events.is_empty() => {
                    self.pending.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(log = self.log.name(), key = %self.key, error = %e, "reading events failed");
                    return None;
                }
            }
            let streams = self.platform.streams().clone();
            let stats_due = async {
                match self.stats.as_mut() {
                    Some(stats) => {
                        stats.tick.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let mut stats_time = false;
            tokio::select! {
                _ = woken => streams.count_wakeup(),
                _ = tokio::time::sleep(EVENT_POLL) => {}
                _ = streams.shutting_down() => {}
                _ = stats_due => stats_time = true,
            }
            if stats_time {
                if let Some(event) = self.stats_if_changed() {
                    return Some((event, self));
                }
            }
        }
    }

    /// A durable event (id = its seq); a final one ends the stream after it.
    fn durable(&mut self, seq: u64, json: String) -> Event {
        self.finished = self.log.is_final(&json);
        Event::default()
            .id(seq.to_string())
            .event(self.log.event_name())
            .data(json)
    }

    /// The whole state as the first event, with the log's seq it is as of.
    async fn snapshot(&mut self) -> Result<(u64, String)> {
        let p = &self.platform;
        match self.log {
            Log::Room => {
                let (snapshot, seq) = live::snapshot(p, &self.key).await?;
                if let (LiveEvent::Snapshot { room, .. }, Some(stats)) =
                    (&snapshot, &mut self.stats)
                {
                    stats.base_likes = room.likes;
                    stats.last = Some((room.likes, room.viewer_count));
                }
                Ok((seq, event_log::to_json(self.log, &self.key, &snapshot)?))
            }
            Log::Group => {
                let (snapshot, seq) =
                    groups::snapshot(p.pool(), p.index(), &self.key, p.now_unix()).await?;
                Ok((seq, event_log::to_json(self.log, &self.key, &snapshot)?))
            }
            // Orders have no snapshot (`has_snapshots`): their log is short and read whole.
            Log::Order => Err(crate::error::PlatformError::CorruptRow {
                what: format!("order {}", self.key),
                detail: "an order's stream has no snapshot".into(),
            }),
        }
    }

    /// A room's `stats` event (no id: a missed one is superseded by the next) when its totals
    /// changed since the last one sent.
    fn stats_if_changed(&mut self) -> Option<Event> {
        let stats = self.stats.as_mut()?;
        let hub = self.platform.live();
        let now = (
            hub.likes(&self.key).unwrap_or(stats.base_likes),
            hub.viewers(&self.key),
        );
        if stats.last == Some(now) {
            return None;
        }
        stats.last = Some(now);
        let event = LiveEvent::Stats {
            likes: now.0,
            viewer_count: now.1,
        };
        Some(
            Event::default()
                .event(LIVE_EVENT)
                .json_data(&event)
                .unwrap_or_default(),
        )
    }
}
