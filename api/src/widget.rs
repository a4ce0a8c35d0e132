//! The live widget's contract with the shop's room page: the link its "buy" opens, and what the
//! page opened that way tells the brand's page once the order is paid (`docs/WIDGET.md`).

use serde::{Deserialize, Serialize};

use crate::routes::encode;

/// The room page's query parameter naming the product to open the buy sheet for.
pub const BUY_PARAM: &str = "buy";
/// The room page's query parameter naming the origin of the brand's page that opened it: the
/// page reports the order there, and only if the shop lists that origin.
pub const FROM_PARAM: &str = "from";

/// The shop's room page with the buy sheet open for `sku`, opened from a widget on `from`.
pub fn buy_path(room_id: &str, sku: &str, from: Option<&str>) -> String {
    let mut path = format!("/live/{}?{BUY_PARAM}={}", encode(room_id), encode(sku));
    if let Some(from) = from {
        path.push_str(&format!("&{FROM_PARAM}={}", encode(from)));
    }
    path
}

/// What the room page tells the widget's page through `postMessage` (as JSON text), sent only to
/// the origin in `from`; the widget takes it only from the shop's origin. The widget then fires a
/// DOM event of the same name on its box, for the brand's own page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum WidgetMessage {
    /// The shopper placed and paid an order for `sku` in `room_id`.
    #[serde(rename = "jishi:ordered")]
    Ordered { room_id: String, sku: String },
}

/// The DOM event the widget fires on its box (`div.jishi-live`) when an order was paid.
pub const ORDERED_EVENT: &str = "jishi:ordered";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buy_link_encodes_its_parts() {
        assert_eq!(
            buy_path("live_bj1", "sku-1", None),
            "/live/live_bj1?buy=sku-1"
        );
        assert_eq!(
            buy_path("r 1", "a&b", Some("https://brand.example:8443")),
            "/live/r%201?buy=a%26b&from=https%3A%2F%2Fbrand.example%3A8443"
        );
    }

    #[test]
    fn the_message_is_tagged_json_and_reads_back() {
        let m = WidgetMessage::Ordered {
            room_id: "live_bj1".into(),
            sku: "s1".into(),
        };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"type":"jishi:ordered","room_id":"live_bj1","sku":"s1"}"#
        );
        assert_eq!(serde_json::from_str::<WidgetMessage>(&json).unwrap(), m);
        assert_eq!(
            serde_json::from_str::<WidgetMessage>(r#"{"type":"other"}"#).ok(),
            None
        );
    }
}
