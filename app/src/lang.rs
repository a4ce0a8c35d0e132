//! Which language a page is in (zh-CN, the default, or en), and the formatting that follows it.
//!
//! The words live in `app/locales/{zh-CN,en}/<namespace>.json`, one namespace per domain module;
//! `build.rs` compiles them into the `crate::i18n` module, so a key missing from either language
//! fails the build. Components take the page's [`Locale`] from [`locale()`] and write
//! `td_string!(l, ns.key)` (or `td_string!(l, ns.key, name = value)` for `{{ name }}`).
//!
//! The server decides the locale per request (`server/src/lang.rs`: `?lang=` from a link, else the
//! shopper's choice in the `jishi_lang` cookie, else `Accept-Language`, else zh-CN) and puts it
//! into the request's extensions before the page renders; `<html lang>` carries it to the browser,
//! where islands read it back, so hydration renders the same words the server sent.

use crate::i18n::td_string;
pub use crate::i18n::Locale;
use jishi_api::{ApiError, ErrorCode};

/// The cookie that keeps a shopper's explicit choice (footer or `/me`).
pub const LANG_COOKIE: &str = "jishi_lang";
/// `?lang=en` or `?lang=zh-CN` in a link chooses the language (and keeps it, like the footer).
pub const LANG_QUERY: &str = "lang";

/// The locale this page renders in.
pub fn locale() -> Locale {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Locale>().copied())
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        thread_local! {
            static PAGE: Locale = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.document_element())
                .and_then(|html| html.get_attribute("lang"))
                .and_then(|tag| parse_tag(&tag))
                .unwrap_or_default();
        }
        PAGE.with(|l| *l)
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Locale::default()
    }
}

/// The BCP 47 tag for `<html lang>`, `hreflang` and the cookie.
pub fn tag(l: Locale) -> &'static str {
    match l {
        Locale::zh_CN => "zh-CN",
        Locale::en => "en",
    }
}

/// A language tag we can serve: any `zh` (Simplified or not, we have one Chinese) or any `en`.
pub fn parse_tag(tag: &str) -> Option<Locale> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    match primary.as_str() {
        "zh" => Some(Locale::zh_CN),
        "en" => Some(Locale::en),
        _ => None,
    }
}

/// The best language of an `Accept-Language` header we can serve, by its q-values (RFC 9110
/// §12.5.4); ties keep the header's order. `None` when it names none of ours.
pub fn from_accept_language(header: &str) -> Option<Locale> {
    let mut best: Option<(f32, Locale)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let Some(locale) = parts.next().and_then(parse_tag) else {
            continue;
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, locale));
        }
    }
    best.map(|(_, l)| l)
}

/// A sentence for the shopper about an error the platform returned. In Chinese the platform's own
/// message (it names the field or the limit); in English the message for its code.
pub fn api_error_message(e: &ApiError, l: Locale) -> String {
    match l {
        Locale::zh_CN if !e.message.is_empty() => e.message.clone(),
        _ => error_code_message(e.code, l).to_owned(),
    }
}

