//! Orders: placed exactly once (Idempotency-Key), stock reserved with a conditional decrement in
//! one write transaction, paid in the sandbox, cancelled or expired with stock returned once.

use chrono::{DateTime, Timelike, Utc};
use jishi_api::cart::Items;
use jishi_api::orders::{Order, OrderLine, OrderStatus, PlaceOrder, PAYMENT_WINDOW_S};
use jishi_api::stores::{DeliverySlot, StoreProfile};
use jishi_api::{ApiError, ErrorCode, LatLng};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::accounts::{self, new_id};
use crate::clock::{to_store_local, STORE_TZ};
use crate::dispatch;
use crate::error::{PlatformError, Result};
use crate::stores::StoreIndex;

/// A claimed key whose request has not finished after this long is taken to have died with its
/// process, and the next request with that key processes it afresh.
const ABANDONED_CLAIM_S: i64 = 60;

/// What `POST /v1/orders` answers: status and JSON body, as stored for replays.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    fn from_error(e: &ApiError) -> Self {
        Reply {
            status: e.http_status(),
            body: serde_json::to_string(&e.body()).unwrap_or_default(),
        }
    }
}

use crate::clock::rfc3339_utc as rfc3339;

/// Normalises a request body so that whitespace or key order do not make "a different request".
fn canonical(body: &PlaceOrder) -> String {
    serde_json::to_string(body).unwrap_or_default()
}

