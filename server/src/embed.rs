//! Mini-program web-view mode (see `jishi_app::embed`): deciding it per request, and the sandbox's
//! stand-in for the host app's pay page.
//!
//! A request is embedded when its user agent says `miniProgram` (WeChat 7.0.0 on), when it asks
//! with `?embed=miniprogram`, or when it carries the cookie either of those set: the mode lasts for
//! the browser session, so every link followed inside the web-view keeps it. `?embed=off` ends it.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use jishi_api::money::format_yuan;
use jishi_api::orders::{Order, PayMethod, PayOrder};
use jishi_api::ApiError;
use jishi_app::embed::{Embedded, EMBED_COOKIE, EMBED_MINI_PROGRAM, EMBED_QUERY};
use jishi_app::i18n::td_string;
use jishi_app::lang::{api_error_message, Locale};
use jishi_app::platform_client::ShopperSession;
use serde::Deserialize;

use crate::client::ClientInfo;
use crate::plain_page::{escape, page};
use crate::AppState;

/// What a request says about the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    pub embedded: bool,
    /// Whether the answer should set (`Some(true)`) or clear (`Some(false)`) the cookie.
    pub cookie: Option<bool>,
}

pub fn detect(user_agent: Option<&str>, query: Option<&str>, has_cookie: bool) -> Detected {
    let asked = query.and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == EMBED_QUERY)
            .map(|(_, v)| v == EMBED_MINI_PROGRAM)
    });
    let by_agent = user_agent.is_some_and(|ua| ua.contains("miniProgram"));
    let embedded = asked.unwrap_or(by_agent || has_cookie);
    let cookie = match (embedded, has_cookie) {
        (true, false) => Some(true),
        (false, true) if asked == Some(false) => Some(false),
        _ => None,
    };
    Detected { embedded, cookie }
}

fn has_embed_cookie(headers: &HeaderMap) -> bool {
    CookieJar::from_headers(headers)
        .get(EMBED_COOKIE)
        .is_some_and(|c| c.value() == EMBED_MINI_PROGRAM)
}

