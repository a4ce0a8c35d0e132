//! `/orders/:id`: pay (`crate::pay`), the status timeline, the live ETA and the rider on the map,
//! pushed from the platform as server-sent events through our server (`crate::events`). The
//! browser's `EventSource` reconnects by itself and sends `Last-Event-ID`, so the platform resumes
//! after the last event it delivered.

use jishi_api::auth::Address;
#[cfg(feature = "hydrate")]
use jishi_api::headers::ORDER_EVENT;
#[cfg(feature = "hydrate")]
use jishi_api::orders::OrderEvent;
use jishi_api::orders::{Order, OrderStatus, RiderPosition, Slot};
use jishi_api::routes;
use jishi_api::stores::StoreDetail;
use jishi_api::LatLng;
use leptos::prelude::*;
use leptos_meta::{Script, Stylesheet, Title};
use leptos_router::hooks::use_params_map;

use super::changes::{
    AfterSalesPanel, OrderLines, PaidAndRefunded, ReorderButton, ShortageNote, ShortageQuestion,
};
#[cfg(feature = "hydrate")]
use crate::api_client::api_url;
use crate::components::ErrorNotice;
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{beijing_date_time, locale, order_status_label};
use crate::links::sign_in_href;
use crate::map::OrderMap;
use crate::pay::{PayPanel, Payment};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderPageData {
    pub order: Order,
    pub store: StoreDetail,
    pub address: Option<Address>,
}

/// `Ok(None)`: nobody is signed in in this browser.
#[server]
pub async fn order_page(id: String) -> Result<Option<OrderPageData>, AppError> {
    use crate::platform_client::{from_context, get_as_shopper};
    use jishi_api::auth::AddressesResponse;
    let path = routes::ORDER.path(&[&id]);
    let (order, addresses) = futures::join!(
        get_as_shopper::<Order>(&path),
        get_as_shopper::<AddressesResponse>(routes::MY_ADDRESSES.pattern()),
    );
    let Some(order) = order? else {
        return Ok(None);
    };
    let address =
        addresses?.and_then(|a| a.addresses.into_iter().find(|a| a.id == order.address_id));
    let no_query: [(&str, &str); 0] = [];
    let store_path = routes::STORE.path(&[&order.store_id]);
    let store = from_context()?
        .get::<StoreDetail>(&store_path, &no_query)
        .await?;
    Ok(Some(OrderPageData {
        store,
        address,
        order,
    }))
}

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(id, order_page);
    let l = locale();
    let brand = td_string!(l, common.brand);
    view! {
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, orders.page.loading)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(d)) => view! {
                        <Title text=format!("{} · {brand}", td_string!(l, orders.page.title, store = &d.order.store_name))/>
                        <Script src=crate::assets::LEAFLET_JS defer="defer"/>
                        <Stylesheet href=crate::assets::LEAFLET_CSS/>
                        <OrderView data=d/>
                    }.into_any(),
                    Ok(None) => view! {
                        <Title text=format!("{} · {brand}", td_string!(l, orders.page.sign_in_first))/>
                        <section class="notice" data-testid="sign-in-first">
                            <h1>{td_string!(l, orders.page.sign_in_first)}</h1>
                            <p>{td_string!(l, orders.page.sign_in_text)}</p>
                            <p><a class="button primary" href=sign_in_href(&crate::links::order_href(&id()))>{td_string!(l, orders.page.sign_in_button)}</a></p>
                        </section>
                    }.into_any(),
                    Err(e) if e.is_not_found() => view! {
                        <Title text=format!("{} · {brand}", td_string!(l, orders.page.not_found))/>
                        <ErrorNotice error=e heading=td_string!(l, orders.page.not_found)/>
                    }.into_any(),
                    Err(e) => view! {
                        <Title text=format!("{} · {brand}", td_string!(l, orders.page.unavailable))/>
                        <ErrorNotice error=e heading=td_string!(l, orders.page.unavailable)/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The timeline: the delivery path from payment on.
fn timeline() -> &'static [OrderStatus] {
    &OrderStatus::PATH[1..]
}

