//! Placing, listing, paying and cancelling orders.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jishi_api::orders::{DemoShort, PayOrder, PlaceOrder, ShortageAnswer};

use crate::accounts::Caller;
use crate::error::Result;
use crate::event_log::Log;
use crate::{orders, Platform};
use jishi_api::orders::{Order, OrdersResponse};

use super::*;
use jishi_api::routes;

pub fn router() -> Router<Platform> {
    Router::new()
        .route(routes::ORDERS.pattern(), get(list_orders).post(place_order))
        .route(routes::ORDER.pattern(), get(get_order))
        .route(routes::PAY_ORDER.pattern(), post(pay_order))
        .route(routes::CANCEL_ORDER.pattern(), post(cancel_order))
        .route(routes::ORDER_SHORTAGE.pattern(), post(answer_shortage))
        .route(routes::REORDER.pattern(), post(reorder))
        .route(routes::DEMO_ORDER_SHORT.pattern(), post(demo_short))
}

async fn place_order(
    State(p): State<Platform>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlaceOrder>,
) -> Result<Response> {
    let user = caller.require_user()?;
    let key = idempotency_key(&headers)?;
    p.order_limiter().check(user, &client_ip(&headers))?;
    let reply = orders::place_idempotent(
        p.writer(),
        p.index().clone(),
        user,
        &key,
        body,
        p.now_unix(),
    )
    .await?;
    Ok(reply.at(p.now_unix()).into_response())
}

/// Orders keep the store's id; its name comes from the index (stores do not change while we run).
/// The order as answered: its store's name (rows keep only the id), and the platform's clock now,
/// for the time left to pay.
fn named(p: &Platform, mut order: Order) -> Order {
    if let Some(store) = p.index().get(&order.store_id) {
        order.store_name = store.name.clone();
    }
    order.now = Some(crate::clock::rfc3339_utc(p.now_unix()));
    order
}

async fn list_orders(State(p): State<Platform>, caller: Caller) -> Result<Json<OrdersResponse>> {
    let user = caller.require_user()?;
    Ok(Json(OrdersResponse {
        orders: orders::list(p.pool(), user)
            .await?
            .into_iter()
            .map(|o| named(&p, o))
            .collect(),
    }))
}

async fn get_order(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<jishi_api::orders::Order>> {
    let user = caller.require_user()?;
    Ok(Json(named(&p, orders::get(p.pool(), user, &id).await?)))
}

async fn pay_order(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PayOrder>,
) -> Result<Json<jishi_api::orders::Order>> {
    let user = caller.require_user()?;
    let order = named(
        &p,
        orders::pay(
            p.pool(),
            p.writer(),
            p.index(),
            user,
            &id,
            body.method,
            p.now_unix(),
        )
        .await?,
    );
    p.notify(Log::Order, &[id]);
    if let Some(group_id) = &order.group_id {
        p.notify_one(Log::Group, group_id);
    }
    Ok(Json(order))
}

async fn cancel_order(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<jishi_api::orders::Order>> {
    let user = caller.require_user()?;
    let order = named(&p, orders::cancel(p.pool(), user, &id, p.now_unix()).await?);
    p.notify(Log::Order, &[id]);
    if let Some(group_id) = &order.group_id {
        p.notify_one(Log::Group, group_id);
    }
    Ok(Json(order))
}

/// The shopper's answer for a short line while the order waits for it.
async fn answer_shortage(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ShortageAnswer>,
) -> Result<Json<Order>> {
    let user = caller.require_user()?;
    let order = orders::shortage::answer(p.pool(), user, &id, &body, p.now_unix()).await?;
    p.notify(Log::Order, &[id]);
    Ok(Json(named(&p, order)))
}

/// 再来一单: the order's store's cart filled again.
async fn reorder(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<jishi_api::cart::Reorder>> {
    let user = caller.require_user()?;
    Ok(Json(
        crate::carts::reorder(p.pool(), p.index(), user, &id, p.now_unix()).await?,
    ))
}

/// Demo mode only: a line of the caller's order comes up short at picking. Not found otherwise,
/// as if the route did not exist.
async fn demo_short(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DemoShort>,
) -> Result<Json<Order>> {
    if !p.demo() {
        return Err(jishi_api::ApiError::not_found("没有这个接口").into());
    }
    let user = caller.require_user()?;
    let order = orders::shortage::plan(p.pool(), user, &id, &body).await?;
    Ok(Json(named(&p, order)))
}
