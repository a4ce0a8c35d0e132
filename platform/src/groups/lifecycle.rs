//! What happens to a group after it starts. Each change runs inside the transaction of what causes
//! it, so a group never half-forms or half-expires:
//!
//! - a member pays (in the pay job on the checkout writer): the starter's payment opens the group
//!   to others; the payment that makes every seat paid forms it and releases all its orders to
//!   the dispatch simulator at once;
//! - a member's order is released (cancelled, or expired unpaid): while forming, its seat frees;
//!   a group left with nobody expires (a starter who never paid);
//! - the deadline passes unfilled (the janitor, `expire_due`): the group expires and every
//!   member's order is refunded or cancelled, its stock returned once (`orders::release`);
//! - the dispatch simulator delivers the last order of a formed group: it is fulfilled.

use jishi_api::groups::{group_closed, seats_left, GroupEvent, GroupMember, GroupStatus};
use jishi_api::orders::OrderStatus;
use jishi_api::ApiError;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::record;
use crate::clock::{next_opening_at, rfc3339_utc as rfc3339};
use crate::error::Result;
use crate::event_log::{self, bind_append, Log, APPEND_SQL};
use crate::orders::release;
use crate::stores::StoreIndex;

/// Groups expired per look: each expires in its own short transaction.
pub const EXPIRY_CHUNK: i64 = 100;

/// Records that the member holding `order_id` paid (their order was just marked paid on `conn`).
/// Opens the group when it is the starter; forms it when every seat is taken and paid. Says
/// whether the group formed.
pub(crate) async fn member_paid(
    conn: &mut SqliteConnection,
    index: &StoreIndex,
    group_id: &str,
    order_id: &str,
    now: i64,
) -> Result<bool> {
    // The seat, the opening and the counts in one round trip (every statement reads ?1..?3).
    let rows = sqlx::query(
        "UPDATE group_members SET paid_at = ?1
             WHERE order_id = ?2 AND released = 0 AND paid_at IS NULL;
         UPDATE buy_groups SET opened_at = ?1, updated_at = ?1
             WHERE id = ?3 AND opened_at IS NULL
               AND (SELECT seat FROM group_members WHERE order_id = ?2) = 1;
         SELECT m.seat, m.name, g.size, g.store_id,
                (SELECT COUNT(*) FROM group_members x
                 WHERE x.group_id = g.id AND x.released = 0) AS held,
                (SELECT COUNT(*) FROM group_members x
                 WHERE x.group_id = g.id AND x.released = 0 AND x.paid_at IS NOT NULL) AS paid
         FROM group_members m JOIN buy_groups g ON g.id = m.group_id
         WHERE m.order_id = ?2 AND m.released = 0",
    )
    .bind(now)
    .bind(order_id)
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await?;
    let Some(row) = rows.first() else {
        // Not holding a seat (cannot happen for an order that was still payable): nothing to do.
        return Ok(false);
    };
    let seat: u32 = row.try_get("seat")?;
    let size: i64 = row.try_get("size")?;
    let held: i64 = row.try_get("held")?;
    let paid: i64 = row.try_get("paid")?;
    let store_id: String = row.try_get("store_id")?;
    let member = GroupMember {
        seat,
        name: crate::live::person(row.try_get("name")?)?,
        paid: true,
        initiator: seat == 1,
    };
    let formed = held == size && paid == size;
    let mut events = vec![GroupEvent::MemberPaid { member }];
    if !formed {
        record(conn, group_id, &events, now).await?;
        return Ok(false);
    }
    // Formed while the store is closed (it closed since the last member joined): the orders go
    // out at its next opening instead of at once, and the group says when.
    let ships_at = index
        .get(&store_id)
        .and_then(|store| next_opening_at(&store.hours, now));
    events.push(GroupEvent::Formed {
        at: rfc3339(now),
        ships_at: ships_at.map(rfc3339),
    });
    // The status and every member's order released to dispatch together, with the events.
    let sql = format!(
        "UPDATE buy_groups SET status = 'formed', formed_at = ?, ships_at = ?, updated_at = ?
             WHERE id = ? AND status = 'forming';
         UPDATE orders SET dispatch_at = ?, updated_at = ?
             WHERE id IN (SELECT order_id FROM group_members WHERE group_id = ? AND released = 0);
         {APPEND_SQL}; {APPEND_SQL}"
    );
    let json = events
        .iter()
        .map(|e| event_log::to_json(Log::Group, group_id, e))
        .collect::<Result<Vec<_>>>()?;
    let mut query = sqlx::query(&sql)
        .bind(now)
        .bind(ships_at)
        .bind(now)
        .bind(group_id)
        .bind(ships_at)
        .bind(now)
        .bind(group_id);
    for j in &json {
        query = bind_append(query, Log::Group, group_id, j, now);
    }
    query.execute(&mut *conn).await?;
    tracing::debug!(group = group_id, "group formed");
    Ok(true)
}

