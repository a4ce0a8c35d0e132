//! Product pictures over loopback HTTP: every product of the demo carries one, on every answer that
//! shows a product, and the files are served like an image CDN's.

// Shared helpers: this file uses only some of them.
#[allow(dead_code)]
mod support;

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use serde_json::json;

use support::{TestPlatform, GUOMAO};

/// The file name at the end of an image URL.
fn file_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

#[tokio::test]
async fn every_listed_product_has_a_picture_whose_files_answer_immutable_with_an_etag_and_304() {
    let p = TestPlatform::spawn().await;
    let products = p.get("/v1/stores/bj00001/products?limit=200").await;
    let products = products["products"].as_array().unwrap();
    assert!(!products.is_empty());
    for product in products {
        let image = &product["image"];
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(256), Some(256)),
            "{product}"
        );
        let src = image["src"].as_str().unwrap();
        assert!(
            src.starts_with("/api/v1/images/") && src.ends_with("-192.webp"),
            "{src}"
        );
        let srcset = image["srcset"].as_str().unwrap();
        assert!(srcset.contains(&format!("{src} 192w")), "{srcset}");
    }

    let src = products[0]["image"]["src"].as_str().unwrap();
    let url = format!("{}/v1/images/{}", p.root, file_of(src));
    let first = p.http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()[CONTENT_TYPE], "image/webp");
    assert_eq!(
        first.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let etag = first.headers()[ETAG].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", &file_of(src)[..16]));
    let bytes = first.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (192, 192));

    let again = p
        .http
        .get(&url)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[ETAG], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());

    let other = p
        .http
        .get(&url)
        .header(IF_NONE_MATCH, "\"0000000000000000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);

    for unknown in ["0000000000000000-192.webp", "..%2F..%2Fetc%2Fpasswd", "x"] {
        let (status, body) = p
            .call(Method::GET, &format!("/v1/images/{unknown}"), None, None)
            .await;
        assert_eq!(status, 404, "{unknown}: {body}");
    }
}

#[tokio::test]
async fn search_hits_cart_lines_and_orders_read_back_carry_the_picture() {
    let p = TestPlatform::spawn().await;
    let hits = p
        .get(&format!(
            "/v1/products/search?q=%E7%89%9B%E5%A5%B6&lat={}&lng={}",
            GUOMAO.0, GUOMAO.1
        ))
        .await;
    assert!(
        hits["results"][0]["product"]["image"]["src"].is_string(),
        "{hits}"
    );

    let store = p.open_store().await;
    let sku = p.first_sku(&store).await;
    let products = p.get(&format!("/v1/stores/{store}/products")).await;
    let src = products["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["sku"] == sku.as_str())
        .map(|x| x["image"]["src"].clone())
        .unwrap();
    assert!(src.is_string());

    let shopper = p.shopper(1, GUOMAO).await;
    let (status, cart) = p
        .request(Method::PUT, &format!("/v1/cart/{store}"))
        .by(&shopper)
        .json(json!({"items": [{"sku": sku, "quantity": 1}]}))
        .send()
        .await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["items"][0]["image"]["src"], src);

    let (status, placed) = p
        .request(Method::POST, "/v1/orders")
        .by(&shopper)
        .key("pictures-1")
        .json(json!({
            "store_id": store, "items": [{"sku": sku, "quantity": 1}],
            "address_id": shopper.address_id, "slot": "asap",
        }))
        .send()
        .await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["items"][0]["image"]["src"], src);
    let id = placed["id"].as_str().unwrap();
    let (status, read) = p
        .request(Method::GET, &format!("/v1/orders/{id}"))
        .by(&shopper)
        .send()
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["items"][0]["image"]["src"], src);
}

#[tokio::test]
async fn a_demo_database_seeded_before_pictures_gets_them_when_it_opens() {
    let p = TestPlatform::spawn().await;
    sqlx::query("UPDATE products SET picture = NULL")
        .execute(p.platform.pool())
        .await
        .unwrap();
    let before = p.get("/v1/stores/bj00001/products?limit=1").await;
    assert!(before["products"][0]["image"].is_null(), "{before}");
    let p = p.restart(|_| {}).await;
    assert_eq!(
        p.count("SELECT COUNT(*) FROM products WHERE picture IS NULL")
            .await,
        0
    );
    let after = p.get("/v1/stores/bj00001/products?limit=1").await;
    assert!(after["products"][0]["image"]["src"].is_string(), "{after}");
}
