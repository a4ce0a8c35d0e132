use std::collections::HashSet;

use crate::support::{spawn_app, GUOMAO};

fn nearby(lat: f64, lng: f64, extra: &str) -> String {
    format!("/stores/nearby?lat={lat}&lng={lng}{extra}")
}

#[tokio::test]
async fn nearby_lists_only_delivering_stores_sorted_by_eta() {
    let app = spawn_app().await;
    let (status, body) = app
        .get_json(&app.api(&nearby(GUOMAO.0, GUOMAO.1, "&limit=100")))
        .await;
    assert_eq!(status, 200);
    let stores = body["stores"].as_array().expect("stores array");
    assert!(stores.len() >= 15, "only {} stores", stores.len());
    let etas: Vec<u64> = stores
        .iter()
        .map(|s| s["eta_min"].as_u64().unwrap())
        .collect();
    assert!(etas.windows(2).all(|w| w[0] <= w[1]), "{etas:?}");
    for s in stores {
        assert_eq!(s["delivers"], true);
        assert!(s["distance_m"].as_u64().unwrap() <= 6_000);
        for key in [
            "id",
            "name",
            "category",
            "lat",
            "lng",
            "open_now",
            "delivery_fee_fen",
            "min_order_fen",
            "rating",
        ] {
            assert!(!s[key].is_null(), "missing {key} in {s}");
        }
    }
}

#[tokio::test]
async fn the_proxy_answers_exactly_what_the_platform_answers() {
    let app = spawn_app().await;
    let path = nearby(GUOMAO.0, GUOMAO.1, "&sort=distance&category=supermarket");
    let direct = app.get_json(&app.platform_v1(&path)).await;
    let proxied = app.get_json(&app.api(&path)).await;
    assert_eq!(direct, proxied);
    let stores = direct.1["stores"].as_array().unwrap();
    assert!(!stores.is_empty());
    assert!(stores.iter().all(|s| s["category"] == "supermarket"));
}

#[tokio::test]
async fn cursor_pages_cover_the_whole_list_once() {
    let app = spawn_app().await;
    let (_, all) = app
        .get_json(&app.api(&nearby(GUOMAO.0, GUOMAO.1, "&limit=100")))
        .await;
    let all: Vec<String> = all["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let extra = match &cursor {
            Some(c) => format!("&limit=7&cursor={c}"),
            None => "&limit=7".to_owned(),
        };
        let (status, page) = app
            .get_json(&app.api(&nearby(GUOMAO.0, GUOMAO.1, &extra)))
            .await;
        assert_eq!(status, 200);
        seen.extend(
            page["stores"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, all);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
}

#[tokio::test]
async fn open_now_only_returns_open_stores() {
    let app = spawn_app().await;
    let (_, everything) = app
        .get_json(&app.api(&nearby(GUOMAO.0, GUOMAO.1, "&limit=100")))
        .await;
    let (_, open) = app
        .get_json(&app.api(&nearby(GUOMAO.0, GUOMAO.1, "&limit=100&open_now=true")))
        .await;
    let open = open["stores"].as_array().unwrap();
    assert!(open.iter().all(|s| s["open_now"] == true));
    let expected = everything["stores"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["open_now"] == true)
        .count();
    assert_eq!(open.len(), expected);
}

#[tokio::test]
async fn a_store_page_and_its_products_are_served() {
    let app = spawn_app().await;
    let (_, list) = app
        .get_json(&app.api(&nearby(GUOMAO.0, GUOMAO.1, "")))
        .await;
    let id = list["stores"][0]["id"].as_str().unwrap().to_owned();
    let (status, detail) = app
        .get_json(&app.api(&format!("/stores/{id}?lat={}&lng={}", GUOMAO.0, GUOMAO.1)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["store"]["id"], id.as_str());
    assert_eq!(detail["quote"]["delivers"], true);
    assert!(!detail["aisles"].as_array().unwrap().is_empty());
    let (status, products) = app
        .get_json(&app.api(&format!("/stores/{id}/products?limit=5")))
        .await;
    assert_eq!(status, 200);
    let products = products["products"].as_array().unwrap();
    assert_eq!(products.len(), 5);
    assert!(products
        .iter()
        .all(|p| p["price_fen"].as_i64().unwrap() > 0));
}

#[tokio::test]
async fn product_search_finds_in_stock_items_fastest_first() {
    let app = spawn_app().await;
    let (status, body) = app
        .get_json(&app.api(&format!(
            "/products/search?q=%E7%89%9B%E5%A5%B6&lat={}&lng={}",
            GUOMAO.0, GUOMAO.1
        )))
        .await;
    assert_eq!(status, 200);
    let results = body["results"].as_array().unwrap();
    assert!(results.len() >= 3);
    for r in results {
        assert!(r["product"]["name"].as_str().unwrap().contains("牛奶"));
        assert!(r["product"]["stock"].as_u64().unwrap() > 0);
        assert_eq!(r["store"]["delivers"], true);
    }
}
