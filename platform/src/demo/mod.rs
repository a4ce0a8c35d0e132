//! Demo data: a Beijing city (stores, catalogue, per-store listings) and a scaled, stores-only set
//! spread over many Chinese cities.
//!
//! Everything is drawn from a ChaCha8 generator seeded by the caller, so tests, screenshots and
//! benchmarks see exactly the same data on every run and machine. `beijing` feeds the embedded
//! platform and the UI; `scaled_stores` builds the 400,000-store set for the geo-index benchmark
//! (stores only, no listings, so it stays fast).
//!
//! The product catalogue is data: `demo/catalogue.tsv`, read by `catalogue.rs`. Areas, brands and
//! hours stay code because the generator's draws are interleaved with them.

use std::collections::HashSet;

use jishi_api::hours::{DayHours, WeeklyHours};
use jishi_api::money::{FeeRules, FeeTier};
use jishi_api::stores::StoreProfile;
use jishi_api::Category;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod catalogue;

use catalogue::catalogue;
pub use catalogue::{parse_catalogue, CatalogProduct, CatalogueError};

/// One store's listing of one SKU.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub store_id: String,
    pub sku: String,
    pub price_fen: i64,
    pub stock: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemoData {
    pub products: Vec<CatalogProduct>,
    pub stores: Vec<StoreProfile>,
    /// Grouped by store (in `stores` order), each store's listings sorted by SKU.
    pub listings: Vec<Listing>,
}

/// 国贸 (lat, lng): at least 15 Beijing demo stores in at least 6 categories deliver here.
pub const GUOMAO: (f64, f64) = (39.9088, 116.4605);
/// 望京 (lat, lng): at least 15 Beijing demo stores in at least 6 categories deliver here.
pub const WANGJING: (f64, f64) = (39.9968, 116.4706);

// ---------------------------------------------------------------------------------------------
// Beijing
// ---------------------------------------------------------------------------------------------

