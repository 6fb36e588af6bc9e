//! Extractors that turn bad input into the API's error body, and the API key check.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::Json;
use serde::de::DeserializeOwned;
use tillbridge_store::api_keys::ApiKeyRow;

/// A JSON body; malformed JSON, wrong types, a missing content type or an oversized body
/// become a 4xx with a message that says what was wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request(format!("the body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!(
                "the body does not match the expected shape: {}",
                e.body_text()
            ),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the body exceeds the limit of {} bytes",
                crate::MAX_BODY_BYTES
            ),
        ),
        other => ApiError::new(other.status(), "invalid_body", other.body_text()),
    }
}

/// Query parameters with the API's error body.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| {
                ApiError::bad_request(format!("invalid query parameters: {}", e.body_text()))
            })
    }
}

/// The authenticated caller: an API key, scoped to one merchant or to the installation.
pub struct Caller(pub ApiKeyRow);

impl Caller {
    /// Allows installation keys and keys of `merchant_id`. A key of another merchant sees the
    /// same answer as for a merchant that does not exist.
    pub fn may_access(&self, merchant_id: &str) -> Result<(), ApiError> {
        match &self.0.merchant_id {
            None => Ok(()),
            Some(m) if m == merchant_id => Ok(()),
            Some(_) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no merchant `{merchant_id}`: list merchants with GET /api/v1/merchants"),
            )),
        }
    }

    pub fn require_installation(&self) -> Result<(), ApiError> {
        match self.0.merchant_id {
            None => Ok(()),
            Some(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this needs an installation API key; merchant keys can only use their merchant's routes")),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing API key: send `Authorization: Bearer tbk_…`"))?
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not valid text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| unauthorized("use `Authorization: Bearer tbk_…`"))?
            .trim();
        match state.engine.authenticate(token).await? {
            Some(key) => Ok(Caller(key)),
            None => Err(unauthorized("the API key is not valid or was revoked")),
        }
    }
}
