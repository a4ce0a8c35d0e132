//! Which `/api/v1/…` requests the proxy forwards, decided from the raw request path.
//!
//! Axum's `{*path}` is percent-decoded, so `sessions%3F` would arrive as `sessions?` and slip past
//! every exact-match rule, then be pasted into the upstream URL where `?` starts a query. The
//! proxy therefore reads the undecoded path, refuses any percent-encoding and dot segment with
//! 400, matches it against an explicit allow-list, and builds the upstream URL from the checked
//! segments.

use axum::http::Method;
use jishi_api::ApiError;

/// What a forwarded request is. Anything not listed here is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    StoresNearby,
    Store,
    StoreProducts,
    ProductSearch,
    /// A product picture (immutable; the proxy passes its ETag and the browser's If-None-Match).
    Image,
    SmsCode,
    Login,
    Logout,
    Me,
    Addresses,
    Carts,
    Cart,
    Orders,
    Order,
    PayOrder,
    CancelOrder,
    OrderEvents,
    OrderShortage,
    Reorder,
    AfterSales,
    AfterSalesPhoto,
    /// `/v1/demo/…`: forwarded only when the server runs in demo mode.
    DemoOrderShort,
    DemoAfterSalesDecision,
    LiveRooms,
    LiveRoom,
    LiveComments,
    LiveComment,
    LiveLikes,
    LiveOrders,
    LiveQuote,
    LivePins,
    LivePin,
    LiveStatus,
    LiveSettings,
    LiveBag,
    LiveFlash,
    LiveReservations,
    LiveCalendar,
    MyReservations,
    LiveHost,
    Groups,
    Group,
    JoinGroup,
    GroupEvents,
    MyGroups,
}

/// An allowed request: what it is and the platform path it goes to (`/v1/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
    pub upstream_path: String,
}

impl Endpoint {
    /// Answers about one shopper: never stored by a cache on the way.
    pub fn is_per_shopper(self) -> bool {
        use Endpoint::*;
        matches!(
            self,
            Login
                | Logout
                | Me
                | Addresses
                | Carts
                | Cart
                | Orders
                | Order
                | PayOrder
                | CancelOrder
                | OrderEvents
                | OrderShortage
                | Reorder
                | DemoOrderShort
                | AfterSales
                | AfterSalesPhoto
                | DemoAfterSalesDecision
                | LiveComments
                | LiveComment
                | LiveOrders
                | LiveQuote
                | LivePins
                | LivePin
                | LiveStatus
                | LiveSettings
                | LiveBag
                | LiveFlash
                | LiveReservations
                | MyReservations
                | LiveHost
                | Groups
                | JoinGroup
                | GroupEvents
                | MyGroups
        )
    }

    /// Event streams: held open, so they count against the server's stream cap.
    pub fn is_event_stream(self) -> bool {
        matches!(self, Endpoint::OrderEvents | Endpoint::GroupEvents)
    }

    /// Test and demo levers (`/v1/demo/…`): never forwarded outside demo mode.
    pub fn is_demo_only(self) -> bool {
        matches!(
            self,
            Endpoint::DemoOrderShort | Endpoint::DemoAfterSalesDecision
        )
    }

    /// The largest request body forwarded: after-sales photos get their own cap (and are
    /// streamed through, never held whole); everything else `MAX_BODY_BYTES`.
    pub fn body_limit(self) -> usize {
        match self {
            Endpoint::AfterSales => jishi_api::after_sales::MAX_REQUEST_BYTES,
            _ => super::MAX_BODY_BYTES,
        }
    }

