//! Carts: one per (shopper, store). Instant retail never mixes stores in one delivery.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The most of one SKU a shopper can put in one order.
pub const MAX_QUANTITY_PER_ITEM: u32 = 99;
/// The most distinct SKUs in one cart or order.
pub const MAX_LINES: usize = 50;

/// A SKU and how many, as sent by the shopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemInput {
    pub sku: String,
    pub quantity: i64,
}

/// A validated list of items: known-shaped SKUs, at most 50 distinct, each SKU's total quantity
/// 1–99. Several lines of one SKU are merged and checked against their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Items(Vec<(String, u32)>);

impl Items {
    pub fn parse(items: &[ItemInput], allow_empty: bool) -> Result<Self, ApiError> {
        if items.is_empty() && !allow_empty {
            return Err(ApiError::bad_request("请至少选择一件商品"));
        }
        let mut out: Vec<(String, u32)> = Vec::with_capacity(items.len());
        for item in items {
            let sku = item.sku.trim();
            if sku.is_empty()
                || sku.len() > 64
                || !sku.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(ApiError::bad_request(format!(
                    "商品编号无效：\"{}\"",
                    item.sku
                )));
            }
            let quantity = item.quantity;
            let too_many = || {
                ApiError::bad_request(format!(
                    "数量必须在 1 到 {MAX_QUANTITY_PER_ITEM} 之间（{sku} 收到 {quantity}）"
                ))
            };
            if !(1..=i64::from(MAX_QUANTITY_PER_ITEM)).contains(&quantity) {
                return Err(too_many());
            }
            match out.iter_mut().find(|(s, _)| s == sku) {
                Some((_, total)) => {
                    *total += quantity as u32;
                    if *total > MAX_QUANTITY_PER_ITEM {
                        return Err(too_many());
                    }
                }
                None => out.push((sku.to_owned(), quantity as u32)),
            }
        }
        if out.len() > MAX_LINES {
            return Err(ApiError::bad_request(format!(
                "一单最多 {MAX_LINES} 种商品"
            )));
        }
        Ok(Self(out))
    }

    pub fn lines(&self) -> &[(String, u32)] {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `PUT /v1/cart/{store_id}`: the whole cart for that store (an item left out is removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutCart {
    pub items: Vec<ItemInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub price_fen: i64,
    pub quantity: u32,
    /// The store's current stock, so the page can say "only 3 left".
    pub stock: u32,
    pub line_fen: i64,
    #[serde(default)]
    pub image: Option<crate::catalog::Image>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub store_id: String,
    pub store_name: String,
    pub items: Vec<CartLine>,
    pub items_fen: i64,
    pub min_order_fen: i64,
    /// Whether the items reach the store's minimum order.
    pub meets_minimum: bool,
    /// The store's fee rules: the fee itself depends on the address, chosen at checkout.
    #[serde(default)]
    pub fees: Option<crate::money::FeeRules>,
}

/// `GET /v1/carts`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartsResponse {
    pub carts: Vec<Cart>,
}

/// `POST /v1/orders/{id}/reorder` (再来一单): the order's store's cart, filled with what of the
/// order is still listed and in stock at today's prices, and what changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reorder {
    pub store_id: String,
    /// The cart's lines after filling.
    pub items: Vec<CartLine>,
    pub changes: Vec<ReorderChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReorderChange {
    pub sku: String,
    /// The product's name as it was ordered.
    pub name: String,
    pub change: ReorderChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReorderChangeKind {
    /// Listed but none in stock: left out of the cart.
    SoldOut,
    /// The store no longer sells it: left out of the cart.
    Unlisted,
    /// In the cart at a higher price than ordered.
    PriceUp,
    /// In the cart at a lower price than ordered.
    PriceDown,
}

impl ReorderChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReorderChangeKind::SoldOut => "sold_out",
            ReorderChangeKind::Unlisted => "unlisted",
            ReorderChangeKind::PriceUp => "price_up",
            ReorderChangeKind::PriceDown => "price_down",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sku: &str, quantity: i64) -> ItemInput {
        ItemInput {
            sku: sku.into(),
            quantity,
        }
    }

    #[test]
    fn quantities_outside_one_to_ninety_nine_are_refused() {
        for q in [0, -1, 100, 1000] {
            let err = Items::parse(&[item("P1", q)], false).unwrap_err();
            assert_eq!(err.http_status(), 400, "{q}");
        }
        assert!(Items::parse(&[item("P1", 99)], false).is_ok());
    }

    #[test]
    fn lines_of_one_sku_are_merged_and_checked_against_their_sum() {
        let merged = Items::parse(&[item("P1", 1), item("P2", 1), item("P1", 2)], false).unwrap();
        assert_eq!(merged.lines(), [("P1".to_owned(), 3), ("P2".to_owned(), 1)]);
        assert!(Items::parse(&[item("P1", 60), item("P1", 40)], false).is_err());
    }

    #[test]
    fn bad_skus_and_empty_orders_are_refused() {
        assert!(Items::parse(&[item("P 1", 1)], false).is_err());
        assert!(Items::parse(&[item("<script>", 1)], false).is_err());
        assert!(Items::parse(&[], false).is_err());
        assert!(Items::parse(&[], true).unwrap().is_empty());
        let too_many: Vec<_> = (0..=MAX_LINES).map(|i| item(&format!("P{i}"), 1)).collect();
        assert!(Items::parse(&too_many, false).is_err());
    }
}
