//! The one event log: every order's tracking, every live room and every group is a run of durable
//! events in `event_log`, keyed by what it logs (`Log`) and its id. An event is appended on the
//! writer's connection inside the transaction of the change it describes, so the two commit
//! together, and gets the key's next `seq` (1, 2, 3… without gaps). Streams read it back after a
//! client's `Last-Event-ID` (`crate::feed`).
//!
//! This is the seam a second database backend needs: appending, reading after a seq, the latest.

use sqlx::{Row, SqliteConnection, SqlitePool};

use crate::error::{PlatformError, Result};

/// What a log is of. Its name is the `log` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Log {
    /// An order's tracking events (`jishi_api::orders::OrderEvent`), keyed by order id.
    Order,
    /// A live room's durable events (`jishi_api::live::LiveEvent`), keyed by room id.
    Room,
    /// A group buy's events (`jishi_api::groups::GroupEvent`), keyed by group id.
    Group,
}

impl Log {
    pub fn name(self) -> &'static str {
        match self {
            Log::Order => "order",
            Log::Room => "room",
            Log::Group => "group",
        }
    }
}

/// The wall clock in SQL, Unix milliseconds: a replay's time base (`wall_ms`), which the
/// recording's segments share; `at` is the shop's clock, which a demo or a test may fix.
macro_rules! wall_ms_sql {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    };
}
pub(crate) use wall_ms_sql;

/// Appends one event with the key's next seq. Events that carry their own `seq` field (order
/// events) get it filled in. Plain `?` placeholders, so it can ride in a multi-statement query:
/// bind with `bind_append`. Add `WHERE changes() = 1` to append only if the statement before took.
pub(crate) const APPEND_SQL: &str = concat!(
    "INSERT INTO event_log (log, key, seq, json, at, wall_ms)
    SELECT l, k, n, CASE WHEN json_type(j, '$.seq') IS NULL THEN j ELSE json_set(j, '$.seq', n) END, t, ",
    wall_ms_sql!(),
    "
    FROM (SELECT ? AS l, ? AS k, ? AS j, ? AS t,
                 (SELECT COALESCE(MAX(seq), 0) + 1 FROM event_log WHERE log = ? AND key = ?) AS n)",
);

pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// A query `APPEND_SQL` rides in: sqlx's, or one run straight on the handle (`crate::sql`).
pub(crate) trait Binds<'q>: Sized {
    fn bind_text(self, text: &'q str) -> Self;
    fn bind_int(self, int: i64) -> Self;
}

impl<'q> Binds<'q> for Query<'q> {
    fn bind_text(self, text: &'q str) -> Self {
        self.bind(text)
    }
    fn bind_int(self, int: i64) -> Self {
        self.bind(int)
    }
}

impl<'q> Binds<'q> for crate::sql::Query {
    fn bind_text(self, text: &'q str) -> Self {
        self.bind(text)
    }
    fn bind_int(self, int: i64) -> Self {
        self.bind(int)
    }
}

/// Binds `APPEND_SQL`'s parameters: the log, the key, the event's JSON and the time.
pub(crate) fn bind_append<'q, Q: Binds<'q>>(
    query: Q,
    log: Log,
    key: &'q str,
    json: &'q str,
    at: i64,
) -> Q {
    query
        .bind_text(log.name())
        .bind_text(key)
        .bind_text(json)
        .bind_int(at)
        .bind_text(log.name())
        .bind_text(key)
}

/// An event as it is stored and sent.
pub(crate) fn to_json(log: Log, key: &str, event: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(event).map_err(|e| PlatformError::CorruptRow {
        what: format!("{} event of {key}", log.name()),
        detail: e.to_string(),
    })
}

