//! Sessions, sign-in by SMS code, and saved addresses.

use jishi_api::auth::{parse_code, Phone, Session, SmsCodeSent, User};
pub use jishi_api::auth::{Address, NewAddress};
use jishi_api::{ApiError, ErrorCode};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::{Row, SqlitePool};

use crate::error::Result;
use crate::{sql, Platform};

/// A session ends 30 days after it began however busy it is, or after 7 days unused.
pub const SESSION_TTL_S: i64 = 30 * 24 * 3600;
pub const SESSION_IDLE_S: i64 = 7 * 24 * 3600;
/// `last_seen_at` is written at most this often per session, so the hot path (every request
/// looks its session up) stays a read.
pub const LAST_SEEN_REFRESH_S: i64 = 5 * 60;
/// Anonymous sessions' ids start with this; carts are owned by them before sign-in.
pub const SESSION_ID_PREFIX: &str = "ses_";
const CODE_TTL_S: i64 = 5 * 60;
const CODE_MAX_ATTEMPTS: i64 = 5;
/// One code a minute and five an hour per phone; sixty an hour per client address, which leaves
/// room for a household or an office behind one NAT.
const PHONE_MIN_INTERVAL_S: i64 = 60;
const PHONE_PER_HOUR: i64 = 5;
const IP_PER_HOUR: i64 = 60;
/// The longest window the SMS send limits look back over; older sends can be purged.
pub const SMS_SEND_WINDOW_S: i64 = 3600;
/// Wrong codes: 30 an hour per client address, and a platform-wide brake on guessing across
/// many phones from many addresses. Past either, sign-in answers 429 until the window moves on.
pub const LOGIN_FAILURES_PER_IP: i64 = 30;
pub const LOGIN_FAILURE_IP_WINDOW_S: i64 = 3600;
pub const LOGIN_FAILURES_GLOBAL: i64 = 200;
pub const LOGIN_FAILURE_GLOBAL_WINDOW_S: i64 = 60;

/// Who is calling: an anonymous or a signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub session_id: String,
    pub user_id: Option<String>,
}

impl Caller {
    /// Carts belong to the user once signed in, to the session before.
    pub fn owner(&self) -> &str {
        self.user_id.as_deref().unwrap_or(&self.session_id)
    }
    pub fn require_user(&self) -> Result<&str, ApiError> {
        self.user_id
            .as_deref()
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "请先登录"))
    }
}

/// A random identifier: `prefix` and 16 hex digits (64 bits; ids are not secrets).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{:016x}", rand::thread_rng().gen::<u64>())
}

