//! Live buys: `POST /v1/live/rooms/{id}/orders`. One job on the checkout writer claims the
//! Idempotency-Key (shared with `POST /v1/orders`), takes the quantity from the room's cap, takes
//! it from the nearest store that delivers to the address and has enough, writes an ordinary
//! `pending_payment` order at the live price, links it to the room and records the `sale` event:
//! all of it commits together, or only the key's stored refusal does.

use jishi_api::live::{masked_name, not_deliverable, LiveEvent, LiveOrderRequest, LiveQuote, Sale};
use jishi_api::orders::{Order, OrderLine, OrderStatus, Slot, MAX_UNPAID_ORDERS, PAYMENT_WINDOW_S};
use jishi_api::stores::{NearbyQuery, Sort};
use jishi_api::{ApiError, ErrorCode, LatLng};
use sqlx::{Row, SqliteConnection};

use crate::accounts::{self, new_id};
use crate::clock::rfc3339_utc as rfc3339;
use crate::error::{PlatformError, Result};
use crate::orders::{claim, settle, Claim, Reply};
use crate::stores::StoreIndex;
use crate::Platform;

/// What the job needs, read before it (a transaction never waits on a pooled connection).
struct Buy {
    room_id: String,
    user_id: String,
    key: String,
    body: LiveOrderRequest,
    /// Open stores that deliver to the address and carry the SKU, nearest first (as JSON ids).
    candidates: String,
    any_candidate: bool,
    buyer: String,
    now: i64,
}

/// Places a live order exactly once per (user, key). Replays, refusals and the created order
/// come back as the stored reply (status and JSON), as for `POST /v1/orders`.
pub async fn buy(
    p: &Platform,
    room_id: &str,
    user_id: &str,
    key: &str,
    body: LiveOrderRequest,
) -> Result<Reply> {
    body.validate()?;
    let mut conn = p.pool().acquire().await?;
    let (_, carrying) = route(p, &mut conn, room_id, user_id, &body).await?;
    let phone: String = sqlx::query_scalar("SELECT phone FROM users WHERE id = ?")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    drop(conn);
    let buy = Buy {
        room_id: room_id.to_owned(),
        user_id: user_id.to_owned(),
        key: key.to_owned(),
        candidates: serde_json::to_string(&carrying).unwrap_or_else(|_| "[]".into()),
        any_candidate: !carrying.is_empty(),
        buyer: masked_name(&phone),
        now: p.now_unix(),
        body,
    };
    let index = p.index().clone();
    let reply = p
        .writer()
        .run(move |conn| Box::pin(async move { buy_on(conn, &index, &buy).await }))
        .await?;
    p.live().notify(room_id);
    Ok(reply)
}

/// Routing: stores open now that deliver to the address (each within its own radius), nearest
/// first, that carry the SKU. Listings do not change while the platform runs; stock is checked
/// where it is taken. Another user's address is "not found", exactly like a missing one.
async fn route(
    p: &Platform,
    conn: &mut SqliteConnection,
    room_id: &str,
    user_id: &str,
    body: &LiveOrderRequest,
) -> Result<(LatLng, Vec<String>)> {
    super::room_row(conn, room_id).await?;
    let point: Option<(f64, f64)> =
        sqlx::query_as("SELECT lat, lng FROM addresses WHERE id = ? AND user_id = ?")
            .bind(&body.address_id)
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (lat, lng) = point.ok_or_else(|| ApiError::not_found("找不到这个收货地址"))?;
    let at = LatLng::new(lat, lng)?;
    let query = NearbyQuery {
        sort: Sort::Distance,
        open_now: true,
        ..NearbyQuery::new(at)
    };
    let delivering = p
        .index()
        .all_delivering(&query, p.clock().store_local_now());
    let ids = serde_json::to_string(&delivering.iter().map(|s| &s.id).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into());
    let carrying: Vec<String> = sqlx::query_scalar(
        "SELECT sp.store_id FROM json_each(?) j
         JOIN store_products sp ON sp.store_id = j.value AND sp.sku = ?
         ORDER BY j.key",
    )
    .bind(ids)
    .bind(&body.sku)
    .fetch_all(&mut *conn)
    .await?;
    Ok((at, carrying))
}

