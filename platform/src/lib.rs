//! The embedded reference platform: the source of truth for stores, catalogue and stock.
//!
//! It speaks the v1 HTTP API (docs/API.md) over a real socket, whether it runs in-process beside the
//! server (`spawn_on_loopback`) or as its own `jishi-platform` process. Only this crate touches SQLite.

pub mod accounts;
pub mod carts;
pub mod catalog;
pub mod clock;
pub mod db;
pub mod demo;
pub mod dispatch;
pub mod error;
pub mod event_log;
pub mod feed;
pub mod grid;
pub mod groups;
pub mod housekeeping;
pub mod http;
pub mod live;
pub mod orders;
pub mod pictures;
mod sql;
pub mod stores;
pub mod streams;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use sqlx::SqlitePool;
use tokio::net::TcpListener;

pub use crate::clock::Clock;
pub use crate::error::PlatformError;
pub use crate::live::demo::{DEMO_HOSTS, DEMO_ROOMS};
use crate::stores::StoreIndex;

/// What to put in an empty database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// Nothing: the database is used as it is.
    None,
    /// The Beijing demo city with its catalogue.
    Beijing { seed: u64 },
    /// `stores` stores across many cities, without products (benchmarks).
    Scaled { stores: usize, seed: u64 },
}

#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// `sqlite://path/to/file.db` or `sqlite::memory:`.
    pub database_url: String,
    pub seed: Seed,
    pub clock: Clock,
    /// Demo mode shows SMS codes in the API answer (`demo_code`) instead of only "sending" them.
    pub demo: bool,
    /// Real time between two steps of the dispatch simulator (15 steps make a delivery).
    pub dispatch_step: std::time::Duration,
    /// Rate limits on placing orders, per shopper and per client address.
    pub order_limits: orders::OrderLimits,
    /// Where browsers reach the media server (`JISHI_MEDIA_BASE`: `/media` behind the shop's own
    /// server, or a URL): live rooms' playback and WHIP URLs are built from it
    /// (`live::media_urls`); none without it (no video). The server sets it for an embedded
    /// platform when its media gateway runs.
    pub media_base: Option<String>,
    /// Live rooms' rate limits and rhythms.
    pub live_limits: live::LiveLimits,
    /// How long a group buy has to fill before it expires (`JISHI_GROUP_TTL_S`; 24 hours).
    pub group_ttl: std::time::Duration,
    /// Anonymous sessions one client address may mint (`POST /v1/sessions` with the server's
    /// `x-jishi-client-ip`): a network of shoppers starts carts freely, one machine cannot mint
    /// sessions without end.
    pub sessions_per_client: orders::RateLimit,
    /// How SQLite syncs commits: `Full` (the default) keeps every commit through a power cut;
    /// `Normal` is only for comparing the cost in the checkout benchmark.
    pub durability: db::Durability,
    /// Orders in a thousand whose picking comes up a unit short (`JISHI_SHORTAGE_PER_MILLE`;
    /// `orders::shortage::DEMO_SHORTAGE_PER_MILLE` in the demo, 0 in tests that do not ask).
    pub shortage_per_mille: u16,
    /// Where browsers fetch product pictures (`JISHI_IMAGE_BASE`; `pictures::DEFAULT_IMAGE_BASE`,
    /// the shop server's proxy of this API, by default): a CDN in front of `/v1/images` goes here.
    pub image_base: String,
}

/// Anonymous sessions per client address: 60 at once, then one every 10 seconds (360 an hour),
/// enough for an office or campus behind one address, where each browser mints one and keeps it.
pub const SESSIONS_PER_CLIENT: orders::RateLimit =
    orders::RateLimit::new(60, std::time::Duration::from_secs(10));

/// About two real minutes from payment to the door: long enough to watch, short enough to wait for.
pub const DEMO_DISPATCH_STEP: std::time::Duration = std::time::Duration::from_secs(8);

