//! Geo maths on WGS-84: great-circle distance, route distance, ETA, and the WGS-84 ⇄ GCJ-02 shift
//! that Chinese tile sources (AMap, Tencent) need.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Mean Earth radius used by the haversine formula, in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// A rider's route is longer than the straight line; stores may override this.
pub const DEFAULT_DETOUR_FACTOR: f64 = 1.3;
/// E-bike rider speed in km/h unless a store sets its own.
pub const DEFAULT_RIDER_SPEED_KMH: f64 = 15.0;
/// Minutes between "order ready" and a rider setting off: assignment and walking to the counter.
pub const DISPATCH_BUFFER_MIN: f64 = 5.0;
/// A store whose ETA is at most this many minutes is 小时达.
pub const HOUR_DELIVERY_MAX_MIN: u32 = 60;

/// A validated WGS-84 point. Fields are private so an out-of-range point cannot exist.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawLatLng", into = "RawLatLng")]
pub struct LatLng {
    lat: f64,
    lng: f64,
}

#[derive(Serialize, Deserialize)]
struct RawLatLng {
    lat: f64,
    lng: f64,
}

impl TryFrom<RawLatLng> for LatLng {
    type Error = ApiError;
    fn try_from(raw: RawLatLng) -> Result<Self, Self::Error> {
        LatLng::new(raw.lat, raw.lng)
    }
}

impl From<LatLng> for RawLatLng {
    fn from(p: LatLng) -> Self {
        RawLatLng {
            lat: p.lat,
            lng: p.lng,
        }
    }
}

impl LatLng {
    pub fn new(lat: f64, lng: f64) -> Result<Self, ApiError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(ApiError::bad_request(format!(
                "纬度 lat 必须在 -90 到 90 之间（收到 {lat}）"
            )));
        }
        if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
            return Err(ApiError::bad_request(format!(
                "经度 lng 必须在 -180 到 180 之间（收到 {lng}）"
            )));
        }
        Ok(Self { lat, lng })
    }

    /// Parses the `lat`/`lng` query parameters, naming the bad one in the message.
    pub fn parse(lat: Option<&str>, lng: Option<&str>) -> Result<Self, ApiError> {
        let lat = parse_coordinate("lat", "纬度", lat)?;
        let lng = parse_coordinate("lng", "经度", lng)?;
        Self::new(lat, lng)
    }

    /// For constants of this crate that a test has checked.
    pub(crate) const fn from_trusted(lat: f64, lng: f64) -> Self {
        Self { lat, lng }
    }

    pub fn lat(self) -> f64 {
        self.lat
    }
    pub fn lng(self) -> f64 {
        self.lng
    }
}

fn parse_coordinate(name: &str, label: &str, value: Option<&str>) -> Result<f64, ApiError> {
    let value = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("缺少{label} {name}")))?;
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            ApiError::bad_request(format!("{label} {name} 不是数字（收到 \"{value}\"）"))
        })
}

/// Great-circle distance in metres (haversine).
pub fn haversine_m(a: LatLng, b: LatLng) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    haversine_core(lat1, lat1.cos(), lat2, lat2.cos(), b.lng - a.lng)
}

/// Haversine from one fixed point to many: the origin's trigonometry is done once and each
/// target brings its own precomputed `cos(lat)`. Same formula and operations as [`haversine_m`],
/// so the results are identical to the last bit.
#[derive(Debug, Clone, Copy)]
pub struct HaversineFrom {
    lat_rad: f64,
    cos_lat: f64,
    lng: f64,
}

impl HaversineFrom {
    pub fn new(origin: LatLng) -> Self {
        let lat_rad = origin.lat.to_radians();
        Self {
            lat_rad,
            cos_lat: lat_rad.cos(),
            lng: origin.lng,
        }
    }

    /// `cos_lat` must be `lat.to_radians().cos()` (see [`cos_lat`]).
    pub fn distance_m(&self, lat: f64, lng: f64, cos_lat: f64) -> f64 {
        haversine_core(
            self.lat_rad,
            self.cos_lat,
            lat.to_radians(),
            cos_lat,
            lng - self.lng,
        )
    }
}

/// The precomputable part of a point for [`HaversineFrom::distance_m`].
pub fn cos_lat(lat: f64) -> f64 {
    lat.to_radians().cos()
}

