//! Orders: placing one exactly once, its states, and what the shopper sees.

use serde::{Deserialize, Serialize};

use crate::cart::ItemInput;
use crate::error::ApiError;

/// Unpaid orders give their stock back after this long.
pub const PAYMENT_WINDOW_S: i64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Accepted,
    Picking,
    Ready,
    RiderAssigned,
    PickedUp,
    Delivering,
    Delivered,
    Cancelled,
    Refunded,
}

impl OrderStatus {
    /// The delivery path in order; `Cancelled` and `Refunded` are off it.
    pub const PATH: [OrderStatus; 9] = [
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
        OrderStatus::Accepted,
        OrderStatus::Picking,
        OrderStatus::Ready,
        OrderStatus::RiderAssigned,
        OrderStatus::PickedUp,
        OrderStatus::Delivering,
        OrderStatus::Delivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Accepted => "accepted",
            OrderStatus::Picking => "picking",
            OrderStatus::Ready => "ready",
            OrderStatus::RiderAssigned => "rider_assigned",
            OrderStatus::PickedUp => "picked_up",
            OrderStatus::Delivering => "delivering",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        OrderStatus::PATH
            .into_iter()
            .chain([OrderStatus::Cancelled, OrderStatus::Refunded])
            .find(|st| st.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "待支付",
            OrderStatus::Paid => "已支付",
            OrderStatus::Accepted => "商家已接单",
            OrderStatus::Picking => "拣货中",
            OrderStatus::Ready => "待取货",
            OrderStatus::RiderAssigned => "骑手已接单",
            OrderStatus::PickedUp => "骑手已取货",
            OrderStatus::Delivering => "配送中",
            OrderStatus::Delivered => "已送达",
            OrderStatus::Cancelled => "已取消",
            OrderStatus::Refunded => "已退款",
        }
    }

    /// The next state on the delivery path, if any.
    pub fn next(self) -> Option<Self> {
        let i = OrderStatus::PATH.iter().position(|s| *s == self)?;
        OrderStatus::PATH.get(i + 1).copied()
    }

    /// A shopper may cancel until the rider has the goods.
    pub fn cancellable(self) -> bool {
        matches!(
            self,
            OrderStatus::PendingPayment
                | OrderStatus::Paid
                | OrderStatus::Accepted
                | OrderStatus::Picking
                | OrderStatus::Ready
                | OrderStatus::RiderAssigned
        )
    }

    /// Cancelling from here returns money (the order was paid).
    pub fn is_paid(self) -> bool {
        !matches!(
            self,
            OrderStatus::PendingPayment | OrderStatus::Cancelled | OrderStatus::Refunded
        )
    }
}

/// `POST /v1/orders` (with an `Idempotency-Key` header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrder {
    pub store_id: String,
    pub items: Vec<ItemInput>,
    pub address_id: String,
    /// `"asap"` or the RFC 3339 start of a 30-minute slot.
    pub slot: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub price_fen: i64,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub store_id: String,
    #[serde(default)]
    pub store_name: String,
    pub status: OrderStatus,
    pub items: Vec<OrderLine>,
    pub items_fen: i64,
    pub delivery_fee_fen: i64,
    pub total_fen: i64,
    pub address_id: String,
    pub slot: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// When an unpaid order lapses (RFC 3339, UTC); `None` once paid.
    pub pay_before: Option<String>,
    /// Minutes until delivery as last estimated (0 once delivered).
    #[serde(default)]
    pub eta_min: u32,
}

/// `GET /v1/orders`: the shopper's orders, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrdersResponse {
    pub orders: Vec<Order>,
}

/// Where the rider is (WGS-84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiderPosition {
    pub lat: f64,
    pub lng: f64,
}

/// One step of an order's progress, as `GET /v1/orders/{id}/events` sends it (SSE `id:` = `seq`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub seq: u64,
    pub status: OrderStatus,
    pub eta_min: u32,
    pub rider: Option<RiderPosition>,
    /// RFC 3339, UTC.
    pub at: String,
}

impl OrderStatus {
    /// No more events follow this one.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered | OrderStatus::Cancelled | OrderStatus::Refunded
        )
    }
}

/// `POST /v1/orders/{id}/pay`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayOrder {
    pub method: String,
}

/// An `Idempotency-Key` header value: 1–255 visible ASCII characters.
pub fn parse_idempotency_key(raw: Option<&str>) -> Result<String, ApiError> {
    let key = raw.map(str::trim).unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::bad_request(
            "下单请求缺少 Idempotency-Key 请求头（每次下单一个新的随机值）",
        ));
    }
    if key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "Idempotency-Key 应为 1–255 个可见 ASCII 字符",
        ));
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_path_advances_one_step_at_a_time() {
        assert_eq!(OrderStatus::Paid.next(), Some(OrderStatus::Accepted));
        assert_eq!(OrderStatus::Delivering.next(), Some(OrderStatus::Delivered));
        assert_eq!(OrderStatus::Delivered.next(), None);
        assert_eq!(OrderStatus::Cancelled.next(), None);
    }

    #[test]
    fn an_order_can_be_cancelled_only_before_pick_up() {
        assert!(OrderStatus::RiderAssigned.cancellable());
        assert!(!OrderStatus::PickedUp.cancellable());
        assert!(!OrderStatus::Delivered.cancellable());
        assert!(!OrderStatus::Cancelled.cancellable());
    }

    #[test]
    fn statuses_round_trip_as_snake_case() {
        for s in OrderStatus::PATH {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn idempotency_keys_must_be_present_and_printable() {
        assert!(parse_idempotency_key(None).is_err());
        assert!(parse_idempotency_key(Some("  ")).is_err());
        assert!(parse_idempotency_key(Some("a b")).is_err());
        assert!(parse_idempotency_key(Some(&"k".repeat(256))).is_err());
        assert_eq!(parse_idempotency_key(Some("3f2a-91")).unwrap(), "3f2a-91");
    }
}
