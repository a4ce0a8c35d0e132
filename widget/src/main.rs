//! The live-shopping widget a brand embeds in its own page (see `docs/WIDGET.md`).
//!
//! `loader.js` (served beside this at `/widget/v1/`) makes an open Shadow DOM where its script
//! tag stands, waits until the box scrolls into view, then loads this module and calls [`mount`]
//! with the shadow root. From then on the widget follows the room's event stream on the shop's
//! origin (cross-origin, without credentials: `JISHI_WIDGET_ORIGINS`), applying every event with
//! the same `RoomView::apply` the shop's own room page uses.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use jishi_api::live::{LiveEvent, Pin, RoomStatus, RoomView, LIVE_EVENT};
use jishi_api::money::format_yuan;
use jishi_api::routes;
use jishi_api::widget::{buy_path, WidgetMessage, ORDERED_EVENT};
use jishi_player::browser::{play_quietly, PlayerUi, Shop};
use jishi_player::{offers_video, PlayerState, Transport};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    CustomEvent, CustomEventInit, Document, Element, EventSource, HtmlVideoElement, MessageEvent,
    ShadowRoot,
};

/// Trunk builds a binary; the work starts in [`mount`], which the loader calls.
fn main() {}

/// The widget's words, in its two languages.
#[derive(Clone, Copy)]
struct Words {
    lang: &'static str,
    region: &'static str,
    live: &'static str,
    scheduled: &'static str,
    ended: &'static str,
    not_live: &'static str,
    connecting: &'static str,
    viewers: &'static str,
    likes: &'static str,
    pinned: &'static str,
    buy: &'static str,
    left: &'static str,
    bag: &'static str,
    ordered: &'static str,
    video: &'static str,
    video_connecting: &'static str,
    video_unavailable: &'static str,
    sound_on: &'static str,
}

const ZH: Words = Words {
    lang: "zh-CN",
    region: "直播间",
    live: "直播中",
    scheduled: "未开播",
    ended: "已结束",
    not_live: "直播间现在没有在直播。",
    connecting: "正在连接直播间…",
    viewers: "人在看",
    likes: "赞",
    pinned: "讲解中",
    buy: "去购买",
    left: "剩余",
    bag: "购物袋",
    ordered: "已下单并付款",
    video: "直播画面",
    video_connecting: "视频连接中…",
    video_unavailable: "视频暂不可用",
    sound_on: "打开声音",
};

const EN: Words = Words {
    lang: "en",
    region: "Live room",
    live: "Live",
    scheduled: "Not started",
    ended: "Ended",
    not_live: "This room is not live right now.",
    connecting: "Connecting to the room…",
    viewers: "watching",
    likes: "likes",
    pinned: "Now showing",
    buy: "Buy",
    left: "left",
    bag: "Shopping bag",
    ordered: "Ordered and paid",
    video: "Live video",
    video_connecting: "Connecting the video…",
    video_unavailable: "Video unavailable",
    sound_on: "Sound on",
};

/// `lang` (a BCP 47 tag): English for `en…`, Chinese otherwise.
fn words(lang: &str) -> Words {
    if lang.to_ascii_lowercase().starts_with("en") {
        EN
    } else {
        ZH
    }
}

/// The widget's elements, updated in place from the room after each event (a keyboard user's
/// focus on "buy" survives the counts changing).
struct Ui {
    doc: Document,
    /// The box on the brand's page (the shadow root's host), where the widget's events fire.
    host: Element,
    /// The shop (its origin), asked without credentials: every URL on it is `shop.url(path)`.
    shop: Shop,
    /// The brand page's origin, which the shop's room page reports an order back to.
    page_origin: String,
    room_id: String,
    words: Words,
    status: Element,
    title: Element,
    stats: Element,
    note: Element,
    /// Where the pinned product's card goes, and the bag.
    pin_slot: Element,
    bag_slot: Element,
    ordered: Element,
    /// Where the video goes, and the video while the room is live and has one.
    video_slot: Element,
    video: RefCell<Option<Video>>,
    /// The pinned product's card, what it was built from, and its "left" line.
    card: RefCell<Option<(CardKey, Element, Element)>>,
    bag: RefCell<Option<BagList>>,
    /// The names of the products shown, for "ordered".
    names: RefCell<HashMap<String, String>>,
}

