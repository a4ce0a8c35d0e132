//! Stores: the static profile, the nearby query with its validation, and the wire responses.

use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::error::ApiError;
use crate::geo::{eta_minutes, haversine_m, route_distance_m, LatLng};
use crate::hours::{DayHours, Opening, WeeklyHours};
use crate::money::FeeRules;

pub const DEFAULT_NEARBY_LIMIT: u32 = 20;
pub const MAX_NEARBY_LIMIT: u32 = 100;
/// The largest delivery radius any store may have, and the largest `radius_m` a query may ask for.
pub const MAX_RADIUS_M: u32 = 20_000;

/// What a store is, independent of where the shopper stands. The platform keeps these in memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreProfile {
    pub id: String,
    pub name: String,
    pub category: Category,
    pub city: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    pub delivery_radius_m: u32,
    pub hours: WeeklyHours,
    pub prep_min: u32,
    pub detour_factor: f64,
    pub rider_speed_kmh: f64,
    pub fees: FeeRules,
    pub min_order_fen: i64,
    /// 0.0–5.0, one decimal.
    pub rating: f32,
}

impl StoreProfile {
    /// Distance, ETA, fee (before any free-delivery threshold) and whether the store delivers to
    /// `to`. The platform prices orders with this; the checkout page previews it per address.
    pub fn quote(&self, to: LatLng) -> DeliveryQuote {
        // Store coordinates were validated on the way in; an invalid one can only be "here".
        let here = LatLng::new(self.lat, self.lng).unwrap_or(to);
        let distance_m = haversine_m(here, to).round() as u32;
        let route_m = route_distance_m(f64::from(distance_m), self.detour_factor);
        DeliveryQuote {
            distance_m,
            eta_min: eta_minutes(self.prep_min, route_m, self.rider_speed_kmh),
            delivers: distance_m <= self.delivery_radius_m,
            delivery_fee_fen: self.fees.fee_fen(distance_m, 0),
        }
    }
}

/// One row of the nearby list: the store as seen from the shopper's point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreSummary {
    pub id: String,
    pub name: String,
    pub category: Category,
    pub lat: f64,
    pub lng: f64,
    pub address: String,
    pub distance_m: u32,
    pub eta_min: u32,
    pub delivers: bool,
    pub open_now: bool,
    pub is_24h: bool,
    /// Open late at night today (22:00–08:00 window).
    pub night: bool,
    /// For a closed store: "明天 07:00 开门".
    pub opens_at: Option<String>,
    /// For a closed store: when it opens, as data for pages in other languages. `None` from a
    /// platform that predates it.
    #[serde(default)]
    pub opens: Option<Opening>,
    pub delivery_fee_fen: i64,
    pub min_order_fen: i64,
    pub rating: f32,
}

