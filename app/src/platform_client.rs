//! Server-side client for the platform's v1 API. Server functions and the `/api` proxy both use it,
//! so there is one place that knows the base URL, the timeouts and how upstream failures map to errors.

use std::time::Duration;

use jishi_api::error::ErrorBody;
use jishi_api::{ApiError, ErrorCode};

use crate::i18n::td_string;
use crate::lang::locale;
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Clone, Debug)]
pub struct PlatformClient {
    http: reqwest::Client,
    base: String,
}

impl PlatformClient {
    /// `base` is the platform's root URL, e.g. `http://127.0.0.1:4000`.
    pub fn new(base: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Full URL for an API path such as `/v1/stores/nearby`.
    pub fn url(&self, path: &str) -> String {
        debug_assert!(jishi_api::routes::is_known(path), "not an API path: {path}");
        format!("{}{}", self.base, path)
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &impl Serialize,
    ) -> Result<T, ApiError> {
        self.read(self.http.get(self.url(path)).query(query), path)
            .await
    }

    /// A GET on behalf of the shopper whose platform session token this is.
    pub async fn get_as<T: DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
    ) -> Result<T, ApiError> {
        self.read(self.http.get(self.url(path)).bearer_auth(token), path)
            .await
    }

    /// A write (`PUT`, `POST`…) with a JSON body on behalf of the shopper whose platform session
    /// token this is.
    pub async fn send_json_as<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl Serialize,
        token: &str,
    ) -> Result<T, ApiError> {
        self.read(
            self.http
                .request(method, self.url(path))
                .json(body)
                .bearer_auth(token),
            path,
        )
        .await
    }

    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        self.read(self.http.post(self.url(path)).json(body), path)
            .await
    }

    /// Starts an anonymous session for the shopper at `client` (the address the server believes):
    /// the platform limits how many one address may start.
    pub async fn new_session(
        &self,
        client: Option<std::net::IpAddr>,
    ) -> Result<jishi_api::auth::Session, ApiError> {
        let mut request = self
            .http
            .post(self.url(jishi_api::routes::SESSIONS.pattern()))
            .json(&());
        if let Some(ip) = client {
            request = request.header(jishi_api::headers::CLIENT_IP, ip.to_string());
        }
        self.read(request, jishi_api::routes::SESSIONS.pattern())
            .await
    }

    async fn read<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<T, ApiError> {
        let response = request.send().await.map_err(|e| upstream_error(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| upstream_error(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                tracing::error!(error = %e, path, "platform sent a body we cannot read");
                ApiError::new(
                    ErrorCode::BadGateway,
                    td_string!(locale(), orders.platform.unreadable),
                )
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(body.error),
            Err(_) => {
                tracing::error!(%status, path, "platform error without the JSON error shape");
                Err(ApiError::new(
                    ErrorCode::BadGateway,
                    td_string!(locale(), orders.platform.error),
                ))
            }
        }
    }
}

/// Connection refused or timed out: the platform is down or overloaded (503). Anything else: 502.
/// The message is in the request's language (zh-CN outside a page render, e.g. the `/api` proxy).
pub fn upstream_error(e: &reqwest::Error) -> ApiError {
    tracing::warn!(error = %e, "platform request failed");
    let l = locale();
    if e.is_connect() || e.is_timeout() {
        ApiError::new(
            ErrorCode::PlatformUnavailable,
            td_string!(l, orders.platform.unreachable),
        )
    } else {
        ApiError::new(
            ErrorCode::BadGateway,
            td_string!(l, orders.platform.bad_response),
        )
    }
}

/// The client the server put into the Leptos context for server functions.
pub fn from_context() -> Result<PlatformClient, ApiError> {
    leptos::prelude::use_context::<PlatformClient>().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Internal,
            td_string!(locale(), orders.platform.not_configured),
        )
    })
}

/// The shopper's platform session token, as the server found it in the request's cookie (the
/// server owns cookies: it puts this into the request's extensions before any page renders).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopperSession(pub String);

/// The token of the request being served (a page render or a server function call). `None`
/// before the first cart action or after sign-out.
pub fn session_token() -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    parts
        .extensions
        .get::<ShopperSession>()
        .map(|ShopperSession(token)| token.clone())
}

/// GET `path` as the current shopper. `Ok(None)` when there is no session, the platform no longer
/// knows it, or the data needs a signed-in shopper and this one is anonymous: to the pages that is
/// simply "nothing yet", not an error.
pub async fn get_as_shopper<T: DeserializeOwned>(path: &str) -> Result<Option<T>, ApiError> {
    let Some(token) = session_token() else {
        return Ok(None);
    };
    match from_context()?.get_as::<T>(path, &token).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if matches!(e.code, ErrorCode::SessionExpired | ErrorCode::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a page that asks for a delivery address needs of the current shopper: whether they are
/// signed in, and their saved addresses (none when signed out). Both reads at once.
pub async fn shopper_addresses() -> Result<(bool, Vec<jishi_api::auth::Address>), ApiError> {
    use jishi_api::auth::{AddressesResponse, Me};
    let (me, addresses) = futures::join!(
        get_as_shopper::<Me>(jishi_api::routes::ME.pattern()),
        get_as_shopper::<AddressesResponse>(jishi_api::routes::MY_ADDRESSES.pattern()),
    );
    let signed_in = me?.and_then(|m| m.user).is_some();
    let addresses = if signed_in {
        addresses?.map(|a| a.addresses).unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok((signed_in, addresses))
}
