//! Showing wire timestamps (RFC 3339, UTC) in Beijing time, the stores' zone. China has one zone,
//! UTC+8, and no daylight saving since 1991, so a fixed offset is exact. Pure arithmetic: no clock.

const BEIJING_OFFSET_S: i64 = 8 * 3600;

/// Unix seconds from `YYYY-MM-DDTHH:MM:SSZ` (fractions dropped; `+00:00` also accepted): wire
/// timestamps are UTC, so any other zone is refused.
pub fn parse_utc(s: &str) -> Option<i64> {
    if !(s.ends_with('Z') || s.ends_with("+00:00")) {
        return None;
    }
    Some(parse_ms(s)?.div_euclid(1000))
}

/// Unix milliseconds from `YYYY-MM-DDTHH:MM:SS[.fff…]` and a zone (`Z`, `±HH:MM` or `±HHMM`):
/// RFC 3339, and the form ffmpeg writes in HLS's `EXT-X-PROGRAM-DATE-TIME`.
pub fn parse_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        // Milliseconds: the first three digits, padded.
        ms = fraction[..digits]
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0, |ms, digit| ms * 10 + i64::from(digit - b'0'));
        rest = &fraction[digits..];
    }
    let offset_s = match rest.as_bytes() {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), ..] => {
            let zone = rest[1..].replace(':', "");
            if zone.len() != 4 || !zone.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (zh, zm): (i64, i64) = (zone[..2].parse().ok()?, zone[2..].parse().ok()?);
            let off = zh * 3600 + zm * 60;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    Some(secs * 1000 + ms)
}

/// (month, day, hour, minute) in Beijing.
pub fn beijing_parts(unix: i64) -> (u32, u32, u32, u32) {
    let local = unix + BEIJING_OFFSET_S;
    let (_, m, d) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    (m, d, (secs / 3600) as u32, (secs % 3600 / 60) as u32)
}

/// "12:03" in Beijing time.
pub fn beijing_hm(rfc3339: &str) -> Option<String> {
    let (_, _, h, m) = beijing_parts(parse_utc(rfc3339)?);
    Some(format!("{h:02}:{m:02}"))
}

/// "11月25日 12:03" in Beijing time.
pub fn beijing_date_hm(rfc3339: &str) -> Option<String> {
    let (mo, d, h, m) = beijing_parts(parse_utc(rfc3339)?);
    Some(format!("{mo}月{d}日 {h:02}:{m:02}"))
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`, the form wire timestamps take (the inverse of
/// `parse_utc` for whole seconds).
pub fn format_utc(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// Howard Hinnant's civil calendar algorithms (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_instants_are_shown_in_beijing_time_across_midnight_and_year_ends() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2026-11-25T04:03:00Z"), Some(1_795_579_380));
        assert_eq!(beijing_hm("2026-11-25T04:03:00Z").as_deref(), Some("12:03"));
        // 16:30 UTC is half past midnight the next day in Beijing.
        assert_eq!(
            beijing_date_hm("2026-11-25T16:30:00Z").as_deref(),
            Some("11月26日 00:30")
        );
        assert_eq!(
            beijing_date_hm("2026-12-31T20:00:00.250Z").as_deref(),
            Some("1月1日 04:00")
        );
        assert_eq!(
            beijing_date_hm("2028-02-28T18:00:00+00:00").as_deref(),
            Some("2月29日 02:00")
        );
        for t in [0, 1_795_579_380, 1_830_283_200, 951_782_400 + 59] {
            assert_eq!(parse_utc(&format_utc(t)), Some(t));
        }
        assert_eq!(format_utc(1_795_579_380), "2026-11-25T04:03:00Z");
        for bad in [
            "",
            "2026-11-25 04:03:00Z",
            "2026-11-25T04:03:00+08:00",
            "2026-13-01T00:00:00Z",
            "2026-11-25T24:00:00Z",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn milliseconds_from_rfc3339_and_ffmpeg_program_date_times() {
        let base = parse_utc("2026-12-07T10:20:30Z").unwrap() * 1000;
        assert_eq!(parse_ms("2026-12-07T10:20:30Z"), Some(base));
        assert_eq!(parse_ms("2026-12-07T10:20:30.123Z"), Some(base + 123));
        assert_eq!(parse_ms("2026-12-07T10:20:30.1Z"), Some(base + 100));
        assert_eq!(
            parse_ms("2026-12-07T10:20:30.123456+00:00"),
            Some(base + 123)
        );
        // ffmpeg: local time with a zone of four digits.
        assert_eq!(parse_ms("2026-12-07T18:20:30.500+0800"), Some(base + 500));
        assert_eq!(parse_ms("2026-12-07T05:20:30.000-05:00"), Some(base));
        for bad in [
            "",
            "2026-12-07T10:20:30",
            "2026-12-07T10:20:30.Z",
            "2026-12-07T10:20:30+8",
            "2026-13-07T10:20:30Z",
            "2026-12-07 10:20:30Z",
            "2026-12-07T10:20:3xZ",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }
}