fn step_index(s: OrderStatus) -> Option<usize> {
    // Waiting for the shopper's answer about a short line is part of picking.
    let s = match s {
        OrderStatus::AwaitingShopper => OrderStatus::Picking,
        s => s,
    };
    timeline().iter().position(|t| *t == s)
}

/// An island: the status, timeline and map follow the order's events.
#[island(lazy)]
fn OrderView(data: OrderPageData) -> impl IntoView {
    crate::hydration::island_hydrated();
    let l = locale();
    let OrderPageData {
        order,
        store,
        address,
    } = data;
    let id = StoredValue::new(order.id.clone());
    // The order as it now is: its lines and money follow the events that change them.
    let current = RwSignal::new(order.clone());
    let status = RwSignal::new(order.status);
    let eta = RwSignal::new(order.eta_min);
    let rider = RwSignal::new(None::<RiderPosition>);
    // When each step happened, in Beijing time, as the events report it.
    let step_times = RwSignal::new(Vec::<(OrderStatus, String)>::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Paying it (here, or by the host app inside a mini-program): whatever the platform answers
    // about the order shows here.
    let payment = Payment::new(Some(order.clone()), 0.0);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(o) = payment.order().get() {
            status.set(o.status);
            eta.set(o.eta_min);
            current.set(o);
        }
    });

    // Follow the order once it is paid and until it is finished, and after that while an
    // after-sales request waits for its decision.
    #[cfg(feature = "hydrate")]
    let live = Memo::new(move |_| {
        let s = status.get();
        (s.is_paid() && !s.is_final()) || current.with(|o| o.change().in_review())
    });
    #[cfg(feature = "hydrate")]
    Effect::new(move |stream: Option<Option<crate::events::EventStream>>| {
        // An open stream runs until its last event, even when replayed past events make `live`
        // false for a moment (an older after-sales state before the newer one arrives).
        let keep = stream.flatten().filter(|s| !s.is_closed());
        if !live.get() {
            return keep;
        }
        keep.or_else(|| {
            crate::events::EventStream::open_until(
                &api_url(&routes::ORDER_EVENTS.path(&[&id.get_value()])),
                ORDER_EVENT,
                // The stream replays the order's past events first, `delivered` among them: while
                // this page still shows a request in review, the decision is yet to come.
                move |event: &OrderEvent| {
                    event.is_last() && !current.with_untracked(|o| o.change().in_review())
                },
                move |event: OrderEvent| {
                    let _ = status.try_set(event.status);
                    let _ = eta.try_set(event.eta_min);
                    if let Some(t) = jishi_api::time::beijing_hm(&event.at) {
                        let _ = step_times.try_update(|times| {
                            times.retain(|(s, _)| *s != event.status);
                            times.push((event.status, t));
                        });
                    }
                    if event.rider.is_some() || event.status.is_final() {
                        let _ = rider.try_set(event.rider);
                    }
                    let _ = current.try_update(|o| {
                        o.status = event.status;
                        if let Some(change) = event.change {
                            o.apply(change);
                        }
                    });
                },
                |_| {},
            )
        })
    });

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let answered = current.with(|o| o.status);
        if answered != status.get_untracked() {
            status.set(answered);
        }
    });

    let cancel = move |_| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let path = routes::CANCEL_ORDER.path(&[&id.get_value()]);
            match crate::api_client::post::<Order, _>(&path, &()).await {
                Ok(o) => payment.show(o),
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };

    let eta_text = move || match status.get() {
        OrderStatus::PendingPayment => td_string!(l, orders.tracking.eta_pending).to_owned(),
        OrderStatus::Delivered => order_status_label(OrderStatus::Delivered, l).to_owned(),
        OrderStatus::Cancelled => td_string!(l, orders.tracking.eta_cancelled).to_owned(),
        OrderStatus::Refunded => td_string!(l, orders.tracking.eta_refunded).to_owned(),
        _ => td_string!(l, orders.tracking.eta_minutes, min = eta.get()),
    };
    let timeline_steps = timeline()
        .iter()
        .map(|step| {
            let step = *step;
            let done = move || {
                let now = status.get();
                match (step_index(now), step_index(step)) {
                    (Some(n), Some(s)) => s <= n,
                    _ => false,
                }
            };
            let time = move || {
                step_times.with(|t| t.iter().find(|(s, _)| *s == step).map(|(_, at)| at.clone()))
            };
            view! {
                <li data-testid="timeline-step" data-status=step.as_str() class:done=done
                    aria-current=move || (status.get() == step).then_some("step")>
                    {order_status_label(step, l)}
                    {move || time().map(|t| view! { <time class="step-time">{t}</time> })}
                </li>
            }
        })
        .collect_view();
    let store_at = LatLng::new(store.store.lat, store.store.lng).ok();
    let home = address
        .as_ref()
        .and_then(|a| LatLng::new(a.lat, a.lng).ok());
    let slot_text = if order.slot == Slot::Asap {
        td_string!(l, orders.slots.asap).to_owned()
    } else {
        beijing_date_time(&order.slot.to_string(), l)
            .map(|t| td_string!(l, orders.tracking.slot_at, t = t))
            .unwrap_or_else(|| td_string!(l, orders.tracking.slot_scheduled).to_owned())
    };
    let placed_at = beijing_date_time(&order.created_at, l)
        .map(|t| td_string!(l, orders.tracking.placed_at, t = t));

    // Reorder is offered once the order is paid (or over): a bool memo, so the button is not
    // rebuilt at every step of the delivery.
    let placed = Memo::new(move |_| current.with(|o| o.status != OrderStatus::PendingPayment));
    // Type-erased: the page's view type is otherwise too deep for the compiler.
    let detail = view! {
        <section class="order-detail">
            <h2>{order.store_name.clone()}</h2>
            <ul class="checkout-lines"><OrderLines order=current/></ul>
            <PaidAndRefunded order=current/>
            <ShortageNote order=current min_order_fen=store.store.min_order_fen/>
            <p data-testid="order-slot">{slot_text}{address.map(|a| {
                format!(" · {}", td_string!(l, orders.tracking.deliver_to, label = a.label, detail = a.detail))
            })}</p>
            {order.note.clone().map(|note| view! {
                <p class="order-note" data-testid="order-note">{td_string!(l, orders.tracking.note, note = note)}</p>
            })}
            {placed_at.map(|t| view! { <p class="hint">{t}</p> })}
            <AfterSalesPanel order=current/>
            {move || placed.get().then(|| view! { <ReorderButton order_id=id.get_value()/> })}
        </section>
    }
    .into_any();

    view! {
        <h1>{move || order_status_label(status.get(), l)}</h1>
        <section class="order-summary" data-testid="order" data-order-id=order.id.clone()>
            <p class="status" data-testid="order-status" data-status=move || status.get().as_str() role="status">
                {move || order_status_label(status.get(), l)}
            </p>
            <p class="eta" data-testid="order-eta" data-eta-min=move || eta.get()>{eta_text}</p>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="order-error">{e}</p> })}
            <PayPanel payment testid="pay"/>
            <ShortageQuestion order=current/>
            {move || status.get().cancellable().then(|| view! {
                <button type="button" class="secondary" data-testid="cancel-order" disabled=busy on:click=cancel>{td_string!(l, orders.tracking.cancel)}</button>
            })}
        </section>
        <ol class="timeline" data-testid="timeline">{timeline_steps}</ol>
        {store_at.map(|s| view! {
            <OrderMap store=s home rider=rider.into()/>
        })}
        {detail}
    }
}
