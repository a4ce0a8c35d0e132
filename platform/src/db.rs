//! SQLite access: opening the pool (WAL), migrations, seeding, and loading stores into memory.

use std::str::FromStr;
use std::time::Duration;

use jishi_api::hours::WeeklyHours;
use jishi_api::money::FeeRules;
use jishi_api::stores::StoreProfile;
use jishi_api::Category;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use crate::demo::{CatalogProduct, Listing};
use crate::error::{PlatformError, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How SQLite makes a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL`: the WAL is synced at every commit, so a commit that was answered
    /// survives a power cut or an OS crash. An order system keeps every commit; the checkout
    /// writer's group commit (up to 64 jobs a transaction) pays the sync once per batch.
    #[default]
    Full,
    /// `synchronous = NORMAL`: durable across a crash of the process only; a power cut can lose
    /// the last commits. Kept to measure what `Full` costs (`benches/checkout.rs`).
    Normal,
}

fn connect_options(url: &str, durability: Durability) -> Result<SqliteConnectOptions> {
    let synchronous = match durability {
        Durability::Full => SqliteSynchronous::Full,
        Durability::Normal => SqliteSynchronous::Normal,
    };
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5)))
}

/// The checkout writer's connections to the database `pool` opened (see `writer`).
pub struct WriterDb {
    /// For the jobs that run through sqlx.
    pub(crate) pool: SqlitePool,
    /// For the jobs that run straight on the writer's thread (`crate::sql`); `None`: they take
    /// the handle of `pool`'s connection.
    pub(crate) straight: Option<rusqlite::Connection>,
}

impl WriterDb {
    /// The writer on `pool`'s own connection, for everything (an in-memory database, a test).
    pub fn shared(pool: SqlitePool) -> Self {
        WriterDb {
            pool,
            straight: None,
        }
    }
}

/// The checkout writer's own connections to the database `pool` opened: one through sqlx and one
/// of its own thread's. An in-memory database exists only in the pool's one connection, so the
/// writer shares it.
pub async fn open_writer(url: &str, pool: &SqlitePool, durability: Durability) -> Result<WriterDb> {
    if url.contains(":memory:") {
        return Ok(WriterDb::shared(pool.clone()));
    }
    let options = connect_options(url, durability)?;
    let straight = straight_connection(
        options.get_filename(),
        match durability {
            Durability::Full => "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
            Durability::Normal => "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
        },
    )?;
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    Ok(WriterDb {
        pool,
        straight: Some(straight),
    })
}

/// A rusqlite connection to the database file at `path`, waiting for locks as `connect_options`
/// makes sqlx's wait (WAL is the file's, set when the pool opened it), with `pragmas` run.
fn straight_connection(path: &std::path::Path, pragmas: &str) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(pragmas)?;
    Ok(conn)
}

/// Connections for short reads that run on the calling thread (`Platform::read`), no hop to a
/// connection's thread: a session's lookup and a live buy's routing, which every request of a
/// flash crowd makes. Each is a point lookup (tens of microseconds), so running it inline on an
/// async worker costs less than the hops sqlx's pool takes; anything that scans goes through the
/// pool. Taken while a read runs and given back: as many are open as reads ran at once, at most
/// one per worker thread, since a read never awaits.
pub(crate) struct Readers {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
}

impl Readers {
    /// Readers of the database at `url`; `None` for an in-memory one, which exists only in the
    /// pool's one connection.
    pub(crate) fn open(url: &str) -> Result<Option<Self>> {
        if url.contains(":memory:") {
            return Ok(None);
        }
        Ok(Some(Readers {
            path: SqliteConnectOptions::from_str(url)?
                .get_filename()
                .to_owned(),
            idle: Default::default(),
        }))
    }

    /// Runs `read` on an idle connection (or a new one) on this thread.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&crate::sql::Db) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let db = crate::sql::own(conn);
        let answer = read(&db);
        if let Some(conn) = db.into_own() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
        }
        answer
    }

    fn connect(&self) -> Result<rusqlite::Connection> {
        // A read that writes by mistake fails here instead of bypassing the writer.
        straight_connection(&self.path, "PRAGMA query_only = ON")
    }
}

/// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`),
/// durable at every commit, and migrates it.
pub async fn open(url: &str) -> Result<SqlitePool> {
    open_with(url, Durability::Full).await
}

