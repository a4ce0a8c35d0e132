//! The platform's error type, mapped once to the wire shape and an HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jishi_api::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A statement run straight on a connection's handle (`crate::sql`).
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row for {what}: {detail}")]
    CorruptRow { what: String, detail: String },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl PlatformError {
    fn to_api(&self) -> ApiError {
        match self {
            PlatformError::Api(e) => e.clone(),
            // Details of internal failures go to the log, never to the client.
            _ => ApiError::new(ErrorCode::Internal, "平台内部错误，请稍后再试"),
        }
    }
}

impl IntoResponse for PlatformError {
    fn into_response(self) -> Response {
        if !matches!(self, PlatformError::Api(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let api = self.to_api();
        let status =
            StatusCode::from_u16(api.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(api.body())).into_response()
    }
}

pub type Result<T, E = PlatformError> = std::result::Result<T, E>;
