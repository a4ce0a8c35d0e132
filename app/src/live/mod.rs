//! Live rooms (边看边买): `/live` (the list, in `list`, which also has the home page's strip),
//! `/live/:id` (the viewer, in `viewer`; an ended room's replay, in `replay`) and `/live/:id/host` (the host console, in `host`).
//! The pages are server HTML; the live part of each is one lazy island that follows the room's
//! event stream (`stream`) and folds every event into a `RoomView` with `RoomView::apply`.
//! The video (the viewer's player, the host's camera) is in `video`.
//!
//! The pure pieces both islands use (formatting, the like batcher, the host's sales book, yuan
//! input) are here, with their tests.

mod host;
mod list;
mod reminder;
mod replay;
mod video;
mod viewer;
mod widget;

pub use host::HostConsolePage;
pub use list::{LiveListPage, LiveStrip, RoomCard};
pub use reminder::ReservedRoomLive;
pub use viewer::LiveRoomPage;
pub use widget::WidgetOrigins;

use jishi_api::live::{LiveEvent, Pin, RoomView, Sale, MAX_LIKES_PER_BATCH};
use serde::{Deserialize, Serialize};

use crate::i18n::td_string;
use crate::lang::Locale;

/// The room's event stream through the server's fan-out.
#[cfg(feature = "hydrate")]
pub(crate) fn room_events_url(room_id: &str) -> String {
    crate::api_client::api_url(&jishi_api::routes::LIVE_EVENTS.path(&[room_id]))
}

/// The sales ticker's line: "尾号 1234 刚刚买了 2 件" / "ending 1234 just bought 2".
pub fn ticker_line(sale: &Sale, l: Locale) -> String {
    td_string!(
        l,
        live.ticker,
        buyer = crate::lang::person_name(&sale.buyer, l),
        quantity = sale.quantity
    )
}

/// Viewer and like counts as apps print them: "986", "1.2万", "35万" in Chinese; "986", "12.3K",
/// "1.2M" in English.
pub fn format_count(n: u64, l: Locale) -> String {
    let (unit, suffix) = match l {
        Locale::zh_CN => (10_000, "万"),
        Locale::en if n >= 1_000_000 => (1_000_000, "M"),
        Locale::en => (1_000, "K"),
    };
    if n < unit {
        return n.to_string();
    }
    // Tenths of the unit below a hundred of it, rounded down so a count never looks larger than
    // it is.
    let tenths = n / (unit / 10);
    if tenths.is_multiple_of(10) || n >= 100 * unit {
        format!("{}{suffix}", n / unit)
    } else {
        format!("{}.{}{suffix}", tenths / 10, tenths % 10)
    }
}

/// What is left of a pin, as the card says it.
pub fn stock_text(left: u32, l: Locale) -> String {
    if left == 0 {
        td_string!(l, live.stock.sold_out).to_owned()
    } else if left <= 10 {
        td_string!(l, live.stock.only_left, left = left)
    } else {
        td_string!(l, live.stock.left, left = left)
    }
}

/// A price typed in yuan ("12", "12.5", "12.50", "¥9.9") as fen. `None` for anything else
/// (negative, more than two decimals, not a number). Money never goes through a float.
pub fn parse_yuan(input: &str) -> Option<i64> {
    let s = input.trim().trim_start_matches(['¥', '￥']).trim();
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) || frac.len() > 2 || whole.len() > 9 {
        return None;
    }
    let yuan: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fen: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    Some(yuan * 100 + fen)
}

/// Fen as the price inputs show them: "12.50" for 1250, "12" for 1200 (no currency sign).
pub fn yuan_input(fen: i64) -> String {
    jishi_api::money::format_yuan(fen).replacen('¥', "", 1)
}

/// A default live price to start the host's input with: 10 % off (rounded down to 10 fen from
/// ¥1 up), always below the regular price.
pub fn suggested_live_price(regular_fen: i64) -> i64 {
    let mut p = regular_fen * 9 / 10;
    if regular_fen >= 100 {
        p = p / 10 * 10;
    }
    p.clamp(1, (regular_fen - 1).max(1))
}

