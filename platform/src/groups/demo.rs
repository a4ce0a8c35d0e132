//! The demo city's group-buy offers: every third Beijing store offers its three best-stocked
//! products of 3 yuan or more, in groups of 2–5 (bigger groups, bigger discounts: 90% of the
//! store's price for two, down to 75% for five, in whole jiao). Derived from the seeded listings by
//! one statement, so it is deterministic and leaves the generated city (and its fingerprint) alone.

use sqlx::SqlitePool;

use crate::error::Result;

/// Adds the offers once, to a database that has none (a store's offers are then left as they are).
pub async fn seed_offers(pool: &SqlitePool) -> Result<u64> {
    let added = sqlx::query(
        "INSERT INTO group_offers (store_id, sku, size, price_fen)
         SELECT store_id, sku, size, (price_fen * (90 - 5 * (size - 2)) / 100) / 10 * 10
         FROM (
             SELECT sp.store_id, sp.sku, sp.price_fen,
                    2 + (CAST(substr(sp.store_id, 3) AS INTEGER) + ROW_NUMBER() OVER w) % 4 AS size,
                    ROW_NUMBER() OVER w AS rank
             FROM store_products sp JOIN stores s ON s.id = sp.store_id
             WHERE s.city = '北京' AND CAST(substr(sp.store_id, 3) AS INTEGER) % 3 = 0
               AND sp.price_fen >= 300 AND sp.stock >= 20
             WINDOW w AS (PARTITION BY sp.store_id ORDER BY sp.stock DESC, sp.sku)
         )
         WHERE rank <= 3 AND NOT EXISTS (SELECT 1 FROM group_offers)",
    )
    .execute(pool)
    .await?
    .rows_affected();
    if added > 0 {
        tracing::info!(offers = added, "demo group-buy offers seeded");
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_api::groups::GroupOffer;

    #[tokio::test]
    async fn offers_are_seeded_once_in_many_stores_and_categories_and_are_valid() {
        let pool = crate::db::open("sqlite::memory:").await.expect("db");
        let data = crate::demo::beijing(crate::DEMO_SEED);
        crate::db::insert_catalog(&pool, &data.stores, &data.products, &data.listings)
            .await
            .expect("catalogue");
        let added = seed_offers(&pool).await.expect("offers");
        assert!(added >= 200, "{added} offers");
        assert_eq!(seed_offers(&pool).await.expect("again"), 0, "only once");
        let (stores, categories, sizes): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(DISTINCT go.store_id), COUNT(DISTINCT s.category), COUNT(DISTINCT go.size)
             FROM group_offers go JOIN stores s ON s.id = go.store_id",
        )
        .fetch_one(&pool)
        .await
        .expect("counts");
        assert!(stores >= 100, "{stores} stores");
        assert_eq!(categories, 11);
        assert_eq!(sizes, 4, "sizes 2 to 5 all occur");
        let offers: Vec<(u32, i64, i64)> = sqlx::query_as(
            "SELECT go.size, go.price_fen, sp.price_fen FROM group_offers go
             JOIN store_products sp ON sp.store_id = go.store_id AND sp.sku = go.sku",
        )
        .fetch_all(&pool)
        .await
        .expect("offers");
        for (size, price_fen, regular) in offers {
            GroupOffer { size, price_fen }
                .validate(regular)
                .expect("a valid offer");
            assert_eq!(price_fen % 10, 0);
        }
    }
}
