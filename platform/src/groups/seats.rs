//! Starting and joining groups: `POST /v1/groups` and `POST /v1/groups/{id}/join`. Each is one job
//! on the checkout writer: it claims the Idempotency-Key (shared with `POST /v1/orders`), checks
//! the seat, reserves the stock, and writes the order, the seat, the group's events and the stored
//! answer together; a refusal keeps only the key's stored answer. The writer runs one job at a
//! time inside its write transaction, so the seat check and the insert cannot interleave with
//! another join: a group never has more members than seats (and a trigger refuses it anyway).

use jishi_api::groups::{
    already_member, group_closed, group_full, seats_left, Group, GroupEvent, GroupMember,
    GroupOffer, GroupOrder, GroupStatus, JoinGroup, NewGroup,
};
use jishi_api::hours::LocalTime;
use jishi_api::orders::{Order, OrderLine, OrderStatus, Shortage, Slot, SCARCE_HOLD_S};
use jishi_api::person::Person;
use jishi_api::stores::{DeliveryQuote, StoreProfile};
use jishi_api::{ApiError, ErrorCode, LatLng};
use sqlx::Row;

use super::{group_row, unknown_group, GroupRow, MemberRow, HELD};
use crate::accounts::{self, new_id};
use crate::clock::rfc3339_utc as rfc3339;
use crate::error::{PlatformError, Result};
use crate::event_log::{self, bind_append, Log, APPEND_SQL};
use crate::orders::placement::reserve;
use crate::orders::write::{
    bind_order, expect_rows, once, order_rows, order_sql, to_reply, Holds, NewOrder, Placement,
    Scarce,
};
use crate::orders::Reply;
use crate::sql::{query, Db, Query};
use crate::stores::StoreIndex;
use crate::Platform;

/// A member's order: one of the product, at the group price.
const QUANTITY: u32 = 1;

/// What a start or a join needs besides the request, read before the job (a transaction never
/// waits on a pooled connection).
struct Seat {
    user_id: String,
    key: String,
    /// The member as others see them.
    name: Person,
    now: i64,
    /// The stores' local time now: a group starts and takes members only while its store is open.
    local: LocalTime,
}

/// The store's offer on a SKU, with the product as the group shows it.
struct Offer {
    offer: GroupOffer,
    product_name: String,
    picture: Option<String>,
    unit: String,
}

async fn member_name(p: &Platform, user_id: &str) -> Result<Person> {
    let phone: String = sqlx::query_scalar("SELECT phone FROM users WHERE id = ?")
        .bind(user_id)
        .fetch_one(p.pool())
        .await?;
    Ok(Person::shopper(&phone))
}

/// Members' orders go out "as soon as possible" once the group forms, which a closed store
/// cannot promise: starting and joining wait for it to open.
fn open_now(store: &StoreProfile, local: LocalTime) -> Result<()> {
    if !store.hours.is_open(local) {
        return Err(ApiError::new(ErrorCode::InvalidState, "门店休息中，暂时不能参加拼团").into());
    }
    Ok(())
}

/// `POST /v1/groups`: starts a group exactly once per (user, key). Replays, refusals and the new
/// group come back as the stored reply (status and JSON), as for `POST /v1/orders`.
pub async fn start(p: &Platform, user_id: &str, key: &str, body: NewGroup) -> Result<Reply> {
    body.validate()?;
    let store = p
        .index()
        .get(&body.store_id)
        .ok_or_else(|| ApiError::not_found(format!("找不到门店 {}", body.store_id)))?;
    open_now(store, p.clock().store_local_now())?;
    // Offers do not change while the platform runs: read here, outside the job.
    let offer = sqlx::query(
        "SELECT go.size, go.price_fen, p.name, p.unit, p.picture FROM group_offers go
         JOIN products p ON p.sku = go.sku WHERE go.store_id = ? AND go.sku = ?",
    )
    .bind(&body.store_id)
    .bind(&body.sku)
    .fetch_optional(p.pool())
    .await?
    .ok_or_else(|| ApiError::not_found("这家门店的这件商品没有拼团活动"))?;
    let offer = Offer {
        offer: GroupOffer {
            size: offer.try_get("size")?,
            price_fen: offer.try_get("price_fen")?,
        },
        product_name: offer.try_get("name")?,
        picture: offer.try_get("picture")?,
        unit: offer.try_get("unit")?,
    };
    body.check_offer(&offer.offer)?;
    let seat = Seat {
        user_id: user_id.to_owned(),
        key: key.to_owned(),
        name: member_name(p, user_id).await?,
        now: p.now_unix(),
        local: p.clock().store_local_now(),
    };
    let ttl_s = i64::try_from(p.group_ttl().as_secs()).unwrap_or(i64::MAX);
    let index = p.index().clone();
    p.writer()
        .run_straight(move |db| {
            let request = serde_json::json!({ "group_start": body }).to_string();
            let (user, key, address_id) = (&seat.user_id, &seat.key, &body.address_id);
            let start = Start {
                index: &index,
                seat: &seat,
                body: &body,
                offer: &offer,
                ttl_s,
            };
            once(db, user, key, &request, address_id, seat.now, &start)
        })
        .await
}

