//! Live rooms under `/v1/live`: reading rooms, the room's event stream (SSE), comments, likes,
//! viewer reports, live buys, and the host's controls.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use jishi_api::events::ResumeQuery;
use jishi_api::live::{
    Comment, Flash, HostConsole, LikeBatch, LiveOrderRequest, LiveQuote, LiveRoom, NewComment,
    NewFlash, NewPin, Pin, PutBag, Reservation, RoomSettings, RoomsResponse, StatusChange,
    ViewerReport,
};
use jishi_api::stores::PointRaw;
use jishi_api::ApiError;

use crate::accounts::Caller;
use crate::error::Result;
use crate::event_log::Log;
use crate::{feed, live, Platform};

use super::*;
use jishi_api::routes;

pub fn router() -> Router<Platform> {
    Router::new()
        .route(routes::LIVE_ROOMS.pattern(), get(list_rooms))
        .route(routes::LIVE_ROOM.pattern(), get(get_room))
        .route(routes::LIVE_EVENTS.pattern(), get(room_events))
        .route(routes::LIVE_COMMENTS.pattern(), post(post_comment))
        .route(routes::LIVE_COMMENT.pattern(), delete(hide_comment))
        .route(routes::LIVE_LIKES.pattern(), post(post_likes))
        .route(routes::LIVE_VIEWERS.pattern(), put(put_viewers))
        .route(routes::LIVE_ORDERS.pattern(), post(post_order))
        .route(routes::LIVE_QUOTE.pattern(), get(get_quote))
        .route(routes::LIVE_PINS.pattern(), post(post_pin))
        .route(routes::LIVE_PIN.pattern(), delete(delete_pin))
        .route(routes::LIVE_STATUS.pattern(), post(post_status))
        .route(routes::LIVE_SETTINGS.pattern(), put(put_settings))
        .route(routes::LIVE_BAG.pattern(), put(put_bag))
        .route(routes::LIVE_FLASH.pattern(), post(post_flash))
        .route(routes::LIVE_RESERVATIONS.pattern(), post(post_reservation))
        .route(routes::LIVE_CALENDAR.pattern(), get(get_calendar))
        .route(routes::MY_RESERVATIONS.pattern(), get(my_reservations))
        .route(routes::LIVE_HOST.pattern(), get(host_console))
}

async fn list_rooms(
    State(p): State<Platform>,
    ApiQuery(point): ApiQuery<PointRaw>,
) -> Result<Json<RoomsResponse>> {
    Ok(Json(live::list(&p, point.parse()?).await?))
}

async fn get_room(State(p): State<Platform>, Path(id): Path<String>) -> Result<Json<LiveRoom>> {
    Ok(Json(live::room(&p, &id).await?))
}

async fn post_comment(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewComment>,
) -> Result<(StatusCode, Json<Comment>)> {
    let user = caller.require_user()?;
    let comment = live::chat::comment(&p, &id, user, body).await?;
    Ok((StatusCode::CREATED, Json(comment)))
}