/// [`RoomView::apply`], except that a comment already shown is not added twice: the page shows
/// its own comment as soon as the platform accepts it, and the stream then brings it again.
pub fn apply_event(view: &mut RoomView, event: &LiveEvent) {
    if let LiveEvent::Comment { comment } = event {
        if view.comments.iter().any(|c| c.id == comment.id) {
            return;
        }
    }
    view.apply(event);
}

/// Likes, batched: a tap shows at once; taps are sent at most once a second, one request in
/// flight at a time, at most `MAX_LIKES_PER_BATCH` per request. The count shown never goes down
/// (likes only grow): a `Stats` total lower than what this page has shown is one that does not
/// yet include this page's taps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LikeBatcher {
    shown: u64,
    pending: u32,
    in_flight: u32,
    last_sent_ms: Option<f64>,
    timer: bool,
}

/// The least time between two like requests.
pub const LIKE_INTERVAL_MS: f64 = 1_000.0;

impl LikeBatcher {
    pub fn new(likes: u64) -> Self {
        Self {
            shown: likes,
            ..Self::default()
        }
    }

    /// The count to show.
    pub fn shown(&self) -> u64 {
        self.shown
    }

    /// Taps not yet sent or not yet answered.
    pub fn unsent(&self) -> u32 {
        self.pending + self.in_flight
    }

    /// A tap. `Some(delay)`: set a timer for `delay` ms, then call [`LikeBatcher::take`].
    pub fn tap(&mut self, now_ms: f64) -> Option<f64> {
        self.shown += 1;
        self.pending = self.pending.saturating_add(1);
        self.schedule(now_ms)
    }

    /// A `Stats` total from the stream.
    pub fn stats(&mut self, likes: u64) {
        self.shown = self.shown.max(likes + u64::from(self.unsent()));
    }

    /// The timer fired: the count to send now (and the request is in flight), if any.
    pub fn take(&mut self, now_ms: f64) -> Option<u32> {
        self.timer = false;
        if self.pending == 0 || self.in_flight > 0 {
            return None;
        }
        let n = self.pending.min(MAX_LIKES_PER_BATCH);
        self.pending -= n;
        self.in_flight = n;
        self.last_sent_ms = Some(now_ms);
        Some(n)
    }

    /// The request was answered (whatever the answer: a lost batch of likes is not worth a
    /// retry). `Some(delay)`: more taps came meanwhile; set a timer again.
    pub fn answered(&mut self, now_ms: f64) -> Option<f64> {
        self.in_flight = 0;
        self.schedule(now_ms)
    }

    fn schedule(&mut self, now_ms: f64) -> Option<f64> {
        if self.timer || self.in_flight > 0 || self.pending == 0 {
            return None;
        }
        self.timer = true;
        let due = self.last_sent_ms.map_or(now_ms, |t| t + LIKE_INTERVAL_MS);
        Some((due - now_ms).max(0.0))
    }
}

pub use jishi_api::live::{
    CatalogueEntry as CatalogueItem, HostConsole, Ingest, RoomSettings, SkuSales as SalesLine,
    StoreSales,
};

/// The host's sales, per product and in total, kept up to date from `Sale` events; per store and
/// the brand's subsidy as the console last read them (a sale does not say which store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesBook {
    pub lines: Vec<SalesLine>,
    pub revenue_fen: i64,
    pub by_store: Vec<StoreSales>,
    pub subsidy_fen: i64,
}

impl SalesBook {
    /// The console's figures, as the platform counts them.
    pub fn from_console(console: &HostConsole) -> Self {
        Self {
            lines: console.sales.clone(),
            revenue_fen: console.revenue_fen,
            by_store: console.by_store.clone(),
            subsidy_fen: console.subsidy_fen,
        }
    }

    /// Units of `sku` sold in the room so far.
    pub fn sold(&self, sku: &str) -> u32 {
        self.lines
            .iter()
            .find(|l| l.sku == sku)
            .map_or(0, |l| l.quantity)
    }

