//! Sessions and sign-in against the real platform over loopback HTTP: tokens stored only as
//! hashes, idle sessions expire, lapsed rows are purged in batches, a new code does not cancel
//! the one in the shopper's hand, wrong codes are limited per address and platform-wide, and
//! codes stay out of the log unless in demo mode.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use jishi_platform::housekeeping::{self, PURGE_BATCH};
use jishi_platform::{Seed, DEMO_SEED};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

use support::{manual_clock, TestPlatform};

/// A platform on a fresh database with a manual clock at `NOON`, seeded with `seed`, showing codes
/// in its answers if `demo`.
async fn spawn(seed: Seed, demo: bool) -> TestPlatform {
    TestPlatform::spawn_with(|c| {
        c.seed = seed;
        c.demo = demo;
        c.clock = manual_clock();
    })
    .await
}

/// The refusal of a code that is wrong, expired or used up (`platform/src/accounts.rs`).
const WRONG_CODE: &str = "验证码不对或已过期，请重新获取";

/// What sign-in needs of the platform here.
impl TestPlatform {
    /// Asks for a code from client address `ip`.
    async fn request_code(&self, phone: &str, ip: &str) -> (u16, Value) {
        self.request(Method::POST, "/v1/auth/sms-code")
            .ip(ip)
            .json(json!({ "phone": phone }))
            .send()
            .await
    }

    /// Asks for a code; returns its `demo_code` (demo mode only).
    async fn demo_code(&self, phone: &str, ip: &str) -> String {
        let (status, body) = self.request_code(phone, ip).await;
        assert_eq!(status, 202, "{body}");
        body["demo_code"].as_str().expect("demo code").to_owned()
    }

    async fn login(&self, phone: &str, code: &str, ip: &str) -> (u16, Value) {
        self.request(Method::POST, "/v1/auth/login")
            .ip(ip)
            .json(json!({ "phone": phone, "code": code }))
            .send()
            .await
    }

    async fn me(&self, token: &str) -> (u16, Value) {
        self.call(Method::GET, "/v1/me", Some(token), None).await
    }
}

/// A code that is not `code` (and still six digits).
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().expect("six digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

fn sha256_hex(s: &str) -> String {
    format!("{:x}", Sha256::digest(s.as_bytes()))
}

#[tokio::test]
async fn the_sessions_table_holds_no_raw_token() {
    let t = spawn(Seed::None, true).await;
    let anonymous = t.anonymous_session().await;
    let code = t.demo_code("13800000001", "10.0.0.1").await;
    let (status, session) = t.login("13800000001", &code, "10.0.0.1").await;
    assert_eq!(status, 200, "{session}");
    let signed_in = session["token"].as_str().expect("token").to_owned();

    // Both tokens work.
    assert_eq!(t.me(&anonymous).await.0, 200);
    let (status, me) = t.me(&signed_in).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["phone_masked"], "138****0001");

    // Neither is anywhere in the database files (the WAL holds the recent pages).
    let mut bytes = std::fs::read(&t.db_path).expect("db file");
    if let Ok(wal) = std::fs::read(t.db_path.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    for token in [&anonymous, &signed_in] {
        assert_eq!(token.len(), 64);
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "a raw session token is stored"
        );
    }
    // What is stored is each token's SHA-256, read back through a connection of our own.
    let side = support::side_connection(&format!("sqlite://{}", t.db_path.display())).await;
    let hashes: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions ORDER BY id")
        .fetch_all(&side)
        .await
        .expect("hashes");
    let mut expected = vec![sha256_hex(&anonymous), sha256_hex(&signed_in)];
    expected.sort();
    let mut hashes = hashes;
    hashes.sort();
    assert_eq!(hashes, expected);
}

#[tokio::test]
async fn an_idle_session_expires_while_a_recently_used_one_lives() {
    let t = spawn(Seed::None, true).await;
    let busy = t.anonymous_session().await;
    let idle = t.anonymous_session().await;
    let last_seen = |token: &str| {
        let hash = sha256_hex(token);
        let pool = t.platform.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT last_seen_at FROM sessions WHERE token_hash = ?")
                .bind(hash)
                .fetch_one(&pool)
                .await
                .expect("last seen")
        }
    };

    t.advance(Duration::days(6));
    assert_eq!(t.me(&busy).await.0, 200);
    let seen = last_seen(&busy).await;
    assert_eq!(seen, t.platform.now_unix(), "use is recorded");
    // Within a few minutes, further use does not write again (the hot path stays a read).
    t.advance(Duration::minutes(2));
    assert_eq!(t.me(&busy).await.0, 200);
    assert_eq!(last_seen(&busy).await, seen);

    // Eight days in: the session unused for eight days is gone, the one used two days ago lives.
    t.advance(Duration::days(2));
    assert_eq!(t.me(&busy).await.0, 200);
    let (status, body) = t.me(&idle).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "session_expired");

    // However busy, a session ends 30 days after it began.
    for _ in 0..4 {
        t.advance(Duration::days(5));
        assert_eq!(t.me(&busy).await.0, 200);
    }
    t.advance(Duration::days(2));
    let (status, body) = t.me(&busy).await;
    assert_eq!(status, 401, "30 days and 2 minutes after it began");
    assert_eq!(body["error"]["code"], "session_expired");
}

