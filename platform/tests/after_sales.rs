//! After-sales (售后) against the real platform over loopback: approval and refund, photos kept
//! without EXIF or GPS and for the owner only, every refusal writing nothing, replays, and a race.

use std::io::Cursor;
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

use support::{Shopper, Sse, TestPlatform, GUOMAO, PATIENCE};

async fn spawn() -> TestPlatform {
    TestPlatform::spawn_with(|c| c.dispatch_step = Duration::from_secs(3600)).await
}

/// A JPEG whose EXIF (APP1) carries a GPS latitude reference: what a phone's camera writes.
fn jpeg_with_gps() -> Vec<u8> {
    let mut plain = Vec::new();
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&img)
        .unwrap();
    // TIFF, big-endian: IFD0 with one entry, GPSInfo (0x8825) → the GPS IFD at offset 26, whose one
    // entry is GPSLatitudeRef (0x0001) = "N".
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend([0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
    tiff.extend([0, 1, 0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&plain[2..]);
    out
}

/// A PNG header claiming 60000×60000 pixels: decoding it whole would take gigabytes.
fn png_bomb() -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(Cursor::new(&mut out))
        .write_image(&[0; 4 * 4 * 3], 4, 4, image::ExtendedColorType::Rgb8)
        .unwrap();
    // Rewrite the IHDR's width and height (bytes 16..24) and its CRC.
    out[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    out[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

use image::ImageEncoder;

impl TestPlatform {
    /// `s` orders `quantity` of a product costing at most ¥50 at an open store and it is
    /// delivered, the delivery recorded at `delivered_at`: (order id, sku, unit price).
    async fn delivered(
        &self,
        s: &Shopper,
        quantity: u32,
        delivered_at: i64,
    ) -> (String, String, i64) {
        let store = self.open_store().await;
        let (sku, price): (String, i64) = sqlx::query_as(
            "SELECT sku, price_fen FROM store_products WHERE store_id = ? AND price_fen <= 2500
             ORDER BY sku LIMIT 1",
        )
        .bind(&store)
        .fetch_one(self.platform.pool())
        .await
        .expect("a product under ¥25");
        self.set_stock(&store, &sku, 50).await;
        let (status, order) = self
            .request(Method::POST, "/v1/orders")
            .by(s)
            .key(format!("as-{}-{delivered_at}", s.phone).as_str())
            .json(
                json!({ "store_id": store, "items": [{ "sku": sku, "quantity": quantity }],
                          "address_id": s.address_id, "slot": "asap" }),
            )
            .send()
            .await;
        assert_eq!(status, 201, "{order}");
        let id = order["id"].as_str().unwrap().to_owned();
        self.pay(s, &id).await;
        for step in 0..20 {
            jishi_platform::dispatch::tick(
                self.platform.writer(),
                self.platform.index(),
                0,
                delivered_at - 20 + step,
            )
            .await
            .expect("tick");
        }
        assert_eq!(self.order_status(s, &id).await, "delivered");
        (id, sku, price)
    }

    async fn after_sales(&self, s: &Shopper, id: &str, key: &str, form: Form) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}/v1/orders/{id}/after-sales", self.root))
            .bearer_auth(&s.token)
            .header("Idempotency-Key", key)
            .multipart(form)
            .send()
            .await
            .expect("sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn refunded(&self, s: &Shopper, id: &str) -> i64 {
        self.read_order(s, id).await["refunded_fen"]
            .as_i64()
            .unwrap()
    }
}

fn form(sku: &str, quantity: u32, photos: &[Vec<u8>]) -> Form {
    let mut form = Form::new()
        .text(
            "lines",
            json!([{ "sku": sku, "quantity": quantity }]).to_string(),
        )
        .text("reason", "damaged")
        .text("note", "袋子破了");
    for (i, photo) in photos.iter().enumerate() {
        form = form.part(
            "photo",
            Part::bytes(photo.clone()).file_name(format!("IMG_{i}.jpg")),
        );
    }
    form
}

#[tokio::test]
async fn a_small_request_with_a_photo_is_approved_refunded_once_and_its_photo_has_no_gps() {
    let t = spawn().await;
    let s = t.shopper(1, GUOMAO).await;
    let now = t.platform.now_unix();
    let (id, sku, price) = t.delivered(&s, 2, now).await;
    let photo = jpeg_with_gps();
    assert!(photo.windows(4).any(|w| w == b"Exif"));
    let (status, answer) = t
        .after_sales(&s, &id, "as-1", form(&sku, 1, std::slice::from_ref(&photo)))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["status"], "approved");
    assert_eq!(answer["refund_fen"], price);
    let photos = answer["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1);
    let url = photos[0].as_str().unwrap();
    assert!(
        url.starts_with("/v1/after-sales/photos/") && url.len() > 50,
        "{url}"
    );

    let res = t.request(Method::GET, url).by(&s).response().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let stored = res.bytes().await.unwrap();
    assert!(!stored.windows(4).any(|w| w == b"Exif"), "EXIF kept");
    assert!(
        !stored.windows(2).any(|w| w == [0xFF, 0xE1]),
        "an APP1 segment kept"
    );
    assert!(image::load_from_memory(&stored).is_ok());
    // Nobody else gets it.
    let other = t.shopper(2, GUOMAO).await;
    assert_eq!(
        t.request(Method::GET, url)
            .by(&other)
            .response()
            .await
            .status(),
        404
    );

    // The order shows the request and its refund.
    let (_, order) = t
        .call(
            Method::GET,
            &format!("/v1/orders/{id}"),
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(order["refunded_fen"], price);
    assert_eq!(order["refunds"][0]["reason"], "after_sales");
    assert_eq!(order["after_sales"][0]["id"], answer["id"]);
    // A replay is the same answer, and refunds nothing more.
    let (status, again) = t
        .after_sales(&s, &id, "as-1", form(&sku, 1, &[photo]))
        .await;
    assert_eq!((status, &again), (201, &answer));
    assert_eq!(t.refunded(&s, &id).await, price);
    // The same key for another request is refused.
    let (status, _) = t.after_sales(&s, &id, "as-1", form(&sku, 2, &[])).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn refusals_write_nothing() {
    let t = spawn().await;
    let s = t.shopper(3, GUOMAO).await;
    let now = t.platform.now_unix();
    let (id, sku, _) = t.delivered(&s, 1, now).await;
    let (late, late_sku, _) = t.delivered(&s, 1, now - 25 * 3600).await;
    let other = t.shopper(4, GUOMAO).await;
    let photo = jpeg_with_gps();
    let cases: Vec<(&str, &Shopper, &str, Form, u16)> = vec![
        (
            "too late",
            &s,
            &late,
            form(&late_sku, 1, std::slice::from_ref(&photo)),
            409,
        ),
        ("more than bought", &s, &id, form(&sku, 2, &[]), 400),
        ("someone else's order", &other, &id, form(&sku, 1, &[]), 404),
        (
            "four photos",
            &s,
            &id,
            form(&sku, 1, &vec![photo.clone(); 4]),
            400,
        ),
        (
            "a corrupt photo",
            &s,
            &id,
            form(&sku, 1, &[photo[..photo.len() / 3].to_vec()]),
            400,
        ),
        (
            "a disguised file",
            &s,
            &id,
            form(&sku, 1, &[b"#!/bin/sh\necho hi\n".to_vec()]),
            415,
        ),
        (
            "a decompression bomb",
            &s,
            &id,
            form(&sku, 1, &[png_bomb()]),
            413,
        ),
        (
            "over 5 MB",
            &s,
            &id,
            form(&sku, 1, &[vec![0xFF; 5 * 1024 * 1024 + 1]]),
            413,
        ),
    ];
    for (what, who, order, body, want) in cases {
        let (status, answer) = t
            .after_sales(
                who,
                order,
                &format!("refused-{}", what.replace(' ', "-")),
                body,
            )
            .await;
        assert_eq!(status, want, "{what}: {answer}");
        assert!(answer["error"]["message"].is_string(), "{what}: {answer}");
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM after_sales").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM after_sales_photos").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 0);
}

#[tokio::test]
async fn twenty_concurrent_requests_for_one_line_refund_it_at_most_once() {
    let t = spawn().await;
    let s = t.shopper(5, GUOMAO).await;
    let now = t.platform.now_unix();
    let (id, sku, price) = t.delivered(&s, 2, now).await;
    let photo = jpeg_with_gps();
    let results = join_all((0..20).map(|i| {
        let (t, s, id, sku, photo) = (&t, &s, &id, &sku, photo.clone());
        async move {
            t.after_sales(s, id, &format!("race-{i}"), form(sku, 2, &[photo]))
                .await
        }
    }))
    .await;
    let created = results.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(created, 1, "{results:?}");
    assert!(results
        .iter()
        .all(|(status, _)| *status == 201 || *status == 400));
    assert_eq!(t.refunded(&s, &id).await, 2 * price);
}

#[tokio::test]
async fn a_request_without_photo_waits_for_review_and_the_demo_route_decides_it() {
    let t = spawn().await;
    let s = t.shopper(6, GUOMAO).await;
    let now = t.platform.now_unix();
    let (id, sku, price) = t.delivered(&s, 1, now).await;
    // As a browser sends a form whose file input has no file chosen: one empty `photo` part.
    let (status, answer) = t
        .after_sales(&s, &id, "review", form(&sku, 1, &[Vec::new()]))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["status"], "reviewing");
    assert_eq!(answer["photos"], json!([]));
    assert_eq!(t.refunded(&s, &id).await, 0);
    let decide = |approve: bool| {
        t.request(
            Method::POST,
            &format!(
                "/v1/demo/after-sales/{}/decision",
                answer["id"].as_str().unwrap()
            ),
        )
        .by(&s)
        .json(json!({ "approve": approve }))
        .send()
    };
    // While it waits, the order's stream stays open past `delivered`: the request is on it.
    let mut stream = Sse::new(t.order_events(&s, &id, None).await);
    let deadline = Instant::now() + PATIENCE;
    let mut last = Value::Null;
    while let Some(frame) = stream.next(deadline).await {
        last = frame.json();
        if last["change"]["after_sales"][0]["status"] == "reviewing" {
            break;
        }
    }
    assert_eq!(last["status"], "delivered", "{last}");
    assert_eq!(
        last["change"]["after_sales"][0]["status"], "reviewing",
        "{last}"
    );
    assert!(stream.stays_quiet(Duration::from_millis(300)).await);

    let (status, decided) = decide(true).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], "approved");
    assert_eq!(decided["refund_fen"], price);
    assert_eq!(t.refunded(&s, &id).await, price);
    // The decision reaches the open stream, with the refund, and the stream ends after it.
    let rest = stream.read_to_end(Instant::now() + PATIENCE).await;
    let decision = rest.last().expect("the decision's event").json();
    assert_eq!(
        decision["change"]["after_sales"][0]["status"], "approved",
        "{decision}"
    );
    assert_eq!(decision["change"]["refunded_fen"], price);
    assert_eq!(decide(false).await.0, 409, "decided once");
}
