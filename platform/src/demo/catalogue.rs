//! The demo catalogue is data, not code: `catalogue.tsv` (one product per line) is compiled in and
//! read by a strict parser. A broken line fails `the_shipped_catalogue_parses` with its line number
//! and what is wrong, so it never reaches a running platform.

use std::collections::{HashMap, HashSet};

use jishi_api::Category;

/// The catalogue as shipped; the format is described at the top of the file.
pub const CATALOGUE_TSV: &str = include_str!("catalogue.tsv");

const COLUMNS: [&str; 7] = [
    "sku",
    "category",
    "aisle",
    "name",
    "unit",
    "price_fen",
    "picture",
];

/// A catalogue product (same SKU can be sold by many stores at different prices).
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogProduct {
    pub sku: String,
    pub name: String,
    pub category: Category,
    pub aisle: String,
    pub unit: String,
    pub base_price_fen: i64,
    /// The stem of its picture's file in `demo/pictures/` (`1f34e` for 🍎): the emoji's code
    /// points in lower-case hex, joined by `-`.
    pub picture: String,
}

/// What is wrong with a catalogue text; `line` is 1-based, as an editor shows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error(
        "no header line (expected `sku<TAB>category<TAB>aisle<TAB>name<TAB>unit<TAB>price_fen<TAB>picture`)"
    )]
    MissingHeader,
    #[error("line {line}: the header should be `sku<TAB>category<TAB>aisle<TAB>name<TAB>unit<TAB>price_fen<TAB>picture`, found {found:?}")]
    Header { line: usize, found: String },
    #[error("line {line}: expected 7 tab-separated columns, found {found}")]
    Columns { line: usize, found: usize },
    #[error("line {line}: column `{column}` is empty")]
    Empty { line: usize, column: &'static str },
    #[error("line {line}: SKU {sku:?} must be ASCII letters and digits")]
    Sku { line: usize, sku: String },
    #[error("line {line}: SKU {sku} must come after {previous} (SKUs are unique and ascending)")]
    SkuOrder {
        line: usize,
        sku: String,
        previous: String,
    },
    #[error("line {line}: unknown category {slug:?}")]
    Category { line: usize, slug: String },
    #[error("line {line}: price {value:?} is not a positive whole number of fen")]
    Price { line: usize, value: String },
    #[error("line {line}: aisle {aisle:?} of {category} appeared earlier; an aisle's products must be consecutive")]
    AisleSplit {
        line: usize,
        category: &'static str,
        aisle: String,
    },
    #[error("category {0} has no products (every store needs something to list)")]
    EmptyCategory(&'static str),
}

/// Parses a catalogue text into products in file order (= SKU order, so a store's listings sorted
/// by SKU keep each aisle together).
pub fn parse_catalogue(text: &str) -> Result<Vec<CatalogProduct>, CatalogueError> {
    let mut rows = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let (line, header) = rows.next().ok_or(CatalogueError::MissingHeader)?;
    if !header.split('\t').map(str::trim).eq(COLUMNS) {
        return Err(CatalogueError::Header {
            line,
            found: header.to_owned(),
        });
    }

    let mut products: Vec<CatalogProduct> = Vec::new();
    // Per category: the aisle being read and every aisle already seen.
    let mut aisles: HashMap<Category, (String, HashSet<String>)> = HashMap::new();
    for (line, row) in rows {
        let fields: Vec<&str> = row.split('\t').map(str::trim).collect();
        let [sku, slug, aisle, name, unit, price, picture] = fields[..] else {
            return Err(CatalogueError::Columns {
                line,
                found: fields.len(),
            });
        };
        if let Some(i) = fields.iter().position(|f| f.is_empty()) {
            return Err(CatalogueError::Empty {
                line,
                column: COLUMNS[i],
            });
        }
        if !sku.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(CatalogueError::Sku {
                line,
                sku: sku.to_owned(),
            });
        }
        if let Some(previous) = products.last().filter(|p| p.sku.as_str() >= sku) {
            return Err(CatalogueError::SkuOrder {
                line,
                sku: sku.to_owned(),
                previous: previous.sku.clone(),
            });
        }
        let category = Category::from_slug(slug).ok_or_else(|| CatalogueError::Category {
            line,
            slug: slug.to_owned(),
        })?;
        // Digits only: `i64::from_str` would also take a sign.
        let base_price_fen = price
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| price.parse::<i64>().ok())
            .flatten()
            .filter(|&fen| fen > 0)
            .ok_or_else(|| CatalogueError::Price {
                line,
                value: price.to_owned(),
            })?;
        let (current, seen) = aisles.entry(category).or_default();
        if current.as_str() != aisle {
            if !seen.insert(aisle.to_owned()) {
                return Err(CatalogueError::AisleSplit {
                    line,
                    category: category.slug(),
                    aisle: aisle.to_owned(),
                });
            }
            aisle.clone_into(current);
        }
        products.push(CatalogProduct {
            sku: sku.to_owned(),
            name: name.to_owned(),
            category,
            aisle: aisle.to_owned(),
            unit: unit.to_owned(),
            base_price_fen,
            picture: picture_stem(picture),
        });
    }
    if let Some(c) = Category::ALL.into_iter().find(|c| !aisles.contains_key(c)) {
        return Err(CatalogueError::EmptyCategory(c.slug()));
    }
    Ok(products)
}