#[tokio::test]
async fn a_second_code_request_leaves_the_first_code_usable() {
    let t = spawn(Seed::None, true).await;
    let phone = "13800000002";
    let first = t.demo_code(phone, "10.0.0.2").await;
    t.advance(Duration::seconds(61));
    // Someone else asks for a code to the same number.
    let second = t.demo_code(phone, "10.9.9.9").await;
    t.advance(Duration::seconds(30));
    let (status, body) = t.login(phone, &first, "10.0.0.2").await;
    assert_eq!(status, 200, "the first code still signs in: {body}");
    // Signing in used up every code of the phone.
    let (status, body) = t.login(phone, &second, "10.0.0.2").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(t.count("SELECT COUNT(*) FROM sms_codes").await, 0);
}

#[tokio::test]
async fn a_wrong_guess_costs_every_live_code_an_attempt() {
    let t = spawn(Seed::None, true).await;
    let phone = "13800000003";
    let first = t.demo_code(phone, "10.0.0.3").await;
    t.advance(Duration::seconds(61));
    let second = t.demo_code(phone, "10.0.0.3").await;
    // A wrong code is one that matches neither.
    let mut wrong = other_than(&first);
    while wrong == second {
        wrong = other_than(&wrong);
    }
    // Each live code's attempts, oldest first, and whether it is still unexpired.
    let codes = || async {
        sqlx::query_as::<_, (String, i64, bool)>(
            "SELECT code, attempts, expires_at > ? FROM sms_codes WHERE phone = ? ORDER BY expires_at",
        )
        .bind(t.platform.now_unix())
        .bind(phone)
        .fetch_all(t.platform.pool())
        .await
        .expect("codes")
    };
    // The refusal of a code the platform no longer accepts: 400 with its wording (not 429, not
    // a malformed code).
    let refused = |(status, body): (u16, Value)| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "bad_request", "{body}");
        assert_eq!(body["error"]["message"], WRONG_CODE, "{body}");
    };
    for guess in 1..=5 {
        refused(t.login(phone, &wrong, "10.0.0.3").await);
        // The guess cost both codes an attempt.
        assert_eq!(
            codes().await,
            [(first.clone(), guess, true), (second.clone(), guess, true)],
            "after guess {guess}"
        );
    }
    // Two codes in flight give no more than five guesses in all: both are used up (still within
    // their five minutes, so not expired), and the right codes are refused as a wrong one is.
    refused(t.login(phone, &first, "10.0.0.3").await);
    refused(t.login(phone, &second, "10.0.0.3").await);
    assert_eq!(
        codes().await,
        [(first.clone(), 5, true), (second.clone(), 5, true)],
        "used up, not expired, and never used to sign in"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM users").await,
        0,
        "nobody signed in"
    );
}

#[tokio::test]
async fn wrong_codes_are_limited_per_client_address() {
    let t = spawn(Seed::None, true).await;
    let attacker = "203.0.113.7";
    // Thirty wrong codes spread over many phones from one address.
    for i in 0..30 {
        let (status, body) = t.login(&format!("1370000{i:04}"), "000000", attacker).await;
        assert_eq!(status, 400, "{body}");
    }
    let (status, body) = t.login("13700009999", "000000", attacker).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests");

    // Even a right code is refused from that address for now; from another it works.
    let phone = "13800000004";
    let code = t.demo_code(phone, "10.0.0.4").await;
    assert_eq!(t.login(phone, &code, attacker).await.0, 429);
    assert_eq!(t.login(phone, &code, "10.0.0.4").await.0, 200);

    // An hour on, the address may try again.
    t.advance(Duration::seconds(3601));
    assert_eq!(t.login("13700009999", "000000", attacker).await.0, 400);
}

