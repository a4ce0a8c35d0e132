//! The v1 HTTP API (PRODUCT.md). Handlers are thin: validate with `jishi_api`, ask the index or SQLite.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jishi_api::auth::{LoginRequest, Phone, Session, SmsCodeRequest};
use jishi_api::cart::PutCart;
use jishi_api::catalog::{
    ProductsQuery, ProductsQueryRaw, ProductsResponse, SearchHit, SearchQuery, SearchQueryRaw,
    SearchResponse,
};
use jishi_api::events::{resend_latest, resume_point, ResumeQuery, MAX_STREAMS_PER_SESSION};
use jishi_api::headers::{LAST_EVENT_ID, ORDER_EVENT, SHUTDOWN_EVENT};
use jishi_api::hours::LocalTime;
use jishi_api::orders::{parse_idempotency_key, PayOrder, PlaceOrder};
use jishi_api::stores::{NearbyQuery, NearbyQueryRaw, NearbyResponse, PointRaw, StoreDetail};
use jishi_api::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use tower_http::trace::TraceLayer;

use crate::accounts::{self, Caller};
use crate::error::{PlatformError, Result};
use crate::stores::{opens_at, StoreIndex};
use crate::{carts, catalog, dispatch, orders, Platform};
use jishi_api::auth::{AddressesResponse, Me, NewAddress};
use jishi_api::orders::{Order, OrdersResponse};

/// How many of the nearest delivering stores a product search looks through.
const SEARCH_STORE_LIMIT: usize = 300;

pub fn router(platform: Platform) -> Router {
    Router::new()
        .route("/v1/stores/nearby", get(nearby))
        .route("/v1/stores/{id}", get(store_detail))
        .route("/v1/stores/{id}/products", get(store_products))
        .route("/v1/products/search", get(search))
        .route("/v1/sessions", post(new_session))
        .route("/v1/auth/sms-code", post(sms_code))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/me", get(me))
        .route("/v1/me/addresses", get(list_addresses).post(add_address))
        .route("/v1/carts", get(list_carts))
        .route("/v1/cart/{store_id}", get(get_cart).put(put_cart))
        .route("/v1/orders", get(list_orders).post(place_order))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/pay", post(pay_order))
        .route("/v1/orders/{id}/cancel", post(cancel_order))
        .route("/v1/orders/{id}/events", get(order_events))
        .route("/healthz", get(healthz))
        .fallback(|| async { PlatformError::from(ApiError::not_found("没有这个接口")) })
        .layer(TraceLayer::new_for_http())
        .with_state(platform)
}

/// `Query` whose rejection is our JSON error, so malformed query strings get the same shape as all else.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = PlatformError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::bad_request(format!("查询参数无效：{e}")).into())
    }
}

/// `Json` whose rejection (malformed JSON, wrong content type) is our JSON error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = PlatformError;
    async fn from_request(req: Request, state: &S) -> Result<Self> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|e: JsonRejection| {
                ApiError::bad_request(format!("请求体不是有效的 JSON：{}", e.body_text())).into()
            })
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The session behind `Authorization: Bearer <token>`; 401 without a valid one.
impl FromRequestParts<Platform> for Caller {
    type Rejection = PlatformError;
    async fn from_request_parts(parts: &mut Parts, p: &Platform) -> Result<Self> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "请先登录或刷新页面"))?;
        accounts::caller(p.pool(), token, p.now_unix())
            .await?
            .ok_or_else(|| {
                ApiError::new(ErrorCode::SessionExpired, "登录已过期，请重新登录").into()
            })
    }
}

/// Like `Caller`, but absent rather than refused.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<Platform> for MaybeCaller {
    type Rejection = PlatformError;
    async fn from_request_parts(parts: &mut Parts, p: &Platform) -> Result<Self> {
        Ok(MaybeCaller(match bearer(parts) {
            Some(token) => accounts::caller(p.pool(), token, p.now_unix()).await?,
            None => None,
        }))
    }
}

/// The shopper's address as the server saw it (the server sets this header; the platform is
/// only reachable through servers it trusts).
fn client_ip(headers: &HeaderMap) -> String {
    headers
        .get("x-jishi-client-ip")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .chars()
        .take(64)
        .collect()
}

