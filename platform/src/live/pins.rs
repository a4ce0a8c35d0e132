//! The host's controls: pin and unpin products, go live and end, the message and slow mode. Each
//! change and its event commit together in one job on the writer.

use jishi_api::live::{LiveEvent, NewPin, Pin, RoomSettings, RoomStatus, StatusChange};
use jishi_api::{ApiError, ErrorCode};
use sqlx::SqliteConnection;

use super::{current_pin, pin_of, record, room_offer};
use crate::error::Result;
use crate::event_log::Log;
use crate::Platform;

/// `POST /v1/live/rooms/{id}/pins`: pins `body.sku` at its live price with its cap, replacing the
/// current pin (`unpinned` for that one, then `pinned`). The price is checked against the room's
/// stores (below their lowest price, not under the floor) and the cap against what they hold. A
/// SKU pinned before keeps what it sold, so its cap may not go below that.
pub async fn pin(p: &Platform, room_id: &str, body: NewPin) -> Result<Pin> {
    body.validate()?;
    let (room, now) = (room_id.to_owned(), p.now_unix());
    let pinned = p
        .writer()
        .run(move |conn| {
            Box::pin(async move {
                priced(conn, &room, &body).await?;
                let old = current_pin(conn, &room).await?;
                sqlx::query(
                    "UPDATE live_pins SET current = 0 WHERE room_id = ? AND current = 1;
                     INSERT INTO live_pins (room_id, sku, live_price_fen, stock_cap, sold, pinned_at, current)
                     VALUES (?, ?, ?, ?, 0, ?, 1)
                     ON CONFLICT (room_id, sku) DO UPDATE SET live_price_fen = excluded.live_price_fen,
                         stock_cap = excluded.stock_cap, pinned_at = excluded.pinned_at, current = 1",
                )
                .bind(&room)
                .bind(&room)
                .bind(&body.sku)
                .bind(body.live_price_fen)
                .bind(body.stock_cap)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                if let Some(old) = old.filter(|o| o.sku != body.sku) {
                    record(conn, &room, &LiveEvent::Unpinned { sku: old.sku }, now).await?;
                }
                let pin = pin_of(conn, &room, &body.sku)
                    .await?
                    .ok_or_else(|| ApiError::new(ErrorCode::Internal, "置顶失败"))?;
                record(conn, &room, &LiveEvent::Pinned { pin: pin.clone() }, now).await?;
                Ok(pin)
            })
        })
        .await?;
    p.notify_one(Log::Room, room_id);
    Ok(pinned)
}

/// Checks a pin or bag item against the room's own stores, so a host sells no one else's stock:
/// the price below their lowest and above the floor; the cap not below what this room sold of it
/// before, and what is left of it within what the stores hold now (what sold has already left
/// the shelves). 404 when none of the room's stores carries the SKU.
pub(crate) async fn priced(conn: &mut SqliteConnection, room: &str, item: &NewPin) -> Result<()> {
    let Some((regular, held)) = room_offer(conn, room, &item.sku).await? else {
        return Err(ApiError::not_found(format!(
            "找不到商品 {}（或本场的参与门店都不卖）",
            item.sku
        ))
        .into());
    };
    let sold_before = pin_of(conn, room, &item.sku).await?.map_or(0, |p| p.sold);
    item.check_against(regular, held.saturating_add(sold_before))?;
    if sold_before > item.stock_cap {
        return Err(ApiError::bad_request(format!(
            "商品 {} 在本场已售 {sold_before} 件，直播库存不能低于它",
            item.sku
        ))
        .into());
    }
    Ok(())
}

/// `DELETE /v1/live/rooms/{id}/pins/{sku}`: takes the current pin down (404 if `sku` is not it).
pub async fn unpin(p: &Platform, room_id: &str, sku: &str) -> Result<()> {
    let (room, sku, now) = (room_id.to_owned(), sku.to_owned(), p.now_unix());
    p.writer()
        .run(move |conn| {
            Box::pin(async move {
                let changed = sqlx::query(
                    "UPDATE live_pins SET current = 0 WHERE room_id = ? AND sku = ? AND current = 1",
                )
                .bind(&room)
                .bind(&sku)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if changed == 0 {
                    return Err(ApiError::not_found("这件商品没有在置顶").into());
                }
                record(conn, &room, &LiveEvent::Unpinned { sku }, now).await?;
                Ok(())
            })
        })
        .await?;
    p.notify_one(Log::Room, room_id);
    Ok(())
}

fn rank(s: RoomStatus) -> u8 {
    match s {
        RoomStatus::Scheduled => 0,
        RoomStatus::Live => 1,
        RoomStatus::Ended => 2,
    }
}

/// `POST /v1/live/rooms/{id}/status`: forward only (scheduled → live → ended); the same status
/// again changes nothing.
pub async fn set_status(p: &Platform, room_id: &str, body: StatusChange) -> Result<()> {
    let (room, now) = (room_id.to_owned(), p.now_unix());
    p.writer()
        .run(move |conn| {
            Box::pin(async move {
                let row = super::room_row(conn, &room).await?;
                if row.status == body.status {
                    return Ok(());
                }
                if rank(body.status) < rank(row.status) {
                    return Err(ApiError::new(
                        ErrorCode::InvalidState,
                        format!(
                            "直播间{}，不能改为{}",
                            row.status.label(),
                            body.status.label()
                        ),
                    )
                    .into());
                }
                // Straight from scheduled to ended, it never went live: no replay's time base.
                sqlx::query(concat!(
                    "UPDATE live_rooms SET status = ?1, updated_at = ?2,
                         live_since_ms = CASE WHEN ?1 = 'live' THEN ",
                    crate::event_log::wall_ms_sql!(),
                    " ELSE live_since_ms END WHERE id = ?3"
                ))
                .bind(body.status.as_str())
                .bind(now)
                .bind(&room)
                .execute(&mut *conn)
                .await?;
                record(
                    conn,
                    &room,
                    &LiveEvent::Status {
                        status: body.status,
                    },
                    now,
                )
                .await?;
                Ok(())
            })
        })
        .await?;
    p.notify_one(Log::Room, room_id);
    Ok(())
}

/// `PUT /v1/live/rooms/{id}/settings`: the message and slow mode; an event for each that changed.
pub async fn settings(p: &Platform, room_id: &str, body: RoomSettings) -> Result<()> {
    let message = body.validate()?;
    let (room, now, slow_mode) = (room_id.to_owned(), p.now_unix(), body.slow_mode);
    p.writer()
        .run(move |conn| {
            Box::pin(async move {
                let row = super::room_row(conn, &room).await?;
                sqlx::query(
                    "UPDATE live_rooms SET message = ?, slow_mode = ?, updated_at = ? WHERE id = ?",
                )
                .bind(&message)
                .bind(i64::from(slow_mode))
                .bind(now)
                .bind(&room)
                .execute(&mut *conn)
                .await?;
                if row.message != message {
                    record(conn, &room, &LiveEvent::Message { message }, now).await?;
                }
                if row.slow_mode != slow_mode {
                    record(conn, &room, &LiveEvent::SlowMode { on: slow_mode }, now).await?;
                }
                Ok(())
            })
        })
        .await?;
    p.notify_one(Log::Room, room_id);
    Ok(())
}
