//! Carts, one per (owner, store), kept by the platform so they survive reloads, tabs and sign-in.

use jishi_api::cart::{
    Cart, CartLine, CartsResponse, Items, PutCart, Reorder, ReorderChange, ReorderChangeKind,
    MAX_QUANTITY_PER_ITEM as MAX_QUANTITY,
};
use jishi_api::{ApiError, ErrorCode};
use sqlx::{Row, SqlitePool};

use crate::error::Result;
use crate::stores::StoreIndex;

pub async fn get(
    pool: &SqlitePool,
    index: &StoreIndex,
    owner: &str,
    store_id: &str,
) -> Result<Cart> {
    let store = index
        .get(store_id)
        .ok_or_else(|| ApiError::not_found(format!("找不到门店 {store_id}")))?;
    let rows = sqlx::query(
        "SELECT c.sku, p.name, p.unit, p.picture, sp.price_fen, c.quantity, sp.stock
         FROM cart_items c
         JOIN store_products sp ON sp.store_id = c.store_id AND sp.sku = c.sku
         JOIN products p ON p.sku = c.sku
         WHERE c.owner = ? AND c.store_id = ? ORDER BY c.sku",
    )
    .bind(owner)
    .bind(store_id)
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            let price_fen: i64 = r.try_get("price_fen")?;
            let quantity: u32 = r.try_get("quantity")?;
            Ok(CartLine {
                sku: r.try_get("sku")?,
                name: r.try_get("name")?,
                unit: r.try_get("unit")?,
                price_fen,
                quantity,
                stock: r.try_get("stock")?,
                line_fen: price_fen * i64::from(quantity),
                image: crate::pictures::image(r.try_get::<Option<&str>, _>("picture")?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let items_fen = items.iter().map(|l| l.line_fen).sum();
    Ok(Cart {
        store_id: store.id.clone(),
        store_name: store.name.clone(),
        items,
        items_fen,
        min_order_fen: store.min_order_fen,
        meets_minimum: items_fen >= store.min_order_fen,
        fees: Some(store.fees.clone()),
    })
}

/// Replaces the owner's cart for the store. Quantities above the store's stock are lowered to
/// it (the answer says so through `stock`); an item with no stock at all is refused.
pub async fn put(
    pool: &SqlitePool,
    index: &StoreIndex,
    owner: &str,
    store_id: &str,
    body: &PutCart,
    now: i64,
) -> Result<Cart> {
    let items = Items::parse(&body.items, true)?;
    if index.get(store_id).is_none() {
        return Err(ApiError::not_found(format!("找不到门店 {store_id}")).into());
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM cart_items WHERE owner = ? AND store_id = ?")
        .bind(owner)
        .bind(store_id)
        .execute(&mut *tx)
        .await?;
    for (sku, quantity) in items.lines() {
        let stock: Option<(u32, String)> = sqlx::query_as(
            "SELECT sp.stock, p.name FROM store_products sp JOIN products p ON p.sku = sp.sku
             WHERE sp.store_id = ? AND sp.sku = ?",
        )
        .bind(store_id)
        .bind(sku)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((stock, name)) = stock else {
            return Err(ApiError::bad_request(format!("这家门店没有商品 {sku}")).into());
        };
        if stock == 0 {
            return Err(ApiError::new(ErrorCode::SoldOut, format!("「{name}」已售罄")).into());
        }
        sqlx::query("INSERT INTO cart_items (owner, store_id, sku, quantity, updated_at) VALUES (?, ?, ?, ?, ?)")
            .bind(owner)
            .bind(store_id)
            .bind(sku)
            .bind((*quantity).min(stock))
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    get(pool, index, owner, store_id).await
}

/// Reorder (再来一单): fills the user's cart at the order's store with the order's lines (a
/// substitute's original line, not the substitute) that the store still lists and has in stock,
/// each at least at the quantity ordered (lowered to the stock), and says what changed: sold
/// out or no longer listed (left out), dearer or cheaper than ordered. Another user's order is
/// not found. Asking twice leaves the same cart.
pub async fn reorder(
    pool: &SqlitePool,
    index: &StoreIndex,
    user_id: &str,
    order_id: &str,
    now: i64,
) -> Result<Reorder> {
    let order = crate::orders::get(pool, user_id, order_id).await?;
    let mut changes = Vec::new();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for line in order.items.iter().filter(|l| l.substitute_for.is_none()) {
        let listed: Option<(i64, u32)> = sqlx::query_as(
            "SELECT price_fen, stock FROM store_products WHERE store_id = ? AND sku = ?",
        )
        .bind(&order.store_id)
        .bind(&line.sku)
        .fetch_optional(&mut *tx)
        .await?;
        let change = |change| ReorderChange {
            sku: line.sku.clone(),
            name: line.name.clone(),
            change,
        };
        let (price_fen, stock) = match listed {
            None => {
                changes.push(change(ReorderChangeKind::Unlisted));
                continue;
            }
            Some((_, 0)) => {
                changes.push(change(ReorderChangeKind::SoldOut));
                continue;
            }
            Some(listed) => listed,
        };
        match price_fen.cmp(&line.price_fen) {
            std::cmp::Ordering::Greater => changes.push(change(ReorderChangeKind::PriceUp)),
            std::cmp::Ordering::Less => changes.push(change(ReorderChangeKind::PriceDown)),
            std::cmp::Ordering::Equal => {}
        }
        let quantity = line.quantity.min(stock).min(MAX_QUANTITY);
        sqlx::query(
            "INSERT INTO cart_items (owner, store_id, sku, quantity, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (owner, store_id, sku)
             DO UPDATE SET quantity = MAX(quantity, MIN(?4, ?6)), updated_at = ?5",
        )
        .bind(user_id)
        .bind(&order.store_id)
        .bind(&line.sku)
        .bind(quantity)
        .bind(now)
        .bind(stock.min(MAX_QUANTITY))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let cart = get(pool, index, user_id, &order.store_id).await?;
    Ok(Reorder {
        store_id: cart.store_id,
        items: cart.items,
        changes,
    })
}

/// Every non-empty cart of the owner, most recently changed first.
pub async fn all(pool: &SqlitePool, index: &StoreIndex, owner: &str) -> Result<CartsResponse> {
    let stores: Vec<String> = sqlx::query_scalar(
        "SELECT store_id FROM cart_items WHERE owner = ? GROUP BY store_id ORDER BY MAX(updated_at) DESC, store_id",
    )
    .bind(owner)
    .fetch_all(pool)
    .await?;
    let mut carts = Vec::with_capacity(stores.len());
    for store_id in stores {
        carts.push(get(pool, index, owner, &store_id).await?);
    }
    Ok(CartsResponse { carts })
}
