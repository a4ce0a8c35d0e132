//! The in-memory store index: a grid of store locations answering "which stores deliver here".
//!
//! Each store has its own delivery radius, so the grid is queried with a box as large as the
//! biggest radius and every candidate is then checked exactly (haversine ≤ that store's radius).

use std::cmp::Ordering;
use std::collections::HashMap;

use jishi_api::geo::{
    cos_lat, degree_box, eta_minutes, route_distance_m, HaversineFrom, LatLng, EARTH_RADIUS_M,
};
use jishi_api::hours::{LocalTime, Opening, WeeklyHours};
use jishi_api::stores::{
    Cursor, DeliveryQuote, NearbyQuery, NearbyResponse, Sort, StoreProfile, StoreSummary,
};
use jishi_api::Category;

use crate::grid::PointGrid;

/// What the hot loop needs about a store, kept inside the grid so that rejecting a candidate
/// never touches the (large, scattered) `StoreProfile`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PointInfo {
    idx: u32,
    category: Category,
    radius_m: u32,
    cos_lat: f64,
    prep_min: u32,
    detour_factor: f64,
    rider_speed_kmh: f64,
}

pub struct StoreIndex {
    stores: Vec<StoreProfile>,
    by_id: HashMap<String, u32>,
    grid: PointGrid<PointInfo>,
    /// Each grid position's delivery radius, apart from `PointInfo` so the scan stays compact.
    radius_by_pos: Vec<u32>,
    /// Each grid position's opening hours, in grid order: whether a candidate is open is part of
    /// its sort key, and reading it from the scattered `StoreProfile` made queries 3× slower.
    hours_by_pos: Vec<WeeklyHours>,
    max_radius_m: u32,
}

/// A store that delivers to the query point, with its sort key.
struct Candidate {
    idx: u32,
    closed: bool,
    distance_m: u32,
    eta_min: u32,
}

