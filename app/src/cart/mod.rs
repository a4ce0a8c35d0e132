//! Per-store carts, kept by the platform: the quantity controls on the store page, the cart bar and
//! `/cart`. Taps change what the page shows at once; the platform's answer settles it.

use std::collections::HashMap;

use jishi_api::cart::{Cart, CartsResponse, ItemInput, PutCart, MAX_QUANTITY_PER_ITEM};
use jishi_api::money::{format_yuan, FeeRules};
use jishi_api::LatLng;
use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{use_location, ErrorNotice};
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{locale, Locale};
use crate::links::{checkout_href, store_href};
use crate::picture::ProductImage;

/// One store's cart as the page sees it.
///
/// Every tap updates `wanted` (what the shopper sees) and asks for a sync. At most one `PUT` is in
/// flight per cart; taps during it only mark the cart dirty, and when the answer comes back the
/// latest `wanted` goes out once more. So twenty quick taps cost two or three round trips, never
/// twenty queued ones, and because each `PUT` carries the whole cart, the last one wins. When no
/// tap is pending the page settles to the platform's answer (which may lower a quantity to stock).
#[derive(Clone, Copy)]
pub struct CartSync {
    store_id: StoredValue<String>,
    wanted: RwSignal<Vec<(String, u32)>>,
    confirmed: RwSignal<Option<Cart>>,
    prices: StoredValue<HashMap<String, i64>>,
    in_flight: StoredValue<bool>,
    dirty: StoredValue<bool>,
    syncing: RwSignal<bool>,
    error: RwSignal<Option<String>>,
}

