//! An ended room's replay (回放) on `/live/:id`: the recording, its product chapters, and beside
//! the video the shop as the host showed it at that point (the pin and the bag, folded from the
//! room's event log with `Replay::shop_at`). Buying goes through the room's buy sheet, at the
//! store's own price: the live price held only while the room was live.
//!
//! One time base: seconds since the room went live (`Replay::started_at`). The recording's
//! playlist dates each segment on the same wall clock, so a chapter maps to a point in the video
//! (`jishi_api::media::position_at`) and the video's point back to the shop (`wall_at`), across
//! gaps when nobody published.

use jishi_api::auth::Address;
use jishi_api::live::{Pin, Replay};
use jishi_api::media::{position_at, wall_at, SegmentTime};
use jishi_api::money::format_yuan;
use jishi_api::LatLng;
use leptos::prelude::*;

use crate::clock::mm_ss;
use crate::i18n::td_string;
use crate::lang::locale;
use crate::links::sign_in_href;
use crate::pay::Payment;

/// What the island starts from (serialized into the page).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReplayState {
    pub room_id: String,
    pub replay: Replay,
    pub signed_in: bool,
    pub addresses: Vec<Address>,
    pub at: Option<LatLng>,
    /// This page's URL, where sign-in comes back to.
    pub room_href: String,
}

/// A product as bought from a replay: at its regular price (the platform charges the chosen
/// store's own price; the quote shows it).
pub fn at_regular_price(pin: Pin) -> Pin {
    Pin {
        live_price_fen: pin.price_fen,
        ..pin
    }
}

/// Seconds since the room went live at the video's `position_s`, on the recording's dates (or
/// the position itself when the playlist has none).
pub fn broadcast_second(times: &[SegmentTime], started_ms: i64, position_s: f64) -> f64 {
    wall_at(times, position_s).map_or(position_s, |wall| {
        ((wall - started_ms) as f64 / 1000.0).max(0.0)
    })
}

/// Where in the video the broadcast's second `at_s` is.
pub fn video_position(times: &[SegmentTime], started_ms: i64, at_s: f64) -> f64 {
    if times.is_empty() {
        return at_s;
    }
    position_at(times, started_ms + (at_s * 1000.0).round() as i64)
}

/// Where the recording is: asked for, playable, or not there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Recording {
    Asked,
    Ready,
    Unavailable,
}

impl Recording {
    fn as_str(self) -> &'static str {
        match self {
            Recording::Asked => "loading",
            Recording::Ready => "ready",
            Recording::Unavailable => "unavailable",
        }
    }
}