/// `POST /v1/groups/{id}/join`: takes a seat exactly once per (user, key), as `start`.
pub async fn join(
    p: &Platform,
    group_id: &str,
    user_id: &str,
    key: &str,
    body: JoinGroup,
) -> Result<Reply> {
    body.validate()?;
    let seat = Seat {
        user_id: user_id.to_owned(),
        key: key.to_owned(),
        name: member_name(p, user_id).await?,
        now: p.now_unix(),
        local: p.clock().store_local_now(),
    };
    let (index, group_id) = (p.index().clone(), group_id.to_owned());
    p.writer()
        .run_straight(move |db| {
            // The group is part of the request: one key cannot join two groups.
            let request = serde_json::json!({ "group_join": group_id, "body": body }).to_string();
            let (user, key, address_id) = (&seat.user_id, &seat.key, &body.address_id);
            let join = Join {
                index: &index,
                seat: &seat,
                group_id: &group_id,
            };
            once(db, user, key, &request, address_id, seat.now, &join)
        })
        .await
}

/// Starting a group: the starter's seat and order (`open_group`).
struct Start<'a> {
    index: &'a StoreIndex,
    seat: &'a Seat,
    body: &'a NewGroup,
    offer: &'a Offer,
    ttl_s: i64,
}

impl Placement for Start<'_> {
    fn holds(&self) -> Scarce<'_> {
        Scarce::None
    }

    fn place(&self, db: &Db, address: accounts::Address, holds: Holds) -> Result<String> {
        open_group(
            db, self.index, self.seat, self.body, self.offer, address, holds, self.ttl_s,
        )
    }
}

/// Joining a group: a seat and its order (`take_seat`).
struct Join<'a> {
    index: &'a StoreIndex,
    seat: &'a Seat,
    group_id: &'a str,
}

impl Placement for Join<'_> {
    fn holds(&self) -> Scarce<'_> {
        Scarce::Seat {
            group_id: self.group_id,
        }
    }

    fn place(&self, db: &Db, address: accounts::Address, holds: Holds) -> Result<String> {
        take_seat(db, self.index, self.seat, self.group_id, address, holds)
    }
}

/// The store's quote to the address, or `not_deliverable` when it is outside the store's radius.
fn deliverable(store: &StoreProfile, address: &accounts::Address) -> Result<DeliveryQuote> {
    let quote = StoreIndex::quote(store, LatLng::new(address.lat, address.lng)?);
    if !quote.delivers {
        return Err(ApiError::new(
            ErrorCode::NotDeliverable,
            format!(
                "这个地址距离门店 {:.1} 公里，超出了门店的配送范围（{:.1} 公里），换个地址试试",
                f64::from(quote.distance_m) / 1000.0,
                f64::from(store.delivery_radius_m) / 1000.0
            ),
        )
        .into());
    }
    Ok(quote)
}