impl CartSync {
    pub fn new(store_id: String, initial: Option<Cart>) -> Self {
        let prices = initial
            .iter()
            .flat_map(|c| c.items.iter().map(|l| (l.sku.clone(), l.price_fen)))
            .collect();
        Self {
            store_id: StoredValue::new(store_id),
            wanted: RwSignal::new(initial.as_ref().map(lines).unwrap_or_default()),
            confirmed: RwSignal::new(initial),
            prices: StoredValue::new(prices),
            in_flight: StoredValue::new(false),
            dirty: StoredValue::new(false),
            syncing: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// Lets the subtotal follow taps on products that are not in the platform's answer yet.
    pub fn know_price(&self, sku: &str, price_fen: i64) {
        self.prices.update_value(|p| {
            p.insert(sku.to_owned(), price_fen);
        });
    }

    pub fn quantity(&self, sku: &str) -> u32 {
        self.wanted.with(|w| {
            w.iter()
                .find(|(s, _)| s == sku)
                .map(|(_, q)| *q)
                .unwrap_or(0)
        })
    }

    pub fn count(&self) -> u32 {
        self.wanted.with(|w| w.iter().map(|(_, q)| q).sum())
    }

    pub fn subtotal_fen(&self) -> i64 {
        let wanted = self.wanted.get();
        self.prices.with_value(|p| {
            wanted
                .iter()
                .map(|(sku, q)| p.get(sku).copied().unwrap_or(0) * i64::from(*q))
                .sum()
        })
    }

    pub fn confirmed(&self) -> Option<Cart> {
        self.confirmed.get()
    }

    pub fn syncing(&self) -> bool {
        self.syncing.get()
    }

    pub fn error(&self) -> Option<String> {
        self.error.get()
    }

    /// Sets one product's quantity (0 removes it) and syncs.
    pub fn set(&self, sku: &str, quantity: u32) {
        let quantity = quantity.min(MAX_QUANTITY_PER_ITEM);
        self.wanted.update(|w| {
            match w.iter_mut().find(|(s, _)| s == sku) {
                Some(line) => line.1 = quantity,
                None => w.push((sku.to_owned(), quantity)),
            }
            w.retain(|(_, q)| *q > 0);
        });
        self.error.set(None);
        self.sync();
    }

    fn sync(self) {
        if self.in_flight.get_value() {
            self.dirty.set_value(true);
            return;
        }
        self.in_flight.set_value(true);
        self.syncing.set(true);
        leptos::task::spawn_local(async move {
            loop {
                // The page may have been left while a request was out: then stop quietly.
                let Some(items) = self.wanted.try_get_untracked() else {
                    return;
                };
                let body = PutCart {
                    items: items
                        .iter()
                        .map(|(sku, q)| ItemInput {
                            sku: sku.clone(),
                            quantity: i64::from(*q),
                        })
                        .collect(),
                };
                let path = jishi_api::routes::CART.path(&[&self.store_id.get_value()]);
                let answer = crate::api_client::put::<Cart, _>(&path, &body).await;
                if self.dirty.try_get_value() == Some(true) {
                    self.dirty.set_value(false);
                    continue;
                }
                self.in_flight.set_value(false);
                match answer {
                    Ok(cart) => {
                        self.prices.update_value(|p| {
                            for l in &cart.items {
                                p.insert(l.sku.clone(), l.price_fen);
                            }
                        });
                        let _ = self.wanted.try_set(lines(&cart));
                        let _ = self.confirmed.try_set(Some(cart));
                    }
                    Err(e) => {
                        // Show the message and fall back to what the platform last confirmed.
                        let _ = self.error.try_set(Some(e.message()));
                        let last = self.confirmed.try_get_untracked().flatten();
                        let _ = self
                            .wanted
                            .try_set(last.as_ref().map(lines).unwrap_or_default());
                    }
                }
                let _ = self.syncing.try_set(false);
                return;
            }
        });
    }
}

fn lines(cart: &Cart) -> Vec<(String, u32)> {
    cart.items
        .iter()
        .map(|l| (l.sku.clone(), l.quantity))
        .collect()
}

/// The cart of one store for the islands inside it: it creates the `CartSync` and hands it to the
/// steppers and the bar in `children` through context. Everything between them stays server HTML.
/// `back`: this page's URL, where the steppers' no-script forms return to.
#[island]
pub fn CartScope(
    store_id: String,
    cart: Option<Cart>,
    back: String,
    children: Children,
) -> impl IntoView {
    crate::hydration::island_hydrated();
    provide_context(CartSync::new(store_id, cart));
    provide_context(ReturnTo(back));
    children()
}

/// The page a stepper's no-script form comes back to.
#[derive(Clone)]
struct ReturnTo(String);

/// "+" (`add-to-cart`), the quantity and "−" for one product. "+" stays the same element at every
/// quantity so quick taps always land on it. Only inside a `CartScope`; without one (never on our
/// pages) it renders nothing.
#[island]
pub fn QuantityStepper(sku: String, name: String, stock: u32, price_fen: i64) -> impl IntoView {
    crate::hydration::island_hydrated();
    // `Option`, not `into_any()`: an `AnyView` compiles every way to hydrate it (async too) into
    // the main wasm, about 6 KB for this view alone.
    let cart = use_context::<CartSync>()?;
    cart.know_price(&sku, price_fen);
    let limit = stock.min(MAX_QUANTITY_PER_ITEM);
    let sku = StoredValue::new(sku);
    let quantity = move || sku.with_value(|s| cart.quantity(s));
    let add = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        sku.with_value(|s| cart.set(s, (cart.quantity(s) + 1).min(limit)))
    };
    let remove = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        sku.with_value(|s| cart.set(s, cart.quantity(s).saturating_sub(1)))
    };
    let back = use_context::<ReturnTo>().map(|r| r.0).unwrap_or_default();
    let l = locale();
    // Also a plain form to `/forms/cart` (see the server's `cart_form`): a tap before the wasm
    // runs, or with scripts off, still changes the cart. Once hydrated, the handlers take over.
    Some(view! {
        <form class="stepper" method="post" action="/forms/cart" data-testid="quantity-stepper"
            data-sku=sku.get_value()>
            <input type="hidden" name="store" value=cart.store_id.get_value()/>
            <input type="hidden" name="sku" value=sku.get_value()/>
            <input type="hidden" name="back" value=back/>
            <button type="submit" name="quantity" value=move || quantity().saturating_sub(1)
                class="minus" data-testid="remove-from-cart" aria-label=td_string!(l, cart.remove_one, name = &name)
                hidden=move || quantity() == 0 on:click=remove>"−"</button>
            <span class="quantity" data-testid="item-quantity" aria-live="polite"
                hidden=move || quantity() == 0>{quantity}</span>
            <button type="submit" name="quantity" value=move || (quantity() + 1).min(limit)
                class="plus" data-testid="add-to-cart" aria-label=td_string!(l, cart.add_one, name = &name)
                disabled=move || { quantity() >= limit } on:click=add>"+"</button>
        </form>
        {(limit > 0).then(|| view! {
            <span class="stock-cap" hidden=move || { quantity() < limit }>{td_string!(l, cart.max_quantity, limit = limit)}</span>
        })}
    })
}