impl StoreIndex {
    pub fn build(stores: Vec<StoreProfile>) -> Self {
        let points = stores
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    s.lat,
                    s.lng,
                    PointInfo {
                        idx: i as u32,
                        category: s.category,
                        radius_m: s.delivery_radius_m,
                        cos_lat: cos_lat(s.lat),
                        prep_min: s.prep_min,
                        detour_factor: s.detour_factor,
                        rider_speed_kmh: s.rider_speed_kmh,
                    },
                )
            })
            .collect();
        let by_id = stores
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i as u32))
            .collect();
        let max_radius_m = stores
            .iter()
            .map(|s| s.delivery_radius_m)
            .max()
            .unwrap_or(0);
        let grid = PointGrid::build(points);
        let radius_by_pos = grid.data().iter().map(|p| p.radius_m).collect();
        let hours_by_pos = grid
            .data()
            .iter()
            .map(|p| stores[p.idx as usize].hours.clone())
            .collect();
        Self {
            grid,
            radius_by_pos,
            hours_by_pos,
            by_id,
            stores,
            max_radius_m,
        }
    }

    pub fn len(&self) -> usize {
        self.stores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&StoreProfile> {
        self.by_id.get(id).map(|&i| &self.stores[i as usize])
    }

    /// Distance, ETA, fee and whether the store delivers to `at`.
    pub fn quote(store: &StoreProfile, at: LatLng) -> DeliveryQuote {
        store.quote(at)
    }

    pub fn summary(store: &StoreProfile, at: LatLng, now: LocalTime) -> StoreSummary {
        let quote = Self::quote(store, at);
        let open_now = store.hours.is_open(now);
        let opens = opening(store, now, open_now);
        StoreSummary {
            id: store.id.clone(),
            name: store.name.clone(),
            category: store.category,
            lat: store.lat,
            lng: store.lng,
            address: store.address.clone(),
            distance_m: quote.distance_m,
            eta_min: quote.eta_min,
            delivers: quote.delivers,
            open_now,
            is_24h: store.hours.is_24h(),
            night: store.hours.serves_night(now.weekday),
            opens_at: opens.map(Opening::describe),
            opens,
            delivery_fee_fen: quote.delivery_fee_fen,
            min_order_fen: store.min_order_fen,
            rating: store.rating,
        }
    }

    /// Every store that delivers to the query point, filtered, sorted, one page after the cursor.
    /// Open stores come first, then closed ones (which take scheduled orders), each run in `q.sort`
    /// order: at night a shopper wants what can come now.
    ///
    /// Dense city centres put thousands of delivering stores around a point, and haversine is the
    /// costly part. So each candidate first gets bounds on its sort key from the cheap planar
    /// distance; the exact distance is computed only for candidates that could still make the page.
    pub fn nearby(&self, q: &NearbyQuery, now: LocalTime) -> NearbyResponse {
        let rough = self.delivering_roughly(q, now);
        let from = HaversineFrom::new(q.at);
        let limit = q.limit as usize;
        let cursor_key = q.cursor.as_ref().map(cursor_key);
        // Candidates that certainly deliver and certainly come after the cursor: the (limit+1)-th
        // smallest upper bound among them caps the keys that can still make this page.
        let mut certain: Vec<Key> = rough
            .iter()
            .filter(|r| r.certainly_delivers() && cursor_key.is_none_or(|k| r.lo > k))
            .map(|r| r.hi)
            .collect();
        let threshold = if certain.len() > limit {
            *certain.select_nth_unstable(limit).1
        } else {
            (u32::MAX, u32::MAX, u32::MAX)
        };
        let mut candidates: Vec<Candidate> = rough
            .iter()
            .filter(|r| r.lo <= threshold)
            .filter_map(|r| r.exact(&self.grid, &from))
            .collect();
        if let Some(cursor) = &q.cursor {
            candidates.retain(|c| self.compare_to_cursor(c, cursor) == Ordering::Greater);
        }
        let has_more = candidates.len() > limit;
        // Only the page needs ordering: select it in O(n), then sort just those.
        if has_more {
            candidates.select_nth_unstable_by(limit, |a, b| self.compare(a, b, q.sort));
            candidates.truncate(limit);
        }
        candidates.sort_unstable_by(|a, b| self.compare(a, b, q.sort));
        let page: Vec<StoreSummary> = candidates
            .iter()
            .map(|c| Self::summary(&self.stores[c.idx as usize], q.at, now))
            .collect();
        let next_cursor = has_more
            .then(|| page.last().map(|s| Cursor::after(s, q.sort).encode()))
            .flatten();
        NearbyResponse {
            stores: page,
            next_cursor,
        }
    }

    /// All delivering stores for `q` (ignoring cursor and limit), in `q.sort` order, as summaries.
    pub fn all_delivering(&self, q: &NearbyQuery, now: LocalTime) -> Vec<StoreSummary> {
        let from = HaversineFrom::new(q.at);
        let mut candidates: Vec<Candidate> = self
            .delivering_roughly(q, now)
            .iter()
            .filter_map(|r| r.exact(&self.grid, &from))
            .collect();
        candidates.sort_unstable_by(|a, b| self.compare(a, b, q.sort));
        candidates
            .iter()
            .map(|c| Self::summary(&self.stores[c.idx as usize], q.at, now))
            .collect()
    }

    /// Stores in range by the planar estimate (a superset of those that deliver), with filters
    /// that need no distance already applied.
    fn delivering_roughly(&self, q: &NearbyQuery, now: LocalTime) -> Vec<Rough> {
        let reach_m = q
            .radius_m
            .map_or(self.max_radius_m, |r| r.min(self.max_radius_m));
        let (dlat, dlng) = degree_box(q.at, f64::from(reach_m));
        let planar = Planar::new(q.at);
        let mut rough = Vec::new();
        self.grid.for_each_near(
            (q.at.lat() - dlat, q.at.lat() + dlat),
            (q.at.lng() - dlng, q.at.lng() + dlng),
            |pos, lat, lng| {
                let limit_m = self.radius_by_pos[pos as usize].min(reach_m);
                let reject_beyond = f64::from(limit_m) * 1.005 + 2.0;
                let planar_m2 = planar.distance_squared_m2(lat, lng);
                if planar_m2 > reject_beyond * reject_beyond {
                    return;
                }
                let (lo_m, hi_m) = distance_bounds(planar_m2.sqrt());
                if lo_m > limit_m {
                    return;
                }
                let (_, _, info) = self.grid.get(pos);
                if q.category.is_some_and(|c| c != info.category) {
                    return;
                }
                let closed = !self.hours_by_pos[pos as usize].is_open(now);
                if q.open_now && closed {
                    return;
                }
                rough.push(Rough {
                    pos,
                    limit_m,
                    lo: info.key(q.sort, closed, lo_m),
                    hi: info.key(q.sort, closed, hi_m),
                });
            },
        );
        rough
    }

    fn id(&self, c: &Candidate) -> &str {
        &self.stores[c.idx as usize].id
    }

    fn compare(&self, a: &Candidate, b: &Candidate, sort: Sort) -> Ordering {
        key(sort, a.closed, a.eta_min, a.distance_m)
            .cmp(&key(sort, b.closed, b.eta_min, b.distance_m))
            .then_with(|| self.id(a).cmp(self.id(b)))
    }

    fn compare_to_cursor(&self, c: &Candidate, cursor: &Cursor) -> Ordering {
        let (Cursor::Eta { id, .. } | Cursor::Distance { id, .. }) = cursor;
        key(sort_of(cursor), c.closed, c.eta_min, c.distance_m)
            .cmp(&cursor_key(cursor))
            .then_with(|| self.id(c).cmp(id))
    }
}

