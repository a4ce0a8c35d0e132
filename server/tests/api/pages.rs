use jishi_api::catalog::ProductsResponse;
use jishi_api::money::format_yuan;

use crate::support::{spawn_app, spawn_platform, spawn_server, TestApp, GUOMAO};

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
async fn late_at_night_the_home_page_lists_open_stores_first_and_closed_ones_take_scheduled_orders()
{
    let (_platform, url) = spawn_platform(|c| {
        c.clock = jishi_platform::Clock::fixed_from_rfc3339("2026-11-25T23:30:00+08:00")
            .expect("a valid instant");
    })
    .await;
    let app = TestApp::of(&url, spawn_server(&url).await);
    for sort in ["eta", "distance"] {
        let page = format!(
            "{}/?lat={}&lng={}&sort={sort}",
            app.server, GUOMAO.0, GUOMAO.1
        );
        let html = app
            .http
            .get(&page)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // Each card's opening tag and what follows it, up to the next card.
        let cards: Vec<&str> = html.split(r#"data-testid="store-card""#).skip(1).collect();
        let open: Vec<bool> = cards
            .iter()
            .map(|card| {
                let tag_end = card.find('>').unwrap_or(card.len());
                card[..tag_end].contains(r#"data-open="true""#)
            })
            .collect();
        assert!(open.len() >= 10, "{sort}: {html}");
        let first_closed = open
            .iter()
            .position(|o| !o)
            .expect("a closed store near 国贸 at 23:30");
        assert!(first_closed > 0, "{sort}: an open store comes first");
        assert!(
            open[first_closed..].iter().all(|o| !o),
            "{sort}: every open store before every closed one: {open:?}"
        );
        for card in &cards[first_closed..] {
            assert!(card.contains(r#"data-testid="badge-scheduled""#), "{card}");
        }
        for card in &cards[..first_closed] {
            assert!(!card.contains(r#"data-testid="badge-scheduled""#), "{card}");
        }
    }
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
    assert!(html.contains("data-testid=\"aisle-link\""));
    // Each product the platform lists first has its card, with its name and its own price as
    // the page formats it (the cart bar's "¥0" would not do).
    let (status, products) = app
        .get_json(&app.platform_v1(&format!("/stores/{id}/products")))
        .await;
    assert_eq!(status, 200);
    let products: ProductsResponse = serde_json::from_value(products).unwrap();
    assert!(products.products.len() >= 5);
    for p in &products.products {
        let card = product_card(&html, &p.sku).unwrap_or_else(|| panic!("no card for {}", p.sku));
        assert!(
            card.contains(&format!("data-price-fen=\"{}\"", p.price_fen)),
            "{card}"
        );
        let price = format!(">{}</span>", format_yuan(p.price_fen));
        assert!(card.contains(&price), "{price} in {card}");
        assert!(card.contains(&p.name), "{card}");
    }
}

/// The markup of the product card for `sku`, up to its end.
fn product_card<'a>(html: &'a str, sku: &str) -> Option<&'a str> {
    let start = html.find(&format!("data-sku=\"{sku}\""))?;
    let len = html[start..].find("</li>")?;
    Some(&html[start..start + len])
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

/// The page's language: the browser's `Accept-Language`, then the shopper's choice (cookie), and a
/// link's `?lang=`, which the answer keeps in the cookie. `<html lang>` says which.
#[tokio::test]
async fn the_language_follows_the_browser_then_the_choice_then_the_link() {
    let app = spawn_app().await;
    let page = |accept: Option<&'static str>, cookie: Option<&'static str>, query: &'static str| {
        let mut req = app.http.get(format!("{}/{query}", app.server));
        if let Some(a) = accept {
            req = req.header("accept-language", a);
        }
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        async move {
            let res = req.send().await.expect("an answer");
            let set_cookie = res
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with("jishi_lang="))
                .map(str::to_owned);
            let vary = res
                .headers()
                .get_all("vary")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.to_ascii_lowercase().contains("accept-language"));
            (set_cookie, vary, res.text().await.expect("a body"))
        }
    };
    let (_, vary, zh) = page(None, None, "").await;
    assert!(vary, "responses differ by Accept-Language");
    assert!(
        zh.contains(r#"<html lang="zh-CN""#) && zh.contains("选择位置"),
        "{zh}"
    );

    let (set, _, en) = page(Some("en-GB,en;q=0.9,zh;q=0.5"), None, "").await;
    assert!(
        en.contains(r#"<html lang="en""#) && en.contains("Choose a location"),
        "{en}"
    );
    assert_eq!(
        set, None,
        "the browser's preference is not a choice to keep"
    );

    let (_, _, chosen) = page(Some("en-GB"), Some("jishi_lang=zh-CN"), "").await;
    assert!(chosen.contains(r#"<html lang="zh-CN""#));

    let (set, _, linked) = page(Some("zh-CN"), None, "?lang=en").await;
    assert!(linked.contains(r#"<html lang="en""#));
    let set = set.expect("?lang= is kept in a cookie");
    assert!(
        set.starts_with("jishi_lang=en;") && set.contains("Max-Age="),
        "{set}"
    );
    // The footer offers the other language, as a link to this page.
    assert!(linked.contains(r#"data-testid="lang-switch""#) && linked.contains("lang=zh-CN"));
}
