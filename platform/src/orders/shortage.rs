//! When the shelf is short (缺货). A store finds it out while picking: at the dispatch step out of
//! `picking`, an order's short lines are those a demo request planned (`plan`, demo mode only) or,
//! at the demo rate, one line drawn from the order's id (`demo_short_line`: deterministic, so a
//! given order always comes up short the same way). What happens then is the shopper's choice at
//! checkout (`Shortage`):
//!
//! - `ship_rest`: the short units are refunded at once and the rest goes on to `ready`;
//! - `cancel_all`: the whole order is refunded and its other units go back to the shelf;
//! - `ask_me`: the order waits in `awaiting_shopper` with up to three substitutes per short line
//!   (same store, same aisle, in stock, at the same price or lower, best match first); the
//!   shopper takes one (`answer`: the difference is refunded) or refuses (the units are
//!   refunded); lines still unanswered after `SHORTAGE_ANSWER_S` go as `ship_rest` would
//!   (`time_out`, from the dispatch step).
//!
//! Whatever the path, when nothing is left to deliver the delivery fee is refunded too and the
//! order ends `refunded`. Short units never go back to the shelf: they were never on it. Every
//! step is an order event carrying the order's lines and money (`OrderChange`), so the order
//! page follows it live. Refunds go through `refunds::refund`, the one capped writer.

use jishi_api::orders::{
    DemoShort, Order, OrderStatus, RefundReason, Shortage, ShortageAnswer, MAX_SUBSTITUTES,
    SHORTAGE_ANSWER_S,
};
use jishi_api::{ApiError, ErrorCode};
use sha2::{Digest, Sha256};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::lifecycle::release;
use super::refunds::refund;
use super::{load, load_on};
use crate::dispatch::{self, eta_at};
use crate::error::Result;

/// `order_items.short_outcome` of a short line whose missing units were refunded; otherwise it
/// holds the substitute's SKU.
pub(crate) const REFUNDED: &str = "refunded";

/// Orders in a thousand whose picking comes up one unit short, by default in the demo
/// (`JISHI_SHORTAGE_PER_MILLE`): rare, but a shopper who orders a few times meets one.
pub const DEMO_SHORTAGE_PER_MILLE: u16 = 20;

/// The line (its index in SKU order) on which the demo's shelf comes up one unit short for this
/// order, if it does: when the first two bytes of SHA-256(order id), as a big-endian number
/// modulo 1000, fall below `per_mille`; the line is the third byte modulo the line count.
pub fn demo_short_line(order_id: &str, per_mille: u16, lines: usize) -> Option<usize> {
    let hash = Sha256::digest(order_id.as_bytes());
    let draw = u16::from_be_bytes([hash[0], hash[1]]) % 1000;
    (draw < per_mille && lines > 0).then(|| usize::from(hash[2]) % lines)
}

/// `POST /v1/demo/orders/{id}/short` (the caller checks demo mode): the owner's line will come up
/// `missing` units short when the store picks. Only before picking starts.
pub async fn plan(pool: &SqlitePool, user_id: &str, id: &str, body: &DemoShort) -> Result<Order> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let status = super::owned_status(&mut tx, user_id, id).await?;
    if !matches!(
        status,
        OrderStatus::PendingPayment | OrderStatus::Paid | OrderStatus::Accepted
    ) {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("订单{}，门店已开始拣货", status.label()),
        )
        .into());
    }
    let quantity: Option<u32> = sqlx::query_scalar(
        "SELECT quantity FROM order_items WHERE order_id = ? AND sku = ? AND substitute_for IS NULL",
    )
    .bind(id)
    .bind(&body.sku)
    .fetch_optional(&mut *tx)
    .await?;
    let quantity =
        quantity.ok_or_else(|| ApiError::bad_request(format!("订单里没有商品 {}", body.sku)))?;
    if body.missing == 0 || body.missing > quantity {
        return Err(ApiError::bad_request(format!("缺货数量应为 1–{quantity}")).into());
    }
    sqlx::query("UPDATE order_items SET planned_short = ? WHERE order_id = ? AND sku = ?")
        .bind(body.missing)
        .bind(id)
        .bind(&body.sku)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    load(pool, user_id, id).await
}

