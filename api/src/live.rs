//! Live rooms (边看边买): the room, its pinned product, comments, likes, live buys and the room's
//! event stream, with the validation both sides use.
//!
//! The event stream (`GET /v1/live/rooms/{id}/events`, SSE) starts with a [`LiveEvent::Snapshot`]
//! and then sends changes. Durable events (pins, comments, hides, sales, status) carry an SSE id (the
//! room's event `seq`) and are replayed after `Last-Event-ID`; likes and viewer counts are coalesced
//! totals sent without an id (a missed one is superseded by the next). [`RoomView::apply`] folds
//! events into the room as a viewer sees it: the server's fan-out keeps its snapshot with it, and
//! the page updates with it.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorCode};
use crate::person::Person;
use crate::text::{shown_text, TextRefusal};

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 200;
/// Comments a snapshot carries (the newest).
pub const SNAPSHOT_COMMENTS: usize = 50;
/// Likes one request may carry: the client batches taps and sends at most once a second.
pub const MAX_LIKES_PER_BATCH: u32 = 100;
/// Largest quantity one live buy may take.
pub const MAX_LIVE_QUANTITY: u32 = 20;
/// Largest stock cap a host may set for a pin (and never more than the room's stores hold).
pub const MAX_STOCK_CAP: u32 = 100_000;
/// Products in a room's shopping bag (购物袋) at most.
pub const MAX_BAG_ITEMS: usize = 50;
/// The floor on live prices, as a share of the regular price: a host may cut a price to half,
/// never lower, so a mistyped "1" is refused rather than sold out at 1 fen.
pub const LIVE_PRICE_FLOOR_PERCENT: i64 = 50;

/// The lowest live price allowed for a product whose regular price is `regular_fen`
/// ([`LIVE_PRICE_FLOOR_PERCENT`] of it, rounded up to the fen).
pub fn live_price_floor(regular_fen: i64) -> i64 {
    (regular_fen * LIVE_PRICE_FLOOR_PERCENT + 99) / 100
}
/// A flash sale's countdown before it opens, in seconds.
pub const FLASH_COUNTDOWN_S: std::ops::RangeInclusive<u32> = 10..=300;
/// How long a flash sale stays open once it starts, in seconds (1–20 minutes).
pub const FLASH_LENGTH_S: std::ops::RangeInclusive<u32> = 60..=1200;
/// How long an ended flash sale stays the room's `flash` (shown as over, its SKU answering
/// `sale_ended`) before the product sells at its bag price again, in seconds.
pub const FLASH_SHOWN_AFTER_S: i64 = 300;

/// SSE event name of every live room event (the JSON says which kind).
pub const LIVE_EVENT: &str = "live";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomStatus {
    Scheduled,
    Live,
    Ended,
}

impl RoomStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomStatus::Scheduled => "scheduled",
            RoomStatus::Live => "live",
            RoomStatus::Ended => "ended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [RoomStatus::Scheduled, RoomStatus::Live, RoomStatus::Ended]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            RoomStatus::Scheduled => "未开播",
            RoomStatus::Live => "直播中",
            RoomStatus::Ended => "已结束",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
}

/// Where the room's video plays: WebRTC (WHEP) where the browser can, HLS otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whep: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hls: Option<String>,
}

/// The product the host has pinned, at its live price, with the room's cap and what it has sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub sku: String,
    pub name: String,
    /// The regular price (the lowest of the stores that carry it), struck out beside the live one.
    pub price_fen: i64,
    pub live_price_fen: i64,
    pub stock_cap: u32,
    pub sold: u32,
    /// What viewers can still buy in this room: the cap less what sold.
    pub stock_left: u32,
    #[serde(default)]
    pub image: Option<crate::catalog::Image>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveRoom {
    pub id: String,
    pub title: String,
    pub status: RoomStatus,
    pub host: Host,
    pub viewer_count: u64,
    pub likes: u64,
    pub playback: Option<Playback>,
    pub pinned: Option<Pin>,
    /// The host's message, shown above the comments.
    #[serde(default)]
    pub message: Option<String>,
    /// Whether slow mode is on (a longer gap between one viewer's comments).
    #[serde(default)]
    pub slow_mode: bool,
    /// Distance from the asking point to the nearest store that carries the room's products and
    /// delivers there, when the list was asked for a point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<u32>,
    /// The stores taking part in the room (ids): live buys route only to them, and each is paid
    /// its own price.
    #[serde(default)]
    pub stores: Vec<String>,
    /// The shopping bag (购物袋), in the host's order: every product viewers may buy here. The pin
    /// is the one being explained now; it may be in the bag or not, and shares its counts.
    #[serde(default)]
    pub bag: Vec<Pin>,
    /// The room's flash sale (秒杀): counting down, open, or over for [`FLASH_SHOWN_AFTER_S`].
    #[serde(default)]
    pub flash: Option<Flash>,
    /// When a scheduled room (预告) is to go live (RFC 3339, UTC); `None` for rooms without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// Shoppers who reserved the room (预约).
    #[serde(default)]
    pub reservations: u64,
    /// An ended room's recording (回放), with its pins and bag in time; `None` while the room is
    /// scheduled or live, and where there is no media server.
    #[serde(default)]
    pub replay: Option<Replay>,
}

/// An ended room's recording and what the host did in it, on one time base: seconds from
/// `started_at`, the wall-clock instant the room went live. The recording's HLS playlist marks
/// each segment with the wall clock too (`EXT-X-PROGRAM-DATE-TIME`), so a player maps
/// `started_at + at_s` to a point in the video even across gaps (no one publishing) and
/// restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    /// The recording's playlist (a VOD HLS playlist behind the shop's `/media`).
    pub hls: String,
    /// When the room went live (RFC 3339, UTC, milliseconds).
    pub started_at: String,
    /// The moments a product began to be explained (讲解), in order: product chapters.
    pub chapters: Vec<Chapter>,
    /// The pin and bag events of the broadcast, in order, for the shop beside the video.
    pub events: Vec<TimedEvent>,
}

