//! Every path of the platform's v1 API, in one place: the platform's router mounts the patterns,
//! and the server and the app build concrete paths from the same constants, so a path renamed
//! here is renamed everywhere (or fails to compile).
//!
//! A pattern's `{…}` segments are filled in order by `Route::path`, each percent-encoded.

/// Where the shop's server forwards the v1 API for browsers: `/api` + a v1 path.
pub const SERVER_PREFIX: &str = "/api";

/// One path of the v1 API, as the platform's router matches it (`/v1/orders/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route(&'static str);

impl Route {
    /// The pattern, with `{name}` for each variable segment (axum's syntax).
    pub const fn pattern(self) -> &'static str {
        self.0
    }

    /// The concrete path: each `{…}` segment replaced by the next of `args`, percent-encoded.
    /// A pattern without variables ignores `args`; missing ones leave the segment empty.
    pub fn path(self, args: &[&str]) -> String {
        let mut args = args.iter();
        self.0
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') && segment.ends_with('}') {
                    args.next().map(|a| encode(a)).unwrap_or_default()
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Percent-encodes a path segment or query value (UTF-8; everything but RFC 3986 unreserved
/// characters).
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

pub const HEALTHZ: Route = Route("/healthz");

pub const STORES_NEARBY: Route = Route("/v1/stores/nearby");
pub const STORE: Route = Route("/v1/stores/{id}");
pub const STORE_PRODUCTS: Route = Route("/v1/stores/{id}/products");
pub const PRODUCT_SEARCH: Route = Route("/v1/products/search");
/// A product picture at one width (`{file}` = `<content hash>-<width>.webp`): immutable.
pub const IMAGE: Route = Route("/v1/images/{file}");

pub const SESSIONS: Route = Route("/v1/sessions");
pub const SMS_CODE: Route = Route("/v1/auth/sms-code");
pub const LOGIN: Route = Route("/v1/auth/login");
pub const LOGOUT: Route = Route("/v1/auth/logout");
pub const ME: Route = Route("/v1/me");
pub const MY_ADDRESSES: Route = Route("/v1/me/addresses");

pub const CARTS: Route = Route("/v1/carts");
pub const CART: Route = Route("/v1/cart/{store_id}");

pub const ORDERS: Route = Route("/v1/orders");
pub const ORDER: Route = Route("/v1/orders/{id}");
pub const PAY_ORDER: Route = Route("/v1/orders/{id}/pay");
pub const CANCEL_ORDER: Route = Route("/v1/orders/{id}/cancel");
pub const ORDER_EVENTS: Route = Route("/v1/orders/{id}/events");
/// The shopper's answer for a short line while the order is `awaiting_shopper`.
pub const ORDER_SHORTAGE: Route = Route("/v1/orders/{id}/shortage");
/// Fills the order's store's cart with what is still listed and in stock.
pub const REORDER: Route = Route("/v1/orders/{id}/reorder");
/// A request for money back after delivery (multipart: lines, reason, note, photos).
pub const AFTER_SALES: Route = Route("/v1/orders/{id}/after-sales");
/// A stored after-sales photo: its order's owner only.
pub const AFTER_SALES_PHOTO: Route = Route("/v1/after-sales/photos/{token}");
/// Demo mode only: decides an after-sales request in review.
pub const DEMO_AFTER_SALES_DECISION: Route = Route("/v1/demo/after-sales/{id}/decision");
/// Demo mode only: makes a line of the order come up short at picking.
pub const DEMO_ORDER_SHORT: Route = Route("/v1/demo/orders/{id}/short");

pub const LIVE_ROOMS: Route = Route("/v1/live/rooms");
pub const LIVE_ROOM: Route = Route("/v1/live/rooms/{id}");
pub const LIVE_EVENTS: Route = Route("/v1/live/rooms/{id}/events");
pub const LIVE_COMMENTS: Route = Route("/v1/live/rooms/{id}/comments");
pub const LIVE_COMMENT: Route = Route("/v1/live/rooms/{id}/comments/{comment_id}");
pub const LIVE_LIKES: Route = Route("/v1/live/rooms/{id}/likes");
/// A server instance's viewers of a room: between the servers and the platform only.
pub const LIVE_VIEWERS: Route = Route("/v1/live/rooms/{id}/viewers");
pub const LIVE_ORDERS: Route = Route("/v1/live/rooms/{id}/orders");
pub const LIVE_QUOTE: Route = Route("/v1/live/rooms/{id}/quote");
pub const LIVE_PINS: Route = Route("/v1/live/rooms/{id}/pins");
pub const LIVE_PIN: Route = Route("/v1/live/rooms/{id}/pins/{sku}");
pub const LIVE_STATUS: Route = Route("/v1/live/rooms/{id}/status");
pub const LIVE_SETTINGS: Route = Route("/v1/live/rooms/{id}/settings");
/// The room's shopping bag, replaced whole by its host.
pub const LIVE_BAG: Route = Route("/v1/live/rooms/{id}/bag");
/// `POST`: start a flash sale (host only).
pub const LIVE_FLASH: Route = Route("/v1/live/rooms/{id}/flash");
/// `POST`: reserve a scheduled room (signed in).
pub const LIVE_RESERVATIONS: Route = Route("/v1/live/rooms/{id}/reservations");
/// `GET`: the room's start as an iCalendar event.
pub const LIVE_CALENDAR: Route = Route("/v1/live/rooms/{id}/calendar.ics");
/// `GET`: the rooms the signed-in shopper reserved.
pub const MY_RESERVATIONS: Route = Route("/v1/me/reservations");
/// The host console; it answers 200 for the room's host only, which the media checks rely on.
pub const LIVE_HOST: Route = Route("/v1/live/rooms/{id}/host");

pub const GROUPS: Route = Route("/v1/groups");
pub const GROUP: Route = Route("/v1/groups/{id}");
pub const JOIN_GROUP: Route = Route("/v1/groups/{id}/join");
pub const GROUP_EVENTS: Route = Route("/v1/groups/{id}/events");
pub const MY_GROUPS: Route = Route("/v1/me/groups");

/// Every route above: what `is_known` matches against.
pub const ALL: &[Route] = &[
    HEALTHZ,
    STORES_NEARBY,
    STORE,
    STORE_PRODUCTS,
    PRODUCT_SEARCH,
    IMAGE,
    SESSIONS,
    SMS_CODE,
    LOGIN,
    LOGOUT,
    ME,
    MY_ADDRESSES,
    CARTS,
    CART,
    ORDERS,
    ORDER,
    PAY_ORDER,
    CANCEL_ORDER,
    ORDER_EVENTS,
    ORDER_SHORTAGE,
    REORDER,
    DEMO_ORDER_SHORT,
    AFTER_SALES,
    AFTER_SALES_PHOTO,
    DEMO_AFTER_SALES_DECISION,
    LIVE_ROOMS,
    LIVE_ROOM,
    LIVE_EVENTS,
    LIVE_COMMENTS,
    LIVE_COMMENT,
    LIVE_LIKES,
    LIVE_VIEWERS,
    LIVE_ORDERS,
    LIVE_QUOTE,
    LIVE_PINS,
    LIVE_PIN,
    LIVE_STATUS,
    LIVE_SETTINGS,
    LIVE_BAG,
    LIVE_FLASH,
    LIVE_RESERVATIONS,
    LIVE_CALENDAR,
    MY_RESERVATIONS,
    LIVE_HOST,
    GROUPS,
    GROUP,
    JOIN_GROUP,
    GROUP_EVENTS,
    MY_GROUPS,
];

impl Route {
    /// Whether a concrete path (a query string allowed) is one this pattern matches.
    pub fn matches(self, path: &str) -> bool {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        let mut want = self.0.split('/');
        let mut have = path.split('/');
        loop {
            match (want.next(), have.next()) {
                (None, None) => return true,
                (Some(w), Some(h)) if w.starts_with('{') && !h.is_empty() => {}
                (Some(w), Some(h)) if w == h => {}
                _ => return false,
            }
        }
    }
}

/// Whether a path is one of the API's: the clients check theirs in debug builds, so a path
/// built by hand (`/orders`, `/v1/v1/…`) fails the tests instead of answering 404 in the shop.
pub fn is_known(path: &str) -> bool {
    ALL.iter().any(|r| r.matches(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fill_the_patterns_in_order_and_encode_what_needs_it() {
        assert_eq!(ORDER_EVENTS.path(&["ord_1"]), "/v1/orders/ord_1/events");
        assert_eq!(
            LIVE_PIN.path(&["live_bj1", "P 1/2"]),
            "/v1/live/rooms/live_bj1/pins/P%201%2F2"
        );
        assert_eq!(CART.path(&["门店"]), "/v1/cart/%E9%97%A8%E5%BA%97");
        assert_eq!(ME.path(&[]), "/v1/me");
        assert_eq!(ORDER.pattern(), "/v1/orders/{id}");
        assert_eq!(encode("a b&c=d"), "a%20b%26c%3Dd");
        assert_eq!(encode("-_.~Az09"), "-_.~Az09");
    }

    #[test]
    fn only_the_api_s_own_paths_are_known() {
        assert!(is_known(&ORDER.path(&["ord_1"])));
        assert!(is_known(&LIVE_PIN.path(&["live_bj1", "P 1/2"])));
        assert!(is_known("/v1/live/rooms/r1/quote?sku=a&quantity=1"));
        assert!(is_known(ORDERS.pattern()));
        assert!(!is_known("/orders"));
        assert!(!is_known("/v1/v1/orders/ord_1"));
        assert!(!is_known("/v1/orders//pay"));
        assert!(!is_known("/v1/orders/ord_1/pay/extra"));
    }
}
