//! After-sales (售后): within `AFTER_SALES_WINDOW_S` of delivery, the order's owner asks for money
//! back on some delivered units, with a reason, a note and up to three photos.
//!
//! - Photos are untrusted: judged by their content (JPEG, PNG or WebP), at most `MAX_PHOTO_BYTES`,
//!   decoded under limits (a decompression bomb is refused, not allocated), scaled to at most
//!   `PHOTO_MAX_SIDE` and re-encoded as JPEG by the `image` crate, which keeps pixels only: no
//!   EXIF, no GPS. They are stored under 128-bit random tokens and served to the owner only.
//! - The demo's decision: a request with a photo asking for at most `AUTO_APPROVE_MAX_FEN` is
//!   approved at once; any other waits in `reviewing` for `decide` (a demo route).
//! - Money goes back through `refunds::refund`, capped per line by what was paid less what was
//!   refunded already; and the units asked about, over all requests not rejected, never pass the
//!   units delivered. Requests run one at a time (`BEGIN IMMEDIATE`), so concurrent ones cannot
//!   both pass.
//! - A refusal writes nothing; the same Idempotency-Key with the same request replays the answer.

use std::io::Cursor;

use jishi_api::after_sales::{
    check_lines, parse_note, AfterSales, AfterSalesLine, AfterSalesReason, AfterSalesStatus,
    AFTER_SALES_WINDOW_S, AUTO_APPROVE_MAX_FEN, MAX_PHOTOS, MAX_PHOTO_BYTES, PHOTO_MAX_SIDE,
};
use jishi_api::orders::{OrderStatus, RefundReason};
use jishi_api::routes;
use jishi_api::{ApiError, ErrorCode};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::refunds::refund;
use crate::accounts::new_id;
use crate::dispatch;
use crate::error::{PlatformError, Result};

/// A request as it came in (multipart form fields), not yet checked.
#[derive(Debug, Default)]
pub struct Form {
    pub lines: String,
    pub reason: String,
    pub note: String,
    pub photos: Vec<Vec<u8>>,
}

/// Decodes an uploaded photo and re-encodes it as a JPEG of at most `PHOTO_MAX_SIDE` a side.
/// CPU-bound: run it off the async threads.
pub fn reencode(bytes: &[u8]) -> std::result::Result<Vec<u8>, ApiError> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("每张照片最大 {} MB", MAX_PHOTO_BYTES / 1024 / 1024),
        ));
    }
    let format = image::guess_format(bytes).ok().filter(|f| {
        matches!(
            f,
            image::ImageFormat::Jpeg | image::ImageFormat::Png | image::ImageFormat::WebP
        )
    });
    let Some(format) = format else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "照片只能是 JPEG、PNG 或 WebP 图片",
        ));
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8_000);
    limits.max_image_height = Some(8_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => ApiError::new(
            ErrorCode::PayloadTooLarge,
            "照片的像素尺寸太大（最大 8000×8000）",
        ),
        _ => ApiError::bad_request("照片已损坏或无法识别"),
    })?;
    let image = if image.width() > PHOTO_MAX_SIDE || image.height() > PHOTO_MAX_SIDE {
        image.resize(
            PHOTO_MAX_SIDE,
            PHOTO_MAX_SIDE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        image
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&image.to_rgb8())
        .map_err(|_| ApiError::bad_request("照片无法处理"))?;
    Ok(out)
}