/// The moment the host pinned `sku`, `at_s` seconds after the room went live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chapter {
    pub sku: String,
    pub at_s: u32,
}

/// A durable room event (`pinned`, `unpinned` or `bag`) `at_s` seconds after the room went live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedEvent {
    pub at_s: u32,
    pub event: LiveEvent,
}

impl Replay {
    /// Whether an event belongs in a replay's timeline: what the host showed for sale.
    pub fn keeps(event: &LiveEvent) -> bool {
        matches!(
            event,
            LiveEvent::Pinned { .. } | LiveEvent::Unpinned { .. } | LiveEvent::Bag { .. }
        )
    }

    /// The product chapters of a timeline: each time the pin changed to another product (a
    /// `pinned` event that only updates the current pin's counts is not a chapter).
    pub fn chapters_of(events: &[TimedEvent]) -> Vec<Chapter> {
        let mut current: Option<&str> = None;
        let mut chapters = Vec::new();
        for e in events {
            match &e.event {
                LiveEvent::Pinned { pin } => {
                    if current != Some(pin.sku.as_str()) {
                        chapters.push(Chapter {
                            sku: pin.sku.clone(),
                            at_s: e.at_s,
                        });
                    }
                    current = Some(pin.sku.as_str());
                }
                LiveEvent::Unpinned { sku } if current == Some(sku.as_str()) => current = None,
                _ => {}
            }
        }
        chapters
    }

    /// The pin and the bag as they were `at_s` seconds in: the timeline folded up to then.
    pub fn shop_at(&self, at_s: f64) -> (Option<Pin>, Vec<Pin>) {
        let mut pinned: Option<Pin> = None;
        let mut bag: Vec<Pin> = Vec::new();
        for e in self.events.iter().take_while(|e| f64::from(e.at_s) <= at_s) {
            match &e.event {
                LiveEvent::Pinned { pin } => pinned = Some(pin.clone()),
                LiveEvent::Unpinned { sku } if pinned.as_ref().is_some_and(|p| &p.sku == sku) => {
                    pinned = None;
                }
                LiveEvent::Bag { bag: b } => bag = b.clone(),
                _ => {}
            }
        }
        (pinned, bag)
    }

    /// The product `sku` as the host last showed it in the broadcast (name, picture, regular
    /// price), for a chapter's label.
    pub fn product(&self, sku: &str) -> Option<&Pin> {
        self.events.iter().rev().find_map(|e| match &e.event {
            LiveEvent::Pinned { pin } if pin.sku == sku => Some(pin),
            LiveEvent::Bag { bag } => bag.iter().find(|p| p.sku == sku),
            _ => None,
        })
    }
}

/// `POST /v1/live/rooms/{id}/reservations` (signed in): the caller's reservation of a scheduled
/// room, and how many shoppers have reserved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub room_id: String,
    pub starts_at: Option<String>,
    pub reservations: u64,
}

/// A flash sale on one of the bag's products: its own price, cap and per-shopper limit, open from
/// `starts_at` to `ends_at` on the platform's clock. While it is the room's `flash`, every buy of
/// its SKU in the room is a flash buy: before `starts_at` → `409 not_started`, from `ends_at` →
/// `409 sale_ended`, past the cap → `409 sold_out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub id: String,
    pub sku: String,
    pub name: String,
    /// RFC 3339, UTC.
    pub starts_at: String,
    /// RFC 3339, UTC.
    pub ends_at: String,
    pub price_fen: i64,
    /// The regular price (the lowest of the room's stores that carry it).
    pub regular_price_fen: i64,
    pub cap: u32,
    pub per_shopper: u32,
    pub sold: u32,
    #[serde(default)]
    pub image: Option<crate::catalog::Image>,
}

/// Where a flash sale stands at an instant (Unix seconds on the platform's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashPhase {
    /// Counting down to the start.
    Soon,
    Open,
    SoldOut,
    Ended,
    /// Over for longer than [`FLASH_SHOWN_AFTER_S`]: no longer the room's flash sale.
    Gone,
}

impl Flash {
    /// The phase at `now` (Unix seconds); `Gone` for times that do not parse.
    pub fn phase(&self, now: i64) -> FlashPhase {
        let (Some(starts), Some(ends)) = (
            crate::time::parse_utc(&self.starts_at),
            crate::time::parse_utc(&self.ends_at),
        ) else {
            return FlashPhase::Gone;
        };
        flash_phase(starts, ends, self.sold >= self.cap, now)
    }

    /// The refusal a buy of the flash's SKU gets at `now`, if it is refused by time or cap.
    pub fn refusal(&self, now: i64) -> Option<ApiError> {
        flash_refusal(self.phase(now))
    }

    /// The flash sale as a pin, for the buy sheet: its price, its cap and what is left of it.
    pub fn as_pin(&self) -> Pin {
        Pin {
            sku: self.sku.clone(),
            name: self.name.clone(),
            price_fen: self.regular_price_fen,
            live_price_fen: self.price_fen,
            stock_cap: self.cap,
            sold: self.sold,
            stock_left: self.cap.saturating_sub(self.sold).min(self.per_shopper),
            image: self.image.clone(),
        }
    }
}

/// A flash sale's phase from its times (Unix seconds) and whether its cap is spent.
pub fn flash_phase(starts_at: i64, ends_at: i64, sold_out: bool, now: i64) -> FlashPhase {
    if now >= ends_at.saturating_add(FLASH_SHOWN_AFTER_S) {
        FlashPhase::Gone
    } else if now >= ends_at {
        FlashPhase::Ended
    } else if now < starts_at {
        FlashPhase::Soon
    } else if sold_out {
        FlashPhase::SoldOut
    } else {
        FlashPhase::Open
    }
}

