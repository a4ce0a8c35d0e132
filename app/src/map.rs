//! Leaflet maps. The container is server-rendered; Leaflet takes it over in an effect once the wasm
//! runs (the map is browser-only state, so reading it during render would break hydration).
//!
//! Tiles come from the URL in `<meta name="jishi-tile-url">` (set by the server from
//! `JISHI_TILE_URL`; none by default); without tiles the map still shows the stores and you on a
//! plain background. AMap/Tencent tiles use GCJ-02 (`JISHI_TILE_CRS=gcj02`), so points are shifted then.

use jishi_api::orders::RiderPosition;
use jishi_api::stores::StoreSummary;
use jishi_api::LatLng;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::locale;

/// One marker: a store, drawn where it is, labelled with its name, linking to its page.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StorePin {
    pub lat: f64,
    pub lng: f64,
    pub name: String,
    pub href: String,
    pub open: bool,
}

impl StorePin {
    pub fn from_summary(s: &StoreSummary, href: String) -> Self {
        Self {
            lat: s.lat,
            lng: s.lng,
            name: s.name.clone(),
            href,
            open: s.open_now,
        }
    }
}

/// The home page's map: an island of its own, the list beside it is server HTML. Eager: made lazy,
/// the wasm splitter moved more shared code into the main module than the map takes out of it
/// (main wasm 146 → 169 KB brotli, measured).
#[island]
pub fn StoreMap(center: LatLng, pins: Vec<StorePin>) -> impl IntoView {
    crate::hydration::island_hydrated();
    let node = NodeRef::<leptos::html::Div>::new();
    let count = pins.len();
    #[cfg(feature = "hydrate")]
    {
        let pins = pins.clone();
        Effect::new(move |_| {
            if let Some(el) = node.get() {
                let pins = pins.clone();
                browser::when_about_to_show(&el, move |el| browser::store_map(el, center, &pins));
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (center, pins);
    view! {
        <div class="map store-map" data-testid="store-map" node_ref=node
            role="region" aria-label=td_string!(locale(), stores.map.stores) data-store-count=count></div>
    }
}

/// A map to click on when geolocation is unavailable.
#[component]
pub fn PickMap(on_pick: impl Fn(LatLng) + Clone + 'static) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(el) = node.get() {
            let on_pick = on_pick.clone();
            browser::when_about_to_show(&el, move |el| browser::pick_map(el, on_pick));
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = on_pick;
    view! {
        <div class="map pick-map" data-testid="pick-map" node_ref=node
            role="region" aria-label=td_string!(locale(), stores.map.pick)></div>
    }
}

/// Where to deliver: the map starts at `start` with a marker there; a click moves the marker.
#[component]
pub fn AddressPickMap(
    start: Option<LatLng>,
    on_pick: impl Fn(LatLng) + Clone + 'static,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(el) = node.get() {
            let on_pick = on_pick.clone();
            browser::when_attached(&el, move |el| browser::address_map(el, start, on_pick));
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (start, on_pick);
    view! {
        <div class="map address-map" data-testid="address-map" node_ref=node
            role="region" aria-label=td_string!(locale(), stores.map.address)></div>
    }
}

/// The delivery: the store, the destination and the rider, who moves as events arrive. The rider's
/// position is also on the container (`data-rider-lat`/`-lng`) for tests and assistive tech.
#[component]
pub fn OrderMap(
    store: LatLng,
    home: Option<LatLng>,
    rider: Signal<Option<RiderPosition>>,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        let map = StoredValue::new_local(None::<browser::OrderMapHandle>);
        Effect::new(move |_| {
            if let Some(el) = node.get() {
                browser::when_attached(&el, move |el| {
                    if map.with_value(Option::is_none) {
                        let handle = browser::order_map(el, store, home);
                        if let Some(h) = &handle {
                            h.move_rider(rider.get_untracked());
                        }
                        map.set_value(handle);
                    }
                });
            }
        });
        Effect::new(move |_| {
            let at = rider.get();
            map.with_value(|m| {
                if let Some(m) = m {
                    m.move_rider(at);
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (store, home);
    view! {
        <div class="map order-map" data-testid="order-map" node_ref=node role="region" aria-label=td_string!(locale(), stores.map.delivery)
            data-rider-lat=move || rider.get().map(|r| format!("{:.6}", r.lat))
            data-rider-lng=move || rider.get().map(|r| format!("{:.6}", r.lng))></div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use jishi_api::geo::{gcj02_to_wgs84, wgs84_to_gcj02};
    use jishi_api::LatLng;
    use leaflet::{CircleMarker, LatLngBounds, Map, MapOptions, PathOptions, TileLayer};
    use wasm_bindgen::JsValue;

    use super::StorePin;
    use jishi_api::orders::RiderPosition;

    const BEIJING: (f64, f64) = (39.9042, 116.4074);

    fn meta(name: &str) -> Option<String> {
        let doc = web_sys::window()?.document()?;
        let el = doc
            .query_selector(&format!("meta[name=\"{name}\"]"))
            .ok()??;
        el.get_attribute("content")
    }

    /// Whether tiles are in GCJ-02, so our WGS-84 points must be shifted to line up with them.
    fn tiles_use_gcj02() -> bool {
        meta("jishi-tile-crs").as_deref() == Some("gcj02")
    }

    fn to_map(lat: f64, lng: f64) -> leaflet::LatLng {
        match LatLng::new(lat, lng) {
            Ok(p) if tiles_use_gcj02() => {
                let g = wgs84_to_gcj02(p);
                leaflet::LatLng::new(g.lat(), g.lng())
            }
            _ => leaflet::LatLng::new(lat, lng),
        }
    }

    fn from_map(p: &leaflet::LatLng) -> Option<LatLng> {
        // Leaflet lets the world repeat sideways; fold longitudes back into -180..180.
        let raw = LatLng::new(p.lat(), (p.lng() + 180.0).rem_euclid(360.0) - 180.0).ok()?;
        Some(if tiles_use_gcj02() {
            gcj02_to_wgs84(raw)
        } else {
            raw
        })
    }

    /// Runs `init` once the element is in the document, in a task of its own. A page reached by
    /// client-side navigation renders into a detached fragment first, and Leaflet measuring a
    /// detached (zero-size) element projects every marker to the corner. Its own task: Leaflet
    /// building a map is tens of milliseconds on a phone, and run inside the hydration task it
    /// made one long task of both, keeping the page from answering input for longer.
    pub fn when_attached(
        el: &web_sys::HtmlElement,
        init: impl FnOnce(&web_sys::HtmlElement) + 'static,
    ) {
        fn attempt(
            el: web_sys::HtmlElement,
            init: Box<dyn FnOnce(&web_sys::HtmlElement)>,
            frames_left: u32,
        ) {
            if el.is_connected() || frames_left == 0 {
                leptos::prelude::set_timeout(move || init(&el), std::time::Duration::ZERO);
            } else {
                leptos::prelude::request_animation_frame(move || {
                    attempt(el, init, frames_left - 1)
                });
            }
        }
        attempt(el.clone(), Box::new(init), 120);
    }

    /// `when_attached`, then also waiting until the map scrolls into view and for Leaflet, which
    /// these pages do not load before: 37 KB that a shopper who never scrolls to the map never
    /// fetches. Where the page loaded Leaflet itself, it is there at once.
    pub fn when_about_to_show(
        el: &web_sys::HtmlElement,
        init: impl FnOnce(&web_sys::HtmlElement) + 'static,
    ) {
        when_attached(el, move |el| {
            let map_el = el.clone();
            on_first_sight(el, move || {
                crate::assets::add_stylesheet(crate::assets::LEAFLET_CSS);
                leptos::task::spawn_local(async move {
                    let leaflet =
                        crate::assets::script_global(crate::assets::LEAFLET_JS, "L", 30_000.0);
                    if leaflet.await.is_some() {
                        init(&map_el);
                    }
                });
            });
        });
    }

    /// Runs `f` once any of `el` is in the viewport (at once where the browser has no
    /// IntersectionObserver).
    fn on_first_sight(el: &web_sys::HtmlElement, f: impl FnOnce() + 'static) {
        use std::cell::Cell;
        use std::rc::Rc;
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        use web_sys::{IntersectionObserver, IntersectionObserverEntry, IntersectionObserverInit};

        let f = Rc::new(Cell::new(Some(Box::new(f) as Box<dyn FnOnce()>)));
        let fire = {
            let f = f.clone();
            move || {
                if let Some(f) = f.take() {
                    f();
                }
            }
        };
        let callback = Closure::<dyn FnMut(js_sys::Array, IntersectionObserver)>::new({
            let fire = fire.clone();
            move |entries: js_sys::Array, observer: IntersectionObserver| {
                let seen = entries.iter().any(|e| {
                    e.dyn_into::<IntersectionObserverEntry>()
                        .is_ok_and(|e| e.is_intersecting())
                });
                if seen {
                    observer.disconnect();
                    fire();
                }
            }
        });
        let options = IntersectionObserverInit::new();
        // On screen, not near it: on a 360×640 phone the home page's map starts just below the
        // first screen, and most shoppers pick from the list above it.
        options.set_root_margin("0px");
        match IntersectionObserver::new_with_options(callback.as_ref().unchecked_ref(), &options) {
            Ok(observer) => {
                observer.observe(el);
                // Lives as long as the page: one per map.
                callback.forget();
            }
            Err(_) => fire(),
        }
    }

    fn prefers_reduced_motion() -> bool {
        web_sys::window()
            .and_then(|w| {
                w.match_media("(prefers-reduced-motion: reduce)")
                    .ok()
                    .flatten()
            })
            .is_some_and(|q| q.matches())
    }

    fn new_map(el: &web_sys::HtmlElement) -> Option<Map> {
        // A re-render hands Leaflet the same element again; Leaflet refuses to init twice.
        if el.class_list().contains("leaflet-container") {
            return None;
        }
        let options = MapOptions::new();
        options.set_scroll_wheel_zoom(false);
        // Leaflet animates zooms and fades tiles: not for shoppers who asked for less motion.
        if prefers_reduced_motion() {
            options.set_zoom_animation(false);
            options.set_fade_animation(false);
            options.set_marker_zoom_animation(false);
        }
        let map = Map::new_with_element(el, &options).ok()?;
        if let Some(url) = meta("jishi-tile-url").filter(|u| !u.is_empty() && u != "none") {
            TileLayer::new(&url).add_to(&map);
        }
        Some(map)
    }

    fn dot(color: &str, class: &str, radius: f64) -> JsValue {
        let o = PathOptions::new();
        o.set_color("#ffffff".into());
        o.set_weight(2.0);
        o.set_fill(true);
        o.set_fill_color(color.into());
        o.set_fill_opacity(0.95);
        o.set_class_name(class.into());
        let o: JsValue = o.into();
        let _ = js_sys::Reflect::set(&o, &"radius".into(), &radius.into());
        o
    }

    pub fn store_map(el: &web_sys::HtmlElement, center: LatLng, pins: &[StorePin]) {
        let Some(map) = new_map(el) else { return };
        let you = to_map(center.lat(), center.lng());
        map.set_view(&you, 14.0);
        let mut corners = vec![you.clone()];
        for pin in pins {
            let at = to_map(pin.lat, pin.lng);
            let (color, class) = if pin.open {
                ("#d4262e", "store-marker")
            } else {
                ("#9e9e9e", "store-marker closed")
            };
            let marker = CircleMarker::new_with_options(&at, &dot(color, class, 7.0));
            let label = format!(
                "<a href=\"{}\">{}</a>",
                escape(&pin.href),
                escape(&pin.name)
            );
            marker.bind_popup_with_options(&label.into(), &JsValue::UNDEFINED);
            marker.add_to(&map);
            corners.push(at);
        }
        CircleMarker::new_with_options(&you, &dot("#1677ff", "you-marker", 9.0)).add_to(&map);
        if corners.len() > 1 {
            let list = js_sys::Array::new();
            for c in &corners {
                list.push(c);
            }
            map.fit_bounds(&LatLngBounds::new_from_list(&list));
        }
    }

    pub fn pick_map(el: &web_sys::HtmlElement, on_pick: impl Fn(LatLng) + 'static) {
        let Some(map) = new_map(el) else { return };
        map.set_view(&to_map(BEIJING.0, BEIJING.1), 11.0);
        map.on_mouse_click(Box::new(move |e| {
            if let Some(p) = from_map(&e.lat_lng()) {
                on_pick(p);
            }
        }));
    }

    pub fn address_map(
        el: &web_sys::HtmlElement,
        start: Option<LatLng>,
        on_pick: impl Fn(LatLng) + 'static,
    ) {
        let Some(map) = new_map(el) else { return };
        let center = start
            .map(|p| to_map(p.lat(), p.lng()))
            .unwrap_or_else(|| to_map(BEIJING.0, BEIJING.1));
        map.set_view(&center, 15.0);
        let marker =
            CircleMarker::new_with_options(&center, &dot("#1677ff", "address-marker", 9.0));
        marker.add_to(&map);
        map.on_mouse_click(Box::new(move |e| {
            let at = e.lat_lng();
            if let Some(p) = from_map(&at) {
                marker.set_lat_lng(&at);
                on_pick(p);
            }
        }));
    }

    pub struct OrderMapHandle {
        map: Map,
        rider: CircleMarker,
        on_map: std::cell::Cell<bool>,
    }

    impl OrderMapHandle {
        pub fn move_rider(&self, at: Option<RiderPosition>) {
            match at {
                Some(p) => {
                    self.rider.set_lat_lng(&to_map(p.lat, p.lng));
                    if !self.on_map.replace(true) {
                        self.rider.add_to(&self.map);
                    }
                }
                None => {
                    if self.on_map.replace(false) {
                        self.rider.remove();
                    }
                }
            }
        }
    }

    pub fn order_map(
        el: &web_sys::HtmlElement,
        store: LatLng,
        home: Option<LatLng>,
    ) -> Option<OrderMapHandle> {
        let map = new_map(el)?;
        let shop = to_map(store.lat(), store.lng());
        // Leaflet's fitBounds needs a view to start from.
        map.set_view(&shop, 15.0);
        CircleMarker::new_with_options(&shop, &dot("#d4262e", "store-marker", 8.0)).add_to(&map);
        let corners = js_sys::Array::new();
        corners.push(&shop);
        if let Some(h) = home {
            let h = to_map(h.lat(), h.lng());
            CircleMarker::new_with_options(&h, &dot("#1677ff", "home-marker", 8.0)).add_to(&map);
            corners.push(&h);
        }
        if corners.length() > 1 {
            // The route as the crow flies, with room around both ends.
            leaflet::Polyline::new(&corners).add_to(&map);
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(
                &options,
                &"padding".into(),
                &js_sys::Array::of2(&30.into(), &30.into()),
            );
            map.fit_bounds_with_options(&LatLngBounds::new_from_list(&corners), &options);
        }
        let rider = CircleMarker::new_with_options(&shop, &dot("#00a870", "rider-marker", 9.0));
        Some(OrderMapHandle {
            map,
            rider,
            on_map: std::cell::Cell::new(false),
        })
    }

    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
}
