//! The eleven store categories, with their stable slugs and their zh-CN and English labels.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Supermarket,
    Fresh,
    Digital,
    Appliances,
    FlowersCakes,
    Apparel,
    Home,
    Beauty,
    Pharmacy,
    Maternity,
    Liquor,
}

impl Category {
    pub const ALL: [Category; 11] = [
        Category::Supermarket,
        Category::Fresh,
        Category::Digital,
        Category::Appliances,
        Category::FlowersCakes,
        Category::Apparel,
        Category::Home,
        Category::Beauty,
        Category::Pharmacy,
        Category::Maternity,
        Category::Liquor,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Category::Supermarket => "supermarket",
            Category::Fresh => "fresh",
            Category::Digital => "digital",
            Category::Appliances => "appliances",
            Category::FlowersCakes => "flowers_cakes",
            Category::Apparel => "apparel",
            Category::Home => "home",
            Category::Beauty => "beauty",
            Category::Pharmacy => "pharmacy",
            Category::Maternity => "maternity",
            Category::Liquor => "liquor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Supermarket => "超市便利",
            Category::Fresh => "生鲜果蔬",
            Category::Digital => "手机数码",
            Category::Appliances => "家用电器",
            Category::FlowersCakes => "鲜花蛋糕",
            Category::Apparel => "服饰运动",
            Category::Home => "家居",
            Category::Beauty => "个护美妆",
            Category::Pharmacy => "医药健康",
            Category::Maternity => "母婴",
            Category::Liquor => "酒水",
        }
    }

    /// The English label, for pages in `en`.
    pub fn label_en(self) -> &'static str {
        match self {
            Category::Supermarket => "Convenience",
            Category::Fresh => "Fresh produce",
            Category::Digital => "Phones & digital",
            Category::Appliances => "Appliances",
            Category::FlowersCakes => "Flowers & cakes",
            Category::Apparel => "Apparel & sports",
            Category::Home => "Home",
            Category::Beauty => "Beauty",
            Category::Pharmacy => "Pharmacy",
            Category::Maternity => "Mother & baby",
            Category::Liquor => "Wine & spirits",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.slug() == slug)
    }

    /// Large appliances are delivered and installed the next day (送装一体) rather than within the hour.
    pub fn installs_next_day(self) -> bool {
        self == Category::Appliances
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slug_round_trips() {
        for c in Category::ALL {
            assert_eq!(Category::from_slug(c.slug()), Some(c));
            let json = format!("\"{}\"", c.slug());
            assert_eq!(serde_json_like(c), json);
        }
    }

    #[test]
    fn an_unknown_slug_is_none() {
        assert_eq!(Category::from_slug("weapons"), None);
        assert_eq!(Category::from_slug(""), None);
    }

    fn serde_json_like(c: Category) -> String {
        serde_json::to_string(&c).unwrap()
    }
}
