//! `/checkout/:store`: the form is the cart's lines, then its parts (the address chooser with the
//! map picker, `crate::addresses`; the slot picker in `slots`; the price breakdown in
//! `breakdown`), then placing the order exactly once.
//!
//! The parts return `AnyView`: nested in the form, their full view types overflow the compiler's
//! query depth limit where the server crate renders the app.

mod breakdown;
mod slots;

use crate::picture::ProductImage;
use jishi_api::auth::Address;
use jishi_api::cart::{Cart, ItemInput};
use jishi_api::money::format_yuan;
use jishi_api::orders::{Order, PlaceOrder, Shortage, Slot};
use jishi_api::stores::StoreDetail;
use jishi_api::LatLng;
use leptos::prelude::*;
use leptos_meta::{Script, Stylesheet, Title};
use leptos_router::hooks::use_params_map;

use crate::addresses::{first_choice, AddressChooser};
use crate::api_client::{post_once, AttemptKey};
use crate::components::{use_location, ErrorNotice};
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{api_error_message, locale, shortage_label};
use crate::links::{checkout_href, order_href, sign_in_href, store_href};

use breakdown::PriceBreakdown;
use slots::{initial_slot, SlotPicker};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckoutData {
    pub detail: StoreDetail,
    pub cart: Option<Cart>,
    pub signed_in: bool,
    pub addresses: Vec<Address>,
}

