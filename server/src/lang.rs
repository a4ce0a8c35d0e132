//! The page's language, decided per request (see `jishi_app::lang`): `?lang=` from a link, else the
//! shopper's explicit choice kept in the `jishi_lang` cookie, else the browser's `Accept-Language`,
//! else zh-CN. A `?lang=` choice is kept in the cookie (a year), so the footer's and `/me`'s
//! switches are plain links that work without scripts, and later pages keep the language.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use jishi_app::lang::{from_accept_language, parse_tag, tag, Locale, LANG_COOKIE, LANG_QUERY};

use crate::client::ClientInfo;

/// What a request says about its language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chosen {
    pub locale: Locale,
    /// Set when the request chose with `?lang=`: the cookie to keep it.
    pub remember: Option<Locale>,
}

pub fn choose(query: Option<&str>, cookie: Option<&str>, accept_language: Option<&str>) -> Chosen {
    let asked = query.and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == LANG_QUERY)
            .and_then(|(_, v)| parse_tag(&v))
    });
    let locale = asked
        .or_else(|| cookie.and_then(parse_tag))
        .or_else(|| accept_language.and_then(from_accept_language))
        .unwrap_or_default();
    let remember = asked.filter(|a| cookie.and_then(parse_tag) != Some(*a));
    Chosen { locale, remember }
}

fn lang_cookie(headers: &HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(LANG_COOKIE)
        .map(|c| c.value().to_owned())
}

/// Puts the request's [`Locale`] into its extensions (read by the pages and the page cache), says
/// that responses differ by `Accept-Language`, and keeps a `?lang=` choice in a cookie.
pub async fn choose_language(mut request: Request, next: Next) -> Response {
    let chosen = choose(
        request.uri().query(),
        lang_cookie(request.headers()).as_deref(),
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let secure = request
        .extensions()
        .get::<ClientInfo>()
        .is_some_and(|c| c.secure);
    request.extensions_mut().insert(chosen.locale);
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Accept-Language"));
    if let Some(locale) = chosen.remember {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{}",
            tag(locale),
            if secure { "; Secure" } else { "" }
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_beats_the_cookie_which_beats_the_browser() {
        let en = Some("en-US,en;q=0.9");
        assert_eq!(choose(None, None, None).locale, Locale::zh_CN);
        assert_eq!(choose(None, None, en).locale, Locale::en);
        assert_eq!(choose(None, Some("zh-CN"), en).locale, Locale::zh_CN);
        assert_eq!(
            choose(Some("lang=en"), Some("zh-CN"), None).locale,
            Locale::en
        );
        assert_eq!(
            choose(Some("q=x&lang=zh-CN"), None, en).locale,
            Locale::zh_CN
        );
    }

    #[test]
    fn a_link_choice_is_remembered_once() {
        assert_eq!(
            choose(Some("lang=en"), None, None).remember,
            Some(Locale::en)
        );
        assert_eq!(choose(Some("lang=en"), Some("en"), None).remember, None);
        assert_eq!(
            choose(Some("lang=zh-CN"), Some("en"), None).remember,
            Some(Locale::zh_CN)
        );
        assert_eq!(choose(None, None, Some("en")).remember, None);
    }

    #[test]
    fn unknown_or_malformed_choices_fall_through() {
        assert_eq!(
            choose(Some("lang=fr"), Some("de"), Some("en")).locale,
            Locale::en
        );
        assert_eq!(
            choose(Some("lang=%ZZ"), Some("?"), None).locale,
            Locale::zh_CN
        );
        assert_eq!(choose(Some("lang=fr"), None, None).remember, None);
    }
}