impl PlatformConfig {
    /// A demo platform on the given database file, seeded with Beijing when empty.
    pub fn demo(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            seed: Seed::Beijing { seed: DEMO_SEED },
            clock: Clock::System,
            demo: true,
            dispatch_step: DEMO_DISPATCH_STEP,
            order_limits: orders::OrderLimits::default(),
            media_base: None,
            live_limits: live::LiveLimits::default(),
            group_ttl: DEFAULT_GROUP_TTL,
            sessions_per_client: SESSIONS_PER_CLIENT,
            durability: db::Durability::Full,
            shortage_per_mille: orders::shortage::DEMO_SHORTAGE_PER_MILLE,
            image_base: pictures::DEFAULT_IMAGE_BASE.to_owned(),
        }
    }

    /// Reads `JISHI_DB` (default `sqlite://jishi.db`), `JISHI_SEED` (`beijing` | `none` | a store
    /// count such as `400000`), `JISHI_NOW` (an RFC 3339 instant that freezes the clock; with
    /// `JISHI_NOW_RUNS=1` the clock starts there and runs) and
    /// `JISHI_DEMO` (`0` hides SMS codes from API answers) and `JISHI_DISPATCH_STEP_MS` (the
    /// dispatch simulator's time scale) and `JISHI_MEDIA_BASE` (where browsers reach the live rooms' media server)
    /// and `JISHI_GROUP_TTL_S` (seconds a group buy has to fill; shorter for demos and tests)
    /// and `JISHI_SHORTAGE_PER_MILLE` (orders in a thousand that picking finds a unit short, 0–1000)
    /// and `JISHI_IMAGE_BASE` (where browsers fetch product pictures).
    pub fn from_env() -> Result<Self, String> {
        let database_url = std::env::var("JISHI_DB").unwrap_or_else(|_| "sqlite://jishi.db".into());
        let seed = match std::env::var("JISHI_SEED").as_deref() {
            Err(_) | Ok("beijing") => Seed::Beijing { seed: DEMO_SEED },
            Ok("none") => Seed::None,
            Ok(n) => Seed::Scaled {
                stores: n.parse().map_err(|_| {
                    format!("JISHI_SEED must be beijing, none or a store count, not {n:?}")
                })?,
                seed: DEMO_SEED,
            },
        };
        let runs = std::env::var("JISHI_NOW_RUNS").is_ok_and(|v| v == "1");
        let clock = match std::env::var("JISHI_NOW") {
            Ok(t) if runs => Clock::running_from_rfc3339(&t)
                .map_err(|e| format!("JISHI_NOW must be an RFC 3339 instant: {e}"))?,
            Ok(t) => Clock::fixed_from_rfc3339(&t)
                .map_err(|e| format!("JISHI_NOW must be an RFC 3339 instant: {e}"))?,
            Err(_) => Clock::System,
        };
        // The caller knows where it listens and settles `demo` with `demo_mode`; loopback until then.
        let demo = demo_mode(true, std::env::var("JISHI_DEMO").ok().as_deref())?;
        let dispatch_step =
            match std::env::var("JISHI_DISPATCH_STEP_MS") {
                Ok(ms) => std::time::Duration::from_millis(ms.parse().map_err(|_| {
                    format!("JISHI_DISPATCH_STEP_MS must be milliseconds, not {ms:?}")
                })?),
                Err(_) => DEMO_DISPATCH_STEP,
            };
        let group_ttl = match std::env::var("JISHI_GROUP_TTL_S") {
            Ok(s) => parse_group_ttl(&s)?,
            Err(_) => DEFAULT_GROUP_TTL,
        };
        let shortage_per_mille = match std::env::var("JISHI_SHORTAGE_PER_MILLE") {
            Ok(raw) => match raw.trim().parse::<u16>() {
                Ok(n @ 0..=1000) => n,
                _ => {
                    return Err(format!(
                        "JISHI_SHORTAGE_PER_MILLE must be 0 to 1000, not {raw:?}"
                    ))
                }
            },
            Err(_) => orders::shortage::DEMO_SHORTAGE_PER_MILLE,
        };
        Ok(Self {
            shortage_per_mille,
            database_url,
            seed,
            clock,
            demo,
            dispatch_step,
            order_limits: orders::OrderLimits::default(),
            media_base: std::env::var("JISHI_MEDIA_BASE")
                .ok()
                .map(|u| u.trim().trim_end_matches('/').to_owned())
                .filter(|u| !u.is_empty()),
            live_limits: live::LiveLimits::default(),
            group_ttl,
            sessions_per_client: SESSIONS_PER_CLIENT,
            durability: db::Durability::Full,
            image_base: std::env::var("JISHI_IMAGE_BASE")
                .ok()
                .map(|u| u.trim().trim_end_matches('/').to_owned())
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| pictures::DEFAULT_IMAGE_BASE.to_owned()),
        })
    }
}