/// Sort key: (closed, ETA, distance) for ETA order, (closed, 0, distance) for distance order;
/// ties go by id.
type Key = (u32, u32, u32);

fn key(sort: Sort, closed: bool, eta_min: u32, distance_m: u32) -> Key {
    let closed = u32::from(closed);
    match sort {
        Sort::Eta => (closed, eta_min, distance_m),
        Sort::Distance => (closed, 0, distance_m),
    }
}

fn sort_of(cursor: &Cursor) -> Sort {
    match cursor {
        Cursor::Eta { .. } => Sort::Eta,
        Cursor::Distance { .. } => Sort::Distance,
    }
}

fn cursor_key(cursor: &Cursor) -> Key {
    match cursor {
        Cursor::Eta {
            closed,
            eta_min,
            distance_m,
            ..
        } => key(Sort::Eta, *closed, *eta_min, *distance_m),
        Cursor::Distance {
            closed, distance_m, ..
        } => key(Sort::Distance, *closed, 0, *distance_m),
    }
}

/// Bounds on the rounded haversine distance given the planar estimate. Within the 20 km a query
/// can reach, the two differ by well under 0.1 %; 0.5 % plus a metre leaves a wide margin.
/// (Truncating casts instead of floor/ceil: this runs for every candidate.)
fn distance_bounds(planar_m: f64) -> (u32, u32) {
    let lo = (planar_m * 0.995 - 1.0).max(0.0) as u32;
    let hi = (planar_m * 1.005 + 2.0) as u32;
    (lo, hi)
}

/// A store that may deliver, known only by bounds on its sort key.
struct Rough {
    /// Position in the grid.
    pos: u32,
    limit_m: u32,
    lo: Key,
    hi: Key,
}