/// What a card shows apart from what is left: a new one is built when it changes.
#[derive(PartialEq)]
struct CardKey {
    sku: String,
    name: String,
    live_price_fen: i64,
    price_fen: i64,
    image: Option<String>,
}

/// The video area, and what its player shows.
struct Video {
    area: Element,
    ui: VideoUi,
}

/// The video area's state for `jishi_player`: `data-state`, `data-transport` and a plain line.
#[derive(Clone)]
struct VideoUi {
    area: Element,
    caption: Element,
    sound: Element,
    words: Words,
    /// Set when the room stops being live: the player ends its session and stops.
    gone: Rc<Cell<bool>>,
}

impl PlayerUi for VideoUi {
    fn show(&self, transport: Option<Transport>, state: PlayerState) {
        if let Some(t) = transport {
            let _ = self.area.set_attribute("data-transport", t.as_str());
        }
        let _ = self.area.set_attribute("data-state", state.as_str());
        let w = self.words;
        let (note, playing) = match state {
            PlayerState::Connecting => (w.video_connecting, false),
            PlayerState::Playing => ("", true),
            PlayerState::Unavailable => (w.video_unavailable, false),
        };
        self.caption.set_text_content(Some(note));
        let _ = if playing {
            self.sound.remove_attribute("hidden")
        } else {
            self.sound.set_attribute("hidden", "")
        };
    }

    fn gone(&self) -> bool {
        self.gone.get()
    }
}

/// The bag as shown: what its list was built from, the list, and each item's "left" line.
struct BagList {
    keys: Vec<CardKey>,
    list: Element,
    lefts: Vec<Element>,
}

impl CardKey {
    fn of(p: &Pin) -> Self {
        CardKey {
            sku: p.sku.clone(),
            name: p.name.clone(),
            live_price_fen: p.live_price_fen,
            price_fen: p.price_fen,
            image: p.image.as_ref().map(|i| i.src.clone()),
        }
    }
}

/// Renders the room `room_id` of the shop at `shop` (its origin) into `root`, in `lang`, and keeps
/// it live.
#[wasm_bindgen]
pub fn mount(root: ShadowRoot, room_id: String, shop: String, lang: String) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let doc = window
        .document()
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let page_origin = window.location().origin()?;
    let words = words(&lang);
    let body = doc.create_element("section")?;
    body.set_attribute("class", "jw")?;
    body.set_attribute("aria-label", words.region)?;
    body.set_attribute("lang", words.lang)?;
    body.set_attribute("data-testid", "widget")?;
    root.append_child(&body)?;
    let ui = Rc::new(Ui::new(
        doc,
        root.host(),
        body,
        Shop::elsewhere(&shop),
        page_origin,
        room_id,
        words,
    )?);

    let source = EventSource::new(&ui.shop.url(&format!(
        "{}{}",
        routes::SERVER_PREFIX,
        routes::LIVE_EVENTS.path(&[&ui.room_id])
    )))?;
    let mut view: Option<RoomView> = None;
    let on_stream = ui.clone();
    let on_event = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let Some(text) = e.data().as_string() else {
            return;
        };
        let Ok(event) = serde_json::from_str::<LiveEvent>(&text) else {
            return;
        };
        match (&mut view, &event) {
            (_, LiveEvent::Snapshot { room, comments, .. }) => {
                view = Some(RoomView::new((**room).clone(), comments.clone()));
            }
            (Some(v), event) => v.apply(event),
            (None, _) => return,
        }
        if let Some(v) = &view {
            // A failed DOM call leaves the last rendering; the next event tries again.
            let _ = on_stream.render(v);
        }
    });
    source.add_event_listener_with_callback(LIVE_EVENT, on_event.as_ref().unchecked_ref())?;
    // The widget lives as long as the page: so do its listener and its stream.
    on_event.forget();
    std::mem::forget(source);

    // The shop's room page, opened by "buy", says when the order was paid: only the shop's
    // origin is heard, and only about this room.
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if e.origin() != ui.shop.origin {
            return;
        }
        let Some(text) = e.data().as_string() else {
            return;
        };
        let Ok(message) = serde_json::from_str::<WidgetMessage>(&text) else {
            return;
        };
        let WidgetMessage::Ordered { room_id, sku } = &message;
        if *room_id == ui.room_id {
            let _ = ui.show_ordered(sku, &text);
        }
    });
    window.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref())?;
    on_message.forget();
    Ok(())
}

