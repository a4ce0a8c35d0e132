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
use jishi_api::live::masked_name;
use jishi_api::orders::{Order, OrderLine, OrderStatus, Slot, PAYMENT_WINDOW_S};
use jishi_api::stores::{DeliveryQuote, StoreProfile};
use jishi_api::{ApiError, ErrorCode, LatLng};
use sqlx::{Row, SqliteConnection};

use super::{event_json, group_row, unknown_group, GroupRow, MemberRow, HELD, RECORD_SQL};
use crate::accounts::{self, new_id};
use crate::clock::rfc3339_utc as rfc3339;
use crate::error::{PlatformError, Result};
use crate::orders::placement::reserve;
use crate::orders::{claim, settle, Claim, Reply};
use crate::stores::StoreIndex;
use crate::Platform;

/// A member's order: one of the product, at the group price.
const QUANTITY: u32 = 1;

/// What a start or a join needs besides the request, read before the job (a transaction never
/// waits on a pooled connection).
struct Seat {
    user_id: String,
    key: String,
    /// The member's name as others see it.
    name: String,
    now: i64,
}

/// The store's offer on a SKU, with the product as the group shows it.
struct Offer {
    offer: GroupOffer,
    product_name: String,
    unit: String,
}

async fn member_name(p: &Platform, user_id: &str) -> Result<String> {
    let phone: String = sqlx::query_scalar("SELECT phone FROM users WHERE id = ?")
        .bind(user_id)
        .fetch_one(p.pool())
        .await?;
    Ok(masked_name(&phone))
}

/// `POST /v1/groups`: starts a group exactly once per (user, key). Replays, refusals and the new
/// group come back as the stored reply (status and JSON), as for `POST /v1/orders`.
pub async fn start(p: &Platform, user_id: &str, key: &str, body: NewGroup) -> Result<Reply> {
    body.validate()?;
    let store = p
        .index()
        .get(&body.store_id)
        .ok_or_else(|| ApiError::not_found(format!("找不到门店 {}", body.store_id)))?;
    // The orders go out "as soon as possible" once the group forms, as a closed store cannot.
    if !store.hours.is_open(p.clock().store_local_now()) {
        return Err(ApiError::new(ErrorCode::InvalidState, "门店休息中，暂时不能发起拼团").into());
    }
    // Offers do not change while the platform runs: read here, outside the job.
    let offer = sqlx::query(
        "SELECT go.size, go.price_fen, p.name, p.unit FROM group_offers go
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
        unit: offer.try_get("unit")?,
    };
    body.check_offer(&offer.offer)?;
    let seat = Seat {
        user_id: user_id.to_owned(),
        key: key.to_owned(),
        name: member_name(p, user_id).await?,
        now: p.now_unix(),
    };
    let ttl_s = i64::try_from(p.group_ttl().as_secs()).unwrap_or(i64::MAX);
    let index = p.index().clone();
    p.writer()
        .run(move |conn| {
            Box::pin(async move {
                let request = serde_json::json!({ "group_start": body }).to_string();
                let address = match claim(
                    conn,
                    &seat.user_id,
                    &seat.key,
                    &request,
                    &body.address_id,
                    seat.now,
                )
                .await?
                {
                    Claim::Replay(reply) => return Ok(reply),
                    Claim::Proceed(address) => address,
                };
                let placed = match address {
                    Ok(address) => {
                        open_group(conn, &index, &seat, &body, &offer, address, ttl_s).await
                    }
                    Err(e) => Err(e.into()),
                };
                settle(conn, &seat.user_id, &seat.key, placed).await
            })
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
    };
    let (index, group_id) = (p.index().clone(), group_id.to_owned());
    p.writer()
        .run(move |conn| {
            Box::pin(async move {
                // The group is part of the request: one key cannot join two groups.
                let request =
                    serde_json::json!({ "group_join": group_id, "body": body }).to_string();
                let address = match claim(
                    conn,
                    &seat.user_id,
                    &seat.key,
                    &request,
                    &body.address_id,
                    seat.now,
                )
                .await?
                {
                    Claim::Replay(reply) => return Ok(reply),
                    Claim::Proceed(address) => address,
                };
                let placed = match address {
                    Ok(address) => take_seat(conn, &index, &seat, &group_id, address).await,
                    Err(e) => Err(e.into()),
                };
                settle(conn, &seat.user_id, &seat.key, placed).await
            })
        })
        .await
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
        pay_before: Some(rfc3339(now + PAYMENT_WINDOW_S)),
        eta_min: quote.eta_min,
        group_id: Some(group_id.to_owned()),
        now: None,
    }
}