    /// A sale from the stream, priced at the live price of the pin it was bought from (`pin`: the
    /// pin as it was before the event was applied). The name comes from the pin or the catalogue.
    pub fn record(&mut self, sale: &Sale, pin: Option<&Pin>, catalogue: &[CatalogueItem]) {
        let pin = pin.filter(|p| p.sku == sale.sku);
        let unit_fen = pin.map(|p| p.live_price_fen).unwrap_or(0);
        let revenue = unit_fen * i64::from(sale.quantity);
        self.revenue_fen += revenue;
        if let Some(line) = self.lines.iter_mut().find(|l| l.sku == sale.sku) {
            line.quantity += sale.quantity;
            line.revenue_fen += revenue;
            return;
        }
        let name = pin
            .map(|p| p.name.clone())
            .or_else(|| {
                catalogue
                    .iter()
                    .find(|c| c.sku == sale.sku)
                    .map(|c| c.name.clone())
            })
            .unwrap_or_else(|| sale.sku.clone());
        self.lines.push(SalesLine {
            sku: sale.sku.clone(),
            name,
            quantity: sale.quantity,
            revenue_fen: revenue,
            subsidy_fen: 0,
        });
    }
}

/// Catalogue entries matching the host's search (name or SKU, case-insensitive), at most `limit`.
pub fn search_catalogue<'a>(
    catalogue: &'a [CatalogueItem],
    query: &str,
    limit: usize,
) -> Vec<&'a CatalogueItem> {
    let q = query.trim().to_lowercase();
    catalogue
        .iter()
        .filter(|c| {
            q.is_empty() || c.name.to_lowercase().contains(&q) || c.sku.to_lowercase().contains(&q)
        })
        .take(limit)
        .collect()
}

/// During server rendering, `Cache-Control: private, no-store`: the page is about one shopper.
pub(crate) fn mark_private() {
    #[cfg(feature = "ssr")]
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("private, no-store"),
        );
    }
}

/// What the live pages' tests start from (changed field by field with `..`).
#[cfg(test)]
pub(crate) mod fixtures {
    use jishi_api::live::{Host, LiveRoom, Pin, RoomStatus};

