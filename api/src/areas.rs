//! Named areas shoppers can pick when the browser will not tell us where they are.

use crate::geo::{haversine_m, LatLng};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub slug: &'static str,
    pub name: &'static str,
    /// The name in English pages (pinyin, as Beijing's own signs write it).
    pub name_en: &'static str,
    pub city: &'static str,
    pub city_en: &'static str,
    pub lat: f64,
    pub lng: f64,
}

impl Area {
    pub fn point(&self) -> LatLng {
        // The table below is a constant checked by a test: every entry is a valid point.
        LatLng::from_trusted(self.lat, self.lng)
    }
}

/// Beijing's districts and busiest neighbourhoods, WGS-84.
pub const BEIJING_AREAS: &[Area] = &[
    Area {
        slug: "guomao",
        name: "国贸",
        name_en: "Guomao",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9088,
        lng: 116.4605,
    },
    Area {
        slug: "wangjing",
        name: "望京",
        name_en: "Wangjing",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9968,
        lng: 116.4706,
    },
    Area {
        slug: "zhongguancun",
        name: "中关村",
        name_en: "Zhongguancun",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9834,
        lng: 116.3162,
    },
    Area {
        slug: "sanlitun",
        name: "三里屯",
        name_en: "Sanlitun",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9334,
        lng: 116.4551,
    },
    Area {
        slug: "xierqi",
        name: "西二旗",
        name_en: "Xi'erqi",
        city: "北京",
        city_en: "Beijing",
        lat: 40.0530,
        lng: 116.3010,
    },
    Area {
        slug: "yizhuang",
        name: "亦庄",
        name_en: "Yizhuang",
        city: "北京",
        city_en: "Beijing",
        lat: 39.7950,
        lng: 116.5060,
    },
    Area {
        slug: "dongcheng",
        name: "东城区",
        name_en: "Dongcheng",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9288,
        lng: 116.4160,
    },
    Area {
        slug: "xicheng",
        name: "西城区",
        name_en: "Xicheng",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9123,
        lng: 116.3660,
    },
    Area {
        slug: "chaoyang",
        name: "朝阳区",
        name_en: "Chaoyang",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9215,
        lng: 116.4435,
    },
    Area {
        slug: "haidian",
        name: "海淀区",
        name_en: "Haidian",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9593,
        lng: 116.2981,
    },
    Area {
        slug: "fengtai",
        name: "丰台区",
        name_en: "Fengtai",
        city: "北京",
        city_en: "Beijing",
        lat: 39.8585,
        lng: 116.2868,
    },
    Area {
        slug: "shijingshan",
        name: "石景山区",
        name_en: "Shijingshan",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9066,
        lng: 116.2229,
    },
    Area {
        slug: "tongzhou",
        name: "通州区",
        name_en: "Tongzhou",
        city: "北京",
        city_en: "Beijing",
        lat: 39.9025,
        lng: 116.6569,
    },
    Area {
        slug: "shunyi",
        name: "顺义区",
        name_en: "Shunyi",
        city: "北京",
        city_en: "Beijing",
        lat: 40.1300,
        lng: 116.6545,
    },
    Area {
        slug: "daxing",
        name: "大兴区",
        name_en: "Daxing",
        city: "北京",
        city_en: "Beijing",
        lat: 39.7268,
        lng: 116.3414,
    },
    Area {
        slug: "changping",
        name: "昌平区",
        name_en: "Changping",
        city: "北京",
        city_en: "Beijing",
        lat: 40.2207,
        lng: 116.2312,
    },
];

/// The named area nearest to `p`, with its distance in metres.
pub fn nearest_area(p: LatLng) -> (&'static Area, f64) {
    BEIJING_AREAS
        .iter()
        .map(|a| (a, haversine_m(a.point(), p)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((&BEIJING_AREAS[0], f64::INFINITY))
}

/// The named area within 3 km of `p`, if any: close enough to name the point by it.
pub fn named_area_near(p: LatLng) -> Option<&'static Area> {
    let (area, d) = nearest_area(p);
    (d <= 3_000.0).then_some(area)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_area_is_a_valid_point_with_a_unique_slug() {
        for a in BEIJING_AREAS {
            assert!(LatLng::new(a.lat, a.lng).is_ok(), "{}", a.slug);
            assert_eq!(BEIJING_AREAS.iter().filter(|b| b.slug == a.slug).count(), 1);
        }
    }

    #[test]
    fn a_point_near_guomao_is_named_by_it() {
        let p = LatLng::new(39.9100, 116.4620).unwrap();
        assert_eq!(named_area_near(p).map(|a| a.slug), Some("guomao"));
        let far = LatLng::new(31.23, 121.47).unwrap();
        assert_eq!(named_area_near(far), None);
    }
}
