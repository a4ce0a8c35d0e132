//! Orders: placing one exactly once, its states, and what the shopper sees.

use serde::{Deserialize, Serialize};

use crate::cart::ItemInput;
use crate::error::ApiError;
use crate::text::{shown_text, TextRefusal};

/// Unpaid orders give their stock back after this long.
pub const PAYMENT_WINDOW_S: i64 = 15 * 60;

/// An unpaid order on something scarce (a share of a live pin's cap, a group's seat) holds it
/// only this long, so nobody sits on what a room or a group is waiting for; and a shopper holds
/// at most one such hold per pin or group.
pub const SCARCE_HOLD_S: i64 = 5 * 60;

/// After a hold on a pin or a seat went unpaid (it lapsed, or was cancelled), the same shopper
/// cannot take the same pin or seat again for this long (refused with `too_many_requests`).
pub const HOLD_COOLDOWN_S: i64 = 10 * 60;

/// Unpaid, unexpired orders one shopper may hold at once: the next order is refused with
/// `too_many_unpaid` (429), so one account cannot hold a product's whole stock.
pub const MAX_UNPAID_ORDERS: i64 = 3;

/// Length of a delivery slot; slots start on the hour or the half hour.
pub const SLOT_S: i64 = 30 * 60;
/// A delivery note (备注) for the store and the rider, in characters.
pub const MAX_NOTE_CHARS: usize = 100;
/// How long an order waits in `awaiting_shopper` for the shopper's answer; then what is still
/// unanswered ships as `ship_rest` would.
pub const SHORTAGE_ANSWER_S: i64 = 5 * 60;
/// Substitutes offered for one short line, at most.
pub const MAX_SUBSTITUTES: usize = 3;

/// When to deliver: as soon as possible, or in the 30-minute slot that starts at a time.
/// On the wire: `"asap"` or the slot's RFC 3339 start (sent back in UTC, `…Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Asap,
    /// The slot's start, Unix seconds, on a half-hour boundary.
    At(i64),
}

impl Slot {
    /// `"asap"`, or an RFC 3339 instant (any offset) on a half-hour boundary. Whether the store
    /// offers that slot now (lead time, hours, days ahead) needs a clock: the platform checks it.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_request("配送时间应为 \"asap\" 或某个半点时段的开始时间");
        if raw == "asap" {
            return Ok(Slot::Asap);
        }
        let start = parse_rfc3339(raw).ok_or_else(bad)?;
        // Beijing is UTC+8, so half hours line up in UTC and in the stores' time alike.
        if start.rem_euclid(SLOT_S) != 0 {
            return Err(bad());
        }
        Ok(Slot::At(start))
    }

    /// The slot's start (Unix seconds); `None` for "as soon as possible".
    pub fn start(self) -> Option<i64> {
        match self {
            Slot::Asap => None,
            Slot::At(t) => Some(t),
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slot::Asap => f.write_str("asap"),
            Slot::At(t) => f.write_str(&crate::time::format_utc(*t)),
        }
    }
}

impl Serialize for Slot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Slot::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Unix seconds from an RFC 3339 instant with `Z` or a `±HH:MM` offset; a fraction of a second
/// is allowed only if it is zero (slots start on whole seconds).
fn parse_rfc3339(raw: &str) -> Option<i64> {
    let (local, offset_s) = if let Some(local) = raw.strip_suffix(['Z', 'z']) {
        (local, 0)
    } else {
        let split = raw.len().checked_sub(6)?;
        let (local, offset) = (raw.get(..split)?, raw.get(split..)?.as_bytes());
        let sign = match offset[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let digits = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = std::str::from_utf8(offset.get(r)?).ok()?;
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let (h, m) = (digits(1..3)?, digits(4..6)?);
        if offset[3] != b':' || h > 23 || m > 59 {
            return None;
        }
        (local, sign * (h * 3600 + m * 60))
    };
    if let Some((_, fraction)) = local.split_once('.') {
        if fraction.is_empty() || fraction.bytes().any(|b| b != b'0') {
            return None;
        }
    }
    Some(crate::time::parse_utc(&format!("{local}Z"))? - offset_s)
}

/// How an order is paid. Only the sandbox exists: it always succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayMethod {
    Sandbox,
}