/// The file stem of an emoji's picture: its code points in lower-case hex joined by `-`, as the
/// npm package names its files (`🍎` → `1f34e`, `❤️` → `2764-fe0f`).
pub fn picture_stem(emoji: &str) -> String {
    emoji
        .chars()
        .map(|c| format!("{:x}", u32::from(c)))
        .collect::<Vec<_>>()
        .join("-")
}

/// The shipped catalogue. It is compiled in and `the_shipped_catalogue_parses` checks it, so the
/// panic cannot happen in a tested build; were it to, the platform would stop while seeding at
/// start-up, before serving anyone.
pub(super) fn catalogue() -> Vec<CatalogProduct> {
    parse_catalogue(CATALOGUE_TSV).unwrap_or_else(|e| {
        panic!("the built-in demo catalogue (demo/catalogue.tsv) is broken: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "sku\tcategory\taisle\tname\tunit\tprice_fen\tpicture\n";

    /// One product in every category, so only the rows under test can be wrong.
    fn valid_rows() -> String {
        Category::ALL
            .into_iter()
            .enumerate()
            .map(|(i, c)| format!("P{i:02}0101\t{}\t货架\t商品 {i}\t个\t100\t📦\n", c.slug()))
            .collect()
    }

    fn parse_with(extra: &str) -> Result<Vec<CatalogProduct>, CatalogueError> {
        parse_catalogue(&format!("{HEADER}{}{extra}", valid_rows()))
    }

    /// The line number of `extra`'s first row in `parse_with`.
    const EXTRA_LINE: usize = 1 + Category::ALL.len() + 1;

    #[test]
    fn the_shipped_catalogue_parses() {
        let products = match parse_catalogue(CATALOGUE_TSV) {
            Ok(p) => p,
            Err(e) => panic!("demo/catalogue.tsv: {e}"),
        };
        assert_eq!(products.len(), 318);
        assert_eq!(
            products
                .first()
                .map(|p| (p.sku.as_str(), p.name.as_str(), p.base_price_fen)),
            Some(("P000101", "矿泉水 550ml", 200))
        );
        assert_eq!(catalogue(), products);
    }

    #[test]
    fn every_product_has_a_picture_the_platform_serves() {
        for p in catalogue() {
            assert!(
                crate::pictures::exists(&p.picture),
                "{} {}: no demo/pictures/{}.webp (run tools/vendor-pictures.sh)",
                p.sku,
                p.name,
                p.picture
            );
        }
        assert_eq!(picture_stem("🍎"), "1f34e");
        assert_eq!(picture_stem("❤️"), "2764-fe0f");
    }

    #[test]
    fn comments_blank_lines_crlf_and_padding_are_accepted() {
        let text = format!(
            "# a comment\n\n{}P990101\tliquor\t 白酒 \t二锅头 500ml\t瓶\t1590\t🍶\r\n# the end\n",
            HEADER.replace('\n', "\r\n") + &valid_rows()
        );
        let products = parse_catalogue(&text).unwrap();
        let last = products.last().unwrap();
        assert_eq!(
            (
                last.sku.as_str(),
                last.category,
                last.aisle.as_str(),
                last.name.as_str(),
                last.base_price_fen
            ),
            ("P990101", Category::Liquor, "白酒", "二锅头 500ml", 1590)
        );
    }

    #[test]
    fn every_kind_of_mistake_is_reported_with_its_line() {
        use CatalogueError as E;
        let l = EXTRA_LINE;
        let cases: Vec<(&str, CatalogueError)> = vec![
            (
                "P990101\tliquor\t白酒\t二锅头\t瓶\t1590\n",
                E::Columns { line: l, found: 6 },
            ),
            (
                "P990101\tliquor\t白酒\t二锅头\t瓶\t1590\t🍶\textra\n",
                E::Columns { line: l, found: 8 },
            ),
            (
                "P990101\tliquor\t\t二锅头\t瓶\t1590\t🍶\n",
                E::Empty {
                    line: l,
                    column: "aisle",
                },
            ),
            (
                "P99-0101\tliquor\t白酒\t二锅头\t瓶\t1590\t🍶\n",
                E::Sku {
                    line: l,
                    sku: "P99-0101".into(),
                },
            ),
            (
                "P000101\tliquor\t白酒\t二锅头\t瓶\t1590\t🍶\n",
                E::SkuOrder {
                    line: l,
                    sku: "P000101".into(),
                    previous: "P100101".into(),
                },
            ),
            (
                "P990101\tweapons\t白酒\t二锅头\t瓶\t1590\t🍶\n",
                E::Category {
                    line: l,
                    slug: "weapons".into(),
                },
            ),
            (
                "P990101\tliquor\t白酒\t二锅头\t瓶\t15.90\t🍶\n",
                E::Price {
                    line: l,
                    value: "15.90".into(),
                },
            ),
            (
                "P990101\tliquor\t白酒\t二锅头\t瓶\t+1590\t🍶\n",
                E::Price {
                    line: l,
                    value: "+1590".into(),
                },
            ),
            (
                "P990101\tliquor\t白酒\t二锅头\t瓶\t0\t🍶\n",
                E::Price {
                    line: l,
                    value: "0".into(),
                },
            ),
            (
                "P990101\tliquor\t白酒\t二锅头\t瓶\t99999999999999999999\t🍶\n",
                E::Price {
                    line: l,
                    value: "99999999999999999999".into(),
                },
            ),
            (
                "P990101\tliquor\t白酒\t二锅头\t瓶\t1590\t🍶\nP990102\tliquor\t货架\t花生\t袋\t990\t🥜\n",
                E::AisleSplit {
                    line: l + 1,
                    category: "liquor",
                    aisle: "货架".into(),
                },
            ),
        ];
        for (extra, expected) in cases {
            assert_eq!(parse_with(extra), Err(expected), "{extra:?}");
        }
    }

    #[test]
    fn a_missing_header_or_category_is_reported() {
        assert_eq!(parse_catalogue(""), Err(CatalogueError::MissingHeader));
        assert_eq!(
            parse_catalogue("# only comments\n\n"),
            Err(CatalogueError::MissingHeader)
        );
        assert_eq!(
            parse_catalogue(&format!("# c\nsku,category\n{}", valid_rows())),
            Err(CatalogueError::Header {
                line: 2,
                found: "sku,category".into()
            })
        );
        let without_liquor: String = valid_rows()
            .lines()
            .filter(|l| !l.contains("liquor"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            parse_catalogue(&format!("{HEADER}{without_liquor}")),
            Err(CatalogueError::EmptyCategory("liquor"))
        );
    }
}