    /// A live room with nothing pinned, no viewers and no likes.
    pub fn room() -> LiveRoom {
        LiveRoom {
            id: "live_1".into(),
            title: "鲜果直播".into(),
            status: RoomStatus::Live,
            host: Host {
                name: "小王".into(),
            },
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

    /// 草莓 at ¥29.90 live (¥39.90 regular), 97 of a cap of 100 left.
    pub fn strawberry() -> Pin {
        Pin {
            sku: "s1".into(),
            name: "草莓".into(),
            price_fen: 3_990,
            live_price_fen: 2_990,
            stock_cap: 100,
            sold: 3,
            stock_left: 97,
            image: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::room;
    use super::*;
    use jishi_api::live::Comment;

    fn pin(sku: &str, live: i64) -> Pin {
        Pin {
            sku: sku.into(),
            name: format!("商品{sku}"),
            price_fen: 1000,
            live_price_fen: live,
            stock_cap: 30,
            sold: 0,
            stock_left: 30,
            image: None,
        }
    }

    fn sale(sku: &str, q: u32) -> Sale {
        Sale {
            sku: sku.into(),
            buyer: jishi_api::person::Person::shopper("1234"),
            quantity: q,
            amount_fen: 0,
        }
    }

    #[test]
    fn the_ticker_says_who_bought_how_many() {
        assert_eq!(
            ticker_line(&sale("s", 2), Locale::zh_CN),
            "尾号 1234 刚刚买了 2 件"
        );
        assert_eq!(
            ticker_line(&sale("s", 2), Locale::en),
            "ending 1234 just bought 2"
        );
    }

    #[test]
    fn counts_past_ten_thousand_are_in_wan_rounded_down() {
        let zh = |n| format_count(n, Locale::zh_CN);
        assert_eq!(zh(0), "0");
        assert_eq!(zh(9_999), "9999");
        assert_eq!(zh(10_000), "1万");
        assert_eq!(zh(12_345), "1.2万");
        assert_eq!(zh(19_999), "1.9万");
        assert_eq!(zh(350_000), "35万");
        assert_eq!(zh(1_234_567), "123万");
    }

    #[test]
    fn english_counts_are_in_thousands_and_millions_rounded_down() {
        let en = |n| format_count(n, Locale::en);
        assert_eq!(en(999), "999");
        assert_eq!(en(1_000), "1K");
        assert_eq!(en(1_299), "1.2K");
        assert_eq!(en(12_345), "12.3K");
        assert_eq!(en(350_000), "350K");
        assert_eq!(en(999_999), "999K");
        assert_eq!(en(1_234_567), "1.2M");
        assert_eq!(en(123_456_789), "123M");
    }

    #[test]
    fn stock_left_reads_plainly() {
        let zh = |n| stock_text(n, Locale::zh_CN);
        assert_eq!(zh(0), "已抢光");
        assert_eq!(zh(3), "仅剩 3 件");
        assert_eq!(zh(30), "剩余 30 件");
        assert_eq!(stock_text(3, Locale::en), "Only 3 left");
        assert_eq!(stock_text(30, Locale::en), "30 left");
    }

    #[test]
    fn yuan_inputs_become_fen_without_floats() {
        assert_eq!(parse_yuan("12"), Some(1200));
        assert_eq!(parse_yuan(" 12.5 "), Some(1250));
        assert_eq!(parse_yuan("12.05"), Some(1205));
        assert_eq!(parse_yuan("¥9.9"), Some(990));
        assert_eq!(parse_yuan("0.01"), Some(1));
        assert_eq!(parse_yuan(".5"), Some(50));
        assert_eq!(parse_yuan("3."), Some(300));
        for bad in ["", ".", "-1", "1.234", "abc", "1,5", "1e3", "9999999999"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
        for fen in [1, 10, 99, 100, 1250, 1205, 123_456] {
            assert_eq!(parse_yuan(&yuan_input(fen)), Some(fen));
        }
    }

    #[test]
    fn the_suggested_live_price_is_below_the_regular_one() {
        assert_eq!(suggested_live_price(1000), 900);
        assert_eq!(suggested_live_price(999), 890);
        assert_eq!(suggested_live_price(10), 9);
        assert_eq!(suggested_live_price(2), 1);
        for p in [2, 3, 11, 100, 1999] {
            assert!(suggested_live_price(p) < p, "{p}");
        }
    }

    #[test]
    fn a_comment_the_page_already_shows_is_not_added_again() {
        let mut view = RoomView::new(room(), vec![]);
        let c = Comment {
            id: 7,
            author: jishi_api::person::Person::shopper("0001"),
            text: "<img src=x onerror=alert(1)>".into(),
            at: "2026-11-26T00:00:00Z".into(),
        };
        apply_event(&mut view, &LiveEvent::Comment { comment: c.clone() });
        apply_event(&mut view, &LiveEvent::Comment { comment: c });
        assert_eq!(view.comments.len(), 1);
        apply_event(&mut view, &LiveEvent::CommentHidden { id: 7 });
        assert!(view.comments.is_empty());
        apply_event(
            &mut view,
            &LiveEvent::Pinned {
                pin: pin("s1", 800),
            },
        );
        assert_eq!(view.room.pinned.as_ref().unwrap().sku, "s1");
    }

    #[test]
    fn taps_show_at_once_and_go_out_at_most_once_a_second() {
        let mut likes = LikeBatcher::new(5);
        // The first tap: shown, and sent as soon as the timer fires.
        assert_eq!(likes.tap(0.0), Some(0.0));
        assert_eq!(likes.shown(), 6);
        // More taps while the timer is set: no second timer.
        assert_eq!(likes.tap(10.0), None);
        assert_eq!(likes.tap(20.0), None);
        assert_eq!(likes.take(30.0), Some(3));
        // Taps while the request is in flight wait for it.
        assert_eq!(likes.tap(100.0), None);
        assert_eq!(likes.tap(150.0), None);
        assert_eq!(likes.unsent(), 5);
        // Answered 200 ms after sending: the next batch waits out the second.
        assert_eq!(likes.answered(230.0), Some(800.0));
        assert_eq!(likes.take(1_030.0), Some(2));
        assert_eq!(likes.answered(1_100.0), None);
        assert_eq!(likes.take(1_200.0), None);
        assert_eq!(likes.shown(), 10);
        // A tap long after the last send goes out at once.
        assert_eq!(likes.tap(5_000.0), Some(0.0));
    }

    #[test]
    fn a_batch_never_exceeds_the_limit() {
        let mut likes = LikeBatcher::new(0);
        likes.tap(0.0);
        for i in 0..250 {
            likes.tap(f64::from(i));
        }
        assert_eq!(likes.take(300.0), Some(MAX_LIKES_PER_BATCH));
        assert_eq!(likes.answered(400.0), Some(900.0));
        assert_eq!(likes.take(1_300.0), Some(MAX_LIKES_PER_BATCH));
        assert_eq!(likes.answered(1_400.0), Some(900.0));
        assert_eq!(likes.take(2_300.0), Some(51));
        assert_eq!(likes.shown(), 251);
    }

    #[test]
    fn the_shown_count_never_goes_down() {
        let mut likes = LikeBatcher::new(100);
        likes.tap(0.0);
        likes.tap(0.0);
        assert_eq!(likes.shown(), 102);
        // A total from before our taps reached the platform.
        likes.stats(100);
        assert_eq!(likes.shown(), 102);
        // Other viewers' likes on top of ours.
        likes.stats(150);
        assert_eq!(likes.shown(), 152);
        likes.take(10.0);
        likes.answered(20.0);
        likes.stats(152);
        assert_eq!(likes.shown(), 152);
        likes.stats(160);
        assert_eq!(likes.shown(), 160);
    }

    #[test]
    fn sales_are_booked_per_product_at_the_live_price() {
        let catalogue = vec![CatalogueItem {
            sku: "s2".into(),
            name: "牛奶".into(),
            price_fen: 500,
            stores: 3,
            stock: 40,
        }];
        let mut book = SalesBook::default();
        let p = pin("s1", 800);
        book.record(&sale("s1", 2), Some(&p), &catalogue);
        book.record(&sale("s1", 1), Some(&p), &catalogue);
        // A sale of a product no longer pinned: counted, name from the catalogue, price unknown.
        book.record(&sale("s2", 1), Some(&p), &catalogue);
        book.record(&sale("s3", 4), None, &catalogue);
        assert_eq!(book.revenue_fen, 2_400);
        assert_eq!(book.lines.len(), 3);
        assert_eq!(
            book.lines[0],
            SalesLine {
                sku: "s1".into(),
                name: "商品s1".into(),
                quantity: 3,
                revenue_fen: 2_400,
                subsidy_fen: 0,
            }
        );
        assert_eq!(book.sold("s1"), 3);
        assert_eq!(book.sold("s9"), 0);
        assert_eq!(book.lines[1].name, "牛奶");
        assert_eq!(book.lines[2].name, "s3");
        assert_eq!(book.lines[2].quantity, 4);
    }

    #[test]
    fn the_catalogue_search_matches_name_or_sku() {
        let item = |sku: &str, name: &str| CatalogueItem {
            sku: sku.into(),
            name: name.into(),
            price_fen: 100,
            stores: 1,
            stock: 10,
        };
        let catalogue = vec![
            item("SKU-MILK", "纯牛奶 250ml"),
            item("sku-egg", "鸡蛋 10枚"),
            item("sku-tea", "乌龙茶"),
        ];
        assert_eq!(search_catalogue(&catalogue, "", 2).len(), 2);
        assert_eq!(search_catalogue(&catalogue, "牛奶", 10)[0].sku, "SKU-MILK");
        assert_eq!(search_catalogue(&catalogue, " milk ", 10).len(), 1);
        assert_eq!(search_catalogue(&catalogue, "EGG", 10)[0].name, "鸡蛋 10枚");
        assert!(search_catalogue(&catalogue, "咖啡", 10).is_empty());
    }

    #[test]
    fn the_host_console_reads_the_contract_shape() {
        let json = serde_json::json!({
            "room": serde_json::to_value(room()).unwrap(),
            "ingest": {"whip_url": "https://x/whip", "rtmp_request_url": "https://x/rtmp/r1"},
            "sales": [{"sku": "s1", "name": "n", "quantity": 2, "revenue_fen": 1600}],
            "revenue_fen": 1600,
            "catalogue": [{"sku": "s1", "name": "n", "price_fen": 1000, "stores": 4}]
        });
        let c: HostConsole = serde_json::from_value(json).unwrap();
        assert_eq!(c.ingest.unwrap().whip_url, "https://x/whip");
        assert_eq!(c.sales[0].revenue_fen, 1600);
        assert_eq!(c.catalogue[0].stores, 4);
        let none: HostConsole = serde_json::from_value(serde_json::json!({
            "room": serde_json::to_value(room()).unwrap(), "ingest": null,
            "sales": [], "revenue_fen": 0, "catalogue": []
        }))
        .unwrap();
        assert!(none.ingest.is_none());
    }
}
