//! Placing a checkout order inside the caller's write transaction: the address and slot checks,
//! the shopper's holds (`write::Holds::check`), the conditional stock decrement in SKU order, and
//! the order written (`write::bind_order`) with the cart's clean-up in one query.

use jishi_api::cart::Items;
use jishi_api::orders::{Order, OrderLine, OrderStatus, PlaceOrder, PAYMENT_WINDOW_S};
use jishi_api::{ApiError, ErrorCode, LatLng};

use super::slots::validate_slot;
use super::write::{bind_order, expect_rows, order_rows, order_sql, to_reply, Holds, NewOrder};
use crate::accounts::{self, new_id};
use crate::clock::rfc3339_utc as rfc3339;
use crate::error::Result;
use crate::sql::{query, Db};
use crate::stores::StoreIndex;

/// Validates and creates the order on `db` (inside the caller's transaction), reserving stock,
/// and stores the answer under the Idempotency-Key. Returns that answer (the order as JSON). Any
/// error leaves its writes for the caller to roll back.
#[allow(clippy::too_many_arguments)]
pub(super) fn place_in(
    db: &Db,
    index: &StoreIndex,
    user_id: &str,
    key: &str,
    body: &PlaceOrder,
    address: accounts::Address,
    holds: Holds,
    now: i64,
) -> Result<String> {
    let items = Items::parse(&body.items, false)?;
    let note = body.note()?;
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
    holds.check()?;

    // Lines are reserved in SKU order, so two orders never take the same rows in opposite orders.
    let mut wanted = items.lines().to_vec();
    wanted.sort();
    let mut lines = Vec::with_capacity(wanted.len());
    for (sku, quantity) in &wanted {
        let Reserved {
            price_fen,
            name,
            image,
        } = reserve(db, &store.id, sku, *quantity)?;
        lines.push(OrderLine {
            sku: sku.clone(),
            name,
            price_fen,
            quantity: *quantity,
            short: 0,
            substitute_for: None,
            image,
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
        note,
        shortage: body.shortage,
        short: Vec::new(),
        substitutes: Vec::new(),
        answer_before: None,
        refunds: Vec::new(),
        refunded_fen: 0,
        after_sales: Vec::new(),
        now: None,
    };
    let reply = to_reply(&format!("order {}", order.id), &order)?;
    let new = NewOrder {
        user_id,
        key,
        order: &order,
        now,
        expires_at: now + PAYMENT_WINDOW_S,
        dispatch_at,
        reply: &reply,
    };
    // What was ordered leaves the cart in the same transaction, so a retry cannot order it twice
    // from a stale cart and a failed order leaves the cart as it was.
    let sql = format!(
        "{};
         DELETE FROM cart_items WHERE owner = ? AND store_id = ?
             AND sku IN (SELECT sku FROM order_items WHERE order_id = ?)",
        order_sql(order.items.len())
    );
    let stored = bind_order(query(sql), &new)
        .bind(user_id)
        .bind(&order.store_id)
        .bind(&order.id)
        .execute(db)?;
    // The cart lines deleted vary; the order, its lines and the answer must all be there.
    expect_rows(stored, order_rows(&order), format!("order {}", order.id))?;
    Ok(reply)
}

/// Takes `quantity` of `sku` from the store's stock for a new order, inside the caller's write
/// transaction; answers the store's price and the product's name. Refused (nothing taken): a
/// product the store does not list, or not enough stock. The shopper's holds are checked before
/// (`write::Holds::check`). Shared by every kind of order that reserves in one store.
/// What a reservation took: the store's price now and the product as an order line shows it.
pub(crate) struct Reserved {
    pub price_fen: i64,
    pub name: String,
    pub image: Option<jishi_api::catalog::Image>,
}

pub(crate) fn reserve(db: &Db, store_id: &str, sku: &str, quantity: u32) -> Result<Reserved> {
    // The conditional decrement: never below zero, whatever else runs concurrently.
    let reserved = query(
        "UPDATE store_products SET stock = stock - ?1 WHERE store_id = ?2 AND sku = ?3 AND stock >= ?1
         RETURNING price_fen, (SELECT name FROM products WHERE sku = ?3) AS name,
                   (SELECT picture FROM products WHERE sku = ?3) AS picture",
    )
    .bind(quantity)
    .bind(store_id)
    .bind(sku)
    .fetch_optional(db)?;
    if let Some(row) = reserved {
        return Ok(Reserved {
            price_fen: row.try_get("price_fen")?,
            name: row.try_get("name")?,
            image: crate::pictures::image(row.try_get::<Option<String>>("picture")?.as_deref()),
        });
    }
    // Refused: say whether the store lacks the product or just enough of it.
    let name: Option<String> = query(
        "SELECT p.name FROM store_products sp JOIN products p ON p.sku = sp.sku
         WHERE sp.store_id = ? AND sp.sku = ?",
    )
    .bind(store_id)
    .bind(sku)
    .fetch_optional(db)?
    .map(|r| r.get(0))
    .transpose()?;
    Err(match name {
        None => ApiError::bad_request(format!("这家门店没有商品 {sku}")),
        Some(name) => ApiError::new(
            ErrorCode::SoldOut,
            format!("「{name}」库存不足，已售罄或剩余不够"),
        ),
    }
    .into())
}