/// The translated message for every code a page can meet.
pub fn error_code_message(code: ErrorCode, l: Locale) -> &'static str {
    match code {
        ErrorCode::BadRequest => td_string!(l, errors.bad_request),
        ErrorCode::Unauthorized => td_string!(l, errors.unauthorized),
        ErrorCode::SessionExpired => td_string!(l, errors.session_expired),
        ErrorCode::Forbidden => td_string!(l, errors.forbidden),
        ErrorCode::NotFound => td_string!(l, errors.not_found),
        ErrorCode::SoldOut => td_string!(l, errors.sold_out),
        ErrorCode::RequestInProgress => td_string!(l, errors.request_in_progress),
        ErrorCode::InvalidState => td_string!(l, errors.invalid_state),
        ErrorCode::PayloadTooLarge => td_string!(l, errors.payload_too_large),
        ErrorCode::UnsupportedMediaType => td_string!(l, errors.unsupported_media_type),
        ErrorCode::RequestTimeout => td_string!(l, errors.request_timeout),
        ErrorCode::IdempotencyKeyReused => td_string!(l, errors.idempotency_key_reused),
        ErrorCode::OutOfDeliveryRange => td_string!(l, errors.out_of_delivery_range),
        ErrorCode::NotDeliverable => td_string!(l, errors.not_deliverable),
        ErrorCode::AlreadyMember => td_string!(l, errors.already_member),
        ErrorCode::GroupFull => td_string!(l, errors.group_full),
        ErrorCode::GroupClosed => td_string!(l, errors.group_closed),
        ErrorCode::NotStarted => td_string!(l, errors.not_started),
        ErrorCode::SaleEnded => td_string!(l, errors.sale_ended),
        ErrorCode::LimitReached => td_string!(l, errors.limit_reached),
        ErrorCode::TooManyRequests => td_string!(l, errors.too_many_requests),
        ErrorCode::NoPublisher => td_string!(l, errors.no_publisher),
        ErrorCode::RoomFull => td_string!(l, errors.room_full),
        ErrorCode::Busy => td_string!(l, errors.busy),
        ErrorCode::TooManyUnpaid => td_string!(l, errors.too_many_unpaid),
        ErrorCode::PlatformUnavailable => td_string!(l, errors.platform_unavailable),
        ErrorCode::Overloaded => td_string!(l, errors.overloaded),
        ErrorCode::BadGateway => td_string!(l, errors.bad_gateway),
        ErrorCode::Internal => td_string!(l, errors.internal),
    }
}

/// "12:03 北京时间" / "12:03 Beijing time": a wire timestamp as a time of day in the stores' zone.
pub fn beijing_time(rfc3339: &str, l: Locale) -> Option<String> {
    let hm = jishi_api::time::beijing_hm(rfc3339)?;
    Some(td_string!(l, common.time_hm, hm = hm))
}

/// "11月25日 12:03" / "25 Nov 12:03": a wire timestamp as date and time in Beijing (the zone is
/// named once per page or block, with [`common.beijing_time`]).
pub fn beijing_date_time(rfc3339: &str, l: Locale) -> Option<String> {
    Some(match l {
        Locale::zh_CN => jishi_api::time::beijing_date_hm(rfc3339)?,
        Locale::en => {
            let (mo, d, h, m) =
                jishi_api::time::beijing_parts(jishi_api::time::parse_utc(rfc3339)?);
            let hm = format!("{h:02}:{m:02}");
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let month = MONTHS
                .get(mo.saturating_sub(1) as usize)
                .copied()
                .unwrap_or("");
            format!("{d} {month} {hm}")
        }
    })
}

/// A category's label, from the one category table (`jishi_api::category`).
pub fn category_label(c: jishi_api::category::Category, l: Locale) -> &'static str {
    match l {
        Locale::zh_CN => c.label(),
        Locale::en => c.label_en(),
    }
}

/// "北京·国贸附近" / "Near Guomao, Beijing" within 3 km of a named area, else the coordinates.
pub fn describe_point(p: jishi_api::LatLng, l: Locale) -> String {
    let Some(area) = jishi_api::areas::named_area_near(p) else {
        return format!("{:.4}, {:.4}", p.lat(), p.lng());
    };
    match l {
        Locale::zh_CN => td_string!(l, common.near_area, city = area.city, area = area.name),
        Locale::en => td_string!(
            l,
            common.near_area,
            city = area.city_en,
            area = area.name_en
        ),
    }
}

