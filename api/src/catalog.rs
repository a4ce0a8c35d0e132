//! Products and per-store stock: the products list, in-store search and nearby product search.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::geo::LatLng;
use crate::stores::{non_empty, parse_bounded, StoreSummary};

pub const DEFAULT_PRODUCTS_LIMIT: u32 = 60;
pub const MAX_PRODUCTS_LIMIT: u32 = 200;
pub const MAX_SEARCH_RESULTS: u32 = 50;
pub const MAX_QUERY_CHARS: usize = 40;
/// At or below this, a product shows "仅剩 N 件".
pub const LOW_STOCK: u32 = 5;

/// A product as one store sells it: price and stock are that store's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// The aisle within the store ("饮料", "水果"), shown in the category rail.
    pub category: String,
    pub price_fen: i64,
    pub stock: u32,
    pub unit: String,
    /// The store's group-buy offer on it (`null`: none).
    #[serde(default)]
    pub group: Option<crate::groups::GroupOffer>,
    /// Its picture (`null`: none; pages show the product without one).
    #[serde(default)]
    pub image: Option<Image>,
}

/// A product's picture. `src` and every URL in `srcset` carry a hash of the file's content, so a
/// cache may keep them for ever; `width`/`height` are the intrinsic size (for the aspect ratio
/// before it loads). Text for `alt` is the product's name. Another platform's URLs pass through
/// the server as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub src: String,
    pub width: u32,
    pub height: u32,
    /// HTML `srcset` syntax: `<url> 96w, <url> 192w, …`.
    pub srcset: String,
}

/// What a shopper sees about stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockState {
    InStock,
    Low(u32),
    SoldOut,
}

impl Product {
    pub fn stock_state(&self) -> StockState {
        match self.stock {
            0 => StockState::SoldOut,
            n if n <= LOW_STOCK => StockState::Low(n),
            _ => StockState::InStock,
        }
    }
}

impl StockState {
    pub fn label(self) -> String {
        match self {
            StockState::InStock => "有货".to_owned(),
            StockState::Low(n) => format!("仅剩 {n} 件"),
            StockState::SoldOut => "已售罄".to_owned(),
        }
    }
    pub fn slug(self) -> &'static str {
        match self {
            StockState::InStock => "in_stock",
            StockState::Low(_) => "low",
            StockState::SoldOut => "sold_out",
        }
    }
}

/// `GET /v1/stores/{id}/products` → this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductsResponse {
    pub products: Vec<Product>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductsQueryRaw {
    pub category: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// A validated products query. Products are ordered by SKU; the cursor is the last SKU seen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductsQuery {
    pub category: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: u32,
}

impl ProductsQuery {
    pub fn parse(raw: &ProductsQueryRaw) -> Result<Self, ApiError> {
        let category = non_empty(&raw.category)
            .map(|c| validate_text("category", c))
            .transpose()?;
        let q = non_empty(&raw.q).map(validate_search_text).transpose()?;
        let cursor = non_empty(&raw.cursor)
            .map(|c| {
                if c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
                    Ok(c.to_owned())
                } else {
                    Err(ApiError::bad_request(
                        "翻页游标 cursor 无效，请从第一页重新加载",
                    ))
                }
            })
            .transpose()?;
        let limit = non_empty(&raw.limit)
            .map(|v| parse_bounded("limit", "每页数量", v, 1, MAX_PRODUCTS_LIMIT))
            .transpose()?
            .unwrap_or(DEFAULT_PRODUCTS_LIMIT);
        Ok(Self {
            category,
            q,
            cursor,
            limit,
        })
    }

    pub fn to_raw(&self) -> ProductsQueryRaw {
        ProductsQueryRaw {
            category: self.category.clone(),
            q: self.q.clone(),
            cursor: self.cursor.clone(),
            limit: Some(self.limit.to_string()),
        }
    }
}

/// A search phrase: trimmed, 1–40 characters, no control characters.
pub fn validate_search_text(q: &str) -> Result<String, ApiError> {
    validate_text("q", q)
}

