//! Group buy under `/v1/groups`: starting, joining, reading a group (anyone), the shopper's groups
//! and a group's event stream (SSE).

use std::collections::VecDeque;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jishi_api::events::{resume_point, ResumeQuery, MAX_STREAMS_PER_SESSION};
use jishi_api::groups::{Group, GroupEvent, JoinGroup, MyGroupsResponse, NewGroup, GROUP_EVENT};
use jishi_api::headers::{LAST_EVENT_ID, SHUTDOWN_EVENT};
use jishi_api::{ApiError, ErrorCode};

use crate::accounts::Caller;
use crate::error::Result;
use crate::{groups, Platform};

use super::*;

pub fn router() -> Router<Platform> {
    Router::new()
        .route("/v1/groups", post(start_group))
        .route("/v1/groups/{id}", get(get_group))
        .route("/v1/groups/{id}/join", post(join_group))
        .route("/v1/groups/{id}/events", get(group_events))
        .route("/v1/me/groups", get(my_groups))
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
    p.notify_order(&id);
    Ok(reply.into_response())
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

/// How often an idle stream looks for events by itself: a safety net, since the writers of a
/// group's events wake its streams (a seat freed by the reaper is seen by this poll).
const EVENT_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// Events read from the log at a time.
const READ_BATCH: u32 = 200;

struct GroupFeed {
    platform: Platform,
    group_id: String,
    /// The last durable seq sent (or covered by the snapshot).
    after: u64,
    snapshot_due: bool,
    pending: VecDeque<(u64, String)>,
    /// Set once a final event (or the shutdown event) went out: the stream ends.
    finished: bool,
    /// Wakes this stream when its group's events are written (group ids share the order
    /// streams' wake-up map: `grp_` and `ord_` ids never collide).
    watch: crate::streams::OrderWatch,
    /// Holds one of the session's (or client address's) stream slots while the stream lives.
    _slot: crate::streams::StreamSlot,
}

impl GroupFeed {
    async fn next(mut self) -> Option<(Event, Self)> {
        loop {
            if self.snapshot_due {
                self.snapshot_due = false;
                let p = &self.platform;
                match groups::snapshot(p.pool(), p.index(), &self.group_id, p.now_unix()).await {
                    Ok((snapshot, seq)) => {
                        // Events after the snapshot's seq are the changes it does not show.
                        self.after = seq;
                        self.pending.clear();
                        self.finished = snapshot.is_final();
                        let event = Event::default()
                            .id(seq.to_string())
                            .event(GROUP_EVENT)
                            .json_data(&snapshot)
                            .unwrap_or_default();
                        return Some((event, self));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reading a group's snapshot failed");
                        return None;
                    }
                }
            }
            if let Some((seq, json)) = self.pending.pop_front() {
                self.after = seq;
                self.finished = serde_json::from_str::<GroupEvent>(&json)
                    .map(|e| e.is_final())
                    .unwrap_or(false);
                let event = Event::default()
                    .id(seq.to_string())
                    .event(GROUP_EVENT)
                    .data(json);
                return Some((event, self));
            }
            if self.finished {
                return None;
            }
            if self.platform.streams().is_shutting_down() {
                self.finished = true;
                // No id: a reconnect resumes after the last durable event.
                let event = Event::default()
                    .event(SHUTDOWN_EVENT)
                    .data("服务正在重启，请稍后重新连接");
                return Some((event, self));
            }
            // Register for the wake-up before reading, so an event written during the read
            // still ends the wait at once.
            let notify = self.watch.notify().clone();
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let read =
                groups::events_after(self.platform.pool(), &self.group_id, self.after, READ_BATCH)
                    .await;
            match read {
                Ok(events) if !events.is_empty() => {
                    self.pending.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "reading group events failed");
                    return None;
                }
            }
            let streams = self.platform.streams().clone();
            tokio::select! {
                _ = woken => streams.count_wakeup(),
                _ = tokio::time::sleep(EVENT_POLL) => {}
                _ = streams.shutting_down() => {}
            }
        }
    }
}

/// `GET /v1/groups/{id}/events`: the group as SSE. Anyone may watch. Without a resume point (or
/// with one ahead of the log) the stream starts with a `snapshot` whose id is the group's latest
/// seq; with one it sends exactly the events after it. It ends after the group's final event
/// (`fulfilled`, `expired`); resumed at or past that, the final event is sent again and it ends.
/// At most `MAX_STREAMS_PER_SESSION` at once per session, or per client address without one.
async fn group_events(
    State(p): State<Platform>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ResumeQuery>,
) -> Result<Sse<impl futures::Stream<Item = std::result::Result<Event, std::convert::Infallible>>>>
{
    let header = headers.get(LAST_EVENT_ID).and_then(|v| v.to_str().ok());
    let after = resume_point(header, &query)?;
    let (latest, over) = {
        let mut conn = p.pool().acquire().await?;
        let row = groups::group_row(&mut conn, &id)
            .await?
            .ok_or_else(groups::unknown_group)?;
        (
            groups::max_seq(&mut conn, &id).await?,
            row.status.is_final(),
        )
    };
    let holder = match &caller {
        Some(c) => c.session_id.clone(),
        None => format!("client {}", client_ip(&headers)),
    };
    let slot = p
        .streams()
        .open(&holder, MAX_STREAMS_PER_SESSION)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::TooManyRequests,
                format!("同时打开的实时页面最多 {MAX_STREAMS_PER_SESSION} 个，请关闭一些页面"),
            )
        })?;
    let snapshot_due = after == 0 || after > latest;
    let mut feed = GroupFeed {
        watch: p.streams().watch(&id),
        _slot: slot,
        platform: p,
        group_id: id,
        after,
        snapshot_due,
        pending: VecDeque::new(),
        finished: false,
    };
    if !snapshot_due && over && after == latest {
        // Resumed at the end of a finished group: its final event again, then the end.
        feed.after = after - 1;
    }
    let stream = futures::stream::unfold(feed, |feed| async move {
        feed.next().await.map(|(event, feed)| (Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
