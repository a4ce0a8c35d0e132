//! The shopper's session cookie. The platform issues session tokens; the server keeps the token
//! in an `HttpOnly` cookie (so page scripts never see it) and forwards it as a bearer token.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};

use jishi_api::auth::{session_token_from_cookies, SESSION_COOKIE_PLAIN, SESSION_COOKIE_SECURE};

const MAX_AGE_S: u32 = 30 * 24 * 3600;

/// Whether this request reached us over TLS (directly or via a proxy that says so).
pub fn is_secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_SECURE
    } else {
        SESSION_COOKIE_PLAIN
    }
}

/// The session token from the request's cookies, if any and well-formed.
pub fn token(headers: &HeaderMap) -> Option<String> {
    session_token_from_cookies(
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// `Set-Cookie` for a session token: HttpOnly, SameSite=Lax, Secure over TLS.
pub fn set(token: &str, secure: bool) -> Option<HeaderValue> {
    let secure_attr = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={token}; Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Lax{secure_attr}",
        name(secure)
    ))
    .ok()
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear(secure: bool) -> Option<HeaderValue> {
    let secure_attr = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure_attr}",
        name(secure)
    ))
    .ok()
}

pub fn append(headers: &mut HeaderMap, value: Option<HeaderValue>) {
    if let Some(v) = value {
        headers.append(SET_COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_either_cookie_name_and_must_be_alphanumeric() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; jishi_session=abc123; b=2"),
        );
        assert_eq!(token(&h).as_deref(), Some("abc123"));
        h.insert(COOKIE, HeaderValue::from_static("__Host-jishi_session=def"));
        assert_eq!(token(&h).as_deref(), Some("def"));
        h.insert(COOKIE, HeaderValue::from_static("jishi_session=a%20b"));
        assert_eq!(token(&h), None);
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
        assert!(tls.starts_with("__Host-jishi_session=t0k;") && tls.contains("; Secure"));
        assert!(tls.contains("Path=/") && !tls.contains("Domain"));
    }
}
