//! `/live/:id`: the room as server HTML (title, host, the video area), then one lazy island for
//! everything live: status, viewers, likes, the pinned product and its "buy now" sheet, the sales
//! ticker, the host's message and the comments. The island starts from the server's `RoomView`
//! and folds every event of the room's stream into it.

use jishi_api::auth::Address;
use jishi_api::live::{
    Comment, Flash, FlashPhase, LiveEvent, LiveOrderRequest, LiveQuote, LiveRoom, NewComment, Pin,
    RoomStatus, RoomView, MAX_COMMENT_CHARS, MAX_LIVE_QUANTITY,
};
use jishi_api::money::format_yuan;
use jishi_api::orders::{Order, OrderStatus};
use jishi_api::{ErrorCode, LatLng};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::addresses::{first_choice, AddressChooser};
use crate::api_client::{self, AttemptKey};
use crate::clock::{mm_ss, now_ms, time_left};
use crate::components::{use_location, ErrorNotice, LeafletAssets};
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{api_error_message, locale, room_status_label};
use crate::links::{go_to, live_href, live_list_href, order_href, sign_in_href};
use crate::pay::{PayPanel, Payment};

use super::{apply_event, format_count, stock_text, ticker_line, LikeBatcher};
use jishi_api::routes;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiveRoomPageData {
    pub room: LiveRoom,
    pub signed_in: bool,
    /// The shopper's saved addresses (empty when signed out).
    pub addresses: Vec<Address>,
    /// Whether the shopper has reserved this (scheduled) room.
    #[serde(default)]
    pub reserved: bool,
}

#[server]
pub async fn live_room_page(id: String) -> Result<LiveRoomPageData, AppError> {
    use crate::platform_client::{from_context, get_as_shopper, shopper_addresses};
    let client = from_context()?;
    let path = routes::LIVE_ROOM.path(&[&id]);
    let no_query: [(&str, &str); 0] = [];
    let (room, shopper, reserved) = futures::join!(
        client.get::<LiveRoom>(&path, &no_query),
        shopper_addresses(),
        get_as_shopper::<jishi_api::live::RoomsResponse>(routes::MY_RESERVATIONS.pattern()),
    );
    let room = room?;
    let (signed_in, addresses) = shopper?;
    // A list that cannot be had only means the button offers to reserve again (it is idempotent).
    let reserved = reserved
        .ok()
        .flatten()
        .is_some_and(|r| r.rooms.iter().any(|r| r.id == room.id));
    Ok(LiveRoomPageData {
        room,
        signed_in,
        addresses,
        reserved,
    })
}