/// The dispatch step out of `picking` for an order that may come up short (it has a planned
/// shortage, or the demo draw hits it): finds its short lines and follows the shopper's choice.
/// Returns whether the order moved (it may have been cancelled meanwhile).
pub(crate) async fn pick(
    conn: &mut SqliteConnection,
    id: &str,
    per_mille: u16,
    now: i64,
) -> Result<bool> {
    let order = load_on(conn, id).await?;
    if order.status != OrderStatus::Picking {
        return Ok(false);
    }
    let mut short: Vec<(String, u32)> = sqlx::query_as(
        "SELECT sku, MIN(planned_short, quantity) FROM order_items
         WHERE order_id = ? AND planned_short > 0 AND substitute_for IS NULL ORDER BY sku",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    if short.is_empty() {
        if let Some(i) = demo_short_line(id, per_mille, order.items.len()) {
            short.push((order.items[i].sku.clone(), 1));
        }
    }
    for (sku, missing) in &short {
        sqlx::query(
            "UPDATE order_items SET short = ?, planned_short = 0 WHERE order_id = ? AND sku = ?",
        )
        .bind(missing)
        .bind(id)
        .bind(sku)
        .execute(&mut *conn)
        .await?;
    }
    match order.shortage {
        _ if short.is_empty() => finish(conn, &order, now).await?,
        Shortage::ShipRest => {
            for (sku, _) in &short {
                refund_short_line(conn, id, sku, now).await?;
            }
            finish(conn, &order, now).await?;
        }
        Shortage::CancelAll => {
            for (sku, _) in &short {
                set_outcome(conn, id, sku, REFUNDED).await?;
            }
            release(conn, id, OrderStatus::Refunded, now).await?;
        }
        Shortage::AskMe => {
            for (sku, missing) in &short {
                offer_substitutes(conn, &order, sku, *missing).await?;
            }
            sqlx::query(
                "UPDATE orders SET status = 'awaiting_shopper', answer_before = ?, updated_at = ?
                 WHERE id = ?",
            )
            .bind(now + SHORTAGE_ANSWER_S)
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            record(conn, &order, OrderStatus::AwaitingShopper, now).await?;
        }
    }
    Ok(true)
}

/// The dispatch step for an order whose shopper did not answer in time: the unanswered lines go
/// as `ship_rest` would.
pub(crate) async fn time_out(conn: &mut SqliteConnection, id: &str, now: i64) -> Result<bool> {
    let order = load_on(conn, id).await?;
    if order.status != OrderStatus::AwaitingShopper {
        return Ok(false);
    }
    for line in order.short.iter().filter(|l| l.outcome.is_none()) {
        refund_short_line(conn, id, &line.sku, now).await?;
    }
    finish(conn, &order, now).await?;
    Ok(true)
}

/// `POST /v1/orders/{id}/shortage`: the shopper takes a substitute for a short line (its stock is
/// reserved; the difference is refunded) or refuses (`sku: null`: the missing units are
/// refunded). Once every short line is answered the order goes on (`finish`).
pub async fn answer(
    pool: &SqlitePool,
    user_id: &str,
    id: &str,
    body: &ShortageAnswer,
    now: i64,
) -> Result<Order> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let owner: Option<String> = sqlx::query_scalar("SELECT user_id FROM orders WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if owner.as_deref() != Some(user_id) {
        return Err(ApiError::not_found("找不到这个订单").into());
    }
    let order = load_on(&mut tx, id).await?;
    if order.status != OrderStatus::AwaitingShopper {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("订单{}，不在等你确认缺货", order.status.label()),
        )
        .into());
    }
    let line = order
        .short
        .iter()
        .find(|l| l.sku == body.for_sku)
        .ok_or_else(|| ApiError::bad_request(format!("商品 {} 没有缺货", body.for_sku)))?;
    if line.outcome.is_some() {
        return Err(ApiError::new(ErrorCode::InvalidState, "这件缺货商品已经处理过了").into());
    }
    match &body.sku {
        None => refund_short_line(&mut tx, id, &line.sku, now).await?,
        Some(sku) => {
            let offer = order
                .substitutes
                .iter()
                .find(|s| s.for_sku == line.sku && &s.sku == sku)
                .ok_or_else(|| ApiError::bad_request(format!("{sku} 不是这件商品的替代品")))?;
            let was = order
                .items
                .iter()
                .find(|l| l.sku == line.sku)
                .map(|l| l.price_fen)
                .unwrap_or(offer.price_fen);
            let super::placement::Reserved {
                price_fen, name, ..
            } = super::placement::reserve(
                &crate::sql::lock(&mut tx).await?,
                &order.store_id,
                sku,
                line.missing,
            )?;
            if price_fen > was {
                return Err(ApiError::new(
                    ErrorCode::InvalidState,
                    format!("{name} 刚刚涨价了，请选其他替代品或退款"),
                )
                .into());
            }
            sqlx::query(
                "INSERT INTO order_items (order_id, sku, name, price_fen, quantity, substitute_for)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(sku)
            .bind(&name)
            .bind(price_fen)
            .bind(line.missing)
            .bind(&line.sku)
            .execute(&mut *tx)
            .await?;
            let difference = (was - price_fen) * i64::from(line.missing);
            refund(
                &mut tx,
                id,
                Some(&line.sku),
                difference,
                RefundReason::Substituted,
                now,
            )
            .await?;
            set_outcome(&mut tx, id, &line.sku, sku).await?;
        }
    }
    sqlx::query("DELETE FROM order_substitutes WHERE order_id = ? AND for_sku = ?")
        .bind(id)
        .bind(&line.sku)
        .execute(&mut *tx)
        .await?;
    let waiting = order
        .short
        .iter()
        .any(|l| l.sku != line.sku && l.outcome.is_none());
    if waiting {
        record(&mut tx, &order, OrderStatus::AwaitingShopper, now).await?;
    } else {
        finish(&mut tx, &order, now).await?;
    }
    tx.commit().await?;
    load(pool, user_id, id).await
}

