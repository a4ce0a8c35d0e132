//! Group buy under `/v1/groups`: starting, joining, reading a group (anyone), the shopper's groups
//! and a group's event stream (SSE).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jishi_api::groups::{Group, JoinGroup, MyGroupsResponse, NewGroup};

use crate::accounts::Caller;
use crate::error::Result;
use crate::event_log::Log;
use crate::{feed, groups, Platform};

use super::*;
use jishi_api::routes;

pub fn router() -> Router<Platform> {
    Router::new()
        .route(routes::GROUPS.pattern(), post(start_group))
        .route(routes::GROUP.pattern(), get(get_group))
        .route(routes::JOIN_GROUP.pattern(), post(join_group))
        .route(routes::GROUP_EVENTS.pattern(), get(group_events))
        .route(routes::MY_GROUPS.pattern(), get(my_groups))
}

async fn start_group(
    State(p): State<Platform>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewGroup>,
) -> Result<Response> {
    let user = caller.require_user()?;
    let key = idempotency_key(&headers)?;
    body.validate()?;
    // A group starts with an order: the same allowance as placing one.
    p.order_limiter().check(user, &client_ip(&headers))?;
    Ok(groups::seats::start(&p, user, &key, body)
        .await?
        .at(p.now_unix())
        .into_response())
}

async fn join_group(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<JoinGroup>,
) -> Result<Response> {
    let user = caller.require_user()?;
    let key = idempotency_key(&headers)?;
    body.validate()?;
    p.order_limiter().check(user, &client_ip(&headers))?;
    let reply = groups::seats::join(&p, &id, user, &key, body).await?;
    p.notify(Log::Group, &[id]);
    Ok(reply.at(p.now_unix()).into_response())
}

async fn get_group(State(p): State<Platform>, Path(id): Path<String>) -> Result<Json<Group>> {
    Ok(Json(
        groups::group(p.pool(), p.index(), &id, p.now_unix()).await?,
    ))
}

async fn my_groups(State(p): State<Platform>, caller: Caller) -> Result<Json<MyGroupsResponse>> {
    let user = caller.require_user()?;
    Ok(Json(
        groups::mine(p.pool(), p.index(), user, p.now_unix()).await?,
    ))
}

/// `GET /v1/groups/{id}/events`: the group as SSE, through the one feed. Anyone may watch.
/// Without a resume point (or with one ahead of the log) the stream starts with a `snapshot` whose
/// id is the group's latest seq; with one it sends exactly the events after it. It ends after the
/// group's final event (`fulfilled`, `expired`); resumed at or past that, the final event is sent
/// again and it ends. Within the session's and the client address's stream caps.
async fn group_events(
    State(p): State<Platform>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<jishi_api::events::ResumeQuery>,
) -> Result<impl IntoResponse> {
    let after = resume_point(&headers, &query)?;
    let holder = stream_holder(caller.as_ref(), &headers);
    feed::open(p, Log::Group, id, after, &holder).await
}