struct Area {
    name: &'static str,
    district: &'static str,
    lat: f64,
    lng: f64,
    /// Relative share of the randomly placed stores.
    weight: u32,
    /// Real streets of the area: addresses, and the second-level place that keeps branch names unique.
    streets: [&'static str; 6],
}

#[rustfmt::skip]
const AREAS: [Area; 16] = [
    area("东城", "东城区", 39.9288, 116.4160, 7,
        ["王府井大街", "东四北大街", "南锣鼓巷", "东直门内大街", "崇文门外大街", "和平里北街"]),
    area("西城", "西城区", 39.9123, 116.3660, 7,
        ["西单北大街", "金融大街", "新街口外大街", "德胜门外大街", "广安门内大街", "月坛南街"]),
    area("朝阳", "朝阳区", 39.9215, 116.4435, 12,
        ["朝阳北路", "团结湖路", "劲松路", "双井街", "朝阳门外大街", "呼家楼街"]),
    area("海淀", "海淀区", 39.9593, 116.2981, 10,
        ["海淀大街", "苏州街", "学院路", "万寿路", "紫竹院路", "魏公村街"]),
    area("丰台", "丰台区", 39.8585, 116.2868, 6,
        ["丰台北路", "科学城路", "南苑路", "方庄路", "草桥东路", "马家堡东路"]),
    area("石景山", "石景山区", 39.9066, 116.2229, 3,
        ["石景山路", "鲁谷路", "古城大街", "八角北路", "苹果园路", "杨庄路"]),
    area("通州", "通州区", 39.9025, 116.6569, 5,
        ["新华大街", "九棵树东路", "梨园路", "运河西大街", "玉桥中路", "通胡大街"]),
    area("顺义", "顺义区", 40.1300, 116.6545, 3,
        ["府前街", "新顺南大街", "裕龙街", "后沙峪路", "石园北街", "光明南街"]),
    area("大兴", "大兴区", 39.7268, 116.3414, 4,
        ["兴丰大街", "黄村西大街", "金星路", "清源路", "兴华大街", "林校路"]),
    area("昌平", "昌平区", 40.2207, 116.2312, 5,
        ["府学路", "回龙观西大街", "天通苑北街", "北清路", "鼓楼南街", "龙锦三街"]),
    area("望京", "朝阳区", WANGJING.0, WANGJING.1, 8,
        ["望京街", "阜通东大街", "广顺北大街", "利泽中街", "花家地街", "望京西路"]),
    area("中关村", "海淀区", 39.9834, 116.3162, 8,
        ["中关村大街", "海淀南路", "知春路", "北四环西路", "科学院南路", "双榆树北路"]),
    area("国贸", "朝阳区", GUOMAO.0, GUOMAO.1, 8,
        ["建国门外大街", "东三环中路", "光华路", "景华南街", "金桐西路", "大望路"]),
    area("西二旗", "海淀区", 40.0530, 116.3010, 5,
        ["西二旗大街", "上地十街", "上地信息路", "后厂村路", "软件园东路", "安宁庄路"]),
    area("三里屯", "朝阳区", 39.9334, 116.4551, 5,
        ["三里屯路", "工人体育场北路", "幸福三村", "新东路", "东直门外大街", "南三里屯路"]),
    area("亦庄", "大兴区", 39.7950, 116.5060, 4,
        ["荣华中路", "天华街", "地盛北街", "文化园西路", "科创十三街", "经海路"]),
];

const fn area(
    name: &'static str,
    district: &'static str,
    lat: f64,
    lng: f64,
    weight: u32,
    streets: [&'static str; 6],
) -> Area {
    Area {
        name,
        district,
        lat,
        lng,
        weight,
        streets,
    }
}

const GUOMAO_AREA: usize = 12;
const WANGJING_AREA: usize = 10;
/// Stores per category placed right around 国贸 and again around 望京, so both demo points are
/// always well served whatever the seed.
const CLUSTER_PER_CATEGORY: usize = 2;
/// Cluster stores sit this close to the point; every delivery radius is at least 3 km.
const CLUSTER_RADIUS_M: f64 = 1_500.0;
const AREA_RADIUS_M: f64 = 4_000.0;

/// An invented brand (no real chain's trademark). `big`: a hypermarket-style store (a supermarket that is not a convenience
/// store, an appliance store) with a larger delivery radius.
struct Brand {
    name: &'static str,
    big: bool,
}

#[rustfmt::skip]
fn brands(c: Category) -> &'static [Brand] {
    match c {
        Category::Supermarket => &[
            Brand { name: "邻里优选便利店", big: false },
            Brand { name: "随手购便利店", big: false },
            Brand { name: "星月便利店", big: false },
            Brand { name: "家和超市", big: true },
            Brand { name: "惠民生活超市", big: true },
            Brand { name: "丰润购物广场", big: true },
        ],
        Category::Fresh => &[
            Brand { name: "鲜果时光", big: false },
            Brand { name: "田园鲜生", big: false },
            Brand { name: "一亩鲜蔬", big: false },
            Brand { name: "果然鲜", big: false },
        ],
        Category::Digital => &[
            Brand { name: "数码港", big: false },
            Brand { name: "极客数码", big: false },
            Brand { name: "智联通讯", big: false },
        ],
        Category::Appliances => &[
            Brand { name: "家电汇", big: true },
            Brand { name: "万佳电器", big: true },
            Brand { name: "惠家电器城", big: true },
        ],
        Category::FlowersCakes => &[
            Brand { name: "花语鲜花", big: false },
            Brand { name: "花间集", big: false },
            Brand { name: "甜心烘焙", big: false },
            Brand { name: "麦香蛋糕坊", big: false },
        ],
        Category::Apparel => &[
            Brand { name: "动力运动", big: false },
            Brand { name: "步履鞋服", big: false },
            Brand { name: "简衣坊", big: false },
        ],
        Category::Home => &[
            Brand { name: "安居家品", big: false },
            Brand { name: "拾光家居", big: false },
            Brand { name: "优家生活馆", big: false },
        ],
        Category::Beauty => &[
            Brand { name: "丽人美妆", big: false },
            Brand { name: "清颜个护", big: false },
            Brand { name: "美丽约定", big: false },
        ],
        Category::Pharmacy => &[
            Brand { name: "安康大药房", big: false },
            Brand { name: "仁心药房", big: false },
            Brand { name: "百草堂大药房", big: false },
            Brand { name: "康宁医药", big: false },
        ],
        Category::Maternity => &[
            Brand { name: "贝贝乐母婴", big: false },
            Brand { name: "童趣宝贝", big: false },
            Brand { name: "亲亲宝贝母婴", big: false },
        ],
        Category::Liquor => &[
            Brand { name: "酒窖时光", big: false },
            Brand { name: "醉乡烟酒", big: false },
            Brand { name: "百酒汇", big: false },
        ],
    }
}

/// Stores per category in Beijing (346 in all); also the category mix of the scaled set.
fn store_count(c: Category) -> usize {
    match c {
        Category::Supermarket => 85,
        Category::Fresh => 52,
        Category::Pharmacy => 35,
        Category::FlowersCakes => 28,
        Category::Beauty => 24,
        Category::Liquor => 24,
        Category::Digital => 22,
        Category::Apparel => 20,
        Category::Home => 20,
        Category::Maternity => 20,
        Category::Appliances => 16,
    }
}

/// Beijing demo city: deterministic for a given seed.
/// The demo catalogue's products (the same for every seed).
pub fn catalogue_products() -> Vec<CatalogProduct> {
    catalogue()
}

pub fn beijing(seed: u64) -> DemoData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let products = catalogue();

    struct Slot {
        category: Category,
        area: usize,
        cluster: bool,
        hours: Option<HoursKind>,
    }
    let area_cum = cumulative(AREAS.iter().map(|a| a.weight));
    let mut slots = Vec::new();
    for c in Category::ALL {
        for i in 0..store_count(c) {
            let cluster_area = match i / CLUSTER_PER_CATEGORY {
                0 => Some(GUOMAO_AREA),
                1 => Some(WANGJING_AREA),
                _ => None,
            };
            // Both demo points must have something open in the small hours.
            let first_in_cluster = cluster_area.is_some() && i % CLUSTER_PER_CATEGORY == 0;
            let hours = match c {
                Category::Supermarket | Category::Pharmacy if first_in_cluster => {
                    Some(HoursKind::AllDay)
                }
                Category::Liquor if first_in_cluster => Some(HoursKind::Overnight),
                _ => None,
            };
            slots.push(Slot {
                category: c,
                area: cluster_area.unwrap_or_else(|| pick(&mut rng, &area_cum)),
                cluster: cluster_area.is_some(),
                hours,
            });
        }
    }
    // Mixed ids look like a real registry rather than one category after another.
    slots.shuffle(&mut rng);

