//! The micro-cache of anonymous shoppers' pages (`server/src/page_cache.rs`).

use std::time::Duration;

use jishi_server::{Limits, Shutdown};

use crate::support::{
    spawn_platform_with_step, spawn_server_with, store_and_sku, Browser, TestApp, GUOMAO,
};

async fn app_with_page_cache(ttl: Duration) -> TestApp {
    let platform = spawn_platform_with_step(jishi_platform::DEMO_DISPATCH_STEP).await;
    let limits = Limits {
        page_cache_ttl: ttl,
        ..Limits::default()
    };
    let server = spawn_server_with(&platform, limits, Vec::new(), Shutdown::default()).await;
    TestApp::of(&platform, server)
}

struct Page {
    cache: String,
    status: u16,
    nonce: Option<String>,
    html: String,
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Page {
    let mut req = app.http.get(format!("{}{path}", app.server));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.expect("an answer");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
    };
    let cache = header("x-jishi-cache").unwrap_or_default();
    let nonce = header("content-security-policy").and_then(|csp| {
        csp.split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .map(str::to_owned)
    });
    Page {
        cache,
        status: res.status().as_u16(),
        nonce,
        html: res.text().await.expect("a body"),
    }
}

fn home() -> String {
    format!("/?lat={}&lng={}", GUOMAO.0, GUOMAO.1)
}

#[tokio::test]
async fn an_anonymous_page_is_rendered_once_and_every_copy_gets_its_own_nonce() {
    let app = app_with_page_cache(Duration::from_secs(60)).await;
    let first = get(&app, &home(), None).await;
    let second = get(&app, &home(), None).await;
    let third = get(&app, &home(), None).await;
    assert_eq!(
        (
            first.cache.as_str(),
            second.cache.as_str(),
            third.cache.as_str()
        ),
        ("miss", "hit", "hit")
    );
    let nonces: Vec<String> = [&first, &second, &third]
        .iter()
        .map(|p| p.nonce.clone().expect("a nonce in the CSP"))
        .collect();
    assert_ne!(nonces[0], nonces[1]);
    assert_ne!(nonces[1], nonces[2]);
    for (page, nonce) in [&first, &second, &third].iter().zip(&nonces) {
        assert_eq!(page.status, 200);
        // The inline scripts carry this response's nonce, and no other's.
        assert!(page.html.contains(&format!("nonce=\"{nonce}\"")));
        for other in nonces.iter().filter(|n| *n != nonce) {
            assert!(!page.html.contains(other.as_str()));
        }
        assert!(page.html.matches("data-testid=\"store-card\"").count() >= 10);
    }
    // Apart from the nonce, a copy is the page as rendered.
    assert_eq!(
        first.html.replace(&nonces[0], "N"),
        second.html.replace(&nonces[1], "N")
    );
}

#[tokio::test]
async fn concurrent_first_requests_for_a_page_share_one_render() {
    let app = app_with_page_cache(Duration::from_secs(60)).await;
    let url = format!(
        "/search?q=%E7%89%9B%E5%A5%B6&lat={}&lng={}",
        GUOMAO.0, GUOMAO.1
    );
    let pages = futures::future::join_all((0..16).map(|_| get(&app, &url, None))).await;
    let misses = pages.iter().filter(|p| p.cache == "miss").count();
    let hits = pages.iter().filter(|p| p.cache == "hit").count();
    assert_eq!((misses, hits), (1, 15));
    assert!(pages.iter().all(|p| p.status == 200));
}

#[tokio::test]
async fn a_stale_page_is_rendered_again_by_one_request_while_the_others_get_the_old_copy() {
    let app = app_with_page_cache(Duration::from_millis(200)).await;
    assert_eq!(get(&app, &home(), None).await.cache, "miss");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = home();
    let pages = futures::future::join_all((0..8).map(|_| get(&app, &url, None))).await;
    let misses = pages.iter().filter(|p| p.cache == "miss").count();
    assert_eq!(misses, 1, "one request renders it again");
    assert!(pages
        .iter()
        .all(|p| ["miss", "stale", "hit"].contains(&p.cache.as_str())));
    assert_eq!(get(&app, &home(), None).await.cache, "hit");
}