impl Ui {
    fn new(
        doc: Document,
        host: Element,
        body: Element,
        shop: Shop,
        page_origin: String,
        room_id: String,
        words: Words,
    ) -> Result<Self, JsValue> {
        let el = |tag: &str, class: &str| -> Result<Element, JsValue> {
            let el = doc.create_element(tag)?;
            el.set_attribute("class", class)?;
            Ok(el)
        };
        let head = el("header", "jw-head")?;
        let status = el("span", "jw-status")?;
        status.set_attribute("data-testid", "widget-status")?;
        let title = el("h2", "jw-title")?;
        let stats = el("p", "jw-stats")?;
        stats.set_attribute("data-testid", "widget-stats")?;
        head.append_child(&status)?;
        head.append_child(&title)?;
        head.append_child(&stats)?;
        let note = el("p", "jw-note")?;
        note.set_attribute("role", "status")?;
        note.set_text_content(Some(words.connecting));
        let ordered = el("p", "jw-ordered")?;
        ordered.set_attribute("role", "status")?;
        ordered.set_attribute("data-testid", "widget-ordered")?;
        let video_slot = el("div", "jw-slot")?;
        let pin_slot = el("div", "jw-slot")?;
        let bag_slot = el("div", "jw-slot")?;
        for part in [&video_slot, &head, &note, &pin_slot, &bag_slot, &ordered] {
            body.append_child(part)?;
        }
        Ok(Ui {
            doc,
            host,
            shop,
            page_origin,
            room_id,
            words,
            status,
            title,
            stats,
            note,
            pin_slot,
            bag_slot,
            ordered,
            video_slot,
            video: RefCell::new(None),
            card: RefCell::new(None),
            bag: RefCell::new(None),
            names: RefCell::new(HashMap::new()),
        })
    }

    fn el(&self, tag: &str, class: &str, text: Option<&str>) -> Result<Element, JsValue> {
        let el = self.doc.create_element(tag)?;
        el.set_attribute("class", class)?;
        el.set_text_content(text);
        Ok(el)
    }

    /// `el`, appended to `parent`.
    fn add(
        &self,
        parent: &Element,
        tag: &str,
        class: &str,
        text: Option<&str>,
    ) -> Result<Element, JsValue> {
        let el = self.el(tag, class, text)?;
        parent.append_child(&el)?;
        Ok(el)
    }

    fn render(&self, view: &RoomView) -> Result<(), JsValue> {
        let room = &view.room;
        let w = self.words;
        let (status_text, status) = match room.status {
            RoomStatus::Live => (w.live, "live"),
            RoomStatus::Scheduled => (w.scheduled, "scheduled"),
            RoomStatus::Ended => (w.ended, "ended"),
        };
        self.status.set_text_content(Some(status_text));
        self.status.set_attribute("data-status", status)?;
        self.title.set_text_content(Some(&room.title));
        self.stats.set_text_content(Some(&format!(
            "{} {} · {} {}",
            room.viewer_count, w.viewers, room.likes, w.likes
        )));
        let live = room.status == RoomStatus::Live;
        self.note
            .set_text_content(Some(if live { "" } else { w.not_live }));

        // The video while the room is live (played as the shop's room page plays it); gone
        // when it is not, so no session is held for nothing.
        let playback = room.playback.as_ref().filter(|p| live && offers_video(p));
        let mut video = self.video.borrow_mut();
        match (playback, video.is_some()) {
            (Some(playback), false) => *video = Some(self.video(playback)?),
            (None, true) => {
                if let Some(old) = video.take() {
                    old.ui.gone.set(true);
                    old.area.remove();
                }
            }
            _ => {}
        }

        let pin = room.pinned.as_ref().filter(|_| live);
        let mut card = self.card.borrow_mut();
        let key = pin.map(CardKey::of);
        if card.as_ref().map(|(k, ..)| k) != key.as_ref() {
            if let Some((_, old, _)) = card.take() {
                old.remove();
            }
            if let (Some(pin), Some(key)) = (pin, key) {
                let (el, left) =
                    self.offer(pin, "article", "jw-pinned", "widget-pinned", Some(w.pinned))?;
                el.set_attribute("aria-label", &format!("{}: {}", w.pinned, pin.name))?;
                self.pin_slot.append_child(&el)?;
                *card = Some((key, el, left));
            }
        }
        if let (Some(pin), Some((_, _, left))) = (pin, card.as_ref()) {
            left.set_text_content(Some(&self.left_text(pin)));
        }

        // The bag (购物袋), while the room is live: every product on offer, in the host's order.
        let bag: &[Pin] = if live { &room.bag } else { &[] };
        let keys: Vec<CardKey> = bag.iter().map(CardKey::of).collect();
        let mut shown = self.bag.borrow_mut();
        if shown.as_ref().map(|b| &b.keys) != Some(&keys) {
            // A bag the viewer opened stays open when the host changes it.
            let mut was_open = false;
            if let Some(old) = shown.take() {
                was_open = old.list.has_attribute("open");
                old.list.remove();
            }
            if !bag.is_empty() {
                let (list, lefts) = self.bag_list(bag)?;
                if was_open {
                    list.set_attribute("open", "")?;
                }
                self.bag_slot.append_child(&list)?;
                *shown = Some(BagList { keys, list, lefts });
            }
        }
        if let Some(shown) = shown.as_ref() {
            for (pin, left) in bag.iter().zip(&shown.lefts) {
                left.set_text_content(Some(&self.left_text(pin)));
            }
        }
        Ok(())
    }

