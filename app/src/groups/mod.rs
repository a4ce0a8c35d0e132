//! Group buy (拼团) pages.
//! - `/store/:id/group/:sku`: start a group on a store's offer (address, then start and pay).
//! - `/group/:id`: the shared link. Server HTML for anyone, then one island that follows the
//!   group's event stream (members filling, formed, expired), counts down to the deadline, lets
//!   a signed-in shopper join (address, join, pay), and shares the link.

use jishi_api::auth::Address;
use jishi_api::catalog::Product;
use jishi_api::groups::{Group, GroupOrder, GroupStatus, JoinGroup, NewGroup};
#[cfg(feature = "hydrate")]
use jishi_api::groups::{GroupEvent, GROUP_EVENT};
use jishi_api::money::format_yuan;
use jishi_api::orders::{Order, OrderStatus};
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::addresses::{first_choice, AddressChooser};
#[cfg(feature = "hydrate")]
use crate::api_client::api_url;
use crate::api_client::{self, AttemptKey};
use crate::clock::{clock_skew_ms, hh_mm_ss, ms_until, time_left};
use crate::components::{ErrorNotice, LeafletAssets};
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{api_error_message, beijing_date_time, group_status_label, locale, Locale};
use crate::links::{go_to, group_href, group_start_href, order_href, sign_in_href, HOME};
use crate::pay::{pay_order, PayPanel, Payment};
use jishi_api::routes;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupPageData {
    pub group: Group,
    pub signed_in: bool,
    /// The shopper's own seat: their order in the group.
    pub mine: Option<Order>,
    pub addresses: Vec<Address>,
}

#[server]
pub async fn group_page(id: String) -> Result<GroupPageData, AppError> {
    use crate::platform_client::{from_context, get_as_shopper, shopper_addresses};
    use jishi_api::groups::MyGroupsResponse;
    let client = from_context()?;
    let no_query: [(&str, &str); 0] = [];
    let path = routes::GROUP.path(&[&id]);
    let (group, shopper, mine) = futures::join!(
        client.get::<Group>(&path, &no_query),
        shopper_addresses(),
        get_as_shopper::<MyGroupsResponse>(routes::MY_GROUPS.pattern()),
    );
    let group = group?;
    let (signed_in, addresses) = shopper?;
    let seat = if signed_in {
        mine?.and_then(|m| {
            m.groups
                .into_iter()
                .find(|g: &jishi_api::groups::MyGroup| g.group.id == group.id)
        })
    } else {
        None
    };
    // The order itself: while it waits for payment, the page counts down to its `pay_before`.
    let mine = match seat {
        Some(seat) => get_as_shopper::<Order>(&routes::ORDER.path(&[&seat.order_id])).await?,
        None => None,
    };
    Ok(GroupPageData {
        group,
        signed_in,
        mine,
        addresses,
    })
}