/// The member's order: one at the group price, "as soon as possible" once the group forms.
fn member_order(
    store: &StoreProfile,
    quote: &DeliveryQuote,
    address: accounts::Address,
    line: OrderLine,
    group_id: &str,
    now: i64,
) -> Order {
    let items_fen = line.price_fen * i64::from(line.quantity);
    let delivery_fee_fen = store.fees.fee_fen(quote.distance_m, items_fen);
    Order {
        id: new_id("ord_"),
        store_id: store.id.clone(),
        store_name: store.name.clone(),
        status: OrderStatus::PendingPayment,
        items: vec![line],
        items_fen,
        delivery_fee_fen,
        total_fen: items_fen + delivery_fee_fen,
        address_id: address.id,
        slot: Slot::Asap,
        created_at: rfc3339(now),
        pay_before: Some(rfc3339(now + SCARCE_HOLD_S)),
        eta_min: quote.eta_min,
        group_id: Some(group_id.to_owned()),
        note: None,
        shortage: Shortage::default(),
        short: Vec::new(),
        substitutes: Vec::new(),
        answer_before: None,
        refunds: Vec::new(),
        refunded_fen: 0,
        after_sales: Vec::new(),
        now: None,
    }
}

/// The member's order (`orders::write`), then their seat: plain `?`, bound by `bind_seat`; the
/// caller appends the group's events.
fn seat_sql() -> String {
    format!(
        "{};
         INSERT INTO group_members (group_id, seat, user_id, order_id, name, joined_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        order_sql(1)
    )
}

/// Rows `seat_sql` writes.
fn seat_rows(order: &Order) -> u64 {
    order_rows(order) + 1
}

/// The member's order as `orders::write` writes it: held in `paid` until the group forms, its
/// hold on the seat `SCARCE_HOLD_S` long.
fn new_order<'a>(order: &'a Order, seat: &'a Seat, reply: &'a str) -> NewOrder<'a> {
    NewOrder {
        user_id: &seat.user_id,
        key: &seat.key,
        order,
        now: seat.now,
        expires_at: seat.now + SCARCE_HOLD_S,
        dispatch_at: Some(HELD),
        reply,
    }
}

fn bind_seat(
    query: Query,
    new: &NewOrder<'_>,
    seat: &Seat,
    member: &GroupMember,
    name: &str,
) -> Query {
    bind_order(query, new)
        .bind(new.order.group_id.as_deref())
        .bind(member.seat)
        .bind(&seat.user_id)
        .bind(&new.order.id)
        .bind(name)
        .bind(seat.now)
}

/// Binds `APPEND_SQL` for each of the group's events.
fn bind_events(mut query: Query, group_id: &str, events: &[String], now: i64) -> Query {
    for json in events {
        query = bind_append(query, Log::Group, group_id, json, now);
    }
    query
}

/// What a taken seat writes besides its order: the `member_joined` and `seats_left` events, the
/// key's answer (the group with the member's order) and the member's name as stored.
struct Taken {
    events: Vec<String>,
    reply: String,
    name: String,
}