/// What a buy in each phase gets: `None` while open (or gone: the bag's rules apply).
pub fn flash_refusal(phase: FlashPhase) -> Option<ApiError> {
    match phase {
        FlashPhase::Open | FlashPhase::Gone => None,
        FlashPhase::Soon => Some(ApiError::new(
            ErrorCode::NotStarted,
            "秒杀还没开始，倒计时结束后再抢",
        )),
        FlashPhase::SoldOut => Some(ApiError::new(ErrorCode::SoldOut, "秒杀已抢光")),
        FlashPhase::Ended => Some(ApiError::new(ErrorCode::SaleEnded, "秒杀已结束")),
    }
}

/// `POST /v1/live/rooms/{id}/flash` (host only): a flash sale on a bag item, opening after
/// `countdown_s` and lasting `length_s`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFlash {
    pub sku: String,
    pub price_fen: i64,
    pub cap: u32,
    pub per_shopper: u32,
    pub countdown_s: u32,
    pub length_s: u32,
}

impl NewFlash {
    /// What needs no data: the ranges. The price and cap against the room's stores are checked
    /// as a pin's are ([`NewFlash::as_new_pin`]).
    pub fn validate(&self) -> Result<(), ApiError> {
        self.as_new_pin().validate()?;
        if self.per_shopper == 0 || self.per_shopper > MAX_LIVE_QUANTITY {
            return Err(ApiError::bad_request(format!(
                "每人限购应在 1 到 {MAX_LIVE_QUANTITY} 件之间"
            )));
        }
        if !FLASH_COUNTDOWN_S.contains(&self.countdown_s) {
            return Err(ApiError::bad_request(format!(
                "倒计时应在 {} 到 {} 秒之间",
                FLASH_COUNTDOWN_S.start(),
                FLASH_COUNTDOWN_S.end()
            )));
        }
        if !FLASH_LENGTH_S.contains(&self.length_s) {
            return Err(ApiError::bad_request(format!(
                "秒杀时长应在 {} 到 {} 分钟之间",
                FLASH_LENGTH_S.start() / 60,
                FLASH_LENGTH_S.end() / 60
            )));
        }
        Ok(())
    }

    /// The price and cap as a pin's, checked the same way against the room's stores.
    pub fn as_new_pin(&self) -> NewPin {
        NewPin {
            sku: self.sku.clone(),
            live_price_fen: self.price_fen,
            stock_cap: self.cap,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomsResponse {
    pub rooms: Vec<LiveRoom>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    /// A shopper by their phone's last digits, or the host.
    pub author: Person,
    /// Plain text, shown as text (never as markup).
    pub text: String,
    /// RFC 3339, UTC.
    pub at: String,
}

/// One sale, as the ticker shows it: "尾号 1234 刚刚买了 2 件".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    pub sku: String,
    pub buyer: Person,
    pub quantity: u32,
    /// What the buyer paid for the goods at the live price (no delivery fee), in fen.
    #[serde(default)]
    pub amount_fen: i64,
}

/// What a room's stream sends. Tagged by `"type"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// The room as it is now, with the newest comments (oldest first). Always first.
    /// Boxed: the room is many times the size of any other event.
    Snapshot {
        room: Box<LiveRoom>,
        comments: Vec<Comment>,
        /// The platform's time as the snapshot was sent (RFC 3339, UTC): a page counts a flash
        /// sale down on the platform's clock, not the device's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        now: Option<String>,
    },
    Status {
        status: RoomStatus,
    },
    Pinned {
        pin: Pin,
    },
    Unpinned {
        sku: String,
    },
    /// The whole bag after the host changed it (added, removed, reordered, repriced).
    Bag {
        bag: Vec<Pin>,
    },
    Comment {
        comment: Comment,
    },
    CommentHidden {
        id: u64,
    },
    Message {
        message: Option<String>,
    },
    SlowMode {
        on: bool,
    },
    /// A live buy: the pin's new counts (the flash sale's, for a flash buy) and the ticker line.
    Sale {
        sale: Sale,
        sold: u32,
        stock_left: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        flash: bool,
    },
    /// A flash sale started, or its count changed (an unpaid flash order gave its units back).
    Flash {
        flash: Flash,
    },
    /// Coalesced totals: sent at most a few times a second, with no SSE id.
    Stats {
        likes: u64,
        viewer_count: u64,
    },
}

impl LiveEvent {
    /// Whether the event is kept and replayed after `Last-Event-ID` (it then carries an id).
    pub fn is_durable(&self) -> bool {
        !matches!(self, LiveEvent::Stats { .. } | LiveEvent::Snapshot { .. })
    }
}

/// A room as a viewer sees it: the room, the visible comments (newest last) and the last sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub room: LiveRoom,
    pub comments: Vec<Comment>,
    pub last_sale: Option<Sale>,
}

impl RoomView {
    pub fn new(room: LiveRoom, comments: Vec<Comment>) -> Self {
        Self {
            room,
            comments,
            last_sale: None,
        }
    }