#[tokio::test]
async fn shoppers_with_a_session_and_their_own_pages_are_never_served_from_the_cache() {
    let app = app_with_page_cache(Duration::from_secs(60)).await;
    let (store, sku) = store_and_sku(&app).await;
    let store_page = format!("/store/{store}?lat={}&lng={}", GUOMAO.0, GUOMAO.1);
    assert_eq!(get(&app, &store_page, None).await.cache, "miss");
    assert_eq!(get(&app, &store_page, None).await.cache, "hit");

    // Once the shopper has a cart, their store page shows it: rendered for them every time.
    let mut browser = Browser::new(&app);
    let (status, _) = browser.put_cart(&store, &sku, 2).await;
    assert_eq!(status, 200);
    let cookie = browser.cookie.clone().expect("a session");
    let theirs = get(&app, &store_page, Some(&cookie)).await;
    assert_eq!(theirs.cache, "bypass");
    assert!(
        theirs
            .html
            .contains("data-testid=\"cart-count\" class=\"count\">2<"),
        "the cart bar shows their 2 items"
    );
    for path in ["/cart", "/me", "/login"] {
        assert_eq!(get(&app, path, None).await.cache, "bypass", "{path}");
    }
}

#[tokio::test]
async fn errors_are_not_kept_and_a_zero_ttl_turns_the_cache_off() {
    let app = app_with_page_cache(Duration::from_secs(60)).await;
    let missing = get(&app, "/store/no-such-store", None).await;
    assert_eq!((missing.status, missing.cache.as_str()), (404, "miss"));
    let again = get(&app, "/store/no-such-store", None).await;
    assert_eq!((again.status, again.cache.as_str()), (404, "bypass"));

    let off = app_with_page_cache(Duration::ZERO).await;
    for _ in 0..2 {
        assert_eq!(get(&off, &home(), None).await.cache, "bypass");
    }
}

/// A mini-program's page of a URL (no header, the host's bridge) and a browser's page of the same
/// URL are kept apart: neither is ever sent to the other.
#[tokio::test]
async fn embed_pages_and_browser_pages_of_one_url_are_cached_apart() {
    let app = app_with_page_cache(Duration::from_secs(60)).await;
    let browser = get(&app, &home(), None).await;
    assert!(browser.html.contains("site-header"), "{}", browser.html);
    // The embed cookie marks the mode (as the first embedded answer set it).
    let embedded = get(&app, &home(), Some("jishi_embed=miniprogram")).await;
    let embedded_again = get(&app, &home(), Some("jishi_embed=miniprogram")).await;
    for page in [&embedded, &embedded_again] {
        assert!(!page.html.contains("site-header"), "{}", page.html);
        assert!(page.html.contains(r#"data-embed="miniprogram""#));
        assert!(page.html.contains(jishi_app::assets::WX_BRIDGE_JS));
    }
    assert_eq!(
        (embedded.cache.as_str(), embedded_again.cache.as_str()),
        ("miss", "hit")
    );
    let browser_again = get(&app, &home(), None).await;
    assert_eq!(browser_again.cache, "hit");
    assert!(browser_again.html.contains("site-header"));
    assert!(!browser_again.html.contains("/wx/"));
}

/// Each language's page of a URL is cached apart: a shopper whose browser asks for English never
/// gets the Chinese page another shopper's visit stored, and the other way round.
#[tokio::test]
async fn each_languages_page_of_one_url_is_cached_apart() {
    let app = app_with_page_cache(Duration::from_secs(60)).await;
    let zh = get(&app, &home(), None).await;
    assert!(zh.html.contains(r#"<html lang="zh-CN""#), "{}", zh.html);
    let en = get(&app, &home(), Some("jishi_lang=en")).await;
    let en_again = get(&app, &home(), Some("jishi_lang=en")).await;
    for page in [&en, &en_again] {
        assert!(page.html.contains(r#"<html lang="en""#), "{}", page.html);
        assert!(!page.html.contains("附近门店，约一小时送达"));
    }
    assert_eq!(
        (en.cache.as_str(), en_again.cache.as_str()),
        ("miss", "hit")
    );
    let zh_again = get(&app, &home(), None).await;
    assert_eq!(zh_again.cache, "hit");
    assert!(zh_again.html.contains(r#"<html lang="zh-CN""#));
}