/// An order's status, as the order page, `/me` and the live buy show it.
pub fn order_status_label(s: jishi_api::orders::OrderStatus, l: Locale) -> &'static str {
    use jishi_api::orders::OrderStatus::*;
    match s {
        PendingPayment => td_string!(l, orders.status.pending_payment),
        Paid => td_string!(l, orders.status.paid),
        Accepted => td_string!(l, orders.status.accepted),
        Picking => td_string!(l, orders.status.picking),
        Ready => td_string!(l, orders.status.ready),
        RiderAssigned => td_string!(l, orders.status.rider_assigned),
        PickedUp => td_string!(l, orders.status.picked_up),
        Delivering => td_string!(l, orders.status.delivering),
        Delivered => td_string!(l, orders.status.delivered),
        Cancelled => td_string!(l, orders.status.cancelled),
        Refunded => td_string!(l, orders.status.refunded),
        AwaitingShopper => td_string!(l, orders.status.awaiting_shopper),
    }
}

/// Why money went back on an order (order page, `/me`).
pub fn refund_reason_label(r: jishi_api::orders::RefundReason, l: Locale) -> &'static str {
    use jishi_api::orders::RefundReason::*;
    match r {
        Short => td_string!(l, orders.refund.short),
        Substituted => td_string!(l, orders.refund.substituted),
        DeliveryFee => td_string!(l, orders.refund.delivery_fee),
        Cancelled => td_string!(l, orders.refund.cancelled),
        AfterSales => td_string!(l, orders.refund.after_sales),
    }
}

/// The shopper's choice for a short line (checkout, order page).
pub fn shortage_label(s: jishi_api::orders::Shortage, l: Locale) -> &'static str {
    use jishi_api::orders::Shortage::*;
    match s {
        ShipRest => td_string!(l, orders.shortage.ship_rest),
        AskMe => td_string!(l, orders.shortage.ask_me),
        CancelAll => td_string!(l, orders.shortage.cancel_all),
    }
}

/// A group's status (group page, `/me`).
pub fn group_status_label(s: jishi_api::groups::GroupStatus, l: Locale) -> &'static str {
    use jishi_api::groups::GroupStatus::*;
    match s {
        Forming => td_string!(l, groups.status.forming),
        Formed => td_string!(l, groups.status.formed),
        Fulfilled => td_string!(l, groups.status.fulfilled),
        Expired => td_string!(l, groups.status.expired),
    }
}

/// A live room's status (room list, room, host console).
pub fn room_status_label(s: jishi_api::live::RoomStatus, l: Locale) -> &'static str {
    use jishi_api::live::RoomStatus::*;
    match s {
        Scheduled => td_string!(l, live.status.scheduled),
        Live => td_string!(l, live.status.live),
        Ended => td_string!(l, live.status.ended),
    }
}

/// A person as others see them: "尾号 1234" / "ending 1234" (a shopper, by the last digits of
/// their phone) or "主播 …" / "Host …".
pub fn person_name(person: &jishi_api::person::Person, l: Locale) -> String {
    use jishi_api::person::Person;
    match person {
        Person::Shopper { last_digits } => {
            td_string!(l, common.person_phone_tail, tail = last_digits)
        }
        Person::Host { name } => td_string!(l, common.person_host, name = name),
    }
}

/// An area's name in the page's language.
pub fn area_name(area: &jishi_api::areas::Area, l: Locale) -> &'static str {
    match l {
        Locale::zh_CN => area.name,
        Locale::en => area.name_en,
    }
}