fn validate_text(name: &str, v: &str) -> Result<String, ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(ApiError::bad_request(format!("{name} 不能为空")));
    }
    if v.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(format!(
            "{name} 最多 {MAX_QUERY_CHARS} 个字"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("{name} 含有无效字符")));
    }
    Ok(v.to_owned())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchQueryRaw {
    pub q: Option<String>,
    pub lat: Option<String>,
    pub lng: Option<String>,
    pub limit: Option<String>,
}

/// `GET /v1/products/search?q&lat&lng`: which nearby stores have it in stock.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub q: String,
    pub at: LatLng,
    pub limit: u32,
}

impl SearchQuery {
    pub fn parse(raw: &SearchQueryRaw) -> Result<Self, ApiError> {
        let q = non_empty(&raw.q)
            .ok_or_else(|| ApiError::bad_request("请输入要找的商品（q）"))
            .and_then(validate_search_text)?;
        let at = LatLng::parse(raw.lat.as_deref(), raw.lng.as_deref())?;
        let limit = non_empty(&raw.limit)
            .map(|v| parse_bounded("limit", "结果数量", v, 1, MAX_SEARCH_RESULTS))
            .transpose()?
            .unwrap_or(MAX_SEARCH_RESULTS);
        Ok(Self { q, at, limit })
    }

    pub fn to_raw(&self) -> SearchQueryRaw {
        SearchQueryRaw {
            q: Some(self.q.clone()),
            lat: Some(format!("{:.6}", self.at.lat())),
            lng: Some(format!("{:.6}", self.at.lng())),
            limit: Some(self.limit.to_string()),
        }
    }
}

/// One product in one nearby store that delivers here and has it in stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub store: StoreSummary,
    pub product: Product,
}

/// Fastest first, then cheapest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    pub results: Vec<SearchHit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(stock: u32) -> Product {
        Product {
            sku: "P1".into(),
            name: "农夫山泉 550ml".into(),
            category: "饮料".into(),
            price_fen: 200,
            stock,
            unit: "瓶".into(),
            group: None,
            image: None,
        }
    }

    #[test]
    fn stock_states_match_what_the_shopper_is_told() {
        assert_eq!(product(0).stock_state().label(), "已售罄");
        assert_eq!(product(3).stock_state().label(), "仅剩 3 件");
        assert_eq!(product(LOW_STOCK).stock_state(), StockState::Low(LOW_STOCK));
        assert_eq!(product(LOW_STOCK + 1).stock_state(), StockState::InStock);
    }

    #[test]
    fn search_needs_a_phrase_and_a_point() {
        let ok = SearchQuery::parse(&SearchQueryRaw {
            q: Some("  牛奶 ".into()),
            lat: Some("39.9".into()),
            lng: Some("116.4".into()),
            limit: None,
        })
        .unwrap();
        assert_eq!(ok.q, "牛奶");
        let missing = SearchQuery::parse(&SearchQueryRaw {
            q: None,
            lat: Some("39.9".into()),
            lng: Some("116.4".into()),
            limit: None,
        });
        assert!(missing.is_err());
        let too_long = validate_search_text(&"奶".repeat(41));
        assert!(too_long.is_err());
        assert!(validate_search_text("a\u{0}b").is_err());
    }

    #[test]
    fn products_query_validates_limit_and_cursor() {
        let bad_limit = ProductsQuery::parse(&ProductsQueryRaw {
            limit: Some("10000".into()),
            ..Default::default()
        });
        assert_eq!(bad_limit.unwrap_err().http_status(), 400);
        let bad_cursor = ProductsQuery::parse(&ProductsQueryRaw {
            cursor: Some("'; drop table".into()),
            ..Default::default()
        });
        assert!(bad_cursor.is_err());
        let ok = ProductsQuery::parse(&ProductsQueryRaw::default()).unwrap();
        assert_eq!(ok.limit, DEFAULT_PRODUCTS_LIMIT);
    }
}
