//! One error type for every HTTP answer: a status, a stable snake_case code and a message that
//! says what to fix. Internal failures are logged and answered as a bare "internal error".

use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use talk_protocol::{ErrorBody, ErrorDetail};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("too many requests: retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// An allowance is used up (a preview's daily fair use, a hard quota): 429 under its own
    /// code, with `Retry-After` when the allowance comes back at a known time (a preview's, at
    /// the next UTC midnight); a quota lifts only when raised or when the month turns.
    #[error("{message}")]
    LimitReached {
        code: &'static str,
        message: String,
        retry_after_secs: Option<u64>,
    },
    #[error("this path does not accept that HTTP method")]
    MethodNotAllowed,
    #[error("the request body is larger than the limit of 64 KiB")]
    PayloadTooLarge,
    #[error("send the body as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// A store failure no handler answered itself: a missing row is a 404, a uniqueness
    /// conflict a 409, anything else a 500.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Forbidden {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }
    /// A used-up allowance that comes back at no known time (a hard quota).
    pub fn over_limit(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::LimitReached {
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } | ApiError::LimitReached { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Store(StoreError::NotFound) => StatusCode::NOT_FOUND,
            ApiError::Store(StoreError::Conflict { .. }) => StatusCode::CONFLICT,
            ApiError::Store(StoreError::Other(_)) | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::LimitReached { code, .. } => code,
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Store(StoreError::NotFound) => "not_found",
            ApiError::Store(StoreError::Conflict { .. }) => "conflict",
            ApiError::Store(StoreError::Other(_)) | ApiError::Internal(_) => "internal",
        }
    }

    /// What the client may see: internal details stay in the log.
    pub fn public_message(&self) -> String {
        if self.status().is_server_error() {
            tracing::error!(error = %self, "request failed");
            "internal error".to_string()
        } else {
            self.to_string()
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.public_message(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let retry_after_secs = match self {
            ApiError::RateLimited { retry_after_secs } => Some(retry_after_secs),
            ApiError::LimitReached {
                retry_after_secs, ..
            } => retry_after_secs,
            _ => None,
        };
        if let Some(retry_after_secs) = retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
