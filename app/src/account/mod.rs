//! `/me`, the shopper's account: whether they are signed in, their orders, groups and saved
//! addresses, and the language switch.

use jishi_api::auth::{Address, User};
use jishi_api::money::format_yuan;
use jishi_api::orders::Order;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::auth::SignOutButton;
use crate::components::ErrorNotice;
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{
    beijing_date_time, group_status_label, locale, order_status_label, refund_reason_label,
    switch_href, tag, Locale,
};
use crate::links::{group_href, order_href, sign_in_href, ME};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MePageData {
    pub user: Option<User>,
    pub orders: Vec<Order>,
    pub addresses: Vec<Address>,
    #[serde(default)]
    pub groups: Vec<jishi_api::groups::MyGroup>,
    /// Live rooms the shopper reserved that have not ended.
    #[serde(default)]
    pub reservations: Vec<jishi_api::live::LiveRoom>,
}

#[server]
pub async fn me_page() -> Result<MePageData, AppError> {
    use crate::platform_client::get_as_shopper;
    use jishi_api::auth::{AddressesResponse, Me};
    use jishi_api::orders::OrdersResponse;
    // Orders and addresses need a signed-in shopper; before sign-in they come back as `None`.
    let (me, orders, groups, addresses, reservations) = futures::join!(
        get_as_shopper::<Me>(jishi_api::routes::ME.pattern()),
        get_as_shopper::<OrdersResponse>(jishi_api::routes::ORDERS.pattern()),
        get_as_shopper::<jishi_api::groups::MyGroupsResponse>(
            jishi_api::routes::MY_GROUPS.pattern()
        ),
        get_as_shopper::<AddressesResponse>(jishi_api::routes::MY_ADDRESSES.pattern()),
        get_as_shopper::<jishi_api::live::RoomsResponse>(
            jishi_api::routes::MY_RESERVATIONS.pattern()
        ),
    );
    Ok(MePageData {
        user: me?.and_then(|m| m.user),
        orders: orders?.map(|o| o.orders).unwrap_or_default(),
        addresses: addresses?.map(|a| a.addresses).unwrap_or_default(),
        groups: groups?.map(|g| g.groups).unwrap_or_default(),
        reservations: reservations?.map(|r| r.rooms).unwrap_or_default(),
    })
}

#[component]
pub fn MePage() -> impl IntoView {
    let data = Resource::new(|| (), |_| me_page());
    let l = locale();
    view! {
        <Title text=format!("{} · {}", td_string!(l, common.nav_me), td_string!(l, common.brand))/>
        <h1>{td_string!(l, common.nav_me)}</h1>
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, auth.loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <MeView data=d/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <LanguageChoice/>
    }
}

/// The language switch on `/me`, signed in or not: each language named in itself, headed in both
/// so a shopper who reads only the other one finds it. A plain link with `?lang=`, which the
/// server keeps in a cookie (like the footer's).
#[component]
fn LanguageChoice() -> impl IntoView {
    let l = locale();
    let link = move |to: Locale, testid: &'static str| {
        view! {
            <a href=switch_href(ME, [], to) hreflang=tag(to) lang=tag(to) data-testid=testid
                aria-current=(to == l).then_some("true")>
                {td_string!(to, auth.this_language)}
            </a>
        }
    };
    view! {
        <section class="language" data-testid="me-language">
            // Each half marked with its language, for screen readers' pronunciation.
            <h2>
                <span lang=tag(Locale::zh_CN)>{td_string!(Locale::zh_CN, common.language)}</span>" / "
                <span lang=tag(Locale::en)>{td_string!(Locale::en, common.language)}</span>
            </h2>
            <p>{link(Locale::zh_CN, "me-lang-zh")}" · "{link(Locale::en, "me-lang-en")}</p>
        </section>
    }
}

