//! Live buys: `POST /v1/live/rooms/{id}/orders`. One job on the checkout writer claims the
//! Idempotency-Key (shared with `POST /v1/orders`), checks the shopper's holds (one unpaid hold
//! per pin, `SCARCE_HOLD_S` long), takes the quantity from the room's cap, takes it from the
//! nearest of the room's stores that delivers to the address and has enough, writes an ordinary
//! `pending_payment` order at the live price (`orders::write`), links it to the room and records
//! the `sale` event: all of it commits together, or only the key's stored refusal does.
//!
//! An ended room with a replay still sells what the host showed in it (a pin or a bag item, ever):
//! at the chosen store's own price, routed the same way, outside the room's cap and any flash sale.

use std::sync::{Arc, Mutex};

use jishi_api::live::{
    flash_phase, flash_refusal, not_deliverable, FlashPhase, LiveEvent, LiveOrderRequest,
    LiveQuote, RoomStatus, Sale,
};
use jishi_api::orders::{Order, OrderLine, OrderStatus, Shortage, Slot, SCARCE_HOLD_S};
use jishi_api::person::Person;
use jishi_api::stores::{NearbyQuery, Sort};
use jishi_api::{ApiError, ErrorCode, LatLng};

use super::flash::{Admission, FlashOutcome};
use crate::accounts::{self, new_id};
use crate::clock::rfc3339_utc as rfc3339;
use crate::error::{PlatformError, Result};
use crate::event_log::{self, Log, APPEND_SQL};
use crate::orders::write::{
    bind_order, expect_rows, once, order_rows, order_sql, to_reply, Holds, NewOrder, Placement,
    Scarce,
};
use crate::orders::Reply;
use crate::sql::{query, Db, Row};
use crate::stores::StoreIndex;
use crate::Platform;

/// A `live_pins` row viewers may buy: the current pin, or in the bag.
const ON_SALE: &str = "(current = 1 OR bag_position IS NOT NULL)";

/// What an ended room sells from its replay (`live_pins lp JOIN live_rooms r`, `?1` the room,
/// `?2` the SKU): anything the host showed in it, once it went live.
const FROM_REPLAY: &str = "lp.room_id = ?1 AND lp.sku = ?2 AND r.status = 'ended'
    AND r.live_since_ms IS NOT NULL";

/// What the job needs, read before it (a transaction never waits on a pooled connection).
struct Buy {
    room_id: String,
    user_id: String,
    key: String,
    body: LiveOrderRequest,
    /// Open stores that deliver to the address and carry the SKU, nearest first (as JSON ids).
    candidates: String,
    any_candidate: bool,
    buyer: Person,
    now: i64,
    /// The flash sale the memo admitted this buy to (it holds units of its cap there).
    admitted: Option<String>,
    /// What a flash buy came to, for the memo of flash sales (set inside the job).
    flash_outcome: FlashSlot,
}

/// A flash buy's outcome, passed out of the writer's job.
#[derive(Clone, Default)]
struct FlashSlot(Arc<Mutex<Option<(String, FlashOutcome)>>>);

impl FlashSlot {
    fn set(&self, flash_id: String, outcome: FlashOutcome) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((flash_id, outcome));
    }
    fn take(&self) -> Option<(String, FlashOutcome)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Places a live order exactly once per (user, key). Replays, refusals and the created order
/// come back as the stored reply (status and JSON), as for `POST /v1/orders`.
pub async fn buy(
    p: &Platform,
    room_id: &str,
    user_id: &str,
    key: &str,
    body: LiveOrderRequest,
) -> Result<Reply> {
    body.validate()?;
    let now = p.now_unix();
    let flashes = p.live().flashes();
    if !flashes.known(room_id) {
        let latest = super::flash::latest(&mut *p.pool().acquire().await?, room_id).await?;
        flashes.set(room_id, latest.as_ref());
    }
    // A flash crowd is admitted up to the cap in memory; the rest (and buys before the start or
    // after the end) are refused without a database round trip.
    let mut claim = loop {
        match flashes.admit(room_id, &body.sku, body.quantity, (user_id, key), now) {
            Admission::Refused(refused) => return Ok(Reply::from_error(&refused)),
            Admission::Go { claimed } => {
                break Claim {
                    memos: flashes,
                    room_id,
                    claimed,
                }
            }
            Admission::Wait(answered) => {
                // Bounded: a buy in flight that never answers must not hold the others forever.
                let _ = tokio::time::timeout(FLASH_WAIT, answered).await;
            }
        }
    };
    let outcome = FlashSlot::default();
    let admitted = claim.claimed.as_ref().map(|(flash_id, _)| flash_id.clone());
    let placed = place(
        p,
        room_id,
        user_id,
        key,
        body,
        now,
        admitted,
        outcome.clone(),
    )
    .await;
    flashes.settled(
        room_id,
        (user_id, key),
        outcome.take(),
        claim.claimed.take(),
    );
    placed
}

