//! The embedded reference platform: the source of truth for stores, catalogue and stock.
//!
//! It speaks the v1 HTTP API of PRODUCT.md over a real socket, whether it runs in-process beside the
//! server (`spawn_on_loopback`) or as its own `jishi-platform` process. Only this crate touches SQLite.

pub mod accounts;
pub mod carts;
pub mod catalog;
pub mod clock;
pub mod db;
pub mod demo;
pub mod dispatch;
pub mod error;
pub mod grid;
pub mod http;
pub mod orders;
pub mod stores;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use sqlx::SqlitePool;
use tokio::net::TcpListener;

pub use crate::clock::Clock;
pub use crate::error::PlatformError;
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
}

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
        }
    }

    /// Reads `JISHI_DB` (default `sqlite://jishi.db`), `JISHI_SEED` (`beijing` | `none` | a store
    /// count such as `400000`), `JISHI_NOW` (an RFC 3339 instant that freezes the clock) and
    /// `JISHI_DEMO` (`0` hides SMS codes from API answers) and `JISHI_DISPATCH_STEP_MS` (the
    /// dispatch simulator's time scale).
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
        let clock = match std::env::var("JISHI_NOW") {
            Ok(t) => Clock::fixed_from_rfc3339(&t)
                .map_err(|e| format!("JISHI_NOW must be an RFC 3339 instant: {e}"))?,
            Err(_) => Clock::System,
        };
        let demo = std::env::var("JISHI_DEMO").map_or(true, |v| v != "0" && v != "false");
        let dispatch_step =
            match std::env::var("JISHI_DISPATCH_STEP_MS") {
                Ok(ms) => std::time::Duration::from_millis(ms.parse().map_err(|_| {
                    format!("JISHI_DISPATCH_STEP_MS must be milliseconds, not {ms:?}")
                })?),
                Err(_) => DEMO_DISPATCH_STEP,
            };
        Ok(Self {
            database_url,
            seed,
            clock,
            demo,
            dispatch_step,
            order_limits: orders::OrderLimits::default(),
        })
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
    index: StoreIndex,
    clock: Clock,
    demo: bool,
    dispatch_step: std::time::Duration,
    order_limiter: orders::OrderLimiter,
    /// Woken whenever order events may have been written, so event streams need not poll hard.
    events: tokio::sync::Notify,
}

/// How often unpaid orders past their payment window are looked for.
const REAPER_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

impl Platform {
    /// Opens the database, migrates, seeds an empty one, and builds the store index.
    pub async fn open(config: PlatformConfig) -> Result<Self, PlatformError> {
        let pool = db::open(&config.database_url).await?;
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
        let stores = db::load_stores(&pool).await?;
        tracing::info!(stores = stores.len(), "store index built");
        Ok(Self {
            inner: Arc::new(Inner {
                index: StoreIndex::build(stores),
                pool,
                clock: config.clock,
                demo: config.demo,
                dispatch_step: config.dispatch_step,
                order_limiter: orders::OrderLimiter::new(config.order_limits),
                events: tokio::sync::Notify::new(),
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

    /// Order events may have been written: wake the streams that wait for them.
    pub fn notify_events(&self) {
        self.inner.events.notify_waiters();
    }

    pub async fn events_written(&self) {
        self.inner.events.notified().await;
    }

    /// Moves paid orders along, one step per `dispatch_step`.
    fn spawn_dispatcher(&self) {
        let platform = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(platform.inner.dispatch_step);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match dispatch::tick(platform.pool(), platform.index(), platform.now_unix()).await {
                    Ok(0) => {}
                    Ok(_) => platform.notify_events(),
                    Err(e) => tracing::error!(error = %e, "dispatch step failed"),
                }
            }
        });
    }

    /// Expires unpaid orders now (catching up after a restart) and then every few seconds.
    fn spawn_reaper(&self) {
        let platform = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REAPER_INTERVAL);
            loop {
                tick.tick().await;
                match orders::expire_unpaid(platform.pool(), platform.now_unix()).await {
                    Ok(0) => {}
                    Ok(_) => platform.notify_events(),
                    Err(e) => tracing::error!(error = %e, "expiring unpaid orders failed"),
                }
            }
        });
    }

    pub fn index(&self) -> &StoreIndex {
        &self.inner.index
    }
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }
    pub fn clock(&self) -> Clock {
        self.inner.clock
    }
    pub fn order_limiter(&self) -> &orders::OrderLimiter {
        &self.inner.order_limiter
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Serves the v1 API on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.spawn_reaper();
        self.spawn_dispatcher();
        axum::serve(listener.tap_io(no_delay), self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Binds a free loopback port and serves there in the background: a real HTTP hop even
    /// when the platform is embedded in the server's process.
    pub async fn spawn_on_loopback(self) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = self.serve(listener, std::future::pending()).await {
                tracing::error!(error = %e, "embedded platform stopped");
            }
        });
        Ok(addr)
    }
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
