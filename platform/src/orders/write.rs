//! The one way an order is written, whatever places it (checkout, a live buy, a group seat):
//!
//! - `once`: the Idempotency-Key claimed, the order placed, the outcome stored, in one job on the
//!   checkout writer (`idempotency`), run straight on the connection's handle (`crate::sql`);
//! - `Holds::check`: the one check of what a shopper may hold unpaid (read with the key's claim):
//!   `MAX_UNPAID_ORDERS` orders in all, and on scarce things (a live pin's cap, a group's seat) one
//!   hold each, which lasts `SCARCE_HOLD_S` and, once let go unpaid, cannot be taken again for
//!   `HOLD_COOLDOWN_S`;
//! - `ORDER_SQL` / `bind_order`: the one `INSERT` of an order, its lines and the key's stored
//!   answer, to which each caller appends its own statements in the same query.
//!
//! A rule changed here holds for every kind of order.

use jishi_api::orders::{Order, HOLD_COOLDOWN_S, MAX_UNPAID_ORDERS};
use jishi_api::{ApiError, ErrorCode};

use super::idempotency::{claim, settle, Claim, Reply};
use crate::accounts::Address;
use crate::error::{PlatformError, Result};
use crate::sql::{Db, Query, Row};

/// What writes one kind of order once its key is claimed: checkout, a live buy, a group seat.
pub(crate) trait Placement {
    /// The scarce thing the order would hold unpaid (read with the claim, checked by `place`).
    fn holds(&self) -> Scarce<'_>;

    /// Validates and writes the order on `db` (with `bind_order`), inside the job's savepoint,
    /// for the shopper's `address`, checking `holds` (`Holds::check`) where its rules say; returns
    /// the key's stored answer. An `ApiError` is a refusal (its writes are rolled back and it
    /// becomes the key's answer).
    fn place(&self, db: &Db, address: Address, holds: Holds) -> Result<String>;
}

/// Places an order exactly once per (user, key): claims the key for `request`, reads the address
/// and the shopper's holds, has `placement` write the order, and settles the outcome. A replay, a
/// different request under the key or one still in flight is answered from the key's record
/// without placing anything.
pub(crate) fn once(
    db: &Db,
    user_id: &str,
    key: &str,
    request: &str,
    address_id: &str,
    now: i64,
    placement: &impl Placement,
) -> Result<Reply> {
    let scarce = placement.holds();
    let (address, holds) = match claim(db, user_id, key, request, address_id, now, scarce)? {
        Claim::Replay(reply) => return Ok(reply),
        Claim::Proceed(address, holds) => (address, holds),
    };
    let placed = match address {
        Ok(address) => placement.place(db, address, holds),
        Err(e) => Err(e.into()),
    };
    settle(db, user_id, key, placed)
}

/// A scarce thing an order would hold while unpaid.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scarce<'a> {
    /// Nothing beyond stock (checkout): the unpaid cap only.
    None,
    /// A share of a live room's pin (its cap).
    Pin { room_id: &'a str, sku: &'a str },
    /// A seat in a group.
    Seat { group_id: &'a str },
}

/// What a shopper holds unpaid, read with the key's claim (`holds_sql`) inside the writer's
/// transaction, which runs one job at a time, so concurrent requests of one shopper cannot pass
/// `check` together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holds {
    /// Unpaid orders, of any kind.
    pub unpaid: i64,
    /// Unpaid orders on this pin.
    pub held: i64,
    /// When the shopper last let a hold on this pin or seat go unpaid.
    pub lapsed_at: Option<i64>,
    /// A seat rather than a pin (for the message).
    pub seat: bool,
    pub now: i64,
}

impl Holds {
    /// The one check of what a shopper may hold unpaid: refused with `too_many_unpaid` at
    /// `MAX_UNPAID_ORDERS` unpaid orders or with one already on this pin, and with
    /// `too_many_requests` within `HOLD_COOLDOWN_S` of letting a hold on it go unpaid.
    pub(crate) fn check(&self) -> Result<()> {
        if self.held > 0 {
            return Err(ApiError::new(
                ErrorCode::TooManyUnpaid,
                "你已抢到这件商品，还没付款：请先支付那一笔",
            )
            .into());
        }
        if self.unpaid >= MAX_UNPAID_ORDERS {
            return Err(ApiError::new(
                ErrorCode::TooManyUnpaid,
                format!(
                    "你已有 {} 笔待支付的订单，请先支付或取消其中一笔再下单",
                    self.unpaid
                ),
            )
            .into());
        }
        if let Some(wait) = self
            .lapsed_at
            .map(|at| at + HOLD_COOLDOWN_S - self.now)
            .filter(|w| *w > 0)
        {
            let what = if self.seat {
                "这个拼团的名额"
            } else {
                "这件直播商品"
            };
            return Err(ApiError::new(
                ErrorCode::TooManyRequests,
                format!("你刚放弃了{what}，{} 分钟后才能再抢", (wait + 59) / 60),
            )
            .into());
        }
        Ok(())
    }
}

