//! The one error shape on the wire: `{"error": {"code": "sold_out", "message": "…"}}`.

use serde::{Deserialize, Serialize};

/// Machine-readable error codes. The HTTP status is derived from the code, so the two never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    /// This needs a signed-in shopper.
    Unauthorized,
    /// The session token is unknown or has expired: the client should drop it.
    SessionExpired,
    /// A cross-site request to a state-changing endpoint.
    Forbidden,
    NotFound,
    SoldOut,
    /// The same Idempotency-Key while the first request is still being processed.
    RequestInProgress,
    /// An order can no longer make this move (e.g. cancel after pick-up).
    InvalidState,
    PayloadTooLarge,
    /// A body in a format the endpoint does not take (WHIP/WHEP want `application/sdp`).
    UnsupportedMediaType,
    /// The request's body did not arrive in time (a slow or stalled client).
    RequestTimeout,
    /// The same Idempotency-Key with a different request body.
    IdempotencyKeyReused,
    /// A delivery address outside the store's delivery radius.
    OutOfDeliveryRange,
    /// No store that delivers to the address has the product (a live buy), or the group's store
    /// does not deliver there (group buy).
    NotDeliverable,
    /// The shopper already holds a seat in this group.
    AlreadyMember,
    /// A flash sale's countdown has not reached zero.
    NotStarted,
    /// A flash sale is over.
    SaleEnded,
    /// The shopper has bought as many as a flash sale allows one shopper.
    LimitReached,
    /// Every seat of the group is taken.
    GroupFull,
    /// The group takes nobody now: not yet opened by its starter's payment, formed, or over.
    GroupClosed,
    TooManyRequests,
    /// A live room's video: nobody (host, OBS or demo feed) publishes now. Players say so and
    /// try again later.
    NoPublisher,
    /// A live room's video: the room has as many WebRTC viewers as the media gateway takes
    /// (players fall back to HLS).
    RoomFull,
    /// The media gateway has as many sessions as it takes (players fall back to HLS).
    Busy,
    /// The shopper already has the maximum number of unpaid orders (`orders::MAX_UNPAID_ORDERS`).
    TooManyUnpaid,
    PlatformUnavailable,
    /// The server is shedding load (too many requests or open streams): retry shortly.
    Overloaded,
    BadGateway,
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized | ErrorCode::SessionExpired => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound | ErrorCode::NoPublisher => 404,
            ErrorCode::SoldOut
            | ErrorCode::RequestInProgress
            | ErrorCode::InvalidState
            | ErrorCode::AlreadyMember
            | ErrorCode::GroupFull
            | ErrorCode::GroupClosed
            | ErrorCode::NotStarted
            | ErrorCode::SaleEnded
            | ErrorCode::LimitReached => 409,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::IdempotencyKeyReused
            | ErrorCode::OutOfDeliveryRange
            | ErrorCode::NotDeliverable => 422,
            ErrorCode::TooManyRequests | ErrorCode::TooManyUnpaid => 429,
            ErrorCode::Internal => 500,
            ErrorCode::BadGateway => 502,
            ErrorCode::PlatformUnavailable
            | ErrorCode::Overloaded
            | ErrorCode::RoomFull
            | ErrorCode::Busy => 503,
        }
    }
}

/// An error a person can act on. `message` is shown to shoppers as is, so it is plain zh-CN/English text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }
    /// The JSON body for this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.clone(),
        }
    }
}

/// The wrapper object of the wire shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ApiError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_serialises_to_the_documented_shape() {
        let body = ApiError::new(ErrorCode::SoldOut, "卖完了").body();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "sold_out", "message": "卖完了"}})
        );
    }

    #[test]
    fn each_code_maps_to_its_status() {
        assert_eq!(ApiError::bad_request("x").http_status(), 400);
        assert_eq!(ApiError::not_found("x").http_status(), 404);
        assert_eq!(ErrorCode::PlatformUnavailable.http_status(), 503);
        assert_eq!(ErrorCode::BadGateway.http_status(), 502);
        for code in [
            ErrorCode::AlreadyMember,
            ErrorCode::GroupFull,
            ErrorCode::GroupClosed,
        ] {
            assert_eq!(code.http_status(), 409, "{code:?}");
        }
        assert_eq!(
            serde_json::to_value(ErrorCode::GroupFull).unwrap(),
            "group_full"
        );
        // The media gateway's refusals that players tell apart.
        for (code, status, wire) in [
            (ErrorCode::NoPublisher, 404, "no_publisher"),
            (ErrorCode::RoomFull, 503, "room_full"),
            (ErrorCode::Busy, 503, "busy"),
            (
                ErrorCode::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (ErrorCode::TooManyRequests, 429, "too_many_requests"),
        ] {
            assert_eq!(code.http_status(), status, "{code:?}");
            assert_eq!(serde_json::to_value(code).unwrap(), wire);
            assert_eq!(
                serde_json::from_value::<ErrorCode>(serde_json::json!(wire)).unwrap(),
                code
            );
        }
    }
}
