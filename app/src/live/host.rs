//! `/live/:id/host`: the host console, for the room's host only (anyone else gets a plain 403
//! page with a way back to the room). Going live and ending, pinning a product from the catalogue
//! at a live price with a stock cap, unpinning, hiding comments, slow mode and the pinned message;
//! viewers, likes, comments and sales follow the room's event stream.
//!
//! The page is about one shopper: it is never stored (`Cache-Control: private, no-store`).

use jishi_api::live::{
    Flash, LiveEvent, LiveRoom, NewFlash, NewPin, Pin, PinRefusal, PutBag, RoomStatus, RoomView,
    RtmpEndpoint, StatusChange, FLASH_COUNTDOWN_S, FLASH_LENGTH_S, MAX_BAG_ITEMS,
    MAX_LIVE_QUANTITY, MAX_STOCK_CAP,
};
use jishi_api::money::format_yuan;
use jishi_api::{routes, ErrorCode};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::de::IgnoredAny;

use crate::api_client;
use crate::components::ErrorNotice;
use crate::error::{set_response_status, AppError};
use crate::i18n::td_string;
use crate::lang::{api_error_message, locale, room_status_label};
use crate::links::{live_host_href, live_href, sign_in_href};

use super::video::CameraPublisher;
use super::{
    apply_event, format_count, mark_private, parse_yuan, search_catalogue, suggested_live_price,
    yuan_input, CatalogueItem, HostConsole, Ingest, RoomSettings, SalesBook,
};

/// Catalogue rows shown at once (the search narrows them).
const CATALOGUE_ROWS: usize = 40;

/// `Ok(None)`: nobody is signed in in this browser. A signed-in shopper who is not the host gets
/// the platform's 403 (`Forbidden`).
#[server]
pub async fn host_console_page(id: String) -> Result<Option<HostConsole>, AppError> {
    use crate::platform_client::get_as_shopper;
    let path = routes::LIVE_HOST.path(&[&id]);
    Ok(get_as_shopper::<HostConsole>(&path).await?)
}

