//! Placing, listing, paying and cancelling orders.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jishi_api::orders::{PayOrder, PlaceOrder};

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
