//! The janitor: deletes what has lapsed (sessions, SMS codes and sends, failed sign-ins, old
//! idempotency records, carts of sessions that are gone) in bounded batches, each its own short
//! write, so a large backlog never holds SQLite's single write lock for long. It also expires
//! group buys past their deadline (`group_expiry`), far more often: shoppers wait on that.

use std::time::Duration;

use sqlx::SqlitePool;

use crate::accounts::{
    LOGIN_FAILURE_IP_WINDOW_S, SESSION_IDLE_S, SESSION_ID_PREFIX, SMS_SEND_WINDOW_S,
};
use crate::error::Result;
use crate::Platform;

/// Rows per DELETE: a few milliseconds of write lock at most.
pub const PURGE_BATCH: i64 = 500;
/// Between two full passes. Lapsed rows are already ignored by every reader; purging only keeps
/// the tables small.
pub const JANITOR_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// Between two batches of one pass, so writers waiting on the lock get their turn.
const BATCH_PAUSE: Duration = Duration::from_millis(5);
/// A finished Idempotency-Key answer is replayable for a day; after that the key may be reused.
pub const IDEMPOTENCY_RETENTION_S: i64 = 24 * 3600;

/// Rows deleted by one pass, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeCounts {
    pub sessions: u64,
    pub sms_codes: u64,
    pub sms_sends: u64,
    pub login_failures: u64,
    pub idempotency_keys: u64,
    pub anonymous_cart_items: u64,
}

impl PurgeCounts {
    pub fn total(&self) -> u64 {
        self.sessions
            + self.sms_codes
            + self.sms_sends
            + self.login_failures
            + self.idempotency_keys
            + self.anonymous_cart_items
    }
}

/// One full pass as of `now`, batch after batch until nothing lapsed is left.
pub async fn purge(pool: &SqlitePool, now: i64) -> Result<PurgeCounts> {
    let sessions = in_batches(
        pool,
        "DELETE FROM sessions WHERE rowid IN (
             SELECT rowid FROM sessions WHERE expires_at <= ? OR last_seen_at <= ? LIMIT ?)",
        &[Bind::Int(now), Bind::Int(now - SESSION_IDLE_S)],
    )
    .await?;
    let sms_codes = older_than(pool, "sms_codes", "expires_at", now).await?;
    let sms_sends = older_than(pool, "sms_sends", "sent_at", now - SMS_SEND_WINDOW_S).await?;
    let login_failures = older_than(
        pool,
        "login_failures",
        "at",
        now - LOGIN_FAILURE_IP_WINDOW_S,
    )
    .await?;
    // A request still in flight (status NULL) keeps its claim, however old.
    let idempotency_keys = in_batches(
        pool,
        "DELETE FROM idempotency_keys WHERE rowid IN (
             SELECT rowid FROM idempotency_keys
             WHERE created_at <= ? AND status IS NOT NULL LIMIT ?)",
        &[Bind::Int(now - IDEMPOTENCY_RETENTION_S)],
    )
    .await?;
    // After the sessions, so the carts of sessions purged just now go in the same pass. The
    // owner range walks only anonymous owners (session ids) along the primary key.
    let anonymous_cart_items = in_batches(
        pool,
        "DELETE FROM cart_items WHERE (owner, store_id, sku) IN (
             SELECT owner, store_id, sku FROM cart_items c
             WHERE c.owner >= ? AND c.owner < ?
               AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = c.owner)
             LIMIT ?)",
        &[
            Bind::Text(SESSION_ID_PREFIX.to_owned()),
            Bind::Text(prefix_upper_bound(SESSION_ID_PREFIX)),
        ],
    )
    .await?;
    Ok(PurgeCounts {
        sessions,
        sms_codes,
        sms_sends,
        login_failures,
        idempotency_keys,
        anonymous_cart_items,
    })
}

/// One purge, logged: what lapsed goes now.
pub async fn purge_now(platform: &Platform) {
    match purge(platform.pool(), platform.now_unix()).await {
        Ok(counts) if counts.total() > 0 => tracing::info!(?counts, "purged lapsed rows"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "purging lapsed rows failed"),
    }
}