    /// Folds one event in. A snapshot replaces everything.
    pub fn apply(&mut self, event: &LiveEvent) {
        match event {
            LiveEvent::Snapshot { room, comments, .. } => {
                *self = RoomView::new((**room).clone(), comments.clone());
            }
            LiveEvent::Status { status } => self.room.status = *status,
            LiveEvent::Pinned { pin } => {
                // One product, one row: the bag shows the pin's price and cap too.
                if let Some(item) = self.room.bag.iter_mut().find(|b| b.sku == pin.sku) {
                    *item = pin.clone();
                }
                self.room.pinned = Some(pin.clone());
            }
            LiveEvent::Bag { bag } => {
                if let Some(pin) = self.room.pinned.as_mut() {
                    if let Some(item) = bag.iter().find(|b| b.sku == pin.sku) {
                        *pin = item.clone();
                    }
                }
                self.room.bag = bag.clone();
            }
            LiveEvent::Unpinned { sku } => {
                if self.room.pinned.as_ref().is_some_and(|p| &p.sku == sku) {
                    self.room.pinned = None;
                }
            }
            LiveEvent::Comment { comment } => {
                self.comments.push(comment.clone());
                let excess = self.comments.len().saturating_sub(SNAPSHOT_COMMENTS);
                self.comments.drain(..excess);
            }
            LiveEvent::CommentHidden { id } => self.comments.retain(|c| c.id != *id),
            LiveEvent::Message { message } => self.room.message = message.clone(),
            LiveEvent::SlowMode { on } => self.room.slow_mode = *on,
            LiveEvent::Sale {
                sale,
                sold,
                flash: true,
                ..
            } => {
                if let Some(f) = self.room.flash.as_mut().filter(|f| f.sku == sale.sku) {
                    f.sold = *sold;
                }
                self.last_sale = Some(sale.clone());
            }
            LiveEvent::Flash { flash } => self.room.flash = Some(flash.clone()),
            LiveEvent::Sale {
                sale,
                sold,
                stock_left,
                flash: false,
            } => {
                let pin = self.room.pinned.as_mut().filter(|p| p.sku == sale.sku);
                let item = self.room.bag.iter_mut().find(|b| b.sku == sale.sku);
                for counts in pin.into_iter().chain(item) {
                    counts.sold = *sold;
                    counts.stock_left = *stock_left;
                }
                self.last_sale = Some(sale.clone());
            }
            LiveEvent::Stats {
                likes,
                viewer_count,
            } => {
                self.room.likes = *likes;
                self.room.viewer_count = *viewer_count;
            }
        }
    }

    /// The snapshot event that stands for this view, sent at `now` on the platform's clock.
    pub fn snapshot(&self, now: Option<String>) -> LiveEvent {
        LiveEvent::Snapshot {
            room: Box::new(self.room.clone()),
            comments: self.comments.clone(),
            now,
        }
    }
}

/// `POST /v1/live/rooms/{id}/comments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewComment {
    pub text: String,
}

impl NewComment {
    /// The comment's text to keep: trimmed, not empty, at most `MAX_COMMENT_CHARS` characters, no
    /// control characters. Markup is allowed as text: it is escaped wherever it is shown.
    pub fn validate(&self) -> Result<String, ApiError> {
        match shown_text(&self.text, MAX_COMMENT_CHARS) {
            Ok(text) => Ok(text.to_owned()),
            Err(TextRefusal::Empty) => Err(ApiError::bad_request("评论不能为空")),
            Err(TextRefusal::TooLong) => Err(ApiError::bad_request(format!(
                "评论最多 {MAX_COMMENT_CHARS} 个字"
            ))),
            Err(TextRefusal::Control) => Err(ApiError::bad_request("评论不能包含控制字符或换行")),
            Err(TextRefusal::Hidden) => Err(ApiError::bad_request(
                "评论不能包含隐藏或改变文字方向的字符",
            )),
        }
    }
}

/// `POST /v1/live/rooms/{id}/likes`: taps since the last batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LikeBatch {
    pub count: u32,
}

impl LikeBatch {
    pub fn validate(&self) -> Result<u32, ApiError> {
        if self.count == 0 || self.count > MAX_LIKES_PER_BATCH {
            return Err(ApiError::bad_request(format!(
                "一次最多点赞 {MAX_LIKES_PER_BATCH} 下"
            )));
        }
        Ok(self.count)
    }
}

/// `POST /v1/live/rooms/{id}/pins` (host only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPin {
    pub sku: String,
    pub live_price_fen: i64,
    pub stock_cap: u32,
}

impl NewPin {
    /// Checks what needs no data: a price above zero and a cap in range. That the live price is
    /// below the product's regular price needs the catalogue: see [`NewPin::check_against`].
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.sku.trim().is_empty() || self.sku.len() > 64 {
            return Err(ApiError::bad_request("商品编号无效"));
        }
        if self.live_price_fen <= 0 {
            return Err(ApiError::bad_request("直播价必须大于 0"));
        }
        if self.stock_cap == 0 || self.stock_cap > MAX_STOCK_CAP {
            return Err(ApiError::bad_request(format!(
                "直播库存应在 1 到 {MAX_STOCK_CAP} 件之间"
            )));
        }
        Ok(())
    }

    /// What is wrong with the price or the cap against the room's stores, if anything: the live
    /// price must be below the regular price (the lowest of the room's stores that carry it) and
    /// not below [`live_price_floor`] of it; the cap may not exceed `held`, what those stores hold.
    pub fn refusal(&self, regular_fen: i64, held: u32) -> Option<PinRefusal> {
        let floor_fen = live_price_floor(regular_fen);
        if self.live_price_fen >= regular_fen {
            Some(PinRefusal::NotBelowRegular { regular_fen })
        } else if self.live_price_fen < floor_fen {
            Some(PinRefusal::BelowFloor { floor_fen })
        } else if self.stock_cap > held {
            Some(PinRefusal::OverStock { held })
        } else {
            None
        }
    }

    /// [`NewPin::refusal`] as the platform answers it: 400 with the reason.
    pub fn check_against(&self, regular_fen: i64, held: u32) -> Result<(), ApiError> {
        match self.refusal(regular_fen, held) {
            None => Ok(()),
            Some(PinRefusal::NotBelowRegular { regular_fen }) => {
                Err(ApiError::bad_request(format!(
                    "直播价应低于日常价 {}",
                    crate::money::format_yuan(regular_fen)
                )))
            }
            Some(PinRefusal::BelowFloor { floor_fen }) => Err(ApiError::bad_request(format!(
                "直播价不能低于日常价的 {LIVE_PRICE_FLOOR_PERCENT}%（{}）",
                crate::money::format_yuan(floor_fen)
            ))),
            Some(PinRefusal::OverStock { held }) => Err(ApiError::bad_request(format!(
                "直播库存不能超过参与门店的库存 {held} 件"
            ))),
        }
    }
}

/// Why a pin's price or cap cannot stand, with the figure to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinRefusal {
    NotBelowRegular { regular_fen: i64 },
    BelowFloor { floor_fen: i64 },
    OverStock { held: u32 },
}

