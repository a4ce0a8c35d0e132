//! The shopping bag (购物袋): `PUT /v1/live/rooms/{id}/bag`, host only. The host sends the whole
//! bag in order; each item is priced and capped against the room's stores exactly as a pin is
//! (`pins::priced`), and shares its row in `live_pins` with the pin of the same SKU, so the two
//! never disagree on price, cap or what sold. The change and its `bag` event commit together.

use jishi_api::live::{LiveEvent, LiveRoom, PutBag};

use super::{bag, pins::priced, record};
use crate::error::Result;
use crate::event_log::Log;
use crate::Platform;

/// Replaces the room's bag with `body.items`, in that order. Items keep what they sold in the room
/// before; products left out leave the bag (and stay pinned if they are the pin). One invalid item
/// refuses the whole bag, and nothing is written.
pub async fn put(p: &Platform, room_id: &str, body: PutBag) -> Result<LiveRoom> {
    body.validate()?;
    let (room, now) = (room_id.to_owned(), p.now_unix());
    p.writer()
        .run(move |conn| {
            Box::pin(async move {
                for item in &body.items {
                    priced(conn, &room, item).await?;
                }
                sqlx::query("UPDATE live_pins SET bag_position = NULL WHERE room_id = ?")
                    .bind(&room)
                    .execute(&mut *conn)
                    .await?;
                for (position, item) in body.items.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO live_pins (room_id, sku, live_price_fen, stock_cap, sold,
                             pinned_at, current, bag_position)
                         VALUES (?, ?, ?, ?, 0, ?, 0, ?)
                         ON CONFLICT (room_id, sku) DO UPDATE SET
                             live_price_fen = excluded.live_price_fen,
                             stock_cap = excluded.stock_cap,
                             bag_position = excluded.bag_position",
                    )
                    .bind(&room)
                    .bind(&item.sku)
                    .bind(item.live_price_fen)
                    .bind(item.stock_cap)
                    .bind(now)
                    .bind(position as i64)
                    .execute(&mut *conn)
                    .await?;
                }
                let bag = bag(conn, &room).await?;
                record(conn, &room, &LiveEvent::Bag { bag }, now).await?;
                Ok(())
            })
        })
        .await?;
    p.notify_one(Log::Room, room_id);
    super::room(p, room_id).await
}
