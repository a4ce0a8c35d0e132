//! Idempotency-Key handling for `POST /v1/orders`: claim the key, replay a stored answer, refuse a
//! different body or a repeat in flight, and store the outcome with the order.

use jishi_api::orders::PlaceOrder;
use jishi_api::{ApiError, ErrorCode};
use std::sync::Arc;

use super::placement::place_in;
use super::write::{bind_holds, holds_from, holds_sql, Holds, Scarce};
use crate::accounts;
use crate::error::{PlatformError, Result};
use crate::sql::{query, Db};
use crate::stores::StoreIndex;
use crate::writer::Writer;

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
    /// The answer as sent now: a created order (alone, or in a group's answer) carries the
    /// platform's clock at this moment (`Order.now`), so a countdown to `pay_before` is right on
    /// a phone whose clock is off, and on a replay too. Stored answers never hold it.
    pub fn at(self, now: i64) -> Reply {
        if self.status != 201 {
            return self;
        }
        let Ok(mut answer) = serde_json::from_str::<serde_json::Value>(&self.body) else {
            return self;
        };
        let order = match answer.get_mut("order") {
            Some(order) => order,
            None => &mut answer,
        };
        match order.as_object_mut() {
            Some(fields) if fields.contains_key("pay_before") => {
                fields.insert("now".into(), crate::clock::rfc3339_utc(now).into());
            }
            _ => return self,
        }
        Reply {
            status: self.status,
            body: answer.to_string(),
        }
    }

    pub(crate) fn from_error(e: &ApiError) -> Self {
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
/// Runs on the checkout writer: the claim, the order and the stored answer commit together.
pub async fn place_idempotent(
    writer: &Writer,
    index: Arc<StoreIndex>,
    user_id: &str,
    key: &str,
    body: PlaceOrder,
    now: i64,
) -> Result<Reply> {
    let (user_id, key) = (user_id.to_owned(), key.to_owned());
    writer
        .run_straight(move |db| place_on(db, &index, &user_id, &key, &body, now))
        .await
}

fn place_on(
    db: &Db,
    index: &StoreIndex,
    user_id: &str,
    key: &str,
    body: &PlaceOrder,
    now: i64,
) -> Result<Reply> {
    let request = canonical(body);
    let checkout = Checkout {
        index,
        user_id,
        key,
        body,
        now,
    };
    super::write::once(db, user_id, key, &request, &body.address_id, now, &checkout)
}

/// A checkout order (`placement::place_in`).
struct Checkout<'a> {
    index: &'a StoreIndex,
    user_id: &'a str,
    key: &'a str,
    body: &'a PlaceOrder,
    now: i64,
}

impl super::write::Placement for Checkout<'_> {
    fn holds(&self) -> Scarce<'_> {
        Scarce::None
    }

    fn place(&self, db: &Db, address: accounts::Address, holds: Holds) -> Result<String> {
        place_in(
            db,
            self.index,
            self.user_id,
            self.key,
            self.body,
            address,
            holds,
            self.now,
        )
    }
}

/// What claiming an Idempotency-Key found.
pub(crate) enum Claim {
    /// The key already has an answer (or is refused): give it and do nothing else.
    Replay(Reply),
    /// The key is ours: go ahead inside the open `SAVEPOINT place`, with the shopper's address
    /// (another user's or a missing one is "not found") and what the shopper holds unpaid.
    Proceed(std::result::Result<accounts::Address, ApiError>, Holds),
}

/// Claims `key` for `request` on the writer's connection: a new one (nearly always) by one atomic
/// statement; a known one is examined. The delivery address and the shopper's holds of `scarce`
/// are read and the order's savepoint opened right after (`changes()` tells whether the claim
/// took). The writer's RELEASE of the job's own savepoint also ends `place` on the paths that
/// return early. Shared by every kind of order: one table, one exactly-once rule.
pub(crate) fn claim(
    db: &Db,
    user_id: &str,
    key: &str,
    request: &str,
    address_id: &str,
    now: i64,
    scarce: Scarce<'_>,
) -> Result<Claim> {
    // Plain `?`, bound in the order they appear: the claim's, the holds' (in the select list),
    // the address's.
    let sql = format!(
        "INSERT INTO idempotency_keys (user_id, key, request, status, response, created_at)
         VALUES (?, ?, ?, NULL, NULL, ?) ON CONFLICT (user_id, key) DO NOTHING;
         SELECT changes() AS claimed, a.id, a.label, a.detail, a.lat, a.lng, {}
         FROM (SELECT 1) LEFT JOIN addresses a ON a.user_id = ? AND a.id = ?;
         SAVEPOINT place",
        holds_sql(scarce)
    );
    let claim = query(sql).bind(user_id).bind(key).bind(request).bind(now);
    let claim = bind_holds(claim, user_id, now, scarce)
        .bind(user_id)
        .bind(address_id)
        .fetch_all(db)?;
    let claim = claim.first().ok_or_else(|| PlatformError::CorruptRow {
        what: format!("idempotency key {key}"),
        detail: "the claim returned no row".into(),
    })?;
    let claimed = claim.try_get::<i64>("claimed")? == 1;
    // Another user's address is "not found", exactly like a missing one.
    let address = match claim.try_get::<Option<String>>("id")? {
        Some(id) => Ok(accounts::Address {
            id,
            label: claim.try_get("label")?,
            detail: claim.try_get("detail")?,
            lat: claim.try_get("lat")?,
            lng: claim.try_get("lng")?,
        }),
        None => Err(ApiError::not_found("找不到这个收货地址")),
    };
    let holds = holds_from(claim, scarce, now)?;
    if !claimed {
        if let Some(replay) = examine_claim(db, user_id, key, request, now)? {
            return Ok(Claim::Replay(replay));
        }
        // The key is ours after all (its claim was renewed): keep that out of the order's
        // savepoint, which a refusal rolls back.
        query("RELEASE place; SAVEPOINT place").execute(db)?;
    }
    Ok(Claim::Proceed(address, holds))
}

