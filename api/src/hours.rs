//! Opening hours per weekday in the store's local time. A span may cross midnight (22:00–02:00)
//! or cover the whole day (00:00–24:00). The caller converts "now" to the store's zone (the platform
//! does it with chrono-tz for Asia/Shanghai); this module only does calendar arithmetic.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// A moment in a store's local week: weekday 0 = Monday … 6 = Sunday, minute of day 0..1440.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub weekday: u8,
    pub minute: u16,
}

impl LocalTime {
    pub fn new(weekday: u8, minute: u16) -> Self {
        debug_assert!(weekday < 7 && minute < MINUTES_PER_DAY);
        Self { weekday, minute }
    }
}

/// One day's opening: closed, or open from `open` for a span ending at `close`.
/// `close <= open` means the span runs past midnight into the next day; `00:00–24:00` is all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayHours {
    Closed,
    Open { open: u16, close: u16 },
}

impl DayHours {
    pub const ALL_DAY: DayHours = DayHours::Open {
        open: 0,
        close: MINUTES_PER_DAY,
    };

    /// Minutes after this day's midnight at which the span ends (may exceed 1440 when it crosses midnight).
    fn span(self) -> Option<(u16, u16)> {
        match self {
            DayHours::Closed => None,
            DayHours::Open { open, close } if close > open => Some((open, close)),
            DayHours::Open { open, close } => Some((open, close + MINUTES_PER_DAY)),
        }
    }
}

/// On the wire as its text form, like [`WeeklyHours`]' days: `"08:00-22:00"` or `"closed"`.
impl Serialize for DayHours {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DayHours {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(|e: ApiError| serde::de::Error::custom(e.message))
    }
}

impl fmt::Display for DayHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DayHours::Closed => f.write_str("closed"),
            DayHours::Open { open, close } => {
                write!(f, "{}-{}", format_minute(*open), format_minute(*close))
            }
        }
    }
}

