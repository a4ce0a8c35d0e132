//! Flash sales (秒杀): `POST /v1/live/rooms/{id}/flash`, host only. A flash sale takes a bag item
//! at its own price (checked as a pin's, against the room's stores), cap and per-shopper limit,
//! and opens after a countdown on the platform's clock. The room's latest flash sale governs every
//! buy of its SKU in the room until [`FLASH_SHOWN_AFTER_S`] after it ends (`buy::place_flash`).
//!
//! [`FlashMemos`] is what the platform keeps in memory so that a flash crowd's refusals cost no
//! database round trip: each room's flash times, and once the cap is spent, that it is.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jishi_api::live::{flash_phase, flash_refusal, Flash, FlashPhase, LiveEvent, NewFlash};
use jishi_api::{ApiError, ErrorCode};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{record, room_offer};
use crate::accounts::new_id;
use crate::clock::rfc3339_utc;
use crate::error::Result;
use crate::event_log::Log;
use crate::Platform;

pub use jishi_api::live::FLASH_SHOWN_AFTER_S;

/// A flash sale with the regular price of the room's stores and the product's name and picture.
const FLASH_SQL: &str = "SELECT f.id, f.sku, p.name, p.picture, f.price_fen, f.cap, f.per_shopper,
    f.sold, f.starts_at, f.ends_at,
    (SELECT MIN(sp.price_fen) FROM store_products sp
     JOIN live_room_stores rs ON rs.store_id = sp.store_id AND rs.room_id = f.room_id
     WHERE sp.sku = f.sku) AS regular_price_fen
    FROM live_flash f JOIN products p ON p.sku = f.sku";

fn flash_from(row: &SqliteRow) -> Result<Flash> {
    Ok(Flash {
        id: row.try_get("id")?,
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        starts_at: rfc3339_utc(row.try_get("starts_at")?),
        ends_at: rfc3339_utc(row.try_get("ends_at")?),
        price_fen: row.try_get("price_fen")?,
        regular_price_fen: row
            .try_get::<Option<i64>, _>("regular_price_fen")?
            .unwrap_or(0),
        cap: row.try_get("cap")?,
        per_shopper: row.try_get("per_shopper")?,
        sold: row.try_get("sold")?,
        image: crate::pictures::image(row.try_get::<Option<&str>, _>("picture")?),
    })
}

/// The room's latest flash sale, whatever its phase.
pub(crate) async fn latest(conn: &mut SqliteConnection, room_id: &str) -> Result<Option<Flash>> {
    let row = sqlx::query(&format!(
        "{FLASH_SQL} WHERE f.room_id = ? ORDER BY f.starts_at DESC, f.id DESC LIMIT 1"
    ))
    .bind(room_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(flash_from).transpose()
}

/// One flash sale by id.
pub(crate) async fn by_id(conn: &mut SqliteConnection, id: &str) -> Result<Option<Flash>> {
    let row = sqlx::query(&format!("{FLASH_SQL} WHERE f.id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(flash_from).transpose()
}

/// Starts a flash sale on a bag item of a live room: 409 `invalid_state` if the room is not live,
/// the SKU is not in the bag or the room's last flash sale has not ended; 400 for a price or cap
/// the room's stores do not allow. The sale and its `flash` event commit together.
pub async fn start(p: &Platform, room_id: &str, body: NewFlash) -> Result<Flash> {
    body.validate()?;
    let (room, now) = (room_id.to_owned(), p.now_unix());
    let flash = p
        .writer()
        .run(move |conn| {
            Box::pin(async move {
                let row = super::room_row(conn, &room).await?;
                if row.status != jishi_api::live::RoomStatus::Live {
                    return Err(ApiError::new(
                        ErrorCode::InvalidState,
                        format!("直播间{}，不能开始秒杀", row.status.label()),
                    )
                    .into());
                }
                let in_bag: Option<i64> = sqlx::query_scalar(
                    "SELECT 1 FROM live_pins WHERE room_id = ? AND sku = ? AND bag_position IS NOT NULL",
                )
                .bind(&room)
                .bind(&body.sku)
                .fetch_optional(&mut *conn)
                .await?;
                if in_bag.is_none() {
                    return Err(ApiError::new(
                        ErrorCode::InvalidState,
                        format!("先把商品 {} 放进购物袋，再开始秒杀", body.sku),
                    )
                    .into());
                }
                let Some((regular, held)) = room_offer(conn, &room, &body.sku).await? else {
                    return Err(ApiError::not_found("本场的参与门店都不卖这件商品").into());
                };
                body.as_new_pin().check_against(regular, held)?;
                let running: Option<i64> = sqlx::query_scalar(
                    "SELECT ends_at FROM live_flash WHERE room_id = ? AND ends_at > ? LIMIT 1",
                )
                .bind(&room)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
                if running.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::InvalidState,
                        "上一场秒杀还没结束，结束后再开始下一场",
                    )
                    .into());
                }
                let id = new_id("fl_");
                let starts_at = now + i64::from(body.countdown_s);
                sqlx::query(
                    "INSERT INTO live_flash (id, room_id, sku, price_fen, cap, per_shopper, sold,
                         starts_at, ends_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                )
                .bind(&id)
                .bind(&room)
                .bind(&body.sku)
                .bind(body.price_fen)
                .bind(body.cap)
                .bind(body.per_shopper)
                .bind(starts_at)
                .bind(starts_at + i64::from(body.length_s))
                .bind(now)
                .execute(&mut *conn)
                .await?;
                let flash = by_id(conn, &id)
                    .await?
                    .ok_or_else(|| ApiError::new(ErrorCode::Internal, "秒杀没有开始"))?;
                record(conn, &room, &LiveEvent::Flash { flash: flash.clone() }, now).await?;
                Ok(flash)
            })
        })
        .await?;
    p.live().flashes().set(room_id, Some(&flash));
    p.notify_one(Log::Room, room_id);
    Ok(flash)
}

