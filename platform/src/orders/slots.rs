//! Delivery slots: the 30-minute windows a store offers (in Asia/Shanghai), and the check that a
//! chosen slot is one of them. Parsing and alignment are `jishi_api::orders::Slot`'s; what needs
//! the clock and the time zone lives here.

use chrono::{DateTime, Utc};
use jishi_api::orders::{Slot, SLOT_S};
use jishi_api::stores::{DeliverySlot, StoreProfile};
use jishi_api::{ApiError, ErrorCode};

use crate::clock::{to_store_local, STORE_TZ};

/// The first slot on offer: the first half-hour start at least 30 minutes from now.
fn first_start(now: i64) -> i64 {
    (now + 2 * SLOT_S - 1).div_euclid(SLOT_S) * SLOT_S
}

/// Slots run through the end of tomorrow in the stores' zone.
fn within_horizon(start: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let today = now.with_timezone(&STORE_TZ).date_naive();
    (start.with_timezone(&STORE_TZ).date_naive() - today).num_days() <= 1
}

/// Whether `start` is one of `delivery_slots(store, now)`, without listing them.
fn offered(store: &StoreProfile, now: DateTime<Utc>, start: i64) -> bool {
    let Some(at) = DateTime::from_timestamp(start, 0) else {
        return false;
    };
    start.rem_euclid(SLOT_S) == 0
        && start >= first_start(now.timestamp())
        && within_horizon(at, now)
        && store.hours.is_open(to_store_local(at))
}

/// The 30-minute slots a shopper may book: starting at least half an hour from now, through the end
/// of tomorrow in the store's zone, while the store is open at the slot's start.
pub fn delivery_slots(store: &StoreProfile, now: DateTime<Utc>) -> Vec<DeliverySlot> {
    let today = now.with_timezone(&STORE_TZ).date_naive();
    (0..)
        .map(|i| first_start(now.timestamp()) + i * SLOT_S)
        .filter_map(|t| DateTime::from_timestamp(t, 0))
        .take_while(|start| within_horizon(*start, now))
        .filter(|start| offered(store, now, start.timestamp()))
        .map(|start| {
            let local = start.with_timezone(&STORE_TZ);
            let end = local + chrono::Duration::seconds(SLOT_S);
            let day = if local.date_naive() == today {
                "今天"
            } else {
                "明天"
            };
            DeliverySlot {
                start: Slot::At(start.timestamp()).to_string(),
                label: format!("{day} {}–{}", local.format("%H:%M"), end.format("%H:%M")),
            }
        })
        .collect()
}

/// `"asap"` while the store is open, or a slot the store offers now (see `delivery_slots`).
pub(super) fn validate_slot(slot: Slot, store: &StoreProfile, now: i64) -> Result<Slot, ApiError> {
    let Some(now_t) = DateTime::from_timestamp(now, 0) else {
        return Err(ApiError::bad_request("无效的当前时间"));
    };
    match slot {
        Slot::Asap => {
            // A closed store takes scheduled orders only (listed, greyed, can be booked: docs/API.md).
            if !store.hours.is_open(to_store_local(now_t)) {
                return Err(ApiError::new(
                    ErrorCode::InvalidState,
                    "门店现在休息，不能尽快送达；请选择营业时间内的预约时段",
                ));
            }
        }
        Slot::At(start) => {
            if !offered(store, now_t, start) {
                return Err(ApiError::bad_request(
                    "这个时段不能预约：请选择至少半小时后、今明两天门店营业时间内的时段",
                ));
            }
        }
    }
    Ok(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use jishi_api::hours::{DayHours, WeeklyHours};
    use jishi_api::Category;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        Clock::fixed_from_rfc3339(rfc3339).unwrap().now()
    }

    fn slot(rfc3339: &str) -> Slot {
        Slot::parse(rfc3339).unwrap()
    }

    #[test]
    fn slots_run_from_half_an_hour_ahead_to_the_end_of_tomorrow_within_hours() {
        let mut store = crate::stores::tests::store("s", 0.0, 3000, Category::Supermarket);
        store.hours = WeeklyHours::every_day(DayHours::ALL_DAY);
        let now = at("2026-11-25T12:10:00+08:00");
        let slots = delivery_slots(&store, now);
        assert_eq!(slots[0].label, "今天 13:00–13:30");
        assert_eq!(slots.last().unwrap().label, "明天 23:30–00:00");
        assert_eq!(slots.len(), 22 + 48);
        for offered in &slots {
            let chosen = slot(&offered.start);
            assert_eq!(
                validate_slot(chosen, &store, now.timestamp()),
                Ok(chosen),
                "{}",
                offered.start
            );
            assert_eq!(chosen.to_string(), offered.start, "the wire form is kept");
        }

        store.hours = WeeklyHours::every_day("08:00-22:00".parse().unwrap());
        let evening = delivery_slots(&store, at("2026-11-25T21:20:00+08:00"));
        // Closed now: "as soon as possible" is refused, a slot tomorrow is fine.
        let night = at("2026-11-25T23:10:00+08:00").timestamp();
        let refused = validate_slot(Slot::Asap, &store, night).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidState);
        assert!(validate_slot(slot(&evening[0].start), &store, night).is_ok());
        assert!(validate_slot(
            Slot::Asap,
            &store,
            at("2026-11-25T21:20:00+08:00").timestamp()
        )
        .is_ok());
        // 21:50 and later today are closed; tomorrow runs 08:00–21:30 starts.
        assert_eq!(evening[0].label, "明天 08:00–08:30");
        assert_eq!(evening.last().unwrap().label, "明天 21:30–22:00");
        assert_eq!(evening.len(), 28);
    }

    #[test]
    fn only_the_slots_on_offer_are_accepted() {
        let mut store = crate::stores::tests::store("s", 0.0, 3000, Category::Supermarket);
        store.hours = WeeklyHours::every_day("08:00-22:00".parse().unwrap());
        let now = at("2026-11-25T12:20:00+08:00").timestamp();
        let refused = |s: &str| {
            validate_slot(slot(s), &store, now)
                .map_err(|e| e.code)
                .expect_err(s)
        };
        // Ten minutes ahead; already started; in the past.
        assert_eq!(refused("2026-11-25T12:30:00+08:00"), ErrorCode::BadRequest);
        assert_eq!(refused("2026-11-25T12:00:00+08:00"), ErrorCode::BadRequest);
        assert_eq!(refused("2026-11-24T13:00:00+08:00"), ErrorCode::BadRequest);
        // Outside hours, today and tomorrow.
        assert_eq!(refused("2026-11-25T22:00:00+08:00"), ErrorCode::BadRequest);
        assert_eq!(refused("2026-11-26T07:30:00+08:00"), ErrorCode::BadRequest);
        // The day after tomorrow, even within hours and within 48 hours.
        assert_eq!(refused("2026-11-27T09:00:00+08:00"), ErrorCode::BadRequest);
        // The first slot on offer and the last one.
        assert!(validate_slot(slot("2026-11-25T13:00:00+08:00"), &store, now).is_ok());
        assert!(validate_slot(slot("2026-11-26T21:30:00+08:00"), &store, now).is_ok());
    }
}
