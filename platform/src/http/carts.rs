//! One cart per shopper and store.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use jishi_api::cart::PutCart;

use crate::accounts::Caller;
use crate::error::Result;
use crate::{carts, Platform};

use super::*;
use jishi_api::routes;

pub fn router() -> Router<Platform> {
    Router::new()
        .route(routes::CARTS.pattern(), get(list_carts))
        .route(routes::CART.pattern(), get(get_cart).put(put_cart))
}

async fn list_carts(
    State(p): State<Platform>,
    caller: Caller,
) -> Result<Json<jishi_api::cart::CartsResponse>> {
    Ok(Json(carts::all(p.pool(), p.index(), caller.owner()).await?))
}

async fn get_cart(
    State(p): State<Platform>,
    caller: Caller,
    Path(store_id): Path<String>,
) -> Result<Json<jishi_api::cart::Cart>> {
    Ok(Json(
        carts::get(p.pool(), p.index(), caller.owner(), &store_id).await?,
    ))
}

async fn put_cart(
    State(p): State<Platform>,
    caller: Caller,
    Path(store_id): Path<String>,
    ApiJson(body): ApiJson<PutCart>,
) -> Result<Json<jishi_api::cart::Cart>> {
    Ok(Json(
        carts::put(
            p.pool(),
            p.index(),
            caller.owner(),
            &store_id,
            &body,
            p.now_unix(),
        )
        .await?,
    ))
}