/// `open` with the given durability.
pub async fn open_with(url: &str, durability: Durability) -> Result<SqlitePool> {
    let options = connect_options(url, durability)?;
    // An in-memory database exists per connection, so it must be a single shared connection.
    // Otherwise 4 (for reads and the occasional write; checkouts go through the writer's own
    // connection): sqlx runs each connection on its own thread, and on a small machine more of
    // them only add thread switches.
    let max = if url.contains(":memory:") { 1 } else { 4 };
    let pool = SqlitePoolOptions::new()
        .max_connections(max)
        // A local SQLite connection does not go stale; the default ping on every acquire would
        // cost one more round trip to the connection's thread per query.
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

pub async fn store_count(pool: &SqlitePool) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM stores")
        .fetch_one(pool)
        .await?)
}

/// Rows per multi-row INSERT: well under SQLite's 32,766 bound parameters at 15 columns.
const INSERT_CHUNK: usize = 500;

/// Inserts stores, products and listings in one transaction: all or nothing.
pub async fn insert_catalog(
    pool: &SqlitePool,
    stores: &[StoreProfile],
    products: &[CatalogProduct],
    listings: &[Listing],
) -> Result<()> {
    let mut tx = pool.begin().await?;
    for chunk in stores.chunks(INSERT_CHUNK) {
        let fees = chunk
            .iter()
            .map(|s| {
                serde_json::to_string(&s.fees).map_err(|e| PlatformError::CorruptRow {
                    what: s.id.clone(),
                    detail: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO stores (id, name, category, city, address, lat, lng, delivery_radius_m, hours,
                 prep_min, detour_factor, rider_speed_kmh, fee_rules, min_order_fen, rating) ",
        );
        insert.push_values(chunk.iter().zip(fees), |mut row, (s, fees)| {
            row.push_bind(&s.id)
                .push_bind(&s.name)
                .push_bind(s.category.slug())
                .push_bind(&s.city)
                .push_bind(&s.address)
                .push_bind(s.lat)
                .push_bind(s.lng)
                .push_bind(s.delivery_radius_m)
                .push_bind(s.hours.to_compact())
                .push_bind(s.prep_min)
                .push_bind(s.detour_factor)
                .push_bind(s.rider_speed_kmh)
                .push_bind(fees)
                .push_bind(s.min_order_fen)
                .push_bind(f64::from(s.rating));
        });
        insert.build().execute(&mut *tx).await?;
    }
    for chunk in products.chunks(INSERT_CHUNK) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO products (sku, name, category, aisle, unit, picture) ",
        );
        insert.push_values(chunk, |mut row, p| {
            row.push_bind(&p.sku)
                .push_bind(&p.name)
                .push_bind(p.category.slug())
                .push_bind(&p.aisle)
                .push_bind(&p.unit)
                .push_bind(&p.picture);
        });
        insert.build().execute(&mut *tx).await?;
    }
    for chunk in listings.chunks(INSERT_CHUNK) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO store_products (store_id, sku, price_fen, stock) ",
        );
        insert.push_values(chunk, |mut row, l| {
            row.push_bind(&l.store_id)
                .push_bind(&l.sku)
                .push_bind(l.price_fen)
                .push_bind(l.stock);
        });
        insert.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Gives products seeded before pictures existed (migration 0014) the catalogue's picture; a
/// product that has one keeps it.
pub async fn backfill_pictures(pool: &SqlitePool, products: &[CatalogProduct]) -> Result<u64> {
    let missing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE picture IS NULL")
        .fetch_one(pool)
        .await?;
    if missing == 0 {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let mut filled = 0;
    for p in products {
        filled +=
            sqlx::query("UPDATE products SET picture = ?1 WHERE sku = ?2 AND picture IS NULL")
                .bind(&p.picture)
                .bind(&p.sku)
                .execute(&mut *tx)
                .await?
                .rows_affected();
    }
    tx.commit().await?;
    Ok(filled)
}

/// Every store, for the in-memory index.
pub async fn load_stores(pool: &SqlitePool) -> Result<Vec<StoreProfile>> {
    let rows = sqlx::query(
        "SELECT id, name, category, city, address, lat, lng, delivery_radius_m, hours, prep_min,
                detour_factor, rider_speed_kmh, fee_rules, min_order_fen, rating
         FROM stores ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(store_from_row).collect()
}

fn store_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoreProfile> {
    let id: String = row.try_get("id")?;
    let corrupt = |detail: String| PlatformError::CorruptRow {
        what: format!("store {id}"),
        detail,
    };
    let category: String = row.try_get("category")?;
    let category =
        Category::from_slug(&category).ok_or_else(|| corrupt(format!("category {category}")))?;
    let hours: String = row.try_get("hours")?;
    let hours = WeeklyHours::from_compact(&hours).map_err(|e| corrupt(e.message))?;
    let fees: String = row.try_get("fee_rules")?;
    let fees: FeeRules = serde_json::from_str(&fees).map_err(|e| corrupt(e.to_string()))?;
    let rating: f64 = row.try_get("rating")?;
    Ok(StoreProfile {
        name: row.try_get("name")?,
        category,
        city: row.try_get("city")?,
        address: row.try_get("address")?,
        lat: row.try_get("lat")?,
        lng: row.try_get("lng")?,
        delivery_radius_m: row.try_get("delivery_radius_m")?,
        hours,
        prep_min: row.try_get("prep_min")?,
        detour_factor: row.try_get("detour_factor")?,
        rider_speed_kmh: row.try_get("rider_speed_kmh")?,
        fees,
        min_order_fen: row.try_get("min_order_fen")?,
        rating: rating as f32,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn synchronous(pool: &SqlitePool) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(pool)
            .await
            .expect("pragma")
    }

    #[tokio::test]
    async fn every_commit_is_synced_to_disk_unless_asked_otherwise() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("d.db").display());
        // 2 is FULL: a commit that was answered survives a power cut.
        let pool = open(&url).await.expect("opens");
        assert_eq!(synchronous(&pool).await, 2);
        let straight = |w: &WriterDb| -> i64 {
            let conn = w.straight.as_ref().expect("a connection of its own");
            conn.query_row("PRAGMA synchronous", [], |r| r.get(0))
                .expect("pragma")
        };
        let writer = open_writer(&url, &pool, Durability::default())
            .await
            .expect("writer");
        assert_eq!(synchronous(&writer.pool).await, 2);
        assert_eq!(straight(&writer), 2);
        let normal = open_writer(&url, &pool, Durability::Normal)
            .await
            .expect("writer");
        assert_eq!(synchronous(&normal.pool).await, 1);
        assert_eq!(straight(&normal), 1);
    }

    #[tokio::test]
    async fn readers_see_commits_reuse_their_connections_and_never_write() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("d.db").display());
        let pool = open(&url).await.expect("opens");
        let readers = Readers::open(&url).expect("readers").expect("a file");
        let users = |readers: &Readers| {
            readers.read(|db| {
                crate::sql::query("SELECT count(*) FROM users")
                    .fetch_one(db)?
                    .get::<i64>(0)
            })
        };
        assert_eq!(users(&readers).expect("reads"), 0);
        sqlx::query("INSERT INTO users (id, phone, created_at) VALUES ('u1', '13000000000', 0)")
            .execute(&pool)
            .await
            .expect("insert");
        assert_eq!(users(&readers).expect("reads"), 1);
        // One read at a time: one connection, kept.
        assert_eq!(readers.idle.lock().expect("lock").len(), 1);
        let wrote = readers.read(|db| crate::sql::query("DELETE FROM users").execute(db));
        assert!(wrote.is_err(), "a reader must not write");
        assert_eq!(users(&readers).expect("reads"), 1);
        assert!(Readers::open("sqlite::memory:").expect("opens").is_none());
    }
}
