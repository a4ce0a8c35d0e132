//! The room page opened by a brand's widget (`/live/:id?buy=<sku>&from=<origin>`, see
//! `jishi_api::widget`): the buy sheet opens for that product, and once the order is paid the
//! page tells the widget's page, if the shop lists its origin (`JISHI_WIDGET_ORIGINS`).

use std::sync::Arc;

/// The brands' origins the shop serves its widget to: the server provides them to every render.
#[derive(Clone, Debug, Default)]
pub struct WidgetOrigins(pub Arc<[String]>);

/// `from` if it is a listed origin (compared exactly, as CORS does): where the page may report
/// the order. A page rendered without the list reports nowhere.
pub fn report_origin(from: Option<String>) -> Option<String> {
    let from = from?;
    let listed = leptos::prelude::use_context::<WidgetOrigins>()?;
    listed.0.contains(&from).then_some(from)
}

/// Tells the page that opened this one (the widget's) that `sku` of `room_id` was ordered, if it
/// is still there and still on `origin`: the browser drops the message otherwise.
pub fn report_ordered(origin: &str, room_id: &str, sku: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(opener) = web_sys::window()
            .and_then(|w| w.opener().ok())
            .filter(|o| !o.is_null() && !o.is_undefined())
        else {
            return;
        };
        let message = jishi_api::widget::WidgetMessage::Ordered {
            room_id: room_id.to_owned(),
            sku: sku.to_owned(),
        };
        let Ok(text) = serde_json::to_string(&message) else {
            return;
        };
        let opener: web_sys::Window = opener.unchecked_into();
        let _ = opener.post_message(&wasm_bindgen::JsValue::from_str(&text), origin);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (origin, room_id, sku);
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use leptos::prelude::{provide_context, Owner};

    #[test]
    fn only_a_listed_origin_is_reported_to() {
        let owner = Owner::new();
        owner.with(|| {
            assert_eq!(report_origin(Some("https://brand.example".into())), None);
            provide_context(WidgetOrigins(Arc::from(vec![
                "https://brand.example".to_owned()
            ])));
            assert_eq!(
                report_origin(Some("https://brand.example".into())).as_deref(),
                Some("https://brand.example")
            );
            assert_eq!(
                report_origin(Some("https://brand.example.evil".into())),
                None
            );
            assert_eq!(report_origin(Some("http://brand.example".into())), None);
            assert_eq!(report_origin(None), None);
        });
    }
}