impl Rough {
    fn certainly_delivers(&self) -> bool {
        // The key's last part is the distance in either order.
        self.hi.2 <= self.limit_m
    }
    /// The key's first part: closed stores sort after open ones.
    fn closed(&self) -> bool {
        self.lo.0 == 1
    }
    /// The exact haversine check; `None` if the store does not deliver after all.
    fn exact(&self, grid: &PointGrid<PointInfo>, from: &HaversineFrom) -> Option<Candidate> {
        let (lat, lng, info) = grid.get(self.pos);
        let distance_m = from.distance_m(lat, lng, info.cos_lat).round() as u32;
        (distance_m <= self.limit_m).then(|| Candidate {
            idx: info.idx,
            closed: self.closed(),
            distance_m,
            eta_min: info.eta(distance_m),
        })
    }
}

impl PointInfo {
    fn eta(&self, distance_m: u32) -> u32 {
        eta_for(
            self.prep_min,
            self.detour_factor,
            self.rider_speed_kmh,
            distance_m,
        )
    }
    /// ETA grows with distance, so bounds on the distance bound the whole key.
    fn key(&self, sort: Sort, closed: bool, distance_m: u32) -> Key {
        match sort {
            Sort::Eta => key(sort, closed, self.eta(distance_m), distance_m),
            Sort::Distance => key(sort, closed, 0, distance_m),
        }
    }
}

/// Equirectangular distance around one point: a few multiplications instead of four trig calls.
struct Planar {
    lat: f64,
    lng: f64,
    m_per_deg_lat: f64,
    m_per_deg_lng: f64,
}

impl Planar {
    fn new(at: LatLng) -> Self {
        let m_per_deg_lat = EARTH_RADIUS_M.to_radians();
        Self {
            lat: at.lat(),
            lng: at.lng(),
            m_per_deg_lat,
            m_per_deg_lng: m_per_deg_lat * at.lat().to_radians().cos(),
        }
    }

    fn distance_squared_m2(&self, lat: f64, lng: f64) -> f64 {
        let dy = (lat - self.lat) * self.m_per_deg_lat;
        let dx = (lng - self.lng) * self.m_per_deg_lng;
        dx * dx + dy * dy
    }
}

fn eta_for(prep_min: u32, detour_factor: f64, rider_speed_kmh: f64, distance_m: u32) -> u32 {
    let route = route_distance_m(f64::from(distance_m), detour_factor);
    eta_minutes(prep_min, route, rider_speed_kmh)
}

