//! The error every server function returns: the platform's typed error, or a transport failure.

use jishi_api::{ApiError, ErrorCode};
use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{}", .0.message)]
    Api(ApiError),
    #[error("network or server error: {0}")]
    ServerFn(ServerFnErrorErr),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::ServerFn(value)
    }
}

impl From<ApiError> for AppError {
    fn from(e: ApiError) -> Self {
        AppError::Api(e)
    }
}

impl AppError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, AppError::Api(e) if e.code == ErrorCode::NotFound)
    }

    /// The HTTP status a page showing this error should carry.
    pub fn http_status(&self) -> u16 {
        match self {
            AppError::Api(e) => e.http_status(),
            AppError::ServerFn(_) => 502,
        }
    }

    /// A sentence for the shopper, in the page's language.
    pub fn message(&self) -> String {
        let l = crate::lang::locale();
        match self {
            AppError::Api(e) => crate::lang::api_error_message(e, l),
            AppError::ServerFn(_) => crate::i18n::td_string!(l, errors.network).to_owned(),
        }
    }
}

/// An error code as the wire spells it (`sold_out`): `ErrorCode`'s own serialisation.
pub fn wire_code(code: ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{code:?}"),
    }
}

/// During server rendering, make the HTTP response carry the error's status (a missing store is a
/// real 404, not a 200 page that says so). In the browser there is no response to set.
pub fn set_response_status(_status: u16) {
    #[cfg(feature = "ssr")]
    if let Some(options) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(_status) {
            options.set_status(status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_on_the_wire() {
        assert_eq!(wire_code(ErrorCode::SoldOut), "sold_out");
        assert_eq!(
            wire_code(ErrorCode::IdempotencyKeyReused),
            "idempotency_key_reused"
        );
    }
}
