//! Wall-clock time, converted explicitly to the stores' zone. Fixed clocks make tests deterministic.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::TimeZone;
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use jishi_api::hours::{LocalTime, WeeklyHours};

/// Every store on the platform keeps Beijing time (China has one zone and no DST since 1991).
pub const STORE_TZ: Tz = chrono_tz::Asia::Shanghai;

#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(DateTime<Utc>),
    /// Stands still until moved with `advance` (tests of timeouts and rate windows). The instant
    /// (Unix milliseconds) is leaked on purpose so that `Clock` stays `Copy`: a few bytes per
    /// clock, and only tests make them.
    Manual(&'static AtomicI64),
    /// Starts at an instant and runs from there at the wall clock's pace (`JISHI_NOW` with
    /// `JISHI_NOW_RUNS=1`): a known noon in which countdowns still reach zero.
    Running {
        start: DateTime<Utc>,
        since: std::time::Instant,
    },
}

impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Clock::System, Clock::System) => true,
            (Clock::Fixed(a), Clock::Fixed(b)) => a == b,
            // The same manual clock, not merely one showing the same time.
            (Clock::Manual(a), Clock::Manual(b)) => std::ptr::eq(*a, *b),
            (Clock::Running { start: a, since: x }, Clock::Running { start: b, since: y }) => {
                a == b && x == y
            }
            _ => false,
        }
    }
}

impl Eq for Clock {}

impl Clock {
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => t,
            Clock::Manual(ms) => {
                DateTime::from_timestamp_millis(ms.load(Ordering::SeqCst)).unwrap_or_default()
            }
            Clock::Running { start, since } => {
                start + chrono::Duration::from_std(since.elapsed()).unwrap_or_default()
            }
        }
    }

    /// A clock that shows `start` now and runs on from it.
    pub fn running_from_rfc3339(s: &str) -> Result<Self, chrono::ParseError> {
        Ok(Clock::Running {
            start: DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc),
            since: std::time::Instant::now(),
        })
    }

    /// A clock that shows `start` until it is advanced.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock::Manual(Box::leak(Box::new(AtomicI64::new(
            start.timestamp_millis(),
        ))))
    }

    /// Like `fixed_from_rfc3339`, but the clock can be moved on with `advance`.
    pub fn manual_from_rfc3339(s: &str) -> Result<Self, chrono::ParseError> {
        Ok(Clock::manual(
            DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc),
        ))
    }

    /// Moves a manual clock (and every copy of it) on by `by`; false for any other clock.
    pub fn advance(self, by: chrono::Duration) -> bool {
        match self {
            Clock::Manual(ms) => {
                ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
                true
            }
            Clock::System | Clock::Fixed(_) | Clock::Running { .. } => false,
        }
    }

    /// Now, as weekday and minute in the stores' local time.
    pub fn store_local_now(self) -> LocalTime {
        to_store_local(self.now())
    }

    /// Parses an RFC 3339 instant such as `2026-11-25T23:30:00+08:00`.
    pub fn fixed_from_rfc3339(s: &str) -> Result<Self, chrono::ParseError> {
        Ok(Clock::Fixed(
            DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc),
        ))
    }
}

/// A Unix time as RFC 3339 in UTC, the form timestamps take on the wire.
pub fn rfc3339_utc(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub fn to_store_local(t: DateTime<Utc>) -> LocalTime {
    let local = t.with_timezone(&STORE_TZ);
    LocalTime::new(
        local.weekday().num_days_from_monday() as u8,
        (local.hour() * 60 + local.minute()) as u16,
    )
}

/// When a store with these hours next opens after `now` (Unix seconds): `None` while it is open
/// (or if it never opens).
pub fn next_opening_at(hours: &WeeklyHours, now: i64) -> Option<i64> {
    let at = DateTime::from_timestamp(now, 0)?;
    let local = to_store_local(at);
    if hours.is_open(local) {
        return None;
    }
    let (days_ahead, minute) = hours.next_opening(local)?;
    let date = at.with_timezone(&STORE_TZ).date_naive() + chrono::Days::new(days_ahead.into());
    let opening = date.and_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)?;
    STORE_TZ
        .from_local_datetime(&opening)
        .single()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_running_clock_starts_at_its_instant_and_moves_on() {
        let c = Clock::running_from_rfc3339("2026-11-25T12:00:00+08:00").unwrap();
        let start = DateTime::parse_from_rfc3339("2026-11-25T12:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let first = c.now();
        assert!(first >= start && first - start < chrono::Duration::seconds(5));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(c.now() > first);
        assert!(!c.advance(chrono::Duration::seconds(1)));
    }

    use super::*;

    #[test]
    fn utc_late_evening_is_the_next_morning_in_beijing() {
        // Tuesday 2026-11-24 23:30 UTC is Wednesday 07:30 in Beijing.
        let c = Clock::fixed_from_rfc3339("2026-11-24T23:30:00Z").unwrap();
        assert_eq!(c.store_local_now(), LocalTime::new(2, 7 * 60 + 30));
    }

    #[test]
    fn beijing_has_no_daylight_saving_shift_in_summer() {
        let winter = Clock::fixed_from_rfc3339("2026-01-15T04:00:00Z").unwrap();
        let summer = Clock::fixed_from_rfc3339("2026-07-15T04:00:00Z").unwrap();
        assert_eq!(winter.store_local_now().minute, 12 * 60);
        assert_eq!(summer.store_local_now().minute, 12 * 60);
    }

    #[test]
    fn a_manual_clock_moves_every_copy_and_only_when_told() {
        let c = Clock::manual_from_rfc3339("2026-11-25T12:00:00+08:00").unwrap();
        let copy = c;
        let start = c.now();
        assert_eq!(copy.now(), start);
        assert!(c.advance(chrono::Duration::seconds(61)));
        assert_eq!(copy.now() - start, chrono::Duration::seconds(61));
        assert_eq!(c, copy);
        assert_ne!(c, Clock::manual(start));
        assert!(!Clock::Fixed(start).advance(chrono::Duration::seconds(1)));
    }

    #[test]
    fn a_closed_store_opens_next_at_its_first_opening_in_beijing_time() {
        let hours = WeeklyHours::every_day("08:00-22:00".parse().expect("hours"));
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        // Open at noon: nothing to wait for.
        assert_eq!(
            next_opening_at(&hours, at("2026-11-25T12:00:00+08:00")),
            None
        );
        // 23:00 on Wednesday: 08:00 on Thursday.
        assert_eq!(
            next_opening_at(&hours, at("2026-11-25T23:00:00+08:00")),
            Some(at("2026-11-26T08:00:00+08:00"))
        );
        // 06:30 the same morning: 08:00 that day.
        assert_eq!(
            next_opening_at(&hours, at("2026-11-26T06:30:00+08:00")),
            Some(at("2026-11-26T08:00:00+08:00"))
        );
    }

    #[test]
    fn an_offset_instant_is_read_in_its_own_offset() {
        let c = Clock::fixed_from_rfc3339("2026-11-25T23:30:00+08:00").unwrap();
        assert_eq!(c.store_local_now(), LocalTime::new(2, 23 * 60 + 30));
    }
}
