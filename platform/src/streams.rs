//! What the order event streams share: per-order wake-ups, the per-session cap on open streams,
//! and the platform-wide shutdown signal that closes them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, Notify};

/// The shared state behind every open event stream.
pub struct Streams {
    /// One `Notify` per order that some stream watches, with the number of its watchers; an entry
    /// goes with its last watcher.
    orders: Mutex<HashMap<String, (Arc<Notify>, usize)>>,
    /// Open streams per session id; an entry goes with the session's last stream.
    open: Mutex<HashMap<String, usize>>,
    /// Turns `true` once the platform is shutting down; streams then say so and close.
    shutdown: watch::Sender<bool>,
    /// Waits that ended because of a notification (not the poll): shows who gets woken.
    wakeups: AtomicU64,
}

/// A poisoned map is still consistent here (every critical section is a single insert, remove or
/// counter change), so a panic elsewhere must not take the streams down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for Streams {
    fn default() -> Self {
        Self {
            orders: Mutex::default(),
            open: Mutex::default(),
            shutdown: watch::Sender::new(false),
            wakeups: AtomicU64::new(0),
        }
    }
}

impl Streams {
    /// Wakes the streams that wait on these orders, and only those.
    pub fn notify(&self, order_ids: &[String]) {
        let orders = lock(&self.orders);
        for id in order_ids {
            if let Some((n, _)) = orders.get(id) {
                n.notify_waiters();
            }
        }
    }

    /// Starts watching `order_id` for wake-ups, until the returned `OrderWatch` is dropped.
    pub fn watch(self: &Arc<Self>, order_id: &str) -> OrderWatch {
        let notify = {
            let mut orders = lock(&self.orders);
            let (notify, watchers) = orders.entry(order_id.to_owned()).or_default();
            *watchers += 1;
            notify.clone()
        };
        OrderWatch {
            streams: self.clone(),
            order_id: order_id.to_owned(),
            notify,
        }
    }

    /// Claims one of the session's `max` stream slots, or `None` if all are taken.
    pub fn open(self: &Arc<Self>, session_id: &str, max: usize) -> Option<StreamSlot> {
        let mut open = lock(&self.open);
        let count = open.entry(session_id.to_owned()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            streams: self.clone(),
            session_id: session_id.to_owned(),
        })
    }

    /// Streams this session holds open now.
    pub fn open_for(&self, session_id: &str) -> usize {
        lock(&self.open).get(session_id).copied().unwrap_or(0)
    }

    /// Streams open now, all sessions together.
    pub fn open_total(&self) -> usize {
        lock(&self.open).values().sum()
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

/// A stream's interest in one order's events.
pub struct OrderWatch {
    streams: Arc<Streams>,
    order_id: String,
    notify: Arc<Notify>,
}

impl OrderWatch {
    pub fn notify(&self) -> &Arc<Notify> {
        &self.notify
    }
}

impl Drop for OrderWatch {
    fn drop(&mut self) {
        let mut orders = lock(&self.streams.orders);
        if let Some((_, watchers)) = orders.get_mut(&self.order_id) {
            *watchers = watchers.saturating_sub(1);
            if *watchers == 0 {
                orders.remove(&self.order_id);
            }
        }
    }
}

/// One open stream of a session; dropping it (the stream ended or the client went away) frees
/// the slot.
pub struct StreamSlot {
    streams: Arc<Streams>,
    session_id: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.streams.open);
        if let Some(count) = open.get_mut(&self.session_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.session_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_session_and_freed_on_drop() {
        let streams = Arc::new(Streams::default());
        let mut mine: Vec<_> = (0..3).map(|_| streams.open("s1", 3).unwrap()).collect();
        assert!(streams.open("s1", 3).is_none());
        let other = streams
            .open("s2", 3)
            .expect("another session has its own slots");
        mine.pop();
        assert_eq!(streams.open_for("s1"), 2);
        let again = streams.open("s1", 3).expect("a freed slot is reusable");
        drop((again, other));
        assert_eq!(streams.open_for("s2"), 0);
        assert!(
            !lock(&streams.open).contains_key("s2"),
            "no entry left behind"
        );
    }

    #[tokio::test]
    async fn only_the_watchers_of_an_order_are_woken_and_entries_go_with_them() {
        let streams = Arc::new(Streams::default());
        let a = streams.watch("o1");
        let a2 = streams.watch("o1");
        let b = streams.watch("o2");
        let (na, nb) = (a.notify().clone(), b.notify().clone());
        let woken_a = na.notified();
        let woken_b = nb.notified();
        tokio::pin!(woken_a, woken_b);
        woken_a.as_mut().enable();
        woken_b.as_mut().enable();
        streams.notify(&["o1".to_owned(), "o3".to_owned()]);
        tokio::time::timeout(std::time::Duration::from_secs(5), woken_a)
            .await
            .expect("o1's watcher is woken");
        assert!(
            futures::poll!(woken_b).is_pending(),
            "o2's watcher sleeps on"
        );
        drop((a, b));
        assert_eq!(lock(&streams.orders).len(), 1, "o1 is still watched");
        drop(a2);
        assert!(lock(&streams.orders).is_empty());
    }
}