/// Where a buy would come from now (the same routing as `buy`, read-only): the nearest store
/// that delivers and has the quantity in stock, its delivery time and fee at the live price.
pub async fn quote(
    p: &Platform,
    room_id: &str,
    user_id: &str,
    body: LiveOrderRequest,
) -> Result<LiveQuote> {
    body.validate()?;
    let mut conn = p.pool().acquire().await?;
    let (at, carrying) = route(p, &mut conn, room_id, user_id, &body).await?;
    if carrying.is_empty() {
        return Err(not_deliverable().into());
    }
    let pin: Option<(i64, u32, u32)> = sqlx::query_as(
        "SELECT live_price_fen, sold, stock_cap FROM live_pins
         WHERE room_id = ? AND sku = ? AND current = 1",
    )
    .bind(room_id)
    .bind(&body.sku)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((live_price_fen, sold, stock_cap)) = pin else {
        return Err(ApiError::new(ErrorCode::InvalidState, "这件商品已下架").into());
    };
    if sold + body.quantity > stock_cap {
        return Err(ApiError::new(ErrorCode::SoldOut, "直播间的库存已抢完").into());
    }
    let store_id: Option<String> = sqlx::query_scalar(
        "SELECT sp.store_id FROM json_each(?1) j
         JOIN store_products sp ON sp.store_id = j.value AND sp.sku = ?2
         WHERE sp.stock >= ?3 ORDER BY j.key LIMIT 1",
    )
    .bind(serde_json::to_string(&carrying).unwrap_or_else(|_| "[]".into()))
    .bind(&body.sku)
    .bind(body.quantity)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(store_id) = store_id else {
        return Err(ApiError::new(ErrorCode::SoldOut, "附近能配送的门店都卖完了").into());
    };
    let store = p
        .index()
        .get(&store_id)
        .ok_or_else(|| PlatformError::CorruptRow {
            what: format!("store {store_id}"),
            detail: "listed but not in the index".into(),
        })?;
    let delivery = StoreIndex::quote(store, at);
    Ok(LiveQuote {
        store_id: store.id.clone(),
        store_name: store.name.clone(),
        eta_min: delivery.eta_min,
        distance_m: delivery.distance_m,
        delivery_fee_fen: store.fees.fee_fen(
            delivery.distance_m,
            live_price_fen * i64::from(body.quantity),
        ),
    })
}

/// The same request under the same key: the room is part of it, so one key cannot buy in two rooms.
fn canonical(b: &Buy) -> String {
    serde_json::json!({ "live_room": b.room_id, "order": b.body }).to_string()
}

async fn buy_on(conn: &mut SqliteConnection, index: &StoreIndex, b: &Buy) -> Result<Reply> {
    let request = canonical(b);
    let address = match claim(
        conn,
        &b.user_id,
        &b.key,
        &request,
        &b.body.address_id,
        b.now,
    )
    .await?
    {
        Claim::Replay(reply) => return Ok(reply),
        Claim::Proceed(address) => address,
    };
    let placed = match address {
        Ok(address) => place_live(conn, index, b, address).await,
        Err(e) => Err(e.into()),
    };
    settle(conn, &b.user_id, &b.key, placed).await
}

