//! `/live`: the live rooms for the shopper's point, and the home page's "直播中" strip. Plain
//! server HTML: a card is a link to the room.

use jishi_api::live::{LiveRoom, RoomStatus, RoomsResponse};
use jishi_api::money::format_yuan;
use jishi_api::LatLng;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_meta::Title;

use crate::components::{use_location, ErrorNotice};
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{locale, room_status_label};
use crate::links::{format_distance, home_at, live_href, live_list_href, CHANGE_LOCATION};

use super::format_count;

/// The rooms for a point (live rooms that can deliver there first), or all rooms without one.
#[server(input = Json)]
pub async fn live_rooms(at: Option<LatLng>) -> Result<RoomsResponse, AppError> {
    use crate::links::at_pairs;
    let client = crate::platform_client::from_context()?;
    let query: Vec<(&str, String)> = at.map(|p| at_pairs(p).to_vec()).unwrap_or_default();
    Ok(client
        .get(jishi_api::routes::LIVE_ROOMS.pattern(), &query)
        .await?)
}

#[component]
pub fn LiveListPage() -> impl IntoView {
    let at = use_location();
    let rooms = Resource::new(move || at.get(), live_rooms);
    let l = locale();
    let title = format!(
        "{} · {}",
        td_string!(l, live.list.title),
        td_string!(l, common.brand)
    );
    view! {
        <Title text=title/>
        <h1>{td_string!(l, live.list.title)}</h1>
        <p class="lead">{td_string!(l, live.list.lead)}</p>
        {move || at.get().is_none().then(|| view! {
            <p class="notice" data-testid="live-no-location">
                {td_string!(l, live.list.no_location_before)}
                <a href=CHANGE_LOCATION>{td_string!(l, live.list.no_location_link)}</a>
                {td_string!(l, live.list.no_location_after)}
            </p>
        })}
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, live.list.loading)}</p> }>
            {move || Suspend::new(async move {
                let at = at.get_untracked();
                match rooms.await {
                    Ok(r) if r.rooms.is_empty() => view! {
                        <section class="notice empty" data-testid="live-empty">
                            <h2>{td_string!(l, live.list.empty_heading)}</h2>
                            <p>{td_string!(l, live.list.empty_text)}</p>
                            <p><a class="button primary" href=home_at(at)>{td_string!(l, live.list.empty_stores)}</a></p>
                        </section>
                    }.into_any(),
                    Ok(r) => view! {
                        <ul class="live-list" data-testid="live-list">
                            {r.rooms.into_iter().map(|room| view! { <RoomCard room at/> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e heading=td_string!(l, live.unavailable)/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// One room as a card linking to it: title, host, status, viewers, the pinned product at its live
/// price.
#[component]
pub fn RoomCard(room: LiveRoom, at: Option<LatLng>) -> impl IntoView {
    let l = locale();
    let href = live_href(&room.id, at);
    let pinned = room.pinned.clone().map(|p| {
        view! {
            <p class="live-card-pin" data-testid="live-card-pin" data-sku=p.sku.clone()>
                <span class="product-name">{p.name}</span>
                <span class="live-price">{format_yuan(p.live_price_fen)}</span>
                <s class="regular-price" aria-label=td_string!(l, live.regular_price)>{format_yuan(p.price_fen)}</s>
            </p>
        }
    });
    let live = room.status == RoomStatus::Live;
    let preview = (room.status == RoomStatus::Scheduled).then(|| {
        let starts = room
            .starts_at
            .as_deref()
            .and_then(|t| crate::lang::beijing_date_time(t, l))
            .map(|t| td_string!(l, live.preview.starts, time = t));
        view! {
            <p class="live-card-preview" data-testid="live-card-starts" data-starts-at=room.starts_at.clone()>
                <span>{starts}</span>" · "
                <span class="hint">{td_string!(l, live.preview.count, count = room.reservations)}</span>
            </p>
        }
    });
    view! {
        <li class="live-card-item">
            <a class="live-card" class:live=live href=href data-testid="live-room-card"
                data-room-id=room.id.clone() data-status=room.status.as_str()>
                <div class="live-card-head">
                    <span class="badge live-status" class:on=live>{room_status_label(room.status, l)}</span>
                    <span class="live-title">{room.title.clone()}</span>
                </div>
                <div class="store-meta">
                    <span class="host">{td_string!(l, live.host_label)}<span class="host-name">{room.host.name.clone()}</span></span>
                    <span class="viewers">{td_string!(l, live.watching, count = format_count(room.viewer_count, l))}</span>
                    {room.distance_m.map(|d| view! {
                        <span class="distance">{td_string!(l, live.list.nearest_store, distance = format_distance(d))}</span>
                    })}
                </div>
                {preview}
                {pinned}
            </a>
        </li>
    }
}

/// The home page's strip: the rooms live now near the point, then the scheduled ones with their
/// start, when there are any. Nothing when there are none or the list cannot be had (the home
/// page is about stores).
#[component]
pub fn LiveStrip(at: LatLng) -> impl IntoView {
    let rooms = Resource::new(move || Some(at), live_rooms);
    let l = locale();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                // The list comes live rooms first, then scheduled ones.
                let live: Vec<LiveRoom> = rooms
                    .await
                    .map(|r| r.rooms.into_iter().filter(|r| r.status != RoomStatus::Ended).take(6).collect())
                    .unwrap_or_default();
                if live.is_empty() {
                    return ().into_any();
                }
                view! {
                    <section class="live-strip" data-testid="live-strip" aria-labelledby="live-strip-heading">
                        <h2 id="live-strip-heading">{td_string!(l, live.list.live_now)}</h2>
                        <ul class="live-strip-list">
                            {live.into_iter().map(|room| view! { <RoomCard room at=Some(at)/> }).collect_view()}
                        </ul>
                        <a class="more" href=live_list_href(Some(at))>{td_string!(l, live.list.all_rooms)}</a>
                    </section>
                }
                .into_any()
            })}
        </Suspense>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::live::fixtures;

    #[test]
    fn a_card_links_to_the_room_with_the_point_and_shows_the_live_price() {
        let room = LiveRoom {
            title: "<b>鲜果</b>直播".into(),
            viewer_count: 12_345,
            pinned: Some(fixtures::strawberry()),
            distance_m: Some(1_200),
            stores: vec![],
            bag: vec![],
            ..fixtures::room()
        };
        let at = LatLng::new(39.9088, 116.4605).ok();
        let html = Owner::new().with(|| view! { <RoomCard room at/> }.to_html());
        assert!(
            html.contains(r#"href="/live/live_1?lat=39.908800&amp;lng=116.460500""#)
                || html.contains(r#"href="/live/live_1?lat=39.908800&lng=116.460500""#),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;鲜果&lt;/b&gt;直播"), "{html}");
        assert!(html.contains("1.2万 人在看"), "{html}");
        assert!(html.contains("¥29.90") && html.contains("¥39.90"), "{html}");
        assert!(html.contains(r#"data-status="live""#), "{html}");
    }
}