    /// The video area, playing the room's video from the shop.
    fn video(&self, playback: &jishi_api::live::Playback) -> Result<Video, JsValue> {
        let w = self.words;
        let area = self.el("div", "jw-video", None)?;
        area.set_attribute("data-testid", "widget-video")?;
        area.set_attribute("data-transport", "none")?;
        area.set_attribute("data-state", PlayerState::Connecting.as_str())?;
        let video: HtmlVideoElement = self.add(&area, "video", "jw-player", None)?.dyn_into()?;
        video.set_attribute("aria-label", w.video)?;
        video.set_attribute("playsinline", "")?;
        video.set_muted(true);
        video.set_autoplay(true);
        let caption = self.add(&area, "p", "jw-video-note", Some(w.video_connecting))?;
        caption.set_attribute("role", "status")?;
        caption.set_attribute("data-testid", "widget-video-note")?;
        // Muted so it may start by itself; the viewer turns the sound on.
        let sound = self.add(&area, "button", "jw-sound", Some(w.sound_on))?;
        sound.set_attribute("type", "button")?;
        sound.set_attribute("aria-pressed", "false")?;
        sound.set_attribute("hidden", "")?;
        let on_sound = {
            let (video, sound) = (video.clone(), sound.clone());
            Closure::<dyn FnMut()>::new(move || {
                let muted = !video.muted();
                video.set_muted(muted);
                play_quietly(&video);
                let _ = sound.set_attribute("aria-pressed", &(!muted).to_string());
            })
        };
        sound.add_event_listener_with_callback("click", on_sound.as_ref().unchecked_ref())?;
        // The button lives as long as the page.
        on_sound.forget();
        self.video_slot.append_child(&area)?;
        let ui = VideoUi {
            area: area.clone(),
            caption,
            sound,
            words: w,
            gone: Rc::new(Cell::new(false)),
        };
        jishi_player::browser::start_player(
            video,
            playback.clone(),
            self.shop.clone(),
            // hls.js would be a script on the brand's page: HLS only where the browser has it.
            None,
            ui.clone(),
        );
        Ok(Video { area, ui })
    }

    fn left_text(&self, pin: &Pin) -> String {
        format!("{} {}", self.words.left, pin.stock_left)
    }

    /// The bag as a disclosure (closed at first, so its pictures load only when opened), and
    /// each item's "left" line.
    fn bag_list(&self, bag: &[Pin]) -> Result<(Element, Vec<Element>), JsValue> {
        let details = self.el("details", "jw-bag", None)?;
        details.set_attribute("data-testid", "widget-bag")?;
        self.add(
            &details,
            "summary",
            "jw-bag-open",
            Some(&format!("{} ({})", self.words.bag, bag.len())),
        )?;
        let list = self.add(&details, "ul", "jw-bag-items", None)?;
        let mut lefts = Vec::with_capacity(bag.len());
        for pin in bag {
            let (item, left) = self.offer(pin, "li", "jw-item", "widget-bag-item", None)?;
            list.append_child(&item)?;
            lefts.push(left);
        }
        Ok((details, lefts))
    }

