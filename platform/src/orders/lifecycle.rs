//! After placing: sandbox payment, the shopper's cancel, the expiry of unpaid orders, and the
//! exactly-once return of reserved stock behind the last two. A group-buy order also tells its
//! group when it is paid or released (`groups::lifecycle`), in the same transaction.

use jishi_api::live::LiveEvent;
use jishi_api::orders::{Order, OrderStatus, PayMethod, RefundReason};
use jishi_api::{ApiError, ErrorCode};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{load, order_from, refunds, ORDER_COLUMNS, ORDER_LINES_SQL};
use crate::dispatch;
use crate::error::Result;
use crate::event_log::{self, Log, APPEND_SQL};
use crate::groups;
use crate::stores::StoreIndex;
use crate::writer::Writer;
use std::sync::Arc;

/// Sandbox payment: succeeds for any unpaid, unexpired order; paying twice is harmless. The status
/// change runs on the checkout writer.
pub async fn pay(
    pool: &SqlitePool,
    writer: &Writer,
    index: &Arc<StoreIndex>,
    user_id: &str,
    id: &str,
    method: PayMethod,
    now: i64,
) -> Result<Order> {
    // The sandbox is the only method (it always succeeds): a new method must be handled here.
    let PayMethod::Sandbox = method;
    let (user, order_id, index) = (user_id.to_owned(), id.to_owned(), index.clone());
    let paid = writer
        .run(move |conn| {
            Box::pin(async move { mark_paid(conn, &index, &user, &order_id, now).await })
        })
        .await?;
    if let Some(order) = paid {
        return Ok(order);
    }
    // Not paid now: already paid (paying twice is harmless), lapsed, cancelled, or its group is over.
    let order = load(pool, user_id, id).await?;
    if order.status == OrderStatus::PendingPayment {
        if let Some(group_id) = &order.group_id {
            if let Some(closed) = groups::lifecycle::closed_for_payment(pool, group_id, now).await?
            {
                return Err(closed.into());
            }
        }
        return Err(
            ApiError::new(ErrorCode::InvalidState, "订单已超过支付时间，请重新下单").into(),
        );
    }
    if !order.status.is_paid() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("订单{}，不能支付", order.status.label()),
        )
        .into());
    }
    Ok(order)
}

/// Marks the order paid if it is unpaid and unexpired (and, for a group order, its group still
/// forming before its deadline), recording the "paid" event; `None` otherwise. A group order's
/// payment is recorded in its group too, which forms with its last seat: all in this job.
async fn mark_paid(
    conn: &mut SqliteConnection,
    index: &StoreIndex,
    user_id: &str,
    id: &str,
    now: i64,
) -> Result<Option<Order>> {
    let paid = sqlx::query(&format!(
        "UPDATE orders SET status = 'paid', expires_at = NULL, updated_at = ?1
         WHERE id = ?2 AND user_id = ?3 AND status = 'pending_payment' AND expires_at > ?1
           AND (group_id IS NULL OR EXISTS (SELECT 1 FROM buy_groups g
                WHERE g.id = orders.group_id AND g.status = 'forming' AND g.deadline > ?1))
         RETURNING {ORDER_COLUMNS}"
    ))
    .bind(now)
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = paid else {
        return Ok(None);
    };
    let eta: u32 = row.try_get("eta_min")?;
    // The "paid" event and the order's lines in one round trip.
    let json = dispatch::event_json(id, OrderStatus::Paid, eta, None, now)?;
    let sql = format!("{APPEND_SQL}; {ORDER_LINES_SQL}");
    let lines = event_log::bind_append(sqlx::query(&sql), Log::Order, id, &json, now)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    let group_id: Option<String> = row.try_get("group_id")?;
    if let Some(group_id) = group_id {
        groups::lifecycle::member_paid(conn, index, &group_id, id, now).await?;
    }
    order_from(&row, &lines).map(Some)
}

