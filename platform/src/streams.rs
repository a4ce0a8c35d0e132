//! What the event streams share: wake-ups per logged thing (an order, a room, a group), the caps
//! on open streams per session and per client address, and the shutdown signal that closes them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use jishi_api::events::{MAX_STREAMS_PER_CLIENT, MAX_STREAMS_PER_SESSION};
use jishi_api::{ApiError, ErrorCode};
use tokio::sync::{watch, Notify};

use crate::event_log::Log;

/// A poisoned map is still consistent here (every critical section is a single insert, remove or
/// counter change), so a panic elsewhere must not take the streams down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts what each key (a session, a client address) holds open, up to a cap per key. A slot is
/// given back when its `Slot` is dropped; a key's entry goes with its last slot. Also used by the
/// server for the streams it holds itself.
#[derive(Clone, Default)]
pub struct Slots {
    held: Arc<Mutex<HashMap<String, usize>>>,
}

impl Slots {
    /// One of `key`'s `max` slots, or `None` if it holds them all.
    pub fn take(&self, key: &str, max: usize) -> Option<Slot> {
        let mut held = lock(&self.held);
        let count = held.entry(key.to_owned()).or_default();
        if *count >= max {
            if *count == 0 {
                held.remove(key);
            }
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            key: key.to_owned(),
        })
    }

    /// Slots `key` holds now.
    pub fn held_by(&self, key: &str) -> usize {
        lock(&self.held).get(key).copied().unwrap_or(0)
    }

    /// Slots held now, all keys together.
    pub fn total(&self) -> usize {
        lock(&self.held).values().sum()
    }

    /// Keys holding at least one slot.
    pub fn holders(&self) -> usize {
        lock(&self.held).len()
    }
}

/// One held slot; dropping it (the stream ended, the client went away) gives it back.
pub struct Slot {
    slots: Slots,
    key: String,
}

impl Slot {
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = lock(&self.slots.held);
        if let Some(count) = held.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// Who opens a stream, for its caps: the caller's session and the client address the server
/// reported. A stream with neither (a server's own subscription to a room) is not capped here.
#[derive(Debug, Clone, Default)]
pub struct Holder {
    pub session: Option<String>,
    pub client: Option<String>,
}

/// The slots one open stream holds; given back together when it ends.
pub struct StreamSlots {
    _session: Option<Slot>,
    _client: Option<Slot>,
}

type Watchers = HashMap<(Log, String), (Arc<Notify>, usize)>;

/// The shared state behind every open event stream.
pub struct Streams {
    /// One `Notify` per logged thing that some stream watches, with the number of its watchers;
    /// an entry goes with its last watcher.
    watchers: Mutex<Watchers>,
    per_session: Slots,
    per_client: Slots,
    /// Turns `true` once the platform is shutting down; streams then say so and close.
    shutdown: watch::Sender<bool>,
    /// Waits that ended because of a notification (not the poll): shows who gets woken.
    wakeups: AtomicU64,
}

impl Default for Streams {
    fn default() -> Self {
        Self {
            watchers: Mutex::default(),
            per_session: Slots::default(),
            per_client: Slots::default(),
            shutdown: watch::Sender::new(false),
            wakeups: AtomicU64::new(0),
        }
    }
}

impl Streams {
    /// Wakes the streams that wait on these keys of `log`, and only those.
    pub fn notify(&self, log: Log, keys: &[String]) {
        let watchers = lock(&self.watchers);
        for key in keys {
            if let Some((n, _)) = watchers.get(&(log, key.clone())) {
                n.notify_waiters();
            }
        }
    }

    /// Starts watching `key` of `log` for wake-ups, until the returned `Watch` is dropped.
    pub fn watch(self: &Arc<Self>, log: Log, key: &str) -> Watch {
        let notify = {
            let mut watchers = lock(&self.watchers);
            let (notify, count) = watchers.entry((log, key.to_owned())).or_default();
            *count += 1;
            notify.clone()
        };
        Watch {
            streams: self.clone(),
            what: (log, key.to_owned()),
            notify,
        }
    }

    /// Claims the stream's slots: one of the session's `MAX_STREAMS_PER_SESSION` and one of the
    /// client address's `MAX_STREAMS_PER_CLIENT`; 429 when either is full (nothing taken).
    pub fn open(&self, holder: &Holder) -> Result<StreamSlots, ApiError> {
        let session = match &holder.session {
            Some(s) => Some(
                self.per_session
                    .take(s, MAX_STREAMS_PER_SESSION)
                    .ok_or_else(|| too_many(MAX_STREAMS_PER_SESSION))?,
            ),
            None => None,
        };
        let client = match &holder.client {
            Some(c) => Some(
                self.per_client
                    .take(c, MAX_STREAMS_PER_CLIENT)
                    .ok_or_else(|| too_many(MAX_STREAMS_PER_CLIENT))?,
            ),
            None => None,
        };
        Ok(StreamSlots {
            _session: session,
            _client: client,
        })
    }

    /// Streams this session holds open now.
    pub fn open_for(&self, session_id: &str) -> usize {
        self.per_session.held_by(session_id)
    }

