//! The checkout's address list: saved addresses (those out of the store's range shown but not
//! choosable) and a new address picked on the map.

use jishi_api::auth::{Address, NewAddress};
use jishi_api::stores::StoreDetail;
use jishi_api::LatLng;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::{api_error_message, locale};
use crate::links::format_distance;
use crate::map::AddressPickMap;

/// Which saved address is chosen at first: the first the store delivers to.
pub(super) fn first_deliverable(detail: &StoreDetail, addresses: &[Address]) -> Option<String> {
    addresses
        .iter()
        .find(|a| delivers(detail, a))
        .map(|a| a.id.clone())
}

fn delivers(detail: &StoreDetail, a: &Address) -> bool {
    LatLng::new(a.lat, a.lng).is_ok_and(|p| detail.store.quote(p).delivers)
}

/// The saved addresses as choices for `chosen`, and the form adding one (chosen when the store
/// delivers there).
#[component]
pub(super) fn AddressList(
    detail: StoredValue<StoreDetail>,
    addresses: RwSignal<Vec<Address>>,
    chosen: RwSignal<Option<String>>,
    /// Where the new address's map starts.
    start: Option<LatLng>,
) -> impl IntoView {
    let on_added = move |a: Address| {
        let ok = detail.with_value(|d| delivers(d, &a));
        if ok {
            chosen.set(Some(a.id.clone()));
        }
        addresses.update(|list| list.insert(0, a));
    };
    let l = locale();
    view! {
        <fieldset class="addresses" data-testid="addresses">
            <legend>{td_string!(l, orders.address.legend)}</legend>
            {move || addresses.get().into_iter().map(|a| {
                let q = LatLng::new(a.lat, a.lng).ok().map(|p| detail.with_value(|d| d.store.quote(p)));
                let ok = q.is_some_and(|q| q.delivers);
                let id = a.id.clone();
                let radius_km = detail.with_value(|d| f64::from(d.store.delivery_radius_m) / 1000.0);
                view! {
                    <label class="address-option" class:unreachable=!ok data-testid="address-option"
                        data-address-id=a.id.clone() data-delivers=ok.to_string()>
                        <input type="radio" name="address" disabled=!ok
                            prop:checked={let id = id.clone(); move || chosen.get().as_deref() == Some(id.as_str())}
                            on:change={let id = id.clone(); move |_| chosen.set(Some(id.clone()))}/>
                        <strong>{a.label.clone()}</strong>" "{a.detail.clone()}
                        {q.map(|q| view! { <span class="distance">{format!(" · {}", td_string!(l, orders.address.distance, distance = format_distance(q.distance_m)))}</span> })}
                        {(!ok).then(|| view! {
                            <span class="warn" data-testid="address-out-of-range">
                                {td_string!(l, orders.address.out_of_range, km = format!("{radius_km:.1}"))}
                            </span>
                        })}
                    </label>
                }
            }).collect_view()}
            <NewAddressForm start on_added/>
        </fieldset>
    }
    .into_any()
}

/// A new address: a point on the map (starting at the shopper's location) plus text.
#[component]
pub(crate) fn NewAddressForm(
    start: Option<LatLng>,
    on_added: impl Fn(Address) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let l = locale();
    let point = RwSignal::new(start);
    let label = RwSignal::new(td_string!(l, orders.address.default_label).to_owned());
    let detail_text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(p) = point.get_untracked() else {
            error.set(Some(td_string!(l, orders.address.pick_first).to_owned()));
            return;
        };
        let body = NewAddress {
            label: label.get_untracked(),
            detail: detail_text.get_untracked(),
            lat: p.lat(),
            lng: p.lng(),
        };
        // The platform checks the same way; this saves a round trip for an empty field.
        if let Err(e) = body.validate() {
            error.set(Some(api_error_message(&e, l)));
            return;
        }
        saving.set(true);
        error.set(None);
        let on_added = on_added.clone();
        leptos::task::spawn_local(async move {
            match crate::api_client::post::<Address, _>("/me/addresses", &body).await {
                Ok(a) => {
                    detail_text.set(String::new());
                    on_added(a);
                }
                Err(e) => error.set(Some(e.message())),
            }
            saving.set(false);
        });
    };
    view! {
        <details class="new-address" data-testid="new-address" open=true>
            <summary>{td_string!(l, orders.address.add_new)}</summary>
            <p class="hint">{td_string!(l, orders.address.new_hint)}</p>
            <AddressPickMap start on_pick=move |p| point.set(Some(p))/>
            <p class="picked" data-testid="picked-point"
                data-lat=move || point.get().map(|p| p.lat()) data-lng=move || point.get().map(|p| p.lng())>
                {move || match point.get() {
                    Some(p) => td_string!(l, orders.address.picked,
                        lat = format!("{:.5}", p.lat()), lng = format!("{:.5}", p.lng())),
                    None => td_string!(l, orders.address.not_picked).to_owned(),
                }}
            </p>
            <form on:submit=submit>
                <label>{td_string!(l, orders.address.label)}
                    <input type="text" maxlength="20" data-testid="address-label" prop:value=label
                        on:input=move |ev| label.set(event_target_value(&ev))/>
                </label>
                <label>{td_string!(l, orders.address.detail)}
                    <input type="text" maxlength="100" required data-testid="address-detail" placeholder=td_string!(l, orders.address.detail_placeholder)
                        prop:value=detail_text on:input=move |ev| detail_text.set(event_target_value(&ev))/>
                </label>
                <button type="submit" data-testid="save-address" disabled=saving>{td_string!(l, orders.address.save)}</button>
            </form>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="address-error">{e}</p> })}
        </details>
    }
}
