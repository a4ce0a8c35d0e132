//! `GET /v1/orders/{id}/events`: an order's tracking events, through the one feed.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::accounts::Caller;
use crate::error::Result;
use crate::event_log::Log;
use crate::{feed, orders, Platform};

use super::*;
use jishi_api::routes;

pub fn router() -> Router<Platform> {
    Router::new().route(routes::ORDER_EVENTS.pattern(), get(order_events))
}

/// `GET /v1/orders/{id}/events`: the order's events as SSE, from the resume point on, until the
/// order is delivered, cancelled or refunded (resumed at or past a finished order's last event, the
/// final event is sent again and the stream ends), or until the platform shuts down (a last
/// `shutdown` event). Within the session's and the client address's stream caps; more: 429.
async fn order_events(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<jishi_api::events::ResumeQuery>,
) -> Result<impl IntoResponse> {
    let user = caller.require_user()?;
    let after = resume_point(&headers, &query)?;
    // Ownership first: another user's order is a 404 here as everywhere.
    orders::get(p.pool(), user, &id).await?;
    let holder = stream_holder(Some(&caller), &headers);
    feed::open(p, Log::Order, id, after, &holder).await
}