async fn new_session(State(p): State<Platform>) -> Result<(StatusCode, Json<Session>)> {
    Ok((
        StatusCode::CREATED,
        Json(accounts::create_session(p.pool(), None, p.now_unix()).await?),
    ))
}

async fn sms_code(
    State(p): State<Platform>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SmsCodeRequest>,
) -> Result<impl IntoResponse> {
    let phone = Phone::parse(&body.phone)?;
    let sent = accounts::send_code(
        p.pool(),
        &phone,
        &client_ip(&headers),
        p.now_unix(),
        p.demo(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

async fn login(
    State(p): State<Platform>,
    MaybeCaller(anonymous): MaybeCaller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<Session>> {
    let phone = Phone::parse(&body.phone)?;
    Ok(Json(
        accounts::login(
            p.pool(),
            &phone,
            &body.code,
            anonymous.as_ref(),
            &client_ip(&headers),
            p.now_unix(),
        )
        .await?,
    ))
}

async fn logout(State(p): State<Platform>, caller: Caller) -> Result<StatusCode> {
    accounts::logout(p.pool(), &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(p): State<Platform>, caller: Caller) -> Result<Json<Me>> {
    let user = match &caller.user_id {
        Some(id) => Some(accounts::user(p.pool(), id).await?),
        None => None,
    };
    Ok(Json(Me { user }))
}

async fn list_addresses(
    State(p): State<Platform>,
    caller: Caller,
) -> Result<Json<AddressesResponse>> {
    let user = caller.require_user()?;
    Ok(Json(AddressesResponse {
        addresses: accounts::addresses(p.pool(), user).await?,
    }))
}

async fn add_address(
    State(p): State<Platform>,
    caller: Caller,
    ApiJson(body): ApiJson<NewAddress>,
) -> Result<(StatusCode, Json<accounts::Address>)> {
    let user = caller.require_user()?;
    Ok((
        StatusCode::CREATED,
        Json(accounts::add_address(p.pool(), user, &body, p.now_unix()).await?),
    ))
}

async fn list_carts(
    State(p): State<Platform>,
    caller: Caller,
) -> Result<Json<jishi_api::cart::CartsResponse>> {
    Ok(Json(carts::all(p.pool(), p.index(), caller.owner()).await?))
}

async fn get_cart(
    State(p): State<Platform>,
    caller: Caller,
    Path(store_id): Path<String>,
) -> Result<Json<jishi_api::cart::Cart>> {
    Ok(Json(
        carts::get(p.pool(), p.index(), caller.owner(), &store_id).await?,
    ))
}

async fn put_cart(
    State(p): State<Platform>,
    caller: Caller,
    Path(store_id): Path<String>,
    ApiJson(body): ApiJson<PutCart>,
) -> Result<Json<jishi_api::cart::Cart>> {
    Ok(Json(
        carts::put(
            p.pool(),
            p.index(),
            caller.owner(),
            &store_id,
            &body,
            p.now_unix(),
        )
        .await?,
    ))
}

async fn place_order(
    State(p): State<Platform>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlaceOrder>,
) -> Result<Response> {
    let user = caller.require_user()?;
    let key = parse_idempotency_key(
        headers
            .get(jishi_api::headers::IDEMPOTENCY_KEY)
            .and_then(|v| v.to_str().ok()),
    )?;
    p.order_limiter().check(user, &client_ip(&headers))?;
    let reply =
        orders::place_idempotent(p.pool(), p.index(), user, &key, &body, p.now_unix()).await?;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok((
        status,
        [(header::CONTENT_TYPE, "application/json")],
        reply.body,
    )
        .into_response())
}

/// Orders keep the store's id; its name comes from the index (stores do not change while we run).
fn named(p: &Platform, mut order: Order) -> Order {
    if let Some(store) = p.index().get(&order.store_id) {
        order.store_name = store.name.clone();
    }
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
        orders::pay(p.pool(), user, &id, body.method, p.now_unix()).await?,
    );
    p.notify_order(&id);
    Ok(Json(order))
}

async fn cancel_order(
    State(p): State<Platform>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<jishi_api::orders::Order>> {
    let user = caller.require_user()?;
    let order = named(&p, orders::cancel(p.pool(), user, &id, p.now_unix()).await?);
    p.notify_order(&id);
    Ok(Json(order))
}

/// How often an idle stream looks for events by itself: only a safety net, since every writer
/// wakes the streams of the orders it changed at once.
const EVENT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// How long `/healthz` waits for the database before calling it unusable.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `GET /healthz`: 200 while the database answers a query, 503 when it does not, so a load
/// balancer or supervisor stops sending traffic to a platform that cannot serve it.
async fn healthz(State(p): State<Platform>) -> Result<&'static str> {
    let probe = sqlx::query("SELECT 1").execute(p.pool());
    match tokio::time::timeout(HEALTH_TIMEOUT, probe).await {
        Ok(Ok(_)) => Ok("ok"),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: the database is unusable");
            Err(unavailable())
        }
        Err(_) => {
            tracing::error!("health check: the database did not answer in time");
            Err(unavailable())
        }
    }
}

fn unavailable() -> PlatformError {
    ApiError::new(ErrorCode::PlatformUnavailable, "服务暂不可用，请稍后再试").into()
}

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

async fn nearby(
    State(p): State<Platform>,
    ApiQuery(raw): ApiQuery<NearbyQueryRaw>,
) -> Result<Json<NearbyResponse>> {
    let q = NearbyQuery::parse(&raw)?;
    Ok(Json(p.index().nearby(&q, p.clock().store_local_now())))
}

fn unknown_store(id: &str) -> PlatformError {
    ApiError::not_found(format!("找不到门店 {id}")).into()
}

async fn store_detail(
    State(p): State<Platform>,
    Path(id): Path<String>,
    ApiQuery(point): ApiQuery<PointRaw>,
) -> Result<Json<StoreDetail>> {
    let at = point.parse()?;
    let store = p.index().get(&id).ok_or_else(|| unknown_store(&id))?;
    let now: LocalTime = p.clock().store_local_now();
    let open_now = store.hours.is_open(now);
    Ok(Json(StoreDetail {
        open_now,
        is_24h: store.hours.is_24h(),
        opens_at: opens_at(store, now, open_now),
        today_hours: store.hours.describe_day(now.weekday),
        aisles: catalog::aisles(p.pool(), &id).await?,
        quote: at.map(|at| StoreIndex::quote(store, at)),
        slots: orders::delivery_slots(store, p.clock().now()),
        store: store.clone(),
    }))
}

async fn store_products(
    State(p): State<Platform>,
    Path(id): Path<String>,
    ApiQuery(raw): ApiQuery<ProductsQueryRaw>,
) -> Result<Json<ProductsResponse>> {
    let q = ProductsQuery::parse(&raw)?;
    if p.index().get(&id).is_none() {
        return Err(unknown_store(&id));
    }
    Ok(Json(catalog::store_products(p.pool(), &id, &q).await?))
}

async fn search(
    State(p): State<Platform>,
    ApiQuery(raw): ApiQuery<SearchQueryRaw>,
) -> Result<Json<SearchResponse>> {
    let q = SearchQuery::parse(&raw)?;
    let now = p.clock().store_local_now();
    let mut stores = p.index().all_delivering(&NearbyQuery::new(q.at), now);
    stores.truncate(SEARCH_STORE_LIMIT);
    let ids: Vec<&str> = stores.iter().map(|s| s.id.as_str()).collect();
    let found = catalog::in_stock_matching(p.pool(), &q.q, &ids).await?;
    let by_id: std::collections::HashMap<&str, &jishi_api::stores::StoreSummary> =
        stores.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut results: Vec<SearchHit> = found
        .into_iter()
        .filter_map(|(store_id, product)| {
            let store = (*by_id.get(store_id.as_str())?).clone();
            Some(SearchHit { store, product })
        })
        .collect();
    // Fastest first; among equally fast, cheapest; open stores before closed ones.
    results.sort_by(|a, b| {
        (
            !a.store.open_now,
            a.store.eta_min,
            a.product.price_fen,
            &a.store.id,
            &a.product.sku,
        )
            .cmp(&(
                !b.store.open_now,
                b.store.eta_min,
                b.product.price_fen,
                &b.store.id,
                &b.product.sku,
            ))
    });
    results.truncate(q.limit as usize);
    Ok(Json(SearchResponse { results }))
}
