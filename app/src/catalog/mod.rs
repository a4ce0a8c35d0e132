//! A store's page (header, category rail, products, in-store search) and nearby product search.

use jishi_api::cart::Cart;
use jishi_api::catalog::{
    Product, ProductsQueryRaw, ProductsResponse, SearchQueryRaw, SearchResponse, StockState,
};
use jishi_api::hours::{format_minute, DayHours};
use jishi_api::money::format_yuan;
use jishi_api::stores::StoreDetail;
use jishi_api::LatLng;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::cart::{CartBar, CartScope, QuantityStepper};
use crate::components::{use_location, ErrorNotice};
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{category_label, locale, Locale};
use crate::links::{coord, format_distance, href, store_href};
use crate::picture::{Loading, ProductImage};
use crate::stores::{fee_text, min_order_text, status_text};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StorePageData {
    pub detail: StoreDetail,
    pub products: ProductsResponse,
    /// The shopper's cart at this store; `None` before their first cart action.
    pub cart: Option<Cart>,
}

/// The store with its quote for the shopper's point (when known) and one page of its products.
#[server(input = Json)]
pub async fn store_page(
    id: String,
    lat: Option<String>,
    lng: Option<String>,
    products: ProductsQueryRaw,
) -> Result<StorePageData, AppError> {
    use jishi_api::catalog::ProductsQuery;
    let products = ProductsQuery::parse(&products)?;
    let at = match (lat.as_deref(), lng.as_deref()) {
        (None, None) => None,
        (lat, lng) => Some(LatLng::parse(lat, lng)?),
    };
    let client = crate::platform_client::from_context()?;
    let point: Vec<(&str, String)> = at
        .map(|p| vec![("lat", coord(p.lat())), ("lng", coord(p.lng()))])
        .unwrap_or_default();
    let detail_path = jishi_api::routes::STORE.path(&[&id]);
    let products_path = jishi_api::routes::STORE_PRODUCTS.path(&[&id]);
    let products_raw = products.to_raw();
    let cart_path = jishi_api::routes::CART.path(&[&id]);
    let (detail, products, cart) = futures::join!(
        client.get::<StoreDetail>(&detail_path, &point),
        client.get::<ProductsResponse>(&products_path, &products_raw),
        crate::platform_client::get_as_shopper::<Cart>(&cart_path),
    );
    Ok(StorePageData {
        detail: detail?,
        products: products?,
        cart: cart?,
    })
}

