//! Checkout (`/checkout/:store`: address, slot, price breakdown, place exactly once) and order
//! tracking (`/orders/:id`, in `tracking`).

pub mod tracking;

use jishi_api::auth::{Address, NewAddress};
use jishi_api::cart::{Cart, ItemInput};
use jishi_api::money::format_yuan;
use jishi_api::orders::{Order, PlaceOrder, Slot};
use jishi_api::stores::StoreDetail;
use jishi_api::LatLng;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::components::{use_location, ErrorNotice};
use crate::error::AppError;
use crate::links::{checkout_href, format_distance, order_href, sign_in_href, store_href};
use crate::map::AddressPickMap;

pub use tracking::OrderPage;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckoutData {
    pub detail: StoreDetail,
    pub cart: Option<Cart>,
    pub signed_in: bool,
    pub addresses: Vec<Address>,
}

#[server]
pub async fn checkout_page(store_id: String) -> Result<CheckoutData, AppError> {
    use crate::links::encode;
    use crate::platform_client::{from_context, get_as_shopper};
    use jishi_api::auth::{AddressesResponse, Me};
    let id = encode(&store_id);
    let client = from_context()?;
    let detail_path = format!("/v1/stores/{id}");
    let cart_path = format!("/v1/cart/{id}");
    let no_query: [(&str, &str); 0] = [];
    let (detail, cart, me, addresses) = futures::join!(
        client.get::<StoreDetail>(&detail_path, &no_query),
        get_as_shopper::<Cart>(&cart_path),
        get_as_shopper::<Me>("/v1/me"),
        get_as_shopper::<AddressesResponse>("/v1/me/addresses"),
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
    view! {
        <Title text="结算 · 即时"/>
        <h1>"确认订单"</h1>
        <Suspense fallback=|| view! { <p class="loading">"正在准备结算…"</p> }>
            {move || Suspend::new(async move {
                let at = at.get_untracked();
                match data.await {
                    Ok(d) if !d.signed_in => view! {
                        <section class="notice" data-testid="sign-in-first">
                            <p>"下单前请先登录，购物车会保留。"</p>
                            <p><a class="button primary" data-testid="sign-in-link"
                                href=sign_in_href(&checkout_href(&d.detail.store.id, at))>"手机号登录"</a></p>
                        </section>
                    }.into_any(),
                    Ok(d) if d.cart.as_ref().is_none_or(|c| c.items.is_empty()) => view! {
                        <section class="notice empty" data-testid="empty-cart">
                            <p>{format!("在「{}」的购物车是空的。", d.detail.store.name)}</p>
                            <p><a href=store_href(&d.detail.store.id, at)>"回到门店挑选商品"</a></p>
                        </section>
                    }.into_any(),
                    Ok(d) => view! { <CheckoutForm data=d at/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Which saved address is chosen, and whether the store delivers there.
fn first_deliverable(detail: &StoreDetail, addresses: &[Address]) -> Option<String> {
    addresses
        .iter()
        .find(|a| delivers(detail, a))
        .map(|a| a.id.clone())
}

fn delivers(detail: &StoreDetail, a: &Address) -> bool {
    LatLng::new(a.lat, a.lng).is_ok_and(|p| detail.store.quote(p).delivers)
}

#[component]
fn CheckoutForm(data: CheckoutData, at: Option<LatLng>) -> impl IntoView {
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
    let chosen = RwSignal::new(detail.with_value(|d| first_deliverable(d, &addresses)));
    let addresses = RwSignal::new(addresses);
    // A closed store takes scheduled orders only: start on its first slot and offer no "ASAP".
    let open_now = detail.with_value(|d| d.open_now);
    let first_slot = detail.with_value(|d| d.slots.first().map(|s| s.start.clone()));
    let slot = RwSignal::new(if open_now {
        "asap".to_owned()
    } else {
        first_slot.unwrap_or_else(|| "asap".to_owned())
    });
    let error = RwSignal::new(None::<String>);
    let placing = RwSignal::new(false);
    // One key per distinct order body: a retry after a lost answer replays the first order instead
    // of placing a second; a changed address or slot is a new order and gets a new key.
    let attempt = StoredValue::new(None::<(PlaceOrder, String)>);
    let navigate = use_navigate();

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
            error.set(Some("请先选择一个能送到的收货地址".to_owned()));
            return;
        };
        // The slot values are "asap" and the platform's own slot starts, so this only fails if
        // the platform sent something malformed.
        let slot = match Slot::parse(&slot.get_untracked()) {
            Ok(slot) => slot,
            Err(e) => {
                error.set(Some(e.message));
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
        };
        let key = attempt.with_value(|a| match a {
            Some((b, key)) if *b == body => key.clone(),
            _ => crate::api_client::new_idempotency_key(),
        });
        attempt.set_value(Some((body.clone(), key.clone())));
        placing.set(true);
        error.set(None);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let answer = crate::api_client::send::<Order, _>(
                crate::api_client::Method::Post,
                "/orders",
                Some(&body),
                Some(&key),
            )
            .await;
            match answer {
                Ok(order) => navigate(&order_href(&order.id), Default::default()),
                Err(e) => {
                    error.set(Some(e.message()));
                    placing.set(false);
                }
            }
        });
    };

    let on_added = move |a: Address| {
        let ok = detail.with_value(|d| delivers(d, &a));
        if ok {
            chosen.set(Some(a.id.clone()));
        }
        addresses.update(|list| list.insert(0, a));
    };

    let lines = cart.with_value(|c| {
        c.items
            .iter()
            .map(|l| {
                view! {
                    <li data-testid="checkout-line" data-sku=l.sku.clone()>
                        <span class="product-name">{l.name.clone()}</span>
                        <span class="quantity">{format!("× {}", l.quantity)}</span>
                        <span class="price">{format_yuan(l.line_fen)}</span>
                    </li>
                }
            })
            .collect_view()
    });
    let store_point = detail.with_value(|d| LatLng::new(d.store.lat, d.store.lng).ok());
    let slots = detail.with_value(|d| d.slots.clone());

    view! {
        <section class="checkout" data-testid="checkout" data-store-id=detail.with_value(|d| d.store.id.clone())>
            <h2>{detail.with_value(|d| d.store.name.clone())}</h2>
            <ul class="checkout-lines">{lines}</ul>

            <fieldset class="addresses" data-testid="addresses">
                <legend>"收货地址"</legend>
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
                            {q.map(|q| view! { <span class="distance">{format!(" · 距门店 {}", format_distance(q.distance_m))}</span> })}
                            {(!ok).then(|| view! {
                                <span class="warn" data-testid="address-out-of-range">
                                    {format!("超出门店配送范围（{radius_km:.1} 公里），请换一个地址")}
                                </span>
                            })}
                        </label>
                    }
                }).collect_view()}
                <NewAddressForm start=at.or(store_point) on_added/>
            </fieldset>

            <fieldset class="slots">
                <legend>"送达时间"</legend>
                <label>
                    <input type="radio" name="slot" data-testid="slot-asap" prop:checked=move || slot.get() == "asap"
                        disabled=!open_now on:change=move |_| slot.set("asap".to_owned())/>
                    {move || match (open_now, quote()) {
                        (false, _) => "尽快送达（门店休息中，请预约）".to_owned(),
                        (true, Some(q)) => format!("尽快送达（约 {} 分钟）", q.eta_min),
                        (true, None) => "尽快送达".to_owned(),
                    }}
                </label>
                {(!slots.is_empty()).then(|| {
                    let first = slots[0].start.clone();
                    view! {
                        <label>
                            <input type="radio" name="slot" data-testid="slot-scheduled"
                                prop:checked=move || slot.get() != "asap"
                                on:change=move |_| slot.set(first.clone())/>
                            "预约时段 "
                            <select data-testid="slot-select" aria-label="预约送达时段"
                                on:change=move |ev| slot.set(event_target_value(&ev))>
                                {slots.iter().map(|s| view! {
                                    <option value=s.start.clone() prop:selected={let start = s.start.clone(); move || slot.get() == start}>{s.label.clone()}</option>
                                }).collect_view()}
                            </select>
                        </label>
                    }
                })}
            </fieldset>

            <dl class="price-breakdown" data-testid="price-breakdown">
                <dt>"商品金额"</dt><dd data-testid="price-items" data-fen=items_fen>{format_yuan(items_fen)}</dd>
                <dt>"配送费"</dt>
                <dd data-testid="price-fee" data-fen=move || fee_fen().unwrap_or(0)>{move || match fee_fen() {
                    Some(0) => "免配送费".to_owned(),
                    Some(f) => format_yuan(f),
                    None => "选择地址后计算".to_owned(),
                }}</dd>
                <dt>"合计"</dt>
                <dd class="total" data-testid="price-total" data-fen=move || items_fen + fee_fen().unwrap_or(0)>
                    {move || format_yuan(items_fen + fee_fen().unwrap_or(0))}
                </dd>
            </dl>
            {below_minimum.then(|| view! {
                <p class="notice warn" data-testid="below-minimum">
                    {format!("还差 {} 起送", format_yuan(cart.with_value(|c| c.min_order_fen - c.items_fen)))}
                </p>
            })}
            {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="checkout-error">{e}</p> })}
            <button type="button" class="primary big" data-testid="place-order"
                disabled=move || placing.get() || chosen.get().is_none() || below_minimum on:click=place>
                {move || if placing.get() { "正在下单…".to_owned() } else {
                    format!("提交订单 {}", format_yuan(items_fen + fee_fen().unwrap_or(0)))
                }}
            </button>
        </section>
    }
}