/// Inserts the order, its line and the seat (plain `?`: 15 + 5 + 6 parameters, bound by
/// `bind_seat`); the caller appends the rest of its multi-statement query.
const SEAT_SQL: &str = "INSERT INTO orders (id, user_id, store_id, status, address_id, slot, items_fen,
         delivery_fee_fen, total_fen, created_at, expires_at, updated_at, eta_min, dispatch_at, group_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
     INSERT INTO order_items (order_id, sku, name, price_fen, quantity) VALUES (?, ?, ?, ?, ?);
     INSERT INTO group_members (group_id, seat, user_id, order_id, name, joined_at) VALUES (?, ?, ?, ?, ?, ?)";

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

fn bind_seat<'q>(
    query: Query<'q>,
    order: &'q Order,
    seat: &'q Seat,
    member: &'q GroupMember,
) -> Query<'q> {
    let line = &order.items[0];
    query
        .bind(&order.id)
        .bind(&seat.user_id)
        .bind(&order.store_id)
        .bind(order.status.as_str())
        .bind(&order.address_id)
        .bind(order.slot.to_string())
        .bind(order.items_fen)
        .bind(order.delivery_fee_fen)
        .bind(order.total_fen)
        .bind(seat.now)
        .bind(seat.now + PAYMENT_WINDOW_S)
        .bind(seat.now)
        .bind(order.eta_min)
        // Held in `paid` until the group forms.
        .bind(HELD)
        .bind(order.group_id.as_deref())
        .bind(&order.id)
        .bind(&line.sku)
        .bind(&line.name)
        .bind(line.price_fen)
        .bind(line.quantity)
        .bind(order.group_id.as_deref())
        .bind(member.seat)
        .bind(&seat.user_id)
        .bind(&order.id)
        .bind(&member.name)
        .bind(seat.now)
}

/// Binds `RECORD_SQL` for each event, then the stored answer's `UPDATE idempotency_keys`.
fn bind_events_and_answer<'q>(
    mut query: Query<'q>,
    group_id: &'q str,
    events: &'q [String],
    reply: &'q str,
    seat: &'q Seat,
) -> Query<'q> {
    for json in events {
        query = query
            .bind(group_id)
            .bind(json.as_str())
            .bind(seat.now)
            .bind(group_id);
    }
    query.bind(reply).bind(&seat.user_id).bind(&seat.key)
}

const ANSWER_SQL: &str =
    "UPDATE idempotency_keys SET status = 201, response = ? WHERE user_id = ? AND key = ?";

fn corrupt(what: &str, e: impl std::fmt::Display) -> PlatformError {
    PlatformError::CorruptRow {
        what: what.to_owned(),
        detail: e.to_string(),
    }
}