/// A group buy's time to fill by default: a day.
pub const DEFAULT_GROUP_TTL: std::time::Duration =
    std::time::Duration::from_secs(jishi_api::groups::DEFAULT_GROUP_TTL_S as u64);

/// `JISHI_GROUP_TTL_S`: whole seconds, at least 1 and at most 30 days.
fn parse_group_ttl(raw: &str) -> Result<std::time::Duration, String> {
    match raw.trim().parse::<u64>() {
        Ok(s @ 1..=2_592_000) => Ok(std::time::Duration::from_secs(s)),
        _ => Err(format!(
            "JISHI_GROUP_TTL_S must be whole seconds from 1 to 2592000, not {raw:?}"
        )),
    }
}

/// Demo SMS codes are a local-demo feature: on by default only for a process listening on a
/// loopback address. `JISHI_DEMO` (`raw`) set to `1` turns them on anywhere, `0` off.
pub fn demo_mode(listens_on_loopback: bool, raw: Option<&str>) -> Result<bool, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(listens_on_loopback),
        Some("1" | "true") => Ok(true),
        Some("0" | "false") => Ok(false),
        Some(other) => Err(format!("JISHI_DEMO must be 1 or 0, not {other:?}")),
    }
}

/// The seed that makes the demo city look the same on every machine.
pub const DEMO_SEED: u64 = 20_261_125;

#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    /// Short reads on the calling thread (`read`); `None` for an in-memory database.
    readers: Option<db::Readers>,
    index: Arc<StoreIndex>,
    /// Runs checkouts (placing and paying) many to a transaction.
    writer: writer::Writer,
    clock: Clock,
    demo: bool,
    dispatch_step: std::time::Duration,
    /// Per-order wake-ups, per-session stream slots and the shutdown signal of the event streams.
    streams: Arc<streams::Streams>,
    order_limiter: orders::OrderLimiter,
    session_limiter: orders::limits::KeyedLimiter,
    /// Live rooms' in-memory state: wake-ups, likes not yet written, viewer reports, rate limits.
    live: live::Hub,
    media_base: Option<String>,
    group_ttl: std::time::Duration,
    shortage_per_mille: u16,
}

/// How often unpaid orders past their payment window are looked for.
const REAPER_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

