//! Rate limits on placing orders, per shopper and per client address: token buckets held in the
//! platform's memory (they protect this process's write path; a restart forgets them, which is
//! harmless). The unpaid-order cap in `placement` is the durable limit against hoarding.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jishi_api::{ApiError, ErrorCode};

/// A token bucket: up to `burst` requests at once, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: u32,
    pub every: Duration,
}

impl RateLimit {
    pub const fn new(burst: u32, every: Duration) -> Self {
        Self { burst, every }
    }
}

/// The allowances for `POST /v1/orders` (part of `PlatformConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLimits {
    /// Per signed-in shopper: 10 at once, then 2 a minute; a person checks out far less often.
    pub per_shopper: RateLimit,
    /// Per client address (`x-jishi-client-ip`): 60 at once, then 1 a second, so one machine
    /// cannot churn orders through many accounts while an office behind one NAT still can shop.
    pub per_client: RateLimit,
}

impl Default for OrderLimits {
    fn default() -> Self {
        Self {
            per_shopper: RateLimit::new(10, Duration::from_secs(30)),
            per_client: RateLimit::new(60, Duration::from_secs(1)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets for one kind of key. Full buckets are the same as absent ones, so they are dropped
/// when the map grows: memory follows the recently active keys only.
#[derive(Debug)]
pub(crate) struct Buckets {
    limit: RateLimit,
    map: HashMap<String, Bucket>,
    prune_at: usize,
}

/// Keys tracked before the first clean-up of full buckets.
const PRUNE_FROM: usize = 10_000;

impl Buckets {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            map: HashMap::new(),
            prune_at: PRUNE_FROM,
        }
    }

    /// Tokens in `key`'s bucket at `now`.
    pub(crate) fn tokens(&self, key: &str, now: Instant) -> f64 {
        let burst = f64::from(self.limit.burst);
        match self.map.get(key) {
            None => burst,
            Some(b) => {
                let every = self.limit.every.as_secs_f64();
                let refill = if every > 0.0 {
                    now.saturating_duration_since(b.at).as_secs_f64() / every
                } else {
                    burst
                };
                (b.tokens + refill).min(burst)
            }
        }
    }

    /// How long until `key` has a whole token, if it has none now.
    pub(crate) fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let tokens = self.tokens(key, now);
        (tokens < 1.0).then(|| self.limit.every.mul_f64(1.0 - tokens))
    }

    pub(crate) fn take(&mut self, key: &str, now: Instant) {
        let tokens = self.tokens(key, now) - 1.0;
        self.map.insert(key.to_owned(), Bucket { tokens, at: now });
        if self.map.len() >= self.prune_at {
            let burst = f64::from(self.limit.burst);
            let full: Vec<String> = self
                .map
                .keys()
                .filter(|k| self.tokens(k, now) >= burst)
                .cloned()
                .collect();
            for k in full {
                self.map.remove(&k);
            }
            self.prune_at = PRUNE_FROM.max(2 * self.map.len());
        }
    }
}

/// One allowance per key (a client address, say), in this process's memory.
#[derive(Debug)]
pub struct KeyedLimiter {
    buckets: Mutex<Buckets>,
}

impl KeyedLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            buckets: Mutex::new(Buckets::new(limit)),
        }
    }

    /// Takes one from `key`'s allowance, or says how long until it has one (and takes nothing).
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        // A poisoned lock only means another request panicked mid-update; the counts are usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = buckets.wait(key, now) {
            return Err(wait);
        }
        buckets.take(key, now);
        Ok(())
    }
}

/// Whole seconds to wait, rounded up, for a refusal's message.
pub(crate) fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The order rate limiter of one platform process.
#[derive(Debug)]
pub struct OrderLimiter {
    buckets: Mutex<(Buckets, Buckets)>,
}

impl OrderLimiter {
    pub fn new(limits: OrderLimits) -> Self {
        Self {
            buckets: Mutex::new((
                Buckets::new(limits.per_shopper),
                Buckets::new(limits.per_client),
            )),
        }
    }

    /// Takes one order from the shopper's and the client address's allowance, or refuses with
    /// `too_many_requests` (429) and takes nothing when either is spent.
    pub fn check(&self, shopper: &str, client: &str) -> Result<(), ApiError> {
        self.check_at(shopper, client, Instant::now())
    }

    fn check_at(&self, shopper: &str, client: &str, now: Instant) -> Result<(), ApiError> {
        // A poisoned lock only means another request panicked mid-update; the counts are still
        // usable.
        let mut guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (shoppers, clients) = &mut *guard;
        let wait = shoppers.wait(shopper, now).max(clients.wait(client, now));
        if let Some(wait) = wait {
            return Err(ApiError::new(
                ErrorCode::TooManyRequests,
                format!("下单太频繁，请 {} 秒后再试", whole_seconds(wait)),
            ));
        }
        shoppers.take(shopper, now);
        clients.take(client, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> OrderLimiter {
        OrderLimiter::new(OrderLimits {
            per_shopper: RateLimit::new(3, Duration::from_secs(10)),
            per_client: RateLimit::new(5, Duration::from_secs(1)),
        })
    }

    #[test]
    fn a_shopper_gets_a_burst_then_one_order_per_interval() {
        let l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at("u1", "ip1", t0).is_ok());
        }
        let refused = l.check_at("u1", "ip1", t0).unwrap_err();
        assert_eq!(refused.code, ErrorCode::TooManyRequests);
        assert!(refused.message.contains("10 秒"), "{}", refused.message);
        // Another shopper is not held back by the first.
        assert!(l.check_at("u2", "ip2", t0).is_ok());
        // Ten seconds later there is room for exactly one more.
        let later = t0 + Duration::from_secs(10);
        assert!(l.check_at("u1", "ip1", later).is_ok());
        assert!(l.check_at("u1", "ip1", later).is_err());
    }

    #[test]
    fn one_address_is_limited_across_shoppers_and_a_refusal_takes_nothing() {
        let l = limiter();
        let t0 = Instant::now();
        for u in ["a", "b", "c", "d", "e"] {
            assert!(l.check_at(u, "ip", t0).is_ok());
        }
        assert!(l.check_at("f", "ip", t0).is_err());
        // "a" was refused for the address, not for itself: its own allowance is intact.
        assert!(l.check_at("a", "ip", t0).is_err());
        assert!(l.check_at("a", "elsewhere", t0).is_ok());
        assert!(l.check_at("a", "elsewhere", t0).is_ok());
        assert!(l.check_at("a", "elsewhere", t0).is_err());
    }

    #[test]
    fn full_buckets_are_forgotten_when_many_keys_were_seen() {
        let l = limiter();
        let t0 = Instant::now();
        for n in 0..PRUNE_FROM - 1 {
            assert!(l.check_at(&format!("u{n}"), &format!("ip{n}"), t0).is_ok());
        }
        // A minute on, every bucket has refilled: the next insert drops them all.
        let later = t0 + Duration::from_secs(60);
        assert!(l.check_at("new", "new", later).is_ok());
        let guard = l.buckets.lock().unwrap();
        assert!(guard.0.map.len() < 10, "{}", guard.0.map.len());
    }
}
