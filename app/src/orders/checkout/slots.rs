//! The checkout's delivery time: as soon as possible (only while the store is open) or one of
//! the store's 30-minute slots.

use jishi_api::orders::Slot;
use jishi_api::stores::DeliverySlot;
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::{locale, Locale};

/// `PlaceOrder::slot` at first. A closed store takes scheduled orders only: its first slot.
pub(super) fn initial_slot(open_now: bool, slots: &[DeliverySlot]) -> String {
    match slots.first() {
        Some(s) if !open_now => s.start.clone(),
        _ => Slot::Asap.to_string(),
    }
}

/// A slot's label in the page's language. The platform writes "今天 18:30–19:00" or "明天 …" (in
/// the stores' zone); the translation swaps the day word and keeps the times.
fn slot_label(s: &DeliverySlot, l: Locale) -> String {
    match (l, s.label.split_once(' ')) {
        (Locale::zh_CN, _) => s.label.clone(),
        (_, Some(("今天", times))) => td_string!(l, orders.slots.today, times = times),
        (_, Some(("明天", times))) => td_string!(l, orders.slots.tomorrow, times = times),
        _ => s.label.clone(),
    }
}

/// Sets `chosen` (`PlaceOrder::slot`): `Slot::Asap` ("asap") or a slot's start. `eta_min` is the estimate to
/// the chosen address.
#[component]
pub(super) fn SlotPicker(
    chosen: RwSignal<String>,
    slots: Vec<DeliverySlot>,
    open_now: bool,
    eta_min: Signal<Option<u32>>,
) -> impl IntoView {
    let l = locale();
    let asap = Slot::Asap.to_string();
    let is_asap = {
        let asap = asap.clone();
        move || chosen.with(|c| *c == asap)
    };
    view! {
        <fieldset class="slots">
            <legend>{td_string!(l, orders.slots.legend)}</legend>
            <label>
                <input type="radio" name="slot" data-testid="slot-asap" prop:checked=is_asap.clone()
                    disabled=!open_now on:change=move |_| chosen.set(asap.clone())/>
                {move || match (open_now, eta_min.get()) {
                    (false, _) => td_string!(l, orders.slots.asap_closed).to_owned(),
                    (true, Some(eta)) => td_string!(l, orders.slots.asap_eta, eta = eta),
                    (true, None) => td_string!(l, orders.slots.asap).to_owned(),
                }}
            </label>
            {(!slots.is_empty()).then(|| {
                let first = slots[0].start.clone();
                view! {
                    <label>
                        <input type="radio" name="slot" data-testid="slot-scheduled"
                            prop:checked=move || !is_asap()
                            on:change=move |_| chosen.set(first.clone())/>
                        {td_string!(l, orders.slots.scheduled)}" "
                        <select data-testid="slot-select" aria-label=td_string!(l, orders.slots.select_label)
                            on:change=move |ev| chosen.set(event_target_value(&ev))>
                            {slots.iter().map(|s| view! {
                                <option value=s.start.clone() prop:selected={let start = s.start.clone(); move || chosen.get() == start}>{slot_label(s, l)}</option>
                            }).collect_view()}
                        </select>
                    </label>
                }
            })}
        </fieldset>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_stores_start_on_their_first_slot() {
        let slots = [DeliverySlot {
            start: "2026-01-07T12:00:00+08:00".to_owned(),
            label: "今天 12:00–12:30".to_owned(),
        }];
        assert_eq!(initial_slot(true, &slots), "asap");
        assert_eq!(initial_slot(false, &slots), slots[0].start);
        assert_eq!(initial_slot(false, &[]), "asap");
    }

    #[test]
    fn slot_labels_keep_the_platforms_chinese_and_translate_the_day() {
        let slot = |label: &str| DeliverySlot {
            start: "2026-01-07T12:00:00+08:00".to_owned(),
            label: label.to_owned(),
        };
        assert_eq!(
            slot_label(&slot("今天 12:00–12:30"), Locale::zh_CN),
            "今天 12:00–12:30"
        );
        assert_eq!(
            slot_label(&slot("今天 12:00–12:30"), Locale::en),
            "Today 12:00–12:30"
        );
        assert_eq!(
            slot_label(&slot("明天 08:00–08:30"), Locale::en),
            "Tomorrow 08:00–08:30"
        );
    }
}