/// `GET /v1/stores/nearby` → this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearbyResponse {
    pub stores: Vec<StoreSummary>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/stores/{id}` → this. Distance, ETA and fee appear when the query carries `lat`/`lng`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreDetail {
    pub store: StoreProfile,
    pub open_now: bool,
    pub is_24h: bool,
    /// For a closed store: "明天 07:00 开门".
    pub opens_at: Option<String>,
    /// `opens_at` as data, for pages in other languages (`None` also from an older platform).
    #[serde(default)]
    pub opens: Option<Opening>,
    /// Today's hours for the shopper: "08:00-22:00", "24小时营业", "今日休息", "18:00-次日02:00".
    pub today_hours: String,
    /// `today_hours` as data, for pages in other languages. `None` from an older platform.
    #[serde(default)]
    pub today: Option<DayHours>,
    /// The store's product categories (aisles) in display order, for the category rail.
    pub aisles: Vec<String>,
    pub quote: Option<DeliveryQuote>,
    /// Scheduled-delivery slots from now to the end of tomorrow while the store is open.
    #[serde(default)]
    pub slots: Vec<DeliverySlot>,
}

/// A 30-minute delivery window a shopper can pick instead of "as soon as possible".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverySlot {
    /// RFC 3339 start, the value `PlaceOrder::slot` takes.
    pub start: String,
    /// "今天 18:30–19:00", in the store's time zone.
    pub label: String,
}

/// Delivery from a store to a point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeliveryQuote {
    pub distance_m: u32,
    pub eta_min: u32,
    pub delivers: bool,
    pub delivery_fee_fen: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Eta,
    Distance,
}

impl Sort {
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Eta => "eta",
            Sort::Distance => "distance",
        }
    }
}

/// An optional point in a query string (`?lat=&lng=`), exactly as it arrives: a store's detail
/// is quoted to it when given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointRaw {
    pub lat: Option<String>,
    pub lng: Option<String>,
}

impl PointRaw {
    /// No point when neither is given; both must then be valid coordinates.
    pub fn parse(&self) -> Result<Option<LatLng>, ApiError> {
        if self.lat.is_none() && self.lng.is_none() {
            return Ok(None);
        }
        LatLng::parse(self.lat.as_deref(), self.lng.as_deref()).map(Some)
    }
}

/// Query parameters exactly as they arrive: strings, so that bad input gets a message, not a
/// deserialiser's complaint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NearbyQueryRaw {
    pub lat: Option<String>,
    pub lng: Option<String>,
    pub radius_m: Option<String>,
    pub category: Option<String>,
    pub open_now: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// A validated nearby query.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyQuery {
    pub at: LatLng,
    /// Only stores at most this far away (on top of each store's own delivery radius).
    pub radius_m: Option<u32>,
    pub category: Option<Category>,
    pub open_now: bool,
    pub sort: Sort,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

impl NearbyQuery {
    pub fn new(at: LatLng) -> Self {
        Self {
            at,
            radius_m: None,
            category: None,
            open_now: false,
            sort: Sort::Eta,
            limit: DEFAULT_NEARBY_LIMIT,
            cursor: None,
        }
    }

    pub fn parse(raw: &NearbyQueryRaw) -> Result<Self, ApiError> {
        let at = LatLng::parse(raw.lat.as_deref(), raw.lng.as_deref())?;
        let radius_m = non_empty(&raw.radius_m)
            .map(|v| parse_bounded("radius_m", "配送半径", v, 1, MAX_RADIUS_M))
            .transpose()?;
        let category = non_empty(&raw.category)
            .map(|v| {
                Category::from_slug(v)
                    .ok_or_else(|| ApiError::bad_request(format!("没有这个分类：\"{v}\"")))
            })
            .transpose()?;
        let open_now = non_empty(&raw.open_now)
            .map(|v| parse_flag("open_now", v))
            .transpose()?
            .unwrap_or(false);
        let sort = match non_empty(&raw.sort) {
            None | Some("eta") => Sort::Eta,
            Some("distance") => Sort::Distance,
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "排序 sort 只能是 eta 或 distance（收到 \"{v}\"）"
                )))
            }
        };
        let limit = non_empty(&raw.limit)
            .map(|v| parse_bounded("limit", "每页数量", v, 1, MAX_NEARBY_LIMIT))
            .transpose()?
            .unwrap_or(DEFAULT_NEARBY_LIMIT);
        let cursor = non_empty(&raw.cursor)
            .map(|v| Cursor::parse(v, sort))
            .transpose()?;
        Ok(Self {
            at,
            radius_m,
            category,
            open_now,
            sort,
            limit,
            cursor,
        })
    }

    /// Back to query parameters (for calling the platform and for building links).
    pub fn to_raw(&self) -> NearbyQueryRaw {
        NearbyQueryRaw {
            lat: Some(format!("{:.6}", self.at.lat())),
            lng: Some(format!("{:.6}", self.at.lng())),
            radius_m: self.radius_m.map(|r| r.to_string()),
            category: self.category.map(|c| c.slug().to_owned()),
            open_now: self.open_now.then(|| "true".to_owned()),
            sort: Some(self.sort.as_str().to_owned()),
            limit: Some(self.limit.to_string()),
            cursor: self.cursor.as_ref().map(Cursor::encode),
        }
    }
}

/// Position after the last row of a page. Keyset, not offset, so a page never repeats or skips a
/// store when the list shifts between requests. Open stores come first in either order (a shopper
/// wants what can come now), so the position says which of the two runs it is in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cursor {
    /// Sorted by (closed, eta, distance, id).
    Eta {
        closed: bool,
        eta_min: u32,
        distance_m: u32,
        id: String,
    },
    /// Sorted by (closed, distance, id).
    Distance {
        closed: bool,
        distance_m: u32,
        id: String,
    },
}

impl Cursor {
    pub fn encode(&self) -> String {
        match self {
            Cursor::Eta {
                closed,
                eta_min,
                distance_m,
                id,
            } => format!("e.{}.{eta_min}.{distance_m}.{id}", u8::from(*closed)),
            Cursor::Distance {
                closed,
                distance_m,
                id,
            } => format!("d.{}.{distance_m}.{id}", u8::from(*closed)),
        }
    }

    pub fn parse(s: &str, sort: Sort) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_request("翻页游标 cursor 无效，请从第一页重新加载");
        let (kind, rest) = s.split_once('.').ok_or_else(bad)?;
        let (closed, rest) = match rest.split_once('.') {
            Some(("0", rest)) => (false, rest),
            Some(("1", rest)) => (true, rest),
            _ => return Err(bad()),
        };
        let number = |v: Option<&str>| v.and_then(|v| v.parse().ok()).ok_or_else(bad);
        let cursor = match (kind, sort) {
            ("e", Sort::Eta) => {
                let mut parts = rest.splitn(3, '.');
                let eta_min = number(parts.next())?;
                let distance_m = number(parts.next())?;
                let id = parts.next().filter(|v| !v.is_empty()).ok_or_else(bad)?;
                Cursor::Eta {
                    closed,
                    eta_min,
                    distance_m,
                    id: id.to_owned(),
                }
            }
            ("d", Sort::Distance) => {
                let (distance_m, id) = rest.split_once('.').ok_or_else(bad)?;
                if id.is_empty() || id.contains('.') {
                    return Err(bad());
                }
                Cursor::Distance {
                    closed,
                    distance_m: number(Some(distance_m))?,
                    id: id.to_owned(),
                }
            }
            _ => return Err(bad()),
        };
        Ok(cursor)
    }

    /// The cursor that points just past `store` in the given sort order.
    pub fn after(store: &StoreSummary, sort: Sort) -> Self {
        let closed = !store.open_now;
        match sort {
            Sort::Eta => Cursor::Eta {
                closed,
                eta_min: store.eta_min,
                distance_m: store.distance_m,
                id: store.id.clone(),
            },
            Sort::Distance => Cursor::Distance {
                closed,
                distance_m: store.distance_m,
                id: store.id.clone(),
            },
        }
    }
}

pub(crate) fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

pub(crate) fn parse_bounded(
    name: &str,
    label: &str,
    v: &str,
    min: u32,
    max: u32,
) -> Result<u32, ApiError> {
    let out_of_range = || {
        ApiError::bad_request(format!(
            "{label} {name} 必须是 {min} 到 {max} 之间的整数（收到 \"{v}\"）"
        ))
    };
    let n: i64 = v.parse().map_err(|_| out_of_range())?;
    if n < i64::from(min) || n > i64::from(max) {
        return Err(out_of_range());
    }
    Ok(n as u32)
}

fn parse_flag(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "{name} 只能是 true 或 false（收到 \"{v}\"）"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> NearbyQueryRaw {
        let mut r = NearbyQueryRaw::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "lat" => r.lat = v,
                "lng" => r.lng = v,
                "radius_m" => r.radius_m = v,
                "category" => r.category = v,
                "open_now" => r.open_now = v,
                "sort" => r.sort = v,
                "limit" => r.limit = v,
                "cursor" => r.cursor = v,
                _ => panic!("unknown key {k}"),
            }
        }
        r
    }

    #[test]
    fn a_minimal_query_gets_the_defaults() {
        let q = NearbyQuery::parse(&raw(&[("lat", "39.9"), ("lng", "116.4")])).unwrap();
        assert_eq!(q.sort, Sort::Eta);
        assert_eq!(q.limit, DEFAULT_NEARBY_LIMIT);
        assert!(!q.open_now);
        assert_eq!(q.radius_m, None);
    }

    #[test]
    fn bad_input_is_rejected_with_a_message_naming_the_parameter() {
        let base = [("lat", "39.9"), ("lng", "116.4")];
        let cases: &[(&str, &str, &str)] = &[
            ("radius_m", "-1", "radius_m"),
            ("radius_m", "0", "radius_m"),
            ("radius_m", "abc", "radius_m"),
            ("limit", "10000", "limit"),
            ("limit", "0", "limit"),
            ("sort", "price", "sort"),
            ("category", "weapons", "weapons"),
            ("open_now", "maybe", "open_now"),
            ("cursor", "zzz", "cursor"),
        ];
        for (k, v, needle) in cases {
            let mut pairs = base.to_vec();
            pairs.push((k, v));
            let err = NearbyQuery::parse(&raw(&pairs)).unwrap_err();
            assert_eq!(err.http_status(), 400, "{k}={v}");
            assert!(err.message.contains(needle), "{k}={v}: {}", err.message);
        }
        let err = NearbyQuery::parse(&raw(&[("lat", "91"), ("lng", "116.4")])).unwrap_err();
        assert!(err.message.contains("lat"));
    }

    #[test]
    fn a_query_round_trips_through_its_raw_form() {
        let q = NearbyQuery::parse(&raw(&[
            ("lat", "39.9"),
            ("lng", "116.4"),
            ("radius_m", "3000"),
            ("category", "fresh"),
            ("open_now", "1"),
            ("sort", "distance"),
            ("limit", "5"),
            ("cursor", "d.0.1200.s000042"),
        ]))
        .unwrap();
        assert_eq!(NearbyQuery::parse(&q.to_raw()).unwrap(), q);
    }

    #[test]
    fn cursors_round_trip_and_must_match_the_sort() {
        for closed in [false, true] {
            let c = Cursor::Eta {
                closed,
                eta_min: 31,
                distance_m: 2500,
                id: "s000001".into(),
            };
            assert_eq!(Cursor::parse(&c.encode(), Sort::Eta).unwrap(), c);
            assert!(Cursor::parse(&c.encode(), Sort::Distance).is_err());
            let d = Cursor::Distance {
                closed,
                distance_m: 2500,
                id: "s000001".into(),
            };
            assert_eq!(Cursor::parse(&d.encode(), Sort::Distance).unwrap(), d);
        }
        assert_eq!(
            Cursor::parse("e.1.31.2500.s1", Sort::Eta).unwrap(),
            Cursor::Eta {
                closed: true,
                eta_min: 31,
                distance_m: 2500,
                id: "s1".into(),
            }
        );
        for bad in ["e.0.1.2.", "e.1.2.s1", "e.2.1.2.s1", "e", "e.0", ""] {
            assert!(Cursor::parse(bad, Sort::Eta).is_err(), "{bad}");
        }
        for bad in ["d.0.x.s1", "d.1200.s1", "d.0.1200.", "d.0.1200.s.1"] {
            assert!(Cursor::parse(bad, Sort::Distance).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_store_from_an_older_platform_without_the_structured_hours_still_parses() {
        let summary = StoreSummary {
            id: "s1".into(),
            name: "店".into(),
            category: Category::Fresh,
            lat: 39.9,
            lng: 116.4,
            address: "路 1 号".into(),
            distance_m: 800,
            eta_min: 25,
            delivers: true,
            open_now: false,
            is_24h: false,
            night: false,
            opens_at: Some("明天 07:00 开门".into()),
            opens: Some(Opening::new(1, 420, 2)),
            delivery_fee_fen: 400,
            min_order_fen: 0,
            rating: 4.5,
        };
        let mut json = serde_json::to_value(&summary).unwrap();
        assert_eq!(
            serde_json::from_value::<StoreSummary>(json.clone()).unwrap(),
            summary
        );
        json.as_object_mut().unwrap().remove("opens");
        let old: StoreSummary = serde_json::from_value(json).unwrap();
        assert_eq!(old.opens, None);
        assert_eq!(old.opens_at, summary.opens_at);
    }

    #[test]
    fn a_point_is_optional_but_whole() {
        let point = |lat: Option<&str>, lng: Option<&str>| PointRaw {
            lat: lat.map(str::to_owned),
            lng: lng.map(str::to_owned),
        };
        assert_eq!(point(None, None).parse().unwrap(), None);
        let at = point(Some("39.9"), Some("116.4")).parse().unwrap().unwrap();
        assert_eq!((at.lat(), at.lng()), (39.9, 116.4));
        assert!(point(Some("39.9"), None).parse().is_err());
        assert!(point(None, Some("116.4")).parse().is_err());
        assert!(point(Some("north"), Some("116.4")).parse().is_err());
    }
}
