//! The app's own URLs: every page's href is built here (and [`go_to`] leaves for one), so no
//! module imports a page module for a link. Location and filters live in the query string so
//! every page is shareable and server-rendered for its point.

use jishi_api::LatLng;

/// The home page (nearby stores) with no point: it asks for one.
pub const HOME: &str = "/";
/// The home page's location chooser.
pub const CHANGE_LOCATION: &str = "/?change=1";
/// The shopper's account: orders, groups, addresses, language.
pub const ME: &str = "/me";
/// Products in stores near the shopper (`?q=`, the header's search form).
pub const SEARCH: &str = "/search";
const SIGN_IN: &str = "/login";
const CART: &str = "/cart";
const LIVE: &str = "/live";

/// Leaves for `href` with a full page load, so every page renders again with the new cookie.
pub fn go_to(href: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(href);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = href;
}

/// Percent-encodes a path segment or query value: the api's one rule, which the API paths use too.
pub use jishi_api::routes::encode;

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
    with_point(HOME, Some(at))
}

/// The home page for the shopper's point, when known.
pub fn home_at(at: Option<LatLng>) -> String {
    with_point(HOME, at)
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

/// `/store/{id}`, the path alone (filters and the point are added to it).
pub fn store_path(id: &str) -> String {
    format!("/store/{}", encode(id))
}

pub fn store_href(id: &str, at: Option<LatLng>) -> String {
    with_point(&store_path(id), at)
}

pub fn cart_href(at: Option<LatLng>) -> String {
    with_point(CART, at)
}

pub fn checkout_href(store_id: &str, at: Option<LatLng>) -> String {
    with_point(&format!("/checkout/{}", encode(store_id)), at)
}

pub fn order_href(id: &str) -> String {
    format!("/orders/{}", encode(id))
}

/// `/group/{id}`: a group buy's shareable page.
pub fn group_href(id: &str) -> String {
    format!("/group/{}", encode(id))
}

/// `/store/{id}/group/{sku}`: starting a group on a store's offer.
pub fn group_start_href(store_id: &str, sku: &str) -> String {
    format!("{}/group/{}", store_path(store_id), encode(sku))
}

/// `/live`, the rooms live now, carrying the shopper's point when known.
pub fn live_list_href(at: Option<LatLng>) -> String {
    with_point(LIVE, at)
}

/// `/live/{id}`, carrying the shopper's point when known.
pub fn live_href(id: &str, at: Option<LatLng>) -> String {
    with_point(&format!("{LIVE}/{}", encode(id)), at)
}

/// `/live/{id}/host`: the room's host console.
pub fn live_host_href(id: &str) -> String {
    format!("{LIVE}/{}/host", encode(id))
}

/// The sign-in page, coming back to `next` (a path on this site) afterwards.
pub fn sign_in_href(next: &str) -> String {
    href(SIGN_IN, &[("next", Some(next))])
}

/// Only a path on this site may be a post-sign-in destination (no open redirects).
///
/// `next` is read the way a browser reads a link on our pages (WHATWG URL parsing against our
/// origin), not by its prefix: browsers drop tabs and newlines anywhere, trim C0 controls and
/// spaces, and take `\` for `/`, so `/\t/evil.test` or `\\evil.test` are other hosts. The answer
/// is the normalised path, query and fragment, so the browser cannot read it differently;
/// anything that could leave the site, or an empty `next`, goes to `/me`.
pub fn safe_next(next: Option<&str>) -> String {
    next.and_then(same_origin_path)
        .unwrap_or_else(|| ME.to_owned())
}

/// `input` resolved against `https://<this site>/` as a WHATWG URL parser would (the `url`
/// crate, a browser), when it stays on this site: its path, query and fragment, serialised.
/// Hand-written because the `url` crate would bring IDNA and its Unicode tables into the wasm;
/// the tests check it against `url`. Anything with a scheme or an authority is refused, even one
/// naming this host: nothing of ours links that way.
fn same_origin_path(input: &str) -> Option<String> {
    let trimmed = input.trim_matches(|c: char| c <= ' ');
    let s: String = trimmed
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    if s.is_empty() || has_scheme(&s) {
        return None;
    }
    let is_slash = |c: char| c == '/' || c == '\\';
    let mut chars = s.chars();
    let rest = match chars.next() {
        // Two slashes of either kind start an authority: another host.
        Some(c) if is_slash(c) => match chars.next() {
            Some(c2) if is_slash(c2) => return None,
            _ => &s[1..],
        },
        _ => s.as_str(),
    };
    let (path_part, after_path) = match rest.find(['?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut out = String::from("/");
    out.push_str(&resolve_path(path_part).join("/"));
    // `//host/…` would be read as another host (e.g. from `/.//evil.test`): refuse it.
    if out.starts_with("//") {
        return None;
    }
    let (query, fragment) = match after_path.strip_prefix('?') {
        Some(q) => match q.split_once('#') {
            Some((q, f)) => (Some(q), Some(f)),
            None => (Some(q), None),
        },
        None => (None, after_path.strip_prefix('#')),
    };
    if let Some(q) = query {
        out.push('?');
        percent_encode_into(&mut out, q, in_query_set);
    }
    if let Some(f) = fragment {
        out.push('#');
        percent_encode_into(&mut out, f, in_fragment_set);
    }
    Some(out)
}

/// `scheme:` at the start (an ASCII letter, then letters, digits, `+`, `-`, `.`, then `:`).
fn has_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    match b
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
    {
        Some(i) => b[i] == b':',
        None => false,
    }
}

/// The path state of the URL parser for a special scheme, from an empty path: segments split on
/// `/` and `\`, each percent-encoded, `.` and `..` (also as `%2e`) resolved.
fn resolve_path(path: &str) -> Vec<String> {
    let mut segments: Vec<String> = Vec::new();
    let mut parts = path.split(['/', '\\']).peekable();
    while let Some(raw) = parts.next() {
        let last = parts.peek().is_none();
        let mut segment = String::with_capacity(raw.len());
        percent_encode_into(&mut segment, raw, in_path_set);
        let lower = segment.to_ascii_lowercase();
        match lower.as_str() {
            ".." | ".%2e" | "%2e." | "%2e%2e" => {
                segments.pop();
                // A trailing `..` leaves the directory: `/a/b/..` is `/a/`.
                if last {
                    segments.push(String::new());
                }
            }
            "." | "%2e" => {
                if last {
                    segments.push(String::new());
                }
            }
            _ => segments.push(segment),
        }
    }
    segments
}

/// C0 controls, DEL and every non-ASCII byte: in every set below.
fn in_c0_set(b: u8) -> bool {
    !(0x20..0x7f).contains(&b)
}

fn in_fragment_set(b: u8) -> bool {
    in_c0_set(b) || matches!(b, b' ' | b'"' | b'<' | b'>' | b'`')
}

fn in_path_set(b: u8) -> bool {
    in_fragment_set(b) || matches!(b, b'#' | b'?' | b'{' | b'}')
}

/// The special-query set (`https` is a special scheme, so `'` is encoded too).
fn in_query_set(b: u8) -> bool {
    in_c0_set(b) || matches!(b, b' ' | b'"' | b'#' | b'<' | b'>' | b'\'')
}

fn percent_encode_into(out: &mut String, text: &str, encode: fn(u8) -> bool) {
    for (i, ch) in text.char_indices() {
        if ch.is_ascii() && !encode(ch as u8) {
            out.push(ch);
        } else {
            for b in text[i..i + ch.len_utf8()].bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
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
    fn local_paths_are_followed_after_sign_in() {
        for ok in [
            "/checkout/s1?lat=1&lng=2",
            "/orders/ord_1",
            "/me",
            "/",
            "/store/s%201?q=%E7%89%9B#top",
        ] {
            assert_eq!(safe_next(Some(ok)), ok, "{ok:?}");
        }
        assert_eq!(safe_next(None), "/me");
        assert_eq!(safe_next(Some("")), "/me");
        assert_eq!(safe_next(Some(" \t ")), "/me");
    }

    #[test]
    fn other_hosts_and_schemes_are_not_followed_after_sign_in() {
        for bad in [
            // `/login?next=/%09/example.com` decodes to this; browsers drop the tab.
            "/\t/example.com",
            "/\t/evil.test",
            "/\n/evil.test",
            "/\r/evil.test",
            "\t//evil.test",
            "/\r\n/evil.test",
            // Backslashes are slashes in https URLs (`/%5Cevil.test` decodes to the second).
            "/\\evil.test",
            "\\/evil.test",
            "\\\\evil.test",
            "/\t\\evil.test",
            "//evil.test",
            "///evil.test",
            "//evil.test/me",
            "https://evil.test",
            "HTTPS://evil.test",
            "http://evil.test/",
            "https:/\\evil.test",
            "h\ttps://evil.test",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "java\tscript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,x",
            // Leading spaces and C0 controls are trimmed before parsing.
            " //evil.test",
            "\u{0}//evil.test",
            "\u{1f}\u{7}/\\evil.test",
            "  \u{b}\u{c}//evil.test",
            // Dot segments that would serialise as `//host`.
            "/.//evil.test",
            "/x/..//evil.test",
            "/%2e//evil.test",
            "/./\\evil.test",
        ] {
            assert_eq!(safe_next(Some(bad)), "/me", "{bad:?}");
        }
    }

    #[test]
    fn destinations_are_normalised_as_a_browser_reads_them() {
        for (given, expected) in [
            // Leading spaces, tabs and newlines go; the path is what remains.
            (" /x", "/x"),
            ("\u{0}\u{1}/x\u{1f} ", "/x"),
            ("/or\tders/\nord_1", "/orders/ord_1"),
            // A literal `%09` (from `%2509`) stays encoded: a path segment, not a slash.
            ("/%09/example.com", "/%09/example.com"),
            ("/%5Cevil.test", "/%5Cevil.test"),
            ("/%2F/evil.test", "/%2F/evil.test"),
            // `\` after the first character is a path separator.
            ("/a\\b", "/a/b"),
            ("/a/./b/../c", "/a/c"),
            ("/a/%2E%2e/b", "/b"),
            ("/a/b/..", "/a/"),
            ("/..", "/"),
            ("/../../x", "/x"),
            // Relative references resolve against the site's root.
            ("evil.test", "/evil.test"),
            ("evil.test/x", "/evil.test/x"),
            ("?q=1", "/?q=1"),
            ("#top", "/#top"),
            // Spaces, quotes and non-ASCII are percent-encoded as browsers do.
            ("/a b?c d#e f", "/a%20b?c%20d#e%20f"),
            ("/牛奶?q=牛奶", "/%E7%89%9B%E5%A5%B6?q=%E7%89%9B%E5%A5%B6"),
            ("/{x}?'\"", "/%7Bx%7D?%27%22"),
            ("/x?a\\b#c#d", "/x?a\\b#c#d"),
        ] {
            assert_eq!(safe_next(Some(given)), expected, "{given:?}");
        }
    }

    /// The same answers as the `url` crate (a WHATWG parser) for every short mix of the
    /// characters that matter; refused only where `url` would leave the site, or for a scheme
    /// or authority that `url` resolves to this site.
    #[test]
    fn safe_next_agrees_with_a_whatwg_parser() {
        let base = url::Url::parse("https://jishi.invalid/").expect("base");
        let reference = |input: &str| {
            base.join(input)
                .ok()
                .filter(|u| u.origin() == base.origin())
                .map(|u| u[url::Position::BeforePath..].to_owned())
        };
        let atoms = [
            "/", "\\", "\t", "\n", " ", "\u{1}", ".", "%2e", "a", "?", "#", ":", "h", "é", "'",
            "`", "{", "%",
        ];
        let mut inputs = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..4 {
            let next: Vec<String> = last
                .iter()
                .flat_map(|p| atoms.iter().map(move |a| format!("{p}{a}")))
                .collect();
            inputs.extend(next.iter().cloned());
            last = next;
        }
        for extra in [
            "https:x",
            "https://jishi.invalid/x",
            "http:x",
            "a.b+c-d:x",
            "1a:x",
        ] {
            inputs.push(extra.to_owned());
        }
        let mut agreed = 0;
        for input in &inputs {
            let ours = same_origin_path(input);
            let theirs = reference(input);
            match (&ours, &theirs) {
                (Some(o), Some(t)) => {
                    assert_eq!(o, t, "{input:?}");
                    assert_eq!(same_origin_path(o).as_ref(), Some(o), "stable: {input:?}");
                    agreed += 1;
                }
                (Some(o), None) => panic!("{input:?}: we follow {o:?}, url leaves the site"),
                (None, Some(t)) => {
                    let cleaned: String = input
                        .trim_matches(|c: char| c <= ' ')
                        .chars()
                        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                        .collect();
                    let authority =
                        cleaned.starts_with(['/', '\\']) && cleaned[1..].starts_with(['/', '\\']);
                    assert!(
                        cleaned.is_empty()
                            || has_scheme(&cleaned)
                            || authority
                            || t.starts_with("//"),
                        "{input:?}: refused, url gives {t:?}"
                    );
                }
                (None, None) => {}
            }
        }
        assert!(agreed > 10_000, "only {agreed} inputs compared");
    }

    #[test]
    fn chinese_and_reserved_characters_are_encoded() {
        assert_eq!(encode("牛奶"), "%E7%89%9B%E5%A5%B6");
        assert_eq!(encode("a&b=c d"), "a%26b%3Dc%20d");
        assert_eq!(encode("s000123.x-y_z~"), "s000123.x-y_z~");
    }

    #[test]
    fn links_are_encoded() {
        // Ids are opaque: whatever they hold stays one path segment.
        assert_eq!(group_href("grp 1/é?#"), "/group/grp%201%2F%C3%A9%3F%23");
        assert_eq!(
            group_start_href("bj/0 1", "P&0=1"),
            "/store/bj%2F0%201/group/P%260%3D1"
        );
        assert_eq!(group_href("grp_1"), "/group/grp_1");
        assert_eq!(order_href("ord_1/../x"), "/orders/ord_1%2F..%2Fx");
        assert_eq!(store_path("s 1"), "/store/s%201");
        let at = LatLng::new(39.9088, 116.4605).unwrap();
        assert_eq!(live_host_href("r/1"), "/live/r%2F1/host");
        assert_eq!(live_list_href(None), "/live");
        assert_eq!(cart_href(Some(at)), "/cart?lat=39.908800&lng=116.460500");
        assert_eq!(home_at(None), "/");
        assert_eq!(home_at(Some(at)), home_href(at));
        assert_eq!(sign_in_href("/me?a=1"), "/login?next=%2Fme%3Fa%3D1");
    }

    #[test]
    fn live_links_encode_the_room_id_and_keep_the_point() {
        let at = LatLng::new(39.9088, 116.4605).unwrap();
        assert_eq!(live_href("r 1", None), "/live/r%201");
        assert_eq!(
            live_href("r1", Some(at)),
            "/live/r1?lat=39.908800&lng=116.460500"
        );
        assert_eq!(live_host_href("r1"), "/live/r1/host");
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