/// Moves an order off the delivery path and returns its stock (and a live order's room cap),
/// exactly once: the status change and the returns are guarded by `stock_returned = 0` in the
/// same transaction (the caller's, on `conn`). A group order's seat is released with it.
pub(crate) async fn release(
    conn: &mut SqliteConnection,
    id: &str,
    to: OrderStatus,
    now: i64,
) -> Result<bool> {
    let changed: Option<Option<String>> = sqlx::query_scalar(
        "UPDATE orders SET status = ?1, stock_returned = 1, expires_at = NULL, updated_at = ?2
         WHERE id = ?3 AND stock_returned = 0 RETURNING group_id",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(group_id) = changed else {
        return Ok(false);
    };
    if to == OrderStatus::Refunded {
        // A paid order: whatever was not paid back yet goes back now, and the event says so.
        refunds::refund_rest(conn, id, RefundReason::Cancelled, now).await?;
        let change = super::load_on(conn, id).await?.change();
        dispatch::record_change(conn, id, to, 0, None, Some(change), now).await?;
    } else {
        dispatch::record(conn, id, to, 0, None, now).await?;
    }
    // Units the shelf was short of never left it: they do not go back.
    sqlx::query(
        "UPDATE store_products SET stock = stock + (
             SELECT oi.quantity - oi.short FROM order_items oi WHERE oi.order_id = ?1 AND oi.sku = store_products.sku)
         WHERE store_id = (SELECT store_id FROM orders WHERE id = ?1)
           AND sku IN (SELECT sku FROM order_items WHERE order_id = ?1)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    // A live order also gives its quantity back to the room's cap, under the same guard; a flash
    // order to the flash sale's cap and to the shopper's share of its limit. A replay's took
    // nothing from either.
    sqlx::query(
        "UPDATE live_pins SET sold = sold - (SELECT quantity FROM live_sales WHERE order_id = ?1)
         WHERE (room_id, sku) = (SELECT room_id, sku FROM live_sales
                                 WHERE order_id = ?1 AND flash_id IS NULL AND replay = 0);
         UPDATE live_flash SET sold = sold - (SELECT quantity FROM live_sales WHERE order_id = ?1)
         WHERE id = (SELECT flash_id FROM live_sales WHERE order_id = ?1);
         UPDATE live_flash_buyers SET bought = bought - (SELECT quantity FROM live_sales WHERE order_id = ?1)
         WHERE flash_id = (SELECT flash_id FROM live_sales WHERE order_id = ?1)
           AND user_id = (SELECT user_id FROM orders WHERE id = ?1)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let flash: Option<(String, String)> = sqlx::query_as(
        "SELECT room_id, flash_id FROM live_sales WHERE order_id = ? AND flash_id IS NOT NULL",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((room_id, flash_id)) = flash {
        if let Some(flash) = crate::live::flash::by_id(conn, &flash_id).await? {
            crate::live::record(conn, &room_id, &LiveEvent::Flash { flash }, now).await?;
        }
    }
    // Viewers see the pin's new counts: a `pinned` event with it, when it is still the room's
    // current pin (the streams' poll picks it up; this path has no wake-up).
    let live: Option<(String, String)> = sqlx::query_as(
        "SELECT ls.room_id, ls.sku FROM live_sales ls
         JOIN live_pins lp ON lp.room_id = ls.room_id AND lp.sku = ls.sku AND lp.current = 1
         WHERE ls.order_id = ? AND ls.flash_id IS NULL AND ls.replay = 0",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((room_id, sku)) = live {
        if let Some(pin) = crate::live::pin_of(conn, &room_id, &sku).await? {
            crate::live::record(conn, &room_id, &LiveEvent::Pinned { pin }, now).await?;
        }
    }
    if let Some(group_id) = group_id {
        groups::lifecycle::order_released(conn, &group_id, id, now).await?;
    }
    Ok(true)
}

/// The shopper cancels before the rider has the goods; a paid order is refunded.
pub async fn cancel(pool: &SqlitePool, user_id: &str, id: &str, now: i64) -> Result<Order> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let status = super::owned_status(&mut tx, user_id, id).await?;
    if !status.cancellable() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("订单{}，已不能取消", status.label()),
        )
        .into());
    }
    let to = if status.is_paid() {
        OrderStatus::Refunded
    } else {
        OrderStatus::Cancelled
    };
    release(&mut tx, id, to, now).await?;
    tx.commit().await?;
    load(pool, user_id, id).await
}

/// Unpaid orders expired per write transaction: a mass expiry holds the write lock only briefly
/// at a time, and checkouts get in between chunks (as dispatch ticks do).
pub const EXPIRY_CHUNK: i64 = 200;

/// Cancels unpaid orders whose payment window has passed and returns their stock, one chunk of at
/// most `EXPIRY_CHUNK` orders per write transaction. Safe to run from several tasks or processes
/// at once, and again after a restart: each order's stock goes back exactly once. Returns how many
/// orders this call expired.
pub async fn expire_unpaid(pool: &SqlitePool, now: i64) -> Result<Vec<String>> {
    let mut expired = Vec::new();
    loop {
        let (released, more) = expire_some(pool, now).await?;
        expired.extend(released);
        if !more {
            break;
        }
    }
    if !expired.is_empty() {
        tracing::info!(
            expired = expired.len(),
            "unpaid orders expired, stock returned"
        );
    }
    Ok(expired)
}

/// One write transaction of `expire_unpaid`: expires at most `EXPIRY_CHUNK` due orders and
/// returns the ids it expired.
pub async fn expire_chunk(pool: &SqlitePool, now: i64) -> Result<Vec<String>> {
    Ok(expire_some(pool, now).await?.0)
}

/// Expires up to a chunk of due orders in one transaction; says whether the chunk was full (more
/// may be due).
async fn expire_some(pool: &SqlitePool, now: i64) -> Result<(Vec<String>, bool)> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'pending_payment' AND expires_at <= ? AND stock_returned = 0
         ORDER BY expires_at, id LIMIT ?",
    )
    .bind(now)
    .bind(EXPIRY_CHUNK)
    .fetch_all(&mut *tx)
    .await?;
    let full = due.len() as i64 == EXPIRY_CHUNK;
    let mut expired = Vec::new();
    for id in due {
        if release(&mut tx, &id, OrderStatus::Cancelled, now).await? {
            expired.push(id);
        }
    }
    tx.commit().await?;
    Ok((expired, full))
}