/// Places an order exactly once per (user, key): replays the stored answer for a repeat, refuses a
/// different body under the same key (422) and a repeat while the first is in flight (409).
pub async fn place_idempotent(
    pool: &SqlitePool,
    index: &StoreIndex,
    user_id: &str,
    key: &str,
    body: &PlaceOrder,
    now: i64,
) -> Result<Reply> {
    let request = canonical(body);
    // Phase 1: claim the key, committed on its own so a concurrent repeat sees it in flight. A new
    // key (nearly always) is claimed by one atomic statement; a known one is examined below. The
    // delivery address is read in the same round trip (`changes()` tells whether the claim took),
    // before any write lock: a transaction must never wait on a second pooled connection.
    let claim = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request, status, response, created_at)
         VALUES (?, ?, ?, NULL, NULL, ?) ON CONFLICT (user_id, key) DO NOTHING;
         SELECT changes() AS claimed, a.id, a.label, a.detail, a.lat, a.lng
         FROM (SELECT 1) LEFT JOIN addresses a ON a.user_id = ? AND a.id = ?",
    )
    .bind(user_id)
    .bind(key)
    .bind(&request)
    .bind(now)
    .bind(user_id)
    .bind(&body.address_id)
    .fetch_one(pool)
    .await?;
    let claimed = claim.try_get::<i64, _>("claimed")? == 1;
    // Another user's address is "not found", exactly like a missing one.
    let address = match claim.try_get::<Option<String>, _>("id")? {
        Some(id) => Ok(accounts::Address {
            id,
            label: claim.try_get("label")?,
            detail: claim.try_get("detail")?,
            lat: claim.try_get("lat")?,
            lng: claim.try_get("lng")?,
        }),
        None => Err(ApiError::not_found("找不到这个收货地址")),
    };
    if !claimed {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing: Option<(String, Option<i64>, Option<String>, i64)> = sqlx::query_as(
            "SELECT request, status, response, created_at FROM idempotency_keys WHERE user_id = ? AND key = ?",
        )
        .bind(user_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        match existing {
            Some((stored, _, _, _)) if stored != request => {
                return Ok(Reply::from_error(&ApiError::new(
                    ErrorCode::IdempotencyKeyReused,
                    "这个 Idempotency-Key 已用于另一笔不同的下单请求",
                )));
            }
            Some((_, Some(status), Some(response), _)) => {
                return Ok(Reply {
                    status: status as u16,
                    body: response,
                });
            }
            Some((_, None, _, claimed_at)) if now - claimed_at < ABANDONED_CLAIM_S => {
                return Ok(Reply::from_error(&ApiError::new(
                    ErrorCode::RequestInProgress,
                    "同一笔下单正在处理中，请稍候",
                )));
            }
            Some(_) => {
                sqlx::query(
                    "UPDATE idempotency_keys SET created_at = ? WHERE user_id = ? AND key = ?",
                )
                .bind(now)
                .bind(user_id)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                // Cleared since our insert lost (a failed first attempt): claim it now.
                sqlx::query(
                    "INSERT INTO idempotency_keys (user_id, key, request, status, response, created_at)
                     VALUES (?, ?, ?, NULL, NULL, ?)",
                )
                .bind(user_id)
                .bind(key)
                .bind(&request)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
    }

    // Phase 2: the order and the stored answer commit together, or neither does.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let placed = match address {
        Ok(address) => place_in(&mut tx, index, user_id, key, body, address, now).await,
        Err(e) => Err(e.into()),
    };
    let reply = match placed {
        Ok(body) => {
            // The answer was stored with the order.
            tx.commit().await?;
            return Ok(Reply { status: 201, body });
        }
        Err(PlatformError::Api(e)) => {
            // A refused order changed nothing; start a fresh transaction for the record.
            drop(tx);
            tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            Reply::from_error(&e)
        }
        Err(other) => {
            drop(tx);
            // Let a retry with the same key try again rather than replay a server failure.
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND status IS NULL",
            )
            .bind(user_id)
            .bind(key)
            .execute(pool)
            .await?;
            return Err(other);
        }
    };
    sqlx::query(
        "UPDATE idempotency_keys SET status = ?, response = ? WHERE user_id = ? AND key = ?",
    )
    .bind(i64::from(reply.status))
    .bind(&reply.body)
    .bind(user_id)
    .bind(key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(reply)
}

/// Validates and creates the order inside `tx`, reserving stock, and stores the answer under the
/// Idempotency-Key. Returns that answer (the order as JSON). Any error leaves `tx` to roll back.
async fn place_in(
    tx: &mut Transaction<'_, Sqlite>,
    index: &StoreIndex,
    user_id: &str,
    key: &str,
    body: &PlaceOrder,
    address: accounts::Address,
    now: i64,
) -> Result<String> {
    let items = Items::parse(&body.items, false)?;
    let store = index
        .get(&body.store_id)
        .ok_or_else(|| ApiError::not_found(format!("找不到门店 {}", body.store_id)))?;
    let to = LatLng::new(address.lat, address.lng)?;
    let quote = StoreIndex::quote(store, to);
    if !quote.delivers {
        return Err(ApiError::new(
            ErrorCode::OutOfDeliveryRange,
            format!(
                "这个地址距离门店 {:.1} 公里，超出了门店的配送范围（{:.1} 公里）",
                f64::from(quote.distance_m) / 1000.0,
                f64::from(store.delivery_radius_m) / 1000.0
            ),
        )
        .into());
    }
    let slot = validate_slot(&body.slot, store, now)?;

    let mut lines = Vec::with_capacity(items.lines().len());
    for (sku, quantity) in items.lines() {
        // The conditional decrement: never below zero, whatever else runs concurrently.
        let reserved = sqlx::query(
            "UPDATE store_products SET stock = stock - ?1 WHERE store_id = ?2 AND sku = ?3 AND stock >= ?1
             RETURNING price_fen, (SELECT name FROM products WHERE sku = ?3) AS name",
        )
        .bind(quantity)
        .bind(&store.id)
        .bind(sku)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = reserved else {
            // Refused: say whether the store lacks the product or just enough of it.
            let name: Option<String> = sqlx::query_scalar(
                "SELECT p.name FROM store_products sp JOIN products p ON p.sku = sp.sku
                 WHERE sp.store_id = ? AND sp.sku = ?",
            )
            .bind(&store.id)
            .bind(sku)
            .fetch_optional(&mut **tx)
            .await?;
            return Err(match name {
                None => ApiError::bad_request(format!("这家门店没有商品 {sku}")),
                Some(name) => ApiError::new(
                    ErrorCode::SoldOut,
                    format!("「{name}」库存不足，已售罄或剩余不够"),
                ),
            }
            .into());
        };
        lines.push(OrderLine {
            sku: sku.clone(),
            name: row.try_get("name")?,
            price_fen: row.try_get("price_fen")?,
            quantity: *quantity,
        });
    }
    let items_fen: i64 = lines
        .iter()
        .map(|l| l.price_fen * i64::from(l.quantity))
        .sum();
    if items_fen < store.min_order_fen {
        return Err(ApiError::bad_request(format!(
            "还差 {} 起送",
            jishi_api::money::format_yuan(store.min_order_fen - items_fen)
        ))
        .into());
    }
    let delivery_fee_fen = store.fees.fee_fen(quote.distance_m, items_fen);
    let order = Order {
        id: new_id("ord_"),
        store_id: store.id.clone(),
        store_name: store.name.clone(),
        status: OrderStatus::PendingPayment,
        items: lines,
        items_fen,
        delivery_fee_fen,
        total_fen: items_fen + delivery_fee_fen,
        address_id: address.id,
        slot,
        created_at: rfc3339(now),
        pay_before: Some(rfc3339(now + PAYMENT_WINDOW_S)),
        eta_min: quote.eta_min,
    };
    let reply = serde_json::to_string(&order).map_err(|e| PlatformError::CorruptRow {
        what: format!("order {}", order.id),
        detail: e.to_string(),
    })?;
    // The order, its lines, the cart clean-up and the stored answer go to SQLite as one
    // multi-statement query: one round trip to the connection's worker thread instead of four.
    // Placeholders are plain `?`: sqlx hands each statement the next arguments in turn.
    let mut sql = String::from(
        "INSERT INTO orders (id, user_id, store_id, status, address_id, slot, items_fen, delivery_fee_fen,
             total_fen, created_at, expires_at, updated_at, eta_min)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
         INSERT INTO order_items (order_id, sku, name, price_fen, quantity) VALUES ",
    );
    sql.push_str(&vec!["(?, ?, ?, ?, ?)"; order.items.len()].join(", "));
    // What was ordered leaves the cart in the same transaction, so a retry cannot order it twice
    // from a stale cart and a failed order leaves the cart as it was.
    sql.push_str(
        ";
         DELETE FROM cart_items WHERE owner = ? AND store_id = ?
             AND sku IN (SELECT sku FROM order_items WHERE order_id = ?);
         UPDATE idempotency_keys SET status = 201, response = ? WHERE user_id = ? AND key = ?;",
    );
    let mut query = sqlx::query(&sql)
        .bind(&order.id)
        .bind(user_id)
        .bind(&order.store_id)
        .bind(order.status.as_str())
        .bind(&order.address_id)
        .bind(&order.slot)
        .bind(order.items_fen)
        .bind(order.delivery_fee_fen)
        .bind(order.total_fen)
        .bind(now)
        .bind(now + PAYMENT_WINDOW_S)
        .bind(now)
        .bind(quote.eta_min);
    for line in &order.items {
        query = query
            .bind(&order.id)
            .bind(&line.sku)
            .bind(&line.name)
            .bind(line.price_fen)
            .bind(line.quantity);
    }
    let stored = query
        .bind(user_id)
        .bind(&order.store_id)
        .bind(&order.id)
        .bind(&reply)
        .bind(user_id)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    // Order + lines + the stored answer (cart lines deleted vary): a miss would be a bug here.
    let expected = 1 + order.items.len() as u64 + 1;
    if stored.rows_affected() < expected {
        return Err(PlatformError::CorruptRow {
            what: format!("order {}", order.id),
            detail: format!(
                "wrote {} rows, expected at least {expected}",
                stored.rows_affected()
            ),
        });
    }
    Ok(reply)
}