/// The member's order `order_id` was just released (cancelled, expired or refunded) on `conn`.
/// While the group forms, its seat frees, and a group left with nobody expires. Once formed, the
/// group may now be fulfilled (every other order delivered).
pub(crate) async fn order_released(
    conn: &mut SqliteConnection,
    group_id: &str,
    order_id: &str,
    now: i64,
) -> Result<()> {
    let group: Option<(String, i64)> =
        sqlx::query_as("SELECT status, size FROM buy_groups WHERE id = ?")
            .bind(group_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((status, size)) = group else {
        return Ok(());
    };
    match GroupStatus::parse(&status) {
        Some(GroupStatus::Forming) => {}
        Some(GroupStatus::Formed) => {
            fulfil_if_done(conn, &[group_id.to_owned()], now).await?;
            return Ok(());
        }
        // Over (its own expiry releases the orders): nothing changes.
        _ => return Ok(()),
    }
    // The seat freed and the seats still held, in one round trip (`changes()`: whether it was held).
    let freed = sqlx::query(
        "UPDATE group_members SET released = 1 WHERE order_id = ?1 AND released = 0;
         SELECT changes() AS freed, (SELECT seat FROM group_members WHERE order_id = ?1) AS seat,
                (SELECT COUNT(*) FROM group_members WHERE group_id = ?2 AND released = 0) AS held",
    )
    .bind(order_id)
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await?;
    let Some(freed) = freed
        .first()
        .filter(|r| r.try_get::<i64, _>("freed").ok() == Some(1))
    else {
        return Ok(());
    };
    let seat: u32 = freed.try_get("seat")?;
    let held = u32::try_from(freed.try_get::<i64, _>("held")?).unwrap_or(0);
    let mut events = vec![
        GroupEvent::MemberLeft { seat },
        GroupEvent::SeatsLeft {
            seats_left: seats_left(u32::try_from(size).unwrap_or(0), held),
        },
    ];
    if held == 0 {
        // Nobody left (the starter never paid): the group is over, nobody was charged.
        sqlx::query(
            "UPDATE buy_groups SET status = 'expired', closed_at = ?1, updated_at = ?1
             WHERE id = ?2 AND status = 'forming'",
        )
        .bind(now)
        .bind(group_id)
        .execute(&mut *conn)
        .await?;
        events.push(GroupEvent::Expired {
            at: rfc3339(now),
            refunded: 0,
        });
    }
    record(conn, group_id, &events, now).await
}

/// Formed groups among `group_ids` whose every member's order has reached its end (delivered,
/// or refunded after forming) become fulfilled, with their event. Returns those groups.
pub(crate) async fn fulfil_if_done(
    conn: &mut SqliteConnection,
    group_ids: &[String],
    now: i64,
) -> Result<Vec<String>> {
    if group_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(group_ids).unwrap_or_else(|_| "[]".into());
    let done: Vec<String> = sqlx::query_scalar(
        "UPDATE buy_groups SET status = 'fulfilled', closed_at = ?1, updated_at = ?1
         WHERE status = 'formed' AND id IN (SELECT value FROM json_each(?2))
           AND NOT EXISTS (SELECT 1 FROM group_members m JOIN orders o ON o.id = m.order_id
                           WHERE m.group_id = buy_groups.id AND m.released = 0
                             AND o.status NOT IN ('delivered', 'cancelled', 'refunded'))
         RETURNING id",
    )
    .bind(now)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    for id in &done {
        record(conn, id, &[GroupEvent::Fulfilled { at: rfc3339(now) }], now).await?;
    }
    Ok(done)
}

/// Expires every forming group whose deadline has passed, each in its own write transaction: the
/// group's status, the refund or cancel of each member's order with its stock, and the `expired`
/// event commit together. Safe to run from several tasks or processes at once and again after a
/// restart: a group expires once (its status is the guard) and each order's stock goes back once
/// (`stock_returned`). Returns the groups this call expired.
pub async fn expire_due(pool: &SqlitePool, now: i64) -> Result<Vec<String>> {
    let mut expired = Vec::new();
    loop {
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM buy_groups WHERE status = 'forming' AND deadline <= ?
             ORDER BY deadline, id LIMIT ?",
        )
        .bind(now)
        .bind(EXPIRY_CHUNK)
        .fetch_all(pool)
        .await?;
        for id in &due {
            if expire_one(pool, id, now).await? {
                expired.push(id.clone());
            }
        }
        if (due.len() as i64) < EXPIRY_CHUNK {
            break;
        }
    }
    if !expired.is_empty() {
        tracing::info!(groups = expired.len(), "unfilled groups expired");
    }
    Ok(expired)
}

