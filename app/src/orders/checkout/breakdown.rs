//! The checkout's price breakdown: items, delivery fee (once an address is chosen), total.

use jishi_api::money::format_yuan;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::locale;

/// `fee_fen` is `None` until an address is chosen; the total then counts no fee yet.
#[component]
pub(super) fn PriceBreakdown(items_fen: i64, fee_fen: Signal<Option<i64>>) -> impl IntoView {
    let l = locale();
    view! {
        <dl class="price-breakdown" data-testid="price-breakdown">
            <dt>{td_string!(l, orders.price.items)}</dt><dd data-testid="price-items" data-fen=items_fen>{format_yuan(items_fen)}</dd>
            <dt>{td_string!(l, orders.price.fee)}</dt>
            <dd data-testid="price-fee" data-fen=move || fee_fen.get().unwrap_or(0)>{move || match fee_fen.get() {
                Some(0) => td_string!(l, orders.price.free_delivery).to_owned(),
                Some(f) => format_yuan(f),
                None => td_string!(l, orders.price.fee_after_address).to_owned(),
            }}</dd>
            <dt>{td_string!(l, orders.price.total)}</dt>
            <dd class="total" data-testid="price-total" data-fen=move || items_fen + fee_fen.get().unwrap_or(0)>
                {move || format_yuan(items_fen + fee_fen.get().unwrap_or(0))}
            </dd>
        </dl>
    }
    .into_any()
}