/// How often forming groups past their deadline are looked for: an indexed look that finds
/// nothing almost always, and a group's members learn of its end within about this long.
pub const GROUP_EXPIRY_INTERVAL: Duration = Duration::from_secs(1);

/// Expires unfilled groups whose deadline has passed, refunding or cancelling their orders and
/// returning their stock once (`groups::lifecycle::expire_due`), and wakes their event streams.
pub async fn expire_groups_now(platform: &Platform) {
    match crate::groups::lifecycle::expire_due(platform.pool(), platform.now_unix()).await {
        Ok(expired) => platform.notify(crate::event_log::Log::Group, &expired),
        Err(e) => tracing::error!(error = %e, "expiring groups failed"),
    }
}

/// Expires groups every `GROUP_EXPIRY_INTERVAL`. Never returns. The catch-up after a restart runs
/// in `Platform::serve` before it accepts, as the purge does.
pub async fn group_expiry(platform: Platform) {
    let start = tokio::time::Instant::now() + GROUP_EXPIRY_INTERVAL;
    let mut tick = tokio::time::interval_at(start, GROUP_EXPIRY_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        expire_groups_now(&platform).await;
    }
}

/// Purges every `JANITOR_INTERVAL`. Never returns. The catch-up pass after a restart is not
/// here: `Platform::serve` runs it before it accepts, so it never races the first requests.
pub async fn janitor(platform: Platform) {
    let start = tokio::time::Instant::now() + JANITOR_INTERVAL;
    let mut tick = tokio::time::interval_at(start, JANITOR_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        purge_now(&platform).await;
    }
}

/// Deletes, in batches, the rows of `table` whose `column` (Unix seconds) is at or before `cutoff`.
/// `table` and `column` are this module's constants, never input.
async fn older_than(pool: &SqlitePool, table: &str, column: &str, cutoff: i64) -> Result<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} <= ? LIMIT ?)"
    );
    in_batches(pool, &sql, &[Bind::Int(cutoff)]).await
}

enum Bind {
    Int(i64),
    Text(String),
}

/// Runs `sql` (whose last placeholder is the batch size) until a batch deletes less than a full
/// batch; returns the rows deleted.
async fn in_batches(pool: &SqlitePool, sql: &str, binds: &[Bind]) -> Result<u64> {
    let mut deleted = 0;
    loop {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = match b {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.as_str()),
            };
        }
        let n = query.bind(PURGE_BATCH).execute(pool).await?.rows_affected();
        deleted += n;
        if n < PURGE_BATCH as u64 {
            return Ok(deleted);
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
}

/// The least string above every string that starts with `prefix` (ASCII prefixes): with
/// `prefix` itself it bounds a range scan of an index.
fn prefix_upper_bound(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_prefix_range_holds_session_ids_and_nothing_else() {
        let upper = prefix_upper_bound(SESSION_ID_PREFIX);
        let inside = |s: &str| s >= SESSION_ID_PREFIX && s < upper.as_str();
        assert!(inside("ses_0000000000000000"));
        assert!(inside("ses_ffffffffffffffff"));
        assert!(!inside("ses"));
        assert!(!inside("sesa"));
        assert!(!inside("usr_0000000000000000"));
    }

    #[tokio::test]
    async fn a_backlog_larger_than_a_batch_goes_in_several_batches_and_live_rows_stay() {
        let pool = crate::db::open("sqlite::memory:").await.unwrap();
        let now = 1_800_000_000;
        let lapsed = PURGE_BATCH * 2 + 7;
        for i in 0..lapsed {
            sqlx::query("INSERT INTO sms_codes (phone, code, expires_at) VALUES (?, '123456', ?)")
                .bind(format!("1380000{i:04}"))
                .bind(now - 1)
                .execute(&pool)
                .await
                .unwrap();
        }
        sqlx::query(
            "INSERT INTO sms_codes (phone, code, expires_at) VALUES ('13900000000', '654321', ?)",
        )
        .bind(now + 60)
        .execute(&pool)
        .await
        .unwrap();
        let counts = purge(&pool, now).await.unwrap();
        assert_eq!(counts.sms_codes, lapsed as u64);
        let left: Vec<String> = sqlx::query_scalar("SELECT code FROM sms_codes")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(left, ["654321"]);
    }
}
