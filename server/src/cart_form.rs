//! The cart without JavaScript: each quantity stepper is also a plain `<form method="post">` to
//! `/forms/cart`, so a tap before the wasm arrives (or with scripts off) still changes the cart.
//! The handler sets that one product's quantity in the shopper's cart at the platform (creating
//! the session on first use, as the `/api/v1` cart write does) and sends the browser back to the
//! page it came from with `303 See Other`. Once the stepper island has hydrated, its click handler
//! takes over and the form is never submitted.

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use jishi_api::cart::{Cart, ItemInput, PutCart, MAX_QUANTITY_PER_ITEM};
use jishi_api::{ApiError, ErrorCode};
use jishi_app::i18n::td_string;
use jishi_app::lang::{api_error_message, Locale};
use jishi_app::links::safe_next;
use jishi_app::platform_client::ShopperSession;
use serde::Deserialize;

use crate::client::ClientInfo;
use crate::plain_page::{escape, page};
use crate::{session, AppState};

#[derive(Debug, Deserialize)]
pub struct SetQuantity {
    pub store: String,
    pub sku: String,
    pub quantity: u32,
    /// Where to go afterwards: one of our own pages (checked like a sign-in's `next`).
    pub back: Option<String>,
}

pub async fn set_quantity(State(state): State<AppState>, request: Request) -> Response {
    let client = request.extensions().get::<ClientInfo>().cloned();
    let secure = client.as_ref().is_some_and(|c| c.secure);
    let cookie_token = request
        .extensions()
        .get::<ShopperSession>()
        .map(|ShopperSession(t)| t.clone());
    let l = request
        .extensions()
        .get::<Locale>()
        .copied()
        .unwrap_or_default();
    let form = match Form::<SetQuantity>::from_request(request, &()).await {
        Ok(Form(form)) if !form.store.is_empty() && !form.sku.is_empty() => form,
        _ => {
            let e = ApiError::new(ErrorCode::BadRequest, "表单缺少门店、商品或数量");
            return error_page(&e, "/", l);
        }
    };
    let back = safe_next(Some(form.back.as_deref().unwrap_or("/cart")));
    match apply(&state, &form, cookie_token, client.and_then(|c| c.ip)).await {
        Ok(new_token) => {
            let mut headers = HeaderMap::new();
            if let Ok(location) = HeaderValue::from_str(&back) {
                headers.insert(header::LOCATION, location);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Some(t) = new_token {
                session::append(&mut headers, session::set(&t, secure));
            }
            (StatusCode::SEE_OTHER, headers).into_response()
        }
        Err(e) => error_page(&e, &back, l),
    }
}

/// Sets the quantity; returns the new session token when one had to be created.
async fn apply(
    state: &AppState,
    form: &SetQuantity,
    cookie_token: Option<String>,
    client: Option<std::net::IpAddr>,
) -> Result<Option<String>, ApiError> {
    let (token, new_token) = match cookie_token {
        Some(t) => (t, None),
        None => {
            let created = state.platform.new_session(client).await?;
            (created.token.clone(), Some(created.token))
        }
    };
    let path = jishi_api::routes::CART.path(&[&form.store]);
    let current: Cart = state.platform.get_as(&path, &token).await?;
    let mut items: Vec<ItemInput> = current
        .items
        .iter()
        .filter(|l| l.sku != form.sku)
        .map(|l| ItemInput {
            sku: l.sku.clone(),
            quantity: i64::from(l.quantity),
        })
        .collect();
    let quantity = form.quantity.min(MAX_QUANTITY_PER_ITEM);
    if quantity > 0 {
        items.push(ItemInput {
            sku: form.sku.clone(),
            quantity: i64::from(quantity),
        });
    }
    let _: Cart = state
        .platform
        .send_json_as(reqwest::Method::PUT, &path, &PutCart { items }, &token)
        .await?;
    Ok(new_token)
}

/// A plain page (no scripts needed) saying what went wrong, with the way back.
fn error_page(e: &ApiError, back: &str, l: Locale) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = format!(
        "<p data-testid=\"cart-error\">{}</p><p><a href=\"{}\">{}</a></p>",
        escape(&api_error_message(e, l)),
        escape(back),
        td_string!(l, pages.back),
    );
    let heading = td_string!(l, pages.cart_not_updated);
    let title = format!("{heading} · {}", td_string!(l, common.brand));
    page(status, l, &title, heading, &body)
}