async fn place_live(
    conn: &mut SqliteConnection,
    index: &StoreIndex,
    b: &Buy,
    address: accounts::Address,
) -> Result<String> {
    let quantity = b.body.quantity;
    let unpaid: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE user_id = ? AND status = 'pending_payment' AND expires_at > ?",
    )
    .bind(&b.user_id)
    .bind(b.now)
    .fetch_one(&mut *conn)
    .await?;
    if unpaid >= MAX_UNPAID_ORDERS {
        return Err(ApiError::new(
            ErrorCode::TooManyUnpaid,
            format!("你已有 {unpaid} 笔待支付的订单，请先支付或取消其中一笔再下单"),
        )
        .into());
    }
    // The room's cap: conditional, so concurrent buys never take more than it between them.
    let capped = sqlx::query(
        "UPDATE live_pins SET sold = sold + ?1
         WHERE room_id = ?2 AND sku = ?3 AND current = 1 AND sold + ?1 <= stock_cap
           AND (SELECT status FROM live_rooms WHERE id = ?2) = 'live'
         RETURNING live_price_fen, sold, stock_cap,
                   (SELECT name FROM products WHERE sku = ?3) AS name",
    )
    .bind(quantity)
    .bind(&b.room_id)
    .bind(&b.body.sku)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(capped) = capped else {
        return Err(why_not(conn, b).await?.into());
    };
    if !b.any_candidate {
        return Err(not_deliverable().into());
    }
    // The nearest candidate with enough stock, in one conditional statement (the writer's
    // connection runs nothing else meanwhile, and `stock >= ?1` holds at the update itself).
    let store_id: Option<String> = sqlx::query_scalar(
        "UPDATE store_products SET stock = stock - ?1
         WHERE sku = ?2 AND stock >= ?1 AND store_id = (
             SELECT sp.store_id FROM json_each(?3) j
             JOIN store_products sp ON sp.store_id = j.value AND sp.sku = ?2
             WHERE sp.stock >= ?1 ORDER BY j.key LIMIT 1)
         RETURNING store_id",
    )
    .bind(quantity)
    .bind(&b.body.sku)
    .bind(&b.candidates)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(store_id) = store_id else {
        return Err(ApiError::new(ErrorCode::SoldOut, "附近能配送的门店都卖完了").into());
    };
    let store = index
        .get(&store_id)
        .ok_or_else(|| PlatformError::CorruptRow {
            what: format!("store {store_id}"),
            detail: "listed but not in the index".into(),
        })?;
    let quote = StoreIndex::quote(store, LatLng::new(address.lat, address.lng)?);
    let live_price_fen: i64 = capped.try_get("live_price_fen")?;
    let sold: u32 = capped.try_get("sold")?;
    let stock_cap: u32 = capped.try_get("stock_cap")?;
    let items_fen = live_price_fen * i64::from(quantity);
    let delivery_fee_fen = store.fees.fee_fen(quote.distance_m, items_fen);
    let order = Order {
        id: new_id("ord_"),
        store_id: store.id.clone(),
        store_name: store.name.clone(),
        status: OrderStatus::PendingPayment,
        items: vec![OrderLine {
            sku: b.body.sku.clone(),
            name: capped.try_get("name")?,
            price_fen: live_price_fen,
            quantity,
        }],
        items_fen,
        delivery_fee_fen,
        total_fen: items_fen + delivery_fee_fen,
        address_id: address.id,
        slot: Slot::Asap,
        created_at: rfc3339(b.now),
        pay_before: Some(rfc3339(b.now + PAYMENT_WINDOW_S)),
        eta_min: quote.eta_min,
        group_id: None,
        now: None,
    };
    let corrupt = |e: serde_json::Error| PlatformError::CorruptRow {
        what: format!("order {}", order.id),
        detail: e.to_string(),
    };
    let reply = serde_json::to_string(&order).map_err(corrupt)?;
    let sale = LiveEvent::Sale {
        sale: Sale {
            sku: b.body.sku.clone(),
            buyer: b.buyer.clone(),
            quantity,
            amount_fen: items_fen,
        },
        sold,
        stock_left: stock_cap.saturating_sub(sold),
    };
    let sale = serde_json::to_string(&sale).map_err(corrupt)?;
    // The order, its line, the link to the room, the stored answer and the room's event in one
    // round trip (plain `?`: each statement takes the next arguments).
    let stored = sqlx::query(
        "INSERT INTO orders (id, user_id, store_id, status, address_id, slot, items_fen, delivery_fee_fen,
             total_fen, created_at, expires_at, updated_at, eta_min, dispatch_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL);
         INSERT INTO order_items (order_id, sku, name, price_fen, quantity) VALUES (?, ?, ?, ?, ?);
         INSERT INTO live_sales (order_id, room_id, sku, quantity, amount_fen) VALUES (?, ?, ?, ?, ?);
         UPDATE idempotency_keys SET status = 201, response = ? WHERE user_id = ? AND key = ?;
         INSERT INTO live_events (room_id, seq, json, at)
             SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM live_events WHERE room_id = ?;",
    )
    .bind(&order.id)
    .bind(&b.user_id)
    .bind(&order.store_id)
    .bind(order.status.as_str())
    .bind(&order.address_id)
    .bind(order.slot.to_string())
    .bind(order.items_fen)
    .bind(order.delivery_fee_fen)
    .bind(order.total_fen)
    .bind(b.now)
    .bind(b.now + PAYMENT_WINDOW_S)
    .bind(b.now)
    .bind(order.eta_min)
    .bind(&order.id)
    .bind(&order.items[0].sku)
    .bind(&order.items[0].name)
    .bind(live_price_fen)
    .bind(quantity)
    .bind(&order.id)
    .bind(&b.room_id)
    .bind(&b.body.sku)
    .bind(quantity)
    .bind(items_fen)
    .bind(&reply)
    .bind(&b.user_id)
    .bind(&b.key)
    .bind(&b.room_id)
    .bind(&sale)
    .bind(b.now)
    .bind(&b.room_id)
    .execute(&mut *conn)
    .await?;
    if stored.rows_affected() < 5 {
        return Err(PlatformError::CorruptRow {
            what: format!("live order {}", order.id),
            detail: format!("wrote {} rows, expected 5", stored.rows_affected()),
        });
    }
    Ok(reply)
}

/// Why the cap refused: the room is not live, the SKU is not its current pin, or the cap is spent.
async fn why_not(conn: &mut SqliteConnection, b: &Buy) -> Result<ApiError> {
    let row: Option<(String, Option<i64>)> = sqlx::query_as(
        "SELECT r.status, lp.current FROM live_rooms r
         LEFT JOIN live_pins lp ON lp.room_id = r.id AND lp.sku = ? WHERE r.id = ?",
    )
    .bind(&b.body.sku)
    .bind(&b.room_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => ApiError::not_found("找不到这个直播间"),
        Some((status, _)) if status != "live" => ApiError::new(
            ErrorCode::InvalidState,
            "直播还没开始或已结束，暂时不能购买",
        ),
        Some((_, current)) if current != Some(1) => {
            ApiError::new(ErrorCode::InvalidState, "这件商品已下架")
        }
        Some(_) => ApiError::new(ErrorCode::SoldOut, "直播间的库存已抢完"),
    })
}