#[component]
pub fn LiveRoomPage() -> impl IntoView {
    let params = use_params_map();
    let at = use_location();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(id, live_room_page);
    // Opened by a brand's widget: `?buy=<sku>&from=<its page's origin>`.
    let query = use_query_map();
    let l = locale();
    let page_title = move |heading: &str| format!("{heading} · {}", td_string!(l, common.brand));
    view! {
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, live.room.entering)}</p> }>
            {move || Suspend::new(async move {
                let at = at.get_untracked();
                let (buy, from) = query.with_untracked(|q| {
                    (
                        q.get(jishi_api::widget::BUY_PARAM),
                        q.get(jishi_api::widget::FROM_PARAM),
                    )
                });
                match data.await {
                    Ok(d) => view! { <RoomPage data=d at buy from/> }.into_any(),
                    Err(e) if e.is_not_found() => view! {
                        <Title text=page_title(td_string!(l, live.room.not_found))/>
                        <ErrorNotice error=e heading=td_string!(l, live.room.not_found)/>
                        <p><a href=live_list_href(at)>{td_string!(l, live.room.other_rooms)}</a></p>
                    }.into_any(),
                    Err(e) => view! {
                        <Title text=page_title(td_string!(l, live.unavailable))/>
                        <ErrorNotice error=e heading=td_string!(l, live.unavailable)/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RoomPage(
    data: LiveRoomPageData,
    at: Option<LatLng>,
    /// The product to open the buy sheet for, from a brand's widget.
    #[prop(optional_no_strip)]
    buy: Option<String>,
    /// The origin of the widget's page that opened this one.
    #[prop(optional_no_strip)]
    from: Option<String>,
) -> impl IntoView {
    let LiveRoomPageData {
        room,
        signed_in,
        addresses,
        reserved,
    } = data;
    let title = room.title.clone();
    let host = room.host.name.clone();
    let replay = room
        .replay
        .clone()
        .filter(|_| room.status == RoomStatus::Ended);
    // Opened by a brand's widget: the buy sheet for that product, and (if the shop lists the
    // widget's origin) a report back once paid. Sign-in comes back here.
    let room_href = match &buy {
        Some(sku) => jishi_api::widget::buy_path(&room.id, sku, from.as_deref()),
        None => live_href(&room.id, at),
    };
    let report_to = super::widget::report_origin(from);
    let l = locale();
    let page_title = format!(
        "{title} · {} · {}",
        td_string!(l, common.nav_live),
        td_string!(l, common.brand)
    );
    // An ended room with a recording is its replay; otherwise the live room (or its "ended").
    let body = match replay {
        Some(replay) => {
            let state = super::replay::ReplayState {
                room_id: room.id.clone(),
                replay,
                signed_in,
                addresses,
                at,
                room_href,
            };
            view! { <super::replay::ReplayView state/> }.into_any()
        }
        None => {
            let state = LiveViewState {
                view: RoomView::new(room, vec![]),
                signed_in,
                addresses,
                at,
                room_href,
                reserved,
                buy,
                report_to,
            };
            view! { <LiveRoomView state/> }.into_any()
        }
    };
    view! {
        <Title text=page_title/>
        // The buy sheet's new-address form picks its point on a map (signed-in viewers only).
        <LeafletAssets when=signed_in/>
        <header class="live-header">
            <h1 data-testid="live-title">{title}</h1>
            <p class="live-host" data-testid="live-host">{td_string!(l, live.host_label)}<span class="host-name">{host}</span></p>
        </header>
        {body}
    }
    // Erased: the page's full view type is deep enough to overflow the server crate's query depth.
    .into_any()
}

/// What the island starts from (serialized into the page).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiveViewState {
    pub view: RoomView,
    pub signed_in: bool,
    pub addresses: Vec<Address>,
    pub at: Option<LatLng>,
    /// This page's URL, where sign-in comes back to.
    pub room_href: String,
    /// Whether the shopper has reserved the room (a scheduled one).
    pub reserved: bool,
    /// The product to open the buy sheet for (`?buy=`, from a brand's widget).
    pub buy: Option<String>,
    /// The listed origin of the widget's page that opened this one, told once the order is paid.
    pub report_to: Option<String>,
}

/// An island: the video (`video::LivePlayer`: WHEP where the browser can, HLS otherwise, or a
/// plain "视频暂不可用" when the room has no playback) and everything that changes while the
/// viewer watches.
#[island(lazy)]
fn LiveRoomView(state: LiveViewState) -> impl IntoView {
    crate::hydration::island_hydrated();
    let LiveViewState {
        view: initial,
        signed_in,
        addresses,
        at,
        room_href,
        reserved,
        buy,
        report_to,
    } = state;
    let l = locale();
    // `?buy=` opens the sheet at once for a signed-in shopper if the room still offers the
    // product (the pin, the bag or the flash sale); a signed-out one signs in first.
    let offered = |sku: &String| {
        let room = &initial.room;
        room.pinned.iter().chain(&room.bag).any(|p| &p.sku == sku)
            || room.flash.as_ref().is_some_and(|f| &f.sku == sku)
    };
    let buy_gone = buy.as_ref().is_some_and(|sku| !offered(sku));
    let buy = buy.filter(|sku| signed_in && offered(sku));
    let playback = initial.room.playback.clone();
    let room_id = StoredValue::new(initial.room.id.clone());
    let sign_in = StoredValue::new(sign_in_href(&room_href));
    let likes = StoredValue::new(LikeBatcher::new(initial.room.likes));
    let likes_shown = RwSignal::new(initial.room.likes);
    let view = RwSignal::new(initial);
    let connected = RwSignal::new(false);
    // The platform's clock less this device's, from the stream's snapshot: the flash sale's
    // countdown is the same for every viewer, whatever their phone's clock says.
    let skew_ms = StoredValue::new(0.0);

    let status = Memo::new(move |_| view.with(|v| v.room.status));
    let pinned = Memo::new(move |_| view.with(|v| v.room.pinned.clone()));
    let viewers = Memo::new(move |_| view.with(|v| v.room.viewer_count));
    let message = Memo::new(move |_| view.with(|v| v.room.message.clone()));
    let slow_mode = Memo::new(move |_| view.with(|v| v.room.slow_mode));
    let last_sale = Memo::new(move |_| view.with(|v| v.last_sale.clone()));
    let comments = Memo::new(move |_| view.with(|v| v.comments.clone()));

    // Inside a mini-program, what the host shares follows the pin: the room with what is on sale.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let title = view.with_untracked(|v| v.room.title.clone());
        let pin = pinned.get();
        let image = crate::picture::share_url(pin.as_ref().and_then(|p| p.image.as_ref()));
        let title = match pin {
            Some(p) => td_string!(
                l,
                live.room.share_title,
                title = title,
                name = p.name,
                price = format_yuan(p.live_price_fen)
            ),
            None => title,
        };
        crate::embed::share_with_host(&title, &room_href, &image);
    });

    #[cfg(feature = "hydrate")]
    Effect::new(move |stream: Option<Option<crate::events::EventStream>>| {
        stream.flatten().or_else(|| {
            crate::events::EventStream::open(
                &super::room_events_url(&room_id.get_value()),
                jishi_api::live::LIVE_EVENT,
                move |event: LiveEvent| {
                    let total = match &event {
                        LiveEvent::Stats { likes, .. } => Some(*likes),
                        LiveEvent::Snapshot { room, .. } => Some(room.likes),
                        _ => None,
                    };
                    if let LiveEvent::Snapshot { now: Some(now), .. } = &event {
                        skew_ms.set_value(crate::clock::clock_skew_ms(Some(now)));
                    }
                    if let Some(total) = total {
                        likes.update_value(|l| l.stats(total));
                        let _ = likes_shown.try_set(likes.with_value(LikeBatcher::shown));
                    }
                    let _ = view.try_update(|v| apply_event(v, &event));
                },
                move |open| {
                    let _ = connected.try_set(open);
                },
            )
        })
    });

    let like = move |_| {
        if let Some(delay) = likes.try_update_value(|l| l.tap(now_ms())).flatten() {
            schedule_likes(room_id, likes, likes_shown, delay);
        }
        likes_shown.set(likes.with_value(LikeBatcher::shown));
    };

    let sheet_open = RwSignal::new(buy.is_some());
    // What the buy sheet is for: the pin or an item of the bag, kept while the sheet is open even
    // if the host pins something else meanwhile.
    let buy_sku = RwSignal::new(buy);
    let report_to = StoredValue::new(report_to);
    let buying = Memo::new(move |_| {
        buy_sku.with(|sku| {
            let sku = sku.as_ref()?;
            // A product in a flash sale sells at the flash price (the platform applies the same rule).
            let platform_s = ((now_ms() + skew_ms.get_value()) / 1000.0).floor() as i64;
            view.with(|v| {
                let flash = v
                    .room
                    .flash
                    .as_ref()
                    .filter(|f| &f.sku == sku && f.phase(platform_s) != FlashPhase::Gone);
                flash.map(Flash::as_pin).or_else(|| {
                    v.room
                        .pinned
                        .iter()
                        .chain(&v.room.bag)
                        .find(|p| &p.sku == sku)
                        .cloned()
                })
            })
        })
    });
    let buy = move |sku: String| {
        buy_sku.set(Some(sku));
        sheet_open.set(true);
    };
    let bag = Memo::new(move |_| view.with(|v| v.room.bag.clone()));
    let flash = Memo::new(move |_| view.with(|v| v.room.flash.clone()));
    let addresses = RwSignal::new(addresses);
    // What the buy sheet places: paying it (here, or the host app inside a mini-program).
    let payment = Payment::new(None, 0.0);

    let pin_card = move || {
        pinned.get().map(|p| {
            let sold_out = p.stock_left == 0;
            view! {
                <section class="pinned-product" data-testid="pinned-product" data-sku=p.sku.clone()
                    data-stock-left=p.stock_left>
                    <p class="pinned-label">{td_string!(l, live.room.pin_label)}</p>
                    <crate::picture::ProductImage image=p.image.clone() alt=p.name.clone()
                        px=crate::picture::CARD_PICTURE_PX loading=crate::picture::Loading::Eager/>
                    <h2 class="product-name">{p.name.clone()}</h2>
                    <p class="prices">
                        <span class="live-price" data-testid="live-price" data-fen=p.live_price_fen>
                            {td_string!(l, live.room.live_price, price = format_yuan(p.live_price_fen))}
                        </span>
                        <s class="regular-price" data-testid="regular-price" aria-label=td_string!(l, live.regular_price)>{format_yuan(p.price_fen)}</s>
                    </p>
                    <p class="stock" class:low=p.stock_left <= 10 data-testid="stock-left">{stock_text(p.stock_left, l)}</p>
                    <BuyButton testid="buy-now" sku=p.sku.clone() sold_out big=true signed_in sign_in
                        on_buy=buy/>
                </section>
            }
        })
    };

    view! {
        <super::video::LivePlayer room_id=room_id.get_value() playback/>
        <div class="live-room" data-testid="live-room" data-room-id=room_id.get_value()
            data-stream=move || if connected.get() { "open" } else { "connecting" }>
            <div class="live-stats">
                <span class="badge live-status" class:on=move || status.get() == RoomStatus::Live
                    data-testid="live-status" data-status=move || status.get().as_str()>
                    {move || room_status_label(status.get(), l)}
                </span>
                <span data-testid="viewer-count" data-count=move || viewers.get()>
                    {move || td_string!(l, live.watching, count = format_count(viewers.get(), l))}
                </span>
                <button type="button" class="like" data-testid="like" on:click=like>
                    <span aria-hidden="true">"♥ "</span>{td_string!(l, live.room.like)}<span data-testid="like-count" data-count=move || likes_shown.get()>
                        {move || format_count(likes_shown.get(), l)}
                    </span>
                </button>
            </div>
            {move || (status.get() == RoomStatus::Ended).then(|| view! {
                <p class="notice" data-testid="live-ended">{td_string!(l, live.room.ended)}</p>
            })}
            {move || (status.get() == RoomStatus::Scheduled).then(|| view! {
                <p class="notice" data-testid="live-scheduled">{td_string!(l, live.room.scheduled)}</p>
                <Preview view signed_in sign_in reserved/>
            })}
            {buy_gone.then(|| view! {
                <p class="notice" data-testid="buy-gone">{td_string!(l, live.buy.gone)}</p>
            })}
            <FlashSale flash skew_ms signed_in sign_in buy/>
            {pin_card}
            // The pin card is replaced when the host pins another product, so it cannot announce
            // itself: this region, there from the start, reads out each new pin.
            <p class="visually-hidden" role="status" data-testid="pin-announcement">
                {move || pinned.with(|p| p.as_ref().map(|p| {
                    td_string!(l, live.room.pin_announcement, name = &p.name, price = format_yuan(p.live_price_fen))
                }))}
            </p>
            <p class="sales-ticker" data-testid="sales-ticker" role="status">
                {move || last_sale.get().map(|s| ticker_line(&s, l))}
            </p>
            <Bag bag pinned signed_in sign_in buy/>
            {move || sheet_open.get().then(|| view! {
                <BuySheet room_id pinned=buying addresses at open=sheet_open payment report_to/>
            })}
            <section class="live-comments" aria-labelledby="comments-heading">
                <h2 id="comments-heading">{td_string!(l, live.comments.heading)}</h2>
                {move || message.get().map(|m| view! {
                    <p class="host-message" data-testid="host-message">{m}</p>
                })}
                <CommentList comments/>
                {if signed_in {
                    view! { <CommentForm room_id slow_mode view/> }.into_any()
                } else {
                    view! {
                        <p class="comment-sign-in">
                            <a class="button" data-testid="comment-sign-in" href=sign_in.get_value()>{td_string!(l, live.comments.sign_in)}</a>
                        </p>
                    }.into_any()
                }}
            </section>
        </div>
    }
    .into_any()
}

/// A scheduled room (预告): when it starts, how many reserved it, "预约" for a signed-in shopper
/// (inside a mini-program it then hands the reminder to the host app's subscribe message), and
/// the start as a calendar file, which any calendar takes and which works offline.
#[component]
fn Preview(
    view: RwSignal<RoomView>,
    signed_in: bool,
    sign_in: StoredValue<String>,
    reserved: bool,
) -> impl IntoView {
    let l = locale();
    let (room_id, starts_at) =
        view.with_untracked(|v| (v.room.id.clone(), v.room.starts_at.clone()));
    let count = Memo::new(move |_| view.with(|v| v.room.reservations));
    let reserved = RwSignal::new(reserved);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let calendar = format!("/api{}", routes::LIVE_CALENDAR.path(&[&room_id]));
    let room = StoredValue::new((room_id, starts_at.clone()));
    let reserve = move |_| {
        busy.set(true);
        error.set(None);
        let (room_id, starts_at) = room.get_value();
        leptos::task::spawn_local(async move {
            let path = routes::LIVE_RESERVATIONS.path(&[&room_id]);
            match api_client::post::<jishi_api::live::Reservation, _>(&path, &()).await {
                Ok(r) => {
                    reserved.set(true);
                    view.update(|v| v.room.reservations = r.reservations);
                    crate::embed::hand_reminder_to_host(&room_id, &starts_at.unwrap_or_default());
                }
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    let starts = starts_at
        .as_deref()
        .and_then(|t| crate::lang::beijing_date_time(t, l))
        .map(|t| td_string!(l, live.preview.starts, time = t));
    view! {
        <section class="live-preview" data-testid="live-preview" aria-labelledby="preview-heading">
            <h2 id="preview-heading">{td_string!(l, live.preview.heading)}</h2>
            <p data-testid="live-starts-at" data-starts-at=starts_at.clone()>{starts}</p>
            <p class="hint" data-testid="reservation-count" data-count=move || count.get()>
                {move || td_string!(l, live.preview.count, count = count.get())}
            </p>
            {if signed_in {
                view! {
                    <button type="button" class="primary" data-testid="reserve-room"
                        data-reserved=move || reserved.get().to_string()
                        disabled=move || busy.get() || reserved.get() on:click=reserve>
                        {move || if reserved.get() { td_string!(l, live.preview.reserved) } else { td_string!(l, live.preview.reserve) }}
                    </button>
                }.into_any()
            } else {
                view! {
                    <a class="button primary" data-testid="reserve-room" href=sign_in.get_value()>{td_string!(l, live.preview.sign_in)}</a>
                }.into_any()
            }}
            " "
            <a class="button secondary" data-testid="room-calendar" href=calendar download="jishi-live.ics">
                {td_string!(l, live.preview.calendar)}
            </a>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
        </section>
    }
    .into_any()
}

/// The room's flash sale (秒杀): the product at its flash price, the countdown to the start on the
/// platform's clock, then the time left and what sold; "grab it" opens the buy sheet once open.
/// The server shows the start time; the browser counts.
#[component]
fn FlashSale(
    flash: Memo<Option<Flash>>,
    skew_ms: StoredValue<f64>,
    signed_in: bool,
    sign_in: StoredValue<String>,
    buy: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let l = locale();
    // The platform's time in ms, asked again every second while there is a flash sale.
    let platform_ms = time_left(move || {
        flash
            .with_untracked(Option::is_some)
            .then(|| now_ms() + skew_ms.get_value())
    });
    let phase = Memo::new(move |_| {
        let now_s = (platform_ms.get()? / 1000.0).floor() as i64;
        flash.with(|f| f.as_ref().map(|f| f.phase(now_s)))
    });
    let countdown = move || {
        let now = platform_ms.get();
        flash.with(|f| {
            let f = f.as_ref()?;
            let Some(now) = now else {
                // Before the browser counts: the start time itself.
                return Some(td_string!(
                    l,
                    live.flash.starts_at,
                    time = crate::lang::beijing_time(&f.starts_at, l).unwrap_or_default()
                ));
            };
            let until = |at: &str| crate::clock::ms_until(at, now - now_ms());
            Some(match phase.get()? {
                FlashPhase::Soon => {
                    td_string!(l, live.flash.starts_in, time = mm_ss(until(&f.starts_at)))
                }
                FlashPhase::Open => {
                    td_string!(l, live.flash.ends_in, time = mm_ss(until(&f.ends_at)))
                }
                FlashPhase::SoldOut => td_string!(l, live.flash.sold_out).to_owned(),
                FlashPhase::Ended | FlashPhase::Gone => td_string!(l, live.flash.ended).to_owned(),
            })
        })
    };
    let phase_name = move || match phase.get() {
        None => "waiting",
        Some(FlashPhase::Soon) => "soon",
        Some(FlashPhase::Open) => "open",
        Some(FlashPhase::SoldOut) => "sold_out",
        Some(FlashPhase::Ended) => "ended",
        Some(FlashPhase::Gone) => "gone",
    };
    move || {
        flash.get().filter(|_| phase.get() != Some(FlashPhase::Gone)).map(|f| {
            let sku = f.sku.clone();
            view! {
                <section class="flash-sale" data-testid="flash-sale" data-sku=f.sku.clone()
                    data-phase=phase_name aria-labelledby="flash-heading">
                    <h2 id="flash-heading" class="flash-label">{td_string!(l, live.flash.label)}" · "{f.name.clone()}</h2>
                    <p class="prices">
                        <span class="live-price" data-testid="flash-price" data-fen=f.price_fen>{format_yuan(f.price_fen)}</span>" "
                        <s class="regular-price" aria-label=td_string!(l, live.regular_price)>{format_yuan(f.regular_price_fen)}</s>
                    </p>
                    <p class="flash-countdown" data-testid="flash-countdown" role="timer" aria-live="off">{countdown}</p>
                    <p class="hint">{td_string!(l, live.flash.sold, sold = f.sold, cap = f.cap)}" · "
                        {td_string!(l, live.flash.limit, count = f.per_shopper)}</p>
                    {if signed_in {
                        view! {
                            <button type="button" class="primary big" data-testid="flash-buy"
                                disabled=move || phase.get() != Some(FlashPhase::Open)
                                on:click=move |_| buy(sku.clone())>
                                {td_string!(l, live.flash.buy)}
                            </button>
                        }.into_any()
                    } else {
                        view! {
                            <a class="button primary" data-testid="flash-buy" href=sign_in.get_value()>{td_string!(l, live.room.sign_in_to_buy)}</a>
                        }.into_any()
                    }}
                </section>
            }
        })
    }
}

/// The bag's button, shown while the bag has something, and its sheet once opened. Its own
/// component (an `AnyView`): the room's view is otherwise one type too deep for the compiler.
#[component]
fn Bag(
    bag: Memo<Vec<Pin>>,
    pinned: Memo<Option<Pin>>,
    signed_in: bool,
    sign_in: StoredValue<String>,
    buy: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let l = locale();
    let open = RwSignal::new(false);
    view! {
        {move || (!bag.with(Vec::is_empty)).then(|| view! {
            <button type="button" class="secondary bag-open" data-testid="bag-open"
                aria-expanded=move || open.get().to_string() aria-controls="bag-sheet"
                on:click=move |_| open.update(|o| *o = !*o)>
                {move || td_string!(l, live.bag.open, count = bag.with(Vec::len))}
            </button>
        })}
        {move || open.get().then(|| view! {
            <BagSheet bag pinned signed_in sign_in open buy/>
        })}
    }
    .into_any()
}

/// The shopping bag (购物袋): every product of the room, in the host's order, each bought with
/// the same sheet as the pin. Its items' counts move with the room's `sale` events.
#[component]
fn BagSheet(
    bag: Memo<Vec<Pin>>,
    pinned: Memo<Option<Pin>>,
    signed_in: bool,
    sign_in: StoredValue<String>,
    open: RwSignal<bool>,
    buy: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let l = locale();
    let explaining = move |sku: &str| pinned.with(|p| p.as_ref().is_some_and(|p| p.sku == sku));
    view! {
        <section class="bag-sheet" id="bag-sheet" data-testid="bag-sheet" aria-labelledby="bag-heading">
            <h2 id="bag-heading">{td_string!(l, live.bag.heading)}</h2>
            <ol class="bag-items">
                <For each=move || bag.get() key=|p| (p.sku.clone(), p.live_price_fen, p.stock_left) let:item>
                    {
                        let sold_out = item.stock_left == 0;
                        let sku = item.sku.clone();
                        let shown = item.sku.clone();
                        view! {
                            <li class="bag-item" data-testid="bag-item" data-sku=item.sku.clone()
                                data-stock-left=item.stock_left class:sold-out=sold_out>
                                <crate::picture::ProductImage image=item.image.clone() alt=item.name.clone()
                                    px=crate::picture::LINE_PICTURE_PX loading=crate::picture::Loading::Lazy/>
                                <div class="bag-item-text">
                                    <p class="product-name">{item.name.clone()}
                                        {move || explaining(&shown).then(|| view! { <span class="badge">{td_string!(l, live.bag.explaining)}</span> })}
                                    </p>
                                    <p class="prices">
                                        <span class="live-price" data-fen=item.live_price_fen>{format_yuan(item.live_price_fen)}</span>" "
                                        <s class="regular-price" aria-label=td_string!(l, live.regular_price)>{format_yuan(item.price_fen)}</s>
                                    </p>
                                    <p class="stock" class:low=item.stock_left <= 10>{stock_text(item.stock_left, l)}</p>
                                </div>
                                <BuyButton testid="bag-buy" sku sold_out signed_in sign_in
                                    on_buy=move |sku| { open.set(false); buy(sku) }/>
                            </li>
                        }
                    }
                </For>
            </ol>
            <button type="button" class="secondary" data-testid="bag-close" on:click=move |_| open.set(false)>
                {td_string!(l, live.bag.close)}
            </button>
        </section>
    }
    .into_any()
}

/// A product's buy button (`on_buy` gets its SKU), or for a signed-out viewer a link to sign in
/// and come back: the pin card's, the bag's and the replay's.
#[component]
pub(super) fn BuyButton(
    testid: &'static str,
    sku: String,
    #[prop(optional)] sold_out: bool,
    /// The pin card's: the full width.
    #[prop(optional)]
    big: bool,
    signed_in: bool,
    sign_in: StoredValue<String>,
    on_buy: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let l = locale();
    if signed_in {
        view! {
            <button type="button" class="primary" class:big=big data-testid=testid data-sku=sku.clone()
                disabled=sold_out on:click=move |_| on_buy(sku.clone())>
                {if sold_out { td_string!(l, live.stock.sold_out) } else { td_string!(l, live.room.buy_now) }}
            </button>
        }
        .into_any()
    } else {
        view! {
            <a class="button primary buy" data-testid=testid href=sign_in.get_value()>{td_string!(l, live.room.sign_in_to_buy)}</a>
        }
        .into_any()
    }
}

/// Sends the taps batched so far after `delay_ms`, then again while taps keep coming.
fn schedule_likes(
    room_id: StoredValue<String>,
    likes: StoredValue<LikeBatcher>,
    shown: RwSignal<u64>,
    delay_ms: f64,
) {
    #[cfg(feature = "hydrate")]
    set_timeout(
        move || {
            let Some(count) = likes.try_update_value(|l| l.take(now_ms())).flatten() else {
                return;
            };
            leptos::task::spawn_local(async move {
                let path = routes::LIVE_LIKES.path(&[&room_id.get_value()]);
                let _ = api_client::post::<serde::de::IgnoredAny, _>(
                    &path,
                    &jishi_api::live::LikeBatch { count },
                )
                .await;
                if let Some(next) = likes.try_update_value(|l| l.answered(now_ms())).flatten() {
                    schedule_likes(room_id, likes, shown, next);
                }
                let _ = shown.try_set(likes.with_value(LikeBatcher::shown));
            });
        },
        std::time::Duration::from_millis(delay_ms.max(0.0) as u64),
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (room_id, likes, shown, delay_ms);
}

/// The visible comments, oldest first. Text is rendered as text (Leptos escapes text nodes).
#[component]
fn CommentList(comments: Memo<Vec<Comment>>) -> impl IntoView {
    let l = locale();
    view! {
        <ol class="comments" data-testid="comments" aria-live="polite">
            <For each=move || comments.get() key=|c| c.id let:c>
                <li data-testid="comment" data-comment-id=c.id>
                    <span class="comment-author">{crate::lang::person_name(&c.author, l)}</span>
                    <span class="comment-text" data-testid="comment-text">{c.text}</span>
                </li>
            </For>
        </ol>
        {move || comments.with(Vec::is_empty).then(|| view! {
            <p class="hint" data-testid="no-comments">{td_string!(l, live.comments.empty)}</p>
        })}
    }
}

#[component]
fn CommentForm(
    room_id: StoredValue<String>,
    slow_mode: Memo<bool>,
    view: RwSignal<RoomView>,
) -> impl IntoView {
    let l = locale();
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // The platform checks the same way; this saves a round trip for an empty comment.
        let body = match (NewComment {
            text: text.get_untracked(),
        })
        .validate()
        {
            Ok(text) => NewComment { text },
            Err(e) => return error.set(Some(api_error_message(&e, l))),
        };
        sending.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let path = routes::LIVE_COMMENTS.path(&[&room_id.get_value()]);
            match api_client::post::<Comment, _>(&path, &body).await {
                Ok(comment) => {
                    text.set(String::new());
                    view.update(|v| apply_event(v, &LiveEvent::Comment { comment }));
                }
                Err(e) => error.set(Some(e.message())),
            }
            sending.set(false);
        });
    };
    view! {
        <form class="comment-form" on:submit=send>
            <label for="comment-input" class="visually-hidden">{td_string!(l, live.comments.label)}</label>
            <input type="text" id="comment-input" data-testid="comment-input" maxlength=MAX_COMMENT_CHARS
                placeholder=td_string!(l, live.comments.placeholder) autocomplete="off" enterkeyhint="send"
                prop:value=text on:input=move |ev| text.set(event_target_value(&ev))/>
            <button type="submit" class="primary" data-testid="send-comment" disabled=sending>{td_string!(l, live.comments.send)}</button>
        </form>
        {move || slow_mode.get().then(|| view! {
            <p class="hint" data-testid="slow-mode">{td_string!(l, live.comments.slow_mode)}</p>
        })}
        {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="comment-error">{e}</p> })}
    }
}

/// A failed buy as the sheet shows it: the code (for tests and styles: the wire's for the
/// refusals the sheet expects, else "other") and the platform's words.
fn buy_error_code(e: &AppError) -> String {
    match e {
        AppError::Api(a)
            if matches!(
                a.code,
                ErrorCode::SoldOut | ErrorCode::NotDeliverable | ErrorCode::Unauthorized
            ) =>
        {
            crate::error::wire_code(a.code)
        }
        _ => "other".to_owned(),
    }
}

/// The largest quantity the sheet offers for a pin.
fn max_quantity(pin: Option<&Pin>) -> u32 {
    pin.map_or(1, |p| p.stock_left.clamp(1, MAX_LIVE_QUANTITY))
}

/// "Buy now": quantity, address (saved, or a new one), then place and pay and go to the order.
/// The platform picks the store (the nearest that delivers to the address and has the product).
#[component]
pub(super) fn BuySheet(
    room_id: StoredValue<String>,
    pinned: Memo<Option<Pin>>,
    addresses: RwSignal<Vec<Address>>,
    at: Option<LatLng>,
    open: RwSignal<bool>,
    payment: Payment,
    /// The widget's page to tell once the order is paid (`widget::report_ordered`).
    #[prop(optional)]
    report_to: Option<StoredValue<Option<String>>>,
) -> impl IntoView {
    let l = locale();
    let quantity = RwSignal::new(1u32);
    let chosen = RwSignal::new(addresses.with_untracked(|a| first_choice(None, a)));
    let error = RwSignal::new(None::<(String, String)>);
    let placing = RwSignal::new(false);
    // A retry after a lost answer gets the first order back; another quantity or address is
    // another order.
    let attempt = StoredValue::new(AttemptKey::<LiveOrderRequest>::new());
    let max = move || pinned.with(|p| max_quantity(p.as_ref()));

    // Which store would deliver, and when: asked again whenever the product, the quantity or
    // the address changes; only the latest answer is shown.
    let estimate = RwSignal::new(None::<Result<LiveQuote, (String, String)>>);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (Some(pin), Some(address_id)) = (pinned.get(), chosen.get()) else {
            estimate.set(None);
            return;
        };
        let query = LiveOrderRequest {
            sku: pin.sku,
            quantity: quantity.get(),
            address_id,
        };
        if !open.get() || query.validate().is_err() {
            return;
        }
        let n = asked.get_value() + 1;
        asked.set_value(n);
        let path = format!(
            "{}?sku={}&quantity={}&address_id={}",
            routes::LIVE_QUOTE.path(&[&room_id.get_value()]),
            crate::links::encode(&query.sku),
            query.quantity,
            crate::links::encode(&query.address_id),
        );
        leptos::task::spawn_local(async move {
            let answer = api_client::get::<LiveQuote>(&path)
                .await
                .map_err(|e| (buy_error_code(&e), e.message()));
            if asked.get_value() == n {
                estimate.set(Some(answer));
            }
        });
    });

    let place = move |_| {
        let Some(pin) = pinned.get_untracked() else {
            error.set(Some((
                "other".to_owned(),
                td_string!(l, live.buy.unpinned).to_owned(),
            )));
            return;
        };
        let Some(address_id) = chosen.get_untracked() else {
            error.set(Some((
                "other".to_owned(),
                td_string!(l, live.buy.choose_address).to_owned(),
            )));
            return;
        };
        let body = LiveOrderRequest {
            sku: pin.sku,
            quantity: quantity.get_untracked(),
            address_id,
        };
        if let Err(e) = body.validate() {
            error.set(Some(("other".to_owned(), api_error_message(&e, l))));
            return;
        }
        placing.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let path = routes::LIVE_ORDERS.path(&[&room_id.get_value()]);
            match api_client::post_once::<Order, _>(&path, &body, attempt).await {
                Ok(order) => {
                    // Pay at once (or the host app does); the sheet shows the order meanwhile.
                    payment.show(order);
                    payment.pay();
                }
                Err(e) => error.set(Some((buy_error_code(&e), e.message()))),
            }
            placing.set(false);
        });
    };
    // The order placed here, while it waits for payment, and once paid (then its page opens).
    let placed = Memo::new(move |_| {
        payment.order().with(|o| {
            o.as_ref()
                .filter(|o| o.status == OrderStatus::PendingPayment || o.status.is_paid())
                .map(|o| (o.id.clone(), o.status.is_paid()))
        })
    });
    Effect::new(move |_| {
        if let Some((id, true)) = placed.get() {
            let origin = report_to.and_then(|r| r.get_value());
            if let (Some(origin), Some(pin)) = (origin, pinned.get_untracked()) {
                super::widget::report_ordered(&origin, &room_id.get_value(), &pin.sku);
            }
            go_to(&order_href(&id));
        }
    });

    let buy_form = move || {
        view! {
            {move || pinned.get().map(|p| view! {
                <p class="buy-product">
                    <span class="product-name">{p.name.clone()}</span>" "
                    <span class="live-price">{format_yuan(p.live_price_fen)}</span>
                </p>
            })}
            <label class="buy-quantity">{td_string!(l, live.buy.quantity)}
                <input type="number" inputmode="numeric" min="1" max=max data-testid="buy-quantity" value="1"
                    prop:value=move || quantity.get().to_string()
                    on:input=move |ev| {
                        let n = event_target_value(&ev).trim().parse::<u32>().unwrap_or(1);
                        quantity.set(n.clamp(1, max()));
                    }/>
            </label>
            <AddressChooser addresses chosen legend=td_string!(l, live.buy.addresses) testid="addresses" start=at/>
            <p class="buy-estimate" data-testid="buy-estimate" aria-live="polite"
                data-state=move || match estimate.get() { Some(Ok(_)) => "ok".to_owned(), Some(Err((code, _))) => code, None => "none".to_owned() }>
                {move || match estimate.get() {
                    Some(Ok(q)) => td_string!(
                        l,
                        live.buy.estimate,
                        store = q.store_name,
                        minutes = q.eta_min,
                        fee = format_yuan(q.delivery_fee_fen)
                    ),
                    Some(Err((_, message))) => message,
                    None => td_string!(l, live.buy.estimate_hint).to_owned(),
                }}
            </p>
            <p class="buy-total" data-testid="buy-total">
                {move || pinned.get().map(|p| {
                    // The quoted store's price of one where there is a quote (a replay buys at
                    // that store's own price), else the price shown.
                    let unit = match estimate.get() {
                        Some(Ok(q)) if q.unit_price_fen > 0 => q.unit_price_fen,
                        _ => p.live_price_fen,
                    };
                    td_string!(l, live.buy.subtotal, amount = format_yuan(unit * i64::from(quantity.get())))
                })}
            </p>
            {move || error.get().map(|(code, message)| view! {
                <p class="notice error" role="alert" data-testid="buy-error" data-code=code>{message}</p>
            })}
            <button type="button" class="primary big" data-testid="place-and-pay"
                disabled=move || placing.get() || chosen.get().is_none() || pinned.with(Option::is_none)
                on:click=place>
                {move || if placing.get() { td_string!(l, live.buy.placing) } else { td_string!(l, live.buy.place) }}
            </button>
        }
        .into_any()
    };

    view! {
        <section class="buy-sheet" data-testid="buy-sheet" role="dialog" aria-labelledby="buy-sheet-heading">
            <h2 id="buy-sheet-heading">{td_string!(l, live.room.buy_now)}</h2>
            {move || match placed.get() {
                Some((id, paid)) => view! {
                    <p class="notice" data-testid="buy-placed" data-order-id=id.clone()>
                        {if paid { td_string!(l, live.buy.paid_opening) } else { td_string!(l, live.buy.placed_unpaid) }}
                        " "<a href=order_href(&id)>{td_string!(l, live.buy.view_order)}</a>
                    </p>
                    <PayPanel payment testid="pay"/>
                }
                .into_any(),
                None => buy_form(),
            }}
            <button type="button" class="secondary" data-testid="close-sheet" on:click=move |_| open.set(false)>{td_string!(l, live.buy.cancel)}</button>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sheet_offers_up_to_what_is_left_and_the_buy_limit() {
        let pin = |left| Pin {
            sku: "s".into(),
            name: "n".into(),
            price_fen: 100,
            live_price_fen: 90,
            stock_cap: 100,
            sold: 0,
            stock_left: left,
            image: None,
        };
        assert_eq!(max_quantity(None), 1);
        assert_eq!(max_quantity(Some(&pin(0))), 1);
        assert_eq!(max_quantity(Some(&pin(3))), 3);
        assert_eq!(max_quantity(Some(&pin(500))), MAX_LIVE_QUANTITY);
    }

    #[test]
    fn buy_errors_keep_their_code() {
        let e = |code| AppError::Api(jishi_api::ApiError::new(code, "m"));
        assert_eq!(buy_error_code(&e(ErrorCode::SoldOut)), "sold_out");
        assert_eq!(
            buy_error_code(&e(ErrorCode::NotDeliverable)),
            "not_deliverable"
        );
        assert_eq!(buy_error_code(&e(ErrorCode::BadRequest)), "other");
    }
}

