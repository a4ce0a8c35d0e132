//! Group buy (拼团): a store offers a product at a group price for groups of 2–5 shoppers. One
//! shopper starts a group (their order at the group price), others join with their own orders,
//! and once every seat is paid the group forms and all its orders are delivered together. A group
//! that does not fill by its deadline expires: every member's order is refunded or cancelled.
//!
//! The event stream (`GET /v1/groups/{id}/events`, SSE) starts with a [`GroupEvent::Snapshot`] and
//! then sends changes with ids; [`Group::apply`] folds them into the group as a page shows it.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorCode};
use crate::orders::{Order, OrderStatus};
use crate::person::Person;

/// The smallest and the largest group a store may offer.
pub const MIN_GROUP_SIZE: u32 = 2;
pub const MAX_GROUP_SIZE: u32 = 5;
/// How long a group has to fill, unless the platform is configured otherwise.
pub const DEFAULT_GROUP_TTL_S: i64 = 24 * 3600;
/// SSE event name of every group event (the JSON says which kind).
pub const GROUP_EVENT: &str = "group";
/// Longest store id, SKU or address id a request may carry.
const MAX_ID_LEN: usize = 64;

/// A store's group-buy offer on one product: `"group": {"size", "price_fen"}` in `Product`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOffer {
    /// Shoppers per group, the starter included: 2–5.
    pub size: u32,
    /// What each member pays for the product, below its regular price.
    pub price_fen: i64,
}

impl GroupOffer {
    /// A size of 2–5 and a group price above zero and below the store's regular price.
    pub fn validate(&self, regular_price_fen: i64) -> Result<(), ApiError> {
        if !(MIN_GROUP_SIZE..=MAX_GROUP_SIZE).contains(&self.size) {
            return Err(ApiError::bad_request(format!(
                "拼团人数应在 {MIN_GROUP_SIZE} 到 {MAX_GROUP_SIZE} 人之间"
            )));
        }
        if self.price_fen <= 0 || self.price_fen >= regular_price_fen {
            return Err(ApiError::bad_request(format!(
                "拼团价应大于 0 且低于日常价 {}",
                crate::money::format_yuan(regular_price_fen)
            )));
        }
        Ok(())
    }
}

/// forming → formed → fulfilled, or forming → expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStatus {
    /// Seats are being taken and paid (joinable once the starter has paid).
    Forming,
    /// Every seat is paid: the members' orders are on their way.
    Formed,
    /// Every member's order has reached its end (delivered, or refunded after forming).
    Fulfilled,
    /// The deadline passed before the group filled (or the starter never paid): nobody is charged.
    Expired,
}

impl GroupStatus {
    pub const ALL: [GroupStatus; 4] = [
        GroupStatus::Forming,
        GroupStatus::Formed,
        GroupStatus::Fulfilled,
        GroupStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Forming => "forming",
            GroupStatus::Formed => "formed",
            GroupStatus::Fulfilled => "fulfilled",
            GroupStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        GroupStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            GroupStatus::Forming => "拼团中",
            GroupStatus::Formed => "已成团",
            GroupStatus::Fulfilled => "已完成",
            GroupStatus::Expired => "未成团",
        }
    }

    /// No more events follow.
    pub fn is_final(self) -> bool {
        matches!(self, GroupStatus::Fulfilled | GroupStatus::Expired)
    }
}

/// A member as anyone may see them: a masked name ("尾号 1234"), never a phone or an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// The member's place in the group, 1 for the starter; not reused when a seat frees.
    pub seat: u32,
    pub name: Person,
    pub paid: bool,
    /// The shopper who started the group.
    pub initiator: bool,
}