/// The current path and query with `lang` set: the language switch's links.
pub fn switch_href<'a>(
    path: &str,
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
    to: Locale,
) -> String {
    let mut pairs: Vec<(&str, Option<&str>)> = query
        .into_iter()
        .filter(|(k, _)| *k != LANG_QUERY)
        .map(|(k, v)| (k, Some(v)))
        .collect();
    pairs.push((LANG_QUERY, Some(tag(to))));
    crate::links::href(path, &pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_language_we_have() {
        assert_eq!(from_accept_language("en-US,en;q=0.9"), Some(Locale::en));
        assert_eq!(
            from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Locale::zh_CN)
        );
        assert_eq!(
            from_accept_language("fr-FR, en;q=0.5, zh;q=0.7"),
            Some(Locale::zh_CN)
        );
        assert_eq!(
            from_accept_language("zh-TW;q=0.2, en-GB;q=0.3"),
            Some(Locale::en)
        );
        assert_eq!(from_accept_language("fr, de;q=0.9"), None);
        assert_eq!(from_accept_language("en;q=0, zh-Hans"), Some(Locale::zh_CN));
        assert_eq!(from_accept_language(""), None);
        assert_eq!(from_accept_language("*"), None);
    }

    #[test]
    fn every_error_code_has_a_message_in_both_languages() {
        use ErrorCode::*;
        for code in [
            BadRequest,
            Unauthorized,
            SessionExpired,
            Forbidden,
            NotFound,
            SoldOut,
            RequestInProgress,
            InvalidState,
            PayloadTooLarge,
            RequestTimeout,
            IdempotencyKeyReused,
            OutOfDeliveryRange,
            NotDeliverable,
            AlreadyMember,
            GroupFull,
            GroupClosed,
            NotStarted,
            SaleEnded,
            LimitReached,
            TooManyRequests,
            TooManyUnpaid,
            PlatformUnavailable,
            Overloaded,
            BadGateway,
            Internal,
        ] {
            let zh = error_code_message(code, Locale::zh_CN);
            let en = error_code_message(code, Locale::en);
            assert!(!zh.is_empty() && !en.is_empty() && zh != en, "{code:?}");
            assert!(en.is_ascii(), "{code:?}: {en}");
        }
    }

    #[test]
    fn english_errors_use_the_code_and_chinese_ones_the_platforms_sentence() {
        let e = ApiError {
            code: ErrorCode::SoldOut,
            message: "农夫山泉 已售罄".into(),
        };
        assert_eq!(api_error_message(&e, Locale::zh_CN), "农夫山泉 已售罄");
        assert_eq!(
            api_error_message(&e, Locale::en),
            error_code_message(ErrorCode::SoldOut, Locale::en)
        );
    }

    #[test]
    fn times_are_beijing_times_in_both_languages() {
        assert_eq!(
            beijing_time("2026-11-25T04:03:00Z", Locale::zh_CN).as_deref(),
            Some("12:03（北京时间）")
        );
        assert_eq!(
            beijing_time("2026-11-25T04:03:00Z", Locale::en).as_deref(),
            Some("12:03 Beijing time")
        );
        assert_eq!(
            beijing_date_time("2026-11-25T04:03:00Z", Locale::en).as_deref(),
            Some("25 Nov 12:03")
        );
        assert_eq!(
            beijing_date_time("2026-11-25T04:03:00Z", Locale::zh_CN).as_deref(),
            Some("11月25日 12:03")
        );
    }

    #[test]
    fn a_point_near_guomao_is_described_by_name_in_both_languages() {
        let p = jishi_api::LatLng::new(39.9100, 116.4620).unwrap();
        assert_eq!(describe_point(p, Locale::zh_CN), "北京·国贸附近");
        assert_eq!(describe_point(p, Locale::en), "Near Guomao, Beijing");
        let far = jishi_api::LatLng::new(31.23, 121.47).unwrap();
        assert_eq!(describe_point(far, Locale::zh_CN), "31.2300, 121.4700");
    }

    #[test]
    fn masked_people_read_in_either_language() {
        use jishi_api::person::Person;
        let shopper = Person::shopper("13800001234");
        assert_eq!(person_name(&shopper, Locale::zh_CN), "尾号 1234");
        assert_eq!(person_name(&shopper, Locale::en), "ending 1234");
        let host = Person::host("鲜果小王");
        assert_eq!(person_name(&host, Locale::zh_CN), "主播 鲜果小王");
        assert_eq!(person_name(&host, Locale::en), "Host 鲜果小王");
    }

    #[test]
    fn the_switch_keeps_the_query_and_replaces_lang() {
        assert_eq!(
            switch_href("/search", [("q", "牛"), ("lang", "zh-CN")], Locale::en),
            "/search?q=%E7%89%9B&lang=en"
        );
        assert_eq!(switch_href("/", [], Locale::zh_CN), "/?lang=zh-CN");
    }
}