/// How long a spent cap is believed without asking the database again: units of an unpaid flash
/// order that expires go back, and after this one buyer at a time may find them.
const SOLD_OUT_TRUSTED: Duration = Duration::from_secs(1);

/// What this process knows of a room's flash sale.
struct Memo {
    id: String,
    sku: String,
    starts_at: i64,
    ends_at: i64,
    cap: u32,
    /// Units sold when it was read, plus those this process let through since (in flight or
    /// placed): once it reaches the cap, further buys are refused here.
    claimed: u32,
    /// Units of `claimed` whose buys have not been answered yet.
    in_flight: u32,
    /// Woken whenever a buy is answered, for buys waiting on the ones in flight.
    answered: std::sync::Arc<tokio::sync::Notify>,
    /// When the database last said the cap was spent, or was last asked after that.
    checked_at: Option<Instant>,
    /// (user, Idempotency-Key) of the buys this process placed in it: their retries must reach
    /// the database for the stored order, never a refusal from here.
    placed: HashSet<(String, String)>,
}

/// Each room's flash sale as far as admitting a buy goes, `None` for a room known to have none.
/// A room not in the map is unknown: its buys ask the database (and fill the map).
///
/// A flash crowd is admitted here up to the cap: each buy claims its units before it goes to the
/// database and gives them back if it was not placed. Past the cap, a buy waits while claimed
/// buys are still in flight (one of them may fail and give its units back), and once none is,
/// it is refused `sold_out` without a database round trip. The database still decides every buy
/// it sees (the cap there is a conditional update): this never sells more, and sells exactly the
/// cap when enough shoppers come.
#[derive(Default)]
pub struct FlashMemos {
    rooms: Mutex<HashMap<String, Option<Memo>>>,
}

/// A flash buy's outcome in the database, for the memo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashOutcome {
    Placed,
    /// Refused: the cap is spent.
    CapSpent,
}

/// What `admit` decided.
#[derive(Debug)]
pub enum Admission {
    /// Refused here, without the database.
    Refused(ApiError),
    /// To the database; `claimed`: the units this buy holds in the memo of flash sale `id`, to
    /// settle with `settled`.
    Go { claimed: Option<(String, u32)> },
    /// Claimed out with buys in flight: ask again once one is answered (or a while has passed).
    Wait(tokio::sync::futures::OwnedNotified),
}

impl FlashMemos {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Memo>>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the room's flash sale (or that it has none) is known here.
    pub fn known(&self, room_id: &str) -> bool {
        self.lock().contains_key(room_id)
    }

    /// The room's flash sale is now `flash`.
    pub fn set(&self, room_id: &str, flash: Option<&Flash>) {
        let memo = flash.and_then(|f| {
            Some(Memo {
                id: f.id.clone(),
                sku: f.sku.clone(),
                starts_at: jishi_api::time::parse_utc(&f.starts_at)?,
                ends_at: jishi_api::time::parse_utc(&f.ends_at)?,
                cap: f.cap,
                claimed: f.sold,
                in_flight: 0,
                answered: Default::default(),
                checked_at: None,
                placed: HashSet::new(),
            })
        });
        self.lock().insert(room_id.to_owned(), memo);
    }

    /// Admits a buy of `quantity` of `sku` at `now` (Unix seconds), or refuses it from what is
    /// known here: before the start, after the end, or with the cap claimed. A buy of another
    /// product, in a room not known here, or a retry of a placed buy goes on unclaimed.
    pub fn admit(
        &self,
        room_id: &str,
        sku: &str,
        quantity: u32,
        (user_id, key): (&str, &str),
        now: i64,
    ) -> Admission {
        let mut rooms = self.lock();
        let Some(memo) = rooms
            .get_mut(room_id)
            .and_then(Option::as_mut)
            .filter(|m| m.sku == sku)
        else {
            return Admission::Go { claimed: None };
        };
        if memo.placed.contains(&(user_id.to_owned(), key.to_owned())) {
            return Admission::Go { claimed: None };
        }
        match flash_phase(memo.starts_at, memo.ends_at, false, now) {
            // Long over: the product sells at its bag price again.
            FlashPhase::Gone => return Admission::Go { claimed: None },
            phase => {
                if let Some(refused) = flash_refusal(phase) {
                    return Admission::Refused(refused);
                }
            }
        }
        if memo.claimed.saturating_add(quantity) <= memo.cap {
            memo.claimed += quantity;
            memo.in_flight += quantity;
            return Admission::Go {
                claimed: Some((memo.id.clone(), quantity)),
            };
        }
        if memo.in_flight > 0 {
            // Created under the lock, so the next `settled` cannot be missed.
            return Admission::Wait(memo.answered.clone().notified_owned());
        }
        if memo
            .checked_at
            .is_some_and(|at| at.elapsed() < SOLD_OUT_TRUSTED)
        {
            return Admission::Refused(ApiError::new(ErrorCode::SoldOut, "秒杀已抢光"));
        }
        // Claimed out, but units may have come back (a cancelled or expired order): one buyer
        // asks the database, the others are refused until it answers.
        memo.checked_at = Some(Instant::now());
        Admission::Go { claimed: None }
    }

