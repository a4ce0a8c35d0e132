//! Placing, listing, paying and cancelling orders.

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
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
        .route(
            routes::AFTER_SALES.pattern(),
            post(after_sales).layer(DefaultBodyLimit::max(
                jishi_api::after_sales::MAX_REQUEST_BYTES,
            )),
        )
        .route(routes::AFTER_SALES_PHOTO.pattern(), get(after_sales_photo))
        .route(
            routes::DEMO_AFTER_SALES_DECISION.pattern(),
            post(demo_after_sales_decision),
        )
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

/// 售后: a multipart form (`lines`, `reason`, `note`, `photo` ×0–3) with an Idempotency-Key.
async fn after_sales(
    State(p): State<Platform>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Result<Response> {
    use jishi_api::after_sales::{MAX_PHOTOS, MAX_PHOTO_BYTES};
    use jishi_api::ErrorCode;
    let user = caller.require_user()?;
    let key = idempotency_key(&headers)?;
    let bad_form = || jishi_api::ApiError::bad_request("售后申请应为 multipart/form-data 表单");
    let mut form = orders::after_sales::Form::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|_| bad_form())? {
        let name = field.name().unwrap_or_default().to_owned();
        // Read in chunks, so an oversized photo is refused without holding more than the cap.
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| bad_form())? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_PHOTO_BYTES {
                return Err(jishi_api::ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("每张照片最大 {} MB", MAX_PHOTO_BYTES / 1024 / 1024),
                )
                .into());
            }
        }
        let text = || String::from_utf8(bytes.clone()).map_err(|_| bad_form());
        match name.as_str() {
            "lines" => form.lines = text()?,
            "reason" => form.reason = text()?,
            "note" => form.note = text()?,
            // A form's empty file input still sends its part, empty: no photo, not a bad one.
            "photo" if bytes.is_empty() => {}
            "photo" if form.photos.len() >= MAX_PHOTOS => {
                return Err(jishi_api::ApiError::bad_request(format!(
                    "最多上传 {MAX_PHOTOS} 张照片"
                ))
                .into())
            }
            "photo" => form.photos.push(bytes),
            _ => {}
        }
    }
    let answer =
        orders::after_sales::request(p.pool(), user, &id, &key, form, p.now_unix()).await?;
    p.notify(Log::Order, &[id]);
    Ok((axum::http::StatusCode::CREATED, Json(answer)).into_response())
}

/// An after-sales photo, for the order's owner only; never stored by a shared cache.
async fn after_sales_photo(
    State(p): State<Platform>,
    caller: Caller,
    Path(token): Path<String>,
) -> Result<Response> {
    let user = caller.require_user()?;
    let jpeg = orders::after_sales::photo(p.pool(), user, &token).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/jpeg"),
            (axum::http::header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        jpeg,
    )
        .into_response())
}

/// Demo mode only: decides an after-sales request in review (its order's owner may).
async fn demo_after_sales_decision(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<jishi_api::after_sales::AfterSalesDecision>,
) -> Result<Json<jishi_api::after_sales::AfterSales>> {
    if !p.demo() {
        return Err(jishi_api::ApiError::not_found("没有这个接口").into());
    }
    let user = caller.require_user()?;
    let (order_id, answer) =
        orders::after_sales::decide(p.pool(), user, &id, body.approve, p.now_unix()).await?;
    p.notify(Log::Order, &[order_id]);
    Ok(Json(answer))
}