    let mut names = HashSet::new();
    let mut stores = Vec::with_capacity(slots.len());
    for (n, slot) in slots.iter().enumerate() {
        let area = &AREAS[slot.area];
        let all_brands = brands(slot.category);
        // A 24h supermarket is a convenience store.
        let candidates: Vec<&Brand> = all_brands
            .iter()
            .filter(|b| slot.hours != Some(HoursKind::AllDay) || !b.big)
            .collect();
        let brand = one_of(&mut rng, &candidates);
        let reach = if slot.cluster {
            CLUSTER_RADIUS_M
        } else {
            AREA_RADIUS_M
        };
        let dist = reach * rng.gen::<f64>().sqrt();
        let (lat, lng) = scatter(&mut rng, area.lat, area.lng, dist);
        let street_idx = rng.gen_range(0..area.streets.len());
        let (name, street) = unique_name(&mut names, brand.name, area, street_idx);
        let address = format!("{}{} {} 号", area.district, street, rng.gen_range(1..=320));
        stores.push(make_store(
            &mut rng,
            format!("bj{:05}", n + 1),
            name,
            slot.category,
            brand.big,
            "北京".to_owned(),
            address,
            (lat, lng),
            slot.hours,
        ));
    }

    let mut by_category: Vec<Vec<&CatalogProduct>> = vec![Vec::new(); Category::ALL.len()];
    for p in &products {
        by_category[cat_index(p.category)].push(p);
    }
    let mut listings = Vec::new();
    for store in &stores {
        let range = &by_category[cat_index(store.category)];
        let share = rng.gen_range(0.6..=0.9);
        let k = ((range.len() as f64 * share).round() as usize).clamp(1, range.len());
        let mut picked = rand::seq::index::sample(&mut rng, range.len(), k).into_vec();
        // Catalogue order is SKU order, so sorting the indices sorts the listings by SKU.
        picked.sort_unstable();
        for i in picked {
            let p = range[i];
            let factor = rng.gen_range(850..=1150_i64);
            let price_fen = ((p.base_price_fen * factor / 1000 + 5) / 10 * 10).max(10);
            let roll: f64 = rng.gen();
            let stock = if roll < 0.10 {
                0
            } else if roll < 0.25 {
                rng.gen_range(1..=5)
            } else {
                rng.gen_range(6..=200)
            };
            listings.push(Listing {
                store_id: store.id.clone(),
                sku: p.sku.clone(),
                price_fen,
                stock,
            });
        }
    }

    DemoData {
        products,
        stores,
        listings,
    }
}

/// "品牌（区域店）", or with a street when that brand already has a branch in the area.
/// Returns the name and the street the address should use.
fn unique_name(
    names: &mut HashSet<String>,
    brand: &str,
    area: &Area,
    street_idx: usize,
) -> (String, &'static str) {
    let default_street = area.streets[street_idx];
    let plain = format!("{brand}（{}店）", area.name);
    if names.insert(plain.clone()) {
        return (plain, default_street);
    }
    for k in 0..area.streets.len() {
        let street = area.streets[(street_idx + k) % area.streets.len()];
        let name = format!("{brand}（{}{street}店）", area.name);
        if names.insert(name.clone()) {
            return (name, street);
        }
    }
    // More branches than streets: number them, as chains do.
    for n in 2.. {
        let name = format!("{brand}（{}{default_street}{n}号店）", area.name);
        if names.insert(name.clone()) {
            return (name, default_street);
        }
    }
    unreachable!("an unbounded counter always finds a free name")
}

// ---------------------------------------------------------------------------------------------
// Scaled
// ---------------------------------------------------------------------------------------------

struct City {
    name: &'static str,
    lat: f64,
    lng: f64,
    weight: u32,
}

const fn city(name: &'static str, lat: f64, lng: f64, weight: u32) -> City {
    City {
        name,
        lat,
        lng,
        weight,
    }
}

