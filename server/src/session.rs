//! The shopper's session cookie. The platform issues session tokens; the server keeps the token
//! in an `HttpOnly` cookie (so page scripts never see it) and forwards it as a bearer token.
//! Cookies are HTTP, so they live here and not in `api`.

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

/// Over TLS: `__Host-` binds the cookie to this exact origin (browsers accept it only with
/// `Secure`, `Path=/` and no `Domain`).
pub const COOKIE_SECURE: &str = "__Host-jishi_session";
/// Plain-HTTP development, where `__Host-` cookies cannot be set.
pub const COOKIE_PLAIN: &str = "jishi_session";

const MAX_AGE_S: i64 = 30 * 24 * 3600;
const MAX_TOKEN_LEN: usize = 128;

fn name(secure: bool) -> &'static str {
    if secure {
        COOKIE_SECURE
    } else {
        COOKIE_PLAIN
    }
}

/// The session token from the request's cookies, if present and well-formed. Over TLS only the
/// `__Host-` cookie counts: a plain-named one could have been planted by a sibling subdomain or
/// over plain HTTP.
pub fn token(headers: &HeaderMap, secure: bool) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    let value = jar.get(name(secure))?.value();
    let well_formed = !value.is_empty()
        && value.len() <= MAX_TOKEN_LEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric());
    well_formed.then(|| value.to_owned())
}

fn cookie(value: String, secure: bool, max_age_s: i64) -> Cookie<'static> {
    Cookie::build((name(secure), value))
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age_s))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// `Set-Cookie` for a session token: HttpOnly, SameSite=Lax, Secure over TLS.
pub fn set(token: &str, secure: bool) -> Option<HeaderValue> {
    HeaderValue::from_str(
        &cookie(token.to_owned(), secure, MAX_AGE_S)
            .encoded()
            .to_string(),
    )
    .ok()
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear(secure: bool) -> Option<HeaderValue> {
    HeaderValue::from_str(&cookie(String::new(), secure, 0).encoded().to_string()).ok()
}

pub fn append(headers: &mut HeaderMap, value: Option<HeaderValue>) {
    if let Some(v) = value {
        headers.append(SET_COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE;

    #[test]
    fn the_token_must_be_alphanumeric_and_over_tls_only_the_host_cookie_counts() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; jishi_session=abc123; b=2"),
        );
        assert_eq!(token(&h, false).as_deref(), Some("abc123"));
        assert_eq!(
            token(&h, true),
            None,
            "a plain cookie does not count over TLS"
        );
        h.insert(COOKIE, HeaderValue::from_static("__Host-jishi_session=def"));
        assert_eq!(token(&h, true).as_deref(), Some("def"));
        assert_eq!(token(&h, false), None);
        h.insert(COOKIE, HeaderValue::from_static("jishi_session=a%20b"));
        assert_eq!(token(&h, false), None);
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_over_tls() {
        let plain = set("t0k", false).unwrap();
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with("jishi_session=t0k;"));
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        let tls = set("t0k", true).unwrap();
        let tls = tls.to_str().unwrap();
        assert!(tls.starts_with("__Host-jishi_session=t0k;") && tls.contains("Secure"));
        assert!(tls.contains("Path=/") && !tls.contains("Domain"));
        let gone = clear(false).unwrap();
        assert!(gone.to_str().unwrap().contains("Max-Age=0"));
    }
}
