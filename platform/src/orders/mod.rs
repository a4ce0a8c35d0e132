//! Orders: placed exactly once (Idempotency-Key), stock reserved with a conditional decrement in
//! one write transaction, paid in the sandbox, cancelled or expired with stock returned once.
//!
//! - `idempotency`: claiming a key, replaying its stored answer, recording the outcome;
//! - `write`: the one way any order is written: the key claimed and settled, the shopper's holds
//!   checked (the unpaid cap, scarce holds), the order's rows inserted;
//! - `placement`: validating a checkout order and reserving its stock;
//! - `lifecycle`: pay, cancel, expiry and the exactly-once stock release;
//! - `slots`: the delivery slots a store offers and the check that a chosen one is offered;
//! - `limits`: the in-memory rate limits on placing orders.
//!
//! Group-buy orders (`crate::groups`) are ordinary orders with a `group_id`: paying one and
//! releasing one also tell its group (`groups::lifecycle`), in the same transaction.
//!
//! Reading orders back (below) is shared by all of them.

pub mod after_sales;
pub(crate) mod idempotency;
mod lifecycle;
pub(crate) mod limits;
pub(crate) mod placement;
pub(crate) mod refunds;
pub mod shortage;
mod slots;
pub(crate) mod write;

use jishi_api::orders::{
    Order, OrderLine, OrderStatus, Refund, RefundReason, ShortLine, ShortOutcome, Shortage, Slot,
    Substitute,
};
use jishi_api::ApiError;
use sqlx::{Row, SqliteConnection, SqlitePool};

use crate::clock::rfc3339_utc as rfc3339;
use crate::error::{PlatformError, Result};

pub use idempotency::{place_idempotent, Reply};
pub(crate) use lifecycle::release;
pub use lifecycle::{cancel, expire_chunk, expire_unpaid, pay, EXPIRY_CHUNK};
pub use limits::{OrderLimiter, OrderLimits, RateLimit};
pub use slots::delivery_slots;

/// What `order_from_row` reads.
const ORDER_COLUMNS: &str = "id, store_id, status, address_id, slot, items_fen, delivery_fee_fen, total_fen, created_at, expires_at, eta_min, group_id, note, shortage, answer_before";

async fn load(pool: &SqlitePool, user_id: &str, id: &str) -> Result<Order> {
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = ? AND user_id = ?"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    // Another user's order is indistinguishable from a missing one.
    .ok_or_else(|| ApiError::not_found("找不到这个订单"))?;
    order_from_row(pool, &row).await
}

/// The status of the user's order, inside the caller's transaction; another user's order is
/// indistinguishable from a missing one.
pub(crate) async fn owned_status(
    conn: &mut SqliteConnection,
    user_id: &str,
    id: &str,
) -> Result<OrderStatus> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM orders WHERE id = ? AND user_id = ?")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    status
        .as_deref()
        .and_then(OrderStatus::parse)
        .ok_or_else(|| ApiError::not_found("找不到这个订单").into())
}