/// The columns `unpaid`, `held` and `lapsed_at` of what the shopper holds, as a select list with
/// plain `?` placeholders (it rides in the claim's query), bound by `bind_holds`.
pub(crate) fn holds_sql(scarce: Scarce<'_>) -> String {
    const UNPAID: &str = "(SELECT COUNT(*) FROM orders
        WHERE user_id = ? AND status = 'pending_payment' AND expires_at > ?) AS unpaid";
    match scarce {
        Scarce::None => format!("{UNPAID}, 0 AS held, NULL AS lapsed_at"),
        // From the shopper's orders to their sales (`CROSS JOIN` keeps that order): from the
        // room's sales instead, each check read every sale of the pin so far, and a flash crowd's
        // 500th buy waited on 499 lookups.
        Scarce::Pin { .. } => format!(
            "{UNPAID},
               (SELECT COUNT(*) FROM orders o CROSS JOIN live_sales ls ON ls.order_id = o.id
                WHERE o.user_id = ? AND o.status = 'pending_payment' AND o.expires_at > ?
                  AND ls.room_id = ? AND ls.sku = ?) AS held,
               (SELECT MAX(o.updated_at) FROM orders o CROSS JOIN live_sales ls
                  ON ls.order_id = o.id
                WHERE o.user_id = ? AND o.status = 'cancelled'
                  AND ls.room_id = ? AND ls.sku = ?) AS lapsed_at"
        ),
        // A seat still held is `already_member`, which the join checks first.
        Scarce::Seat { .. } => format!(
            "{UNPAID}, 0 AS held,
               (SELECT MAX(o.updated_at) FROM group_members m JOIN orders o ON o.id = m.order_id
                WHERE m.group_id = ? AND m.user_id = ? AND o.status = 'cancelled') AS lapsed_at"
        ),
    }
}

/// Binds `holds_sql`'s parameters.
pub(crate) fn bind_holds(query: Query, user_id: &str, now: i64, scarce: Scarce<'_>) -> Query {
    let query = query.bind(user_id).bind(now);
    match scarce {
        Scarce::None => query,
        Scarce::Pin { room_id, sku } => query
            .bind(user_id)
            .bind(now)
            .bind(room_id)
            .bind(sku)
            .bind(user_id)
            .bind(room_id)
            .bind(sku),
        Scarce::Seat { group_id } => query.bind(group_id).bind(user_id),
    }
}

/// `holds_sql`'s columns in `row`.
pub(crate) fn holds_from(row: &Row, scarce: Scarce<'_>, now: i64) -> Result<Holds> {
    Ok(Holds {
        unpaid: row.try_get("unpaid")?,
        held: row.try_get("held")?,
        lapsed_at: row.try_get("lapsed_at")?,
        seat: matches!(scarce, Scarce::Seat { .. }),
        now,
    })
}

/// An order about to be written, with the answer its Idempotency-Key replays.
pub(crate) struct NewOrder<'a> {
    pub user_id: &'a str,
    pub key: &'a str,
    pub order: &'a Order,
    pub now: i64,
    /// When its payment window ends: unpaid then, it is released (stock, cap or seat returned).
    pub expires_at: i64,
    /// When the dispatch simulator may start on it once paid; `None`: at once.
    pub dispatch_at: Option<i64>,
    /// The stored answer (the order, or the group with the member's order).
    pub reply: &'a str,
}

/// The order's row, its lines and the key's stored answer, for `lines` lines: plain `?`
/// placeholders bound by `bind_order`, so each caller appends its own statements (its link to a
/// room or a seat, its events) and runs all of it as one query.
pub(crate) fn order_sql(lines: usize) -> String {
    format!(
        "INSERT INTO orders (id, user_id, store_id, status, address_id, slot, items_fen,
             delivery_fee_fen, total_fen, created_at, expires_at, updated_at, eta_min, dispatch_at,
             group_id, note, shortage)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
         INSERT INTO order_items (order_id, sku, name, price_fen, quantity) VALUES {};
         UPDATE idempotency_keys SET status = 201, response = ? WHERE user_id = ? AND key = ?",
        vec!["(?, ?, ?, ?, ?)"; lines].join(", ")
    )
}

/// Rows `order_sql` writes: the order, each line, the stored answer.
pub(crate) fn order_rows(order: &Order) -> u64 {
    1 + order.items.len() as u64 + 1
}

/// Binds `order_sql`'s parameters.
pub(crate) fn bind_order(query: Query, o: &NewOrder<'_>) -> Query {
    let order = o.order;
    let mut query = query
        .bind(&order.id)
        .bind(o.user_id)
        .bind(&order.store_id)
        .bind(order.status.as_str())
        .bind(&order.address_id)
        .bind(order.slot.to_string())
        .bind(order.items_fen)
        .bind(order.delivery_fee_fen)
        .bind(order.total_fen)
        .bind(o.now)
        .bind(o.expires_at)
        .bind(o.now)
        .bind(order.eta_min)
        .bind(o.dispatch_at)
        .bind(order.group_id.as_deref())
        .bind(order.note.as_deref())
        .bind(order.shortage.as_str());
    for line in &order.items {
        query = query
            .bind(&order.id)
            .bind(&line.sku)
            .bind(&line.name)
            .bind(line.price_fen)
            .bind(line.quantity);
    }
    query.bind(o.reply).bind(o.user_id).bind(o.key)
}

/// Fails the job when a write that must have taken did not (a bug, never a shopper's mistake).
pub(crate) fn expect_rows(written: u64, expected: u64, what: impl Into<String>) -> Result<()> {
    if written < expected {
        return Err(PlatformError::CorruptRow {
            what: what.into(),
            detail: format!("wrote {written} rows, expected at least {expected}"),
        });
    }
    Ok(())
}

/// The order as its key's stored answer.
pub(crate) fn to_reply(what: &str, value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| PlatformError::CorruptRow {
        what: what.to_owned(),
        detail: e.to_string(),
    })
}
