//! What happens to an order after it is placed, besides its delivery: the shelf coming up short
//! (the shopper's choice, substitutes offered, taken or refused), the refunds, and reorder
//! (再来一单). Parts of the order page's island (`tracking::OrderView`), following its order.

use crate::picture::ProductImage;
use jishi_api::cart::{Reorder, ReorderChangeKind};
use jishi_api::money::format_yuan;
use jishi_api::orders::{Order, OrderStatus, ShortOutcome, ShortageAnswer};
use jishi_api::routes;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::{beijing_date_time, locale, refund_reason_label, shortage_label};

/// The order's lines, each with what picking found short of it and what became of it.
#[component]
pub fn OrderLines(order: RwSignal<Order>) -> impl IntoView {
    let l = locale();
    move || {
        order.with(|o| {
            o.items
                .iter()
                .map(|line| {
                    let short = o.short.iter().find(|s| s.sku == line.sku).map(|s| {
                        let outcome = match &s.outcome {
                            None => String::new(),
                            Some(ShortOutcome::Refunded) => {
                                format!(" · {}", td_string!(l, orders.shortage.refunded))
                            }
                            Some(ShortOutcome::Substituted { sku }) => {
                                let name = o
                                    .items
                                    .iter()
                                    .find(|i| &i.sku == sku)
                                    .map(|i| i.name.as_str())
                                    .unwrap_or(sku);
                                format!(
                                    " · {}",
                                    td_string!(l, orders.shortage.substituted, name = name)
                                )
                            }
                        };
                        view! {
                            <span class="line-short" data-testid="line-short" data-missing=s.missing>
                                {td_string!(l, orders.shortage.short_count, n = s.missing)}
                                {outcome}
                            </span>
                        }
                    });
                    view! {
                        <li data-sku=line.sku.clone() class:substitute=line.substitute_for.is_some()>
                            <ProductImage image=line.image.clone() alt=line.name.clone() px=crate::picture::LINE_PICTURE_PX/>
                            <span class="product-name">{line.name.clone()}</span>
                            <span class="quantity">{format!("× {}", line.quantity)}</span>
                            <span class="price">{format_yuan(line.price_fen * i64::from(line.quantity))}</span>
                            {short}
                        </li>
                    }
                })
                .collect_view()
        })
    }
}