impl Platform {
    /// Opens the database, migrates, seeds an empty one, and builds the store index.
    pub async fn open(config: PlatformConfig) -> Result<Self, PlatformError> {
        pictures::set_base(&config.image_base);
        let pool = db::open_with(&config.database_url, config.durability).await?;
        if db::store_count(&pool).await? == 0 {
            match config.seed {
                Seed::None => {}
                Seed::Beijing { seed } => {
                    let data = demo::beijing(seed);
                    db::insert_catalog(&pool, &data.stores, &data.products, &data.listings).await?;
                }
                Seed::Scaled { stores, seed } => {
                    let stores = demo::scaled_stores(stores, seed);
                    db::insert_catalog(&pool, &stores, &[], &[]).await?;
                }
            }
        }
        if let Seed::Beijing { .. } = config.seed {
            // A demo database seeded before pictures existed gets them.
            db::backfill_pictures(&pool, &demo::catalogue_products()).await?;
            // Also for an existing demo database: adds only the rooms that are missing.
            live::demo::seed_rooms(&pool, config.clock.now().timestamp()).await?;
            // Likewise: offers once, for a demo database that has none yet.
            groups::demo::seed_offers(&pool).await?;
        }
        let stores = db::load_stores(&pool).await?;
        tracing::info!(stores = stores.len(), "store index built");
        let writer = writer::Writer::spawn(
            db::open_writer(&config.database_url, &pool, config.durability).await?,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                index: Arc::new(StoreIndex::build(stores)),
                writer,
                readers: db::Readers::open(&config.database_url)?,
                pool,
                clock: config.clock,
                demo: config.demo,
                dispatch_step: config.dispatch_step,
                streams: Arc::default(),
                order_limiter: orders::OrderLimiter::new(config.order_limits),
                session_limiter: orders::limits::KeyedLimiter::new(config.sessions_per_client),
                live: live::Hub::new(config.live_limits),
                media_base: config.media_base,
                group_ttl: config.group_ttl,
                shortage_per_mille: config.shortage_per_mille,
            }),
        })
    }

    pub fn demo(&self) -> bool {
        self.inner.demo
    }

    /// Now as Unix seconds, from the platform's clock.
    pub fn now_unix(&self) -> i64 {
        self.clock().now().timestamp()
    }

    /// Events of these keys of `log` may have been written: wake the streams that wait on them
    /// (only those).
    pub fn notify(&self, log: event_log::Log, keys: &[String]) {
        self.inner.streams.notify(log, keys);
    }

    /// `notify` for one key.
    pub fn notify_one(&self, log: event_log::Log, key: &str) {
        self.notify(log, &[key.to_owned()]);
    }

    /// The event streams' shared state: wake-ups, slots, shutdown.
    pub fn streams(&self) -> &Arc<streams::Streams> {
        &self.inner.streams
    }

    /// How often a waiting event stream was woken by one of its order's events (not by its poll).
    pub fn stream_wakeups(&self) -> u64 {
        self.inner.streams.wakeups()
    }

    /// Moves paid orders along, one step per `dispatch_step`, until the platform shuts down.
    fn spawn_dispatcher(&self) -> tokio::task::JoinHandle<()> {
        let platform = self.clone();
        supervise(
            "dispatcher",
            self.inner.streams.shutting_down(),
            move || {
                let platform = platform.clone();
                async move {
                    let mut tick = tokio::time::interval(platform.inner.dispatch_step);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        match dispatch::tick(
                            platform.writer(),
                            platform.index(),
                            platform.inner.shortage_per_mille,
                            platform.now_unix(),
                        )
                        .await
                        {
                            Ok(moved) => {
                                platform.notify(event_log::Log::Order, &moved.orders);
                                platform.notify(event_log::Log::Group, &moved.groups);
                            }
                            Err(e) => tracing::error!(error = %e, "dispatch step failed"),
                        }
                    }
                }
            },
        )
    }

    /// Expires unpaid orders now (catching up after a restart) and then every few seconds, until
    /// the platform shuts down.
    fn spawn_reaper(&self) -> tokio::task::JoinHandle<()> {
        let platform = self.clone();
        supervise("reaper", self.inner.streams.shutting_down(), move || {
            let platform = platform.clone();
            async move {
                let mut tick = tokio::time::interval(REAPER_INTERVAL);
                loop {
                    tick.tick().await;
                    match orders::expire_unpaid(platform.pool(), platform.now_unix()).await {
                        Ok(expired) => platform.notify(event_log::Log::Order, &expired),
                        Err(e) => tracing::error!(error = %e, "expiring unpaid orders failed"),
                    }
                }
            }
        })
    }

    /// Purges lapsed sessions, codes, records and orphaned carts in the background.
    fn spawn_janitor(&self) -> tokio::task::JoinHandle<()> {
        let platform = self.clone();
        supervise("janitor", self.inner.streams.shutting_down(), move || {
            housekeeping::janitor(platform.clone())
        })
    }

    /// Expires unfilled group buys past their deadline every second, until the platform shuts down.
    fn spawn_group_expiry(&self) -> tokio::task::JoinHandle<()> {
        let platform = self.clone();
        supervise(
            "group expiry",
            self.inner.streams.shutting_down(),
            move || housekeeping::group_expiry(platform.clone()),
        )
    }

    /// Writes the live rooms' pending likes about once a second, until the platform shuts down.
    fn spawn_live_flush(&self) -> tokio::task::JoinHandle<()> {
        let platform = self.clone();
        supervise(
            "live likes",
            self.inner.streams.shutting_down(),
            move || {
                let platform = platform.clone();
                async move {
                    let mut tick = tokio::time::interval(platform.live().limits().flush_every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        if let Err(e) =
                            live::hub::flush_likes(platform.writer(), platform.live()).await
                        {
                            tracing::error!(error = %e, "writing live likes failed");
                        }
                    }
                }
            },
        )
    }

    /// Live rooms' in-memory state.
    pub fn live(&self) -> &live::Hub {
        &self.inner.live
    }

    /// How long a new group buy has to fill.
    pub fn group_ttl(&self) -> std::time::Duration {
        self.inner.group_ttl
    }

    /// The media server's base URL, if configured.
    pub fn media_base(&self) -> Option<&str> {
        self.inner.media_base.as_deref()
    }

    /// The checkout writer (see `writer`).
    pub fn writer(&self) -> &writer::Writer {
        &self.inner.writer
    }

    pub fn index(&self) -> &Arc<StoreIndex> {
        &self.inner.index
    }
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    /// Runs `read`, a point lookup or two, on this thread without hops (`db::Readers`); for an
    /// in-memory database, on the pool's one connection.
    pub(crate) async fn read<T>(
        &self,
        read: impl FnOnce(&sql::Db) -> error::Result<T>,
    ) -> error::Result<T> {
        match &self.inner.readers {
            Some(readers) => readers.read(read),
            None => sql::on_pool(self.pool(), read).await,
        }
    }
    pub fn clock(&self) -> Clock {
        self.inner.clock
    }
    pub fn order_limiter(&self) -> &orders::OrderLimiter {
        &self.inner.order_limiter
    }

    /// Anonymous sessions per client address (`PlatformConfig::sessions_per_client`).
    pub fn session_limiter(&self) -> &orders::limits::KeyedLimiter {
        &self.inner.session_limiter
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Serves the v1 API on `listener` until `shutdown` resolves. Then open event streams send a
    /// final `shutdown` event and close (so the graceful shutdown does not wait on them forever),
    /// in-flight requests finish, the background tasks stop, and this returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Catch up on what lapsed while stopped, before the first request can see it.
        housekeeping::purge_now(&self).await;
        housekeeping::expire_groups_now(&self).await;
        let tasks = [
            self.spawn_reaper(),
            self.spawn_dispatcher(),
            self.spawn_janitor(),
            self.spawn_group_expiry(),
            self.spawn_live_flush(),
        ];
        let streams = self.inner.streams.clone();
        let signal = async move {
            shutdown.await;
            streams.shut_down();
        };
        let served = axum::serve(listener.tap_io(no_delay), self.router())
            .with_graceful_shutdown(signal)
            .await;
        // Also when serving failed: nothing may outlive `serve`.
        self.inner.streams.shut_down();
        for task in tasks {
            let _ = task.await;
        }
        served
    }

    /// Binds a free loopback port and serves there in the background: a real HTTP hop even
    /// when the platform is embedded in the server's process. It runs as long as the process.
    pub async fn spawn_on_loopback(self) -> std::io::Result<SocketAddr> {
        let (addr, _running) = self.spawn_on_loopback_until(std::future::pending()).await?;
        Ok(addr)
    }

    /// `spawn_on_loopback` that stops when `shutdown` resolves (see `serve`); the handle
    /// completes once it has stopped, so a server can wait for its embedded platform.
    pub async fn spawn_on_loopback_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let running = tokio::spawn(async move {
            if let Err(e) = self.serve(listener, shutdown).await {
                tracing::error!(error = %e, "embedded platform stopped");
            }
        });
        Ok((addr, running))
    }
}