/// `GET /v1/groups/{id}`: a group as its page shows it (no sign-in needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub status: GroupStatus,
    pub size: u32,
    /// Seats not taken: the size less the members holding a seat (paid or not).
    pub seats_left: u32,
    /// The members holding a seat, by seat.
    pub members: Vec<GroupMember>,
    /// When an unfilled group expires (RFC 3339, UTC).
    pub deadline: String,
    pub group_price_fen: i64,
    pub regular_price_fen: i64,
    pub sku: String,
    pub store_id: String,
    pub product_name: String,
    /// The product's picture (also the shared group's `og:image`).
    #[serde(default)]
    pub product_image: Option<crate::catalog::Image>,
    /// The product's unit ("瓶", "盒").
    pub unit: String,
    pub store_name: String,
    /// Whether another shopper can join now: forming, the starter has paid, a seat is free and
    /// the deadline has not passed.
    pub joinable: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// When the last seat was paid (RFC 3339, UTC).
    #[serde(default)]
    pub formed_at: Option<String>,
    /// When the orders of a group that formed while its store was closed go out: the store's
    /// next opening (RFC 3339, UTC). Absent when they went out at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ships_at: Option<String>,
    /// The platform's clock when this answer was made (on `GET` and in snapshots): a countdown
    /// runs from it, so a phone whose clock is off still shows the right time left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
}

/// Seats not taken in a group of `size` with `held` members holding one.
pub fn seats_left(size: u32, held: u32) -> u32 {
    size.saturating_sub(held)
}

/// Whether a group takes another member: forming, opened by the starter's payment, a free seat.
/// (The platform also checks the deadline against its clock.)
pub fn joinable(status: GroupStatus, starter_paid: bool, seats_left: u32) -> bool {
    status == GroupStatus::Forming && starter_paid && seats_left > 0
}

impl Group {
    fn starter_paid(&self) -> bool {
        self.members.iter().any(|m| m.initiator && m.paid)
    }

    fn refresh(&mut self) {
        self.seats_left = seats_left(self.size, self.members.len() as u32);
        self.joinable = joinable(self.status, self.starter_paid(), self.seats_left);
    }

    /// Folds one event in. A snapshot replaces everything.
    pub fn apply(&mut self, event: &GroupEvent) {
        match event {
            GroupEvent::Snapshot { group } => {
                *self = (**group).clone();
                return;
            }
            GroupEvent::MemberJoined { member } => {
                self.members.retain(|m| m.seat != member.seat);
                self.members.push(member.clone());
                self.members.sort_by_key(|m| m.seat);
            }
            GroupEvent::MemberPaid { member } => {
                if let Some(m) = self.members.iter_mut().find(|m| m.seat == member.seat) {
                    *m = member.clone();
                }
            }
            GroupEvent::MemberLeft { seat } => self.members.retain(|m| m.seat != *seat),
            GroupEvent::SeatsLeft { .. } => {}
            GroupEvent::Formed { at, ships_at } => {
                self.status = GroupStatus::Formed;
                self.formed_at = Some(at.clone());
                self.ships_at = ships_at.clone();
            }
            GroupEvent::Expired { .. } => self.status = GroupStatus::Expired,
            GroupEvent::Fulfilled { .. } => self.status = GroupStatus::Fulfilled,
        }
        self.refresh();
        // The event's own count is the platform's: it wins over the fold.
        if let GroupEvent::SeatsLeft { seats_left } = event {
            self.seats_left = *seats_left;
            self.joinable = joinable(self.status, self.starter_paid(), self.seats_left);
        }
    }
}

/// What a group's stream sends. Tagged by `"type"`; every event but the snapshot is durable (it
/// has an SSE id and is replayed after `Last-Event-ID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GroupEvent {
    /// The group as it is now. First on a fresh stream. (Boxed: the other events are small.)
    Snapshot { group: Box<Group> },
    /// Someone took a seat (their order is not paid yet).
    MemberJoined { member: GroupMember },
    /// A member paid: `member` as they are now.
    MemberPaid { member: GroupMember },
    /// A seat freed: its order was not paid in time, or was cancelled.
    MemberLeft { seat: u32 },
    /// Seats not taken, after a join or a seat freed.
    SeatsLeft { seats_left: u32 },
    /// The last seat was paid: the orders go out, at once or (the store was closed) at
    /// `ships_at`, its next opening.
    Formed {
        at: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ships_at: Option<String>,
    },
    /// The deadline passed unfilled (or the starter never paid): `refunded` paid orders were
    /// refunded, the rest cancelled. Final.
    Expired { at: String, refunded: u32 },
    /// Every member's order has reached its end. Final.
    Fulfilled { at: String },
}