/// A session token: 256 bits from the thread's CSPRNG, hex.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the sessions table keeps of a token: SHA-256, hex. A copy of the database then hands
/// out no sessions; the token has 256 random bits, so no salt or slow hash is needed.
pub fn token_hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// Starts a session. The raw token is in the answer only; the database keeps its hash.
pub async fn create_session(pool: &SqlitePool, user_id: Option<&str>, now: i64) -> Result<Session> {
    let token = new_token();
    sqlx::query(
        "INSERT INTO sessions (token_hash, id, user_id, created_at, expires_at, last_seen_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(token_hash(&token))
    .bind(new_id(SESSION_ID_PREFIX))
    .bind(user_id)
    .bind(now)
    .bind(now + SESSION_TTL_S)
    .bind(now)
    .execute(pool)
    .await?;
    let user = match user_id {
        Some(id) => Some(user(pool, id).await?),
        None => None,
    };
    Ok(Session { token, user })
}

/// The caller behind a bearer token, if the session exists, has not reached its absolute end
/// and was used within the idle timeout. Use is recorded at most every `LAST_SEEN_REFRESH_S`.
pub async fn caller(p: &Platform, token: &str, now: i64) -> Result<Option<Caller>> {
    let hash = token_hash(token);
    // Every signed-in request asks this: a read on the request's thread.
    let row = p
        .read(|db| {
            sql::query(
                "SELECT id, user_id, last_seen_at FROM sessions
                 WHERE token_hash = ? AND expires_at > ? AND last_seen_at > ?",
            )
            .bind(&hash)
            .bind(now)
            .bind(now - SESSION_IDLE_S)
            .fetch_optional(db)?
            .map(|r| -> Result<(String, Option<String>, i64)> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .transpose()
        })
        .await?;
    let Some((session_id, user_id, last_seen_at)) = row else {
        return Ok(None);
    };
    if now - last_seen_at >= LAST_SEEN_REFRESH_S {
        // Guarded, so concurrent requests of one session write it once. A failure here costs at
        // most an early idle expiry, not this request.
        let touched = sqlx::query(
            "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ? AND last_seen_at <= ?",
        )
        .bind(now)
        .bind(&hash)
        .bind(now - LAST_SEEN_REFRESH_S)
        .execute(p.pool())
        .await;
        if let Err(e) = touched {
            tracing::warn!(error = %e, "could not record a session's use");
        }
    }
    Ok(Some(Caller {
        session_id,
        user_id,
    }))
}

pub async fn user(pool: &SqlitePool, id: &str) -> Result<User> {
    let phone: String = sqlx::query_scalar("SELECT phone FROM users WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await?;
    let phone_masked = Phone::parse(&phone).map(|p| p.masked()).unwrap_or_default();
    Ok(User {
        id: id.to_owned(),
        phone_masked,
    })
}

/// Issues a code for `phone`, within the rate limits. Earlier codes stay valid: a stranger
/// asking for codes to someone's number must not cancel the one in that person's hand.
/// The platform has no SMS gateway; in demo mode the code is in the answer and in the log,
/// otherwise it is written nowhere but the database.
pub async fn send_code(
    pool: &SqlitePool,
    phone: &Phone,
    ip: &str,
    now: i64,
    demo: bool,
) -> Result<SmsCodeSent> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let window_start = now - SMS_SEND_WINDOW_S;
    let (last, per_phone): (Option<i64>, i64) = sqlx::query_as(
        "SELECT MAX(sent_at), COUNT(*) FROM sms_sends WHERE phone = ? AND sent_at > ?",
    )
    .bind(phone.as_str())
    .bind(window_start)
    .fetch_one(&mut *tx)
    .await?;
    let per_ip: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sms_sends WHERE ip = ? AND sent_at > ?")
            .bind(ip)
            .bind(window_start)
            .fetch_one(&mut *tx)
            .await?;
    if let Some(last) = last.filter(|l| now - l < PHONE_MIN_INTERVAL_S) {
        let wait = PHONE_MIN_INTERVAL_S - (now - last);
        return Err(ApiError::new(
            ErrorCode::TooManyRequests,
            format!("请 {wait} 秒后再获取验证码"),
        )
        .into());
    }
    if per_phone >= PHONE_PER_HOUR || per_ip >= IP_PER_HOUR {
        return Err(
            ApiError::new(ErrorCode::TooManyRequests, "验证码请求太频繁，请稍后再试").into(),
        );
    }
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
    sqlx::query(
        "INSERT INTO sms_codes (phone, code, expires_at, attempts) VALUES (?, ?, ?, 0);
         INSERT INTO sms_sends (phone, ip, sent_at) VALUES (?, ?, ?)",
    )
    .bind(phone.as_str())
    .bind(&code)
    .bind(now + CODE_TTL_S)
    .bind(phone.as_str())
    .bind(ip)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if demo {
        tracing::info!(phone = %phone.masked(), %code, "SMS code \"sent\" (demo mode: also in the answer)");
    } else {
        tracing::info!(phone = %phone.masked(), "SMS code issued");
    }
    Ok(SmsCodeSent {
        phone_masked: phone.masked(),
        expires_in_s: CODE_TTL_S as u32,
        demo_code: demo.then_some(code),
    })
}

/// Checks the code against every live code of the phone, signs the user in (creating the
/// account on first sign-in) and moves the anonymous session's carts over to the user. Wrong
/// codes count against the client address `ip` and the platform; past either limit, 429.
pub async fn login(
    pool: &SqlitePool,
    phone: &Phone,
    code: &str,
    anonymous: Option<&Caller>,
    ip: &str,
    now: i64,
) -> Result<Session> {
    let code = parse_code(code)?;
    let wrong = || ApiError::bad_request("验证码不对或已过期，请重新获取");
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let (per_ip, global): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM login_failures WHERE ip = ? AND at > ?),
                (SELECT COUNT(*) FROM login_failures WHERE at > ?)",
    )
    .bind(ip)
    .bind(now - LOGIN_FAILURE_IP_WINDOW_S)
    .bind(now - LOGIN_FAILURE_GLOBAL_WINDOW_S)
    .fetch_one(&mut *tx)
    .await?;
    if per_ip >= LOGIN_FAILURES_PER_IP || global >= LOGIN_FAILURES_GLOBAL {
        return Err(ApiError::new(ErrorCode::TooManyRequests, "登录尝试太频繁，请稍后再试").into());
    }
    let live: Vec<String> = sqlx::query_scalar(
        "SELECT code FROM sms_codes WHERE phone = ? AND expires_at > ? AND attempts < ?",
    )
    .bind(phone.as_str())
    .bind(now)
    .bind(CODE_MAX_ATTEMPTS)
    .fetch_all(&mut *tx)
    .await?;
    if !live.contains(&code) {
        // A guess is tried against every live code, so it costs each of them an attempt: more
        // codes in flight must not mean more guesses.
        sqlx::query(
            "UPDATE sms_codes SET attempts = attempts + 1 WHERE phone = ? AND expires_at > ? AND attempts < ?;
             INSERT INTO login_failures (ip, at) VALUES (?, ?)",
        )
        .bind(phone.as_str())
        .bind(now)
        .bind(CODE_MAX_ATTEMPTS)
        .bind(ip)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Err(wrong().into());
    }
    // Signing in uses up every code of the phone.
    sqlx::query("DELETE FROM sms_codes WHERE phone = ?")
        .bind(phone.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO users (id, phone, created_at) VALUES (?, ?, ?) ON CONFLICT(phone) DO NOTHING",
    )
    .bind(new_id("usr_"))
    .bind(phone.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let user_id: String = sqlx::query_scalar("SELECT id FROM users WHERE phone = ?")
        .bind(phone.as_str())
        .fetch_one(&mut *tx)
        .await?;
    if let Some(anon) = anonymous.filter(|c| c.user_id.is_none()) {
        // The larger quantity wins where both carts hold the same item.
        sqlx::query(
            "INSERT INTO cart_items (owner, store_id, sku, quantity, updated_at)
             SELECT ?1, store_id, sku, quantity, ?2 FROM cart_items WHERE owner = ?3
             ON CONFLICT(owner, store_id, sku) DO UPDATE SET
                 quantity = MAX(quantity, excluded.quantity), updated_at = excluded.updated_at",
        )
        .bind(&user_id)
        .bind(now)
        .bind(&anon.session_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM cart_items WHERE owner = ?")
            .bind(&anon.session_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(&anon.session_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    create_session(pool, Some(&user_id), now).await
}

pub async fn logout(pool: &SqlitePool, caller: &Caller) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id = ?")
        .bind(&caller.session_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn add_address(
    pool: &SqlitePool,
    user_id: &str,
    a: &NewAddress,
    now: i64,
) -> Result<Address> {
    let a = a.validate()?;
    let address = Address {
        id: new_id("adr_"),
        label: a.label,
        detail: a.detail,
        lat: a.lat,
        lng: a.lng,
    };
    sqlx::query("INSERT INTO addresses (id, user_id, label, detail, lat, lng, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(&address.id)
        .bind(user_id)
        .bind(&address.label)
        .bind(&address.detail)
        .bind(address.lat)
        .bind(address.lng)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(address)
}

pub async fn addresses(pool: &SqlitePool, user_id: &str) -> Result<Vec<Address>> {
    let rows = sqlx::query("SELECT id, label, detail, lat, lng FROM addresses WHERE user_id = ? ORDER BY created_at DESC, id")
        .bind(user_id)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Address {
                id: r.try_get("id")?,
                label: r.try_get("label")?,
                detail: r.try_get("detail")?,
                lat: r.try_get("lat")?,
                lng: r.try_get("lng")?,
            })
        })
        .collect()
}

/// One of the user's addresses; another user's is "not found", exactly like a missing one.
pub async fn address(pool: &SqlitePool, user_id: &str, id: &str) -> Result<Address> {
    addresses(pool, user_id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::not_found("找不到这个收货地址").into())
}
