//! The one way money goes back: a refund is its own record (`refunds`), in fen, with a reason.
//!
//! A refund never passes what was paid: for a line, its price × quantity less that line's earlier
//! refunds; for the order, its total less every earlier refund. The cap is computed in the same
//! `INSERT` that writes the refund, inside the caller's write transaction, so concurrent requests
//! (which SQLite runs one writer at a time) can never refund a line twice.

use jishi_api::orders::RefundReason;
use sqlx::SqliteConnection;

use crate::accounts::new_id;
use crate::error::Result;

/// Pays back up to `fen` on `order_id`, for the line `sku` (or, with `None`, for the order as a
/// whole: the delivery fee or everything not yet refunded), capped as above. Returns the fen
/// actually refunded: 0 when nothing is left to pay back (no record is written then).
pub(crate) async fn refund(
    conn: &mut SqliteConnection,
    order_id: &str,
    sku: Option<&str>,
    fen: i64,
    reason: RefundReason,
    now: i64,
) -> Result<i64> {
    if fen <= 0 {
        return Ok(0);
    }
    let refunded: Option<i64> = sqlx::query_scalar(
        "INSERT INTO refunds (id, order_id, sku, fen, reason, created_at)
         SELECT ?1, ?2, ?3, f, ?5, ?6 FROM (SELECT MIN(?4,
             (SELECT o.total_fen - COALESCE((SELECT SUM(r.fen) FROM refunds r WHERE r.order_id = o.id), 0)
              FROM orders o WHERE o.id = ?2),
             CASE WHEN ?3 IS NULL THEN ?4 ELSE
               (SELECT oi.price_fen * oi.quantity - COALESCE((SELECT SUM(r.fen) FROM refunds r
                        WHERE r.order_id = ?2 AND r.sku = ?3), 0)
                FROM order_items oi WHERE oi.order_id = ?2 AND oi.sku = ?3) END) AS f)
         WHERE f > 0
         RETURNING fen",
    )
    .bind(new_id("rfd_"))
    .bind(order_id)
    .bind(sku)
    .bind(fen)
    .bind(reason.as_str())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(refunded.unwrap_or(0))
}

/// Pays back everything on the order not yet refunded (a paid order cancelled).
pub(crate) async fn refund_rest(
    conn: &mut SqliteConnection,
    order_id: &str,
    reason: RefundReason,
    now: i64,
) -> Result<i64> {
    refund(conn, order_id, None, i64::MAX, reason, now).await
}