fn haversine_core(lat1: f64, cos1: f64, lat2: f64, cos2: f64, dlng_deg: f64) -> f64 {
    let dlat = lat2 - lat1;
    let dlng = dlng_deg.to_radians();
    let h = (dlat / 2.0).sin().powi(2) + cos1 * cos2 * (dlng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The distance a rider rides for a straight-line distance.
pub fn route_distance_m(straight_m: f64, detour_factor: f64) -> f64 {
    straight_m * detour_factor
}

/// ETA in whole minutes: preparation + riding + dispatch buffer, rounded up.
pub fn eta_minutes(prep_min: u32, route_m: f64, rider_speed_kmh: f64) -> u32 {
    let ride_min = route_m / 1000.0 / rider_speed_kmh * 60.0;
    ceil_u32(f64::from(prep_min) + ride_min + DISPATCH_BUFFER_MIN)
}

/// `x.ceil() as u32` for 0 ≤ x < 2³², as plain arithmetic: without SSE4.1, `f64::ceil` is a libm
/// call, and the nearby index calls this for thousands of stores per query.
pub fn ceil_u32(x: f64) -> u32 {
    let t = x as u32;
    if f64::from(t) < x {
        t + 1
    } else {
        t
    }
}

/// Half-widths in degrees of a box that contains every point within `radius_m` of `center`.
/// Used to query a spatial index before the exact haversine check.
pub fn degree_box(center: LatLng, radius_m: f64) -> (f64, f64) {
    let dlat = (radius_m / EARTH_RADIUS_M).to_degrees();
    // Near the poles the box degenerates; clamping cos keeps it finite (no stores there anyway).
    let dlng = dlat / center.lat.to_radians().cos().max(0.01);
    (dlat * 1.001, dlng.min(180.0) * 1.001)
}

// GCJ-02 ("Mars coordinates"): the obfuscated datum mandated for maps published in mainland China.
// Constants and formulas are the widely published ones (Krasovsky 1940 ellipsoid).
const GCJ_A: f64 = 6_378_245.0;
const GCJ_EE: f64 = 0.006_693_421_622_965_943;

fn outside_china(lat: f64, lng: f64) -> bool {
    !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat)
}

fn gcj_delta(lat: f64, lng: f64) -> (f64, f64) {
    let x = lng - 105.0;
    let y = lat - 35.0;
    let pi = std::f64::consts::PI;
    let mut dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    dlat += (20.0 * (6.0 * x * pi).sin() + 20.0 * (2.0 * x * pi).sin()) * 2.0 / 3.0;
    dlat += (20.0 * (y * pi).sin() + 40.0 * (y / 3.0 * pi).sin()) * 2.0 / 3.0;
    dlat += (160.0 * (y / 12.0 * pi).sin() + 320.0 * (y * pi / 30.0).sin()) * 2.0 / 3.0;
    let mut dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    dlng += (20.0 * (6.0 * x * pi).sin() + 20.0 * (2.0 * x * pi).sin()) * 2.0 / 3.0;
    dlng += (20.0 * (x * pi).sin() + 40.0 * (x / 3.0 * pi).sin()) * 2.0 / 3.0;
    dlng += (150.0 * (x / 12.0 * pi).sin() + 300.0 * (x / 30.0 * pi).sin()) * 2.0 / 3.0;
    let rad_lat = lat.to_radians();
    let magic = 1.0 - GCJ_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrt_magic) * pi);
    let dlng = (dlng * 180.0) / (GCJ_A / sqrt_magic * rad_lat.cos() * pi);
    (dlat, dlng)
}

/// WGS-84 → GCJ-02. Points outside China are returned unchanged, as the standard says.
pub fn wgs84_to_gcj02(p: LatLng) -> LatLng {
    if outside_china(p.lat, p.lng) {
        return p;
    }
    let (dlat, dlng) = gcj_delta(p.lat, p.lng);
    LatLng {
        lat: (p.lat + dlat).clamp(-90.0, 90.0),
        lng: (p.lng + dlng).clamp(-180.0, 180.0),
    }
}

