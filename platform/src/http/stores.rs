//! Nearby stores, a store with its aisles and slots, its products, and product search.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use jishi_api::catalog::{
    ProductsQuery, ProductsQueryRaw, ProductsResponse, SearchHit, SearchQuery, SearchQueryRaw,
    SearchResponse,
};
use jishi_api::hours::{LocalTime, Opening};
use jishi_api::stores::{NearbyQuery, NearbyQueryRaw, NearbyResponse, PointRaw, StoreDetail};
use jishi_api::ApiError;

use crate::error::{PlatformError, Result};
use crate::stores::{opening, StoreIndex};
use crate::{catalog, orders, Platform};

use super::*;
use jishi_api::routes;

/// How many of the nearest delivering stores a product search looks through.
const SEARCH_STORE_LIMIT: usize = 300;

pub fn router() -> Router<Platform> {
    Router::new()
        .route(routes::STORES_NEARBY.pattern(), get(nearby))
        .route(routes::STORE.pattern(), get(store_detail))
        .route(routes::STORE_PRODUCTS.pattern(), get(store_products))
        .route(routes::PRODUCT_SEARCH.pattern(), get(search))
        .route(routes::IMAGE.pattern(), get(image))
}

/// A product picture, like an image CDN answers: the name holds a hash of the bytes, so the
/// answer never changes (`immutable`, a year); the ETag is that hash, and a match is a bare 304.
async fn image(Path(file): Path<String>, headers: HeaderMap) -> Result<axum::response::Response> {
    use axum::http::{HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let picture = crate::pictures::file(&file)
        .ok_or_else(|| PlatformError::from(ApiError::not_found("没有这张图片")))?;
    let etag = format!("\"{}\"", picture.hash());
    let cached = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let common = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).map_err(|e| PlatformError::CorruptRow {
                what: file.clone(),
                detail: e.to_string(),
            })?,
        ),
    ];
    Ok(if cached {
        (StatusCode::NOT_MODIFIED, common).into_response()
    } else {
        (
            common,
            [(header::CONTENT_TYPE, HeaderValue::from_static("image/webp"))],
            picture.bytes,
        )
            .into_response()
    })
}

async fn nearby(
    State(p): State<Platform>,
    ApiQuery(raw): ApiQuery<NearbyQueryRaw>,
) -> Result<Json<NearbyResponse>> {
    let q = NearbyQuery::parse(&raw)?;
    Ok(Json(p.index().nearby(&q, p.clock().store_local_now())))
}

fn unknown_store(id: &str) -> PlatformError {
    ApiError::not_found(format!("找不到门店 {id}")).into()
}

async fn store_detail(
    State(p): State<Platform>,
    Path(id): Path<String>,
    ApiQuery(point): ApiQuery<PointRaw>,
) -> Result<Json<StoreDetail>> {
    let at = point.parse()?;
    let store = p.index().get(&id).ok_or_else(|| unknown_store(&id))?;
    let now: LocalTime = p.clock().store_local_now();
    let open_now = store.hours.is_open(now);
    let opens = opening(store, now, open_now);
    Ok(Json(StoreDetail {
        open_now,
        is_24h: store.hours.is_24h(),
        opens_at: opens.map(Opening::describe),
        opens,
        today_hours: store.hours.describe_day(now.weekday),
        today: Some(store.hours.days()[usize::from(now.weekday % 7)]),
        aisles: catalog::aisles(p.pool(), &id).await?,
        quote: at.map(|at| StoreIndex::quote(store, at)),
        slots: orders::delivery_slots(store, p.clock().now()),
        store: store.clone(),
    }))
}

async fn store_products(
    State(p): State<Platform>,
    Path(id): Path<String>,
    ApiQuery(raw): ApiQuery<ProductsQueryRaw>,
) -> Result<Json<ProductsResponse>> {
    let q = ProductsQuery::parse(&raw)?;
    if p.index().get(&id).is_none() {
        return Err(unknown_store(&id));
    }
    Ok(Json(catalog::store_products(p.pool(), &id, &q).await?))
}

async fn search(
    State(p): State<Platform>,
    ApiQuery(raw): ApiQuery<SearchQueryRaw>,
) -> Result<Json<SearchResponse>> {
    let q = SearchQuery::parse(&raw)?;
    let now = p.clock().store_local_now();
    let mut stores = p.index().all_delivering(&NearbyQuery::new(q.at), now);
    stores.truncate(SEARCH_STORE_LIMIT);
    let ids: Vec<&str> = stores.iter().map(|s| s.id.as_str()).collect();
    let found = catalog::in_stock_matching(p.pool(), &q.q, &ids).await?;
    let by_id: std::collections::HashMap<&str, &jishi_api::stores::StoreSummary> =
        stores.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut results: Vec<SearchHit> = found
        .into_iter()
        .filter_map(|(store_id, product)| {
            let store = (*by_id.get(store_id.as_str())?).clone();
            Some(SearchHit { store, product })
        })
        .collect();
    // Fastest first; among equally fast, cheapest; open stores before closed ones.
    results.sort_by(|a, b| {
        (
            !a.store.open_now,
            a.store.eta_min,
            a.product.price_fen,
            &a.store.id,
            &a.product.sku,
        )
            .cmp(&(
                !b.store.open_now,
                b.store.eta_min,
                b.product.price_fen,
                &b.store.id,
                &b.product.sku,
            ))
    });
    results.truncate(q.limit as usize);
    Ok(Json(SearchResponse { results }))
}