/// City centres (WGS-84), weighted roughly by size so big cities get more stores.
const CITIES: [City; 42] = [
    city("北京", 39.9042, 116.4074, 10),
    city("上海", 31.2304, 121.4737, 10),
    city("广州", 23.1291, 113.2644, 8),
    city("深圳", 22.5431, 114.0579, 8),
    city("成都", 30.5728, 104.0668, 7),
    city("重庆", 29.5630, 106.5516, 7),
    city("杭州", 30.2741, 120.1551, 6),
    city("武汉", 30.5928, 114.3055, 6),
    city("西安", 34.3416, 108.9398, 5),
    city("南京", 32.0603, 118.7969, 5),
    city("天津", 39.3434, 117.3616, 5),
    city("苏州", 31.2989, 120.5853, 5),
    city("长沙", 28.2282, 112.9388, 4),
    city("郑州", 34.7466, 113.6254, 4),
    city("青岛", 36.0671, 120.3826, 4),
    city("沈阳", 41.8057, 123.4315, 3),
    city("大连", 38.9140, 121.6147, 3),
    city("厦门", 24.4798, 118.0894, 3),
    city("昆明", 25.0389, 102.7183, 3),
    city("合肥", 31.8206, 117.2272, 3),
    city("福州", 26.0745, 119.2965, 3),
    city("济南", 36.6512, 117.1201, 3),
    city("哈尔滨", 45.8038, 126.5350, 3),
    city("宁波", 29.8683, 121.5440, 3),
    city("无锡", 31.4912, 120.3119, 3),
    city("东莞", 23.0207, 113.7518, 3),
    city("佛山", 23.0215, 113.1214, 3),
    city("长春", 43.8171, 125.3235, 2),
    city("南宁", 22.8170, 108.3669, 2),
    city("贵阳", 26.6470, 106.6302, 2),
    city("石家庄", 38.0428, 114.5149, 2),
    city("太原", 37.8706, 112.5489, 2),
    city("南昌", 28.6820, 115.8579, 2),
    city("温州", 28.0006, 120.6994, 2),
    city("泉州", 24.8741, 118.6757, 2),
    city("兰州", 36.0611, 103.8343, 1),
    city("乌鲁木齐", 43.8256, 87.6168, 1),
    city("海口", 20.0440, 110.1999, 1),
    city("呼和浩特", 40.8424, 111.7490, 1),
    city("银川", 38.4872, 106.2309, 1),
    city("西宁", 36.6171, 101.7782, 1),
    city("拉萨", 29.6500, 91.1000, 1),
];

/// Street names found in most Chinese cities, for believable scaled addresses.
const COMMON_STREETS: [&str; 12] = [
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "新华路",
    "胜利路",
    "文化路",
    "长江路",
    "黄河路",
    "青年路",
    "光明路",
];

const MAX_SCATTER_M: f64 = 30_000.0;
const MAX_BRANDS: usize = 8;

/// The Beijing generator scaled: `total` stores over many Chinese cities, no listings.
pub fn scaled_stores(total: usize, seed: u64) -> Vec<StoreProfile> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let city_cum = cumulative(CITIES.iter().map(|c| c.weight));
    let cat_cum = cumulative(Category::ALL.iter().map(|c| store_count(*c) as u32));
    // Branch numbers per (city, category, brand) keep names unique without a set of 400k strings.
    let mut branches = vec![0u32; CITIES.len() * Category::ALL.len() * MAX_BRANDS];
    let mut stores = Vec::with_capacity(total);
    for n in 1..=total {
        let ci = pick(&mut rng, &city_cum);
        let city = &CITIES[ci];
        let category = Category::ALL[pick(&mut rng, &cat_cum)];
        let all_brands = brands(category);
        let bi = rng.gen_range(0..all_brands.len());
        let brand = &all_brands[bi];
        let branch =
            &mut branches[(ci * Category::ALL.len() + cat_index(category)) * MAX_BRANDS + bi];
        *branch += 1;

        // Rayleigh-distributed distance (a 2-D gaussian): dense centre, thinning suburbs.
        let sigma = 4_000.0 + 400.0 * f64::from(city.weight);
        let u: f64 = rng.gen();
        let dist = (sigma * (-2.0 * (1.0 - u).ln()).sqrt()).min(MAX_SCATTER_M);
        let (lat, lng) = scatter(&mut rng, city.lat, city.lng, dist);

        let name = format!("{}（{}{}号店）", brand.name, city.name, branch);
        let street = one_of(&mut rng, &COMMON_STREETS);
        let address = format!("{}市{} {} 号", city.name, street, rng.gen_range(1..=500));
        stores.push(make_store(
            &mut rng,
            format!("s{:06}", n),
            name,
            category,
            brand.big,
            city.name.to_owned(),
            address,
            (lat, lng),
            None,
        ));
    }
    stores
}

// ---------------------------------------------------------------------------------------------
// Shared store attributes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoursKind {
    Daytime,
    AllDay,
    Overnight,
    ClosedWeekday,
}

const fn hm(h: u16, m: u16) -> u16 {
    h * 60 + m
}

const fn open(open: u16, close: u16) -> DayHours {
    DayHours::Open { open, close }
}

