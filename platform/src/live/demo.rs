//! The demo's live rooms: three Beijing rooms, live, and one scheduled (`DEMO_PREVIEW`), each with a host who signs in by phone like
//! everyone, the stores near the host taking part, and a current pin of a product many Beijing
//! stores carry. Deterministic, and
//! idempotent: run on every start of a demo database, it adds only what is missing.

use jishi_api::geo::haversine_m;
use jishi_api::live::live_price_floor;
use jishi_api::LatLng;
use sqlx::SqlitePool;

use crate::error::Result;

/// The demo hosts' phones, one per room (`live_bj1`…`live_bj3`, in this order). Sign in with one
/// of them (demo SMS codes) to host its room.
pub const DEMO_HOSTS: [&str; 3] = ["13900000001", "13900000002", "13900000003"];

/// The demo rooms' ids, in `DEMO_HOSTS` order: the media gateway loops a test picture in them.
pub const DEMO_ROOMS: [&str; 3] = [ROOMS[0].0, ROOMS[1].0, ROOMS[2].0];

/// (room id, host name, title, where the host is) of the demo rooms, in `DEMO_HOSTS` order:
/// 国贸, 三里屯 and 望京.
const ROOMS: [(&str, &str, &str, (f64, f64)); 3] = [
    (
        "live_bj1",
        "鲜果小王",
        "晚八点鲜果直播间",
        crate::demo::GUOMAO,
    ),
    (
        "live_bj2",
        "厨房阿姨",
        "今晚吃什么：厨房好物直播",
        (39.9334, 116.4551),
    ),
    (
        "live_bj3",
        "夜猫子店长",
        "深夜零食补给站",
        crate::demo::WANGJING,
    ),
];

/// The demo's scheduled room (预告), which shoppers reserve: (room id, host name, title, host's
/// phone), its host at 国贸. It starts `PREVIEW_AFTER_S` after the demo database is first seeded;
/// its host goes live from the console like any host.
pub const DEMO_PREVIEW: (&str, &str, &str, &str) = (
    "live_bj4",
    "年货掌柜",
    "年货坚果礼盒专场预告",
    "13900000004",
);
/// How long after the first seeding the scheduled demo room starts, in seconds.
pub const PREVIEW_AFTER_S: i64 = 3 * 3600;

/// A demo room's stores: every store of the city within this distance of its host.
pub const ROOM_STORES_RADIUS_M: f64 = 6_000.0;

/// The demo city's name as stores carry it.
const CITY: &str = "北京";

/// Live price: about 80% of the regular one.
const LIVE_PRICE_PERCENT: i64 = 80;
const DEMO_CAP: i64 = 200;