/// Every short line answered: on to `ready`, or, with nothing left to deliver, the delivery fee
/// refunded and the order ended `refunded`.
async fn finish(conn: &mut SqliteConnection, order: &Order, now: i64) -> Result<()> {
    let left: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(quantity - short), 0) FROM order_items WHERE order_id = ?",
    )
    .bind(&order.id)
    .fetch_one(&mut *conn)
    .await?;
    if left == 0 {
        refund(
            conn,
            &order.id,
            None,
            order.delivery_fee_fen,
            RefundReason::DeliveryFee,
            now,
        )
        .await?;
        release(conn, &order.id, OrderStatus::Refunded, now).await?;
        return Ok(());
    }
    sqlx::query(
        "UPDATE orders SET status = 'ready', answer_before = NULL, updated_at = ? WHERE id = ?",
    )
    .bind(now)
    .bind(&order.id)
    .execute(&mut *conn)
    .await?;
    record(conn, order, OrderStatus::Ready, now).await
}

/// The order's event for `status`, carrying its lines and money as they now are.
async fn record(
    conn: &mut SqliteConnection,
    order: &Order,
    status: OrderStatus,
    now: i64,
) -> Result<()> {
    let change = load_on(conn, &order.id).await?.change();
    let eta = eta_at(i64::from(order.eta_min), status, 0);
    dispatch::record_change(conn, &order.id, status, eta, None, Some(change), now).await
}

/// Refunds a short line's missing units at the price paid for them.
async fn refund_short_line(
    conn: &mut SqliteConnection,
    id: &str,
    sku: &str,
    now: i64,
) -> Result<()> {
    let row =
        sqlx::query("SELECT price_fen, short FROM order_items WHERE order_id = ? AND sku = ?")
            .bind(id)
            .bind(sku)
            .fetch_one(&mut *conn)
            .await?;
    let (price, missing): (i64, i64) = (row.try_get("price_fen")?, row.try_get("short")?);
    refund(
        conn,
        id,
        Some(sku),
        price * missing,
        RefundReason::Short,
        now,
    )
    .await?;
    set_outcome(conn, id, sku, REFUNDED).await
}

async fn set_outcome(
    conn: &mut SqliteConnection,
    id: &str,
    sku: &str,
    outcome: &str,
) -> Result<()> {
    sqlx::query("UPDATE order_items SET short_outcome = ? WHERE order_id = ? AND sku = ?")
        .bind(outcome)
        .bind(id)
        .bind(sku)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Up to `MAX_SUBSTITUTES` products for a short line: same store, same aisle, enough in stock, at
/// the line's price or lower, not already in the order; the closest in price first.
async fn offer_substitutes(
    conn: &mut SqliteConnection,
    order: &Order,
    sku: &str,
    missing: u32,
) -> Result<()> {
    let price = order
        .items
        .iter()
        .find(|l| l.sku == sku)
        .map(|l| l.price_fen)
        .unwrap_or(0);
    sqlx::query(
        "INSERT INTO order_substitutes (order_id, for_sku, sku, name, price_fen, rank)
         SELECT ?1, ?2, sku, name, price_fen, ROW_NUMBER() OVER (ORDER BY price_fen DESC, sku)
         FROM (SELECT sp.sku, p.name, sp.price_fen FROM store_products sp
               JOIN products p ON p.sku = sp.sku
               WHERE sp.store_id = ?3 AND sp.stock >= ?4 AND sp.price_fen <= ?5
                 AND p.aisle = (SELECT aisle FROM products WHERE sku = ?2)
                 AND sp.sku NOT IN (SELECT sku FROM order_items WHERE order_id = ?1)
               ORDER BY sp.price_fen DESC, sp.sku LIMIT ?6)",
    )
    .bind(&order.id)
    .bind(sku)
    .bind(&order.store_id)
    .bind(missing)
    .bind(price)
    .bind(MAX_SUBSTITUTES as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_draw_is_deterministic_and_about_its_rate() {
        assert_eq!(demo_short_line("ord_x", 0, 3), None);
        assert_eq!(demo_short_line("ord_x", 1000, 0), None);
        let hit = demo_short_line("ord_x", 1000, 3).unwrap();
        assert!(hit < 3);
        assert_eq!(demo_short_line("ord_x", 1000, 3), Some(hit));
        let hits = (0..10_000)
            .filter(|i| demo_short_line(&format!("ord_{i}"), 20, 2).is_some())
            .count();
        assert!((120..=280).contains(&hits), "{hits} of 10000 at 2%");
    }
}
