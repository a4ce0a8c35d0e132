//! Time in the browser, counted on the platform's clock: a group's deadline, the time left to
//! pay an order. A phone's clock can be minutes off, so answers that start a countdown carry the
//! platform's `now` (`Group::now`, `Order::now`); the difference from this device's clock is its
//! skew, added to the device's time while the page counts.
//!
//! The server renders no countdown (nothing ticks there): pages show the deadline itself until
//! the browser counts.

use leptos::prelude::*;

/// Milliseconds since the epoch on this device (0 on the server, where no handler runs).
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// Milliseconds since the epoch of an RFC 3339 instant on the wire (`…Z`).
fn instant_ms(rfc3339: &str) -> Option<f64> {
    jishi_api::time::parse_utc(rfc3339).map(|s| s as f64 * 1000.0)
}

/// The platform's clock less this device's, from the `now` an answer came with (0 without one,
/// and on the server).
pub fn clock_skew_ms(platform_now: Option<&str>) -> f64 {
    if cfg!(feature = "hydrate") {
        skew_at(platform_now, now_ms())
    } else {
        0.0
    }
}

fn skew_at(platform_now: Option<&str>, device_ms: f64) -> f64 {
    platform_now
        .and_then(instant_ms)
        .map_or(0.0, |now| now - device_ms)
}

/// Milliseconds from now on the platform's clock (`skew_ms`, from [`clock_skew_ms`]) to an
/// RFC 3339 instant; negative once it has passed, 0 for an instant that does not parse.
pub fn ms_until(rfc3339: &str, skew_ms: f64) -> f64 {
    ms_until_at(rfc3339, now_ms() + skew_ms)
}

fn ms_until_at(rfc3339: &str, platform_ms: f64) -> f64 {
    instant_ms(rfc3339).map_or(0.0, |at| at - platform_ms)
}

/// Time left as a clock reads: "05:07:09" (hours may pass 24), whole seconds rounded up.
pub fn hh_mm_ss(ms_left: f64) -> String {
    let s = whole_seconds(ms_left);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Time left, short: "14:32" under an hour, "1:02:03" past it.
pub fn mm_ss(ms_left: f64) -> String {
    let s = whole_seconds(ms_left);
    if s < 3600 {
        format!("{:02}:{:02}", s / 60, s % 60)
    } else {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

fn whole_seconds(ms: f64) -> u64 {
    (ms.max(0.0) / 1000.0).ceil() as u64
}

/// The milliseconds `left` answers, asked again every second in the browser. `None` on the
/// server, whenever `left` has nothing to count, and until the island has hydrated: hydration
/// must meet the markup the server rendered, so the browser starts counting just after.
pub fn time_left(left: impl Fn() -> Option<f64> + 'static) -> ReadSignal<Option<f64>> {
    let shown = RwSignal::new(None);
    #[cfg(feature = "hydrate")]
    {
        let left = std::rc::Rc::new(left);
        let tick = move || {
            let _ = shown.try_set(left());
        };
        set_timeout(tick.clone(), std::time::Duration::ZERO);
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = left;
    shown.read_only()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOON: &str = "2026-11-25T04:00:00Z";

    #[test]
    fn time_left_is_counted_on_the_platforms_clock() {
        let noon = instant_ms(NOON).unwrap();
        // This device runs 11 days late: the platform's `now` corrects it.
        let device = noon - 11.0 * 86_400_000.0;
        let skew = skew_at(Some(NOON), device);
        assert_eq!(
            ms_until_at("2026-11-25T04:15:00Z", device + skew),
            900_000.0
        );
        // Without the platform's clock, the device's is all there is.
        assert_eq!(skew_at(None, device), 0.0);
        assert_eq!(skew_at(Some("not a time"), device), 0.0);
        assert_eq!(ms_until_at("2026-11-25T03:59:59Z", noon), -1000.0);
    }

    #[test]
    fn time_left_reads_like_a_clock() {
        assert_eq!(hh_mm_ss(0.0), "00:00:00");
        assert_eq!(hh_mm_ss(-5.0), "00:00:00");
        assert_eq!(hh_mm_ss(1.0), "00:00:01");
        assert_eq!(hh_mm_ss(3_723_000.0), "01:02:03");
        assert_eq!(hh_mm_ss(86_400_000.0), "24:00:00");
        assert_eq!(mm_ss(899_001.0), "15:00");
        assert_eq!(mm_ss(59_000.0), "00:59");
        assert_eq!(mm_ss(3_723_000.0), "1:02:03");
    }
}
