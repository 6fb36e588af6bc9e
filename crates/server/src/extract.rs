//! Extractors that turn bad input into the API's error body, and the API key check.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use serde::de::DeserializeOwned;
use tillbridge_store::api_keys::ApiKeyRow;

/// A JSON body; malformed JSON, wrong types, a missing content type or an oversized body
/// become a 4xx with a message that says what was wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(not_json());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::bad_request(format!("the body could not be read: {}", e.body_text()))
            }
        })?;
        if has_nul_escape(&bytes) {
            return Err(ApiError::bad_request(
                "text in the body must not contain the NUL character (\\u0000)",
            ));
        }
        // Every body is an object: serde would also read a struct from an array, so `[]`
        // would pass as a body of defaults.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{')
            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok()
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "the body must be a JSON object (`{…}`)",
            ));
        }
        Json::<T>::from_bytes(&bytes)
            .map(|Json(v)| ApiJson(v))
            .map_err(json_error)
    }
}

/// `application/json` or an `application/…+json` type.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether a JSON text holds a `\u0000` escape (a NUL inside a string, which no stored text
/// may contain); `\\u0000`, an escaped backslash before `u0000`, is not one.
fn has_nul_escape(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000".as_slice())
            {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

fn not_json() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as JSON with `Content-Type: application/json`",
    )
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the body exceeds the limit of {} bytes",
            crate::MAX_BODY_BYTES
        ),
    )
}

fn json_error(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => not_json(),
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
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
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
#[derive(Clone)]
pub struct Caller(pub ApiKeyRow);

/// Runs before every `/api/v1` handler: authenticates the API key and, on a route with a
/// `{merchant_id}`, refuses a merchant key of another merchant. The scope is enforced here,
/// once for the whole API, so no handler can forget it; handlers get the checked [`Caller`].
pub async fn guard(
    State(state): State<AppState>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let caller = Caller::authenticate(&parts, &state).await?;
    if let Ok(params) = &params {
        if let Some((name, _)) = params.iter().find(|(_, v)| v.contains('\0')) {
            return Err(ApiError::bad_request(format!(
                "the path parameter `{name}` must not contain the NUL character (%00)"
            )));
        }
        if let Some((_, merchant_id)) = params.iter().find(|(k, _)| *k == "merchant_id") {
            caller.may_access(merchant_id)?;
        }
    }
    if parts
        .uri
        .query()
        .is_some_and(|q| q.to_ascii_lowercase().contains("%00"))
    {
        return Err(ApiError::bad_request(
            "query parameters must not contain the NUL character (%00)",
        ));
    }
    parts.extensions.insert(caller);
    Ok(next.run(Request::from_parts(parts, body)).await)
}

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
}

/// An installation key; a merchant key is refused with 403 before the body is read.
pub struct InstallationKey;

impl FromRequestParts<AppState> for InstallationKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await?.0.merchant_id {
            None => Ok(InstallationKey),
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
        match parts.extensions.get::<Caller>() {
            Some(caller) => Ok(caller.clone()),
            None => Caller::authenticate(parts, state).await,
        }
    }
}

impl Caller {
    async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
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