#[component]
pub fn GroupPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(id, group_page);
    let l = locale();
    let titled = move |heading: &str| format!("{heading} · {}", td_string!(l, common.brand));
    view! {
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, groups.opening)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <GroupSummary data=d/> }.into_any(),
                    Err(e) if e.is_not_found() => view! {
                        <Title text=titled(td_string!(l, groups.not_found))/>
                        <ErrorNotice error=e heading=td_string!(l, groups.not_found)/>
                        <p><a href=HOME>{td_string!(l, groups.browse_nearby)}</a></p>
                    }.into_any(),
                    Err(e) => view! {
                        <Title text=titled(td_string!(l, groups.unavailable))/>
                        <ErrorNotice error=e heading=td_string!(l, groups.unavailable)/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn GroupSummary(data: GroupPageData) -> impl IntoView {
    let g = &data.group;
    let l = locale();
    let title = td_string!(
        l,
        groups.page_title,
        size = g.size,
        product = &g.product_name,
        price = format_yuan(g.group_price_fen)
    );
    let description = td_string!(
        l,
        groups.description,
        store = &g.store_name,
        product = &g.product_name,
        price = format_yuan(g.group_price_fen),
        regular = format_yuan(g.regular_price_fen)
    );
    let signed_in = data.signed_in;
    let og_image = g.product_image.as_ref().map(|i| {
        let origin = crate::picture::request_origin();
        view! { <Meta property="og:image" content=crate::picture::absolute(&i.src, &origin)/> }
    });
    view! {
        <Title text=format!("{title} · {}", td_string!(l, common.brand))/>
        <LeafletAssets when=signed_in/>
        // A link preview where the link is shared.
        <Meta property="og:title" content=title.clone()/>
        <Meta property="og:description" content=description.clone()/>
        <Meta property="og:type" content="website"/>
        {og_image}
        <Meta name="description" content=description/>
        <header class="group-header">
            <crate::picture::ProductImage image=g.product_image.clone() alt=g.product_name.clone()
                px=crate::picture::CARD_PICTURE_PX loading=crate::picture::Loading::Eager/>
            <h1 data-testid="group-product">{g.product_name.clone()}</h1>
            <p class="group-store">{td_string!(l, groups.store_unit, store = &g.store_name, unit = &g.unit)}</p>
            <p class="group-prices">
                <span class="live-price" data-testid="group-price">{format_yuan(g.group_price_fen)}</span>" "
                <s data-testid="regular-price">{format_yuan(g.regular_price_fen)}</s>" "
                <span class="badge">{td_string!(l, groups.size_badge, size = g.size)}</span>
            </p>
        </header>
        <GroupView data/>
    }
    .into_any()
}

/// "还剩 05:07:09" / "05:07:09 left" (hours may pass 24), or "已截止" / "Closed".
pub fn countdown_text(ms_left: f64, l: Locale) -> String {
    if ms_left <= 0.0 {
        return td_string!(l, groups.countdown_over).to_owned();
    }
    td_string!(l, groups.countdown_left, hms = hh_mm_ss(ms_left))
}

/// The island: members, status, countdown, join and share.
#[island(lazy)]
fn GroupView(data: GroupPageData) -> impl IntoView {
    crate::hydration::island_hydrated();
    let GroupPageData {
        group,
        signed_in,
        mine,
        addresses,
    } = data;
    let group_id = StoredValue::new(group.id.clone());
    let deadline = StoredValue::new(group.deadline.clone());
    let skew = clock_skew_ms(group.now.as_deref());
    let group = RwSignal::new(group);
    // The shopper's seat: paying it, and the time left to.
    let payment = Payment::new(mine, skew);
    let connected = RwSignal::new(false);
    let status = Memo::new(move |_| group.with(|g| g.status));
    let l = locale();

    #[cfg(feature = "hydrate")]
    Effect::new(move |stream: Option<Option<crate::events::EventStream>>| {
        stream.flatten().or_else(|| {
            crate::events::EventStream::open(
                &api_url(&routes::GROUP_EVENTS.path(&[&group_id.get_value()])),
                GROUP_EVENT,
                move |event: GroupEvent| {
                    let _ = group.try_update(|g| g.apply(&event));
                },
                move |open| {
                    let _ = connected.try_set(open);
                },
            )
        })
    });

    // The countdown, redrawn every second in the browser.
    let left = time_left(move || Some(ms_until(&deadline.get_value(), skew)));
    let countdown = move || match left.get() {
        Some(ms) => countdown_text(ms, l),
        // The server has no ticking clock to show: the deadline itself, until the browser counts.
        None => {
            let when = beijing_date_time(&deadline.get_value(), l).unwrap_or_default();
            td_string!(l, groups.deadline_at, when = when)
        }
    };
    let closed = move || left.get().is_some_and(|ms| ms <= 0.0);

    // Inside a mini-program, what the host shares follows the group: seats left, or formed.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let title = group.with(|g| match g.status {
            GroupStatus::Forming => td_string!(
                l,
                groups.share_forming,
                seats = g.seats_left,
                product = &g.product_name,
                price = format_yuan(g.group_price_fen)
            ),
            _ => td_string!(
                l,
                groups.share_settled,
                size = g.size,
                product = &g.product_name,
                status = group_status_label(g.status, l)
            ),
        });
        let image = group.with(|g| crate::picture::share_url(g.product_image.as_ref()));
        crate::embed::share_with_host(&title, &group_href(&group_id.get_value()), &image);
    });

    let members = Memo::new(move |_| group.with(|g| g.members.clone()));
    // Formed after its store closed: the orders go out at its next opening, and the page says when.
    let formed_text = move || {
        let ships_at = group.with(|g| g.ships_at.clone());
        match ships_at.and_then(|t| crate::lang::beijing_date_time(&t, l)) {
            Some(time) => td_string!(l, groups.formed_ships_at, time = time).to_string(),
            None => td_string!(l, groups.formed_delivering).to_owned(),
        }
    };
    let empty_seats = Memo::new(move |_| group.with(|g| g.seats_left));

    view! {
        <section class="group" data-testid="group" data-group-id=group_id.get_value()
            data-stream=move || if connected.get() { "open" } else { "connecting" }>
            <p class="group-state">
                <span class="badge" data-testid="group-status" data-status=move || status.get().as_str()>
                    {move || group_status_label(status.get(), l)}
                </span>" "
                <span data-testid="group-countdown" data-deadline=deadline.get_value() role="timer">
                    {move || match status.get() {
                        GroupStatus::Forming => countdown(),
                        GroupStatus::Formed | GroupStatus::Fulfilled => formed_text(),
                        GroupStatus::Expired => td_string!(l, groups.expired_refunded).to_owned(),
                    }}
                </span>
                // The timer ticks silently (role="timer" is not read out each second); its end,
                // and the group forming or expiring, are announced here.
                <span class="visually-hidden" role="status" data-testid="group-announcement">
                    {move || match status.get() {
                        GroupStatus::Forming if closed() => {
                            td_string!(l, groups.closed_announcement).to_owned()
                        }
                        GroupStatus::Forming => String::new(),
                        GroupStatus::Formed | GroupStatus::Fulfilled => formed_text(),
                        GroupStatus::Expired => td_string!(l, groups.expired_refunded).to_owned(),
                    }}
                </span>
            </p>
            <ol class="group-members" data-testid="group-members" aria-live="polite"
                data-count=move || members.with(Vec::len) data-seats-left=move || empty_seats.get()>
                <For each=move || members.get() key=|m| (m.seat, m.paid) let:m>
                    <li class="group-member" data-testid="group-member" data-paid=m.paid.to_string()
                        data-initiator=m.initiator.to_string()>
                        <span class="avatar" aria-hidden="true">{crate::lang::person_name(&m.name, l).chars().next().map(String::from).unwrap_or_default()}</span>
                        <span class="name">{crate::lang::person_name(&m.name, l)}</span>
                        <span class="state">{if m.initiator { td_string!(l, groups.member_initiator) } else { "" }}{if m.paid { td_string!(l, groups.member_paid) } else { td_string!(l, groups.member_unpaid) }}</span>
                    </li>
                </For>
                {move || (0..empty_seats.get()).map(|_| view! {
                    <li class="group-member empty" data-testid="group-seat-empty">
                        <span class="avatar" aria-hidden="true">"?"</span>
                        <span class="name">{td_string!(l, groups.empty_seat)}</span>
                    </li>
                }).collect_view()}
            </ol>
            <MyPart group payment signed_in addresses/>
            <ShareButton group/>
        </section>
    }
    .into_any()
}