const SLOT_S: i64 = 30 * 60;

/// The 30-minute slots a shopper may book: starting at least half an hour from now, through the end
/// of tomorrow in the store's zone, while the store is open at the slot's start.
pub fn delivery_slots(store: &StoreProfile, now: DateTime<Utc>) -> Vec<DeliverySlot> {
    let today = now.with_timezone(&STORE_TZ).date_naive();
    let first = (now.timestamp() + 2 * SLOT_S - 1).div_euclid(SLOT_S) * SLOT_S;
    (0..)
        .map(|i| first + i * SLOT_S)
        .filter_map(|t| DateTime::from_timestamp(t, 0))
        .take_while(|start| (start.with_timezone(&STORE_TZ).date_naive() - today).num_days() <= 1)
        .filter(|start| store.hours.is_open(to_store_local(*start)))
        .map(|start| {
            let local = start.with_timezone(&STORE_TZ);
            let end = local + chrono::Duration::seconds(SLOT_S);
            let day = if local.date_naive() == today {
                "今天"
            } else {
                "明天"
            };
            DeliverySlot {
                start: start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                label: format!("{day} {}–{}", local.format("%H:%M"), end.format("%H:%M")),
            }
        })
        .collect()
}

/// `"asap"`, or the start of a 30-minute slot within the next two days while the store is open.
fn validate_slot(
    slot: &str,
    store: &jishi_api::stores::StoreProfile,
    now: i64,
) -> Result<String, ApiError> {
    if slot == "asap" {
        // A closed store takes scheduled orders only (PRODUCT.md: listed, greyed, can be booked).
        let open_now = DateTime::from_timestamp(now, 0)
            .is_some_and(|t| store.hours.is_open(to_store_local(t)));
        if !open_now {
            return Err(ApiError::new(
                ErrorCode::InvalidState,
                "门店现在休息，不能尽快送达；请选择营业时间内的预约时段",
            ));
        }
        return Ok(slot.to_owned());
    }
    let bad = || ApiError::bad_request("配送时间应为 \"asap\" 或今明两天营业时间内的半点时段");
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339(slot)
        .map_err(|_| bad())?
        .with_timezone(&Utc);
    let t = start.timestamp();
    let aligned = start.second() == 0 && start.minute().is_multiple_of(30);
    if !aligned || t < now || t > now + 2 * 24 * 3600 || !store.hours.is_open(to_store_local(start))
    {
        return Err(bad());
    }
    Ok(start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// What `order_from_row` reads.
const ORDER_COLUMNS: &str = "id, store_id, status, address_id, slot, items_fen, delivery_fee_fen, total_fen, created_at, expires_at, eta_min";

async fn load(pool: &SqlitePool, user_id: &str, id: &str) -> Result<Order> {
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = ? AND user_id = ?"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    // Another user's order is indistinguishable from a missing one.
    .ok_or_else(|| ApiError::not_found("找不到这个订单"))?;
    order_from_row(pool, &row).await
}

const ORDER_LINES_SQL: &str =
    "SELECT sku, name, price_fen, quantity FROM order_items WHERE order_id = ?1 ORDER BY sku";

async fn order_from_row(pool: &SqlitePool, row: &sqlx::sqlite::SqliteRow) -> Result<Order> {
    let id: String = row.try_get("id")?;
    let lines = sqlx::query(ORDER_LINES_SQL)
        .bind(&id)
        .fetch_all(pool)
        .await?;
    order_from(row, &lines)
}

fn order_from(row: &sqlx::sqlite::SqliteRow, lines: &[sqlx::sqlite::SqliteRow]) -> Result<Order> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let status = OrderStatus::parse(&status).ok_or_else(|| PlatformError::CorruptRow {
        what: format!("order {id}"),
        detail: format!("status {status}"),
    })?;
    let items = lines
        .iter()
        .map(|r| {
            Ok(OrderLine {
                sku: r.try_get("sku")?,
                name: r.try_get("name")?,
                price_fen: r.try_get("price_fen")?,
                quantity: r.try_get("quantity")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    Ok(Order {
        store_id: row.try_get("store_id")?,
        status,
        items,
        items_fen: row.try_get("items_fen")?,
        delivery_fee_fen: row.try_get("delivery_fee_fen")?,
        total_fen: row.try_get("total_fen")?,
        address_id: row.try_get("address_id")?,
        slot: row.try_get("slot")?,
        created_at: rfc3339(row.try_get("created_at")?),
        pay_before: expires_at
            .filter(|_| status == OrderStatus::PendingPayment)
            .map(rfc3339),
        eta_min: row.try_get("eta_min")?,
        // The platform's handlers name the store from the index; rows keep only its id.
        store_name: String::new(),
        id,
    })
}

pub async fn get(pool: &SqlitePool, user_id: &str, id: &str) -> Result<Order> {
    load(pool, user_id, id).await
}

pub async fn list(pool: &SqlitePool, user_id: &str) -> Result<Vec<Order>> {
    let rows = sqlx::query(
        &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT 100"),
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(order_from_row(pool, row).await?);
    }
    Ok(out)
}

/// Sandbox payment: succeeds for any unpaid, unexpired order; paying twice is harmless.
pub async fn pay(
    pool: &SqlitePool,
    user_id: &str,
    id: &str,
    method: &str,
    now: i64,
) -> Result<Order> {
    if method != "sandbox" {
        return Err(ApiError::bad_request("这个平台只支持 sandbox 支付").into());
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let paid = sqlx::query(&format!(
        "UPDATE orders SET status = 'paid', expires_at = NULL, updated_at = ?1
         WHERE id = ?2 AND user_id = ?3 AND status = 'pending_payment' AND expires_at > ?1
         RETURNING {ORDER_COLUMNS}"
    ))
    .bind(now)
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = paid {
        let eta: u32 = row.try_get("eta_min")?;
        // The "paid" event and the order's lines in one round trip (both statements read ?1..?6).
        let lines = sqlx::query(&format!("{}; {ORDER_LINES_SQL}", dispatch::RECORD_SQL))
            .bind(id)
            .bind(OrderStatus::Paid.as_str())
            .bind(eta)
            .bind(None::<f64>)
            .bind(None::<f64>)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        return order_from(&row, &lines);
    }
    tx.commit().await?;
    // Not paid now: already paid (paying twice is harmless), lapsed, or cancelled.
    let order = load(pool, user_id, id).await?;
    if order.status == OrderStatus::PendingPayment {
        return Err(
            ApiError::new(ErrorCode::InvalidState, "订单已超过支付时间，请重新下单").into(),
        );
    }
    if !order.status.is_paid() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("订单{}，不能支付", order.status.label()),
        )
        .into());
    }
    Ok(order)
}

/// Moves an order off the delivery path and returns its stock, exactly once: the status change
/// and the stock return are guarded by `stock_returned = 0` in the same transaction.
async fn release(
    tx: &mut Transaction<'_, Sqlite>,
    id: &str,
    to: OrderStatus,
    now: i64,
) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE orders SET status = ?1, stock_returned = 1, expires_at = NULL, updated_at = ?2
         WHERE id = ?3 AND stock_returned = 0",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 1 {
        dispatch::record(tx, id, to, 0, None, now).await?;
        sqlx::query(
            "UPDATE store_products SET stock = stock + (
                 SELECT oi.quantity FROM order_items oi WHERE oi.order_id = ?1 AND oi.sku = store_products.sku)
             WHERE store_id = (SELECT store_id FROM orders WHERE id = ?1)
               AND sku IN (SELECT sku FROM order_items WHERE order_id = ?1)",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(changed == 1)
}

/// The shopper cancels before the rider has the goods; a paid order is refunded.
pub async fn cancel(pool: &SqlitePool, user_id: &str, id: &str, now: i64) -> Result<Order> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM orders WHERE id = ? AND user_id = ?")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let status = status
        .as_deref()
        .and_then(OrderStatus::parse)
        .ok_or_else(|| ApiError::not_found("找不到这个订单"))?;
    if !status.cancellable() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("订单{}，已不能取消", status.label()),
        )
        .into());
    }
    let to = if status.is_paid() {
        OrderStatus::Refunded
    } else {
        OrderStatus::Cancelled
    };
    release(&mut tx, id, to, now).await?;
    tx.commit().await?;
    load(pool, user_id, id).await
}