#[cfg(all(test, feature = "ssr"))]
mod render_tests {
    use super::*;

    fn comment(id: u64, text: &str) -> Comment {
        Comment {
            id,
            author: jishi_api::person::Person::shopper("0001"),
            text: text.into(),
            at: "2026-11-26T00:00:00Z".into(),
        }
    }

    #[test]
    fn comments_are_rendered_as_text_never_as_markup() {
        let owner = Owner::new();
        let html = owner.with(|| {
            let comments = Memo::new(|_| vec![comment(1, "<img src=x onerror=alert(1)>")]);
            view! { <CommentList comments/> }.to_html()
        });
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(html.contains(r#"data-comment-id="1""#), "{html}");
    }

    #[test]
    fn the_room_page_renders_on_the_server_with_its_island() {
        use crate::live::fixtures;
        let room = LiveRoom {
            viewer_count: 3,
            likes: 10,
            pinned: Some(fixtures::strawberry()),
            message: Some("<i>一小时送达</i>".into()),
            slow_mode: true,
            bag: vec![fixtures::strawberry()],
            ..fixtures::room()
        };
        for signed_in in [false, true] {
            let data = LiveRoomPageData {
                room: room.clone(),
                signed_in,
                addresses: vec![],
                reserved: false,
            };
            let html = Owner::new().with(|| {
                leptos_meta::provide_meta_context();
                view! { <RoomPage data at=None/> }.to_html()
            });
            // One island: the video is part of the room's.
            assert_eq!(html.matches("<leptos-island").count(), 1, "{html}");
            assert!(html.contains(r#"data-testid="live-video-area""#), "{html}");
            assert!(
                html.contains(r#"data-testid="pinned-product" data-sku="s1""#),
                "{html}"
            );
            assert!(html.contains(r#"data-testid="viewer-count""#), "{html}");
            assert!(html.contains(r#"data-testid="buy-now""#), "{html}");
            // The bag opens on a tap: its button is there, its sheet is not.
            assert!(html.contains(r#"data-testid="bag-open""#), "{html}");
            assert!(!html.contains(r#"data-testid="bag-sheet""#), "{html}");
            assert!(html.contains("&lt;i&gt;一小时送达&lt;/i&gt;"), "{html}");
            assert_eq!(
                html.contains(r#"data-testid="comment-input""#),
                signed_in,
                "{html}"
            );
            assert_eq!(
                html.contains("/login?next=%2Flive%2Flive_1"),
                !signed_in,
                "{html}"
            );
        }
    }

    #[test]
    fn a_flash_sale_and_a_preview_render_their_hooks() {
        let flash = jishi_api::live::Flash {
            id: "fl_1".into(),
            sku: "s1".into(),
            name: "草莓".into(),
            starts_at: "2026-11-25T04:00:10Z".into(),
            ends_at: "2026-11-25T04:05:10Z".into(),
            price_fen: 1990,
            regular_price_fen: 3990,
            cap: 100,
            per_shopper: 1,
            sold: 0,
            image: None,
        };
        let live = LiveRoom {
            bag: vec![crate::live::fixtures::strawberry()],
            flash: Some(flash),
            ..crate::live::fixtures::room()
        };
        let scheduled = LiveRoom {
            status: RoomStatus::Scheduled,
            starts_at: Some("2026-11-25T07:00:00Z".into()),
            reservations: 12,
            replay: None,
            ..crate::live::fixtures::room()
        };
        let render = |room: LiveRoom| {
            let data = LiveRoomPageData {
                room,
                signed_in: true,
                addresses: vec![],
                reserved: false,
            };
            Owner::new().with(|| {
                leptos_meta::provide_meta_context();
                view! { <RoomPage data at=None/> }.to_html()
            })
        };
        let html = render(live);
        assert!(html.contains(r#"data-testid="flash-sale""#), "{html}");
        assert!(html.contains(r#"data-testid="flash-countdown""#), "{html}");
        assert!(html.contains(r#"data-testid="flash-buy""#), "{html}");
        assert!(html.contains(r#"data-fen="1990""#), "{html}");
        assert!(!html.contains(r#"data-testid="reserve-room""#), "{html}");
        let html = render(scheduled);
        assert!(html.contains(r#"data-testid="reserve-room""#), "{html}");
        assert!(html.contains(r#"data-reserved="false""#), "{html}");
        assert!(
            html.contains(r#"href="/api/v1/live/rooms/live_1/calendar.ics""#),
            "{html}"
        );
        assert!(html.contains(r#"data-count="12""#), "{html}");
        // 15:00 Beijing time.
        assert!(html.contains("15:00"), "{html}");
        assert!(!html.contains(r#"data-testid="flash-sale""#), "{html}");
    }

    #[test]
    fn a_widget_buy_link_opens_the_sheet_or_signs_in_first_or_says_the_product_is_gone() {
        let room = LiveRoom {
            pinned: Some(crate::live::fixtures::strawberry()),
            ..crate::live::fixtures::room()
        };
        let render = |signed_in: bool, sku: &str| {
            let data = LiveRoomPageData {
                room: room.clone(),
                signed_in,
                addresses: vec![],
                reserved: false,
            };
            let (buy, from) = (
                Some(sku.to_owned()),
                Some("https://brand.example".to_owned()),
            );
            Owner::new().with(|| {
                leptos_meta::provide_meta_context();
                view! { <RoomPage data at=None buy from/> }.to_html()
            })
        };
        let html = render(true, "s1");
        assert!(html.contains(r#"data-testid="buy-sheet""#), "{html}");
        assert!(!html.contains(r#"data-testid="buy-gone""#), "{html}");
        // Signed out: no sheet yet, and sign-in comes back to it.
        let html = render(false, "s1");
        assert!(!html.contains(r#"data-testid="buy-sheet""#), "{html}");
        assert!(
            html.contains("/login?next=%2Flive%2Flive_1%3Fbuy%3Ds1%26from%3Dhttps%253A%252F%252Fbrand.example"),
            "{html}"
        );
        // A product the room no longer offers: said plainly, no sheet.
        let html = render(true, "gone");
        assert!(html.contains(r#"data-testid="buy-gone""#), "{html}");
        assert!(!html.contains(r#"data-testid="buy-sheet""#), "{html}");
    }
}