impl PayMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PayMethod::Sandbox => "sandbox",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        match raw {
            "sandbox" => Ok(PayMethod::Sandbox),
            _ => Err(ApiError::bad_request("这个平台只支持 sandbox 支付")),
        }
    }
}

impl Serialize for PayMethod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PayMethod {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        PayMethod::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

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
    /// Picking found lines short and the shopper asked to be asked (`Shortage::AskMe`): the order
    /// waits for their answer, at most `SHORTAGE_ANSWER_S`. Off the delivery path.
    AwaitingShopper,
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
            OrderStatus::AwaitingShopper => "awaiting_shopper",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        OrderStatus::PATH
            .into_iter()
            .chain([
                OrderStatus::Cancelled,
                OrderStatus::Refunded,
                OrderStatus::AwaitingShopper,
            ])
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
            OrderStatus::AwaitingShopper => "缺货待确认",
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
                | OrderStatus::AwaitingShopper
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
    pub slot: Slot,
    /// A delivery note (备注): plain text on one line, as comments are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What to do if the store's shelf is short of a line when it picks.
    #[serde(default)]
    pub shortage: Shortage,
}

/// The shopper's choice, at checkout, for a line the store finds short while picking (缺货).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shortage {
    /// Deliver what there is and refund what is short.
    #[default]
    ShipRest,
    /// Wait for the shopper: they take a substitute or refuse (refund), within
    /// `SHORTAGE_ANSWER_S`; unanswered lines then ship as `ShipRest`.
    AskMe,
    /// Cancel the whole order and refund all of it.
    CancelAll,
}

impl Shortage {
    pub const ALL: [Shortage; 3] = [Shortage::ShipRest, Shortage::AskMe, Shortage::CancelAll];

