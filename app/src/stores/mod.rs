//! Nearby stores: the home page's list, filters and map.

use jishi_api::money::format_yuan;
use jishi_api::stores::{NearbyQueryRaw, NearbyResponse, Sort, StoreSummary};
use jishi_api::{Category, LatLng};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_meta::{Script, Stylesheet, Title};
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::components::{use_location, ErrorNotice};
use crate::error::AppError;
use crate::links::{format_distance, href, store_href};
use crate::live::LiveStrip;
use crate::location::LocationPicker;
use crate::map::{StoreMap, StorePin};

/// Stores delivering to the point in `query`, validated here with the same rules as the platform.
#[server(input = Json)]
pub async fn nearby_stores(query: NearbyQueryRaw) -> Result<NearbyResponse, AppError> {
    use jishi_api::stores::NearbyQuery;
    let q = NearbyQuery::parse(&query)?;
    let client = crate::platform_client::from_context()?;
    Ok(client.get("/v1/stores/nearby", &q.to_raw()).await?)
}

fn raw_from_params(q: &ParamsMap) -> NearbyQueryRaw {
    NearbyQueryRaw {
        lat: q.get("lat"),
        lng: q.get("lng"),
        radius_m: q.get("radius_m"),
        category: q.get("category"),
        open_now: q.get("open_now"),
        sort: q.get("sort"),
        limit: None,
        cursor: q.get("cursor"),
    }
}

/// The home page's URL for a set of filters (the cursor is dropped: a new filter starts at page one).
fn filter_href(raw: &NearbyQueryRaw) -> String {
    href(
        "/",
        &[
            ("lat", raw.lat.as_deref()),
            ("lng", raw.lng.as_deref()),
            ("category", raw.category.as_deref()),
            ("open_now", raw.open_now.as_deref()),
            ("sort", raw.sort.as_deref()),
            ("radius_m", raw.radius_m.as_deref()),
            ("cursor", raw.cursor.as_deref()),
        ],
    )
}

fn with(raw: &NearbyQueryRaw, change: impl FnOnce(&mut NearbyQueryRaw)) -> String {
    let mut next = raw.clone();
    next.cursor = None;
    change(&mut next);
    filter_href(&next)
}

