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

pub(crate) mod idempotency;
mod lifecycle;
pub(crate) mod limits;
pub(crate) mod placement;
mod slots;
pub(crate) mod write;

use jishi_api::orders::{Order, OrderLine, OrderStatus, Slot};
use jishi_api::ApiError;
use sqlx::{Row, SqlitePool};

use crate::clock::rfc3339_utc as rfc3339;
use crate::error::{PlatformError, Result};

pub use idempotency::{place_idempotent, Reply};
pub(crate) use lifecycle::release;
pub use lifecycle::{cancel, expire_chunk, expire_unpaid, pay, EXPIRY_CHUNK};
pub use limits::{OrderLimiter, OrderLimits, RateLimit};
pub use slots::delivery_slots;

/// What `order_from_row` reads.
const ORDER_COLUMNS: &str = "id, store_id, status, address_id, slot, items_fen, delivery_fee_fen, total_fen, created_at, expires_at, eta_min, group_id, note";

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

/// An order's lines; one plain `?` (the order id), so it can follow other statements in one query.
const ORDER_LINES_SQL: &str =
    "SELECT sku, name, price_fen, quantity FROM order_items WHERE order_id = ? ORDER BY sku";

async fn order_from_row(pool: &SqlitePool, row: &sqlx::sqlite::SqliteRow) -> Result<Order> {
    let id: String = row.try_get("id")?;
    let lines = sqlx::query(ORDER_LINES_SQL)
        .bind(&id)
        .fetch_all(pool)
        .await?;
    order_from(row, &lines)
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
    let items = lines
        .iter()
        .map(|r| {
            Ok(OrderLine {
                sku: r.try_get("sku")?,
                name: r.try_get("name")?,
                price_fen: r.try_get("price_fen")?,
                quantity: r.try_get("quantity")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let expires_at: Option<i64> = row.try_get("expires_at")?;
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
