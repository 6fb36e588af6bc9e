//! The one HTTP error type: `{"error": {"code", "message", "details"}}` with the right status.
//! Internal errors are logged and answered with a generic message.

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tillbridge_engine::EngineError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": { "code": self.code, "message": self.message, "details": self.details } }))).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", m),
            EngineError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            EngineError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            EngineError::Unsupported(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unsupported_by_series", m)
            }
            e @ EngineError::NeedsReauth(_) => {
                ApiError::new(StatusCode::CONFLICT, "needs_reauth", e.to_string())
            }
            e @ EngineError::Disabled(_) => {
                ApiError::new(StatusCode::CONFLICT, "connection_disabled", e.to_string())
            }
            e @ (EngineError::Provider(_) | EngineError::Mapping(_)) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", e.to_string())
            }
            e @ EngineError::Store(tillbridge_store::StoreError::Busy(_)) => {
                tracing::warn!(error = %e, "answered 503");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
            }
            e => {
                tracing::error!(error = %e, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; the server log has the details",
                )
            }
        }
    }
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!(
            "no route for {}: the API is described at /api/openapi.json",
            uri.path()
        ),
    )
}
