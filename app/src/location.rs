//! "Where am I": browser geolocation (WGS-84) with a fallback that needs no permission — pick an
//! area, or a point on the map. The chosen point goes into the URL.

use jishi_api::areas::BEIJING_AREAS;
use jishi_api::LatLng;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::{area_name, locale};
use crate::links::go_to;
use crate::links::home_href;
use crate::map::PickMap;

#[derive(Debug, Clone, PartialEq)]
enum GeoStatus {
    Idle,
    Locating,
    Failed(String),
}

/// An island. `change`: the shopper came to change the location by hand (`?change=1`), so the
/// browser is not asked for its position at once.
#[island]
pub fn LocationPicker(change: bool) -> impl IntoView {
    crate::hydration::island_hydrated();
    let l = locale();
    let status = RwSignal::new(GeoStatus::Idle);
    let choose = move |p: LatLng| go_to(&home_href(p));

    let locate = move || {
        status.set(GeoStatus::Locating);
        request_position(move |result| match result {
            Ok(p) => choose(p),
            Err(message) => status.set(GeoStatus::Failed(message)),
        });
    };

    // Ask once after hydration, unless the shopper came here to change the location by hand.
    Effect::new(move |ran: Option<()>| {
        if ran.is_none() && !change {
            locate();
        }
    });

    view! {
        <section class="location-picker" data-testid="location-picker">
            <p class="geo-status" data-testid="geo-status" role="status" data-state=move || match status.get() {
                GeoStatus::Idle => "idle",
                GeoStatus::Locating => "locating",
                GeoStatus::Failed(_) => "failed",
            }>
                {move || match status.get() {
                    GeoStatus::Idle => td_string!(l, stores.geo.idle).to_owned(),
                    GeoStatus::Locating => td_string!(l, stores.geo.locating).to_owned(),
                    GeoStatus::Failed(reason) => td_string!(l, stores.geo.failed, reason = reason),
                }}
            </p>
            <button type="button" class="primary" data-testid="locate-me" on:click=move |_| locate()>
                {td_string!(l, stores.locate_me)}
            </button>
            <h2>{td_string!(l, stores.choose_area)}</h2>
            <ul class="area-list">
                {BEIJING_AREAS.iter().map(|a| view! {
                    <li><a data-testid="area-option" data-area=a.slug href=home_href(a.point())>{area_name(a, l)}</a></li>
                }).collect_view()}
            </ul>
            <h2>{td_string!(l, stores.pick_on_map)}</h2>
            <PickMap on_pick=choose/>
        </section>
    }
}

/// Asks the browser for its position once. The callback gets a validated point or a message in
/// the page's language.
#[cfg(feature = "hydrate")]
fn request_position(done: impl FnOnce(Result<LatLng, String>) + Clone + 'static) {
    use wasm_bindgen::JsCast;

    let l = locale();
    let fail = done.clone();
    let geolocation = web_sys::window().and_then(|w| w.navigator().geolocation().ok());
    let Some(geolocation) = geolocation else {
        fail(Err(td_string!(l, stores.geo.unsupported).to_owned()));
        return;
    };
    let on_ok = {
        let done = done.clone();
        wasm_bindgen::closure::Closure::once_into_js(move |pos: web_sys::Position| {
            let c = pos.coords();
            done(
                LatLng::new(c.latitude(), c.longitude())
                    .map_err(|e| crate::lang::api_error_message(&e, l)),
            );
        })
    };
    let on_err =
        wasm_bindgen::closure::Closure::once_into_js(move |err: web_sys::PositionError| {
            let message = match err.code() {
                1 => td_string!(l, stores.geo.denied),
                2 => td_string!(l, stores.geo.unavailable),
                _ => td_string!(l, stores.geo.timeout),
            };
            done(Err(message.to_owned()));
        });
    let options = web_sys::PositionOptions::new();
    options.set_timeout(8_000);
    options.set_maximum_age(300_000);
    if geolocation
        .get_current_position_with_error_callback_and_options(
            on_ok.unchecked_ref(),
            Some(on_err.unchecked_ref()),
            &options,
        )
        .is_err()
    {
        fail(Err(td_string!(l, stores.geo.request_failed).to_owned()));
    }
}

#[cfg(not(feature = "hydrate"))]
fn request_position(_done: impl FnOnce(Result<LatLng, String>) + Clone + 'static) {}