/// GCJ-02 → WGS-84 by fixed-point iteration (error well under a metre after a few rounds).
pub fn gcj02_to_wgs84(p: LatLng) -> LatLng {
    if outside_china(p.lat, p.lng) {
        return p;
    }
    let mut guess = p;
    for _ in 0..6 {
        let shifted = wgs84_to_gcj02(guess);
        guess = LatLng {
            lat: (guess.lat - (shifted.lat - p.lat)).clamp(-90.0, 90.0),
            lng: (guess.lng - (shifted.lng - p.lng)).clamp(-180.0, 180.0),
        };
    }
    guess
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    #[test]
    fn a_latitude_above_90_is_rejected() {
        let err = LatLng::new(91.0, 116.0).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert!(err.message.contains("lat"));
    }

    #[test]
    fn a_longitude_that_is_not_a_number_is_rejected_by_name() {
        let err = LatLng::parse(Some("39.9"), Some("abc")).unwrap_err();
        assert!(err.message.contains("lng"), "{}", err.message);
        assert!(err.message.contains("abc"));
    }

    #[test]
    fn missing_and_non_finite_coordinates_are_rejected() {
        assert!(LatLng::parse(None, Some("116.4")).is_err());
        assert!(LatLng::parse(Some(""), Some("116.4")).is_err());
        assert!(LatLng::parse(Some("NaN"), Some("116.4")).is_err());
        assert!(LatLng::parse(Some("inf"), Some("116.4")).is_err());
        assert!(LatLng::new(0.0, 180.5).is_err());
    }

    #[test]
    fn deserialising_a_bad_point_fails() {
        assert!(serde_json::from_str::<LatLng>(r#"{"lat":95,"lng":1}"#).is_err());
        let ok: LatLng = serde_json::from_str(r#"{"lat":39.9,"lng":116.4}"#).unwrap();
        assert_eq!(ok.lat(), 39.9);
    }

    #[test]
    fn haversine_matches_known_distances() {
        // Tiananmen to the Bird's Nest: about 9.4 km due north.
        let d = haversine_m(p(39.9087, 116.3975), p(39.9929, 116.3965));
        assert!((d - 9_362.0).abs() < 50.0, "{d}");
        // One degree of latitude is about 111.2 km anywhere.
        let d = haversine_m(p(0.0, 0.0), p(1.0, 0.0));
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
        // Beijing to Shanghai: about 1,067 km.
        let d = haversine_m(p(39.9042, 116.4074), p(31.2304, 121.4737));
        assert!((d - 1_067_000.0).abs() < 3_000.0, "{d}");
    }

    #[test]
    fn haversine_is_zero_for_the_same_point_and_symmetric() {
        let a = p(39.9, 116.4);
        let b = p(39.95, 116.45);
        assert_eq!(haversine_m(a, a), 0.0);
        assert!((haversine_m(a, b) - haversine_m(b, a)).abs() < 1e-9);
    }

    #[test]
    fn haversine_from_a_fixed_origin_is_bit_identical_to_the_plain_formula() {
        let origin = p(39.9088, 116.4605);
        let from = HaversineFrom::new(origin);
        for (lat, lng) in [
            (39.95, 116.41),
            (39.9088, 116.4605),
            (40.2, 116.9),
            (-33.9, 151.2),
        ] {
            let plain = haversine_m(origin, p(lat, lng));
            assert_eq!(
                from.distance_m(lat, lng, cos_lat(lat)).to_bits(),
                plain.to_bits()
            );
        }
    }

    #[test]
    fn eta_adds_preparation_ride_and_buffer_rounded_up() {
        // 3 km straight × 1.3 = 3.9 km at 15 km/h = 15.6 min; + 10 prep + 5 buffer = 30.6 → 31.
        let route = route_distance_m(3_000.0, DEFAULT_DETOUR_FACTOR);
        assert_eq!(eta_minutes(10, route, DEFAULT_RIDER_SPEED_KMH), 31);
        // No distance: prep + buffer exactly.
        assert_eq!(eta_minutes(10, 0.0, DEFAULT_RIDER_SPEED_KMH), 15);
    }

    #[test]
    fn ceil_u32_matches_ceil() {
        for x in [0.0, 0.1, 0.999, 1.0, 1.0000001, 30.6, 59.0, 59.5, 1e6 + 0.5] {
            assert_eq!(ceil_u32(x), x.ceil() as u32, "{x}");
        }
    }

    #[test]
    fn the_degree_box_contains_the_circle() {
        let c = p(39.9, 116.4);
        let (dlat, dlng) = degree_box(c, 5_000.0);
        // Points exactly 5 km north and east lie inside the box.
        assert!(haversine_m(c, p(39.9 + dlat, 116.4)) >= 5_000.0);
        assert!(haversine_m(c, p(39.9, 116.4 + dlng)) >= 5_000.0);
    }

    #[test]
    fn gcj02_shifts_beijing_by_a_few_hundred_metres_and_round_trips() {
        let wgs = p(39.9087, 116.3975);
        let gcj = wgs84_to_gcj02(wgs);
        let shift = haversine_m(wgs, gcj);
        assert!((100.0..800.0).contains(&shift), "{shift}");
        let back = gcj02_to_wgs84(gcj);
        assert!(haversine_m(wgs, back) < 0.5);
    }

    #[test]
    fn gcj02_leaves_points_outside_china_alone() {
        let paris = p(48.8566, 2.3522);
        assert_eq!(wgs84_to_gcj02(paris), paris);
    }
}