#[tokio::test]
async fn wrong_codes_are_limited_across_the_platform() {
    let t = spawn(Seed::None, true).await;
    let phone = "13800000005";
    let code = t.demo_code(phone, "10.0.0.5").await;
    // 200 wrong codes within a minute, 20 from each of ten addresses (each under its own limit).
    for i in 0..jishi_platform::accounts::LOGIN_FAILURES_GLOBAL {
        let ip = format!("198.51.100.{}", i / 20);
        let (status, body) = t.login(&format!("1370000{i:04}"), "000000", &ip).await;
        assert_eq!(status, 400, "{body}");
    }
    let (status, body) = t.login(phone, &code, "10.0.0.5").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests");
    // A minute on, sign-in works again (the code is still valid).
    t.advance(Duration::seconds(61));
    assert_eq!(t.login(phone, &code, "10.0.0.5").await.0, 200);
}

/// Everything written through `tracing` while it is the thread's default subscriber.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log")).into_owned()
    }
}

// A current-thread runtime (the default): the platform's tasks run on this thread, under the
// thread-local subscriber set here.
#[tokio::test]
async fn with_demo_off_no_code_is_written_to_the_log() {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = spawn(Seed::None, false).await;
    let phone = "13800000006";
    let (status, body) = t.request_code(phone, "10.0.0.6").await;
    assert_eq!(status, 202, "{body}");
    assert!(body["demo_code"].is_null(), "no code in the answer: {body}");
    let code: String = sqlx::query_scalar("SELECT code FROM sms_codes WHERE phone = ?")
        .bind(phone)
        .fetch_one(t.platform.pool())
        .await
        .expect("the code was issued");
    // It works, and nothing logged along the way shows it.
    assert_eq!(t.login(phone, &code, "10.0.0.6").await.0, 200);
    let text = log.text();
    assert!(
        text.contains("SMS code") && text.contains("138****0006"),
        "the issue is logged (so the capture works): {text}"
    );
    assert!(
        !text.contains(&code),
        "the code {code} is in the log: {text}"
    );
}

/// `n` rows of `select` (which may use `i`, 1..=n) inserted into `table (columns)` in one statement.
async fn insert_many(pool: &sqlx::SqlitePool, n: i64, table: &str, select: &str) {
    sqlx::query(&format!(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})
         INSERT INTO {table} SELECT {select} FROM seq"
    ))
    .execute(pool)
    .await
    .expect("rows inserted");
}