/// One group's expiry, in one transaction; false when it was not due or no longer forming (another
/// run got it first, or it formed).
async fn expire_one(pool: &SqlitePool, group_id: &str, now: i64) -> Result<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let changed = sqlx::query(
        "UPDATE buy_groups SET status = 'expired', closed_at = ?1, updated_at = ?1
         WHERE id = ?2 AND status = 'forming' AND deadline <= ?1",
    )
    .bind(now)
    .bind(group_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        tx.commit().await?;
        return Ok(false);
    }
    let members: Vec<(String, String)> = sqlx::query_as(
        "SELECT o.id, o.status FROM group_members m JOIN orders o ON o.id = m.order_id
         WHERE m.group_id = ? AND m.released = 0 ORDER BY m.seat",
    )
    .bind(group_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut refunded = 0;
    for (order_id, status) in members {
        // Paid members get their money back; unpaid ones were never charged.
        let to = if status == OrderStatus::PendingPayment.as_str() {
            OrderStatus::Cancelled
        } else {
            OrderStatus::Refunded
        };
        if release(&mut tx, &order_id, to, now).await? && to == OrderStatus::Refunded {
            refunded += 1;
        }
    }
    record(
        &mut tx,
        group_id,
        &[GroupEvent::Expired {
            at: rfc3339(now),
            refunded,
        }],
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Why a member's unpaid order of this group cannot be paid now (the group is over or past its
/// deadline), if it cannot.
pub(crate) async fn closed_for_payment(
    pool: &SqlitePool,
    group_id: &str,
    now: i64,
) -> Result<Option<ApiError>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT status, deadline FROM buy_groups WHERE id = ?")
            .bind(group_id)
            .fetch_optional(pool)
            .await?;
    Ok(match row {
        Some((status, deadline)) => match GroupStatus::parse(&status) {
            Some(GroupStatus::Forming) if now < deadline => None,
            Some(GroupStatus::Formed | GroupStatus::Fulfilled) => {
                Some(group_closed(GroupStatus::Formed, true))
            }
            _ => Some(ApiError::new(
                jishi_api::ErrorCode::GroupClosed,
                "这个拼团已结束，订单不能再支付",
            )),
        },
        None => None,
    })
}
