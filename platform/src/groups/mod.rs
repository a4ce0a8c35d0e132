//! Group buy (拼团): a store offers a product at a group price for groups of 2–5. A shopper starts
//! a group (their order at the group price, stock reserved); once they pay, others join, each with
//! their own order and seat; when the last seat is paid the group forms and every member's order
//! goes out. Unfilled at the deadline, it expires and every member's order is refunded or
//! cancelled, stock returned once.
//!
//! - here: reading groups (one, the shopper's, the stream's snapshot) and `record` (a durable
//!   event in the group's log, `crate::event_log`);
//! - `seats`: starting and joining (Idempotency-Key, seats exact under any concurrency), on the
//!   checkout writer;
//! - `lifecycle`: what paying and releasing a member's order do to the group (open, form, free a
//!   seat), expiry at the deadline and fulfilment after delivery;
//! - `demo`: the demo city's offers.
//!
//! Members' orders are ordinary orders with `orders.group_id`. They wait in `paid` until their
//! group forms: they are written with `dispatch_at` at `HELD` (the dispatch simulator leaves a
//! paid order alone until its `dispatch_at`), and formation sets it to NULL for all of them in the
//! same transaction as the status change.

pub mod demo;
pub mod lifecycle;
pub mod seats;

use jishi_api::groups::{
    joinable, seats_left, Group, GroupEvent, GroupMember, GroupStatus, MyGroup, MyGroupsResponse,
};
use jishi_api::orders::OrderStatus;
use jishi_api::person::Person;
use jishi_api::ApiError;
use serde::Deserialize;
use sqlx::{SqliteConnection, SqlitePool};

use crate::clock::rfc3339_utc;
use crate::error::{PlatformError, Result};
use crate::event_log::{self, Log};
use crate::sql::{self, Db};
use crate::stores::StoreIndex;

/// `dispatch_at` of a member's order until its group forms: never reached, so the dispatch
/// simulator leaves the paid order where it is.
pub const HELD: i64 = i64::MAX;

/// Groups listed by `GET /v1/me/groups` at most.
const MY_GROUPS: i64 = 100;

/// A member as stored (with the user, which never leaves the platform).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MemberRow {
    pub seat: u32,
    pub name: Person,
    /// 1 once paid (SQLite's booleans are integers).
    pub paid: u8,
    pub user_id: String,
}

impl MemberRow {
    pub fn wire(&self) -> GroupMember {
        GroupMember {
            seat: self.seat,
            name: self.name.clone(),
            paid: self.paid == 1,
            initiator: self.seat == 1,
        }
    }
}

/// A group as stored, with the members holding a seat.
#[derive(Debug, Clone)]
pub(crate) struct GroupRow {
    pub id: String,
    pub store_id: String,
    pub sku: String,
    pub size: u32,
    pub group_price_fen: i64,
    pub regular_price_fen: i64,
    pub status: GroupStatus,
    pub created_at: i64,
    pub deadline: i64,
    pub opened_at: Option<i64>,
    pub formed_at: Option<i64>,
    /// A group formed while its store was closed: when its orders go out.
    pub ships_at: Option<i64>,
    pub product_name: String,
    /// The product's picture stem (`products.picture`).
    pub picture: Option<String>,
    pub unit: String,
    /// Holding a seat, by seat.
    pub members: Vec<MemberRow>,
    /// The seat number the next member gets (released seats are not reused).
    pub next_seat: u32,
}

/// One round trip for everything about a group: its row, its product, and its members as JSON.
pub(crate) const GROUP_SQL: &str = "SELECT g.id, g.store_id, g.sku, g.size, g.group_price_fen,
    g.regular_price_fen, g.status, g.created_at, g.deadline, g.opened_at, g.formed_at, g.ships_at,
    p.name AS product_name, p.unit, p.picture,
    (SELECT json_group_array(json_object('seat', m.seat, 'name', json(m.name),
         'paid', m.paid_at IS NOT NULL, 'user_id', m.user_id))
     FROM (SELECT * FROM group_members WHERE group_id = g.id AND released = 0 ORDER BY seat) m)
        AS members,
    (SELECT COALESCE(MAX(seat), 0) + 1 FROM group_members WHERE group_id = g.id) AS next_seat
    FROM buy_groups g JOIN products p ON p.sku = g.sku";

fn group_from(row: &sql::Row) -> Result<GroupRow> {
    let id: String = row.try_get("id")?;
    let corrupt = |detail: String| PlatformError::CorruptRow {
        what: format!("group {id}"),
        detail,
    };
    let status: String = row.try_get("status")?;
    let status = GroupStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?;
    let members: String = row.try_get("members")?;
    let mut members: Vec<MemberRow> =
        serde_json::from_str(&members).map_err(|e| corrupt(format!("members: {e}")))?;
    members.sort_by_key(|m| m.seat);
    Ok(GroupRow {
        store_id: row.try_get("store_id")?,
        sku: row.try_get("sku")?,
        size: row.try_get("size")?,
        group_price_fen: row.try_get("group_price_fen")?,
        regular_price_fen: row.try_get("regular_price_fen")?,
        status,
        created_at: row.try_get("created_at")?,
        deadline: row.try_get("deadline")?,
        opened_at: row.try_get("opened_at")?,
        formed_at: row.try_get("formed_at")?,
        ships_at: row.try_get("ships_at")?,
        product_name: row.try_get("product_name")?,
        picture: row.try_get("picture")?,
        unit: row.try_get("unit")?,
        members,
        next_seat: row.try_get("next_seat")?,
        id,
    })
}