/// Ends a claimed request. `placed` is the stored answer (the order, already written together with
/// `UPDATE idempotency_keys SET status = 201, response = …`) or why it was refused. The order and
/// the stored answer stand together, or neither does: a refusal is rolled back to `place` and only
/// the key's record keeps it. Any other error fails the whole job, so the writer undoes the claim
/// too and a retry with the key is processed afresh.
pub(crate) fn settle(db: &Db, user_id: &str, key: &str, placed: Result<String>) -> Result<Reply> {
    let refused = match placed {
        // The answer was stored with the order.
        Ok(body) => return Ok(Reply { status: 201, body }),
        Err(PlatformError::Api(e)) => e,
        Err(other) => return Err(other),
    };
    // A refused order changes nothing but the key's record.
    query("ROLLBACK TO place; RELEASE place").execute(db)?;
    let reply = Reply::from_error(&refused);
    if matches!(
        refused.code,
        ErrorCode::TooManyUnpaid | ErrorCode::TooManyRequests
    ) {
        // Passing, not final: once the shopper pays or cancels one, or waits, the same request
        // (and key) must be able to go through, so the refusal is not stored as the key's answer.
        query("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND status IS NULL")
            .bind(user_id)
            .bind(key)
            .execute(db)?;
        return Ok(reply);
    }
    query("UPDATE idempotency_keys SET status = ?, response = ? WHERE user_id = ? AND key = ?")
        .bind(i64::from(reply.status))
        .bind(&reply.body)
        .bind(user_id)
        .bind(key)
        .execute(db)?;
    Ok(reply)
}

/// A key that was already known: the answer to give instead of placing (a replay, a refusal), or
/// `None` once the key is ours to process (an abandoned claim, or one cleared meanwhile).
fn examine_claim(
    db: &Db,
    user_id: &str,
    key: &str,
    request: &str,
    now: i64,
) -> Result<Option<Reply>> {
    let existing = query(
        "SELECT request, status, response, created_at FROM idempotency_keys WHERE user_id = ? AND key = ?",
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(db)?
    .map(|r| -> Result<(String, Option<i64>, Option<String>, i64)> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .transpose()?;
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
            query("UPDATE idempotency_keys SET created_at = ? WHERE user_id = ? AND key = ?")
                .bind(now)
                .bind(user_id)
                .bind(key)
                .execute(db)?;
        }
        None => {
            // Cleared since our insert lost (a failed first attempt): claim it now.
            query(
                "INSERT INTO idempotency_keys (user_id, key, request, status, response, created_at)
                 VALUES (?, ?, ?, NULL, NULL, ?)",
            )
            .bind(user_id)
            .bind(key)
            .bind(request)
            .bind(now)
            .execute(db)?;
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            body: body.to_string(),
        }
    }

    #[test]
    fn a_created_order_is_answered_with_the_platforms_clock_alone_or_in_a_group() {
        // 2026-11-25 04:00:00 UTC.
        let now = 1_795_579_200;
        let order = serde_json::json!({ "id": "ord_1", "pay_before": "2026-11-25T04:05:00Z" });
        let alone: serde_json::Value =
            serde_json::from_str(&reply(201, order.clone()).at(now).body).unwrap();
        assert_eq!(alone["now"], "2026-11-25T04:00:00Z");
        assert_eq!(alone["id"], "ord_1");
        let grouped = serde_json::json!({ "group": { "id": "grp_1" }, "order": order });
        let grouped: serde_json::Value =
            serde_json::from_str(&reply(201, grouped).at(now).body).unwrap();
        assert_eq!(grouped["order"]["now"], "2026-11-25T04:00:00Z");
        assert!(grouped["group"].get("now").is_none());
        // Refusals and anything else go out as stored.
        let refused = reply(409, serde_json::json!({ "error": { "code": "sold_out" } }));
        assert_eq!(refused.clone().at(now), refused);
        let odd = reply(201, serde_json::json!({ "something": 1 }));
        assert_eq!(odd.clone().at(now), odd);
    }
}
