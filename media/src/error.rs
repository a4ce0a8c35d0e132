//! The gateway's errors, mapped once to the shop's [`ApiError`] (code, and with it the HTTP
//! status) and its JSON shape `{"error":{"code","message"}}`. 5xx details go to the log, not to
//! the caller.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jishi_api::media::BadRoomId;
use jishi_api::{ApiError, ErrorCode};

use crate::janus::{codes, JanusError};
use crate::sdp::SdpError;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(transparent)]
    BadRoomId(#[from] BadRoomId),
    #[error("send the SDP as Content-Type: application/sdp")]
    NotSdp,
    #[error("bad SDP: {0}")]
    BadSdp(#[from] SdpError),
    #[error("no such room")]
    NoRoom,
    #[error("video unavailable: the room has no publisher")]
    NoPublisher,
    #[error("no such session")]
    NoSession,
    #[error("this room has no recording (nobody published, or it is past its retention)")]
    NoRecording,
    #[error("this room has as many viewers as this gateway takes")]
    RoomFull,
    #[error("this gateway has as many sessions as it takes")]
    Busy,
    #[error("too many video sessions from this address at once; close one or try again shortly")]
    TooManyFromClient,
    #[error("the media server is starting or restarting")]
    NotReady,
    /// Janus refused what the caller sent (its SDP).
    #[error("janus refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Janus(JanusError),
    /// A port or folder the settings name is held by another process (at start).
    #[error("{0}")]
    InUse(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<JanusError> for MediaError {
    fn from(e: JanusError) -> MediaError {
        match e {
            JanusError::Janus { code, reason }
                if code == codes::JSEP_INVALID_SDP || code == codes::JSEP_UNKNOWN_TYPE =>
            {
                MediaError::Refused(reason)
            }
            JanusError::Plugin { reason, .. } => MediaError::Refused(reason),
            other => MediaError::Janus(other),
        }
    }
}

impl MediaError {
    /// The shop's error code for this (its HTTP status comes with it).
    pub fn code(&self) -> ErrorCode {
        match self {
            MediaError::BadRoomId(_) | MediaError::BadSdp(_) | MediaError::Refused(_) => {
                ErrorCode::BadRequest
            }
            MediaError::NotSdp => ErrorCode::UnsupportedMediaType,
            MediaError::NoRoom | MediaError::NoSession | MediaError::NoRecording => {
                ErrorCode::NotFound
            }
            MediaError::NoPublisher => ErrorCode::NoPublisher,
            MediaError::RoomFull => ErrorCode::RoomFull,
            MediaError::Busy => ErrorCode::Busy,
            MediaError::TooManyFromClient => ErrorCode::TooManyRequests,
            MediaError::NotReady => ErrorCode::PlatformUnavailable,
            MediaError::Janus(_) => ErrorCode::BadGateway,
            MediaError::InUse(_) | MediaError::Io(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Whether this is the gateway's own failure (logged, and not described to the caller).
    fn is_failure(&self) -> bool {
        matches!(
            self,
            MediaError::Janus(_) | MediaError::InUse(_) | MediaError::Io(_)
        )
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> ApiError {
        let message = if e.is_failure() {
            tracing::error!("{e}");
            "the media gateway failed; try again".to_owned()
        } else {
            e.to_string()
        };
        ApiError::new(e.code(), message)
    }
}

impl IntoResponse for MediaError {
    fn into_response(self) -> Response {
        let status = self.status();
        (status, axum::Json(ApiError::from(self).body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        assert_eq!(MediaError::NoPublisher.status(), StatusCode::NOT_FOUND);
        assert_eq!(MediaError::NoPublisher.code(), ErrorCode::NoPublisher);
        assert_eq!(
            MediaError::RoomFull.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            (MediaError::Busy.status(), MediaError::Busy.code()),
            (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Busy)
        );
        assert_eq!(
            MediaError::TooManyFromClient.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            MediaError::NotSdp.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let refused: MediaError = JanusError::Janus {
            code: 466,
            reason: "bad sdp".into(),
        }
        .into();
        assert_eq!(
            (refused.status(), refused.code()),
            (StatusCode::BAD_REQUEST, ErrorCode::BadRequest)
        );
        let down: MediaError = JanusError::Timeout.into();
        assert_eq!(
            (down.status(), down.code()),
            (StatusCode::BAD_GATEWAY, ErrorCode::BadGateway)
        );
    }

    #[test]
    fn the_body_is_the_shops_error_shape_and_failures_are_not_described() {
        let body =
            serde_json::to_value(ApiError::from(MediaError::TooManyFromClient).body()).unwrap();
        assert_eq!(body["error"]["code"], "too_many_requests");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("address"));
        let failed = ApiError::from(MediaError::Io(std::io::Error::other("disk on fire")));
        assert_eq!(failed.code, ErrorCode::Internal);
        assert!(!failed.message.contains("disk"), "{failed:?}");
    }
}
