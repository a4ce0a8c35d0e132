//! Mini-program web-view mode: the same pages inside a host app (WeChat-style `<web-view>`), which
//! has its own navigation bar and handles payment and sharing.
//!
//! The server decides the mode per request (`server/src/embed.rs`: the user agent's
//! `miniProgram`, `?embed=miniprogram`, or the cookie those set) and puts [`Embedded`] into the
//! request's extensions before the page renders. Embed pages have no site header or footer and load
//! the vendored JS-SDK plus our bridge (`public/wx/`), which confirms the mini-program with the
//! SDK's `getEnv` and exposes `window.jishiHost` (pay hand-off, live reminders, share). Islands
//! reach the host only through [`hand_payment_to_host`], [`hand_reminder_to_host`] and
//! [`share_with_host`]: all do nothing outside a confirmed mini-program, so every page works as
//! before in a browser.

/// Marks a request rendered for a mini-program web-view (set by the server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Embedded;

/// The cookie that keeps the mode for the session, so links keep it.
pub const EMBED_COOKIE: &str = "jishi_embed";
/// `?embed=miniprogram` turns the mode on (for a host app that does not say so in its user agent);
/// `?embed=off` turns it off again.
pub const EMBED_QUERY: &str = "embed";
pub const EMBED_MINI_PROGRAM: &str = "miniprogram";

/// Whether this page is rendered in embed mode: on the server from the request, in the browser
/// from the `data-embed` attribute the server put on `<html>`.
pub fn embedded() -> bool {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .is_some_and(|parts| parts.extensions.get::<Embedded>().is_some())
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .is_some_and(|html| html.has_attribute("data-embed"))
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        false
    }
}

/// The host's `jishiHost` bridge object, when the page has one (embed mode only).
#[cfg(feature = "hydrate")]
fn bridge() -> Option<wasm_bindgen::JsValue> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &"jishiHost".into())
        .ok()
        .filter(|v| v.is_object())
}

#[cfg(feature = "hydrate")]
fn call(method: &str, arg: &wasm_bindgen::JsValue) -> Option<wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
    let bridge = bridge()?;
    let f = js_sys::Reflect::get(&bridge, &method.into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    f.call1(&bridge, arg).ok()
}

/// Hands the payment of `order_id` to the host app's pay page. `true` when it did: the page then
/// waits to come back to the foreground (see [`on_foreground`]) and reads the order again. `false`
/// outside a mini-program: pay here as usual.
pub fn hand_payment_to_host(order_id: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        call("pay", &order_id.into()).is_some_and(|v| v.as_bool() == Some(true))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = order_id;
        false
    }
}

/// Hands a reminder of live room `room_id` (starting at `starts_at`, RFC 3339) to the host app's
/// subscribe page, which asks the shopper for its subscribe message. `true` when it did; `false`
/// outside a mini-program (the page offers its calendar file instead).
pub fn hand_reminder_to_host(room_id: &str, starts_at: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(bridge) = bridge() else {
            return false;
        };
        let Some(f) = js_sys::Reflect::get(&bridge, &"subscribe".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        else {
            return false;
        };
        f.call2(&bridge, &room_id.into(), &starts_at.into())
            .is_ok_and(|v| v.as_bool() == Some(true))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (room_id, starts_at);
        false
    }
}

/// Tells the host what to share for this page now (`path` is this site's path and query).
pub fn share_with_host(title: &str, path: &str, image_url: &str) {
    #[cfg(feature = "hydrate")]
    {
        let share = js_sys::Object::new();
        for (k, v) in [("title", title), ("path", path), ("imageUrl", image_url)] {
            let _ = js_sys::Reflect::set(&share, &k.into(), &v.into());
        }
        call("share", &share.into());
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (title, path, image_url);
    }
}

/// Runs `f` each time the page comes back to the foreground (the host's pay page closed).
pub fn on_foreground(f: impl Fn() + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let visible = document.clone();
        let listener = Closure::<dyn Fn()>::new(move || {
            if visible.visibility_state() == web_sys::VisibilityState::Visible {
                f();
            }
        });
        let _ = document.add_event_listener_with_callback(
            "visibilitychange",
            listener.as_ref().unchecked_ref(),
        );
        // Islands live as long as their page (every navigation loads a new page), so the
        // listener may too.
        listener.forget();
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = f;
    }
}