#[component]
pub fn StorePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let at = use_location();
    let request = Memo::new(move |_| {
        let id = params.with(|p| p.get("id").unwrap_or_default());
        query.with(|q| {
            (
                id,
                q.get("lat"),
                q.get("lng"),
                ProductsQueryRaw {
                    category: q.get("category"),
                    q: q.get("q"),
                    cursor: q.get("cursor"),
                    limit: None,
                },
            )
        })
    });
    let data = Resource::new(
        move || request.get(),
        |(id, lat, lng, products)| store_page(id, lat, lng, products),
    );
    let l = locale();
    let title = move |heading: &str| format!("{heading} · {}", td_string!(l, common.brand));
    view! {
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, catalog.opening_store)}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <StoreView data=d at=at.get_untracked() request=request.get_untracked().3/> }.into_any(),
                    Err(e) if e.is_not_found() => view! {
                        <Title text=title(td_string!(l, catalog.not_found))/>
                        <ErrorNotice error=e heading=td_string!(l, catalog.not_found)/>
                    }.into_any(),
                    Err(e) => view! {
                        <Title text=title(td_string!(l, catalog.unavailable))/>
                        <ErrorNotice error=e heading=td_string!(l, catalog.unavailable)/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn StoreView(data: StorePageData, at: Option<LatLng>, request: ProductsQueryRaw) -> impl IntoView {
    let StorePageData {
        detail,
        products,
        cart,
    } = data;
    let l = locale();
    let store = detail.store.clone();
    let base = store_href(&store.id, at);
    let store_path = crate::links::store_path(&store.id);
    let with_query = move |pairs: &[(&str, Option<&str>)]| {
        let mut all: Vec<(&str, Option<&str>)> = Vec::new();
        let lat = at.map(|p| coord(p.lat()));
        let lng = at.map(|p| coord(p.lng()));
        all.push(("lat", lat.as_deref()));
        all.push(("lng", lng.as_deref()));
        all.extend_from_slice(pairs);
        href(&store_path, &all)
    };
    let this_page = with_query(&[
        ("category", request.category.as_deref()),
        ("q", request.q.as_deref()),
        ("cursor", request.cursor.as_deref()),
    ]);
    let active_aisle = request.category.clone();
    let rail = std::iter::once(None)
        .chain(detail.aisles.iter().cloned().map(Some))
        .map(|aisle| {
            let active = aisle == active_aisle;
            let target = with_query(&[("category", aisle.as_deref())]);
            let label = aisle.clone().unwrap_or_else(|| td_string!(l, catalog.all_products).to_owned());
            view! {
                <a class="aisle" class:active=active aria-current=active.then_some("true")
                    data-testid="aisle-link" data-aisle=aisle.unwrap_or_default() href=target>{label}</a>
            }
        })
        .collect_view();
    let next = products.next_cursor.clone().map(|c| {
        with_query(&[
            ("category", request.category.as_deref()),
            ("q", request.q.as_deref()),
            ("cursor", Some(&c)),
        ])
    });
    let status = status_text(detail.open_now, detail.opens, detail.opens_at.as_deref(), l);
    let today = today_hours_text(detail.today, &detail.today_hours, l);
    let quote = detail.quote.map(|q| {
        view! {
            <span class="eta" data-testid="store-eta">{td_string!(l, catalog.eta, min = q.eta_min)}</span>
            <span>{format_distance(q.distance_m)}</span>
            <span>{fee_text(q.delivery_fee_fen, l)}</span>
            {(!q.delivers).then(|| view! { <span class="warn" data-testid="out-of-range">{td_string!(l, catalog.out_of_range)}</span> })}
        }
    });
    let min_order = min_order_text(store.min_order_fen, l);
    let searching = request.q.clone();
    let empty_text = if searching.is_some() {
        td_string!(l, catalog.no_matches)
    } else {
        td_string!(l, catalog.empty_aisle)
    };
    view! {
        <Title text=format!("{} · {}", store.name, td_string!(l, common.brand))/>
        <section class="store-header" data-testid="store-header" data-store-id=store.id.clone()>
            <h1>{store.name.clone()}</h1>
            <p class="store-meta">
                <span class="category">{category_label(store.category, l)}</span>
                <span class="rating">{format!("★{:.1}", store.rating)}</span>
                <span class="badge status" class:open=detail.open_now data-testid="store-status">{status}</span>
                <span data-testid="store-hours">{today}</span>
            </p>
            <p class="store-meta">
                {quote}
                <span>{min_order}</span>
            </p>
            {store.category.installs_next_day().then(|| view! { <p class="note">{td_string!(l, catalog.installs_next_day)}</p> })}
            <p class="address">{store.address.clone()}</p>
            <a class="back" href=crate::links::home_at(at)>{td_string!(l, catalog.back_to_stores)}</a>
        </section>
        <form class="store-search" method="get" action=base.clone() role="search" aria-label=td_string!(l, catalog.search_in_store)>
            {at.map(|p| view! {
                <input type="hidden" name="lat" value=coord(p.lat())/>
                <input type="hidden" name="lng" value=coord(p.lng())/>
            })}
            <input type="search" name="q" placeholder=td_string!(l, catalog.search_in_store) aria-label=td_string!(l, catalog.search_in_store)
                data-testid="store-search" maxlength="40" value=searching.clone().unwrap_or_default()/>
            <button type="submit">{td_string!(l, common.search)}</button>
        </form>
        // The steppers in the grid and the bar below share this store's cart.
        <CartScope store_id=store.id.clone() cart back=this_page>
            <div class="store-body">
                <nav class="aisle-rail" aria-label=td_string!(l, catalog.aisles_label)>{rail}</nav>
                <div class="products" data-testid="products" data-q=searching.clone().unwrap_or_default()
                    data-aisle=request.category.clone().unwrap_or_default()>
                    {if products.products.is_empty() {
                        view! { <p class="notice empty" data-testid="no-products">{empty_text}</p> }.into_any()
                    } else {
                        view! {
                            <ul class="product-grid">
                                {products.products.into_iter().enumerate().map(|(i, p)| {
                                    let loading = if i < FIRST_SCREEN_CARDS { Loading::Eager } else { Loading::Lazy };
                                    view! { <ProductCard product=p store_id=store.id.clone() loading/> }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    {next.map(|h| view! { <a class="more" href=h data-testid="next-page" rel="next">{td_string!(l, catalog.next_page)}</a> })}
                </div>
            </div>
            <CartBar min_order_fen=store.min_order_fen at/>
        </CartScope>
    }
}

/// Product cards a 360×640 phone shows before scrolling (their pictures load at once, the rest
/// lazily).
const FIRST_SCREEN_CARDS: usize = 4;

/// A product picture's width in lists (cards, search results, cart and order lines); the style
/// sheet's `.pic-64` is the same box.
pub const LIST_PICTURE_PX: u32 = 64;

#[component]
fn ProductCard(product: Product, store_id: String, loading: Loading) -> impl IntoView {
    let l = locale();
    let state = product.stock_state();
    // The store's group-buy offer: a plain link to start a group (no wasm needed).
    let group = product.group.map(|g| {
        let href = crate::links::group_start_href(&store_id, &product.sku);
        view! {
            <a class="group-offer" data-testid="start-group" href=href>
                {td_string!(l, catalog.group_offer, size = g.size, price = format_yuan(g.price_fen))}
            </a>
        }
    });
    view! {
        <li class="product-card" class:sold-out=state == StockState::SoldOut data-testid="product-card"
            data-sku=product.sku.clone() data-stock=product.stock data-price-fen=product.price_fen>
            <ProductImage image=product.image.clone() alt=product.name.clone() px=LIST_PICTURE_PX loading/>
            <span class="product-name">{product.name.clone()}</span>
            <span class="product-unit">{format!("/{}", product.unit)}</span>
            <span class="price" data-testid="price">{format_yuan(product.price_fen)}</span>
            <span class=format!("stock {}", state.slug()) data-testid="stock">{stock_label(state, l)}</span>
            {group}
            <QuantityStepper sku=product.sku.clone() name=product.name.clone() stock=product.stock price_fen=product.price_fen/>
        </li>
    }
}

/// Which nearby stores have `q` in stock: fastest, then cheapest, first.
#[server(input = Json)]
pub async fn search_products(query: SearchQueryRaw) -> Result<SearchResponse, AppError> {
    use jishi_api::catalog::SearchQuery;
    let q = SearchQuery::parse(&query)?;
    let client = crate::platform_client::from_context()?;
    Ok(client
        .get(jishi_api::routes::PRODUCT_SEARCH.pattern(), &q.to_raw())
        .await?)
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let at = use_location();
    let raw = Memo::new(move |_| {
        query.with(|q| SearchQueryRaw {
            q: q.get("q"),
            lat: q.get("lat"),
            lng: q.get("lng"),
            limit: None,
        })
    });
    let results = Resource::new(
        move || raw.get(),
        |raw| async move {
            if raw.q.as_deref().is_none_or(|q| q.trim().is_empty()) || raw.lat.is_none() {
                return Ok(None);
            }
            search_products(raw).await.map(Some)
        },
    );
    let l = locale();
    let title = format!(
        "{} · {}",
        td_string!(l, catalog.search_title),
        td_string!(l, common.brand)
    );
    view! {
        <Title text=title/>
        <h1>{move || raw.with(|r| match r.q.as_deref().filter(|q| !q.trim().is_empty()) {
            Some(q) => td_string!(l, catalog.search_heading, q = q),
            // The header's search box says the same.
            None => td_string!(l, common.search_placeholder).to_owned(),
        })}</h1>
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, catalog.searching)}</p> }>
            {move || Suspend::new(async move {
                let at = at.get_untracked();
                match (results.await, at) {
                    (_, None) => view! {
                        <p class="notice" data-testid="need-location">{td_string!(l, catalog.need_location)}<a href=crate::links::CHANGE_LOCATION>{td_string!(l, common.choose_location)}</a></p>
                    }.into_any(),
                    (Ok(None), _) => view! { <p class="notice">{td_string!(l, catalog.search_hint)}</p> }.into_any(),
                    (Ok(Some(r)), Some(at)) => view! { <SearchResults response=r at/> }.into_any(),
                    (Err(e), _) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SearchResults(response: SearchResponse, at: LatLng) -> impl IntoView {
    let l = locale();
    if response.results.is_empty() {
        return view! {
            <section class="notice empty" data-testid="empty-results">
                <p>{td_string!(l, catalog.no_hits)}</p>
                <p>
                    {td_string!(l, catalog.rephrase_or)}
                    <a href=crate::links::CHANGE_LOCATION>{td_string!(l, catalog.other_area)}</a>
                    {td_string!(l, catalog.sentence_end)}
                </p>
            </section>
        }
        .into_any();
    }
    view! {
        <ul class="search-results" data-testid="search-results">
            {response.results.into_iter().enumerate().map(|(i, hit)| {
                let href = href(
                    &crate::links::store_path(&hit.store.id),
                    &[("lat", Some(&coord(at.lat()))), ("lng", Some(&coord(at.lng()))), ("q", Some(&hit.product.name))],
                );
                let state = hit.product.stock_state();
                view! {
                    <li>
                        <a class="search-hit" href=href data-testid="search-result" data-store-id=hit.store.id.clone()
                            data-sku=hit.product.sku.clone() data-eta-min=hit.store.eta_min data-price-fen=hit.product.price_fen>
                            <ProductImage image=hit.product.image.clone() alt=hit.product.name.clone() px=LIST_PICTURE_PX
                                loading=if i < FIRST_SCREEN_CARDS { Loading::Eager } else { Loading::Lazy }/>
                            <span class="product-name">{hit.product.name.clone()}</span>
                            <span class="price">{format_yuan(hit.product.price_fen)}</span>
                            <span class=format!("stock {}", state.slug())>{stock_label(state, l)}</span>
                            // The store on a line of its own, under the name and price.
                            <span class="hit-store">
                                <span class="store-name">{hit.store.name.clone()}</span>
                                <span class="eta">{td_string!(l, stores.eta_min, min = hit.store.eta_min)}</span>
                                <span class="distance">{format_distance(hit.store.distance_m)}</span>
                                {(!hit.store.open_now).then(|| view! {
                                    <span class="badge status">{status_text(false, hit.store.opens, hit.store.opens_at.as_deref(), l)}</span>
                                })}
                            </span>
                        </a>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// "有货", "仅剩 3 件", "已售罄" (`StockState::label`) in the page's language.
pub fn stock_label(state: StockState, l: Locale) -> String {
    match state {
        StockState::InStock => td_string!(l, catalog.stock.in_stock).to_owned(),
        StockState::Low(n) => td_string!(l, catalog.stock.low, n = n),
        StockState::SoldOut => td_string!(l, catalog.stock.sold_out).to_owned(),
    }
}

/// "今日 08:00-22:00" and the like (`WeeklyHours::describe_day` after "今日") in the page's language.
fn today_hours_text(today: Option<DayHours>, words: &str, l: Locale) -> String {
    match today {
        // A platform that predates `today` sends only its Chinese words.
        None => td_string!(l, catalog.today, hours = words),
        Some(DayHours::ALL_DAY) => td_string!(l, catalog.today_all_day).to_owned(),
        Some(DayHours::Closed) => td_string!(l, catalog.today_closed).to_owned(),
        Some(DayHours::Open { open, close }) if close <= open => td_string!(
            l,
            catalog.today_overnight,
            open = format_minute(open),
            close = format_minute(close)
        ),
        Some(DayHours::Open { open, close }) => td_string!(
            l,
            catalog.today_hours,
            open = format_minute(open),
            close = format_minute(close)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_api::hours::WeeklyHours;

    #[test]
    fn chinese_labels_read_as_before() {
        for state in [StockState::InStock, StockState::Low(3), StockState::SoldOut] {
            assert_eq!(stock_label(state, Locale::zh_CN), state.label());
            assert!(stock_label(state, Locale::en).is_ascii());
        }
        for hours in [
            "08:00-22:00",
            "00:00-24:00",
            "closed",
            "18:00-02:00",
            "09:30-09:30",
        ] {
            let day: DayHours = hours.parse().unwrap();
            let words = WeeklyHours::every_day(day).describe_day(0);
            assert_eq!(
                today_hours_text(Some(day), &words, Locale::zh_CN),
                format!("今日 {words}")
            );
            assert_eq!(
                today_hours_text(None, &words, Locale::zh_CN),
                format!("今日 {words}")
            );
        }
        let late: DayHours = "18:00-02:00".parse().unwrap();
        assert_eq!(
            today_hours_text(Some(late), "", Locale::en),
            "Today 18:00–02:00 (next day)"
        );
    }
}