/// A new address: a point on the map (starting at the shopper's location) plus text.
#[component]
fn NewAddressForm(
    start: Option<LatLng>,
    on_added: impl Fn(Address) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let point = RwSignal::new(start);
    let label = RwSignal::new("家".to_owned());
    let detail_text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(p) = point.get_untracked() else {
            error.set(Some("请先在地图上点选收货位置".to_owned()));
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
            error.set(Some(e.message));
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
            <summary>"新增收货地址"</summary>
            <p class="hint">"在地图上点一下收货位置，再填写门牌号。"</p>
            <AddressPickMap start on_pick=move |p| point.set(Some(p))/>
            <p class="picked" data-testid="picked-point"
                data-lat=move || point.get().map(|p| p.lat()) data-lng=move || point.get().map(|p| p.lng())>
                {move || match point.get() {
                    Some(p) => format!("已选位置 {:.5}, {:.5}", p.lat(), p.lng()),
                    None => "还没有选位置".to_owned(),
                }}
            </p>
            <form on:submit=submit>
                <label>"标签"
                    <input type="text" maxlength="20" data-testid="address-label" prop:value=label
                        on:input=move |ev| label.set(event_target_value(&ev))/>
                </label>
                <label>"详细地址"
                    <input type="text" maxlength="100" required data-testid="address-detail" placeholder="楼号、单元、门牌号"
                        prop:value=detail_text on:input=move |ev| detail_text.set(event_target_value(&ev))/>
                </label>
                <button type="submit" data-testid="save-address" disabled=saving>"保存地址"</button>
            </form>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="address-error">{e}</p> })}
        </details>
    }
}
