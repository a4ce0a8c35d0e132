//! Previews and reservations (预告/预约): a scheduled room shows when it goes live; a signed-in
//! shopper reserves it, the host sees how many did, and the shopper takes the start away as a
//! calendar event (`calendar.ics`) or finds it on `/me` (`GET /v1/me/reservations`), which also
//! tells an open page that a reserved room has gone live.

use icalendar::{Calendar, Component, Event, EventLike};
use jishi_api::live::{LiveRoom, Reservation, RoomStatus, RoomsResponse};
use jishi_api::{ApiError, ErrorCode};
use sqlx::SqliteConnection;

use super::{live_room, room_from, room_parts, room_row, ROOM_SQL};
use crate::clock::rfc3339_utc;
use crate::error::Result;
use crate::Platform;

/// How long a calendar event of a room lasts, in seconds (rooms have no planned end).
pub const CALENDAR_EVENT_S: i64 = 3600;

/// Shoppers who reserved the room.
pub(crate) async fn count(conn: &mut SqliteConnection, room_id: &str) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM live_reservations WHERE room_id = ?")
        .bind(room_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `POST /v1/live/rooms/{id}/reservations`: reserves a scheduled room for `user_id` (again is the
/// same reservation). 409 `invalid_state` for a room that is live or has ended; nothing is
/// written then.
pub async fn reserve(p: &Platform, user_id: &str, room_id: &str) -> Result<Reservation> {
    let (room, user, now) = (room_id.to_owned(), user_id.to_owned(), p.now_unix());
    p.writer()
        .run(move |conn| {
            Box::pin(async move {
                let row = room_row(conn, &room).await?;
                match row.status {
                    RoomStatus::Scheduled => {}
                    RoomStatus::Live => {
                        return Err(ApiError::new(
                            ErrorCode::InvalidState,
                            "已经开播了，直接进直播间看吧",
                        )
                        .into())
                    }
                    RoomStatus::Ended => {
                        return Err(
                            ApiError::new(ErrorCode::InvalidState, "直播已结束，不能预约").into(),
                        )
                    }
                }
                sqlx::query(
                    "INSERT INTO live_reservations (room_id, user_id, created_at) VALUES (?, ?, ?)
                     ON CONFLICT (room_id, user_id) DO NOTHING",
                )
                .bind(&room)
                .bind(&user)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                Ok(Reservation {
                    reservations: count(conn, &room).await?,
                    starts_at: row.starts_at.map(rfc3339_utc),
                    room_id: room,
                })
            })
        })
        .await
}

/// `GET /v1/me/reservations`: the rooms `user_id` reserved that have not ended, live ones first,
/// then by start.
pub async fn mine(p: &Platform, user_id: &str) -> Result<RoomsResponse> {
    let mut conn = p.pool().acquire().await?;
    let rows = sqlx::query(&format!(
        "{ROOM_SQL} WHERE id IN (SELECT room_id FROM live_reservations WHERE user_id = ?)
           AND status != 'ended'
         ORDER BY status = 'scheduled', starts_at, id"
    ))
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut rooms: Vec<LiveRoom> = Vec::with_capacity(rows.len());
    for row in &rows {
        let row = room_from(row)?;
        let parts = room_parts(&mut conn, &row).await?;
        rooms.push(live_room(p, row, parts));
    }
    Ok(RoomsResponse { rooms })
}

/// `GET /v1/live/rooms/{id}/calendar.ics`: the room's start as an iCalendar event, linking to
/// the room at `shop_origin` (where the shopper reached the shop). 409 `invalid_state` for an
/// ended room; a room without a planned start (live already) starts now.
pub async fn calendar(p: &Platform, room_id: &str, shop_origin: Option<&str>) -> Result<String> {
    let mut conn = p.pool().acquire().await?;
    let row = room_row(&mut conn, room_id).await?;
    if row.status == RoomStatus::Ended {
        return Err(ApiError::new(ErrorCode::InvalidState, "直播已结束").into());
    }
    let start = row.starts_at.unwrap_or_else(|| p.now_unix());
    let at = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap_or_default();
    let link = shop_origin.map(|o| format!("{}/live/{}", o.trim_end_matches('/'), row.id));
    let mut event = Event::new();
    event
        .uid(&format!("{}@jishi", row.id))
        .summary(&format!("{} · {}", row.title, row.host_name))
        .starts(at(start))
        .ends(at(start + CALENDAR_EVENT_S))
        .timestamp(at(p.now_unix()));
    if let Some(link) = &link {
        event
            .url(link)
            .description(&format!("即时直播间：{}\n{link}", row.title));
    }
    let mut calendar = Calendar::new();
    calendar.name("即时 Jishi").push(event.done());
    Ok(calendar.done().to_string())
}

/// A shop origin the server passed on: `http(s)://host[:port]` with nothing else, or `None`.
pub fn shop_origin(value: &str) -> Option<&str> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))?;
    let plain = !rest.is_empty()
        && rest.len() <= 253
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    plain.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::shop_origin;

    #[test]
    fn a_shop_origin_is_a_scheme_and_a_host_and_nothing_else() {
        assert_eq!(
            shop_origin("https://shop.example"),
            Some("https://shop.example")
        );
        assert_eq!(
            shop_origin("http://127.0.0.1:3000"),
            Some("http://127.0.0.1:3000")
        );
        for bad in [
            "javascript:alert(1)",
            "https://",
            "https://a.example/path",
            "https://a.example\r\nX-Evil: 1",
            "ftp://a.example",
            "https://a b",
        ] {
            assert_eq!(shop_origin(bad), None, "{bad}");
        }
    }
}
