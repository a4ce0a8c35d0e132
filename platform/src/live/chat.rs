//! Comments (rate-limited, masked authors, hidden by the host) and likes (counted in memory,
//! written about once a second by the hub's flush).

use jishi_api::live::{Comment, LikeBatch, LiveEvent, NewComment, RoomStatus};
use jishi_api::person::Person;
use jishi_api::{ApiError, ErrorCode};

use super::hub::Liker;
use super::{record, room_row};
use crate::clock::rfc3339_utc;
use crate::error::Result;
use crate::event_log::Log;
use crate::Platform;

/// `POST /v1/live/rooms/{id}/comments`: validates, checks the room and the rate limits, then
/// writes the comment and its event together. Nothing is written for refused input.
pub async fn comment(
    p: &Platform,
    room_id: &str,
    user_id: &str,
    body: NewComment,
) -> Result<Comment> {
    let text = body.validate()?;
    let mut conn = p.pool().acquire().await?;
    let room = room_row(&mut conn, room_id).await?;
    if room.status == RoomStatus::Ended {
        return Err(ApiError::new(ErrorCode::InvalidState, "直播已结束，不能再评论").into());
    }
    let phone: String = sqlx::query_scalar("SELECT phone FROM users WHERE id = ?")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    drop(conn);
    p.live().check_comment(
        room_id,
        user_id,
        room.slow_mode,
        room.host_user_id == user_id,
    )?;
    let author = if room.host_user_id == user_id {
        Person::host(&room.host_name)
    } else {
        Person::shopper(&phone)
    };
    let author_json = serde_json::to_string(&author).unwrap_or_default();
    let (room, user, now) = (room_id.to_owned(), user_id.to_owned(), p.now_unix());
    let comment = p
        .writer()
        .run(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO live_comments (room_id, user_id, author, text, at)
                     VALUES (?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(&room)
                .bind(&user)
                .bind(&author_json)
                .bind(&text)
                .bind(now)
                .fetch_one(&mut *conn)
                .await?;
                let comment = Comment {
                    id: u64::try_from(id).unwrap_or(0),
                    author,
                    text,
                    at: rfc3339_utc(now),
                };
                record(
                    conn,
                    &room,
                    &LiveEvent::Comment {
                        comment: comment.clone(),
                    },
                    now,
                )
                .await?;
                Ok(comment)
            })
        })
        .await?;
    p.notify_one(Log::Room, room_id);
    Ok(comment)
}

/// `DELETE /v1/live/rooms/{id}/comments/{comment_id}` (host only): hides it from snapshots and
/// tells the streams; hiding it again changes nothing.
pub async fn hide(p: &Platform, room_id: &str, comment_id: i64) -> Result<()> {
    let (room, now) = (room_id.to_owned(), p.now_unix());
    let hidden = p
        .writer()
        .run(move |conn| {
            Box::pin(async move {
                let hidden: Option<i64> = sqlx::query_scalar(
                    "SELECT hidden FROM live_comments WHERE id = ? AND room_id = ?",
                )
                .bind(comment_id)
                .bind(&room)
                .fetch_optional(&mut *conn)
                .await?;
                match hidden {
                    None => Err(ApiError::not_found("找不到这条评论").into()),
                    Some(1) => Ok(false),
                    Some(_) => {
                        sqlx::query("UPDATE live_comments SET hidden = 1 WHERE id = ?")
                            .bind(comment_id)
                            .execute(&mut *conn)
                            .await?;
                        let id = u64::try_from(comment_id).unwrap_or(0);
                        record(conn, &room, &LiveEvent::CommentHidden { id }, now).await?;
                        Ok(true)
                    }
                }
            })
        })
        .await?;
    if hidden {
        p.notify_one(Log::Room, room_id);
    }
    Ok(())
}

/// `POST /v1/live/rooms/{id}/likes`: counts the taps in memory (no write per batch). Under load
/// they may be dropped, silently: likes are the first thing a busy room sheds.
pub async fn like(p: &Platform, room_id: &str, liker: &Liker, body: LikeBatch) -> Result<()> {
    let n = body.validate()?;
    if !p.live().knows(room_id) {
        let mut conn = p.pool().acquire().await?;
        room_row(&mut conn, room_id).await?;
        p.live().remember(room_id);
    }
    p.live().add_likes(room_id, liker, u64::from(n));
    Ok(())
}