    /// Streams this client address holds open now.
    pub fn open_for_client(&self, client: &str) -> usize {
        self.per_client.held_by(client)
    }

    /// Capped streams open now (every such stream holds a session slot or a client slot, or
    /// both; counted once).
    pub fn open_total(&self) -> usize {
        self.per_session.total().max(self.per_client.total())
    }

    /// Tells every stream, open or yet to open, that the platform is shutting down.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves once the platform is shutting down (at once if it already is).
    pub fn shutting_down(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.subscribe();
        async move {
            // Err only if the sender is gone, i.e. the platform itself: nothing left to wait for.
            let _ = rx.wait_for(|down| *down).await;
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub(crate) fn count_wakeup(&self) {
        self.wakeups.fetch_add(1, Ordering::Relaxed);
    }

    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }
}

fn too_many(max: usize) -> ApiError {
    ApiError::new(
        ErrorCode::TooManyRequests,
        format!("同时打开的实时页面最多 {max} 个，请关闭一些页面"),
    )
}

/// A stream's interest in one logged thing's events.
pub struct Watch {
    streams: Arc<Streams>,
    what: (Log, String),
    notify: Arc<Notify>,
}

impl Watch {
    pub fn notify(&self) -> &Arc<Notify> {
        &self.notify
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut watchers = lock(&self.streams.watchers);
        if let Some((_, count)) = watchers.get_mut(&self.what) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                watchers.remove(&self.what);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_key_and_freed_on_drop() {
        let slots = Slots::default();
        let mut mine: Vec<_> = (0..3).map(|_| slots.take("s1", 3).unwrap()).collect();
        assert!(slots.take("s1", 3).is_none());
        let other = slots.take("s2", 3).expect("another key has its own slots");
        mine.pop();
        assert_eq!(slots.held_by("s1"), 2);
        let again = slots.take("s1", 3).expect("a freed slot is reusable");
        drop((again, other));
        assert_eq!(slots.held_by("s2"), 0);
        assert_eq!(slots.holders(), 1, "no entry left behind");
        assert!(slots.take("s3", 0).is_none());
        assert_eq!(slots.holders(), 1, "a refused key leaves nothing behind");
    }

    #[test]
    fn a_stream_needs_a_slot_of_its_session_and_of_its_client() {
        let streams = Streams::default();
        let holder = |s: usize| Holder {
            session: Some(format!("s{s}")),
            client: Some("203.0.113.7".into()),
        };
        // Many sessions from one address: each session's cap, and the address's.
        let mut open = Vec::new();
        for s in 0..MAX_STREAMS_PER_CLIENT {
            open.push(streams.open(&holder(s)).expect("within the caps"));
        }
        let refused = streams
            .open(&holder(999))
            .err()
            .expect("the address is full");
        assert_eq!(refused.code, ErrorCode::TooManyRequests);
        assert_eq!(streams.open_for("s999"), 0, "a refusal holds nothing");
        let elsewhere = Holder {
            session: Some("s999".into()),
            client: Some("198.51.100.1".into()),
        };
        let mut same_session = Vec::new();
        for _ in 0..MAX_STREAMS_PER_SESSION {
            same_session.push(streams.open(&elsewhere).expect("another address"));
        }
        assert!(streams.open(&elsewhere).is_err(), "the session is full");
        drop(open);
        assert_eq!(streams.open_for_client("203.0.113.7"), 0);
        // The server's own subscriptions carry neither and are not capped here.
        for _ in 0..200 {
            same_session.push(streams.open(&Holder::default()).unwrap());
        }
    }

    #[tokio::test]
    async fn only_the_watchers_of_a_key_are_woken_and_entries_go_with_them() {
        let streams = Arc::new(Streams::default());
        let a = streams.watch(Log::Order, "o1");
        let a2 = streams.watch(Log::Order, "o1");
        let b = streams.watch(Log::Order, "o2");
        let room = streams.watch(Log::Room, "o1");
        let (na, nb, nr) = (
            a.notify().clone(),
            b.notify().clone(),
            room.notify().clone(),
        );
        let woken_a = na.notified();
        let woken_b = nb.notified();
        let woken_room = nr.notified();
        tokio::pin!(woken_a, woken_b, woken_room);
        woken_a.as_mut().enable();
        woken_b.as_mut().enable();
        woken_room.as_mut().enable();
        streams.notify(Log::Order, &["o1".to_owned(), "o3".to_owned()]);
        tokio::time::timeout(std::time::Duration::from_secs(5), woken_a)
            .await
            .expect("o1's watcher is woken");
        assert!(
            futures::poll!(woken_b).is_pending(),
            "o2's watcher sleeps on"
        );
        assert!(
            futures::poll!(woken_room).is_pending(),
            "the same key in another log sleeps on"
        );
        drop((a, b, room));
        assert_eq!(lock(&streams.watchers).len(), 1, "o1 is still watched");
        drop(a2);
        assert!(lock(&streams.watchers).is_empty());
    }
}
