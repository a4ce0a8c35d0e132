//! The checkout's delivery time: as soon as possible (only while the store is open) or one of
//! the store's 30-minute slots.

use jishi_api::stores::DeliverySlot;
use leptos::prelude::*;

/// `PlaceOrder::slot` at first. A closed store takes scheduled orders only: its first slot.
pub(super) fn initial_slot(open_now: bool, slots: &[DeliverySlot]) -> String {
    match slots.first() {
        Some(s) if !open_now => s.start.clone(),
        _ => "asap".to_owned(),
    }
}

/// Sets `chosen` (`PlaceOrder::slot`): "asap" or a slot's start. `eta_min` is the estimate to
/// the chosen address.
#[component]
pub(super) fn SlotPicker(
    chosen: RwSignal<String>,
    slots: Vec<DeliverySlot>,
    open_now: bool,
    eta_min: Signal<Option<u32>>,
) -> impl IntoView {
    view! {
        <fieldset class="slots">
            <legend>"送达时间"</legend>
            <label>
                <input type="radio" name="slot" data-testid="slot-asap" prop:checked=move || chosen.get() == "asap"
                    disabled=!open_now on:change=move |_| chosen.set("asap".to_owned())/>
                {move || match (open_now, eta_min.get()) {
                    (false, _) => "尽快送达（门店休息中，请预约）".to_owned(),
                    (true, Some(eta)) => format!("尽快送达（约 {eta} 分钟）"),
                    (true, None) => "尽快送达".to_owned(),
                }}
            </label>
            {(!slots.is_empty()).then(|| {
                let first = slots[0].start.clone();
                view! {
                    <label>
                        <input type="radio" name="slot" data-testid="slot-scheduled"
                            prop:checked=move || chosen.get() != "asap"
                            on:change=move |_| chosen.set(first.clone())/>
                        "预约时段 "
                        <select data-testid="slot-select" aria-label="预约送达时段"
                            on:change=move |ev| chosen.set(event_target_value(&ev))>
                            {slots.iter().map(|s| view! {
                                <option value=s.start.clone() prop:selected={let start = s.start.clone(); move || chosen.get() == start}>{s.label.clone()}</option>
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
}
