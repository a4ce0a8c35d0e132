//! The in-memory store index: an R-tree of store locations answering "which stores deliver here".
//!
//! Each store has its own delivery radius, so the tree is queried with a box as large as the
//! biggest radius and every candidate is then checked exactly (haversine ≤ that store's radius).

use std::cmp::Ordering;
use std::collections::HashMap;

use jishi_api::geo::{
    degree_box, eta_minutes, haversine_m, route_distance_m, LatLng, EARTH_RADIUS_M,
};
use jishi_api::hours::{describe_opening, LocalTime};
use jishi_api::stores::{
    Cursor, DeliveryQuote, NearbyQuery, NearbyResponse, Sort, StoreProfile, StoreSummary,
};
use jishi_api::Category;
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};

/// What the hot loop needs about a store, kept inside the tree so that rejecting a candidate
/// never touches the (large, scattered) `StoreProfile`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PointInfo {
    idx: u32,
    category: Category,
    radius_m: u32,
    prep_min: u32,
    detour_factor: f64,
    rider_speed_kmh: f64,
}

type IndexedPoint = GeomWithData<[f64; 2], PointInfo>;

pub struct StoreIndex {
    stores: Vec<StoreProfile>,
    by_id: HashMap<String, u32>,
    tree: RTree<IndexedPoint>,
    max_radius_m: u32,
}

/// A store that delivers to the query point, with its sort key.
struct Candidate {
    idx: u32,
    distance_m: u32,
    eta_min: u32,
}