impl Taken {
    fn new(group_id: &str, group: Group, order: &Order, member: &GroupMember) -> Result<Self> {
        let events = [
            GroupEvent::MemberJoined {
                member: member.clone(),
            },
            GroupEvent::SeatsLeft {
                seats_left: group.seats_left,
            },
        ]
        .iter()
        .map(|e| event_log::to_json(Log::Group, group_id, e))
        .collect::<Result<Vec<_>>>()?;
        let what = format!("group {group_id}");
        let reply = to_reply(
            &what,
            &GroupOrder {
                group,
                order: order.clone(),
            },
        )?;
        let name = to_reply(&what, &member.name)?;
        Ok(Taken {
            events,
            reply,
            name,
        })
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> PlatformError {
    PlatformError::CorruptRow {
        what: what.to_owned(),
        detail: e.to_string(),
    }
}

/// Writes the new group with the starter's seat and order. Returns the stored answer.
#[allow(clippy::too_many_arguments)]
fn open_group(
    db: &Db,
    index: &StoreIndex,
    seat: &Seat,
    body: &NewGroup,
    offer: &Offer,
    address: accounts::Address,
    holds: Holds,
    ttl_s: i64,
) -> Result<String> {
    let store = index
        .get(&body.store_id)
        .ok_or_else(|| ApiError::not_found(format!("找不到门店 {}", body.store_id)))?;
    let quote = deliverable(store, &address)?;
    holds.check()?;
    let reserved = reserve(db, &store.id, &body.sku, QUANTITY)?;
    let regular_price_fen = reserved.price_fen;
    // Offers are checked against the price when seeded; a price cut since would make the group
    // price no bargain (and break the table's check): refuse rather than sell at a loss to nobody.
    if offer.offer.price_fen >= regular_price_fen {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "这件商品的日常价已不高于拼团价，拼团暂停",
        )
        .into());
    }
    let group_id = new_id("grp_");
    let deadline = seat.now.saturating_add(ttl_s);
    let line = OrderLine {
        sku: body.sku.clone(),
        name: reserved.name,
        price_fen: offer.offer.price_fen,
        quantity: QUANTITY,
        short: 0,
        substitute_for: None,
        image: reserved.image,
    };
    let order = member_order(store, &quote, address, line, &group_id, seat.now);
    let member = GroupMember {
        seat: 1,
        name: seat.name.clone(),
        paid: false,
        initiator: true,
    };
    let size = offer.offer.size;
    let group = Group {
        id: group_id.clone(),
        status: GroupStatus::Forming,
        size,
        seats_left: seats_left(size, 1),
        members: vec![member.clone()],
        deadline: rfc3339(deadline),
        group_price_fen: offer.offer.price_fen,
        regular_price_fen,
        sku: body.sku.clone(),
        store_id: store.id.clone(),
        product_name: offer.product_name.clone(),
        product_image: crate::pictures::image(offer.picture.as_deref()),
        unit: offer.unit.clone(),
        store_name: store.name.clone(),
        // Not before the starter pays.
        joinable: false,
        created_at: rfc3339(seat.now),
        formed_at: None,
        ships_at: None,
        now: None,
    };
    let taken = Taken::new(&group_id, group, &order, &member)?;
    let new = new_order(&order, seat, &taken.reply);
    // The group, the order, its line, the stored answer, the seat and the events: one query.
    let sql = format!(
        "INSERT INTO buy_groups (id, store_id, sku, size, group_price_fen, regular_price_fen, status,
             created_at, deadline, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'forming', ?, ?, ?);
         {};
         {APPEND_SQL};
         {APPEND_SQL}",
        seat_sql()
    );
    let query = query(sql)
        .bind(&group_id)
        .bind(&store.id)
        .bind(&body.sku)
        .bind(size)
        .bind(offer.offer.price_fen)
        .bind(regular_price_fen)
        .bind(seat.now)
        .bind(deadline)
        .bind(seat.now);
    let query = bind_seat(query, &new, seat, &member, &taken.name);
    let stored = bind_events(query, &group_id, &taken.events, seat.now).execute(db)?;
    // The group, the order's rows and seat, two events.
    let what = format!("group {group_id}");
    expect_rows(stored, 1 + seat_rows(&order) + 2, what)?;
    Ok(taken.reply)
}

/// Why `row` takes nobody at `now`, if it does not.
fn closed(row: &GroupRow, now: i64) -> Option<ApiError> {
    match row.status {
        GroupStatus::Forming if now >= row.deadline => {
            Some(group_closed(GroupStatus::Expired, true))
        }
        GroupStatus::Forming if row.opened_at.is_none() => {
            Some(group_closed(GroupStatus::Forming, false))
        }
        GroupStatus::Forming => None,
        other => Some(group_closed(other, true)),
    }
}

