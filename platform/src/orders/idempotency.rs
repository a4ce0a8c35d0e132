//! Idempotency-Key handling for `POST /v1/orders`: claim the key, replay a stored answer, refuse a
//! different body or a repeat in flight, and store the outcome with the order.

use jishi_api::orders::PlaceOrder;
use jishi_api::{ApiError, ErrorCode};
use sqlx::{Row, SqlitePool};

use super::placement::place_in;
use crate::accounts;
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
        if let Some(replay) = examine_claim(pool, user_id, key, &request, now).await? {
            return Ok(replay);
        }
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
        Err(PlatformError::Api(e)) if e.code == ErrorCode::TooManyUnpaid => {
            // Passing, not final: once the shopper pays or cancels one, the same request (and
            // key) must be able to go through, so the refusal is not stored as the key's answer.
            drop(tx);
            release_claim(pool, user_id, key).await?;
            return Ok(Reply::from_error(&e));
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
            release_claim(pool, user_id, key).await?;
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

/// A key that was already known: the answer to give instead of placing (a replay, a refusal), or
/// `None` once the key is ours to process (an abandoned claim, or one cleared meanwhile).
async fn examine_claim(
    pool: &SqlitePool,
    user_id: &str,
    key: &str,
    request: &str,
    now: i64,
) -> Result<Option<Reply>> {
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
            return Ok(Some(Reply::from_error(&ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "这个 Idempotency-Key 已用于另一笔不同的下单请求",
            ))));
        }
        Some((_, Some(status), Some(response), _)) => {
            return Ok(Some(Reply {
                status: status as u16,
                body: response,
            }));
        }
        Some((_, None, _, claimed_at)) if now - claimed_at < ABANDONED_CLAIM_S => {
            return Ok(Some(Reply::from_error(&ApiError::new(
                ErrorCode::RequestInProgress,
                "同一笔下单正在处理中，请稍候",
            ))));
        }
        Some(_) => {
            sqlx::query("UPDATE idempotency_keys SET created_at = ? WHERE user_id = ? AND key = ?")
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
            .bind(request)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(None)
}

/// Forgets an unanswered claim, so the next request with the key is processed afresh.
async fn release_claim(pool: &SqlitePool, user_id: &str, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND status IS NULL")
        .bind(user_id)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}
