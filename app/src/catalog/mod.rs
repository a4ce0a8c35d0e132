//! A store's page (header, category rail, products, in-store search) and nearby product search.

use jishi_api::cart::Cart;
use jishi_api::catalog::{
    Product, ProductsQueryRaw, ProductsResponse, SearchQueryRaw, SearchResponse, StockState,
};
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
use crate::links::{coord, format_distance, href, store_href};

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
    let id_path = crate::links::encode(&id);
    let point: Vec<(&str, String)> = at
        .map(|p| vec![("lat", coord(p.lat())), ("lng", coord(p.lng()))])
        .unwrap_or_default();
    let detail_path = format!("/v1/stores/{id_path}");
    let products_path = format!("/v1/stores/{id_path}/products");
    let products_raw = products.to_raw();
    let cart_path = format!("/v1/cart/{id_path}");
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
    view! {
        <Suspense fallback=|| view! { <p class="loading">"正在打开门店…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <StoreView data=d at=at.get_untracked() request=request.get_untracked().3/> }.into_any(),
                    Err(e) if e.is_not_found() => view! {
                        <Title text="找不到这家门店 · 即时"/>
                        <ErrorNotice error=e heading="找不到这家门店"/>
                    }.into_any(),
                    Err(e) => view! {
                        <Title text="门店暂时打不开 · 即时"/>
                        <ErrorNotice error=e heading="门店暂时打不开"/>
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
    let store = detail.store.clone();
    let base = store_href(&store.id, at);
    let store_path = format!("/store/{}", crate::links::encode(&store.id));
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
            let label = aisle.clone().unwrap_or_else(|| "全部商品".to_owned());
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
    let status = if detail.open_now {
        "营业中".to_owned()
    } else {
        detail
            .opens_at
            .clone()
            .unwrap_or_else(|| "休息中".to_owned())
    };
    let quote = detail.quote.map(|q| {
        let fee = if q.delivery_fee_fen == 0 { "免配送费".to_owned() } else { format!("配送费 {}", format_yuan(q.delivery_fee_fen)) };
        view! {
            <span class="eta" data-testid="store-eta">{format!("约 {} 分钟送达", q.eta_min)}</span>
            <span>{format_distance(q.distance_m)}</span>
            <span>{fee}</span>
            {(!q.delivers).then(|| view! { <span class="warn" data-testid="out-of-range">"超出配送范围"</span> })}
        }
    });
    let min_order = if store.min_order_fen == 0 {
        "无起送价".to_owned()
    } else {
        format!("起送 {}", format_yuan(store.min_order_fen))
    };
    let searching = request.q.clone();
    let empty_text = if searching.is_some() {
        "没有找到相关商品，换个词试试。"
    } else {
        "这个分类暂时没有商品。"
    };
    view! {
        <Title text=format!("{} · 即时", store.name)/>
        <section class="store-header" data-testid="store-header" data-store-id=store.id.clone()>
            <h1>{store.name.clone()}</h1>
            <p class="store-meta">
                <span class="category">{store.category.label()}</span>
                <span class="rating">{format!("★{:.1}", store.rating)}</span>
                <span class="badge status" class:open=detail.open_now data-testid="store-status">{status}</span>
                <span data-testid="store-hours">{format!("今日 {}", detail.today_hours)}</span>
            </p>
            <p class="store-meta">
                {quote}
                <span>{min_order}</span>
            </p>
            {store.category.installs_next_day().then(|| view! { <p class="note">"大家电次日送装一体"</p> })}
            <p class="address">{store.address.clone()}</p>
            <a class="back" href=at.map(crate::links::home_href).unwrap_or_else(|| "/".into())>"← 返回附近门店"</a>
        </section>
        <form class="store-search" method="get" action=base.clone() role="search" aria-label="在本店搜索">
            {at.map(|p| view! {
                <input type="hidden" name="lat" value=coord(p.lat())/>
                <input type="hidden" name="lng" value=coord(p.lng())/>
            })}
            <input type="search" name="q" placeholder="在本店搜索" aria-label="在本店搜索"
                data-testid="store-search" maxlength="40" value=searching.clone().unwrap_or_default()/>
            <button type="submit">"搜索"</button>
        </form>
        // The steppers in the grid and the bar below share this store's cart.
        <CartScope store_id=store.id.clone() cart back=this_page>
            <div class="store-body">
                <nav class="aisle-rail" aria-label="商品分类">{rail}</nav>
                <div class="products" data-testid="products" data-q=searching.clone().unwrap_or_default()
                    data-aisle=request.category.clone().unwrap_or_default()>
                    {if products.products.is_empty() {
                        view! { <p class="notice empty" data-testid="no-products">{empty_text}</p> }.into_any()
                    } else {
                        view! {
                            <ul class="product-grid">
                                {products.products.into_iter().map(|p| view! { <ProductCard product=p store_id=store.id.clone()/> }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    {next.map(|h| view! { <a class="more" href=h data-testid="next-page" rel="next">"下一页"</a> })}
                </div>
            </div>
            <CartBar min_order_fen=store.min_order_fen at/>
        </CartScope>
    }
}

#[component]
fn ProductCard(product: Product, store_id: String) -> impl IntoView {
    let state = product.stock_state();
    // The store's group-buy offer: a plain link to start a group (no wasm needed).
    let group = product.group.map(|g| {
        let href = crate::groups::start_href(&store_id, &product.sku);
        view! {
            <a class="group-offer" data-testid="start-group" href=href>
                {format!("{} 人团 {} · 发起拼团", g.size, format_yuan(g.price_fen))}
            </a>
        }
    });
    view! {
        <li class="product-card" class:sold-out=state == StockState::SoldOut data-testid="product-card"
            data-sku=product.sku.clone() data-stock=product.stock data-price-fen=product.price_fen>
            <span class="product-name">{product.name.clone()}</span>
            <span class="product-unit">{format!("/{}", product.unit)}</span>
            <span class="price" data-testid="price">{format_yuan(product.price_fen)}</span>
            <span class=format!("stock {}", state.slug()) data-testid="stock">{state.label()}</span>
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
    Ok(client.get("/v1/products/search", &q.to_raw()).await?)
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
    view! {
        <Title text="搜商品 · 即时"/>
        <h1>{move || raw.with(|r| match r.q.as_deref().filter(|q| !q.trim().is_empty()) {
            Some(q) => format!("附近哪里有「{q}」"),
            None => "搜附近门店的商品".to_owned(),
        })}</h1>
        <Suspense fallback=|| view! { <p class="loading">"正在搜索…"</p> }>
            {move || Suspend::new(async move {
                let at = at.get_untracked();
                match (results.await, at) {
                    (_, None) => view! {
                        <p class="notice" data-testid="need-location">"先选择收货位置，才能知道哪些门店能送到。"<a href="/?change=1">"选择位置"</a></p>
                    }.into_any(),
                    (Ok(None), _) => view! { <p class="notice">"在上方输入商品名，例如：牛奶、充电宝、玫瑰。"</p> }.into_any(),
                    (Ok(Some(r)), Some(at)) => view! { <SearchResults response=r at/> }.into_any(),
                    (Err(e), _) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SearchResults(response: SearchResponse, at: LatLng) -> impl IntoView {
    if response.results.is_empty() {
        return view! {
            <section class="notice empty" data-testid="empty-results">
                <p>"附近能送到的门店暂时都没有这件商品有货。"</p>
                <p>"换个说法试试，或"<a href="/?change=1">"换一个区域"</a>"。"</p>
            </section>
        }
        .into_any();
    }
    view! {
        <ul class="search-results" data-testid="search-results">
            {response.results.into_iter().map(|hit| {
                let href = href(
                    &format!("/store/{}", crate::links::encode(&hit.store.id)),
                    &[("lat", Some(&coord(at.lat()))), ("lng", Some(&coord(at.lng()))), ("q", Some(&hit.product.name))],
                );
                let state = hit.product.stock_state();
                view! {
                    <li>
                        <a class="search-hit" href=href data-testid="search-result" data-store-id=hit.store.id.clone()
                            data-sku=hit.product.sku.clone() data-eta-min=hit.store.eta_min data-price-fen=hit.product.price_fen>
                            <span class="product-name">{hit.product.name.clone()}</span>
                            <span class="price">{format_yuan(hit.product.price_fen)}</span>
                            <span class=format!("stock {}", state.slug())>{state.label()}</span>
                            <span class="store-name">{hit.store.name.clone()}</span>
                            <span class="eta">{format!("约 {} 分钟", hit.store.eta_min)}</span>
                            <span class="distance">{format_distance(hit.store.distance_m)}</span>
                            {(!hit.store.open_now).then(|| view! { <span class="badge status">{hit.store.opens_at.clone().unwrap_or_else(|| "休息中".into())}</span> })}
                        </a>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