/// What this shopper can do: sign in to join, join (address, join, pay), or follow their order.
#[component]
fn MyPart(
    group: RwSignal<Group>,
    payment: Payment,
    signed_in: bool,
    addresses: Vec<Address>,
) -> impl IntoView {
    let mine = payment.order();
    let addresses = RwSignal::new(addresses);
    let chosen = RwSignal::new(addresses.with_untracked(|a| first_choice(None, a)));
    let choosing = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // One key for this page's attempt, so a retry after a lost answer gets the first answer back.
    let attempt = StoredValue::new(AttemptKey::<JoinGroup>::new());
    let l = locale();
    let join = move |_| {
        let Some(address_id) = chosen.get_untracked() else {
            error.set(Some(td_string!(l, groups.choose_address_first).to_owned()));
            return;
        };
        let body = JoinGroup { address_id };
        if let Err(e) = body.validate() {
            error.set(Some(api_error_message(&e, l)));
            return;
        }
        let path = routes::JOIN_GROUP.path(&[&group.with_untracked(|g| g.id.clone())]);
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match api_client::post_once::<GroupOrder, _>(&path, &body, attempt).await {
                Ok(joined) => {
                    choosing.set(false);
                    // The seat is held until it is paid: pay at once (or the host app does).
                    payment.show(joined.order);
                    payment.pay();
                }
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    let here = move || group_href(&group.with(|g| g.id.clone()));
    view! {
        <div class="group-actions">
            {move || match (mine.with(|o| o.as_ref().map(|o| (o.id.clone(), o.status))), signed_in) {
                (Some((order_id, order_status)), _) => view! {
                    <p class="notice" data-testid="group-joined">
                        {if order_status == OrderStatus::PendingPayment { td_string!(l, groups.joined_unpaid) } else { td_string!(l, groups.joined) }}
                        " "<a data-testid="my-group-order" href=order_href(&order_id)>{td_string!(l, groups.view_my_order)}</a>
                    </p>
                }.into_any(),
                (None, false) => view! {
                    <a class="button primary big" data-testid="join-group" href=sign_in_href(&here())>{td_string!(l, groups.sign_in_to_join)}</a>
                }.into_any(),
                (None, true) => view! {
                    <button type="button" class="primary big" data-testid="join-group"
                        disabled=move || busy.get() || !group.with(|g| g.joinable)
                        on:click=move |_| choosing.set(true)>
                        {move || if group.with(|g| g.joinable) { td_string!(l, groups.join) } else { group.with(|g| group_closed_text(g, l)) }}
                    </button>
                }.into_any(),
            }}
            {move || choosing.get().then(|| view! {
                <AddressChooser addresses chosen legend=td_string!(l, groups.address_legend) testid="group-addresses" start=None/>
                <button type="button" class="primary big" data-testid="join-confirm"
                    disabled=move || busy.get() || chosen.get().is_none() on:click=join>
                    {move || if busy.get() { td_string!(l, groups.joining) } else { td_string!(l, groups.join_and_pay) }}
                </button>
            }.into_any())}
            <PayPanel payment testid="pay-group-order"/>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="group-error">{e}</p> }.into_any())}
            {move || (status_is(group, GroupStatus::Forming) && !group.with(|g| g.joinable) && mine.with(Option::is_none)).then(|| view! {
                <p class="hint"><a href=group_start_href(&group.with(|g| g.store_id.clone()), &group.with(|g| g.sku.clone()))>{td_string!(l, groups.start_own)}</a></p>
            }.into_any())}
        </div>
    }
    .into_any()
}

