//! The live-room fan-out: `GET /api/v1/live/rooms/{id}/events` for every viewer this instance
//! holds, fed by at most ONE upstream subscription per room to the platform.
//!
//! - A room's `Relay` reads the platform's stream, folds each event into the room's view
//!   (`RoomView::apply`, so a new viewer starts from a snapshot without asking the platform),
//!   encodes the SSE frame once and broadcasts the same `Bytes` to every viewer.
//! - The last durable frames are kept in a ring: a viewer that reconnects with `Last-Event-ID`
//!   resumes from it with no gap. One from further back (it was on an instance that died, or
//!   this relay is new) reads what it missed from the platform once, then joins the broadcast;
//!   beyond the platform's replay window it gets a fresh snapshot.
//! - A viewer too slow for the broadcast buffer is dropped (its stream ends) and resumes the same
//!   way; it never holds the others back.
//! - A room with no viewers for `IDLE` is unsubscribed.
//! - Each instance reports its viewers per room to the platform, which sums the instances: no
//!   instance keeps business state.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use jishi_api::auth::Me;
use jishi_api::events::{resume_point, ResumeQuery};
use jishi_api::headers::{LAST_EVENT_ID, SHUTDOWN_EVENT};
use jishi_api::live::{LiveEvent, RoomView, ViewerReport, LIVE_EVENT};
use jishi_api::routes;
use jishi_api::{ApiError, ErrorCode};
use jishi_app::platform_client::PlatformClient;
use jishi_app::platform_client::ShopperSession;
use tokio::sync::{broadcast, watch};

use crate::client::ClientInfo;
use crate::proxy::{ProxyError, EVENT_STREAM_MAX};
use crate::{AppState, Shutdown};

/// Frames a viewer may fall behind before it is dropped (it then resumes from the ring): room for
/// a flash crowd's sales during one `COALESCE` wait at a few thousand a second.
const BROADCAST_BUFFER: usize = 1024;
/// Durable frames kept for resuming viewers.
const RING: usize = 512;
/// A room with no viewers this long is unsubscribed.
const IDLE: Duration = Duration::from_secs(30);
/// How often viewer counts go to the platform.
const REPORT_EVERY: Duration = Duration::from_secs(2);
/// A comment line to every viewer this often, so proxies keep idle streams open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The longest one upstream subscription lasts before it reconnects (and resumes).
const UPSTREAM_MAX: Duration = Duration::from_secs(24 * 3600);
/// How long a new viewer waits for a room's first snapshot.
const FIRST_SNAPSHOT: Duration = Duration::from_secs(10);
/// The most events a viewer from another instance catches up on (the platform replays as many);
/// further back, a snapshot.
const CATCH_UP_MAX: u64 = 1_000;
/// How long a catch-up read from the platform may take before the viewer gets a snapshot.
const CATCH_UP_TIME: Duration = Duration::from_secs(3);
/// How long what the platform said of a session is believed without asking again.
const SESSION_CHECKED: Duration = Duration::from_secs(600);
/// Sessions remembered at most (the memory of a busy instance stays bounded).
const MAX_CHECKED_SESSIONS: usize = 100_000;

/// A frame as it goes on the wire, encoded once for every viewer.
#[derive(Clone, Debug)]
struct Frame {
    /// The durable event's id; `None` for stats, keep-alives and the shutdown notice.
    id: Option<u64>,
    bytes: Bytes,
    /// The last frame of every viewer's stream (the server is shutting down).
    end: bool,
    /// For a frame that comes in bursts (`sale`, `stats`), what its counts are of: a viewer's
    /// stream waits `COALESCE` after one, so a burst goes out in one write, and in that write only
    /// the last frame of each key (`folded`).
    burst: Option<Arc<str>>,
}