/// The bar under a store's products: count, subtotal, minimum order, the way to checkout. Only
/// inside a `CartScope`.
#[island]
pub fn CartBar(min_order_fen: i64, at: Option<LatLng>) -> impl IntoView {
    crate::hydration::island_hydrated();
    let cart = use_context::<CartSync>()?;
    let store_id = cart.store_id.get_value();
    let checkout = checkout_href(&store_id, at);
    let short_fen = move || (min_order_fen - cart.subtotal_fen()).max(0);
    let l = locale();
    Some(view! {
        <aside class="cart-bar" data-testid="cart-bar" data-syncing=move || cart.syncing().to_string()
            class:empty=move || cart.count() == 0 aria-label=td_string!(l, common.nav_cart)>
            <a class="cart-link" href=crate::links::cart_href(at)>
                {td_string!(l, cart.count_before)}<span class="count" data-testid="cart-count">{move || cart.count()}</span>{td_string!(l, cart.count_after)}
            </a>
            // The new count and total, read out after each change.
            <span class="visually-hidden" role="status" data-testid="cart-announcement">
                {move || td_string!(l, cart.announcement, count = cart.count(), total = format_yuan(cart.subtotal_fen()))}
            </span>
            <span class="subtotal" data-testid="cart-subtotal">{move || format_yuan(cart.subtotal_fen())}</span>
            {move || cart.error().map(|e| view! { <p class="cart-error" role="alert" data-testid="cart-error">{e}</p> })}
            {move || if cart.count() == 0 {
                EitherOf3::A(view! { <span class="hint">{td_string!(l, cart.pick_products)}</span> })
            } else if short_fen() > 0 {
                EitherOf3::B(view! { <span class="hint" data-testid="below-minimum">{td_string!(l, cart.below_minimum, amount = format_yuan(short_fen()))}</span> })
            } else {
                EitherOf3::C(view! { <a class="button primary" data-testid="checkout" href=checkout.clone()>{td_string!(l, cart.checkout)}</a> })
            }}
        </aside>
    })
}

/// The shopper's carts, one per store. `None` when there is no session yet.
#[server]
pub async fn load_carts() -> Result<CartsResponse, AppError> {
    Ok(
        crate::platform_client::get_as_shopper::<CartsResponse>(jishi_api::routes::CARTS.pattern())
            .await?
            .unwrap_or(CartsResponse { carts: vec![] }),
    )
}