    /// Writes that may act for an anonymous shopper, so a first one gets a session. Reads never
    /// create one, and writes that need a signed-in shopper gain nothing from an anonymous one.
    pub fn creates_session(self, method: &Method) -> bool {
        self == Endpoint::Cart && method == Method::PUT
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("没有这个接口")
}

/// A path segment is safe to forward when it is plain: unreserved URL characters only, and not
/// a dot segment. Ids in this API never need more.
fn check_segment(segment: &str) -> Result<(), ApiError> {
    if segment.contains('%') {
        return Err(ApiError::bad_request("路径中不能含有编码字符"));
    }
    if segment.is_empty() || segment == "." || segment == ".." {
        return Err(ApiError::bad_request("路径中不能含有空段或 . / .. 段"));
    }
    if !segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    {
        return Err(ApiError::bad_request("路径中含有不允许的字符"));
    }
    Ok(())
}

impl Route {
    /// `raw` is the request path after `/api/v1/`, exactly as it came on the wire.
    pub fn parse(method: &Method, raw: &str) -> Result<Route, ApiError> {
        let segments: Vec<&str> = raw.split('/').collect();
        for segment in &segments {
            check_segment(segment)?;
        }
        use Endpoint::*;
        let endpoint = match (method.as_str(), segments.as_slice()) {
            ("GET", ["stores", "nearby"]) => StoresNearby,
            ("GET", ["stores", _]) => Store,
            ("GET", ["stores", _, "products"]) => StoreProducts,
            ("GET", ["products", "search"]) => ProductSearch,
            ("GET", ["images", _]) => Image,
            ("POST", ["auth", "sms-code"]) => SmsCode,
            ("POST", ["auth", "login"]) => Login,
            ("POST", ["auth", "logout"]) => Logout,
            ("GET", ["me"]) => Me,
            ("GET" | "POST", ["me", "addresses"]) => Addresses,
            ("GET", ["carts"]) => Carts,
            ("GET" | "PUT", ["cart", _]) => Cart,
            ("GET" | "POST", ["orders"]) => Orders,
            ("GET", ["orders", _]) => Order,
            ("POST", ["orders", _, "pay"]) => PayOrder,
            ("POST", ["orders", _, "cancel"]) => CancelOrder,
            ("GET", ["orders", _, "events"]) => OrderEvents,
            ("POST", ["orders", _, "shortage"]) => OrderShortage,
            ("POST", ["orders", _, "reorder"]) => Reorder,
            ("POST", ["demo", "orders", _, "short"]) => DemoOrderShort,
            ("POST", ["orders", _, "after-sales"]) => AfterSales,
            ("GET", ["after-sales", "photos", _]) => AfterSalesPhoto,
            ("POST", ["demo", "after-sales", _, "decision"]) => DemoAfterSalesDecision,
            // A room's events are served by the server's own fan-out (`crate::live`), not here;
            // viewer reports are between the server and the platform only.
            ("GET", ["live", "rooms"]) => LiveRooms,
            ("GET", ["live", "rooms", _]) => LiveRoom,
            ("POST", ["live", "rooms", _, "comments"]) => LiveComments,
            ("DELETE", ["live", "rooms", _, "comments", _]) => LiveComment,
            ("POST", ["live", "rooms", _, "likes"]) => LiveLikes,
            ("POST", ["live", "rooms", _, "orders"]) => LiveOrders,
            ("GET", ["live", "rooms", _, "quote"]) => LiveQuote,
            ("POST", ["live", "rooms", _, "pins"]) => LivePins,
            ("DELETE", ["live", "rooms", _, "pins", _]) => LivePin,
            ("POST", ["live", "rooms", _, "status"]) => LiveStatus,
            ("PUT", ["live", "rooms", _, "settings"]) => LiveSettings,
            ("PUT", ["live", "rooms", _, "bag"]) => LiveBag,
            ("POST", ["live", "rooms", _, "flash"]) => LiveFlash,
            ("POST", ["live", "rooms", _, "reservations"]) => LiveReservations,
            ("GET", ["live", "rooms", _, "calendar.ics"]) => LiveCalendar,
            ("GET", ["me", "reservations"]) => MyReservations,
            ("GET", ["live", "rooms", _, "host"]) => LiveHost,
            ("POST", ["groups"]) => Groups,
            ("GET", ["groups", _]) => Group,
            ("POST", ["groups", _, "join"]) => JoinGroup,
            ("GET", ["groups", _, "events"]) => GroupEvents,
            ("GET", ["me", "groups"]) => MyGroups,
            _ => return Err(not_found()),
        };
        Ok(Route {
            endpoint,
            upstream_path: format!("/v1/{}", segments.join("/")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_api::ErrorCode;

    fn code(method: Method, raw: &str) -> ErrorCode {
        Route::parse(&method, raw).expect_err(raw).code
    }

    #[test]
    fn encoded_separators_and_dot_segments_are_refused() {
        for raw in [
            "sessions%3F",
            "auth/login%3F",
            "auth/login%23",
            "orders%2Fx",
            "orders/%2e%2e/sessions",
            "stores/../sessions",
            "stores/./nearby",
            "stores//nearby",
            "stores/a%5Cb",
            "stores/a\\b",
            "stores/caf%C3%A9",
        ] {
            assert_eq!(code(Method::POST, raw), ErrorCode::BadRequest, "{raw}");
        }
    }

    #[test]
    fn only_listed_routes_are_forwarded() {
        assert_eq!(code(Method::POST, "sessions"), ErrorCode::NotFound);
        assert_eq!(code(Method::GET, "no/such/thing"), ErrorCode::NotFound);
        assert_eq!(code(Method::DELETE, "orders/ord_1"), ErrorCode::NotFound);
        assert_eq!(code(Method::GET, "auth/login"), ErrorCode::NotFound);
        let route = Route::parse(&Method::GET, "orders/ord_1/events").unwrap();
        assert_eq!(route.endpoint, Endpoint::OrderEvents);
        assert_eq!(route.upstream_path, "/v1/orders/ord_1/events");
        let route = Route::parse(&Method::PUT, "cart/bj_0001").unwrap();
        assert!(route.endpoint.creates_session(&Method::PUT));
        assert!(!route.endpoint.creates_session(&Method::GET));
        assert!(!Route::parse(&Method::GET, "stores/nearby")
            .unwrap()
            .endpoint
            .is_per_shopper());
    }

    #[test]
    fn order_routes_are_forwarded_and_demo_routes_are_marked() {
        let answer = Route::parse(&Method::POST, "orders/ord_1/shortage").unwrap();
        assert_eq!(answer.endpoint, Endpoint::OrderShortage);
        assert!(answer.endpoint.is_per_shopper() && !answer.endpoint.is_demo_only());
        let reorder = Route::parse(&Method::POST, "orders/ord_1/reorder").unwrap();
        assert_eq!(reorder.upstream_path, "/v1/orders/ord_1/reorder");
        let demo = Route::parse(&Method::POST, "demo/orders/ord_1/short").unwrap();
        assert!(demo.endpoint.is_demo_only());
        assert_eq!(demo.upstream_path, "/v1/demo/orders/ord_1/short");
        assert_eq!(
            code(Method::GET, "demo/orders/ord_1/short"),
            ErrorCode::NotFound
        );
    }

    #[test]
    fn group_routes_are_forwarded_and_their_stream_counts_as_a_stream() {
        let join = Route::parse(&Method::POST, "groups/grp_1/join").unwrap();
        assert_eq!(join.endpoint, Endpoint::JoinGroup);
        assert_eq!(join.upstream_path, "/v1/groups/grp_1/join");
        let events = Route::parse(&Method::GET, "groups/grp_1/events").unwrap();
        assert!(events.endpoint.is_event_stream() && events.endpoint.is_per_shopper());
        assert!(!Route::parse(&Method::GET, "groups/grp_1")
            .unwrap()
            .endpoint
            .is_per_shopper());
        assert_eq!(
            Route::parse(&Method::GET, "me/groups")
                .unwrap()
                .upstream_path,
            "/v1/me/groups"
        );
        assert_eq!(code(Method::DELETE, "groups/grp_1"), ErrorCode::NotFound);
    }

    #[test]
    fn live_routes_are_forwarded_but_the_event_stream_and_viewer_reports_are_not() {
        let route = Route::parse(&Method::POST, "live/rooms/live_1/orders").unwrap();
        assert_eq!(route.endpoint, Endpoint::LiveOrders);
        assert_eq!(route.upstream_path, "/v1/live/rooms/live_1/orders");
        assert!(route.endpoint.is_per_shopper());
        let quote = Route::parse(&Method::GET, "live/rooms/live_1/quote").unwrap();
        assert_eq!(quote.endpoint, Endpoint::LiveQuote);
        assert!(quote.endpoint.is_per_shopper());
        assert!(!Route::parse(&Method::GET, "live/rooms")
            .unwrap()
            .endpoint
            .is_per_shopper());
        assert_eq!(
            Route::parse(&Method::DELETE, "live/rooms/live_1/pins/sku_1")
                .unwrap()
                .endpoint,
            Endpoint::LivePin
        );
        for (method, path, endpoint, mine) in [
            (
                Method::POST,
                "live/rooms/live_1/flash",
                Endpoint::LiveFlash,
                true,
            ),
            (
                Method::POST,
                "live/rooms/live_1/reservations",
                Endpoint::LiveReservations,
                true,
            ),
            (
                Method::GET,
                "live/rooms/live_1/calendar.ics",
                Endpoint::LiveCalendar,
                false,
            ),
            (
                Method::GET,
                "me/reservations",
                Endpoint::MyReservations,
                true,
            ),
        ] {
            let route = Route::parse(&method, path).unwrap();
            assert_eq!(
                (route.endpoint, route.endpoint.is_per_shopper()),
                (endpoint, mine)
            );
            assert_eq!(route.upstream_path, format!("/v1/{path}"));
        }
        assert_eq!(
            code(Method::PUT, "live/rooms/live_1/viewers"),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(Method::GET, "live/rooms/live_1/events"),
            ErrorCode::NotFound
        );
    }
}
