//! The going-live banner: on any page a shopper with a session has open, a room they reserved
//! that goes live shows a banner linking to it. The shell renders this island only for requests
//! with a session (an anonymous first visit loads none of it); it asks the shopper's reserved rooms
//! (`GET /v1/me/reservations`) once after hydrating and then every `POLL_S` seconds while any of
//! them is still to start, and stops when none is (or the shopper is not signed in).

use jishi_api::live::LiveRoom;
#[cfg(any(feature = "hydrate", test))]
use jishi_api::live::{RoomStatus, RoomsResponse};
use leptos::prelude::*;

use crate::i18n::td_string;
use crate::lang::locale;
use crate::links::live_href;

#[cfg(feature = "hydrate")]
/// Seconds between two reads of the reserved rooms while one of them is still to start.
pub const POLL_S: u32 = 20;

#[island(lazy)]
pub fn ReservedRoomLive() -> impl IntoView {
    crate::hydration::island_hydrated();
    let l = locale();
    let live = RwSignal::new(None::<LiveRoom>);
    let dismissed = RwSignal::new(Vec::<String>::new());
    #[cfg(feature = "hydrate")]
    watch(live);
    let shown = move || {
        live.get()
            .filter(|room| !dismissed.with(|d| d.contains(&room.id)))
    };
    view! {
        {move || shown().map(|room| {
            let id = room.id.clone();
            view! {
                <div class="reservation-banner" data-testid="reservation-live-banner" data-room-id=room.id.clone()
                    role="status">
                    <a href=live_href(&room.id, None)>{td_string!(l, live.preview.now_live, title = room.title.clone())}</a>
                    " "
                    <button type="button" class="secondary small" data-testid="reservation-banner-close"
                        aria-label=td_string!(l, live.preview.dismiss)
                        on:click=move |_| dismissed.update(|d| d.push(id.clone()))>"✕"</button>
                </div>
            }
        })}
    }
}

#[cfg(any(feature = "hydrate", test))]
/// The reserved room to announce: the first that is live, unless it is the page's own room.
fn announced(rooms: &RoomsResponse, this_path: &str) -> Option<LiveRoom> {
    rooms
        .rooms
        .iter()
        .find(|r| r.status == RoomStatus::Live && this_path != format!("/live/{}", r.id))
        .cloned()
}

#[cfg(any(feature = "hydrate", test))]
/// Whether a reserved room is still to start (worth asking again).
fn waiting(rooms: &RoomsResponse) -> bool {
    rooms
        .rooms
        .iter()
        .any(|r| r.status == RoomStatus::Scheduled)
}

#[cfg(feature = "hydrate")]
fn watch(live: RwSignal<Option<LiveRoom>>) {
    leptos::task::spawn_local(async move {
        let path = web_sys::window()
            .and_then(|w| w.location().pathname().ok())
            .unwrap_or_default();
        loop {
            let Ok(rooms) = crate::api_client::get::<RoomsResponse>(
                jishi_api::routes::MY_RESERVATIONS.pattern(),
            )
            .await
            else {
                // Signed out (or the shop is unreachable): nothing to announce on this page.
                return;
            };
            if live.try_set(announced(&rooms, &path)).is_some() {
                return; // The page is gone.
            }
            if !waiting(&rooms) {
                return;
            }
            crate::assets::sleep_ms(POLL_S * 1000).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::fixtures;

    #[test]
    fn a_live_reserved_room_is_announced_except_on_its_own_page() {
        let rooms = RoomsResponse {
            rooms: vec![
                LiveRoom {
                    id: "live_a".into(),
                    status: RoomStatus::Scheduled,
                    ..fixtures::room()
                },
                LiveRoom {
                    id: "live_b".into(),
                    status: RoomStatus::Live,
                    ..fixtures::room()
                },
            ],
        };
        assert_eq!(announced(&rooms, "/").map(|r| r.id), Some("live_b".into()));
        assert_eq!(announced(&rooms, "/live/live_b"), None);
        assert!(waiting(&rooms));
        assert!(!waiting(&RoomsResponse { rooms: vec![] }));
    }
}
