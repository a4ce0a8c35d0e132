//! `GET /v1/orders/{id}/events`: an order's tracking events as server-sent events.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use jishi_api::events::{resend_latest, resume_point, ResumeQuery, MAX_STREAMS_PER_SESSION};
use jishi_api::headers::{LAST_EVENT_ID, ORDER_EVENT, SHUTDOWN_EVENT};
use jishi_api::{ApiError, ErrorCode};

use crate::accounts::Caller;
use crate::error::Result;
use crate::{dispatch, orders, Platform};

use super::*;

pub fn router() -> Router<Platform> {
    Router::new().route("/v1/orders/{id}/events", get(order_events))
}

/// How often an idle stream looks for events by itself: only a safety net, since every writer
/// wakes the streams of the orders it changed at once.
const EVENT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// The latest event of an order, if it has any.
async fn latest_event(
    p: &Platform,
    order_id: &str,
) -> Result<Option<jishi_api::orders::OrderEvent>> {
    let latest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(seq) FROM order_events WHERE order_id = ?")
            .bind(order_id)
            .fetch_one(p.pool())
            .await?;
    match latest {
        Some(seq) if seq > 0 => Ok(dispatch::events_since(p.pool(), order_id, seq as u64 - 1)
            .await?
            .into_iter()
            .next()),
        _ => Ok(None),
    }
}

struct EventFeed {
    platform: Platform,
    order_id: String,
    after: u64,
    pending: std::collections::VecDeque<jishi_api::orders::OrderEvent>,
    /// Whether the log has been read once (the resume point is checked against it then).
    started: bool,
    /// Set once the final event or the shutdown event went out: the stream ends.
    finished: bool,
    /// Wakes this stream when its order's events are written (and no other order's).
    watch: crate::streams::OrderWatch,
    /// Holds one of the session's stream slots until the stream ends or the client goes away.
    _slot: crate::streams::StreamSlot,
}

impl EventFeed {
    /// The next SSE event, waiting for one if need be; `None` once the order has finished.
    async fn next(mut self) -> Option<(Event, Self)> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                self.after = ev.seq;
                self.finished = ev.status.is_final();
                let event = Event::default()
                    .id(ev.seq.to_string())
                    .event(ORDER_EVENT)
                    .json_data(&ev)
                    .unwrap_or_default();
                return Some((event, self));
            }
            if self.finished {
                return None;
            }
            if self.platform.streams().is_shutting_down() {
                return Some((self.shut_down(), self));
            }
            // Register for the wake-up before reading: an event written during the read then
            // still ends the wait below at once, instead of waiting for the poll.
            let notify = self.watch.notify().clone();
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.read().await {
                Ok(events) if !events.is_empty() => self.pending.extend(events),
                Ok(_) => {
                    let streams = self.platform.streams().clone();
                    tokio::select! {
                        _ = woken => streams.count_wakeup(),
                        _ = tokio::time::sleep(EVENT_POLL) => {}
                        _ = streams.shutting_down() => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading order events failed");
                    return None;
                }
            }
        }
    }

    /// Events after the resume point. On the first read, a stream with nothing newer to send
    /// starts with the order's latest event again when that one is final (so the stream, resumed
    /// at or past the end, tells the client the order is over and closes) or when the client is
    /// ahead of the log (`jishi_api::events::resend_latest`).
    async fn read(&mut self) -> Result<Vec<jishi_api::orders::OrderEvent>> {
        let events =
            dispatch::events_since(self.platform.pool(), &self.order_id, self.after).await?;
        let first = !std::mem::replace(&mut self.started, true);
        if first && events.is_empty() {
            if let Some(latest) = latest_event(&self.platform, &self.order_id).await? {
                if resend_latest(self.after, latest.seq, latest.status.is_final()) {
                    return Ok(vec![latest]);
                }
            }
        }
        Ok(events)
    }

    /// The last event of a stream closed by the platform's shutdown. It carries no id, so the
    /// client's `Last-Event-ID` stays on the last order event and a reconnect resumes there.
    fn shut_down(&mut self) -> Event {
        self.finished = true;
        Event::default()
            .event(SHUTDOWN_EVENT)
            .data("服务正在重启，请稍后重新连接")
    }
}

/// `GET /v1/orders/{id}/events`: the order's events as SSE, from the resume point on, until the
/// order is delivered, cancelled or refunded (resumed at or past a finished order's last event, the
/// final event is sent again and the stream ends), or until the platform shuts down (a last
/// `shutdown` event). A session holds at most `MAX_STREAMS_PER_SESSION` streams open; more: 429.
async fn order_events(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ResumeQuery>,
) -> Result<Sse<impl futures::Stream<Item = std::result::Result<Event, std::convert::Infallible>>>>
{
    let user = caller.require_user()?;
    let header = headers.get(LAST_EVENT_ID).and_then(|v| v.to_str().ok());
    let after = resume_point(header, &query)?;
    // Ownership first: another user's order is a 404 here as everywhere.
    orders::get(p.pool(), user, &id).await?;
    let slot = p
        .streams()
        .open(&caller.session_id, MAX_STREAMS_PER_SESSION)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::TooManyRequests,
                format!("同时打开的订单追踪最多 {MAX_STREAMS_PER_SESSION} 个，请关闭一些页面"),
            )
        })?;
    let feed = EventFeed {
        after,
        watch: p.streams().watch(&id),
        _slot: slot,
        platform: p,
        order_id: id,
        pending: Default::default(),
        started: false,
        finished: false,
    };
    let stream = futures::stream::unfold(feed, |feed| async move {
        feed.next().await.map(|(event, feed)| (Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
