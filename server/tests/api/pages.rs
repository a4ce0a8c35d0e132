use crate::helpers::{spawn_app, GUOMAO};

#[tokio::test]
async fn the_home_page_is_server_rendered_with_store_cards_for_the_point() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/?lat={}&lng={}", app.server, GUOMAO.0, GUOMAO.1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the CSP")
        .to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"zh-CN\""));
    // Every inline script carries this response's nonce; nothing inline runs without it.
    let inline_scripts = html.matches("<script").count() - html.matches("<script src=").count();
    assert!(inline_scripts >= 1);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        inline_scripts,
        "{html}"
    );
    assert!(html.matches("data-testid=\"store-card\"").count() >= 10);
    assert!(html.contains("data-testid=\"store-map\""));
    assert_eq!(html.matches("<h1").count(), 1);
    assert!(html.contains("国贸"));
}

#[tokio::test]
async fn an_unknown_store_page_is_a_real_404() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/store/missing-store", app.server))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let html = res.text().await.unwrap();
    assert!(html.contains("找不到这家门店"));
}

#[tokio::test]
async fn a_store_page_lists_products_with_prices() {
    let app = spawn_app().await;
    let (_, list) = app
        .get_json(&app.api(&format!("/stores/nearby?lat={}&lng={}", GUOMAO.0, GUOMAO.1)))
        .await;
    let id = list["stores"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .http
        .get(format!(
            "{}/store/{id}?lat={}&lng={}",
            app.server, GUOMAO.0, GUOMAO.1
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap();
    assert!(html.matches("data-testid=\"product-card\"").count() >= 5);
    assert!(html.contains("¥"));
    assert!(html.contains("data-testid=\"aisle-link\""));
}

#[tokio::test]
async fn bad_coordinates_in_the_page_url_show_a_message_not_a_crash() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/?lat=91&lng=abc", app.server))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("data-testid=\"error-notice\""));
}