#[island(lazy)]
pub fn ReplayView(state: ReplayState) -> impl IntoView {
    crate::hydration::island_hydrated();
    let ReplayState {
        room_id,
        replay,
        signed_in,
        addresses,
        at,
        room_href,
    } = state;
    let l = locale();
    let started_ms = jishi_api::time::parse_ms(&replay.started_at).unwrap_or(0);
    let hls = replay.hls.clone();
    let chapters = replay.chapters.clone();
    let replay = StoredValue::new(replay);
    let room_id = StoredValue::new(room_id);
    let sign_in = sign_in_href(&room_href);
    let times = StoredValue::new(Vec::<SegmentTime>::new());
    let loading = RwSignal::new(Recording::Asked);
    // The broadcast's second at the video's point.
    let at_s = RwSignal::new(0.0f64);
    let video = NodeRef::<leptos::html::Video>::new();

    // Half a second's grace: a chapter's second is whole (rounded down), and a seek may land a
    // hair before the point asked for.
    let shop = Memo::new(move |_| replay.with_value(|r| r.shop_at(at_s.get() + 0.5)));
    let pinned = Memo::new(move |_| shop.with(|(p, _)| p.clone()));
    let bag = Memo::new(move |_| shop.with(|(_, b)| b.clone()));

    #[cfg(feature = "hydrate")]
    {
        let url = hls.clone();
        Effect::new(move |started: Option<bool>| {
            if started == Some(true) {
                return true;
            }
            let Some(el) = video.get() else {
                return false;
            };
            let url = url.clone();
            leptos::task::spawn_local(async move {
                let playlist = match gloo_net::http::Request::get(&url).send().await {
                    Ok(r) if r.ok() => r.text().await.ok(),
                    _ => None,
                };
                let Some(playlist) = playlist else {
                    let _ = loading.try_set(Recording::Unavailable);
                    return;
                };
                let segments = jishi_api::media::segment_times(&playlist);
                let start = video_position(&segments, started_ms, 0.0);
                let _ = times.try_update_value(|t| *t = segments);
                if super::video::play_recording(&el, &url).await {
                    // From where the room went live, not from an earlier broadcast's end.
                    if start > 0.0 {
                        el.set_current_time(start);
                    }
                    let _ = loading.try_set(Recording::Ready);
                } else {
                    let _ = loading.try_set(Recording::Unavailable);
                }
            });
            true
        });
    }

    let follow = move |ev: leptos::ev::Event| {
        let el: web_sys::HtmlVideoElement = event_target(&ev);
        let second = times.with_value(|t| broadcast_second(t, started_ms, el.current_time()));
        at_s.set(second);
    };
    let seek = move |second: u32| {
        at_s.set(f64::from(second));
        if let Some(el) = video.get_untracked() {
            let position = times.with_value(|t| video_position(t, started_ms, f64::from(second)));
            el.set_current_time(position);
            #[cfg(feature = "hydrate")]
            super::video::play_quietly(&el);
        }
    };

    // The buy sheet's product, kept while it is open whatever the video shows meanwhile.
    let sheet_open = RwSignal::new(false);
    let buy_sku = RwSignal::new(None::<String>);
    let buying = Memo::new(move |_| {
        buy_sku.with(|sku| {
            let sku = sku.as_ref()?;
            replay.with_value(|r| r.product(sku).cloned().map(at_regular_price))
        })
    });
    let buy = move |sku: String| {
        buy_sku.set(Some(sku));
        sheet_open.set(true);
    };
    let addresses = RwSignal::new(addresses);
    let payment = Payment::new(None, 0.0);
    let sign_in = StoredValue::new(sign_in);

    let chapter_list = chapters
        .into_iter()
        .map(|c| {
            let name = replay
                .with_value(|r| r.product(&c.sku).map(|p| p.name.clone()))
                .unwrap_or_else(|| c.sku.clone());
            let time = mm_ss(f64::from(c.at_s) * 1000.0);
            let second = c.at_s;
            let current = {
                let sku = c.sku.clone();
                move || pinned.with(|p| p.as_ref().is_some_and(|p| p.sku == sku))
            };
            view! {
                <li>
                    <button type="button" class="chapter" data-testid="replay-chapter" data-sku=c.sku.clone()
                        data-at-s=second aria-current=move || current().then_some("true")
                        on:click=move |_| seek(second)>
                        {td_string!(l, live.replay.chapter, name = name, time = time)}
                    </button>
                </li>
            }
        })
        .collect_view();

    view! {
        <section class="replay" data-testid="replay" aria-labelledby="replay-heading"
            data-state=move || loading.get().as_str() data-at-s=move || at_s.get().floor() as u64>
            <h2 id="replay-heading">{td_string!(l, live.replay.heading)}</h2>
            <p class="notice" data-testid="live-ended">{td_string!(l, live.replay.ended)}</p>
            <div class="live-video">
                <video node_ref=video data-testid="replay-video" controls="" playsinline="" muted=""
                    preload="metadata" data-hls=hls aria-label=td_string!(l, live.replay.video_label)
                    on:timeupdate=follow on:seeked=follow></video>
                {move || (loading.get() == Recording::Unavailable).then(|| view! {
                    <p class="live-video-unavailable" data-testid="replay-unavailable">{td_string!(l, live.replay.unavailable)}</p>
                })}
            </div>
            <h3>{td_string!(l, live.replay.chapters)}</h3>
            <ol class="replay-chapters" data-testid="replay-chapters">{chapter_list}</ol>
            <ReplayShop pinned bag signed_in sign_in buy/>
            {move || sheet_open.get().then(|| view! {
                <super::viewer::BuySheet room_id pinned=buying addresses at open=sheet_open payment/>
            })}
        </section>
    }
    .into_any()
}