/// Takes a seat in the group for the shopper, with their order. Returns the stored answer.
fn take_seat(
    db: &Db,
    index: &StoreIndex,
    seat: &Seat,
    group_id: &str,
    address: accounts::Address,
    holds: Holds,
) -> Result<String> {
    let mut row = group_row(db, group_id)?.ok_or_else(unknown_group)?;
    // A member asking again learns that first, whatever the group's state.
    if row.members.iter().any(|m| m.user_id == seat.user_id) {
        return Err(already_member().into());
    }
    if let Some(why) = closed(&row, seat.now) {
        return Err(why.into());
    }
    if row.seats_left() == 0 {
        return Err(group_full().into());
    }
    let store = index.get(&row.store_id).ok_or_else(|| {
        corrupt(
            &format!("group {group_id}"),
            format!("store {} is not in the index", row.store_id),
        )
    })?;
    open_now(store, seat.local)?;
    let quote = deliverable(store, &address)?;
    holds.check()?;
    let reserved = reserve(db, &store.id, &row.sku, QUANTITY)?;
    let line = OrderLine {
        sku: row.sku.clone(),
        name: reserved.name,
        price_fen: row.group_price_fen,
        quantity: QUANTITY,
        short: 0,
        substitute_for: None,
        image: reserved.image,
    };
    let order = member_order(store, &quote, address, line, group_id, seat.now);
    let member = GroupMember {
        seat: row.next_seat,
        name: seat.name.clone(),
        paid: false,
        initiator: false,
    };
    row.members.push(MemberRow {
        seat: member.seat,
        name: member.name.clone(),
        paid: 0,
        user_id: seat.user_id.clone(),
    });
    let group = row.wire(index, seat.now);
    let taken = Taken::new(group_id, group, &order, &member)?;
    let new = new_order(&order, seat, &taken.reply);
    let sql = format!("{}; {APPEND_SQL}; {APPEND_SQL}", seat_sql());
    let query = bind_seat(query(sql), &new, seat, &member, &taken.name);
    let stored = bind_events(query, group_id, &taken.events, seat.now).execute(db)?;
    // The order's rows and seat, two events.
    let what = format!("group {group_id}");
    expect_rows(stored, seat_rows(&order) + 2, what)?;
    Ok(taken.reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: GroupStatus, opened: bool, members: u32) -> GroupRow {
        GroupRow {
            id: "grp_1".into(),
            store_id: "bj00003".into(),
            sku: "P1".into(),
            size: 3,
            group_price_fen: 800,
            regular_price_fen: 1000,
            status,
            created_at: 0,
            deadline: 100,
            opened_at: opened.then_some(10),
            formed_at: None,
            ships_at: None,
            product_name: "n".into(),
            picture: None,
            unit: "瓶".into(),
            members: (1..=members)
                .map(|seat| MemberRow {
                    seat,
                    name: Person::shopper(&format!("000{seat}")),
                    paid: 0,
                    user_id: format!("usr_{seat}"),
                })
                .collect(),
            next_seat: members + 1,
        }
    }

    #[test]
    fn a_group_takes_members_only_while_open_and_before_its_deadline() {
        let code = |r: &GroupRow, now| closed(r, now).map(|e| e.code);
        let open = row(GroupStatus::Forming, true, 1);
        assert_eq!(code(&open, 99), None);
        assert!(open.joinable(99));
        // Past the deadline it is over, even before the janitor has expired it.
        assert_eq!(code(&open, 100), Some(ErrorCode::GroupClosed));
        assert!(!open.joinable(100));
        let unopened = row(GroupStatus::Forming, false, 1);
        let why = closed(&unopened, 50).expect("not open yet");
        assert!(why.message.contains("团长还没付款"), "{}", why.message);
        assert!(!unopened.joinable(50));
        for over in [
            GroupStatus::Formed,
            GroupStatus::Fulfilled,
            GroupStatus::Expired,
        ] {
            assert_eq!(code(&row(over, true, 3), 50), Some(ErrorCode::GroupClosed));
        }
        // Full but open: not "closed" (the join says `group_full`), and not joinable.
        let full = row(GroupStatus::Forming, true, 3);
        assert_eq!(code(&full, 50), None);
        assert_eq!(full.seats_left(), 0);
        assert!(!full.joinable(50));
    }

    #[test]
    fn the_wire_group_masks_members_and_marks_the_starter() {
        let index = StoreIndex::build(Vec::new());
        let g = row(GroupStatus::Forming, true, 2).wire(&index, 50);
        assert_eq!(g.seats_left, 1);
        assert!(g.joinable);
        assert!(g.members[0].initiator && !g.members[1].initiator);
        let json = serde_json::to_string(&g).expect("json");
        assert!(!json.contains("usr_"), "{json}");
        assert_eq!(g.deadline, "1970-01-01T00:01:40Z");
    }
}