#[tokio::test]
async fn purge_removes_what_lapsed_in_batches_and_keeps_what_lives() {
    let t = spawn(Seed::Beijing { seed: DEMO_SEED }, true).await;
    let pool = t.platform.pool();
    let now = t.platform.now_unix();
    let lapsed = 2 * PURGE_BATCH + 100;
    let (store, sku): (String, String) = sqlx::query_as(
        "SELECT store_id, sku FROM store_products WHERE stock > 0 ORDER BY store_id, sku LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .expect("a listing");

    // Live: an anonymous shopper with a cart, a signed-in shopper with a cart of their own.
    let anonymous = t.anonymous_session().await;
    let (status, body) = t
        .call(
            Method::PUT,
            &format!("/v1/cart/{store}"),
            Some(&anonymous),
            Some(json!({ "items": [{ "sku": sku, "quantity": 1 }] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let code = t.demo_code("13800000007", "10.0.0.7").await;
    let (status, session) = t.login("13800000007", &code, "10.0.0.7").await;
    assert_eq!(status, 200, "{session}");
    let user = session["token"].as_str().expect("token").to_owned();
    let (status, body) = t
        .call(
            Method::PUT,
            &format!("/v1/cart/{store}"),
            Some(&user),
            Some(json!({ "items": [{ "sku": sku, "quantity": 2 }] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Lapsed: sessions past their end or idle too long, and the carts of sessions long gone.
    let half = lapsed / 2;
    insert_many(
        pool,
        half,
        "sessions (token_hash, id, user_id, created_at, expires_at, last_seen_at)",
        &format!(
            "'expired' || i, 'ses_expired' || i, NULL, {old}, {now}, {now}",
            old = now - 40 * 86400
        ),
    )
    .await;
    insert_many(
        pool,
        lapsed - half,
        "sessions (token_hash, id, user_id, created_at, expires_at, last_seen_at)",
        &format!(
            "'idle' || i, 'ses_idle' || i, NULL, {old}, {end}, {old}",
            old = now - 8 * 86400,
            end = now + 86400
        ),
    )
    .await;
    insert_many(
        pool,
        lapsed,
        "cart_items (owner, store_id, sku, quantity, updated_at)",
        &format!("'ses_gone' || i, '{store}', '{sku}', 1, {now}"),
    )
    .await;
    // Codes, sends, failures and finished idempotency records past their time; one of each alive.
    insert_many(
        pool,
        lapsed,
        "sms_codes (phone, code, expires_at, attempts)",
        &format!("'1360000' || i, '123456', {now}, 0"),
    )
    .await;
    insert_many(
        pool,
        1,
        "sms_codes (phone, code, expires_at, attempts)",
        &format!("'13900000000', '654321', {}, 0", now + 60),
    )
    .await;
    insert_many(
        pool,
        lapsed,
        "sms_sends (phone, ip, sent_at)",
        &format!("'1360000' || i, '10.1.1.1', {}", now - 3600),
    )
    .await;
    insert_many(
        pool,
        lapsed,
        "login_failures (ip, at)",
        &format!("'10.1.1.1', {}", now - 3600),
    )
    .await;
    insert_many(
        pool,
        1,
        "login_failures (ip, at)",
        &format!("'10.1.1.2', {}", now - 60),
    )
    .await;
    insert_many(
        pool,
        lapsed,
        "idempotency_keys (user_id, key, request, status, response, created_at)",
        &format!(
            "'usr_old', 'key' || i, '{{}}', 201, '{{}}', {}",
            now - 86400
        ),
    )
    .await;
    // An old request still in flight keeps its claim; a recent finished one stays replayable.
    insert_many(
        pool,
        1,
        "idempotency_keys (user_id, key, request, status, response, created_at)",
        &format!(
            "'usr_old', 'in-flight', '{{}}', NULL, NULL, {}",
            now - 2 * 86400
        ),
    )
    .await;
    insert_many(
        pool,
        1,
        "idempotency_keys (user_id, key, request, status, response, created_at)",
        &format!("'usr_old', 'recent', '{{}}', 201, '{{}}', {}", now - 3600),
    )
    .await;
    let sends_before = t.count("SELECT COUNT(*) FROM sms_sends").await;
    assert_eq!(
        sends_before,
        lapsed + 1,
        "one recent send, for the sign-in above"
    );

    let counts = housekeeping::purge(pool, now).await.expect("purge");
    let lapsed = lapsed as u64;
    assert!(lapsed > 2 * PURGE_BATCH as u64, "more than one batch each");
    assert_eq!(counts.sessions, lapsed);
    assert_eq!(counts.anonymous_cart_items, lapsed);
    assert_eq!(counts.sms_codes, lapsed);
    assert_eq!(counts.sms_sends, lapsed);
    assert_eq!(counts.login_failures, lapsed);
    assert_eq!(counts.idempotency_keys, lapsed);

    // What lives is untouched.
    assert_eq!(t.count("SELECT COUNT(*) FROM sessions").await, 2);
    assert_eq!(t.count("SELECT COUNT(*) FROM cart_items").await, 2);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM sms_codes WHERE code = '654321'")
            .await,
        1
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM sms_codes").await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM sms_sends").await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM login_failures").await, 1);
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys ORDER BY key")
        .fetch_all(pool)
        .await
        .expect("keys");
    assert_eq!(keys, ["in-flight", "recent"]);
    for (token, quantity) in [(&anonymous, 1), (&user, 2)] {
        let (status, cart) = t
            .call(Method::GET, &format!("/v1/cart/{store}"), Some(token), None)
            .await;
        assert_eq!(status, 200, "{cart}");
        assert_eq!(cart["items"][0]["quantity"], quantity);
    }

    // The anonymous shopper's session lapses (idle): its cart goes in the same pass.
    t.advance(Duration::days(8));
    let counts = housekeeping::purge(pool, t.platform.now_unix())
        .await
        .expect("purge");
    assert_eq!(counts.sessions, 2);
    assert_eq!(counts.anonymous_cart_items, 1);
    // The user's cart outlives their session.
    assert_eq!(t.count("SELECT COUNT(*) FROM cart_items").await, 1);
}

#[tokio::test]
async fn the_janitor_purges_once_the_platform_serves() {
    let opened = TestPlatform::open_with(|c| {
        c.seed = Seed::None;
        c.clock = manual_clock();
    })
    .await;
    let now = opened.platform.now_unix();
    insert_many(
        opened.platform.pool(),
        10,
        "sms_codes (phone, code, expires_at, attempts)",
        &format!("'1360000' || i, '123456', {}, 0", now - 1),
    )
    .await;
    let t = opened.serve().await;
    support::eventually(
        std::time::Duration::from_secs(20),
        "the janitor did not purge lapsed codes",
        || async { t.count("SELECT COUNT(*) FROM sms_codes").await == 0 },
    )
    .await;
}
