//! The dispatch simulator: moves paid orders along the delivery path and the rider along the
//! route, one step per tick, and records every step as an order event (the tracking feed).
//!
//! Every move is a conditional update on the status it expects, so a shopper's cancel racing a
//! tick leaves exactly one of them in effect.
//!
//! A paid order waits until its `dispatch_at`: a scheduled order until its slot's start minus its
//! ETA, a group-buy order until its group forms (`groups::HELD` until then). The delivery that
//! completes a formed group fulfils it, in the same job.

use jishi_api::orders::{OrderChange, OrderEvent, OrderStatus, RiderPosition};
use std::sync::Arc;

use sqlx::{Row, SqliteConnection};

use crate::error::Result;
use crate::event_log::{self, Log, APPEND_SQL};
use crate::orders::shortage;
use crate::stores::StoreIndex;
use crate::writer::Writer;

/// Rider position updates between pick-up and the door.
pub const RIDER_STEPS: i64 = 8;
/// accepted, picking, ready, rider_assigned, picked_up, delivering, the rider's moves, delivered.
const TOTAL_STEPS: i64 = 6 + RIDER_STEPS + 1;

use crate::clock::rfc3339_utc as rfc3339;

/// The order's event as its log stores it (its `seq` is filled in when appended).
pub(crate) fn event_json(
    order_id: &str,
    status: OrderStatus,
    eta_min: u32,
    rider: Option<RiderPosition>,
    now: i64,
) -> Result<String> {
    change_event_json(order_id, status, eta_min, rider, None, now)
}

/// `event_json` for a step that also changed the order's lines or money (`OrderEvent::change`).
fn change_event_json(
    order_id: &str,
    status: OrderStatus,
    eta_min: u32,
    rider: Option<RiderPosition>,
    change: Option<OrderChange>,
    now: i64,
) -> Result<String> {
    let event = OrderEvent {
        seq: 0,
        status,
        eta_min,
        rider,
        at: rfc3339(now),
        change,
    };
    event_log::to_json(Log::Order, order_id, &event)
}

/// Appends one event to the order's log on the caller's connection (inside its transaction).
pub async fn record(
    conn: &mut SqliteConnection,
    order_id: &str,
    status: OrderStatus,
    eta_min: u32,
    rider: Option<RiderPosition>,
    now: i64,
) -> Result<()> {
    record_change(conn, order_id, status, eta_min, rider, None, now).await
}

