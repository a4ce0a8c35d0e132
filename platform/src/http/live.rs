//! Live rooms under `/v1/live`: reading rooms, the room's event stream (SSE), comments, likes,
//! viewer reports, live buys, and the host's controls.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use jishi_api::events::{resume_point, ResumeQuery};
use jishi_api::headers::{LAST_EVENT_ID, SHUTDOWN_EVENT};
use jishi_api::live::{
    Comment, HostConsole, LikeBatch, LiveEvent, LiveOrderRequest, LiveQuote, LiveRoom, NewComment,
    NewPin, Pin, RoomSettings, RoomsResponse, StatusChange, ViewerReport, LIVE_EVENT,
};
use jishi_api::stores::PointRaw;
use jishi_api::ApiError;
use tokio::sync::Notify;

use crate::accounts::Caller;
use crate::error::Result;
use crate::{live, Platform};

use super::*;

pub fn router() -> Router<Platform> {
    Router::new()
        .route("/v1/live/rooms", get(list_rooms))
        .route("/v1/live/rooms/{id}", get(get_room))
        .route("/v1/live/rooms/{id}/events", get(room_events))
        .route("/v1/live/rooms/{id}/comments", post(post_comment))
        .route(
            "/v1/live/rooms/{id}/comments/{comment_id}",
            delete(hide_comment),
        )
        .route("/v1/live/rooms/{id}/likes", post(post_likes))
        .route("/v1/live/rooms/{id}/viewers", put(put_viewers))
        .route("/v1/live/rooms/{id}/orders", post(post_order))
        .route("/v1/live/rooms/{id}/quote", get(get_quote))
        .route("/v1/live/rooms/{id}/pins", post(post_pin))
        .route("/v1/live/rooms/{id}/pins/{sku}", delete(delete_pin))
        .route("/v1/live/rooms/{id}/status", post(post_status))
        .route("/v1/live/rooms/{id}/settings", put(put_settings))
        .route("/v1/live/rooms/{id}/host", get(host_console))
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
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LikeBatch>,
) -> Result<StatusCode> {
    live::chat::like(&p, &id, body).await?;
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

/// How often an idle stream looks for events by itself: a safety net, since every write of a
/// room's events wakes its streams at once.
const EVENT_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// A resume point further behind than this gets a fresh snapshot instead of the backlog.
const MAX_REPLAY: u64 = 1000;
/// Events read from the log at a time.
const READ_BATCH: u32 = 200;

struct LiveFeed {
    platform: Platform,
    room_id: String,
    /// The last durable seq sent (or covered by the snapshot).
    after: u64,
    snapshot_due: bool,
    pending: VecDeque<(u64, String)>,
    /// The likes total as of the snapshot or the stream's start, until the hub knows a newer one.
    base_likes: u64,
    /// The stats last sent (`None`: none yet, so the first tick sends them).
    last_stats: Option<(u64, u64)>,
    stats_tick: tokio::time::Interval,
    notify: Arc<Notify>,
    finished: bool,
    /// Counts this stream on the room while it lives.
    _open: crate::live::hub::OpenStream,
}

impl LiveFeed {
    async fn next(mut self) -> Option<(Event, Self)> {
        loop {
            if self.snapshot_due {
                self.snapshot_due = false;
                match live::snapshot(&self.platform, &self.room_id).await {
                    Ok((snapshot, seq)) => {
                        if let LiveEvent::Snapshot { room, .. } = &snapshot {
                            self.base_likes = room.likes;
                            self.last_stats = Some((room.likes, room.viewer_count));
                        }
                        // Events after the snapshot's seq are the changes it does not show.
                        self.after = seq;
                        self.pending.clear();
                        let event = Event::default()
                            .id(seq.to_string())
                            .event(LIVE_EVENT)
                            .json_data(&snapshot)
                            .unwrap_or_default();
                        return Some((event, self));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reading a live room's snapshot failed");
                        return None;
                    }
                }
            }
            if let Some((seq, json)) = self.pending.pop_front() {
                self.after = seq;
                let event = Event::default()
                    .id(seq.to_string())
                    .event(LIVE_EVENT)
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
            let notify = self.notify.clone();
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match live::events_after(&self.platform, &self.room_id, self.after, READ_BATCH).await {
                Ok(events) if !events.is_empty() => {
                    self.pending.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "reading live events failed");
                    return None;
                }
            }
            let shutting_down = self.platform.streams().shutting_down();
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(EVENT_POLL) => {}
                _ = shutting_down => {}
                _ = self.stats_tick.tick() => {
                    if let Some(event) = self.stats_if_changed() {
                        return Some((event, self));
                    }
                }
            }
        }
    }

    /// A `stats` event (no id: a missed one is superseded by the next) when the totals changed.
    fn stats_if_changed(&mut self) -> Option<Event> {
        let hub = self.platform.live();
        let now = (
            hub.likes(&self.room_id).unwrap_or(self.base_likes),
            hub.viewers(&self.room_id),
        );
        if self.last_stats == Some(now) {
            return None;
        }
        self.last_stats = Some(now);
        let stats = LiveEvent::Stats {
            likes: now.0,
            viewer_count: now.1,
        };
        Some(
            Event::default()
                .event(LIVE_EVENT)
                .json_data(&stats)
                .unwrap_or_default(),
        )
    }
}

/// `GET /v1/live/rooms/{id}/events`: the room as SSE. Without a resume point (or with one that is
/// unknown, ahead of the log or more than `MAX_REPLAY` behind) the stream starts with a
/// `snapshot` whose id is the room's latest durable seq; with a good one it sends exactly the
/// durable events after it. Then durable events as they are written (id = seq) and coalesced
/// `stats` (no id), until the platform shuts down (a last `shutdown` event). No sign-in needed.
async fn room_events(
    State(p): State<Platform>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ResumeQuery>,
) -> Result<Sse<impl futures::Stream<Item = std::result::Result<Event, std::convert::Infallible>>>>
{
    let header = headers.get(LAST_EVENT_ID).and_then(|v| v.to_str().ok());
    let after = resume_point(header, &query)?;
    let (base_likes, latest) = {
        let mut conn = p.pool().acquire().await?;
        let room = live::room_row(&mut conn, &id).await?;
        (room.likes, live::max_seq(&mut conn, &id).await?)
    };
    let snapshot_due = after == 0 || after > latest || latest - after > MAX_REPLAY;
    let mut stats_tick = tokio::time::interval(p.live().limits().stats_every);
    stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = LiveFeed {
        notify: p.live().watch(&id),
        _open: p.live().open_stream(&id),
        platform: p,
        room_id: id,
        after,
        snapshot_due,
        pending: VecDeque::new(),
        base_likes,
        last_stats: None,
        stats_tick,
        finished: false,
    };
    let stream = futures::stream::unfold(feed, |feed| async move {
        feed.next().await.map(|(event, feed)| (Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