impl GroupEvent {
    /// Nothing follows this event on a stream.
    pub fn is_final(&self) -> bool {
        match self {
            GroupEvent::Expired { .. } | GroupEvent::Fulfilled { .. } => true,
            GroupEvent::Snapshot { group } => group.status.is_final(),
            _ => false,
        }
    }
}

fn check_id(raw: &str, what: &str) -> Result<(), ApiError> {
    let v = raw.trim();
    if v.is_empty() || v.len() > MAX_ID_LEN || v.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("{what}无效")));
    }
    Ok(())
}

/// `POST /v1/groups` (with an `Idempotency-Key`): start a group on a store's offer.
///
/// `size` and `price_fen` are optional: the offer decides them. A client that sends them says
/// "the offer I showed the shopper"; if the offer is not that any more, the request is refused
/// rather than charged at another price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGroup {
    pub store_id: String,
    pub sku: String,
    pub address_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_fen: Option<i64>,
}

impl NewGroup {
    /// What needs no data: ids present and short, an expected size and price in range if given.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_id(&self.store_id, "门店编号")?;
        check_id(&self.sku, "商品编号")?;
        if self.address_id.trim().is_empty() {
            return Err(ApiError::bad_request("请选择收货地址"));
        }
        check_id(&self.address_id, "收货地址")?;
        if self
            .size
            .is_some_and(|s| !(MIN_GROUP_SIZE..=MAX_GROUP_SIZE).contains(&s))
        {
            return Err(ApiError::bad_request(format!(
                "拼团人数应在 {MIN_GROUP_SIZE} 到 {MAX_GROUP_SIZE} 人之间"
            )));
        }
        if self.price_fen.is_some_and(|p| p <= 0) {
            return Err(ApiError::bad_request("拼团价必须大于 0"));
        }
        Ok(())
    }

    /// The expected size and price, when sent, must be the offer's.
    pub fn check_offer(&self, offer: &GroupOffer) -> Result<(), ApiError> {
        let size_differs = self.size.is_some_and(|s| s != offer.size);
        let price_differs = self.price_fen.is_some_and(|p| p != offer.price_fen);
        if size_differs || price_differs {
            return Err(ApiError::new(
                ErrorCode::InvalidState,
                format!(
                    "拼团活动已变为 {} 人团、每人 {}，请刷新后再试",
                    offer.size,
                    crate::money::format_yuan(offer.price_fen)
                ),
            ));
        }
        Ok(())
    }
}

/// `POST /v1/groups/{id}/join` (with an `Idempotency-Key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGroup {
    pub address_id: String,
}

impl JoinGroup {
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.address_id.trim().is_empty() {
            return Err(ApiError::bad_request("请选择收货地址"));
        }
        check_id(&self.address_id, "收货地址")
    }
}

/// The answer to starting or joining: the group (as of that moment) and the shopper's own order,
/// to pay through `POST /v1/orders/{id}/pay`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupOrder {
    pub group: Group,
    pub order: Order,
}

/// One of the shopper's groups, with their own order in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyGroup {
    pub group: Group,
    pub order_id: String,
    pub order_status: OrderStatus,
}

/// `GET /v1/me/groups`: the shopper's groups, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyGroupsResponse {
    pub groups: Vec<MyGroup>,
}

/// The shopper already holds a seat in the group.
pub fn already_member() -> ApiError {
    ApiError::new(ErrorCode::AlreadyMember, "你已经在这个团里了，不用重复参团")
}

/// Every seat is taken.
pub fn group_full() -> ApiError {
    ApiError::new(
        ErrorCode::GroupFull,
        "这个团已经满员了，你可以自己发起一个拼团",
    )
}

