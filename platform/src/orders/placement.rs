//! Placing an order inside the caller's write transaction: the unpaid-order cap, the address and
//! slot checks, the conditional stock decrement, and the rows written in one round trip.

use jishi_api::cart::Items;
use jishi_api::orders::{
    Order, OrderLine, OrderStatus, PlaceOrder, MAX_UNPAID_ORDERS, PAYMENT_WINDOW_S,
};
use jishi_api::{ApiError, ErrorCode, LatLng};
use sqlx::{Row, SqliteConnection};

use super::slots::validate_slot;
use crate::accounts::{self, new_id};
use crate::clock::rfc3339_utc as rfc3339;
use crate::error::{PlatformError, Result};
use crate::stores::StoreIndex;

/// Validates and creates the order on `conn` (inside the caller's transaction), reserving stock,
/// and stores the answer under the Idempotency-Key. Returns that answer (the order as JSON). Any
/// error leaves its writes for the caller to roll back.
pub(super) async fn place_in(
    conn: &mut SqliteConnection,
    index: &StoreIndex,
    user_id: &str,
    key: &str,
    body: &PlaceOrder,
    address: accounts::Address,
    now: i64,
) -> Result<String> {
    let items = Items::parse(&body.items, false)?;
    let store = index
        .get(&body.store_id)
        .ok_or_else(|| ApiError::not_found(format!("找不到门店 {}", body.store_id)))?;
    let to = LatLng::new(address.lat, address.lng)?;
    let quote = StoreIndex::quote(store, to);
    if !quote.delivers {
        return Err(ApiError::new(
            ErrorCode::OutOfDeliveryRange,
            format!(
                "这个地址距离门店 {:.1} 公里，超出了门店的配送范围（{:.1} 公里）",
                f64::from(quote.distance_m) / 1000.0,
                f64::from(store.delivery_radius_m) / 1000.0
            ),
        )
        .into());
    }
    let slot = validate_slot(body.slot, store, now)?;

    let mut lines = Vec::with_capacity(items.lines().len());
    for (sku, quantity) in items.lines() {
        let (price_fen, name) = reserve(conn, &store.id, sku, *quantity, user_id, now).await?;
        lines.push(OrderLine {
            sku: sku.clone(),
            name,
            price_fen,
            quantity: *quantity,
        });
    }
    let items_fen: i64 = lines
        .iter()
        .map(|l| l.price_fen * i64::from(l.quantity))
        .sum();
    if items_fen < store.min_order_fen {
        return Err(ApiError::bad_request(format!(
            "还差 {} 起送",
            jishi_api::money::format_yuan(store.min_order_fen - items_fen)
        ))
        .into());
    }
    let delivery_fee_fen = store.fees.fee_fen(quote.distance_m, items_fen);
    // A scheduled order leaves the store in time to arrive at its slot's start; until then it
    // waits in `paid` (the dispatch simulator skips it). "As soon as possible" moves at once.
    let dispatch_at = slot
        .start()
        .map(|start| start - i64::from(quote.eta_min) * 60);
    let order = Order {
        id: new_id("ord_"),
        store_id: store.id.clone(),
        store_name: store.name.clone(),
        status: OrderStatus::PendingPayment,
        items: lines,
        items_fen,
        delivery_fee_fen,
        total_fen: items_fen + delivery_fee_fen,
        address_id: address.id,
        slot,
        created_at: rfc3339(now),
        pay_before: Some(rfc3339(now + PAYMENT_WINDOW_S)),
        eta_min: quote.eta_min,
        group_id: None,
        now: None,
    };
    let reply = serde_json::to_string(&order).map_err(|e| PlatformError::CorruptRow {
        what: format!("order {}", order.id),
        detail: e.to_string(),
    })?;
    // The order, its lines, the cart clean-up and the stored answer go to SQLite as one
    // multi-statement query: one round trip to the connection's worker thread instead of four.
    // Placeholders are plain `?`: sqlx hands each statement the next arguments in turn.
    let mut sql = String::from(
        "INSERT INTO orders (id, user_id, store_id, status, address_id, slot, items_fen, delivery_fee_fen,
             total_fen, created_at, expires_at, updated_at, eta_min, dispatch_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
         INSERT INTO order_items (order_id, sku, name, price_fen, quantity) VALUES ",
    );
    sql.push_str(&vec!["(?, ?, ?, ?, ?)"; order.items.len()].join(", "));
    // What was ordered leaves the cart in the same transaction, so a retry cannot order it twice
    // from a stale cart and a failed order leaves the cart as it was.
    sql.push_str(
        ";
         DELETE FROM cart_items WHERE owner = ? AND store_id = ?
             AND sku IN (SELECT sku FROM order_items WHERE order_id = ?);
         UPDATE idempotency_keys SET status = 201, response = ? WHERE user_id = ? AND key = ?;",
    );
    let mut query = sqlx::query(&sql)
        .bind(&order.id)
        .bind(user_id)
        .bind(&order.store_id)
        .bind(order.status.as_str())
        .bind(&order.address_id)
        .bind(order.slot.to_string())
        .bind(order.items_fen)
        .bind(order.delivery_fee_fen)
        .bind(order.total_fen)
        .bind(now)
        .bind(now + PAYMENT_WINDOW_S)
        .bind(now)
        .bind(quote.eta_min)
        .bind(dispatch_at);
    for line in &order.items {
        query = query
            .bind(&order.id)
            .bind(&line.sku)
            .bind(&line.name)
            .bind(line.price_fen)
            .bind(line.quantity);
    }
    let stored = query
        .bind(user_id)
        .bind(&order.store_id)
        .bind(&order.id)
        .bind(&reply)
        .bind(user_id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    // Order + lines + the stored answer (cart lines deleted vary): a miss would be a bug here.
    let expected = 1 + order.items.len() as u64 + 1;
    if stored.rows_affected() < expected {
        return Err(PlatformError::CorruptRow {
            what: format!("order {}", order.id),
            detail: format!(
                "wrote {} rows, expected at least {expected}",
                stored.rows_affected()
            ),
        });
    }
    Ok(reply)
}

/// Takes `quantity` of `sku` from the store's stock for `user_id`'s new order, inside the caller's
/// write transaction; answers the store's price and the product's name. Refused (nothing taken):
/// the shopper's unpaid-order cap, a product the store does not list, or not enough stock.
/// Shared by every kind of order that reserves in one store (orders, group buys).
pub(crate) async fn reserve(
    conn: &mut SqliteConnection,
    store_id: &str,
    sku: &str,
    quantity: u32,
    user_id: &str,
    now: i64,
) -> Result<(i64, String)> {
    // The conditional decrement: never below zero, whatever else runs concurrently. It also
    // enforces the unpaid-order cap: counted inside this write transaction (BEGIN IMMEDIATE),
    // concurrent orders of one shopper see each other and never exceed it between them. One
    // statement, so the cap costs no round trip while the write lock is held.
    let reserved = sqlx::query(
        "UPDATE store_products SET stock = stock - ?1 WHERE store_id = ?2 AND sku = ?3 AND stock >= ?1
           AND (SELECT COUNT(*) FROM orders
                WHERE user_id = ?4 AND status = 'pending_payment' AND expires_at > ?5) < ?6
         RETURNING price_fen, (SELECT name FROM products WHERE sku = ?3) AS name",
    )
    .bind(quantity)
    .bind(store_id)
    .bind(sku)
    .bind(user_id)
    .bind(now)
    .bind(MAX_UNPAID_ORDERS)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = reserved {
        return Ok((row.try_get("price_fen")?, row.try_get("name")?));
    }
    // Refused: the cap, or say whether the store lacks the product or just enough of it.
    let why = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM orders
                 WHERE user_id = ? AND status = 'pending_payment' AND expires_at > ?) AS unpaid,
                (SELECT p.name FROM store_products sp JOIN products p ON p.sku = sp.sku
                 WHERE sp.store_id = ? AND sp.sku = ?) AS name",
    )
    .bind(user_id)
    .bind(now)
    .bind(store_id)
    .bind(sku)
    .fetch_one(&mut *conn)
    .await?;
    let unpaid: i64 = why.try_get("unpaid")?;
    let name: Option<String> = why.try_get("name")?;
    Err(match name {
        _ if unpaid >= MAX_UNPAID_ORDERS => ApiError::new(
            ErrorCode::TooManyUnpaid,
            format!("你已有 {unpaid} 笔待支付的订单，请先支付或取消其中一笔再下单"),
        ),
        None => ApiError::bad_request(format!("这家门店没有商品 {sku}")),
        Some(name) => ApiError::new(
            ErrorCode::SoldOut,
            format!("「{name}」库存不足，已售罄或剩余不够"),
        ),
    }
    .into())
}
