//! Statements run straight on a connection's SQLite handle, on the calling thread.
//!
//! Why: sqlx runs each connection on a thread of its own, so every statement is a hop there and
//! back. The checkout writer runs a whole batch of jobs (each a claim, a few conditional updates
//! and an insert) on one connection: hop by hop, the jobs cost thread wake-ups, not SQLite work
//! (0.4–1 ms a live buy on a busy machine). Here statements run through rusqlite, which shares
//! sqlx's `libsqlite3-sys`: on a connection of the caller's own (`own`, the writer's), or on the
//! handle of a connection of sqlx's, which `lock` takes for the caller's thread (one hop) until
//! the `Db` is dropped.
//!
//! `Query` keeps sqlx's shape (a SQL text of one or more statements, arguments bound in order,
//! `?NNN` an absolute index into them), so one statement text serves both worlds while code moves.

use std::sync::Arc;

use rusqlite::types::{FromSql, ToSqlOutput, Value, ValueRef};
use rusqlite::ToSql;
use sqlx::sqlite::LockedSqliteHandle;
use sqlx::SqliteConnection;

use crate::error::{PlatformError, Result};

/// Statements kept prepared while a `Db` lives.
const PREPARED: usize = 64;

/// A connection whose statements run on the current thread, without hops.
pub(crate) struct Db<'a> {
    // Dropped before the lock (fields drop in order): a locked handle is valid while it is held.
    conn: rusqlite::Connection,
    _lock: Option<LockedSqliteHandle<'a>>,
}

/// `conn`, which is the caller's.
pub(crate) fn own(conn: rusqlite::Connection) -> Db<'static> {
    conn.set_prepared_statement_cache_capacity(PREPARED);
    Db { conn, _lock: None }
}

impl Db<'_> {
    /// The connection `own` was given, to keep for the next one; `None` for a locked one.
    pub(crate) fn into_own(self) -> Option<rusqlite::Connection> {
        let Db { conn, _lock } = self;
        match _lock {
            None => Some(conn),
            Some(lock) => {
                // The borrowed handle's wrapper goes before the lock, as in `Db`.
                drop(conn);
                drop(lock);
                None
            }
        }
    }
}

/// Takes `conn` for the calling thread until the `Db` is dropped (one hop to sqlx's thread).
pub(crate) async fn lock(conn: &mut SqliteConnection) -> Result<Db<'_>> {
    let mut lock = conn.lock_handle().await?;
    let raw = lock.as_raw_handle().as_ptr();
    // SAFETY: `raw` is an open connection, used by no other thread while `lock` is held, and the
    // rusqlite connection is dropped before `lock` (field order in `Db`). A connection made from a
    // borrowed handle does not close it when dropped.
    let conn = unsafe { rusqlite::Connection::from_handle(raw) }?;
    conn.set_prepared_statement_cache_capacity(PREPARED);
    Ok(Db {
        conn,
        _lock: Some(lock),
    })
}

/// Runs `f` on the handle of a connection of `pool`, taken for this thread (an in-memory
/// database, whose one connection is the pool's).
pub(crate) async fn on_pool<T>(
    pool: &sqlx::SqlitePool,
    f: impl FnOnce(&Db) -> Result<T>,
) -> Result<T> {
    let mut conn = pool.acquire().await?;
    let db = lock(&mut conn).await?;
    f(&db)
}

/// A SQL text of one or more statements and its arguments, as `sqlx::query` builds them.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    sql: String,
    args: Vec<Value>,
    /// An argument that has no SQLite value (a `u64` past `i64::MAX`): the query fails.
    unbindable: Option<String>,
}

/// A query on `sql`; arguments follow with `bind`.
pub(crate) fn query(sql: impl Into<String>) -> Query {
    Query {
        sql: sql.into(),
        args: Vec::new(),
        unbindable: None,
    }
}

impl Query {
    /// The next argument: plain `?` take them in order across the statements, `?NNN` by number.
    pub(crate) fn bind<T: ToSql>(mut self, value: T) -> Self {
        let value = match value.to_sql() {
            Ok(ToSqlOutput::Borrowed(v)) => Value::from(v),
            Ok(ToSqlOutput::Owned(v)) => v,
            Ok(_) => {
                self.unbindable = Some(format!("argument {}", self.args.len() + 1));
                Value::Null
            }
            Err(e) => {
                self.unbindable = Some(e.to_string());
                Value::Null
            }
        };
        self.args.push(value);
        self
    }

    /// Runs every statement; answers the rows changed, counted as sqlx counts them (SQLite's
    /// `changes()` after each statement).
    pub(crate) fn execute(&self, db: &Db) -> Result<u64> {
        self.run(db, |_| Ok(()))
    }