/// The pin and the bag at the video's point, each at its regular price with a buy button.
#[component]
fn ReplayShop(
    pinned: Memo<Option<Pin>>,
    bag: Memo<Vec<Pin>>,
    signed_in: bool,
    sign_in: StoredValue<String>,
    buy: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let l = locale();
    // The pin first, then the rest of the bag.
    let items = Memo::new(move |_| {
        let pin = pinned.get();
        let rest = bag.with(|b| {
            b.iter()
                .filter(|p| pin.as_ref().is_none_or(|pin| pin.sku != p.sku))
                .cloned()
                .collect::<Vec<_>>()
        });
        pin.into_iter()
            .map(|p| (p, true))
            .chain(rest.into_iter().map(|p| (p, false)))
            .collect::<Vec<_>>()
    });
    view! {
        <section class="replay-shop" data-testid="replay-shop" aria-live="polite">
            <p class="price-note">{td_string!(l, live.replay.price_note)}</p>
            {move || items.with(Vec::is_empty).then(|| view! {
                <p class="notice" data-testid="replay-nothing">{td_string!(l, live.replay.nothing)}</p>
            })}
            <ol class="bag-items">
                <For each=move || items.get() key=|(p, current)| (p.sku.clone(), *current) let:item>
                    {
                        let (p, current) = item;
                        let sku = p.sku.clone();
                        view! {
                            <li class="bag-item" data-testid=if current { "pinned-product" } else { "bag-item" }
                                data-sku=p.sku.clone()>
                                <crate::picture::ProductImage image=p.image.clone() alt=p.name.clone()
                                    px=crate::picture::LINE_PICTURE_PX loading=crate::picture::Loading::Lazy/>
                                <div class="bag-item-text">
                                    <p class="product-name">{p.name.clone()}
                                        {current.then(|| view! { <span class="badge">{td_string!(l, live.replay.showing)}</span> })}
                                    </p>
                                    <p class="prices">
                                        <span class="regular-price" data-testid="replay-price" data-fen=p.price_fen>{format_yuan(p.price_fen)}</span>
                                    </p>
                                </div>
                                <super::viewer::BuyButton testid="replay-buy" sku signed_in sign_in on_buy=buy/>
                            </li>
                        }
                    }
                </For>
            </ol>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chapter_maps_to_the_video_and_the_video_back_to_the_broadcast() {
        let started = 1_765_100_000_000;
        // The recording began 10 s before the room went live; a gap of a minute at 20 s.
        let times = [
            SegmentTime {
                wall_ms: started - 10_000,
                start_s: 0.0,
                duration_s: 30.0,
            },
            SegmentTime {
                wall_ms: started + 80_000,
                start_s: 30.0,
                duration_s: 10.0,
            },
        ];
        assert_eq!(video_position(&times, started, 0.0), 10.0);
        assert_eq!(video_position(&times, started, 5.0), 15.0);
        // In the gap: where the video goes on.
        assert_eq!(video_position(&times, started, 40.0), 30.0);
        assert_eq!(video_position(&times, started, 82.0), 32.0);
        assert_eq!(broadcast_second(&times, started, 15.0), 5.0);
        assert_eq!(broadcast_second(&times, started, 2.0), 0.0);
        assert_eq!(broadcast_second(&times, started, 32.0), 82.0);
        // No dates: the video's own seconds.
        assert_eq!(video_position(&[], started, 7.0), 7.0);
        assert_eq!(broadcast_second(&[], started, 7.0), 7.0);
    }
}