/// `record` for a step that also changed the order's lines or money.
pub(crate) async fn record_change(
    conn: &mut SqliteConnection,
    order_id: &str,
    status: OrderStatus,
    eta_min: u32,
    rider: Option<RiderPosition>,
    change: Option<OrderChange>,
    now: i64,
) -> Result<()> {
    let json = change_event_json(order_id, status, eta_min, rider, change, now)?;
    let query = event_log::bind_append(sqlx::query(APPEND_SQL), Log::Order, order_id, &json, now);
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Minutes left when an order reaches `status` (with the rider `progress` steps along while
/// delivering), from its first estimate `eta0`: the share of the delivery's steps still to go.
pub(crate) fn eta_at(eta0: i64, status: OrderStatus, progress: i64) -> u32 {
    let done_steps = match status {
        OrderStatus::Delivering => 6 + progress,
        OrderStatus::Delivered => TOTAL_STEPS,
        // Waiting for the shopper's answer counts as still picking.
        OrderStatus::AwaitingShopper => 2,
        n => OrderStatus::PATH.iter().position(|s| *s == n).unwrap_or(1) as i64 - 1,
    };
    ((eta0 * (TOTAL_STEPS - done_steps)) as f64 / TOTAL_STEPS as f64).ceil() as u32
}

fn lerp(a: (f64, f64), b: (f64, f64), t: f64) -> RiderPosition {
    RiderPosition {
        lat: a.0 + (b.0 - a.0) * t,
        lng: a.1 + (b.1 - a.1) * t,
    }
}

/// Orders moved per write transaction: short transactions let checkouts in between.
const TICK_CHUNK: i64 = 200;

/// What one step moved, for waking their streams.
#[derive(Debug, Default)]
pub struct Moved {
    /// Orders that moved a step.
    pub orders: Vec<String>,
    /// Groups whose last order was delivered (fulfilled).
    pub groups: Vec<String>,
}

/// Advances every order in progress by one step. A scheduled order stays `paid` until its
/// `dispatch_at` (its slot's start minus its ETA): it is not delivered early; a group order until
/// its group forms. Runs on the checkout writer, one chunk per job, so checkouts go in between.
///
/// Out of `picking`, an order the shelf comes up short on (see `orders::shortage`) follows the
/// shopper's choice instead; `shortage_per_mille` is the demo's rate of such orders.
pub async fn tick(
    writer: &Writer,
    index: &Arc<StoreIndex>,
    shortage_per_mille: u16,
    now: i64,
) -> Result<Moved> {
    let mut moved = Moved::default();
    let mut after = String::new();
    loop {
        let (index, from) = (index.clone(), after.clone());
        let (chunk, last) = writer
            .run(move |conn| {
                Box::pin(
                    async move { tick_chunk(conn, &index, shortage_per_mille, now, &from).await },
                )
            })
            .await?;
        moved.orders.extend(chunk.orders);
        moved.groups.extend(chunk.groups);
        match last {
            Some(id) => after = id,
            None => return Ok(moved),
        }
    }
}

/// One chunk of a tick: orders with ids after `after`. Returns what moved and the last id seen.
async fn tick_chunk(
    conn: &mut SqliteConnection,
    index: &StoreIndex,
    shortage_per_mille: u16,
    now: i64,
    after: &str,
) -> Result<(Moved, Option<String>)> {
    let rows = sqlx::query(
        "SELECT o.id, o.store_id, o.status, o.eta_min, o.rider_progress, o.group_id, a.lat, a.lng,
                o.status = 'picking' AND EXISTS (SELECT 1 FROM order_items oi
                    WHERE oi.order_id = o.id AND oi.planned_short > 0) AS planned_short
         FROM orders o JOIN addresses a ON a.id = o.address_id
         WHERE o.status IN ('paid', 'accepted', 'picking', 'ready', 'rider_assigned', 'picked_up',
                            'delivering', 'awaiting_shopper')
           AND (o.status <> 'paid' OR o.dispatch_at IS NULL OR o.dispatch_at <= ?1)
           AND (o.status <> 'awaiting_shopper' OR o.answer_before <= ?1)
           AND o.id > ?2
         ORDER BY o.id LIMIT ?3",
    )
    .bind(now)
    .bind(after)
    .bind(TICK_CHUNK)
    .fetch_all(&mut *conn)
    .await?;
    let last = match rows.last() {
        Some(r) => Some(r.try_get::<String, _>("id")?),
        None => None,
    };
    // Every move is a conditional update and its event, inserted only if the update took
    // (`changes()`); the whole chunk goes to SQLite as one multi-statement query.
    let mut steps = Vec::with_capacity(rows.len());
    // (order, group) for group orders this chunk delivers: their group may be fulfilled.
    let mut delivering_groups = Vec::new();
    // Orders that leave picking short, or stop waiting for their shopper: moved one by one.
    let mut short_picks = Vec::new();
    let mut timed_out = Vec::new();
    for row in &rows {
        let id: String = row.try_get("id")?;
        let store_id: String = row.try_get("store_id")?;
        let Some(status) = OrderStatus::parse(&row.try_get::<String, _>("status")?) else {
            continue;
        };
        if status == OrderStatus::AwaitingShopper {
            timed_out.push(id);
            continue;
        }
        if status == OrderStatus::Picking
            && (row.try_get::<bool, _>("planned_short")?
                || shortage::demo_short_line(&id, shortage_per_mille, 1).is_some())
        {
            short_picks.push(id);
            continue;
        }
        let Some(store) = index.get(&store_id) else {
            continue;
        };
        let progress: i64 = row.try_get("rider_progress")?;
        let eta0: i64 = row.try_get("eta_min")?;
        let shop = (store.lat, store.lng);
        let home: (f64, f64) = (row.try_get("lat")?, row.try_get("lng")?);
        let (next, next_progress) = match status {
            OrderStatus::Delivering if progress < RIDER_STEPS => {
                (OrderStatus::Delivering, progress + 1)
            }
            other => match other.next() {
                Some(n) => (n, progress),
                None => continue,
            },
        };
        let eta = eta_at(eta0, next, next_progress);
        let rider = match next {
            // Riding to the shop from a little way off.
            OrderStatus::RiderAssigned => Some(RiderPosition {
                lat: shop.0 + 0.004,
                lng: shop.1 - 0.004,
            }),
            OrderStatus::PickedUp => Some(lerp(shop, home, 0.0)),
            OrderStatus::Delivering => {
                Some(lerp(shop, home, next_progress as f64 / RIDER_STEPS as f64))
            }
            OrderStatus::Delivered => Some(lerp(shop, home, 1.0)),
            _ => None,
        };
        let group_id: Option<String> = row.try_get("group_id")?;
        if next == OrderStatus::Delivered {
            if let Some(group_id) = group_id {
                delivering_groups.push((id.clone(), group_id));
            }
        }
        steps.push((id, status, progress, next, next_progress, eta, rider));
    }
    let mut moved = Vec::new();
    for id in short_picks {
        if shortage::pick(conn, &id, shortage_per_mille, now).await? {
            moved.push(id);
        }
    }
    for id in timed_out {
        if shortage::time_out(conn, &id, now).await? {
            moved.push(id);
        }
    }
    if steps.is_empty() {
        return Ok((
            Moved {
                orders: moved,
                groups: Vec::new(),
            },
            last,
        ));
    }
    let one = format!(
        "UPDATE orders SET status = ?, rider_progress = ?, updated_at = ?
             WHERE id = ? AND status = ? AND rider_progress = ? RETURNING id;
         {APPEND_SQL} WHERE changes() = 1;"
    );
    let sql = one.repeat(steps.len());
    let events = steps
        .iter()
        .map(|(id, _, _, next, _, eta, rider)| event_json(id, *next, *eta, *rider, now))
        .collect::<Result<Vec<_>>>()?;
    let mut query = sqlx::query(&sql);
    for ((id, status, progress, next, next_progress, _, _), json) in steps.iter().zip(&events) {
        query = query
            .bind(next.as_str())
            .bind(next_progress)
            .bind(now)
            .bind(id)
            .bind(status.as_str())
            .bind(progress);
        query = event_log::bind_append(query, Log::Order, id, json, now);
    }
    for row in query.fetch_all(&mut *conn).await? {
        moved.push(row.try_get::<String, _>("id")?);
    }
    let mut groups: Vec<String> = delivering_groups
        .into_iter()
        .filter(|(order, _)| moved.contains(order))
        .map(|(_, group)| group)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let groups = crate::groups::lifecycle::fulfil_if_done(conn, &groups, now).await?;
    Ok((
        Moved {
            orders: moved,
            groups,
        },
        last,
    ))
}