/// How long a buy past a flash sale's claimed cap waits for one in flight at a time.
const FLASH_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Units a buy claimed in the flash sale's memo: given back if the request is dropped before its
/// answer is settled (the database, which decides, is never oversold either way).
struct Claim<'a> {
    memos: &'a super::flash::FlashMemos,
    room_id: &'a str,
    claimed: Option<(String, u32)>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(claimed) = self.claimed.take() {
            self.memos
                .settled(self.room_id, ("", ""), None, Some(claimed));
        }
    }
}

/// `buy` past the flash sale's memo (which admitted it to flash sale `admitted`, if any):
/// routing, then the job on the writer.
#[allow(clippy::too_many_arguments)]
async fn place(
    p: &Platform,
    room_id: &str,
    user_id: &str,
    key: &str,
    body: LiveOrderRequest,
    now: i64,
    admitted: Option<String>,
    flash_outcome: FlashSlot,
) -> Result<Reply> {
    let Route {
        carrying, phone, ..
    } = p.read(|db| route(p, db, room_id, user_id, &body)).await?;
    let buy = Buy {
        room_id: room_id.to_owned(),
        user_id: user_id.to_owned(),
        key: key.to_owned(),
        candidates: serde_json::to_string(&carrying).unwrap_or_else(|_| "[]".into()),
        any_candidate: !carrying.is_empty(),
        buyer: Person::shopper(&phone),
        now,
        body,
        admitted,
        flash_outcome,
    };
    let index = p.index().clone();
    let reply = p
        .writer()
        .run_straight(move |db| buy_on(db, &index, &buy))
        .await?;
    p.notify_one(Log::Room, room_id);
    Ok(reply)
}

/// Routing: the room's stores open now that deliver to the address (each within its own radius),
/// nearest first, that carry the SKU: never a store that does not take part in the room. Listings
/// do not change while the platform runs; stock is checked where it is taken. Another user's
/// address is "not found", exactly like a missing one. Two point reads, on the caller's thread
/// (every buy of a flash crowd makes them): the room's status with the address and the buyer's
/// phone, then the stores.
fn route(
    p: &Platform,
    db: &Db,
    room_id: &str,
    user_id: &str,
    body: &LiveOrderRequest,
) -> Result<Route> {
    // The room's status; the address's point and the buyer's phone, if found.
    let row = query(
        "SELECT r.status, a.lat, a.lng, u.phone FROM live_rooms r
         LEFT JOIN addresses a ON a.id = ?2 AND a.user_id = ?3
         LEFT JOIN users u ON u.id = ?3
         WHERE r.id = ?1",
    )
    .bind(room_id)
    .bind(&body.address_id)
    .bind(user_id)
    .fetch_optional(db)?
    .ok_or_else(super::unknown_room)?;
    let status = super::room_status(room_id, &row.get::<String>(0)?)?;
    let (Some(lat), Some(lng)) = (row.get::<Option<f64>>(1)?, row.get::<Option<f64>>(2)?) else {
        return Err(ApiError::not_found("找不到这个收货地址").into());
    };
    let phone: Option<String> = row.get(3)?;
    let at = LatLng::new(lat, lng)?;
    let nearby = NearbyQuery {
        sort: Sort::Distance,
        open_now: true,
        ..NearbyQuery::new(at)
    };
    let delivering = p
        .index()
        .all_delivering(&nearby, p.clock().store_local_now());
    let ids = serde_json::to_string(&delivering.iter().map(|s| &s.id).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into());
    let carrying = query(
        "SELECT sp.store_id FROM json_each(?1) j
         JOIN live_room_stores rs ON rs.store_id = j.value AND rs.room_id = ?3
         JOIN store_products sp ON sp.store_id = j.value AND sp.sku = ?2
         ORDER BY j.key",
    )
    .bind(ids)
    .bind(&body.sku)
    .bind(room_id)
    .fetch_all(db)?
    .iter()
    .map(|r| r.get::<String>(0))
    .collect::<Result<Vec<_>>>()?;
    Ok(Route {
        at,
        carrying,
        status,
        phone: phone.ok_or_else(|| PlatformError::CorruptRow {
            what: format!("user {user_id}"),
            detail: "signed in but not found".into(),
        })?,
    })
}