fn status_is(group: RwSignal<Group>, status: GroupStatus) -> bool {
    group.with(|g| g.status == status)
}

/// Why the join button is off.
fn group_closed_text(g: &Group, l: Locale) -> &'static str {
    match g.status {
        GroupStatus::Forming if g.seats_left == 0 => td_string!(l, groups.full),
        GroupStatus::Forming => td_string!(l, groups.after_initiator_pays),
        status => group_status_label(status, l),
    }
}

/// Web Share where the browser has it, else the link to the clipboard.
#[component]
fn ShareButton(group: RwSignal<Group>) -> impl IntoView {
    let said = RwSignal::new(None::<&'static str>);
    let l = locale();
    let share = move |_| {
        let g = group.get_untracked();
        let text = td_string!(
            l,
            groups.share_text,
            size = g.size,
            product = &g.product_name,
            price = format_yuan(g.group_price_fen)
        );
        #[cfg(feature = "hydrate")]
        {
            let path = group_href(&g.id);
            leptos::task::spawn_local(async move {
                let outcome = share_link(&text, &path, l).await;
                said.set(Some(outcome));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (text, said, l);
    };
    view! {
        <button type="button" class="secondary" data-testid="share-group" on:click=share>{td_string!(l, groups.invite)}</button>
        <span class="hint" role="status" data-testid="share-result">{move || said.get()}</span>
    }
}

/// `navigator.share` where there is one, else `navigator.clipboard.writeText`; what happened.
#[cfg(feature = "hydrate")]
async fn share_link(text: &str, path: &str, l: Locale) -> &'static str {
    use js_sys::{Function, Object, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    let Some(window) = web_sys::window() else {
        return td_string!(l, groups.share_unavailable);
    };
    let url = format!("{}{}", window.location().origin().unwrap_or_default(), path);
    let navigator: JsValue = window.navigator().into();
    let call = |target: &JsValue, name: &str, arg: &JsValue| -> Option<Promise> {
        let f = Reflect::get(target, &JsValue::from_str(name)).ok()?;
        let f = f.dyn_into::<Function>().ok()?;
        f.call1(target, arg).ok()?.dyn_into::<Promise>().ok()
    };
    let data = Object::new();
    let _ = Reflect::set(
        &data,
        &"title".into(),
        &JsValue::from_str(td_string!(l, groups.share_title)),
    );
    let _ = Reflect::set(&data, &"text".into(), &JsValue::from_str(text));
    let _ = Reflect::set(&data, &"url".into(), &JsValue::from_str(&url));
    if let Some(p) = call(&navigator, "share", &data.into()) {
        return match wasm_bindgen_futures::JsFuture::from(p).await {
            Ok(_) => td_string!(l, groups.shared),
            Err(_) => td_string!(l, groups.not_shared),
        };
    }
    let clipboard = Reflect::get(&navigator, &"clipboard".into()).unwrap_or(JsValue::UNDEFINED);
    let copied = match call(&clipboard, "writeText", &JsValue::from_str(&url)) {
        Some(p) => wasm_bindgen_futures::JsFuture::from(p).await.is_ok(),
        None => false,
    };
    if copied {
        td_string!(l, groups.link_copied)
    } else {
        td_string!(l, groups.copy_link_yourself)
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StartPageData {
    pub store_id: String,
    pub product: Product,
    pub signed_in: bool,
    pub addresses: Vec<Address>,
}

#[server]
pub async fn start_page(store_id: String, sku: String) -> Result<StartPageData, AppError> {
    use crate::platform_client::{from_context, shopper_addresses};
    use jishi_api::catalog::{ProductsQueryRaw, ProductsResponse, MAX_PRODUCTS_LIMIT};
    let client = from_context()?;
    let all_products = ProductsQueryRaw {
        limit: Some(MAX_PRODUCTS_LIMIT.to_string()),
        ..ProductsQueryRaw::default()
    };
    let path = routes::STORE_PRODUCTS.path(&[&store_id]);
    let (products, shopper) = futures::join!(
        client.get::<ProductsResponse>(&path, &all_products),
        shopper_addresses(),
    );
    let product = products?
        .products
        .into_iter()
        .find(|p| p.sku == sku && p.group.is_some())
        .ok_or_else(|| {
            AppError::Api(jishi_api::ApiError::not_found(td_string!(
                locale(),
                groups.no_offer
            )))
        })?;
    let (signed_in, addresses) = shopper?;
    Ok(StartPageData {
        store_id,
        product,
        signed_in,
        addresses,
    })
}

#[component]
pub fn StartGroupPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        params.with(|p| {
            (
                p.get("id").unwrap_or_default(),
                p.get("sku").unwrap_or_default(),
            )
        })
    };
    let data = Resource::new(key, |(store, sku)| start_page(store, sku));
    let l = locale();
    view! {
        <Title text=format!("{} · {}", td_string!(l, groups.start_title), td_string!(l, common.brand))/>
        <h1>{td_string!(l, groups.start_title)}</h1>
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, groups.loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <LeafletAssets when=d.signed_in/><StartGroup data=d/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The island: address, then start the group (the starter's order) and pay it.
#[island(lazy)]
fn StartGroup(data: StartPageData) -> impl IntoView {
    crate::hydration::island_hydrated();
    let StartPageData {
        store_id,
        product,
        signed_in,
        addresses,
    } = data;
    let offer = product.group;
    let here = group_start_href(&store_id, &product.sku);
    let addresses = RwSignal::new(addresses);
    let chosen = RwSignal::new(addresses.with_untracked(|a| first_choice(None, a)));
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // One key for this page's attempt, so a retry after a lost answer gets the first answer back.
    let attempt = StoredValue::new(AttemptKey::<NewGroup>::new());
    let request = StoredValue::new((store_id, product.sku.clone()));
    let l = locale();
    let start = move |_| {
        let Some(address_id) = chosen.get_untracked() else {
            error.set(Some(td_string!(l, groups.choose_address_first).to_owned()));
            return;
        };
        let (store_id, sku) = request.get_value();
        let body = NewGroup {
            store_id,
            sku,
            address_id,
            size: offer.map(|o| o.size),
            price_fen: offer.map(|o| o.price_fen),
        };
        if let Err(e) = body.validate() {
            error.set(Some(api_error_message(&e, l)));
            return;
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match api_client::post_once::<GroupOrder, _>(routes::GROUPS.pattern(), &body, attempt)
                .await
            {
                Ok(started) => {
                    // Paying opens the group; if it fails, the group page offers it again.
                    let _ = pay_order(&started.order.id).await;
                    go_to(&group_href(&started.group.id));
                }
                Err(e) => {
                    error.set(Some(e.message()));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <section class="group-start" data-testid="group-start" data-sku=product.sku.clone()>
            <p class="group-prices">
                <span class="product-name">{product.name.clone()}</span>" "
                {offer.map(|o| view! {
                    <span class="live-price">{format_yuan(o.price_fen)}</span>" "
                    <s>{format_yuan(product.price_fen)}</s>" "
                    <span class="badge">{td_string!(l, groups.size_badge, size = o.size)}</span>
                })}
            </p>
            <p class="hint">{td_string!(l, groups.start_hint)}</p>
            {if signed_in {
                view! {
                    <AddressChooser addresses chosen legend=td_string!(l, groups.address_legend) testid="group-addresses" start=None/>
                    <button type="button" class="primary big" data-testid="start-group-submit"
                        disabled=move || busy.get() || chosen.get().is_none() on:click=start>
                        {move || if busy.get() { td_string!(l, groups.starting) } else { td_string!(l, groups.start_and_pay) }}
                    </button>
                }.into_any()
            } else {
                view! { <a class="button primary big" data-testid="start-group-sign-in" href=sign_in_href(&here)>{td_string!(l, groups.sign_in_to_start)}</a> }.into_any()
            }}
            {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="group-error">{e}</p> })}
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_reads_hours_minutes_seconds_and_ends() {
        let zh = Locale::zh_CN;
        assert_eq!(countdown_text(0.0, zh), "已截止");
        assert_eq!(countdown_text(-5.0, zh), "已截止");
        assert_eq!(countdown_text(1.0, zh), "还剩 00:00:01");
        assert_eq!(countdown_text(86_400_000.0, zh), "还剩 24:00:00");
        assert_eq!(countdown_text(3_723_000.0, zh), "还剩 01:02:03");
        assert_eq!(countdown_text(3_723_000.0, Locale::en), "01:02:03 left");
    }
}