/// How long a supervised task that died waits before it runs again: no hot crash loop.
pub const RESTART_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `task()` in its own tokio task until `stop` resolves, and runs it again (after
/// `RESTART_DELAY`) whenever it panics or returns, logging why: a background job must not die
/// silently. On `stop` the current run is cancelled (a write in flight rolls back) and the
/// returned handle completes.
pub fn supervise<F, Fut>(
    name: &'static str,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    task: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        tokio::pin!(stop);
        loop {
            let mut run = tokio::spawn(task());
            tokio::select! {
                _ = &mut stop => {
                    run.abort();
                    let _ = run.await;
                    return;
                }
                ended = &mut run => match ended {
                    Ok(()) => tracing::error!(task = name, "background task returned; restarting"),
                    Err(e) if e.is_panic() => {
                        tracing::error!(task = name, error = %e, "background task panicked; restarting")
                    }
                    Err(e) => tracing::error!(task = name, error = %e, "background task died; restarting"),
                },
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(RESTART_DELAY) => {}
            }
        }
    })
}

/// Small JSON answers go out at once instead of waiting on Nagle's algorithm for an ACK.
pub fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
}

/// Resolves on Ctrl-C or SIGTERM, so servers drain in-flight requests before exiting.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_ttl_is_whole_seconds_within_thirty_days() {
        assert_eq!(parse_group_ttl("2"), Ok(std::time::Duration::from_secs(2)));
        assert_eq!(
            parse_group_ttl(" 86400 "),
            Ok(std::time::Duration::from_secs(86_400))
        );
        for bad in ["0", "-1", "1.5", "2592001", "", "a day"] {
            assert!(parse_group_ttl(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            PlatformConfig::demo("sqlite::memory:").group_ttl,
            DEFAULT_GROUP_TTL
        );
        assert_eq!(DEFAULT_GROUP_TTL.as_secs(), 24 * 3600);
    }
}