/// Where `route` found a buy may come from.
struct Route {
    /// The delivery address.
    at: LatLng,
    /// The room's stores that deliver there and carry the SKU, nearest first.
    carrying: Vec<String>,
    status: RoomStatus,
    /// The buyer's, for the `sale` event's masked buyer.
    phone: String,
}

/// Where a buy would come from now (the same routing as `buy`, read-only): the nearest store
/// that delivers and has the quantity in stock, its delivery time and fee at the live price.
pub async fn quote(
    p: &Platform,
    room_id: &str,
    user_id: &str,
    body: LiveOrderRequest,
) -> Result<LiveQuote> {
    body.validate()?;
    // With the buy's own statements (`route`, `flash_on`, `why_not`), on this thread.
    p.read(|db| quote_on(p, db, room_id, user_id, &body)).await
}

fn quote_on(
    p: &Platform,
    db: &Db,
    room_id: &str,
    user_id: &str,
    body: &LiveOrderRequest,
) -> Result<LiveQuote> {
    let Route {
        at,
        carrying,
        status,
        ..
    } = route(p, db, room_id, user_id, body)?;
    if carrying.is_empty() {
        return Err(not_deliverable().into());
    }
    // Whether an ended room sells this from its replay (as `take_replay` decides for a buy).
    let replaying = status == RoomStatus::Ended
        && query(format!(
            "SELECT EXISTS (SELECT 1 FROM live_pins lp JOIN live_rooms r ON r.id = lp.room_id
                 WHERE {FROM_REPLAY})"
        ))
        .bind(room_id)
        .bind(&body.sku)
        .fetch_one(db)?
        .get::<bool>(0)?;
    let three = |r: Row| -> Result<(i64, u32, u32)> { Ok((r.get(0)?, r.get(1)?, r.get(2)?)) };
    // From a replay: the store's own price, no cap (`None`).
    let pin: Option<(i64, u32, u32)> =
        match flash_on(db, room_id, &body.sku, p.now_unix())?.filter(|_| !replaying) {
            Some(f) => {
                if let Some(refused) =
                    flash_refusal(flash_phase(f.starts_at, f.ends_at, false, p.now_unix()))
                {
                    return Err(refused.into());
                }
                let flash = query("SELECT price_fen, sold, cap FROM live_flash WHERE id = ?")
                    .bind(&f.id)
                    .fetch_optional(db)?
                    .map(three)
                    .transpose()?;
                let Some(flash) = flash else {
                    return Err(ApiError::new(ErrorCode::InvalidState, "这件商品已下架").into());
                };
                Some(flash)
            }
            None if replaying => None,
            None => {
                let live = query(format!(
                    "SELECT live_price_fen, sold, stock_cap FROM live_pins
                 WHERE room_id = ?1 AND sku = ?2 AND {ON_SALE}
                   AND (SELECT status FROM live_rooms WHERE id = ?1) = 'live'"
                ))
                .bind(room_id)
                .bind(&body.sku)
                .fetch_optional(db)?
                .map(three)
                .transpose()?;
                let Some(live) = live else {
                    return Err(why_not(db, room_id, &body.sku)?.into());
                };
                Some(live)
            }
        };
    if let Some((_, sold, stock_cap)) = pin {
        if sold + body.quantity > stock_cap {
            return Err(ApiError::new(ErrorCode::SoldOut, "直播间的库存已抢完").into());
        }
    }
    let store = query(
        "SELECT sp.store_id, sp.price_fen FROM json_each(?1) j
         JOIN store_products sp ON sp.store_id = j.value AND sp.sku = ?2
         WHERE sp.stock >= ?3 ORDER BY j.key LIMIT 1",
    )
    .bind(serde_json::to_string(&carrying).unwrap_or_else(|_| "[]".into()))
    .bind(&body.sku)
    .bind(body.quantity)
    .fetch_optional(db)?
    .map(|r| -> Result<(String, i64)> { Ok((r.get(0)?, r.get(1)?)) })
    .transpose()?;
    let Some((store_id, store_price_fen)) = store else {
        return Err(ApiError::new(ErrorCode::SoldOut, "附近能配送的门店都卖完了").into());
    };
    let unit_price_fen = pin.map_or(store_price_fen, |(live_price_fen, ..)| live_price_fen);
    let store = p
        .index()
        .get(&store_id)
        .ok_or_else(|| PlatformError::CorruptRow {
            what: format!("store {store_id}"),
            detail: "listed but not in the index".into(),
        })?;
    let delivery = StoreIndex::quote(store, at);
    Ok(LiveQuote {
        store_id: store.id.clone(),
        store_name: store.name.clone(),
        eta_min: delivery.eta_min,
        distance_m: delivery.distance_m,
        delivery_fee_fen: store.fees.fee_fen(
            delivery.distance_m,
            unit_price_fen * i64::from(body.quantity),
        ),
        unit_price_fen,
    })
}