/// Marks embedded requests (`Embedded` in the extensions, read by the pages and the page cache)
/// and keeps the mode in a session cookie.
pub async fn mark(mut request: Request, next: Next) -> Response {
    let detected = detect(
        request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        request.uri().query(),
        has_embed_cookie(request.headers()),
    );
    let secure = request
        .extensions()
        .get::<ClientInfo>()
        .is_some_and(|c| c.secure);
    if detected.embedded {
        request.extensions_mut().insert(Embedded);
    }
    let mut response = next.run(request).await;
    let cookie = match detected.cookie {
        // No Max-Age: it ends with the web-view's session.
        Some(true) => {
            format!("{EMBED_COOKIE}={EMBED_MINI_PROGRAM}; Path=/; HttpOnly; SameSite=Lax")
        }
        Some(false) => format!("{EMBED_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        None => return response,
    };
    let cookie = if secure { cookie + "; Secure" } else { cookie };
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct PayQuery {
    pub order: String,
}

/// `GET /sandbox/mini-program/pay?order=…`: what the host app's pay page (`/pages/pay/pay`) does
/// in production, for the embedded platform's sandbox: shows the order's total and pays it when
/// confirmed. A browser test opens it where the host would.
pub async fn sandbox_pay_page(
    State(state): State<AppState>,
    session: Option<axum::Extension<ShopperSession>>,
    locale: Option<axum::Extension<Locale>>,
    Query(q): Query<PayQuery>,
) -> Response {
    let l = locale.map(|axum::Extension(l)| l).unwrap_or_default();
    let Some(axum::Extension(ShopperSession(token))) = session else {
        return signed_out(l);
    };
    let path = jishi_api::routes::ORDER.path(&[&q.order]);
    match state.platform.get_as::<Order>(&path, &token).await {
        Ok(order) => {
            let id = escape(&order.id);
            let form = format!(
                "<p>{heading}</p><p class=\"total\">{due} <strong data-testid=\"host-total\">{total}</strong></p>\
                 <form method=\"post\" action=\"/sandbox/mini-program/pay\">\
                 <input type=\"hidden\" name=\"order\" value=\"{id}\">\
                 <button type=\"submit\" data-testid=\"host-pay-confirm\">{confirm}</button></form>",
                heading = td_string!(l, pages.sandbox_order, id = &id),
                due = td_string!(l, pages.sandbox_due),
                total = format_yuan(order.total_fen),
                confirm = td_string!(l, pages.sandbox_confirm),
            );
            sandbox_page(StatusCode::OK, l, td_string!(l, pages.sandbox_title), &form)
        }
        Err(e) => error(&e, l),
    }
}

/// `POST /sandbox/mini-program/pay`: pays the order in the sandbox, as the host would after the
/// shopper confirmed, and says so (the host then navigates back to the web-view).
pub async fn sandbox_pay(
    State(state): State<AppState>,
    session: Option<axum::Extension<ShopperSession>>,
    locale: Option<axum::Extension<Locale>>,
    Form(q): Form<PayQuery>,
) -> Response {
    let l = locale.map(|axum::Extension(l)| l).unwrap_or_default();
    let Some(axum::Extension(ShopperSession(token))) = session else {
        return signed_out(l);
    };
    let path = jishi_api::routes::PAY_ORDER.path(&[&q.order]);
    let body = PayOrder {
        method: PayMethod::Sandbox,
    };
    match state
        .platform
        .send_json_as::<Order>(reqwest::Method::POST, &path, &body, &token)
        .await
    {
        Ok(order) => sandbox_page(
            StatusCode::OK,
            l,
            td_string!(l, pages.sandbox_paid_title),
            &format!(
                "<p data-testid=\"host-paid\" data-order-id=\"{}\">{}</p>",
                escape(&order.id),
                td_string!(l, pages.sandbox_paid),
            ),
        ),
        Err(e) => error(&e, l),
    }
}

/// Both sandbox pages need the shopper the web-view signed in.
fn signed_out(l: Locale) -> Response {
    sandbox_page(
        StatusCode::UNAUTHORIZED,
        l,
        td_string!(l, pages.sandbox_sign_in_first),
        "",
    )
}

fn error(e: &ApiError, l: Locale) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
    sandbox_page(
        status,
        l,
        td_string!(l, pages.sandbox_failed),
        &format!(
            "<p data-testid=\"host-error\">{}</p>",
            escape(&api_error_message(e, l))
        ),
    )
}

/// A sandbox page: it takes a payment on a click, so no other page may frame it (clickjacking),
/// not even one of ours, and it runs no script and posts only here.
fn sandbox_page(status: StatusCode, l: Locale, heading: &str, body: &str) -> Response {
    let title = format!("{heading} · {}", td_string!(l, pages.sandbox_suffix));
    let mut response = page(status, l, &title, heading, body);
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(
            "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        axum::http::header::X_FRAME_OPTIONS,
        axum::http::HeaderValue::from_static("DENY"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const WECHAT_MINI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 \
        (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x18002831) NetType/WIFI Language/zh_CN miniProgram/wx1234";
    const WECHAT_BROWSER: &str =
        "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 (KHTML, like Gecko) \
        Chrome/116.0 Mobile Safari/537.36 MicroMessenger/8.0.40.2420(0x28002837) WeChat/arm64";

    #[test]
    fn the_mini_program_user_agent_or_the_query_turns_it_on_and_sets_the_cookie() {
        let on = Detected {
            embedded: true,
            cookie: Some(true),
        };
        assert_eq!(detect(Some(WECHAT_MINI), None, false), on);
        assert_eq!(detect(None, Some("embed=miniprogram&lat=1"), false), on);
        assert_eq!(
            detect(Some(WECHAT_BROWSER), Some("lat=1&embed=miniprogram"), false),
            on
        );
    }

    #[test]
    fn the_cookie_keeps_it_and_off_ends_it() {
        let kept = Detected {
            embedded: true,
            cookie: None,
        };
        assert_eq!(detect(None, Some("lat=1"), true), kept);
        assert_eq!(detect(Some(WECHAT_MINI), None, true), kept);
        assert_eq!(
            detect(None, Some("embed=off"), true),
            Detected {
                embedded: false,
                cookie: Some(false)
            }
        );
    }

    #[test]
    fn wechat_s_own_browser_and_other_browsers_are_not_embedded() {
        let off = Detected {
            embedded: false,
            cookie: None,
        };
        assert_eq!(detect(Some(WECHAT_BROWSER), None, false), off);
        assert_eq!(
            detect(Some("Mozilla/5.0 Chrome/120"), Some("q=embed"), false),
            off
        );
        assert_eq!(detect(None, Some("embed=yes-please"), false), off);
    }

    #[test]
    fn only_our_cookie_with_our_value_counts() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; jishi_embed=miniprogram"),
        );
        assert!(has_embed_cookie(&h));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("jishi_embedx=miniprogram; jishi_embed=1"),
        );
        assert!(!has_embed_cookie(&h));
    }
}