/// The order as it now is, on the caller's connection (inside its transaction): what an event
/// that changed its lines or money carries.
pub(crate) async fn load_on(conn: &mut SqliteConnection, id: &str) -> Result<Order> {
    let row = sqlx::query(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let lines = sqlx::query(ORDER_LINES_SQL)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    let mut order = order_from(&row, &lines)?;
    add_refunds_and_offers(conn, &mut order).await?;
    Ok(order)
}

/// An order's lines; one plain `?` (the order id), so it can follow other statements in one query.
/// A substitute line comes right after the short line it replaces.
const ORDER_LINES_SQL: &str =
    "SELECT oi.sku, oi.name, oi.price_fen, oi.quantity, oi.short, oi.short_outcome,
            oi.substitute_for, p.picture
     FROM order_items oi LEFT JOIN products p ON p.sku = oi.sku
     WHERE oi.order_id = ?
     ORDER BY COALESCE(oi.substitute_for, oi.sku), oi.substitute_for IS NOT NULL, oi.sku";

async fn order_from_row(pool: &SqlitePool, row: &sqlx::sqlite::SqliteRow) -> Result<Order> {
    let id: String = row.try_get("id")?;
    let mut conn = pool.acquire().await?;
    let lines = sqlx::query(ORDER_LINES_SQL)
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
    let mut order = order_from(row, &lines)?;
    add_refunds_and_offers(&mut conn, &mut order).await?;
    Ok(order)
}

/// The order's refunds and, while it waits for the shopper, the substitutes on offer.
async fn add_refunds_and_offers(conn: &mut SqliteConnection, order: &mut Order) -> Result<()> {
    let refunds = sqlx::query(
        "SELECT id, sku, fen, reason, created_at FROM refunds WHERE order_id = ?
         ORDER BY created_at, rowid",
    )
    .bind(&order.id)
    .fetch_all(&mut *conn)
    .await?;
    for r in &refunds {
        let reason: String = r.try_get("reason")?;
        let reason = RefundReason::parse(&reason).ok_or_else(|| PlatformError::CorruptRow {
            what: format!("refund of order {}", order.id),
            detail: format!("reason {reason}"),
        })?;
        order.refunds.push(Refund {
            id: r.try_get("id")?,
            fen: r.try_get("fen")?,
            reason,
            sku: r.try_get("sku")?,
            at: rfc3339(r.try_get("created_at")?),
        });
    }
    order.refunded_fen = order.refunds.iter().map(|r| r.fen).sum();
    if order.status == OrderStatus::Delivered {
        order.after_sales = after_sales::of_order(conn, &order.id).await?;
    }
    if order.status == OrderStatus::AwaitingShopper {
        let offers = sqlx::query(
            "SELECT for_sku, sku, name, price_fen FROM order_substitutes WHERE order_id = ?
             ORDER BY for_sku, rank",
        )
        .bind(&order.id)
        .fetch_all(&mut *conn)
        .await?;
        for o in &offers {
            order.substitutes.push(Substitute {
                for_sku: o.try_get("for_sku")?,
                sku: o.try_get("sku")?,
                name: o.try_get("name")?,
                price_fen: o.try_get("price_fen")?,
            });
        }
    }
    Ok(())
}

fn order_from(row: &sqlx::sqlite::SqliteRow, lines: &[sqlx::sqlite::SqliteRow]) -> Result<Order> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let status = OrderStatus::parse(&status).ok_or_else(|| PlatformError::CorruptRow {
        what: format!("order {id}"),
        detail: format!("status {status}"),
    })?;
    let slot: String = row.try_get("slot")?;
    let slot = Slot::parse(&slot).map_err(|_| PlatformError::CorruptRow {
        what: format!("order {id}"),
        detail: format!("slot {slot}"),
    })?;
    let mut short = Vec::new();
    let mut items = Vec::with_capacity(lines.len());
    for r in lines {
        let line = OrderLine {
            sku: r.try_get("sku")?,
            name: r.try_get("name")?,
            price_fen: r.try_get("price_fen")?,
            quantity: r.try_get("quantity")?,
            short: r.try_get("short")?,
            substitute_for: r.try_get("substitute_for")?,
            image: crate::pictures::image(r.try_get::<Option<&str>, _>("picture")?),
        };
        if line.short > 0 {
            let outcome: Option<String> = r.try_get("short_outcome")?;
            short.push(ShortLine {
                sku: line.sku.clone(),
                name: line.name.clone(),
                missing: line.short,
                outcome: outcome.map(|o| match o.as_str() {
                    shortage::REFUNDED => ShortOutcome::Refunded,
                    _ => ShortOutcome::Substituted { sku: o },
                }),
            });
        }
        items.push(line);
    }
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    let policy: String = row.try_get("shortage")?;
    let answer_before: Option<i64> = row.try_get("answer_before")?;
    Ok(Order {
        store_id: row.try_get("store_id")?,
        status,
        items,
        items_fen: row.try_get("items_fen")?,
        delivery_fee_fen: row.try_get("delivery_fee_fen")?,
        total_fen: row.try_get("total_fen")?,
        address_id: row.try_get("address_id")?,
        slot,
        created_at: rfc3339(row.try_get("created_at")?),
        pay_before: expires_at
            .filter(|_| status == OrderStatus::PendingPayment)
            .map(rfc3339),
        eta_min: row.try_get("eta_min")?,
        // The platform's handlers name the store from the index; rows keep only its id.
        store_name: String::new(),
        group_id: row.try_get("group_id")?,
        note: row.try_get("note")?,
        shortage: Shortage::parse(&policy).ok_or_else(|| PlatformError::CorruptRow {
            what: format!("order {id}"),
            detail: format!("shortage {policy}"),
        })?,
        short,
        substitutes: Vec::new(),
        answer_before: answer_before
            .filter(|_| status == OrderStatus::AwaitingShopper)
            .map(rfc3339),
        refunds: Vec::new(),
        refunded_fen: 0,
        after_sales: Vec::new(),
        now: None,
        id,
    })
}

pub async fn get(pool: &SqlitePool, user_id: &str, id: &str) -> Result<Order> {
    load(pool, user_id, id).await
}

pub async fn list(pool: &SqlitePool, user_id: &str) -> Result<Vec<Order>> {
    let rows = sqlx::query(
        &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT 100"),
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(order_from_row(pool, row).await?);
    }
    Ok(out)
}