/// The same request under the same key: the room is part of it, so one key cannot buy in two rooms.
fn canonical(b: &Buy) -> String {
    serde_json::json!({ "live_room": b.room_id, "order": b.body }).to_string()
}

fn buy_on(db: &Db, index: &StoreIndex, b: &Buy) -> Result<Reply> {
    let request = canonical(b);
    let (user, key, address_id) = (&b.user_id, &b.key, &b.body.address_id);
    once(db, user, key, &request, address_id, b.now, &(index, b))
}

impl Placement for (&StoreIndex, &Buy) {
    fn holds(&self) -> Scarce<'_> {
        Scarce::Pin {
            room_id: &self.1.room_id,
            sku: &self.1.body.sku,
        }
    }

    fn place(&self, db: &Db, address: accounts::Address, holds: Holds) -> Result<String> {
        place_live(db, self.0, self.1, address, holds)
    }
}

fn place_live(
    db: &Db,
    index: &StoreIndex,
    b: &Buy,
    address: accounts::Address,
    holds: Holds,
) -> Result<String> {
    holds.check()?;
    let admitted = match &b.admitted {
        Some(flash_id) => take_flash_counts(db, b, flash_id)?,
        None => None,
    };
    let offer = match admitted {
        Some(offer) => offer,
        None => match flash_on(db, &b.room_id, &b.body.sku, b.now)? {
            Some(flash) => take_flash(db, b, &flash)?,
            None => take_pin(db, b)?,
        },
    };
    let flash = offer.flash.clone();
    let reply = write_order(db, index, b, address, offer)?;
    if let Some(id) = flash {
        b.flash_outcome.set(id, FlashOutcome::Placed);
    }
    Ok(reply)
}

/// The room's flash sale on `sku` that governs a buy at `now`, if any: its latest flash sale,
/// from its start until `FLASH_SHOWN_AFTER_S` after its end.
struct FlashRow {
    id: String,
    per_shopper: u32,
    starts_at: i64,
    ends_at: i64,
}