/// `POST /v1/live/rooms/{id}/orders` (Idempotency-Key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveOrderRequest {
    pub sku: String,
    pub quantity: u32,
    pub address_id: String,
}

impl LiveOrderRequest {
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.sku.trim().is_empty() || self.sku.len() > 64 {
            return Err(ApiError::bad_request("商品编号无效"));
        }
        if self.quantity == 0 || self.quantity > MAX_LIVE_QUANTITY {
            return Err(ApiError::bad_request(format!(
                "数量应在 1 到 {MAX_LIVE_QUANTITY} 件之间"
            )));
        }
        if self.address_id.trim().is_empty() {
            return Err(ApiError::bad_request("请选择收货地址"));
        }
        Ok(())
    }
}

/// `GET /v1/live/rooms/{id}/quote?sku=&quantity=&address_id=`: which store a live buy of that
/// quantity to that address would come from now, and when it would arrive. Nothing is reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveQuote {
    pub store_id: String,
    pub store_name: String,
    pub eta_min: u32,
    pub distance_m: u32,
    pub delivery_fee_fen: i64,
    /// The price of one: the live price (or the flash sale's), or from a replay, that store's own.
    #[serde(default)]
    pub unit_price_fen: i64,
}

/// No store in reach of the address has the product.
pub fn not_deliverable() -> ApiError {
    ApiError::new(
        ErrorCode::NotDeliverable,
        "附近没有能配送到这个地址、且有货的门店，换个地址试试",
    )
}

/// `PUT /v1/live/rooms/{id}/viewers`: one server instance's viewers of the room now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerReport {
    pub instance: String,
    pub count: u64,
}

/// `PUT /v1/live/rooms/{id}/bag` (host only): the whole bag, in order. Each item is priced and
/// capped as a pin is ([`NewPin`]); products left out leave the bag (a pin stays pinned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutBag {
    pub items: Vec<NewPin>,
}

impl PutBag {
    /// What needs no data: at most [`MAX_BAG_ITEMS`], each SKU once, each item as a pin.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.items.len() > MAX_BAG_ITEMS {
            return Err(ApiError::bad_request(format!(
                "购物袋最多放 {MAX_BAG_ITEMS} 件商品"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for item in &self.items {
            item.validate()?;
            if !seen.insert(item.sku.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "商品 {} 在购物袋里出现了两次",
                    item.sku
                )));
            }
        }
        Ok(())
    }
}

/// `POST /v1/live/rooms/{id}/status` (host only): go live or end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: RoomStatus,
}

impl ViewerReport {
    /// An instance name of 1–64 visible characters and a plausible count.
    pub fn validate(&self) -> Result<(), ApiError> {
        let name = self.instance.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(ApiError::bad_request("instance 应为 1 到 64 个字符"));
        }
        if self.count > 10_000_000 {
            return Err(ApiError::bad_request("观看人数不合理"));
        }
        Ok(())
    }
}

/// Longest host message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 100;

/// `PUT /v1/live/rooms/{id}/settings` (host only): the message above the comments and slow mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSettings {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub slow_mode: bool,
}

impl RoomSettings {
    /// The message to keep: trimmed, blank means none, at most `MAX_MESSAGE_CHARS` characters,
    /// no control characters (markup is text, as in comments).
    pub fn validate(&self) -> Result<Option<String>, ApiError> {
        // No message at all is "none"; a message of only invisible characters is refused.
        let Some(raw) = self.message.as_deref().filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        match shown_text(raw, MAX_MESSAGE_CHARS) {
            Ok(text) => Ok(Some(text.to_owned())),
            Err(TextRefusal::Empty) => Err(ApiError::bad_request("公告里没有看得见的文字")),
            Err(TextRefusal::TooLong) => Err(ApiError::bad_request(format!(
                "公告最多 {MAX_MESSAGE_CHARS} 个字"
            ))),
            Err(TextRefusal::Control) => Err(ApiError::bad_request("公告不能包含控制字符或换行")),
            Err(TextRefusal::Hidden) => Err(ApiError::bad_request(
                "公告不能包含隐藏或改变文字方向的字符",
            )),
        }
    }
}

/// Where the host's video goes in: the browser's camera over WHIP, and where the console asks
/// for an RTMP address and stream key for OBS. The key is never stored: the media gateway makes
/// a random one each time the room's RTMP listener starts, and only that one is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ingest {
    pub whip_url: String,
    /// `POST` here (the room's host only) → [`RtmpEndpoint`].
    pub rtmp_request_url: String,
}

/// Where OBS sends a room's video: what the media gateway's `POST /rtmp/{room}` answers (through
/// the shop, `POST /media/rtmp/{room}`, for the room's host only). The key is this broadcast's
/// (random, new each time the room's listener starts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtmpEndpoint {
    pub rtmp_url: String,
    pub stream_key: String,
}

/// One SKU's live sales in a room (orders not cancelled or expired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuSales {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    /// What viewers paid at the live price.
    pub revenue_fen: i64,
    /// What the brand pays the stores on top: each store's own price less the live price.
    #[serde(default)]
    pub subsidy_fen: i64,
}

/// What one of the room's stores sold in it (orders not cancelled or expired). The store is paid
/// `revenue_fen + subsidy_fen`: its own price for every unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSales {
    pub store_id: String,
    pub store_name: String,
    pub quantity: u32,
    pub revenue_fen: i64,
    pub subsidy_fen: i64,
}

/// A product the host may pin: its regular price, how many of the room's stores carry it, and
/// how many units they hold between them (the most a cap may be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    pub sku: String,
    pub name: String,
    /// The regular price: the lowest among the room's stores that carry it.
    pub price_fen: i64,
    pub stores: u32,
    #[serde(default)]
    pub stock: u32,
}