/// Writes the new group with the starter's seat and order. Returns the stored answer.
async fn open_group(
    conn: &mut SqliteConnection,
    index: &StoreIndex,
    seat: &Seat,
    body: &NewGroup,
    offer: &Offer,
    address: accounts::Address,
    ttl_s: i64,
) -> Result<String> {
    let store = index
        .get(&body.store_id)
        .ok_or_else(|| ApiError::not_found(format!("找不到门店 {}", body.store_id)))?;
    let quote = deliverable(store, &address)?;
    let (regular_price_fen, name) = reserve(
        conn,
        &store.id,
        &body.sku,
        QUANTITY,
        &seat.user_id,
        seat.now,
    )
    .await?;
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
        name,
        price_fen: offer.offer.price_fen,
        quantity: QUANTITY,
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
        unit: offer.unit.clone(),
        store_name: store.name.clone(),
        // Not before the starter pays.
        joinable: false,
        created_at: rfc3339(seat.now),
        formed_at: None,
        now: None,
    };
    let events = [
        GroupEvent::MemberJoined {
            member: member.clone(),
        },
        GroupEvent::SeatsLeft {
            seats_left: group.seats_left,
        },
    ]
    .iter()
    .map(|e| event_json(&group_id, e))
    .collect::<Result<Vec<_>>>()?;
    let reply = serde_json::to_string(&GroupOrder {
        group,
        order: order.clone(),
    })
    .map_err(|e| corrupt(&format!("group {group_id}"), e))?;
    // The group, the order, its line, the seat, the events and the stored answer: one round trip.
    let sql = format!(
        "INSERT INTO buy_groups (id, store_id, sku, size, group_price_fen, regular_price_fen, status,
             created_at, deadline, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'forming', ?, ?, ?);
         {SEAT_SQL};
         {RECORD_SQL};
         {RECORD_SQL};
         {ANSWER_SQL}"
    );
    let query = sqlx::query(&sql)
        .bind(&group_id)
        .bind(&store.id)
        .bind(&body.sku)
        .bind(size)
        .bind(offer.offer.price_fen)
        .bind(regular_price_fen)
        .bind(seat.now)
        .bind(deadline)
        .bind(seat.now);
    let query = bind_seat(query, &order, seat, &member);
    let stored = bind_events_and_answer(query, &group_id, &events, &reply, seat)
        .execute(&mut *conn)
        .await?;
    // Group, order, line, seat, two events, the answer.
    if stored.rows_affected() < 7 {
        return Err(corrupt(
            &format!("group {group_id}"),
            format!("wrote {} rows, expected 7", stored.rows_affected()),
        ));
    }
    Ok(reply)
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
async fn take_seat(
    conn: &mut SqliteConnection,
    index: &StoreIndex,
    seat: &Seat,
    group_id: &str,
    address: accounts::Address,
) -> Result<String> {
    let mut row = group_row(conn, group_id).await?.ok_or_else(unknown_group)?;
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
    let quote = deliverable(store, &address)?;
    let (_, name) = reserve(conn, &store.id, &row.sku, QUANTITY, &seat.user_id, seat.now).await?;
    let line = OrderLine {
        sku: row.sku.clone(),
        name,
        price_fen: row.group_price_fen,
        quantity: QUANTITY,
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
    let events = [
        GroupEvent::MemberJoined {
            member: member.clone(),
        },
        GroupEvent::SeatsLeft {
            seats_left: group.seats_left,
        },
    ]
    .iter()
    .map(|e| event_json(group_id, e))
    .collect::<Result<Vec<_>>>()?;
    let reply = serde_json::to_string(&GroupOrder {
        group,
        order: order.clone(),
    })
    .map_err(|e| corrupt(&format!("group {group_id}"), e))?;
    let sql = format!("{SEAT_SQL}; {RECORD_SQL}; {RECORD_SQL}; {ANSWER_SQL}");
    let query = bind_seat(sqlx::query(&sql), &order, seat, &member);
    let stored = bind_events_and_answer(query, group_id, &events, &reply, seat)
        .execute(&mut *conn)
        .await?;
    // Order, line, seat, two events, the answer.
    if stored.rows_affected() < 6 {
        return Err(corrupt(
            &format!("group {group_id}"),
            format!("wrote {} rows, expected 6", stored.rows_affected()),
        ));
    }
    Ok(reply)
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
            product_name: "n".into(),
            unit: "瓶".into(),
            members: (1..=members)
                .map(|seat| MemberRow {
                    seat,
                    name: format!("尾号 000{seat}"),
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