impl GroupRow {
    pub fn seats_left(&self) -> u32 {
        seats_left(self.size, self.members.len() as u32)
    }

    /// Whether another shopper may take a seat at `now`.
    pub fn joinable(&self, now: i64) -> bool {
        now < self.deadline && joinable(self.status, self.opened_at.is_some(), self.seats_left())
    }

    /// The group as anyone may see it: masked names, no user, phone or address.
    pub fn wire(&self, index: &StoreIndex, now: i64) -> Group {
        Group {
            id: self.id.clone(),
            status: self.status,
            size: self.size,
            seats_left: self.seats_left(),
            members: self.members.iter().map(MemberRow::wire).collect(),
            deadline: rfc3339_utc(self.deadline),
            group_price_fen: self.group_price_fen,
            regular_price_fen: self.regular_price_fen,
            sku: self.sku.clone(),
            store_id: self.store_id.clone(),
            product_name: self.product_name.clone(),
            product_image: crate::pictures::image(self.picture.as_deref()),
            unit: self.unit.clone(),
            store_name: index
                .get(&self.store_id)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            joinable: self.joinable(now),
            created_at: rfc3339_utc(self.created_at),
            formed_at: self.formed_at.map(rfc3339_utc),
            ships_at: self.ships_at.map(rfc3339_utc),
            now: Some(rfc3339_utc(now)),
        }
    }
}

pub fn unknown_group() -> PlatformError {
    ApiError::not_found("找不到这个拼团").into()
}

/// The group `id` as stored, if there is one.
pub(crate) fn group_row(db: &Db, id: &str) -> Result<Option<GroupRow>> {
    let row = sql::query(format!("{GROUP_SQL} WHERE g.id = ?"))
        .bind(id)
        .fetch_optional(db)?;
    row.as_ref().map(group_from).transpose()
}

/// `GET /v1/groups/{id}`: 404 for an unknown group.
pub async fn group(pool: &SqlitePool, index: &StoreIndex, id: &str, now: i64) -> Result<Group> {
    let row = sql::on_pool(pool, |db| group_row(db, id))
        .await?
        .ok_or_else(unknown_group)?;
    Ok(row.wire(index, now))
}

/// `GET /v1/me/groups`: every seat the shopper has taken (a freed one too, with its cancelled
/// order), newest first.
pub async fn mine(
    pool: &SqlitePool,
    index: &StoreIndex,
    user_id: &str,
    now: i64,
) -> Result<MyGroupsResponse> {
    let mut conn = pool.acquire().await?;
    let seats: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT m.group_id, m.order_id, o.status FROM group_members m JOIN orders o ON o.id = m.order_id
         WHERE m.user_id = ? ORDER BY m.joined_at DESC, m.rowid DESC LIMIT ?",
    )
    .bind(user_id)
    .bind(MY_GROUPS)
    .fetch_all(&mut *conn)
    .await?;
    let mut groups = Vec::with_capacity(seats.len());
    // One hop for all of them.
    let db = sql::lock(&mut conn).await?;
    for (group_id, order_id, status) in seats {
        let row = group_row(&db, &group_id)?.ok_or_else(|| PlatformError::CorruptRow {
            what: format!("group {group_id}"),
            detail: "a member's group is missing".into(),
        })?;
        let order_status =
            OrderStatus::parse(&status).ok_or_else(|| PlatformError::CorruptRow {
                what: format!("order {order_id}"),
                detail: format!("status {status}"),
            })?;
        groups.push(MyGroup {
            group: row.wire(index, now),
            order_id,
            order_status,
        });
    }
    Ok(MyGroupsResponse { groups })
}

/// The stream's first event and the group's latest durable seq, read in one transaction so that
/// the events after that seq are exactly the changes the snapshot does not show.
pub async fn snapshot(
    pool: &SqlitePool,
    index: &StoreIndex,
    id: &str,
    now: i64,
) -> Result<(GroupEvent, u64)> {
    let mut tx = pool.begin().await?;
    let seq = event_log::max_seq(&mut tx, Log::Group, id).await?;
    let row = group_row(&sql::lock(&mut tx).await?, id)?.ok_or_else(unknown_group)?;
    tx.commit().await?;
    Ok((
        GroupEvent::Snapshot {
            group: Box::new(row.wire(index, now)),
        },
        seq,
    ))
}

/// Appends durable events to the group's log on the caller's connection (inside its
/// transaction), so they commit with the change they describe.
pub(crate) async fn record(
    conn: &mut SqliteConnection,
    group_id: &str,
    events: &[GroupEvent],
    now: i64,
) -> Result<()> {
    event_log::append(conn, Log::Group, group_id, events, now).await
}