async fn hide_comment(
    State(p): State<Platform>,
    caller: Caller,
    Path((id, comment_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    live::require_host(&p, &caller, &id).await?;
    let comment_id: i64 = comment_id
        .parse()
        .map_err(|_| ApiError::not_found("找不到这条评论"))?;
    live::chat::hide(&p, &id, comment_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_likes(
    State(p): State<Platform>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LikeBatch>,
) -> Result<StatusCode> {
    let client = client_addr(&headers);
    let liker = live::hub::Liker {
        viewer: caller.map(|c| c.session_id).or_else(|| client.clone()),
        client,
    };
    live::chat::like(&p, &id, &liker, body).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A server instance's viewers of the room (internal: the server's proxy does not forward it).
async fn put_viewers(
    State(p): State<Platform>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ViewerReport>,
) -> Result<StatusCode> {
    body.validate()?;
    if !p.live().knows(&id) {
        let mut conn = p.pool().acquire().await?;
        live::room_row(&mut conn, &id).await?;
    }
    p.live()
        .report_viewers(&id, body.instance.trim(), body.count);
    Ok(StatusCode::NO_CONTENT)
}

async fn post_order(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LiveOrderRequest>,
) -> Result<Response> {
    let user = caller.require_user()?;
    let key = idempotency_key(&headers)?;
    body.validate()?;
    p.order_limiter().check(user, &client_ip(&headers))?;
    Ok(live::buy::buy(&p, &id, user, &key, body)
        .await?
        .at(p.now_unix())
        .into_response())
}

async fn get_quote(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<LiveOrderRequest>,
) -> Result<Json<LiveQuote>> {
    let user = caller.require_user()?;
    Ok(Json(live::buy::quote(&p, &id, user, query).await?))
}

async fn post_pin(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewPin>,
) -> Result<(StatusCode, Json<Pin>)> {
    live::require_host(&p, &caller, &id).await?;
    let pin = live::pins::pin(&p, &id, body).await?;
    Ok((StatusCode::CREATED, Json(pin)))
}

async fn delete_pin(
    State(p): State<Platform>,
    caller: Caller,
    Path((id, sku)): Path<(String, String)>,
) -> Result<StatusCode> {
    live::require_host(&p, &caller, &id).await?;
    live::pins::unpin(&p, &id, &sku).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_status(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusChange>,
) -> Result<Json<LiveRoom>> {
    live::require_host(&p, &caller, &id).await?;
    live::pins::set_status(&p, &id, body).await?;
    Ok(Json(live::room(&p, &id).await?))
}

async fn put_settings(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoomSettings>,
) -> Result<Json<LiveRoom>> {
    live::require_host(&p, &caller, &id).await?;
    live::pins::settings(&p, &id, body).await?;
    Ok(Json(live::room(&p, &id).await?))
}

async fn put_bag(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PutBag>,
) -> Result<Json<LiveRoom>> {
    live::require_host(&p, &caller, &id).await?;
    Ok(Json(live::bag::put(&p, &id, body).await?))
}

async fn post_flash(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewFlash>,
) -> Result<(StatusCode, Json<Flash>)> {
    live::require_host(&p, &caller, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(live::flash::start(&p, &id, body).await?),
    ))
}

async fn post_reservation(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Reservation>)> {
    let user = caller.require_user()?;
    Ok((
        StatusCode::CREATED,
        Json(live::reservations::reserve(&p, user, &id).await?),
    ))
}

async fn get_calendar(
    State(p): State<Platform>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let origin = headers
        .get(jishi_api::headers::SHOP_ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(live::reservations::shop_origin);
    let ics = live::reservations::calendar(&p, &id, origin).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.ics\""),
            ),
        ],
        ics,
    )
        .into_response())
}

async fn my_reservations(State(p): State<Platform>, caller: Caller) -> Result<Json<RoomsResponse>> {
    let user = caller.require_user()?;
    Ok(Json(live::reservations::mine(&p, user).await?))
}

#[derive(Debug, Default, serde::Deserialize)]
struct ConsoleQuery {
    q: Option<String>,
}

async fn host_console(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ConsoleQuery>,
) -> Result<Json<HostConsole>> {
    let room = live::require_host(&p, &caller, &id).await?;
    Ok(Json(
        live::host_console(&p, room, query.q.as_deref()).await?,
    ))
}

/// `GET /v1/live/rooms/{id}/events`: the room as SSE, through the one feed. Without a resume point
/// (or with one that is unknown, ahead of the log or more than `MAX_REPLAY` behind) the stream
/// starts with a `snapshot` whose id is the room's latest durable seq; with a good one it sends
/// exactly the durable events after it. Then durable events as they are written (id = seq) and
/// coalesced `stats` (no id), until the platform shuts down (a last `shutdown` event). No sign-in
/// needed. The server's fan-out subscribes here once per room; viewers never do directly.
async fn room_events(
    State(p): State<Platform>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ResumeQuery>,
) -> Result<impl IntoResponse> {
    let after = resume_point(&headers, &query)?;
    let holder = stream_holder(caller.as_ref(), &headers);
    feed::open(p, Log::Room, id, after, &holder).await
}
