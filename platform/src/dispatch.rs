//! The dispatch simulator: moves paid orders along the delivery path and the rider along the
//! route, one step per tick, and records every step as an order event (the tracking feed).
//!
//! Every move is a conditional update on the status it expects, so a shopper's cancel racing a
//! tick leaves exactly one of them in effect.
//!
//! A paid order waits until its `dispatch_at`: a scheduled order until its slot's start minus its
//! ETA, a group-buy order until its group forms (`groups::HELD` until then). The delivery that
//! completes a formed group fulfils it, in the same job.

use jishi_api::orders::{OrderEvent, OrderStatus, RiderPosition};
use std::sync::Arc;

use sqlx::{Row, SqliteConnection};

use crate::error::Result;
use crate::event_log::{self, Log, APPEND_SQL};
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
    let event = OrderEvent {
        seq: 0,
        status,
        eta_min,
        rider,
        at: rfc3339(now),
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
    let json = event_json(order_id, status, eta_min, rider, now)?;
    let query = event_log::bind_append(sqlx::query(APPEND_SQL), Log::Order, order_id, &json, now);
    query.execute(&mut *conn).await?;
    Ok(())
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
pub async fn tick(writer: &Writer, index: &Arc<StoreIndex>, now: i64) -> Result<Moved> {
    let mut moved = Moved::default();
    let mut after = String::new();
    loop {
        let (index, from) = (index.clone(), after.clone());
        let (chunk, last) = writer
            .run(move |conn| Box::pin(async move { tick_chunk(conn, &index, now, &from).await }))
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
    now: i64,
    after: &str,
) -> Result<(Moved, Option<String>)> {
    let rows = sqlx::query(
        "SELECT o.id, o.store_id, o.status, o.eta_min, o.rider_progress, o.group_id, a.lat, a.lng
         FROM orders o JOIN addresses a ON a.id = o.address_id
         WHERE o.status IN ('paid', 'accepted', 'picking', 'ready', 'rider_assigned', 'picked_up', 'delivering')
           AND (o.status <> 'paid' OR o.dispatch_at IS NULL OR o.dispatch_at <= ?)
           AND o.id > ?
         ORDER BY o.id LIMIT ?",
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
    for row in &rows {
        let id: String = row.try_get("id")?;
        let store_id: String = row.try_get("store_id")?;
        let Some(status) = OrderStatus::parse(&row.try_get::<String, _>("status")?) else {
            continue;
        };
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
        let done_steps = match next {
            OrderStatus::Delivering => 6 + next_progress,
            OrderStatus::Delivered => TOTAL_STEPS,
            n => OrderStatus::PATH.iter().position(|s| *s == n).unwrap_or(1) as i64 - 1,
        };
        let eta = ((eta0 * (TOTAL_STEPS - done_steps)) as f64 / TOTAL_STEPS as f64).ceil() as u32;
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
    if steps.is_empty() {
        return Ok((Moved::default(), last));
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
    let moved = query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<std::result::Result<Vec<_>, _>>()?;
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
