//! Live rooms (边看边买): a host pins a product at a live price with a cap; viewers watch the
//! room's event stream, comment, like and buy. A room sells through the stores taking part in it
//! (`live_room_stores`): orders bought live are ordinary orders routed to the nearest of them that
//! delivers and has stock, each paid its own price, linked to the room in `live_sales` with the
//! brand's subsidy (the store's price less the live price).
//!
//! - here: reading rooms (one, the list, the stream's snapshot and event log), the host check,
//!   the host console, the media URLs, and `record` (a durable event in the room's log,
//!   `crate::event_log`);
//! - `pins`: pin, unpin, status and settings (host only);
//! - `bag`: the shopping bag (host only);
//! - `flash`: flash sales (host only) and what is kept of them in memory;
//! - `chat`: comments and their hiding, likes;
//! - `reservations`: previews (scheduled rooms) reserved by shoppers, as calendar events too;
//! - `replay`: an ended room's recording with its pins and bag in time, and product chapters;
//! - `buy`: live orders (Idempotency-Key, cap and stock under concurrency);
//! - `hub`: what lives in memory (wake-ups, likes not yet written, viewer reports, rate limits);
//! - `demo`: the demo rooms.
//!
//! Every write runs on the checkout writer, so a room's event `seq` is assigned by one connection
//! and an event commits with the change it describes.

pub mod bag;
pub mod buy;
pub mod chat;
pub mod demo;
pub mod flash;
pub mod hub;
pub mod pins;
pub mod replay;
pub mod reservations;

use jishi_api::live::{
    CatalogueEntry, Comment, HostConsole, Ingest, LiveEvent, LiveRoom, Pin, Playback, RoomStatus,
    RoomsResponse, SkuSales, StoreSales, SNAPSHOT_COMMENTS,
};
use jishi_api::person::Person;
use jishi_api::stores::{NearbyQuery, Sort};
use jishi_api::{ApiError, ErrorCode, LatLng};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

pub use hub::{Hub, LiveLimits};

use crate::accounts::Caller;
use crate::clock::rfc3339_utc;
use crate::error::{PlatformError, Result};
use crate::event_log::{self, Log};
use crate::Platform;

/// A room as stored.
#[derive(Debug, Clone)]
pub struct RoomRow {
    pub id: String,
    pub host_user_id: String,
    pub host_name: String,
    pub title: String,
    pub status: RoomStatus,
    pub city: String,
    pub likes: u64,
    pub slow_mode: bool,
    pub message: Option<String>,
    /// When a scheduled room is to go live (Unix seconds).
    pub starts_at: Option<i64>,
}

const ROOM_SQL: &str = "SELECT id, host_user_id, host_name, title, status, city, likes,
    slow_mode, message, starts_at FROM live_rooms";

/// A room's stored status.
pub(crate) fn room_status(room_id: &str, status: &str) -> Result<RoomStatus> {
    RoomStatus::parse(status).ok_or_else(|| PlatformError::CorruptRow {
        what: format!("live room {room_id}"),
        detail: format!("status {status}"),
    })
}

fn room_from(row: &SqliteRow) -> Result<RoomRow> {
    let id: String = row.try_get("id")?;
    let status = room_status(&id, row.try_get("status")?)?;
    Ok(RoomRow {
        host_user_id: row.try_get("host_user_id")?,
        host_name: row.try_get("host_name")?,
        title: row.try_get("title")?,
        status,
        city: row.try_get("city")?,
        likes: u64::try_from(row.try_get::<i64, _>("likes")?).unwrap_or(0),
        slow_mode: row.try_get::<i64, _>("slow_mode")? == 1,
        message: row.try_get("message")?,
        starts_at: row.try_get("starts_at")?,
        id,
    })
}

pub fn unknown_room() -> PlatformError {
    ApiError::not_found("找不到这个直播间").into()
}