fn flash_on(db: &Db, room_id: &str, sku: &str, now: i64) -> Result<Option<FlashRow>> {
    let row = query(
        "SELECT id, sku, per_shopper, starts_at, ends_at FROM live_flash
         WHERE room_id = ? ORDER BY starts_at DESC, id DESC LIMIT 1",
    )
    .bind(room_id)
    .fetch_optional(db)?
    .map(|r| -> Result<(String, String, u32, i64, i64)> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .transpose()?;
    Ok(row
        .filter(|(_, s, ..)| s == sku)
        .map(|(id, _, per_shopper, starts_at, ends_at)| FlashRow {
            id,
            per_shopper,
            starts_at,
            ends_at,
        })
        .filter(|f| flash_phase(f.starts_at, f.ends_at, false, now) != FlashPhase::Gone))
}

/// What a buy takes before the stores' stock: the unit price, what the room's count now says,
/// and the product's name and picture.
struct Offer {
    unit_price_fen: i64,
    sold: u32,
    stock_cap: u32,
    name: String,
    picture: Option<String>,
    /// The flash sale bought in.
    flash: Option<String>,
    /// Bought from the room's replay: at the store's own price, outside the cap.
    replay: bool,
}

fn offer_from(row: &Row, flash: Option<String>) -> Result<Offer> {
    let sold: u32 = row.try_get("sold")?;
    let stock_cap: u32 = row.try_get("stock_cap")?;
    Ok(Offer {
        unit_price_fen: row.try_get("price_fen")?,
        name: row.try_get("name")?,
        picture: row.try_get("picture")?,
        flash,
        sold,
        stock_cap,
        replay: false,
    })
}

/// The room's cap for a pin or bag item: conditional, so concurrent buys never take more than it
/// between them.
fn take_pin(db: &Db, b: &Buy) -> Result<Offer> {
    let capped = query(format!(
        "UPDATE live_pins SET sold = sold + ?1
         WHERE room_id = ?2 AND sku = ?3 AND {ON_SALE} AND sold + ?1 <= stock_cap
           AND (SELECT status FROM live_rooms WHERE id = ?2) = 'live'
         RETURNING live_price_fen AS price_fen, sold, stock_cap,
                   (SELECT name FROM products WHERE sku = ?3) AS name,
                   (SELECT picture FROM products WHERE sku = ?3) AS picture"
    ))
    .bind(b.body.quantity)
    .bind(&b.room_id)
    .bind(&b.body.sku)
    .fetch_optional(db)?;
    match capped {
        Some(row) => offer_from(&row, None),
        None => not_live_or_refused(db, b),
    }
}

/// A buy the room's cap refused: from the replay if the room has ended, else why not.
fn not_live_or_refused(db: &Db, b: &Buy) -> Result<Offer> {
    match take_replay(db, b)? {
        Some(offer) => Ok(offer),
        None => Err(why_not(db, &b.room_id, &b.body.sku)?.into()),
    }
}

/// A buy from an ended room's replay: any product the host pinned or put in the bag there, at
/// the store's own price (set in `write_order`), leaving the room's counts as they were.
fn take_replay(db: &Db, b: &Buy) -> Result<Option<Offer>> {
    let row = query(format!(
        "SELECT 0 AS price_fen, lp.sold, lp.stock_cap, p.name, p.picture FROM live_pins lp
         JOIN live_rooms r ON r.id = lp.room_id
         JOIN products p ON p.sku = lp.sku
         WHERE {FROM_REPLAY}"
    ))
    .bind(&b.room_id)
    .bind(&b.body.sku)
    .fetch_optional(db)?;
    row.map(|row| {
        Ok(Offer {
            replay: true,
            ..offer_from(&row, None)?
        })
    })
    .transpose()
}

/// A flash buy: refused before the start and from the end, and over the per-shopper limit; then
/// the flash sale's cap and the shopper's count, taken together by `take_flash_counts` (one
/// conditional statement, so neither is passed under any concurrency). Refused there, the reason
/// is read afterwards.
fn take_flash(db: &Db, b: &Buy, f: &FlashRow) -> Result<Offer> {
    let quantity = b.body.quantity;
    if let Some(refused) = flash_refusal(flash_phase(f.starts_at, f.ends_at, false, b.now)) {
        return Err(refused.into());
    }
    let limit = || {
        ApiError::new(
            ErrorCode::LimitReached,
            format!("秒杀每人限购 {} 件", f.per_shopper),
        )
    };
    if quantity > f.per_shopper {
        return Err(limit().into());
    }
    if let Some(offer) = take_flash_counts(db, b, &f.id)? {
        return Ok(offer);
    }
    // Why: the room, the cap (spent, or short of the quantity), the shopper's limit, in that order.
    let why = query(
        "SELECT r.status, f.sold >= f.cap, f.sold + ?1 > f.cap,
                COALESCE((SELECT bought FROM live_flash_buyers WHERE flash_id = f.id
                          AND user_id = ?2), 0) + ?1 > f.per_shopper
         FROM live_flash f JOIN live_rooms r ON r.id = f.room_id WHERE f.id = ?3",
    )
    .bind(quantity)
    .bind(&b.user_id)
    .bind(&f.id)
    .fetch_optional(db)?
    .map(|r| -> Result<(String, bool, bool, bool)> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .transpose()?;
    Err(match why {
        Some((status, ..)) if status != "live" => return not_live_or_refused(db, b),
        Some((_, true, ..)) => {
            b.flash_outcome.set(f.id.clone(), FlashOutcome::CapSpent);
            ApiError::new(ErrorCode::SoldOut, "秒杀已抢光")
        }
        Some((_, false, false, true)) => limit(),
        _ => ApiError::new(ErrorCode::SoldOut, "秒杀剩下的不够这么多件，少买几件试试"),
    }
    .into())
}

/// Takes a flash sale's count and the shopper's together, in one query, when the sale is
/// the room's latest, open, in a live room, with room under its cap and under the shopper's
/// limit: one `UPDATE … RETURNING`, then the shopper's count inserted `WHERE changes() = 1`.
/// `None` (nothing written) otherwise. The writer runs one job at a time, so the limit read here
/// still holds at the shopper's count below. A buy the flash memo admitted comes straight here
/// (skipping `flash_on`); `take_flash` refuses with the reason when it says no.
fn take_flash_counts(db: &Db, b: &Buy, flash_id: &str) -> Result<Option<Offer>> {
    let quantity = b.body.quantity;
    // Plain `?`: each statement takes the next arguments.
    let rows = query(
        "UPDATE live_flash SET sold = sold + ?
         WHERE id = ? AND room_id = ? AND sku = ? AND starts_at <= ? AND ? < ends_at
           AND sold + ? <= cap AND ? <= per_shopper
           AND id = (SELECT id FROM live_flash WHERE room_id = ?
                     ORDER BY starts_at DESC, id DESC LIMIT 1)
           AND (SELECT status FROM live_rooms WHERE id = ?) = 'live'
           AND COALESCE((SELECT bought FROM live_flash_buyers WHERE flash_id = ? AND user_id = ?), 0)
               + ? <= per_shopper
         RETURNING price_fen, sold, cap AS stock_cap,
                   (SELECT name FROM products WHERE sku = ?) AS name,
                   (SELECT picture FROM products WHERE sku = ?) AS picture;
         INSERT INTO live_flash_buyers (flash_id, user_id, bought)
         SELECT ?, ?, ? WHERE changes() = 1
         ON CONFLICT (flash_id, user_id) DO UPDATE SET bought = bought + excluded.bought",
    )
    .bind(quantity)
    .bind(flash_id)
    .bind(&b.room_id)
    .bind(&b.body.sku)
    .bind(b.now)
    .bind(b.now)
    .bind(quantity)
    .bind(quantity)
    .bind(&b.room_id)
    .bind(&b.room_id)
    .bind(flash_id)
    .bind(&b.user_id)
    .bind(quantity)
    .bind(&b.body.sku)
    .bind(&b.body.sku)
    .bind(flash_id)
    .bind(&b.user_id)
    .bind(quantity)
    .fetch_all(db)?;
    rows.first()
        .map(|row| offer_from(row, Some(flash_id.to_owned())))
        .transpose()
}

/// Takes the quantity from the nearest candidate store with enough stock and writes the order at
/// the offer's price, its link to the room (with the store's price and the brand's subsidy) and
/// the room's `sale` event.
fn write_order(
    db: &Db,
    index: &StoreIndex,
    b: &Buy,
    address: accounts::Address,
    offer: Offer,
) -> Result<String> {
    let quantity = b.body.quantity;
    if !b.any_candidate {
        return Err(not_deliverable().into());
    }
    // The nearest candidate with enough stock, in one conditional statement (the writer's
    // connection runs nothing else meanwhile, and `stock >= ?1` holds at the update itself).
    let taken = query(
        "UPDATE store_products SET stock = stock - ?1
         WHERE sku = ?2 AND stock >= ?1 AND store_id = (
             SELECT sp.store_id FROM json_each(?3) j
             JOIN store_products sp ON sp.store_id = j.value AND sp.sku = ?2
             WHERE sp.stock >= ?1 ORDER BY j.key LIMIT 1)
         RETURNING store_id, price_fen",
    )
    .bind(quantity)
    .bind(&b.body.sku)
    .bind(&b.candidates)
    .fetch_optional(db)?
    .map(|r| -> Result<(String, i64)> { Ok((r.get(0)?, r.get(1)?)) })
    .transpose()?;
    let Some((store_id, store_price_fen)) = taken else {
        return Err(ApiError::new(ErrorCode::SoldOut, "附近能配送的门店都卖完了").into());
    };
    let store = index
        .get(&store_id)
        .ok_or_else(|| PlatformError::CorruptRow {
            what: format!("store {store_id}"),
            detail: "listed but not in the index".into(),
        })?;
    let quote = StoreIndex::quote(store, LatLng::new(address.lat, address.lng)?);
    let Offer {
        unit_price_fen,
        sold,
        stock_cap,
        name,
        picture,
        flash,
        replay,
    } = offer;
    let live_price_fen = if replay {
        store_price_fen
    } else {
        unit_price_fen
    };
    let items_fen = live_price_fen * i64::from(quantity);
    // The store is paid its own price; the brand pays what the viewer did not. A live or flash
    // price is always below the lowest price of the room's stores, so this is never negative.
    let subsidy_fen = (store_price_fen - live_price_fen).max(0) * i64::from(quantity);
    let delivery_fee_fen = store.fees.fee_fen(quote.distance_m, items_fen);
    let expires_at = b.now + SCARCE_HOLD_S;
    let order = Order {
        id: new_id("ord_"),
        store_id: store.id.clone(),
        store_name: store.name.clone(),
        status: OrderStatus::PendingPayment,
        items: vec![OrderLine {
            sku: b.body.sku.clone(),
            name,
            price_fen: live_price_fen,
            quantity,
            short: 0,
            substitute_for: None,
            image: crate::pictures::image(picture.as_deref()),
        }],
        items_fen,
        delivery_fee_fen,
        total_fen: items_fen + delivery_fee_fen,
        address_id: address.id,
        slot: Slot::Asap,
        created_at: rfc3339(b.now),
        pay_before: Some(rfc3339(expires_at)),
        eta_min: quote.eta_min,
        group_id: None,
        note: None,
        shortage: Shortage::default(),
        short: Vec::new(),
        substitutes: Vec::new(),
        answer_before: None,
        refunds: Vec::new(),
        refunded_fen: 0,
        after_sales: Vec::new(),
        now: None,
    };
    let what = format!("live order {}", order.id);
    let reply = to_reply(&what, &order)?;
    let sale = LiveEvent::Sale {
        sale: Sale {
            sku: b.body.sku.clone(),
            buyer: b.buyer.clone(),
            quantity,
            amount_fen: items_fen,
        },
        sold,
        stock_left: stock_cap.saturating_sub(sold),
        flash: flash.is_some(),
    };
    let sale = event_log::to_json(Log::Room, &b.room_id, &sale)?;
    let new = NewOrder {
        user_id: &b.user_id,
        key: &b.key,
        order: &order,
        now: b.now,
        expires_at,
        dispatch_at: None,
        reply: &reply,
    };
    // The order, its line, the stored answer, the link to the room and the room's event in one
    // query (plain `?`: each statement takes the next arguments).
    let sql = format!(
        "{};
         INSERT INTO live_sales (order_id, room_id, sku, quantity, amount_fen, store_price_fen,
             subsidy_fen, flash_id, replay) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);
         {APPEND_SQL}",
        order_sql(1)
    );
    let query = bind_order(query(sql), &new)
        .bind(&order.id)
        .bind(&b.room_id)
        .bind(&b.body.sku)
        .bind(quantity)
        .bind(items_fen)
        .bind(store_price_fen)
        .bind(subsidy_fen)
        .bind(flash.as_ref())
        .bind(replay);
    let stored = event_log::bind_append(query, Log::Room, &b.room_id, &sale, b.now).execute(db)?;
    expect_rows(stored, order_rows(&order) + 2, what)?;
    Ok(reply)
}

/// Why the cap refused: the room is not live, the SKU is neither pinned nor in the bag, or the
/// cap is spent.
fn why_not(db: &Db, room_id: &str, sku: &str) -> Result<ApiError> {
    let row = query(format!(
        "SELECT r.status, lp.sku IS NOT NULL AND {ON_SALE} FROM live_rooms r
         LEFT JOIN live_pins lp ON lp.room_id = r.id AND lp.sku = ? WHERE r.id = ?"
    ))
    .bind(sku)
    .bind(room_id)
    .fetch_optional(db)?
    .map(|r| -> Result<(String, Option<bool>)> { Ok((r.get(0)?, r.get(1)?)) })
    .transpose()?;
    Ok(match row {
        None => ApiError::not_found("找不到这个直播间"),
        Some((status, _)) if status != "live" => ApiError::new(
            ErrorCode::InvalidState,
            "直播还没开始或已结束，暂时不能购买",
        ),
        Some((_, on_sale)) if on_sale != Some(true) => {
            ApiError::new(ErrorCode::InvalidState, "这件商品已下架")
        }
        Some(_) => ApiError::new(ErrorCode::SoldOut, "直播间的库存已抢完"),
    })
}
