//! Choosing a delivery address, the one way every page asks for one (checkout, the live buy
//! sheet, starting and joining a group): the shopper's saved addresses, and a new one picked on
//! the map plus text. Where the page knows the store (checkout), addresses out of its reach are
//! shown but cannot be chosen.

use jishi_api::auth::{Address, NewAddress};
use jishi_api::stores::StoreProfile;
use jishi_api::LatLng;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::{api_error_message, locale};
use crate::links::format_distance;
use crate::map::AddressPickMap;

/// Whether `store` delivers to `a`.
pub fn delivers(store: &StoreProfile, a: &Address) -> bool {
    LatLng::new(a.lat, a.lng).is_ok_and(|p| store.quote(p).delivers)
}

/// Which saved address is chosen at first: the first `store` delivers to (any, when the page
/// does not know the store: the platform decides).
pub fn first_choice(store: Option<&StoreProfile>, addresses: &[Address]) -> Option<String> {
    addresses
        .iter()
        .find(|a| store.is_none_or(|s| delivers(s, a)))
        .map(|a| a.id.clone())
}

/// The saved addresses as choices for `chosen`, and the form adding one (chosen when it can be).
#[component]
pub fn AddressChooser(
    addresses: RwSignal<Vec<Address>>,
    chosen: RwSignal<Option<String>>,
    /// The fieldset's legend.
    legend: &'static str,
    /// The fieldset's `data-testid`.
    testid: &'static str,
    /// Where the new address's map starts.
    start: Option<LatLng>,
    /// The store that will deliver, when the page knows it: each address shows its distance,
    /// and those out of range cannot be chosen.
    #[prop(optional)]
    store: Option<StoredValue<StoreProfile>>,
) -> impl IntoView {
    let reachable = move |a: &Address| store.is_none_or(|s| s.with_value(|s| delivers(s, a)));
    let on_added = move |a: Address| {
        if reachable(&a) {
            chosen.set(Some(a.id.clone()));
        }
        addresses.update(|list| list.insert(0, a));
    };
    let l = locale();
    view! {
        <fieldset class="addresses" data-testid=testid>
            <legend>{legend}</legend>
            {move || addresses.with(Vec::is_empty).then(|| view! {
                <p class="hint">{td_string!(l, orders.address.none_saved)}</p>
            })}
            {move || addresses.get().into_iter().map(|a| {
                let quote = store.and_then(|s| {
                    let p = LatLng::new(a.lat, a.lng).ok()?;
                    Some(s.with_value(|s| (s.quote(p), f64::from(s.delivery_radius_m) / 1000.0)))
                });
                let ok = reachable(&a);
                let id = a.id.clone();
                view! {
                    <label class="address-option" class:unreachable=!ok data-testid="address-option"
                        data-address-id=a.id.clone() data-delivers=store.is_some().then(|| ok.to_string())>
                        <input type="radio" name="address" disabled=!ok
                            prop:checked={let id = id.clone(); move || chosen.get().as_deref() == Some(id.as_str())}
                            on:change={let id = id.clone(); move |_| chosen.set(Some(id.clone()))}/>
                        <strong>{a.label.clone()}</strong>" "{a.detail.clone()}
                        {quote.map(|(q, radius_km)| view! {
                            <span class="distance">{format!(" · {}", td_string!(l, orders.address.distance, distance = format_distance(q.distance_m)))}</span>
                            {(!q.delivers).then(|| view! {
                                <span class="warn" data-testid="address-out-of-range">
                                    {td_string!(l, orders.address.out_of_range, km = format!("{radius_km:.1}"))}
                                </span>
                            })}
                        })}
                    </label>
                }
            }).collect_view()}
            <NewAddressForm start on_added/>
        </fieldset>
    }
    .into_any()
}

/// A new address: a point on the map (starting at `start`) plus text.
#[component]
fn NewAddressForm(
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
            match crate::api_client::post::<Address, _>(
                jishi_api::routes::MY_ADDRESSES.pattern(),
                &body,
            )
            .await
            {
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
