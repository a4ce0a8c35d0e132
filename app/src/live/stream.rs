//! The room's event stream in the browser: a plain `EventSource` on
//! `/api/v1/live/rooms/{id}/events`. The browser reconnects by itself (after an error, or after
//! the server's `shutdown` event and close) and sends `Last-Event-ID`, so durable events resume
//! with no gap; every (re)connection starts with a snapshot, which replaces the view.

#[cfg(feature = "hydrate")]
pub use browser::RoomStream;

#[cfg(feature = "hydrate")]
mod browser {
    use jishi_api::live::{LiveEvent, LIVE_EVENT};
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::{EventSource, MessageEvent};

    /// An open `EventSource` on a room's events; closed when dropped.
    pub struct RoomStream {
        source: EventSource,
        _on_event: Closure<dyn FnMut(MessageEvent)>,
        _on_open: Closure<dyn FnMut(JsValue)>,
        _on_error: Closure<dyn FnMut(JsValue)>,
    }

    impl Drop for RoomStream {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    impl RoomStream {
        /// `on_event` gets every room event; `on_connected` whether the stream is open now (it
        /// is false while the browser waits to reconnect).
        pub fn open(
            room_id: &str,
            on_event: impl Fn(LiveEvent) + 'static,
            on_connected: impl Fn(bool) + Clone + 'static,
        ) -> Option<Self> {
            let url = format!("/api/v1{}", crate::live::room_api(room_id, "events"));
            let source = EventSource::new(&url).ok()?;
            let on_event = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let Some(text) = e.data().as_string() else {
                    return;
                };
                if let Ok(event) = serde_json::from_str::<LiveEvent>(&text) {
                    on_event(event);
                }
            });
            let opened = on_connected.clone();
            let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| opened(true));
            let on_error = Closure::<dyn FnMut(JsValue)>::new(move |_| on_connected(false));
            source
                .add_event_listener_with_callback(LIVE_EVENT, on_event.as_ref().unchecked_ref())
                .ok()?;
            source
                .add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref())
                .ok()?;
            source
                .add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref())
                .ok()?;
            Some(Self {
                source,
                _on_event: on_event,
                _on_open: on_open,
                _on_error: on_error,
            })
        }
    }
}