#[component]
fn MeView(data: MePageData) -> impl IntoView {
    let l = locale();
    let Some(user) = data.user else {
        return view! {
            <section class="notice" data-testid="signed-out">
                <p>{td_string!(l, auth.signed_out)}</p>
                <p><a class="button primary" data-testid="sign-in-link" href=sign_in_href(ME)>{td_string!(l, auth.phone_sign_in)}</a></p>
            </section>
        }
        .into_any();
    };
    let orders = if data.orders.is_empty() {
        view! { <p class="notice empty" data-testid="no-orders">{td_string!(l, auth.no_orders)}</p> }.into_any()
    } else {
        view! {
            <ul class="order-list">
                {data.orders.into_iter().map(|o| view! {
                    <li>
                        <a class="order-row" href=order_href(&o.id) data-testid="order-row" data-order-id=o.id.clone()
                            data-status=o.status.as_str()>
                            <span class="store-name">{o.store_name.clone()}</span>
                            <span class="status">{order_status_label(o.status, l)}</span>
                            <span class="price">{format_yuan(o.total_fen)}</span>
                            {(o.refunded_fen > 0).then(|| {
                                let mut why: Vec<&str> = o.refunds.iter().map(|r| refund_reason_label(r.reason, l)).collect();
                                why.dedup();
                                view! {
                                    <span class="refunded" data-testid="order-row-refunded" data-fen=o.refunded_fen>
                                        {format!("{} {} · {}", td_string!(l, orders.refund.total), format_yuan(o.refunded_fen), why.join(if l == Locale::en { ", " } else { "、" }))}
                                    </span>
                                }
                            })}
                            <span class="items">{td_string!(l, auth.item_count, count = o.items.iter().map(|i| i.quantity).sum::<u32>())}</span>
                            <span class="when" title=td_string!(l, common.beijing_time)>{beijing_date_time(&o.created_at, l).unwrap_or_default()}</span>
                        </a>
                    </li>
                }).collect_view()}
            </ul>
        }.into_any()
    };
    let addresses = if data.addresses.is_empty() {
        view! { <p class="notice empty">{td_string!(l, auth.no_addresses)}</p> }.into_any()
    } else {
        view! {
            <ul class="address-list">
                {data.addresses.into_iter().map(|a| view! {
                    <li data-testid="address-row" data-address-id=a.id.clone()>
                        <strong>{a.label}</strong>" "{a.detail}
                    </li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section class="account" data-testid="signed-in" data-phone=user.phone_masked.clone()>
            <p>{td_string!(l, auth.signed_in_as, phone = &user.phone_masked)}</p>
            <SignOutButton/>
        </section>
        <h2>{td_string!(l, auth.my_orders)}</h2>
        {orders}
        <h2>{td_string!(l, auth.my_groups)}</h2>
        {if data.groups.is_empty() {
            view! { <p class="notice empty" data-testid="no-groups">{td_string!(l, auth.no_groups)}</p> }.into_any()
        } else {
            view! {
                <ul class="order-list" data-testid="my-groups">
                    {data.groups.into_iter().map(|g| view! {
                        <li>
                            <a class="order-row" href=group_href(&g.group.id) data-testid="my-group"
                                data-group-id=g.group.id.clone() data-status=g.group.status.as_str()>
                                <span class="store-name">{g.group.product_name.clone()}</span>
                                <span class="status">{group_status_label(g.group.status, l)}</span>
                                <span class="price">{format_yuan(g.group.group_price_fen)}</span>
                                <span class="items">{td_string!(l, auth.group_seats, size = g.group.size, seats = g.group.seats_left)}</span>
                            </a>
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        <h2>{td_string!(l, auth.my_reservations)}</h2>
        {if data.reservations.is_empty() {
            view! { <p class="notice empty" data-testid="no-reservations">{td_string!(l, auth.no_reservations)}</p> }.into_any()
        } else {
            view! {
                <ul class="live-list" data-testid="my-reservations">
                    {data.reservations.into_iter().map(|room| view! { <crate::live::RoomCard room at=None/> }).collect_view()}
                </ul>
            }.into_any()
        }}
        <h2>{td_string!(l, auth.addresses)}</h2>
        {addresses}
    }
    .into_any()
}