#[allow(clippy::too_many_arguments)]
fn make_store(
    rng: &mut ChaCha8Rng,
    id: String,
    name: String,
    category: Category,
    big: bool,
    city: String,
    address: String,
    (lat, lng): (f64, f64),
    hours: Option<HoursKind>,
) -> StoreProfile {
    let kind = hours.unwrap_or_else(|| pick_hours_kind(rng, category, big));
    let hours = make_hours(rng, category, kind);
    let (lo, hi) = prep_range(category);
    let prep_min = rng.gen_range(lo..=hi);
    let delivery_radius_m = if big && rng.gen_bool(0.4) {
        6_000
    } else if category == Category::Supermarket && !big {
        // Convenience stores serve their block.
        one_of(rng, &[3_000, 3_500, 4_000])
    } else {
        one_of(rng, &[3_000, 3_500, 4_000, 4_500, 5_000])
    };
    let detour_factor = match rng.gen::<f64>() {
        r if r < 0.7 => 1.3,
        r if r < 0.85 => 1.2,
        _ => 1.4,
    };
    let rider_speed_kmh = match rng.gen::<f64>() {
        r if r < 0.9 => 15.0,
        r if r < 0.95 => 12.0,
        _ => 18.0,
    };
    let tiers = match (delivery_radius_m > 5_000, rng.gen_range(0..3)) {
        (true, _) | (false, 0) => vec![
            FeeTier {
                beyond_m: 3_000,
                extra_fen: 100,
            },
            FeeTier {
                beyond_m: 5_000,
                extra_fen: 300,
            },
        ],
        (false, 1) => vec![
            FeeTier {
                beyond_m: 2_000,
                extra_fen: 100,
            },
            FeeTier {
                beyond_m: 4_000,
                extra_fen: 200,
            },
        ],
        _ => vec![FeeTier {
            beyond_m: 3_000,
            extra_fen: 200,
        }],
    };
    let fees = FeeRules {
        base_fen: one_of(rng, &[300, 350, 400, 450, 500, 600, 700, 800]),
        tiers,
        free_above_fen: rng
            .gen_bool(0.8)
            .then(|| one_of(rng, &[3_900, 4_900, 5_900, 6_900, 7_900, 9_900])),
    };
    let min_order_fen = if category == Category::Appliances {
        9_900
    } else {
        one_of(rng, &[0, 1_000, 1_500, 2_000, 3_000])
    };
    // Best of two draws: shop ratings cluster high.
    let rating_tenths = rng.gen_range(40..=50).max(rng.gen_range(40..=50));
    StoreProfile {
        id,
        name,
        category,
        city,
        address,
        lat,
        lng,
        delivery_radius_m,
        hours,
        prep_min,
        detour_factor,
        rider_speed_kmh,
        fees,
        min_order_fen,
        rating: rating_tenths as f32 / 10.0,
    }
}

fn prep_range(c: Category) -> (u32, u32) {
    match c {
        Category::Supermarket | Category::Pharmacy | Category::Liquor => (5, 10),
        Category::Fresh => (8, 15),
        Category::Beauty | Category::Maternity => (8, 12),
        Category::Digital | Category::Apparel | Category::Home => (10, 15),
        Category::FlowersCakes | Category::Appliances => (20, 30),
    }
}

/// Probabilities per category: 24h mostly convenience stores and pharmacies, overnight mostly liquor,
/// a weekly day off mostly for specialty shops. Overall about 11 % 24h, 9 % overnight, 11 % day off.
fn pick_hours_kind(rng: &mut ChaCha8Rng, c: Category, big: bool) -> HoursKind {
    let (all_day, overnight, day_off) = match (c, big) {
        (Category::Supermarket, false) => (0.45, 0.15, 0.0),
        (Category::Supermarket, true) => (0.0, 0.15, 0.05),
        (Category::Fresh, _) => (0.05, 0.12, 0.08),
        (Category::Pharmacy, _) => (0.35, 0.05, 0.0),
        (Category::Liquor, _) => (0.15, 0.55, 0.05),
        (Category::Appliances, _) => (0.0, 0.0, 0.15),
        _ => (0.0, 0.0, 0.20),
    };
    let r: f64 = rng.gen();
    if r < all_day {
        HoursKind::AllDay
    } else if r < all_day + overnight {
        HoursKind::Overnight
    } else if r < all_day + overnight + day_off {
        HoursKind::ClosedWeekday
    } else {
        HoursKind::Daytime
    }
}

fn make_hours(rng: &mut ChaCha8Rng, c: Category, kind: HoursKind) -> WeeklyHours {
    match kind {
        HoursKind::AllDay => WeeklyHours::every_day(DayHours::ALL_DAY),
        HoursKind::Overnight => {
            let spans: &[(u16, u16)] = if c == Category::Liquor {
                &[
                    (hm(18, 0), hm(2, 0)),
                    (hm(10, 0), hm(3, 0)),
                    (hm(16, 0), hm(4, 0)),
                    (hm(11, 0), hm(2, 0)),
                    // Night-only shops: closed in the early evening.
                    (hm(19, 0), hm(3, 0)),
                    (hm(20, 0), hm(4, 0)),
                ]
            } else {
                &[
                    (hm(7, 0), hm(2, 0)),
                    (hm(8, 0), hm(1, 0)),
                    (hm(9, 0), hm(3, 0)),
                ]
            };
            let (o, cl) = one_of(rng, spans);
            WeeklyHours::every_day(open(o, cl))
        }
        HoursKind::ClosedWeekday => {
            let (o, cl) = daytime_span(rng, c);
            let mut days = [open(o, cl); 7];
            let off = match rng.gen_range(0..10) {
                0..=6 => 0, // Monday, as most shops
                7 | 8 => 1,
                _ => 6,
            };
            days[off] = DayHours::Closed;
            WeeklyHours::new(days)
        }
        HoursKind::Daytime => {
            let (o, cl) = daytime_span(rng, c);
            let mut days = [open(o, cl); 7];
            // Some shops stay an hour longer on Friday and Saturday evenings.
            if cl < hm(23, 0) && rng.gen_bool(0.25) {
                days[4] = open(o, cl + 60);
                days[5] = open(o, cl + 60);
            }
            WeeklyHours::new(days)
        }
    }
}

