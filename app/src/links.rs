//! Building the app's own URLs. Location and filters live in the query string so every page is
//! shareable and server-rendered for its point.

use jishi_api::LatLng;

/// Percent-encodes a query value (UTF-8; everything but RFC 3986 unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `path?k=v&…` from the pairs that have a value.
pub fn href(path: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v))))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Coordinates as they go into URLs: six decimals (about 0.1 m), no more.
pub fn coord(v: f64) -> String {
    format!("{v:.6}")
}

pub fn at_pairs(at: LatLng) -> [(&'static str, String); 2] {
    [("lat", coord(at.lat())), ("lng", coord(at.lng()))]
}

pub fn home_href(at: LatLng) -> String {
    let [lat, lng] = at_pairs(at);
    href("/", &[(lat.0, Some(&lat.1)), (lng.0, Some(&lng.1))])
}

/// `path` carrying the shopper's point, when known, so the next page renders for it.
pub fn with_point(path: &str, at: Option<LatLng>) -> String {
    match at {
        Some(at) => {
            let [lat, lng] = at_pairs(at);
            href(path, &[(lat.0, Some(&lat.1)), (lng.0, Some(&lng.1))])
        }
        None => path.to_owned(),
    }
}

pub fn store_href(id: &str, at: Option<LatLng>) -> String {
    with_point(&format!("/store/{}", encode(id)), at)
}

pub fn checkout_href(store_id: &str, at: Option<LatLng>) -> String {
    with_point(&format!("/checkout/{}", encode(store_id)), at)
}

pub fn order_href(id: &str) -> String {
    format!("/orders/{}", encode(id))
}

/// The sign-in page, coming back to `next` (a path on this site) afterwards.
pub fn sign_in_href(next: &str) -> String {
    href("/login", &[("next", Some(next))])
}

/// Only a path on this site may be a post-sign-in destination (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/me".to_owned(),
    }
}

/// "850 m", "1.2 km".
pub fn format_distance(m: u32) -> String {
    if m < 1_000 {
        format!("{m} m")
    } else {
        format!("{}.{} km", m / 1_000, (m % 1_000) / 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/checkout/s1?lat=1")), "/checkout/s1?lat=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "javascript:x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/me", "{bad}");
        }
        assert_eq!(safe_next(None), "/me");
    }

    #[test]
    fn chinese_and_reserved_characters_are_encoded() {
        assert_eq!(encode("牛奶"), "%E7%89%9B%E5%A5%B6");
        assert_eq!(encode("a&b=c d"), "a%26b%3Dc%20d");
        assert_eq!(encode("s000123.x-y_z~"), "s000123.x-y_z~");
    }

    #[test]
    fn href_skips_missing_values() {
        assert_eq!(href("/", &[("a", Some("1")), ("b", None)]), "/?a=1");
        assert_eq!(href("/search", &[]), "/search");
    }

    #[test]
    fn distances_read_naturally() {
        assert_eq!(format_distance(850), "850 m");
        assert_eq!(format_distance(1_260), "1.2 km");
        assert_eq!(format_distance(12_000), "12.0 km");
    }
}