fn encode(id: Option<u64>, event: &LiveEvent) -> Frame {
    let data = serde_json::to_string(event).unwrap_or_default();
    let text = match id {
        Some(id) => format!("id: {id}\nevent: {LIVE_EVENT}\ndata: {data}\n\n"),
        None => format!("event: {LIVE_EVENT}\ndata: {data}\n\n"),
    };
    Frame {
        id,
        bytes: Bytes::from(text),
        end: false,
        burst: match event {
            // A flash buy's counts are the flash sale's, a plain one's the pin's and bag's.
            LiveEvent::Sale { sale, flash, .. } => {
                Some(Arc::from(format!("sale {flash} {}", sale.sku)))
            }
            LiveEvent::Stats { .. } => Some(Arc::from("stats")),
            _ => None,
        },
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What a relay knows of its room: the view, the last durable id, and the recent durable frames.
#[derive(Default)]
struct RoomState {
    view: Option<RoomView>,
    last_id: u64,
    ring: VecDeque<Frame>,
    /// The platform's clock less this server's, in seconds, from the platform's last snapshot:
    /// the snapshots this relay makes say the platform's time, for countdowns.
    platform_offset_s: Option<i64>,
}

impl RoomState {
    /// The platform's time now, as far as this relay knows it.
    fn platform_now(&self) -> Option<String> {
        let offset = self.platform_offset_s?;
        Some(jishi_api::time::format_utc(unix_now() + offset))
    }
}

struct Relay {
    room_id: String,
    frames: broadcast::Sender<Frame>,
    state: Mutex<RoomState>,
    /// Turns true once the first snapshot has arrived.
    ready: watch::Sender<bool>,
    /// Open streams per viewer (a signed-in shopper, else a client address): the room's viewers
    /// are the keys, so one client opening many streams counts once.
    viewers: Mutex<HashMap<String, usize>>,
    /// Set when the room is unknown upstream (404): new viewers get 404 until it is dropped.
    gone: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the state consistent; a panic elsewhere must not stop rooms.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Relay {
    /// Distinct viewers now.
    fn viewer_count(&self) -> usize {
        lock(&self.viewers).len()
    }

    fn add_viewer(&self, key: &str) {
        *lock(&self.viewers).entry(key.to_owned()).or_default() += 1;
    }

    /// Takes in one upstream event: folds it into the view, keeps durable frames in the ring, and
    /// broadcasts the encoded frame.
    fn take(&self, id: Option<u64>, event: LiveEvent) {
        let mut state = lock(&self.state);
        let frame = match &event {
            LiveEvent::Snapshot {
                room,
                comments,
                now,
            } => {
                // Continuity is broken (first connect, or upstream could not resume): viewers
                // start again from this snapshot, and the ring restarts.
                state.view = Some(RoomView::new((**room).clone(), comments.clone()));
                if let Some(platform) = now.as_deref().and_then(jishi_api::time::parse_utc) {
                    state.platform_offset_s = Some(platform - unix_now());
                }
                state.ring.clear();
                if let Some(id) = id {
                    state.last_id = id;
                }
                self.ready.send_replace(true);
                encode(id, &event)
            }
            _ => {
                if let Some(view) = state.view.as_mut() {
                    view.apply(&event);
                }
                let durable = event.is_durable();
                let frame = encode(id.filter(|_| durable), &event);
                if let (true, Some(id)) = (durable, id) {
                    state.last_id = id;
                    if state.ring.len() == RING {
                        state.ring.pop_front();
                    }
                    state.ring.push_back(frame.clone());
                }
                frame
            }
        };
        // Sent under the lock, so a viewer that subscribes under it sees each frame once: either
        // in what it reads from the state or on its receiver, never both, never neither.
        let _ = self.frames.send(frame);
    }

    /// What a (re)connecting viewer is sent first, and its receiver for what follows.
    fn join(&self, after: Option<u64>) -> Option<(Start, broadcast::Receiver<Frame>)> {
        let state = lock(&self.state);
        let view = state.view.as_ref()?;
        let receiver = self.frames.subscribe();
        let oldest = state.ring.front().and_then(|f| f.id);
        let resumable = after.is_some_and(|a| {
            a == state.last_id || (a < state.last_id && oldest.is_some_and(|o| o <= a + 1))
        });
        let start = match after {
            Some(a) if resumable => Start::Frames(
                state
                    .ring
                    .iter()
                    .filter(|f| f.id.is_some_and(|id| id > a))
                    .cloned()
                    .collect(),
            ),
            Some(a) if a < state.last_id && state.last_id - a <= CATCH_UP_MAX => Start::CatchUp {
                after: a,
                upto: state.last_id,
                snapshot: encode(Some(state.last_id), &view.snapshot(state.platform_now())),
            },
            _ => Start::Frames(vec![encode(
                Some(state.last_id),
                &view.snapshot(state.platform_now()),
            )]),
        };
        Some((start, receiver))
    }
}

/// How a joining viewer starts.
enum Start {
    /// These frames first: a snapshot, or the ring's frames after the viewer's id.
    Frames(Vec<Frame>),
    /// The viewer's id is older than the ring (it was on another instance, or this relay is
    /// new): the events `(after, upto]` come from the platform, or `snapshot` if they cannot.
    CatchUp {
        after: u64,
        upto: u64,
        snapshot: Frame,
    },
}

type SessionUsers = HashMap<String, (Option<String>, tokio::time::Instant)>;

/// This instance's relays, one per room with viewers (or recently with viewers).
#[derive(Clone)]
pub struct LiveHub {
    rooms: Arc<Mutex<HashMap<String, Arc<Relay>>>>,
    platform: PlatformClient,
    /// Reported with viewer counts, so the platform can sum instances.
    instance: String,
    shutdown: Shutdown,
    /// Session tokens the platform was recently asked about: their signed-in user, until when.
    sessions: Arc<Mutex<SessionUsers>>,
}

impl LiveHub {
    /// Starts the hub's reporter; relays start with their first viewer.
    pub fn new(platform: PlatformClient, instance: String, shutdown: Shutdown) -> Self {
        let hub = LiveHub {
            rooms: Arc::default(),
            platform,
            instance,
            shutdown,
            sessions: Arc::default(),
        };
        tokio::spawn(hub.clone().report_viewers());
        hub
    }

    /// Rooms with a live upstream subscription on this instance.
    pub fn subscriptions(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// Distinct viewers this instance holds on `room_id`.
    pub fn viewers(&self, room_id: &str) -> usize {
        lock(&self.rooms)
            .get(room_id)
            .map_or(0, |r| r.viewer_count())
    }

    /// The room's relay (started if need be), with this viewer counted. Counted under the map's
    /// lock, which `drop_relay` also takes: an idle relay is never dropped under a joining viewer.
    fn viewer_of(&self, room_id: &str, viewer: String) -> ViewerGuard {
        let mut rooms = lock(&self.rooms);
        if let Some(relay) = rooms.get(room_id) {
            relay.add_viewer(&viewer);
            return ViewerGuard(relay.clone(), viewer);
        }
        let relay = Arc::new(Relay {
            room_id: room_id.to_owned(),
            frames: broadcast::channel(BROADCAST_BUFFER).0,
            state: Mutex::default(),
            ready: watch::Sender::new(false),
            viewers: Mutex::default(),
            gone: watch::Sender::new(false),
        });
        relay.add_viewer(&viewer);
        rooms.insert(room_id.to_owned(), relay.clone());
        tokio::spawn(self.clone().subscribe(relay.clone()));
        ViewerGuard(relay, viewer)
    }

    /// Who a viewer is, for counting: the signed-in shopper when the cookie's session has one
    /// (asked of the platform once, then remembered for `SESSION_CHECKED`), else the client
    /// address. Anonymous sessions cost nothing to mint, so they count as their address: one
    /// client adds one viewer however many streams and sessions it opens, while each signed-in
    /// shopper behind a shared network still counts.
    async fn viewer_key(&self, token: Option<&str>, ip: Option<std::net::IpAddr>) -> String {
        if let Some(token) = token {
            if let Some(user) = self.signed_in_user(token).await {
                return format!("u {user}");
            }
        }
        match ip {
            Some(ip) => format!("a {ip}"),
            // Reached without a socket (in-process tests): nobody to tell apart.
            None => format!("t {:016x}", rand::random::<u64>()),
        }
    }

    /// The user signed in on the session `token`, if any (`GET /v1/me`).
    async fn signed_in_user(&self, token: &str) -> Option<String> {
        let now = tokio::time::Instant::now();
        if let Some((user, until)) = lock(&self.sessions).get(token) {
            if *until > now {
                return user.clone();
            }
        }
        let answer = self
            .platform
            .http()
            .get(self.platform.url(routes::ME.pattern()))
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        let user = if answer.status().is_success() {
            answer.json::<Me>().await.ok()?.user.map(|u| u.id)
        } else {
            None
        };
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= MAX_CHECKED_SESSIONS {
            sessions.retain(|_, (_, until)| *until > now);
            if sessions.len() >= MAX_CHECKED_SESSIONS {
                sessions.clear();
            }
        }
        sessions.insert(token.to_owned(), (user.clone(), now + SESSION_CHECKED));
        user
    }

    /// The one upstream subscription of a room: reads the platform's stream, reconnecting with
    /// `Last-Event-ID`, until the room has had no viewers for `IDLE` or the server shuts down.
    async fn subscribe(self, relay: Arc<Relay>) {
        let mut idle_since: Option<tokio::time::Instant> = None;
        let mut backoff = Duration::from_millis(250);
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        loop {
            let last_id = {
                let state = lock(&relay.state);
                state.view.as_ref().map(|_| state.last_id)
            };
            let url = self
                .platform
                .url(&routes::LIVE_EVENTS.path(&[&relay.room_id]));
            // The shared client's 10 s cap is for answers; this stream lives as long as the room.
            let mut request = self.platform.http().get(url).timeout(UPSTREAM_MAX);
            if let Some(id) = last_id {
                request = request.header(LAST_EVENT_ID, id.to_string());
            }
            let connected = request.send().await;
            match connected {
                Ok(res) if res.status() == StatusCode::NOT_FOUND => {
                    relay.gone.send_replace(true);
                    self.drop_relay(&relay, true);
                    return;
                }
                Ok(res) if res.status().is_success() => {
                    backoff = Duration::from_millis(250);
                    let mut events = res.bytes_stream().eventsource();
                    loop {
                        tokio::select! {
                            next = events.next() => match next {
                                Some(Ok(ev)) if ev.event == LIVE_EVENT => {
                                    match serde_json::from_str::<LiveEvent>(&ev.data) {
                                        Ok(event) => relay.take(ev.id.parse().ok(), event),
                                        Err(e) => tracing::warn!(room = %relay.room_id, error = %e, "unreadable live event"),
                                    }
                                }
                                // The platform is restarting: reconnect and resume.
                                Some(Ok(ev)) if ev.event == SHUTDOWN_EVENT => break,
                                Some(Ok(_)) => {}
                                Some(Err(e)) => {
                                    tracing::warn!(room = %relay.room_id, error = %e, "live upstream failed");
                                    break;
                                }
                                None => break,
                            },
                            _ = keep_alive.tick() => {
                                let _ = relay.frames.send(Frame { id: None, bytes: Bytes::from_static(b": keep-alive\n\n"), end: false, burst: None });
                                if self.idle_too_long(&relay, &mut idle_since) {
                                    return;
                                }
                            }
                            _ = self.shutdown.wait() => {
                                let _ = relay.frames.send(Frame {
                                    id: None,
                                    bytes: Bytes::from(jishi_api::events::shutdown_frame()),
                                    end: true,
                                    burst: None,
                                });
                                self.drop_relay(&relay, false);
                                return;
                            }
                        }
                    }
                }
                Ok(res) => {
                    tracing::warn!(room = %relay.room_id, status = %res.status(), "live upstream refused")
                }
                Err(e) => {
                    tracing::warn!(room = %relay.room_id, error = %e, "live upstream unreachable")
                }
            }
            if self.idle_too_long(&relay, &mut idle_since) {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.shutdown.wait() => {
                    self.drop_relay(&relay, false);
                    return;
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Whether the relay has had no viewers for `IDLE` (then it is removed).
    /// The durable events `(after, upto]` of a room, read once from the platform for a viewer
    /// that resumes here from another instance: without them it would miss what happened while
    /// it reconnected. `None` if the platform cannot give them all (the viewer gets a snapshot).
    async fn catch_up(&self, room_id: &str, after: u64, upto: u64) -> Option<Vec<Frame>> {
        let url = self.platform.url(&routes::LIVE_EVENTS.path(&[room_id]));
        let read = async {
            let res = self
                .platform
                .http()
                .get(url)
                .header(LAST_EVENT_ID, after.to_string())
                .send()
                .await
                .ok()?;
            if !res.status().is_success() {
                return None;
            }
            let mut events = res.bytes_stream().eventsource();
            let mut frames = Vec::new();
            while let Some(Ok(ev)) = events.next().await {
                if ev.event != LIVE_EVENT {
                    continue;
                }
                let event: LiveEvent = serde_json::from_str(&ev.data).ok()?;
                // Too far back for the platform too: it starts again from a snapshot.
                if matches!(event, LiveEvent::Snapshot { .. }) {
                    return None;
                }
                let Some(id) = ev.id.parse::<u64>().ok().filter(|_| event.is_durable()) else {
                    continue;
                };
                if id > after && id <= upto {
                    frames.push(encode(Some(id), &event));
                }
                if id >= upto {
                    return Some(frames);
                }
            }
            None
        };
        tokio::time::timeout(CATCH_UP_TIME, read)
            .await
            .ok()
            .flatten()
    }

    fn idle_too_long(&self, relay: &Arc<Relay>, since: &mut Option<tokio::time::Instant>) -> bool {
        if relay.viewer_count() > 0 {
            *since = None;
            return false;
        }
        let started = *since.get_or_insert_with(tokio::time::Instant::now);
        started.elapsed() >= IDLE && self.drop_relay(relay, false)
    }

    /// Removes the relay unless a viewer joined meanwhile (checked under the map's lock, which
    /// `join` also takes). `force` removes it regardless (the room is gone).
    fn drop_relay(&self, relay: &Arc<Relay>, force: bool) -> bool {
        let mut rooms = lock(&self.rooms);
        if !force && relay.viewer_count() > 0 {
            return false;
        }
        if rooms
            .get(&relay.room_id)
            .is_some_and(|r| Arc::ptr_eq(r, relay))
        {
            rooms.remove(&relay.room_id);
        }
        true
    }

    /// Tells the platform, every `REPORT_EVERY`, how many viewers this instance holds per room
    /// (a room that lost its last viewer is reported once more, at zero).
    async fn report_viewers(self) {
        let mut tick = tokio::time::interval(REPORT_EVERY);
        let mut reported: HashMap<String, usize> = HashMap::new();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.shutdown.wait() => return,
            }
            let now: HashMap<String, usize> = lock(&self.rooms)
                .iter()
                .map(|(id, r)| (id.clone(), r.viewer_count()))
                .collect();
            let gone: Vec<String> = reported
                .keys()
                .filter(|id| !now.contains_key(*id))
                .cloned()
                .collect();
            for (room, count) in now
                .iter()
                .map(|(r, c)| (r.clone(), *c))
                .chain(gone.into_iter().map(|r| (r, 0)))
            {
                let report = ViewerReport {
                    instance: self.instance.clone(),
                    count: count as u64,
                };
                let url = self.platform.url(&routes::LIVE_VIEWERS.path(&[&room]));
                if let Err(e) = self.platform.http().put(url).json(&report).send().await {
                    tracing::debug!(room = %room, error = %e, "viewer report failed");
                }
            }
            reported = now;
        }
    }
}

/// Counts a viewer's stream for as long as it lives; the viewer goes with their last stream.
struct ViewerGuard(Arc<Relay>, String);

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        let mut viewers = lock(&self.0.viewers);
        if let Some(n) = viewers.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                viewers.remove(&self.1);
            }
        }
    }
}

/// `GET /api/v1/live/rooms/{id}/events`: the room's events for one viewer, from this instance's
/// relay. Same framing as the platform's stream. Each stream holds a slot of the server's stream
/// cap and of its client address's (`Edge::open_stream`), and lasts at most `EVENT_STREAM_MAX`
/// (the browser then resumes with `Last-Event-ID`).
pub async fn events(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    RawQuery(query): RawQuery,
    client: Option<Extension<ClientInfo>>,
    session: Option<Extension<ShopperSession>>,
    headers: HeaderMap,
) -> Result<Response, ProxyError> {
    if !jishi_api::media::is_room_id(&room_id) {
        return Err(ApiError::not_found("没有这个直播间").into());
    }
    let query: ResumeQuery =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let header = headers.get(LAST_EVENT_ID).and_then(|v| v.to_str().ok());
    let after = resume_point(header, &query)?;
    let after = (after > 0 || header.is_some() || query.last_event_id.is_some()).then_some(after);

    let client = client.map(|Extension(c)| c).unwrap_or(ClientInfo {
        ip: None,
        secure: false,
    });
    let permit = state.edge.open_stream(&client)?;
    let token = session.map(|Extension(ShopperSession(t))| t);
    let viewer = state.live.viewer_key(token.as_deref(), client.ip).await;
    let guard = state.live.viewer_of(&room_id, viewer);
    let relay = guard.0.clone();

    let mut ready = relay.ready.subscribe();
    let mut gone = relay.gone.subscribe();
    let waited = tokio::time::timeout(FIRST_SNAPSHOT, async {
        tokio::select! {
            r = ready.wait_for(|r| *r) => r.is_ok(),
            _ = gone.wait_for(|g| *g) => false,
        }
    })
    .await;
    let joined = match waited {
        Ok(true) => relay.join(after),
        _ => None,
    };
    let Some((start, receiver)) = joined else {
        return Err(if *relay.gone.borrow() {
            ApiError::not_found("没有这个直播间")
        } else {
            ApiError::new(
                ErrorCode::PlatformUnavailable,
                "直播间暂时连不上，请稍后再试",
            )
        }
        .into());
    };
    let first = match start {
        Start::Frames(frames) => frames,
        Start::CatchUp {
            after,
            upto,
            snapshot,
        } => match state.live.catch_up(&room_id, after, upto).await {
            Some(frames) => frames,
            None => vec![snapshot],
        },
    };
    let sent_up_to = first
        .iter()
        .filter_map(|f| f.id)
        .max()
        .or(after)
        .unwrap_or(0);
    let stream = viewer_stream(first, receiver, sent_up_to, (guard, permit));
    let stream = until(stream, tokio::time::Instant::now() + EVENT_STREAM_MAX);
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx: pass each frame on at once.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok((StatusCode::OK, response).into_response())
}

/// The first frames, then the broadcast: frames already sent (by id) are skipped, and the
/// stream ends when the viewer falls behind (it resumes with `Last-Event-ID`) or the room closes.
fn viewer_stream<G: Send + 'static>(
    first: Vec<Frame>,
    receiver: broadcast::Receiver<Frame>,
    sent_up_to: u64,
    guard: G,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> {
    let head = futures::stream::iter(first.into_iter().map(|f| Ok(f.bytes)));
    let tail = futures::stream::unfold(
        (Some(receiver), sent_up_to, guard),
        |(receiver, mut sent, guard)| async move {
            let mut receiver = receiver?;
            let mut chunk = Vec::new();
            // Wait for one frame to send...
            let (mut open, burst) = loop {
                let Ok(frame) = receiver.recv().await else {
                    return None;
                };
                let burst = frame.burst.is_some();
                match take_frame(frame, &mut sent) {
                    Taken::Send(frame) => {
                        chunk.push(frame);
                        break (true, burst);
                    }
                    Taken::Last(frame) => {
                        chunk.push(frame);
                        break (false, false);
                    }
                    Taken::Seen => continue,
                }
            };
            // ... then those already queued behind it: a burst of sales (a flash sale's) goes
            // out in one write to each viewer instead of one write per event. Thousands of
            // viewers woken once per sale would cost more than the sales themselves.
            if burst {
                tokio::time::sleep(COALESCE).await;
            }
            while open && chunk.len() < FRAMES_PER_WRITE {
                match receiver.try_recv() {
                    Ok(frame) => match take_frame(frame, &mut sent) {
                        Taken::Send(frame) => chunk.push(frame),
                        Taken::Last(frame) => {
                            chunk.push(frame);
                            open = false;
                        }
                        Taken::Seen => {}
                    },
                    Err(broadcast::error::TryRecvError::Empty) => break,
                    // Fell behind or closed: what was taken goes out, then the stream ends.
                    Err(_) => open = false,
                }
            }
            Some((Ok(folded(chunk)), (open.then_some(receiver), sent, guard)))
        },
    );
    head.chain(tail)
}

/// One write of `frames`, leaving out each burst frame that a later one of the same key follows:
/// the later one's counts supersede it (a flash crowd's 500 sales reach a viewer as a handful of
/// frames, not 500 each; the ticker shows the latest buyer). Resuming still replays every event.
fn folded(mut frames: Vec<Frame>) -> Bytes {
    if frames.len() == 1 {
        return frames.pop().map(|f| f.bytes).unwrap_or_default();
    }
    let mut later: Vec<&str> = Vec::new();
    let mut kept: Vec<&[u8]> = Vec::with_capacity(frames.len());
    for frame in frames.iter().rev() {
        if let Some(key) = frame.burst.as_deref() {
            if later.contains(&key) {
                continue;
            }
            later.push(key);
        }
        kept.push(&frame.bytes);
    }
    kept.reverse();
    Bytes::from(kept.concat())
}

/// Frames joined into one write at most.
const FRAMES_PER_WRITE: usize = 256;

/// How long a viewer's stream waits after a burst frame for the rest of the burst.
const COALESCE: Duration = Duration::from_millis(250);

/// What a viewer's stream does with a frame from the room.
enum Taken {
    Send(Frame),
    /// The last frame (the server is shutting down).
    Last(Frame),
    /// A durable frame the viewer already has (it came in its start).
    Seen,
}

fn take_frame(frame: Frame, sent: &mut u64) -> Taken {
    if frame.end {
        return Taken::Last(frame);
    }
    if let Some(id) = frame.id {
        if id <= *sent {
            return Taken::Seen;
        }
        *sent = id;
    }
    Taken::Send(frame)
}

/// `stream` until `deadline`, then its end.
fn until<S: futures::Stream + Send + 'static>(
    stream: S,
    deadline: tokio::time::Instant,
) -> impl futures::Stream<Item = S::Item> {
    futures::stream::unfold(Some(Box::pin(stream)), move |stream| async move {
        let mut stream = stream?;
        tokio::select! {
            item = stream.next() => item.map(|i| (i, Some(stream))),
            _ = tokio::time::sleep_until(deadline) => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_api::live::{Comment, Host, LiveRoom, RoomStatus};

    fn relay() -> Relay {
        Relay {
            room_id: "live_1".into(),
            frames: broadcast::channel(8).0,
            state: Mutex::default(),
            ready: watch::Sender::new(false),
            viewers: Mutex::default(),
            gone: watch::Sender::new(false),
        }
    }

    fn snapshot() -> LiveEvent {
        LiveEvent::Snapshot {
            room: Box::new(LiveRoom {
                id: "live_1".into(),
                title: "t".into(),
                status: RoomStatus::Live,
                host: Host { name: "h".into() },
                viewer_count: 0,
                likes: 0,
                playback: None,
                pinned: None,
                message: None,
                slow_mode: false,
                distance_m: None,
                stores: vec![],
                bag: vec![],
                flash: None,
                starts_at: None,
                reservations: 0,
                replay: None,
            }),
            comments: vec![],
            // The platform's clock an hour ahead of this server's.
            now: Some(jishi_api::time::format_utc(unix_now() + 3600)),
        }
    }

    #[test]
    fn a_joining_viewers_snapshot_tells_the_platforms_time_not_the_servers() {
        let relay = relay();
        relay.take(Some(1), snapshot());
        let Some((Start::Frames(frames), _)) = relay.join(None) else {
            panic!("a fresh viewer starts from a snapshot");
        };
        let text = String::from_utf8_lossy(&frames[0].bytes).into_owned();
        let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        let LiveEvent::Snapshot { now: Some(now), .. } = serde_json::from_str(data).unwrap() else {
            panic!("a snapshot with the platform's time: {data}");
        };
        let ahead = jishi_api::time::parse_utc(&now).unwrap() - unix_now();
        assert!((3599..=3601).contains(&ahead), "{ahead}");
    }

    fn comment(id: u64) -> LiveEvent {
        LiveEvent::Comment {
            comment: Comment {
                id,
                author: jishi_api::person::Person::shopper("0001"),
                text: format!("c{id}"),
                at: "2026-11-26T00:00:00Z".into(),
            },
        }
    }

    fn frames(joined: Option<(Start, broadcast::Receiver<Frame>)>) -> Vec<Frame> {
        match joined.expect("joined").0 {
            Start::Frames(frames) => frames,
            Start::CatchUp { .. } => panic!("expected frames, not a catch-up"),
        }
    }

    fn ids(frames: &[Frame]) -> Vec<Option<u64>> {
        frames.iter().map(|f| f.id).collect()
    }

    #[test]
    fn a_new_viewer_gets_a_snapshot_of_the_folded_view_and_a_resuming_one_only_what_it_missed() {
        let r = relay();
        assert!(r.join(None).is_none(), "no snapshot yet");
        r.take(Some(10), snapshot());
        r.take(Some(11), comment(1));
        r.take(Some(12), comment(2));
        r.take(
            None,
            LiveEvent::Stats {
                likes: 5,
                viewer_count: 2,
            },
        );

        let first = frames(r.join(None));
        assert_eq!(ids(&first), vec![Some(12)]);
        let text = std::str::from_utf8(&first[0].bytes).unwrap();
        assert!(text.starts_with("id: 12\nevent: live\ndata: {\"type\":\"snapshot\""));
        assert!(text.contains("\"likes\":5") && text.contains("c2"));

        assert_eq!(ids(&frames(r.join(Some(11)))), vec![Some(12)]);
        assert!(frames(r.join(Some(12))).is_empty(), "up to date");
        // Older than the ring: the platform is asked for what it missed, with a snapshot to
        // fall back on.
        match r.join(Some(3)).expect("joined").0 {
            Start::CatchUp {
                after,
                upto,
                snapshot,
            } => {
                assert_eq!((after, upto), (3, 12));
                assert!(std::str::from_utf8(&snapshot.bytes)
                    .unwrap()
                    .contains("snapshot"));
            }
            Start::Frames(_) => panic!("an id older than the ring is caught up"),
        }
        // Ahead of this relay (a stale id from a restarted platform): a snapshot.
        assert!(std::str::from_utf8(&frames(r.join(Some(99)))[0].bytes)
            .unwrap()
            .contains("snapshot"));
    }

    #[tokio::test]
    async fn a_viewer_that_falls_behind_is_dropped_and_the_others_go_on() {
        let r = relay();
        r.take(Some(1), snapshot());
        let (_, slow) = r.join(None).unwrap();
        let (_, fast) = r.join(None).unwrap();
        let dummy = Arc::new(relay());
        dummy.add_viewer("slow");
        dummy.add_viewer("fast");
        let slow_guard = ViewerGuard(dummy.clone(), "slow".into());
        let mut slow = Box::pin(viewer_stream(vec![], slow, 1, slow_guard));
        let fast_guard = ViewerGuard(dummy.clone(), "fast".into());
        let mut fast = Box::pin(viewer_stream(vec![], fast, 1, fast_guard));
        for id in 2..6 {
            r.take(Some(id), comment(id));
            assert!(fast.next().await.is_some());
        }
        // The buffer holds 8: twelve more leave the slow viewer behind.
        for id in 6..18 {
            r.take(Some(id), comment(id));
            assert!(fast.next().await.is_some());
        }
        assert!(slow.next().await.is_none(), "the slow viewer's stream ends");
        drop(slow);
        assert_eq!(dummy.viewer_count(), 1, "its count went with it");
    }

    fn sale(sku: &str, sold: u32, flash: bool) -> LiveEvent {
        LiveEvent::Sale {
            sale: jishi_api::live::Sale {
                sku: sku.into(),
                buyer: jishi_api::person::Person::shopper(&format!("{sold:04}")),
                quantity: 1,
                amount_fen: 100,
            },
            sold,
            stock_left: 500 - sold,
            flash,
        }
    }

    #[tokio::test]
    async fn a_burst_of_sales_reaches_a_viewer_in_one_write_with_the_latest_counts_of_each() {
        let mut r = relay();
        r.frames = broadcast::channel(64).0;
        r.take(Some(1), snapshot());
        let (_, receiver) = r.join(None).unwrap();
        let dummy = Arc::new(relay());
        dummy.add_viewer("v");
        let mut stream = Box::pin(viewer_stream(
            vec![],
            receiver,
            1,
            ViewerGuard(dummy.clone(), "v".into()),
        ));
        let mut id = 1;
        let mut next = |r: &Relay, event: LiveEvent| {
            id += 1;
            r.take(Some(id), event);
        };
        for sold in 1..=40 {
            next(&r, sale("sku_a", sold, true));
            if sold == 20 {
                next(&r, comment(7));
                next(&r, sale("sku_b", 1, false));
                // The same product bought outside the flash sale: other counts, kept apart.
                next(&r, sale("sku_a", 3, false));
            }
        }
        r.take(
            None,
            LiveEvent::Stats {
                likes: 1,
                viewer_count: 1,
            },
        );
        r.take(
            None,
            LiveEvent::Stats {
                likes: 2,
                viewer_count: 1,
            },
        );
        let write = stream.next().await.expect("a write").expect("bytes");
        let text = std::str::from_utf8(&write).unwrap();
        let events: Vec<LiveEvent> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let ids: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("id: "))
            .collect();
        assert_eq!(events.len(), 5, "{text}");
        assert!(matches!(&events[0], LiveEvent::Comment { comment } if comment.id == 7));
        assert!(
            matches!(&events[1], LiveEvent::Sale { sale, flash: false, .. } if sale.sku == "sku_b")
        );
        assert!(
            matches!(&events[2], LiveEvent::Sale { sale, sold: 3, flash: false, .. } if sale.sku == "sku_a")
        );
        assert!(
            matches!(&events[3], LiveEvent::Sale { sale, sold: 40, flash: true, .. } if sale.sku == "sku_a")
        );
        assert!(matches!(events[4], LiveEvent::Stats { likes: 2, .. }));
        // The last id sent is the room's latest, so a resume starts after all of it.
        assert_eq!(ids.last(), Some(&"44"));
        // A lone frame later goes out as it is.
        next(&r, comment(8));
        let write = stream.next().await.expect("a write").expect("bytes");
        assert!(std::str::from_utf8(&write).unwrap().starts_with("id: 45\n"));
    }

    #[test]
    fn a_viewer_with_many_streams_counts_once_until_the_last_one_ends() {
        let r = Arc::new(relay());
        let mine: Vec<ViewerGuard> = (0..48)
            .map(|_| {
                r.add_viewer("a 203.0.113.7");
                ViewerGuard(r.clone(), "a 203.0.113.7".into())
            })
            .collect();
        r.add_viewer("s other");
        let other = ViewerGuard(r.clone(), "s other".into());
        assert_eq!(r.viewer_count(), 2);
        let mut mine = mine;
        mine.truncate(1);
        assert_eq!(r.viewer_count(), 2, "one stream left still counts");
        drop(mine);
        assert_eq!(r.viewer_count(), 1);
        drop(other);
        assert_eq!(r.viewer_count(), 0);
    }
}