#[component]
pub fn HostConsolePage() -> impl IntoView {
    mark_private();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(id, host_console_page);
    let l = locale();
    let title = move |page: &str| format!("{page} · {}", td_string!(l, common.brand));
    view! {
        <Suspense fallback=move || view! { <p class="loading">{td_string!(l, host.page.loading)}</p> }>
            {move || Suspend::new(async move {
                let id = id();
                match data.await {
                    Ok(Some(console)) => {
                        let heading = td_string!(l, host.page.heading, title = &console.room.title);
                        view! {
                            <Title text=title(&heading)/>
                            <h1>{heading}</h1>
                            <p><a class="back" href=live_href(&id, None) data-testid="view-room">{td_string!(l, host.page.view_as_viewer)}</a></p>
                            <HostConsoleView console/>
                        }.into_any()
                    }
                    Ok(None) => view! {
                        <Title text=title(td_string!(l, host.page.sign_in_first))/>
                        <section class="notice" data-testid="sign-in-first">
                            <h1>{td_string!(l, host.page.sign_in_first)}</h1>
                            <p>{td_string!(l, host.page.sign_in_text)}</p>
                            <p><a class="button primary" data-testid="sign-in-link" href=sign_in_href(&live_host_href(&id))>{td_string!(l, host.page.sign_in_phone)}</a></p>
                        </section>
                    }.into_any(),
                    Err(AppError::Api(e)) if e.code == ErrorCode::Forbidden => {
                        set_response_status(403);
                        view! {
                            <Title text=title(td_string!(l, host.page.forbidden_title))/>
                            <section class="notice" data-testid="host-forbidden">
                                <h1>{td_string!(l, host.page.forbidden_heading)}</h1>
                                <p>{td_string!(l, host.page.forbidden_text)}</p>
                                <p><a class="button primary" href=live_href(&id, None)>{td_string!(l, host.page.back_to_room)}</a></p>
                            </section>
                        }.into_any()
                    }
                    Err(e) if e.is_not_found() => view! {
                        <Title text=title(td_string!(l, host.page.not_found))/>
                        <ErrorNotice error=e heading=td_string!(l, host.page.not_found)/>
                    }.into_any(),
                    Err(e) => view! {
                        <Title text=title(td_string!(l, host.page.unavailable))/>
                        <ErrorNotice error=e heading=td_string!(l, host.page.unavailable)/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Runs one host action: busy while it runs, its error shown at the top, `on_ok` with the answer.
fn act<T: 'static>(
    ui: Ui,
    request: impl std::future::Future<Output = Result<T, AppError>> + 'static,
    on_ok: impl FnOnce(T) + 'static,
) {
    ui.busy.set(true);
    ui.error.set(None);
    leptos::task::spawn_local(async move {
        match request.await {
            Ok(v) => on_ok(v),
            Err(e) => ui.error.set(Some(e.message())),
        }
        ui.busy.set(false);
    });
}

/// What every control shares: the room's id, its view, whether an action runs, the last error.
#[derive(Clone, Copy)]
struct Ui {
    room_id: StoredValue<String>,
    view: RwSignal<RoomView>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
}

impl Ui {
    /// Sends the whole bag (`items`, in order) and shows what the platform answered.
    fn put_bag(&self, items: Vec<NewPin>) {
        let ui = *self;
        let path = ui.path(routes::LIVE_BAG, &[]);
        act(
            ui,
            async move { api_client::put::<LiveRoom, _>(&path, &PutBag { items }).await },
            move |room| ui.apply(LiveEvent::Bag { bag: room.bag }),
        );
    }

    /// The bag as the host sends it back: each item's SKU, live price and cap.
    fn bag_items(&self) -> Vec<NewPin> {
        self.view.with_untracked(|v| {
            v.room
                .bag
                .iter()
                .map(|b| NewPin {
                    sku: b.sku.clone(),
                    live_price_fen: b.live_price_fen,
                    stock_cap: b.stock_cap,
                })
                .collect()
        })
    }

    /// The v1 path of `route` for this room (and `more`, e.g. a pin's SKU).
    fn path(&self, route: routes::Route, more: &[&str]) -> String {
        let room = self.room_id.get_value();
        let args: Vec<&str> = std::iter::once(room.as_str())
            .chain(more.iter().copied())
            .collect();
        route.path(&args)
    }
    /// What the stream will also say, shown now.
    fn apply(&self, event: LiveEvent) {
        self.view.update(|v| apply_event(v, &event));
    }
}

/// Reads the console's sales again into `book`, and once more after it while sales came in
/// during the read (`stale`).
#[cfg(feature = "hydrate")]
fn reread(
    ui: Ui,
    book: RwSignal<SalesBook>,
    rereading: StoredValue<bool>,
    stale: StoredValue<bool>,
) {
    rereading.set_value(true);
    stale.set_value(false);
    let path = ui.path(routes::LIVE_HOST, &[]);
    leptos::task::spawn_local(async move {
        if let Ok(console) = api_client::get::<HostConsole>(&path).await {
            let _ = book.try_set(SalesBook::from_console(&console));
        }
        rereading.set_value(false);
        if stale.get_value() {
            reread(ui, book, rereading, stale);
        }
    });
}

/// An island: the console.
#[island(lazy)]
fn HostConsoleView(console: HostConsole) -> impl IntoView {
    crate::hydration::island_hydrated();
    let book = RwSignal::new(SalesBook::from_console(&console));
    let HostConsole {
        room,
        ingest,
        catalogue,
        ..
    } = console;
    let ui = Ui {
        room_id: StoredValue::new(room.id.clone()),
        view: RwSignal::new(RoomView::new(room, vec![])),
        busy: RwSignal::new(false),
        error: RwSignal::new(None),
    };
    let view = ui.view;
    let catalogue = StoredValue::new(catalogue);
    let connected = RwSignal::new(false);
    // A console read in flight, and whether a sale came in meanwhile.
    #[cfg(feature = "hydrate")]
    let (rereading, stale) = (StoredValue::new(false), StoredValue::new(false));

    #[cfg(feature = "hydrate")]
    Effect::new(move |stream: Option<Option<crate::events::EventStream>>| {
        stream.flatten().or_else(|| {
            crate::events::EventStream::open(
                &super::room_events_url(&ui.room_id.get_value()),
                jishi_api::live::LIVE_EVENT,
                move |event: LiveEvent| {
                    if let LiveEvent::Sale { sale, .. } = &event {
                        // Priced at the pin it was bought from: the view before this event.
                        let pin = view.with_untracked(|v| v.room.pinned.clone());
                        catalogue.with_value(|c| {
                            let _ = book.try_update(|b| b.record(sale, pin.as_ref(), c));
                        });
                        // Which store sold it, and the subsidy, only the platform knows: read
                        // again, one read at a time, so a burst of sales makes two reads, not one
                        // per sale.
                        if rereading.get_value() {
                            stale.set_value(true);
                        } else {
                            reread(ui, book, rereading, stale);
                        }
                    }
                    let _ = view.try_update(|v| apply_event(v, &event));
                },
                move |open| {
                    let _ = connected.try_set(open);
                },
            )
        })
    });

    let status = Memo::new(move |_| view.with(|v| v.room.status));
    let viewers = Memo::new(move |_| view.with(|v| v.room.viewer_count));
    let likes = Memo::new(move |_| view.with(|v| v.room.likes));
    let l = locale();

    let set_status = move |to: RoomStatus| {
        let path = ui.path(routes::LIVE_STATUS, &[]);
        act(
            ui,
            async move { api_client::post::<IgnoredAny, _>(&path, &StatusChange { status: to }).await },
            move |_| ui.apply(LiveEvent::Status { status: to }),
        );
    };

    view! {
        <div class="host-console" data-testid="host-console" data-room-id=ui.room_id.get_value()
            data-stream=move || if connected.get() { "open" } else { "connecting" }>
            <section class="host-panel host-status">
                <p class="live-stats">
                    <span class="badge live-status" class:on=move || status.get() == RoomStatus::Live
                        data-testid="host-status" data-status=move || status.get().as_str()>
                        {move || room_status_label(status.get(), l)}
                    </span>
                    <span data-testid="host-viewers" data-count=move || viewers.get()>
                        {move || td_string!(l, host.console.viewers, viewers = format_count(viewers.get(), l))}
                    </span>
                    <span data-testid="host-likes" data-count=move || likes.get()>
                        {move || td_string!(l, host.console.likes, likes = format_count(likes.get(), l))}
                    </span>
                </p>
                {move || match status.get() {
                    RoomStatus::Scheduled => view! {
                        <button type="button" class="primary" data-testid="go-live" disabled=ui.busy
                            on:click=move |_| set_status(RoomStatus::Live)>{td_string!(l, host.console.go_live)}</button>
                    }.into_any(),
                    RoomStatus::Live => view! {
                        <button type="button" class="secondary" data-testid="end-live" disabled=ui.busy
                            on:click=move |_| set_status(RoomStatus::Ended)>{td_string!(l, host.console.end_live)}</button>
                    }.into_any(),
                    RoomStatus::Ended => view! { <p class="hint" data-testid="live-ended">{td_string!(l, host.console.ended)}</p> }.into_any(),
                }}
                {move || ui.error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="host-error">{e}</p> })}
            </section>
            <CurrentPin ui/>
            <BagPanel ui/>
            <FlashPanel ui/>
            <Catalogue ui catalogue book/>
            <HostComments ui/>
            <Sales book/>
            <Settings ui/>
            <IngestPanel ingest/>
        </div>
    }
    .into_any()
}

#[component]
fn CurrentPin(ui: Ui) -> impl IntoView {
    let pinned = Memo::new(move |_| ui.view.with(|v| v.room.pinned.clone()));
    let unpin = move |sku: String| {
        let path = ui.path(routes::LIVE_PIN, &[&sku]);
        act(
            ui,
            async move { api_client::delete::<IgnoredAny>(&path).await },
            move |_| ui.apply(LiveEvent::Unpinned { sku }),
        );
    };
    let l = locale();
    view! {
        <section class="host-panel" aria-labelledby="current-pin-heading">
            <h2 id="current-pin-heading">{td_string!(l, host.pin.heading)}</h2>
            {move || match pinned.get() {
                Some(p) => {
                    let sku = p.sku.clone();
                    view! {
                        <div class="pinned-product" data-testid="current-pin" data-sku=p.sku.clone()>
                            <p class="product-name">{p.name.clone()}</p>
                            <p class="prices">
                                <span class="live-price">{td_string!(l, host.pin.live_price, price = format_yuan(p.live_price_fen))}</span>
                                <s class="regular-price" aria-label=td_string!(l, host.pin.regular_price)>{format_yuan(p.price_fen)}</s>
                            </p>
                            <p data-testid="current-pin-stock">{td_string!(l, host.pin.stock, sold = p.sold, cap = p.stock_cap, left = p.stock_left)}</p>
                            <button type="button" class="secondary" data-testid="unpin" disabled=ui.busy
                                on:click=move |_| unpin(sku.clone())>{td_string!(l, host.pin.unpin)}</button>
                        </div>
                    }.into_any()
                }
                None => view! { <p class="hint" data-testid="no-pin">{td_string!(l, host.pin.nothing_pinned)}</p> }.into_any(),
            }}
        </section>
    }
    .into_any()
}

#[component]
fn Catalogue(
    ui: Ui,
    catalogue: StoredValue<Vec<CatalogueItem>>,
    book: RwSignal<SalesBook>,
) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let total = catalogue.with_value(Vec::len);
    let pinned_sku = Memo::new(move |_| {
        ui.view
            .with(|v| v.room.pinned.as_ref().map(|p| p.sku.clone()))
    });
    let rows = Memo::new(move |_| {
        search.with(|q| {
            catalogue.with_value(|c| {
                search_catalogue(c, q, CATALOGUE_ROWS)
                    .into_iter()
                    .cloned()
                    .collect::<Vec<_>>()
            })
        })
    });
    let l = locale();
    view! {
        <section class="host-panel" aria-labelledby="catalogue-heading">
            <h2 id="catalogue-heading">{td_string!(l, host.catalogue.heading)}</h2>
            <label class="catalogue-search">{td_string!(l, common.search_label)}
                <input type="search" data-testid="catalogue-search" placeholder=td_string!(l, host.catalogue.search_placeholder) maxlength="40"
                    prop:value=search on:input=move |ev| search.set(event_target_value(&ev))/>
            </label>
            <p class="hint">{move || td_string!(l, host.catalogue.shown, total = total, shown = rows.with(Vec::len))}</p>
            <ul class="catalogue" data-testid="catalogue">
                <For each=move || rows.get() key=|c| c.sku.clone() let:item>
                    <CatalogueRow ui item pinned_sku book/>
                </For>
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn CatalogueRow(
    ui: Ui,
    item: CatalogueItem,
    pinned_sku: Memo<Option<String>>,
    book: RwSignal<SalesBook>,
) -> impl IntoView {
    let price = RwSignal::new(yuan_input(suggested_live_price(item.price_fen)));
    let cap = RwSignal::new(item.stock.min(50).to_string());
    let held = item.stock;
    let regular_fen = item.price_fen;
    let sku = StoredValue::new(item.sku.clone());
    let name = StoredValue::new(item.name.clone());
    let l = locale();
    // Pins the product (`false`) or puts it in the bag at this price and cap (`true`).
    let pin = move |to_bag: bool| {
        let Some(live_price_fen) = parse_yuan(&price.get_untracked()) else {
            ui.error.set(Some(td_string!(
                l,
                host.catalogue.price_invalid,
                name = name.get_value()
            )));
            return;
        };
        let Ok(stock_cap) = cap.get_untracked().trim().parse::<u32>() else {
            ui.error.set(Some(td_string!(
                l,
                host.catalogue.cap_invalid,
                name = name.get_value(),
                max = MAX_STOCK_CAP
            )));
            return;
        };
        let body = NewPin {
            sku: sku.get_value(),
            live_price_fen,
            stock_cap,
        };
        // The platform checks the same; this saves a round trip for a typo.
        if let Err(e) = body.validate() {
            ui.error.set(Some(api_error_message(&e, l)));
            return;
        }
        // The likely slips, said here in the page's language (the check's sentences are Chinese).
        // What this room sold of it already left the shelves, and counts in the cap.
        let bound = held.saturating_add(book.with_untracked(|b| b.sold(&body.sku)));
        if let Some(refusal) = body.refusal(regular_fen, bound) {
            ui.error.set(Some(match refusal {
                PinRefusal::NotBelowRegular { regular_fen } => td_string!(
                    l,
                    host.catalogue.price_not_below_regular,
                    regular = format_yuan(regular_fen)
                ),
                PinRefusal::BelowFloor { floor_fen } => td_string!(
                    l,
                    host.catalogue.price_below_floor,
                    floor = format_yuan(floor_fen)
                ),
                PinRefusal::OverStock { held } => {
                    td_string!(l, host.catalogue.cap_over_stock, held = held)
                }
            }));
            return;
        }
        if to_bag {
            let mut items = ui.bag_items();
            match items.iter_mut().find(|i| i.sku == body.sku) {
                Some(item) => *item = body,
                None => items.push(body),
            }
            ui.put_bag(items);
            return;
        }
        let path = ui.path(routes::LIVE_PINS, &[]);
        act(
            ui,
            async move { api_client::post::<Pin, _>(&path, &body).await },
            move |pin| ui.apply(LiveEvent::Pinned { pin }),
        );
    };
    let pinned_here = move || pinned_sku.with(|p| p.as_deref() == Some(sku.get_value().as_str()));
    let in_bag = move || {
        ui.view
            .with(|v| v.room.bag.iter().any(|b| b.sku == sku.get_value()))
    };
    // A full bag takes no new product; one already in it can still be repriced.
    let bag_full = move || ui.view.with(|v| v.room.bag.len() >= MAX_BAG_ITEMS) && !in_bag();
    view! {
        <li class="catalogue-item" data-testid="catalogue-item" data-sku=item.sku.clone()
            data-stores=item.stores data-stock=item.stock data-price-fen=item.price_fen class:pinned=pinned_here>
            <p class="catalogue-name">
                <span class="product-name">{item.name.clone()}</span>
                <span class="regular">{td_string!(l, host.catalogue.regular_price, price = format_yuan(item.price_fen))}</span>
                <span class="hint">{td_string!(l, host.catalogue.stores, stores = item.stores, stock = item.stock)}</span>
            </p>
            <div class="pin-form">
                <label>{td_string!(l, host.catalogue.live_price_label)}
                    <input type="text" inputmode="decimal" data-testid="pin-price" maxlength="10"
                        value=price.get_untracked() prop:value=price on:input=move |ev| price.set(event_target_value(&ev))/>
                </label>
                <label>{td_string!(l, host.catalogue.cap_label)}
                    <input type="text" inputmode="numeric" data-testid="pin-cap" maxlength="6"
                        value=cap.get_untracked() prop:value=cap on:input=move |ev| cap.set(event_target_value(&ev))/>
                </label>
                <button type="button" class="primary" data-testid="pin-product" data-sku=item.sku.clone()
                    disabled=ui.busy on:click=move |_| pin(false)>
                    {move || if pinned_here() {
                        td_string!(l, host.catalogue.update_pin)
                    } else {
                        td_string!(l, host.catalogue.pin)
                    }}
                </button>
                <button type="button" class="secondary" data-testid="add-to-bag" data-sku=item.sku.clone()
                    disabled=move || ui.busy.get() || bag_full() on:click=move |_| pin(true)>
                    {move || if in_bag() {
                        td_string!(l, host.bag.in_bag)
                    } else {
                        td_string!(l, host.bag.add)
                    }}
                </button>
            </div>
        </li>
    }
    .into_any()
}

/// The shopping bag as viewers see it, in order: move an item up or down, or take it out. Every
/// change sends the whole bag.
#[component]
fn BagPanel(ui: Ui) -> impl IntoView {
    let bag = Memo::new(move |_| ui.view.with(|v| v.room.bag.clone()));
    let l = locale();
    let moved = move |from: usize, to: Option<usize>| {
        let mut items = ui.bag_items();
        if from >= items.len() {
            return;
        }
        let item = items.remove(from);
        if let Some(to) = to {
            items.insert(to.min(items.len()), item);
        }
        ui.put_bag(items);
    };
    view! {
        <section class="host-panel" aria-labelledby="bag-heading">
            <h2 id="bag-heading">{td_string!(l, host.bag.heading)}</h2>
            <p class="hint">{move || td_string!(l, host.bag.count, count = bag.with(Vec::len), max = MAX_BAG_ITEMS)}</p>
            <ol class="host-bag" data-testid="host-bag">
                {move || {
                    let last = bag.with(Vec::len).saturating_sub(1);
                    bag.get().into_iter().enumerate().map(|(n, item)| view! {
                        <li data-testid="host-bag-item" data-sku=item.sku.clone() data-fen=item.live_price_fen>
                            <span class="product-name">{item.name.clone()}</span>" "
                            <span class="live-price">{format_yuan(item.live_price_fen)}</span>" "
                            <span class="hint">{td_string!(l, host.catalogue.cap_label)}" "{item.stock_cap}</span>
                            <span class="bag-moves">
                                <button type="button" class="secondary small" data-testid="bag-up" data-sku=item.sku.clone()
                                    aria-label=td_string!(l, host.bag.up, name = &item.name)
                                    disabled=move || ui.busy.get() || n == 0 on:click=move |_| moved(n, Some(n.saturating_sub(1)))>"↑"</button>
                                <button type="button" class="secondary small" data-testid="bag-down" data-sku=item.sku.clone()
                                    aria-label=td_string!(l, host.bag.down, name = &item.name)
                                    disabled=move || ui.busy.get() || n == last on:click=move |_| moved(n, Some(n + 1))>"↓"</button>
                                <button type="button" class="secondary small" data-testid="bag-remove" data-sku=item.sku.clone()
                                    aria-label=td_string!(l, host.bag.remove, name = &item.name)
                                    disabled=ui.busy on:click=move |_| moved(n, None)>"✕"</button>
                            </span>
                        </li>
                    }).collect_view()
                }}
            </ol>
            {move || bag.with(Vec::is_empty).then(|| view! { <p class="hint">{td_string!(l, host.bag.empty)}</p> })}
        </section>
    }
    .into_any()
}

/// Starts a flash sale (秒杀) on a bag item: price, cap, per-shopper limit, countdown and length.
/// The platform checks the price and cap as a pin's; the form checks what it can first.
#[component]
fn FlashPanel(ui: Ui) -> impl IntoView {
    let l = locale();
    let bag = Memo::new(move |_| ui.view.with(|v| v.room.bag.clone()));
    let flash = Memo::new(move |_| ui.view.with(|v| v.room.flash.clone()));
    let sku = RwSignal::new(String::new());
    let price = RwSignal::new(String::new());
    let cap = RwSignal::new("100".to_owned());
    let per_shopper = RwSignal::new("1".to_owned());
    let countdown = RwSignal::new("10".to_owned());
    let minutes = RwSignal::new("5".to_owned());
    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let chosen = sku.get_untracked();
        let chosen = if chosen.is_empty() {
            bag.with_untracked(|b| b.first().map(|p| p.sku.clone()).unwrap_or_default())
        } else {
            chosen
        };
        let number = |s: RwSignal<String>| s.get_untracked().trim().parse::<u32>().ok();
        let (Some(price_fen), Some(cap), Some(per_shopper), Some(countdown_s), Some(minutes)) = (
            parse_yuan(&price.get_untracked()),
            number(cap),
            number(per_shopper),
            number(countdown),
            number(minutes),
        ) else {
            ui.error
                .set(Some(td_string!(l, host.flash.invalid).to_owned()));
            return;
        };
        let body = NewFlash {
            sku: chosen,
            price_fen,
            cap,
            per_shopper,
            countdown_s,
            length_s: minutes.saturating_mul(60),
        };
        if let Err(e) = body.validate() {
            ui.error.set(Some(api_error_message(&e, l)));
            return;
        }
        let path = ui.path(routes::LIVE_FLASH, &[]);
        act(
            ui,
            async move { api_client::post::<Flash, _>(&path, &body).await },
            move |flash| ui.apply(LiveEvent::Flash { flash }),
        );
    };
    view! {
        <section class="host-panel" aria-labelledby="flash-panel-heading">
            <h2 id="flash-panel-heading">{td_string!(l, host.flash.heading)}</h2>
            {move || flash.get().map(|f| view! {
                <p data-testid="host-flash" data-sku=f.sku.clone() data-flash-id=f.id.clone()>
                    {td_string!(l, host.flash.current, name = f.name.clone(), price = format_yuan(f.price_fen),
                        starts = crate::lang::beijing_time(&f.starts_at, l).unwrap_or_default(),
                        sold = f.sold, cap = f.cap)}
                </p>
            })}
            {move || if bag.with(Vec::is_empty) {
                view! { <p class="hint">{td_string!(l, host.flash.bag_first)}</p> }.into_any()
            } else {
                view! {
                    <form class="flash-form" on:submit=start>
                        <label>{td_string!(l, host.flash.product)}
                            <select data-testid="flash-sku" on:change=move |ev| sku.set(event_target_value(&ev))>
                                {bag.get().into_iter().map(|p| view! {
                                    <option value=p.sku.clone()>{p.name.clone()}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <label>{td_string!(l, host.flash.price)}
                            <input type="text" inputmode="decimal" data-testid="flash-price-input" required
                                prop:value=price on:input=move |ev| price.set(event_target_value(&ev))/>
                        </label>
                        <label>{td_string!(l, host.flash.cap)}
                            <input type="number" min="1" data-testid="flash-cap" prop:value=cap
                                on:input=move |ev| cap.set(event_target_value(&ev))/>
                        </label>
                        <label>{td_string!(l, host.flash.per_shopper)}
                            <input type="number" min="1" max=MAX_LIVE_QUANTITY data-testid="flash-per-shopper" prop:value=per_shopper
                                on:input=move |ev| per_shopper.set(event_target_value(&ev))/>
                        </label>
                        <label>{td_string!(l, host.flash.countdown)}
                            <input type="number" min=*FLASH_COUNTDOWN_S.start() max=*FLASH_COUNTDOWN_S.end()
                                data-testid="flash-countdown-s" prop:value=countdown
                                on:input=move |ev| countdown.set(event_target_value(&ev))/>
                        </label>
                        <label>{td_string!(l, host.flash.minutes)}
                            <input type="number" min=FLASH_LENGTH_S.start() / 60 max=FLASH_LENGTH_S.end() / 60
                                data-testid="flash-minutes" prop:value=minutes
                                on:input=move |ev| minutes.set(event_target_value(&ev))/>
                        </label>
                        <button type="submit" class="primary" data-testid="flash-start" disabled=ui.busy>{td_string!(l, host.flash.start)}</button>
                    </form>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}

#[component]
fn HostComments(ui: Ui) -> impl IntoView {
    let comments = Memo::new(move |_| ui.view.with(|v| v.comments.clone()));
    let hide = move |id: u64| {
        let path = ui.path(routes::LIVE_COMMENT, &[&id.to_string()]);
        act(
            ui,
            async move { api_client::delete::<IgnoredAny>(&path).await },
            move |_| ui.apply(LiveEvent::CommentHidden { id }),
        );
    };
    let l = locale();
    view! {
        <section class="host-panel" aria-labelledby="host-comments-heading">
            <h2 id="host-comments-heading">{td_string!(l, host.comments.heading)}</h2>
            <ol class="comments" data-testid="host-comments" aria-live="polite">
                <For each=move || comments.get() key=|c| c.id let:c>
                    <li data-testid="comment" data-comment-id=c.id>
                        <span class="comment-author">{crate::lang::person_name(&c.author, l)}</span>
                        <span class="comment-text" data-testid="comment-text">{c.text}</span>
                        <button type="button" class="secondary small" data-testid="hide-comment"
                            data-comment-id=c.id disabled=ui.busy on:click=move |_| hide(c.id)>{td_string!(l, host.comments.hide)}</button>
                    </li>
                </For>
            </ol>
            {move || comments.with(Vec::is_empty).then(|| view! { <p class="hint">{td_string!(l, host.comments.nothing_yet)}</p> })}
        </section>
    }
    .into_any()
}

#[component]
fn Sales(book: RwSignal<SalesBook>) -> impl IntoView {
    let l = locale();
    view! {
        <section class="host-panel" aria-labelledby="sales-heading">
            <h2 id="sales-heading">{td_string!(l, host.sales.heading)}</h2>
            <p class="host-revenue">{td_string!(l, host.sales.revenue)}" "
                <strong data-testid="host-revenue" data-fen=move || book.with(|b| b.revenue_fen)>
                    {move || book.with(|b| format_yuan(b.revenue_fen))}
                </strong>
                " · "{td_string!(l, host.sales.subsidy)}" "
                <strong data-testid="host-subsidy" data-fen=move || book.with(|b| b.subsidy_fen)>
                    {move || book.with(|b| format_yuan(b.subsidy_fen))}
                </strong>
            </p>
            <table class="host-sales" data-testid="host-sales">
                <thead><tr><th scope="col">{td_string!(l, host.sales.product)}</th>
                    <th scope="col">{td_string!(l, host.sales.quantity)}</th>
                    <th scope="col">{td_string!(l, host.sales.amount)}</th>
                    <th scope="col">{td_string!(l, host.sales.subsidy)}</th></tr></thead>
                <tbody>
                    {move || book.get().lines.into_iter().map(|line| view! {
                        <tr data-testid="sales-line" data-sku=line.sku.clone() data-quantity=line.quantity>
                            <td>{line.name}</td>
                            <td>{line.quantity}</td>
                            <td>{format_yuan(line.revenue_fen)}</td>
                            <td data-testid="sales-subsidy" data-fen=line.subsidy_fen>{format_yuan(line.subsidy_fen)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {move || book.with(|b| b.lines.is_empty()).then(|| view! { <p class="hint">{td_string!(l, host.sales.nothing_yet)}</p> })}
            {move || book.with(|b| !b.by_store.is_empty()).then(|| view! {
                <h3>{td_string!(l, host.sales.by_store)}</h3>
                <table class="host-sales" data-testid="host-store-sales">
                    <thead><tr><th scope="col">{td_string!(l, host.sales.store)}</th>
                        <th scope="col">{td_string!(l, host.sales.quantity)}</th>
                        <th scope="col">{td_string!(l, host.sales.amount)}</th>
                        <th scope="col">{td_string!(l, host.sales.subsidy)}</th>
                        <th scope="col">{td_string!(l, host.sales.store_paid)}</th></tr></thead>
                    <tbody>
                        {book.get().by_store.into_iter().map(|s| view! {
                            <tr data-testid="store-sales-line" data-store-id=s.store_id.clone()>
                                <td>{s.store_name}</td>
                                <td>{s.quantity}</td>
                                <td>{format_yuan(s.revenue_fen)}</td>
                                <td>{format_yuan(s.subsidy_fen)}</td>
                                <td data-fen=s.revenue_fen + s.subsidy_fen>{format_yuan(s.revenue_fen + s.subsidy_fen)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
    .into_any()
}

#[component]
fn Settings(ui: Ui) -> impl IntoView {
    let (message0, slow0) = ui
        .view
        .with_untracked(|v| (v.room.message.clone(), v.room.slow_mode));
    let message = RwSignal::new(message0.unwrap_or_default());
    let slow_mode = RwSignal::new(slow0);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = message.get_untracked().trim().to_owned();
        let body = RoomSettings {
            message: (!text.is_empty()).then_some(text),
            slow_mode: slow_mode.get_untracked(),
        };
        let path = ui.path(routes::LIVE_SETTINGS, &[]);
        let sent = body.clone();
        act(
            ui,
            async move { api_client::put::<IgnoredAny, _>(&path, &sent).await },
            move |_| {
                ui.apply(LiveEvent::Message {
                    message: body.message,
                });
                ui.apply(LiveEvent::SlowMode { on: body.slow_mode });
            },
        );
    };
    let l = locale();
    view! {
        <section class="host-panel" aria-labelledby="settings-heading">
            <h2 id="settings-heading">{td_string!(l, host.settings.heading)}</h2>
            <form class="host-settings" on:submit=save>
                <label>{td_string!(l, host.settings.message_label)}
                    <input type="text" data-testid="host-message-input" maxlength="200" placeholder=td_string!(l, host.settings.message_placeholder)
                        value=message.get_untracked() prop:value=message on:input=move |ev| message.set(event_target_value(&ev))/>
                </label>
                <label class="checkbox">
                    <input type="checkbox" data-testid="slow-mode-toggle" checked=slow0 prop:checked=slow_mode
                        on:change=move |ev| slow_mode.set(event_target_checked(&ev))/>
                    {td_string!(l, host.settings.slow_mode)}
                </label>
                <button type="submit" class="primary" data-testid="save-settings" disabled=ui.busy>{td_string!(l, host.settings.save)}</button>
            </form>
        </section>
    }
    .into_any()
}

/// Where the host's video goes in: the camera (WHIP), and for OBS an RTMP address and stream key
/// asked of the media gateway when the host wants them (`POST {rtmp_request_url}`, the room's
/// host only; a new key per broadcast, ended with `DELETE`). Without an ingest (none
/// configured), the camera section's plain message.
#[component]
fn IngestPanel(ingest: Option<Ingest>) -> impl IntoView {
    let l = locale();
    view! {
        <section class="host-panel" aria-labelledby="ingest-heading" data-testid="ingest">
            <h2 id="ingest-heading">{td_string!(l, host.ingest.heading)}</h2>
            {match ingest {
                Some(i) => view! {
                    <p class="hint">{td_string!(l, host.ingest.camera_hint)}</p>
                    <CameraPublisher whip_url=i.whip_url/>
                    <h3>{td_string!(l, host.ingest.obs_heading)}</h3>
                    <p class="hint">{td_string!(l, host.ingest.obs_hint)}</p>
                    <RtmpOnRequest url=i.rtmp_request_url/>
                }.into_any(),
                None => view! {
                    <p class="hint" data-testid="ingest-unavailable">{td_string!(l, host.ingest.unavailable)}</p>
                }.into_any(),
            }}
        </section>
    }
    .into_any()
}

#[component]
fn RtmpDetails(endpoint: RtmpEndpoint) -> impl IntoView {
    let l = locale();
    view! {
        <dl class="ingest">
            <dt>{td_string!(l, host.ingest.rtmp_url)}</dt>
            <dd><code data-testid="ingest-rtmp-url">{endpoint.rtmp_url}</code></dd>
            <dt>{td_string!(l, host.ingest.stream_key)}</dt>
            <dd><code data-testid="ingest-stream-key">{endpoint.stream_key}</code></dd>
        </dl>
    }
}

/// A button that opens the room's RTMP listener on the media gateway and shows where to send
/// (`POST {url}`), and one that ends it (`DELETE {url}`: the key stops working; the next
/// broadcast gets another).
#[component]
fn RtmpOnRequest(url: String) -> impl IntoView {
    let endpoint = RwSignal::new(None::<RtmpEndpoint>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let url = StoredValue::new(url);
    let ask = move |_| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match super::video::ask_rtmp(url.get_value()).await {
                Ok(e) => endpoint.set(Some(e)),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let end = move |_| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match super::video::end_rtmp(url.get_value()).await {
                Ok(()) => endpoint.set(None),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let l = locale();
    view! {
        {move || match endpoint.get() {
            Some(endpoint) => view! {
                <RtmpDetails endpoint/>
                <button type="button" class="secondary" data-testid="rtmp-end" disabled=busy
                    on:click=end>{td_string!(l, host.ingest.end_rtmp)}</button>
            }.into_any(),
            None => view! {
                <button type="button" class="secondary" data-testid="rtmp-show" disabled=busy
                    on:click=ask>{td_string!(l, host.ingest.show_rtmp)}</button>
            }.into_any(),
        }}
        {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="rtmp-error">{e}</p> })}
    }
    .into_any()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn the_console_renders_on_the_server_with_its_hooks() {
        let console = HostConsole {
            room: LiveRoom {
                status: RoomStatus::Scheduled,
                ..crate::live::fixtures::room()
            },
            ingest: Some(Ingest {
                whip_url: "/media/whip/live_1".into(),
                rtmp_request_url: "/media/rtmp/live_1".into(),
            }),
            sales: vec![super::super::SalesLine {
                sku: "s1".into(),
                name: "草莓".into(),
                quantity: 2,
                revenue_fen: 5_980,
                subsidy_fen: 1_000,
            }],
            by_store: vec![super::super::StoreSales {
                store_id: "st1".into(),
                store_name: "鲜果时光（国贸店）".into(),
                quantity: 2,
                revenue_fen: 5_980,
                subsidy_fen: 1_000,
            }],
            revenue_fen: 5_980,
            subsidy_fen: 1_000,
            catalogue: vec![CatalogueItem {
                sku: "s1".into(),
                name: "草莓".into(),
                price_fen: 3_990,
                stores: 4,
                stock: 120,
            }],
        };
        let html = Owner::new().with(|| view! { <HostConsoleView console/> }.to_html());
        for hook in [
            r#"data-testid="go-live""#,
            r#"data-testid="pin-product" data-sku="s1""#,
            r#"data-testid="host-sales""#,
            r#"data-testid="host-revenue" data-fen="5980""#,
            r#"data-testid="host-bag""#,
            r#"data-testid="add-to-bag" data-sku="s1""#,
            r#"data-testid="host-subsidy" data-fen="1000""#,
            r#"data-testid="store-sales-line" data-store-id="st1""#,
            r#"data-stores="4" data-stock="120""#,
            r#"data-testid="host-viewers""#,
            // The browser's camera, publishing over WHIP.
            r#"data-testid="start-publish""#,
            r#"data-testid="publish-state" data-state="idle""#,
            // The suggested live price: 10 % off, to 10 fen.
            r#"value="35.90""#,
            r#"value="50""#,
        ] {
            assert!(html.contains(hook), "{hook} in {html}");
        }
        assert!(!html.contains(r#"data-testid="end-live""#));
    }

    #[test]
    fn the_rtmp_address_and_key_are_asked_of_the_gateway_never_stored() {
        let ingest = Some(Ingest {
            whip_url: "/media/whip/live_1".into(),
            rtmp_request_url: "/media/rtmp/live_1".into(),
        });
        let html = Owner::new().with(|| view! { <IngestPanel ingest/> }.to_html());
        assert!(html.contains(r#"data-testid="rtmp-show""#), "{html}");
        assert!(!html.contains("ingest-rtmp-url"), "{html}");
        assert!(!html.contains("ingest-stream-key"), "{html}");
        let html = Owner::new().with(|| view! { <IngestPanel ingest=None/> }.to_html());
        assert!(
            html.contains(r#"data-testid="ingest-unavailable""#),
            "{html}"
        );
        assert!(!html.contains(r#"data-testid="rtmp-show""#), "{html}");
    }
}
