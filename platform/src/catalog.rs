//! Products and stock, read from SQLite, each with its store's group-buy offer if it has one.

use jishi_api::catalog::{Product, ProductsQuery, ProductsResponse};
use jishi_api::groups::GroupOffer;
use sqlx::{Row, SqlitePool};

use crate::error::Result;

fn product_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Product> {
    let size: Option<u32> = row.try_get("group_size")?;
    let price_fen: Option<i64> = row.try_get("group_price_fen")?;
    Ok(Product {
        group: size
            .zip(price_fen)
            .map(|(size, price_fen)| GroupOffer { size, price_fen }),
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        category: row.try_get("aisle")?,
        price_fen: row.try_get("price_fen")?,
        stock: row.try_get("stock")?,
        unit: row.try_get("unit")?,
        image: crate::pictures::image(row.try_get::<Option<&str>, _>("picture")?),
    })
}

/// `%` and `_` in a shopper's phrase are literal characters, not wildcards.
fn like_pattern(q: &str) -> String {
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// One page of a store's products, ordered by SKU (SKUs are numbered aisle by aisle).
pub async fn store_products(
    pool: &SqlitePool,
    store_id: &str,
    q: &ProductsQuery,
) -> Result<ProductsResponse> {
    let pattern = q.q.as_deref().map(like_pattern);
    let rows = sqlx::query(
        "SELECT sp.sku, p.name, p.aisle, sp.price_fen, sp.stock, p.unit, p.picture,
                go.size AS group_size, go.price_fen AS group_price_fen
         FROM store_products sp JOIN products p ON p.sku = sp.sku
         LEFT JOIN group_offers go ON go.store_id = sp.store_id AND go.sku = sp.sku
         WHERE sp.store_id = ?1
           AND (?2 IS NULL OR p.aisle = ?2)
           AND (?3 IS NULL OR p.name LIKE ?3 ESCAPE '\\')
           AND (?4 IS NULL OR sp.sku > ?4)
         ORDER BY sp.sku
         LIMIT ?5",
    )
    .bind(store_id)
    .bind(q.category.as_deref())
    .bind(pattern)
    .bind(q.cursor.as_deref())
    .bind(i64::from(q.limit) + 1)
    .fetch_all(pool)
    .await?;
    let mut products = rows
        .iter()
        .map(product_from_row)
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = if products.len() > q.limit as usize {
        products.truncate(q.limit as usize);
        products.last().map(|p| p.sku.clone())
    } else {
        None
    };
    Ok(ProductsResponse {
        products,
        next_cursor,
    })
}

/// The store's aisles in shelf order, for the category rail.
pub async fn aisles(pool: &SqlitePool, store_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT p.aisle FROM store_products sp JOIN products p ON p.sku = sp.sku
         WHERE sp.store_id = ? GROUP BY p.aisle ORDER BY MIN(sp.sku)",
    )
    .bind(store_id)
    .fetch_all(pool)
    .await?)
}

/// In-stock products matching `q` in any of `store_ids`: (store id, product).
pub async fn in_stock_matching(
    pool: &SqlitePool,
    q: &str,
    store_ids: &[&str],
) -> Result<Vec<(String, Product)>> {
    if store_ids.is_empty() {
        return Ok(Vec::new());
    }
    // One bound JSON array instead of a variable-length IN list: a single prepared statement.
    let ids = serde_json::Value::from(store_ids.to_vec()).to_string();
    let rows = sqlx::query(
        "SELECT sp.store_id, sp.sku, p.name, p.aisle, sp.price_fen, sp.stock, p.unit, p.picture,
                go.size AS group_size, go.price_fen AS group_price_fen
         FROM products p JOIN store_products sp ON sp.sku = p.sku
         LEFT JOIN group_offers go ON go.store_id = sp.store_id AND go.sku = sp.sku
         WHERE p.name LIKE ?1 ESCAPE '\\' AND sp.stock > 0
           AND sp.store_id IN (SELECT value FROM json_each(?2))",
    )
    .bind(like_pattern(q))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("store_id")?, product_from_row(row)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_a_phrase_are_escaped() {
        assert_eq!(like_pattern("100%_纯"), "%100\\%\\_纯%");
    }
}