/// `GET /v1/live/rooms/{id}/host` (host only): the room, where to push video, what sold, and
/// what can be pinned (`?q=` filters the catalogue by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConsole {
    pub room: LiveRoom,
    /// `null` when the platform has no media server configured.
    pub ingest: Option<Ingest>,
    pub sales: Vec<SkuSales>,
    /// The same sales by store.
    #[serde(default)]
    pub by_store: Vec<StoreSales>,
    pub revenue_fen: i64,
    #[serde(default)]
    pub subsidy_fen: i64,
    pub catalogue: Vec<CatalogueEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> LiveRoom {
        LiveRoom {
            id: "live_1".into(),
            title: "t".into(),
            status: RoomStatus::Live,
            host: Host { name: "h".into() },
            viewer_count: 0,
            likes: 0,
            playback: None,
            pinned: None,
            message: None,
            slow_mode: false,
            distance_m: None,
            stores: vec![],
            bag: vec![],
            flash: None,
            starts_at: None,
            reservations: 0,
            replay: None,
        }
    }

    fn pin() -> Pin {
        Pin {
            sku: "s1".into(),
            name: "n".into(),
            price_fen: 1000,
            live_price_fen: 800,
            stock_cap: 30,
            sold: 0,
            stock_left: 30,
            image: None,
        }
    }

    #[test]
    fn comments_are_trimmed_bounded_and_markup_is_kept_as_text() {
        let c = |t: &str| NewComment { text: t.into() }.validate();
        assert!(c("").is_err());
        assert!(c("   ").is_err());
        assert!(c(&"好".repeat(201)).is_err());
        assert_eq!(c(&"好".repeat(200)).unwrap().chars().count(), 200);
        assert!(c("a\nb").is_err());
        assert_eq!(
            c(" <img src=x onerror=alert(1)> ").unwrap(),
            "<img src=x onerror=alert(1)>"
        );
    }

    #[test]
    fn comments_and_messages_that_hide_or_reorder_text_are_refused() {
        let c = |t: &str| NewComment { text: t.into() }.validate();
        let m = |t: &str| {
            RoomSettings {
                message: Some(t.into()),
                slow_mode: false,
            }
            .validate()
        };
        for bad in [
            "\u{200b}\u{200b}",
            "领取红包 \u{202e}gnp.exe",
            "\u{feff}",
            "免\u{200b}费",
        ] {
            let err = c(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{bad:?}");
            assert_eq!(m(bad).unwrap_err().code, ErrorCode::BadRequest, "{bad:?}");
        }
        assert!(c("\u{200b}\u{200b}")
            .unwrap_err()
            .message
            .contains("不能为空"));
        assert!(c("领取红包 \u{202e}gnp.exe")
            .unwrap_err()
            .message
            .contains("隐藏"));
        assert_eq!(
            c("全家 👨\u{200d}👩\u{200d}👧").unwrap(),
            "全家 👨\u{200d}👩\u{200d}👧"
        );
        assert_eq!(m("🔥 今晚 8 点").unwrap(), Some("🔥 今晚 8 点".into()));
    }

    #[test]
    fn a_pin_needs_a_price_above_zero_below_the_regular_one_and_a_cap() {
        let p = |price, cap| NewPin {
            sku: "s".into(),
            live_price_fen: price,
            stock_cap: cap,
        };
        assert!(p(0, 10).validate().is_err());
        assert!(p(-1, 10).validate().is_err());
        assert!(p(100, 0).validate().is_err());
        assert!(p(100, MAX_STOCK_CAP + 1).validate().is_err());
        assert!(p(100, 10).validate().is_ok());
        assert_eq!(
            p(1000, 10).refusal(1000, 50),
            Some(PinRefusal::NotBelowRegular { regular_fen: 1000 })
        );
        assert_eq!(p(999, 10).refusal(1000, 50), None);
        assert!(p(999, 10).check_against(1000, 50).is_ok());
    }

    #[test]
    fn a_bag_holds_at_most_fifty_products_each_once() {
        let item = |n: usize| NewPin {
            sku: format!("s{n}"),
            live_price_fen: 100,
            stock_cap: 10,
        };
        let bag = |n: usize| PutBag {
            items: (0..n).map(item).collect(),
        };
        assert!(bag(0).validate().is_ok());
        assert!(bag(MAX_BAG_ITEMS).validate().is_ok());
        assert!(bag(MAX_BAG_ITEMS + 1).validate().is_err());
        let twice = PutBag {
            items: vec![item(1), item(2), item(1)],
        };
        assert!(twice.validate().is_err());
        let zero_cap = PutBag {
            items: vec![NewPin {
                stock_cap: 0,
                ..item(1)
            }],
        };
        assert!(zero_cap.validate().is_err());
    }

    #[test]
    fn the_bag_shares_the_pins_counts_in_the_view() {
        let mut view = RoomView::new(room(), vec![]);
        let p = pin();
        let other = Pin {
            sku: "s2".into(),
            ..pin()
        };
        view.apply(&LiveEvent::Pinned { pin: p.clone() });
        view.apply(&LiveEvent::Bag {
            bag: vec![other.clone(), p.clone()],
        });
        assert_eq!(view.room.bag.len(), 2);
        view.apply(&LiveEvent::Sale {
            sale: Sale {
                sku: p.sku.clone(),
                buyer: Person::Shopper {
                    last_digits: "1234".into(),
                },
                quantity: 2,
                amount_fen: 100,
            },
            sold: 7,
            flash: false,
            stock_left: 3,
        });
        assert_eq!(view.room.bag[1].sold, 7);
        assert_eq!(view.room.pinned.as_ref().map(|p| p.stock_left), Some(3));
        // A re-pin at a new price shows in the bag, and a bag change in the pin.
        let repriced = Pin {
            live_price_fen: p.live_price_fen - 1,
            ..p.clone()
        };
        view.apply(&LiveEvent::Pinned {
            pin: repriced.clone(),
        });
        assert_eq!(view.room.bag[1], repriced);
        let recapped = Pin {
            stock_cap: p.stock_cap + 5,
            ..repriced
        };
        view.apply(&LiveEvent::Bag {
            bag: vec![recapped.clone()],
        });
        assert_eq!(view.room.pinned, Some(recapped));
        let wire = serde_json::to_value(LiveEvent::Bag { bag: vec![] }).expect("json");
        assert_eq!(wire, serde_json::json!({ "type": "bag", "bag": [] }));
    }

    #[test]
    fn a_live_price_has_a_floor_and_a_cap_is_bounded_by_what_the_stores_hold() {
        let p = |price, cap| NewPin {
            sku: "s".into(),
            live_price_fen: price,
            stock_cap: cap,
        };
        // Half of the regular price, rounded up to the fen.
        assert_eq!(live_price_floor(1000), 500);
        assert_eq!(live_price_floor(999), 500);
        assert_eq!(live_price_floor(1), 1);
        assert_eq!(p(500, 10).refusal(1000, 10), None);
        assert_eq!(
            p(499, 10).refusal(1000, 10),
            Some(PinRefusal::BelowFloor { floor_fen: 500 })
        );
        // The attack the floor is for: 1 fen, a cap of 100,000.
        assert_eq!(
            p(1, MAX_STOCK_CAP).refusal(1000, 120),
            Some(PinRefusal::BelowFloor { floor_fen: 500 })
        );
        assert_eq!(
            p(800, 121).refusal(1000, 120),
            Some(PinRefusal::OverStock { held: 120 })
        );
        assert!(p(800, 121).check_against(1000, 120).is_err());
    }

    #[test]
    fn events_fold_into_the_view_and_the_wire_shape_is_tagged() {
        let mut view = RoomView::new(room(), vec![]);
        view.apply(&LiveEvent::Pinned { pin: pin() });
        view.apply(&LiveEvent::Sale {
            sale: Sale {
                sku: "s1".into(),
                buyer: Person::shopper("0001"),
                quantity: 2,
                amount_fen: 1600,
            },
            sold: 2,
            stock_left: 28,
            flash: false,
        });
        assert_eq!(view.room.pinned.as_ref().unwrap().stock_left, 28);
        for id in 0..60 {
            view.apply(&LiveEvent::Comment {
                comment: Comment {
                    id,
                    author: Person::shopper("0002"),
                    text: "t".into(),
                    at: "2026-11-26T00:00:00Z".into(),
                },
            });
        }
        assert_eq!(view.comments.len(), SNAPSHOT_COMMENTS);
        view.apply(&LiveEvent::CommentHidden { id: 59 });
        assert_eq!(view.comments.last().unwrap().id, 58);
        view.apply(&LiveEvent::Unpinned { sku: "s1".into() });
        assert!(view.room.pinned.is_none());
        let json = serde_json::to_value(LiveEvent::Stats {
            likes: 3,
            viewer_count: 2,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "stats", "likes": 3, "viewer_count": 2})
        );
        assert!(!LiveEvent::Stats {
            likes: 0,
            viewer_count: 0
        }
        .is_durable());
    }

    #[test]
    fn a_live_buy_needs_a_sku_a_sane_quantity_and_an_address() {
        let r = |q, a: &str| LiveOrderRequest {
            sku: "s".into(),
            quantity: q,
            address_id: a.into(),
        };
        assert!(r(0, "a").validate().is_err());
        assert!(r(MAX_LIVE_QUANTITY + 1, "a").validate().is_err());
        assert!(r(1, " ").validate().is_err());
        assert!(r(2, "a").validate().is_ok());
    }

    #[test]
    fn settings_messages_are_trimmed_bounded_and_blank_means_none() {
        let s = |m: Option<&str>| {
            RoomSettings {
                message: m.map(str::to_owned),
                slow_mode: true,
            }
            .validate()
        };
        assert_eq!(s(None), Ok(None));
        assert_eq!(s(Some("  ")), Ok(None));
        assert_eq!(s(Some(" 今晚 8 点 ")), Ok(Some("今晚 8 点".into())));
        assert!(s(Some(&"好".repeat(101))).is_err());
        assert!(s(Some("a\u{7}b")).is_err());
        let v = |i: &str, c| {
            ViewerReport {
                instance: i.into(),
                count: c,
            }
            .validate()
        };
        assert!(v("web-1", 3).is_ok());
        assert!(v(" ", 3).is_err());
        assert!(v("web-1", 20_000_000).is_err());
    }

    fn flash(starts: &str, ends: &str) -> Flash {
        Flash {
            id: "fl_1".into(),
            sku: "s1".into(),
            name: "n".into(),
            starts_at: starts.into(),
            ends_at: ends.into(),
            price_fen: 600,
            regular_price_fen: 1000,
            cap: 10,
            per_shopper: 2,
            sold: 0,
            image: None,
        }
    }

    #[test]
    fn a_flash_sale_refuses_before_zero_after_the_end_and_past_its_cap() {
        let start = crate::time::parse_utc("2026-12-07T10:00:00Z").unwrap();
        let mut f = flash("2026-12-07T10:00:00Z", "2026-12-07T10:01:00Z");
        let code = |f: &Flash, at: i64| f.refusal(at).map(|e| e.code);
        assert_eq!(code(&f, start - 1), Some(ErrorCode::NotStarted));
        assert_eq!(code(&f, start), None);
        assert_eq!(code(&f, start + 59), None);
        assert_eq!(code(&f, start + 60), Some(ErrorCode::SaleEnded));
        assert_eq!(
            f.phase(start + 60 + FLASH_SHOWN_AFTER_S - 1),
            FlashPhase::Ended
        );
        // Long over: no longer the room's flash sale, the bag's rules apply again.
        assert_eq!(f.phase(start + 60 + FLASH_SHOWN_AFTER_S), FlashPhase::Gone);
        assert_eq!(code(&f, start + 60 + FLASH_SHOWN_AFTER_S), None);
        f.sold = 10;
        assert_eq!(code(&f, start + 1), Some(ErrorCode::SoldOut));
        assert_eq!(code(&f, start - 1), Some(ErrorCode::NotStarted));
        assert_eq!(
            flash("garbage", "2026-12-07T10:01:00Z").phase(start),
            FlashPhase::Gone
        );
        for code in [
            ErrorCode::NotStarted,
            ErrorCode::SaleEnded,
            ErrorCode::LimitReached,
        ] {
            assert_eq!(code.http_status(), 409);
        }
        assert_eq!(
            serde_json::to_value(ErrorCode::NotStarted).unwrap(),
            serde_json::json!("not_started")
        );
        assert_eq!(
            serde_json::to_value(ErrorCode::SaleEnded).unwrap(),
            serde_json::json!("sale_ended")
        );
    }

    #[test]
    fn a_new_flash_sale_is_checked_for_its_ranges() {
        let ok = NewFlash {
            sku: "s1".into(),
            price_fen: 500,
            cap: 100,
            per_shopper: 2,
            countdown_s: 10,
            length_s: 60,
        };
        assert!(ok.validate().is_ok());
        let bad = [
            NewFlash {
                countdown_s: 9,
                ..ok.clone()
            },
            NewFlash {
                countdown_s: 301,
                ..ok.clone()
            },
            NewFlash {
                length_s: 59,
                ..ok.clone()
            },
            NewFlash {
                length_s: 1201,
                ..ok.clone()
            },
            NewFlash {
                per_shopper: 0,
                ..ok.clone()
            },
            NewFlash {
                per_shopper: MAX_LIVE_QUANTITY + 1,
                ..ok.clone()
            },
            NewFlash {
                cap: 0,
                ..ok.clone()
            },
            NewFlash {
                price_fen: 0,
                ..ok.clone()
            },
            NewFlash {
                sku: " ".into(),
                ..ok.clone()
            },
        ];
        for b in bad {
            assert_eq!(
                b.validate().unwrap_err().code,
                ErrorCode::BadRequest,
                "{b:?}"
            );
        }
        // The price and cap against the stores are a pin's: under the floor is refused.
        assert_eq!(
            ok.as_new_pin().refusal(1200, 1000),
            Some(PinRefusal::BelowFloor { floor_fen: 600 })
        );
    }

    #[test]
    fn a_flash_buy_counts_against_the_flash_sale_not_the_pin() {
        let mut view = RoomView::new(
            LiveRoom {
                pinned: Some(pin()),
                bag: vec![pin()],
                flash: Some(flash("2026-12-07T10:00:00Z", "2026-12-07T10:01:00Z")),
                ..room()
            },
            vec![],
        );
        view.apply(&LiveEvent::Sale {
            sale: Sale {
                sku: "s1".into(),
                buyer: Person::shopper("0001"),
                quantity: 2,
                amount_fen: 1200,
            },
            sold: 2,
            stock_left: 8,
            flash: true,
        });
        assert_eq!(view.room.flash.as_ref().map(|f| f.sold), Some(2));
        assert_eq!(view.room.pinned.as_ref().map(|p| p.sold), Some(0));
        assert_eq!(view.room.bag[0].sold, 0);
        // A flash sale's pin for the buy sheet offers at most the per-shopper limit.
        let f = view.room.flash.clone().unwrap();
        assert_eq!((f.as_pin().live_price_fen, f.as_pin().stock_left), (600, 2));
        // A plain sale event (no `flash` field) still parses as a pin's.
        let old: LiveEvent = serde_json::from_value(serde_json::json!({
            "type": "sale", "sale": {"sku": "s1", "buyer": {"kind": "shopper", "last_digits": "0001"}, "quantity": 1},
            "sold": 1, "stock_left": 29
        }))
        .unwrap();
        assert!(matches!(old, LiveEvent::Sale { flash: false, .. }));
    }

    #[test]
    fn a_replay_has_a_chapter_per_product_explained_and_folds_the_shop_in_time() {
        let at = |at_s, event| TimedEvent { at_s, event };
        let b = Pin {
            sku: "s2".into(),
            ..pin()
        };
        let events = vec![
            at(
                0,
                LiveEvent::Bag {
                    bag: vec![pin(), b.clone()],
                },
            ),
            at(5, LiveEvent::Pinned { pin: pin() }),
            // The same pin's counts after a sale gone back: no new chapter.
            at(
                9,
                LiveEvent::Pinned {
                    pin: Pin { sold: 1, ..pin() },
                },
            ),
            at(20, LiveEvent::Pinned { pin: b.clone() }),
            at(30, LiveEvent::Unpinned { sku: "s2".into() }),
            at(40, LiveEvent::Pinned { pin: b.clone() }),
        ];
        assert!(events.iter().all(|e| Replay::keeps(&e.event)));
        assert!(!Replay::keeps(&LiveEvent::Status {
            status: RoomStatus::Ended
        }));
        let chapters = Replay::chapters_of(&events);
        let got: Vec<(&str, u32)> = chapters.iter().map(|c| (c.sku.as_str(), c.at_s)).collect();
        assert_eq!(got, [("s1", 5), ("s2", 20), ("s2", 40)]);
        let replay = Replay {
            hls: "/media/replay/live_1/index.m3u8".into(),
            started_at: "2026-12-07T02:00:00.000Z".into(),
            chapters,
            events,
        };
        let (pinned, bag) = replay.shop_at(4.9);
        assert_eq!((pinned, bag.len()), (None, 2));
        assert_eq!(replay.shop_at(9.0).0.map(|p| p.sold), Some(1));
        assert_eq!(replay.shop_at(25.0).0.map(|p| p.sku), Some("s2".to_owned()));
        assert_eq!(replay.shop_at(35.0).0, None);
        assert_eq!(replay.product("s1").map(|p| p.sold), Some(1));
        assert_eq!(replay.product("nope"), None);
        // The wire shape: `replay: {hls, started_at, chapters: [{sku, at_s}], events: [{at_s, event}]}`.
        let json = serde_json::to_value(&replay).unwrap();
        assert_eq!(
            json["chapters"][1],
            serde_json::json!({"sku": "s2", "at_s": 20})
        );
        assert_eq!(json["events"][4]["event"]["type"], "unpinned");
        assert_eq!(serde_json::from_value::<Replay>(json).unwrap(), replay);
    }
}