/// While the order waits for the shopper: each unanswered short line with its substitutes, to
/// take one or refuse. The answer comes back as the order, and as an event to other tabs.
#[component]
pub fn ShortageQuestion(order: RwSignal<Order>) -> impl IntoView {
    let l = locale();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let answer = move |for_sku: String, sku: Option<String>| {
        busy.set(true);
        error.set(None);
        let id = order.with_untracked(|o| o.id.clone());
        leptos::task::spawn_local(async move {
            let path = routes::ORDER_SHORTAGE.path(&[&id]);
            let body = ShortageAnswer { for_sku, sku };
            match crate::api_client::post::<Order, _>(&path, &body).await {
                Ok(o) => order.set(o),
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    move || {
        let o = order.get();
        (o.status == OrderStatus::AwaitingShopper).then(|| {
            let by = o
                .answer_before
                .as_deref()
                .and_then(|t| beijing_date_time(t, l))
                .map(|t| td_string!(l, orders.shortage.answer_by, time = t));
            let questions = o
                .short
                .iter()
                .filter(|s| s.outcome.is_none())
                .map(|s| {
                    let offers: Vec<_> = o.substitutes.iter().filter(|x| x.for_sku == s.sku).cloned().collect();
                    let none = offers.is_empty().then(|| view! { <p class="hint">{td_string!(l, orders.shortage.no_substitutes)}</p> });
                    let for_sku = s.sku.clone();
                    let offers = offers
                        .into_iter()
                        .map(|x| {
                            let (for_sku, sku) = (for_sku.clone(), x.sku.clone());
                            view! {
                                <li>
                                    <span class="product-name">{x.name.clone()}</span>
                                    <button type="button" class="primary" data-testid="substitute-offer" data-sku=x.sku.clone()
                                        disabled=busy on:click=move |_| answer(for_sku.clone(), Some(sku.clone()))>
                                        {td_string!(l, orders.shortage.take, price = format_yuan(x.price_fen))}
                                    </button>
                                </li>
                            }
                        })
                        .collect_view();
                    let refuse_sku = s.sku.clone();
                    view! {
                        <div class="shortage-line" data-testid="shortage-question" data-sku=s.sku.clone()>
                            <p>{td_string!(l, orders.shortage.ask_text, name = s.name.clone(), n = s.missing)}</p>
                            <ul class="substitutes">{offers}</ul>
                            {none}
                            <button type="button" class="secondary" data-testid="substitute-refuse"
                                disabled=busy on:click=move |_| answer(refuse_sku.clone(), None)>
                                {td_string!(l, orders.shortage.refuse)}
                            </button>
                        </div>
                    }
                })
                .collect_view();
            view! {
                <section class="shortage-ask notice warn" aria-labelledby="shortage-ask-heading">
                    <h2 id="shortage-ask-heading">{td_string!(l, orders.shortage.ask_heading)}</h2>
                    {by.map(|t| view! { <p class="hint">{t}</p> })}
                    {questions}
                    {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
                </section>
            }
            .into_any()
        })
    }
}

/// The price breakdown with every refund, its reason and what is left paid.
#[component]
pub fn PaidAndRefunded(order: RwSignal<Order>) -> impl IntoView {
    let l = locale();
    move || {
        order.with(|o| {
            let refunds = o
                .refunds
                .iter()
                .map(|r| {
                    view! {
                        <dt>{refund_reason_label(r.reason, l)}</dt>
                        <dd class="refund" data-testid="order-refund" data-fen=r.fen data-reason=r.reason.as_str()>
                            {format!("−{}", format_yuan(r.fen))}
                        </dd>
                    }
                })
                .collect_view();
            let kept = (o.refunded_fen > 0).then(|| {
                view! {
                    <dt>{td_string!(l, orders.refund.paid)}</dt>
                    <dd class="total" data-testid="order-kept" data-fen=o.kept_fen()>{format_yuan(o.kept_fen())}</dd>
                }
            });
            view! {
                <dl class="price-breakdown">
                    <dt>{td_string!(l, orders.price.items)}</dt><dd>{format_yuan(o.items_fen)}</dd>
                    <dt>{td_string!(l, orders.price.fee)}</dt><dd>{format_yuan(o.delivery_fee_fen)}</dd>
                    <dt>{td_string!(l, orders.price.total)}</dt><dd class="total">{format_yuan(o.total_fen)}</dd>
                    {refunds}
                    {kept}
                </dl>
            }
            .into_any()
        })
    }
}

/// What the shopper chose for short lines, and, when what is left after a shortage is below the
/// store's minimum order, that it is still delivered.
#[component]
pub fn ShortageNote(order: RwSignal<Order>, min_order_fen: i64) -> impl IntoView {
    let l = locale();
    move || {
        order.with(|o| {
            let left: i64 = o
                .items
                .iter()
                .map(|i| i.price_fen * i64::from(i.quantity.saturating_sub(i.short)))
                .sum();
            let delivering = !matches!(o.status, OrderStatus::Refunded | OrderStatus::Cancelled);
            let below = (!o.short.is_empty() && delivering && left < min_order_fen).then(|| {
                view! { <p class="notice" data-testid="below-minimum-after-shortage">{td_string!(l, orders.shortage.below_minimum)}</p> }
            });
            view! {
                <p class="hint" data-testid="order-shortage" data-shortage=o.shortage.as_str()>
                    {td_string!(l, orders.shortage.chosen, choice = shortage_label(o.shortage, l))}
                </p>
                {below}
            }
        })
    }
}

/// 再来一单: fills the store's cart again and goes to it, or first says what changed.
#[component]
pub fn ReorderButton(order_id: String) -> impl IntoView {
    let l = locale();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let changed = RwSignal::new(None::<Reorder>);
    let id = StoredValue::new(order_id);
    let reorder = move |_| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let path = routes::REORDER.path(&[&id.get_value()]);
            match crate::api_client::post::<Reorder, _>(&path, &()).await {
                Ok(r) if r.changes.is_empty() => {
                    crate::links::go_to(&crate::links::cart_href(None))
                }
                Ok(r) => changed.set(Some(r)),
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="reorder">
            <button type="button" class="secondary" data-testid="reorder" disabled=busy on:click=reorder>
                {move || if busy.get() { td_string!(l, orders.reorder.busy) } else { td_string!(l, orders.reorder.button) }}
            </button>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
            {move || changed.get().map(|r| {
                let lines = r.changes.iter().map(|c| {
                    let name = c.name.clone();
                    let text = match c.change {
                        ReorderChangeKind::SoldOut => td_string!(l, orders.reorder.sold_out, name = name),
                        ReorderChangeKind::Unlisted => td_string!(l, orders.reorder.unlisted, name = name),
                        ReorderChangeKind::PriceUp => td_string!(l, orders.reorder.price_up, name = name),
                        ReorderChangeKind::PriceDown => td_string!(l, orders.reorder.price_down, name = name),
                    };
                    view! { <li data-testid="reorder-change" data-sku=c.sku.clone() data-change=c.change.as_str()>{text}</li> }
                }).collect_view();
                view! {
                    <div class="notice" role="status" data-testid="reorder-changes">
                        <p>{td_string!(l, orders.reorder.changed)}</p>
                        <ul>{lines}</ul>
                        <a class="button primary" href=crate::links::cart_href(None)>{td_string!(l, orders.reorder.go_to_cart)}</a>
                    </div>
                }
            })}
        </div>
    }
    .into_any()
}

/// After delivery (售后): the requests made so far, and a form for a new one — lines and
/// quantities, a reason, a note and up to three photos — sent as a multipart form. The refund,
/// when approved at once, shows in the order's money straight away.
#[component]
pub fn AfterSalesPanel(order: RwSignal<Order>) -> impl IntoView {
    use jishi_api::after_sales::{AfterSalesReason, AfterSalesStatus};
    let l = locale();
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // Units asked about per line (0: not asked).
    let chosen = RwSignal::new(Vec::<(String, u32)>::new());
    // Made in the browser on the first submit (never while rendering on the server), kept until
    // that request is answered, so a resubmit after a lost answer replays it.
    let key = StoredValue::new(None::<String>);
    let reason_label = move |r: AfterSalesReason| match r {
        AfterSalesReason::Missing => td_string!(l, orders.after_sales.missing),
        AfterSalesReason::Damaged => td_string!(l, orders.after_sales.damaged),
        AfterSalesReason::Wrong => td_string!(l, orders.after_sales.wrong),
        AfterSalesReason::Quality => td_string!(l, orders.after_sales.quality),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let lines: Vec<jishi_api::after_sales::AfterSalesLine> = chosen.with(|c| {
            c.iter()
                .filter(|(_, q)| *q > 0)
                .map(|(sku, quantity)| jishi_api::after_sales::AfterSalesLine {
                    sku: sku.clone(),
                    quantity: *quantity,
                })
                .collect()
        });
        if lines.is_empty() {
            error.set(Some(
                td_string!(l, orders.after_sales.choose_line).to_owned(),
            ));
            return;
        }
        #[cfg(feature = "hydrate")]
        {
            let Some(form) = form_ref.get_untracked() else {
                return;
            };
            let Ok(data) = web_sys::FormData::new_with_form(&form) else {
                return;
            };
            if data.get_all("photo").length() as usize > jishi_api::after_sales::MAX_PHOTOS {
                error.set(Some(
                    td_string!(l, orders.after_sales.too_many_photos).to_owned(),
                ));
                return;
            }
            let _ = data.set_with_str("lines", &serde_json::to_string(&lines).unwrap_or_default());
            busy.set(true);
            error.set(None);
            let id = order.with_untracked(|o| o.id.clone());
            leptos::task::spawn_local(async move {
                let path = routes::AFTER_SALES.path(&[&id]);
                let attempt = key
                    .get_value()
                    .unwrap_or_else(crate::api_client::new_idempotency_key);
                key.set_value(Some(attempt.clone()));
                let sent = crate::api_client::post_form::<jishi_api::after_sales::AfterSales>(
                    &path, data, &attempt,
                )
                .await;
                // Answered either way: the next request is a new one.
                key.set_value(None);
                match sent {
                    Ok(_) => {
                        if let Ok(o) =
                            crate::api_client::get::<Order>(&routes::ORDER.path(&[&id])).await
                        {
                            order.set(o);
                        }
                        chosen.set(Vec::new());
                        form.reset();
                    }
                    Err(e) => error.set(Some(e.message())),
                }
                busy.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (lines, form_ref, busy, key);
    };
    move || {
        let o = order.get();
        (o.status == OrderStatus::Delivered).then(|| {
            let requests = o
                .after_sales
                .iter()
                .map(|a| {
                    let text = match a.status {
                        AfterSalesStatus::Approved => td_string!(l, orders.after_sales.approved, amount = format_yuan(a.refund_fen)),
                        AfterSalesStatus::Reviewing => td_string!(l, orders.after_sales.reviewing).to_owned(),
                        AfterSalesStatus::Rejected => td_string!(l, orders.after_sales.rejected).to_owned(),
                    };
                    view! { <li data-testid="after-sales-request" data-status=a.status.as_str() data-refund-fen=a.refund_fen>{text}</li> }
                })
                .collect_view();
            let lines = o
                .items
                .iter()
                .filter(|i| i.quantity > i.short)
                .map(|i| {
                    let sku = i.sku.clone();
                    let most = i.quantity - i.short;
                    let label = td_string!(l, orders.after_sales.quantity, name = i.name.clone());
                    view! {
                        <label class="after-sales-line">
                            <span>{label}</span>
                            <select data-testid="after-sales-quantity" data-sku=sku.clone() on:change=move |ev| {
                                let q: u32 = event_target_value(&ev).parse().unwrap_or(0);
                                let sku = sku.clone();
                                chosen.update(|c| {
                                    c.retain(|(s, _)| *s != sku);
                                    c.push((sku, q));
                                });
                            }>
                                {(0..=most).map(|q| view! { <option value=q>{q}</option> }).collect_view()}
                            </select>
                        </label>
                    }
                })
                .collect_view();
            let reasons = AfterSalesReason::ALL
                .into_iter()
                .map(|r| view! { <option value=r.as_str()>{reason_label(r)}</option> })
                .collect_view();
            view! {
                <section class="after-sales" data-testid="after-sales" aria-labelledby="after-sales-heading">
                    <h2 id="after-sales-heading">{td_string!(l, orders.after_sales.heading)}</h2>
                    <ul class="after-sales-requests">{requests}</ul>
                    <p class="hint">{td_string!(l, orders.after_sales.intro)}</p>
                    <form node_ref=form_ref on:submit=submit>
                        {lines}
                        <label>
                            <span>{td_string!(l, orders.after_sales.reason)}</span>
                            <select name="reason" data-testid="after-sales-reason">{reasons}</select>
                        </label>
                        <label>
                            <span>{td_string!(l, orders.after_sales.note)}</span>
                            <input type="text" name="note" maxlength=jishi_api::after_sales::MAX_NOTE_CHARS autocomplete="off"/>
                        </label>
                        <label>
                            <span>{td_string!(l, orders.after_sales.photos)}</span>
                            <input type="file" name="photo" multiple accept="image/jpeg,image/png,image/webp" data-testid="after-sales-photo"/>
                        </label>
                        {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="after-sales-error">{e}</p> })}
                        <button type="submit" class="primary" data-testid="after-sales-submit" disabled=busy>
                            {move || if busy.get() { td_string!(l, orders.after_sales.busy) } else { td_string!(l, orders.after_sales.submit) }}
                        </button>
                    </form>
                </section>
            }
            .into_any()
        })
    }
}