/// "07:00" for minute 420; "24:00" for 1440.
pub fn format_minute(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn parse_minute(s: &str) -> Result<u16, ApiError> {
    let bad = || ApiError::bad_request(format!("时间格式应为 HH:MM（收到 \"{s}\"）"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl std::str::FromStr for DayHours {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "closed" {
            return Ok(DayHours::Closed);
        }
        let (open, close) = s.split_once('-').ok_or_else(|| {
            ApiError::bad_request(format!("营业时间格式应为 HH:MM-HH:MM（收到 \"{s}\"）"))
        })?;
        let open = parse_minute(open)?;
        let close = parse_minute(close)?;
        if open == MINUTES_PER_DAY {
            return Err(ApiError::bad_request("营业时间不能从 24:00 开始"));
        }
        Ok(DayHours::Open { open, close })
    }
}

/// Hours for each weekday, Monday first. On the wire: seven strings like `"08:00-22:00"` or `"closed"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct WeeklyHours {
    days: [DayHours; 7],
}

impl TryFrom<Vec<String>> for WeeklyHours {
    type Error = ApiError;
    fn try_from(v: Vec<String>) -> Result<Self, Self::Error> {
        if v.len() != 7 {
            return Err(ApiError::bad_request("营业时间必须包含 7 天"));
        }
        let mut days = [DayHours::Closed; 7];
        for (day, s) in days.iter_mut().zip(&v) {
            *day = s.parse()?;
        }
        Ok(Self { days })
    }
}

impl From<WeeklyHours> for Vec<String> {
    fn from(h: WeeklyHours) -> Self {
        h.days.iter().map(ToString::to_string).collect()
    }
}

impl WeeklyHours {
    pub fn new(days: [DayHours; 7]) -> Self {
        Self { days }
    }
    pub fn every_day(day: DayHours) -> Self {
        Self { days: [day; 7] }
    }
    pub fn days(&self) -> &[DayHours; 7] {
        &self.days
    }

    /// Compact text form, `;`-separated, for storage.
    pub fn to_compact(&self) -> String {
        self.days.map(|d| d.to_string()).join(";")
    }
    pub fn from_compact(s: &str) -> Result<Self, ApiError> {
        Self::try_from(s.split(';').map(str::to_owned).collect::<Vec<_>>())
    }

    pub fn is_24h(&self) -> bool {
        self.days.iter().all(|d| *d == DayHours::ALL_DAY)
    }

    /// Open at `t`? Checks today's span and yesterday's span that may run past midnight.
    pub fn is_open(&self, t: LocalTime) -> bool {
        let minute = t.minute;
        if let Some((open, close)) = self.days[usize::from(t.weekday)].span() {
            if (open..close).contains(&minute) {
                return true;
            }
        }
        let yesterday = (t.weekday + 6) % 7;
        if let Some((_, close)) = self.days[usize::from(yesterday)].span() {
            if close > MINUTES_PER_DAY && minute < close - MINUTES_PER_DAY {
                return true;
            }
        }
        false
    }

    /// When a closed store next opens: (days from today, minute of that day). `None` if never.
    pub fn next_opening(&self, t: LocalTime) -> Option<(u8, u16)> {
        if let Some((open, _)) = self.days[usize::from(t.weekday)].span() {
            if open > t.minute {
                return Some((0, open));
            }
        }
        (1..=7u8).find_map(|ahead| {
            let day = (t.weekday + ahead) % 7;
            self.days[usize::from(day)]
                .span()
                .map(|(open, _)| (ahead, open))
        })
    }

    /// "Night" stores (夜间) serve the 22:00–08:00 window that makes up 16 % of orders:
    /// open at 23:00 or at 02:00 on the given day.
    pub fn serves_night(&self, weekday: u8) -> bool {
        self.is_open(LocalTime::new(weekday, 23 * 60))
            || self.is_open(LocalTime::new((weekday + 1) % 7, 2 * 60))
    }

    /// A shopper-facing description of today's hours: "08:00-22:00", "24小时营业", "今日休息".
    pub fn describe_day(&self, weekday: u8) -> String {
        match self.days[usize::from(weekday % 7)] {
            DayHours::ALL_DAY => "24小时营业".to_owned(),
            DayHours::Closed => "今日休息".to_owned(),
            DayHours::Open { open, close } if close <= open => {
                format!("{}-次日{}", format_minute(open), format_minute(close))
            }
            d => d.to_string(),
        }
    }
}

/// When a closed store next opens, as data: a page words it in its own language
/// ([`Opening::describe`] is the Chinese wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    /// 0 today, 1 tomorrow, … 7 the same weekday next week.
    pub days_ahead: u8,
    /// Minute of that day, 0..1440.
    pub minute: u16,
    /// The weekday it opens on, 0 = Monday.
    pub weekday: u8,
}

impl Opening {
    /// `days_ahead` days after weekday `today`, at `minute`.
    pub fn new(days_ahead: u8, minute: u16, today: u8) -> Self {
        Self {
            days_ahead,
            minute,
            weekday: (today + days_ahead) % 7,
        }
    }

    /// "今天 07:00 开门", "明天 07:00 开门", "周三 07:00 开门".
    pub fn describe(self) -> String {
        const NAMES: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
        let when = match self.days_ahead {
            0 => "今天",
            1 => "明天",
            _ => NAMES[usize::from(self.weekday % 7)],
        };
        format!("{when} {} 开门", format_minute(self.minute))
    }
}

/// "今天 07:00 开门", "明天 07:00 开门", "周三 07:00 开门".
pub fn describe_opening(days_ahead: u8, minute: u16, today: u8) -> String {
    Opening::new(days_ahead, minute, today).describe()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> DayHours {
        s.parse().unwrap()
    }
    fn at(weekday: u8, hh: u16, mm: u16) -> LocalTime {
        LocalTime::new(weekday, hh * 60 + mm)
    }

    #[test]
    fn a_daytime_span_is_open_inside_and_closed_outside() {
        let w = WeeklyHours::every_day(h("08:00-22:00"));
        assert!(!w.is_open(at(0, 7, 59)));
        assert!(w.is_open(at(0, 8, 0)));
        assert!(w.is_open(at(0, 21, 59)));
        assert!(!w.is_open(at(0, 22, 0)));
    }

    #[test]
    fn an_overnight_span_stays_open_past_midnight_into_the_next_day() {
        // Friday 22:00 to Saturday 02:00 only.
        let mut days = [DayHours::Closed; 7];
        days[4] = h("22:00-02:00");
        let w = WeeklyHours::new(days);
        assert!(w.is_open(at(4, 23, 30)), "Friday night");
        assert!(
            w.is_open(at(5, 1, 59)),
            "Saturday small hours belong to Friday's span"
        );
        assert!(!w.is_open(at(5, 2, 0)));
        assert!(
            !w.is_open(at(4, 1, 0)),
            "Friday small hours: Thursday was closed"
        );
        assert!(!w.is_open(at(5, 23, 0)), "Saturday has no span of its own");
    }

    #[test]
    fn an_overnight_span_on_sunday_wraps_to_monday() {
        let mut days = [DayHours::Closed; 7];
        days[6] = h("20:00-03:00");
        let w = WeeklyHours::new(days);
        assert!(w.is_open(at(0, 2, 0)));
        assert!(!w.is_open(at(0, 3, 0)));
    }

    #[test]
    fn a_24h_store_is_always_open() {
        let w = WeeklyHours::every_day(DayHours::ALL_DAY);
        assert!(w.is_24h());
        for wd in 0..7 {
            for minute in (0..MINUTES_PER_DAY).step_by(17) {
                assert!(w.is_open(LocalTime::new(wd, minute)));
            }
        }
        assert_eq!(w.describe_day(3), "24小时营业");
    }

    #[test]
    fn next_opening_finds_later_today_then_the_next_open_day() {
        let mut days = [h("07:00-21:00"); 7];
        days[1] = DayHours::Closed; // closed Tuesdays
        let w = WeeklyHours::new(days);
        assert_eq!(w.next_opening(at(0, 6, 0)), Some((0, 420)));
        assert_eq!(
            w.next_opening(at(0, 22, 0)),
            Some((2, 420)),
            "Tuesday is skipped"
        );
        assert_eq!(
            WeeklyHours::every_day(DayHours::Closed).next_opening(at(0, 1, 0)),
            None
        );
        assert_eq!(describe_opening(2, 420, 0), "周三 07:00 开门");
        assert_eq!(describe_opening(1, 420, 0), "明天 07:00 开门");
        assert_eq!(describe_opening(7, 420, 3), "周四 07:00 开门");
        assert_eq!(
            Opening::new(5, 420, 4),
            Opening {
                days_ahead: 5,
                minute: 420,
                weekday: 2
            }
        );
    }

    #[test]
    fn a_days_hours_and_an_opening_go_on_the_wire() {
        for day in ["08:00-22:00", "closed", "22:00-02:00", "00:00-24:00"] {
            let json = format!("\"{day}\"");
            let parsed: DayHours = serde_json::from_str(&json).unwrap();
            assert_eq!(parsed, h(day));
            assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
        }
        assert!(serde_json::from_str::<DayHours>("\"8-22\"").is_err());
        let o = Opening::new(1, 420, 6);
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(json, r#"{"days_ahead":1,"minute":420,"weekday":0}"#);
        assert_eq!(serde_json::from_str::<Opening>(&json).unwrap(), o);
    }

    #[test]
    fn hours_round_trip_through_the_wire_and_compact_forms() {
        let w = WeeklyHours::new([
            h("08:00-22:00"),
            h("closed"),
            h("00:00-24:00"),
            h("22:00-02:00"),
            h("08:30-21:15"),
            h("08:00-22:00"),
            h("08:00-22:00"),
        ]);
        let json = serde_json::to_string(&w).unwrap();
        assert!(json.starts_with(r#"["08:00-22:00","closed","00:00-24:00","22:00-02:00""#));
        assert_eq!(serde_json::from_str::<WeeklyHours>(&json).unwrap(), w);
        assert_eq!(WeeklyHours::from_compact(&w.to_compact()).unwrap(), w);
    }

    #[test]
    fn malformed_hours_are_rejected() {
        for bad in [
            "8-22",
            "25:00-02:00",
            "08:60-09:00",
            "24:00-02:00",
            "open",
            "24:30-01:00",
        ] {
            assert!(bad.parse::<DayHours>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<WeeklyHours>(r#"["closed"]"#).is_err());
    }

    #[test]
    fn night_stores_are_recognised() {
        assert!(WeeklyHours::every_day(h("18:00-02:00")).serves_night(0));
        assert!(WeeklyHours::every_day(DayHours::ALL_DAY).serves_night(0));
        assert!(!WeeklyHours::every_day(h("08:00-22:00")).serves_night(0));
        assert_eq!(
            WeeklyHours::every_day(h("18:00-02:00")).describe_day(0),
            "18:00-次日02:00"
        );
    }
}