    pub fn as_str(self) -> &'static str {
        match self {
            Shortage::ShipRest => "ship_rest",
            Shortage::AskMe => "ask_me",
            Shortage::CancelAll => "cancel_all",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Shortage::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Why money went back (`Refund::reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// A line the shelf was short of: the units not delivered.
    Short,
    /// A cheaper substitute the shopper took: the difference.
    Substituted,
    /// Nothing was left to deliver, so the delivery fee too.
    DeliveryFee,
    /// The order was cancelled after payment (by the shopper, by `cancel_all`, or its group expired).
    Cancelled,
    /// An after-sales request was approved.
    AfterSales,
}

impl RefundReason {
    pub const ALL: [RefundReason; 5] = [
        RefundReason::Short,
        RefundReason::Substituted,
        RefundReason::DeliveryFee,
        RefundReason::Cancelled,
        RefundReason::AfterSales,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::Short => "short",
            RefundReason::Substituted => "substituted",
            RefundReason::DeliveryFee => "delivery_fee",
            RefundReason::Cancelled => "cancelled",
            RefundReason::AfterSales => "after_sales",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        RefundReason::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

/// Money paid back on an order: its own record, in fen, never more than was paid for its line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub fen: i64,
    pub reason: RefundReason,
    /// The line it is for; none for the delivery fee or a whole order's rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
}

/// A line the store came up short of while picking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortLine {
    pub sku: String,
    pub name: String,
    /// Units the shelf did not have.
    pub missing: u32,
    /// `None` while the shopper is asked; otherwise what happened to the missing units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ShortOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ShortOutcome {
    /// Refunded (the shopper refused, did not answer, or chose `ship_rest`/`cancel_all`).
    Refunded,
    /// Replaced by this substitute.
    Substituted { sku: String },
}

/// A substitute the platform proposes for a short line: same store, same aisle, in stock, at the
/// same price or lower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Substitute {
    pub for_sku: String,
    pub sku: String,
    pub name: String,
    pub price_fen: i64,
}

/// `POST /v1/orders/{id}/shortage`: the shopper's answer for one short line: a substitute's SKU,
/// or `null` to refuse (the missing units are refunded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortageAnswer {
    pub for_sku: String,
    pub sku: Option<String>,
}

/// `POST /v1/demo/orders/{id}/short` (demo mode only, the owner only, before picking): that line
/// comes up `missing` units short when the store picks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoShort {
    pub sku: String,
    pub missing: u32,
}

impl PlaceOrder {
    /// The note to keep: `None` when there is none (absent or blank), else trimmed and checked
    /// like a comment (no control or hiding characters, at most `MAX_NOTE_CHARS`).
    pub fn note(&self) -> Result<Option<String>, ApiError> {
        delivery_note(self.note.as_deref().unwrap_or(""))
    }
}

/// A delivery note as typed: `None` when blank, else the rules of [`PlaceOrder::note`].
pub fn delivery_note(raw: &str) -> Result<Option<String>, ApiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    match shown_text(raw, MAX_NOTE_CHARS) {
        Ok(text) => Ok(Some(text.to_owned())),
        // Only marks or other invisible letters: nothing a rider could read.
        Err(TextRefusal::Empty) => Err(ApiError::bad_request("备注里没有能看到的文字")),
        Err(TextRefusal::TooLong) => Err(ApiError::bad_request(format!(
            "备注最多 {MAX_NOTE_CHARS} 个字"
        ))),
        Err(TextRefusal::Control) => Err(ApiError::bad_request("备注不能包含控制字符或换行")),
        Err(TextRefusal::Hidden) => Err(ApiError::bad_request(
            "备注不能包含隐藏或改变文字方向的字符",
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub price_fen: i64,
    pub quantity: u32,
    /// Units the shelf was short of (not delivered).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub short: u32,
    /// The short line this one replaces, for a substitute the shopper took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute_for: Option<String>,
    /// The product's picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::catalog::Image>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An order event's `change`: what picking and refunds changed on the order, each field in full
/// as the order now carries it, so a page open on the order follows it live (`Order::apply`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderChange {
    pub items: Vec<OrderLine>,
    #[serde(default)]
    pub short: Vec<ShortLine>,
    #[serde(default)]
    pub substitutes: Vec<Substitute>,
    #[serde(default)]
    pub answer_before: Option<String>,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    #[serde(default)]
    pub refunded_fen: i64,
    /// A delivered order's after-sales requests, as the order carries them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_sales: Vec<crate::after_sales::AfterSales>,
}

impl OrderChange {
    /// Whether an after-sales request waits for a decision: more events will follow.
    pub fn in_review(&self) -> bool {
        self.after_sales
            .iter()
            .any(|a| a.status == crate::after_sales::AfterSalesStatus::Reviewing)
    }
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
    pub slot: Slot,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// When an unpaid order lapses (RFC 3339, UTC); `None` once paid.
    pub pay_before: Option<String>,
    /// Minutes until delivery as last estimated (0 once delivered).
    #[serde(default)]
    pub eta_min: u32,
    /// The group buy this order is a seat of (`GET /v1/groups/{id}`); absent for other orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The shopper's delivery note, if they left one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the shopper chose for a line the shelf is short of.
    #[serde(default)]
    pub shortage: Shortage,
    /// Lines the store came up short of while picking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short: Vec<ShortLine>,
    /// Offers open while the order is `awaiting_shopper`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub substitutes: Vec<Substitute>,
    /// Until when the shopper may answer (RFC 3339, UTC), while `awaiting_shopper`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_before: Option<String>,
    /// Money paid back, oldest first.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// The sum of `refunds`.
    #[serde(default)]
    pub refunded_fen: i64,
    /// After-sales requests made on it, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_sales: Vec<crate::after_sales::AfterSales>,
    /// The platform's clock when this answer was made (RFC 3339, UTC): the time left to pay
    /// (`pay_before`) is counted from it, so a phone whose clock is off still shows it right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
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
    /// The order's lines and money after this step, when the step changed them (a shortage
    /// found or answered, a refund).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<OrderChange>,
}

impl OrderEvent {
    /// Nothing follows this event: the order is finished and no after-sales request waits for a
    /// decision (a stream ends after it).
    pub fn is_last(&self) -> bool {
        self.status.is_final() && !self.change.as_ref().is_some_and(OrderChange::in_review)
    }
}

impl Order {
    /// The order after an event's `change`.
    pub fn apply(&mut self, change: OrderChange) {
        self.items = change.items;
        self.short = change.short;
        self.substitutes = change.substitutes;
        self.answer_before = change.answer_before;
        self.refunds = change.refunds;
        self.refunded_fen = change.refunded_fen;
        self.after_sales = change.after_sales;
    }

    /// What an event carries when its step changed the order's lines or money.
    pub fn change(&self) -> OrderChange {
        OrderChange {
            items: self.items.clone(),
            short: self.short.clone(),
            substitutes: self.substitutes.clone(),
            answer_before: self.answer_before.clone(),
            refunds: self.refunds.clone(),
            refunded_fen: self.refunded_fen,
            after_sales: self.after_sales.clone(),
        }
    }

    /// Fen the shopper has paid and not had back.
    pub fn kept_fen(&self) -> i64 {
        self.total_fen - self.refunded_fen
    }
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
    pub method: PayMethod,
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
    fn a_delivery_note_is_optional_one_line_and_visible() {
        assert_eq!(delivery_note(""), Ok(None));
        assert_eq!(delivery_note("  "), Ok(None));
        assert_eq!(
            delivery_note(" 放门口，别按门铃 🔔 "),
            Ok(Some("放门口，别按门铃 🔔".into()))
        );
        assert_eq!(
            delivery_note(&"好".repeat(MAX_NOTE_CHARS)).map(|n| n.map(|n| n.chars().count())),
            Ok(Some(MAX_NOTE_CHARS))
        );
        for bad in [
            "好".repeat(MAX_NOTE_CHARS + 1),
            "\u{200b}\u{200b}".into(),
            "放门口 \u{202e}gnp.exe".into(),
            "第一行\n第二行".into(),
        ] {
            let refused = delivery_note(&bad).expect_err(&bad);
            assert_eq!(refused.code, crate::ErrorCode::BadRequest, "{bad:?}");
        }
        // Absent on the wire is no note; an old client's body stays what it was.
        let body: PlaceOrder =
            serde_json::from_str(r#"{"store_id":"s","items":[],"address_id":"a","slot":"asap"}"#)
                .unwrap();
        assert_eq!(body.note().unwrap(), None);
        assert!(!serde_json::to_string(&body).unwrap().contains("note"));
    }

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
    fn slots_are_asap_or_a_half_hour_start_and_keep_their_wire_form() {
        assert_eq!(Slot::parse("asap"), Ok(Slot::Asap));
        let at = Slot::parse("2026-11-26T02:00:00Z").unwrap();
        assert_eq!(at, Slot::At(1_795_658_400));
        // The same instant in Beijing's offset; a zero fraction is harmless.
        assert_eq!(Slot::parse("2026-11-26T10:00:00+08:00"), Ok(at));
        assert_eq!(Slot::parse("2026-11-26T02:00:00.000Z"), Ok(at));
        assert_eq!(Slot::parse("2026-11-26T01:30:00-00:30"), Ok(at));
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            "\"2026-11-26T02:00:00Z\""
        );
        assert_eq!(serde_json::to_string(&Slot::Asap).unwrap(), "\"asap\"");
        assert_eq!(
            serde_json::from_str::<Slot>("\"2026-11-26T10:30:00+08:00\"").unwrap(),
            Slot::At(1_795_658_400 + SLOT_S)
        );
        for bad in [
            "",
            "ASAP",
            "tomorrow-ish",
            "2026-11-26T02:10:00Z",
            "2026-11-26T02:00:01Z",
            "2026-11-26T02:00:00.5Z",
            "2026-11-26T02:00:00",
            "2026-11-26T02:00:00+8:00",
            "2026-11-26T02:00:00+08:60",
            "2026-11-26 02:00:00Z",
        ] {
            assert_eq!(
                Slot::parse(bad).map_err(|e| e.code),
                Err(crate::ErrorCode::BadRequest),
                "{bad}"
            );
            assert!(serde_json::from_str::<Slot>(&format!("{bad:?}")).is_err());
        }
    }

    #[test]
    fn the_sandbox_is_the_only_pay_method() {
        let body: PayOrder = serde_json::from_str(r#"{"method":"sandbox"}"#).unwrap();
        assert_eq!(body.method, PayMethod::Sandbox);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"method":"sandbox"}"#
        );
        assert!(serde_json::from_str::<PayOrder>(r#"{"method":"alipay"}"#).is_err());
        assert!(PayMethod::parse("Sandbox").is_err());
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