/// Appends `events` to the key's log on the caller's connection (inside its transaction), so they
/// commit with the change they describe; one round trip however many.
pub(crate) async fn append<E: serde::Serialize>(
    conn: &mut SqliteConnection,
    log: Log,
    key: &str,
    events: &[E],
    at: i64,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let json = events
        .iter()
        .map(|e| to_json(log, key, e))
        .collect::<Result<Vec<_>>>()?;
    let sql = vec![APPEND_SQL; events.len()].join(";\n");
    let mut query = sqlx::query(&sql);
    for j in &json {
        query = bind_append(query, log, key, j, at);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Events after `after`, oldest first, at most `limit`: (seq, the event's JSON).
pub async fn after(
    pool: &SqlitePool,
    log: Log,
    key: &str,
    after: u64,
    limit: u32,
) -> Result<Vec<(u64, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT seq, json FROM event_log WHERE log = ? AND key = ? AND seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(log.name())
    .bind(key)
    .bind(i64::try_from(after).unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, json)| (u64::try_from(seq).unwrap_or(0), json))
        .collect())
}

/// The key's latest event, if it has any: (seq, JSON).
pub async fn latest(
    conn: &mut SqliteConnection,
    log: Log,
    key: &str,
) -> Result<Option<(u64, String)>> {
    let row = sqlx::query(
        "SELECT seq, json FROM event_log WHERE log = ? AND key = ? ORDER BY seq DESC LIMIT 1",
    )
    .bind(log.name())
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok((
            u64::try_from(r.try_get::<i64, _>("seq")?).unwrap_or(0),
            r.try_get("json")?,
        ))
    })
    .transpose()
}

/// The key's latest seq (0 before its first event).
pub async fn max_seq(conn: &mut SqliteConnection, log: Log, key: &str) -> Result<u64> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT MAX(seq) FROM event_log WHERE log = ? AND key = ?")
            .bind(log.name())
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_api::orders::{OrderEvent, OrderStatus};

    async fn db() -> SqlitePool {
        crate::db::open("sqlite::memory:").await.expect("db")
    }

    #[tokio::test]
    async fn each_key_counts_its_own_seq_and_order_events_carry_theirs() {
        let pool = db().await;
        let mut conn = pool.acquire().await.unwrap();
        let event = |status| OrderEvent {
            seq: 0,
            status,
            eta_min: 30,
            rider: None,
            at: "2026-11-25T04:00:00Z".into(),
            change: None,
        };
        append(
            &mut conn,
            Log::Order,
            "ord_1",
            &[event(OrderStatus::Paid)],
            1,
        )
        .await
        .unwrap();
        append(
            &mut conn,
            Log::Order,
            "ord_2",
            &[event(OrderStatus::Paid)],
            1,
        )
        .await
        .unwrap();
        append(
            &mut conn,
            Log::Order,
            "ord_1",
            &[event(OrderStatus::Accepted), event(OrderStatus::Picking)],
            2,
        )
        .await
        .unwrap();
        // Another log with the same key is another run.
        append(
            &mut conn,
            Log::Group,
            "ord_1",
            &[serde_json::json!({"type": "x"})],
            3,
        )
        .await
        .unwrap();
        drop(conn);
        let one = after(&pool, Log::Order, "ord_1", 0, 10).await.unwrap();
        assert_eq!(one.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3]);
        let third: OrderEvent = serde_json::from_str(&one[2].1).unwrap();
        assert_eq!((third.seq, third.status), (3, OrderStatus::Picking));
        assert_eq!(
            after(&pool, Log::Order, "ord_1", 2, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            after(&pool, Log::Order, "ord_1", 0, 2).await.unwrap().len(),
            2
        );
        let mut conn = pool.acquire().await.unwrap();
        assert_eq!(max_seq(&mut conn, Log::Order, "ord_2").await.unwrap(), 1);
        assert_eq!(max_seq(&mut conn, Log::Room, "ord_1").await.unwrap(), 0);
        let (seq, json) = latest(&mut conn, Log::Group, "ord_1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((seq, json.as_str()), (1, r#"{"type":"x"}"#));
        assert!(latest(&mut conn, Log::Room, "r").await.unwrap().is_none());
    }
}