/// The room `id`; 404 when there is none.
pub async fn room_row(conn: &mut SqliteConnection, id: &str) -> Result<RoomRow> {
    let row = sqlx::query(&format!("{ROOM_SQL} WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(unknown_room)?;
    room_from(&row)
}

/// A pin with its product's name and regular price (the lowest of the room's stores that carry it).
const PIN_SQL: &str = "SELECT lp.sku, p.name, p.picture, lp.live_price_fen, lp.stock_cap, lp.sold,
    (SELECT MIN(sp.price_fen) FROM store_products sp
     JOIN live_room_stores rs ON rs.store_id = sp.store_id AND rs.room_id = lp.room_id
     WHERE sp.sku = lp.sku) AS price_fen
    FROM live_pins lp JOIN products p ON p.sku = lp.sku";

/// The stores taking part in the room, by id.
pub(crate) async fn room_stores(conn: &mut SqliteConnection, room_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT store_id FROM live_room_stores WHERE room_id = ? ORDER BY store_id",
    )
    .bind(room_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The room's stores that carry `sku`: the lowest price among them (the regular price a live price
/// is set against) and the units they hold between them (the most a cap may be). `None` when
/// none of them carries it.
pub(crate) async fn room_offer(
    conn: &mut SqliteConnection,
    room_id: &str,
    sku: &str,
) -> Result<Option<(i64, u32)>> {
    let row: (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT MIN(sp.price_fen), SUM(sp.stock) FROM store_products sp
         JOIN live_room_stores rs ON rs.store_id = sp.store_id AND rs.room_id = ?
         WHERE sp.sku = ?",
    )
    .bind(room_id)
    .bind(sku)
    .fetch_one(&mut *conn)
    .await?;
    Ok(match row {
        (Some(regular), Some(held)) => Some((regular, u32::try_from(held).unwrap_or(u32::MAX))),
        _ => None,
    })
}

fn pin_from(row: &SqliteRow) -> Result<Pin> {
    let stock_cap: u32 = row.try_get("stock_cap")?;
    let sold: u32 = row.try_get("sold")?;
    Ok(Pin {
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        price_fen: row.try_get::<Option<i64>, _>("price_fen")?.unwrap_or(0),
        live_price_fen: row.try_get("live_price_fen")?,
        stock_cap,
        sold,
        stock_left: stock_cap.saturating_sub(sold),
        image: crate::pictures::image(row.try_get::<Option<&str>, _>("picture")?),
    })
}

/// The room's current pin, if it has one.
pub(crate) async fn current_pin(conn: &mut SqliteConnection, room_id: &str) -> Result<Option<Pin>> {
    let row = sqlx::query(&format!(
        "{PIN_SQL} WHERE lp.room_id = ? AND lp.current = 1"
    ))
    .bind(room_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(pin_from).transpose()
}

pub(crate) async fn pin_of(
    conn: &mut SqliteConnection,
    room_id: &str,
    sku: &str,
) -> Result<Option<Pin>> {
    let row = sqlx::query(&format!("{PIN_SQL} WHERE lp.room_id = ? AND lp.sku = ?"))
        .bind(room_id)
        .bind(sku)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(pin_from).transpose()
}

/// Where viewers play the room and where the host pushes it, from where browsers reach the media
/// server (`JISHI_MEDIA_BASE`, `/media` behind the shop's server); `None` without one. The one
/// place that knows the media server's paths. No RTMP address or stream key: the console asks
/// the gateway for them (`rtmp_request_url`), which makes a random key per broadcast.
pub fn media_urls(media_base: Option<&str>, room_id: &str) -> Option<(Playback, Ingest)> {
    let base = media_base?.trim_end_matches('/');
    Some((
        Playback {
            whep: Some(format!("{base}/whep/{room_id}")),
            hls: Some(format!(
                "{base}/hls/{room_id}/{}",
                jishi_api::media::HLS_PLAYLIST
            )),
        },
        Ingest {
            whip_url: format!("{base}/whip/{room_id}"),
            rtmp_request_url: format!("{base}/rtmp/{room_id}"),
        },
    ))
}

/// Where an ended room's recording plays (behind `JISHI_MEDIA_BASE`, as `media_urls`).
pub fn replay_url(media_base: Option<&str>, room_id: &str) -> Option<String> {
    let base = media_base?.trim_end_matches('/');
    Some(format!(
        "{base}/replay/{room_id}/{}",
        jishi_api::media::HLS_PLAYLIST
    ))
}

/// What a room shows besides its own row: the pin, the participating stores, the bag, the
/// latest flash sale (shown while it is not long over) and, once it has ended, its timeline.
pub(crate) struct RoomParts {
    pub pinned: Option<Pin>,
    pub stores: Vec<String>,
    pub bag: Vec<Pin>,
    pub flash: Option<jishi_api::live::Flash>,
    pub reservations: u64,
    pub timeline: Option<(i64, Vec<jishi_api::live::TimedEvent>)>,
}

/// The room's parts, read on the caller's connection (inside its transaction, if any). Only an
/// ended room has a timeline to read.
pub(crate) async fn room_parts(conn: &mut SqliteConnection, row: &RoomRow) -> Result<RoomParts> {
    let room_id = row.id.as_str();
    Ok(RoomParts {
        pinned: current_pin(conn, room_id).await?,
        stores: room_stores(conn, room_id).await?,
        bag: bag(conn, room_id).await?,
        flash: flash::latest(conn, room_id).await?,
        reservations: reservations::count(conn, room_id).await?,
        timeline: match row.status {
            RoomStatus::Ended => replay::timeline(conn, room_id).await?,
            RoomStatus::Scheduled | RoomStatus::Live => None,
        },
    })
}

/// The room's shopping bag, in the host's order.
pub(crate) async fn bag(conn: &mut SqliteConnection, room_id: &str) -> Result<Vec<Pin>> {
    let rows = sqlx::query(&format!(
        "{PIN_SQL} WHERE lp.room_id = ? AND lp.bag_position IS NOT NULL ORDER BY lp.bag_position"
    ))
    .bind(room_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(pin_from).collect()
}

fn live_room(p: &Platform, row: RoomRow, parts: RoomParts) -> LiveRoom {
    let RoomParts {
        pinned,
        stores,
        bag,
        flash,
        reservations,
        timeline,
    } = parts;
    let now = p.now_unix();
    LiveRoom {
        replay: replay_url(p.media_base(), &row.id)
            .zip(timeline)
            .map(|(hls, timeline)| replay::replay(hls, timeline)),
        reservations,
        starts_at: row.starts_at.map(rfc3339_utc),
        stores,
        bag,
        flash: flash.filter(|f| f.phase(now) != jishi_api::live::FlashPhase::Gone),
        playback: media_urls(p.media_base(), &row.id).map(|(play, _)| play),
        viewer_count: p.live().viewers(&row.id),
        title: row.title,
        status: row.status,
        host: jishi_api::live::Host {
            name: row.host_name,
        },
        likes: row.likes,
        pinned,
        message: row.message,
        slow_mode: row.slow_mode,
        distance_m: None,
        id: row.id,
    }
}

/// `GET /v1/live/rooms/{id}`.
pub async fn room(p: &Platform, id: &str) -> Result<LiveRoom> {
    let mut conn = p.pool().acquire().await?;
    let row = room_row(&mut conn, id).await?;
    let parts = room_parts(&mut conn, &row).await?;
    Ok(live_room(p, row, parts))
}

/// The stream's first event (the room and its newest visible comments, oldest first) and the
/// room's latest durable seq, read in one transaction so that the events after that seq are
/// exactly the changes the snapshot does not show.
pub async fn snapshot(p: &Platform, id: &str) -> Result<(LiveEvent, u64)> {
    let mut tx = p.pool().begin().await?;
    let seq = event_log::max_seq(&mut tx, Log::Room, id).await?;
    let row = room_row(&mut tx, id).await?;
    let parts = room_parts(&mut tx, &row).await?;
    let rows = sqlx::query(
        "SELECT id, author, text, at FROM live_comments
         WHERE room_id = ? AND hidden = 0 ORDER BY id DESC LIMIT ?",
    )
    .bind(id)
    .bind(SNAPSHOT_COMMENTS as i64)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut comments = rows.iter().map(comment_from).collect::<Result<Vec<_>>>()?;
    comments.reverse();
    let room = live_room(p, row, parts);
    Ok((
        LiveEvent::Snapshot {
            room: Box::new(room),
            comments,
            now: Some(rfc3339_utc(p.now_unix())),
        },
        seq,
    ))
}

/// A person as stored: `jishi_api::person::Person` as JSON.
pub(crate) fn person(json: String) -> Result<Person> {
    serde_json::from_str(&json).map_err(|e| PlatformError::CorruptRow {
        what: format!("person {json}"),
        detail: e.to_string(),
    })
}

pub(crate) fn comment_from(row: &SqliteRow) -> Result<Comment> {
    Ok(Comment {
        id: u64::try_from(row.try_get::<i64, _>("id")?).unwrap_or(0),
        author: person(row.try_get("author")?)?,
        text: row.try_get("text")?,
        at: rfc3339_utc(row.try_get("at")?),
    })
}

/// Appends a durable event to the room's log, on the caller's (writer's) connection, so it
/// commits with the change it describes.
pub(crate) async fn record(
    conn: &mut SqliteConnection,
    room_id: &str,
    event: &LiveEvent,
    now: i64,
) -> Result<()> {
    event_log::append(conn, Log::Room, room_id, std::slice::from_ref(event), now).await
}

/// `GET /v1/live/rooms`: the live rooms, then the scheduled ones (soonest first, with their
/// `starts_at`); with a point, live rooms that can deliver there first (one of the room's stores
/// delivers to the point and carries the pinned SKU or one the room pinned before), nearest such
/// store first, with its distance.
pub async fn list(p: &Platform, at: Option<LatLng>) -> Result<RoomsResponse> {
    let mut conn = p.pool().acquire().await?;
    let rows = sqlx::query(&format!(
        "{ROOM_SQL} WHERE status IN ('live', 'scheduled')
         ORDER BY status = 'scheduled', starts_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut rooms = Vec::with_capacity(rows.len());
    for row in &rows {
        let row = room_from(row)?;
        let parts = room_parts(&mut conn, &row).await?;
        rooms.push(live_room(p, row, parts));
    }
    let Some(at) = at else {
        return Ok(RoomsResponse { rooms });
    };
    let query = NearbyQuery {
        sort: Sort::Distance,
        ..NearbyQuery::new(at)
    };
    let stores = p
        .index()
        .all_delivering(&query, p.clock().store_local_now());
    let distance: std::collections::HashMap<&str, u32> = stores
        .iter()
        .map(|s| (s.id.as_str(), s.distance_m))
        .collect();
    let ids = serde_json::to_string(&stores.iter().map(|s| &s.id).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into());
    let reach: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT lp.room_id, sp.store_id FROM live_pins lp
         JOIN live_rooms r ON r.id = lp.room_id AND r.status = 'live'
         JOIN live_room_stores rs ON rs.room_id = lp.room_id
         JOIN store_products sp ON sp.sku = lp.sku AND sp.store_id = rs.store_id
         WHERE sp.store_id IN (SELECT value FROM json_each(?))",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    for room in &mut rooms {
        room.distance_m = reach
            .iter()
            .filter(|(r, _)| *r == room.id)
            .filter_map(|(_, s)| distance.get(s.as_str()).copied())
            .min();
    }
    // Live rooms before scheduled ones; among each, deliverable rooms first, nearest first; the
    // rest keep their order.
    rooms.sort_by_key(|r| {
        (
            r.status != RoomStatus::Live,
            r.distance_m.is_none(),
            r.distance_m,
        )
    });
    Ok(RoomsResponse { rooms })
}

/// The room, if the caller is its host: 401 for a caller not signed in, 404 for no such room,
/// 403 for anyone else.
pub async fn require_host(p: &Platform, caller: &Caller, room_id: &str) -> Result<RoomRow> {
    let user = caller.require_user()?;
    let mut conn = p.pool().acquire().await?;
    let row = room_row(&mut conn, room_id).await?;
    if row.host_user_id != user {
        return Err(ApiError::new(ErrorCode::Forbidden, "只有这个直播间的主播可以这样做").into());
    }
    Ok(row)
}

/// Products listed in the console at most.
const CONSOLE_CATALOGUE: i64 = 100;
/// Longest console search phrase, in characters.
const MAX_CONSOLE_QUERY: usize = 40;

/// `GET /v1/live/rooms/{id}/host`: the room, where to push the video, what sold (orders not
/// cancelled or expired) by product and by store with the brand's subsidy, and the products the
/// room's stores carry, those carried by most first (matching `q` in their name when given).
pub async fn host_console(p: &Platform, row: RoomRow, q: Option<&str>) -> Result<HostConsole> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_CONSOLE_QUERY || q.chars().any(char::is_control)) {
        return Err(
            ApiError::bad_request(format!("搜索词应为 1 到 {MAX_CONSOLE_QUERY} 个字")).into(),
        );
    }
    let mut conn = p.pool().acquire().await?;
    let sales_rows = sqlx::query(
        "SELECT ls.sku, p.name, SUM(ls.quantity) AS quantity, SUM(ls.amount_fen) AS revenue_fen,
                SUM(ls.subsidy_fen) AS subsidy_fen
         FROM live_sales ls JOIN orders o ON o.id = ls.order_id JOIN products p ON p.sku = ls.sku
         WHERE ls.room_id = ? AND o.stock_returned = 0
         GROUP BY ls.sku ORDER BY revenue_fen DESC, ls.sku",
    )
    .bind(&row.id)
    .fetch_all(&mut *conn)
    .await?;
    let sales = sales_rows
        .iter()
        .map(|r| {
            Ok(SkuSales {
                sku: r.try_get("sku")?,
                name: r.try_get("name")?,
                quantity: u32::try_from(r.try_get::<i64, _>("quantity")?).unwrap_or(0),
                revenue_fen: r.try_get("revenue_fen")?,
                subsidy_fen: r.try_get("subsidy_fen")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let store_rows = sqlx::query(
        "SELECT o.store_id, s.name AS store_name, SUM(ls.quantity) AS quantity,
                SUM(ls.amount_fen) AS revenue_fen, SUM(ls.subsidy_fen) AS subsidy_fen
         FROM live_sales ls JOIN orders o ON o.id = ls.order_id JOIN stores s ON s.id = o.store_id
         WHERE ls.room_id = ? AND o.stock_returned = 0
         GROUP BY o.store_id ORDER BY revenue_fen DESC, o.store_id",
    )
    .bind(&row.id)
    .fetch_all(&mut *conn)
    .await?;
    let by_store = store_rows
        .iter()
        .map(|r| {
            Ok(StoreSales {
                store_id: r.try_get("store_id")?,
                store_name: r.try_get("store_name")?,
                quantity: u32::try_from(r.try_get::<i64, _>("quantity")?).unwrap_or(0),
                revenue_fen: r.try_get("revenue_fen")?,
                subsidy_fen: r.try_get("subsidy_fen")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let catalogue_rows = sqlx::query(
        "SELECT p.sku, p.name, MIN(sp.price_fen) AS price_fen, COUNT(*) AS stores,
                SUM(sp.stock) AS stock
         FROM store_products sp
         JOIN live_room_stores rs ON rs.store_id = sp.store_id AND rs.room_id = ?1
         JOIN products p ON p.sku = sp.sku
         WHERE (?2 IS NULL OR instr(p.name, ?2) > 0)
         GROUP BY p.sku ORDER BY stores DESC, p.sku LIMIT ?3",
    )
    .bind(&row.id)
    .bind(q)
    .bind(CONSOLE_CATALOGUE)
    .fetch_all(&mut *conn)
    .await?;
    let catalogue = catalogue_rows
        .iter()
        .map(|r| {
            Ok(CatalogueEntry {
                sku: r.try_get("sku")?,
                name: r.try_get("name")?,
                price_fen: r.try_get("price_fen")?,
                stores: u32::try_from(r.try_get::<i64, _>("stores")?).unwrap_or(0),
                stock: u32::try_from(r.try_get::<i64, _>("stock")?).unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let parts = room_parts(&mut conn, &row).await?;
    drop(conn);
    let ingest = media_urls(p.media_base(), &row.id).map(|(_, ingest)| ingest);
    Ok(HostConsole {
        room: live_room(p, row, parts),
        ingest,
        revenue_fen: sales.iter().map(|s| s.revenue_fen).sum(),
        subsidy_fen: sales.iter().map(|s| s.subsidy_fen).sum(),
        sales,
        by_store,
        catalogue,
    })
}
