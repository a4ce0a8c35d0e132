//! The v1 HTTP API (PRODUCT.md). Handlers are thin: validate with `jishi_api`, ask the index or SQLite.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use jishi_api::catalog::{
    ProductsQuery, ProductsQueryRaw, ProductsResponse, SearchHit, SearchQuery, SearchQueryRaw,
    SearchResponse,
};
use jishi_api::hours::LocalTime;
use jishi_api::stores::{NearbyQuery, NearbyQueryRaw, NearbyResponse, StoreDetail};
use jishi_api::{ApiError, LatLng};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tower_http::trace::TraceLayer;

use crate::error::{PlatformError, Result};
use crate::stores::{opens_at, StoreIndex};
use crate::{catalog, Platform};

/// How many of the nearest delivering stores a product search looks through.
const SEARCH_STORE_LIMIT: usize = 300;

pub fn router(platform: Platform) -> Router {
    Router::new()
        .route("/v1/stores/nearby", get(nearby))
        .route("/v1/stores/{id}", get(store_detail))
        .route("/v1/stores/{id}/products", get(store_products))
        .route("/v1/products/search", get(search))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { PlatformError::from(ApiError::not_found("没有这个接口")) })
        .layer(TraceLayer::new_for_http())
        .with_state(platform)
}

/// `Query` whose rejection is our JSON error, so malformed query strings get the same shape as all else.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = PlatformError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::bad_request(format!("查询参数无效：{e}")).into())
    }
}

async fn nearby(
    State(p): State<Platform>,
    ApiQuery(raw): ApiQuery<NearbyQueryRaw>,
) -> Result<Json<NearbyResponse>> {
    let q = NearbyQuery::parse(&raw)?;
    Ok(Json(p.index().nearby(&q, p.clock().store_local_now())))
}

#[derive(Deserialize, Default)]
struct PointRaw {
    lat: Option<String>,
    lng: Option<String>,
}

fn optional_point(raw: &PointRaw) -> Result<Option<LatLng>> {
    if raw.lat.is_none() && raw.lng.is_none() {
        return Ok(None);
    }
    Ok(Some(LatLng::parse(raw.lat.as_deref(), raw.lng.as_deref())?))
}

fn unknown_store(id: &str) -> PlatformError {
    ApiError::not_found(format!("找不到门店 {id}")).into()
}

async fn store_detail(
    State(p): State<Platform>,
    Path(id): Path<String>,
    ApiQuery(point): ApiQuery<PointRaw>,
) -> Result<Json<StoreDetail>> {
    let at = optional_point(&point)?;
    let store = p.index().get(&id).ok_or_else(|| unknown_store(&id))?;
    let now: LocalTime = p.clock().store_local_now();
    let open_now = store.hours.is_open(now);
    Ok(Json(StoreDetail {
        open_now,
        is_24h: store.hours.is_24h(),
        opens_at: opens_at(store, now, open_now),
        today_hours: store.hours.describe_day(now.weekday),
        aisles: catalog::aisles(p.pool(), &id).await?,
        quote: at.map(|at| StoreIndex::quote(store, at)),
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
    let mut nearby = NearbyQuery::new(q.at);
    nearby.open_now = false;
    let mut stores = p.index().all_delivering(&nearby, now);
    stores.truncate(SEARCH_STORE_LIMIT);
    let ids: Vec<&str> = stores.iter().map(|s| s.id.as_str()).collect();
    let found = catalog::in_stock_matching(p.pool(), &q.q, &ids).await?;
    let mut results: Vec<SearchHit> = found
        .into_iter()
        .filter_map(|(store_id, product)| {
            let store = stores.iter().find(|s| s.id == store_id)?.clone();
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
