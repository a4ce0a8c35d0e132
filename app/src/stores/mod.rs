//! Nearby stores: the home page's list, filters and map.

use jishi_api::hours::{format_minute, Opening};
use jishi_api::money::format_yuan;
use jishi_api::stores::{NearbyQueryRaw, NearbyResponse, Sort, StoreSummary};
use jishi_api::{Category, LatLng};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::components::{use_location, ErrorNotice};
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{category_label, locale, Locale};
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
    Ok(client
        .get(jishi_api::routes::STORES_NEARBY.pattern(), &q.to_raw())
        .await?)
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
        crate::links::HOME,
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

    let l = locale();
    let title = format!(
        "{} · {}",
        td_string!(l, stores.nearby),
        td_string!(l, common.brand)
    );
    view! {
        <Title text=title/>
        // Its maps (the picker's, the stores') load Leaflet when about to show: see `map.rs`.
        <Show when=has_point fallback=move || view! {
            <h1>{td_string!(l, stores.choose_location)}</h1>
            <p class="lead">{td_string!(l, stores.lead)}</p>
            <LocationPicker change=query.with_untracked(|q| q.get_str("change").is_some())/>
        }>
            <h1>{td_string!(l, stores.nearby)}</h1>
            {move || at.get().map(|at| view! { <LiveStrip at/> })}
            <Filters raw=raw/>
            <Suspense fallback=move || view! { <p class="loading">{td_string!(l, stores.finding)}</p> }>
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
    let l = locale();
    let chip = move |slug: Option<Category>| {
        let label = slug.map_or(td_string!(l, stores.all), |c| category_label(c, l));
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
        <nav class="category-chips" aria-label=td_string!(l, stores.categories_label)>
            {chip(None)}
            {Category::ALL.into_iter().map(|c| chip(Some(c))).collect_view()}
        </nav>
        <div class="toolbar">
            <span class="sort" role="group" aria-label=td_string!(l, stores.sort_label)>
                <a data-testid="sort-eta" aria-current=move || sort_is(Sort::Eta).then_some("true") class:active=move || sort_is(Sort::Eta)
                    href=move || with(&raw.get(), |r| r.sort = Some("eta".into()))>{td_string!(l, stores.sort_eta)}</a>
                <a data-testid="sort-distance" aria-current=move || sort_is(Sort::Distance).then_some("true") class:active=move || sort_is(Sort::Distance)
                    href=move || with(&raw.get(), |r| r.sort = Some("distance".into()))>{td_string!(l, stores.sort_distance)}</a>
            </span>
            <span class="radius" role="group" aria-label=td_string!(l, stores.radius_label)>
                {[
                    (None, td_string!(l, stores.radius_any)),
                    (Some("1000"), td_string!(l, stores.radius_1km)),
                    (Some("3000"), td_string!(l, stores.radius_3km)),
                ].into_iter().map(|(radius, label)| {
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
                {td_string!(l, stores.open_now_only)}
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
    let l = locale();
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
        <nav class="pager" aria-label=td_string!(l, stores.pager_label)>
            {first.map(|h| view! { <a href=h data-testid="first-page">{td_string!(l, stores.first_page)}</a> })}
            {next.map(|h| view! { <a href=h data-testid="next-page" rel="next">{td_string!(l, stores.next_page)}</a> })}
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
    let l = locale();
    view! {
        <section class="notice empty" data-testid="empty-results">
            <h2>{td_string!(l, stores.empty_heading)}</h2>
            <p>{td_string!(l, stores.empty_text)}</p>
            <ul>
                {widen.map(|h| view! { <li><a href=h>{td_string!(l, stores.widen)}</a></li> })}
                {all_open.map(|h| view! { <li><a href=h>{td_string!(l, stores.include_closed)}</a></li> })}
                {all_categories.map(|h| view! { <li><a href=h>{td_string!(l, stores.all_categories)}</a></li> })}
                <li><a href=crate::links::CHANGE_LOCATION>{td_string!(l, stores.other_area)}</a></li>
            </ul>
        </section>
    }
}

#[component]
fn StoreCard(store: StoreSummary, at: LatLng) -> impl IntoView {
    let l = locale();
    let href = store_href(&store.id, Some(at));
    let fee = fee_text(store.delivery_fee_fen, l);
    let min_order = min_order_text(store.min_order_fen, l);
    let status = status_text(store.open_now, store.opens, store.opens_at.as_deref(), l);
    let hour_delivery = store.eta_min <= jishi_api::geo::HOUR_DELIVERY_MAX_MIN;
    view! {
        <li class="store-card-item">
            <a class="store-card" class:closed=!store.open_now href=href data-testid="store-card"
                data-store-id=store.id.clone() data-distance-m=store.distance_m data-eta-min=store.eta_min
                data-category=store.category.slug() data-open=store.open_now.to_string()>
                <div class="store-card-head">
                    <span class="store-name">{store.name.clone()}</span>
                    <span class="rating" aria-label=td_string!(l, stores.rating_label)>{format!("★{:.1}", store.rating)}</span>
                </div>
                <div class="store-meta">
                    <span class="category">{category_label(store.category, l)}</span>
                    <span class="distance">{format_distance(store.distance_m)}</span>
                    <span class="eta" data-testid="store-eta">{td_string!(l, stores.eta_min, min = store.eta_min)}</span>
                </div>
                <div class="store-meta">
                    <span>{fee}</span>
                    <span>{min_order}</span>
                </div>
                <div class="badges">
                    <span class="badge status" class:open=store.open_now data-testid="store-status">{status}</span>
                    // A closed store still delivers later: the list puts it after the open ones.
                    {(!store.open_now).then(|| view! { <span class="badge scheduled" data-testid="badge-scheduled">{td_string!(l, stores.badge_scheduled)}</span> })}
                    {hour_delivery.then(|| view! { <span class="badge hour">{td_string!(l, stores.hour_delivery)}</span> })}
                    {store.is_24h.then(|| view! { <span class="badge h24" data-testid="badge-24h">{td_string!(l, stores.badge_24h)}</span> })}
                    {(store.night && !store.is_24h).then(|| view! { <span class="badge night" data-testid="badge-night">{td_string!(l, stores.badge_night)}</span> })}
                </div>
            </a>
        </li>
    }
}

/// "免配送费" or "配送费 ¥4.00".
pub fn fee_text(fee_fen: i64, l: Locale) -> String {
    if fee_fen == 0 {
        td_string!(l, stores.free_delivery).to_owned()
    } else {
        td_string!(l, stores.delivery_fee, fee = format_yuan(fee_fen))
    }
}

/// "无起送价" or "起送 ¥20.00".
pub fn min_order_text(min_order_fen: i64, l: Locale) -> String {
    if min_order_fen == 0 {
        td_string!(l, stores.no_min_order).to_owned()
    } else {
        td_string!(l, stores.min_order, amount = format_yuan(min_order_fen))
    }
}

/// "营业中"; for a closed store when it opens again ("明天 07:00 开门"), else "休息中".
pub fn status_text(
    open_now: bool,
    opens: Option<Opening>,
    opens_at: Option<&str>,
    l: Locale,
) -> String {
    if open_now {
        return td_string!(l, stores.open_now).to_owned();
    }
    match (opens, opens_at) {
        (Some(o), _) => opening_text(o, l),
        // A platform that predates `opens` sends only its Chinese words.
        (None, Some(words)) => words.to_owned(),
        (None, None) => td_string!(l, stores.closed).to_owned(),
    }
}

/// The page's words for [`Opening::describe`].
fn opening_text(o: Opening, l: Locale) -> String {
    let time = format_minute(o.minute);
    match o.days_ahead {
        0 => td_string!(l, stores.opens_today, time = time),
        1 => td_string!(l, stores.opens_tomorrow, time = time),
        _ => {
            let day = match o.weekday % 7 {
                0 => td_string!(l, stores.weekday.mon),
                1 => td_string!(l, stores.weekday.tue),
                2 => td_string!(l, stores.weekday.wed),
                3 => td_string!(l, stores.weekday.thu),
                4 => td_string!(l, stores.weekday.fri),
                5 => td_string!(l, stores.weekday.sat),
                _ => td_string!(l, stores.weekday.sun),
            };
            td_string!(l, stores.opens_on, day = day, time = time)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_openings_read_as_the_platform_words_them() {
        for days_ahead in 0..=7 {
            for today in 0..7 {
                let o = Opening::new(days_ahead, 7 * 60 + 30, today);
                assert_eq!(opening_text(o, Locale::zh_CN), o.describe());
                assert!(opening_text(o, Locale::en).is_ascii());
            }
        }
        assert_eq!(
            opening_text(Opening::new(2, 420, 0), Locale::en),
            "Opens Wednesday at 07:00"
        );
    }

    #[test]
    fn status_falls_back_to_the_words_of_an_older_platform() {
        let o = Opening::new(1, 420, 0);
        assert_eq!(status_text(true, None, None, Locale::zh_CN), "营业中");
        assert_eq!(status_text(false, None, None, Locale::zh_CN), "休息中");
        assert_eq!(
            status_text(false, Some(o), Some("明天 07:00 开门"), Locale::en),
            "Opens tomorrow at 07:00"
        );
        assert_eq!(
            status_text(false, None, Some("明天 07:00 开门"), Locale::zh_CN),
            "明天 07:00 开门"
        );
    }

    #[test]
    fn fees_and_minimums_keep_their_chinese_words() {
        assert_eq!(fee_text(0, Locale::zh_CN), "免配送费");
        assert_eq!(
            fee_text(400, Locale::zh_CN),
            format!("配送费 {}", format_yuan(400))
        );
        assert_eq!(
            fee_text(400, Locale::en),
            format!("Delivery fee {}", format_yuan(400))
        );
        assert_eq!(min_order_text(0, Locale::zh_CN), "无起送价");
        assert_eq!(
            min_order_text(2000, Locale::zh_CN),
            format!("起送 {}", format_yuan(2000))
        );
    }
}