impl StoreIndex {
    pub fn build(stores: Vec<StoreProfile>) -> Self {
        let points = stores
            .iter()
            .enumerate()
            .map(|(i, s)| {
                GeomWithData::new(
                    [s.lat, s.lng],
                    PointInfo {
                        idx: i as u32,
                        category: s.category,
                        radius_m: s.delivery_radius_m,
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
        Self {
            tree: RTree::bulk_load(points),
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
        let distance_m = distance_to(store, at);
        DeliveryQuote {
            distance_m,
            eta_min: eta_for(
                store.prep_min,
                store.detour_factor,
                store.rider_speed_kmh,
                distance_m,
            ),
            delivers: distance_m <= store.delivery_radius_m,
            delivery_fee_fen: store.fees.fee_fen(distance_m, 0),
        }
    }

    pub fn summary(store: &StoreProfile, at: LatLng, now: LocalTime) -> StoreSummary {
        let quote = Self::quote(store, at);
        let open_now = store.hours.is_open(now);
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
            opens_at: opens_at(store, now, open_now),
            delivery_fee_fen: quote.delivery_fee_fen,
            min_order_fen: store.min_order_fen,
            rating: store.rating,
        }
    }

    /// Every store that delivers to the query point, filtered, sorted, one page after the cursor.
    pub fn nearby(&self, q: &NearbyQuery, now: LocalTime) -> NearbyResponse {
        let mut candidates = self.delivering(q, now);
        if let Some(cursor) = &q.cursor {
            candidates.retain(|c| self.compare_to_cursor(c, cursor) == Ordering::Greater);
        }
        let limit = q.limit as usize;
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
        let mut candidates = self.delivering(q, now);
        candidates.sort_unstable_by(|a, b| self.compare(a, b, q.sort));
        candidates
            .iter()
            .map(|c| Self::summary(&self.stores[c.idx as usize], q.at, now))
            .collect()
    }

    fn delivering(&self, q: &NearbyQuery, now: LocalTime) -> Vec<Candidate> {
        let reach_m = q
            .radius_m
            .map_or(self.max_radius_m, |r| r.min(self.max_radius_m));
        let (dlat, dlng) = degree_box(q.at, f64::from(reach_m));
        let envelope = AABB::from_corners(
            [q.at.lat() - dlat, q.at.lng() - dlng],
            [q.at.lat() + dlat, q.at.lng() + dlng],
        );
        let planar = Planar::new(q.at);
        self.tree
            .locate_in_envelope(&envelope)
            .filter_map(|point| {
                let info = &point.data;
                if q.category.is_some_and(|c| c != info.category) {
                    return None;
                }
                let limit_m = f64::from(info.radius_m.min(reach_m));
                let [lat, lng] = *point.geom();
                // The planar estimate is within 0.5 % of haversine at these distances, so it can
                // reject safely; only stores near or inside the edge pay for the exact formula.
                if planar.distance_m(lat, lng) > limit_m * 1.005 + 1.0 {
                    return None;
                }
                let here = LatLng::new(lat, lng).ok()?;
                let distance_m = haversine_m(here, q.at).round() as u32;
                if f64::from(distance_m) > limit_m {
                    return None;
                }
                if q.open_now && !self.stores[info.idx as usize].hours.is_open(now) {
                    return None;
                }
                Some(Candidate {
                    idx: info.idx,
                    distance_m,
                    eta_min: eta_for(
                        info.prep_min,
                        info.detour_factor,
                        info.rider_speed_kmh,
                        distance_m,
                    ),
                })
            })
            .collect()
    }

    fn id(&self, c: &Candidate) -> &str {
        &self.stores[c.idx as usize].id
    }

    fn compare(&self, a: &Candidate, b: &Candidate, sort: Sort) -> Ordering {
        let numbers = match sort {
            Sort::Eta => (a.eta_min, a.distance_m).cmp(&(b.eta_min, b.distance_m)),
            Sort::Distance => a.distance_m.cmp(&b.distance_m),
        };
        numbers.then_with(|| self.id(a).cmp(self.id(b)))
    }

    fn compare_to_cursor(&self, c: &Candidate, cursor: &Cursor) -> Ordering {
        match cursor {
            Cursor::Eta {
                eta_min,
                distance_m,
                id,
            } => (c.eta_min, c.distance_m)
                .cmp(&(*eta_min, *distance_m))
                .then_with(|| self.id(c).cmp(id)),
            Cursor::Distance { distance_m, id } => c
                .distance_m
                .cmp(distance_m)
                .then_with(|| self.id(c).cmp(id)),
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

    fn distance_m(&self, lat: f64, lng: f64) -> f64 {
        let dy = (lat - self.lat) * self.m_per_deg_lat;
        let dx = (lng - self.lng) * self.m_per_deg_lng;
        (dx * dx + dy * dy).sqrt()
    }
}

fn distance_to(store: &StoreProfile, at: LatLng) -> u32 {
    // Store coordinates were validated on the way into the database.
    let here = LatLng::new(store.lat, store.lng).unwrap_or(at);
    haversine_m(here, at).round() as u32
}

fn eta_for(prep_min: u32, detour_factor: f64, rider_speed_kmh: f64, distance_m: u32) -> u32 {
    let route = route_distance_m(f64::from(distance_m), detour_factor);
    eta_minutes(prep_min, route, rider_speed_kmh)
}

pub fn opens_at(store: &StoreProfile, now: LocalTime, open_now: bool) -> Option<String> {
    if open_now {
        return None;
    }
    store
        .hours
        .next_opening(now)
        .map(|(ahead, minute)| describe_opening(ahead, minute, now.weekday))
}

#[cfg(test)]
mod tests {
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
    fn store(id: &str, north_m: f64, radius_m: u32, category: Category) -> StoreProfile {
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
        assert!(r.stores[0].night);

        q.category = None;
        q.open_now = true;
        let at_1am_thursday = LocalTime::new(3, 60);
        assert_eq!(ids(&index.nearby(&q, at_1am_thursday)), ["night", "24h"]);
        assert_eq!(ids(&index.nearby(&q, NOON_WEDNESDAY)), ["24h", "fresh"]);
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
            let mut brute: Vec<(u32, String)> = stores
                .iter()
                .map(|s| (distance_to(s, at), s.id.clone(), s.delivery_radius_m))
                .filter(|(d, _, r)| d <= r)
                .map(|(d, id, _)| (d, id))
                .collect();
            brute.sort();
            let brute: Vec<String> = brute.into_iter().map(|(_, id)| id).collect();
            assert!(!brute.is_empty());
            assert_eq!(from_index, brute, "at {lat},{lng}");
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