    /// Runs every statement; answers the rows of all of them.
    pub(crate) fn fetch_all(&self, db: &Db) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        self.run(db, |row| {
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }

    /// Runs every statement; answers the first row, if any.
    pub(crate) fn fetch_optional(&self, db: &Db) -> Result<Option<Row>> {
        Ok(self.fetch_all(db)?.into_iter().next())
    }

    /// Runs every statement; answers the first row, which must be there.
    pub(crate) fn fetch_one(&self, db: &Db) -> Result<Row> {
        self.fetch_optional(db)?
            .ok_or_else(|| PlatformError::Db(sqlx::Error::RowNotFound))
    }

    fn run(&self, db: &Db, mut each: impl FnMut(Row) -> Result<()>) -> Result<u64> {
        if let Some(why) = &self.unbindable {
            return Err(PlatformError::CorruptRow {
                what: "a query's arguments".into(),
                detail: why.clone(),
            });
        }
        let mut next = 0;
        let mut changes = 0;
        for sql in statements(&self.sql) {
            let mut statement = db.conn.prepare_cached(sql)?;
            // As sqlx binds: `?NNN` by number, plain `?` the next in order (a gap in the numbers
            // counts as one, as in sqlx), none past the end.
            for i in 1..=statement.parameter_count() {
                let n = match statement.parameter_name(i) {
                    Some(name) => {
                        name[1..]
                            .parse::<usize>()
                            .map_err(|_| PlatformError::CorruptRow {
                                what: "a query's parameters".into(),
                                detail: format!("unsupported parameter {name}"),
                            })?
                    }
                    None => {
                        next += 1;
                        next
                    }
                };
                let Some(value) = n.checked_sub(1).and_then(|n| self.args.get(n)) else {
                    continue;
                };
                statement.raw_bind_parameter(i, value)?;
            }
            let columns: Arc<[String]> = statement
                .column_names()
                .into_iter()
                .map(str::to_owned)
                .collect();
            let mut rows = statement.raw_query();
            while let Some(row) = rows.next()? {
                let values = (0..columns.len())
                    .map(|i| row.get_ref(i).map(Value::from))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                each(Row {
                    columns: columns.clone(),
                    values,
                })?;
            }
            drop(rows);
            changes += db.conn.changes();
        }
        Ok(changes)
    }
}

/// The statements of `sql`, split at the semicolons outside quotes and comments.
fn statements(sql: &str) -> impl Iterator<Item = &str> {
    let bytes = sql.as_bytes();
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'[' => {
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => cuts.push(i),
            _ => {}
        }
        i += 1;
    }
    cuts.push(sql.len());
    let mut start = 0;
    cuts.into_iter()
        .map(move |end| {
            let piece = &sql[start..end];
            start = (end + 1).min(sql.len());
            piece.trim()
        })
        .filter(|piece| !piece.is_empty())
}

/// A row read by a `Query`: its values by column name.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// The value of column `name`.
    pub(crate) fn try_get<T: FromSql>(&self, name: &str) -> Result<T> {
        let i = self.columns.iter().position(|c| c == name).ok_or_else(|| {
            PlatformError::CorruptRow {
                what: format!("column {name}"),
                detail: "not in the row".into(),
            }
        })?;
        self.get(i)
    }

    /// The value of column `i` (from 0).
    pub(crate) fn get<T: FromSql>(&self, i: usize) -> Result<T> {
        let value = self
            .values
            .get(i)
            .ok_or_else(|| PlatformError::CorruptRow {
                what: format!("column {i}"),
                detail: "not in the row".into(),
            })?;
        T::column_result(ValueRef::from(value)).map_err(|e| PlatformError::CorruptRow {
            what: format!("column {}", self.columns.get(i).map_or("?", String::as_str)),
            detail: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_semicolons_outside_quotes_and_comments() {
        let sql =
            "INSERT INTO t VALUES ('a;b', \"c;d\"); -- one; two\n SELECT 1 /* ; */ ;; SAVEPOINT x";
        let got: Vec<&str> = statements(sql).collect();
        assert_eq!(
            got,
            [
                "INSERT INTO t VALUES ('a;b', \"c;d\")",
                "-- one; two\n SELECT 1 /* ; */",
                "SAVEPOINT x"
            ]
        );
    }

    #[tokio::test]
    async fn statements_bind_as_sqlx_does_and_count_changes_as_it_does() {
        let pool = crate::db::open("sqlite::memory:").await.expect("db");
        let mut conn = pool.acquire().await.expect("conn");
        let db = lock(&mut conn).await.expect("lock");
        query("CREATE TEMP TABLE t (k TEXT PRIMARY KEY, n INTEGER, f REAL)")
            .execute(&db)
            .expect("create");
        // Plain `?` continue across statements; `?NNN` index all the arguments.
        let changed = query(
            "INSERT INTO t VALUES (?, ?, 1.5); INSERT INTO t VALUES (?, ?, NULL);
             UPDATE t SET n = n + ?5 WHERE k = ?1",
        )
        .bind("a")
        .bind(1_i64)
        .bind("b")
        .bind(2_u32)
        .bind(10_i64)
        .execute(&db)
        .expect("insert");
        assert_eq!(changed, 3);
        let rows = query("SELECT k, n, f FROM t ORDER BY k; SELECT COUNT(*) AS c FROM t")
            .fetch_all(&db)
            .expect("select");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].try_get::<String>("k").unwrap(), "a");
        assert_eq!(rows[0].try_get::<u32>("n").unwrap(), 11);
        assert_eq!(rows[0].try_get::<f64>("f").unwrap(), 1.5);
        assert_eq!(rows[1].try_get::<Option<f64>>("f").unwrap(), None);
        assert_eq!(rows[2].try_get::<i64>("c").unwrap(), 2);
        assert!(rows[0].try_get::<i64>("missing").is_err());
        assert!(rows[0].try_get::<i64>("k").is_err(), "text is not a number");
        // A `u64` SQLite cannot hold fails the query instead of binding something else.
        assert!(query("SELECT ?").bind(u64::MAX).fetch_one(&db).is_err());
        drop(db);
        // sqlx has its connection back.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *conn)
            .await
            .expect("sqlx again");
        assert_eq!(n, 2);
    }
}