#[component]
pub fn CartPage() -> impl IntoView {
    let carts = Resource::new(|| (), |_| load_carts());
    let at = use_location();
    let l = locale();
    view! {
        <Title text=format!("{} · {}", td_string!(l, common.nav_cart), td_string!(l, common.brand))/>
        <h1>{td_string!(l, common.nav_cart)}</h1>
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, cart.opening)}</p> }>
            {move || Suspend::new(async move {
                match carts.await {
                    Ok(r) if r.carts.iter().all(|c| c.items.is_empty()) => view! {
                        <section class="notice empty" data-testid="empty-cart">
                            <p>{td_string!(l, cart.empty)}</p>
                            <p><a href=crate::links::home_at(at.get_untracked())>{td_string!(l, cart.browse_nearby)}</a></p>
                        </section>
                    }.into_any(),
                    Ok(r) => r.carts.into_iter().filter(|c| !c.items.is_empty())
                        .map(|c| view! { <StoreCart cart=c at=at.get_untracked()/> })
                        .collect_view().into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn StoreCart(cart: Cart, at: Option<LatLng>) -> impl IntoView {
    let min_order_fen = cart.min_order_fen;
    let l = locale();
    // Built inside the scope's children: a stepper finds its cart through context when it runs.
    let rows = {
        let items = cart.items.clone();
        move || {
            items
                .into_iter()
                .map(|line| {
                    view! {
                        <li class="cart-line" data-testid="cart-line" data-sku=line.sku.clone()>
                            <ProductImage image=line.image.clone() alt=line.name.clone() px=crate::catalog::LIST_PICTURE_PX/>
                            <span class="product-name">{line.name.clone()}</span>
                            <span class="price">{format!("{}/{}", format_yuan(line.price_fen), line.unit)}</span>
                            {(line.quantity > line.stock).then(|| view! { <span class="warn">{td_string!(l, cart.stock_left, stock = line.stock)}</span> })}
                            <QuantityStepper sku=line.sku.clone() name=line.name.clone() stock=line.stock price_fen=line.price_fen/>
                        </li>
                    }
                })
                .collect_view()
        }
    };
    let store_id = cart.store_id.clone();
    view! {
        <section class="store-cart" data-testid="store-cart" data-store-id=store_id.clone()>
            <h2><a href=store_href(&store_id, at)>{cart.store_name.clone()}</a></h2>
            <p class="store-meta" data-testid="cart-terms">
                <span>{if min_order_fen == 0 {
                    td_string!(l, cart.no_minimum).to_owned()
                } else {
                    td_string!(l, cart.minimum, amount = format_yuan(min_order_fen))
                }}</span>
                {cart.fees.as_ref().map(|f| view! { <span>{describe_fees(f, l)}</span> })}
            </p>
            <CartScope store_id=store_id.clone() cart=Some(cart.clone()) back=crate::links::cart_href(at)>
                <ul class="cart-lines">{rows()}</ul>
                <CartBar min_order_fen at/>
            </CartScope>
        </section>
    }
}

/// A store's fee rules in the page's language ("配送费 ¥4 起，满 ¥59 免配送费" / "Delivery ¥4 and
/// up, free over ¥59"): what a shopper can know about the fee before choosing an address.
fn describe_fees(f: &FeeRules, l: Locale) -> String {
    let base = if f.base_fen == 0 && f.tiers.is_empty() {
        td_string!(l, cart.fees.free).to_owned()
    } else if f.tiers.is_empty() {
        td_string!(l, cart.fees.flat, fee = format_yuan(f.base_fen))
    } else {
        td_string!(l, cart.fees.from, fee = format_yuan(f.base_fen))
    };
    match f.free_above_fen {
        Some(t) if f.base_fen > 0 || !f.tiers.is_empty() => {
            td_string!(
                l,
                cart.fees.free_above,
                base = base,
                threshold = format_yuan(t)
            )
        }
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_api::money::FeeTier;

    #[test]
    fn fees_read_in_both_languages() {
        let tier = FeeTier {
            beyond_m: 3000,
            extra_fen: 200,
        };
        let cases = [
            (
                400,
                vec![],
                Some(5900),
                "配送费 ¥4，满 ¥59 免配送费",
                "Delivery ¥4, free over ¥59",
            ),
            (
                400,
                vec![tier],
                Some(5900),
                "配送费 ¥4 起，满 ¥59 免配送费",
                "Delivery ¥4 and up, free over ¥59",
            ),
            (400, vec![tier], None, "配送费 ¥4 起", "Delivery ¥4 and up"),
            (0, vec![], Some(100), "免配送费", "Free delivery"),
            (
                0,
                vec![tier],
                Some(5900),
                "配送费 ¥0 起，满 ¥59 免配送费",
                "Delivery ¥0 and up, free over ¥59",
            ),
        ];
        for (base_fen, tiers, free_above_fen, zh, en) in cases {
            let rules = FeeRules {
                base_fen,
                tiers,
                free_above_fen,
            };
            assert_eq!(describe_fees(&rules, Locale::zh_CN), zh);
            assert_eq!(describe_fees(&rules, Locale::en), en);
        }
    }
}