/// Adds the demo rooms that are missing, with their hosts, their stores and first pins. A room
/// that exists is left as its host made it; one seeded before rooms had stores gets them.
pub async fn seed_rooms(pool: &SqlitePool, now: i64) -> Result<()> {
    // The SKUs carried by the most Beijing stores (ties by SKU): one per room.
    let popular: Vec<String> = sqlx::query_scalar(
        "SELECT sp.sku FROM store_products sp JOIN stores s ON s.id = sp.store_id
         WHERE s.city = ? GROUP BY sp.sku ORDER BY COUNT(*) DESC, sp.sku LIMIT ?",
    )
    .bind(CITY)
    .bind(ROOMS.len() as i64)
    .fetch_all(pool)
    .await?;
    if popular.len() < ROOMS.len() {
        // No catalogue (a stores-only database): nothing to pin, so no rooms.
        return Ok(());
    }
    let stores: Vec<(String, f64, f64)> =
        sqlx::query_as("SELECT id, lat, lng FROM stores WHERE city = ? ORDER BY id")
            .bind(CITY)
            .fetch_all(pool)
            .await?;
    let mut tx = pool.begin().await?;
    for (n, ((id, host_name, title, (lat, lng)), sku)) in ROOMS.iter().zip(popular).enumerate() {
        let seed = RoomSeed {
            id,
            host_user: &format!("usr_demohost{}", n + 1),
            host_name,
            title,
            phone: DEMO_HOSTS[n],
            starts_at: None,
        };
        let inserted = seed.insert(&mut tx, now).await?;
        take_part(&mut tx, id, (*lat, *lng), &stores).await?;
        if inserted {
            // Priced and capped against the room's own stores, as a host's pin is.
            let Some((regular, held)) = super::room_offer(&mut tx, id, &sku).await? else {
                continue;
            };
            let live_price = (regular * LIVE_PRICE_PERCENT / 100)
                .min(regular - 1)
                .max(live_price_floor(regular));
            let cap = DEMO_CAP.min(i64::from(held));
            if cap < 1 || live_price >= regular {
                continue;
            }
            sqlx::query(
                "INSERT INTO live_pins (room_id, sku, live_price_fen, stock_cap, sold, pinned_at, current)
                 VALUES (?, ?, ?, ?, 0, ?, 1)",
            )
            .bind(id)
            .bind(&sku)
            .bind(live_price)
            .bind(cap)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // In the room's log like any pin, so its replay opens on it.
            if let Some(pin) = super::pin_of(&mut tx, id, &sku).await? {
                super::record(
                    &mut tx,
                    id,
                    &jishi_api::live::LiveEvent::Pinned { pin },
                    now,
                )
                .await?;
            }
        }
    }
    seed_preview(&mut tx, &stores, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The scheduled room, if missing, with its host and stores.
async fn seed_preview(
    tx: &mut sqlx::SqliteConnection,
    stores: &[(String, f64, f64)],
    now: i64,
) -> Result<()> {
    let (id, host_name, title, phone) = DEMO_PREVIEW;
    let seed = RoomSeed {
        id,
        host_user: "usr_demohost4",
        host_name,
        title,
        phone,
        starts_at: Some(now + PREVIEW_AFTER_S),
    };
    seed.insert(tx, now).await?;
    take_part(tx, id, crate::demo::GUOMAO, stores).await
}

/// A demo room and its host.
struct RoomSeed<'a> {
    id: &'a str,
    host_user: &'a str,
    host_name: &'a str,
    title: &'a str,
    phone: &'a str,
    /// Scheduled to start then; live now without one.
    starts_at: Option<i64>,
}

impl RoomSeed<'_> {
    /// Adds the host (unless a user with that phone exists: the host may have signed in) and the
    /// room (unless it exists: left as its host made it). Whether the room is new.
    async fn insert(&self, tx: &mut sqlx::SqliteConnection, now: i64) -> Result<bool> {
        sqlx::query(
            "INSERT INTO users (id, phone, created_at) VALUES (?, ?, ?) ON CONFLICT (phone) DO NOTHING",
        )
        .bind(self.host_user)
        .bind(self.phone)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let status = if self.starts_at.is_some() {
            "scheduled"
        } else {
            "live"
        };
        let inserted = sqlx::query(concat!(
            "INSERT INTO live_rooms (id, host_user_id, host_name, title, status, city, created_at,
                     updated_at, starts_at, live_since_ms)
                 SELECT ?1, id, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                        CASE WHEN ?4 = 'live' THEN ",
            crate::event_log::wall_ms_sql!(),
            " END FROM users WHERE phone = ?9 ON CONFLICT (id) DO NOTHING"
        ))
        .bind(self.id)
        .bind(self.host_name)
        .bind(self.title)
        .bind(status)
        .bind(CITY)
        .bind(now)
        .bind(now)
        .bind(self.starts_at)
        .bind(self.phone)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }
}

/// Every store within `ROOM_STORES_RADIUS_M` of the host takes part in the room, unless the room
/// has its stores already.
async fn take_part(
    tx: &mut sqlx::SqliteConnection,
    id: &str,
    (lat, lng): (f64, f64),
    stores: &[(String, f64, f64)],
) -> Result<()> {
    let has_stores: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM live_room_stores WHERE room_id = ?)")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if has_stores {
        return Ok(());
    }
    let host = LatLng::new(lat, lng)?;
    for (store_id, lat, lng) in stores {
        let near =
            LatLng::new(*lat, *lng).is_ok_and(|at| haversine_m(host, at) <= ROOM_STORES_RADIUS_M);
        if near {
            sqlx::query("INSERT INTO live_room_stores (room_id, store_id) VALUES (?, ?)")
                .bind(id)
                .bind(store_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}