    /// Says the order for `sku` was paid, and fires `ORDERED_EVENT` on the widget's box for the
    /// brand's page (its `detail` is the message, `message` its JSON text).
    fn show_ordered(&self, sku: &str, message: &str) -> Result<(), JsValue> {
        let name = self.names.borrow().get(sku).cloned();
        let text = match name {
            Some(name) => format!("{}: {name}", self.words.ordered),
            None => self.words.ordered.to_owned(),
        };
        self.ordered.set_text_content(Some(&text));
        self.ordered.set_attribute("data-sku", sku)?;
        let init = CustomEventInit::new();
        init.set_bubbles(true);
        init.set_detail(&js_sys::JSON::parse(message)?);
        let event = CustomEvent::new_with_event_init_dict(ORDERED_EVENT, &init)?;
        self.host.dispatch_event(&event)?;
        Ok(())
    }

    /// A product on offer as `tag` (the pinned card, an item of the bag): picture, `label` if
    /// any, name, live and regular price, what is left, and "buy" on the shop. Its "left" line
    /// is returned too.
    fn offer(
        &self,
        pin: &Pin,
        tag: &str,
        class: &str,
        testid: &str,
        label: Option<&str>,
    ) -> Result<(Element, Element), JsValue> {
        let w = self.words;
        self.names
            .borrow_mut()
            .insert(pin.sku.clone(), pin.name.clone());
        let card = self.el(tag, class, None)?;
        card.set_attribute("data-testid", testid)?;
        card.set_attribute("data-sku", &pin.sku)?;
        if let Some(image) = &pin.image {
            let img = self.add(&card, "img", "jw-img", None)?;
            img.set_attribute("src", &self.shop.url(&image.src))?;
            img.set_attribute("width", &image.width.to_string())?;
            img.set_attribute("height", &image.height.to_string())?;
            img.set_attribute("loading", "lazy")?;
            img.set_attribute("alt", "")?;
        }
        if let Some(label) = label {
            self.add(&card, "p", "jw-tag", Some(label))?;
        }
        self.add(&card, "h3", "jw-name", Some(&pin.name))?;
        let price = self.add(&card, "p", "jw-price", None)?;
        self.add(
            &price,
            "strong",
            "jw-live-price",
            Some(&format_yuan(pin.live_price_fen)),
        )?;
        if pin.price_fen > pin.live_price_fen {
            self.add(&price, "s", "jw-regular", Some(&format_yuan(pin.price_fen)))?;
        }
        let left = self.add(&price, "span", "jw-left", None)?;
        // On the shop's own origin, where the shopper signs in and pays; it keeps this page as
        // its opener (`rel=opener`) to report the order back.
        let buy = self.add(&card, "a", "jw-buy", Some(w.buy))?;
        buy.set_attribute("data-testid", "widget-buy")?;
        buy.set_attribute("data-sku", &pin.sku)?;
        buy.set_attribute("aria-label", &format!("{} {}", w.buy, pin.name))?;
        buy.set_attribute(
            "href",
            &self
                .shop
                .url(&buy_path(&self.room_id, &pin.sku, Some(&self.page_origin))),
        )?;
        buy.set_attribute("target", "_blank")?;
        buy.set_attribute("rel", "opener")?;
        Ok((card, left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_for_en_tags_and_chinese_otherwise() {
        assert_eq!(words("en").buy, EN.buy);
        assert_eq!(words("en-GB").buy, EN.buy);
        assert_eq!(words("zh-CN").buy, ZH.buy);
        assert_eq!(words("").buy, ZH.buy);
    }

    #[test]
    fn shop_paths_become_absolute_and_urls_stay() {
        // The widget runs on the brand's origin: paths on the shop become absolute URLs.
        let shop = Shop::elsewhere("https://shop.example/");
        assert_eq!(shop.url("/img/a.webp"), "https://shop.example/img/a.webp");
        assert_eq!(
            shop.url("https://cdn.example/a.webp"),
            "https://cdn.example/a.webp"
        );
        assert_eq!(shop.url("//evil.example/a"), "//evil.example/a");
    }
}