fn daytime_span(rng: &mut ChaCha8Rng, c: Category) -> (u16, u16) {
    match c {
        Category::FlowersCakes => one_of(rng, &[(hm(9, 0), hm(20, 0)), (hm(8, 30), hm(20, 30))]),
        Category::Appliances => (hm(10, 0), hm(21, 0)),
        Category::Digital
        | Category::Apparel
        | Category::Home
        | Category::Beauty
        | Category::Maternity => {
            let o = one_of(rng, &[hm(9, 0), hm(10, 0)]);
            (o, one_of(rng, &[hm(21, 0), hm(22, 0)]))
        }
        _ => {
            let o = one_of(rng, &[hm(7, 0), hm(8, 0), hm(9, 0)]);
            (o, one_of(rng, &[hm(21, 0), hm(22, 0)]))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const M_PER_DEG_LAT: f64 = 111_195.0;

/// A point `dist_m` from the centre in a random direction, rounded to 6 decimals (about 0.1 m) so
/// the data prints and stores stably.
fn scatter(rng: &mut ChaCha8Rng, lat: f64, lng: f64, dist_m: f64) -> (f64, f64) {
    let bearing = rng.gen_range(0.0..std::f64::consts::TAU);
    let dlat = dist_m * bearing.cos() / M_PER_DEG_LAT;
    let dlng = dist_m * bearing.sin() / (M_PER_DEG_LAT * lat.to_radians().cos());
    let round = |v: f64| (v * 1e6).round() / 1e6;
    (round(lat + dlat), round(lng + dlng))
}

fn cumulative(weights: impl Iterator<Item = u32>) -> Vec<u32> {
    weights
        .scan(0, |sum, w| {
            *sum += w;
            Some(*sum)
        })
        .collect()
}

/// Index drawn in proportion to the weights behind `cum` (non-empty, positive total).
fn pick(rng: &mut ChaCha8Rng, cum: &[u32]) -> usize {
    let total = cum.last().copied().unwrap_or(1);
    let x = rng.gen_range(0..total);
    cum.partition_point(|&c| c <= x)
}

/// One item of a constant, non-empty list.
fn one_of<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

fn cat_index(c: Category) -> usize {
    c as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_api::geo::haversine_m;
    use jishi_api::hours::LocalTime;
    use jishi_api::LatLng;
    use std::collections::{BTreeMap, BTreeSet};

    fn point(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    fn is_ascii_alnum(s: &str) -> bool {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())
    }

    #[test]
    fn the_same_seed_gives_identical_data_and_another_seed_different_data() {
        assert_eq!(beijing(7), beijing(7));
        let (a, b) = (beijing(7), beijing(8));
        assert_ne!(a.stores, b.stores);
        assert_ne!(a.listings, b.listings);
        assert_eq!(scaled_stores(2_000, 3), scaled_stores(2_000, 3));
        assert_ne!(scaled_stores(2_000, 3), scaled_stores(2_000, 4));
    }

    #[test]
    fn the_lookup_tables_agree_with_each_other() {
        for (i, c) in Category::ALL.into_iter().enumerate() {
            assert_eq!(cat_index(c), i);
            assert!(
                !brands(c).is_empty() && brands(c).len() <= MAX_BRANDS,
                "{c:?}"
            );
        }
        assert_eq!(AREAS[GUOMAO_AREA].name, "国贸");
        assert_eq!(AREAS[WANGJING_AREA].name, "望京");
    }

    #[test]
    fn beijing_has_enough_stores_in_every_category_with_unique_ids_and_names() {
        let d = beijing(1);
        assert!(d.stores.len() >= 330, "{}", d.stores.len());
        for c in Category::ALL {
            let n = d.stores.iter().filter(|s| s.category == c).count();
            assert!(n >= 12, "{c:?}: {n}");
        }
        let ids: HashSet<&str> = d.stores.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), d.stores.len());
        assert!(d
            .stores
            .iter()
            .all(|s| is_ascii_alnum(&s.id) && s.id.starts_with("bj")));
        let names: HashSet<&str> = d.stores.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), d.stores.len());
        for s in &d.stores {
            assert_eq!(s.city, "北京");
            assert!(
                (39.6..40.4).contains(&s.lat) && (116.0..116.8).contains(&s.lng),
                "{s:?}"
            );
            assert!((3_000..=6_000).contains(&s.delivery_radius_m));
            assert!((5..=30).contains(&s.prep_min));
            assert!((4.0..=5.0).contains(&s.rating));
            assert!((300..=800).contains(&s.fees.base_fen) && s.fees.base_fen % 50 == 0);
            assert!(s
                .fees
                .free_above_fen
                .is_none_or(|f| (3_900..=9_900).contains(&f)));
        }
    }

    #[test]
    fn skus_are_unique_and_every_listing_refers_to_a_real_store_and_product() {
        let d = beijing(1);
        let skus: HashSet<&str> = d.products.iter().map(|p| p.sku.as_str()).collect();
        assert_eq!(skus.len(), d.products.len());
        assert!(d
            .products
            .iter()
            .all(|p| is_ascii_alnum(&p.sku) && p.base_price_fen > 0));
        let stores: BTreeMap<&str, &StoreProfile> =
            d.stores.iter().map(|s| (s.id.as_str(), s)).collect();
        let products: BTreeMap<&str, &CatalogProduct> =
            d.products.iter().map(|p| (p.sku.as_str(), p)).collect();
        let mut per_store: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for l in &d.listings {
            let store = stores
                .get(l.store_id.as_str())
                .expect("listing of an unknown store");
            let product = products
                .get(l.sku.as_str())
                .expect("listing of an unknown SKU");
            assert_eq!(store.category, product.category);
            assert!(l.price_fen > 0 && l.price_fen % 10 == 0);
            let base = product.base_price_fen as f64;
            assert!(
                (l.price_fen as f64 - base).abs() <= base * 0.15 + 10.0,
                "{l:?}"
            );
            per_store.entry(&l.store_id).or_default().push(&l.sku);
        }
        for s in &d.stores {
            let listed = per_store.get(s.id.as_str()).map_or(0, Vec::len);
            let offered = d
                .products
                .iter()
                .filter(|p| p.category == s.category)
                .count();
            let share = listed as f64 / offered as f64;
            assert!(
                (0.58..=0.92).contains(&share),
                "{}: {listed}/{offered}",
                s.id
            );
        }
        // Sorted by SKU, each store's listings keep an aisle together.
        for skus in per_store.values() {
            assert!(skus.windows(2).all(|w| w[0] < w[1]));
            let mut runs: Vec<&str> = skus.iter().map(|s| products[s].aisle.as_str()).collect();
            runs.dedup();
            let distinct: HashSet<&str> = runs.iter().copied().collect();
            assert_eq!(runs.len(), distinct.len(), "an aisle is split: {runs:?}");
        }
    }

    #[test]
    fn hours_include_24h_overnight_and_weekly_day_off_stores_and_stock_includes_sold_out_and_low() {
        let d = beijing(1);
        let all_day = d.stores.iter().filter(|s| s.hours.is_24h()).count();
        let overnight = d
            .stores
            .iter()
            .filter(|s| {
                s.hours
                    .days()
                    .iter()
                    .any(|h| matches!(h, DayHours::Open { open, close } if close <= open))
            })
            .count();
        let day_off = d
            .stores
            .iter()
            .filter(|s| s.hours.days().contains(&DayHours::Closed))
            .count();
        assert!(
            all_day > 0 && overnight > 0 && day_off > 0,
            "{all_day} {overnight} {day_off}"
        );
        // At any hour of the week some stores are closed and some are open.
        for wd in 0..7 {
            for hour in 0..24 {
                let t = LocalTime::new(wd, hour * 60);
                let open = d.stores.iter().filter(|s| s.hours.is_open(t)).count();
                assert!(
                    open > 0 && open < d.stores.len(),
                    "day {wd} {hour}:00: {open}"
                );
            }
        }
        assert!(d.listings.iter().any(|l| l.stock == 0));
        assert!(d.listings.iter().any(|l| (1..=5).contains(&l.stock)));
        assert!(d.listings.iter().any(|l| l.stock > 5));
    }

    #[test]
    fn guomao_and_wangjing_are_each_served_by_at_least_15_stores_in_6_categories() {
        for seed in [0, 1, 42, 2024] {
            let d = beijing(seed);
            for (label, (lat, lng)) in [("国贸", GUOMAO), ("望京", WANGJING)] {
                let at = point(lat, lng);
                let serving: Vec<&StoreProfile> = d
                    .stores
                    .iter()
                    .filter(|s| {
                        haversine_m(at, point(s.lat, s.lng)) <= f64::from(s.delivery_radius_m)
                    })
                    .collect();
                let categories: BTreeSet<Category> = serving.iter().map(|s| s.category).collect();
                assert!(
                    serving.len() >= 15,
                    "{label} seed {seed}: {}",
                    serving.len()
                );
                assert!(categories.len() >= 6, "{label} seed {seed}: {categories:?}");
                // Someone delivers there at 03:00 on any day.
                for wd in 0..7 {
                    assert!(serving
                        .iter()
                        .any(|s| s.hours.is_open(LocalTime::new(wd, 180))));
                }
            }
        }
    }

    #[test]
    fn the_catalogue_contains_what_shoppers_search_for() {
        let products = catalogue();
        for term in [
            "牛奶",
            "矿泉水",
            "可乐",
            "苹果",
            "香蕉",
            "鸡蛋",
            "感冒灵",
            "充电宝",
            "数据线",
            "玫瑰",
            "蛋糕",
            "纸尿裤",
            "啤酒",
        ] {
            assert!(products.iter().any(|p| p.name.contains(term)), "{term}");
        }
        let milk: Vec<&CatalogProduct> = products
            .iter()
            .filter(|p| p.name.contains("牛奶"))
            .collect();
        assert!(milk.len() >= 3);
        assert!(milk.iter().any(|p| p.category == Category::Supermarket));
        assert!(milk.iter().any(|p| p.category == Category::Fresh));
        for c in Category::ALL {
            let n = products.iter().filter(|p| p.category == c).count();
            assert!((25..=45).contains(&n), "{c:?}: {n}");
        }
    }

    #[test]
    fn every_store_hours_survive_the_compact_form() {
        let d = beijing(1);
        for s in d.stores.iter().chain(scaled_stores(2_000, 9).iter()) {
            assert_eq!(
                WeeklyHours::from_compact(&s.hours.to_compact()).unwrap(),
                s.hours,
                "{}",
                s.id
            );
        }
    }

    /// The counts `demo::beijing` is known for (README: 346 stores in 11 categories), and how the
    /// shipped city (`DEMO_SEED`) and seed 1 (which most tests here use) split stock.
    #[test]
    fn the_beijing_counts_are_reported() {
        struct Counts {
            listings: usize,
            sold_out: usize,
            low: usize,
        }
        for (seed, want) in [
            (
                crate::DEMO_SEED,
                Counts {
                    listings: 8_109,
                    sold_out: 831,
                    low: 1_228,
                },
            ),
            (
                1,
                Counts {
                    listings: 8_104,
                    sold_out: 848,
                    low: 1_181,
                },
            ),
        ] {
            let d = beijing(seed);
            assert_eq!(d.stores.len(), 346, "seed {seed}");
            let categories: BTreeSet<Category> = d.stores.iter().map(|s| s.category).collect();
            assert_eq!(categories.len(), 11, "seed {seed}");
            for c in Category::ALL {
                let stores = d.stores.iter().filter(|s| s.category == c).count();
                assert_eq!(stores, store_count(c), "seed {seed} {c:?}");
            }
            assert_eq!(d.products.len(), 318, "seed {seed}");
            assert_eq!(d.listings.len(), want.listings, "seed {seed}");
            let sold_out = d.listings.iter().filter(|l| l.stock == 0).count();
            let low = d
                .listings
                .iter()
                .filter(|l| (1..=5).contains(&l.stock))
                .count();
            assert_eq!((sold_out, low), (want.sold_out, want.low), "seed {seed}");
        }
    }

    /// FNV-1a 64 over a canonical text of everything `beijing` generates. Hand-written (not
    /// `Debug` or serde) so the fingerprint only moves when the data does; floats by their bits.
    fn fingerprint(d: &DemoData) -> u64 {
        use std::fmt::Write;
        let mut text = String::new();
        for p in &d.products {
            let _ = writeln!(
                text,
                "P|{}|{}|{}|{}|{}|{}",
                p.sku,
                p.name,
                p.category.slug(),
                p.aisle,
                p.unit,
                p.base_price_fen
            );
        }
        for s in &d.stores {
            let _ = writeln!(
                text,
                "S|{}|{}|{}|{}|{}|{:x}|{:x}|{}|{}|{}|{:x}|{:x}|{}|{:?}|{:?}|{}|{:x}",
                s.id,
                s.name,
                s.category.slug(),
                s.city,
                s.address,
                s.lat.to_bits(),
                s.lng.to_bits(),
                s.delivery_radius_m,
                s.hours.to_compact(),
                s.prep_min,
                s.detour_factor.to_bits(),
                s.rider_speed_kmh.to_bits(),
                s.fees.base_fen,
                s.fees
                    .tiers
                    .iter()
                    .map(|t| (t.beyond_m, t.extra_fen))
                    .collect::<Vec<_>>(),
                s.fees.free_above_fen,
                s.min_order_fen,
                s.rating.to_bits()
            );
        }
        for l in &d.listings {
            let _ = writeln!(
                text,
                "L|{}|{}|{}|{}",
                l.store_id, l.sku, l.price_fen, l.stock
            );
        }
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h: u64, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// The demo city the end-to-end and platform tests rely on, pinned: any change to the
    /// catalogue data, its parsing or the generator's draws moves this checksum.
    #[test]
    fn the_demo_city_is_exactly_the_one_the_tests_rely_on() {
        let d = beijing(crate::DEMO_SEED);
        assert_eq!(
            fingerprint(&d),
            0x0dce_ba4c_faf1_8584,
            "the demo city changed: update this only on purpose, and check the end-to-end tests"
        );
    }

    #[test]
    fn scaled_stores_cover_many_cities_with_unique_ids_and_valid_coordinates() {
        let started = std::time::Instant::now();
        let stores = scaled_stores(400_000, 1);
        println!("scaled_stores(400_000, 1): {:?}", started.elapsed());
        assert_eq!(stores.len(), 400_000);
        let ids: HashSet<&str> = stores.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), stores.len());
        assert!(stores.iter().all(|s| is_ascii_alnum(&s.id)));
        let cities: HashSet<&str> = stores.iter().map(|s| s.city.as_str()).collect();
        assert!(cities.len() >= 30, "{}", cities.len());
        for s in &stores {
            assert!(
                (18.0..54.0).contains(&s.lat) && (73.0..135.0).contains(&s.lng),
                "{s:?}"
            );
        }
        let beijing = stores.iter().filter(|s| s.city == "北京").count();
        let lhasa = stores.iter().filter(|s| s.city == "拉萨").count();
        assert!(
            beijing > 5 * lhasa,
            "big cities get more stores: {beijing} vs {lhasa}"
        );
    }
}