/// When a closed store next opens (`None` while it is open, or if it never opens).
pub fn opening(store: &StoreProfile, now: LocalTime, open_now: bool) -> Option<Opening> {
    if open_now {
        return None;
    }
    store
        .hours
        .next_opening(now)
        .map(|(ahead, minute)| Opening::new(ahead, minute, now.weekday))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jishi_api::hours::{DayHours, WeeklyHours};
    use jishi_api::money::FeeRules;
    use jishi_api::Category;

    const CENTER: (f64, f64) = (39.9088, 116.4605);
    const NOON_WEDNESDAY: LocalTime = LocalTime {
        weekday: 2,
        minute: 12 * 60,
    };

    /// A store `north_m` metres north of CENTER.
    pub(crate) fn store(id: &str, north_m: f64, radius_m: u32, category: Category) -> StoreProfile {
        StoreProfile {
            id: id.into(),
            name: format!("测试店 {id}"),
            category,
            city: "北京".into(),
            address: "测试路 1 号".into(),
            lat: CENTER.0 + (north_m / jishi_api::geo::EARTH_RADIUS_M).to_degrees(),
            lng: CENTER.1,
            delivery_radius_m: radius_m,
            hours: WeeklyHours::every_day("08:00-22:00".parse().unwrap()),
            prep_min: 10,
            detour_factor: 1.3,
            rider_speed_kmh: 15.0,
            fees: FeeRules {
                base_fen: 400,
                tiers: vec![],
                free_above_fen: None,
            },
            min_order_fen: 0,
            rating: 4.5,
        }
    }

    fn query() -> NearbyQuery {
        NearbyQuery::new(LatLng::new(CENTER.0, CENTER.1).unwrap())
    }

    fn ids(r: &NearbyResponse) -> Vec<&str> {
        r.stores.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn each_store_delivers_only_inside_its_own_radius() {
        let index = StoreIndex::build(vec![
            store("near-small", 2_000.0, 3_000, Category::Fresh),
            store("far-small", 4_000.0, 3_000, Category::Fresh),
            store("far-big", 5_500.0, 6_000, Category::Supermarket),
            store("too-far-big", 6_500.0, 6_000, Category::Supermarket),
        ]);
        let r = index.nearby(&query(), NOON_WEDNESDAY);
        assert_eq!(ids(&r), ["near-small", "far-big"]);
        assert!(r.stores.iter().all(|s| s.delivers));
    }

    #[test]
    fn radius_m_narrows_the_search_further() {
        let index = StoreIndex::build(vec![
            store("a", 1_000.0, 5_000, Category::Fresh),
            store("b", 2_500.0, 5_000, Category::Fresh),
        ]);
        let mut q = query();
        q.radius_m = Some(2_000);
        assert_eq!(ids(&index.nearby(&q, NOON_WEDNESDAY)), ["a"]);
    }

    #[test]
    fn eta_sort_puts_a_fast_kitchen_before_a_near_slow_one() {
        let mut slow = store("slow-near", 500.0, 5_000, Category::FlowersCakes);
        slow.prep_min = 40;
        let fast = store("fast-far", 2_000.0, 5_000, Category::Supermarket);
        let index = StoreIndex::build(vec![slow, fast]);
        let mut q = query();
        assert_eq!(
            ids(&index.nearby(&q, NOON_WEDNESDAY)),
            ["fast-far", "slow-near"]
        );
        q.sort = Sort::Distance;
        assert_eq!(
            ids(&index.nearby(&q, NOON_WEDNESDAY)),
            ["slow-near", "fast-far"]
        );
    }

    #[test]
    fn summaries_carry_distance_eta_and_fee() {
        let index = StoreIndex::build(vec![store("a", 3_000.0, 5_000, Category::Fresh)]);
        let s = &index.nearby(&query(), NOON_WEDNESDAY).stores[0];
        assert!((2_995..=3_005).contains(&s.distance_m), "{}", s.distance_m);
        // 3 km × 1.3 at 15 km/h = 15.6 min + 10 prep + 5 buffer → 31.
        assert_eq!(s.eta_min, 31);
        assert_eq!(s.delivery_fee_fen, 400);
        assert!(s.open_now);
    }

    #[test]
    fn category_and_open_now_filter() {
        let mut night_only = store("night", 1_000.0, 5_000, Category::Liquor);
        night_only.hours = WeeklyHours::every_day("18:00-02:00".parse().unwrap());
        let mut all_day = store("24h", 1_500.0, 5_000, Category::Pharmacy);
        all_day.hours = WeeklyHours::every_day(DayHours::ALL_DAY);
        let index = StoreIndex::build(vec![
            night_only,
            all_day,
            store("fresh", 2_000.0, 5_000, Category::Fresh),
        ]);
        let mut q = query();
        q.category = Some(Category::Liquor);
        let r = index.nearby(&q, NOON_WEDNESDAY);
        assert_eq!(ids(&r), ["night"]);
        assert!(!r.stores[0].open_now);
        assert_eq!(r.stores[0].opens_at.as_deref(), Some("今天 18:00 开门"));
        assert_eq!(r.stores[0].opens, Some(Opening::new(0, 18 * 60, 2)));
        assert!(r.stores[0].night);

        q.category = None;
        q.open_now = true;
        let at_1am_thursday = LocalTime::new(3, 60);
        assert_eq!(ids(&index.nearby(&q, at_1am_thursday)), ["night", "24h"]);
        assert_eq!(ids(&index.nearby(&q, NOON_WEDNESDAY)), ["24h", "fresh"]);
    }

    #[test]
    fn at_night_open_stores_come_first_and_closed_ones_follow_in_the_same_order() {
        // 23:30 on a Wednesday: a near pharmacy has closed, a farther 24-hour store is open.
        let late = LocalTime::new(2, 23 * 60 + 30);
        let mut pharmacy = store("pharmacy", 300.0, 5_000, Category::Pharmacy);
        pharmacy.hours = WeeklyHours::every_day("07:00-22:00".parse().unwrap());
        let mut shop = store("shop", 900.0, 5_000, Category::Supermarket);
        shop.hours = WeeklyHours::every_day("07:00-22:00".parse().unwrap());
        let mut all_day = store("24h", 2_000.0, 5_000, Category::Supermarket);
        all_day.hours = WeeklyHours::every_day(DayHours::ALL_DAY);
        let mut night = store("night", 2_500.0, 5_000, Category::Liquor);
        night.hours = WeeklyHours::every_day("18:00-02:00".parse().unwrap());
        let index = StoreIndex::build(vec![pharmacy, shop, all_day, night]);
        for sort in [Sort::Eta, Sort::Distance] {
            let mut q = query();
            q.sort = sort;
            let all = index.nearby(&q, late);
            assert_eq!(ids(&all), ["24h", "night", "pharmacy", "shop"], "{sort:?}");
            assert!(all.stores[..2].iter().all(|s| s.open_now));
            assert!(all.stores[2..]
                .iter()
                .all(|s| !s.open_now && s.opens.is_some()));
            assert_eq!(index.all_delivering(&q, late), all.stores);
            // One store a page: the cursor crosses from the open run to the closed one.
            q.limit = 1;
            let mut paged = Vec::new();
            loop {
                let r = index.nearby(&q, late);
                paged.extend(r.stores.into_iter().map(|s| s.id));
                match r.next_cursor {
                    Some(c) => q.cursor = Some(Cursor::parse(&c, sort).unwrap()),
                    None => break,
                }
            }
            assert_eq!(paged, ["24h", "night", "pharmacy", "shop"], "{sort:?}");
        }
        // At noon all four but the night bar are open: by ETA, the nearest first.
        let q = query();
        assert_eq!(
            ids(&index.nearby(&q, NOON_WEDNESDAY)),
            ["pharmacy", "shop", "24h", "night"]
        );
    }

    #[test]
    fn pages_cover_every_store_exactly_once_in_order() {
        let stores: Vec<_> = (0..57)
            .map(|i| {
                store(
                    &format!("s{i:03}"),
                    100.0 + f64::from(i % 13) * 250.0,
                    5_000,
                    Category::Home,
                )
            })
            .collect();
        let index = StoreIndex::build(stores);
        for sort in [Sort::Eta, Sort::Distance] {
            let mut q = query();
            q.sort = sort;
            q.limit = 10;
            let all = index.all_delivering(&q, NOON_WEDNESDAY);
            assert_eq!(all.len(), 57);
            let mut seen = Vec::new();
            let mut pages = 0;
            loop {
                let r = index.nearby(&q, NOON_WEDNESDAY);
                pages += 1;
                seen.extend(r.stores.iter().map(|s| s.id.clone()));
                match r.next_cursor {
                    Some(c) => q.cursor = Some(Cursor::parse(&c, sort).unwrap()),
                    None => break,
                }
            }
            assert_eq!(pages, 6);
            let expected: Vec<_> = all.iter().map(|s| s.id.clone()).collect();
            assert_eq!(seen, expected, "{sort:?}");
        }
    }

    #[test]
    fn a_full_last_page_has_no_next_cursor() {
        let index = StoreIndex::build(
            (0..4)
                .map(|i| {
                    store(
                        &format!("s{i}"),
                        100.0 * f64::from(i + 1),
                        5_000,
                        Category::Home,
                    )
                })
                .collect(),
        );
        let mut q = query();
        q.limit = 4;
        assert_eq!(index.nearby(&q, NOON_WEDNESDAY).next_cursor, None);
        q.limit = 3;
        assert!(index.nearby(&q, NOON_WEDNESDAY).next_cursor.is_some());
    }

    #[test]
    fn the_index_agrees_with_a_brute_force_scan_of_every_store() {
        let stores = crate::demo::beijing(7).stores;
        let index = StoreIndex::build(stores.clone());
        for (lat, lng) in [
            (39.9088, 116.4605),
            (39.9968, 116.4706),
            (40.05, 116.30),
            (39.80, 116.50),
            (39.95, 116.35),
        ] {
            let at = LatLng::new(lat, lng).unwrap();
            let mut q = NearbyQuery::new(at);
            q.sort = Sort::Distance;
            let from_index: Vec<String> = index
                .all_delivering(&q, NOON_WEDNESDAY)
                .into_iter()
                .map(|s| s.id)
                .collect();
            // Open stores first, then closed ones, each by distance.
            let mut brute: Vec<(bool, u32, String)> = stores
                .iter()
                .map(|s| (s.quote(at).distance_m, s.id.clone(), s.delivery_radius_m, s))
                .filter(|(d, _, r, _)| d <= r)
                .map(|(d, id, _, s)| (!s.hours.is_open(NOON_WEDNESDAY), d, id))
                .collect();
            brute.sort();
            let brute: Vec<String> = brute.into_iter().map(|(_, _, id)| id).collect();
            assert!(!brute.is_empty());
            assert_eq!(from_index, brute, "at {lat},{lng}");
        }
    }

    #[test]
    fn paging_a_dense_city_matches_the_full_sorted_list() {
        let index = StoreIndex::build(crate::demo::beijing(3).stores);
        for (lat, lng) in [
            (39.9088, 116.4605),
            (39.9968, 116.4706),
            (39.9834, 116.3162),
        ] {
            for sort in [Sort::Eta, Sort::Distance] {
                let mut q = NearbyQuery::new(LatLng::new(lat, lng).unwrap());
                q.sort = sort;
                q.limit = 7;
                let all: Vec<String> = index
                    .all_delivering(&q, NOON_WEDNESDAY)
                    .into_iter()
                    .map(|s| s.id)
                    .collect();
                let mut paged = Vec::new();
                loop {
                    let r = index.nearby(&q, NOON_WEDNESDAY);
                    paged.extend(r.stores.into_iter().map(|s| s.id));
                    match r.next_cursor {
                        Some(c) => q.cursor = Some(Cursor::parse(&c, sort).unwrap()),
                        None => break,
                    }
                }
                assert!(all.len() > 14, "{lat},{lng}");
                assert_eq!(paged, all, "{lat},{lng} {sort:?}");
            }
        }
    }

    #[test]
    fn distance_bounds_contain_the_exact_distance() {
        let origin = LatLng::new(39.9088, 116.4605).unwrap();
        let planar = Planar::new(origin);
        for i in 0..400 {
            let angle = f64::from(i) * 0.7;
            let r = f64::from(i % 40) * 500.0;
            let lat = 39.9088 + (r * angle.sin() / EARTH_RADIUS_M).to_degrees();
            let lng = 116.4605
                + (r * angle.cos() / EARTH_RADIUS_M).to_degrees() / 39.9088f64.to_radians().cos();
            let exact =
                jishi_api::geo::haversine_m(origin, LatLng::new(lat, lng).unwrap()).round() as u32;
            let (lo, hi) = distance_bounds(planar.distance_squared_m2(lat, lng).sqrt());
            assert!(lo <= exact && exact <= hi, "{lo} <= {exact} <= {hi}");
        }
    }

    #[test]
    fn an_empty_index_answers_with_nothing() {
        let index = StoreIndex::build(vec![]);
        let r = index.nearby(&query(), NOON_WEDNESDAY);
        assert!(r.stores.is_empty());
        assert_eq!(r.next_cursor, None);
    }
}