    /// Settles a buy `admit` let through: what the database answered of flash sale `flash_id`
    /// (`None`: it was not placed, for a reason other than the cap) and the units it claimed.
    pub fn settled(
        &self,
        room_id: &str,
        (user_id, key): (&str, &str),
        outcome: Option<(String, FlashOutcome)>,
        claimed: Option<(String, u32)>,
    ) {
        let mut rooms = self.lock();
        let Some(Some(memo)) = rooms.get_mut(room_id) else {
            return;
        };
        let placed = matches!(&outcome, Some((id, FlashOutcome::Placed)) if *id == memo.id);
        match claimed {
            Some((id, units)) if id == memo.id => {
                memo.in_flight = memo.in_flight.saturating_sub(units);
                if !placed {
                    memo.claimed = memo.claimed.saturating_sub(units);
                }
                // Waiters are past the cap: only units given back, or the last buy in flight
                // answered, change what they get. Woken at every answer, a flash crowd's
                // thousands of waiters woke once per order, and that CPU slowed the orders.
                if !placed || memo.in_flight == 0 {
                    memo.answered.notify_waiters();
                }
            }
            _ => {}
        }
        match outcome {
            Some((id, FlashOutcome::Placed)) if id == memo.id => {
                memo.placed.insert((user_id.to_owned(), key.to_owned()));
            }
            Some((id, FlashOutcome::CapSpent)) if id == memo.id => {
                memo.claimed = memo.claimed.max(memo.cap);
                memo.checked_at = Some(Instant::now());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn memos(cap: u32) -> FlashMemos {
        let memos = FlashMemos::default();
        let flash = Flash {
            id: "fl_1".into(),
            sku: "sku_1".into(),
            name: "n".into(),
            starts_at: "2026-11-25T04:00:00Z".into(),
            ends_at: "2026-11-25T04:10:00Z".into(),
            price_fen: 100,
            regular_price_fen: 200,
            cap,
            per_shopper: 1,
            sold: 0,
            image: None,
        };
        memos.set("live_1", Some(&flash));
        memos
    }

    /// 2026-11-25 04:01:00 UTC: the sale is open.
    const NOW: i64 = 1_795_579_260;

    fn admit(m: &FlashMemos, user: &str) -> Admission {
        m.admit("live_1", "sku_1", 1, (user, user), NOW)
    }

    fn claimed(a: Admission) -> Option<(String, u32)> {
        match a {
            Admission::Go { claimed } => claimed,
            other => panic!("admitted, not {other:?}"),
        }
    }

    fn placed(user: &str) -> (&str, &str) {
        (user, user)
    }

    #[test]
    fn waiters_past_the_cap_wake_when_units_come_back_or_the_last_buy_is_answered() {
        let m = memos(2);
        let a = claimed(admit(&m, "a"));
        let b = claimed(admit(&m, "b"));
        assert!(a.is_some() && b.is_some());
        let Admission::Wait(c) = admit(&m, "c") else {
            panic!("past the cap with buys in flight: wait");
        };
        let mut c = Box::pin(c);
        // A placed order changes nothing for a waiter while another is in flight.
        m.settled(
            "live_1",
            placed("a"),
            Some(("fl_1".into(), FlashOutcome::Placed)),
            a,
        );
        assert!(c.as_mut().now_or_never().is_none(), "woken for nothing");
        // Refused for another reason: its unit comes back, and the waiter may take it.
        m.settled("live_1", placed("b"), None, b);
        assert!(c.as_mut().now_or_never().is_some(), "a unit came back");
        let c = claimed(admit(&m, "c"));
        assert!(c.is_some(), "the unit given back");
        let Admission::Wait(d) = admit(&m, "d") else {
            panic!("the cap claimed again: wait");
        };
        let mut d = Box::pin(d);
        m.settled(
            "live_1",
            placed("c"),
            Some(("fl_1".into(), FlashOutcome::Placed)),
            c,
        );
        assert!(
            d.as_mut().now_or_never().is_some(),
            "the last buy in flight answered"
        );
        // Nothing in flight and the cap placed: one buyer asks the database, the rest are refused.
        assert!(claimed(admit(&m, "d")).is_none());
        assert!(matches!(admit(&m, "e"), Admission::Refused(_)));
    }
}