/// Cancels unpaid orders whose payment window has passed and returns their stock. Safe to run
/// from several tasks or processes at once, and again after a restart: each order's stock goes
/// back exactly once. Returns the ids of the orders this call expired.
pub async fn expire_unpaid(pool: &SqlitePool, now: i64) -> Result<Vec<String>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'pending_payment' AND expires_at <= ? AND stock_returned = 0",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut expired = Vec::new();
    for id in due {
        if release(&mut tx, &id, OrderStatus::Cancelled, now).await? {
            expired.push(id);
        }
    }
    tx.commit().await?;
    if !expired.is_empty() {
        tracing::info!(
            expired = expired.len(),
            "unpaid orders expired, stock returned"
        );
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use jishi_api::hours::{DayHours, WeeklyHours};
    use jishi_api::Category;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        Clock::fixed_from_rfc3339(rfc3339).unwrap().now()
    }

    #[test]
    fn slots_run_from_half_an_hour_ahead_to_the_end_of_tomorrow_within_hours() {
        let mut store = crate::stores::tests::store("s", 0.0, 3000, Category::Supermarket);
        store.hours = WeeklyHours::every_day(DayHours::ALL_DAY);
        let now = at("2026-11-25T12:10:00+08:00");
        let slots = delivery_slots(&store, now);
        assert_eq!(slots[0].label, "今天 13:00–13:30");
        assert_eq!(slots.last().unwrap().label, "明天 23:30–00:00");
        assert_eq!(slots.len(), 22 + 48);
        for slot in &slots {
            assert_eq!(
                validate_slot(&slot.start, &store, now.timestamp()).unwrap(),
                slot.start
            );
        }

        store.hours = WeeklyHours::every_day("08:00-22:00".parse().unwrap());
        let evening = delivery_slots(&store, at("2026-11-25T21:20:00+08:00"));
        // Closed now: "as soon as possible" is refused, a slot tomorrow is fine.
        let night = at("2026-11-25T23:10:00+08:00").timestamp();
        let refused = validate_slot("asap", &store, night).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidState);
        assert!(validate_slot(&evening[0].start, &store, night).is_ok());
        assert!(validate_slot("asap", &store, at("2026-11-25T21:20:00+08:00").timestamp()).is_ok());
        // 21:50 and later today are closed; tomorrow runs 08:00–21:30 starts.
        assert_eq!(evening[0].label, "明天 08:00–08:30");
        assert_eq!(evening.last().unwrap().label, "明天 21:30–22:00");
        assert_eq!(evening.len(), 28);
    }
}
