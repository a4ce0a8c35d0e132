//! The live-shopping widget a brand embeds in its own page (see `docs/WIDGET.md`).
//!
//! `loader.js` (served beside this at `/widget/v1/`) makes an open Shadow DOM where its script
//! tag stands, waits until the box scrolls into view, then loads this module and calls [`mount`]
//! with the shadow root. From then on the widget follows the room's event stream on the shop's
//! origin (cross-origin, without credentials: `JISHI_WIDGET_ORIGINS`), applying every event with
//! the same `RoomView::apply` the shop's own room page uses.

use std::cell::RefCell;

use jishi_api::live::{LiveEvent, RoomStatus, RoomView, LIVE_EVENT};
use jishi_api::money::format_yuan;
use jishi_api::routes;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, EventSource, MessageEvent, ShadowRoot};

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
    shop: String,
    room_id: String,
    words: Words,
    body: Element,
    status: Element,
    title: Element,
    stats: Element,
    note: Element,
    /// The pinned product's card, what it was built from, and its "left" line.
    card: RefCell<Option<(CardKey, Element, Element)>>,
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

/// Renders the room `room_id` of the shop at `shop` (its origin) into `root`, in `lang`, and keeps
/// it live.
#[wasm_bindgen]
pub fn mount(root: ShadowRoot, room_id: String, shop: String, lang: String) -> Result<(), JsValue> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let words = words(&lang);
    let body = doc.create_element("section")?;
    body.set_attribute("class", "jw")?;
    body.set_attribute("aria-label", words.region)?;
    body.set_attribute("lang", words.lang)?;
    body.set_attribute("data-testid", "widget")?;
    root.append_child(&body)?;
    let ui = Ui::new(
        doc,
        body,
        shop.trim_end_matches('/').to_owned(),
        room_id,
        words,
    )?;

    let source = EventSource::new(&format!(
        "{}{}{}",
        ui.shop,
        routes::SERVER_PREFIX,
        routes::LIVE_EVENTS.path(&[&ui.room_id])
    ))?;
    let mut view: Option<RoomView> = None;
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
            let _ = ui.render(v);
        }
    });
    source.add_event_listener_with_callback(LIVE_EVENT, on_event.as_ref().unchecked_ref())?;
    // The widget lives as long as the page: so do its listener and its stream.
    on_event.forget();
    std::mem::forget(source);
    Ok(())
}

impl Ui {
    fn new(
        doc: Document,
        body: Element,
        shop: String,
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
        body.append_child(&head)?;
        body.append_child(&note)?;
        Ok(Ui {
            doc,
            shop,
            room_id,
            words,
            body,
            status,
            title,
            stats,
            note,
            card: RefCell::new(None),
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

        let pin = room.pinned.as_ref().filter(|_| live);
        let mut card = self.card.borrow_mut();
        let key = pin.map(|p| CardKey {
            sku: p.sku.clone(),
            name: p.name.clone(),
            live_price_fen: p.live_price_fen,
            price_fen: p.price_fen,
            image: p.image.as_ref().map(|i| i.src.clone()),
        });
        if card.as_ref().map(|(k, ..)| k) != key.as_ref() {
            if let Some((_, old, _)) = card.take() {
                old.remove();
            }
            if let (Some(pin), Some(key)) = (pin, key) {
                let (el, left) = self.card(pin)?;
                self.body.append_child(&el)?;
                *card = Some((key, el, left));
            }
        }
        if let (Some(pin), Some((_, _, left))) = (pin, card.as_ref()) {
            left.set_text_content(Some(&format!("{} {}", w.left, pin.stock_left)));
        }
        Ok(())
    }

    /// The pinned product's card, and its "left" line.
    fn card(&self, pin: &jishi_api::live::Pin) -> Result<(Element, Element), JsValue> {
        let w = self.words;
        let card = self.el("article", "jw-pinned", None)?;
        card.set_attribute("data-testid", "widget-pinned")?;
        card.set_attribute("data-sku", &pin.sku)?;
        card.set_attribute("aria-label", &format!("{}: {}", w.pinned, pin.name))?;
        if let Some(image) = &pin.image {
            let img = self.add(&card, "img", "jw-img", None)?;
            img.set_attribute("src", &on_shop(&self.shop, &image.src))?;
            img.set_attribute("width", &image.width.to_string())?;
            img.set_attribute("height", &image.height.to_string())?;
            img.set_attribute("alt", "")?;
        }
        self.add(&card, "p", "jw-tag", Some(w.pinned))?;
        self.add(&card, "h3", "jw-name", Some(&pin.name))?;
        let price = self.add(&card, "p", "jw-price", None)?;
        self.add(
            &price,
            "strong",
            "jw-live-price",
            Some(&format!("¥{}", format_yuan(pin.live_price_fen))),
        )?;
        if pin.price_fen > pin.live_price_fen {
            self.add(
                &price,
                "s",
                "jw-regular",
                Some(&format!("¥{}", format_yuan(pin.price_fen))),
            )?;
        }
        let left = self.add(&price, "span", "jw-left", None)?;
        // On the shop's own origin, where the shopper signs in and pays.
        let buy = self.add(&card, "a", "jw-buy", Some(w.buy))?;
        buy.set_attribute("data-testid", "widget-buy")?;
        buy.set_attribute(
            "href",
            &format!(
                "{}/live/{}?buy={}",
                self.shop,
                routes::encode(&self.room_id),
                routes::encode(&pin.sku)
            ),
        )?;
        buy.set_attribute("target", "_blank")?;
        Ok((card, left))
    }
}

/// A path on the shop as an absolute URL: the widget runs on the brand's origin.
fn on_shop(shop: &str, src: &str) -> String {
    if src.starts_with('/') && !src.starts_with("//") {
        format!("{shop}{src}")
    } else {
        src.to_owned()
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
        let shop = "https://shop.example";
        assert_eq!(
            on_shop(shop, "/img/a.webp"),
            "https://shop.example/img/a.webp"
        );
        assert_eq!(
            on_shop(shop, "https://cdn.example/a.webp"),
            "https://cdn.example/a.webp"
        );
        assert_eq!(on_shop(shop, "//evil.example/a"), "//evil.example/a");
    }
}