#[server]
pub async fn checkout_page(store_id: String) -> Result<CheckoutData, AppError> {
    use crate::platform_client::{from_context, get_as_shopper};
    use jishi_api::auth::{AddressesResponse, Me};
    let client = from_context()?;
    let detail_path = jishi_api::routes::STORE.path(&[&store_id]);
    let cart_path = jishi_api::routes::CART.path(&[&store_id]);
    let no_query: [(&str, &str); 0] = [];
    let (detail, cart, me, addresses) = futures::join!(
        client.get::<StoreDetail>(&detail_path, &no_query),
        get_as_shopper::<Cart>(&cart_path),
        get_as_shopper::<Me>(jishi_api::routes::ME.pattern()),
        get_as_shopper::<AddressesResponse>(jishi_api::routes::MY_ADDRESSES.pattern()),
    );
    Ok(CheckoutData {
        detail: detail?,
        cart: cart?,
        signed_in: me?.and_then(|m| m.user).is_some(),
        addresses: addresses?.map(|a| a.addresses).unwrap_or_default(),
    })
}

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let params = use_params_map();
    let at = use_location();
    let store_id = move || params.with(|p| p.get("store").unwrap_or_default());
    let data = Resource::new(store_id, checkout_page);
    let l = locale();
    view! {
        <Title text=format!("{} · {}", td_string!(l, orders.checkout.title), td_string!(l, common.brand))/>
        // The new-address form picks its point on a map.
        <Script src=crate::assets::LEAFLET_JS defer="defer"/>
        <Stylesheet href=crate::assets::LEAFLET_CSS/>
        <h1>{td_string!(l, orders.checkout.heading)}</h1>
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, orders.checkout.loading)}</p> }>
            {move || Suspend::new(async move {
                let at = at.get_untracked();
                match data.await {
                    Ok(d) if !d.signed_in => view! {
                        <section class="notice" data-testid="sign-in-first">
                            <p>{td_string!(l, orders.checkout.sign_in_first)}</p>
                            <p><a class="button primary" data-testid="sign-in-link"
                                href=sign_in_href(&checkout_href(&d.detail.store.id, at))>{td_string!(l, orders.page.sign_in_button)}</a></p>
                        </section>
                    }.into_any(),
                    Ok(d) if d.cart.as_ref().is_none_or(|c| c.items.is_empty()) => view! {
                        <section class="notice empty" data-testid="empty-cart">
                            <p>{td_string!(l, orders.checkout.cart_empty, store = &d.detail.store.name)}</p>
                            <p><a href=store_href(&d.detail.store.id, at)>{td_string!(l, orders.checkout.back_to_store)}</a></p>
                        </section>
                    }.into_any(),
                    Ok(d) => view! { <CheckoutForm data=d at/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The form's state (chosen address, slot, the attempt's key) and placing; its parts render it.
/// An island: all of it reacts to the chosen address and slot.
#[island(lazy)]
fn CheckoutForm(data: CheckoutData, at: Option<LatLng>) -> impl IntoView {
    crate::hydration::island_hydrated();
    let l = locale();
    let CheckoutData {
        detail,
        cart,
        addresses,
        ..
    } = data;
    let cart = cart.unwrap_or_else(|| Cart {
        store_id: detail.store.id.clone(),
        store_name: detail.store.name.clone(),
        items: vec![],
        items_fen: 0,
        min_order_fen: detail.store.min_order_fen,
        meets_minimum: false,
        fees: None,
    });
    let detail = StoredValue::new(detail);
    let cart = StoredValue::new(cart);
    let chosen = RwSignal::new(detail.with_value(|d| first_choice(Some(&d.store), &addresses)));
    let store = StoredValue::new(detail.with_value(|d| d.store.clone()));
    let addresses = RwSignal::new(addresses);
    let open_now = detail.with_value(|d| d.open_now);
    let slot = RwSignal::new(detail.with_value(|d| initial_slot(d.open_now, &d.slots)));
    let error = RwSignal::new(None::<String>);
    let placing = RwSignal::new(false);
    let note = RwSignal::new(String::new());
    let shortage = RwSignal::new(Shortage::default());
    // A retry after a lost answer replays the first order instead of placing a second; a changed
    // address or slot is a new order.
    let attempt = StoredValue::new(AttemptKey::<PlaceOrder>::new());

    let chosen_address = move || {
        let id = chosen.get()?;
        addresses.with(|list| list.iter().find(|a| a.id == id).cloned())
    };
    let quote = move || {
        let a = chosen_address()?;
        let p = LatLng::new(a.lat, a.lng).ok()?;
        Some(detail.with_value(|d| d.store.quote(p)))
    };
    let items_fen = cart.with_value(|c| c.items_fen);
    let fee_fen = move || {
        quote().map(|q| detail.with_value(|d| d.store.fees.fee_fen(q.distance_m, items_fen)))
    };
    let below_minimum = cart.with_value(|c| !c.meets_minimum);

    let place = move |_| {
        let Some(address_id) = chosen.get_untracked() else {
            error.set(Some(
                td_string!(l, orders.checkout.choose_address_first).to_owned(),
            ));
            return;
        };
        // The slot values are "asap" and the platform's own slot starts, so this only fails if
        // the platform sent something malformed.
        let slot = match Slot::parse(&slot.get_untracked()) {
            Ok(slot) => slot,
            Err(e) => {
                error.set(Some(api_error_message(&e, l)));
                return;
            }
        };
        // Checked here as the platform checks it, so a refused note is said before anything is sent.
        let note = match jishi_api::orders::delivery_note(&note.get_untracked()) {
            Ok(note) => note,
            Err(e) => {
                error.set(Some(api_error_message(&e, l)));
                return;
            }
        };
        let body = PlaceOrder {
            store_id: detail.with_value(|d| d.store.id.clone()),
            items: cart.with_value(|c| {
                c.items
                    .iter()
                    .map(|l| ItemInput {
                        sku: l.sku.clone(),
                        quantity: i64::from(l.quantity),
                    })
                    .collect()
            }),
            address_id,
            slot,
            note,
            shortage: shortage.get_untracked(),
        };
        placing.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let answer =
                post_once::<Order, _>(jishi_api::routes::ORDERS.pattern(), &body, attempt).await;
            match answer {
                Ok(order) => crate::links::go_to(&order_href(&order.id)),
                Err(e) => {
                    error.set(Some(e.message()));
                    placing.set(false);
                }
            }
        });
    };

    let lines = cart.with_value(|c| {
        c.items
            .iter()
            .map(|line| {
                view! {
                    <li data-testid="checkout-line" data-sku=line.sku.clone()>
                        <ProductImage image=line.image.clone() alt=line.name.clone() px=crate::picture::LINE_PICTURE_PX/>
                        <span class="product-name">{line.name.clone()}</span>
                        <span class="quantity">{format!("× {}", line.quantity)}</span>
                        <span class="price">{format_yuan(line.line_fen)}</span>
                    </li>
                }
            })
            .collect_view()
    });
    let store_point = detail.with_value(|d| LatLng::new(d.store.lat, d.store.lng).ok());
    let slots = detail.with_value(|d| d.slots.clone());
    let eta_min = Signal::derive(move || quote().map(|q| q.eta_min));
    let fee = Signal::derive(fee_fen);

    view! {
        <section class="checkout" data-testid="checkout" data-store-id=detail.with_value(|d| d.store.id.clone())>
            <h2>{detail.with_value(|d| d.store.name.clone())}</h2>
            <ul class="checkout-lines">{lines}</ul>
            <AddressChooser addresses chosen legend=td_string!(l, orders.address.legend) testid="addresses"
                start=at.or(store_point) store/>
            <SlotPicker chosen=slot slots open_now eta_min/>
            <label class="order-note-field">
                <span>{td_string!(l, orders.checkout.note_label)}</span>
                // One line of plain text: a line break is refused like any control character.
                <input type="text" data-testid="order-note" maxlength=jishi_api::orders::MAX_NOTE_CHARS
                    autocomplete="off" placeholder=td_string!(l, orders.checkout.note_placeholder)
                    prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))/>
            </label>
            <fieldset class="shortage-choice" data-testid="shortage-choice">
                <legend>{td_string!(l, orders.checkout.shortage_legend)}</legend>
                {Shortage::ALL.into_iter().map(|choice| view! {
                    <label>
                        <input type="radio" name="shortage" value=choice.as_str()
                            prop:checked=move || shortage.get() == choice
                            on:change=move |_| shortage.set(choice)/>
                        <span>{shortage_label(choice, l)}</span>
                    </label>
                }).collect_view()}
            </fieldset>
            <PriceBreakdown items_fen fee_fen=fee/>
            {below_minimum.then(|| view! {
                <p class="notice warn" data-testid="below-minimum">
                    {td_string!(l, orders.checkout.below_minimum,
                        amount = format_yuan(cart.with_value(|c| c.min_order_fen - c.items_fen)))}
                </p>
            })}
            {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="checkout-error">{e}</p> })}
            <button type="button" class="primary big" data-testid="place-order"
                disabled=move || placing.get() || chosen.get().is_none() || below_minimum on:click=place>
                {move || if placing.get() { td_string!(l, orders.checkout.placing).to_owned() } else {
                    td_string!(l, orders.checkout.place, amount = format_yuan(items_fen + fee_fen().unwrap_or(0)))
                }}
            </button>
        </section>
    }
}
