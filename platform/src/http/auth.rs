//! Sessions, sign-in by SMS code, the signed-in shopper and their addresses.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use jishi_api::auth::{LoginRequest, Phone, Session, SmsCodeRequest};

use crate::accounts::{self, Caller};
use crate::error::Result;
use crate::Platform;
use jishi_api::auth::{AddressesResponse, Me, NewAddress};

use super::*;
use jishi_api::routes;

pub fn router() -> Router<Platform> {
    Router::new()
        .route(routes::SESSIONS.pattern(), post(new_session))
        .route(routes::SMS_CODE.pattern(), post(sms_code))
        .route(routes::LOGIN.pattern(), post(login))
        .route(routes::LOGOUT.pattern(), post(logout))
        .route(routes::ME.pattern(), get(me))
        .route(
            routes::MY_ADDRESSES.pattern(),
            get(list_addresses).post(add_address),
        )
}

/// `POST /v1/sessions`: an anonymous session. Within the client address's allowance when the
/// server says whose it is (a machine cannot mint sessions, and with them stream slots, without
/// end); more: 429.
async fn new_session(
    State(p): State<Platform>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Session>)> {
    if let Some(client) = client_addr(&headers) {
        p.session_limiter().take(&client).map_err(|wait| {
            jishi_api::ApiError::new(
                jishi_api::ErrorCode::TooManyRequests,
                format!(
                    "这个网络新建购物车太频繁，请 {} 秒后再试",
                    crate::orders::limits::whole_seconds(wait)
                ),
            )
        })?;
    }
    Ok((
        StatusCode::CREATED,
        Json(accounts::create_session(p.pool(), None, p.now_unix()).await?),
    ))
}

async fn sms_code(
    State(p): State<Platform>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SmsCodeRequest>,
) -> Result<impl IntoResponse> {
    let phone = Phone::parse(&body.phone)?;
    let sent = accounts::send_code(
        p.pool(),
        &phone,
        &client_ip(&headers),
        p.now_unix(),
        p.demo(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

async fn login(
    State(p): State<Platform>,
    MaybeCaller(anonymous): MaybeCaller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<Session>> {
    let phone = Phone::parse(&body.phone)?;
    Ok(Json(
        accounts::login(
            p.pool(),
            &phone,
            &body.code,
            anonymous.as_ref(),
            &client_ip(&headers),
            p.now_unix(),
        )
        .await?,
    ))
}

async fn logout(State(p): State<Platform>, caller: Caller) -> Result<StatusCode> {
    accounts::logout(p.pool(), &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(p): State<Platform>, caller: Caller) -> Result<Json<Me>> {
    let user = match &caller.user_id {
        Some(id) => Some(accounts::user(p.pool(), id).await?),
        None => None,
    };
    Ok(Json(Me { user }))
}

async fn list_addresses(
    State(p): State<Platform>,
    caller: Caller,
) -> Result<Json<AddressesResponse>> {
    let user = caller.require_user()?;
    Ok(Json(AddressesResponse {
        addresses: accounts::addresses(p.pool(), user).await?,
    }))
}

async fn add_address(
    State(p): State<Platform>,
    caller: Caller,
    ApiJson(body): ApiJson<NewAddress>,
) -> Result<(StatusCode, Json<accounts::Address>)> {
    let user = caller.require_user()?;
    Ok((
        StatusCode::CREATED,
        Json(accounts::add_address(p.pool(), user, &body, p.now_unix()).await?),
    ))
}
