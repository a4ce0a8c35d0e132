//! An event stream in the browser (an order's, a live room's, a group's; the event names are the
//! api crate's: `ORDER_EVENT`, `LIVE_EVENT`, `GROUP_EVENT`): a plain `EventSource`. The browser
//! reconnects by itself (after an error, or after the server's `shutdown` event and close) and
//! sends `Last-Event-ID`, so durable events resume with no gap.

#[cfg(feature = "hydrate")]
pub use browser::EventStream;

#[cfg(feature = "hydrate")]
mod browser {
    use serde::de::DeserializeOwned;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::{EventSource, MessageEvent};

    /// An open `EventSource`; closed when dropped.
    pub struct EventStream {
        source: EventSource,
        _on_event: Closure<dyn FnMut(MessageEvent)>,
        _on_open: Closure<dyn FnMut(JsValue)>,
        _on_error: Closure<dyn FnMut(JsValue)>,
    }

    impl Drop for EventStream {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    impl EventStream {
        /// Whether it was closed (after its last event): the browser will not reconnect it.
        pub fn is_closed(&self) -> bool {
            self.source.ready_state() == EventSource::CLOSED
        }

        /// `on_event` gets every event named `name` at `url` that parses as `T`; `on_connected`
        /// whether the stream is open now (false while the browser waits to reconnect).
        pub fn open<T: DeserializeOwned + 'static>(
            url: &str,
            name: &str,
            on_event: impl Fn(T) + 'static,
            on_connected: impl Fn(bool) + Clone + 'static,
        ) -> Option<Self> {
            Self::open_until(url, name, |_: &T| false, on_event, on_connected)
        }

        /// As [`EventStream::open`], closing the stream after the event `is_last` says is the
        /// last (otherwise the browser reconnects when the server ends the stream).
        pub fn open_until<T: DeserializeOwned + 'static>(
            url: &str,
            name: &str,
            is_last: impl Fn(&T) -> bool + 'static,
            on_event: impl Fn(T) + 'static,
            on_connected: impl Fn(bool) + Clone + 'static,
        ) -> Option<Self> {
            let source = EventSource::new(url).ok()?;
            let closer = source.clone();
            let on_event = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let Some(text) = e.data().as_string() else {
                    return;
                };
                if let Ok(event) = serde_json::from_str::<T>(&text) {
                    let last = is_last(&event);
                    on_event(event);
                    if last {
                        closer.close();
                    }
                }
            });
            let opened = on_connected.clone();
            let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| opened(true));
            let on_error = Closure::<dyn FnMut(JsValue)>::new(move |_| on_connected(false));
            source
                .add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref())
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