#[component]
pub fn HomePage() -> impl IntoView {
    let query = use_query_map();
    let raw = Memo::new(move |_| query.with(raw_from_params));
    let at = use_location();
    let has_point = move || raw.with(|r| r.lat.is_some() || r.lng.is_some());
    let results = Resource::new(
        move || raw.get(),
        |raw| async move {
            if raw.lat.is_none() && raw.lng.is_none() {
                return Ok(None);
            }
            nearby_stores(raw).await.map(Some)
        },
    );

    view! {
        <Title text="附近门店 · 即时"/>
        // Every state of this page can show a map (the picker's or the stores').
        <Script src=crate::assets::LEAFLET_JS defer="defer"/>
        <Stylesheet href=crate::assets::LEAFLET_CSS/>
        <Show when=has_point fallback=move || view! {
            <h1>"选择收货位置"</h1>
            <p class="lead">"即时把附近门店的商品，约一小时送到你手上。"</p>
            <LocationPicker change=query.with_untracked(|q| q.get_str("change").is_some())/>
        }>
            <h1>"附近门店"</h1>
            {move || at.get().map(|at| view! { <LiveStrip at/> })}
            <Filters raw=raw/>
            <Suspense fallback=|| view! { <p class="loading">"正在查找附近门店…"</p> }>
                {move || Suspend::new(async move {
                    match (results.await, at.get_untracked()) {
                        (Ok(Some(r)), Some(at)) => view! { <StoreResults at response=r raw=raw.get_untracked()/> }.into_any(),
                        (Ok(_), _) => ().into_any(),
                        (Err(e), _) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </Show>
    }
}

#[component]
fn Filters(raw: Memo<NearbyQueryRaw>) -> impl IntoView {
    let chip = move |slug: Option<Category>| {
        let label = slug.map_or("全部", Category::label);
        let data_category = slug.map_or("all", Category::slug);
        let target = move || {
            with(&raw.get(), |r| {
                r.category = slug.map(|c| c.slug().to_owned())
            })
        };
        let active = move || raw.with(|r| r.category.as_deref() == slug.map(Category::slug));
        view! {
            <a class="chip" data-testid="category-chip" data-category=data_category href=target
                aria-current=move || active().then_some("true") class:active=active>{label}</a>
        }
    };
    let sort_is = move |s: Sort| raw.with(|r| r.sort.as_deref().unwrap_or("eta") == s.as_str());
    let open_now = move || raw.with(|r| matches!(r.open_now.as_deref(), Some("true" | "1")));
    view! {
        <nav class="category-chips" aria-label="门店分类">
            {chip(None)}
            {Category::ALL.into_iter().map(|c| chip(Some(c))).collect_view()}
        </nav>
        <div class="toolbar">
            <span class="sort" role="group" aria-label="排序">
                <a data-testid="sort-eta" aria-current=move || sort_is(Sort::Eta).then_some("true") class:active=move || sort_is(Sort::Eta)
                    href=move || with(&raw.get(), |r| r.sort = Some("eta".into()))>"送达最快"</a>
                <a data-testid="sort-distance" aria-current=move || sort_is(Sort::Distance).then_some("true") class:active=move || sort_is(Sort::Distance)
                    href=move || with(&raw.get(), |r| r.sort = Some("distance".into()))>"距离最近"</a>
            </span>
            <span class="radius" role="group" aria-label="距离范围">
                {[(None, "不限距离"), (Some("1000"), "1公里内"), (Some("3000"), "3公里内")].into_iter().map(|(radius, label)| {
                    let active = move || raw.with(|r| r.radius_m.as_deref() == radius);
                    view! {
                        <a data-testid="radius-option" data-radius=radius.unwrap_or("any")
                            aria-current=move || active().then_some("true") class:active=active
                            href=move || with(&raw.get(), |r| r.radius_m = radius.map(str::to_owned))>{label}</a>
                    }
                }).collect_view()}
            </span>
            <a class="toggle" data-testid="open-now-toggle" aria-current=move || open_now().then_some("true") class:active=open_now
                href=move || with(&raw.get(), |r| r.open_now = if open_now() { None } else { Some("true".into()) })>
                "只看营业中"
            </a>
        </div>
    }
}

#[component]
fn StoreResults(at: LatLng, response: NearbyResponse, raw: NearbyQueryRaw) -> impl IntoView {
    if response.stores.is_empty() {
        return view! { <EmptyResults raw/> }.into_any();
    }
    let pins: Vec<StorePin> = response
        .stores
        .iter()
        .map(|s| StorePin::from_summary(s, store_href(&s.id, Some(at))))
        .collect();
    let next = response.next_cursor.clone().map(|c| {
        let mut next = raw.clone();
        next.cursor = Some(c);
        filter_href(&next)
    });
    let first = raw.cursor.is_some().then(|| with(&raw, |_| {}));
    view! {
        <div class="results">
            // The filters this list was fetched for, so scripts can tell a fresh list from the last one.
            <ul class="store-list" data-testid="store-list" data-sort=raw.sort.clone().unwrap_or_else(|| "eta".into())
                data-category=raw.category.clone().unwrap_or_else(|| "all".into())
                data-open-now=raw.open_now.is_some().to_string()
                data-radius=raw.radius_m.clone().unwrap_or_else(|| "any".into())>
                {response.stores.into_iter().map(|s| view! { <StoreCard store=s at/> }).collect_view()}
            </ul>
            <StoreMap center=at pins/>
        </div>
        <nav class="pager" aria-label="翻页">
            {first.map(|h| view! { <a href=h data-testid="first-page">"回到第一页"</a> })}
            {next.map(|h| view! { <a href=h data-testid="next-page" rel="next">"下一页"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn EmptyResults(raw: NearbyQueryRaw) -> impl IntoView {
    let widen = raw
        .radius_m
        .is_some()
        .then(|| with(&raw, |r| r.radius_m = None));
    let all_open = raw
        .open_now
        .is_some()
        .then(|| with(&raw, |r| r.open_now = None));
    let all_categories = raw
        .category
        .is_some()
        .then(|| with(&raw, |r| r.category = None));
    view! {
        <section class="notice empty" data-testid="empty-results">
            <h2>"这里暂时没有能送达的门店"</h2>
            <p>"门店只配送到自己的配送范围内（通常 3–5 公里）。可以试试："</p>
            <ul>
                {widen.map(|h| view! { <li><a href=h>"扩大搜索范围"</a></li> })}
                {all_open.map(|h| view! { <li><a href=h>"也看看休息中的门店（可预约配送）"</a></li> })}
                {all_categories.map(|h| view! { <li><a href=h>"查看全部分类"</a></li> })}
                <li><a href="/?change=1">"换一个区域"</a></li>
            </ul>
        </section>
    }
}

#[component]
fn StoreCard(store: StoreSummary, at: LatLng) -> impl IntoView {
    let href = store_href(&store.id, Some(at));
    let fee = if store.delivery_fee_fen == 0 {
        "免配送费".to_owned()
    } else {
        format!("配送费 {}", format_yuan(store.delivery_fee_fen))
    };
    let min_order = if store.min_order_fen == 0 {
        "无起送价".to_owned()
    } else {
        format!("起送 {}", format_yuan(store.min_order_fen))
    };
    let status = if store.open_now {
        "营业中".to_owned()
    } else {
        store
            .opens_at
            .clone()
            .unwrap_or_else(|| "休息中".to_owned())
    };
    let hour_delivery = store.eta_min <= jishi_api::geo::HOUR_DELIVERY_MAX_MIN;
    view! {
        <li class="store-card-item">
            <a class="store-card" class:closed=!store.open_now href=href data-testid="store-card"
                data-store-id=store.id.clone() data-distance-m=store.distance_m data-eta-min=store.eta_min
                data-category=store.category.slug() data-open=store.open_now.to_string()>
                <div class="store-card-head">
                    <span class="store-name">{store.name.clone()}</span>
                    <span class="rating" aria-label="评分">{format!("★{:.1}", store.rating)}</span>
                </div>
                <div class="store-meta">
                    <span class="category">{store.category.label()}</span>
                    <span class="distance">{format_distance(store.distance_m)}</span>
                    <span class="eta" data-testid="store-eta">{format!("约 {} 分钟", store.eta_min)}</span>
                </div>
                <div class="store-meta">
                    <span>{fee}</span>
                    <span>{min_order}</span>
                </div>
                <div class="badges">
                    <span class="badge status" class:open=store.open_now data-testid="store-status">{status}</span>
                    {hour_delivery.then(|| view! { <span class="badge hour">"小时达"</span> })}
                    {store.is_24h.then(|| view! { <span class="badge h24" data-testid="badge-24h">"24小时"</span> })}
                    {(store.night && !store.is_24h).then(|| view! { <span class="badge night" data-testid="badge-night">"夜间营业"</span> })}
                </div>
            </a>
        </li>
    }
}
