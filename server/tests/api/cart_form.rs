//! The steppers' no-script form: `POST /forms/cart` (`server/src/cart_form.rs`).

use crate::support::{lat_lng, spawn_app, store_and_sku, TestApp, GUOMAO};

async fn post_form(
    app: &TestApp,
    form: &[(&str, &str)],
    cookie: Option<&str>,
    site: &str,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut req = client
        .post(format!("{}/forms/cart", app.server))
        .header("sec-fetch-site", site)
        .form(form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("an answer")
}

async fn quantity_in_cart(app: &TestApp, store: &str, sku: &str, cookie: &str) -> Option<u64> {
    let cart: serde_json::Value = app
        .http
        .get(app.api(&format!("/cart/{store}")))
        .header("cookie", cookie)
        .send()
        .await
        .expect("cart")
        .json()
        .await
        .expect("json");
    cart["items"]
        .as_array()?
        .iter()
        .find(|l| l["sku"] == sku)
        .and_then(|l| l["quantity"].as_u64())
}

#[tokio::test]
async fn a_form_post_sets_one_quantity_creates_the_session_and_goes_back() {
    let app = spawn_app().await;
    let (store, sku) = store_and_sku(&app).await;
    let back = format!(
        "/store/{store}?{}&category=%E9%A5%AE%E6%96%99",
        lat_lng(GUOMAO)
    );
    let res = post_form(
        &app,
        &[
            ("store", &store),
            ("sku", &sku),
            ("quantity", "2"),
            ("back", &back),
        ],
        None,
        "same-origin",
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()["location"].to_str().unwrap(), back);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert_eq!(quantity_in_cart(&app, &store, &sku, &cookie).await, Some(2));

    // The same session from now on; zero takes the product out.
    let res = post_form(
        &app,
        &[
            ("store", &store),
            ("sku", &sku),
            ("quantity", "0"),
            ("back", &back),
        ],
        Some(&cookie),
        "same-origin",
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(quantity_in_cart(&app, &store, &sku, &cookie).await, None);
}

#[tokio::test]
async fn the_way_back_stays_on_the_site_and_bad_or_cross_site_posts_are_refused() {
    let app = spawn_app().await;
    let (store, sku) = store_and_sku(&app).await;
    let res = post_form(
        &app,
        &[
            ("store", &store),
            ("sku", &sku),
            ("quantity", "1"),
            ("back", "//evil.test/x"),
        ],
        None,
        "same-origin",
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with('/') && !location.starts_with("//"),
        "{location}"
    );

    let cross = post_form(
        &app,
        &[("store", &store), ("sku", &sku), ("quantity", "1")],
        None,
        "cross-site",
    )
    .await;
    assert_eq!(cross.status().as_u16(), 403);
    assert!(cross.headers().get("set-cookie").is_none());

    let missing = post_form(
        &app,
        &[("store", &store), ("quantity", "1")],
        None,
        "same-origin",
    )
    .await;
    assert_eq!(missing.status().as_u16(), 400);
    assert!(missing.text().await.unwrap().contains("购物车没有更新"));

    let unknown = post_form(
        &app,
        &[
            ("store", &store),
            ("sku", "NO-SUCH-SKU"),
            ("quantity", "1"),
            ("back", "/cart"),
        ],
        None,
        "same-origin",
    )
    .await;
    assert!(unknown.status().is_client_error(), "{}", unknown.status());
    assert!(unknown.text().await.unwrap().contains("href=\"/cart\""));
}
