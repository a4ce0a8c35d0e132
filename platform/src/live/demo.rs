//! The demo's live rooms: three Beijing rooms, live, each with a host who signs in by phone like
//! everyone and a current pin of a product many Beijing stores carry. Deterministic, and
//! idempotent: run on every start of a demo database, it adds only what is missing.

use sqlx::SqlitePool;

use crate::error::Result;

/// The demo hosts' phones, one per room (`live_bj1`…`live_bj3`, in this order). Sign in with one
/// of them (demo SMS codes) to host its room.
pub const DEMO_HOSTS: [&str; 3] = ["13900000001", "13900000002", "13900000003"];

/// The demo rooms' ids, in `DEMO_HOSTS` order: the media gateway loops a test picture in them.
pub const DEMO_ROOMS: [&str; 3] = [ROOMS[0].0, ROOMS[1].0, ROOMS[2].0];

/// (room id, host name, title) of the demo rooms, in `DEMO_HOSTS` order.
const ROOMS: [(&str, &str, &str); 3] = [
    ("live_bj1", "鲜果小王", "晚八点鲜果直播间"),
    ("live_bj2", "厨房阿姨", "今晚吃什么：厨房好物直播"),
    ("live_bj3", "夜猫子店长", "深夜零食补给站"),
];

/// The demo city's name as stores carry it.
const CITY: &str = "北京";

/// Live price: about 80% of the regular one.
const LIVE_PRICE_PERCENT: i64 = 80;
const DEMO_CAP: i64 = 200;

/// Adds the demo rooms that are missing, with their hosts and first pins. A room that exists is
/// left as its host made it.
pub async fn seed_rooms(pool: &SqlitePool, now: i64) -> Result<()> {
    // The SKUs carried by the most Beijing stores (ties by SKU): one per room.
    let popular: Vec<(String, i64)> = sqlx::query_as(
        "SELECT sp.sku, MIN(sp.price_fen) FROM store_products sp JOIN stores s ON s.id = sp.store_id
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
    let mut tx = pool.begin().await?;
    for (n, ((id, host_name, title), (sku, regular))) in ROOMS.iter().zip(popular).enumerate() {
        let phone = DEMO_HOSTS[n];
        // The host may already have signed in (a user with that phone): keep that user.
        sqlx::query(
            "INSERT INTO users (id, phone, created_at) VALUES (?, ?, ?) ON CONFLICT (phone) DO NOTHING",
        )
        .bind(format!("usr_demohost{}", n + 1))
        .bind(phone)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO live_rooms (id, host_user_id, host_name, title, status, city, created_at,
                 updated_at)
             SELECT ?, id, ?, ?, 'live', ?, ?, ? FROM users WHERE phone = ?
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(host_name)
        .bind(title)
        .bind(CITY)
        .bind(now)
        .bind(now)
        .bind(phone)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            let live_price = (regular * LIVE_PRICE_PERCENT / 100).min(regular - 1);
            sqlx::query(
                "INSERT INTO live_pins (room_id, sku, live_price_fen, stock_cap, sold, pinned_at, current)
                 VALUES (?, ?, ?, ?, 0, ?, 1)",
            )
            .bind(id)
            .bind(&sku)
            .bind(live_price.max(1))
            .bind(DEMO_CAP)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
