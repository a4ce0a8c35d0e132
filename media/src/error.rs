//! The gateway's errors, mapped once to an HTTP status and the shop's JSON error shape
//! `{"error":{"code","message"}}`. 5xx details go to the log, not to the caller.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::janus::{codes, JanusError};
use crate::rooms::BadRoomId;
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
    #[error("this room has as many viewers as this gateway takes")]
    RoomFull,
    #[error("this gateway has as many sessions as it takes")]
    Busy,
    #[error("the media server is starting or restarting")]
    NotReady,
    #[error("janus refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Janus(JanusError),
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
    pub fn status(&self) -> StatusCode {
        match self {
            MediaError::BadRoomId(_) | MediaError::BadSdp(_) => StatusCode::BAD_REQUEST,
            MediaError::NotSdp => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            MediaError::NoRoom | MediaError::NoPublisher | MediaError::NoSession => {
                StatusCode::NOT_FOUND
            }
            MediaError::RoomFull | MediaError::Busy | MediaError::NotReady => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            MediaError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            MediaError::Janus(_) => StatusCode::BAD_GATEWAY,
            MediaError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            MediaError::BadRoomId(_) => "bad_room_id",
            MediaError::NotSdp => "unsupported_media_type",
            MediaError::BadSdp(_) => "bad_sdp",
            MediaError::NoRoom => "not_found",
            MediaError::NoPublisher => "no_publisher",
            MediaError::NoSession => "not_found",
            MediaError::RoomFull => "room_full",
            MediaError::Busy => "busy",
            MediaError::NotReady => "unavailable",
            MediaError::Refused(_) => "refused",
            MediaError::Janus(_) => "upstream",
            MediaError::Io(_) => "internal",
        }
    }
}

impl IntoResponse for MediaError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error()
            && !matches!(
                self,
                MediaError::RoomFull | MediaError::Busy | MediaError::NotReady
            ) {
            tracing::error!("{self}");
            "the media gateway failed; try again".to_owned()
        } else {
            self.to_string()
        };
        let body = serde_json::json!({"error": {"code": self.code(), "message": message}});
        (status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        assert_eq!(MediaError::NoPublisher.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            MediaError::RoomFull.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let refused: MediaError = JanusError::Janus {
            code: 466,
            reason: "bad sdp".into(),
        }
        .into();
        assert_eq!(
            (refused.status(), refused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "refused")
        );
        let down: MediaError = JanusError::Timeout.into();
        assert_eq!(
            (down.status(), down.code()),
            (StatusCode::BAD_GATEWAY, "upstream")
        );
    }
}