/// `POST /v1/orders/{id}/after-sales`: `201` and the request, or a replay's stored answer.
pub async fn request(
    pool: &SqlitePool,
    user_id: &str,
    order_id: &str,
    key: &str,
    form: Form,
    now: i64,
) -> Result<AfterSales> {
    let lines: Vec<AfterSalesLine> = serde_json::from_str(&form.lines)
        .map_err(|_| ApiError::bad_request("lines 应为 JSON 列表：[{\"sku\":…,\"quantity\":…}]"))?;
    check_lines(&lines)?;
    let reason = AfterSalesReason::parse(&form.reason)?;
    let note = parse_note(&form.note)?;
    if form.photos.len() > MAX_PHOTOS {
        return Err(ApiError::bad_request(format!("最多上传 {MAX_PHOTOS} 张照片")).into());
    }
    let mut fingerprint = Sha256::new();
    for part in [
        serde_json::to_string(&lines).unwrap_or_default().as_bytes(),
        reason.as_str().as_bytes(),
        note.as_deref().unwrap_or("").as_bytes(),
    ] {
        fingerprint.update(Sha256::digest(part));
    }
    for photo in &form.photos {
        fingerprint.update(Sha256::digest(photo));
    }
    let fingerprint = format!("{:x}", fingerprint.finalize());
    let photos = tokio::task::spawn_blocking(move || {
        form.photos
            .iter()
            .map(|p| reencode(p))
            .collect::<std::result::Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| PlatformError::CorruptRow {
        what: "after-sales photos".into(),
        detail: e.to_string(),
    })??;

    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let earlier: Option<(String, String)> =
        sqlx::query_as("SELECT id, request FROM after_sales WHERE user_id = ? AND idem_key = ?")
            .bind(user_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((id, request)) = earlier {
        if request != fingerprint {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "这个 Idempotency-Key 已用于另一个售后申请",
            )
            .into());
        }
        return read(&mut tx, &id).await;
    }
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM orders WHERE id = ? AND user_id = ?")
            .bind(order_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(status) = status else {
        return Err(ApiError::not_found("找不到这个订单").into());
    };
    if status != OrderStatus::Delivered.as_str() {
        return Err(ApiError::new(ErrorCode::InvalidState, "订单送达后才能申请售后").into());
    }
    let delivered_at: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(at) FROM event_log WHERE log = 'order' AND key = ?
           AND json_extract(json, '$.status') = 'delivered'",
    )
    .bind(order_id)
    .fetch_one(&mut *tx)
    .await?;
    if now - delivered_at.unwrap_or(now) > AFTER_SALES_WINDOW_S {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "已超过售后期限（送达后 24 小时内）",
        )
        .into());
    }
    let mut asked_fen = 0;
    let mut priced = Vec::with_capacity(lines.len());
    for line in &lines {
        let row = sqlx::query(
            "SELECT oi.price_fen, oi.quantity - oi.short AS delivered,
                    (SELECT COALESCE(SUM(j.value ->> '$.quantity'), 0)
                     FROM after_sales a, json_each(a.lines) j
                     WHERE a.order_id = oi.order_id AND a.status <> 'rejected'
                       AND j.value ->> '$.sku' = oi.sku) AS claimed
             FROM order_items oi WHERE oi.order_id = ? AND oi.sku = ?",
        )
        .bind(order_id)
        .bind(&line.sku)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(ApiError::bad_request(format!("订单里没有商品 {}", line.sku)).into());
        };
        let (price, delivered, claimed): (i64, i64, i64) = (
            row.try_get("price_fen")?,
            row.try_get("delivered")?,
            row.try_get("claimed")?,
        );
        if i64::from(line.quantity) + claimed > delivered {
            return Err(ApiError::bad_request(format!(
                "商品 {} 送达 {delivered} 件，已申请售后 {claimed} 件，不能再申请 {} 件",
                line.sku, line.quantity
            ))
            .into());
        }
        asked_fen += price * i64::from(line.quantity);
        priced.push((line.sku.clone(), price * i64::from(line.quantity)));
    }
    let status = if !photos.is_empty() && asked_fen <= AUTO_APPROVE_MAX_FEN {
        AfterSalesStatus::Approved
    } else {
        AfterSalesStatus::Reviewing
    };
    let id = new_id("as_");
    sqlx::query(
        "INSERT INTO after_sales (id, order_id, user_id, idem_key, request, status, reason, note,
             lines, refund_fen, created_at)
         VALUES (?, ?, ?, ?, ?, 'reviewing', ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(order_id)
    .bind(user_id)
    .bind(key)
    .bind(&fingerprint)
    .bind(reason.as_str())
    .bind(note.as_deref())
    .bind(serde_json::to_string(&lines).unwrap_or_default())
    .bind(asked_fen)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for (position, jpeg) in photos.iter().enumerate() {
        let token = format!("{:032x}", rand::thread_rng().gen::<u128>());
        sqlx::query(
            "INSERT INTO after_sales_photos (token, request_id, user_id, position, jpeg)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token)
        .bind(&id)
        .bind(user_id)
        .bind(position as i64)
        .bind(jpeg)
        .execute(&mut *tx)
        .await?;
    }
    if status == AfterSalesStatus::Approved {
        approve(&mut tx, &id, order_id, &priced, now).await?;
    } else {
        announce(&mut tx, order_id, now).await?;
    }
    let answer = read(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(answer)
}

/// Approves a request: each line refunded (capped by what its line has left), the request's
/// `refund_fen` set to what was paid back, and an order event carrying the new money.
async fn approve(
    conn: &mut SqliteConnection,
    id: &str,
    order_id: &str,
    priced: &[(String, i64)],
    now: i64,
) -> Result<()> {
    let mut refunded = 0;
    for (sku, fen) in priced {
        refunded += refund(
            conn,
            order_id,
            Some(sku),
            *fen,
            RefundReason::AfterSales,
            now,
        )
        .await?;
    }
    sqlx::query("UPDATE after_sales SET status = 'approved', refund_fen = ? WHERE id = ?")
        .bind(refunded)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    announce(conn, order_id, now).await
}

/// An order event carrying the order's money and after-sales requests as they now are, so a page
/// open on the order follows a request and its decision live.
async fn announce(conn: &mut SqliteConnection, order_id: &str, now: i64) -> Result<()> {
    let order = super::load_on(conn, order_id).await?;
    dispatch::record_change(
        conn,
        order_id,
        order.status,
        0,
        None,
        Some(order.change()),
        now,
    )
    .await
}

/// `POST /v1/demo/after-sales/{id}/decision` (demo mode, the order's owner): approves or rejects
/// a request in `reviewing`. The order's id (whose streams to wake) and the request.
pub async fn decide(
    pool: &SqlitePool,
    user_id: &str,
    id: &str,
    approve_it: bool,
    now: i64,
) -> Result<(String, AfterSales)> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT order_id, status, lines FROM after_sales WHERE id = ? AND user_id = ?",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((order_id, status, lines)) = row else {
        return Err(ApiError::not_found("找不到这个售后申请").into());
    };
    if status != AfterSalesStatus::Reviewing.as_str() {
        return Err(ApiError::new(ErrorCode::InvalidState, "这个售后申请已经处理过了").into());
    }
    if approve_it {
        let lines: Vec<AfterSalesLine> =
            serde_json::from_str(&lines).map_err(|e| PlatformError::CorruptRow {
                what: format!("after-sales {id}"),
                detail: e.to_string(),
            })?;
        let mut priced = Vec::with_capacity(lines.len());
        for line in lines {
            let price: i64 = sqlx::query_scalar(
                "SELECT price_fen FROM order_items WHERE order_id = ? AND sku = ?",
            )
            .bind(&order_id)
            .bind(&line.sku)
            .fetch_one(&mut *tx)
            .await?;
            priced.push((line.sku, price * i64::from(line.quantity)));
        }
        approve(&mut tx, id, &order_id, &priced, now).await?;
    } else {
        sqlx::query("UPDATE after_sales SET status = 'rejected', refund_fen = 0 WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        announce(&mut tx, &order_id, now).await?;
    }
    let answer = read(&mut tx, id).await?;
    tx.commit().await?;
    Ok((order_id, answer))
}

/// A stored photo, for its owner only (anyone else: not found).
pub async fn photo(pool: &SqlitePool, user_id: &str, token: &str) -> Result<Vec<u8>> {
    sqlx::query_scalar("SELECT jpeg FROM after_sales_photos WHERE token = ? AND user_id = ?")
        .bind(token)
        .bind(user_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ApiError::not_found("找不到这张照片").into())
}

/// A request as answered.
async fn read(conn: &mut SqliteConnection, id: &str) -> Result<AfterSales> {
    let row = sqlx::query(
        "SELECT id, status, refund_fen, lines, reason, note FROM after_sales WHERE id = ?",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    from_row(conn, &row).await
}

/// The order's requests, oldest first.
pub(crate) async fn of_order(
    conn: &mut SqliteConnection,
    order_id: &str,
) -> Result<Vec<AfterSales>> {
    let rows = sqlx::query(
        "SELECT id, status, refund_fen, lines, reason, note FROM after_sales
         WHERE order_id = ? ORDER BY created_at, id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(from_row(conn, row).await?);
    }
    Ok(out)
}

async fn from_row(
    conn: &mut SqliteConnection,
    row: &sqlx::sqlite::SqliteRow,
) -> Result<AfterSales> {
    let id: String = row.try_get("id")?;
    let corrupt = |detail: String| PlatformError::CorruptRow {
        what: format!("after-sales {id}"),
        detail,
    };
    let status: String = row.try_get("status")?;
    let reason: String = row.try_get("reason")?;
    let lines: String = row.try_get("lines")?;
    let tokens: Vec<String> = sqlx::query_scalar(
        "SELECT token FROM after_sales_photos WHERE request_id = ? ORDER BY position",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(AfterSales {
        status: AfterSalesStatus::parse(&status).ok_or_else(|| corrupt(status.clone()))?,
        refund_fen: row.try_get("refund_fen")?,
        photos: tokens
            .iter()
            .map(|t| routes::AFTER_SALES_PHOTO.path(&[t]))
            .collect(),
        lines: serde_json::from_str(&lines).map_err(|e| corrupt(e.to_string()))?,
        reason: AfterSalesReason::parse(&reason).map_err(|_| corrupt(reason.clone()))?,
        note: row.try_get("note")?,
        id,
    })
}