/// Why a group takes nobody: not yet open, formed, or over.
pub fn group_closed(status: GroupStatus, opened: bool) -> ApiError {
    let message = match status {
        GroupStatus::Forming if !opened => "团长还没付款，这个团还不能参加，请稍后再来",
        GroupStatus::Forming | GroupStatus::Expired => "这个拼团已结束，你可以自己发起一个拼团",
        GroupStatus::Formed | GroupStatus::Fulfilled => "这个团已经拼成了，你可以自己发起一个拼团",
    };
    ApiError::new(ErrorCode::GroupClosed, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(seat: u32, paid: bool) -> GroupMember {
        GroupMember {
            seat,
            name: Person::shopper(&format!("000{seat}")),
            paid,
            initiator: seat == 1,
        }
    }

    fn group() -> Group {
        Group {
            id: "grp_1".into(),
            status: GroupStatus::Forming,
            size: 3,
            seats_left: 2,
            members: vec![member(1, false)],
            deadline: "2026-11-26T04:00:00Z".into(),
            group_price_fen: 800,
            regular_price_fen: 1000,
            sku: "P1".into(),
            store_id: "bj00001".into(),
            product_name: "n".into(),
            product_image: None,
            unit: "瓶".into(),
            store_name: "s".into(),
            ships_at: None,
            joinable: false,
            created_at: "2026-11-25T04:00:00Z".into(),
            formed_at: None,
            now: None,
        }
    }

    #[test]
    fn an_offer_needs_two_to_five_seats_and_a_price_below_the_regular_one() {
        let o = |size, price_fen| GroupOffer { size, price_fen };
        assert!(o(2, 999).validate(1000).is_ok());
        assert!(o(5, 1).validate(1000).is_ok());
        for bad in [
            o(1, 900),
            o(6, 900),
            o(3, 1000),
            o(3, 1200),
            o(3, 0),
            o(3, -5),
        ] {
            assert_eq!(
                bad.validate(1000).unwrap_err().code,
                ErrorCode::BadRequest,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_new_group_needs_ids_and_an_expected_offer_must_match() {
        let g = |store: &str, sku: &str, addr: &str| NewGroup {
            store_id: store.into(),
            sku: sku.into(),
            address_id: addr.into(),
            size: None,
            price_fen: None,
        };
        assert!(g("bj00001", "P1", "adr_1").validate().is_ok());
        assert!(g("", "P1", "adr_1").validate().is_err());
        assert!(g("bj00001", " ", "adr_1").validate().is_err());
        assert!(g("bj00001", "P1", "").validate().is_err());
        assert!(g(&"x".repeat(65), "P1", "adr_1").validate().is_err());
        assert!(g("bj00001", "P\n1", "adr_1").validate().is_err());
        let sized = |size, price_fen| NewGroup {
            size,
            price_fen,
            ..g("bj00001", "P1", "adr_1")
        };
        assert!(sized(Some(6), None).validate().is_err());
        assert!(sized(None, Some(0)).validate().is_err());
        let offer = GroupOffer {
            size: 3,
            price_fen: 800,
        };
        assert!(sized(None, None).check_offer(&offer).is_ok());
        assert!(sized(Some(3), Some(800)).check_offer(&offer).is_ok());
        for stale in [sized(Some(2), None), sized(None, Some(700))] {
            let e = stale.check_offer(&offer).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidState);
            assert!(e.message.contains("3 人团"), "{}", e.message);
        }
        // Unknown fields are ignored, like every request body; size and price are optional.
        let parsed: NewGroup = serde_json::from_str(
            r#"{"store_id":"bj00001","sku":"P1","address_id":"adr_1","colour":"red"}"#,
        )
        .unwrap();
        assert_eq!(parsed, g("bj00001", "P1", "adr_1"));
        assert_eq!(
            serde_json::to_string(&parsed).unwrap(),
            r#"{"store_id":"bj00001","sku":"P1","address_id":"adr_1"}"#
        );
        assert!(JoinGroup {
            address_id: " ".into()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn statuses_round_trip_and_only_fulfilled_and_expired_are_final() {
        for s in GroupStatus::ALL {
            assert_eq!(GroupStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!(!GroupStatus::Forming.is_final());
        assert!(!GroupStatus::Formed.is_final());
        assert!(GroupStatus::Fulfilled.is_final());
        assert!(GroupStatus::Expired.is_final());
        assert_eq!(GroupStatus::parse("open"), None);
    }

    #[test]
    fn events_fold_into_the_group_and_the_wire_shape_is_tagged() {
        let mut g = group();
        assert!(!g.joinable, "the starter has not paid");
        g.apply(&GroupEvent::MemberPaid {
            member: member(1, true),
        });
        assert!(g.joinable);
        g.apply(&GroupEvent::MemberJoined {
            member: member(2, false),
        });
        g.apply(&GroupEvent::SeatsLeft { seats_left: 1 });
        assert_eq!((g.seats_left, g.joinable), (1, true));
        g.apply(&GroupEvent::MemberJoined {
            member: member(3, false),
        });
        assert_eq!((g.seats_left, g.joinable), (0, false));
        g.apply(&GroupEvent::MemberLeft { seat: 3 });
        assert_eq!(g.seats_left, 1);
        assert_eq!(g.members.iter().map(|m| m.seat).collect::<Vec<_>>(), [1, 2]);
        g.apply(&GroupEvent::MemberJoined {
            member: member(4, false),
        });
        g.apply(&GroupEvent::MemberPaid {
            member: member(2, true),
        });
        g.apply(&GroupEvent::MemberPaid {
            member: member(4, true),
        });
        g.apply(&GroupEvent::Formed {
            at: "2026-11-25T05:00:00Z".into(),
            ships_at: Some("2026-11-26T00:00:00Z".into()),
        });
        assert_eq!(g.status, GroupStatus::Formed);
        assert_eq!(g.ships_at.as_deref(), Some("2026-11-26T00:00:00Z"));
        assert!(!g.joinable);
        assert!(g.members.iter().all(|m| m.paid));
        let fulfilled = GroupEvent::Fulfilled {
            at: "2026-11-25T06:00:00Z".into(),
        };
        assert!(fulfilled.is_final());
        g.apply(&fulfilled);
        assert_eq!(g.status, GroupStatus::Fulfilled);
        let snap = GroupEvent::Snapshot {
            group: Box::new(group()),
        };
        assert!(!snap.is_final());
        g.apply(&snap);
        assert_eq!(g, group());
        assert_eq!(
            serde_json::to_value(GroupEvent::SeatsLeft { seats_left: 2 }).unwrap(),
            serde_json::json!({"type": "seats_left", "seats_left": 2})
        );
        assert_eq!(
            serde_json::to_value(GroupEvent::Expired {
                at: "2026-11-26T04:00:00Z".into(),
                refunded: 1
            })
            .unwrap(),
            serde_json::json!({"type": "expired", "at": "2026-11-26T04:00:00Z", "refunded": 1})
        );
    }

    #[test]
    fn refusals_carry_their_codes_and_statuses() {
        assert_eq!(already_member().http_status(), 409);
        assert_eq!(group_full().code, ErrorCode::GroupFull);
        assert!(group_full().message.contains("自己发起"));
        assert_eq!(group_full().http_status(), 409);
        let not_open = group_closed(GroupStatus::Forming, false);
        assert_eq!(not_open.code, ErrorCode::GroupClosed);
        assert!(not_open.message.contains("团长还没付款"));
        assert_eq!(group_closed(GroupStatus::Expired, true).http_status(), 409);
        assert!(group_closed(GroupStatus::Formed, true)
            .message
            .contains("拼成"));
        assert_eq!(
            serde_json::to_value(ErrorCode::AlreadyMember).unwrap(),
            "already_member"
        );
        assert_eq!(
            serde_json::to_value(ErrorCode::GroupClosed).unwrap(),
            "group_closed"
        );
    }

    #[test]
    fn seats_left_never_underflows() {
        assert_eq!(seats_left(3, 1), 2);
        assert_eq!(seats_left(3, 3), 0);
        assert_eq!(seats_left(3, 4), 0);
        assert!(joinable(GroupStatus::Forming, true, 1));
        assert!(!joinable(GroupStatus::Forming, false, 1));
        assert!(!joinable(GroupStatus::Forming, true, 0));
        assert!(!joinable(GroupStatus::Expired, true, 1));
    }
}
